//! run-migration as a workflow runs it: the binary, a cleared environment with `INPUT_*`,
//! `GITHUB_OUTPUT` and `GITHUB_STEP_SUMMARY`, against the local sandbox.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use swa_sandbox::{Call, Sandbox};
use swa_testing::{RunningStep, Step, StepRun};

const BIN: &str = env!("CARGO_BIN_EXE_run-migration");
const CLUSTER: &str = "startupwebapp-cluster";
const SERVICE: &str = "startupwebapp-service";
const FAMILY: &str = "startupwebapp-migration-task";

fn sandbox(scenario: &str) -> Sandbox {
    swa_testing::sandbox_at(scenario, 20.0)
}

/// The step as a workflow runs it, with the sandbox's environment.
fn spawn(sandbox: &Sandbox, inputs: &[(&str, &str)]) -> RunningStep {
    Step::new(BIN).inputs(inputs).envs(sandbox.env()).spawn()
}

/// Waits up to 180 s for the step's end; `log` is its stdout, its stderr is shown with the
/// test's own.
#[allow(clippy::print_stderr)]
fn finish(step: RunningStep) -> StepRun {
    let run = step.finish(Duration::from_secs(180));
    eprint!("{}", run.stderr);
    run
}

fn run(sandbox: &Sandbox, inputs: &[(&str, &str)]) -> StepRun {
    finish(spawn(sandbox, inputs))
}

trait FirstError {
    fn error(&self) -> &str;
}

impl FirstError for StepRun {
    fn error(&self) -> &str {
        self.log
            .lines()
            .find(|l| l.starts_with("::error"))
            .unwrap_or_else(|| panic!("no ::error:: in\n{}", self.log))
    }
}

fn ops<'a>(calls: &'a [Call], operation: &str) -> Vec<&'a Call> {
    calls.iter().filter(|c| c.operation == operation).collect()
}

const WITH_SERVICE: &[(&str, &str)] = &[
    ("cluster", CLUSTER),
    ("service", SERVICE),
    ("task-definition", FAMILY),
];

const SUCCESS_LINES: &[&str] = &[
    "Operations to perform:",
    "  Apply all migrations: admin, auth, catalog, contenttypes, orders, sessions, user",
    "Running migrations:",
    "  Applying catalog.0018_product_search_index... OK",
    "  Applying orders.0042_order_tracking_number... OK",
];

#[test]
fn a_migration_that_succeeds_streams_its_log_and_exits_0() {
    let sb = sandbox("healthy");
    let r = run(&sb, WITH_SERVICE);
    assert_eq!(r.code, 0, "{}", r.log);
    // Each line once, in order, between the group markers.
    let mut at = r.log.find("::group::Migration: task ").unwrap();
    for line in SUCCESS_LINES {
        let needle = format!("\n{line}\n");
        assert_eq!(
            r.log.matches(&needle).count(),
            1,
            "{line} once in\n{}",
            r.log
        );
        let here = r.log.find(&needle).unwrap();
        assert!(here > at, "{line} out of order in\n{}", r.log);
        at = here;
    }
    assert!(r.log.find("::endgroup::").unwrap() > at);
    assert!(r.log.contains("Migration succeeded"), "{}", r.log);

    let calls = sb.calls();
    let runs = ops(&calls, "RunTask");
    assert_eq!(runs.len(), 1);
    let req = &runs[0].request;
    assert_eq!(
        req["taskDefinition"],
        "arn:aws:ecs:us-east-1:123456789012:task-definition/startupwebapp-migration-task:3"
    );
    assert_eq!(req["startedBy"], "swa-actions");
    assert_eq!(req["launchType"], "FARGATE");
    assert_eq!(
        req["overrides"]["containerOverrides"][0],
        serde_json::json!({"name": "migration", "command": ["python", "manage.py", "migrate", "--noinput"]})
    );
    // The network comes from the service.
    let vpc = &req["networkConfiguration"]["awsvpcConfiguration"];
    assert_eq!(
        vpc["subnets"],
        serde_json::json!(["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"])
    );
    assert_eq!(
        vpc["securityGroups"],
        serde_json::json!(["sg-0a1b2c3d4e5f60003"])
    );
    assert_eq!(vpc["assignPublicIp"], "DISABLED");
    // Nothing else changed anything.
    let mutating: Vec<&str> = calls
        .iter()
        .filter(|c| c.is_mutating())
        .map(|c| c.operation.as_str())
        .collect();
    assert_eq!(mutating, ["RunTask"]);

    let names = r.output_names();
    assert_eq!(names, run_migration::OUTPUTS);
    let task = r.output("task-arn");
    assert!(
        task.starts_with("arn:aws:ecs:us-east-1:123456789012:task/startupwebapp-cluster/"),
        "{task}"
    );
    let id = task.rsplit('/').next().unwrap();
    assert_eq!(r.output("log-group"), "/ecs/startupwebapp-migrations");
    assert_eq!(r.output("log-stream"), format!("ecs/migration/{id}"));
    assert_eq!(r.output("exit-code"), "0");
    assert!(r.output("elapsed-seconds").parse::<u64>().is_ok());
    assert!(
        r.summary.starts_with("### ✅ Migration succeeded"),
        "{}",
        r.summary
    );
    assert!(
        r.summary
            .contains("Applying orders.0042_order_tracking_number... OK"),
        "{}",
        r.summary
    );
}

