//! The decision alone, from services and tasks built with the SDK's builders.

use aws_sdk_ecs::types::{Container, DeploymentRolloutState, ServiceEvent, Task, TaskStopCode};
use aws_sdk_elasticloadbalancingv2::types::{
    TargetDescription, TargetHealth, TargetHealthDescription, TargetHealthReasonEnum,
    TargetHealthStateEnum,
};

use super::*;
use crate::watch::Until;

const NEW: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:4";
const OLD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3";
const TG: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/0123";

fn settings(until: Until) -> Checked {
    Checked {
        cluster: "c".into(),
        service: "web".into(),
        deployment_id: None,
        service_deployment_arn: None,
        until,
        timeout: Duration::from_secs(600),
        health_url: Some("https://example.com/health".into()),
        health_expect: None,
        max_failed_tasks: 3,
        log_lines: 30,
        poll_interval: Duration::from_secs(2),
        unreachable_timeout: Duration::from_secs(60),
        calls_per_minute: 36.0,
        rollback_on_cancel: false,
    }
}

fn deployment(id: &str, status: &str, revision: &str, running: i32) -> Deployment {
    let state = DeploymentRolloutState::InProgress;
    crate::watch::tests::deployment(id, status, revision, running, 0, state)
}

fn service(deployments: Vec<Deployment>, events: Vec<ServiceEvent>) -> Service {
    Service::builder()
        .service_name("web")
        .set_deployments(Some(deployments))
        .set_events(Some(events))
        .build()
}

fn watched(load_balanced: bool) -> Watched {
    Watched {
        id: "ecs-svc/2".into(),
        revision: NEW.into(),
        old_revisions: vec![OLD.into()],
        rollback_enabled: true,
        load_balancers: if load_balanced {
            vec![LoadBalancer {
                target_group: TG.into(),
                port: Some(8000),
            }]
        } else {
            Vec::new()
        },
        since: DateTime::from_secs(1_000),
        strategy: "ROLLING".into(),
        service_deployment: None,
    }
}

fn stopped(n: u8) -> StoppedTask {
    let task = Task::builder()
        .task_arn(format!("arn:aws:ecs:us-east-1:123456789012:task/c/bad{n}"))
        .task_definition_arn(NEW)
        .stop_code(TaskStopCode::EssentialContainerExited)
        .stopped_reason("Essential container in task exited")
        .containers(Container::builder().name("web").exit_code(1).build())
        .build();
    StoppedTask::new(&task, None)
}

fn observed<'a>(service: &'a Service) -> Observed<'a> {
    Observed {
        service,
        stopped: &[],
        stopped_listed: false,
        targets: None,
        probe: None,
        // Consulted, and there is none: the decision from the service's deployments alone.
        followed: None,
        followed_read: true,
    }
}

fn target(ip: &str, state: TargetHealthStateEnum) -> TargetHealthDescription {
    let mut health = TargetHealth::builder().state(state.clone());
    if state != TargetHealthStateEnum::Healthy {
        health = health.reason(TargetHealthReasonEnum::ResponseCodeMismatch);
    }
    TargetHealthDescription::builder()
        .target(TargetDescription::builder().id(ip).port(8000).build())
        .target_health(health.build())
        .build()
}

fn targets(descriptions: Vec<TargetHealthDescription>) -> Targets {
    Targets {
        ips: Ok(vec!["10.0.1.1".into(), "10.0.1.2".into()]),
        groups: vec![(
            LoadBalancer {
                target_group: TG.into(),
                port: Some(8000),
            },
            Ok(descriptions),
        )],
    }
}

fn missing(assessment: &Assessment) -> Vec<String> {
    match &assessment.next {
        Next::Waiting { missing, .. } => missing.clone(),
        other => panic!("not waiting: {other:?}"),
    }
}

fn outcome(assessment: Assessment) -> Outcome {
    match assessment.next {
        Next::Over { outcome, .. } => outcome,
        other => panic!("not over: {other:?}"),
    }
}

