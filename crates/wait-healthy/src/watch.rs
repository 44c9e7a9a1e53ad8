//! The wait itself: poll the service, observe what the decision needs, assess, and report.

use std::time::{Duration, Instant};

use aws_sdk_cloudwatchlogs as logs;
use aws_sdk_ecs as ecs;
use aws_sdk_elasticloadbalancingv2 as elbv2;
use ecs::types::{Service, TaskDefinition};
use swa_ecs::{ContainerLog, StoppedTask};
use swa_gha::{ActionError, Foreign, Gha};

use crate::assess::{
    self, Failing, Followed, Look, Next, Observed, Outcome, Progress, Successor, Targets,
    UnhealthyTarget, Verdict, Watched,
};
use crate::observe::{Event, Events, Observer, Unanswered};
use crate::probe::{Probe, Prober};
use crate::report::{Report, Wait};

/// What "healthy" means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Until {
    /// The new deployment is COMPLETED and the old ones are gone.
    Steady,
    /// Steady, and the service deployment SUCCESSFUL: for blue/green, linear and canary, the bake
    /// is over and the old revision cleaned up.
    Complete,
    /// Every new task is RUNNING and healthy in the target groups; the old tasks may still be
    /// draining.
    Serving,
    /// Test traffic is on the new revision (blue/green, linear, canary).
    TestTraffic,
    /// Production traffic is on the new revision.
    ProductionTraffic,
    /// Production traffic moved and the bake started.
    Bake,
}

impl Until {
    pub fn as_str(self) -> &'static str {
        match self {
            Until::Steady => "steady",
            Until::Complete => "complete",
            Until::Serving => "serving",
            Until::TestTraffic => "test-traffic",
            Until::ProductionTraffic => "production-traffic",
            Until::Bake => "bake",
        }
    }

    /// A lifecycle stage of blue/green, linear and canary deployments, which only the service
    /// deployment reports.
    pub fn is_stage(self) -> bool {
        matches!(
            self,
            Until::TestTraffic | Until::ProductionTraffic | Until::Bake
        )
    }

    /// Waits for the old deployment to go (steady, complete).
    pub fn drains(self) -> bool {
        matches!(self, Until::Steady | Until::Complete)
    }
}

/// The checked inputs.
#[derive(Debug, Clone)]
pub struct Checked {
    pub cluster: String,
    pub service: String,
    pub deployment_id: Option<String>,
    /// The service deployment to follow; default: the one whose target is the watched
    /// deployment's task definition.
    pub service_deployment_arn: Option<String>,
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
    /// A cancelled wait asks ECS to roll the followed service deployment back.
    pub rollback_on_cancel: bool,
}

pub struct Clients {
    pub ecs: ecs::Client,
    pub cloudwatch: swa_aws::cloudwatch::Client,
    pub elbv2: elbv2::Client,
    pub logs: logs::Client,
}

/// DescribeServices failing poll after poll.
struct Outage {
    polls: u32,
    /// When the first of the polls failing to reach ECS at all (no connection, no answer in
    /// time) started; `None` while ECS answers, with errors.
    unreachable_since: Option<Instant>,
}

/// The state of one wait.
pub struct Watch {
    observer: Observer,
    report: Report,
    settings: Checked,
    start: Instant,
    /// The `health-url` probe, until [`Watch::run`] starts it as `prober`.
    probe: Option<Probe>,
    prober: Option<Prober>,
    outage: Option<Outage>,
    last_error: Option<String>,
    /// Known after the first answer.
    watched: Option<Watched>,
    definition: Option<TaskDefinition>,
    /// DescribeTaskDefinition was sent for the watched revision.
    definition_read: bool,
    // What was seen.
    progress: Progress,
    events: Events,
    shown_events: Vec<Event>,
    stopped: Vec<StoppedTask>,
    phases: Vec<(String, Duration)>,
    /// The followed service deployment as last described, and the last error describing it.
    followed: Option<Followed>,
    followed_error: Option<String>,
    /// The history was searched for the service deployment (once at most).
    searched: bool,
    missing: Vec<String>,
    /// The new tasks' targets last seen unhealthy, with the load balancer's reasons.
    unhealthy_targets: Vec<UnhealthyTarget>,
    close: bool,
    successor: Option<Successor>,
    /// When DescribeServices was last sent.
    described: Instant,
}