#[test]
fn a_failing_migration_exits_1_with_its_traceback() {
    let sb = sandbox("migration-fails");
    let r = run(&sb, WITH_SERVICE);
    assert_eq!(r.code, 1, "{}", r.log);
    assert!(
        r.log.contains("\nTraceback (most recent call last):\n"),
        "{}",
        r.log
    );
    assert!(r.log.contains("\npsycopg2.errors.DuplicateColumn: column \"tracking_number\" of relation \"orders_order\" already exists\n"));
    let error = r.error();
    assert!(
        error.starts_with("::error title=Migration failed::"),
        "{error}"
    );
    assert!(error.contains("migration exited 1"), "{error}");
    assert!(
        error.contains("django.db.utils.ProgrammingError: column \"tracking_number\""),
        "{error}"
    );
    assert_eq!(r.output("exit-code"), "1");
    assert!(
        r.summary.starts_with("### ❌ Migration failed"),
        "{}",
        r.summary
    );
    assert!(r.summary.contains("<details open>"), "{}", r.summary);
}

#[test]
fn a_task_whose_image_cannot_be_pulled_fails_with_its_stop_reasons() {
    let sb = sandbox("migration-no-start");
    let r = run(&sb, WITH_SERVICE);
    assert_eq!(r.code, 1, "{}", r.log);
    let reason = "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref 123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp:release-3: not found";
    let error = r.error();
    assert!(
        error.starts_with("::error title=Migration failed::"),
        "{error}"
    );
    // The stopCode with the stoppedReason, then the container's own reason.
    let stop = format!("(TaskFailedToStart: {reason})");
    let container = format!("migration did not exit: {reason}");
    for text in [stop.as_str(), container.as_str()] {
        assert!(error.contains(text), "{text} in {error}");
        assert!(r.log.matches(text).count() >= 2, "{text} in\n{}", r.log);
        assert!(r.summary.contains(text), "{text} in\n{}", r.summary);
    }
    assert!(
        r.summary.starts_with("### ❌ Migration failed"),
        "{}",
        r.summary
    );
    assert!(r.summary.contains("| Exit code | none |"), "{}", r.summary);
    assert_eq!(r.output("exit-code"), "");
    // One task, started once; nothing retried it.
    let calls = sb.calls();
    assert_eq!(ops(&calls, "RunTask").len(), 1);
}

#[test]
fn the_guard_refuses_destructive_operations_and_runs_only_the_plan() {
    let sb = sandbox("destructive-migration");
    let mut inputs = WITH_SERVICE.to_vec();
    inputs.push(("destructive-guard", "true"));
    let r = run(&sb, &inputs);
    assert_eq!(r.code, 1, "{}", r.log);
    let error = r.error();
    assert!(
        error.starts_with("::error title=Destructive migration refused::"),
        "{error}"
    );
    assert!(error.contains("user.0031_remove_profile_legacy_phone: RemoveField (Remove field legacy_phone from profile)"), "{error}");
    assert!(
        error.contains(
            "orders.0042_order_tracking_number: AlterField (Alter field status on order)"
        ),
        "{error}"
    );
    assert!(
        !error.contains("CreateModel") && !error.contains("AddField"),
        "{error}"
    );
    let calls = sb.calls();
    let runs = ops(&calls, "RunTask");
    assert_eq!(runs.len(), 1, "only the plan ran");
    assert_eq!(
        runs[0].request["overrides"]["containerOverrides"][0]["command"],
        serde_json::json!(["python", "manage.py", "migrate", "--noinput", "--plan"])
    );
    assert!(r.outputs.is_empty(), "{:?}", r.outputs);
    assert!(
        r.summary
            .contains("| user | 0031\\_remove\\_profile\\_legacy\\_phone | RemoveField |"),
        "{}",
        r.summary
    );
}

