//! The wait itself: poll the service, decide, and report.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use aws_sdk_cloudwatchlogs as logs;
use aws_sdk_ecs as ecs;
use aws_sdk_elasticloadbalancingv2 as elbv2;
use aws_smithy_types::date_time::Format;
use ecs::error::SdkError;
use ecs::types::{Deployment, DesiredStatus, Service, Task, TaskDefinition};
use swa_aws::{error_code, error_text, is_throttling};
use swa_ecs::StoppedTask;
use swa_gha::{ActionError, Foreign, Gha, format_duration, md};

use crate::pace::Pacer;
use crate::probe::{Probe, Prober};

/// What "healthy" means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Until {
    /// The new deployment is COMPLETED and the old ones are gone.
    Steady,
    /// Every new task is RUNNING and healthy in the target groups; the old tasks may still be
    /// draining.
    Serving,
}

impl Until {
    fn as_str(self) -> &'static str {
        match self {
            Until::Steady => "steady",
            Until::Serving => "serving",
        }
    }
}

/// The checked inputs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub cluster: String,
    pub service: String,
    pub deployment_id: Option<String>,
    pub until: Until,
    pub timeout: Duration,
    pub health_url: Option<String>,
    pub health_expect: Option<serde_json::Value>,
    pub max_failed_tasks: u32,
    pub log_lines: u32,
    pub poll_interval: Duration,
    /// How long ECS may stay unreachable (every poll a connection failure or a timeout) before
    /// the wait ends with [`Verdict::Error`].
    pub unreachable_timeout: Duration,
    /// The ECS call budget.
    pub calls_per_minute: f64,
}

pub struct Clients {
    pub ecs: ecs::Client,
    pub elbv2: elbv2::Client,
    pub logs: logs::Client,
}

