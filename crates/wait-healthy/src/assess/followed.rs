//! The service deployment: ECS's own account of a rollout, whatever the strategy (rolling,
//! blue/green, linear, canary): its status, lifecycle stage, lifecycle hooks, the traffic the new
//! revision takes, and why it rolled back or stopped.

use aws_sdk_ecs::types::{
    DeploymentLifecycleHookStatus as HookStatus, ServiceDeployment,
    ServiceDeploymentRollbackMonitorsStatus as Monitor,
};
use aws_smithy_types::date_time::Format;
use swa_ecs::revision_label;
use swa_gha::Foreign;

use super::{Assessment, Look, Next, Observed, Outcome, Progress, Verdict, Watched, plural};
use crate::watch::{Checked, Until};

/// The lifecycle stages, in the order a deployment goes through them.
const STAGES: [&str; 10] = [
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

fn rank(stage: &str) -> Option<usize> {
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
pub struct Followed {
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
}

impl Followed {
    pub fn from_sdk(sd: &ServiceDeployment) -> Followed {
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
        Followed {
            arn: sd.service_deployment_arn().unwrap_or_default().to_string(),
            status,
            stage,
            paused,
            production_weight: target.and_then(|t| t.requested_production_traffic_weight()),
            test_weight: target.and_then(|t| t.requested_test_traffic_weight()),
            cause: cause(sd),
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

    /// The service deployment has come as far as `until` asks: a stage reached or passed (test
    /// traffic on the new revision, production traffic on it, the bake started), or, for
    /// `complete` and `steady`, SUCCESSFUL. `serving` asks nothing of it.
    pub fn reached(&self, until: Until) -> bool {
        let from = match until {
            Until::Serving => return true,
            Until::Steady | Until::Complete => return self.successful(),
            Until::TestTraffic => "POST_TEST_TRAFFIC_SHIFT",
            Until::ProductionTraffic => "POST_PRODUCTION_TRAFFIC_SHIFT",
            Until::Bake => "BAKE_TIME",
        };
        if self.successful() {
            return true;
        }
        let (Some(stage), Some(from)) = (self.stage.as_deref().and_then(rank), rank(from)) else {
            return false;
        };
        self.status == "IN_PROGRESS" && stage >= from
    }

    /// "IN_PROGRESS, stage BAKE_TIME": how the log and the summary tell where it is.
    pub fn state(&self) -> String {
        match &self.stage {
            Some(stage) if !self.successful() => format!("{}, stage {stage}", self.status),
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

/// "deployment ecs-svc/… (web:4)".
fn deployment_label(watched: &Watched) -> String {
    format!(
        "deployment {} ({})",
        watched.id,
        revision_label(&watched.revision)
    )
}

/// ECS rolls the followed service deployment back, or did.
fn rolled_back(watched: &Watched, followed: &Followed) -> Outcome {
    let to = match watched.old_revisions.first() {
        Some(old) => format!(" to {}", revision_label(old)),
        None => String::new(),
    };
    let how = match followed.status.as_str() {
        "ROLLBACK_SUCCESSFUL" => "rolled back",
        "ROLLBACK_FAILED" => "could not roll back",
        _ => "is rolling back",
    };
    Outcome::new(
        Verdict::RolledBack,
        format!(
            "{} failed and ECS {how}{to}: {}",
            deployment_label(watched),
            followed.cause.as_deref().unwrap_or("no reason given")
        ),
    )
}

/// The followed service deployment stopped without a rollback.
fn stopped(watched: &Watched, followed: &Followed) -> Outcome {
    Outcome::new(
        Verdict::Failed,
        format!(
            "the service deployment of {} stopped ({}): {}",
            deployment_label(watched),
            followed.status,
            followed.cause.as_deref().unwrap_or("no reason given")
        ),
    )
}

/// The wait for a lifecycle stage, once the service's deployments show no failure: the service
/// deployment reached it (and may wait at a hook there), rolled back, stopped, or is on its way.
pub(super) fn stage(
    observed: &Observed,
    watched: &Watched,
    progress: Progress,
    settings: &Checked,
) -> Assessment {
    let until = settings.until;
    let Some(followed) = observed.followed else {
        if watched.service_deployment.is_some() && !observed.followed_read {
            return Assessment::look(progress, Look::ServiceDeployment);
        }
        return Assessment {
            progress,
            reached: Vec::new(),
            next: Next::Waiting {
                missing: vec!["the service deployment has not been described yet".into()],
                close: false,
                nudge_probe: false,
            },
        };
    };
    if followed.rolling_back() {
        if !observed.stopped_listed {
            return Assessment::look(progress, Look::StoppedTasks);
        }
        return Assessment::over(progress, rolled_back(watched, followed));
    }
    if followed.stopped() {
        return Assessment::over(progress, stopped(watched, followed));
    }
    if followed.reached(until) {
        let outcome = match &followed.paused {
            Some(paused) => Outcome::new(
                Verdict::Paused,
                format!(
                    "{} reached {}: ECS waits at {} for ContinueServiceDeployment",
                    deployment_label(watched),
                    until.as_str(),
                    paused.describe()
                ),
            ),
            None => Outcome::new(
                Verdict::Healthy,
                format!(
                    "{} reached {} (service deployment {})",
                    deployment_label(watched),
                    until.as_str(),
                    followed.state()
                ),
            ),
        };
        return Assessment::over(progress, outcome);
    }
    let mut missing = vec![format!(
        "service deployment {} (until {})",
        followed.state(),
        until.as_str()
    )];
    if let Some(paused) = &followed.paused {
        missing.push(format!("ECS waits at {}", paused.describe()));
    }
    Assessment {
        progress,
        reached: Vec::new(),
        next: Next::Waiting {
            missing,
            close: false,
            nudge_probe: false,
        },
    }
}

/// What the followed service deployment adds to a decision made from the service's
/// deployments: a failure's cause in ECS's terms; for `complete`, SUCCESSFUL before healthy; and
/// a rollback or a stop it reports while the service's deployments still look well (an alarm in
/// the bake, a StopServiceDeployment).
pub(super) fn weigh(
    assessment: Assessment,
    observed: &Observed,
    watched: &Watched,
    settings: &Checked,
) -> Assessment {
    if watched.service_deployment.is_none() {
        return assessment;
    }
    let Assessment {
        progress,
        reached,
        next,
    } = assessment;
    let complete = settings.until == Until::Complete;
    match next {
        Next::Over {
            mut outcome,
            successor,
        } => {
            let failed = matches!(outcome.verdict, Verdict::Failed | Verdict::RolledBack);
            let healthy = outcome.verdict == Verdict::Healthy && complete;
            if !(failed || healthy) {
                return Assessment {
                    progress,
                    reached,
                    next: Next::Over { outcome, successor },
                };
            }
            if !observed.followed_read {
                return Assessment::look(progress, Look::ServiceDeployment);
            }
            match observed.followed {
                Some(followed) if healthy && !followed.successful() => {
                    return Assessment {
                        progress,
                        reached,
                        next: Next::Waiting {
                            missing: vec![format!("service deployment {}", followed.state())],
                            close: true,
                            nudge_probe: false,
                        },
                    };
                }
                Some(Followed {
                    cause: Some(cause),
                    status,
                    ..
                }) if !outcome.message.contains(cause.as_str()) => {
                    let stop = if outcome.message.ends_with('.') {
                        ""
                    } else {
                        "."
                    };
                    outcome.message = format!(
                        "{}{stop} Service deployment {status}: {cause}.",
                        outcome.message
                    );
                }
                _ => {}
            }
            Assessment {
                progress,
                reached,
                next: Next::Over { outcome, successor },
            }
        }
        Next::Waiting {
            mut missing,
            close,
            nudge_probe,
        } => {
            let Some(followed) = observed.followed else {
                return Assessment {
                    progress,
                    reached,
                    next: Next::Waiting {
                        missing,
                        close,
                        nudge_probe,
                    },
                };
            };
            if followed.rolling_back() {
                if !observed.stopped_listed {
                    return Assessment::look(progress, Look::StoppedTasks);
                }
                return Assessment::over(progress, rolled_back(watched, followed));
            }
            if followed.stopped() {
                return Assessment::over(progress, stopped(watched, followed));
            }
            if complete && !followed.successful() {
                missing.push(format!("service deployment {}", followed.state()));
            }
            Assessment {
                progress,
                reached,
                next: Next::Waiting {
                    missing,
                    close,
                    nudge_probe,
                },
            }
        }
        next @ Next::Look(_) => Assessment {
            progress,
            reached,
            next,
        },
    }
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
    fn each_until_is_reached_at_its_stage_or_later() {
        let at = |stage| Followed::from_sdk(&sd(Status::InProgress, Some(stage)));
        let reached = |f: &Followed| {
            [
                Until::TestTraffic,
                Until::ProductionTraffic,
                Until::Bake,
                Until::Complete,
            ]
            .map(|u| f.reached(u))
        };
        assert_eq!(reached(&at(Stage::ScaleUp)), [false; 4]);
        assert_eq!(reached(&at(Stage::TestTrafficShift)), [false; 4]);
        assert_eq!(
            reached(&at(Stage::PostTestTrafficShift)),
            [true, false, false, false]
        );
        assert_eq!(
            reached(&at(Stage::PostProductionTrafficShift)),
            [true, true, false, false]
        );
        assert_eq!(reached(&at(Stage::CleanUp)), [true, true, true, false]);
        assert_eq!(
            reached(&Followed::from_sdk(&sd(Status::Successful, None))),
            [true; 4]
        );
        // A rollback reaches nothing, whatever its stage.
        let back = Followed::from_sdk(&sd(Status::RollbackInProgress, Some(Stage::BakeTime)));
        assert_eq!(reached(&back), [false; 4]);
        assert!(back.rolling_back() && !back.stopped());
        // `serving` asks nothing of the service deployment.
        assert!(Followed::from_sdk(&sd(Status::Pending, None)).reached(Until::Serving));
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
            Followed::from_sdk(&tripped).cause.unwrap_or_default(),
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
        insta::assert_snapshot!(Followed::from_sdk(&hook).cause.unwrap_or_default(), @"lifecycle hook arn:aws:lambda:us-east-1:123456789012:function:check-green failed at stage POST_TEST_TRAFFIC_SHIFT");
        let mut stopped = sd(Status::Stopped, None);
        stopped.status_reason = Some("Stopped by ::error::user\n".into());
        let stopped = Followed::from_sdk(&stopped);
        assert!(stopped.stopped());
        insta::assert_snapshot!(stopped.cause.unwrap_or_default(), @r#"
            Stopped by ::error::user\n
            "#);
        assert_eq!(
            Followed::from_sdk(&sd(Status::InProgress, None)).cause,
            None
        );
    }
}
