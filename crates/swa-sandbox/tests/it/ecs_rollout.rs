//! ECS rollouts through the aws-sdk clients: the starting world, a healthy rollout, a
//! crash-looping image with circuit breaker and rollback, and failing health checks.

use std::time::Duration;

use swa_aws::ecs::types::{
    Compatibility, ContainerDefinition, DesiredStatus, LogConfiguration, LogDriver, NetworkMode,
    PortMapping, TransportProtocol,
};

use crate::{CLUSTER, SERVICE, aws, eventually, service, start};

const LIMIT: Duration = Duration::from_secs(120);
const TARGET_GROUP: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/startupwebapp-tg/0123456789abcdef";

/// Registers `startupwebapp-service-task` with `release-4`, as a deploy does; returns its ARN.
pub async fn register_release_4(ecs: &swa_aws::ecs::Client) -> String {
    let container = ContainerDefinition::builder()
        .name("startupwebapp")
        .image("123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp:release-4")
        .essential(true)
        .port_mappings(
            PortMapping::builder()
                .container_port(8000)
                .protocol(TransportProtocol::Tcp)
                .build(),
        )
        .log_configuration(
            LogConfiguration::builder()
                .log_driver(LogDriver::Awslogs)
                .options("awslogs-group", "/ecs/startupwebapp-service")
                .options("awslogs-region", "us-east-1")
                .options("awslogs-stream-prefix", "ecs")
                .build()
                .unwrap(),
        )
        .build();
    let out = ecs
        .register_task_definition()
        .family("startupwebapp-service-task")
        .network_mode(NetworkMode::Awsvpc)
        .requires_compatibilities(Compatibility::Fargate)
        .cpu("512")
        .memory("1024")
        .execution_role_arn("arn:aws:iam::123456789012:role/ecsTaskExecutionRole-startupwebapp")
        .container_definitions(container)
        .send()
        .await
        .unwrap();
    let td = out.task_definition().unwrap();
    assert_eq!(td.revision(), 4);
    td.task_definition_arn().unwrap().to_string()
}

async fn deploy(ecs: &swa_aws::ecs::Client, arn: &str) -> String {
    let out = ecs
        .update_service()
        .cluster(CLUSTER)
        .service(SERVICE)
        .task_definition(arn)
        .send()
        .await
        .unwrap();
    let s = out.service().unwrap();
    let deployments = s.deployments();
    assert_eq!(deployments.len(), 2);
    assert_eq!(deployments[0].status(), Some("PRIMARY"));
    assert_eq!(deployments[0].task_definition(), Some(arn));
    assert_eq!(
        deployments[0].rollout_state().map(|r| r.as_str()),
        Some("IN_PROGRESS")
    );
    assert_eq!(deployments[1].status(), Some("ACTIVE"));
    let id = deployments[0].id().unwrap().to_string();
    let digits = id.strip_prefix("ecs-svc/").unwrap();
    assert_eq!(digits.len(), 19, "{id}");
    assert!(digits.chars().all(|c| c.is_ascii_digit()));
    id
}

fn messages(s: &swa_aws::ecs::types::Service) -> Vec<String> {
    s.events()
        .iter()
        .filter_map(|e| e.message().map(String::from))
        .collect()
}

