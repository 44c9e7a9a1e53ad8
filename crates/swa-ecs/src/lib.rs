//! ECS knowledge shared by the swa actions.
//!
//! - [`Registration`]: a task definition as RegisterTaskDefinition takes it, built from a
//!   DescribeTaskDefinition result or a JSON file, rendered to the request the service receives,
//!   and diffed; [`redacted_diff`] is the diff a deploy may print ([`redact`] says what it hides).
//! - [`StoppedTask`]: why a task stopped (stop code, reason, each container's exit code and
//!   reason) in words a person can act on.
//! - [`log_location`] and [`tail`]: the CloudWatch Logs stream of a task's container and its last
//!   lines; [`failed_container_logs`] puts them together for a stopped task.
//! - [`ImageRef`] and [`resolve_digest`]: an image URI checked and parsed, and the digest its
//!   tag names in ECR.
//! - [`last_successful_other_than`]: from the service's deployment history, the revision to go
//!   back to.

mod codec;
mod history;
mod image;
mod logs;
pub mod redact;
mod stopped;
mod taskdef;

pub use history::{DeployedRevision, HistoryError, last_successful_other_than};
pub use image::{EcrRepo, ImageRef, resolve_digest};
pub use logs::{LogLocation, LogTailError, NoLogLocation, log_location, tail, task_id};
pub use stopped::{ContainerExit, StoppedTask};
pub use taskdef::{
    Change, ContainerChoiceError, READ_ONLY_FIELDS, REGISTRABLE_FIELDS, Registration, RenderError,
    parse_env_lines, redacted_diff, unified_diff,
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
