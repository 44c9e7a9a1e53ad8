//! The multi-call binary of the swa-actions image. Every `action.yml` runs the same image with the
//! action's name as the first argument (`action-runner update-service`); a link named after an
//! action (`update-service -> action-runner`) runs that action too.

use std::io;
use std::path::Path;
use std::process::ExitCode;

use swa_gha::{ActionError, Env, Gha};

mod local_runner;

pub use local_runner::container_paths;

/// The image every `action.yml` runs.
pub const IMAGE: &str = "docker://ghcr.io/org/swa-actions:v1";

/// One action the image can run.
pub struct Action {
    /// The action's name: its folder under `actions/` and the first argument in its `action.yml`.
    pub name: &'static str,
    /// The action's clap command: one `--flag` per input.
    pub command: fn() -> clap::Command,
    /// Every output the action writes.
    pub outputs: &'static [&'static str],
    /// Runs the action with the environment given and `argv` (program name first).
    pub main: fn(Gha, Vec<String>) -> ExitCode,
}

macro_rules! actions {
    ($($name:literal => $krate:ident),* $(,)?) => {
        /// Every action in the image, by name.
        pub const ACTIONS: &[Action] = &[$(
            Action {
                name: $name,
                command: <$krate::Args as clap::CommandFactory>::command,
                outputs: $krate::OUTPUTS,
                main: |gha, argv| swa_gha::run_main_with_gha(gha, argv, $krate::run),
            },
        )*];
    };
}

actions! {
    "update-service" => update_service,
    "wait-healthy" => wait_healthy,
    "run-migration" => run_migration,
    "dispatch-frontend" => dispatch_frontend,
    "smoke-test" => smoke_test,
    "sync-frontend" => sync_frontend,
    "record-deployment" => record_deployment,
    "control-deployment" => control_deployment,
}

/// Finds an action by name.
pub fn action(name: &str) -> Option<&'static Action> {
    ACTIONS.iter().find(|a| a.name == name)
}

/// The whole of `main`: picks the action from the program's file name or the first argument,
/// and runs it with the process environment.
pub fn main(argv: Vec<String>) -> ExitCode {
    let env = container_paths(Env::from_process(), Path::exists);
    let gha = Gha::new(env, Box::new(io::stdout()));
    dispatch(gha, argv)
}

/// Runs the action `argv` names: `update-service [args]` (called through a link of that name) or
/// `action-runner update-service [args]`.
pub fn dispatch(gha: Gha, mut argv: Vec<String>) -> ExitCode {
    let program = argv
        .first()
        .map(|p| file_name(p).to_string())
        .unwrap_or_default();
    if let Some(action) = action(&program) {
        return (action.main)(gha, argv);
    }
    let Some(name) = argv.get(1).cloned() else {
        return usage_error(&gha, "no action named; pass one as the first argument");
    };
    match name.as_str() {
        "-h" | "--help" | "help" => {
            gha.info(usage());
            return ExitCode::SUCCESS;
        }
        "-V" | "--version" => {
            gha.info(format!("action-runner {}", env!("CARGO_PKG_VERSION")));
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    let Some(action) = action(&name) else {
        return usage_error(&gha, &format!("there is no action `{name}`"));
    };
    // The action sees its own name as the program name: `update-service --help` reads right.
    argv.remove(0);
    (action.main)(gha, argv)
}

fn file_name(path: &str) -> &str {
    Path::new(path)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(path)
}

fn usage() -> String {
    let names: Vec<&str> = ACTIONS.iter().map(|a| a.name).collect();
    format!(
        "Usage: action-runner <ACTION> [--input value ...]\n\nActions: {}\n\nEach action reads its inputs from --flags or INPUT_* variables; `action-runner <ACTION> --help` lists them.",
        names.join(", ")
    )
}

fn usage_error(gha: &Gha, problem: &str) -> ExitCode {
    let names: Vec<&str> = ACTIONS.iter().map(|a| a.name).collect();
    let error = ActionError::input(
        "action",
        format!("{problem} (one of: {})", names.join(", ")),
    );
    gha.error(error.title(), error.chain());
    ExitCode::from(error.kind().code())
}
