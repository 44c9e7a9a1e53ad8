//! Assessing: from what a poll observed and what the polls before it saw, whether the wait is
//! over, and if not, what is still missing. No call, no clock, no log: plain data in, a decision
//! out.

use std::time::Duration;
use swa_ecs::revision_label;

use aws_sdk_ecs::types::{Deployment, Service};
use aws_smithy_types::DateTime;
use swa_ecs::StoppedTask;
use swa_gha::{ActionError, Foreign, format_duration};

use crate::probe::Probed;
use crate::watch::Checked;

mod followed;
mod targets;

pub use followed::Followed;
pub use targets::{
    HealthCheck, Targets, UnhealthyTarget, health_of, record_unhealthy, target_problems,
};

/// How the wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Healthy,
    /// `until` is reached and ECS waits at a lifecycle hook there for ContinueServiceDeployment.
    Paused,
    Failed,
    RolledBack,
    /// Another update of the service replaced the deployment before it was healthy.
    Superseded,
    Timeout,
    /// ECS could not be reached for `unreachable-timeout`.
    Error,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Healthy => "healthy",
            Verdict::Paused => "paused",
            Verdict::Failed => "failed",
            Verdict::RolledBack => "rolled-back",
            Verdict::Superseded => "superseded",
            Verdict::Timeout => "timeout",
            Verdict::Error => "error",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub verdict: Verdict,
    pub message: String,
}

impl Outcome {
    pub fn new(verdict: Verdict, message: impl Into<String>) -> Outcome {
        Outcome {
            verdict,
            message: message.into(),
        }
    }

    /// Adds a sentence to the message, after a full stop.
    pub fn add(&mut self, sentence: &str) {
        if !self.message.ends_with('.') {
            self.message.push('.');
        }
        self.message.push(' ');
        self.message.push_str(sentence);
    }

    pub fn cancelled(signal: &str) -> Outcome {
        Outcome::new(
            Verdict::Failed,
            format!(
                "the wait was cancelled ({signal}); the deployment goes on without being watched"
            ),
        )
    }
}

/// A target group the service registers its tasks in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancer {
    pub target_group: String,
    pub port: Option<i32>,
}

/// The watched deployment and the service around it, as the first answer showed them.
#[derive(Debug, Clone, PartialEq)]
pub struct Watched {
    pub id: String,
    /// Its task definition ARN.
    pub revision: String,
    /// The task definitions of the service's other deployments.
    pub old_revisions: Vec<String>,
    /// The circuit breaker rolls a failed deployment back.
    pub rollback_enabled: bool,
    pub load_balancers: Vec<LoadBalancer>,
    /// When the deployment was created, on the service's own clock: older events and tasks are
    /// not its own.
    pub since: DateTime,
    /// The service's deployment strategy: ROLLING, BLUE_GREEN, LINEAR or CANARY.
    pub strategy: String,
    /// The service deployment followed, once found.
    pub service_deployment: Option<String>,
}

/// The deployment that replaced the watched one through another update of the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Successor {
    pub id: String,
    pub revision: String,
}

/// What the polls so far have seen of the watched deployment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// The last rolloutState ECS gave (empty before the first).
    pub rollout_state: String,
    /// The last rolloutStateReason ECS gave.
    pub rollout_reason: Option<String>,
    /// The most tasks seen failed: ECS's failedTasks, or the stopped tasks listed.
    pub failed_tasks: u32,
    /// The new tasks' targets were all healthy once; they are not read again.
    pub targets_ok: bool,
}

/// The first failed task, as the error that ends the wait tells it: how it stopped, and what
/// says why: the line its log ends with when a container failed; when the load balancer failed
/// it, the health its target was last seen in (or, when the polls missed it, that of the
/// target of a later failed task: `target` is the task id with it) and what the health check
/// expects.
pub fn first_failure(
    stopped: &StoppedTask,
    log: Option<(&str, &str)>,
    target: Option<(&str, &UnhealthyTarget)>,
    check: Option<&HealthCheck>,
) -> String {
    let mut text = format!(
        "First failed task {}: {}",
        stopped.task_id,
        stopped.failure_kind()
    );
    if stopped.failed_elb_health_checks() {
        match target {
            Some((task, target)) if task == stopped.task_id => {
                text.push_str(&format!("; its target was {}", target.line()));
            }
            Some((task, target)) => {
                text.push_str(&format!(
                    "; the target of task {task} was {}",
                    target.line()
                ));
            }
            None => {}
        }
        if let Some(check) = check {
            text.push_str(&format!(
                "; the health check of {} expects {}",
                Foreign(&check.group),
                check.expects()
            ));
        }
    } else if let Some((container, line)) = log {
        text.push_str(&format!(
            "; the log of {} ends: {}",
            Foreign(container),
            Foreign(line)
        ));
    }
    text
}

