//! Following the service deployment: lifecycle stages, a hook ECS waits at, the traffic split,
//! and the causes ECS gives for a rollback, for blue/green, canary and rolling services.

use super::*;
use aws_smithy_types::DateTime;
use cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
use cloudwatch::types::{ComparisonOperator, MetricAlarm, StateValue, Statistic};
use ecs::operation::describe_service_deployments::DescribeServiceDeploymentsOutput;
use ecs::operation::describe_service_revisions::DescribeServiceRevisionsOutput;
use ecs::types::{
    DeploymentLifecycleHookAction, DeploymentLifecycleHookDetail, DeploymentLifecycleHookStatus,
    DeploymentStrategy, Rollback, ServiceDeployment, ServiceDeploymentAlarms,
    ServiceDeploymentBrief, ServiceDeploymentLifecycleStage as Stage,
    ServiceDeploymentRollbackMonitorsStatus, ServiceDeploymentStatus, ServiceRevision,
    ServiceRevisionSummary,
};

const SD: &str = "arn:aws:ecs:us-east-1:123456789012:service-deployment/startupwebapp-cluster/startupwebapp-service/sd4";
const REVISION: &str = "arn:aws:ecs:us-east-1:123456789012:service-revision/startupwebapp-cluster/startupwebapp-service/4444";

/// The service deploys with `strategy`.
fn with_strategy(
    mut out: DescribeServicesOutput,
    strategy: DeploymentStrategy,
) -> DescribeServicesOutput {
    for service in out.services.iter_mut().flatten() {
        if let Some(configuration) = service.deployment_configuration.as_mut() {
            configuration.strategy = Some(strategy.clone());
        }
    }
    out
}

/// The service deployment SD to the new revision, in `status` at `stage`, the new revision taking
/// `traffic`: its percent of production and of test traffic (a rolling one says neither).
fn sd(
    status: ServiceDeploymentStatus,
    stage: Option<Stage>,
    traffic: Option<(f64, f64)>,
) -> ServiceDeployment {
    ServiceDeployment::builder()
        .service_deployment_arn(SD)
        .status(status)
        .set_lifecycle_stage(stage)
        .target_service_revision(
            ServiceRevisionSummary::builder()
                .arn(REVISION)
                .requested_task_count(2)
                .running_task_count(2)
                .set_requested_production_traffic_weight(traffic.map(|t| t.0))
                .set_requested_test_traffic_weight(traffic.map(|t| t.1))
                .build(),
        )
        .build()
}

fn described(sd: ServiceDeployment) -> DescribeServiceDeploymentsOutput {
    DescribeServiceDeploymentsOutput::builder()
        .service_deployments(sd)
        .build()
}

impl Fixture {
    /// ECS keeps the service deployment SD to the new revision, described by `describe`.
    fn following(mut self, describe: Rule) -> Fixture {
        self.ecs.pop(); // the empty history
        let list = mock!(ecs::Client::list_service_deployments).then_output(|| {
            ListServiceDeploymentsOutput::builder()
                .service_deployments(
                    ServiceDeploymentBrief::builder()
                        .service_deployment_arn(SD)
                        .target_service_revision_arn(REVISION)
                        .status(ServiceDeploymentStatus::InProgress)
                        .created_at(DateTime::from_secs(1_000))
                        .build(),
                )
                .build()
        });
        let revisions = mock!(ecs::Client::describe_service_revisions).then_output(|| {
            DescribeServiceRevisionsOutput::builder()
                .service_revisions(
                    ServiceRevision::builder()
                        .service_revision_arn(REVISION)
                        .task_definition(NEW)
                        .build(),
                )
                .build()
        });
        self.ecs.extend([list, revisions, describe]);
        self
    }
}

/// A blue/green deployment in flight: the new tasks run beside the old ones.
fn in_flight(strategy: DeploymentStrategy) -> Rule {
    mock!(ecs::Client::describe_services).then_output(move || {
        with_strategy(
            services(vec![
                new_dep(2, 0, DeploymentRolloutState::InProgress),
                old_dep("ACTIVE", 2),
            ]),
            strategy.clone(),
        )
    })
}

