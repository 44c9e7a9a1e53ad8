//! The action's logic over mocked ECS and CloudWatch Logs: what it asks, what it prints, how it
//! ends.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_cloudwatchlogs as logs;
use aws_sdk_ec2 as ec2;
use aws_sdk_ecs as ecs;
use aws_smithy_mocks::{Rule, mock};
use ecs::operation::describe_services::DescribeServicesOutput;
use ecs::operation::describe_task_definition::{
    DescribeTaskDefinitionError, DescribeTaskDefinitionOutput,
};
use ecs::operation::describe_tasks::{DescribeTasksError, DescribeTasksOutput};
use ecs::operation::run_task::{RunTaskInput, RunTaskOutput};
use ecs::operation::stop_task::{StopTaskInput, StopTaskOutput};
use ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, Compatibility, Container, ContainerDefinition, Failure,
    LaunchType, LogConfiguration, LogDriver, NetworkConfiguration, NetworkMode, Service, Task,
    TaskDefinition, TaskStopCode,
};
use logs::operation::get_log_events::{GetLogEventsInput, GetLogEventsOutput};
use logs::types::OutputLogEvent;
use swa_gha::{ActionError, Env, ExitKind, Gha};

use super::*;

const CLUSTER: &str = "startupwebapp-cluster";
const TASK_ARN: &str = "arn:aws:ecs:us-east-1:123456789012:task/startupwebapp-cluster/5e6f7a8b9c0d4e1f8a2b3c4d5e6f7a8b";
const DEF_ARN: &str =
    "arn:aws:ecs:us-east-1:123456789012:task-definition/startupwebapp-migration-task:3";

fn no_retries() -> aws_smithy_types::retry::RetryConfig {
    aws_smithy_types::retry::RetryConfig::disabled()
}

fn ecs_client(rules: &[&Rule]) -> ecs::Client {
    swa_testing::mock_client!(ecs, rules, retry: no_retries())
}

fn logs_client(rules: &[&Rule]) -> logs::Client {
    swa_testing::mock_client!(logs, rules, retry: no_retries())
}

fn ecr_client(rules: &[&Rule]) -> ecr::Client {
    swa_testing::mock_client!(ecr, rules, retry: no_retries())
}

fn ec2_client(rules: &[&Rule]) -> ec2::Client {
    swa_testing::mock_client!(ec2, rules, retry: no_retries())
}

/// DescribeSecurityGroups that knows every group it is asked about, all in `vpc-1`.
fn groups_in_vpc_1() -> Rule {
    mock!(ec2::Client::describe_security_groups).then_compute_output(|r| {
        let mut out =
            ec2::operation::describe_security_groups::DescribeSecurityGroupsOutput::builder();
        for id in r.group_ids() {
            out = out.security_groups(
                ec2::types::SecurityGroup::builder()
                    .group_id(id)
                    .vpc_id("vpc-1")
                    .build(),
            );
        }
        out.build()
    })
}

/// EC2 that knows every subnet and security group it is asked about, all in one VPC.
fn ec2_knows_all() -> ec2::Client {
    let subnets = mock!(ec2::Client::describe_subnets).then_compute_output(|r| {
        let mut out = ec2::operation::describe_subnets::DescribeSubnetsOutput::builder();
        for id in r.subnet_ids() {
            out = out.subnets(
                ec2::types::Subnet::builder()
                    .subnet_id(id)
                    .vpc_id("vpc-1")
                    .build(),
            );
        }
        out.build()
    });
    let groups = groups_in_vpc_1();
    ec2_client(&[&subnets, &groups])
}

fn definition() -> TaskDefinition {
    TaskDefinition::builder()
        .task_definition_arn(DEF_ARN)
        .family("startupwebapp-migration-task")
        .revision(3)
        .network_mode(NetworkMode::Awsvpc)
        .requires_compatibilities(Compatibility::Fargate)
        .container_definitions(
            ContainerDefinition::builder()
                .name("migration")
                .essential(true)
                .log_configuration(
                    LogConfiguration::builder()
                        .log_driver(LogDriver::Awslogs)
                        .options("awslogs-group", "/ecs/startupwebapp-migrations")
                        .options("awslogs-stream-prefix", "ecs")
                        .options("awslogs-region", "us-east-1")
                        .build()
                        .expect("log configuration"),
                )
                .build(),
        )
        .build()
}

fn describe_definition() -> Rule {
    mock!(ecs::Client::describe_task_definition).then_output(|| {
        DescribeTaskDefinitionOutput::builder()
            .task_definition(definition())
            .build()
    })
}

fn task(status: &str) -> Task {
    Task::builder()
        .task_arn(TASK_ARN)
        .last_status(status)
        .containers(
            Container::builder()
                .name("migration")
                .last_status(status)
                .build(),
        )
        .build()
}

fn stopped(
    exit: Option<i32>,
    code: TaskStopCode,
    reason: &str,
    container_reason: Option<&str>,
) -> Task {
    let mut container = Container::builder()
        .name("migration")
        .last_status("STOPPED");
    if let Some(exit) = exit {
        container = container.exit_code(exit);
    }
    if let Some(r) = container_reason {
        container = container.reason(r);
    }
    Task::builder()
        .task_arn(TASK_ARN)
        .last_status("STOPPED")
        .stop_code(code)
        .stopped_reason(reason)
        .containers(container.build())
        .build()
}

fn tasks(task: Task) -> DescribeTasksOutput {
    DescribeTasksOutput::builder().tasks(task).build()
}

/// DescribeTasks: PENDING, RUNNING twice, then `end` from then on.
fn lifecycle(end: Task) -> Rule {
    mock!(ecs::Client::describe_tasks)
        .sequence()
        .output(|| tasks(task("PENDING")))
        .output(|| tasks(task("RUNNING")))
        .output(|| tasks(task("RUNNING")))
        .output(move || tasks(end.clone()))
        .repeatedly()
        .build()
}

type Recorded<T> = Arc<Mutex<Vec<T>>>;

fn run_task_ok(recorded: &Recorded<RunTaskInput>) -> Rule {
    let recorded = recorded.clone();
    mock!(ecs::Client::run_task).then_compute_output(move |input| {
        recorded.lock().expect("lock").push(input.clone());
        RunTaskOutput::builder().tasks(task("PROVISIONING")).build()
    })
}

/// A log stream that holds `lines`, written in pages of two, read with forward tokens.
fn log_stream(lines: &'static [&'static str], reads: &Recorded<GetLogEventsInput>) -> Rule {
    let reads = reads.clone();
    mock!(logs::Client::get_log_events).then_compute_output(move |input| {
        reads.lock().expect("lock").push(input.clone());
        let from: usize = input
            .next_token()
            .and_then(|t| t.strip_prefix("f/"))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let to = (from + 2).min(lines.len());
        let mut out = GetLogEventsOutput::builder().next_forward_token(format!("f/{to}"));
        for (i, line) in lines[from..to].iter().enumerate() {
            out = out.events(
                OutputLogEvent::builder()
                    .timestamp((from + i) as i64)
                    .message(format!("{line}\n"))
                    .build(),
            );
        }
        out.build()
    })
}

