use clap::error::{ContextKind, ContextValue, ErrorKind};

use crate::{ActionError, Env};

/// The environment variable the runner sets for input `name`: `INPUT_` + upper case, spaces to
/// underscores, hyphens kept (`container-name` -> `INPUT_CONTAINER-NAME`).
pub fn input_env_name(name: &str) -> String {
    format!("INPUT_{}", name.trim().replace(' ', "_").to_uppercase())
}

/// Parses an action's arguments from the command line and, for each `--flag` not given there,
/// from its `INPUT_<FLAG>` variable in `env`. Blank inputs count as not given (the runner sets
/// every declared input, empty when the workflow leaves it out). Values are trimmed.
///
/// An `INPUT_*` variable that is no input but names one with `_` for `-` or in another case
/// (`with: dry_run: true` arrives as `INPUT_DRY_RUN`, and the action reads `INPUT_DRY-RUN`) is
/// bad input: the runner only warns about an unknown key, and the action would run as if it
/// had not been given.
pub fn parse_args<T: clap::Parser>(
    env: &Env,
    argv: impl IntoIterator<Item = String>,
) -> Result<T, ParseError> {
    let mut argv: Vec<String> = argv.into_iter().collect();
    let command = T::command();
    check_near_misses(env, &command)?;
    for arg in command.get_arguments() {
        let Some(long) = arg.get_long() else {
            continue;
        };
        let flag = format!("--{long}");
        let given = argv
            .iter()
            .skip(1)
            .any(|a| a == &flag || a.starts_with(&format!("{flag}=")));
        if given {
            continue;
        }
        let Some(value) = env.non_empty(&input_env_name(long)) else {
            continue;
        };
        if matches!(arg.get_action(), clap::ArgAction::SetTrue) {
            // A switch (`--dry-run` on a terminal) takes `true`/`false` as an input.
            match parse_bool(value) {
                Ok(true) => argv.push(flag),
                Ok(false) => {}
                Err(reason) => {
                    return Err(ParseError::Input(ActionError::input(
                        long,
                        format!("has the value `{value}`, which {reason}"),
                    )));
                }
            }
        } else {
            argv.push(format!("{flag}={value}"));
        }
    }
    let mut command = T::command();
    let matches = command
        .try_get_matches_from_mut(argv)
        .map_err(|e| classify(e, &mut command))?;
    T::from_arg_matches(&matches).map_err(|e| classify(e, &mut command))
}