/// How the wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Healthy,
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
    fn new(verdict: Verdict, message: impl Into<String>) -> Outcome {
        Outcome {
            verdict,
            message: message.into(),
        }
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

struct LoadBalancer {
    target_group: String,
    port: Option<i32>,
}

/// DescribeServices failing poll after poll.
struct Outage {
    polls: u32,
    /// When the first of the polls failing to reach ECS at all (no connection, no answer in
    /// time) started; `None` while ECS answers, with errors.
    unreachable_since: Option<Instant>,
}

/// The deployment that replaced the watched one through another update of the service.
struct Successor {
    id: String,
    revision: String,
}

/// The state of one wait.
pub struct Watch {
    clients: Clients,
    settings: Settings,
    gha: Gha,
    pacer: Pacer,
    start: Instant,
    /// The `health-url` probe, until [`Watch::run`] starts it as `prober`.
    probe: Option<Probe>,
    prober: Option<Prober>,
    polls: u32,
    outage: Option<Outage>,
    // Known after the first poll.
    deployment_id: Option<String>,
    new_revision: Option<String>,
    old_revisions: Vec<String>,
    rollback_enabled: bool,
    definition: Option<TaskDefinition>,
    load_balancers: Vec<LoadBalancer>,
    since: Option<aws_smithy_types::DateTime>,
    // What was seen.
    rollout_state: String,
    rollout_reason: Option<String>,
    failed_tasks: u32,
    events: Vec<String>,
    seen_events: HashSet<String>,
    stopped: Vec<StoppedTask>,
    seen_stopped: HashSet<String>,
    phases: Vec<(&'static str, Duration)>,
    missing: Vec<String>,
    close: bool,
    targets_ok: bool,
    task_ips: Option<(i32, Vec<String>)>,
    last_error: Option<String>,
    superseded_by: Option<Successor>,
}

impl Watch {
    pub fn new(clients: Clients, settings: Settings, gha: Gha) -> Result<Watch, ActionError> {
        let probe = match &settings.health_url {
            Some(url) => Some(
                Probe::new(
                    url.clone(),
                    settings.health_expect.clone(),
                    Duration::from_secs(5),
                )
                .map_err(ActionError::failed)?,
            ),
            None => None,
        };
        Ok(Watch {
            pacer: Pacer::new(settings.poll_interval, settings.calls_per_minute),
            clients,
            settings,
            gha,
            start: Instant::now(),
            probe,
            prober: None,
            polls: 0,
            outage: None,
            deployment_id: None,
            new_revision: None,
            old_revisions: Vec::new(),
            rollback_enabled: false,
            definition: None,
            load_balancers: Vec::new(),
            since: None,
            rollout_state: String::new(),
            rollout_reason: None,
            failed_tasks: 0,
            events: Vec::new(),
            seen_events: HashSet::new(),
            stopped: Vec::new(),
            seen_stopped: HashSet::new(),
            phases: Vec::new(),
            missing: vec!["the service has not been described yet".into()],
            close: false,
            targets_ok: false,
            task_ips: None,
            last_error: None,
            superseded_by: None,
        })
    }

    /// ECS API calls made so far.
    pub fn ecs_calls(&self) -> u32 {
        self.pacer.calls()
    }

    /// Polls until the deployment is healthy, fails, or the timeout passes.
    pub async fn run(&mut self) -> Result<Outcome, ActionError> {
        if let Some(probe) = self.probe.take() {
            self.prober = Some(Prober::spawn(probe, self.settings.poll_interval));
        }
        loop {
            let remaining = self.settings.timeout.saturating_sub(self.start.elapsed());
            match tokio::time::timeout(remaining, self.poll()).await {
                Ok(Ok(Some(outcome))) => return Ok(outcome),
                Ok(Ok(None)) => {}
                Ok(Err(error)) => return Err(error),
                Err(_) => return Ok(self.timed_out()),
            }
            let remaining = self.settings.timeout.saturating_sub(self.start.elapsed());
            if remaining.is_zero() {
                return Ok(self.timed_out());
            }
            let delay = self
                .pacer
                .next_delay(self.close, self.failed_tasks > 0)
                .min(remaining);
            tokio::time::sleep(delay).await;
        }
    }

    fn timed_out(&self) -> Outcome {
        let mut message = format!(
            "deployment {} was not healthy after {}",
            self.deployment_id.as_deref().unwrap_or("(unknown)"),
            format_duration(self.settings.timeout)
        );
        if !self.missing.is_empty() {
            message.push_str(": ");
            message.push_str(&self.missing.join("; "));
        }
        if let (Some(outage), Some(error)) = (&self.outage, &self.last_error) {
            // What was missing is as old as the last answer.
            message.push_str(&format!(
                " (as of the last answer: DescribeServices failed the last {} poll{}: {})",
                outage.polls,
                if outage.polls == 1 { "" } else { "s" },
                Foreign(error)
            ));
        }
        Outcome::new(Verdict::Timeout, message)
    }

    fn phase(&mut self, name: &'static str) {
        if !self.phases.iter().any(|(n, _)| *n == name) {
            let at = self.start.elapsed();
            self.gha.info(format!("[{}] {name}", format_duration(at)));
            self.phases.push((name, at));
        }
    }

    /// One look at the service; `Some` when the wait is over.
    async fn poll(&mut self) -> Result<Option<Outcome>, ActionError> {
        self.polls += 1;
        let started = Instant::now();
        let described = self
            .clients
            .ecs
            .describe_services()
            .cluster(&self.settings.cluster)
            .services(&self.settings.service)
            .send()
            .await;
        self.pacer.spent(1);
        let described = match described {
            Ok(out) => {
                self.pacer.recovered();
                self.answered();
                out
            }
            Err(e) => {
                match error_code(&e) {
                    Some("ClusterNotFoundException") => {
                        return Err(ActionError::input(
                            "cluster",
                            format!(
                                "names `{}`, which does not exist in this account and region",
                                self.settings.cluster
                            ),
                        ));
                    }
                    Some("AccessDeniedException") => {
                        return Err(ActionError::failed(format!(
                            "DescribeServices is not allowed: {}",
                            error_text(&e)
                        )));
                    }
                    _ => {}
                }
                if is_throttling(&e) {
                    self.pacer.throttled();
                }
                let unreachable =
                    matches!(e, SdkError::DispatchFailure(_) | SdkError::TimeoutError(_));
                return Ok(self.unanswered(started, error_text(&e), unreachable));
            }
        };
        let Some(service) = described
            .services()
            .iter()
            .find(|s| s.status() != Some("INACTIVE"))
            .cloned()
        else {
            let reason = described
                .failures()
                .first()
                .and_then(|f| f.reason())
                .unwrap_or("INACTIVE");
            return Err(ActionError::input(
                "service",
                format!(
                    "names `{}`, which is not a service of cluster `{}` ({})",
                    self.settings.service,
                    self.settings.cluster,
                    Foreign(reason)
                ),
            ));
        };
        if self.deployment_id.is_none() {
            self.first_look(&service).await?;
        }
        self.record_events(&service);
        Ok(self.evaluate(&service).await)
    }

    /// DescribeServices failed: warn once for a run of failures, and give up once ECS has been
    /// unreachable for `unreachable-timeout`.
    fn unanswered(&mut self, started: Instant, text: String, unreachable: bool) -> Option<Outcome> {
        if self.outage.is_none() {
            self.gha.warning(format!(
                "DescribeServices failed, will retry (and say so again only when it answers or the wait gives up): {}",
                Foreign(&text)
            ));
        }
        let outage = self.outage.get_or_insert(Outage {
            polls: 0,
            unreachable_since: None,
        });
        outage.polls += 1;
        if unreachable {
            outage.unreachable_since.get_or_insert(started);
        } else {
            outage.unreachable_since = None;
        }
        let polls = outage.polls;
        let since = outage.unreachable_since;
        self.last_error = Some(text);
        let down = since?.elapsed();
        if down < self.settings.unreachable_timeout {
            return None;
        }
        Some(Outcome::new(
            Verdict::Error,
            format!(
                "ECS could not be reached for {} ({polls} polls in a row failed; unreachable-timeout is {}): {}",
                format_duration(down),
                format_duration(self.settings.unreachable_timeout),
                Foreign(self.last_error.as_deref().unwrap_or_default())
            ),
        ))
    }

    /// DescribeServices answered: say so if it had been failing.
    fn answered(&mut self) {
        if let Some(outage) = self.outage.take() {
            self.gha.info(format!(
                "DescribeServices answers again, after {} failed poll{}",
                outage.polls,
                if outage.polls == 1 { "" } else { "s" }
            ));
        }
    }

    async fn first_look(&mut self, service: &Service) -> Result<(), ActionError> {
        let deployments = service.deployments();
        let watched = match &self.settings.deployment_id {
            Some(id) => deployments
                .iter()
                .find(|d| d.id() == Some(id.as_str()))
                .ok_or_else(|| {
                    let known: Vec<&str> = deployments.iter().filter_map(|d| d.id()).collect();
                    ActionError::input(
                        "deployment-id",
                        format!(
                            "is `{id}`, which is not a deployment of service `{}` (its deployments: {})",
                            self.settings.service,
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
                        self.settings.service
                    ))
                })?,
        };
        let id = watched.id().unwrap_or_default().to_string();
        let revision = watched.task_definition().unwrap_or_default().to_string();
        self.old_revisions = deployments
            .iter()
            .filter(|d| d.id() != Some(id.as_str()))
            .filter_map(|d| d.task_definition())
            .map(String::from)
            .collect();
        self.rollback_enabled = service
            .deployment_configuration()
            .and_then(|c| c.deployment_circuit_breaker())
            .is_some_and(|cb| cb.enable() && cb.rollback());
        self.load_balancers = service
            .load_balancers()
            .iter()
            .filter_map(|lb| {
                Some(LoadBalancer {
                    target_group: lb.target_group_arn()?.to_string(),
                    port: lb.container_port(),
                })
            })
            .collect();
        // Events and tasks are compared with the deployment's creation time on the service's
        // own clock, never with this machine's (which may be skewed from it).
        self.since = Some(match watched.created_at() {
            Some(created) => *created,
            None => aws_smithy_types::DateTime::from(std::time::SystemTime::now()),
        });
        self.gha.info(format!(
            "Watching deployment {id} of {} ({}{}) until {}",
            self.settings.service,
            short_revision(&revision),
            if self.old_revisions.is_empty() {
                String::new()
            } else {
                format!(
                    ", replacing {}",
                    self.old_revisions
                        .iter()
                        .map(|r| short_revision(r))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
            self.settings.until.as_str()
        ));
        self.deployment_id = Some(id);
        self.new_revision = Some(revision.clone());
        self.definition = self.describe_definition(&revision).await;
        Ok(())
    }

    async fn describe_definition(&mut self, arn: &str) -> Option<TaskDefinition> {
        self.pacer.spent(1);
        match self
            .clients
            .ecs
            .describe_task_definition()
            .task_definition(arn)
            .send()
            .await
        {
            Ok(out) => out.task_definition().cloned(),
            Err(e) => {
                self.gha.warning(format!(
                    "DescribeTaskDefinition {arn} failed: {}",
                    Foreign(&error_text(&e))
                ));
                None
            }
        }
    }

    fn record_events(&mut self, service: &Service) {
        let Some(since) = self.since else { return };
        let mut fresh: Vec<_> = service
            .events()
            .iter()
            .filter(|e| e.created_at().is_some_and(|t| t.secs() >= since.secs()))
            .filter(|e| {
                let key = e
                    .id()
                    .map(String::from)
                    .unwrap_or_else(|| e.message().unwrap_or_default().to_string());
                self.seen_events.insert(key)
            })
            .collect();
        fresh.sort_by_key(|e| e.created_at().map(|t| (t.secs(), t.subsec_nanos())));
        for event in fresh {
            let time = event
                .created_at()
                .and_then(|t| t.fmt(Format::DateTime).ok())
                .map(|t| t.get(11..19).unwrap_or(&t).to_string())
                .unwrap_or_default();
            let message = event.message().unwrap_or_default();
            self.gha.info(format!("event: {time} {}", Foreign(message)));
            self.events.push(format!("{time} {message}"));
        }
    }

    async fn evaluate(&mut self, service: &Service) -> Option<Outcome> {
        let id = self.deployment_id.clone().unwrap_or_default();
        let new_revision = self.new_revision.clone().unwrap_or_default();
        let deployments = service.deployments();
        let primary = deployments.iter().find(|d| d.status() == Some("PRIMARY"));
        let Some(deployment) = deployments.iter().find(|d| d.id() == Some(id.as_str())) else {
            return Some(self.replaced(&id, primary, "is gone", service).await);
        };
        self.rollout_state = deployment
            .rollout_state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default();
        if let Some(reason) = deployment.rollout_state_reason() {
            self.rollout_reason = Some(reason.to_string());
        }
        let failed = u32::try_from(deployment.failed_tasks()).unwrap_or(0);
        self.failed_tasks = self.failed_tasks.max(failed);
        if deployment.status() != Some("PRIMARY") {
            return Some(
                self.replaced(&id, primary, "is no longer PRIMARY", service)
                    .await,
            );
        }
        if self.rollout_state == "FAILED" {
            let reason = self
                .rollout_reason
                .clone()
                .unwrap_or_else(|| "no reason given".into());
            self.fetch_stopped(&id, &new_revision).await;
            return Some(if self.rollback_enabled {
                Outcome::new(
                    Verdict::RolledBack,
                    format!(
                        "deployment {id} ({}) failed and ECS is rolling back{}: {}",
                        short_revision(&new_revision),
                        self.rollback_target(),
                        Foreign(&reason)
                    ),
                )
            } else {
                Outcome::new(
                    Verdict::Failed,
                    format!(
                        "deployment {id} ({}) failed: {}",
                        short_revision(&new_revision),
                        Foreign(&reason)
                    ),
                )
            });
        }
        if failed as usize > self.stopped.len() {
            self.fetch_stopped(&id, &new_revision).await;
        }
        self.failed_tasks = self.failed_tasks.max(self.stopped.len() as u32);
        if self.failed_tasks >= self.settings.max_failed_tasks {
            let last = self
                .stopped
                .last()
                .map(|s| format!("; last: {}", s.summary()))
                .unwrap_or_default();
            return Some(Outcome::new(
                Verdict::Failed,
                format!(
                    "{} tasks of deployment {id} ({}) stopped (max-failed-tasks is {}){last}",
                    self.failed_tasks,
                    short_revision(&new_revision),
                    self.settings.max_failed_tasks
                ),
            ));
        }

        let desired = deployment.desired_count();
        let running = deployment.running_count();
        let pending = deployment.pending_count();
        let tasks_running = running >= desired && pending == 0;
        let completed = match deployment.rollout_state() {
            Some(state) => state.as_str() == "COMPLETED",
            None => tasks_running,
        };
        let older: Vec<&Deployment> = deployments
            .iter()
            .filter(|d| d.id() != Some(id.as_str()))
            .collect();
        let drained = older.is_empty();
        let mut missing = Vec::new();
        if tasks_running {
            self.phase("new tasks running");
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
        if tasks_running && !self.targets_ok {
            let problems = self.check_targets(&id, &new_revision, desired).await;
            if problems.is_empty() {
                self.targets_ok = true;
            } else {
                missing.extend(problems);
            }
        }
        if self.targets_ok {
            self.phase("targets healthy");
        }
        if completed {
            self.phase("rollout completed");
        } else if self.settings.until == Until::Steady {
            missing.push(format!(
                "rollout {}",
                if self.rollout_state.is_empty() {
                    "not completed"
                } else {
                    &self.rollout_state
                }
            ));
        }
        if drained {
            self.phase("old deployments drained");
        } else if self.settings.until == Until::Steady {
            let tasks: i32 = older.iter().map(|d| d.running_count()).sum();
            missing.push(format!(
                "{} older deployment{} still running {tasks} task{}",
                older.len(),
                if older.len() == 1 { "" } else { "s" },
                if tasks == 1 { "" } else { "s" }
            ));
        }
        // The latest answer, never waiting for a probe under way.
        if let Some(probed) = self.prober.as_ref().map(Prober::latest) {
            if probed.last_ok {
                if tasks_running {
                    self.phase("health-url passing");
                }
            } else {
                if tasks_running && let Some(prober) = &self.prober {
                    prober.nudge();
                }
                missing.push(format!(
                    "health-url {}: {}",
                    self.settings.health_url.as_deref().unwrap_or_default(),
                    match (&probed.last_error, probed.attempts) {
                        (Some(error), _) => Foreign(error).to_string(),
                        (None, 0) => "no answer yet".into(),
                        (None, _) => "not passing".into(),
                    }
                ));
            }
        }
        self.close = tasks_running;
        self.missing = missing;
        if self.missing.is_empty() {
            return Some(Outcome::new(
                Verdict::Healthy,
                format!(
                    "deployment {id} ({}) is healthy: {running}/{desired} tasks running{}{}",
                    short_revision(&new_revision),
                    if self.load_balancers.is_empty() {
                        ""
                    } else {
                        ", targets healthy"
                    },
                    if self.settings.until == Until::Steady {
                        ", older deployments gone"
                    } else {
                        ""
                    }
                ),
            ));
        }
        None
    }

    fn rollback_target(&self) -> String {
        match self.old_revisions.first() {
            Some(old) => format!(" to {}", short_revision(old)),
            None => String::new(),
        }
    }

    /// The watched deployment is no longer PRIMARY (or gone). ECS rolled it back when it failed
    /// (rolloutState FAILED), or when the service says a rollback is under way (the new PRIMARY's
    /// reason, a `rolling back to deployment` event); any other new PRIMARY deployment came from
    /// another update of the service and superseded it. The stopped tasks are read for a
    /// rollback: a successor stops the tasks of a superseded deployment, which is no failure.
    async fn replaced(
        &mut self,
        id: &str,
        primary: Option<&Deployment>,
        how: &str,
        service: &Service,
    ) -> Outcome {
        let new_revision = self.new_revision.clone().unwrap_or_default();
        let primary_revision = primary
            .and_then(|d| d.task_definition())
            .unwrap_or_default();
        let reason = self
            .rollout_reason
            .as_deref()
            .map(|r| format!(": {}", Foreign(r)))
            .unwrap_or_default();
        let rolling_back = |text: &str| text.contains("rolling back");
        let since = self.since.map(|t| t.secs()).unwrap_or(0);
        let rolled_back = self.rollout_state == "FAILED"
            || primary
                .and_then(|d| d.rollout_state_reason())
                .is_some_and(rolling_back)
            || service
                .events()
                .iter()
                .filter(|e| e.created_at().is_some_and(|t| t.secs() >= since))
                .filter_map(|e| e.message())
                .any(|m| m.contains("rolling back to deployment"));
        let primary_id = primary.and_then(|d| d.id()).unwrap_or("(none)");
        let superseded = !rolled_back && primary.is_some();
        if !superseded {
            self.fetch_stopped(id, &new_revision).await;
        }
        if superseded {
            self.superseded_by = Some(Successor {
                id: primary_id.to_string(),
                revision: primary_revision.to_string(),
            });
            return Outcome::new(
                Verdict::Superseded,
                format!(
                    "deployment {id} ({}) was superseded by deployment {primary_id} ({}) before it was healthy: another update of the service replaced it (not a rollback)",
                    short_revision(&new_revision),
                    short_revision(primary_revision)
                ),
            );
        }
        if rolled_back && primary_revision != new_revision {
            Outcome::new(
                Verdict::RolledBack,
                format!(
                    "deployment {id} ({}) {how}: the service rolled back to {}{reason}",
                    short_revision(&new_revision),
                    short_revision(primary_revision)
                ),
            )
        } else {
            Outcome::new(
                Verdict::Failed,
                format!(
                    "deployment {id} ({}) {how}: deployment {primary_id} ({}) replaced it{reason}",
                    short_revision(&new_revision),
                    short_revision(primary_revision)
                ),
            )
        }
    }

    /// The deployment's tasks with the given desired status (one ListTasks and one DescribeTasks).
    async fn tasks_of(
        &mut self,
        id: &str,
        revision: &str,
        status: DesiredStatus,
    ) -> Result<Vec<Task>, String> {
        self.pacer.spent(1);
        let listed = self
            .clients
            .ecs
            .list_tasks()
            .cluster(&self.settings.cluster)
            .service_name(&self.settings.service)
            .desired_status(status)
            .send()
            .await
            .map_err(|e| format!("ListTasks failed: {}", Foreign(&error_text(&e))))?;
        let arns: Vec<String> = listed.task_arns().to_vec();
        if arns.is_empty() {
            return Ok(Vec::new());
        }
        let mut tasks = Vec::new();
        for chunk in arns.chunks(100) {
            self.pacer.spent(1);
            let described = self
                .clients
                .ecs
                .describe_tasks()
                .cluster(&self.settings.cluster)
                .set_tasks(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| format!("DescribeTasks failed: {}", Foreign(&error_text(&e))))?;
            tasks.extend(described.tasks().iter().cloned());
        }
        let since = self.since.map(|t| t.secs()).unwrap_or(0);
        Ok(tasks
            .into_iter()
            .filter(|t| match t.started_by() {
                Some(by) if by.starts_with("ecs-svc/") => by == id,
                _ => {
                    t.task_definition_arn() == Some(revision)
                        && t.created_at().is_none_or(|c| c.secs() >= since)
                }
            })
            .collect())
    }

    async fn fetch_stopped(&mut self, id: &str, revision: &str) {
        let tasks = match self.tasks_of(id, revision, DesiredStatus::Stopped).await {
            Ok(tasks) => tasks,
            Err(e) => {
                self.gha
                    .warning(format!("Could not list the stopped tasks: {e}"));
                return;
            }
        };
        let mut tasks: Vec<Task> = tasks
            .into_iter()
            .filter(|t| !self.seen_stopped.contains(t.task_arn().unwrap_or_default()))
            .collect();
        tasks.sort_by_key(|t| t.stopped_at().map(|s| (s.secs(), s.subsec_nanos())));
        for task in tasks {
            let stopped = StoppedTask::new(&task, self.definition.as_ref());
            self.seen_stopped.insert(stopped.task_arn.clone());
            self.gha.warning(stopped.summary());
            self.stopped.push(stopped);
        }
    }

    /// What keeps the new tasks' targets from being healthy; empty when they all are.
    async fn check_targets(&mut self, id: &str, revision: &str, desired: i32) -> Vec<String> {
        if self.load_balancers.is_empty() {
            return Vec::new();
        }
        let ips = match &self.task_ips {
            Some((count, ips)) if *count == desired && ips.len() >= desired as usize => ips.clone(),
            _ => match self.tasks_of(id, revision, DesiredStatus::Running).await {
                Ok(tasks) => {
                    let ips: Vec<String> = tasks
                        .iter()
                        .filter(|t| t.last_status() == Some("RUNNING"))
                        .filter_map(task_ip)
                        .collect();
                    self.task_ips = Some((desired, ips.clone()));
                    ips
                }
                Err(e) => return vec![format!("could not read the new tasks: {e}")],
            },
        };
        if ips.len() < desired as usize {
            self.task_ips = None;
            return vec![format!(
                "{}/{desired} new tasks have an IP address",
                ips.len()
            )];
        }
        let mut problems = Vec::new();
        let load_balancers: Vec<(String, Option<i32>)> = self
            .load_balancers
            .iter()
            .map(|lb| (lb.target_group.clone(), lb.port))
            .collect();
        for (target_group, port) in load_balancers {
            let health = match self
                .clients
                .elbv2
                .describe_target_health()
                .target_group_arn(&target_group)
                .send()
                .await
            {
                Ok(out) => out,
                Err(e) => {
                    problems.push(format!(
                        "DescribeTargetHealth {} failed: {}",
                        short_target_group(&target_group),
                        Foreign(&error_text(&e))
                    ));
                    continue;
                }
            };
            for ip in &ips {
                let target = health.target_health_descriptions().iter().find(|d| {
                    d.target().is_some_and(|t| {
                        t.id() == Some(ip.as_str()) && (port.is_none() || t.port() == port)
                    })
                });
                let label = match port {
                    Some(p) => format!("{ip}:{p}"),
                    None => ip.clone(),
                };
                match target.and_then(|t| t.target_health()) {
                    None => problems.push(format!(
                        "target {label} not registered in {}",
                        short_target_group(&target_group)
                    )),
                    Some(h) => {
                        let state = h.state().map(|s| s.as_str()).unwrap_or("unknown");
                        if state != "healthy" {
                            let reason = h
                                .reason()
                                .map(|r| r.as_str().to_string())
                                .or_else(|| h.description().map(String::from));
                            problems.push(format!(
                                "target {label} {state}{}",
                                reason
                                    .map(|r| format!(": {}", Foreign(&r)))
                                    .unwrap_or_default()
                            ));
                        }
                    }
                }
            }
        }
        problems
    }

    /// Reports the outcome: the stopped tasks and their logs, the outputs, the summary; an
    /// error for anything but healthy.
    pub async fn finish(&mut self, outcome: Outcome) -> Result<(), ActionError> {
        let elapsed = self.start.elapsed();
        // The verdict is in: a probe still waiting for its answer does not count.
        if let Some(prober) = &self.prober {
            prober.stop();
        }
        let mut log_sections = Vec::new();
        // ECS unreachable: asking it for the stopped tasks would only fail again.
        let report_stopped = !matches!(outcome.verdict, Verdict::Healthy | Verdict::Error);
        if report_stopped {
            if let (Some(id), Some(revision)) =
                (self.deployment_id.clone(), self.new_revision.clone())
                && (self.failed_tasks as usize > self.stopped.len()
                    || (self.stopped.is_empty() && outcome.verdict != Verdict::Superseded))
            {
                self.fetch_stopped(&id, &revision).await;
            }
            let shown: Vec<StoppedTask> =
                self.stopped.iter().rev().take(3).rev().cloned().collect();
            for stopped in &shown {
                log_sections.push(self.report_stopped(stopped).await);
            }
        }
        let probed = self.prober.as_ref().map(|p| p.latest());
        let failed_probes = probed.as_ref().map(|p| p.failures).unwrap_or(0);
        self.gha.set_output("result", outcome.verdict.as_str())?;
        self.gha
            .set_output("deployment-id", self.deployment_id.as_deref().unwrap_or(""))?;
        self.gha.set_output("rollout-state", &self.rollout_state)?;
        self.gha
            .set_output("failed-tasks", &self.failed_tasks.to_string())?;
        self.gha
            .set_output("failed-probes", &failed_probes.to_string())?;
        self.gha
            .set_output("elapsed-seconds", &format!("{:.1}", elapsed.as_secs_f64()))?;
        let probes = probed.map(|p| (p.attempts, p.failures));
        self.gha
            .summary(&self.summary(&outcome, elapsed, probes, &log_sections))?;
        self.gha.info(format!(
            "{} ECS calls in {} ({:.1} a minute)",
            self.pacer.calls(),
            format_duration(elapsed),
            f64::from(self.pacer.calls()) * 60.0 / elapsed.as_secs_f64().max(1.0)
        ));
        match outcome.verdict {
            Verdict::Healthy => {
                self.gha.notice(format!(
                    "{} after {}",
                    outcome.message,
                    format_duration(elapsed)
                ));
                Ok(())
            }
            verdict => Err(ActionError::failed(outcome.message)
                .with_title(format!("Deployment {}", verdict.as_str()))),
        }
    }

    /// One stopped task in the log (a group with its containers' last log lines, inside a
    /// commands pause) and as a section of the summary.
    async fn report_stopped(&mut self, stopped: &StoppedTask) -> String {
        let definition = match (&self.definition, &stopped.task_definition_arn) {
            (Some(d), Some(arn)) if d.task_definition_arn() == Some(arn.as_str()) => {
                Some(d.clone())
            }
            (_, Some(arn)) => self.describe_definition(arn).await,
            (d, None) => d.clone(),
        };
        self.gha
            .group_start(&format!("Stopped task {}", stopped.task_id));
        self.gha.info(stopped.summary());
        let mut section = format!("- {}\n", md::text(&stopped.summary()));
        if let Some(definition) = definition {
            let tails = swa_ecs::failed_container_logs(
                &self.clients.logs,
                &definition,
                stopped,
                self.settings.log_lines,
            )
            .await;
            for tail in tails {
                let where_ = tail
                    .location
                    .as_ref()
                    .map(|l| l.to_string())
                    .unwrap_or_default();
                match &tail.lines {
                    Ok(lines) => {
                        self.gha.info(format!(
                            "Last {} log lines of {} ({}):",
                            lines.len(),
                            Foreign(&tail.container),
                            Foreign(&where_)
                        ));
                        let block: Vec<String> = lines.iter().map(|l| format!("  {l}")).collect();
                        self.gha.foreign_block(&block.join("\n"));
                        section.push_str(&format!(
                            "\n  Last {} log lines of {}:\n\n{}",
                            lines.len(),
                            md::code(&tail.container),
                            md::fenced("", &lines.join("\n"))
                        ));
                    }
                    Err(why) => {
                        self.gha.info(format!(
                            "No logs for {}: {}",
                            Foreign(&tail.container),
                            Foreign(why)
                        ));
                        section.push_str(&format!(
                            "  No logs for {}: {}\n",
                            md::code(&tail.container),
                            md::text(why)
                        ));
                    }
                }
            }
        }
        self.gha.group_end();
        section
    }

    fn summary(
        &self,
        outcome: &Outcome,
        elapsed: Duration,
        probes: Option<(u32, u32)>,
        logs: &[String],
    ) -> String {
        let icon = match outcome.verdict {
            Verdict::Healthy => "✅",
            Verdict::Timeout => "⏱️",
            _ => "❌",
        };
        let image = self
            .definition
            .as_ref()
            .map(|d| {
                d.container_definitions()
                    .iter()
                    .map(|c| md::code(c.image().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        let mut md = format!(
            "### {icon} wait-healthy: {} {}\n\n{}\n\n| | |\n|---|---|\n",
            md::text(&self.settings.service),
            outcome.verdict.as_str(),
            md::text(&outcome.message)
        );
        let mut row = |k: &str, v: String| md.push_str(&format!("| {k} | {v} |\n"));
        let known = |value: Option<&str>| value.map(md::code).unwrap_or_else(|| "-".into());
        row("Deployment", known(self.deployment_id.as_deref()));
        row(
            "New revision",
            known(self.new_revision.as_deref().map(short_revision)),
        );
        row(
            "Old revision",
            if self.deployment_id.is_none() {
                "-".into()
            } else if self.old_revisions.is_empty() {
                "(none running)".into()
            } else {
                self.old_revisions
                    .iter()
                    .map(|r| md::code(short_revision(r)))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        );
        if let Some(successor) = &self.superseded_by {
            row(
                "Superseded by",
                format!(
                    "{} ({})",
                    md::code(&successor.id),
                    md::code(short_revision(&successor.revision))
                ),
            );
        }
        row("Image", if image.is_empty() { "-".into() } else { image });
        row(
            "Rollout state",
            if self.rollout_state.is_empty() {
                "-".into()
            } else {
                md::text(&self.rollout_state)
            },
        );
        row("Failed tasks", self.failed_tasks.to_string());
        if let Some((attempts, failures)) = probes {
            row("Health probes", format!("{attempts} ({failures} failed)"));
        }
        row("Elapsed", format_duration(elapsed));
        if !self.phases.is_empty() {
            md.push_str("\n#### Phases\n\n| Phase | After |\n|---|---|\n");
            for (name, at) in &self.phases {
                md.push_str(&format!("| {name} | {} |\n", format_duration(*at)));
            }
        }
        let missing_is_news = !matches!(
            outcome.verdict,
            Verdict::Healthy | Verdict::Error | Verdict::Superseded
        );
        if missing_is_news && !self.missing.is_empty() {
            md.push_str("\n#### Still missing\n\n");
            for m in &self.missing {
                md.push_str(&format!("- {}\n", md::text(m)));
            }
        }
        if !self.stopped.is_empty() {
            md.push_str("\n#### Stopped tasks\n\n");
            if logs.is_empty() {
                for s in &self.stopped {
                    md.push_str(&format!("- {}\n", md::text(&s.summary())));
                }
            } else {
                for section in logs {
                    md.push_str(section);
                }
            }
        }
        if !self.events.is_empty() {
            md.push_str("\n#### Service events\n\n");
            for e in &self.events {
                md.push_str(&format!("- {}\n", md::text(e)));
            }
        }
        // An error verdict's message is the last API error already.
        if let Some(e) = &self.last_error
            && outcome.verdict != Verdict::Error
        {
            md.push_str(&format!("\nLast API error: {}\n", md::text(e)));
        }
        md
    }
}

/// The task's private IP (awsvpc ENI).
fn task_ip(task: &Task) -> Option<String> {
    task.attachments()
        .iter()
        .flat_map(|a| a.details())
        .find(|d| d.name() == Some("privateIPv4Address"))
        .and_then(|d| d.value())
        .map(String::from)
        .or_else(|| {
            task.containers()
                .iter()
                .flat_map(|c| c.network_interfaces())
                .find_map(|n| n.private_ipv4_address())
                .map(String::from)
        })
}

/// `arn:…:task-definition/family:3` -> `family:3`.
fn short_revision(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// `arn:…:targetgroup/name/0123` -> `name`.
fn short_target_group(arn: &str) -> &str {
    arn.split('/').nth(1).unwrap_or(arn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_mocks::{Rule, mock};
    use ecs::operation::describe_services::{DescribeServicesError, DescribeServicesOutput};
    use ecs::operation::describe_task_definition::DescribeTaskDefinitionOutput;
    use ecs::operation::describe_tasks::DescribeTasksOutput;
    use ecs::operation::list_tasks::ListTasksOutput;
    use ecs::types::{
        Attachment, Container, ContainerDefinition, DeploymentCircuitBreaker,
        DeploymentConfiguration, DeploymentRolloutState, KeyValuePair, LoadBalancer as EcsLb,
        LogConfiguration, LogDriver, ServiceEvent, TaskStopCode,
    };
    use elbv2::operation::describe_target_health::DescribeTargetHealthOutput;
    use elbv2::types::{
        TargetDescription, TargetHealth, TargetHealthDescription, TargetHealthReasonEnum,
        TargetHealthStateEnum,
    };
    use swa_gha::{Capture, Env};

    macro_rules! client {
        ($sdk:ident, $rules:expr) => {
            swa_testing::mock_client!(
                $sdk,
                $rules,
                retry: $sdk::config::retry::RetryConfig::standard()
                    .with_max_attempts(2)
                    .with_initial_backoff(Duration::from_millis(1))
            )
        };
    }

    const NEW: &str =
        "arn:aws:ecs:us-east-1:123456789012:task-definition/startupwebapp-service-task:4";
    const OLD: &str =
        "arn:aws:ecs:us-east-1:123456789012:task-definition/startupwebapp-service-task:3";
    const TG: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/startupwebapp-tg/0123456789abcdef";

    fn deployment(
        id: &str,
        status: &str,
        revision: &str,
        running: i32,
        failed: i32,
        state: DeploymentRolloutState,
    ) -> Deployment {
        Deployment::builder()
            .id(id)
            .status(status)
            .task_definition(revision)
            .desired_count(2)
            .running_count(running)
            .pending_count(0)
            .failed_tasks(failed)
            .rollout_state(state)
            .created_at(aws_smithy_types::DateTime::from_secs(1_000))
            .build()
    }

    fn new_dep(running: i32, failed: i32, state: DeploymentRolloutState) -> Deployment {
        deployment("ecs-svc/2", "PRIMARY", NEW, running, failed, state)
    }

    fn old_dep(status: &str, running: i32) -> Deployment {
        deployment(
            "ecs-svc/1",
            status,
            OLD,
            running,
            0,
            DeploymentRolloutState::Completed,
        )
    }

    fn services(deployments: Vec<Deployment>) -> DescribeServicesOutput {
        let service = Service::builder()
            .service_name("startupwebapp-service")
            .status("ACTIVE")
            .task_definition(deployments[0].task_definition().unwrap_or_default())
            .set_deployments(Some(deployments))
            .deployment_configuration(
                DeploymentConfiguration::builder()
                    .deployment_circuit_breaker(
                        DeploymentCircuitBreaker::builder()
                            .enable(true)
                            .rollback(true)
                            .build(),
                    )
                    .build(),
            )
            .load_balancers(
                EcsLb::builder()
                    .target_group_arn(TG)
                    .container_name("startupwebapp")
                    .container_port(8000)
                    .build(),
            )
            .events(
                ServiceEvent::builder()
                    .id("e1")
                    .created_at(aws_smithy_types::DateTime::from_secs(2_000))
                    .message(
                        "(service startupwebapp-service) has started 2 tasks: (task a) (task b).",
                    )
                    .build(),
            )
            .build();
        DescribeServicesOutput::builder().services(service).build()
    }

    fn definition() -> DescribeTaskDefinitionOutput {
        DescribeTaskDefinitionOutput::builder()
            .task_definition(
                TaskDefinition::builder()
                    .task_definition_arn(NEW)
                    .container_definitions(
                        ContainerDefinition::builder()
                            .name("startupwebapp")
                            .image("123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp@sha256:4444")
                            .log_configuration(
                                LogConfiguration::builder()
                                    .log_driver(LogDriver::Awslogs)
                                    .options("awslogs-group", "/ecs/startupwebapp-service")
                                    .options("awslogs-stream-prefix", "ecs")
                                    .build()
                                    .expect("log configuration"),
                            )
                            .build(),
                    )
                    .build(),
            )
            .build()
    }

    fn running_task(n: u8) -> Task {
        Task::builder()
            .task_arn(format!(
                "arn:aws:ecs:us-east-1:123456789012:task/startupwebapp-cluster/new{n}"
            ))
            .task_definition_arn(NEW)
            .started_by("ecs-svc/2")
            .last_status("RUNNING")
            .attachments(
                Attachment::builder()
                    .details(
                        KeyValuePair::builder()
                            .name("privateIPv4Address")
                            .value(format!("10.0.1.{n}"))
                            .build(),
                    )
                    .build(),
            )
            .build()
    }

    fn crashed_task(n: u8) -> Task {
        Task::builder()
            .task_arn(format!(
                "arn:aws:ecs:us-east-1:123456789012:task/startupwebapp-cluster/bad{n}"
            ))
            .task_definition_arn(NEW)
            .started_by("ecs-svc/2")
            .last_status("STOPPED")
            .stop_code(TaskStopCode::EssentialContainerExited)
            .stopped_reason("Essential container in task exited")
            .stopped_at(aws_smithy_types::DateTime::from_secs(
                3_000 + u64::from(n) as i64,
            ))
            .containers(
                Container::builder()
                    .name("startupwebapp")
                    .exit_code(1)
                    .build(),
            )
            .build()
    }

    fn target(ip: &str, healthy: bool) -> TargetHealthDescription {
        let health = if healthy {
            TargetHealth::builder()
                .state(TargetHealthStateEnum::Healthy)
                .build()
        } else {
            TargetHealth::builder()
                .state(TargetHealthStateEnum::Unhealthy)
                .reason(TargetHealthReasonEnum::ResponseCodeMismatch)
                .build()
        };
        TargetHealthDescription::builder()
            .target(TargetDescription::builder().id(ip).port(8000).build())
            .target_health(health)
            .build()
    }

    struct Fixture {
        ecs: Vec<Rule>,
        elbv2: Vec<Rule>,
        logs: Vec<Rule>,
        max_failed_tasks: u32,
    }

    impl Fixture {
        fn new(describe: Rule) -> Fixture {
            let td = mock!(ecs::Client::describe_task_definition).then_output(definition);
            let list = mock!(ecs::Client::list_tasks)
                .match_requests(|r| r.desired_status() == Some(&DesiredStatus::Running))
                .then_output(|| {
                    ListTasksOutput::builder()
                        .task_arns("new1")
                        .task_arns("new2")
                        .build()
                });
            let list_stopped = mock!(ecs::Client::list_tasks)
                .match_requests(|r| r.desired_status() == Some(&DesiredStatus::Stopped))
                .then_output(|| {
                    ListTasksOutput::builder()
                        .task_arns("bad1")
                        .task_arns("bad2")
                        .task_arns("bad3")
                        .build()
                });
            let tasks = mock!(ecs::Client::describe_tasks).then_compute_output(|r| {
                let mut out = DescribeTasksOutput::builder();
                for arn in r.tasks() {
                    let n = arn.chars().last().and_then(|c| c.to_digit(10)).unwrap_or(0) as u8;
                    out = out.tasks(if arn.starts_with("bad") {
                        crashed_task(n)
                    } else {
                        running_task(n)
                    });
                }
                out.build()
            });
            let targets = mock!(elbv2::Client::describe_target_health).then_output(|| {
                DescribeTargetHealthOutput::builder()
                    .target_health_descriptions(target("10.0.1.1", true))
                    .target_health_descriptions(target("10.0.1.2", true))
                    .build()
            });
            let logs = mock!(logs::Client::get_log_events).then_output(|| {
                logs::operation::get_log_events::GetLogEventsOutput::builder()
                    .events(
                        logs::types::OutputLogEvent::builder()
                            .timestamp(1)
                            .message("ImportError: No module named 'startupwebapp.settings_prod'")
                            .build(),
                    )
                    .build()
            });
            Fixture {
                ecs: vec![describe, td, list, list_stopped, tasks],
                elbv2: vec![targets],
                logs: vec![logs],
                max_failed_tasks: 3,
            }
        }

        fn with_elbv2(mut self, rule: Rule) -> Fixture {
            self.elbv2 = vec![rule];
            self
        }

        async fn run(
            &self,
            until: Until,
            timeout: Duration,
        ) -> (Result<(), ActionError>, String, u32) {
            let clients = Clients {
                ecs: client!(ecs, &self.ecs),
                elbv2: client!(elbv2, &self.elbv2),
                logs: client!(logs, &self.logs),
            };
            let settings = Settings {
                cluster: "startupwebapp-cluster".into(),
                service: "startupwebapp-service".into(),
                deployment_id: None,
                until,
                timeout,
                health_url: None,
                health_expect: None,
                max_failed_tasks: self.max_failed_tasks,
                log_lines: 30,
                poll_interval: Duration::from_millis(5),
                unreachable_timeout: Duration::from_secs(60),
                calls_per_minute: 1e9,
            };
            let (gha, log): (Gha, Capture) = Gha::capture(Env::default());
            let mut watch = Watch::new(clients, settings, gha).expect("watch");
            let result = match watch.run().await {
                Ok(outcome) => watch.finish(outcome).await,
                Err(e) => Err(e),
            };
            (result, log.text(), watch.ecs_calls())
        }
    }

    #[tokio::test]
    async fn a_rollout_that_completes_and_drains_is_healthy() {
        let describe = mock!(ecs::Client::describe_services)
            .sequence()
            .output(|| {
                services(vec![
                    new_dep(0, 0, DeploymentRolloutState::InProgress),
                    old_dep("ACTIVE", 2),
                ])
            })
            .output(|| {
                services(vec![
                    new_dep(2, 0, DeploymentRolloutState::InProgress),
                    old_dep("ACTIVE", 2),
                ])
            })
            .output(|| {
                services(vec![
                    new_dep(2, 0, DeploymentRolloutState::Completed),
                    old_dep("ACTIVE", 0),
                ])
            })
            .output(|| services(vec![new_dep(2, 0, DeploymentRolloutState::Completed)]))
            .repeatedly()
            .build();
        let fixture = Fixture::new(describe);
        let (result, log, calls) = fixture.run(Until::Steady, Duration::from_secs(30)).await;
        assert!(result.is_ok(), "{result:?}\n{log}");
        assert!(log.contains("output result=healthy"), "{log}");
        assert!(log.contains("output rollout-state=COMPLETED"), "{log}");
        assert!(log.contains("event: "), "{log}");
        assert!(log.contains("has started 2 tasks"), "{log}");
        assert!(
            log.contains(
                "::notice::deployment ecs-svc/2 (startupwebapp-service-task:4) is healthy"
            ),
            "{log}"
        );
        // 4 polls, the task definition once, the running tasks once (list + describe).
        assert_eq!(fixture.ecs[0].num_calls(), 4);
        assert_eq!(calls, 7, "{log}");
        assert_eq!(fixture.ecs[4].num_calls(), 1);
    }

    #[tokio::test]
    async fn serving_does_not_wait_for_the_old_tasks_to_drain() {
        let describe = mock!(ecs::Client::describe_services)
            .sequence()
            .output(|| {
                services(vec![
                    new_dep(1, 0, DeploymentRolloutState::InProgress),
                    old_dep("ACTIVE", 2),
                ])
            })
            .output(|| {
                services(vec![
                    new_dep(2, 0, DeploymentRolloutState::InProgress),
                    old_dep("ACTIVE", 2),
                ])
            })
            .repeatedly()
            .build();
        let fixture = Fixture::new(describe);
        let (result, log, _) = fixture.run(Until::Serving, Duration::from_secs(30)).await;
        assert!(result.is_ok(), "{result:?}\n{log}");
        assert!(log.contains("output result=healthy"), "{log}");
        assert!(log.contains("output rollout-state=IN_PROGRESS"), "{log}");
        assert_eq!(fixture.ecs[0].num_calls(), 2);
    }

    #[tokio::test]
    async fn a_circuit_breaker_rollback_is_reported_with_the_stopped_tasks_and_logs() {
        let describe = mock!(ecs::Client::describe_services)
            .sequence()
            .output(|| {
                services(vec![
                    new_dep(0, 0, DeploymentRolloutState::InProgress),
                    old_dep("ACTIVE", 2),
                ])
            })
            .output(|| {
                services(vec![
                    new_dep(0, 1, DeploymentRolloutState::InProgress),
                    old_dep("ACTIVE", 2),
                ])
            })
            .output(|| {
                let mut failed = deployment(
                    "ecs-svc/2",
                    "ACTIVE",
                    NEW,
                    0,
                    2,
                    DeploymentRolloutState::Failed,
                );
                failed.rollout_state_reason =
                    Some("ECS deployment circuit breaker: tasks failed to start.".into());
                services(vec![
                    deployment(
                        "ecs-svc/3",
                        "PRIMARY",
                        OLD,
                        2,
                        0,
                        DeploymentRolloutState::InProgress,
                    ),
                    failed,
                ])
            })
            .repeatedly()
            .build();
        let mut fixture = Fixture::new(describe);
        fixture.max_failed_tasks = 5;
        let (result, log, _) = fixture.run(Until::Steady, Duration::from_secs(30)).await;
        let err = result.expect_err("rolled back");
        assert_eq!(err.kind(), swa_gha::ExitKind::Failed);
        let text = err.to_string();
        assert!(
            text.contains("the service rolled back to startupwebapp-service-task:3"),
            "{text}"
        );
        assert!(
            text.contains("circuit breaker: tasks failed to start"),
            "{text}"
        );
        assert!(log.contains("output result=rolled-back"), "{log}");
        assert!(log.contains("::warning::task bad1 stopped (EssentialContainerExited: Essential container in task exited); startupwebapp exited 1"), "{log}");
        assert!(log.contains("::group::Stopped task bad3"), "{log}");
        assert!(
            log.contains("  ImportError: No module named 'startupwebapp.settings_prod'"),
            "{log}"
        );
        assert!(log.contains("output failed-tasks=3"), "{log}");
    }

    #[tokio::test]
    async fn rollout_failed_is_reported_at_once() {
        let describe = mock!(ecs::Client::describe_services)
            .sequence()
            .output(|| {
                services(vec![
                    new_dep(0, 0, DeploymentRolloutState::InProgress),
                    old_dep("ACTIVE", 2),
                ])
            })
            .output(|| {
                let mut d = new_dep(0, 2, DeploymentRolloutState::Failed);
                d.rollout_state_reason =
                    Some("ECS deployment circuit breaker: tasks failed to start.".into());
                services(vec![d, old_dep("ACTIVE", 2)])
            })
            .repeatedly()
            .build();
        let fixture = Fixture::new(describe);
        let (result, log, _) = fixture.run(Until::Steady, Duration::from_secs(30)).await;
        let text = result.expect_err("failed").to_string();
        assert!(
            text.contains("failed and ECS is rolling back to startupwebapp-service-task:3"),
            "{text}"
        );
        assert!(log.contains("output result=rolled-back"), "{log}");
        assert!(log.contains("output rollout-state=FAILED"), "{log}");
        assert_eq!(fixture.ecs[0].num_calls(), 2);
    }

    #[tokio::test]
    async fn max_failed_tasks_fails_without_waiting_for_the_circuit_breaker() {
        let describe = mock!(ecs::Client::describe_services)
            .sequence()
            .output(|| {
                services(vec![
                    new_dep(0, 0, DeploymentRolloutState::InProgress),
                    old_dep("ACTIVE", 2),
                ])
            })
            .output(|| {
                services(vec![
                    new_dep(0, 3, DeploymentRolloutState::InProgress),
                    old_dep("ACTIVE", 2),
                ])
            })
            .repeatedly()
            .build();
        let fixture = Fixture::new(describe);
        let (result, log, _) = fixture.run(Until::Steady, Duration::from_secs(30)).await;
        let text = result.expect_err("failed").to_string();
        assert!(text.starts_with("3 tasks of deployment ecs-svc/2 (startupwebapp-service-task:4) stopped (max-failed-tasks is 3); last: task bad3 stopped"), "{text}");
        assert!(log.contains("output result=failed"), "{log}");
    }

    #[tokio::test]
    async fn unhealthy_targets_time_out_naming_the_target_and_reason() {
        let describe = mock!(ecs::Client::describe_services).then_output(|| {
            services(vec![
                new_dep(2, 0, DeploymentRolloutState::InProgress),
                old_dep("ACTIVE", 2),
            ])
        });
        let targets = mock!(elbv2::Client::describe_target_health).then_output(|| {
            DescribeTargetHealthOutput::builder()
                .target_health_descriptions(target("10.0.1.1", true))
                .target_health_descriptions(target("10.0.1.2", false))
                .build()
        });
        let fixture = Fixture::new(describe).with_elbv2(targets);
        let (result, log, _) = fixture.run(Until::Steady, Duration::from_millis(300)).await;
        let text = result.expect_err("timeout").to_string();
        assert!(text.contains("was not healthy after 300ms"), "{text}");
        assert!(
            text.contains("target 10.0.1.2:8000 unhealthy: Target.ResponseCodeMismatch"),
            "{text}"
        );
        assert!(text.contains("rollout IN_PROGRESS"), "{text}");
        assert!(
            text.contains("1 older deployment still running 2 tasks"),
            "{text}"
        );
        assert!(log.contains("output result=timeout"), "{log}");
    }

    fn rev5() -> Deployment {
        deployment(
            "ecs-svc/9",
            "PRIMARY",
            "arn:aws:ecs:us-east-1:123456789012:task-definition/startupwebapp-service-task:5",
            0,
            0,
            DeploymentRolloutState::InProgress,
        )
    }

    #[tokio::test]
    async fn a_newer_update_supersedes_the_deployment_with_or_without_a_circuit_breaker() {
        for breaker in [true, false] {
            let describe = mock!(ecs::Client::describe_services)
                .sequence()
                .output(move || {
                    let mut out = services(vec![new_dep(0, 0, DeploymentRolloutState::InProgress)]);
                    if !breaker && let Some(s) = out.services.as_mut().and_then(|s| s.first_mut()) {
                        s.deployment_configuration = None;
                    }
                    out
                })
                .output(|| services(vec![rev5()]))
                .repeatedly()
                .build();
            let (result, log, _) = Fixture::new(describe)
                .run(Until::Steady, Duration::from_secs(30))
                .await;
            let text = result.expect_err("superseded").to_string();
            assert_eq!(
                text,
                "deployment ecs-svc/2 (startupwebapp-service-task:4) was superseded by deployment ecs-svc/9 (startupwebapp-service-task:5) before it was healthy: another update of the service replaced it (not a rollback)",
                "breaker {breaker}"
            );
            assert!(log.contains("output result=superseded"), "{log}");
        }
    }

    #[tokio::test]
    async fn an_update_back_to_the_old_revision_supersedes_too() {
        // The new PRIMARY runs the revision this deployment replaced, but nothing failed and ECS
        // reported no rollback: someone deployed the old revision again.
        let describe = mock!(ecs::Client::describe_services)
            .sequence()
            .output(|| {
                services(vec![
                    new_dep(0, 0, DeploymentRolloutState::InProgress),
                    old_dep("ACTIVE", 2),
                ])
            })
            .output(|| {
                services(vec![
                    deployment(
                        "ecs-svc/9",
                        "PRIMARY",
                        OLD,
                        0,
                        0,
                        DeploymentRolloutState::InProgress,
                    ),
                    deployment(
                        "ecs-svc/2",
                        "ACTIVE",
                        NEW,
                        1,
                        0,
                        DeploymentRolloutState::InProgress,
                    ),
                ])
            })
            .repeatedly()
            .build();
        let (result, log, _) = Fixture::new(describe)
            .run(Until::Steady, Duration::from_secs(30))
            .await;
        let text = result.expect_err("superseded").to_string();
        assert!(
            text.contains("was superseded by deployment ecs-svc/9 (startupwebapp-service-task:3)"),
            "{text}"
        );
        assert!(log.contains("output result=superseded"), "{log}");
    }

    #[tokio::test]
    async fn a_rollback_event_is_a_rollback_even_when_the_failure_was_not_seen() {
        let describe = mock!(ecs::Client::describe_services)
            .sequence()
            .output(|| {
                services(vec![
                    new_dep(0, 0, DeploymentRolloutState::InProgress),
                    old_dep("ACTIVE", 2),
                ])
            })
            .output(|| {
                let mut out = services(vec![deployment(
                    "ecs-svc/9",
                    "PRIMARY",
                    OLD,
                    2,
                    0,
                    DeploymentRolloutState::InProgress,
                )]);
                if let Some(s) = out.services.as_mut().and_then(|s| s.first_mut()) {
                    s.events.get_or_insert_with(Vec::new).push(
                        ServiceEvent::builder()
                            .id("e9")
                            .created_at(aws_smithy_types::DateTime::from_secs(3_000))
                            .message("(service startupwebapp-service) (deployment ecs-svc/9) rolling back to deployment ecs-svc/1.")
                            .build(),
                    );
                }
                out
            })
            .repeatedly()
            .build();
        let (result, log, _) = Fixture::new(describe)
            .run(Until::Steady, Duration::from_secs(30))
            .await;
        let text = result.expect_err("rolled back").to_string();
        assert!(
            text.contains("is gone: the service rolled back to startupwebapp-service-task:3"),
            "{text}"
        );
        assert!(log.contains("output result=rolled-back"), "{log}");
    }

    #[tokio::test]
    async fn throttling_slows_the_poll_and_still_succeeds() {
        let throttled = || {
            DescribeServicesError::generic(
                aws_smithy_types::error::ErrorMetadata::builder()
                    .code("ThrottlingException")
                    .message("Rate exceeded")
                    .build(),
            )
        };
        let describe = mock!(ecs::Client::describe_services)
            .sequence()
            .error(throttled)
            .times(5)
            .output(|| services(vec![new_dep(2, 0, DeploymentRolloutState::Completed)]))
            .repeatedly()
            .build();
        let fixture = Fixture::new(describe);
        let (result, log, _) = fixture.run(Until::Steady, Duration::from_secs(30)).await;
        assert!(result.is_ok(), "{result:?}\n{log}");
        let warnings: Vec<&str> = log.lines().filter(|l| l.starts_with("::warning")).collect();
        assert_eq!(
            warnings,
            [
                "::warning::DescribeServices failed, will retry (and say so again only when it answers or the wait gives up): ThrottlingException: Rate exceeded"
            ],
            "one warning for the failed polls"
        );
        // The client tries twice per poll: five throttled answers fail two polls.
        assert!(
            log.contains("DescribeServices answers again, after 2 failed polls\n"),
            "{log}"
        );
        assert!(log.contains("output result=healthy"), "{log}");
    }

    #[tokio::test]
    async fn an_unknown_service_is_bad_input() {
        let describe = mock!(ecs::Client::describe_services).then_output(|| {
            DescribeServicesOutput::builder()
                .failures(ecs::types::Failure::builder().reason("MISSING").build())
                .build()
        });
        let fixture = Fixture::new(describe);
        let (result, _, _) = fixture.run(Until::Steady, Duration::from_secs(30)).await;
        let err = result.expect_err("missing");
        assert_eq!(err.kind(), swa_gha::ExitKind::BadInput);
        assert!(err.to_string().starts_with("input `service` names `startupwebapp-service`, which is not a service of cluster `startupwebapp-cluster` (MISSING)"), "{err}");
    }
}
