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
use ecs::operation::update_service::{UpdateServiceInput, UpdateServiceOutput};
use ecs::types::{
    CanaryConfiguration, ContainerDefinition, Deployment, DeploymentAlarms,
    DeploymentCircuitBreaker, DeploymentConfiguration, DeploymentController,
    DeploymentControllerType, DeploymentEarlySuccessCriteria, DeploymentLifecycleHook,
    DeploymentLifecycleHookStage, DeploymentStrategy, KeyValuePair, LinearConfiguration, Service,
    ServiceDeploymentBrief, ServiceDeploymentStatus, ServiceRevision, Tag, TaskDefinition,
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

    /// A World whose service has `configuration` as its deployment configuration.
    fn with_configuration(configuration: DeploymentConfiguration) -> World {
        let mut world = World::new();
        world.ecs[0] = mock!(ecs::Client::describe_services).then_output(move || {
            DescribeServicesOutput::builder()
                .services(
                    Service::builder()
                        .service_name("startupwebapp-service")
                        .status("ACTIVE")
                        .task_definition(format!("{TD}:3"))
                        .deployment_configuration(configuration.clone())
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
        world
    }

    /// The calls that change something: RegisterTaskDefinition and UpdateService.
    fn changes(&self) -> usize {
        self.register().num_calls() + self.update().num_calls()
    }

    async fn run(&self, inputs: &[(&str, &str)]) -> (Result<(), ActionError>, String) {
        let run = self.run_reading_summary(inputs).await;
        (run.result, run.log)
    }

    /// Runs the action as `main` does (an error is reported as the `::error::` line a workflow
    /// shows), with a job summary to read back.
    async fn run_reading_summary(&self, inputs: &[(&str, &str)]) -> Run {
        let dir = tempfile::tempdir().expect("tempdir");
        let summary_file = dir.path().join("summary.md");
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
                    (
                        "SWA_SUMMARY_FILE".to_string(),
                        summary_file.to_string_lossy().into_owned(),
                    ),
                ]),
        );
        let (gha, log) = Gha::capture(env);
        let result = match swa_gha::parse_args::<Args>(gha.env(), ["update-service".to_string()]) {
            Ok(args) => {
                let clients = Clients {
                    ecs: swa_testing::mock_client!(ecs, &self.ecs),
                    ecr: swa_testing::mock_client!(ecr, &self.ecr),
                };
                match check_inputs(&args, &gha).await {
                    Ok(plan) => deploy(&args, &gha, &clients, plan).await,
                    Err(e) => Err(e),
                }
            }
            Err(swa_gha::ParseError::Input(e)) => Err(e),
            Err(swa_gha::ParseError::Help(text)) => panic!("{text}"),
        };
        if let Err(e) = &result {
            gha.error(e.title(), e.chain());
        }
        Run {
            result,
            log: log.text(),
            summary: std::fs::read_to_string(&summary_file).unwrap_or_default(),
        }
    }
}

