//! Following the service deployment: how far `until` asks it to come, and what it adds to the
//! decision the service's deployments make.

use swa_ecs::revision_label;
pub use swa_ecs::{ServiceDeploymentState as Followed, stage_rank};

use super::{Assessment, Look, Next, Observed, Outcome, Progress, Verdict, Watched};
use crate::watch::{Checked, Until};

/// The service deployment has come as far as `until` asks: a stage reached or passed (test
/// traffic on the new revision, production traffic on it, the bake started), or, for
/// `complete` and `steady`, SUCCESSFUL. `serving` asks nothing of it.
pub fn reached(followed: &Followed, until: Until) -> bool {
    let from = match until {
        Until::Serving => return true,
        Until::Steady | Until::Complete => return followed.successful(),
        Until::TestTraffic => "POST_TEST_TRAFFIC_SHIFT",
        Until::ProductionTraffic => "POST_PRODUCTION_TRAFFIC_SHIFT",
        Until::Bake => "BAKE_TIME",
    };
    if followed.successful() {
        return true;
    }
    let (Some(stage), Some(from)) = (
        followed.stage.as_deref().and_then(stage_rank),
        stage_rank(from),
    ) else {
        return false;
    };
    followed.status == "IN_PROGRESS" && stage >= from
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

/// The followed service deployment rolls back or stopped: the decision (the stopped tasks are
/// listed first, for the report).
fn ended(
    observed: &Observed,
    watched: &Watched,
    followed: &Followed,
    progress: &Progress,
) -> Option<Assessment> {
    let progress = progress.clone();
    if followed.rolling_back() {
        if !observed.stopped_listed {
            return Some(Assessment::look(progress, Look::StoppedTasks));
        }
        return Some(Assessment::over(progress, rolled_back(watched, followed)));
    }
    if followed.stopped() {
        return Some(Assessment::over(progress, stopped(watched, followed)));
    }
    None
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
    if let Some(decided) = ended(observed, watched, followed, &progress) {
        return decided;
    }
    if reached(followed, until) {
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
            if let Some(decided) = ended(observed, watched, followed, &progress) {
                return decided;
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
        ServiceDeployment, ServiceDeploymentLifecycleStage as Stage,
        ServiceDeploymentStatus as Status,
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
        let all = |f: &Followed| {
            [
                Until::TestTraffic,
                Until::ProductionTraffic,
                Until::Bake,
                Until::Complete,
            ]
            .map(|u| super::reached(f, u))
        };
        assert_eq!(all(&at(Stage::ScaleUp)), [false; 4]);
        assert_eq!(all(&at(Stage::TestTrafficShift)), [false; 4]);
        assert_eq!(
            all(&at(Stage::PostTestTrafficShift)),
            [true, false, false, false]
        );
        assert_eq!(
            all(&at(Stage::PostProductionTrafficShift)),
            [true, true, false, false]
        );
        assert_eq!(all(&at(Stage::CleanUp)), [true, true, true, false]);
        assert_eq!(
            all(&Followed::from_sdk(&sd(Status::Successful, None))),
            [true; 4]
        );
        // A rollback reaches nothing, whatever its stage.
        let back = Followed::from_sdk(&sd(Status::RollbackInProgress, Some(Stage::BakeTime)));
        assert_eq!(all(&back), [false; 4]);
        assert!(back.rolling_back() && !back.stopped());
        // `serving` asks nothing of the service deployment.
        assert!(reached(
            &Followed::from_sdk(&sd(Status::Pending, None)),
            Until::Serving
        ));
    }
}
