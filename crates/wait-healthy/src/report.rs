//! Reporting: the log lines of the wait, the outputs, and the job summary.

use std::time::Duration;

use aws_sdk_ecs::types::TaskDefinition;
use swa_ecs::{ContainerLog, StoppedTask};
use swa_gha::{ActionError, Foreign, Gha, format_duration, md};

use crate::assess::{
    Followed, HealthCheck, Outcome, Progress, Successor, UnhealthyTarget, Verdict, Watched, plural,
};
use crate::observe::Event;
use crate::watch::Checked;
use swa_ecs::revision_label;

/// Writes what the wait has to say to the log, the outputs and the summary.
pub struct Report {
    gha: Gha,
}

impl Report {
    pub fn new(gha: Gha) -> Report {
        Report { gha }
    }

    pub fn watching(&self, watched: &Watched, settings: &Checked) {
        let replacing = if watched.old_revisions.is_empty() {
            String::new()
        } else {
            format!(
                ", replacing {}",
                revisions(&watched.old_revisions, |r| r.into())
            )
        };
        self.gha.info(format!(
            "Watching deployment {} of {} ({}{replacing}) until {}",
            watched.id,
            settings.service,
            revision_label(&watched.revision),
            settings.until.as_str()
        ));
    }

    /// The service deployment the wait follows.
    pub fn following(&self, arn: &str, strategy: &str) {
        self.gha.info(format!(
            "Following service deployment {} (strategy {})",
            Foreign(arn),
            Foreign(strategy)
        ));
    }

    /// No service deployment carries the watched deployment.
    pub fn not_following(&self, watched: &Watched) {
        self.gha.info(format!(
            "No service deployment carries deployment {}: the wait follows the service's deployments alone",
            watched.id
        ));
    }

    /// The service deployment could not be found or described (said once a run of failures).
    pub fn follow_failed(&self, error: &str) {
        self.gha.warning(format!(
            "The service deployment cannot be read (the role needs ecs:ListServiceDeployments, ecs:DescribeServiceDeployments and ecs:DescribeServiceRevisions); the wait goes on from DescribeServices: {}",
            Foreign(error)
        ));
    }

    pub fn alarms_failed(&self, error: &str) {
        self.gha.warning(format!(
            "The alarms that rolled the deployment back cannot be read (the role needs cloudwatch:DescribeAlarms): {}",
            Foreign(error)
        ));
    }

    pub fn phase(&self, name: &str, at: Duration) {
        self.gha.info(format!("[{}] {name}", format_duration(at)));
    }

    pub fn event(&self, event: &Event) {
        self.gha
            .info(format!("event: {} {}", event.time, Foreign(&event.message)));
    }

    /// The first of a run of failed DescribeServices.
    pub fn unanswered(&self, error: &str) {
        self.gha.warning(format!(
            "DescribeServices failed, will retry (and say so again only when it answers or the wait gives up): {}",
            Foreign(error)
        ));
    }

    pub fn answers_again(&self, failed_polls: u32) {
        self.gha.info(format!(
            "DescribeServices answers again, after {failed_polls} failed poll{}",
            plural(failed_polls as usize)
        ));
    }

    pub fn definition_failed(&self, arn: &str, error: &str) {
        self.gha.warning(format!(
            "DescribeTaskDefinition {arn} failed: {}",
            Foreign(error)
        ));
    }

    pub fn stopped_tasks_failed(&self, error: &str) {
        self.gha
            .warning(format!("Could not list the stopped tasks: {error}"));
    }

    /// A stopped task of the deployment: a warning when it failed; a task stopped on purpose
    /// (by the rollback, a scale-in) is said as it is.
    pub fn stopped(&self, stopped: &StoppedTask) {
        if stopped.failed() {
            self.gha.warning(stopped.summary());
        } else {
            self.gha.info(format!(
                "{} (stopped on purpose: not a failure)",
                stopped.summary()
            ));
        }
    }