fn timing() -> Timing {
    Timing {
        describe_every: Duration::from_millis(20),
        logs_every: Duration::from_millis(10),
        drain_grace: Duration::from_millis(20),
        max_backoff: Duration::from_millis(80),
    }
}

struct Outcome {
    result: Result<(), ActionError>,
    log: String,
    outputs: String,
    summary: String,
}

fn args(inputs: &[(&str, &str)]) -> Args {
    let mut pairs: Vec<(String, String)> = vec![("INPUT_CLUSTER".into(), CLUSTER.into())];
    pairs.extend(
        inputs
            .iter()
            .map(|(k, v)| (swa_gha::input_env_name(k), v.to_string())),
    );
    swa_gha::parse_args::<Args>(&Env::from_pairs(pairs), ["run-migration".to_string()])
        .unwrap_or_else(|e| panic!("args: {e:?}"))
}

const NETWORK: &[(&str, &str)] = &[
    ("task-definition", "startupwebapp-migration-task"),
    (
        "subnets",
        "subnet-0a1b2c3d4e5f60001,subnet-0a1b2c3d4e5f60002",
    ),
    ("security-groups", "sg-0a1b2c3d4e5f60003"),
];

/// Asserts snapshots with durations and times replaced.
fn snapshots(assertions: impl FnOnce()) {
    let mut settings = swa_testing::snapshot_settings();
    settings.add_filter(swa_testing::DURATION, "[DURATION]");
    settings.add_filter(
        r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?Z?\b",
        "[TIME]",
    );
    settings.bind(assertions);
}

async fn go(args: Args, ecs: ecs::Client, logs: logs::Client, cancel: Cancel) -> Outcome {
    go_ecr(args, ecs, logs, ecr_client(&[]), cancel).await
}

async fn go_ecr(
    args: Args,
    ecs: ecs::Client,
    logs: logs::Client,
    ecr: ecr::Client,
    cancel: Cancel,
) -> Outcome {
    go_clients(
        args,
        Clients {
            ecs,
            logs,
            ecr,
            ec2: ec2_knows_all(),
        },
        cancel,
    )
    .await
}

async fn go_clients(args: Args, clients: Clients, cancel: Cancel) -> Outcome {
    let dir = tempfile::tempdir().expect("tempdir");
    let outputs = dir.path().join("outputs");
    let summary = dir.path().join("summary");
    let env = Env::from_pairs([
        ("GITHUB_OUTPUT", outputs.to_string_lossy().to_string()),
        ("GITHUB_STEP_SUMMARY", summary.to_string_lossy().to_string()),
    ]);
    let (gha, log): (Gha, _) = Gha::capture(env);
    let result = match Checked::new(&args) {
        Ok(checked) => execute(&args, checked, &gha, &clients, timing(), cancel).await,
        Err(e) => Err(e),
    };
    Outcome {
        result,
        log: log.text(),
        outputs: std::fs::read_to_string(&outputs).unwrap_or_default(),
        summary: std::fs::read_to_string(&summary).unwrap_or_default(),
    }
}

fn never() -> Cancel {
    Box::pin(std::future::pending())
}

/// `name<<delim\nvalue\ndelim` records -> (name, value).
fn outputs(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(head) = lines.next() {
        let (name, delim) = head.split_once("<<").expect("heredoc");
        let mut value = Vec::new();
        for line in lines.by_ref() {
            if line == delim {
                break;
            }
            value.push(line);
        }
        out.push((name.to_string(), value.join("\n")));
    }
    out
}

const MIGRATE_LOG: &[&str] = &[
    "Operations to perform:",
    "  Apply all migrations: catalog",
    "Running migrations:",
    "  Applying catalog.0003_drop_legacy... OK",
    "  Applying catalog.0004_rename_and_retype... OK",
];

#[tokio::test]
async fn a_successful_migration_streams_every_line_once_and_writes_the_outputs() {
    let runs = Recorded::default();
    let reads = Recorded::default();
    let run = run_task_ok(&runs);
    let describe = lifecycle(stopped(
        Some(0),
        TaskStopCode::EssentialContainerExited,
        "Essential container in task exited",
        None,
    ));
    let stream = log_stream(MIGRATE_LOG, &reads);
    let out = go(
        args(NETWORK),
        ecs_client(&[&describe_definition(), &run, &describe]),
        logs_client(&[&stream]),
        never(),
    )
    .await;
    assert!(out.result.is_ok(), "{:?}\n{}", out.result, out.log);

    // Every line, in order, exactly once, inside the group.
    let log = &out.log;
    let positions: Vec<usize> = MIGRATE_LOG
        .iter()
        .map(|l| {
            assert_eq!(
                log.matches(&format!("{l}\n")).count(),
                1,
                "{l} once in:\n{log}"
            );
            log.find(&format!("\n{l}\n")).expect("line")
        })
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{log}");
    let group = log
        .find("::group::Migration: task 5e6f7a8b")
        .expect("group");
    let end = log.rfind("::endgroup::").expect("endgroup");
    assert!(group < positions[0] && positions[4] < end, "{log}");
    assert!(log.contains("Migration succeeded"), "{log}");

    // The forward token is followed: each read starts where the last one ended.
    let reads = reads.lock().expect("lock");
    assert!(reads.iter().all(|r| r.start_from_head() == Some(true)
        && r.log_group_name() == Some("/ecs/startupwebapp-migrations")
        && r.log_stream_name() == Some("ecs/migration/5e6f7a8b9c0d4e1f8a2b3c4d5e6f7a8b")));
    assert_eq!(reads[0].next_token(), None);

    // RunTask: one task, the command override, the network, Fargate, startedBy, a client token.
    let runs = runs.lock().expect("lock");
    assert_eq!(runs.len(), 1);
    let r = &runs[0];
    assert_eq!(r.cluster(), Some(CLUSTER));
    assert_eq!(r.task_definition(), Some(DEF_ARN));
    assert_eq!(r.count(), Some(1));
    assert_eq!(r.started_by(), Some("swa-actions"));
    assert_eq!(r.launch_type(), Some(&LaunchType::Fargate));
    assert!(r.client_token().is_some_and(|t| t.len() >= 32));
    let o = &r.overrides().expect("overrides").container_overrides()[0];
    assert_eq!(o.name(), Some("migration"));
    assert_eq!(o.command(), ["python", "manage.py", "migrate", "--noinput"]);
    let vpc = r
        .network_configuration()
        .and_then(|n| n.awsvpc_configuration())
        .expect("awsvpc");
    assert_eq!(
        vpc.subnets(),
        ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]
    );
    assert_eq!(vpc.security_groups(), ["sg-0a1b2c3d4e5f60003"]);

    let outputs = outputs(&out.outputs);
    let names: Vec<&str> = outputs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, OUTPUTS);
    assert_eq!(outputs[0].1, DEF_ARN);
    assert_eq!(outputs[1].1, TASK_ARN);
    assert_eq!(outputs[2].1, "/ecs/startupwebapp-migrations");
    assert_eq!(
        outputs[3].1,
        "ecs/migration/5e6f7a8b9c0d4e1f8a2b3c4d5e6f7a8b"
    );
    assert_eq!(outputs[4].1, "0");
    assert!(outputs[5].1.parse::<u64>().is_ok(), "{}", outputs[5].1);
    assert!(
        out.summary.starts_with("### ✅ Migration succeeded"),
        "{}",
        out.summary
    );
    assert!(
        out.summary
            .contains("Applying catalog.0004_rename_and_retype... OK")
    );
}

