//! Text from ECS and the service (events, stop reasons, container reasons, log lines) is shown
//! to a person and never obeyed by the runner.

use std::time::{Duration, Instant};

use swa_sandbox::world::{LogEvent, Phase};

use crate::{run, sandbox_at, snapshots, start_rollout, wait_for_fact};

/// Every crafted text carries this word, so the test finds where it was printed.
const MARK: &str = "pwned";

const EVENT: &str = "(service startupwebapp-service) pwned\n::add-mask::pwned-mask ##[set-output name=result]healthy | <img src=x onerror=alert(1)>";
const STOP_REASON: &str =
    "Essential container in task exited\n::error::pwned ##[set-output name=result]healthy";
const CONTAINER_REASON: &str = "::stop-commands::pwned | `x` <b>";
const LOG_LINES: [&str; 4] = [
    "::add-mask::pwned-secret",
    "##[set-output name=result]healthy pwned",
    "``` pwned </details><script>alert(1)</script>",
    "  ::stop-commands::pwned",
];

/// Once every task of the failed deployment has stopped, the first one to fail gets the crafted
/// stop reason, container reason and log lines, and the service a crafted event; returns that
/// task's id.
fn craft(sandbox: &swa_sandbox::Sandbox, deployment: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let crafted = sandbox.with_world(|w| {
            let tasks: Vec<usize> = (0..w.tasks.len())
                .filter(|&i| w.tasks[i].deployment.as_deref() == Some(deployment))
                .collect();
            if tasks.len() < 3 || tasks.iter().any(|&i| w.tasks[i].phase != Phase::Stopped) {
                return None;
            }
            // The first task that failed: the one the error names and the summary shows.
            let last = *tasks
                .iter()
                .filter(|&&i| w.tasks[i].stop_code.as_deref() == Some("EssentialContainerExited"))
                .min_by_key(|&&i| w.tasks[i].stopped_at)?;
            let now = w.clock.now();
            w.service_event_at(now, EVENT.into());
            let task = &mut w.tasks[last];
            task.stopped_reason = Some(STOP_REASON.into());
            task.containers[0].reason = Some(CONTAINER_REASON.into());
            let id = task.id.clone();
            let (group, stream) = (task.log_group.clone(), task.log_stream.clone());
            let events = &mut w
                .logs
                .entry(group)
                .or_default()
                .entry(stream)
                .or_default()
                .events;
            for message in LOG_LINES {
                events.push(LogEvent {
                    timestamp: now,
                    ingestion: now,
                    message: message.into(),
                });
            }
            Some(id)
        });
        if let Some(id) = crafted {
            return id;
        }
        assert!(Instant::now() < deadline, "the failed tasks never stopped");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The lines of `text` that hold crafted text, and the whole of the crafted task's group (its
/// log tail, inside the commands pause).
fn crafted_lines(log: &str, task: &str) -> String {
    let group = format!("::group::Stopped task {task}");
    let mut lines = Vec::new();
    let mut in_group = false;
    for line in log.lines() {
        in_group |= line == group;
        if in_group || line.contains(MARK) || line.starts_with("::error") {
            lines.push(line);
        }
        if line == "::endgroup::" {
            in_group = false;
        }
    }
    lines.join("\n")
}

/// The crafted task's section of the summary's stopped tasks, and the crafted event.
fn crafted_summary(summary: &str, task: &str) -> String {
    let mut lines = Vec::new();
    let mut in_task = false;
    for line in summary.lines() {
        if line.starts_with("- task ") || line.starts_with("####") {
            in_task = line.starts_with(&format!("- task {task} "));
        }
        if in_task || line.contains(MARK) {
            lines.push(line);
        }
    }
    lines.join("\n")
}

#[test]
fn crafted_events_stop_reasons_and_log_lines_are_shown_never_obeyed() {
    let sandbox = sandbox_at("crash-loop", 10.0);
    let id = start_rollout(&sandbox);
    wait_for_fact(&sandbox, "rollback-started");
    let task = craft(&sandbox, &id);
    // The step's log is read as the runner reads it (swa-testing's check_commands): it panics
    // on any workflow command the action did not mean.
    let run = run(
        &sandbox,
        &[
            ("deployment-id", &id),
            ("timeout", "2m"),
            ("max-failed-tasks", "50"),
            ("log-lines", "5"),
        ],
    );
    assert_eq!(run.code, 1, "{}", run.log);
    assert_eq!(run.outputs["result"], "rolled-back", "{}", run.log);
    snapshots(|| {
        insta::assert_snapshot!("crafted_text_in_the_log", crafted_lines(&run.log, &task));
        insta::assert_snapshot!(
            "crafted_text_in_the_summary",
            crafted_summary(&run.summary, &task)
        );
    });
}