#[tokio::test]
async fn test_traffic_with_a_pause_hook_ends_paused_with_the_hook() {
    let describe = mock!(ecs::Client::describe_service_deployments)
        .sequence()
        .output(|| {
            described(sd(
                ServiceDeploymentStatus::InProgress,
                Some(Stage::ScaleUp),
                Some((0.0, 0.0)),
            ))
        })
        .output(|| {
            described(sd(
                ServiceDeploymentStatus::InProgress,
                Some(Stage::TestTrafficShift),
                Some((0.0, 100.0)),
            ))
        })
        .output(|| {
            let mut paused = sd(
                ServiceDeploymentStatus::InProgress,
                Some(Stage::PostTestTrafficShift),
                Some((0.0, 100.0)),
            );
            paused.lifecycle_hook_details = Some(vec![
                DeploymentLifecycleHookDetail::builder()
                    .hook_id("hook-after-test-traffic")
                    .status(DeploymentLifecycleHookStatus::AwaitingAction)
                    .expires_at(DateTime::from_secs(1_767_229_200))
                    .timeout_action(DeploymentLifecycleHookAction::Rollback)
                    .build(),
            ]);
            described(paused)
        })
        .repeatedly()
        .build();
    let fixture = Fixture::new(in_flight(DeploymentStrategy::BlueGreen)).following(describe);
    let (result, log, summary) = fixture
        .run_with_summary(Until::TestTraffic, Duration::from_secs(30))
        .await;
    assert!(result.is_ok(), "{result:?}\n{log}");
    snapshots().bind(|| {
        insta::assert_snapshot!(log, @r#"
            Watching deployment ecs-svc/[ID] of startupwebapp-service (startupwebapp-service-task:4, replacing startupwebapp-service-task:3) until test-traffic
            Following service deployment arn:aws:ecs:us-east-1:123456789012:service-deployment/startupwebapp-cluster/startupwebapp-service/sd4 (strategy BLUE_GREEN)
            [[DURATION]] service deployment IN_PROGRESS, stage SCALE_UP
            event: 00:33:20 (service startupwebapp-service) has started 2 tasks: (task a) (task b).
            [[DURATION]] service deployment IN_PROGRESS, stage TEST_TRAFFIC_SHIFT
            [[DURATION]] service deployment IN_PROGRESS, stage POST_TEST_TRAFFIC_SHIFT
            output result=paused
            output deployment-id=ecs-svc/[ID]
            output rollout-state=IN_PROGRESS
            output failed-tasks=0
            output failed-probes=0
            output elapsed-seconds=[SECONDS]
            output service-deployment-arn=arn:aws:ecs:us-east-1:123456789012:service-deployment/startupwebapp-cluster/startupwebapp-service/sd4
            output service-deployment-status=IN_PROGRESS
            output lifecycle-stage=POST_TEST_TRAFFIC_SHIFT
            output production-weight=0
            output test-weight=100
            output hook-id=hook-after-test-traffic
            output expires-at=2026-01-01T01:00:00Z
            output hook-timeout-action=ROLLBACK
            9 ECS calls in [DURATION] ([RATE] a minute)
            ::notice::deployment ecs-svc/[ID] (startupwebapp-service-task:4) reached test-traffic: ECS waits at lifecycle hook hook-after-test-traffic (until 2026-01-01T01:00:00Z, then ROLLBACK) for ContinueServiceDeployment after [DURATION]
            "#);
        insta::assert_snapshot!(summary, @r#"
            ### ⏸️ wait-healthy: startupwebapp-service paused

            deployment ecs-svc/[ID] (startupwebapp-service-task:4) reached test-traffic: ECS waits at lifecycle hook hook-after-test-traffic (until 2026-01-01T01:00:00Z, then ROLLBACK) for ContinueServiceDeployment

            | | |
            |---|---|
            | Deployment | <code>ecs-svc/[ID]</code> |
            | New revision | <code>startupwebapp-service-task:4</code> |
            | Old revision | <code>startupwebapp-service-task:3</code> |
            | Image | <code>123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp@sha256:4444</code> |
            | Rollout state | IN\_PROGRESS |
            | Service deployment | <code>arn:aws:ecs:us-east-1:123456789012:service-deployment/startupwebapp-cluster/startupwebapp-service/sd4</code> (IN\_PROGRESS, stage POST\_TEST\_TRAFFIC\_SHIFT) |
            | Traffic to the new revision | production 0%, test 100% |
            | Waiting at | lifecycle hook hook-after-test-traffic (until 2026-01-01T01:00:00Z, then ROLLBACK) |
            | Failed tasks | 0 |
            | Elapsed | [DURATION] |

            #### Phases

            | Phase | After |
            |---|---|
            | service deployment IN\_PROGRESS, stage SCALE\_UP | [DURATION] |
            | service deployment IN\_PROGRESS, stage TEST\_TRAFFIC\_SHIFT | [DURATION] |
            | service deployment IN\_PROGRESS, stage POST\_TEST\_TRAFFIC\_SHIFT | [DURATION] |

            #### Service events

            - 00:33:20 (service startupwebapp-service) has started 2 tasks: (task a) (task b).
            "#);
    });
}

#[tokio::test]
async fn an_alarm_in_the_canary_bake_is_a_rollback_that_names_the_alarm() {
    let describe = mock!(ecs::Client::describe_service_deployments)
        .sequence()
        .output(|| {
            described(sd(
                ServiceDeploymentStatus::InProgress,
                Some(Stage::ProductionTrafficShift),
                Some((10.0, 10.0)),
            ))
        })
        .output(|| {
            described(sd(
                ServiceDeploymentStatus::InProgress,
                Some(Stage::BakeTime),
                Some((10.0, 10.0)),
            ))
        })
        .output(|| {
            let mut rolling_back = sd(
                ServiceDeploymentStatus::RollbackInProgress,
                Some(Stage::BakeTime),
                Some((0.0, 0.0)),
            );
            rolling_back.alarms = Some(
                ServiceDeploymentAlarms::builder()
                    .status(ServiceDeploymentRollbackMonitorsStatus::Triggered)
                    .alarm_names("startupwebapp-5xx")
                    .alarm_names("startupwebapp-latency")
                    .triggered_alarm_names("startupwebapp-5xx")
                    .build(),
            );
            rolling_back.rollback = Some(
                Rollback::builder()
                    .reason("Alarm startupwebapp-5xx is in ALARM state.")
                    .build(),
            );
            described(rolling_back)
        })
        .repeatedly()
        .build();
    let mut fixture = Fixture::new(in_flight(DeploymentStrategy::Canary)).following(describe);
    // CloudWatch says what the alarm watches and why it fired; the names come from the service
    // deployment's triggered alarms.
    fixture.cloudwatch = vec![
        mock!(cloudwatch::Client::describe_alarms)
            .match_requests(|r| r.alarm_names() == ["startupwebapp-5xx"])
            .then_output(|| {
                DescribeAlarmsOutput::builder()
                    .metric_alarms(
                        MetricAlarm::builder()
                            .alarm_name("startupwebapp-5xx")
                            .state_value(StateValue::Alarm)
                            .state_reason("Threshold Crossed: 1 out of the last 1 datapoints [12.0 (01/12/26 00:03:00)] was greater than the threshold (5.0) (minimum 1 datapoint for OK -> ALARM transition).")
                            .metric_name("HTTPCode_Target_5XX_Count")
                            .namespace("AWS/ApplicationELB")
                            .statistic(Statistic::Sum)
                            .period(60)
                            .threshold(5.0)
                            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
                            .build(),
                    )
                    .build()
            }),
    ];
    // No task failed: the alarm alone says the canary is bad.
    fixture.ecs[3] = mock!(ecs::Client::list_tasks)
        .match_requests(|r| r.desired_status() == Some(&DesiredStatus::Stopped))
        .then_output(|| ListTasksOutput::builder().build());
    let (result, log, _) = fixture.run(Until::Complete, Duration::from_secs(30)).await;
    let err = result.expect_err("rolled back");
    assert_eq!(err.kind(), swa_gha::ExitKind::Failed);
    snapshots().bind(|| {
        insta::assert_snapshot!(err.to_string(), @"deployment ecs-svc/[ID] (startupwebapp-service-task:4) failed and ECS is rolling back to startupwebapp-service-task:3: alarm startupwebapp-5xx went into ALARM. Alarm startupwebapp-5xx (HTTPCode_Target_5XX_Count (AWS/ApplicationELB, Sum over 60 s) > 5) is ALARM: Threshold Crossed: 1 out of the last 1 datapoints [12.0 (01/12/26 00:03:00)] was greater than the threshold (5.0) (minimum 1 datapoint for OK -> ALARM transition).");
        insta::assert_snapshot!(log, @r#"
            Watching deployment ecs-svc/[ID] of startupwebapp-service (startupwebapp-service-task:4, replacing startupwebapp-service-task:3) until complete
            Following service deployment arn:aws:ecs:us-east-1:123456789012:service-deployment/startupwebapp-cluster/startupwebapp-service/sd4 (strategy CANARY)
            [[DURATION]] service deployment IN_PROGRESS, stage PRODUCTION_TRAFFIC_SHIFT
            [[DURATION]] production traffic 10% on the new revision
            event: 00:33:20 (service startupwebapp-service) has started 2 tasks: (task a) (task b).
            [[DURATION]] new tasks running
            [[DURATION]] targets healthy
            [[DURATION]] service deployment IN_PROGRESS, stage BAKE_TIME
            [[DURATION]] service deployment ROLLBACK_IN_PROGRESS, stage BAKE_TIME
            output result=rolled-back
            output deployment-id=ecs-svc/[ID]
            output rollout-state=IN_PROGRESS
            output failed-tasks=0
            output failed-probes=0
            output elapsed-seconds=[SECONDS]
            output service-deployment-arn=arn:aws:ecs:us-east-1:123456789012:service-deployment/startupwebapp-cluster/startupwebapp-service/sd4
            output service-deployment-status=ROLLBACK_IN_PROGRESS
            output lifecycle-stage=BAKE_TIME
            output production-weight=0
            output test-weight=0
            output hook-id=
            output expires-at=
            output hook-timeout-action=
            13 ECS calls in [DURATION] ([RATE] a minute)
            "#);
    });
}

#[tokio::test]
async fn complete_waits_for_the_service_deployment_to_succeed() {
    // DescribeServices is steady at once; the service deployment succeeds a poll later.
    let services = mock!(ecs::Client::describe_services)
        .then_output(|| services(vec![new_dep(2, 0, DeploymentRolloutState::Completed)]));
    let describe = mock!(ecs::Client::describe_service_deployments)
        .sequence()
        .output(|| described(sd(ServiceDeploymentStatus::InProgress, None, None)))
        .output(|| described(sd(ServiceDeploymentStatus::Successful, None, None)))
        .repeatedly()
        .build();
    let fixture = Fixture::new(services).following(describe);
    let (result, log, _) = fixture.run(Until::Complete, Duration::from_secs(30)).await;
    assert!(result.is_ok(), "{result:?}\n{log}");
    snapshots().bind(|| insta::assert_snapshot!(log, @r#"
        Watching deployment ecs-svc/[ID] of startupwebapp-service (startupwebapp-service-task:4) until complete
        Following service deployment arn:aws:ecs:us-east-1:123456789012:service-deployment/startupwebapp-cluster/startupwebapp-service/sd4 (strategy ROLLING)
        [[DURATION]] service deployment IN_PROGRESS
        event: 00:33:20 (service startupwebapp-service) has started 2 tasks: (task a) (task b).
        [[DURATION]] new tasks running
        [[DURATION]] targets healthy
        [[DURATION]] rollout completed
        [[DURATION]] old deployments drained
        [[DURATION]] service deployment SUCCESSFUL
        output result=healthy
        output deployment-id=ecs-svc/[ID]
        output rollout-state=COMPLETED
        output failed-tasks=0
        output failed-probes=0
        output elapsed-seconds=[SECONDS]
        output service-deployment-arn=arn:aws:ecs:us-east-1:123456789012:service-deployment/startupwebapp-cluster/startupwebapp-service/sd4
        output service-deployment-status=SUCCESSFUL
        output lifecycle-stage=
        output production-weight=
        output test-weight=
        output hook-id=
        output expires-at=
        output hook-timeout-action=
        9 ECS calls in [DURATION] ([RATE] a minute)
        ::notice::deployment ecs-svc/[ID] (startupwebapp-service-task:4) is healthy: 2/2 tasks running, targets healthy, older deployments gone after [DURATION]
        "#));
    assert_eq!(fixture.ecs[7].num_calls(), 2, "described twice");
}

#[tokio::test]
async fn a_stage_of_a_rolling_service_is_bad_input() {
    let services = mock!(ecs::Client::describe_services)
        .then_output(|| services(vec![new_dep(2, 0, DeploymentRolloutState::InProgress)]));
    let fixture = Fixture::new(services);
    let (result, log, _) = fixture
        .run(Until::TestTraffic, Duration::from_secs(30))
        .await;
    let err = result.expect_err("bad input");
    assert_eq!(err.kind(), swa_gha::ExitKind::BadInput);
    snapshots().bind(|| insta::assert_snapshot!(err.to_string(), @"input `until` is `test-traffic`, a lifecycle stage of blue/green, linear and canary deployments, but service `startupwebapp-service` deploys with strategy ROLLING; wait until `steady`, `complete` or `serving`"));
    assert!(!log.contains("output result="), "{log}");
}
