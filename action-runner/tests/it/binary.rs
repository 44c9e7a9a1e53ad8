//! The binary as the image runs it: `action-runner <action>` with `INPUT_*` variables, and as a
//! link named after the action.

use std::path::Path;
use std::process::{Command, Output};

use action_runner::ACTIONS;

const BIN: &str = env!("CARGO_BIN_EXE_action-runner");

/// Runs `program` with a cleared environment (no runner, AWS or GitHub variables leak in).
fn run(program: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(program)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn help_lists_every_action() {
    let output = run(Path::new(BIN), &["--help"], &[]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    for action in ACTIONS {
        assert!(
            text.contains(action.name),
            "{} missing from:\n{text}",
            action.name
        );
    }
}

#[test]
fn an_unknown_action_is_bad_input() {
    let output = run(Path::new(BIN), &["deploy-everything"], &[]);
    assert_eq!(output.status.code(), Some(2));
    let text = stdout(&output);
    assert!(text.contains("::error"), "{text}");
    assert!(text.contains("`deploy-everything`"), "{text}");
    assert!(
        text.contains("update-service") || ACTIONS.is_empty(),
        "{text}"
    );

    let output = run(Path::new(BIN), &[], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stdout(&output).contains("no action named"));
}

#[test]
fn each_action_answers_help_with_its_inputs() {
    for action in ACTIONS {
        let output = run(Path::new(BIN), &[action.name, "--help"], &[]);
        assert_eq!(output.status.code(), Some(0), "{}", action.name);
        let text = stdout(&output);
        for arg in (action.command)().get_arguments() {
            if let Some(long) = arg.get_long() {
                assert!(
                    text.contains(&format!("--{long}")),
                    "{}: --{long} missing from help:\n{text}",
                    action.name
                );
            }
        }
    }
}

/// Without its required inputs, every action stops before doing anything: exit 2 and an
/// `::error::` naming the input.
#[test]
fn a_missing_required_input_is_named() {
    let mut checked = 0;
    for action in ACTIONS {
        let command = (action.command)();
        let Some(required) = command
            .get_arguments()
            .find(|a| a.is_required_set())
            .and_then(|a| a.get_long())
        else {
            continue;
        };
        let output = run(
            Path::new(BIN),
            &[action.name],
            &[("AWS_ENDPOINT_URL", "http://127.0.0.1:9")],
        );
        let text = stdout(&output);
        assert_eq!(output.status.code(), Some(2), "{}: {text}", action.name);
        assert!(
            text.contains("::error") && text.contains(&format!("`{required}`")),
            "{}: {text}",
            action.name
        );
        checked += 1;
    }
    assert!(checked > 0, "no action with a required input");
}

#[test]
fn inputs_come_from_the_runner_environment() {
    // A required input given through INPUT_*, another left out: the error names the one left out,
    // so the first was read from the environment.
    for action in ACTIONS {
        let command = (action.command)();
        let required: Vec<&str> = command
            .get_arguments()
            .filter(|a| a.is_required_set())
            .filter_map(|a| a.get_long())
            .collect();
        let [first, second, ..] = required.as_slice() else {
            continue;
        };
        let key = swa_gha_input(first);
        let output = run(Path::new(BIN), &[action.name], &[(key.as_str(), "given")]);
        let text = stdout(&output);
        assert_eq!(output.status.code(), Some(2), "{}: {text}", action.name);
        assert!(
            text.contains(&format!("`{second}`")),
            "{}: {text}",
            action.name
        );
        assert!(!text.contains(&format!("`{first}` is required")), "{text}");
    }
}

fn swa_gha_input(name: &str) -> String {
    format!("INPUT_{}", name.to_uppercase())
}

#[cfg(unix)]
#[test]
fn a_link_named_after_an_action_runs_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for action in ACTIONS {
        let link = dir.path().join(action.name);
        std::os::unix::fs::symlink(BIN, &link).unwrap();
        let output = run(&link, &["--help"], &[]);
        assert_eq!(output.status.code(), Some(0), "{}", action.name);
        let text = stdout(&output);
        assert!(
            text.contains(&format!("Usage: {}", action.name)),
            "{}: {text}",
            action.name
        );
        checked += 1;
    }
    assert_eq!(checked, ACTIONS.len());
}