#[tokio::test]
async fn the_starting_world_matches_production() {
    let sandbox = start("healthy", 1.0);
    let aws = aws(&sandbox).await;
    let ecs = aws.ecs();
    let s = service(&ecs).await;
    assert_eq!(s.desired_count(), 2);
    assert_eq!(s.running_count(), 2);
    assert_eq!(
        s.task_definition(),
        Some("arn:aws:ecs:us-east-1:123456789012:task-definition/startupwebapp-service-task:3")
    );
    assert_eq!(s.deployments().len(), 1);
    assert_eq!(
        s.deployments()[0].rollout_state().map(|r| r.as_str()),
        Some("COMPLETED")
    );
    assert_eq!(
        s.load_balancers()[0].target_group_arn(),
        Some(
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/startupwebapp-tg/0123456789abcdef"
        )
    );
    let cb = s
        .deployment_configuration()
        .unwrap()
        .deployment_circuit_breaker()
        .unwrap();
    assert!(cb.enable() && cb.rollback());
    let net = s
        .network_configuration()
        .unwrap()
        .awsvpc_configuration()
        .unwrap();
    assert_eq!(
        net.subnets(),
        ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]
    );
    assert_eq!(net.security_groups(), ["sg-0a1b2c3d4e5f60003"]);
    assert!(messages(&s)[0].contains("has reached a steady state."));

    for (family, container, group) in [
        (
            "startupwebapp-service-task",
            "startupwebapp",
            "/ecs/startupwebapp-service",
        ),
        (
            "startupwebapp-migration-task",
            "migration",
            "/ecs/startupwebapp-migrations",
        ),
    ] {
        for rev in 1..=3 {
            let td = ecs
                .describe_task_definition()
                .task_definition(format!("{family}:{rev}"))
                .send()
                .await
                .unwrap();
            let td = td.task_definition().unwrap();
            let c = &td.container_definitions()[0];
            assert_eq!(c.name(), Some(container));
            assert_eq!(
                c.image(),
                Some(
                    format!(
                        "123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp:release-{rev}"
                    )
                    .as_str()
                )
            );
            let options = c.log_configuration().unwrap().options().unwrap();
            assert_eq!(options["awslogs-group"], group);
            assert_eq!(options["awslogs-stream-prefix"], "ecs");
        }
    }

    let tasks = ecs
        .list_tasks()
        .cluster(CLUSTER)
        .service_name(SERVICE)
        .send()
        .await
        .unwrap();
    assert_eq!(tasks.task_arns().len(), 2);
    let described = ecs
        .describe_tasks()
        .cluster(CLUSTER)
        .set_tasks(Some(tasks.task_arns().to_vec()))
        .send()
        .await
        .unwrap();
    for t in described.tasks() {
        assert_eq!(t.last_status(), Some("RUNNING"));
        assert_eq!(t.group(), Some("service:startupwebapp-service"));
        assert_eq!(t.started_by(), s.deployments()[0].id());
        let details = t.attachments()[0].details();
        let ip = details
            .iter()
            .find(|d| d.name() == Some("privateIPv4Address"))
            .and_then(|d| d.value())
            .unwrap();
        assert!(ip.starts_with("10.0."), "{ip}");
    }

    let ecr = aws.ecr();
    for n in 1..=4 {
        let images = ecr
            .describe_images()
            .repository_name("startupwebapp")
            .image_ids(
                swa_aws::ecr::types::ImageIdentifier::builder()
                    .image_tag(format!("release-{n}"))
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert!(
            images.image_details()[0]
                .image_digest()
                .unwrap()
                .starts_with("sha256:")
        );
    }
}