#[test]
fn the_guard_lets_a_backward_compatible_plan_migrate() {
    let sb = sandbox("healthy");
    let mut inputs = WITH_SERVICE.to_vec();
    inputs.push(("destructive-guard", "true"));
    let r = run(&sb, &inputs);
    assert_eq!(r.code, 0, "{}", r.log);
    assert!(!r.log.contains("::error"), "{}", r.log);
    assert!(!r.log.contains("destructive operation(s)"), "{}", r.log);
    let calls = sb.calls();
    let commands: Vec<&serde_json::Value> = ops(&calls, "RunTask")
        .iter()
        .map(|c| &c.request["overrides"]["containerOverrides"][0]["command"])
        .collect();
    assert_eq!(
        commands,
        [
            &serde_json::json!(["python", "manage.py", "migrate", "--noinput", "--plan"]),
            &serde_json::json!(["python", "manage.py", "migrate", "--noinput"]),
        ]
    );
    assert_eq!(r.output("exit-code"), "0");
    assert!(
        r.summary.starts_with("### ✅ Migration succeeded"),
        "{}",
        r.summary
    );
}

#[test]
fn allow_destructive_lists_them_and_migrates() {
    let sb = sandbox("destructive-migration");
    let mut inputs = WITH_SERVICE.to_vec();
    inputs.push(("destructive-guard", "true"));
    inputs.push(("allow-destructive", "true"));
    let r = run(&sb, &inputs);
    assert_eq!(r.code, 0, "{}", r.log);
    assert!(
        r.log.contains(
            "::warning::running 2 destructive operation(s) because allow-destructive is true"
        ),
        "{}",
        r.log
    );
    assert!(
        r.log
            .contains("\n  Applying user.0031_remove_profile_legacy_phone... OK\n")
    );
    let calls = sb.calls();
    let commands: Vec<&serde_json::Value> = ops(&calls, "RunTask")
        .iter()
        .map(|c| &c.request["overrides"]["containerOverrides"][0]["command"])
        .collect();
    assert_eq!(commands.len(), 2);
    assert_eq!(
        *commands[1],
        serde_json::json!(["python", "manage.py", "migrate", "--noinput"])
    );
}

#[test]
fn a_timeout_stops_the_task_and_exits_1() {
    let sb = sandbox("healthy");
    let mut inputs = WITH_SERVICE.to_vec();
    inputs.push((
        "command",
        r#"["gunicorn", "StartupWebApp.wsgi", "--bind", "0.0.0.0:8000"]"#,
    ));
    inputs.push(("timeout", "8s"));
    let r = run(&sb, &inputs);
    assert_eq!(r.code, 1, "{}", r.log);
    let error = r.error();
    assert!(
        error.starts_with("::error title=Migration timed out::"),
        "{error}"
    );
    assert!(
        r.log.contains("[INFO] Starting gunicorn"),
        "the log streamed until the stop: {}",
        r.log
    );
    let calls = sb.calls();
    let stops = ops(&calls, "StopTask");
    assert_eq!(stops.len(), 1);
    assert_eq!(stops[0].request["task"], r.output("task-arn"));
    assert_eq!(
        stops[0].request["reason"],
        "run-migration: timed out after 8.0s"
    );
}

#[test]
fn a_cancelled_job_stops_the_task() {
    let sb = sandbox("healthy");
    let mut inputs = WITH_SERVICE.to_vec();
    inputs.push(("command", "gunicorn StartupWebApp.wsgi"));
    let mut step = spawn(&sb, &inputs);
    step.wait_for("[INFO] Starting gunicorn", Duration::from_secs(120));
    step.terminate();
    let r = finish(step);
    assert_eq!(r.code, 1, "{}", r.log);
    assert!(
        r.error().contains("the job was cancelled (SIGTERM)"),
        "{}",
        r.log
    );
    let calls = sb.calls();
    let stops = ops(&calls, "StopTask");
    assert_eq!(stops.len(), 1);
    assert_eq!(
        stops[0].request["reason"],
        "run-migration: the job was cancelled (SIGTERM)"
    );
}

#[test]
fn run_task_failures_are_reported_and_exit_1() {
    let sb = sandbox("no-capacity");
    let r = run(&sb, WITH_SERVICE);
    assert_eq!(r.code, 1, "{}", r.log);
    let error = r.error();
    assert!(error.starts_with("::error title=Migration task not started::ECS could not start the task: Capacity is unavailable at this time"), "{error}");
    let calls = sb.calls();
    assert!(ops(&calls, "DescribeTasks").is_empty());
}

