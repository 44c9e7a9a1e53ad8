//! What ECS refuses, the sandbox refuses: a revision without the load balancer's container and
//! port, and an image ECR does not hold (CannotPullContainerError, then the circuit breaker).

use std::time::Duration;

use swa_aws::ecr::types::ImageIdentifier;
use swa_aws::ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, Compatibility, ContainerDefinition, DesiredStatus,
    NetworkConfiguration, NetworkMode, PortMapping,
};

use crate::ecs_rollout::register_release_4;
use crate::{CLUSTER, SERVICE, aws, eventually, service, start};

const LIMIT: Duration = Duration::from_secs(120);
const REPO: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp";

async fn register(
    ecs: &swa_aws::ecs::Client,
    family: &str,
    container: ContainerDefinition,
) -> String {
    ecs.register_task_definition()
        .family(family)
        .network_mode(NetworkMode::Awsvpc)
        .requires_compatibilities(Compatibility::Fargate)
        .cpu("512")
        .memory("1024")
        .container_definitions(container)
        .send()
        .await
        .unwrap()
        .task_definition()
        .unwrap()
        .task_definition_arn()
        .unwrap()
        .to_string()
}

fn container(name: &str, image: &str, port: i32) -> ContainerDefinition {
    ContainerDefinition::builder()
        .name(name)
        .image(image)
        .essential(true)
        .port_mappings(PortMapping::builder().container_port(port).build())
        .build()
}

#[tokio::test]
async fn a_revision_without_the_load_balancers_container_or_port_is_refused() {
    let sandbox = start("healthy", 1.0);
    let aws = aws(&sandbox).await;
    let ecs = aws.ecs();
    let image = format!("{REPO}:release-4");
    let renamed = register(
        &ecs,
        "startupwebapp-service-task",
        container("web", &image, 8000),
    )
    .await;
    let other_port = register(
        &ecs,
        "startupwebapp-service-task",
        container("startupwebapp", &image, 8080),
    )
    .await;
    for (arn, message) in [
        (
            renamed,
            "InvalidParameterException: The container startupwebapp does not exist in the task definition.",
        ),
        (
            other_port,
            "InvalidParameterException: The container startupwebapp did not have a container port 8000 defined.",
        ),
    ] {
        let err = ecs
            .update_service()
            .cluster(CLUSTER)
            .service(SERVICE)
            .task_definition(&arn)
            .send()
            .await
            .unwrap_err();
        assert_eq!(swa_aws::error_text(&err), message);
    }
    let s = service(&ecs).await;
    assert_eq!(s.deployments().len(), 1);
    assert_eq!(
        s.task_definition(),
        Some("arn:aws:ecs:us-east-1:123456789012:task-definition/startupwebapp-service-task:3")
    );
    let kinds: Vec<String> = sandbox.timeline().into_iter().map(|e| e.kind).collect();
    assert!(
        !kinds.iter().any(|k| k == "deployment-created"),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn a_deleted_image_cannot_be_pulled_and_the_circuit_breaker_rolls_back() {
    let sandbox = start("healthy", 60.0);
    let aws = aws(&sandbox).await;
    let ecs = aws.ecs();
    let deleted = aws
        .ecr()
        .batch_delete_image()
        .repository_name("startupwebapp")
        .image_ids(ImageIdentifier::builder().image_tag("release-4").build())
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.image_ids().len(), 1);
    assert!(deleted.failures().is_empty());
    let arn = register_release_4(&ecs).await;
    let out = ecs
        .update_service()
        .cluster(CLUSTER)
        .service(SERVICE)
        .task_definition(&arn)
        .send()
        .await
        .unwrap();
    let failed_id = out.service().unwrap().deployments()[0]
        .id()
        .unwrap()
        .to_string();

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
    assert_eq!(
        s.task_definition(),
        Some("arn:aws:ecs:us-east-1:123456789012:task-definition/startupwebapp-service-task:3")
    );
    let stopped = ecs
        .list_tasks()
        .cluster(CLUSTER)
        .started_by(&failed_id)
        .desired_status(DesiredStatus::Stopped)
        .send()
        .await
        .unwrap();
    assert!(stopped.task_arns().len() >= 3, "{stopped:?}");
    let tasks = ecs
        .describe_tasks()
        .cluster(CLUSTER)
        .set_tasks(Some(stopped.task_arns().to_vec()))
        .send()
        .await
        .unwrap();
    // The tasks still pulling when the breaker opened are stopped by the scheduler.
    let failed: Vec<_> = tasks
        .tasks()
        .iter()
        .filter(|t| t.stop_code().map(|c| c.as_str()) == Some("TaskFailedToStart"))
        .collect();
    assert!(failed.len() >= 3, "{tasks:?}");
    for t in failed {
        assert_eq!(
            t.stopped_reason(),
            Some(
                format!(
                    "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref {REPO}:release-4: not found"
                )
                .as_str()
            )
        );
        assert!(t.started_at().is_none());
        assert_eq!(t.containers()[0].exit_code(), None);
    }
    let kinds: Vec<String> = sandbox.timeline().into_iter().map(|e| e.kind).collect();
    let failed = kinds.iter().position(|k| k == "deployment-failed").unwrap();
    let rollback = kinds.iter().position(|k| k == "rollback-started").unwrap();
    assert!(failed < rollback);
}

#[tokio::test]
async fn a_one_off_task_whose_image_was_never_pushed_fails_to_start() {
    for (scenario, image) in [
        ("healthy", format!("{REPO}:release-9")),
        ("image-missing", format!("{REPO}:release-1")),
    ] {
        let sandbox = start(scenario, 60.0);
        let aws = aws(&sandbox).await;
        let ecs = aws.ecs();
        let mut definition = container("migration", &image, 8000);
        definition.port_mappings = None;
        let arn = register(&ecs, "startupwebapp-migration-task", definition).await;
        let run = ecs
            .run_task()
            .cluster(CLUSTER)
            .task_definition(&arn)
            .network_configuration(
                NetworkConfiguration::builder()
                    .awsvpc_configuration(
                        AwsVpcConfiguration::builder()
                            .subnets("subnet-0a1b2c3d4e5f60001")
                            .assign_public_ip(AssignPublicIp::Disabled)
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let task_arn = run.tasks()[0].task_arn().unwrap().to_string();
        let task = eventually(LIMIT, || {
            let (ecs, task_arn) = (ecs.clone(), task_arn.clone());
            async move {
                let d = ecs
                    .describe_tasks()
                    .cluster(CLUSTER)
                    .tasks(task_arn)
                    .send()
                    .await
                    .unwrap();
                let t = d.tasks()[0].clone();
                (t.last_status() == Some("STOPPED")).then_some(t)
            }
        })
        .await;
        assert_eq!(
            task.stop_code().map(|c| c.as_str()),
            Some("TaskFailedToStart"),
            "{scenario}"
        );
        assert_eq!(
            task.stopped_reason(),
            Some(
                format!(
                    "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref {image}: not found"
                )
                .as_str()
            ),
            "{scenario}"
        );
    }
}
