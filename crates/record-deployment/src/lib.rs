//! `record-deployment`: keeps the record of what is deployed where, as GitHub deployments of the
//! application repository. `start` records a deploy (or a rollback) with a payload (the backend's
//! task definition and image, the frontend commit, the migrations the guard classed as
//! destructive) and marks it in progress; `finish` marks it succeeded or failed; `find` reads the
//! live deployment (the newest that succeeded) or the previous one (the one before it), for a
//! rollback of both halves.

mod inputs;
mod record;

use swa_gha::{ActionError, Gha};
use swa_github::Token;

pub use inputs::{Checked, Mode, Which};

/// The deployment task the records carry, distinct from the `deploy` records GitHub makes for
/// each job with an `environment:`.
pub const TASK: &str = "deploy:swa-actions";

/// Inputs: one `--flag` per action input.
#[derive(clap::Parser, Debug)]
#[command(
    name = "record-deployment",
    version,
    about = "Record a deploy as a GitHub deployment, mark how it went, or find the live or previous one"
)]
pub struct Args {
    /// `start` (record a deploy, in progress), `finish` (mark it succeeded or failed) or `find`
    /// (read the live or the previous deployment).
    #[arg(long)]
    pub mode: String,
    /// A token that may write deployments in `repository` (`${{ github.token }}` with
    /// `deployments: write`; `find` needs read only).
    #[arg(long, hide_env = true, value_parser = lenient_token)]
    pub token: Token,
    /// The repository the records belong to, owner/name; default GITHUB_REPOSITORY.
    #[arg(long)]
    pub repository: Option<String>,
    /// The environment deployed to.
    #[arg(long, default_value = "production")]
    pub environment: String,
    /// start: the backend commit deployed; default GITHUB_SHA.
    #[arg(long = "ref")]
    pub git_ref: Option<String>,
    /// start: `deploy` or `rollback`.
    #[arg(long, default_value = "deploy")]
    pub kind: String,
    /// start: the backend's task-definition revision (ARN).
    #[arg(long)]
    pub task_definition_arn: Option<String>,
    /// start: the backend's image, pinned to its digest.
    #[arg(long)]
    pub image: Option<String>,
    /// start: the frontend commit deployed.
    #[arg(long)]
    pub frontend_ref: Option<String>,
    /// start: the migrations the guard classed as destructive that this deploy applied (one per
    /// line or comma-separated, `app.0042_name`).
    #[arg(long)]
    pub destructive_migrations: Option<String>,
    /// start and finish: a line that describes the deployment or its outcome.
    #[arg(long)]
    pub description: Option<String>,
    /// finish: the deployment's id (the `deployment-id` output of `start`).
    #[arg(long)]
    pub deployment_id: Option<String>,
    /// finish: `success` or `failure`.
    #[arg(long)]
    pub result: Option<String>,
    /// finish: the environment's URL, shown on the deployment.
    #[arg(long)]
    pub environment_url: Option<String>,
    /// find: `live` (the newest deployment that succeeded) or `previous` (the one before it).
    #[arg(long, default_value = "live")]
    pub which: String,
    /// find: fail when the deployment found applied destructive migrations (before a rollback
    /// past it: the code it replaced may not run on the schema they left).
    #[arg(long, action = clap::ArgAction::Set, value_parser = swa_gha::parse_bool, default_value = "false")]
    pub refuse_destructive: bool,
    /// The GitHub API base URL; default GITHUB_API_URL, else https://api.github.com.
    #[arg(long)]
    pub api_url: Option<String>,
}

/// Any text is taken here; the check happens in `run`, after the value is masked.
fn lenient_token(s: &str) -> Result<Token, String> {
    Ok(Token::new(s))
}

/// Every output the action writes.
pub const OUTPUTS: &[&str] = &[
    "deployment-id",
    "found",
    "ref",
    "task-definition-arn",
    "image",
    "frontend-ref",
    "destructive-migrations",
    "created-at",
];

pub async fn run(args: Args, gha: Gha) -> Result<(), ActionError> {
    gha.add_mask(args.token.expose());
    let checked = inputs::check(&args, gha.env())?;
    record::run(&checked, &gha).await
}