/// A subnet or security group EC2 does not know is bad input, found before anything is
/// registered or run (with `image`, the migration revision is not registered either).
#[test]
fn an_unknown_subnet_or_security_group_is_bad_input_and_changes_nothing() {
    let image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp:release-4";
    let mut errors = Vec::new();
    for (input, value) in [
        (
            "subnets",
            "subnet-0a1b2c3d4e5f60001, subnet-0deadbeef0000000",
        ),
        ("security-groups", "sg-0deadbeef0000000"),
    ] {
        let sb = sandbox("healthy");
        let mut inputs = WITH_SERVICE.to_vec();
        inputs.push((input, value));
        inputs.push(("image", image));
        let r = run(&sb, &inputs);
        assert_eq!(r.code, 2, "{}", r.log);
        errors.push(r.error().to_string());
        let calls = sb.calls();
        assert!(
            calls.iter().all(|c| !c.is_mutating()),
            "{:?}",
            calls.iter().map(|c| &c.operation).collect::<Vec<_>>()
        );
    }
    insta::assert_snapshot!(errors.join("\n"), @r#"
        ::error title=Invalid input `subnets`::input `subnets` was refused by EC2: InvalidSubnetID.NotFound: The subnet ID 'subnet-0deadbeef0000000' does not exist
        ::error title=Invalid input `security-groups`::input `security-groups` was refused by EC2: InvalidGroup.NotFound: The security group 'sg-0deadbeef0000000' does not exist
        "#);
}

#[test]
fn throttling_while_waiting_is_ridden_out() {
    let sb = sandbox("throttling");
    let r = run(&sb, WITH_SERVICE);
    assert_eq!(r.code, 0, "{}", r.log);
    for line in SUCCESS_LINES {
        assert_eq!(
            r.log.matches(&format!("\n{line}\n")).count(),
            1,
            "{line} once in\n{}",
            r.log
        );
    }
    let calls = sb.calls();
    let throttled = calls
        .iter()
        .filter(|c| {
            c.status == 400 && (c.operation == "DescribeTasks" || c.operation == "GetLogEvents")
        })
        .count();
    assert!(throttled > 0, "the scenario throttled the wait");
    assert_eq!(
        ops(&calls, "RunTask")
            .iter()
            .filter(|c| c.status == 200)
            .count(),
        1
    );
}

#[test]
fn bad_input_exits_2_and_starts_nothing() {
    let sb = sandbox("healthy");
    // An unknown family.
    let r = run(
        &sb,
        &[
            ("cluster", CLUSTER),
            ("service", SERVICE),
            ("task-definition", "no-such-family"),
        ],
    );
    assert_eq!(r.code, 2, "{}", r.log);
    assert!(
        r.error()
            .contains("input `task-definition` names task definition `no-such-family`"),
        "{}",
        r.log
    );
    // No network configuration anywhere for an awsvpc task definition.
    let r = run(&sb, &[("cluster", CLUSTER), ("task-definition", FAMILY)]);
    assert_eq!(r.code, 2, "{}", r.log);
    assert!(
        r.error().contains("no network configuration was found"),
        "{}",
        r.log
    );
    // An unknown service.
    let r = run(&sb, &[("cluster", CLUSTER), ("service", "no-such-service")]);
    assert_eq!(r.code, 2, "{}", r.log);
    assert!(
        r.error()
            .contains("input `service` names `no-such-service`"),
        "{}",
        r.log
    );
    assert!(
        sb.calls().iter().all(|c| !c.is_mutating()),
        "{:?}",
        sb.calls()
    );

    // Malformed command JSON: refused before any call at all.
    let before = sb.calls().len();
    let mut inputs = WITH_SERVICE.to_vec();
    inputs.push(("command", r#"["python", "manage.py", "migrate""#));
    let r = run(&sb, &inputs);
    assert_eq!(r.code, 2, "{}", r.log);
    assert!(r.error().starts_with("::error title=Invalid input `command`::input `command` is not a valid JSON array of strings"), "{}", r.log);
    assert_eq!(sb.calls().len(), before);
}

#[test]
fn server_errors_are_retried_without_losing_or_repeating_lines() {
    let sb = sandbox("throttling,server-errors");
    let r = run(&sb, WITH_SERVICE);
    assert_eq!(r.code, 0, "{}", r.log);
    for line in SUCCESS_LINES {
        assert_eq!(
            r.log.matches(&format!("\n{line}\n")).count(),
            1,
            "{line} once in\n{}",
            r.log
        );
    }
    let calls = sb.calls();
    assert!(
        calls.iter().any(|c| c.status >= 500),
        "the scenario failed some calls"
    );
    assert_eq!(
        ops(&calls, "RunTask")
            .iter()
            .filter(|c| c.status == 200)
            .count(),
        1,
        "one task, however often RunTask was retried"
    );
}
mod image;
mod inputs;