#[tokio::test]
async fn a_healthy_rollout_replaces_every_task_and_reaches_a_steady_state() {
    let sandbox = start("healthy", 60.0);
    let aws = aws(&sandbox).await;
    let ecs = aws.ecs();
    let old_tasks = ecs
        .list_tasks()
        .cluster(CLUSTER)
        .service_name(SERVICE)
        .send()
        .await
        .unwrap()
        .task_arns()
        .to_vec();
    let arn = register_release_4(&ecs).await;
    let id = deploy(&ecs, &arn).await;

    // New tasks appear, started by the deployment, and go through their lifecycle.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::new()));
    let elb = aws.elbv2();
    let s = eventually(LIMIT, || {
        let ecs = ecs.clone();
        let elb = elb.clone();
        let id = id.clone();
        let seen = seen.clone();
        async move {
            let tasks = ecs
                .list_tasks()
                .cluster(CLUSTER)
                .started_by(&id)
                .send()
                .await
                .unwrap();
            if !tasks.task_arns().is_empty() {
                let d = ecs
                    .describe_tasks()
                    .cluster(CLUSTER)
                    .set_tasks(Some(tasks.task_arns().to_vec()))
                    .send()
                    .await
                    .unwrap();
                for t in d.tasks() {
                    seen.lock()
                        .unwrap()
                        .insert(t.last_status().unwrap().to_string());
                }
            }
            let health = elb
                .describe_target_health()
                .target_group_arn(TARGET_GROUP)
                .send()
                .await
                .unwrap();
            for d in health.target_health_descriptions() {
                let state = d.target_health().unwrap().state().unwrap().as_str();
                seen.lock().unwrap().insert(format!("target {state}"));
            }
            let s = service(&ecs).await;
            (s.deployments().len() == 1
                && s.deployments()[0].rollout_state().map(|r| r.as_str()) == Some("COMPLETED"))
            .then_some(s)
        }
    })
    .await;
    let seen = seen.lock().unwrap().clone();
    assert!(seen.contains("RUNNING"), "{seen:?}");
    for state in ["target initial", "target healthy", "target draining"] {
        assert!(seen.contains(state), "{state}: {seen:?}");
    }
    assert!(
        seen.contains("PENDING") || seen.contains("PROVISIONING"),
        "{seen:?}"
    );
    assert_eq!(s.deployments()[0].id(), Some(id.as_str()));
    assert_eq!(s.task_definition(), Some(arn.as_str()));
    assert_eq!(s.desired_count(), 2);
    assert_eq!(s.running_count(), 2);
    let text = messages(&s).join("\n");
    assert!(text.contains("has reached a steady state."), "{text}");
    assert!(text.contains("has started 2 tasks: (task "), "{text}");
    assert!(
        text.contains("registered 1 targets in (target-group arn:aws:elasticloadbalancing:"),
        "{text}"
    );
    assert!(text.contains("running tasks: (task "), "{text}");

    // The old tasks drained and stopped; the new ones are healthy targets.
    let old = ecs
        .describe_tasks()
        .cluster(CLUSTER)
        .set_tasks(Some(old_tasks))
        .send()
        .await
        .unwrap();
    for t in old.tasks() {
        assert_eq!(t.last_status(), Some("STOPPED"));
        assert_eq!(t.desired_status(), Some("STOPPED"));
        assert_eq!(
            t.stop_code().map(|c| c.as_str()),
            Some("ServiceSchedulerInitiated")
        );
    }
    let health = aws
        .elbv2()
        .describe_target_health()
        .target_group_arn("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/startupwebapp-tg/0123456789abcdef")
        .send()
        .await
        .unwrap();
    let states: Vec<_> = health
        .target_health_descriptions()
        .iter()
        .map(|d| {
            d.target_health()
                .unwrap()
                .state()
                .unwrap()
                .as_str()
                .to_string()
        })
        .collect();
    assert_eq!(states, ["healthy", "healthy"]);

    let kinds: Vec<String> = sandbox.timeline().into_iter().map(|e| e.kind).collect();
    assert!(
        kinds.contains(&"deployment-completed".to_string()),
        "{kinds:?}"
    );
    let calls = sandbox.calls();
    let update = calls
        .iter()
        .find(|c| c.operation == "UpdateService")
        .unwrap();
    assert!(update.is_mutating());
    assert!(update.request.get("desiredCount").is_none());
    assert!(calls.iter().all(|c| c.status == 200));
}