/// Refuses the `INPUT_*` variables that would be read as input `name` if `_` and `-` were the
/// same and case did not count, but are not its variable. Other unknown variables are left alone.
fn check_near_misses(env: &Env, command: &clap::Command) -> Result<(), ParseError> {
    let inputs: Vec<&str> = command
        .get_arguments()
        .filter_map(clap::Arg::get_long)
        .collect();
    let fold = |name: &str| name.trim().to_uppercase().replace(['_', ' '], "-");
    let misses: Vec<NearMiss> = env
        .iter()
        .filter_map(|(variable, _)| {
            let written = variable.strip_prefix("INPUT_")?;
            let input = inputs
                .iter()
                .find(|input| input_env_name(input) != variable && fold(input) == fold(written))?;
            Some(NearMiss {
                variable: variable.to_string(),
                input: input.to_string(),
            })
        })
        .collect();
    let Some(first) = misses.first() else {
        return Ok(());
    };
    let title = format!("Unknown input `{}`", first.variable);
    let message = misses
        .iter()
        .map(NearMiss::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    Err(ParseError::Input(
        ActionError::input_with_source(&first.input, UnknownInputs(message)).with_title(title),
    ))
}

/// An `INPUT_*` variable that names an input the way the runner would not write it.
struct NearMiss {
    variable: String,
    input: String,
}

impl std::fmt::Display for NearMiss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` is set, but this action has no input by that name and would ignore it: did you mean `{}`?",
            self.variable, self.input
        )
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct UnknownInputs(String);

/// Why the arguments did not parse: help or version was asked for (exit 0), or bad input.
#[derive(Debug)]
pub enum ParseError {
    Help(String),
    Input(ActionError),
}

fn classify(error: clap::Error, command: &mut clap::Command) -> ParseError {
    let error = error.format(command);
    match error.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            ParseError::Help(error.render().to_string())
        }
        ErrorKind::MissingRequiredArgument => {
            let names = context_strings(&error, ContextKind::InvalidArg)
                .iter()
                .map(|a| input_name_of(a))
                .collect::<Vec<_>>();
            let name = names.first().cloned().unwrap_or_default();
            let message = if names.len() > 1 {
                format!(
                    "is required (so are {}); set it under `with:` in the workflow, or pass --{name}",
                    names[1..]
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            } else {
                format!("is required; set it under `with:` in the workflow, or pass --{name}")
            };
            ParseError::Input(ActionError::input(&name, message))
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let arg = context_strings(&error, ContextKind::InvalidArg)
                .first()
                .map(|a| input_name_of(a))
                .unwrap_or_default();
            let value = context_strings(&error, ContextKind::InvalidValue)
                .first()
                .cloned()
                .unwrap_or_default();
            let reason = std::error::Error::source(&error)
                .map(|s| s.to_string())
                .or_else(|| {
                    let valid = context_strings(&error, ContextKind::ValidValue);
                    (!valid.is_empty()).then(|| format!("expected one of: {}", valid.join(", ")))
                })
                .unwrap_or_else(|| "is not valid".to_string());
            ParseError::Input(ActionError::input(
                &arg,
                format!("has the value `{value}`, which {}", which(&value, &reason)),
            ))
        }
        _ => {
            let text = error.render().to_string();
            let first = text.lines().next().unwrap_or("bad arguments");
            let first = first.trim_start_matches("error: ").to_string();
            ParseError::Input(ActionError::input("arguments", first))
        }
    }
}

fn context_strings(error: &clap::Error, kind: ContextKind) -> Vec<String> {
    match error.get(kind) {
        Some(ContextValue::String(s)) => vec![s.clone()],
        Some(ContextValue::Strings(v)) => v.clone(),
        _ => Vec::new(),
    }
}

/// A parser's complaint as the end of "has the value `v`, which …": parsers say "0 is not in
/// 1..=64" (the value again), "is not a duration; …", "expected one of: a, b" or "invalid digit
/// found in string".
fn which(value: &str, reason: &str) -> String {
    let reason = reason.strip_prefix(&format!("{value} ")).unwrap_or(reason);
    if let Some(choices) = reason.strip_prefix("expected one of: ") {
        return format!("is not one of: {choices}");
    }
    if ["is ", "are ", "does ", "must ", "has "]
        .iter()
        .any(|verb| reason.starts_with(verb))
    {
        reason.to_string()
    } else {
        format!("is not valid: {reason}")
    }
}

/// `--cluster <CLUSTER>` -> `cluster`.
fn input_name_of(arg: &str) -> String {
    arg.trim_start_matches('-')
        .split([' ', '='])
        .next()
        .unwrap_or(arg)
        .to_string()
}

/// A boolean input, as GitHub's YAML 1.2 core schema writes one: `true`/`True`/`TRUE` or
/// `false`/`False`/`FALSE`. Anything else (`yes`, `1`) is refused rather than guessed.
pub fn parse_bool(value: &str) -> Result<bool, String> {
    match value.trim() {
        "true" | "True" | "TRUE" => Ok(true),
        "false" | "False" | "FALSE" => Ok(false),
        _ => Err("is not a boolean; use true or false".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ExitKind;

    #[derive(clap::Parser, Debug)]
    struct Args {
        #[arg(long, required = true)]
        cluster: String,
        #[arg(long)]
        container_name: Option<String>,
        #[arg(long)]
        dry_run: bool,
        #[arg(long, action = clap::ArgAction::Set, value_parser = parse_bool, default_value = "true")]
        pin_digest: bool,
        #[arg(long, value_parser = crate::parse_duration, default_value = "15m")]
        timeout: std::time::Duration,
        #[arg(long = "spaced input")]
        spaced_input: Option<String>,
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=64))]
        concurrency: Option<u32>,
    }

    fn argv(extra: &[&str]) -> Vec<String> {
        std::iter::once("action")
            .chain(extra.iter().copied())
            .map(String::from)
            .collect()
    }

    fn input_error(r: Result<Args, ParseError>) -> ActionError {
        match r {
            Err(ParseError::Input(e)) => e,
            other => panic!("expected an input error, got {other:?}"),
        }
    }

    #[test]
    fn inputs_come_from_the_runner_environment() {
        let env = Env::from_pairs([
            ("INPUT_CLUSTER", " prod "),
            ("INPUT_CONTAINER-NAME", "web"),
            ("INPUT_DRY-RUN", "true"),
            ("INPUT_PIN-DIGEST", "False"),
            ("INPUT_TIMEOUT", ""),
        ]);
        let args: Args = parse_args(&env, argv(&[])).expect("parses");
        assert_eq!(args.cluster, "prod");
        assert_eq!(args.container_name.as_deref(), Some("web"));
        assert!(args.dry_run);
        assert!(!args.pin_digest);
        assert_eq!(args.timeout.as_secs(), 900);
    }

    #[test]
    fn flags_win_over_the_environment() {
        let env = Env::from_pairs([("INPUT_CLUSTER", "from-env")]);
        let args: Args = parse_args(&env, argv(&["--cluster", "from-flag"])).expect("parses");
        assert_eq!(args.cluster, "from-flag");
    }

    #[test]
    fn a_missing_input_is_named() {
        let e = input_error(parse_args::<Args>(&Env::default(), argv(&[])));
        assert_eq!(e.kind(), ExitKind::BadInput);
        assert_eq!(
            e.to_string(),
            "input `cluster` is required; set it under `with:` in the workflow, or pass --cluster"
        );
    }

    #[test]
    fn a_number_out_of_range_or_not_a_number_reads_as_one_sentence() {
        let error = |value: &str| {
            let env = Env::from_pairs([("INPUT_CLUSTER", "c"), ("INPUT_CONCURRENCY", value)]);
            input_error(parse_args::<Args>(&env, argv(&[]))).to_string()
        };
        assert_eq!(
            error("0"),
            "input `concurrency` has the value `0`, which is not in 1..=64"
        );
        assert_eq!(
            error("four"),
            "input `concurrency` has the value `four`, which is not valid: invalid digit found in string"
        );
    }

    #[test]
    fn a_bad_value_is_named_with_the_reason() {
        let env = Env::from_pairs([("INPUT_CLUSTER", "c"), ("INPUT_TIMEOUT", "soon")]);
        let e = input_error(parse_args::<Args>(&env, argv(&[])));
        assert_eq!(e.kind(), ExitKind::BadInput);
        let text = e.to_string();
        assert!(
            text.starts_with("input `timeout` has the value `soon`"),
            "{text}"
        );
        let env = Env::from_pairs([("INPUT_CLUSTER", "c"), ("INPUT_DRY-RUN", "yes")]);
        let text = input_error(parse_args::<Args>(&env, argv(&[]))).to_string();
        assert_eq!(
            text,
            "input `dry-run` has the value `yes`, which is not a boolean; use true or false"
        );
        let env = Env::from_pairs([("INPUT_CLUSTER", "c"), ("INPUT_PIN-DIGEST", "1")]);
        let text = input_error(parse_args::<Args>(&env, argv(&[]))).to_string();
        assert!(
            text.starts_with("input `pin-digest` has the value `1`"),
            "{text}"
        );
    }

    #[test]
    fn a_near_miss_of_an_input_is_refused_with_a_suggestion() {
        for (variable, input) in [
            ("INPUT_DRY_RUN", "dry-run"),
            ("INPUT_CONTAINER_NAME", "container-name"),
            ("INPUT_Pin-Digest", "pin-digest"),
            ("INPUT_timeout", "timeout"),
            ("INPUT_SPACED-INPUT", "spaced input"),
        ] {
            let env = Env::from_pairs([("INPUT_CLUSTER", "c"), (variable, "true")]);
            let e = input_error(parse_args::<Args>(&env, argv(&[])));
            assert_eq!(e.kind(), ExitKind::BadInput);
            assert_eq!(
                e.title(),
                Some(format!("Unknown input `{variable}`").as_str())
            );
            assert_eq!(
                e.to_string(),
                format!(
                    "`{variable}` is set, but this action has no input by that name and would ignore it: did you mean `{input}`?"
                )
            );
        }
        // Even beside the right variable, and each one is named.
        let env = Env::from_pairs([
            ("INPUT_CLUSTER", "c"),
            ("INPUT_DRY-RUN", "false"),
            ("INPUT_DRY_RUN", "true"),
            ("INPUT_PIN_DIGEST", "false"),
        ]);
        let text = input_error(parse_args::<Args>(&env, argv(&[]))).to_string();
        assert_eq!(
            text,
            "`INPUT_DRY_RUN` is set, but this action has no input by that name and would ignore it: did you mean `dry-run`?; `INPUT_PIN_DIGEST` is set, but this action has no input by that name and would ignore it: did you mean `pin-digest`?"
        );
    }

    #[test]
    fn other_variables_are_left_alone() {
        let env = Env::from_pairs([
            ("INPUT_CLUSTER", "c"),
            ("INPUT_SPACED_INPUT", "as the runner writes it"),
            ("INPUT_SOMETHING-ELSE", "x"),
            ("INPUT_DRYRUN", "true"),
            ("INPUT_", "x"),
            ("DRY_RUN", "true"),
        ]);
        let args: Args = parse_args(&env, argv(&[])).expect("parses");
        assert!(!args.dry_run);
        assert_eq!(
            args.spaced_input.as_deref(),
            Some("as the runner writes it")
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]

        /// Any variables and values: the inputs parse or are refused as bad input, never a panic.
        #[test]
        fn any_environment_parses_or_is_refused(
            vars in proptest::collection::vec(
                ("INPUT_[A-Za-z_ -]{0,16}|INPUT_(CLUSTER|TIMEOUT|DRY-RUN|PIN-DIGEST|CONTAINER-NAME)", proptest::prelude::any::<String>()),
                0..6,
            ),
        ) {
            let env = Env::from_pairs(vars);
            match parse_args::<Args>(&env, argv(&[])) {
                Ok(args) => proptest::prop_assert!(args.timeout <= crate::MAX_DURATION),
                Err(ParseError::Input(e)) => proptest::prop_assert_eq!(e.kind(), ExitKind::BadInput),
                Err(ParseError::Help(text)) => proptest::prop_assert!(false, "help: {}", text),
            }
        }

        #[test]
        fn any_text_is_a_boolean_or_refused(text in proptest::prelude::any::<String>()) {
            let expected = match text.trim() {
                "true" | "True" | "TRUE" => Some(true),
                "false" | "False" | "FALSE" => Some(false),
                _ => None,
            };
            proptest::prop_assert_eq!(parse_bool(&text).ok(), expected);
        }
    }

    #[test]
    fn input_names_map_as_the_runner_maps_them() {
        assert_eq!(input_env_name("container-name"), "INPUT_CONTAINER-NAME");
        assert_eq!(input_env_name("my input"), "INPUT_MY_INPUT");
    }
}
