//! The action's logic over mocked ECS and ECR: what it asks, what it registers, how it ends.

use super::*;
use crate::inputs::check_inputs;
use aws_smithy_mocks::{Rule, mock};
use ecr::operation::describe_images::{DescribeImagesError, DescribeImagesOutput};
use ecr::types::ImageDetail;
use ecs::operation::describe_service_revisions::DescribeServiceRevisionsOutput;
use ecs::operation::describe_services::DescribeServicesOutput;
use ecs::operation::describe_task_definition::{
    DescribeTaskDefinitionError, DescribeTaskDefinitionOutput,
};
use ecs::operation::list_service_deployments::ListServiceDeploymentsOutput;
use ecs::operation::register_task_definition::RegisterTaskDefinitionOutput;
use ecs::operation::update_service::UpdateServiceOutput;
use ecs::types::{
    ContainerDefinition, Deployment, KeyValuePair, Service, ServiceDeploymentBrief,
    ServiceDeploymentStatus, ServiceRevision, Tag, TaskDefinition,
};
use swa_gha::{Env, ExitKind};

const REPO: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp";
const TD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/startupwebapp-service-task";
const DIGEST: &str = "sha256:4444444444444444444444444444444444444444444444444444444444444444";

fn td(revision: i32) -> TaskDefinition {
    TaskDefinition::builder()
        .task_definition_arn(format!("{TD}:{revision}"))
        .family("startupwebapp-service-task")
        .revision(revision)
        .cpu("512")
        .memory("1024")
        .container_definitions(
            ContainerDefinition::builder()
                .name("startupwebapp")
                .image(format!("{REPO}:release-{revision}"))
                .environment(KeyValuePair::builder().name("WORKERS").value("3").build())
                .build(),
        )
        .build()
}

struct World {
    ecs: Vec<Rule>,
    ecr: Vec<Rule>,
}

