//! `wait-healthy`: wait for an ECS deployment to be healthy, and say why when it is not.
//!
//! One DescribeServices per poll; tasks, targets and logs only when they are needed. A failure
//! (rollout FAILED, a circuit-breaker rollback, `max-failed-tasks` failed tasks) ends the wait as
//! soon as it is seen, with the stopped tasks' reasons and their containers' last log lines.
//! Another update of the service replacing the deployment ends it as `superseded`; ECS
//! unreachable for `unreachable-timeout` ends it as `error`.

mod assess;
mod observe;
mod pace;
mod probe;
mod report;
mod watch;

use std::time::Duration;

use swa_aws::Aws;
use swa_gha::{ActionError, Gha};

pub use assess::Outcome;
pub use pace::Pacer;
pub use probe::{Probe, contains};
pub use watch::{Checked, Clients, Until, Watch};

/// Inputs: one `--flag` per action input, named exactly as the input.
#[derive(clap::Parser, Debug)]
#[command(
    name = "wait-healthy",
    version,
    about = "Wait for an ECS deployment to be healthy, and say why when it is not"
)]
pub struct Args {
    /// The ECS cluster (name or ARN).
    #[arg(long)]
    pub cluster: String,
    /// The ECS service (name or ARN).
    #[arg(long)]
    pub service: String,
    /// The deployment to watch; default: the PRIMARY deployment when the wait starts.
    #[arg(long = "deployment-id")]
    pub deployment_id: Option<String>,
    /// The service deployment to follow (ARN); default: the one that carries the watched
    /// deployment.
    #[arg(long = "service-deployment-arn")]
    pub service_deployment_arn: Option<String>,
    /// `steady`: the old deployment has drained too; `complete`: steady and the service
    /// deployment SUCCESSFUL; `serving`: every new task is running and healthy in the target
    /// groups; `test-traffic`, `production-traffic`, `bake`: that lifecycle stage reached.
    #[arg(long, value_enum, default_value = "steady")]
    pub until: Until,
    /// How long to wait (`90s`, `10m`).
    #[arg(long, value_parser = swa_gha::parse_duration, default_value = "15m")]
    pub timeout: Duration,
    /// A URL that must answer 200 once the deployment is healthy; probed on every poll.
    #[arg(long = "health-url")]
    pub health_url: Option<String>,
    /// JSON the health-url body must contain, such as `{"status":"healthy"}`.
    #[arg(long = "health-expect")]
    pub health_expect: Option<String>,
    /// Fail once this many tasks of the deployment have stopped.
    #[arg(long = "max-failed-tasks", default_value = "3")]
    pub max_failed_tasks: u32,
    /// Log lines shown from each failed container.
    #[arg(long = "log-lines", default_value = "30")]
    pub log_lines: u32,
    /// The longest pause between polls.
    #[arg(long = "poll-interval", value_parser = swa_gha::parse_duration, default_value = "2s")]
    pub poll_interval: Duration,
    /// How long ECS may be unreachable (no connection, or no answer in time, poll after poll)
    /// before the wait ends with result `error`.
    #[arg(long = "unreachable-timeout", value_parser = swa_gha::parse_duration, default_value = UNREACHABLE_TIMEOUT)]
    pub unreachable_timeout: Duration,
    /// A cancelled job (SIGTERM, SIGINT) asks ECS to roll the followed service deployment back
    /// (StopServiceDeployment ROLLBACK) before it exits.
    #[arg(long = "rollback-on-cancel", action = clap::ArgAction::Set, value_parser = swa_gha::parse_bool, default_value = "false")]
    pub rollback_on_cancel: bool,
}

/// The default `unreachable-timeout`: ECS unreachable this long ends the wait.
pub const UNREACHABLE_TIMEOUT: &str = "60s";

/// Every output the action writes, in the order it writes them.
pub const OUTPUTS: &[&str] = &[
    "result",
    "deployment-id",
    "rollout-state",
    "failed-tasks",
    "failed-probes",
    "elapsed-seconds",
    "service-deployment-arn",
    "service-deployment-status",
    "lifecycle-stage",
    "production-weight",
    "test-weight",
    "hook-id",
    "expires-at",
    "hook-timeout-action",
];

