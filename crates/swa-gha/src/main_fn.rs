use std::future::Future;
use std::process::ExitCode;

use crate::inputs::ParseError;
use crate::{ActionError, ExitKind, Gha};

/// The whole of an action's `main`: read the inputs from the process, run the action on a tokio
/// runtime, report a failure as one `::error::` annotation, and map the result to the exit code.
pub fn run_main<A, F, Fut>(action: F) -> ExitCode
where
    A: clap::Parser,
    F: FnOnce(A, Gha) -> Fut,
    Fut: Future<Output = Result<(), ActionError>>,
{
    run_main_with_args(std::env::args(), action)
}

/// [`run_main`] with the command line given: the first item is the program name. The
/// multi-call image passes the action's own name and arguments here.
pub fn run_main_with_args<A, F, Fut>(argv: impl IntoIterator<Item = String>, action: F) -> ExitCode
where
    A: clap::Parser,
    F: FnOnce(A, Gha) -> Fut,
    Fut: Future<Output = Result<(), ActionError>>,
{
    run_main_with_gha(Gha::from_process(), argv, action)
}

/// [`run_main_with_args`] with the [`Gha`] given: the multi-call image adjusts the environment
/// (paths a local runner maps differently inside the container) before the action sees it.
pub fn run_main_with_gha<A, F, Fut>(
    gha: Gha,
    argv: impl IntoIterator<Item = String>,
    action: F,
) -> ExitCode
where
    A: clap::Parser,
    F: FnOnce(A, Gha) -> Fut,
    Fut: Future<Output = Result<(), ActionError>>,
{
    let args = match crate::parse_args::<A>(gha.env(), argv) {
        Ok(args) => args,
        Err(ParseError::Help(text)) => {
            gha.info(text.trim_end());
            return ExitCode::SUCCESS;
        }
        Err(ParseError::Input(error)) => return report(&gha, error),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return report(&gha, ActionError::from(e)),
    };
    match runtime.block_on(action(args, gha.clone())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => report(&gha, error),
    }
}

fn report(gha: &Gha, error: ActionError) -> ExitCode {
    gha.error(error.title(), error.chain());
    ExitCode::from(error.kind().code())
}

impl From<ExitKind> for ExitCode {
    fn from(kind: ExitKind) -> Self {
        ExitCode::from(kind.code())
    }
}

/// Resolves when the job is cancelled: the runner sends SIGINT, then SIGTERM.
pub async fn cancelled() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            },
            _ => std::future::pending().await,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}