/// What one poll observed.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    pub service: &'a Service,
    /// The deployment's stopped tasks seen so far, oldest first.
    pub stopped: &'a [StoppedTask],
    /// The stopped tasks were listed in this poll.
    pub stopped_listed: bool,
    /// The new tasks' targets, once read in this poll.
    pub targets: Option<&'a Targets>,
    /// The health-url's latest answer, when there is a health-url.
    pub probe: Option<&'a Probed>,
    /// The followed service deployment, as last described.
    pub followed: Option<&'a Followed>,
    /// The service deployment was described (or the call failed) in this poll.
    pub followed_read: bool,
}

/// What else to observe before the poll can be decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Look {
    /// The deployment's stopped tasks (ListTasks and DescribeTasks).
    StoppedTasks,
    /// The new tasks' targets, for `desired` tasks.
    Targets { desired: i32 },
    /// The followed service deployment (DescribeServiceDeployments).
    ServiceDeployment,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    Look(Look),
    Over {
        outcome: Outcome,
        successor: Option<Successor>,
    },
    /// Not yet healthy.
    Waiting {
        missing: Vec<String>,
        /// Every new task is running: the end may be near.
        close: bool,
        /// The health-url is failing while the tasks run: probe again now.
        nudge_probe: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub progress: Progress,
    /// The phases this poll found reached, in order.
    pub reached: Vec<&'static str>,
    pub next: Next,
}

impl Assessment {
    fn over(progress: Progress, outcome: Outcome) -> Assessment {
        Assessment {
            progress,
            reached: Vec::new(),
            next: Next::Over {
                outcome,
                successor: None,
            },
        }
    }

    fn look(progress: Progress, look: Look) -> Assessment {
        Assessment {
            progress,
            reached: Vec::new(),
            next: Next::Look(look),
        }
    }
}

/// The deployment to watch: `deployment-id`'s, else the PRIMARY one. `now` stands in for its
/// creation time when ECS gives none.
pub fn watched(
    service: &Service,
    settings: &Checked,
    now: DateTime,
) -> Result<Watched, ActionError> {
    let deployments = service.deployments();
    let watched = match &settings.deployment_id {
        Some(id) => deployments
            .iter()
            .find(|d| d.id() == Some(id.as_str()))
            .ok_or_else(|| {
                let known: Vec<&str> = deployments.iter().filter_map(|d| d.id()).collect();
                ActionError::input(
                    "deployment-id",
                    format!(
                        "is `{id}`, which is not a deployment of service `{}` (its deployments: {})",
                        settings.service,
                        if known.is_empty() { "none".to_string() } else { known.join(", ") }
                    ),
                )
            })?,
        None => deployments
            .iter()
            .find(|d| d.status() == Some("PRIMARY"))
            .ok_or_else(|| {
                ActionError::failed(format!(
                    "service `{}` has no PRIMARY deployment",
                    settings.service
                ))
            })?,
    };
    let id = watched.id().unwrap_or_default().to_string();
    Ok(Watched {
        revision: watched.task_definition().unwrap_or_default().to_string(),
        old_revisions: deployments
            .iter()
            .filter(|d| d.id() != Some(id.as_str()))
            .filter_map(|d| d.task_definition())
            .map(String::from)
            .collect(),
        rollback_enabled: service
            .deployment_configuration()
            .and_then(|c| c.deployment_circuit_breaker())
            .is_some_and(|cb| cb.enable() && cb.rollback()),
        load_balancers: service
            .load_balancers()
            .iter()
            .filter_map(|lb| {
                Some(LoadBalancer {
                    target_group: lb.target_group_arn()?.to_string(),
                    port: lb.container_port(),
                })
            })
            .collect(),
        since: watched.created_at().copied().unwrap_or(now),
        strategy: service
            .deployment_configuration()
            .and_then(|c| c.strategy())
            .map_or("ROLLING", |s| s.as_str())
            .to_string(),
        service_deployment: settings.service_deployment_arn.clone(),
        id,
    })
}

