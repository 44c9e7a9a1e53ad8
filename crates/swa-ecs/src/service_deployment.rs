//! A service deployment as ECS describes it (DescribeServiceDeployments), whatever the strategy
//! (rolling, blue/green, linear, canary): its status, lifecycle stage, the lifecycle hook it waits
//! at, the traffic the new revision takes, the revisions it goes from and to, and why it rolled
//! back or stopped.

use aws_sdk_ecs::types::{
    DeploymentLifecycleHookStatus as HookStatus, ServiceDeployment,
    ServiceDeploymentRollbackMonitorsStatus as Monitor,
};
use aws_smithy_types::date_time::Format;
use swa_gha::{ActionError, Foreign};

/// The lifecycle stages, in the order a deployment goes through them.
pub const STAGES: [&str; 10] = [
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
    "CLEAN_UP",
];

/// Where `stage` comes in [`STAGES`].
pub fn stage_rank(stage: &str) -> Option<usize> {
    STAGES.iter().position(|s| *s == stage)
}

/// A lifecycle hook that waits for ContinueServiceDeployment (a PAUSE hook awaiting action).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paused {
    pub hook_id: String,
    /// When the hook times out (RFC 3339), if ECS says.
    pub expires_at: Option<String>,
    /// What ECS does then: CONTINUE or ROLLBACK.
    pub timeout_action: Option<String>,
}

impl Paused {
    /// "hook H (until T, then ROLLBACK)".
    pub fn describe(&self) -> String {
        let mut then = Vec::new();
        if let Some(at) = &self.expires_at {
            then.push(format!("until {at}"));
        }
        if let Some(action) = &self.timeout_action {
            then.push(format!("then {action}"));
        }
        let then = if then.is_empty() {
            String::new()
        } else {
            format!(" ({})", then.join(", "))
        };
        format!("lifecycle hook {}{then}", Foreign(&self.hook_id))
    }
}

/// What one DescribeServiceDeployments answer says of the followed service deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceDeploymentState {
    pub arn: String,
    /// PENDING, IN_PROGRESS, SUCCESSFUL, STOPPED, ROLLBACK_IN_PROGRESS, ...
    pub status: String,
    pub stage: Option<String>,
    /// The hook ECS waits at, if any.
    pub paused: Option<Paused>,
    /// The new revision's share of production and test traffic, in percent.
    pub production_weight: Option<f64>,
    pub test_weight: Option<f64>,
    /// Why it rolls back or stopped, in ECS's terms: the circuit breaker with its counts, the
    /// alarms that fired, a hook that failed, else the reason ECS gives.
    pub cause: Option<String>,
    /// The service revisions it goes from, and the one it goes to.
    pub source_revisions: Vec<String>,
    pub target_revision: Option<String>,
    /// The revision a rollback goes back to, once there is one.
    pub rollback_revision: Option<String>,
    /// The CloudWatch alarms that went into ALARM and set off a rollback.
    pub alarms: Vec<String>,
}

impl ServiceDeploymentState {
    pub fn from_sdk(sd: &ServiceDeployment) -> ServiceDeploymentState {
        let status = sd
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default();
        let stage = sd.lifecycle_stage().map(|s| s.as_str().to_string());
        let paused = sd
            .lifecycle_hook_details()
            .iter()
            .find(|h| h.status() == Some(&HookStatus::AwaitingAction))
            .map(|h| Paused {
                hook_id: h.hook_id().unwrap_or_default().to_string(),
                expires_at: h.expires_at().and_then(|t| t.fmt(Format::DateTime).ok()),
                timeout_action: h.timeout_action().map(|a| a.as_str().to_string()),
            });
        let target = sd.target_service_revision();
        ServiceDeploymentState {
            arn: sd.service_deployment_arn().unwrap_or_default().to_string(),
            status,
            stage,
            paused,
            production_weight: target.and_then(|t| t.requested_production_traffic_weight()),
            test_weight: target.and_then(|t| t.requested_test_traffic_weight()),
            cause: cause(sd),
            source_revisions: sd
                .source_service_revisions()
                .iter()
                .filter_map(|r| r.arn())
                .map(str::to_string)
                .collect(),
            target_revision: target.and_then(|t| t.arn()).map(str::to_string),
            rollback_revision: sd
                .rollback()
                .and_then(|r| r.service_revision_arn())
                .map(str::to_string),
            alarms: sd
                .alarms()
                .map(|a| a.triggered_alarm_names().to_vec())
                .unwrap_or_default(),
        }
    }

    /// ECS rolls it back, or did (ROLLBACK_REQUESTED, _IN_PROGRESS, _SUCCESSFUL, _FAILED).
    pub fn rolling_back(&self) -> bool {
        self.status.starts_with("ROLLBACK_")
    }

    /// Stopped without a rollback (STOP_REQUESTED, STOPPED).
    pub fn stopped(&self) -> bool {
        matches!(self.status.as_str(), "STOP_REQUESTED" | "STOPPED")
    }

    pub fn successful(&self) -> bool {
        self.status == "SUCCESSFUL"
    }

    /// Still going: pending, in progress, or asked to stop or roll back and not done yet.
    pub fn in_flight(&self) -> bool {
        matches!(
            self.status.as_str(),
            "PENDING"
                | "IN_PROGRESS"
                | "STOP_REQUESTED"
                | "ROLLBACK_REQUESTED"
                | "ROLLBACK_IN_PROGRESS"
        )
    }