#[tokio::test]
async fn a_crash_looping_image_trips_the_circuit_breaker_and_rolls_back() {
    let sandbox = start("crash-loop", 60.0);
    let aws = aws(&sandbox).await;
    let ecs = aws.ecs();
    let arn = register_release_4(&ecs).await;
    let failed_id = deploy(&ecs, &arn).await;

    let s = eventually(LIMIT, || {
        let ecs = ecs.clone();
        async move {
            let s = service(&ecs).await;
            let primary = &s.deployments()[0];
            (s.deployments().len() == 1
                && primary.rollout_state().map(|r| r.as_str()) == Some("COMPLETED"))
            .then_some(s)
        }
    })
    .await;
    let rev3 = "arn:aws:ecs:us-east-1:123456789012:task-definition/startupwebapp-service-task:3";
    assert_eq!(s.task_definition(), Some(rev3));
    assert_ne!(s.deployments()[0].id(), Some(failed_id.as_str()));
    let text = messages(&s).join("\n");
    assert!(
        text.contains(&format!(
            "(service startupwebapp-service) (deployment {failed_id}) deployment failed: tasks failed to start."
        )),
        "{text}"
    );
    assert!(
        text.contains("rolling back to deployment ecs-svc/"),
        "{text}"
    );

    let stopped = ecs
        .list_tasks()
        .cluster(CLUSTER)
        .started_by(&failed_id)
        .desired_status(DesiredStatus::Stopped)
        .send()
        .await
        .unwrap();
    // The breaker opens at 3 failures (0.5 x 2, at least 3).
    assert!(stopped.task_arns().len() >= 3, "{stopped:?}");
    let d = ecs
        .describe_tasks()
        .cluster(CLUSTER)
        .set_tasks(Some(stopped.task_arns().to_vec()))
        .send()
        .await
        .unwrap();
    let crashed: Vec<_> = d
        .tasks()
        .iter()
        .filter(|t| t.stop_code().map(|c| c.as_str()) == Some("EssentialContainerExited"))
        .collect();
    assert!(crashed.len() >= 3);
    let t = crashed[0];
    assert_eq!(
        t.stopped_reason(),
        Some("Essential container in task exited")
    );
    assert_eq!(t.containers()[0].exit_code(), Some(1));
    let task_id = t.task_arn().unwrap().rsplit('/').next().unwrap();
    let logs = aws
        .logs()
        .get_log_events()
        .log_group_name("/ecs/startupwebapp-service")
        .log_stream_name(format!("ecs/startupwebapp/{task_id}"))
        .start_from_head(true)
        .send()
        .await
        .unwrap();
    let lines: Vec<_> = logs.events().iter().filter_map(|e| e.message()).collect();
    assert!(
        lines.contains(&"Traceback (most recent call last):"),
        "{lines:?}"
    );

    let kinds: Vec<String> = sandbox.timeline().into_iter().map(|e| e.kind).collect();
    let failed = kinds.iter().position(|k| k == "deployment-failed").unwrap();
    let rollback = kinds.iter().position(|k| k == "rollback-started").unwrap();
    assert!(failed < rollback);
}

#[tokio::test]
async fn failing_health_checks_stop_tasks_and_roll_back() {
    let sandbox = start("unhealthy-targets", 60.0);
    let aws = aws(&sandbox).await;
    let ecs = aws.ecs();
    let elb = aws.elbv2();
    let arn = register_release_4(&ecs).await;
    deploy(&ecs, &arn).await;
    let tg = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/startupwebapp-tg/0123456789abcdef";
    let reasons = eventually(LIMIT, || {
        let elb = elb.clone();
        async move {
            let h = elb
                .describe_target_health()
                .target_group_arn(tg)
                .send()
                .await
                .unwrap();
            let unhealthy: Vec<(String, String)> = h
                .target_health_descriptions()
                .iter()
                .filter_map(|d| d.target_health())
                .filter(|th| th.state().map(|s| s.as_str()) == Some("unhealthy"))
                .map(|th| {
                    (
                        th.reason().unwrap().as_str().to_string(),
                        th.description().unwrap().to_string(),
                    )
                })
                .collect();
            (!unhealthy.is_empty()).then_some(unhealthy)
        }
    })
    .await;
    for (reason, description) in &reasons {
        assert!(
            reason == "Target.ResponseCodeMismatch" || reason == "Target.Timeout",
            "{reason}"
        );
        assert!(!description.is_empty());
    }
    let s = eventually(LIMIT, || {
        let ecs = ecs.clone();
        async move {
            let s = service(&ecs).await;
            (s.deployments().len() == 1
                && s.deployments()[0].rollout_state().map(|r| r.as_str()) == Some("COMPLETED"))
            .then_some(s)
        }
    })
    .await;
    assert!(s.task_definition().unwrap().ends_with(":3"));
    let stopped = ecs
        .list_tasks()
        .cluster(CLUSTER)
        .desired_status(DesiredStatus::Stopped)
        .send()
        .await
        .unwrap();
    let d = ecs
        .describe_tasks()
        .cluster(CLUSTER)
        .set_tasks(Some(stopped.task_arns().to_vec()))
        .send()
        .await
        .unwrap();
    assert!(d.tasks().iter().any(|t| t.stopped_reason()
        == Some("Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/startupwebapp-tg/0123456789abcdef)")));
}

