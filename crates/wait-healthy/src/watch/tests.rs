use std::time::Duration;

use aws_sdk_cloudwatchlogs as logs;
use aws_sdk_ecs as ecs;
use aws_sdk_elasticloadbalancingv2 as elbv2;
use ecs::types::{Deployment, DesiredStatus, Service, Task, TaskDefinition};
use swa_aws::cloudwatch;
use swa_gha::{ActionError, Gha};

use super::*;
use aws_smithy_mocks::{Rule, mock};
use ecs::operation::describe_services::{DescribeServicesError, DescribeServicesOutput};
use ecs::operation::describe_task_definition::DescribeTaskDefinitionOutput;
use ecs::operation::describe_tasks::DescribeTasksOutput;
use ecs::operation::list_service_deployments::ListServiceDeploymentsOutput;
use ecs::operation::list_tasks::ListTasksOutput;
use ecs::types::{
    Attachment, Container, ContainerDefinition, DeploymentCircuitBreaker, DeploymentConfiguration,
    DeploymentRolloutState, KeyValuePair, LoadBalancer as EcsLb, LogConfiguration, LogDriver,
    ServiceEvent, TaskStopCode,
};
use elbv2::operation::describe_target_groups::DescribeTargetGroupsOutput;
use elbv2::operation::describe_target_health::DescribeTargetHealthOutput;
use elbv2::types::{
    Matcher, ProtocolEnum, TargetDescription, TargetGroup, TargetHealth, TargetHealthDescription,
    TargetHealthReasonEnum, TargetHealthStateEnum,
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

const NEW: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/startupwebapp-service-task:4";
const OLD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/startupwebapp-service-task:3";
const TG: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/startupwebapp-tg/0123456789abcdef";

pub(crate) fn deployment(
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
                .message("(service startupwebapp-service) has started 2 tasks: (task a) (task b).")
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
    cloudwatch: Vec<Rule>,
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
        // No service deployment carries it: the wait follows DescribeServices alone.
        let no_service_deployments = mock!(ecs::Client::list_service_deployments)
            .then_output(|| ListServiceDeploymentsOutput::builder().build());
        Fixture {
            ecs: vec![
                describe,
                td,
                list,
                list_stopped,
                tasks,
                no_service_deployments,
            ],
            elbv2: vec![targets],
            logs: vec![logs],
            cloudwatch: Vec::new(),
            max_failed_tasks: 3,
        }
    }

    /// The load balancer answers by `rule` alone.
    fn with_elbv2(mut self, rule: Rule) -> Fixture {
        self.elbv2 = vec![rule];
        self
    }

    /// The load balancer answers by `rule` too.
    fn and_elbv2(mut self, rule: Rule) -> Fixture {
        self.elbv2.push(rule);
        self
    }

    async fn run(&self, until: Until, timeout: Duration) -> (Result<(), ActionError>, String, u32) {
        self.run_in(until, timeout, Env::default()).await
    }

    /// [`Fixture::run`], with the step summary it wrote in place of the call count.
    async fn run_with_summary(
        &self,
        until: Until,
        timeout: Duration,
    ) -> (Result<(), ActionError>, String, String) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("summary.md");
        let env = Env::from_pairs([("GITHUB_STEP_SUMMARY", path.to_string_lossy().into_owned())]);
        let (result, log, _) = self.run_in(until, timeout, env).await;
        let summary = std::fs::read_to_string(&path).unwrap_or_default();
        (result, log, summary)
    }

    async fn run_in(
        &self,
        until: Until,
        timeout: Duration,
        env: Env,
    ) -> (Result<(), ActionError>, String, u32) {
        let clients = Clients {
            ecs: client!(ecs, &self.ecs),
            cloudwatch: client!(cloudwatch, &self.cloudwatch),
            elbv2: client!(elbv2, &self.elbv2),
            logs: client!(logs, &self.logs),
        };
        let settings = Checked {
            cluster: "startupwebapp-cluster".into(),
            service: "startupwebapp-service".into(),
            deployment_id: None,
            service_deployment_arn: None,
            until,
            timeout,
            health_url: None,
            health_expect: None,
            max_failed_tasks: self.max_failed_tasks,
            log_lines: 30,
            poll_interval: Duration::from_millis(5),
            unreachable_timeout: Duration::from_secs(60),
            calls_per_minute: 1e9,
            rollback_on_cancel: false,
        };
        let (gha, log): (Gha, Capture) = Gha::capture(env);
        let mut watch = Watch::new(clients, settings, gha).expect("watch");
        let result = match watch.run().await {
            Ok(outcome) => watch.finish(outcome).await,
            Err(e) => Err(e),
        };
        (result, log.text(), watch.ecs_calls())
    }
}

