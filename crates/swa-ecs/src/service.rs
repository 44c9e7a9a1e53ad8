//! The service and the task definitions the inputs name, described or refused in the same
//! words by every action.

use aws_sdk_ecs as ecs;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use ecs::operation::describe_services::{DescribeServicesError, DescribeServicesOutput};
use ecs::types::{Service, Tag, TaskDefinition, TaskDefinitionField};
use swa_aws::{error_code, error_text};

use crate::{EcsError, EcsFault};

/// Checks a cluster or service input before any call: a name or ARN, without whitespace.
pub fn check_name(input: &'static str, value: &str) -> Result<(), EcsError> {
    if value.trim().is_empty() || value.chars().any(char::is_whitespace) {
        return Err(EcsFault::BadName {
            input,
            value: value.to_string(),
        }
        .into());
    }
    Ok(())
}

/// `arn:…:task-definition/family:3` -> `family:3`.
pub fn revision_label(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// How the service deploys: its deployment controller when that is not ECS (CODE_DEPLOY,
/// EXTERNAL), else its strategy (ROLLING when it names none; BLUE_GREEN, LINEAR, CANARY).
pub fn deployment_strategy(service: &Service) -> &str {
    match service.deployment_controller().map(|c| c.r#type()) {
        Some(kind) if kind.as_str() != "ECS" => kind.as_str(),
        _ => service
            .deployment_configuration()
            .and_then(|c| c.strategy())
            .map_or("ROLLING", |s| s.as_str()),
    }
}

/// DescribeServices for one service: the service, unless the cluster or the service the inputs
/// name is not there (exit 2) or the call failed (exit 1).
pub async fn describe_service(
    client: &ecs::Client,
    cluster: &str,
    service: &str,
) -> Result<Service, EcsError> {
    let out = client
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .map_err(|e| describe_services_error(cluster, service, &e))?;
    active_service(&out, cluster, service)
}

/// Whose fault a failed DescribeServices is: an unknown cluster, or a service name ECS refuses,
/// is the input's; anything else (throttling, a timeout, a refused permission) is not.
pub fn describe_services_error(
    cluster: &str,
    service: &str,
    error: &SdkError<DescribeServicesError, HttpResponse>,
) -> EcsError {
    let reason = error_text(error);
    let code = error_code(error);
    let modeled = error.as_service_error();
    let unknown_cluster = modeled.is_some_and(|e| e.is_cluster_not_found_exception())
        || code == Some("ClusterNotFoundException");
    if unknown_cluster {
        return EcsFault::ClusterNotFound {
            cluster: cluster.to_string(),
        }
        .into();
    }
    let refused = modeled
        .is_some_and(|e| e.is_client_exception() || e.is_invalid_parameter_exception())
        || matches!(code, Some("ClientException" | "InvalidParameterException"));
    if refused {
        return EcsFault::ServiceRefused {
            service: service.to_string(),
            reason,
        }
        .into();
    }
    EcsError::call("DescribeServices", service, reason)
}

/// The active service in a DescribeServices answer, or the input error that names it (with the
/// reason ECS gave: `MISSING`, or `INACTIVE` for a deleted service).
pub fn active_service(
    out: &DescribeServicesOutput,
    cluster: &str,
    service: &str,
) -> Result<Service, EcsError> {
    if let Some(found) = out
        .services()
        .iter()
        .find(|s| s.status() != Some("INACTIVE"))
    {
        return Ok(found.clone());
    }
    let reason = out
        .failures()
        .first()
        .and_then(|f| f.reason())
        .unwrap_or("INACTIVE");
    Err(EcsFault::ServiceNotFound {
        cluster: cluster.to_string(),
        service: service.to_string(),
        reason: reason.to_string(),
    }
    .into())
}

/// DescribeTaskDefinition (with the tags, which a new revision carries on): the task definition
/// that `input` names, or the input error when ECS does not know it.
pub async fn describe_task_definition(
    client: &ecs::Client,
    name: &str,
    input: &'static str,
) -> Result<(TaskDefinition, Vec<Tag>), EcsError> {
    let out = client
        .describe_task_definition()
        .task_definition(name)
        .include(TaskDefinitionField::Tags)
        .send()
        .await
        .map_err(|e| {
            // ECS answers ClientException for a task definition that does not exist, and
            // InvalidParameterException for a name it cannot read.
            let refused = e
                .as_service_error()
                .is_some_and(|s| s.is_client_exception() || s.is_invalid_parameter_exception())
                || matches!(
                    error_code(&e),
                    Some("ClientException" | "InvalidParameterException")
                );
            if refused {
                EcsFault::TaskDefinitionNotFound {
                    input,
                    name: name.to_string(),
                    reason: error_text(&e),
                }
                .into()
            } else {
                EcsError::call("DescribeTaskDefinition", name, error_text(&e))
            }
        })?;
    let definition = out
        .task_definition()
        .cloned()
        .ok_or_else(|| EcsError::empty("DescribeTaskDefinition", name, "task definition"))?;
    Ok((definition, out.tags().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_mocks::mock;
    use ecs::operation::describe_task_definition::DescribeTaskDefinitionError;
    use ecs::types::Failure;
    use ecs::types::error::{ClientException, ClusterNotFoundException, ServerException};

    #[test]
    fn names_with_whitespace_or_nothing_are_refused_before_any_call() {
        assert!(check_name("cluster", "startupwebapp-cluster").is_ok());
        assert!(check_name("service", "arn:aws:ecs:us-east-1:1:service/c/s").is_ok());
        for bad in ["", "  ", "startup web app"] {
            let err = check_name("service", bad).expect_err(bad);
            assert_eq!(err.input(), Some("service"));
            assert_eq!(
                err.to_string(),
                format!("input `service` is `{bad}`; give the name or ARN")
            );
        }
    }

    #[test]
    fn a_revision_label_is_family_and_number() {
        assert_eq!(
            revision_label("arn:aws:ecs:us-east-1:123456789012:task-definition/web:3"),
            "web:3"
        );
        assert_eq!(revision_label("web:3"), "web:3");
    }

    #[test]
    fn a_missing_or_inactive_service_is_the_service_inputs_fault() {
        let missing = DescribeServicesOutput::builder()
            .failures(Failure::builder().arn("x").reason("MISSING").build())
            .build();
        let err = active_service(&missing, "c", "web").expect_err("missing");
        assert_eq!(err.input(), Some("service"));
        assert_eq!(
            err.to_string(),
            "input `service` names `web`, which is not an active service of cluster `c` (MISSING)"
        );
        let inactive = DescribeServicesOutput::builder()
            .services(
                Service::builder()
                    .service_name("web")
                    .status("INACTIVE")
                    .build(),
            )
            .build();
        let err = active_service(&inactive, "c", "web").expect_err("inactive");
        assert!(err.to_string().ends_with("(INACTIVE)"), "{err}");
        let active = DescribeServicesOutput::builder()
            .services(
                Service::builder()
                    .service_name("web")
                    .status("INACTIVE")
                    .build(),
            )
            .services(
                Service::builder()
                    .service_name("web")
                    .status("ACTIVE")
                    .build(),
            )
            .build();
        assert_eq!(
            active_service(&active, "c", "web")
                .expect("active")
                .status(),
            Some("ACTIVE")
        );
    }

    #[tokio::test]
    async fn an_unknown_cluster_or_task_definition_is_the_inputs_fault_and_a_server_error_is_not() {
        let no_cluster = mock!(ecs::Client::describe_services).then_error(|| {
            DescribeServicesError::ClusterNotFoundException(
                ClusterNotFoundException::builder()
                    .message("Cluster not found.")
                    .build(),
            )
        });
        let client = swa_testing::mock_client!(ecs, [&no_cluster]);
        let err = describe_service(&client, "nope", "web")
            .await
            .expect_err("no cluster");
        assert_eq!(err.input(), Some("cluster"));

        let down = mock!(ecs::Client::describe_services).then_error(|| {
            DescribeServicesError::ServerException(
                ServerException::builder()
                    .message("Service unavailable")
                    .build(),
            )
        });
        let client = swa_testing::mock_client!(ecs, [&down]);
        let err = describe_service(&client, "c", "web")
            .await
            .expect_err("server error");
        assert_eq!(err.input(), None);
        assert_eq!(
            err.to_string(),
            "DescribeServices web failed: ServerException: Service unavailable"
        );

        let refused = mock!(ecs::Client::describe_services).then_error(|| {
            DescribeServicesError::InvalidParameterException(
                ecs::types::error::InvalidParameterException::builder()
                    .message("Invalid service name")
                    .build(),
            )
        });
        let client = swa_testing::mock_client!(ecs, [&refused]);
        let err = describe_service(&client, "c", "arn:aws:ecs:bad")
            .await
            .expect_err("refused");
        assert_eq!(
            err.to_string(),
            "input `service` names `arn:aws:ecs:bad`, which ECS refuses to describe: InvalidParameterException: Invalid service name"
        );

        let no_revision = mock!(ecs::Client::describe_task_definition).then_error(|| {
            DescribeTaskDefinitionError::ClientException(
                ClientException::builder()
                    .message("Unable to describe task definition.")
                    .build(),
            )
        });
        let client = swa_testing::mock_client!(ecs, [&no_revision]);
        let err = describe_task_definition(&client, "web:9", "revision")
            .await
            .expect_err("no revision");
        assert_eq!(
            err.to_string(),
            "input `revision` names task definition `web:9`, which does not exist: ClientException: Unable to describe task definition."
        );
    }
}