/// Decides one poll: over (healthy, paused, failed, rolled back, superseded), waiting with what
/// is still missing, or first a look at the stopped tasks, the targets or the service
/// deployment. A lifecycle stage (`until: test-traffic`, ...) is the service deployment's to
/// say; the service's deployments still tell a failure first.
pub fn assess(
    observed: &Observed,
    watched: &Watched,
    before: &Progress,
    settings: &Checked,
) -> Assessment {
    let assessment = match failure(observed, watched, before, settings) {
        First::Decided(decided) => decided,
        First::Watching(progress, _) if settings.until.is_stage() => {
            followed::stage(observed, watched, progress, settings)
        }
        First::Watching(progress, deployment) => {
            rolling(observed, watched, deployment, progress, settings)
        }
    };
    followed::weigh(assessment, observed, watched, settings)
}

/// What the service's deployments say first.
enum First<'a> {
    /// The watched deployment is gone, replaced, failed, or has too many failed tasks: the
    /// decision, or the look it needs.
    Decided(Assessment),
    /// It is PRIMARY and nothing failed: what the polls saw of it.
    Watching(Progress, &'a Deployment),
}

/// What the service's deployments say first (see [`First`]).
fn failure<'a>(
    observed: &Observed<'a>,
    watched: &Watched,
    before: &Progress,
    settings: &Checked,
) -> First<'a> {
    let mut progress = before.clone();
    let id = watched.id.as_str();
    let new = revision_label(&watched.revision);
    let deployments = observed.service.deployments();
    let primary = deployments.iter().find(|d| d.status() == Some("PRIMARY"));
    let Some(deployment) = deployments.iter().find(|d| d.id() == Some(id)) else {
        return First::Decided(replaced(observed, watched, progress, primary, "is gone"));
    };
    progress.rollout_state = deployment
        .rollout_state()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default();
    if let Some(reason) = deployment.rollout_state_reason() {
        progress.rollout_reason = Some(reason.to_string());
    }
    let failed = u32::try_from(deployment.failed_tasks()).unwrap_or(0);
    progress.failed_tasks = progress.failed_tasks.max(failed);
    if deployment.status() != Some("PRIMARY") {
        return First::Decided(replaced(
            observed,
            watched,
            progress,
            primary,
            "is no longer PRIMARY",
        ));
    }
    if progress.rollout_state == "FAILED" {
        if !observed.stopped_listed {
            return First::Decided(Assessment::look(progress, Look::StoppedTasks));
        }
        let reason = progress
            .rollout_reason
            .clone()
            .unwrap_or_else(|| "no reason given".into());
        let outcome = if watched.rollback_enabled {
            let to = match watched.old_revisions.first() {
                Some(old) => format!(" to {}", revision_label(old)),
                None => String::new(),
            };
            Outcome::new(
                Verdict::RolledBack,
                format!(
                    "deployment {id} ({new}) failed and ECS is rolling back{to}: {}",
                    Foreign(&reason)
                ),
            )
        } else {
            Outcome::new(
                Verdict::Failed,
                format!("deployment {id} ({new}) failed: {}", Foreign(&reason)),
            )
        };
        return First::Decided(Assessment::over(progress, outcome));
    }
    let failures: Vec<&StoppedTask> = observed.stopped.iter().filter(|s| s.failed()).collect();
    if failed as usize > failures.len() && !observed.stopped_listed {
        return First::Decided(Assessment::look(progress, Look::StoppedTasks));
    }
    progress.failed_tasks = progress.failed_tasks.max(failures.len() as u32);
    if progress.failed_tasks >= settings.max_failed_tasks {
        let last = failures
            .last()
            .map(|s| format!("; last: {}", s.summary()))
            .unwrap_or_default();
        let message = format!(
            "{} tasks of deployment {id} ({new}) stopped (max-failed-tasks is {}){last}",
            progress.failed_tasks, settings.max_failed_tasks
        );
        return First::Decided(Assessment::over(
            progress,
            Outcome::new(Verdict::Failed, message),
        ));
    }
    First::Watching(progress, deployment)
}