/// The shared filters, and what the wall clock decides: durations (`300ms`, `1.2s`), the
/// elapsed-seconds output and the call rate.
fn snapshots() -> insta::Settings {
    let mut settings = swa_testing::snapshot_settings();
    settings.add_filter(swa_testing::DURATION, "[DURATION]");
    settings.add_filter(r"elapsed-seconds=[0-9.]+", "elapsed-seconds=[SECONDS]");
    settings.add_filter(r"\([0-9.]+ a minute\)", "([RATE] a minute)");
    settings
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
    snapshots().bind(|| insta::assert_snapshot!(log, @r#"
        Watching deployment ecs-svc/[ID] of startupwebapp-service (startupwebapp-service-task:4, replacing startupwebapp-service-task:3) until steady
        event: 00:33:20 (service startupwebapp-service) has started 2 tasks: (task a) (task b).
        [[DURATION]] new tasks running
        [[DURATION]] targets healthy
        [[DURATION]] rollout completed
        [[DURATION]] old deployments drained
        output result=healthy
        output deployment-id=ecs-svc/[ID]
        output rollout-state=COMPLETED
        output failed-tasks=0
        output failed-probes=0
        output elapsed-seconds=[SECONDS]
        output service-deployment-arn=
        output service-deployment-status=
        output lifecycle-stage=
        output production-weight=
        output test-weight=
        output hook-id=
        output expires-at=
        output hook-timeout-action=
        7 ECS calls in [DURATION] ([RATE] a minute)
        ::notice::deployment ecs-svc/[ID] (startupwebapp-service-task:4) is healthy: 2/2 tasks running, targets healthy, older deployments gone after [DURATION]
        "#));
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
    snapshots().bind(|| insta::assert_snapshot!(log, @r#"
        Watching deployment ecs-svc/[ID] of startupwebapp-service (startupwebapp-service-task:4, replacing startupwebapp-service-task:3) until serving
        event: 00:33:20 (service startupwebapp-service) has started 2 tasks: (task a) (task b).
        [[DURATION]] new tasks running
        [[DURATION]] targets healthy
        output result=healthy
        output deployment-id=ecs-svc/[ID]
        output rollout-state=IN_PROGRESS
        output failed-tasks=0
        output failed-probes=0
        output elapsed-seconds=[SECONDS]
        output service-deployment-arn=
        output service-deployment-status=
        output lifecycle-stage=
        output production-weight=
        output test-weight=
        output hook-id=
        output expires-at=
        output hook-timeout-action=
        5 ECS calls in [DURATION] ([RATE] a minute)
        ::notice::deployment ecs-svc/[ID] (startupwebapp-service-task:4) is healthy: 2/2 tasks running, targets healthy after [DURATION]
        "#));
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
    snapshots().bind(|| {
        insta::assert_snapshot!(err.to_string(), @"deployment ecs-svc/[ID] (startupwebapp-service-task:4) is no longer PRIMARY: the service rolled back to startupwebapp-service-task:3: ECS deployment circuit breaker: tasks failed to start. First failed task bad1: stopped (EssentialContainerExited: Essential container in task exited); startupwebapp exited 1; the log of startupwebapp ends: ImportError: No module named 'startupwebapp.settings_prod'");
        insta::assert_snapshot!(log, @r#"
            Watching deployment ecs-svc/[ID] of startupwebapp-service (startupwebapp-service-task:4, replacing startupwebapp-service-task:3) until steady
            event: 00:33:20 (service startupwebapp-service) has started 2 tasks: (task a) (task b).
            ::warning::task bad1 stopped (EssentialContainerExited: Essential container in task exited); startupwebapp exited 1
            ::warning::task bad2 stopped (EssentialContainerExited: Essential container in task exited); startupwebapp exited 1
            ::warning::task bad3 stopped (EssentialContainerExited: Essential container in task exited); startupwebapp exited 1
            No service deployment carries deployment ecs-svc/[ID]: the wait follows the service's deployments alone
            ::group::Stopped task bad1
            task bad1 stopped (EssentialContainerExited: Essential container in task exited); startupwebapp exited 1
            Last 1 log lines of startupwebapp (/ecs/startupwebapp-service ecs/startupwebapp/bad1):
            ::stop-commands::swa-[TOKEN]
              ImportError: No module named 'startupwebapp.settings_prod'
            ::swa-[TOKEN]::
            ::endgroup::
            output result=rolled-back
            output deployment-id=ecs-svc/[ID]
            output rollout-state=FAILED
            output failed-tasks=3
            output failed-probes=0
            output elapsed-seconds=[SECONDS]
            output service-deployment-arn=
            output service-deployment-status=
            output lifecycle-stage=
            output production-weight=
            output test-weight=
            output hook-id=
            output expires-at=
            output hook-timeout-action=
            12 ECS calls in [DURATION] ([RATE] a minute)
            "#);
    });
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
    snapshots().bind(|| {
        insta::assert_snapshot!(text, @"deployment ecs-svc/[ID] (startupwebapp-service-task:4) failed and ECS is rolling back to startupwebapp-service-task:3: ECS deployment circuit breaker: tasks failed to start. First failed task bad1: stopped (EssentialContainerExited: Essential container in task exited); startupwebapp exited 1; the log of startupwebapp ends: ImportError: No module named 'startupwebapp.settings_prod'");
        insta::assert_snapshot!(log, @r#"
            Watching deployment ecs-svc/[ID] of startupwebapp-service (startupwebapp-service-task:4, replacing startupwebapp-service-task:3) until steady
            event: 00:33:20 (service startupwebapp-service) has started 2 tasks: (task a) (task b).
            ::warning::task bad1 stopped (EssentialContainerExited: Essential container in task exited); startupwebapp exited 1
            ::warning::task bad2 stopped (EssentialContainerExited: Essential container in task exited); startupwebapp exited 1
            ::warning::task bad3 stopped (EssentialContainerExited: Essential container in task exited); startupwebapp exited 1
            No service deployment carries deployment ecs-svc/[ID]: the wait follows the service's deployments alone
            ::group::Stopped task bad1
            task bad1 stopped (EssentialContainerExited: Essential container in task exited); startupwebapp exited 1
            Last 1 log lines of startupwebapp (/ecs/startupwebapp-service ecs/startupwebapp/bad1):
            ::stop-commands::swa-[TOKEN]
              ImportError: No module named 'startupwebapp.settings_prod'
            ::swa-[TOKEN]::
            ::endgroup::
            output result=rolled-back
            output deployment-id=ecs-svc/[ID]
            output rollout-state=FAILED
            output failed-tasks=3
            output failed-probes=0
            output elapsed-seconds=[SECONDS]
            output service-deployment-arn=
            output service-deployment-status=
            output lifecycle-stage=
            output production-weight=
            output test-weight=
            output hook-id=
            output expires-at=
            output hook-timeout-action=
            9 ECS calls in [DURATION] ([RATE] a minute)
            "#);
    });
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
    snapshots().bind(|| {
        insta::assert_snapshot!(text, @"3 tasks of deployment ecs-svc/[ID] (startupwebapp-service-task:4) stopped (max-failed-tasks is 3); last: task bad3 stopped (EssentialContainerExited: Essential container in task exited); startupwebapp exited 1. First failed task bad1: stopped (EssentialContainerExited: Essential container in task exited); startupwebapp exited 1; the log of startupwebapp ends: ImportError: No module named 'startupwebapp.settings_prod'");
        insta::assert_snapshot!(log, @r#"
            Watching deployment ecs-svc/[ID] of startupwebapp-service (startupwebapp-service-task:4, replacing startupwebapp-service-task:3) until steady
            event: 00:33:20 (service startupwebapp-service) has started 2 tasks: (task a) (task b).
            ::warning::task bad1 stopped (EssentialContainerExited: Essential container in task exited); startupwebapp exited 1
            ::warning::task bad2 stopped (EssentialContainerExited: Essential container in task exited); startupwebapp exited 1
            ::warning::task bad3 stopped (EssentialContainerExited: Essential container in task exited); startupwebapp exited 1
            No service deployment carries deployment ecs-svc/[ID]: the wait follows the service's deployments alone
            ::group::Stopped task bad1
            task bad1 stopped (EssentialContainerExited: Essential container in task exited); startupwebapp exited 1
            Last 1 log lines of startupwebapp (/ecs/startupwebapp-service ecs/startupwebapp/bad1):
            ::stop-commands::swa-[TOKEN]
              ImportError: No module named 'startupwebapp.settings_prod'
            ::swa-[TOKEN]::
            ::endgroup::
            output result=failed
            output deployment-id=ecs-svc/[ID]
            output rollout-state=IN_PROGRESS
            output failed-tasks=3
            output failed-probes=0
            output elapsed-seconds=[SECONDS]
            output service-deployment-arn=
            output service-deployment-status=
            output lifecycle-stage=
            output production-weight=
            output test-weight=
            output hook-id=
            output expires-at=
            output hook-timeout-action=
            9 ECS calls in [DURATION] ([RATE] a minute)
            "#);
    });
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
    let groups = mock!(elbv2::Client::describe_target_groups).then_output(|| {
        DescribeTargetGroupsOutput::builder()
            .target_groups(
                TargetGroup::builder()
                    .target_group_name("startupwebapp-tg")
                    .health_check_protocol(ProtocolEnum::Http)
                    .health_check_path("/health")
                    .health_check_port("traffic-port")
                    .matcher(Matcher::builder().http_code("200").build())
                    .build(),
            )
            .build()
    });
    let fixture = Fixture::new(describe).with_elbv2(targets).and_elbv2(groups);
    let (result, log, summary) = fixture
        .run_with_summary(Until::Steady, Duration::from_millis(300))
        .await;
    let text = result.expect_err("timeout").to_string();
    // How many polls fit in the 300ms is the wall clock's to decide.
    let mut settings = snapshots();
    settings.add_filter(r"\d+ ECS calls in", "[N] ECS calls in");
    settings.bind(|| {
        insta::assert_snapshot!(text, @"deployment ecs-svc/[ID] was not healthy after [DURATION]: target 10.0.1.2:8000 unhealthy: Target.ResponseCodeMismatch; rollout IN_PROGRESS; 1 older deployment still running 2 tasks. First failed task bad1: stopped (EssentialContainerExited: Essential container in task exited); startupwebapp exited 1; the log of startupwebapp ends: ImportError: No module named 'startupwebapp.settings_prod'");
        insta::assert_snapshot!(log, @r#"
            Watching deployment ecs-svc/[ID] of startupwebapp-service (startupwebapp-service-task:4, replacing startupwebapp-service-task:3) until steady
            event: 00:33:20 (service startupwebapp-service) has started 2 tasks: (task a) (task b).
            [[DURATION]] new tasks running
            ::warning::task bad1 stopped (EssentialContainerExited: Essential container in task exited); startupwebapp exited 1
            ::warning::task bad2 stopped (EssentialContainerExited: Essential container in task exited); startupwebapp exited 1
            ::warning::task bad3 stopped (EssentialContainerExited: Essential container in task exited); startupwebapp exited 1
            ::group::Stopped task bad1
            task bad1 stopped (EssentialContainerExited: Essential container in task exited); startupwebapp exited 1
            Last 1 log lines of startupwebapp (/ecs/startupwebapp-service ecs/startupwebapp/bad1):
            ::stop-commands::swa-[TOKEN]
              ImportError: No module named 'startupwebapp.settings_prod'
            ::swa-[TOKEN]::
            ::endgroup::
            output result=timeout
            output deployment-id=ecs-svc/[ID]
            output rollout-state=IN_PROGRESS
            output failed-tasks=3
            output failed-probes=0
            output elapsed-seconds=[SECONDS]
            output service-deployment-arn=
            output service-deployment-status=
            output lifecycle-stage=
            output production-weight=
            output test-weight=
            output hook-id=
            output expires-at=
            output hook-timeout-action=
            [N] ECS calls in [DURATION] ([RATE] a minute)
            "#);
        insta::assert_snapshot!(summary, @r#"
            ### ⏱️ wait-healthy: startupwebapp-service timeout

            deployment ecs-svc/[ID] was not healthy after [DURATION]: target 10.0.1.2:8000 unhealthy: Target.ResponseCodeMismatch; rollout IN\_PROGRESS; 1 older deployment still running 2 tasks. First failed task bad1: stopped (EssentialContainerExited: Essential container in task exited); startupwebapp exited 1; the log of startupwebapp ends: ImportError: No module named 'startupwebapp.settings\_prod'

            | | |
            |---|---|
            | Deployment | <code>ecs-svc/[ID]</code> |
            | New revision | <code>startupwebapp-service-task:4</code> |
            | Old revision | <code>startupwebapp-service-task:3</code> |
            | Image | <code>123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp@sha256:4444</code> |
            | Rollout state | IN\_PROGRESS |
            | Failed tasks | 3 |
            | Elapsed | [DURATION] |

            #### Phases

            | Phase | After |
            |---|---|
            | new tasks running | [DURATION] |

            #### Still missing

            - target 10.0.1.2:8000 unhealthy: Target.ResponseCodeMismatch
            - rollout IN\_PROGRESS
            - 1 older deployment still running 2 tasks

            #### Targets

            | Target | Target group | State | Reason | Description |
            |---|---|---|---|---|
            | <code>10.0.1.2:8000</code> | <code>startupwebapp-tg</code> | unhealthy | Target.ResponseCodeMismatch | - |

            The health check of <code>startupwebapp-tg</code> expects HTTP 200 from GET /health on traffic-port.


            #### Failed tasks

            - task bad1 stopped (EssentialContainerExited: Essential container in task exited); startupwebapp exited 1
            - task bad2 stopped (EssentialContainerExited: Essential container in task exited); startupwebapp exited 1
            - task bad3 stopped (EssentialContainerExited: Essential container in task exited); startupwebapp exited 1

            Last 1 log lines of <code>startupwebapp</code> in task <code>bad1</code>:

            ```
            ImportError: No module named 'startupwebapp.settings_prod'
            ```


            #### Service events

            - 00:33:20 (service startupwebapp-service) has started 2 tasks: (task a) (task b).
            "#);
    });
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
    assert!(err.to_string().starts_with("input `service` names `startupwebapp-service`, which is not an active service of cluster `startupwebapp-cluster` (MISSING)"), "{err}");
}

mod followed;
