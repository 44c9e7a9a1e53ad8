//! ECS knowledge shared by the swa actions.
//!
//! - [`Registration`]: a task definition as RegisterTaskDefinition takes it, built from a
//!   DescribeTaskDefinition result or a JSON file, rendered to the request the service receives,
//!   and diffed; [`redacted_diff`] is the diff a deploy may print ([`redact`] says what it hides).
//! - [`StoppedTask`]: why a task stopped (stop code, reason, each container's exit code and
//!   reason) in words a person can act on.
//! - [`log_location`] and [`tail`]: the CloudWatch Logs stream of a task's container and its last
//!   lines; [`failed_container_logs`] puts them together for a stopped task.
//! - [`ImageRef`], [`resolve_digest`] and [`pin_image`]: an image URI checked and parsed, the
//!   digest its tag names in ECR, and the URI to register.
//! - [`describe_service`], [`describe_task_definition`], [`check_name`], [`revision_label`] and
//!   [`choose_container`]: what the inputs name, found or refused in the same words by every
//!   action.
//! - [`EcsError`]: a failed call or check, and whether an input is at fault (exit 2) or the
//!   deployment (exit 1).
//! - [`last_successful_other_than`]: from the service's deployment history, the revision to go
//!   back to.

mod codec;
mod error;
mod history;
mod image;
mod logs;
pub mod redact;
mod service;
mod service_deployment;
mod stopped;
mod taskdef;

pub use error::{EcsError, EcsFault};
pub use history::{
    DeployedRevision, HistoryError, describe_service_deployment, in_flight_service_deployment,
    last_successful_other_than, service_deployment_to,
};
pub use image::{DigestError, EcrRepo, ImageRef, pin_image, resolve_digest};
pub use logs::{
    LogLocation, LogTailError, NoLogLocation, log_location, tail, task_id, telling_line,
};
pub use service::{
    active_service, check_name, deployment_strategy, describe_service, describe_services_error,
    describe_task_definition, revision_label,
};
pub use service_deployment::{
    Paused, STAGES, ServiceDeploymentState, check_service_deployment_arn, stage_rank,
};
pub use stopped::{ContainerExit, StoppedTask, task_ip};
pub use taskdef::{
    Change, ContainerChoiceError, READ_ONLY_FIELDS, REGISTRABLE_FIELDS, Registration, RenderError,
    choose_container, parse_env_lines, redacted_diff, unified_diff,
};

use aws_sdk_cloudwatchlogs as cwlogs;
use aws_sdk_ecs::types::TaskDefinition;

/// The last log lines of one container, or why they are not available.
#[derive(Debug)]
pub struct ContainerLog {
    pub container: String,
    pub location: Option<LogLocation>,
    pub lines: Result<Vec<String>, String>,
}

/// The last `lines` log lines of each failed container of a stopped task (all its containers
/// when none is marked failed), read with one GetLogEvents per container.
pub async fn failed_container_logs(
    client: &cwlogs::Client,
    definition: &TaskDefinition,
    stopped: &StoppedTask,
    lines: u32,
) -> Vec<ContainerLog> {
    let mut names: Vec<&str> = stopped
        .failed_containers()
        .map(|c| c.name.as_str())
        .collect();
    if names.is_empty() {
        names = stopped.containers.iter().map(|c| c.name.as_str()).collect();
    }
    let mut out = Vec::new();
    for name in names {
        match log_location(definition, name, &stopped.task_arn) {
            Ok(location) => {
                let lines = tail(client, &location, lines)
                    .await
                    .map_err(|e| e.to_string());
                out.push(ContainerLog {
                    container: name.to_string(),
                    location: Some(location),
                    lines,
                });
            }
            Err(why) => out.push(ContainerLog {
                container: name.to_string(),
                location: None,
                lines: Err(why.to_string()),
            }),
        }
    }
    out
}