/// The watched deployment is PRIMARY and nothing failed: which phases it reached, and what is
/// still missing.
fn rolling(
    observed: &Observed,
    watched: &Watched,
    deployment: &Deployment,
    mut progress: Progress,
    settings: &Checked,
) -> Assessment {
    let steady = settings.until.drains();
    let desired = deployment.desired_count();
    let running = deployment.running_count();
    let pending = deployment.pending_count();
    let tasks_running = running >= desired && pending == 0;
    let completed = match deployment.rollout_state() {
        Some(state) => state.as_str() == "COMPLETED",
        None => tasks_running,
    };
    let older: Vec<&Deployment> = observed
        .service
        .deployments()
        .iter()
        .filter(|d| d.id() != Some(watched.id.as_str()))
        .collect();
    let mut reached = Vec::new();
    let mut missing = Vec::new();
    if tasks_running {
        reached.push("new tasks running");
    } else {
        missing.push(format!(
            "{running}/{desired} new tasks running{}",
            if pending > 0 {
                format!(" ({pending} pending)")
            } else {
                String::new()
            }
        ));
    }
    if tasks_running && !progress.targets_ok {
        let problems = match observed.targets {
            _ if watched.load_balancers.is_empty() => Vec::new(),
            Some(targets) => target_problems(targets, desired),
            None => return Assessment::look(progress, Look::Targets { desired }),
        };
        progress.targets_ok = problems.is_empty();
        missing.extend(problems);
    }
    if progress.targets_ok {
        reached.push("targets healthy");
    }
    if completed {
        reached.push("rollout completed");
    } else if steady {
        missing.push(format!(
            "rollout {}",
            if progress.rollout_state.is_empty() {
                "not completed"
            } else {
                &progress.rollout_state
            }
        ));
    }
    if older.is_empty() {
        reached.push("old deployments drained");
    } else if steady {
        let tasks: i32 = older.iter().map(|d| d.running_count()).sum();
        missing.push(format!(
            "{} older deployment{} still running {tasks} task{}",
            older.len(),
            plural(older.len()),
            plural(tasks as usize)
        ));
    }
    let mut nudge_probe = false;
    if let Some(probed) = observed.probe {
        if probed.last_ok {
            if tasks_running {
                reached.push("health-url passing");
            }
        } else {
            nudge_probe = tasks_running;
            missing.push(format!(
                "health-url {}: {}",
                settings.health_url.as_deref().unwrap_or_default(),
                match (&probed.last_error, probed.attempts) {
                    (Some(error), _) => Foreign(error).to_string(),
                    (None, 0) => "no answer yet".into(),
                    (None, _) => "not passing".into(),
                }
            ));
        }
    }
    let next = if missing.is_empty() {
        let outcome = Outcome::new(
            Verdict::Healthy,
            format!(
                "deployment {} ({}) is healthy: {running}/{desired} tasks running{}{}",
                watched.id,
                revision_label(&watched.revision),
                if watched.load_balancers.is_empty() {
                    ""
                } else {
                    ", targets healthy"
                },
                if steady {
                    ", older deployments gone"
                } else {
                    ""
                }
            ),
        );
        Next::Over {
            outcome,
            successor: None,
        }
    } else {
        Next::Waiting {
            missing,
            close: tasks_running,
            nudge_probe,
        }
    };
    Assessment {
        progress,
        reached,
        next,
    }
}