    /// One failed task in the log (a group with its containers' last log lines, inside a
    /// commands pause); returns its section of the summary: the log lines as code blocks.
    pub fn stopped_task(&self, stopped: &StoppedTask, logs: &[ContainerLog]) -> String {
        self.gha
            .group_start(&format!("Stopped task {}", stopped.task_id));
        self.gha.info(stopped.summary());
        let mut section = String::new();
        let task = md::code(&stopped.task_id);
        for tail in logs {
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
                        "Last {} log lines of {} in task {task}:\n\n{}\n",
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
                        "No logs for {} in task {task}: {}\n\n",
                        md::code(&tail.container),
                        md::text(why)
                    ));
                }
            }
        }
        self.gha.group_end();
        section
    }

    pub fn outputs(&self, wait: &Wait, failed_probes: u32) -> Result<(), ActionError> {
        let gha = &self.gha;
        gha.set_output("result", wait.outcome.verdict.as_str())?;
        gha.set_output(
            "deployment-id",
            wait.watched.map(|w| w.id.as_str()).unwrap_or(""),
        )?;
        gha.set_output("rollout-state", &wait.progress.rollout_state)?;
        gha.set_output("failed-tasks", &wait.progress.failed_tasks.to_string())?;
        gha.set_output("failed-probes", &failed_probes.to_string())?;
        gha.set_output(
            "elapsed-seconds",
            &format!("{:.1}", wait.elapsed.as_secs_f64()),
        )?;
        let followed = wait.followed;
        let arn = followed
            .map(|f| f.arn.as_str())
            .or(wait.watched.and_then(|w| w.service_deployment.as_deref()));
        gha.set_output("service-deployment-arn", arn.unwrap_or(""))?;
        gha.set_output(
            "service-deployment-status",
            followed.map(|f| f.status.as_str()).unwrap_or(""),
        )?;
        gha.set_output(
            "lifecycle-stage",
            followed.and_then(|f| f.stage.as_deref()).unwrap_or(""),
        )?;
        let weight = |w: Option<f64>| w.map(|w| format!("{w}")).unwrap_or_default();
        gha.set_output(
            "production-weight",
            &weight(followed.and_then(|f| f.production_weight)),
        )?;
        gha.set_output("test-weight", &weight(followed.and_then(|f| f.test_weight)))?;
        let paused = followed
            .and_then(|f| f.paused.as_ref())
            .filter(|_| wait.outcome.verdict == Verdict::Paused);
        gha.set_output("hook-id", paused.map(|p| p.hook_id.as_str()).unwrap_or(""))?;
        gha.set_output(
            "expires-at",
            paused.and_then(|p| p.expires_at.as_deref()).unwrap_or(""),
        )?;
        gha.set_output(
            "hook-timeout-action",
            paused
                .and_then(|p| p.timeout_action.as_deref())
                .unwrap_or(""),
        )?;
        Ok(())
    }

    pub fn summary(&self, wait: &Wait) -> Result<(), ActionError> {
        self.gha.summary(&summary(wait))?;
        Ok(())
    }

    pub fn calls(&self, calls: u32, elapsed: Duration) {
        self.gha.info(format!(
            "{calls} ECS calls in {} ({:.1} a minute)",
            format_duration(elapsed),
            f64::from(calls) * 60.0 / elapsed.as_secs_f64().max(1.0)
        ));
    }

    /// A notice when healthy or paused where asked; else the error that fails the step.
    pub fn verdict(&self, outcome: Outcome, elapsed: Duration) -> Result<(), ActionError> {
        match outcome.verdict {
            Verdict::Healthy | Verdict::Paused => {
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
}

/// The whole wait, as the summary tells it.
pub struct Wait<'a> {
    pub service: &'a str,
    pub outcome: &'a Outcome,
    pub watched: Option<&'a Watched>,
    pub definition: Option<&'a TaskDefinition>,
    pub successor: Option<&'a Successor>,
    pub progress: &'a Progress,
    /// Health probes answered, and failed.
    pub probes: Option<(u32, u32)>,
    pub elapsed: Duration,
    pub phases: &'a [(String, Duration)],
    pub missing: &'a [String],
    /// The deployment's failed tasks, oldest first.
    pub failed: &'a [StoppedTask],
    /// Sections with the log lines of the failed tasks shown in full.
    pub failed_sections: &'a [String],
    pub unhealthy_targets: &'a [UnhealthyTarget],
    pub health_checks: &'a [HealthCheck],
    pub events: &'a [Event],
    pub last_error: Option<&'a str>,
    /// The followed service deployment, as last described.
    pub followed: Option<&'a Followed>,
    /// The alarms that set off its rollback, as CloudWatch describes them.
    pub alarms: &'a [swa_aws::AlarmState],
}

fn summary(wait: &Wait) -> String {
    let outcome = wait.outcome;
    let icon = match outcome.verdict {
        Verdict::Healthy => "✅",
        Verdict::Paused => "⏸️",
        Verdict::Timeout => "⏱️",
        _ => "❌",
    };
    let image = wait
        .definition
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
        md::text(wait.service),
        outcome.verdict.as_str(),
        md::text(&outcome.message)
    );
    let mut row = |k: &str, v: String| md.push_str(&format!("| {k} | {v} |\n"));
    let known = |value: Option<&str>| value.map(md::code).unwrap_or_else(|| "-".into());
    row("Deployment", known(wait.watched.map(|w| w.id.as_str())));
    row(
        "New revision",
        known(wait.watched.map(|w| revision_label(&w.revision))),
    );
    row(
        "Old revision",
        match wait.watched {
            None => "-".into(),
            Some(w) if w.old_revisions.is_empty() => "(none running)".into(),
            Some(w) => revisions(&w.old_revisions, md::code),
        },
    );
    if let Some(successor) = wait.successor {
        row(
            "Superseded by",
            format!(
                "{} ({})",
                md::code(&successor.id),
                md::code(revision_label(&successor.revision))
            ),
        );
    }
    row("Image", if image.is_empty() { "-".into() } else { image });
    let state = &wait.progress.rollout_state;
    row(
        "Rollout state",
        if state.is_empty() {
            "-".into()
        } else {
            md::text(state)
        },
    );
    if let Some(followed) = wait.followed {
        row(
            "Service deployment",
            format!(
                "{} ({})",
                md::code(&followed.arn),
                md::text(&followed.state())
            ),
        );
        if followed.production_weight.is_some() || followed.test_weight.is_some() {
            let percent = |w: Option<f64>| w.map(|w| format!("{w}%")).unwrap_or("-".into());
            row(
                "Traffic to the new revision",
                format!(
                    "production {}, test {}",
                    percent(followed.production_weight),
                    percent(followed.test_weight)
                ),
            );
        }
        if let Some(paused) = &followed.paused {
            row("Waiting at", md::text(&paused.describe()));
        }
    }
    for alarm in wait.alarms {
        row("Alarm", md::text(&crate::assess::alarm_text(alarm)));
    }
    row("Failed tasks", wait.progress.failed_tasks.to_string());
    if let Some((attempts, failures)) = wait.probes {
        row("Health probes", format!("{attempts} ({failures} failed)"));
    }
    row("Elapsed", format_duration(wait.elapsed));
    if !wait.phases.is_empty() {
        md.push_str("\n#### Phases\n\n| Phase | After |\n|---|---|\n");
        for (name, at) in wait.phases {
            md.push_str(&format!(
                "| {} | {} |\n",
                md::text(name),
                format_duration(*at)
            ));
        }
    }
    // What was missing is news only when time ran out: after a failure it is a look older than
    // the verdict's.
    if outcome.verdict == Verdict::Timeout && !wait.missing.is_empty() {
        md.push_str("\n#### Still missing\n\n");
        for m in wait.missing {
            md.push_str(&format!("- {}\n", md::text(m)));
        }
    }
    if !wait.unhealthy_targets.is_empty() || !wait.health_checks.is_empty() {
        md.push_str("\n#### Targets\n\n");
        if !wait.unhealthy_targets.is_empty() {
            md.push_str(
                "| Target | Target group | State | Reason | Description |\n|---|---|---|---|---|\n",
            );
            for t in wait.unhealthy_targets {
                let or_dash =
                    |v: &Option<String>| v.as_deref().map(md::text).unwrap_or_else(|| "-".into());
                md.push_str(&format!(
                    "| {} | {} | {} | {} | {} |\n",
                    md::code(&t.target),
                    md::code(&t.group),
                    md::text(&t.state),
                    or_dash(&t.reason),
                    or_dash(&t.description)
                ));
            }
            md.push('\n');
        }
        for check in wait.health_checks {
            md.push_str(&format!(
                "The health check of {} expects {}.\n\n",
                md::code(&check.group),
                md::text(&check.expects())
            ));
        }
    }
    if !wait.failed.is_empty() {
        md.push_str("\n#### Failed tasks\n\n");
        for s in wait.failed {
            md.push_str(&format!("- {}\n", md::text(&s.summary())));
        }
        for section in wait.failed_sections {
            md.push('\n');
            md.push_str(section);
        }
    }
    if !wait.events.is_empty() {
        md.push_str("\n#### Service events\n\n");
        for e in wait.events {
            md.push_str(&format!(
                "- {}\n",
                md::text(&format!("{} {}", e.time, e.message))
            ));
        }
    }
    // An error verdict's message is the last API error already.
    if let Some(e) = wait.last_error
        && outcome.verdict != Verdict::Error
    {
        md.push_str(&format!("\nLast API error: {}\n", md::text(e)));
    }
    md
}

/// The task definitions' short names, each through `show`, comma-separated.
fn revisions(arns: &[String], show: impl Fn(&str) -> String) -> String {
    arns.iter()
        .map(|r| show(revision_label(r)))
        .collect::<Vec<_>>()
        .join(", ")
}