/// ECS calls per minute the poller stays under, retries included: with the pacer's burst of 6,
/// at most 40 in any minute.
pub const ECS_CALLS_PER_MINUTE: f64 = 34.0;

/// Checks the inputs that need no AWS call.
pub fn settings(args: &Args) -> Result<Checked, ActionError> {
    swa_ecs::check_name("cluster", &args.cluster)?;
    swa_ecs::check_name("service", &args.service)?;
    if args.timeout.is_zero() {
        return Err(ActionError::input(
            "timeout",
            "is zero; give a duration such as 10m",
        ));
    }
    if args.poll_interval < Duration::from_millis(100) {
        return Err(ActionError::input(
            "poll-interval",
            "is under 100ms; a poll every 2s (the default) is fast enough",
        ));
    }
    if args.poll_interval > args.timeout {
        return Err(ActionError::input(
            "poll-interval",
            format!(
                "({}) is longer than `timeout` ({})",
                swa_gha::format_duration(args.poll_interval),
                swa_gha::format_duration(args.timeout)
            ),
        ));
    }
    if args.unreachable_timeout.is_zero() {
        return Err(ActionError::input(
            "unreachable-timeout",
            "is zero; give a duration such as 60s",
        ));
    }
    if args.max_failed_tasks == 0 {
        return Err(ActionError::input(
            "max-failed-tasks",
            "is 0; it must be at least 1",
        ));
    }
    if let Some(url) = &args.health_url {
        let ok = reqwest::Url::parse(url)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if !ok {
            return Err(ActionError::input(
                "health-url",
                format!("is `{url}`, which is not an http(s) URL"),
            ));
        }
    }
    let expect = match &args.health_expect {
        Some(text) => {
            if args.health_url.is_none() {
                return Err(ActionError::input(
                    "health-expect",
                    "is set but `health-url` is not; set the URL to check",
                ));
            }
            let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
                ActionError::input("health-expect", format!("is not valid JSON: {e}"))
            })?;
            Some(value)
        }
        None => None,
    };
    if let Some(id) = &args.deployment_id
        && (!id.starts_with("ecs-svc/") || id.len() <= "ecs-svc/".len())
    {
        return Err(ActionError::input(
            "deployment-id",
            format!("is `{id}`; an ECS deployment id looks like ecs-svc/1234567890123456789"),
        ));
    }
    if let Some(arn) = &args.service_deployment_arn {
        swa_ecs::check_service_deployment_arn("service-deployment-arn", arn)?;
    }
    Ok(Checked {
        cluster: args.cluster.clone(),
        service: args.service.clone(),
        deployment_id: args.deployment_id.clone(),
        service_deployment_arn: args.service_deployment_arn.clone(),
        until: args.until,
        timeout: args.timeout,
        health_url: args.health_url.clone(),
        health_expect: expect,
        max_failed_tasks: args.max_failed_tasks,
        log_lines: args.log_lines,
        poll_interval: args.poll_interval,
        unreachable_timeout: args.unreachable_timeout,
        rollback_on_cancel: args.rollback_on_cancel,
        calls_per_minute: ECS_CALLS_PER_MINUTE,
    })
}

pub async fn run(args: Args, gha: Gha) -> Result<(), ActionError> {
    let settings = settings(&args)?;
    let aws = Aws::load(gha.env()).await;
    let clients = Clients {
        ecs: aws.ecs(),
        cloudwatch: aws.cloudwatch(),
        elbv2: aws.elbv2(),
        logs: aws.logs(),
    };
    let mut watch = Watch::new(clients, settings, gha.clone())?;
    let ended = tokio::select! {
        outcome = watch.run() => Ok(outcome?),
        signal = swa_gha::cancelled() => Err(signal),
    };
    let outcome = match ended {
        Ok(outcome) => outcome,
        Err(signal) => watch.cancelled(signal).await,
    };
    watch.finish(outcome).await
}
