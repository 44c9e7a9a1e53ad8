//! control-deployment: continue, roll back or abort an ECS service deployment in flight.
//!
//! `continue` answers the lifecycle hook the deployment waits at (ContinueServiceDeployment
//! CONTINUE); `rollback` answers it with ROLLBACK, or, with no hook waiting, stops the deployment
//! with a rollback (StopServiceDeployment ROLLBACK); `abort` stops it without one
//! (StopServiceDeployment ABORT). A deployment that is not in a state the action applies to is
//! bad input: nothing is asked of ECS that would change anything. With `wait`, a rollback or an
//! abort is watched until ECS says it is over.

use std::time::{Duration, Instant};

use aws_sdk_ecs as ecs;
use ecs::types::{DeploymentLifecycleHookAction, StopServiceDeploymentStopType};
use swa_aws::{Aws, error_text};
use swa_ecs::{ServiceDeploymentState, revision_label};
use swa_gha::{ActionError, Foreign, Gha, format_duration, md};

/// Inputs: one `--flag` per action input, named exactly as the input.
#[derive(clap::Parser, Debug)]
#[command(
    name = "control-deployment",
    version,
    about = "Continue, roll back or abort an ECS service deployment in flight"
)]
pub struct Args {
    /// The ECS cluster (name or ARN).
    #[arg(long)]
    pub cluster: String,
    /// The ECS service (name or ARN).
    #[arg(long)]
    pub service: String,
    /// The service deployment to act on; default: the service's deployment in flight.
    #[arg(long = "service-deployment-arn")]
    pub service_deployment_arn: Option<String>,
    /// `continue`, `rollback` or `abort`.
    #[arg(long, value_enum)]
    pub action: Control,
    /// Wait until the rollback or the abort is over.
    #[arg(long, action = clap::ArgAction::Set, value_parser = swa_gha::parse_bool, default_value = "true")]
    pub wait: bool,
    /// How long to wait (`90s`, `10m`).
    #[arg(long, value_parser = swa_gha::parse_duration, default_value = "10m")]
    pub timeout: Duration,
    /// A deployment that is over: `error` (bad input, exit 2) or `skip` (exit 0, result
    /// `not-in-flight`).
    #[arg(long = "if-not-in-flight", value_enum, default_value = "error")]
    pub if_not_in_flight: IfNotInFlight,
}

/// What a deployment that is over (successful, stopped, rolled back) makes of the action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum IfNotInFlight {
    /// Bad input: exit 2, nothing asked of ECS.
    Error,
    /// Nothing to do: exit 0 with result `not-in-flight`, for a caller that then deploys an
    /// earlier revision instead.
    Skip,
}

/// What to ask of the deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Control {
    Continue,
    Rollback,
    Abort,
}

impl Control {
    fn as_str(self) -> &'static str {
        match self {
            Control::Continue => "continue",
            Control::Rollback => "rollback",
            Control::Abort => "abort",
        }
    }

    /// The action as a verb: "roll back".
    fn verb(self) -> &'static str {
        match self {
            Control::Rollback => "roll back",
            other => other.as_str(),
        }
    }
}

/// Every output the action writes, in the order it writes them.
pub const OUTPUTS: &[&str] = &[
    "result",
    "service-deployment-arn",
    "status",
    "service-revision",
];

/// How often the wait describes the deployment: 30 calls a minute at most.
const POLL: Duration = Duration::from_secs(2);

/// The call that carries out the action, decided from the deployment's state.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    /// ContinueServiceDeployment for the hook, with CONTINUE or ROLLBACK.
    Answer {
        hook_id: String,
        action: DeploymentLifecycleHookAction,
    },
    /// StopServiceDeployment with ROLLBACK or ABORT.
    Stop(StopServiceDeploymentStopType),
    /// ECS rolls it back already: nothing to ask, only to wait.
    AlreadyRollingBack,
}

/// What `action` asks of a deployment in `state`, or why it does not apply (bad input).
fn plan(action: Control, state: &ServiceDeploymentState) -> Result<Call, ActionError> {
    let in_flight = matches!(state.status.as_str(), "PENDING" | "IN_PROGRESS");
    let refuse = |why: String| {
        Err(ActionError::input(
            "action",
            format!(
                "is `{}`, but service deployment {} {why}",
                action.as_str(),
                Foreign(&state.arn)
            ),
        ))
    };
    match (action, &state.paused) {
        (Control::Continue, Some(paused)) => Ok(Call::Answer {
            hook_id: paused.hook_id.clone(),
            action: DeploymentLifecycleHookAction::Continue,
        }),
        (Control::Continue, None) => refuse(format!(
            "waits at no lifecycle hook (it is {}); there is nothing to continue",
            state.state()
        )),
        (Control::Rollback, Some(paused)) => Ok(Call::Answer {
            hook_id: paused.hook_id.clone(),
            action: DeploymentLifecycleHookAction::Rollback,
        }),
        (Control::Rollback, None) if in_flight => {
            Ok(Call::Stop(StopServiceDeploymentStopType::Rollback))
        }
        (Control::Rollback, None) if state.rolling_back() && state.status != "ROLLBACK_FAILED" => {
            Ok(Call::AlreadyRollingBack)
        }
        (Control::Abort, _) if in_flight => Ok(Call::Stop(StopServiceDeploymentStopType::Abort)),
        _ => refuse(format!(
            "is {}: it is not in flight; to go back to an earlier revision, deploy it (update-service `revision: previous`)",
            state.state()
        )),
    }
}

