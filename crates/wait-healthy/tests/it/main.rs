//! The wait-healthy binary, run as a workflow runs it, against the local sandbox's rollouts.

#![allow(clippy::unwrap_used)]

use swa_sandbox::Sandbox;
use swa_testing::{Step, StepRun, sandbox, sandbox_at};

mod followed;
mod foreign_text;
mod rollout;
mod slow_health_url;
mod strategies;
mod superseded;
mod unreachable;

use rollout::start_rollout;

/// Asserts snapshots of what users read with what varies between runs (task and deployment
/// ids, pause tokens, times, durations, ports, IP addresses) replaced by placeholders.
fn snapshots(assertions: impl FnOnce()) {
    let mut settings = swa_testing::snapshot_settings();
    settings.add_filter(r"\b[0-9a-f]{32}\b", "[TASK]");
    settings.add_filter(r"\b\d{2}:\d{2}:\d{2}\b", "[TIME]");
    settings.add_filter(r"\b10\.0\.\d+\.\d+\b", "[IP]");
    settings.add_filter(swa_testing::DURATION, "[DURATION]");
    settings.add_filter(r"\b\d+ polls in a row\b", "[N] polls in a row");
    settings.add_filter(
        r"\| Health probes \| \d+ \(\d+ failed\) \|",
        "| Health probes | [N] ([N] failed) |",
    );
    settings.bind(assertions);
}

/// The summary's heading, message and table, without the sections that follow (phases, events:
/// how many, and in which order, depends on when the polls fell).
fn summary_head(summary: &str) -> &str {
    summary.split("\n#### ").next().unwrap()
}