struct Run {
    result: Result<(), ActionError>,
    log: String,
    summary: String,
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

/// The service's deployment configuration as infrastructure code leaves it: rolling, with every
/// safeguard that an override must keep.
fn rolling_with_safeguards() -> DeploymentConfiguration {
    DeploymentConfiguration::builder()
        .strategy(DeploymentStrategy::Rolling)
        .maximum_percent(200)
        .minimum_healthy_percent(100)
        .deployment_circuit_breaker(
            DeploymentCircuitBreaker::builder()
                .enable(true)
                .rollback(true)
                .build(),
        )
        .alarms(
            DeploymentAlarms::builder()
                .alarm_names("startupwebapp-5xx")
                .enable(true)
                .rollback(true)
                .build()
                .expect("alarms"),
        )
        .lifecycle_hooks(
            DeploymentLifecycleHook::builder()
                .hook_target_arn("arn:aws:lambda:us-east-1:123456789012:function:smoke")
                .role_arn("arn:aws:iam::123456789012:role/ecs-hooks")
                .lifecycle_stages(DeploymentLifecycleHookStage::PostTestTrafficShift)
                .build(),
        )
        .early_success_criteria(
            DeploymentEarlySuccessCriteria::builder()
                .enable(true)
                .healthy_percent(100)
                .build(),
        )
        .build()
}

impl World {
    /// Keeps every UpdateService request.
    fn record_updates(&mut self) -> std::sync::Arc<std::sync::Mutex<Vec<UpdateServiceInput>>> {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = seen.clone();
        self.ecs[5] = mock!(ecs::Client::update_service)
            .match_requests(move |r| {
                record.lock().expect("lock").push(r.clone());
                true
            })
            .then_compute_output(|r| {
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
        seen
    }
}

/// What a person reads of a run with strategy overrides: the lines that speak of them, and the
/// summary.
fn overrides_read(run: &Run) -> String {
    let said: Vec<&str> = run
        .log
        .lines()
        .filter(|l| l.contains("trategy") || l.starts_with("::notice") || l.starts_with("::error"))
        .collect();
    // The summary up to the diff, which other tests read.
    let summary = run.summary.split("<details>").next().unwrap_or_default();
    format!("{}\n--- summary\n{}", said.join("\n"), summary.trim_end())
}

#[tokio::test]
async fn blue_green_with_a_bake_time_keeps_the_rest_of_the_services_configuration() {
    let mut world = World::with_configuration(rolling_with_safeguards());
    let updates = world.record_updates();
    let run = world
        .run_reading_summary(&[
            ("image", &format!("{REPO}:release-4")),
            ("strategy", "blue-green"),
            ("bake-time", "15m"),
        ])
        .await;
    assert!(run.result.is_ok(), "{:?}\n{}", run.result, run.log);
    let updates = updates.lock().expect("lock");
    assert_eq!(updates.len(), 1);
    // Early success applies to rolling deployments only, so it is not sent.
    let mut expected = rolling_with_safeguards();
    expected.strategy = Some(DeploymentStrategy::BlueGreen);
    expected.bake_time_in_minutes = Some(15);
    expected.early_success_criteria = None;
    assert_eq!(updates[0].deployment_configuration(), Some(&expected));
    assert_eq!(
        updates[0].task_definition(),
        Some(format!("{TD}:4").as_str())
    );
    insta::assert_snapshot!(overrides_read(&run), @r#"
        Strategy overrides: strategy BLUE_GREEN (was ROLLING), bake time 15m
        output strategy=BLUE_GREEN
        --- summary
        ### update-service: startupwebapp-service

        | | |
        |---|---|
        | Cluster | <code>startupwebapp-cluster</code> |
        | Previous revision | <code>startupwebapp-service-task:3</code> |
        | New revision | <code>startupwebapp-service-task:4</code> |
        | Image | <code>123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp@sha256:4444444444444444444444444444444444444444444444444444444444444444</code> |
        | Deployment | <code>ecs-svc/4</code> |
        | Strategy overrides | strategy BLUE\_GREEN (was ROLLING), bake time 15m |
        "#);
}

#[tokio::test]
async fn canary_settings_are_sent_with_the_canary_strategy() {
    let mut world = World::with_configuration(rolling_with_safeguards());
    let updates = world.record_updates();
    let run = world
        .run_reading_summary(&[
            ("image", &format!("{REPO}:release-4")),
            ("strategy", "canary"),
            ("canary-percent", "12.5"),
            ("canary-bake-time", "5m"),
            ("bake-time", "0m"),
        ])
        .await;
    assert!(run.result.is_ok(), "{:?}\n{}", run.result, run.log);
    let mut expected = rolling_with_safeguards();
    expected.strategy = Some(DeploymentStrategy::Canary);
    expected.bake_time_in_minutes = Some(0);
    expected.early_success_criteria = None;
    expected.canary_configuration = Some(
        CanaryConfiguration::builder()
            .canary_percent(12.5)
            .canary_bake_time_in_minutes(5)
            .build(),
    );
    let updates = updates.lock().expect("lock");
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].deployment_configuration(), Some(&expected));
    insta::assert_snapshot!(overrides_read(&run), @r#"
        Strategy overrides: strategy CANARY (was ROLLING), bake time 0m, canary 12.5%, canary bake time 5m
        output strategy=CANARY
        --- summary
        ### update-service: startupwebapp-service

        | | |
        |---|---|
        | Cluster | <code>startupwebapp-cluster</code> |
        | Previous revision | <code>startupwebapp-service-task:3</code> |
        | New revision | <code>startupwebapp-service-task:4</code> |
        | Image | <code>123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp@sha256:4444444444444444444444444444444444444444444444444444444444444444</code> |
        | Deployment | <code>ecs-svc/4</code> |
        | Strategy overrides | strategy CANARY (was ROLLING), bake time 0m, canary 12.5%, canary bake time 5m |
        "#);
}

/// On a service that deploys with CANARY already, one canary setting is enough: the other is
/// the service's own.
#[tokio::test]
async fn a_canary_service_takes_one_canary_setting_and_keeps_the_other() {
    let mut canary = rolling_with_safeguards();
    canary.strategy = Some(DeploymentStrategy::Canary);
    canary.early_success_criteria = None;
    canary.bake_time_in_minutes = Some(10);
    canary.canary_configuration = Some(
        CanaryConfiguration::builder()
            .canary_percent(5.0)
            .canary_bake_time_in_minutes(10)
            .build(),
    );
    let mut world = World::with_configuration(canary.clone());
    let updates = world.record_updates();
    let (result, log) = world
        .run(&[
            ("image", &format!("{REPO}:release-4")),
            ("canary-percent", "20"),
        ])
        .await;
    assert!(result.is_ok(), "{result:?}\n{log}");
    let mut expected = canary;
    expected.canary_configuration = Some(
        CanaryConfiguration::builder()
            .canary_percent(20.0)
            .canary_bake_time_in_minutes(10)
            .build(),
    );
    let updates = updates.lock().expect("lock");
    assert_eq!(updates[0].deployment_configuration(), Some(&expected));
}

#[tokio::test]
async fn linear_settings_are_sent_with_the_linear_strategy() {
    let mut blue_green = rolling_with_safeguards();
    blue_green.strategy = Some(DeploymentStrategy::BlueGreen);
    blue_green.early_success_criteria = None;
    blue_green.bake_time_in_minutes = Some(15);
    let mut world = World::with_configuration(blue_green.clone());
    let updates = world.record_updates();
    let run = world
        .run_reading_summary(&[
            ("revision", "startupwebapp-service-task:2"),
            ("strategy", "linear"),
            ("linear-step-percent", "20"),
            ("linear-step-bake-time", "3m"),
        ])
        .await;
    assert!(run.result.is_ok(), "{:?}\n{}", run.result, run.log);
    let mut expected = blue_green;
    expected.strategy = Some(DeploymentStrategy::Linear);
    expected.linear_configuration = Some(
        LinearConfiguration::builder()
            .step_percent(20.0)
            .step_bake_time_in_minutes(3)
            .build(),
    );
    let updates = updates.lock().expect("lock");
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].deployment_configuration(), Some(&expected));
    assert_eq!(
        updates[0].task_definition(),
        Some(format!("{TD}:2").as_str())
    );
    insta::assert_snapshot!(overrides_read(&run), @r#"
        Strategy overrides: strategy LINEAR (was BLUE_GREEN), linear steps of 20%, linear step bake time 3m
        output strategy=LINEAR
        --- summary
        ### update-service: startupwebapp-service

        | | |
        |---|---|
        | Cluster | <code>startupwebapp-cluster</code> |
        | Previous revision | <code>startupwebapp-service-task:3</code> |
        | New revision | <code>startupwebapp-service-task:2</code> |
        | Image | <code>123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp:release-2</code> |
        | Deployment | <code>ecs-svc/4</code> |
        | Strategy overrides | strategy LINEAR (was BLUE\_GREEN), linear steps of 20%, linear step bake time 3m |
        "#);
}

/// The service's configuration belongs to infrastructure code: without overrides the update
/// sends none, not even the one it read.
#[tokio::test]
async fn without_overrides_no_deployment_configuration_is_sent() {
    let mut world = World::with_configuration(rolling_with_safeguards());
    let updates = world.record_updates();
    let run = world
        .run_reading_summary(&[("image", &format!("{REPO}:release-4"))])
        .await;
    assert!(run.result.is_ok(), "{:?}\n{}", run.result, run.log);
    let updates = updates.lock().expect("lock");
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].deployment_configuration(), None);
    assert!(!run.log.contains("overrides"), "{}", run.log);
    assert!(!run.summary.contains("trategy"), "{}", run.summary);
}