#[tokio::test]
async fn slow_start_makes_new_tasks_take_longer() {
    let clock = 60.0;
    let mut virtual_seconds = Vec::new();
    for scenario in ["healthy", "slow-start"] {
        let sandbox = start(scenario, clock);
        let aws = aws(&sandbox).await;
        let ecs = aws.ecs();
        let arn = register_release_4(&ecs).await;
        deploy(&ecs, &arn).await;
        let running = eventually(LIMIT, || {
            let events = sandbox.timeline();
            async move { events.into_iter().find(|e| e.kind == "task-running") }
        })
        .await;
        let created = sandbox
            .timeline()
            .into_iter()
            .find(|e| e.kind == "deployment-created")
            .unwrap();
        virtual_seconds.push((running.at_unix_ms - created.at_unix_ms) as f64 * clock / 1000.0);
    }
    // Provisioning and pulling take 12 virtual seconds; four times that in slow-start.
    assert!(
        (virtual_seconds[0] - 12.0).abs() < 1.0,
        "{virtual_seconds:?}"
    );
    assert!(
        (virtual_seconds[1] - 48.0).abs() < 1.0,
        "{virtual_seconds:?}"
    );
}

#[tokio::test]
async fn desired_count_changes_only_when_update_service_sends_it() {
    let sandbox = start("healthy", 60.0);
    let aws = aws(&sandbox).await;
    let ecs = aws.ecs();
    ecs.update_service()
        .cluster(CLUSTER)
        .service(SERVICE)
        .desired_count(3)
        .send()
        .await
        .unwrap();
    let s = eventually(LIMIT, || {
        let ecs = ecs.clone();
        async move {
            let s = service(&ecs).await;
            (s.running_count() == 3).then_some(s)
        }
    })
    .await;
    assert_eq!(s.desired_count(), 3);
    // No new deployment: the task definition did not change and none was forced.
    assert_eq!(s.deployments().len(), 1);
    let update = sandbox
        .calls()
        .into_iter()
        .find(|c| c.operation == "UpdateService")
        .unwrap();
    assert_eq!(update.request["desiredCount"], 3);
    assert!(
        sandbox
            .timeline()
            .iter()
            .any(|e| e.kind == "desired-count-changed" && e.detail == "3")
    );
}