    /// "IN_PROGRESS, stage BAKE_TIME": how the log and the summary tell where it is; the stage
    /// only while it is in flight.
    pub fn state(&self) -> String {
        match &self.stage {
            Some(stage) if self.in_flight() => format!("{}, stage {stage}", self.status),
            _ => self.status.clone(),
        }
    }
}

/// Why the service deployment rolls back or stopped, if it says.
fn cause(sd: &ServiceDeployment) -> Option<String> {
    let mut causes = Vec::new();
    if let Some(breaker) = sd.deployment_circuit_breaker()
        && breaker.status() == Some(&Monitor::Triggered)
    {
        causes.push(format!(
            "the circuit breaker tripped at {} failed task{} (threshold {})",
            breaker.failure_count(),
            plural(breaker.failure_count().max(0) as usize),
            breaker.threshold()
        ));
    }
    if let Some(alarms) = sd.alarms() {
        let fired = alarms.triggered_alarm_names();
        if !fired.is_empty() {
            let names: Vec<String> = fired.iter().map(|n| Foreign(n).to_string()).collect();
            causes.push(format!(
                "alarm{} {} went into ALARM",
                plural(fired.len()),
                names.join(", ")
            ));
        } else if alarms.status() == Some(&Monitor::Triggered) {
            causes.push("an alarm went into ALARM".into());
        }
    }
    for hook in sd.lifecycle_hook_details() {
        let how = match hook.status() {
            Some(HookStatus::Failed) => "failed",
            Some(HookStatus::TimedOut) => "timed out",
            _ => continue,
        };
        let what = hook.target_arn().or(hook.hook_id()).unwrap_or("(unnamed)");
        let stage = sd
            .lifecycle_stage()
            .map(|s| format!(" at stage {}", s.as_str()))
            .unwrap_or_default();
        causes.push(format!("lifecycle hook {} {how}{stage}", Foreign(what)));
    }
    if causes.is_empty() {
        let said = sd
            .rollback()
            .and_then(|r| r.reason())
            .or(sd.status_reason())
            .filter(|r| !r.trim().is_empty())?;
        causes.push(Foreign(said).to_string());
    }
    Some(causes.join("; "))
}

/// The input `input` names a service deployment by ARN, else a named input error (exit 2).
pub fn check_service_deployment_arn(input: &'static str, value: &str) -> Result<(), ActionError> {
    if is_service_deployment_arn(value) {
        return Ok(());
    }
    Err(ActionError::input(
        input,
        format!(
            "is `{value}`; a service deployment ARN looks like arn:aws:ecs:us-east-1:123456789012:service-deployment/CLUSTER/SERVICE/ID"
        ),
    ))
}

/// `arn:PARTITION:ecs:REGION:ACCOUNT:service-deployment/CLUSTER/SERVICE/ID`.
fn is_service_deployment_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return false;
    };
    let path: Vec<&str> = resource.split('/').collect();
    prefix == "arn"
        && partition.starts_with("aws")
        && service == "ecs"
        && !region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && path.len() == 4
        && path[0] == "service-deployment"
        && path[1..].iter().all(|p| !p.is_empty())
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::types::{
        DeploymentLifecycleHookDetail, Rollback, ServiceDeploymentCircuitBreaker,
        ServiceDeploymentLifecycleStage as Stage, ServiceDeploymentStatus as Status,
    };

    fn sd(status: Status, stage: Option<Stage>) -> ServiceDeployment {
        ServiceDeployment::builder()
            .service_deployment_arn("sd")
            .status(status)
            .set_lifecycle_stage(stage)
            .build()
    }

    #[test]
    fn the_cause_is_ecs_own_account_of_the_failure() {
        let mut tripped = sd(Status::RollbackInProgress, None);
        tripped.deployment_circuit_breaker = Some(
            ServiceDeploymentCircuitBreaker::builder()
                .status(Monitor::Triggered)
                .failure_count(4)
                .threshold(3)
                .build(),
        );
        tripped.rollback = Some(Rollback::builder().reason("tasks failed to start").build());
        insta::assert_snapshot!(
            ServiceDeploymentState::from_sdk(&tripped).cause.unwrap_or_default(),
            @"the circuit breaker tripped at 4 failed tasks (threshold 3)"
        );
        let mut hook = sd(
            Status::RollbackInProgress,
            Some(Stage::PostTestTrafficShift),
        );
        hook.lifecycle_hook_details = Some(vec![
            DeploymentLifecycleHookDetail::builder()
                .hook_id("h1")
                .target_arn("arn:aws:lambda:us-east-1:123456789012:function:check-green")
                .status(HookStatus::Failed)
                .build(),
        ]);
        insta::assert_snapshot!(ServiceDeploymentState::from_sdk(&hook).cause.unwrap_or_default(), @"lifecycle hook arn:aws:lambda:us-east-1:123456789012:function:check-green failed at stage POST_TEST_TRAFFIC_SHIFT");
        let mut stopped = sd(Status::Stopped, None);
        stopped.status_reason = Some("Stopped by ::error::user\n".into());
        let stopped = ServiceDeploymentState::from_sdk(&stopped);
        assert!(stopped.stopped());
        insta::assert_snapshot!(stopped.cause.unwrap_or_default(), @r#"
            Stopped by ::error::user\n
            "#);
        assert_eq!(
            ServiceDeploymentState::from_sdk(&sd(Status::InProgress, None)).cause,
            None
        );
    }
}