#[test]
fn the_first_answer_picks_the_primary_deployment_or_the_one_named() {
    let service = service(
        vec![
            deployment("ecs-svc/2", "PRIMARY", NEW, 0),
            deployment("ecs-svc/1", "ACTIVE", OLD, 2),
        ],
        Vec::new(),
    );
    let now = DateTime::from_secs(5_000);
    let primary = super::watched(&service, &settings(Until::Steady), now).expect("the primary");
    assert_eq!(
        primary,
        Watched {
            load_balancers: Vec::new(),
            rollback_enabled: false,
            ..watched(false)
        }
    );
    let mut named = settings(Until::Steady);
    named.deployment_id = Some("ecs-svc/1".into());
    let old = super::watched(&service, &named, now).expect("the named one");
    assert_eq!(
        (old.revision.as_str(), old.old_revisions),
        (OLD, vec![NEW.to_string()])
    );
    named.deployment_id = Some("ecs-svc/7".into());
    let err = super::watched(&service, &named, now).expect_err("no such deployment");
    assert_eq!(err.kind(), swa_gha::ExitKind::BadInput);
    insta::assert_snapshot!(err, @"input `deployment-id` is `ecs-svc/7`, which is not a deployment of service `web` (its deployments: ecs-svc/2, ecs-svc/1)");
}

#[test]
fn a_rollout_under_way_lists_everything_still_missing() {
    let service = service(
        vec![
            deployment("ecs-svc/2", "PRIMARY", NEW, 1),
            deployment("ecs-svc/1", "ACTIVE", OLD, 2),
        ],
        Vec::new(),
    );
    let probe = Probed {
        attempts: 2,
        failures: 2,
        last_ok: false,
        last_error: Some("503 Service Unavailable".into()),
    };
    let observed = Observed {
        probe: Some(&probe),
        ..observed(&service)
    };
    let assessment = assess(
        &observed,
        &watched(true),
        &Progress::default(),
        &settings(Until::Steady),
    );
    assert_eq!(assessment.reached, Vec::<&str>::new());
    assert_eq!(
        assessment.next,
        Next::Waiting {
            missing: vec![
                "1/2 new tasks running".into(),
                "rollout IN_PROGRESS".into(),
                "1 older deployment still running 2 tasks".into(),
                "health-url https://example.com/health: 503 Service Unavailable".into(),
            ],
            close: false,
            nudge_probe: false,
        }
    );
    assert_eq!(assessment.progress.rollout_state, "IN_PROGRESS");
}

#[test]
fn running_tasks_ask_for_their_targets_once_then_are_healthy() {
    let service = service(vec![deployment("ecs-svc/2", "PRIMARY", NEW, 2)], Vec::new());
    let (watched, settings) = (watched(true), settings(Until::Serving));
    let before = Progress::default();
    let first = assess(&observed(&service), &watched, &before, &settings);
    assert_eq!(first.next, Next::Look(Look::Targets { desired: 2 }));

    let unhealthy = targets(vec![
        target("10.0.1.1", TargetHealthStateEnum::Healthy),
        target("10.0.1.2", TargetHealthStateEnum::Unhealthy),
    ]);
    let with_targets = |targets: &Targets| {
        let seen = Observed {
            targets: Some(targets),
            ..observed(&service)
        };
        assess(&seen, &watched, &before, &settings)
    };
    let waiting = with_targets(&unhealthy);
    assert_eq!(
        missing(&waiting),
        ["target 10.0.1.2:8000 unhealthy: Target.ResponseCodeMismatch"]
    );
    assert!(!waiting.progress.targets_ok);

    let healthy = targets(vec![
        target("10.0.1.1", TargetHealthStateEnum::Healthy),
        target("10.0.1.2", TargetHealthStateEnum::Healthy),
    ]);
    let over = with_targets(&healthy);
    assert!(over.progress.targets_ok);
    assert_eq!(
        over.reached,
        [
            "new tasks running",
            "targets healthy",
            "old deployments drained"
        ]
    );
    insta::assert_snapshot!(outcome(over).message, @"deployment ecs-svc/2 (web:4) is healthy: 2/2 tasks running, targets healthy");

    // Once healthy, the targets are not read again.
    let later = Progress {
        targets_ok: true,
        ..before
    };
    let again = assess(&observed(&service), &watched, &later, &settings);
    assert_eq!(outcome(again).verdict, Verdict::Healthy);
}