pub async fn run(args: Args, gha: Gha) -> Result<(), ActionError> {
    swa_ecs::check_name("cluster", &args.cluster)?;
    swa_ecs::check_name("service", &args.service)?;
    if let Some(arn) = &args.service_deployment_arn {
        swa_ecs::check_service_deployment_arn("service-deployment-arn", arn)?;
    }
    if args.timeout.is_zero() {
        return Err(ActionError::input(
            "timeout",
            "is zero; give a duration such as 10m",
        ));
    }
    let aws = Aws::load(gha.env()).await;
    control(&aws.ecs(), &args, &gha).await
}

/// Finds the deployment, carries out the action, waits when asked, and reports.
pub async fn control(ecs: &ecs::Client, args: &Args, gha: &Gha) -> Result<(), ActionError> {
    // An unknown cluster or service is the input's fault, said as the other actions say it.
    swa_ecs::describe_service(ecs, &args.cluster, &args.service).await?;
    let arn = match &args.service_deployment_arn {
        Some(arn) => arn.clone(),
        None => {
            let found = swa_ecs::in_flight_service_deployment(ecs, &args.cluster, &args.service)
                .await
                .map_err(|e| ActionError::failed(e.to_string()))?;
            match found {
                Some(arn) => arn,
                None if args.if_not_in_flight == IfNotInFlight::Skip => {
                    return skip(args, None, gha);
                }
                None => {
                    return Err(ActionError::input(
                        "service",
                        format!(
                            "`{}` has no service deployment in flight; there is nothing to {}",
                            args.service,
                            args.action.verb()
                        ),
                    ));
                }
            }
        }
    };
    let before = swa_ecs::describe_service_deployment(ecs, &arn)
        .await
        .map_err(ActionError::failed)?;
    gha.info(format!(
        "Service deployment {} is {}",
        Foreign(&arn),
        before.state()
    ));
    if args.if_not_in_flight == IfNotInFlight::Skip && !before.in_flight() {
        return skip(args, Some(&before), gha);
    }
    let call = plan(args.action, &before)?;
    if let Err(refused) = ask(ecs, &arn, &call, gha).await {
        // It may have ended between the look and the call.
        if args.if_not_in_flight == IfNotInFlight::Skip
            && let Ok(now) = swa_ecs::describe_service_deployment(ecs, &arn).await
            && !now.in_flight()
        {
            gha.warning(format!("{refused}; it is over now"));
            return skip(args, Some(&now), gha);
        }
        return Err(refused);
    }
    let waits = args.wait && args.action != Control::Continue;
    let after = if waits {
        wait(ecs, &arn, args.action, args.timeout, gha).await?
    } else {
        swa_ecs::describe_service_deployment(ecs, &arn)
            .await
            .unwrap_or_else(|_| before.clone())
    };
    let result = match args.action {
        Control::Continue => "continued",
        Control::Rollback => "rolled-back",
        Control::Abort => "aborted",
    };
    // Where production traffic is: back on the revision a rollback went to; on the source while
    // a continued deployment moves on; on the target once an abort or a success left it there.
    let revision = match args.action {
        Control::Rollback => after
            .rollback_revision
            .clone()
            .or_else(|| after.source_revisions.first().cloned()),
        Control::Continue => after.source_revisions.first().cloned(),
        Control::Abort => after.target_revision.clone(),
    }
    .unwrap_or_default();
    gha.set_output("result", result)?;
    gha.set_output("service-deployment-arn", &arn)?;
    gha.set_output("status", &after.status)?;
    gha.set_output("service-revision", &revision)?;
    gha.summary(&summary(args, &before, &after, &revision, waits))?;
    gha.notice(format!(
        "{}: service deployment {} is {}",
        match (args.action, waits) {
            (Control::Continue, _) => "Continued",
            (Control::Rollback, true) => "Rolled back",
            (Control::Rollback, false) => "Rollback requested",
            (Control::Abort, true) => "Aborted",
            (Control::Abort, false) => "Abort requested",
        },
        Foreign(revision_label(&arn)),
        after.state()
    ));
    Ok(())
}

