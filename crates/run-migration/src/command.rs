//! The `command` input: shell words or a JSON array, and the `--plan` variant the guard runs.

/// The command the migration task runs when the workflow does not say.
pub const DEFAULT_COMMAND: &str = "python manage.py migrate --noinput";

/// Parses `python manage.py migrate --noinput` (shell words, quotes honoured) or
/// `["python", "manage.py", "migrate"]` (a JSON array of strings). The error says what is wrong,
/// for `ActionError::input("command", ...)`.
pub fn parse_command(text: &str) -> Result<Vec<String>, String> {
    let text = text.trim();
    let words = if text.starts_with('[') {
        let words: Vec<String> = serde_json::from_str(text)
            .map_err(|e| format!("is not a valid JSON array of strings ({e})"))?;
        if words.iter().any(|w| w.is_empty()) {
            return Err("is a JSON array with an empty string in it".to_string());
        }
        words
    } else {
        shlex::split(text).ok_or_else(|| {
            "is not valid shell words (an unclosed quote or a trailing backslash)".to_string()
        })?
    };
    if words.is_empty() {
        return Err(
            "is empty; give the migration command, such as `python manage.py migrate --noinput`"
                .to_string(),
        );
    }
    Ok(words)
}

/// The command that prints the plan of `command` without applying it: the same `migrate`
/// invocation (target app and migration included) with `--plan`. A command that is not a
/// `manage.py migrate` (a wrapper script, `sh -c ...`) gets the default `migrate --plan`.
pub fn plan_command(command: &[String]) -> (Vec<String>, bool) {
    if let Some(at) = command.iter().position(|w| w == "migrate") {
        let is_manage = at > 0
            && command[..at]
                .iter()
                .any(|w| w.ends_with("manage.py") || w.ends_with("django-admin"));
        if is_manage {
            let mut plan: Vec<String> = command.to_vec();
            if !plan.iter().any(|w| w == "--plan") {
                plan.push("--plan".to_string());
            }
            return (plan, true);
        }
    }
    let default = ["python", "manage.py", "migrate", "--plan"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    (default, false)
}

/// The command as a person would type it, for the log and the summary.
pub fn display(command: &[String]) -> String {
    shlex::try_join(command.iter().map(String::as_str)).unwrap_or_else(|_| command.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn shell_words_and_json_arrays_give_the_same_command() {
        let want = words(&["python", "manage.py", "migrate", "--noinput"]);
        assert_eq!(parse_command(DEFAULT_COMMAND), Ok(want.clone()));
        assert_eq!(
            parse_command(r#"["python", "manage.py", "migrate", "--noinput"]"#),
            Ok(want)
        );
        assert_eq!(
            parse_command(r#"sh -c 'python manage.py migrate && echo "done"'"#),
            Ok(words(&[
                "sh",
                "-c",
                r#"python manage.py migrate && echo "done""#
            ]))
        );
    }

    #[test]
    fn malformed_commands_say_what_is_wrong() {
        let e = parse_command(r#"["python", "manage.py""#).expect_err("an error");
        assert!(e.starts_with("is not a valid JSON array of strings"), "{e}");
        let e = parse_command(r#"["python", 3]"#).expect_err("an error");
        assert!(e.starts_with("is not a valid JSON array of strings"), "{e}");
        let e = parse_command("python 'manage.py").expect_err("an error");
        assert!(e.contains("unclosed quote"), "{e}");
        assert!(
            parse_command("   ")
                .expect_err("an error")
                .starts_with("is empty")
        );
        assert!(
            parse_command("[]")
                .expect_err("an error")
                .starts_with("is empty")
        );
        assert!(parse_command(r#"["python", ""]"#).is_err());
    }

    #[test]
    fn the_plan_keeps_the_migrate_target() {
        let (plan, same) = plan_command(&words(&[
            "python",
            "manage.py",
            "migrate",
            "catalog",
            "0002",
            "--noinput",
        ]));
        assert!(same);
        assert_eq!(
            display(&plan),
            "python manage.py migrate catalog 0002 --noinput --plan"
        );
        let (plan, same) = plan_command(&words(&["./entrypoint.sh", "migrate"]));
        assert!(!same);
        assert_eq!(display(&plan), "python manage.py migrate --plan");
    }

    #[test]
    fn display_quotes_what_needs_quoting() {
        assert_eq!(
            display(&words(&["sh", "-c", "python manage.py migrate"])),
            "sh -c 'python manage.py migrate'"
        );
    }
}