#[test]
fn targets_name_what_keeps_them_from_being_healthy() {
    let lb = LoadBalancer {
        target_group: TG.into(),
        port: Some(8000),
    };
    let problems = target_problems(
        &Targets {
            ips: Ok(vec!["10.0.1.1".into(), "10.0.1.2".into()]),
            groups: vec![
                (
                    lb.clone(),
                    Ok(vec![target("10.0.1.1", TargetHealthStateEnum::Draining)]),
                ),
                (lb.clone(), Err("AccessDenied: not allowed".into())),
            ],
        },
        2,
    );
    insta::assert_snapshot!(problems.join("\n"), @r"
    target 10.0.1.1:8000 draining: Target.ResponseCodeMismatch
    target 10.0.1.2:8000 not registered in web-tg
    DescribeTargetHealth web-tg failed: AccessDenied: not allowed
    ");
    let few = Targets {
        ips: Ok(vec!["10.0.1.1".into()]),
        groups: Vec::new(),
    };
    assert_eq!(
        target_problems(&few, 2),
        ["1/2 new tasks have an IP address"]
    );
    let unread = Targets {
        ips: Err("ListTasks failed: Throttled".into()),
        groups: Vec::new(),
    };
    assert_eq!(
        target_problems(&unread, 2),
        ["could not read the new tasks: ListTasks failed: Throttled"]
    );
}

#[test]
fn failed_tasks_are_listed_before_max_failed_tasks_ends_the_wait() {
    let mut failing = deployment("ecs-svc/2", "PRIMARY", NEW, 0);
    failing.failed_tasks = 3;
    let service = service(vec![failing], Vec::new());
    let (watched, settings) = (watched(false), settings(Until::Steady));
    let first = assess(
        &observed(&service),
        &watched,
        &Progress::default(),
        &settings,
    );
    assert_eq!(first.next, Next::Look(Look::StoppedTasks));

    let stopped = [stopped(1), stopped(2), stopped(3)];
    let seen = Observed {
        stopped: &stopped,
        stopped_listed: true,
        ..observed(&service)
    };
    let over = assess(&seen, &watched, &Progress::default(), &settings);
    assert_eq!(over.progress.failed_tasks, 3);
    let outcome = outcome(over);
    assert_eq!(outcome.verdict, Verdict::Failed);
    insta::assert_snapshot!(outcome.message, @"3 tasks of deployment ecs-svc/2 (web:4) stopped (max-failed-tasks is 3); last: task bad3 stopped (EssentialContainerExited: Essential container in task exited); web exited 1");
}

#[test]
fn a_failed_rollout_is_a_rollback_when_the_circuit_breaker_rolls_back() {
    let mut failed = deployment("ecs-svc/2", "PRIMARY", NEW, 0);
    failed.rollout_state = Some(DeploymentRolloutState::Failed);
    failed.rollout_state_reason =
        Some("ECS deployment circuit breaker: tasks failed to start.".into());
    let service = service(vec![failed], Vec::new());
    let settings = settings(Until::Steady);
    let listed = Observed {
        stopped_listed: true,
        ..observed(&service)
    };
    let rolled_back = assess(&listed, &watched(false), &Progress::default(), &settings);
    assert_eq!(rolled_back.progress.rollout_state, "FAILED");
    let rolled_back = outcome(rolled_back);
    assert_eq!(rolled_back.verdict, Verdict::RolledBack);
    insta::assert_snapshot!(rolled_back.message, @"deployment ecs-svc/2 (web:4) failed and ECS is rolling back to web:3: ECS deployment circuit breaker: tasks failed to start.");

    let no_breaker = Watched {
        rollback_enabled: false,
        ..watched(false)
    };
    let failed = outcome(assess(
        &listed,
        &no_breaker,
        &Progress::default(),
        &settings,
    ));
    assert_eq!(failed.verdict, Verdict::Failed);
    insta::assert_snapshot!(failed.message, @"deployment ecs-svc/2 (web:4) failed: ECS deployment circuit breaker: tasks failed to start.");
}

#[test]
fn a_new_primary_supersedes_unless_the_service_is_rolling_back() {
    let replaced = vec![
        deployment("ecs-svc/9", "PRIMARY", OLD, 0),
        deployment("ecs-svc/2", "ACTIVE", NEW, 1),
    ];
    let settings = settings(Until::Steady);
    let updated = service(replaced.clone(), Vec::new());
    let superseded = assess(
        &observed(&updated),
        &watched(false),
        &Progress::default(),
        &settings,
    );
    assert_eq!(
        superseded.next,
        Next::Over {
            outcome: Outcome::new(
                Verdict::Superseded,
                "deployment ecs-svc/2 (web:4) was superseded by deployment ecs-svc/9 (web:3) before it was healthy: another update of the service replaced it (not a rollback)"
            ),
            successor: Some(Successor {
                id: "ecs-svc/9".into(),
                revision: OLD.into()
            }),
        },
        "a superseded deployment's stopped tasks are no failure: they are not listed"
    );

    let event = |secs, message: &str| {
        ServiceEvent::builder()
            .id(format!("e{secs}"))
            .created_at(DateTime::from_secs(secs))
            .message(message)
            .build()
    };
    let rolling_back = "(service web) (deployment ecs-svc/9) rolling back to deployment ecs-svc/1.";
    // An event from before the watched deployment was created is another deployment's.
    let old_news = service(replaced.clone(), vec![event(500, rolling_back)]);
    let assessment = assess(
        &observed(&old_news),
        &watched(false),
        &Progress::default(),
        &settings,
    );
    assert_eq!(outcome(assessment).verdict, Verdict::Superseded);

    let rolled_back = service(replaced, vec![event(2_000, rolling_back)]);
    let first = assess(
        &observed(&rolled_back),
        &watched(false),
        &Progress::default(),
        &settings,
    );
    assert_eq!(first.next, Next::Look(Look::StoppedTasks));
    let listed = Observed {
        stopped_listed: true,
        ..observed(&rolled_back)
    };
    let over = outcome(assess(
        &listed,
        &watched(false),
        &Progress::default(),
        &settings,
    ));
    assert_eq!(over.verdict, Verdict::RolledBack);
    insta::assert_snapshot!(over.message, @"deployment ecs-svc/2 (web:4) is no longer PRIMARY: the service rolled back to web:3");
}

#[test]
fn a_timeout_says_what_was_missing_as_of_the_last_answer() {
    let missing = [
        "1/2 new tasks running".to_string(),
        "rollout IN_PROGRESS".into(),
    ];
    let plain = timed_out(Some("ecs-svc/2"), Duration::from_secs(120), &missing, None);
    assert_eq!(plain.verdict, Verdict::Timeout);
    insta::assert_snapshot!(plain.message, @"deployment ecs-svc/2 was not healthy after 2m00s: 1/2 new tasks running; rollout IN_PROGRESS");
    let failing = Failing {
        polls: 1,
        error: "ThrottlingException: Rate exceeded",
    };
    let stale = timed_out(None, Duration::from_secs(120), &[], Some(failing));
    insta::assert_snapshot!(stale.message, @"deployment (unknown) was not healthy after 2m00s (as of the last answer: DescribeServices failed the last 1 poll: ThrottlingException: Rate exceeded)");
    let down = unreachable(
        Duration::from_secs(61),
        Duration::from_secs(60),
        Failing {
            polls: 12,
            ..failing
        },
    );
    assert_eq!(down.verdict, Verdict::Error);
    insta::assert_snapshot!(down.message, @"ECS could not be reached for 1m01s (12 polls in a row failed; unreachable-timeout is 1m00s): ThrottlingException: Rate exceeded");
}

#[test]
fn a_targets_health_is_found_by_its_address_and_the_services_port() {
    let mut other_port = target("10.0.1.1", TargetHealthStateEnum::Draining);
    other_port.target = Some(
        TargetDescription::builder()
            .id("10.0.1.1")
            .port(9000)
            .build(),
    );
    let descriptions = vec![
        other_port,
        target("10.0.1.1", TargetHealthStateEnum::Healthy),
    ];
    let state = |port| health_of(&descriptions, "10.0.1.1", port).and_then(|h| h.state().cloned());
    assert_eq!(state(Some(8000)), Some(TargetHealthStateEnum::Healthy));
    assert_eq!(state(Some(9000)), Some(TargetHealthStateEnum::Draining));
    // Without a port, the first registration of the address answers.
    assert_eq!(state(None), Some(TargetHealthStateEnum::Draining));
    assert_eq!(state(Some(7000)), None);
    assert!(health_of(&descriptions, "10.0.1.9", None).is_none());
}