const TRACEBACK: &[&str] = &[
    "Operations to perform:",
    "Running migrations:",
    "  Applying catalog.0003_drop_legacy...Traceback (most recent call last):",
    "  File \"/app/manage.py\", line 22, in <module>",
    "django.db.utils.ProgrammingError: column \"legacy_sku\" does not exist",
];

#[tokio::test]
async fn a_failed_migration_exits_1_with_the_traceback() {
    let runs = Recorded::default();
    let reads = Recorded::default();
    let run = run_task_ok(&runs);
    let describe = lifecycle(stopped(
        Some(1),
        TaskStopCode::EssentialContainerExited,
        "Essential container in task exited",
        None,
    ));
    let stream = log_stream(TRACEBACK, &reads);
    let out = go(
        args(NETWORK),
        ecs_client(&[&describe_definition(), &run, &describe]),
        logs_client(&[&stream]),
        never(),
    )
    .await;
    let e = out.result.expect_err("fails");
    assert_eq!(e.kind(), ExitKind::Failed);
    insta::assert_snapshot!(e.to_string(), @r#"
        the migration failed: task 5e6f7a8b9c0d4e1f8a2b3c4d5e6f7a8b stopped (EssentialContainerExited: Essential container in task exited); migration exited 1
        Last log lines:
          Applying catalog.0003_drop_legacy...Traceback (most recent call last):
          File "/app/manage.py", line 22, in <module>
        django.db.utils.ProgrammingError: column "legacy_sku" does not exist
        "#);
    let outputs = outputs(&out.outputs);
    assert_eq!(outputs[4], ("exit-code".to_string(), "1".to_string()));
    // The summary opens with the failure and shows the log's last lines unfolded.
    snapshots(|| {
        insta::assert_snapshot!(out.summary, @r#"
    ### ❌ Migration failed

    | | |
    |---|---|
    | Command | <code>python manage.py migrate --noinput</code> |
    | Task definition | <code>startupwebapp-migration-task:3</code> (container <code>migration</code>, cluster <code>startupwebapp-cluster</code>) |
    | Task | <code>arn:aws:ecs:us-east-1:123456789012:task/startupwebapp-cluster/5e6f7a8b9c0d4e1f8a2b3c4d5e6f7a8b</code> |
    | Result | task 5e6f7a8b9c0d4e1f8a2b3c4d5e6f7a8b stopped (EssentialContainerExited: Essential container in task exited); migration exited 1 |
    | Exit code | 1 |
    | Elapsed | [DURATION] |
    | Log | <code>/ecs/startupwebapp-migrations</code> <code>ecs/migration/5e6f7a8b9c0d4e1f8a2b3c4d5e6f7a8b</code> |

    <details open><summary>Last 5 log lines</summary>

    ```text
    Operations to perform:
    Running migrations:
      Applying catalog.0003_drop_legacy...Traceback (most recent call last):
      File "/app/manage.py", line 22, in <module>
    django.db.utils.ProgrammingError: column "legacy_sku" does not exist
    ```

    </details>
    "#)
    });
}

#[tokio::test]
async fn a_container_that_never_started_fails_with_the_stop_code_and_reasons() {
    let runs = Recorded::default();
    let reads = Recorded::default();
    let run = run_task_ok(&runs);
    let describe = mock!(ecs::Client::describe_tasks)
        .sequence()
        .output(|| tasks(task("PENDING")))
        .output(|| {
            tasks(stopped(
                None,
                TaskStopCode::TaskFailedToStart,
                "CannotPullContainerError: pull image manifest has been retried 5 time(s)",
                Some("CannotPullContainerError: ref not found"),
            ))
        })
        .repeatedly()
        .build();
    let stream = log_stream(&[], &reads);
    let out = go(
        args(NETWORK),
        ecs_client(&[&describe_definition(), &run, &describe]),
        logs_client(&[&stream]),
        never(),
    )
    .await;
    insta::assert_snapshot!(out.result.expect_err("fails").to_string(), @"the migration failed: task 5e6f7a8b9c0d4e1f8a2b3c4d5e6f7a8b stopped (TaskFailedToStart: CannotPullContainerError: pull image manifest has been retried 5 time(s)); migration did not exit: CannotPullContainerError: ref not found");
    assert_eq!(
        outputs(&out.outputs)[4],
        ("exit-code".to_string(), String::new())
    );
}

#[tokio::test]
async fn run_task_failures_are_reported_and_nothing_is_awaited() {
    let run = mock!(ecs::Client::run_task).then_output(|| {
        RunTaskOutput::builder()
            .failures(
                Failure::builder()
                    .arn("arn:aws:ecs:us-east-1:123456789012:cluster/startupwebapp-cluster")
                    .reason("RESOURCE:MEMORY")
                    .detail("no capacity")
                    .build(),
            )
            .build()
    });
    let describe = mock!(ecs::Client::describe_tasks).then_output(|| tasks(task("RUNNING")));
    let out = go(
        args(NETWORK),
        ecs_client(&[&describe_definition(), &run, &describe]),
        logs_client(&[]),
        never(),
    )
    .await;
    let e = out.result.expect_err("fails");
    assert_eq!(e.kind(), ExitKind::Failed);
    assert_eq!(e.title(), Some("Migration task not started"));
    insta::assert_snapshot!(e.to_string(), @"ECS could not start the task: RESOURCE:MEMORY (no capacity) [arn:aws:ecs:us-east-1:123456789012:cluster/startupwebapp-cluster]");
    assert_eq!(describe.num_calls(), 0);
    assert!(out.outputs.is_empty());
}

#[tokio::test]
async fn throttling_while_waiting_slows_down_and_still_succeeds() {
    let runs = Recorded::default();
    let reads = Recorded::default();
    let run = run_task_ok(&runs);
    let throttled = || {
        DescribeTasksError::generic(
            aws_smithy_types::error::ErrorMetadata::builder()
                .code("ThrottlingException")
                .message("Rate exceeded")
                .build(),
        )
    };
    let describe = mock!(ecs::Client::describe_tasks)
        .sequence()
        .output(|| tasks(task("RUNNING")))
        .error(throttled)
        .times(3)
        .output(|| {
            tasks(stopped(
                Some(0),
                TaskStopCode::EssentialContainerExited,
                "done",
                None,
            ))
        })
        .repeatedly()
        .build();
    let stream = log_stream(MIGRATE_LOG, &reads);
    let out = go(
        args(NETWORK),
        ecs_client(&[&describe_definition(), &run, &describe]),
        logs_client(&[&stream]),
        never(),
    )
    .await;
    assert!(out.result.is_ok(), "{:?}\n{}", out.result, out.log);
    assert_eq!(
        out.log
            .matches("::warning::DescribeTasks: ThrottlingException: Rate exceeded")
            .count(),
        1,
        "{}",
        out.log
    );
    assert_eq!(describe.num_calls(), 5);
}

fn stop_task(recorded: &Recorded<StopTaskInput>) -> Rule {
    let recorded = recorded.clone();
    mock!(ecs::Client::stop_task).then_compute_output(move |input| {
        recorded.lock().expect("lock").push(input.clone());
        StopTaskOutput::builder().task(task("DEACTIVATING")).build()
    })
}

#[tokio::test]
async fn a_timeout_stops_the_task_and_fails() {
    let runs = Recorded::default();
    let stops = Recorded::default();
    let reads = Recorded::default();
    let describe = mock!(ecs::Client::describe_tasks).then_output(|| tasks(task("RUNNING")));
    let stream = log_stream(MIGRATE_LOG, &reads);
    let mut inputs = NETWORK.to_vec();
    inputs.push(("timeout", "300ms"));
    let out = go(
        args(&inputs),
        ecs_client(&[
            &describe_definition(),
            &run_task_ok(&runs),
            &describe,
            &stop_task(&stops),
        ]),
        logs_client(&[&stream]),
        never(),
    )
    .await;
    let e = out.result.expect_err("times out");
    assert_eq!(e.title(), Some("Migration timed out"));
    insta::assert_snapshot!(e.to_string(), @r#"
        the migration did not finish within 300ms; task 5e6f7a8b9c0d4e1f8a2b3c4d5e6f7a8b was stopped
        Last log lines:
        Running migrations:
          Applying catalog.0003_drop_legacy... OK
          Applying catalog.0004_rename_and_retype... OK
        "#);
    let stops = stops.lock().expect("lock");
    assert_eq!(stops.len(), 1);
    assert_eq!(stops[0].task(), Some(TASK_ARN));
    assert_eq!(stops[0].cluster(), Some(CLUSTER));
    assert_eq!(
        stops[0].reason(),
        Some("run-migration: timed out after 300ms")
    );
    assert!(
        out.summary.starts_with("### ⏱️ Migration timed out"),
        "{}",
        out.summary
    );
}

#[tokio::test]
async fn a_refused_stop_says_the_task_may_still_run_and_how_to_stop_it() {
    let runs = Recorded::default();
    let reads = Recorded::default();
    let describe = mock!(ecs::Client::describe_tasks).then_output(|| tasks(task("RUNNING")));
    let refuse = mock!(ecs::Client::stop_task).then_error(|| {
        ecs::operation::stop_task::StopTaskError::ClientException(
            ecs::types::error::ClientException::builder()
                .message("not authorized to perform ecs:StopTask\n::add-mask::x")
                .build(),
        )
    });
    let stream = log_stream(MIGRATE_LOG, &reads);
    let mut inputs = NETWORK.to_vec();
    inputs.push(("timeout", "300ms"));
    let out = go(
        args(&inputs),
        ecs_client(&[
            &describe_definition(),
            &run_task_ok(&runs),
            &describe,
            &refuse,
        ]),
        logs_client(&[&stream]),
        never(),
    )
    .await;
    let e = out.result.expect_err("times out");
    let first_line = e.to_string().lines().next().unwrap_or_default().to_string();
    insta::assert_snapshot!(first_line, @"the migration did not finish within 300ms; StopTask was refused (ClientException: not authorized to perform ecs:StopTask\\n::add-mask::x), so task 5e6f7a8b9c0d4e1f8a2b3c4d5e6f7a8b may still be running: stop it with `aws ecs stop-task --cluster startupwebapp-cluster --task 5e6f7a8b9c0d4e1f8a2b3c4d5e6f7a8b`");
    snapshots(|| {
        insta::assert_snapshot!(out.summary, @r#"
    ### ⏱️ Migration timed out

    | | |
    |---|---|
    | Command | <code>python manage.py migrate --noinput</code> |
    | Task definition | <code>startupwebapp-migration-task:3</code> (container <code>migration</code>, cluster <code>startupwebapp-cluster</code>) |
    | Task | <code>arn:aws:ecs:us-east-1:123456789012:task/startupwebapp-cluster/5e6f7a8b9c0d4e1f8a2b3c4d5e6f7a8b</code> |
    | Result | did not finish in time; StopTask was refused (ClientException: not authorized to perform ecs:StopTask\\n::add-mask::x), so task 5e6f7a8b9c0d4e1f8a2b3c4d5e6f7a8b may still be running: stop it with \`aws ecs stop-task --cluster startupwebapp-cluster --task 5e6f7a8b9c0d4e1f8a2b3c4d5e6f7a8b\` |
    | Exit code | none |
    | Elapsed | [DURATION] |
    | Log | <code>/ecs/startupwebapp-migrations</code> <code>ecs/migration/5e6f7a8b9c0d4e1f8a2b3c4d5e6f7a8b</code> |

    <details open><summary>Last 5 log lines</summary>

    ```text
    Operations to perform:
      Apply all migrations: catalog
    Running migrations:
      Applying catalog.0003_drop_legacy... OK
      Applying catalog.0004_rename_and_retype... OK
    ```

    </details>
    "#)
    });
    swa_testing::check_commands(&out.log).expect("no foreign command");
}

#[tokio::test]
async fn foreign_stop_reasons_and_log_lines_act_as_no_command() {
    let reads = Recorded::default();
    let runs = Recorded::default();
    let crafted = "::add-mask::x\n##[set-output name=result]ok | <b>bold</b>";
    let describe = lifecycle(stopped(
        Some(1),
        TaskStopCode::EssentialContainerExited,
        crafted,
        Some(crafted),
    ));
    let stream = log_stream(&["::stop-commands::guess", "##[error]from the log"], &reads);
    let out = go(
        args(NETWORK),
        ecs_client(&[&describe_definition(), &run_task_ok(&runs), &describe]),
        logs_client(&[&stream]),
        never(),
    )
    .await;
    assert!(out.result.is_err());
    swa_testing::check_commands(&out.log).expect("no foreign command");
    let result_row = out
        .summary
        .lines()
        .find(|l| l.starts_with("| Result |"))
        .unwrap_or_default()
        .to_string();
    insta::assert_snapshot!(result_row);
}

#[tokio::test]
async fn a_subnet_ec2_does_not_know_is_bad_input_before_any_task_starts() {
    let runs = Recorded::default();
    let reads = Recorded::default();
    let refused = mock!(ec2::Client::describe_subnets).then_error(|| {
        ec2::operation::describe_subnets::DescribeSubnetsError::generic(
            aws_smithy_types::error::ErrorMetadata::builder()
                .code("InvalidSubnetID.NotFound")
                .message("The subnet ID 'subnet-0a1b2c3d4e5f60001' does not exist")
                .build(),
        )
    });
    let other_vpc = mock!(ec2::Client::describe_subnets).then_compute_output(|r| {
        let mut out = ec2::operation::describe_subnets::DescribeSubnetsOutput::builder();
        for (i, id) in r.subnet_ids().iter().enumerate() {
            out = out.subnets(
                ec2::types::Subnet::builder()
                    .subnet_id(id)
                    .vpc_id(format!("vpc-{i}"))
                    .build(),
            );
        }
        out.build()
    });
    let groups = groups_in_vpc_1();
    let mut errors = Vec::new();
    for rule in [&refused, &other_vpc] {
        let out = go_clients(
            args(NETWORK),
            Clients {
                ecs: ecs_client(&[&describe_definition(), &run_task_ok(&runs)]),
                logs: logs_client(&[&log_stream(MIGRATE_LOG, &reads)]),
                ecr: ecr_client(&[]),
                ec2: ec2_client(&[rule, &groups]),
            },
            never(),
        )
        .await;
        let e = out.result.expect_err("refused");
        assert_eq!(e.kind(), ExitKind::BadInput);
        errors.push(e.to_string());
    }
    assert!(runs.lock().expect("lock").is_empty(), "no task was started");
    insta::assert_snapshot!(errors.join("\n"), @r#"
        input `subnets` was refused by EC2: InvalidSubnetID.NotFound: The subnet ID 'subnet-0a1b2c3d4e5f60001' does not exist
        input `subnets` names resources in more than one VPC (subnet subnet-0a1b2c3d4e5f60001 in vpc-0, subnet subnet-0a1b2c3d4e5f60002 in vpc-1, security group sg-0a1b2c3d4e5f60003 in vpc-1); a task's subnets and security groups must share one
        "#);
}

#[tokio::test]
async fn without_permission_to_ask_ec2_the_check_is_left_to_ecs() {
    let runs = Recorded::default();
    let reads = Recorded::default();
    let denied = mock!(ec2::Client::describe_subnets).then_error(|| {
        ec2::operation::describe_subnets::DescribeSubnetsError::generic(
            aws_smithy_types::error::ErrorMetadata::builder()
                .code("UnauthorizedOperation")
                .message("You are not authorized to perform this operation.")
                .build(),
        )
    });
    let groups = groups_in_vpc_1();
    let out = go_clients(
        args(NETWORK),
        Clients {
            ecs: ecs_client(&[
                &describe_definition(),
                &run_task_ok(&runs),
                &lifecycle(stopped(
                    Some(0),
                    TaskStopCode::EssentialContainerExited,
                    "Essential container in task exited",
                    None,
                )),
            ]),
            logs: logs_client(&[&log_stream(MIGRATE_LOG, &reads)]),
            ecr: ecr_client(&[]),
            ec2: ec2_client(&[&denied, &groups]),
        },
        never(),
    )
    .await;
    assert!(out.result.is_ok(), "{:?}\n{}", out.result, out.log);
    assert_eq!(runs.lock().expect("lock").len(), 1);
    let warnings: Vec<&str> = out
        .log
        .lines()
        .filter(|l| l.starts_with("::warning"))
        .collect();
    insta::assert_snapshot!(warnings.join("\n"), @r#"
        ::warning::could not check `subnets` with EC2 DescribeSubnets (UnauthorizedOperation: You are not authorized to perform this operation.); ECS checks them when the task starts
        "#);
}

#[tokio::test]
async fn a_cancelled_job_stops_the_task() {
    let runs = Recorded::default();
    let stops = Recorded::default();
    let reads = Recorded::default();
    let describe = mock!(ecs::Client::describe_tasks).then_output(|| tasks(task("RUNNING")));
    let stream = log_stream(MIGRATE_LOG, &reads);
    let cancel: Cancel = Box::pin(async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        "SIGTERM"
    });
    let out = go(
        args(NETWORK),
        ecs_client(&[
            &describe_definition(),
            &run_task_ok(&runs),
            &describe,
            &stop_task(&stops),
        ]),
        logs_client(&[&stream]),
        cancel,
    )
    .await;
    let e = out.result.expect_err("cancelled");
    assert_eq!(e.title(), Some("Migration cancelled"));
    insta::assert_snapshot!(e.to_string(), @"the job was cancelled (SIGTERM); migration task 5e6f7a8b9c0d4e1f8a2b3c4d5e6f7a8b was stopped");
    assert_eq!(
        stops.lock().expect("lock")[0].reason(),
        Some("run-migration: the job was cancelled (SIGTERM)")
    );
}

fn plan_lines() -> &'static [&'static str] {
    let text = include_str!("../../../tests/fixtures/django/plans/pending-destructive.txt");
    let lines: Vec<&'static str> = text.lines().collect();
    Box::leak(lines.into_boxed_slice())
}

#[tokio::test]
async fn the_guard_refuses_a_destructive_plan_and_migrates_nothing() {
    let runs = Recorded::default();
    let reads = Recorded::default();
    let describe = lifecycle(stopped(
        Some(0),
        TaskStopCode::EssentialContainerExited,
        "done",
        None,
    ));
    let stream = log_stream(plan_lines(), &reads);
    let mut inputs = NETWORK.to_vec();
    inputs.push(("destructive-guard", "true"));
    let out = go(
        args(&inputs),
        ecs_client(&[&describe_definition(), &run_task_ok(&runs), &describe]),
        logs_client(&[&stream]),
        never(),
    )
    .await;
    let e = out.result.expect_err("refused");
    assert_eq!(e.title(), Some("Destructive migration refused"));
    // Every destructive operation, and nothing else (RunPython is not one).
    insta::assert_snapshot!(e.to_string(), @r#"
        refusing to migrate: the plan has 8 operation(s) the release still running cannot survive during a rolling deploy:
          - catalog.0003_drop_legacy: RemoveField (Remove field legacy_sku from product)
          - catalog.0003_drop_legacy: DeleteModel (Delete model Coupon)
          - catalog.0004_rename_and_retype: RenameField (Rename field price on product to price_cents)
          - catalog.0004_rename_and_retype: RenameModel (Rename model Product to Item)
          - catalog.0004_rename_and_retype: AlterField (Alter field price_cents on item)
          - catalog.0004_rename_and_retype: RenameField (Rename field name on category to title)
          - catalog.0004_rename_and_retype: AlterModelTable (Rename table for category to catalog_section)
          - catalog.0005_backfill: RunSQL (Raw SQL operation -> UPDATE catalog_item SET price_cents…)
        Ship them in a later release once no running code uses the old schema, or set allow-destructive: true
        "#);
    let runs = runs.lock().expect("lock");
    assert_eq!(runs.len(), 1, "only the plan ran");
    let command = runs[0]
        .overrides()
        .expect("overrides")
        .container_overrides()[0]
        .command();
    assert_eq!(
        command,
        ["python", "manage.py", "migrate", "--noinput", "--plan"]
    );
    assert!(out.outputs.is_empty());
    snapshots(|| {
        insta::assert_snapshot!(out.summary, @r#"
    ### 🚫 Migration refused: destructive operations

    | | |
    |---|---|
    | Command | <code>python manage.py migrate --noinput</code> |
    | Task definition | <code>startupwebapp-migration-task:3</code> (container <code>migration</code>, cluster <code>startupwebapp-cluster</code>) |
    | Task | <code>arn:aws:ecs:us-east-1:123456789012:task/startupwebapp-cluster/5e6f7a8b9c0d4e1f8a2b3c4d5e6f7a8b</code> |
    | Result | task 5e6f7a8b9c0d4e1f8a2b3c4d5e6f7a8b stopped (EssentialContainerExited: done); migration exited 0 |
    | Exit code | 0 |
    | Elapsed | [DURATION] |
    | Log | <code>/ecs/startupwebapp-migrations</code> <code>ecs/migration/5e6f7a8b9c0d4e1f8a2b3c4d5e6f7a8b</code> |
    | Plan | 3 migration(s), 9 operation(s): 8 destructive operation(s), refused |

    #### Destructive operations

    | App | Migration | Operation | Plan line |
    |---|---|---|---|
    | catalog | 0003\_drop\_legacy | RemoveField | <code>Remove field legacy\_sku from product</code> |
    | catalog | 0003\_drop\_legacy | DeleteModel | <code>Delete model Coupon</code> |
    | catalog | 0004\_rename\_and\_retype | RenameField | <code>Rename field price on product to price\_cents</code> |
    | catalog | 0004\_rename\_and\_retype | RenameModel | <code>Rename model Product to Item</code> |
    | catalog | 0004\_rename\_and\_retype | AlterField | <code>Alter field price\_cents on item</code> |
    | catalog | 0004\_rename\_and\_retype | RenameField | <code>Rename field name on category to title</code> |
    | catalog | 0004\_rename\_and\_retype | AlterModelTable | <code>Rename table for category to catalog\_section</code> |
    | catalog | 0005\_backfill | RunSQL | <code>Raw SQL operation -&gt; UPDATE catalog\_item SET price\_cents…</code> |

    <details open><summary>Last 13 log lines</summary>

    ```text
    Planned operations:
    catalog.0003_drop_legacy
        Remove field legacy_sku from product
        Delete model Coupon
    catalog.0004_rename_and_retype
        Rename field price on product to price_cents
        Rename model Product to Item
        Alter field price_cents on item
        Rename field name on category to title
        Rename table for category to catalog_section
    catalog.0005_backfill
        Raw SQL operation -> UPDATE catalog_item SET price_cents…
        Raw Python operation -> Mark every item in stock
    ```

    </details>
    "#)
    });
}

#[tokio::test]
async fn allow_destructive_runs_the_migration_after_warning() {
    let runs = Recorded::default();
    let reads = Recorded::default();
    let describe = mock!(ecs::Client::describe_tasks).then_output(|| {
        tasks(stopped(
            Some(0),
            TaskStopCode::EssentialContainerExited,
            "done",
            None,
        ))
    });
    let stream = log_stream(plan_lines(), &reads);
    let mut inputs = NETWORK.to_vec();
    inputs.push(("destructive-guard", "true"));
    inputs.push(("allow-destructive", "true"));
    let out = go(
        args(&inputs),
        ecs_client(&[&describe_definition(), &run_task_ok(&runs), &describe]),
        logs_client(&[&stream]),
        never(),
    )
    .await;
    assert!(out.result.is_ok(), "{:?}\n{}", out.result, out.log);
    let warnings: Vec<&str> = out
        .log
        .lines()
        .filter(|l| l.starts_with("::warning::"))
        .collect();
    insta::assert_snapshot!(warnings.join("\n"), @"::warning::running 8 destructive operation(s) because allow-destructive is true:%0A  - catalog.0003_drop_legacy: RemoveField (Remove field legacy_sku from product)%0A  - catalog.0003_drop_legacy: DeleteModel (Delete model Coupon)%0A  - catalog.0004_rename_and_retype: RenameField (Rename field price on product to price_cents)%0A  - catalog.0004_rename_and_retype: RenameModel (Rename model Product to Item)%0A  - catalog.0004_rename_and_retype: AlterField (Alter field price_cents on item)%0A  - catalog.0004_rename_and_retype: RenameField (Rename field name on category to title)%0A  - catalog.0004_rename_and_retype: AlterModelTable (Rename table for category to catalog_section)%0A  - catalog.0005_backfill: RunSQL (Raw SQL operation -> UPDATE catalog_item SET price_cents…)");
    // The migrations the guard let through, for the deploy's record.
    let written = outputs(&out.outputs);
    let destructive = written
        .iter()
        .find(|(name, _)| name == "destructive-migrations")
        .map(|(_, value)| value.as_str());
    assert_eq!(
        destructive,
        Some("catalog.0003_drop_legacy,catalog.0004_rename_and_retype,catalog.0005_backfill")
    );
    let runs = runs.lock().expect("lock");
    assert_eq!(runs.len(), 2);
    assert_eq!(
        runs[1]
            .overrides()
            .expect("overrides")
            .container_overrides()[0]
            .command(),
        ["python", "manage.py", "migrate", "--noinput"]
    );
}

#[tokio::test]
async fn the_service_supplies_the_task_definition_and_network() {
    let runs = Recorded::default();
    let reads = Recorded::default();
    let service = mock!(ecs::Client::describe_services).then_output(|| {
        DescribeServicesOutput::builder()
            .services(
                Service::builder()
                    .service_name("startupwebapp-service")
                    .status("ACTIVE")
                    .task_definition(DEF_ARN)
                    .launch_type(LaunchType::Fargate)
                    .network_configuration(
                        NetworkConfiguration::builder()
                            .awsvpc_configuration(
                                AwsVpcConfiguration::builder()
                                    .subnets("subnet-0a1b2c3d4e5f60001")
                                    .security_groups("sg-0a1b2c3d4e5f60003")
                                    .assign_public_ip(AssignPublicIp::Disabled)
                                    .build()
                                    .expect("vpc"),
                            )
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let describe = mock!(ecs::Client::describe_tasks).then_output(|| {
        tasks(stopped(
            Some(0),
            TaskStopCode::EssentialContainerExited,
            "done",
            None,
        ))
    });
    let stream = log_stream(MIGRATE_LOG, &reads);
    let out = go(
        args(&[
            ("service", "startupwebapp-service"),
            ("security-groups", "sg-0f0f0f0f"),
        ]),
        ecs_client(&[
            &service,
            &describe_definition(),
            &run_task_ok(&runs),
            &describe,
        ]),
        logs_client(&[&stream]),
        never(),
    )
    .await;
    assert!(out.result.is_ok(), "{:?}", out.result);
    let runs = runs.lock().expect("lock");
    let vpc = runs[0]
        .network_configuration()
        .and_then(|n| n.awsvpc_configuration())
        .expect("vpc");
    assert_eq!(vpc.subnets(), ["subnet-0a1b2c3d4e5f60001"]);
    assert_eq!(
        vpc.security_groups(),
        ["sg-0f0f0f0f"],
        "the input overrides the service's"
    );
    assert_eq!(vpc.assign_public_ip(), Some(&AssignPublicIp::Disabled));
    assert_eq!(runs[0].task_definition(), Some(DEF_ARN));
}

#[tokio::test]
async fn bad_input_exits_2_before_any_task_starts() {
    let runs = Recorded::default();
    let unknown = mock!(ecs::Client::describe_task_definition).then_error(|| {
        DescribeTaskDefinitionError::ClientException(
            ecs::types::error::ClientException::builder()
                .message("Unable to describe task definition.")
                .build(),
        )
    });
    let run = run_task_ok(&runs);
    let out = go(
        args(&[("task-definition", "nope"), ("subnets", "subnet-0a1")]),
        ecs_client(&[&unknown, &run]),
        logs_client(&[]),
        never(),
    )
    .await;
    let e = out.result.expect_err("bad input");
    assert_eq!(e.kind(), ExitKind::BadInput, "{e}");
    assert!(
        e.to_string()
            .starts_with("input `task-definition` names task definition `nope`"),
        "{e}"
    );

    // No network configuration for an awsvpc task definition.
    let out = go(
        args(&[("task-definition", "startupwebapp-migration-task")]),
        ecs_client(&[&describe_definition(), &run]),
        logs_client(&[]),
        never(),
    )
    .await;
    let e = out.result.expect_err("bad input");
    assert_eq!(e.kind(), ExitKind::BadInput);
    insta::assert_snapshot!(e.to_string(), @"input `subnets` is needed: task definition startupwebapp-migration-task:3 uses awsvpc networking and no network configuration was found (no `service` was given to take it from); set `subnets` and `security-groups`, or `service`");

    // Malformed JSON, checked before any call.
    let mut inputs = NETWORK.to_vec();
    inputs.push(("command", r#"["python", "manage.py", "migrate""#));
    let out = go(
        args(&inputs),
        ecs_client(&[&run]),
        logs_client(&[]),
        never(),
    )
    .await;
    let e = out.result.expect_err("bad input");
    assert_eq!(e.kind(), ExitKind::BadInput);
    assert!(
        e.to_string()
            .starts_with("input `command` is not a valid JSON array of strings"),
        "{e}"
    );

    // A missing service.
    let missing = mock!(ecs::Client::describe_services).then_output(|| {
        DescribeServicesOutput::builder()
            .failures(
                Failure::builder()
                    .arn("arn:aws:ecs:us-east-1:123456789012:service/startupwebapp-cluster/nope")
                    .reason("MISSING")
                    .build(),
            )
            .build()
    });
    let out = go(
        args(&[("service", "nope")]),
        ecs_client(&[&missing, &run]),
        logs_client(&[]),
        never(),
    )
    .await;
    let e = out.result.expect_err("bad input");
    assert_eq!(e.kind(), ExitKind::BadInput);
    insta::assert_snapshot!(e.to_string(), @"input `service` names `nope`, which is not an active service of cluster `startupwebapp-cluster` (MISSING)");

    assert!(runs.lock().expect("lock").is_empty());
}

mod image_input {
    use super::*;
    use ecr::operation::describe_images::{DescribeImagesError, DescribeImagesOutput};
    use ecr::types::ImageDetail;
    use ecs::operation::register_task_definition::{
        RegisterTaskDefinitionInput, RegisterTaskDefinitionOutput,
    };

    const REPO: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp";
    const DIGEST: &str = "sha256:4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f";
    const NEW_ARN: &str =
        "arn:aws:ecs:us-east-1:123456789012:task-definition/startupwebapp-migration-task:4";

    fn images() -> Rule {
        mock!(ecr::Client::describe_images)
            .match_requests(|r| {
                r.repository_name() == Some("startupwebapp")
                    && r.registry_id() == Some("123456789012")
                    && r.image_ids().first().and_then(|i| i.image_tag()) == Some("release-4")
            })
            .then_output(|| {
                DescribeImagesOutput::builder()
                    .image_details(ImageDetail::builder().image_digest(DIGEST).build())
                    .build()
            })
    }

    fn no_image() -> Rule {
        mock!(ecr::Client::describe_images).then_error(|| {
            DescribeImagesError::ImageNotFoundException(
                ecr::types::error::ImageNotFoundException::builder()
                    .message("Requested image not found")
                    .build(),
            )
        })
    }

    /// The migration revision, its container running `image`.
    fn described_with(image: &str) -> Rule {
        let image = image.to_string();
        mock!(ecs::Client::describe_task_definition).then_output(move || {
            let mut def = definition();
            def.container_definitions = Some(
                def.container_definitions()
                    .iter()
                    .map(|c| {
                        let mut c = c.clone();
                        c.image = Some(image.clone());
                        c
                    })
                    .collect(),
            );
            DescribeTaskDefinitionOutput::builder()
                .task_definition(def)
                .tags(
                    ecs::types::Tag::builder()
                        .key("app")
                        .value("startupwebapp")
                        .build(),
                )
                .build()
        })
    }

    fn register(recorded: &Recorded<RegisterTaskDefinitionInput>) -> Rule {
        let recorded = recorded.clone();
        mock!(ecs::Client::register_task_definition).then_compute_output(move |input| {
            recorded.lock().expect("lock").push(input.clone());
            RegisterTaskDefinitionOutput::builder()
                .task_definition(
                    TaskDefinition::builder()
                        .task_definition_arn(NEW_ARN)
                        .family(input.family().unwrap_or_default())
                        .revision(4)
                        .network_mode(NetworkMode::Awsvpc)
                        .set_container_definitions(input.container_definitions.clone())
                        .build(),
                )
                .build()
        })
    }

    fn with_image(image: &str) -> Args {
        let mut inputs = NETWORK.to_vec();
        inputs.push(("image", image));
        args(&inputs)
    }

    fn succeeded() -> Rule {
        lifecycle(stopped(
            Some(0),
            TaskStopCode::EssentialContainerExited,
            "Essential container in task exited",
            None,
        ))
    }

    #[tokio::test]
    async fn a_tag_is_pinned_and_registered_and_the_new_revision_runs() {
        let runs = Recorded::default();
        let registers = Recorded::default();
        let reads = Recorded::default();
        let out = go_ecr(
            with_image(&format!("{REPO}:release-4")),
            ecs_client(&[
                &described_with(&format!("{REPO}:release-3")),
                &register(&registers),
                &run_task_ok(&runs),
                &succeeded(),
            ]),
            logs_client(&[&log_stream(MIGRATE_LOG, &reads)]),
            ecr_client(&[&images()]),
            never(),
        )
        .await;
        assert!(out.result.is_ok(), "{:?}\n{}", out.result, out.log);

        let registers = registers.lock().expect("lock");
        assert_eq!(registers.len(), 1);
        let r = &registers[0];
        assert_eq!(r.family(), Some("startupwebapp-migration-task"));
        assert_eq!(
            r.container_definitions()[0].image(),
            Some(format!("{REPO}@{DIGEST}").as_str())
        );
        assert_eq!(r.container_definitions()[0].name(), Some("migration"));
        assert_eq!(r.tags().len(), 1, "tags are carried over");
        assert_eq!(r.network_mode(), Some(&NetworkMode::Awsvpc));

        let runs = runs.lock().expect("lock");
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].task_definition(), Some(NEW_ARN));

        let pinned: Vec<&str> = out
            .log
            .lines()
            .take_while(|l| !l.starts_with("::group::"))
            .collect();
        snapshots(|| {
            insta::assert_snapshot!(pinned.join("\n"), @r#"
        123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp:release-4 is sha256:[DIGEST]
        Registered startupwebapp-migration-task:4 from startupwebapp-migration-task:3: container `migration` image 123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp:release-3 -> 123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp@sha256:[DIGEST]
        Task definition startupwebapp-migration-task:4 in cluster startupwebapp-cluster, container `migration`
        Starting `python manage.py migrate --noinput` in container `migration` of startupwebapp-migration-task:4
        "#)
        });
        let outputs = outputs(&out.outputs);
        assert_eq!(
            outputs[0],
            ("task-definition-arn".to_string(), NEW_ARN.to_string())
        );
    }

    #[tokio::test]
    async fn the_image_already_registered_registers_nothing() {
        let runs = Recorded::default();
        let registers = Recorded::default();
        let reads = Recorded::default();
        let out = go_ecr(
            with_image(&format!("{REPO}:release-4")),
            ecs_client(&[
                &described_with(&format!("{REPO}@{DIGEST}")),
                &register(&registers),
                &run_task_ok(&runs),
                &succeeded(),
            ]),
            logs_client(&[&log_stream(MIGRATE_LOG, &reads)]),
            ecr_client(&[&images()]),
            never(),
        )
        .await;
        assert!(out.result.is_ok(), "{:?}\n{}", out.result, out.log);
        assert!(registers.lock().expect("lock").is_empty());
        let first: Vec<&str> = out
            .log
            .lines()
            .take_while(|l| !l.starts_with("::group::"))
            .collect();
        snapshots(|| {
            insta::assert_snapshot!(first.join("\n"), @r#"
        123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp:release-4 is sha256:[DIGEST]
        startupwebapp-migration-task:3 already runs 123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp@sha256:[DIGEST] in container `migration`; nothing to register
        Task definition startupwebapp-migration-task:3 in cluster startupwebapp-cluster, container `migration`
        Starting `python manage.py migrate --noinput` in container `migration` of startupwebapp-migration-task:3
        "#)
        });
        let runs = runs.lock().expect("lock");
        assert_eq!(runs[0].task_definition(), Some(DEF_ARN));
        assert_eq!(
            outputs(&out.outputs)[0],
            ("task-definition-arn".to_string(), DEF_ARN.to_string())
        );
    }

    #[tokio::test]
    async fn a_missing_tag_exits_2_and_changes_nothing() {
        let runs = Recorded::default();
        let registers = Recorded::default();
        let out = go_ecr(
            with_image(&format!("{REPO}:never-pushed")),
            ecs_client(&[
                &described_with(&format!("{REPO}:release-3")),
                &register(&registers),
                &run_task_ok(&runs),
            ]),
            logs_client(&[]),
            ecr_client(&[&no_image()]),
            never(),
        )
        .await;
        let e = out.result.expect_err("missing tag");
        assert_eq!(e.kind(), ExitKind::BadInput);
        assert!(
            e.to_string().starts_with(&format!(
                "input `image` `{REPO}:never-pushed` is not in ECR repository `startupwebapp`"
            )),
            "{e}"
        );
        assert!(registers.lock().expect("lock").is_empty());
        assert!(runs.lock().expect("lock").is_empty());
    }

    #[tokio::test]
    async fn a_malformed_image_exits_2_before_any_call() {
        let runs = Recorded::default();
        let registers = Recorded::default();
        let mut errors = Vec::new();
        for image in [
            REPO.to_string(),
            format!("{REPO}:rel/4"),
            format!("{REPO}@sha256:abc"),
        ] {
            let out = go_ecr(
                with_image(&image),
                ecs_client(&[&register(&registers), &run_task_ok(&runs)]),
                logs_client(&[]),
                ecr_client(&[]),
                never(),
            )
            .await;
            let e = out.result.expect_err("malformed");
            assert_eq!(e.kind(), ExitKind::BadInput);
            errors.push(e.to_string());
        }
        insta::assert_snapshot!(errors.join("\n"), @r#"
            input `image` `123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp` names no tag or digest; deploy a build by name, such as `123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp:release-4` or `123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp@sha256:…`
            input `image` `123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp:rel/4` has the repository part `startupwebapp:rel`; use lower-case letters, digits and single `.`, `_` or `-` between them
            input `image` `123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp@sha256:abc` has the digest `sha256:abc`; a digest is sha256: and 64 hex digits
            "#);
        assert!(registers.lock().expect("lock").is_empty());
        assert!(runs.lock().expect("lock").is_empty());
    }
}