#[tokio::test]
async fn old_tasks_drain_for_the_deregistration_delay_before_they_stop() {
    let sandbox = start("healthy", 60.0);
    let aws = aws(&sandbox).await;
    let ecs = aws.ecs();
    let elb = aws.elbv2();
    let old_tasks = ecs
        .list_tasks()
        .cluster(CLUSTER)
        .service_name(SERVICE)
        .send()
        .await
        .unwrap()
        .task_arns()
        .to_vec();
    let old_deployment = service(&ecs).await.deployments()[0]
        .id()
        .unwrap()
        .to_string();
    let arn = register_release_4(&ecs).await;
    deploy(&ecs, &arn).await;

    // During the drain: the old task is DEACTIVATING with its container still running, its
    // target is draining, and the old deployment is still listed with fewer running tasks.
    let (task, target, deployment) = eventually(LIMIT, || {
        let (ecs, elb, old_tasks, old_deployment) = (
            ecs.clone(),
            elb.clone(),
            old_tasks.clone(),
            old_deployment.clone(),
        );
        async move {
            let d = ecs
                .describe_tasks()
                .cluster(CLUSTER)
                .set_tasks(Some(old_tasks))
                .send()
                .await
                .unwrap();
            let task = d
                .tasks()
                .iter()
                .find(|t| t.last_status() == Some("DEACTIVATING"))?
                .clone();
            let health = elb
                .describe_target_health()
                .target_group_arn(TARGET_GROUP)
                .send()
                .await
                .unwrap();
            let target = health
                .target_health_descriptions()
                .iter()
                .find(|d| {
                    d.target_health()
                        .and_then(|h| h.state())
                        .map(|s| s.as_str())
                        == Some("draining")
                })?
                .clone();
            let s = service(&ecs).await;
            let deployment = s
                .deployments()
                .iter()
                .find(|d| d.id() == Some(old_deployment.as_str()))?
                .clone();
            Some((task, target, deployment))
        }
    })
    .await;
    assert_eq!(task.desired_status(), Some("STOPPED"));
    assert_eq!(
        task.stop_code().map(|c| c.as_str()),
        Some("ServiceSchedulerInitiated")
    );
    assert!(
        task.stopped_reason()
            .unwrap()
            .starts_with("Scaling activity initiated by (deployment ecs-svc/"),
        "{task:?}"
    );
    let container = &task.containers()[0];
    assert_eq!(container.last_status(), Some("RUNNING"), "{task:?}");
    assert_eq!(container.exit_code(), None, "{task:?}");
    assert!(task.stopped_at().is_none(), "{task:?}");
    let health = target.target_health().unwrap();
    assert_eq!(
        health.reason().map(|r| r.as_str()),
        Some("Target.DeregistrationInProgress")
    );
    assert_eq!(
        health.description(),
        Some("Target deregistration is in progress")
    );
    assert_eq!(deployment.status(), Some("ACTIVE"));
    assert!(deployment.running_count() < 2, "{deployment:?}");

    // After it: stopped with exit code 0, the stop announced 300 s after the drain began,
    // then the steady state.
    let s = eventually(LIMIT, || {
        let (ecs, arn) = (ecs.clone(), arn.clone());
        async move {
            let s = service(&ecs).await;
            (s.deployments().len() == 1
                && s.deployments()[0].task_definition() == Some(arn.as_str())
                && s.deployments()[0].rollout_state().map(|r| r.as_str()) == Some("COMPLETED"))
            .then_some(s)
        }
    })
    .await;
    let at = |needle: &str| -> Vec<i64> {
        let mut times: Vec<i64> = s
            .events()
            .iter()
            .filter(|e| e.message().is_some_and(|m| m.contains(needle)))
            .map(|e| e.created_at().unwrap().to_millis().unwrap())
            .collect();
        times.sort();
        times
    };
    let draining = at("has begun draining connections on ");
    let deregistered = at("deregistered ");
    let stopped = at("has stopped ");
    let steady = at("has reached a steady state.");
    assert!(!draining.is_empty(), "{:?}", messages(&s));
    assert_eq!(draining, deregistered);
    // Each old task stops 300 s after its drain began; tasks stopping at one instant share
    // one event.
    let mut ends: Vec<i64> = draining.iter().map(|t| t + 300_000).collect();
    ends.dedup();
    assert_eq!(stopped, ends, "{:?}", messages(&s));
    let last_steady = *steady.last().unwrap();
    assert!(
        last_steady >= *stopped.last().unwrap(),
        "{:?}",
        messages(&s)
    );
    let stopped_text: Vec<String> = messages(&s)
        .into_iter()
        .filter(|m| m.contains("has stopped "))
        .collect();
    let named: usize = stopped_text
        .iter()
        .map(|m| m.matches("(task ").count())
        .sum();
    assert_eq!(named, 2, "{stopped_text:?}");

    let old = ecs
        .describe_tasks()
        .cluster(CLUSTER)
        .set_tasks(Some(old_tasks))
        .send()
        .await
        .unwrap();
    for t in old.tasks() {
        assert_eq!(t.last_status(), Some("STOPPED"));
        assert_eq!(t.containers()[0].exit_code(), Some(0));
        let drained_ms = t.stopped_at().unwrap().to_millis().unwrap()
            - t.stopping_at().unwrap().to_millis().unwrap();
        assert!(drained_ms >= 300_000, "{t:?}");
    }
}