#[tokio::test]
async fn dry_run_prints_the_overrides_and_changes_nothing() {
    let world = World::with_configuration(rolling_with_safeguards());
    let run = world
        .run_reading_summary(&[
            ("image", &format!("{REPO}:release-4")),
            ("strategy", "canary"),
            ("canary-percent", "10"),
            ("dry-run", "true"),
        ])
        .await;
    assert!(run.result.is_ok(), "{:?}\n{}", run.result, run.log);
    assert_eq!(world.changes(), 0);
    insta::assert_snapshot!(overrides_read(&run), @r#"
        Strategy overrides: strategy CANARY (was ROLLING), canary 10%
        ::notice::Dry run: would update startupwebapp-service to a new revision with strategy overrides: strategy CANARY (was ROLLING), canary 10%25; nothing was changed
        output strategy=CANARY
        --- summary
        ### update-service: startupwebapp-service

        | | |
        |---|---|
        | Cluster | <code>startupwebapp-cluster</code> |
        | Previous revision | <code>startupwebapp-service-task:3</code> |
        | New revision | (not registered: dry run) |
        | Image | <code>123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp@sha256:4444444444444444444444444444444444444444444444444444444444444444</code> |
        | Deployment | none (dry run) |
        | Strategy overrides | strategy CANARY (was ROLLING), canary 10% (not applied: dry run) |
        "#);
}

/// Overrides ride on the update: when nothing is deployed, the log and the summary say they
/// were not applied.
#[tokio::test]
async fn overrides_without_a_deployment_are_not_applied_and_say_so() {
    let world = World::with_configuration(rolling_with_safeguards());
    let run = world
        .run_reading_summary(&[
            ("image", &format!("{REPO}:release-3")),
            ("pin-digest", "false"),
            ("strategy", "blue-green"),
            ("bake-time", "10m"),
        ])
        .await;
    assert!(run.result.is_ok(), "{:?}\n{}", run.result, run.log);
    assert_eq!(world.changes(), 0);
    insta::assert_snapshot!(overrides_read(&run), @r#"
        Strategy overrides: strategy BLUE_GREEN (was ROLLING), bake time 10m
        ::notice::startupwebapp-service already runs this task definition (startupwebapp-service-task:3); nothing was registered or deployed, and the strategy overrides were not applied
        output strategy=BLUE_GREEN
        --- summary
        ### update-service: startupwebapp-service

        | | |
        |---|---|
        | Cluster | <code>startupwebapp-cluster</code> |
        | Previous revision | <code>startupwebapp-service-task:3</code> |
        | New revision | <code>startupwebapp-service-task:3</code> |
        | Image | <code>123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp:release-3</code> |
        | Deployment | none (nothing changed) |
        | Strategy overrides | strategy BLUE\_GREEN (was ROLLING), bake time 10m (not applied: nothing changed) |
        "#);
}

/// Every bad override ends with exit 2 and one `::error::` line naming the input, and changes
/// nothing; what the inputs alone show is refused before any AWS call.
#[tokio::test]
async fn bad_overrides_are_bad_input_and_change_nothing() {
    let image = format!("{REPO}:release-4");
    let input_only: &[&[(&str, &str)]] = &[
        &[("strategy", "fast")],
        &[("bake-time", "15")],
        &[("bake-time", "90s")],
        &[("bake-time", "25h")],
        &[("canary-percent", "0")],
        &[("canary-percent", "12.25")],
        &[("canary-percent", "half")],
        &[("canary-bake-time", "1441m")],
        &[("linear-step-percent", "2.5")],
        &[("linear-step-bake-time", "-3m")],
        &[("strategy", "linear"), ("canary-percent", "10")],
        &[("strategy", "blue-green"), ("linear-step-percent", "10")],
        &[("strategy", "rolling"), ("bake-time", "10m")],
        &[("canary-percent", "10"), ("linear-step-percent", "10")],
    ];
    // The service deploys with ROLLING: these need its strategy, read by DescribeServices.
    let against_the_service: &[&[(&str, &str)]] = &[
        &[("canary-percent", "10")],
        &[("linear-step-bake-time", "3m")],
        &[("bake-time", "10m")],
        &[("strategy", "blue-green")],
    ];
    let mut read = String::new();
    for (inputs, before_any_call) in input_only
        .iter()
        .map(|i| (i, true))
        .chain(against_the_service.iter().map(|i| (i, false)))
    {
        let world = World::with_configuration(rolling_with_safeguards());
        let mut all = vec![("image", image.as_str())];
        all.extend_from_slice(inputs);
        let run = world.run_reading_summary(&all).await;
        let err = run.result.expect_err("bad input");
        assert_eq!(err.kind().code(), 2, "{err}");
        assert_eq!(world.changes(), 0, "{}", run.log);
        assert_eq!(world.ecr[0].num_calls() + world.ecr[1].num_calls(), 0);
        let described = world.ecs[0].num_calls();
        assert_eq!(described, usize::from(!before_any_call), "{inputs:?}");
        let given: Vec<String> = inputs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let errors: Vec<&str> = run
            .log
            .lines()
            .filter(|l| l.starts_with("::error"))
            .collect();
        read.push_str(&format!("{}\n{}\n", given.join(" "), errors.join("\n")));
    }
    insta::assert_snapshot!(read, @r#"
        strategy=fast
        ::error title=Invalid input `strategy`::input `strategy` has the value `fast`, which is not one of: rolling, blue-green, linear, canary
        bake-time=15
        ::error title=Invalid input `bake-time`::input `bake-time` has the value `15`, which has no unit; write minutes such as `15m`
        bake-time=90s
        ::error title=Invalid input `bake-time`::input `bake-time` has the value `90s`, which is not a whole number of minutes (ECS takes minutes); such as `10m` or `1h`
        bake-time=25h
        ::error title=Invalid input `bake-time`::input `bake-time` has the value `25h`, which is longer than 24h, the longest duration an input takes
        canary-percent=0
        ::error title=Invalid input `canary-percent`::input `canary-percent` has the value `0`, which is not from 0.1 to 100, the range ECS takes
        canary-percent=12.25
        ::error title=Invalid input `canary-percent`::input `canary-percent` has the value `12.25`, which is not a multiple of 0.1 (ECS takes tenths of a percent)
        canary-percent=half
        ::error title=Invalid input `canary-percent`::input `canary-percent` has the value `half`, which is not a percentage such as `10` or `12.5`
        canary-bake-time=1441m
        ::error title=Invalid input `canary-bake-time`::input `canary-bake-time` has the value `1441m`, which is longer than 24h, the longest duration an input takes
        linear-step-percent=2.5
        ::error title=Invalid input `linear-step-percent`::input `linear-step-percent` has the value `2.5`, which is not from 3 to 100, the range ECS takes
        linear-step-bake-time=-3m
        ::error title=Invalid input `linear-step-bake-time`::input `linear-step-bake-time` has the value `-3m`, which is not a duration; expected a number and a unit, such as 90s, 10m or 1h
        strategy=linear canary-percent=10
        ::error title=Invalid input `canary-percent`::input `canary-percent` applies to the canary strategy, but `strategy` is `linear`; set `strategy: canary`
        strategy=blue-green linear-step-percent=10
        ::error title=Invalid input `linear-step-percent`::input `linear-step-percent` applies to the linear strategy, but `strategy` is `blue-green`; set `strategy: linear`
        strategy=rolling bake-time=10m
        ::error title=Invalid input `bake-time`::input `bake-time` applies to the blue-green, linear and canary strategies, but `strategy` is `rolling`; set `strategy` to one of them
        canary-percent=10 linear-step-percent=10
        ::error title=Invalid input `canary-percent`::input `canary-percent` sets up a canary deployment and `linear-step-percent` a linear one; a deployment has one strategy
        canary-percent=10
        ::error title=Invalid input `canary-percent`::input `canary-percent` applies to the canary strategy, but service `startupwebapp-service` deploys with ROLLING and `strategy` is not set; set `strategy: canary`
        linear-step-bake-time=3m
        ::error title=Invalid input `linear-step-bake-time`::input `linear-step-bake-time` applies to the linear strategy, but service `startupwebapp-service` deploys with ROLLING and `strategy` is not set; set `strategy: linear`
        bake-time=10m
        ::error title=Invalid input `bake-time`::input `bake-time` applies to the blue-green, linear and canary strategies, but service `startupwebapp-service` deploys with ROLLING and `strategy` is not set; set `strategy` to one of them
        strategy=blue-green
        ::error title=Invalid input `bake-time`::input `bake-time` is not set, and service `startupwebapp-service` has no bake time of its own; ECS takes a blue-green deployment only with one (such as `10m`, or `0m`)
        "#);
}

/// A service that CodeDeploy or an external controller deploys takes no ECS strategy.
#[tokio::test]
async fn overrides_for_a_service_ecs_does_not_deploy_are_bad_input() {
    let mut world = World::new();
    world.ecs[0] = mock!(ecs::Client::describe_services).then_output(|| {
        DescribeServicesOutput::builder()
            .services(
                Service::builder()
                    .service_name("startupwebapp-service")
                    .task_definition(format!("{TD}:3"))
                    .deployment_controller(
                        DeploymentController::builder()
                            .r#type(DeploymentControllerType::CodeDeploy)
                            .build()
                            .expect("controller"),
                    )
                    .build(),
            )
            .build()
    });
    let run = world
        .run_reading_summary(&[
            ("image", &format!("{REPO}:release-4")),
            ("strategy", "canary"),
        ])
        .await;
    let err = run.result.expect_err("bad input");
    assert_eq!(err.kind(), ExitKind::BadInput);
    assert_eq!(world.changes(), 0);
    let errors: Vec<&str> = run
        .log
        .lines()
        .filter(|l| l.starts_with("::error"))
        .collect();
    insta::assert_snapshot!(errors.join("\n"), @"::error title=Invalid input `strategy`::input `strategy` sets a deployment strategy, which ECS applies only to services it deploys itself, but service `startupwebapp-service` uses the CODE_DEPLOY deployment controller");
}