impl Watch {
    pub fn new(clients: Clients, settings: Checked, gha: Gha) -> Result<Watch, ActionError> {
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
            observer: Observer::new(clients, &settings),
            report: Report::new(gha),
            settings,
            start: Instant::now(),
            probe,
            prober: None,
            outage: None,
            last_error: None,
            watched: None,
            definition: None,
            definition_read: false,
            progress: Progress::default(),
            events: Events::default(),
            shown_events: Vec::new(),
            stopped: Vec::new(),
            phases: Vec::new(),
            followed: None,
            followed_error: None,
            searched: false,
            missing: vec!["the service has not been described yet".into()],
            unhealthy_targets: Vec::new(),
            close: false,
            successor: None,
            described: Instant::now(),
        })
    }

    /// ECS API calls made so far.
    pub fn ecs_calls(&self) -> u32 {
        self.observer.calls()
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
            // A look at the service deployment alone is cheap: as soon as the budget allows.
            let close = self.close || self.shifting().is_some();
            let delay = self
                .observer
                .next_delay(close, self.progress.failed_tasks > 0)
                .min(remaining);
            tokio::time::sleep(delay).await;
        }
    }

    /// The job was cancelled (`signal`): with `rollback-on-cancel`, ECS is asked to roll the
    /// followed service deployment back first (StopServiceDeployment ROLLBACK).
    pub async fn cancelled(&mut self, signal: &str) -> Outcome {
        if !self.settings.rollback_on_cancel {
            return Outcome::cancelled(signal);
        }
        let arn = match self.watched.clone() {
            Some(watched) => self.search(&watched).await,
            None => None,
        };
        let said = match arn {
            None => "no service deployment was found to roll back; the deployment goes on without being watched".to_string(),
            Some(arn) => match self.observer.stop_service_deployment(&arn).await {
                Ok(()) => format!(
                    "ECS was asked to roll service deployment {} back (StopServiceDeployment ROLLBACK)",
                    Foreign(&arn)
                ),
                Err(error) => format!(
                    "asking ECS to roll service deployment {} back failed, and the deployment goes on: {}",
                    Foreign(&arn),
                    Foreign(&error)
                ),
            },
        };
        Outcome::new(
            Verdict::Failed,
            format!("the wait was cancelled ({signal}); {said}"),
        )
    }

    fn timed_out(&self) -> Outcome {
        // What was missing is as old as the last answer.
        let failing = match (&self.outage, &self.last_error) {
            (Some(outage), Some(error)) => Some(Failing {
                polls: outage.polls,
                error,
            }),
            _ => None,
        };
        assess::timed_out(
            self.watched.as_ref().map(|w| w.id.as_str()),
            self.settings.timeout,
            &self.missing,
            failing,
        )
    }

    /// One look; `Some` when the wait is over. While a traffic shift is under way, a look reads
    /// only the service deployment, and the service too when that changed (or every few
    /// intervals): one call a look, so that a change is seen within a second or two at the
    /// call budget.
    async fn poll(&mut self) -> Result<Option<Outcome>, ActionError> {
        if let Some(arn) = self.shifting() {
            let before = self.followed.clone();
            self.read_followed(&arn).await;
            if self.followed_error.is_none() && self.followed == before {
                return Ok(None);
            }
            return self.look(true).await;
        }
        self.look(false).await
    }

    /// The followed service deployment, when the next look may read it alone: it shifts traffic
    /// (past POST_SCALE_UP, in progress, no failed task seen), only it can end the wait (a stage,
    /// `complete`, `steady`), and the service was described less than five intervals ago.
    fn shifting(&self) -> Option<String> {
        let watched = self.watched.as_ref()?;
        let followed = self.followed.as_ref()?;
        let stage = followed.stage.as_deref().and_then(swa_ecs::stage_rank)?;
        let shifting = watched.strategy != "ROLLING"
            && followed.status == "IN_PROGRESS"
            && stage >= swa_ecs::stage_rank("POST_SCALE_UP")?
            && self.settings.until != Until::Serving
            && self.progress.failed_tasks == 0
            && self.described.elapsed() < self.settings.poll_interval * 5;
        shifting.then(|| watched.service_deployment.clone())?
    }

    /// One look at the service (`followed_read`: the service deployment was just read).
    async fn look(&mut self, followed_read: bool) -> Result<Option<Outcome>, ActionError> {
        let started = Instant::now();
        self.described = started;
        let described = match self.observer.describe_service().await? {
            Ok(described) => {
                self.answered();
                described
            }
            Err(unanswered) => return Ok(self.unanswered(started, unanswered)),
        };
        let service =
            swa_ecs::active_service(&described, &self.settings.cluster, &self.settings.service)?;
        let watched = match &self.watched {
            Some(watched) => watched.clone(),
            None => self.first_look(&service).await?,
        };
        let mut followed_read = followed_read;
        if let Some(arn) = &watched.service_deployment
            && !followed_read
            && self.follows_every_poll(&watched)
        {
            self.read_followed(arn).await;
            followed_read = true;
        }
        for event in self.events.fresh(&service, watched.since) {
            self.report.event(&event);
            self.shown_events.push(event);
        }
        Ok(self.decide(&service, &watched, followed_read).await)
    }

    /// The service deployment that carries the watched deployment: the one known already
    /// (`service-deployment-arn`'s), else found in the history (once, and said).
    async fn search(&mut self, watched: &Watched) -> Option<String> {
        if let Some(arn) = &watched.service_deployment {
            return Some(arn.clone());
        }
        if self.searched {
            return None;
        }
        self.searched = true;
        match self.observer.find_service_deployment(watched).await {
            Ok(Some(arn)) => {
                self.report.following(&arn, &watched.strategy);
                if let Some(w) = self.watched.as_mut() {
                    w.service_deployment = Some(arn.clone());
                }
                Some(arn)
            }
            Ok(None) => {
                self.report.not_following(watched);
                None
            }
            Err(error) => {
                self.report.follow_failed(&error);
                None
            }
        }
    }

    /// The service deployment is read on every poll when it alone can say the wait is over (a
    /// stage, `complete`) or the strategy is not rolling; otherwise once a verdict is near, to
    /// name its cause.
    fn follows_every_poll(&self, watched: &Watched) -> bool {
        let until = self.settings.until;
        until.is_stage() || until == Until::Complete || watched.strategy != "ROLLING"
    }

    /// Describes the followed service deployment; a new state is a phase of the wait.
    async fn read_followed(&mut self, arn: &str) {
        match self.observer.describe_service_deployment(arn).await {
            Ok(followed) => {
                self.followed_error = None;
                self.phase(format!("service deployment {}", followed.state()));
                // Each canary or linear step is a phase of its own.
                if let Some(weight) = followed.production_weight.filter(|w| *w > 0.0)
                    && followed.in_flight()
                    && !followed.rolling_back()
                {
                    self.phase(format!("production traffic {weight}% on the new revision"));
                }
                self.followed = Some(followed);
            }
            Err(error) => {
                if self.followed_error.is_none() {
                    self.report.follow_failed(&error);
                }
                self.followed_error = Some(error);
            }
        }
    }

    /// Records a phase the first time it is reached.
    fn phase(&mut self, name: String) {
        if !self.phases.iter().any(|(n, _)| *n == name) {
            let at = self.start.elapsed();
            self.report.phase(&name, at);
            self.phases.push((name, at));
        }
    }

    /// DescribeServices failed: warn once for a run of failures, and give up once ECS has been
    /// unreachable for `unreachable-timeout`.
    fn unanswered(&mut self, started: Instant, unanswered: Unanswered) -> Option<Outcome> {
        if self.outage.is_none() {
            self.report.unanswered(&unanswered.error);
        }
        let outage = self.outage.get_or_insert(Outage {
            polls: 0,
            unreachable_since: None,
        });
        outage.polls += 1;
        if unanswered.unreachable {
            outage.unreachable_since.get_or_insert(started);
        } else {
            outage.unreachable_since = None;
        }
        let polls = outage.polls;
        let since = outage.unreachable_since;
        let error = self.last_error.insert(unanswered.error);
        let down = since?.elapsed();
        if down < self.settings.unreachable_timeout {
            return None;
        }
        Some(assess::unreachable(
            down,
            self.settings.unreachable_timeout,
            Failing { polls, error },
        ))
    }

    /// DescribeServices answered: say so if it had been failing.
    fn answered(&mut self) {
        if let Some(outage) = self.outage.take() {
            self.report.answers_again(outage.polls);
        }
    }

    async fn first_look(&mut self, service: &Service) -> Result<Watched, ActionError> {
        let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now());
        let mut watched = assess::watched(service, &self.settings, now)?;
        let until = self.settings.until;
        if until.is_stage() && watched.strategy == "ROLLING" {
            return Err(ActionError::input(
                "until",
                format!(
                    "is `{}`, a lifecycle stage of blue/green, linear and canary deployments, but service `{}` deploys with strategy ROLLING; wait until `steady`, `complete` or `serving`",
                    until.as_str(),
                    self.settings.service
                ),
            ));
        }
        self.report.watching(&watched, &self.settings);
        // Found now when every poll reads it; otherwise only when a verdict needs its cause.
        if let Some(arn) = &watched.service_deployment {
            self.report.following(arn, &watched.strategy);
        } else if self.follows_every_poll(&watched) {
            watched.service_deployment = self.search(&watched).await;
            if watched.service_deployment.is_none() && until.is_stage() {
                return Err(ActionError::failed(format!(
                    "no service deployment carries deployment {} ({}): the stage `{}` is the service deployment's to tell",
                    watched.id,
                    swa_ecs::revision_label(&watched.revision),
                    until.as_str()
                )));
            }
        }
        self.watched = Some(watched.clone());
        Ok(watched)
    }

    /// The watched revision's task definition, described the first time a stopped task or the
    /// summary needs it (not on the first look, which the call budget keeps short).
    async fn definition(&mut self) -> Option<TaskDefinition> {
        if !self.definition_read
            && let Some(revision) = self.watched.as_ref().map(|w| w.revision.clone())
        {
            self.definition_read = true;
            self.definition = self.describe_definition(&revision).await;
        }
        self.definition.clone()
    }

    async fn describe_definition(&mut self, arn: &str) -> Option<TaskDefinition> {
        match self.observer.describe_definition(arn).await {
            Ok(definition) => definition,
            Err(error) => {
                self.report.definition_failed(arn, &error);
                None
            }
        }
    }

    /// Assesses the service, observing first what the assessment asks for.
    async fn decide(
        &mut self,
        service: &Service,
        watched: &Watched,
        mut followed_read: bool,
    ) -> Option<Outcome> {
        let mut stopped_listed = false;
        let mut targets: Option<Targets> = None;
        let assessment = loop {
            // The latest answer, never waiting for a probe under way.
            let probe = self.prober.as_ref().map(Prober::latest);
            let observed = Observed {
                service,
                stopped: &self.stopped,
                stopped_listed,
                targets: targets.as_ref(),
                probe: probe.as_ref(),
                followed: self.followed.as_ref(),
                followed_read,
            };
            let assessment = assess::assess(&observed, watched, &self.progress, &self.settings);
            match assessment.next {
                Next::Look(Look::StoppedTasks) => {
                    self.list_stopped(watched).await;
                    stopped_listed = true;
                }
                Next::Look(Look::Targets { desired }) => {
                    let read = self.observer.targets(watched, desired).await;
                    assess::record_unhealthy(&read, &mut self.unhealthy_targets);
                    targets = Some(read);
                }
                Next::Look(Look::ServiceDeployment) => {
                    let known = self
                        .watched
                        .as_ref()
                        .and_then(|w| w.service_deployment.clone());
                    let arn = match known {
                        Some(arn) => Some(arn),
                        None => self.search(watched).await,
                    };
                    if let Some(arn) = arn {
                        self.read_followed(&arn).await;
                    }
                    followed_read = true;
                }
                _ => break assessment,
            }
        };
        self.progress = assessment.progress;
        for name in assessment.reached {
            self.phase(name.to_string());
        }
        match assessment.next {
            Next::Over { outcome, successor } => {
                self.successor = successor;
                Some(outcome)
            }
            Next::Waiting {
                missing,
                close,
                nudge_probe,
            } => {
                if nudge_probe && let Some(prober) = &self.prober {
                    prober.nudge();
                }
                self.missing = missing;
                self.close = close;
                None
            }
            Next::Look(_) => None,
        }
    }

    /// Lists the deployment's stopped tasks and warns of each new one.
    async fn list_stopped(&mut self, watched: &Watched) {
        let definition = self.definition().await;
        let listed = self
            .observer
            .new_stopped_tasks(watched, definition.as_ref())
            .await;
        match listed {
            Ok(stopped) => {
                for task in stopped {
                    self.report.stopped(&task);
                    self.stopped.push(task);
                }
            }
            Err(error) => self.report.stopped_tasks_failed(&error),
        }
    }

    /// Reports the outcome: the failed tasks and their logs, the outputs, the summary; an error
    /// for anything but healthy, which names the first failure and what says why.
    pub async fn finish(&mut self, mut outcome: Outcome) -> Result<(), ActionError> {
        let elapsed = self.start.elapsed();
        // The verdict is in: a probe still waiting for its answer does not count.
        if let Some(prober) = &self.prober {
            prober.stop();
        }
        let mut sections = Vec::new();
        let mut checks = Vec::new();
        // ECS unreachable: asking it for the stopped tasks would only fail again.
        let report_stopped = !matches!(
            outcome.verdict,
            Verdict::Healthy | Verdict::Paused | Verdict::Error | Verdict::Superseded
        );
        if report_stopped && let Some(watched) = self.watched.clone() {
            // One last listing, so that every field below comes from the same final look.
            self.list_stopped(&watched).await;
            let failed = self.failed_tasks();
            self.progress.failed_tasks = self.progress.failed_tasks.max(failed.len() as u32);
            if failed.iter().any(StoppedTask::failed_elb_health_checks)
                || !self.unhealthy_targets.is_empty()
            {
                checks = self.observer.health_checks(&watched).await;
            }
            // The first failed task, then one of each other way of failing: at most three.
            let mut kinds = Vec::new();
            for stopped in &failed {
                let kind = stopped.failure_kind();
                if kinds.len() == 3 || kinds.contains(&kind) {
                    continue;
                }
                kinds.push(kind);
                let (section, logs) = self.report_stopped(stopped).await;
                sections.push(section);
                if kinds.len() == 1 {
                    let log = logs.iter().find_map(|l| {
                        let lines = l.lines.as_ref().ok()?;
                        Some((l.container.as_str(), swa_ecs::telling_line(lines)?))
                    });
                    let target = failed.iter().find_map(|task| {
                        let ip = task.ip.as_deref()?;
                        let seen = self.unhealthy_targets.iter().rev().find(|t| t.ip == ip)?;
                        Some((task.task_id.as_str(), seen))
                    });
                    let cause = assess::first_failure(stopped, log, target, checks.first());
                    outcome.add(&cause);
                }
            }
        }
        // The alarms that rolled it back, as CloudWatch tells them: the metric and the reason.
        let alarms = match (&self.followed, outcome.verdict) {
            (Some(followed), Verdict::RolledBack | Verdict::Failed)
                if !followed.alarms.is_empty() =>
            {
                let names = followed.alarms.clone();
                match self.observer.alarms(&names).await {
                    Ok(alarms) => alarms,
                    Err(error) => {
                        self.report.alarms_failed(&error);
                        Vec::new()
                    }
                }
            }
            _ => Vec::new(),
        };
        for alarm in &alarms {
            outcome.add(&assess::alarm_text(alarm));
        }
        let failed = self.failed_tasks();
        let probed = self.prober.as_ref().map(|p| p.latest());
        self.definition().await;
        let wait = Wait {
            service: &self.settings.service,
            outcome: &outcome,
            watched: self.watched.as_ref(),
            definition: self.definition.as_ref(),
            successor: self.successor.as_ref(),
            progress: &self.progress,
            probes: probed.as_ref().map(|p| (p.attempts, p.failures)),
            elapsed,
            phases: &self.phases,
            missing: &self.missing,
            failed: &failed,
            failed_sections: &sections,
            unhealthy_targets: &self.unhealthy_targets,
            health_checks: &checks,
            events: &self.shown_events,
            last_error: self.last_error.as_deref(),
            followed: self.followed.as_ref(),
            alarms: &alarms,
        };
        self.report
            .outputs(&wait, probed.as_ref().map(|p| p.failures).unwrap_or(0))?;
        self.report.summary(&wait)?;
        self.report.calls(self.observer.calls(), elapsed);
        self.report.verdict(outcome, elapsed)
    }

    /// The deployment's stopped tasks that failed, oldest first.
    fn failed_tasks(&self) -> Vec<StoppedTask> {
        self.stopped
            .iter()
            .filter(|s| s.failed())
            .cloned()
            .collect()
    }

    /// One failed task with its containers' last log lines, in the log and as a section of the
    /// summary; and those log lines.
    async fn report_stopped(&mut self, stopped: &StoppedTask) -> (String, Vec<ContainerLog>) {
        let definition = match (&self.definition, &stopped.task_definition_arn) {
            (Some(d), Some(arn)) if d.task_definition_arn() == Some(arn.as_str()) => {
                Some(d.clone())
            }
            (_, Some(arn)) => self.describe_definition(arn).await,
            (d, None) => d.clone(),
        };
        let logs = match &definition {
            Some(definition) => {
                self.observer
                    .container_logs(definition, stopped, self.settings.log_lines)
                    .await
            }
            None => Vec::new(),
        };
        (self.report.stopped_task(stopped, &logs), logs)
    }
}

#[cfg(test)]
pub(crate) mod tests;