/// The watched deployment is no longer PRIMARY (or gone). ECS rolled it back when it failed
/// (rolloutState FAILED), or when the service says a rollback is under way (the new PRIMARY's
/// reason, a `rolling back to deployment` event); any other new PRIMARY deployment came from
/// another update of the service and superseded it. The stopped tasks are read for a
/// rollback: a successor stops the tasks of a superseded deployment, which is no failure.
fn replaced(
    observed: &Observed,
    watched: &Watched,
    progress: Progress,
    primary: Option<&Deployment>,
    how: &str,
) -> Assessment {
    let id = &watched.id;
    let new = revision_label(&watched.revision);
    let primary_revision = primary
        .and_then(|d| d.task_definition())
        .unwrap_or_default();
    let primary_id = primary.and_then(|d| d.id()).unwrap_or("(none)");
    let since = watched.since.secs();
    let rolled_back = progress.rollout_state == "FAILED"
        || primary
            .and_then(|d| d.rollout_state_reason())
            .is_some_and(|r| r.contains("rolling back"))
        || observed
            .service
            .events()
            .iter()
            .filter(|e| e.created_at().is_some_and(|t| t.secs() >= since))
            .filter_map(|e| e.message())
            .any(|m| m.contains("rolling back to deployment"));
    if !rolled_back && let Some(primary) = primary {
        let successor = Successor {
            id: primary_id.to_string(),
            revision: primary.task_definition().unwrap_or_default().to_string(),
        };
        let outcome = Outcome::new(
            Verdict::Superseded,
            format!(
                "deployment {id} ({new}) was superseded by deployment {primary_id} ({}) before it was healthy: another update of the service replaced it (not a rollback)",
                revision_label(primary_revision)
            ),
        );
        return Assessment {
            progress,
            reached: Vec::new(),
            next: Next::Over {
                outcome,
                successor: Some(successor),
            },
        };
    }
    if !observed.stopped_listed {
        return Assessment::look(progress, Look::StoppedTasks);
    }
    let reason = progress
        .rollout_reason
        .as_deref()
        .map(|r| format!(": {}", Foreign(r)))
        .unwrap_or_default();
    let outcome = if rolled_back && primary_revision != watched.revision {
        Outcome::new(
            Verdict::RolledBack,
            format!(
                "deployment {id} ({new}) {how}: the service rolled back to {}{reason}",
                revision_label(primary_revision)
            ),
        )
    } else {
        Outcome::new(
            Verdict::Failed,
            format!(
                "deployment {id} ({new}) {how}: deployment {primary_id} ({}) replaced it{reason}",
                revision_label(primary_revision)
            ),
        )
    };
    Assessment::over(progress, outcome)
}

/// The polls failing in a row, and the last error.
#[derive(Debug, Clone, Copy)]
pub struct Failing<'a> {
    pub polls: u32,
    pub error: &'a str,
}

/// The wait ran out of time: what was still missing, as of the last answer when the last polls
/// failed.
pub fn timed_out(
    deployment_id: Option<&str>,
    timeout: Duration,
    missing: &[String],
    failing: Option<Failing>,
) -> Outcome {
    let mut message = format!(
        "deployment {} was not healthy after {}",
        deployment_id.unwrap_or("(unknown)"),
        format_duration(timeout)
    );
    if !missing.is_empty() {
        message.push_str(": ");
        message.push_str(&missing.join("; "));
    }
    if let Some(failing) = failing {
        message.push_str(&format!(
            " (as of the last answer: DescribeServices failed the last {} poll{}: {})",
            failing.polls,
            plural(failing.polls as usize),
            Foreign(failing.error)
        ));
    }
    Outcome::new(Verdict::Timeout, message)
}

/// ECS was unreachable for `down`, at least `unreachable-timeout`.
pub fn unreachable(down: Duration, unreachable_timeout: Duration, failing: Failing) -> Outcome {
    Outcome::new(
        Verdict::Error,
        format!(
            "ECS could not be reached for {} ({} polls in a row failed; unreachable-timeout is {}): {}",
            format_duration(down),
            failing.polls,
            format_duration(unreachable_timeout),
            Foreign(failing.error)
        ),
    )
}

pub fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests;

/// "Alarm A (M) is ALARM: REASON": a CloudWatch alarm, what it watches and why it is in its
/// state, in CloudWatch's words.
pub fn alarm_text(alarm: &swa_aws::AlarmState) -> String {
    let metric = alarm
        .metric
        .as_deref()
        .map(|m| format!(" ({})", Foreign(m)))
        .unwrap_or_default();
    let reason = alarm
        .reason
        .as_deref()
        .map(|r| format!(": {}", Foreign(r)))
        .unwrap_or_default();
    format!(
        "Alarm {}{metric} is {}{reason}",
        Foreign(&alarm.name),
        Foreign(&alarm.state)
    )
}