impl World {
    fn new() -> World {
        let describe = mock!(ecs::Client::describe_services).then_output(|| {
            DescribeServicesOutput::builder()
                .services(
                    Service::builder()
                        .service_name("startupwebapp-service")
                        .status("ACTIVE")
                        .task_definition(format!("{TD}:3"))
                        .deployments(
                            Deployment::builder()
                                .id("ecs-svc/3")
                                .status("PRIMARY")
                                .task_definition(format!("{TD}:3"))
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
        let definition = mock!(ecs::Client::describe_task_definition)
            .match_requests(|r| {
                r.task_definition()
                    .is_some_and(|t| t.ends_with(":3") || t.ends_with(":2"))
            })
            .then_compute_output(|r| {
                let n = if r.task_definition().is_some_and(|t| t.ends_with(":2")) {
                    2
                } else {
                    3
                };
                DescribeTaskDefinitionOutput::builder()
                    .task_definition(td(n))
                    .tags(Tag::builder().key("app").value("startupwebapp").build())
                    .build()
            });
        let missing = mock!(ecs::Client::describe_task_definition).then_error(|| {
            DescribeTaskDefinitionError::ClientException(
                ecs::types::error::ClientException::builder()
                    .message("Unable to describe task definition.")
                    .build(),
            )
        });
        // The history: :2 then :3 deployed successfully; :4 was rolled back.
        let list = mock!(ecs::Client::list_service_deployments).then_output(|| {
            let brief = |n: i64| {
                ServiceDeploymentBrief::builder()
                    .service_deployment_arn(format!("sd-{n}"))
                    .target_service_revision_arn(format!("rev-{n}"))
                    .status(ServiceDeploymentStatus::Successful)
                    .finished_at(aws_smithy_types::DateTime::from_secs(n * 100))
                    .build()
            };
            ListServiceDeploymentsOutput::builder()
                .service_deployments(brief(3))
                .service_deployments(brief(2))
                .build()
        });
        let revisions = mock!(ecs::Client::describe_service_revisions).then_compute_output(|r| {
            let mut out = DescribeServiceRevisionsOutput::builder();
            for arn in r.service_revision_arns() {
                out = out.service_revisions(
                    ServiceRevision::builder()
                        .service_revision_arn(arn)
                        .task_definition(format!("{TD}:{}", arn.trim_start_matches("rev-")))
                        .build(),
                );
            }
            out.build()
        });
        let register = mock!(ecs::Client::register_task_definition).then_output(|| {
            RegisterTaskDefinitionOutput::builder()
                .task_definition(td(4))
                .build()
        });
        let update = mock!(ecs::Client::update_service).then_compute_output(|r| {
            UpdateServiceOutput::builder()
                .service(
                    Service::builder()
                        .deployments(
                            Deployment::builder()
                                .id("ecs-svc/4")
                                .status("PRIMARY")
                                .task_definition(r.task_definition().unwrap_or_default())
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
        let images = mock!(ecr::Client::describe_images)
            .match_requests(|r| {
                r.image_ids()
                    .first()
                    .and_then(|i| i.image_tag())
                    .is_some_and(|t| ["release-2", "release-3", "release-4"].contains(&t))
            })
            .then_output(|| {
                DescribeImagesOutput::builder()
                    .image_details(ImageDetail::builder().image_digest(DIGEST).build())
                    .build()
            });
        let no_image = mock!(ecr::Client::describe_images).then_error(|| {
            DescribeImagesError::ImageNotFoundException(
                ecr::types::error::ImageNotFoundException::builder()
                    .message("not found")
                    .build(),
            )
        });
        World {
            ecs: vec![
                describe, definition, missing, list, register, update, revisions,
            ],
            ecr: vec![images, no_image],
        }
    }

    fn register(&self) -> &Rule {
        &self.ecs[4]
    }

    fn update(&self) -> &Rule {
        &self.ecs[5]
    }

    async fn run(&self, inputs: &[(&str, &str)]) -> (Result<(), ActionError>, String) {
        let env = Env::from_pairs(
            inputs
                .iter()
                .map(|(k, v)| (swa_gha::input_env_name(k), v.to_string()))
                .chain([
                    (
                        "INPUT_CLUSTER".to_string(),
                        "startupwebapp-cluster".to_string(),
                    ),
                    (
                        "INPUT_SERVICE".to_string(),
                        "startupwebapp-service".to_string(),
                    ),
                ]),
        );
        let (gha, log) = Gha::capture(env);
        let args: Args = match swa_gha::parse_args(gha.env(), ["update-service".to_string()]) {
            Ok(args) => args,
            Err(e) => panic!("{e:?}"),
        };
        let clients = Clients {
            ecs: swa_testing::mock_client!(ecs, &self.ecs),
            ecr: swa_testing::mock_client!(ecr, &self.ecr),
        };
        let result = match check_inputs(&args, &gha).await {
            Ok(plan) => deploy(&args, &gha, &clients, plan).await,
            Err(e) => Err(e),
        };
        (result, log.text())
    }
}

#[tokio::test]
async fn a_new_image_is_pinned_registered_and_deployed() {
    let world = World::new();
    let (result, log) = world
        .run(&[
            ("image", &format!("{REPO}:release-4")),
            (
                "environment-variables",
                "RELEASE=release-4\nDB_PASSWORD=hunter22",
            ),
        ])
        .await;
    assert!(result.is_ok(), "{result:?}\n{log}");
    assert_eq!(world.register().num_calls(), 1);
    assert_eq!(world.update().num_calls(), 1);
    assert!(
        log.contains(&format!("+      \"image\": \"{REPO}@{DIGEST}\",")),
        "{log}"
    );
    assert!(log.contains("output task-definition-arn=arn:aws:ecs:us-east-1:123456789012:task-definition/startupwebapp-service-task:4"), "{log}");
    assert!(log.contains("output previous-task-definition-arn=arn:aws:ecs:us-east-1:123456789012:task-definition/startupwebapp-service-task:3"), "{log}");
    assert!(log.contains("output deployment-id=ecs-svc/4"), "{log}");
    assert!(
        log.contains(&format!("output image={REPO}@{DIGEST}")),
        "{log}"
    );
    // Only the mask command itself carries the value, for the runner.
    assert_eq!(log.matches("hunter22").count(), 1, "{log}");
    assert!(log.starts_with("::add-mask::hunter22\n"), "{log}");
    assert!(log.contains("\"value\": \"<redacted, added>\""), "{log}");
}

#[tokio::test]
async fn the_registered_definition_keeps_the_base_and_update_sends_no_desired_count() {
    let captured = std::sync::Arc::new(std::sync::Mutex::new(None));
    let seen = captured.clone();
    let mut world = World::new();
    world.ecs[4] = mock!(ecs::Client::register_task_definition)
        .match_requests(move |r| {
            *seen.lock().expect("lock") = Some(r.clone());
            true
        })
        .then_output(|| {
            RegisterTaskDefinitionOutput::builder()
                .task_definition(td(4))
                .build()
        });
    let update_seen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let useen = update_seen.clone();
    world.ecs[5] = mock!(ecs::Client::update_service)
        .match_requests(move |r| {
            *useen.lock().expect("lock") = Some(r.clone());
            true
        })
        .then_output(|| UpdateServiceOutput::builder().build());
    let (result, log) = world.run(&[("image", &format!("{REPO}:release-4"))]).await;
    assert!(result.is_ok(), "{result:?}\n{log}");
    let register = captured.lock().expect("lock").clone().expect("registered");
    assert_eq!(register.family(), Some("startupwebapp-service-task"));
    assert_eq!(register.cpu(), Some("512"));
    assert_eq!(register.tags()[0].key(), Some("app"));
    let container = &register.container_definitions()[0];
    assert_eq!(container.image(), Some(format!("{REPO}@{DIGEST}").as_str()));
    assert_eq!(container.environment()[0].value(), Some("3"));
    let update = update_seen.lock().expect("lock").clone().expect("updated");
    assert_eq!(update.desired_count(), None);
    assert_eq!(update.task_definition(), Some(format!("{TD}:4").as_str()));
    assert_eq!(update.force_new_deployment(), Some(false));
}

#[tokio::test]
async fn the_same_image_without_pinning_changes_nothing() {
    let world = World::new();
    let (result, log) = world
        .run(&[
            ("image", &format!("{REPO}:release-3")),
            ("pin-digest", "false"),
        ])
        .await;
    assert!(result.is_ok(), "{result:?}\n{log}");
    assert_eq!(world.register().num_calls(), 0, "{log}");
    assert_eq!(world.update().num_calls(), 0, "{log}");
    assert!(log.contains("nothing to register"), "{log}");
    assert!(
        log.contains(&format!("output task-definition-arn={TD}:3")),
        "{log}"
    );
    assert!(log.contains("output deployment-id=ecs-svc/3"), "{log}");
}

#[tokio::test]
async fn a_missing_tag_is_bad_input_and_changes_nothing() {
    let world = World::new();
    let (result, log) = world.run(&[("image", &format!("{REPO}:release-9"))]).await;
    let err = result.expect_err("missing tag");
    assert_eq!(err.kind(), ExitKind::BadInput);
    assert!(
        err.to_string()
            .contains("release-9` is not in ECR repository `startupwebapp`"),
        "{err}"
    );
    assert_eq!(
        world.register().num_calls() + world.update().num_calls(),
        0,
        "{log}"
    );
}

#[tokio::test]
async fn dry_run_prints_the_diff_and_changes_nothing() {
    let world = World::new();
    let (result, log) = world
        .run(&[("image", &format!("{REPO}:release-4")), ("dry-run", "true")])
        .await;
    assert!(result.is_ok(), "{result:?}\n{log}");
    assert!(log.contains("::group::Task definition changes"), "{log}");
    assert!(
        log.contains("::notice::Dry run: would update startupwebapp-service to a new revision"),
        "{log}"
    );
    assert_eq!(world.register().num_calls() + world.update().num_calls(), 0);
}

#[tokio::test]
async fn previous_deploys_the_revision_before_the_current_one() {
    let world = World::new();
    let (result, log) = world.run(&[("revision", "previous")]).await;
    assert!(result.is_ok(), "{result:?}\n{log}");
    assert_eq!(world.register().num_calls(), 0);
    assert_eq!(world.update().num_calls(), 1);
    assert_eq!(world.ecs[3].num_calls(), 1, "ListServiceDeployments");
    assert_eq!(world.ecs[6].num_calls(), 1, "DescribeServiceRevisions");
    assert_eq!(world.ecr[0].num_calls(), 1, "the image of :2 was checked");
    assert!(
        log.contains(&format!("output task-definition-arn={TD}:2")),
        "{log}"
    );
}

#[tokio::test]
async fn previous_with_no_other_successful_revision_is_bad_input_and_changes_nothing() {
    let mut world = World::new();
    // The history holds only deployments of :3, the revision the service runs.
    world.ecs[3] = mock!(ecs::Client::list_service_deployments).then_output(|| {
        ListServiceDeploymentsOutput::builder()
            .service_deployments(
                ServiceDeploymentBrief::builder()
                    .service_deployment_arn("sd-3")
                    .target_service_revision_arn("rev-3")
                    .status(ServiceDeploymentStatus::Successful)
                    .build(),
            )
            .build()
    });
    let (result, log) = world.run(&[("revision", "previous")]).await;
    let err = result.expect_err("nothing to go back to");
    assert_eq!(err.kind(), ExitKind::BadInput);
    insta::assert_snapshot!(err.to_string(), @"input `revision` is `previous`, but service `startupwebapp-service` has no successful deployment of a revision other than the one it runs now (startupwebapp-service-task:3); name the revision to deploy as `family:N`");
    assert_eq!(
        world.register().num_calls() + world.update().num_calls(),
        0,
        "{log}"
    );
}

#[tokio::test]
async fn a_revision_that_does_not_exist_is_bad_input() {
    let world = World::new();
    let (result, _) = world
        .run(&[("revision", "startupwebapp-service-task:9")])
        .await;
    let err = result.expect_err("missing");
    assert_eq!(err.kind(), ExitKind::BadInput, "{err}");
    insta::assert_snapshot!(err.to_string(), @"input `revision` names task definition `startupwebapp-service-task:9`, which does not exist: ClientException: Unable to describe task definition.");
    assert_eq!(world.update().num_calls(), 0);
}

#[tokio::test]
async fn conflicting_or_malformed_inputs_fail_before_any_call() {
    let world = World::new();
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("revision", "previous"), ("image", "nginx:1")],
            "input `revision` deploys an existing revision as it is and cannot be combined with `image`",
        ),
        (&[("revision", "latest")], "input `revision` is `latest`"),
        (
            &[("image", "Startup Web App")],
            "input `image` `Startup Web App` is not an image URI",
        ),
        (
            &[("environment-variables", "JUSTAKEY")],
            "input `environment-variables` has line 1 without `=`",
        ),
        (
            &[("task-definition", "/nonexistent/td.json")],
            "input `task-definition` names `/nonexistent/td.json`, which cannot be read",
        ),
        (&[], "input `image` is not set"),
    ];
    for (inputs, expected) in cases {
        let (result, _) = world.run(inputs).await;
        let err = result.expect_err(expected);
        assert_eq!(err.kind(), ExitKind::BadInput, "{err}");
        assert!(err.to_string().starts_with(expected), "{err}");
    }
    assert_eq!(world.ecs[0].num_calls(), 0, "no AWS call at all");
}

#[test]
fn revisions_parse() {
    assert_eq!(RevisionSpec::parse("previous"), Ok(RevisionSpec::Previous));
    for ok in [
        "startupwebapp-service-task:2",
        "arn:aws:ecs:us-east-1:123456789012:task-definition/startupwebapp-service-task:2",
    ] {
        assert_eq!(RevisionSpec::parse(ok), Ok(RevisionSpec::Named(ok.into())));
    }
    for bad in [
        "",
        "family",
        "family:0",
        "family:x",
        "arn:aws:s3:::bucket/x:1",
        "a b:1",
    ] {
        assert!(RevisionSpec::parse(bad).is_err(), "{bad}");
    }
}

/// The service is updated before its service deployment is looked up: a role that may not read
/// the history gets a warning and an empty `service-deployment-arn`, never a failure.
#[tokio::test]
async fn a_history_that_cannot_be_read_leaves_the_update_done_and_says_so() {
    let mut world = World::new();
    world.ecs[5] = mock!(ecs::Client::update_service).then_compute_output(|r| {
        UpdateServiceOutput::builder()
            .service(
                Service::builder()
                    .deployments(
                        Deployment::builder()
                            .id("ecs-svc/4")
                            .status("PRIMARY")
                            .task_definition(r.task_definition().unwrap_or_default())
                            .created_at(aws_smithy_types::DateTime::from_secs(1_000))
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    world.ecs[3] = mock!(ecs::Client::list_service_deployments).then_error(|| {
        ecs::operation::list_service_deployments::ListServiceDeploymentsError::AccessDeniedException(
            ecs::types::error::AccessDeniedException::builder()
                .message("not authorized to perform: ecs:ListServiceDeployments")
                .build(),
        )
    });
    let (result, log) = world.run(&[("image", &format!("{REPO}:release-4"))]).await;
    assert!(result.is_ok(), "{result:?}\n{log}");
    assert_eq!(world.update().num_calls(), 1);
    let said: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("::warning") || l.contains("service-deployment-arn"))
        .collect();
    insta::assert_snapshot!(said.join("\n"), @r#"
        ::warning::The service is updated, but its service deployment cannot be read (the role needs ecs:ListServiceDeployments and ecs:DescribeServiceRevisions): ListServiceDeployments for service startupwebapp-service failed: AccessDeniedException: not authorized to perform: ecs:ListServiceDeployments
        output service-deployment-arn=
        "#);
}