/// Waits until the sandbox's timeline has a fact of `kind`.
fn wait_for_fact(sandbox: &Sandbox, kind: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !sandbox.timeline().iter().any(|e| e.kind == kind) {
        assert!(
            std::time::Instant::now() < deadline,
            "the sandbox never reported {kind}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The step as a workflow runs it, with the sandbox's environment.
fn step(sandbox: &Sandbox, inputs: &[(&str, &str)]) -> Step {
    Step::new(env!("CARGO_BIN_EXE_wait-healthy"))
        .input("cluster", "startupwebapp-cluster")
        .input("service", "startupwebapp-service")
        .inputs(inputs)
        .envs(sandbox.env())
}

/// `log` becomes stdout followed by stderr.
fn with_stderr(mut run: StepRun) -> StepRun {
    run.log = run.log_and_stderr();
    run
}

fn run(sandbox: &Sandbox, inputs: &[(&str, &str)]) -> StepRun {
    with_stderr(step(sandbox, inputs).run())
}

#[test]
fn a_healthy_rollout_is_healthy_once_steady() {
    let sandbox = sandbox("healthy");
    let id = start_rollout(&sandbox);
    let health = format!("{}/health", sandbox.app_url());
    let run = run(
        &sandbox,
        &[
            ("deployment-id", &id),
            ("timeout", "2m"),
            ("health-url", &health),
            ("health-expect", r#"{"status":"healthy","database":"ok"}"#),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(run.outputs["result"], "healthy");
    assert_eq!(run.outputs["deployment-id"], id);
    assert_eq!(run.outputs["rollout-state"], "COMPLETED");
    assert_eq!(run.outputs["failed-tasks"], "0");
    assert!(
        run.outputs["failed-probes"].parse::<u32>().is_ok(),
        "{:?}",
        run.outputs
    );
    assert!(run.outputs["elapsed-seconds"].parse::<f64>().unwrap() > 0.0);
    assert!(run.log.contains("event: "), "{}", run.log);
    assert!(
        run.summary.contains("| old deployments drained |"),
        "{}",
        run.summary
    );
    let notices: Vec<&str> = run
        .log
        .lines()
        .filter(|l| l.starts_with("::notice"))
        .collect();
    snapshots(|| {
        insta::assert_snapshot!(notices.join("\n"), @"::notice::deployment ecs-svc/[ID] (startupwebapp-service-task:4) is healthy: 2/2 tasks running, targets healthy, older deployments gone after [DURATION]");
        insta::assert_snapshot!("healthy_summary", summary_head(&run.summary));
        insta::assert_snapshot!("healthy_summary_outline", outline(&run.summary));
    });
    let mutating: Vec<String> = sandbox
        .calls()
        .iter()
        .filter(|c| c.is_mutating())
        .map(|c| c.operation.clone())
        .collect();
    assert_eq!(
        mutating,
        ["RegisterTaskDefinition", "UpdateService"],
        "only the test's own rollout changed anything"
    );
    let completed = sandbox
        .timeline()
        .iter()
        .any(|e| e.kind == "deployment-completed");
    assert!(
        completed,
        "healthy is only said after the sandbox completed the deployment"
    );
}

#[test]
fn only_the_watched_deployments_events_are_shown() {
    let sandbox = sandbox("healthy");
    let first = start_rollout(&sandbox);
    let first = run(&sandbox, &[("deployment-id", &first), ("timeout", "2m")]);
    assert_eq!(first.code, 0, "{}", first.log);
    let second = start_rollout(&sandbox);
    let second = run(&sandbox, &[("deployment-id", &second), ("timeout", "2m")]);
    assert_eq!(second.code, 0, "{}", second.log);
    let events = |log: &str| -> Vec<String> {
        log.lines()
            .filter(|l| l.starts_with("event: "))
            .map(String::from)
            .collect()
    };
    let (before, after) = (events(&first.log), events(&second.log));
    assert!(!before.is_empty() && !after.is_empty(), "{}", second.log);
    let repeated: Vec<&String> = after.iter().filter(|e| before.contains(e)).collect();
    assert!(
        repeated.is_empty(),
        "the earlier deployment's events came back: {repeated:?}"
    );
    let steady = after
        .iter()
        .filter(|e| e.contains("has reached a steady state"))
        .count();
    assert_eq!(steady, 1, "{}", second.log);
}

#[test]
fn serving_does_not_wait_for_the_old_tasks_to_drain() {
    let sandbox = sandbox("healthy");
    let id = start_rollout(&sandbox);
    let run = run(
        &sandbox,
        &[
            ("deployment-id", &id),
            ("until", "serving"),
            ("timeout", "2m"),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(run.outputs["result"], "healthy");
    assert_eq!(run.outputs["rollout-state"], "IN_PROGRESS", "{}", run.log);
    assert!(
        run.summary.contains("| targets healthy |"),
        "{}",
        run.summary
    );
    snapshots(|| insta::assert_snapshot!("serving_summary", summary_head(&run.summary)));
}

/// The failed tasks the summary lists, one item each.
fn failed_tasks_listed(summary: &str) -> usize {
    summary
        .split("\n#### Failed tasks\n\n")
        .nth(1)
        .map(|rest| {
            rest.lines()
                .take_while(|l| l.starts_with("- task "))
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn a_crash_loop_rolled_back_by_the_circuit_breaker_says_why_and_shows_the_logs() {
    let sandbox = sandbox("crash-loop");
    let id = start_rollout(&sandbox);
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
    assert_eq!(run.outputs["rollout-state"], "FAILED");
    // The summary agrees with itself and with the outputs: every failed task listed, none of
    // the tasks the rollback stopped, nothing "still missing" after the verdict.
    let listed = failed_tasks_listed(&run.summary);
    assert!(listed >= 3, "{}", run.summary);
    assert_eq!(
        run.outputs["failed-tasks"],
        listed.to_string(),
        "{}",
        run.summary
    );
    assert!(!run.summary.contains("Scaling activity"), "{}", run.summary);
    // The first line a person reads says why: the first failed task and its log's last word.
    snapshots(|| {
        insta::assert_snapshot!(run.errors().join("\n"), @"::error title=Deployment rolled-back::deployment ecs-svc/[ID] (startupwebapp-service-task:4) is no longer PRIMARY: the service rolled back to startupwebapp-service-task:3: ECS deployment circuit breaker: tasks failed to start. Service deployment ROLLBACK_IN_PROGRESS: the circuit breaker tripped at 3 failed tasks (threshold 3). First failed task [TASK]: stopped (EssentialContainerExited: Essential container in task exited); startupwebapp exited 1: Essential container in task exited; the log of startupwebapp ends: django.core.exceptions.ImproperlyConfigured: The SECRET_KEY setting must not be empty.");
        insta::assert_snapshot!("crash_loop_summary", outline(&run.summary));
    });
}

/// The summary's blocks as GitHub renders them, with the lists whose length depends on when the
/// polls fell counted as `[N]`.
fn outline(summary: &str) -> String {
    let outline = swa_testing::markdown::outline(summary);
    let counted = regex::Regex::new(r"(list:|table: \d+ columns,) \d+ (items|rows)").unwrap();
    let outline = counted.replace_all(&outline, "$1 [N] $2");
    // Which phases were reached before the failure depends on when the polls fell too.
    outline
        .replace("heading 4: Phases\ntable: 2 columns, [N] rows\n", "")
        .to_string()
}

#[test]
fn max_failed_tasks_fails_at_the_nth_stopped_task() {
    // Slow enough that the first stopped task is seen before the circuit breaker trips.
    let sandbox = sandbox_at("crash-loop", 3.0);
    let id = start_rollout(&sandbox);
    let run = run(
        &sandbox,
        &[
            ("deployment-id", &id),
            ("timeout", "2m"),
            ("max-failed-tasks", "1"),
        ],
    );
    assert_eq!(run.code, 1, "{}", run.log);
    assert_eq!(run.outputs["result"], "failed", "{}", run.log);
    assert!(
        run.log.contains("stopped (max-failed-tasks is 1)"),
        "{}",
        run.log
    );
    assert!(run.log.contains("SECRET_KEY"), "{}", run.log);
}

#[test]
fn unhealthy_targets_are_named_with_their_reason_and_the_health_check() {
    // Slow enough that the polls see the targets unhealthy before ECS replaces the tasks.
    let sandbox = sandbox_at("unhealthy-targets", 15.0);
    let id = start_rollout(&sandbox);
    let run = run(
        &sandbox,
        &[
            ("deployment-id", &id),
            ("timeout", "2m"),
            ("poll-interval", "500ms"),
        ],
    );
    assert_eq!(run.code, 1, "{}", run.log);
    assert_eq!(run.outputs["result"], "rolled-back", "{}", run.log);
    assert_eq!(
        run.outputs["failed-tasks"],
        failed_tasks_listed(&run.summary).to_string(),
        "{}",
        run.summary
    );
    // The sandbox gives the targets of even addresses a 503 and times out the others.
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(
        r"Target\.Timeout \(Request timed out\)|Target\.ResponseCodeMismatch \(Health checks failed with these codes: \[503\]\)",
        "[TARGET REASON]",
    );
    // The first failed task's own target, or (when the polls missed it) a later one's.
    settings.add_filter(
        r"its target was|the target of task [0-9a-f]{32} was",
        "[A FAILED TASK'S TARGET] was",
    );
    settings.bind(|| {
        snapshots(|| {
            insta::assert_snapshot!(run.errors().join("\n"), @"::error title=Deployment rolled-back::deployment ecs-svc/[ID] (startupwebapp-service-task:4) is no longer PRIMARY: the service rolled back to startupwebapp-service-task:3: ECS deployment circuit breaker: tasks failed to start. Service deployment ROLLBACK_IN_PROGRESS: the circuit breaker tripped at 3 failed tasks (threshold 3). First failed task [TASK]: stopped (ServiceSchedulerInitiated: Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/startupwebapp-tg/0123456789abcdef)); startupwebapp did not exit; [A FAILED TASK'S TARGET] was [IP]:8000 unhealthy: [TARGET REASON]; the health check of startupwebapp-tg expects HTTP 200 from GET /health on traffic-port");
            insta::assert_snapshot!("unhealthy_targets_summary", outline(&run.summary));
        });
    });
}

#[test]
fn a_timeout_says_what_was_missing() {
    let sandbox = sandbox("slow-start");
    let id = start_rollout(&sandbox);
    let run = run(&sandbox, &[("deployment-id", &id), ("timeout", "2s")]);
    assert_eq!(run.code, 1, "{}", run.log);
    assert_eq!(run.outputs["result"], "timeout");
    assert!(
        run.log.contains("was not healthy after 2.0s: "),
        "{}",
        run.log
    );
    assert!(
        run.log.contains("new tasks running") || run.log.contains("older deployment"),
        "{}",
        run.log
    );
    assert!(
        run.summary.contains("#### Still missing"),
        "{}",
        run.summary
    );
}

#[test]
fn bad_inputs_exit_2_naming_the_input() {
    let sandbox = sandbox("healthy");
    let cases: &[&[(&str, &str)]] = &[
        &[("timeout", "soon")],
        &[("poll-interval", "5m"), ("timeout", "1m")],
        &[("until", "forever")],
        &[("health-url", "not a url")],
        &[
            ("health-url", "http://127.0.0.1:9/health"),
            ("health-expect", "{status"),
        ],
        &[("max-failed-tasks", "0")],
        &[("unreachable-timeout", "0s")],
        &[("service", "")],
    ];
    let mut errors = Vec::new();
    for inputs in cases {
        let run = run(&sandbox, inputs);
        assert_eq!(run.code, 2, "{inputs:?}: {}", run.log);
        errors.push(format!("{inputs:?}\n{}", run.log));
    }
    assert!(
        sandbox.calls().is_empty(),
        "no AWS call for inputs that do not parse"
    );
    let cases: &[&[(&str, &str)]] = &[
        &[("cluster", "no-such-cluster")],
        &[("service", "no-such-service")],
        &[("deployment-id", "ecs-svc/1234")],
    ];
    for inputs in cases {
        let run = run(&sandbox, inputs);
        assert_eq!(run.code, 2, "{inputs:?}: {}", run.log);
        errors.push(format!("{inputs:?}\n{}", run.log));
    }
    assert!(sandbox.calls().iter().all(|c| !c.is_mutating()));
    // The inputs are the test's own: only the sandbox's deployment id varies.
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(
        r"its deployments: ecs-svc/\d+",
        "its deployments: ecs-svc/[ID]",
    );
    settings.bind(|| insta::assert_snapshot!("bad_inputs", errors.join("\n")));
}

#[test]
fn throttling_slows_the_poll_but_the_rollout_is_seen_healthy() {
    let sandbox = sandbox("throttling");
    let id = start_rollout(&sandbox);
    let run = run(&sandbox, &[("deployment-id", &id), ("timeout", "3m")]);
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(run.outputs["result"], "healthy");
}

#[test]
fn a_cancelled_job_stops_writes_the_summary_and_fails() {
    let sandbox = sandbox("slow-start");
    let id = start_rollout(&sandbox);
    let running = step(&sandbox, &[("deployment-id", &id), ("timeout", "5m")]).spawn();
    // Wait until it has looked at the service at least once.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !sandbox
        .calls()
        .iter()
        .any(|c| c.operation == "DescribeServices")
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    running.terminate();
    let run = with_stderr(running.finish(std::time::Duration::from_secs(300)));
    assert_eq!(run.code, 1, "{}", run.log);
    assert_eq!(run.outputs["result"], "failed");
    insta::assert_snapshot!(run.errors().join("\n"), @"::error title=Deployment failed::the wait was cancelled (SIGTERM); the deployment goes on without being watched");
    assert!(
        run.summary.starts_with(
            "### ❌ wait-healthy: startupwebapp-service failed\n\nthe wait was cancelled (SIGTERM)"
        ),
        "{}",
        run.summary
    );
}

#[test]
fn server_errors_are_retried_and_the_rollout_is_seen_healthy() {
    let sandbox = sandbox("server-errors");
    let id = start_rollout(&sandbox);
    let run = run(&sandbox, &[("deployment-id", &id), ("timeout", "3m")]);
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(run.outputs["result"], "healthy");
    assert!(
        sandbox.calls().iter().any(|c| c.status >= 500),
        "the sandbox answered some calls with a server error"
    );
}
mod inputs;
