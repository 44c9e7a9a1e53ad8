//! `dispatch-frontend`: sends a `repository_dispatch` to the frontend repository carrying the
//! frontend commit to deploy, finds the run it started by a correlation id in the run's name,
//! waits for it, and retries a failed run (re-run of its failed jobs, else a new dispatch).

mod inputs;
mod wait;

#[cfg(test)]
mod input_props;

use std::time::Duration;

use swa_gha::{ActionError, Foreign, Gha};
use swa_github::Token;

pub use inputs::Checked;
pub use wait::{Attempt, Outcome};

/// Inputs: one `--flag` per action input.
#[derive(clap::Parser, Debug)]
#[command(
    name = "dispatch-frontend",
    version,
    about = "Dispatch the frontend deploy to exactly the tested commit, find its run and wait for it"
)]
pub struct Args {
    /// The frontend repository, owner/name.
    #[arg(long)]
    pub repository: String,
    /// A token that may dispatch to the repository (Contents: write) and read and re-run its
    /// workflow runs (Actions: write).
    #[arg(long, hide_env = true, value_parser = lenient_token)]
    pub token: Token,
    /// The `repository_dispatch` event type the frontend's workflow listens for.
    #[arg(long, default_value = "deploy-production")]
    pub event_type: String,
    /// A JSON object sent as client_payload; the action adds `correlation_id`, `sha` and
    /// `frontend_ref`.
    #[arg(long)]
    pub client_payload: Option<String>,
    /// The frontend commit to deploy, sent as client_payload.frontend_ref.
    #[arg(long)]
    pub frontend_ref: Option<String>,
    /// The frontend commit live now (the `frontend-ref` output of record-deployment's `find`).
    #[arg(long)]
    pub live_ref: Option<String>,
    /// Dispatch nothing when `frontend-ref` is `live-ref`: the frontend is unchanged.
    #[arg(long, action = clap::ArgAction::Set, value_parser = swa_gha::parse_bool, default_value = "true")]
    pub skip_unchanged: bool,
    /// Wait for the run to finish (and retry it when it fails).
    #[arg(long, action = clap::ArgAction::Set, value_parser = swa_gha::parse_bool, default_value = "true")]
    pub wait: bool,
    /// The frontend's workflow file name (deploy.yml) or id, to narrow the search for the run.
    #[arg(long)]
    pub workflow: Option<String>,
    /// How long to wait for the run, all attempts included.
    #[arg(long, value_parser = swa_gha::parse_duration, default_value = "15m")]
    pub timeout: Duration,
    /// Runs in all (first run, re-runs and new dispatches), 1 to 10.
    #[arg(long, default_value = "3", value_parser = clap::value_parser!(u32).range(1..=10))]
    pub attempts: u32,
    /// When a dispatch gets no clear answer (GitHub answered 5xx, or the connection dropped),
    /// GitHub may still have accepted it: the action looks this long for the run it started
    /// before it dispatches again (with the same correlation id).
    #[arg(long, value_parser = swa_gha::parse_duration, default_value = "1m")]
    pub dispatch_grace: Duration,
    /// The GitHub API base URL; default GITHUB_API_URL, else https://api.github.com.
    #[arg(long)]
    pub api_url: Option<String>,
}

/// Any text is taken here; the check happens in `run`, after the value is masked, so that no
/// error message can ever print it.
fn lenient_token(s: &str) -> Result<Token, String> {
    Ok(Token::new(s))
}

/// Every output the action writes, in the order it writes them.
pub const OUTPUTS: &[&str] = &["skipped", "run-id", "run-url", "conclusion", "attempts"];

pub async fn run(args: Args, gha: Gha) -> Result<(), ActionError> {
    gha.add_mask(args.token.expose());
    let checked = inputs::check(&args, gha.env())?;
    if let Some(live) = checked.unchanged() {
        gha.set_output("skipped", "true")?;
        gha.notice(format!(
            "Frontend {} is live already: nothing dispatched to {} (skip-unchanged)",
            Foreign(live),
            checked.repo
        ));
        gha.summary(&format!(
            "### Frontend deploy: {} unchanged\n\n{} is live already; nothing was dispatched.\n",
            checked.repo,
            swa_gha::md::code(live)
        ))?;
        return Ok(());
    }
    let outcome = wait::deploy(&checked, &gha).await;
    wait::report(&checked, &gha, outcome)
}
