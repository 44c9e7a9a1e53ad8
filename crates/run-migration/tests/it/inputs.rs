//! Inputs that are refused before anything runs: durations beyond the ceiling, and `with:` keys
//! that name an input with `_` for `-`.

use proptest::prelude::*;
use run_migration::{Args, Checked};
use swa_gha::{Env, ExitKind, ParseError};

use super::{FirstError, WITH_SERVICE, ops, run, sandbox};

#[test]
fn a_timeout_beyond_the_ceiling_exits_2_before_the_task_runs() {
    let sb = sandbox("healthy");
    let mut errors = Vec::new();
    for timeout in ["18446744073709551615", "99999999999999999999h", "24h1s"] {
        let inputs = [WITH_SERVICE, &[("timeout", timeout)]].concat();
        let r = run(&sb, &inputs);
        assert_eq!(r.code, 2, "{timeout}: {}", r.log);
        errors.push(r.error().to_string());
    }
    let calls = sb.calls();
    assert!(ops(&calls, "RunTask").is_empty(), "{calls:?}");
    assert!(calls.iter().all(|c| !c.is_mutating()), "{calls:?}");
    insta::assert_snapshot!(errors.join("\n"), @r#"
        ::error title=Invalid input `timeout`::input `timeout` has the value `18446744073709551615`, which is longer than 24h, the longest duration an input takes
        ::error title=Invalid input `timeout`::input `timeout` has the value `99999999999999999999h`, which is longer than 24h, the longest duration an input takes
        ::error title=Invalid input `timeout`::input `timeout` has the value `24h1s`, which is longer than 24h, the longest duration an input takes
        "#);
}

#[test]
fn a_with_key_written_with_underscores_exits_2_before_the_task_runs() {
    let sb = sandbox("healthy");
    let mut errors = Vec::new();
    for (variable, value) in [
        ("INPUT_DESTRUCTIVE_GUARD", "true"),
        ("INPUT_TASK_DEFINITION", "startupwebapp-migration-task"),
    ] {
        let r = super::finish(
            swa_testing::Step::new(super::BIN)
                .inputs(&[("cluster", super::CLUSTER), ("service", super::SERVICE)])
                .env(variable, value)
                .envs(sb.env())
                .spawn(),
        );
        assert_eq!(r.code, 2, "{variable}: {}", r.log);
        errors.push(r.error().to_string());
    }
    assert!(sb.calls().is_empty(), "{:?}", sb.calls());
    insta::assert_snapshot!(errors.join("\n"), @r#"
        ::error title=Unknown input `INPUT_DESTRUCTIVE_GUARD`::`INPUT_DESTRUCTIVE_GUARD` is set, but this action has no input by that name and would ignore it: did you mean `destructive-guard`?
        ::error title=Unknown input `INPUT_TASK_DEFINITION`::`INPUT_TASK_DEFINITION` is set, but this action has no input by that name and would ignore it: did you mean `task-definition`?
        "#);
}

#[test]
fn a_container_the_task_definition_lacks_exits_2_naming_its_containers() {
    let sb = sandbox("healthy");
    let inputs = [WITH_SERVICE, &[("container-name", "worker")]].concat();
    let r = run(&sb, &inputs);
    assert_eq!(r.code, 2, "{}", r.log);
    let calls = sb.calls();
    assert!(calls.iter().all(|c| !c.is_mutating()), "{calls:?}");
    insta::assert_snapshot!(r.error(), @"::error title=Invalid input `container-name`::input `container-name` is `worker`, but there is no container `worker` in the task definition (containers: migration)");
}

/// The inputs as the runner gives them, each any text or left out.
fn any_inputs() -> impl Strategy<Value = Vec<(&'static str, String)>> {
    let names = [
        "cluster",
        "task-definition",
        "service",
        "subnets",
        "security-groups",
        "assign-public-ip",
        "container-name",
        "command",
        "timeout",
        "started-by",
        "destructive-guard",
        "allow-destructive",
        "image",
    ];
    let value = prop_oneof![
        any::<String>(),
        "[0-9.]{0,24}(ms|s|m|h|)",
        r#"\[("[a-z ]{0,6}",?){0,4}\]?"#,
        "(subnet-|sg-)[0-9a-f]{0,8}([, ]{1,2}[a-z0-9-]{0,10}){0,3}",
    ];
    proptest::collection::vec((proptest::sample::select(names.to_vec()), value), 0..8)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Whatever the inputs, they are read and checked to Ok or an input error (exit 2), never a
    /// panic; a timeout that passes is within the ceiling.
    #[test]
    fn any_inputs_are_checked_or_refused(inputs in any_inputs()) {
        let env = Env::from_pairs(
            inputs.iter().map(|(name, value)| (swa_gha::input_env_name(name), value.clone())),
        );
        let args = swa_gha::parse_args::<Args>(&env, ["run-migration".to_string()]);
        match args {
            Ok(args) => {
                prop_assert!(args.timeout <= swa_gha::MAX_DURATION);
                if let Err(e) = Checked::new(&args) {
                    prop_assert_eq!(e.kind(), ExitKind::BadInput);
                }
            }
            Err(ParseError::Input(e)) => prop_assert_eq!(e.kind(), ExitKind::BadInput),
            Err(ParseError::Help(text)) => prop_assert!(false, "help: {}", text),
        }
    }

    #[test]
    fn any_command_parses_or_is_refused(text in prop_oneof![any::<String>(), r#"[\[\]"' \\a-z,-]{0,30}"#]) {
        if let Ok(words) = run_migration::parse_command(&text) {
            prop_assert!(!words.is_empty());
        }
    }
}