/// The deployment is over and `if-not-in-flight` is `skip`: say so, with where production
/// traffic is, and change nothing.
fn skip(args: &Args, state: Option<&ServiceDeploymentState>, gha: &Gha) -> Result<(), ActionError> {
    let revision = state
        .and_then(|state| {
            if state.rolling_back() || state.status == "STOPPED" {
                state
                    .rollback_revision
                    .clone()
                    .or_else(|| state.source_revisions.first().cloned())
            } else {
                state.target_revision.clone()
            }
        })
        .unwrap_or_default();
    gha.set_output("result", "not-in-flight")?;
    gha.set_output(
        "service-deployment-arn",
        state.map(|s| s.arn.as_str()).unwrap_or_default(),
    )?;
    gha.set_output(
        "status",
        state.map(|s| s.status.as_str()).unwrap_or_default(),
    )?;
    gha.set_output("service-revision", &revision)?;
    let what = match state {
        Some(state) => {
            gha.summary(&summary(args, state, state, &revision, false))?;
            format!(
                "service deployment {} is {}, not in flight",
                Foreign(revision_label(&state.arn)),
                state.state()
            )
        }
        None => format!(
            "service `{}` has no service deployment in flight",
            args.service
        ),
    };
    gha.notice(format!("Nothing to {}: {what}", args.action.verb()));
    Ok(())
}

/// Makes the one call that changes the deployment. A refusal is ECS's to explain: exit 1.
async fn ask(ecs: &ecs::Client, arn: &str, call: &Call, gha: &Gha) -> Result<(), ActionError> {
    match call {
        Call::Answer { hook_id, action } => {
            ecs.continue_service_deployment()
                .service_deployment_arn(arn)
                .hook_id(hook_id)
                .action(action.clone())
                .send()
                .await
                .map_err(|e| {
                    ActionError::failed(format!(
                        "ECS refused ContinueServiceDeployment {} for hook {}: {}",
                        action.as_str(),
                        Foreign(hook_id),
                        Foreign(&error_text(&e))
                    ))
                })?;
            gha.info(format!(
                "Answered lifecycle hook {} with {}",
                Foreign(hook_id),
                action.as_str()
            ));
        }
        Call::Stop(stop_type) => {
            ecs.stop_service_deployment()
                .service_deployment_arn(arn)
                .stop_type(stop_type.clone())
                .send()
                .await
                .map_err(|e| {
                    ActionError::failed(format!(
                        "ECS refused StopServiceDeployment {}: {}",
                        stop_type.as_str(),
                        Foreign(&error_text(&e))
                    ))
                })?;
            gha.info(format!("Stopped it with {}", stop_type.as_str()));
        }
        Call::AlreadyRollingBack => {
            gha.info("ECS rolls it back already: nothing to ask, only to wait");
        }
    }
    Ok(())
}

/// Describes the deployment until the rollback or the abort is over, saying each new state.
async fn wait(
    ecs: &ecs::Client,
    arn: &str,
    action: Control,
    timeout: Duration,
    gha: &Gha,
) -> Result<ServiceDeploymentState, ActionError> {
    let started = Instant::now();
    let mut said = String::new();
    loop {
        let state = swa_ecs::describe_service_deployment(ecs, arn)
            .await
            .map_err(ActionError::failed)?;
        if state.state() != said {
            said = state.state();
            gha.info(format!("[{}] {said}", format_duration(started.elapsed())));
        }
        let over = match (action, state.status.as_str()) {
            (_, "ROLLBACK_SUCCESSFUL") => return Ok(state),
            (Control::Abort, "STOPPED") => return Ok(state),
            (_, "ROLLBACK_FAILED") => Some("the rollback failed"),
            (Control::Rollback, "SUCCESSFUL" | "STOPPED") => Some("it ended without a rollback"),
            (Control::Abort, "SUCCESSFUL") => Some("it completed before the abort"),
            _ => None,
        };
        if let Some(why) = over {
            return Err(ActionError::failed(format!(
                "service deployment {} is {}: {why}{}",
                Foreign(arn),
                state.status,
                state
                    .cause
                    .as_deref()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default()
            )));
        }
        if started.elapsed() + POLL > timeout {
            return Err(ActionError::failed(format!(
                "service deployment {} was still {} after {}; ECS goes on with it",
                Foreign(arn),
                state.state(),
                format_duration(timeout)
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

fn summary(
    args: &Args,
    before: &ServiceDeploymentState,
    after: &ServiceDeploymentState,
    revision: &str,
    waited: bool,
) -> String {
    let mut md = format!(
        "### control-deployment: {} {}\n\n| | |\n|---|---|\n",
        md::text(&args.service),
        args.action.as_str()
    );
    let mut row = |k: &str, v: String| md.push_str(&format!("| {k} | {v} |\n"));
    row("Service deployment", md::code(&after.arn));
    row("Before", md::text(&before.state()));
    row(
        if waited { "After" } else { "Now" },
        md::text(&after.state()),
    );
    if let Some(cause) = &after.cause {
        row("Cause", md::text(cause));
    }
    if !revision.is_empty() {
        row("Production traffic on", md::code(revision));
    }
    md
}

#[cfg(test)]
mod tests;
