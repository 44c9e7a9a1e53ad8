//! What the world is made of: task definitions, tasks and their containers, the service and its
//! deployments, log streams, images and S3 objects.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{ACCOUNT, REGISTRY, REPOSITORY, World, epoch, sha256_hex, task_definition_arn};

/// The frontend's bucket, present from the start.
pub const FRONTEND_BUCKET: &str = "startupwebapp-frontend";

#[derive(Clone, Debug)]
pub struct TaskDefinition {
    pub family: String,
    pub revision: u32,
    pub arn: String,
    /// The `taskDefinition` object as DescribeTaskDefinition returns it.
    pub body: Value,
    pub tags: Value,
    pub registered_at: i64,
    /// Registered after the sandbox started: the failing scenarios apply to it.
    pub new: bool,
    pub active: bool,
}

impl TaskDefinition {
    pub fn containers(&self) -> Vec<Value> {
        self.body["containerDefinitions"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
    pub fn essential_container(&self) -> Value {
        let containers = self.containers();
        containers
            .iter()
            .find(|c| c["essential"].as_bool() != Some(false))
            .or(containers.first())
            .cloned()
            .unwrap_or(Value::Null)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Provisioning,
    Pending,
    Activating,
    Running,
    Deactivating,
    Stopping,
    Deprovisioning,
    Stopped,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Provisioning => "PROVISIONING",
            Phase::Pending => "PENDING",
            Phase::Activating => "ACTIVATING",
            Phase::Running => "RUNNING",
            Phase::Deactivating => "DEACTIVATING",
            Phase::Stopping => "STOPPING",
            Phase::Deprovisioning => "DEPROVISIONING",
            Phase::Stopped => "STOPPED",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// Serves and passes health checks.
    Healthy,
    /// Reaches RUNNING, then its essential container exits 1.
    Crash,
    /// Runs, but the target group's health checks fail.
    Unhealthy,
    /// A one-off task that runs a script and exits with its code.
    Script,
    /// A one-off task whose image cannot be pulled: it stops before its container starts.
    NoStart,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetState {
    Initial,
    Healthy,
    Unhealthy { reason: String, description: String },
    Draining,
}

#[derive(Clone, Debug)]
pub enum Step {
    ToPending,
    ToRunning,
    TargetHealthy,
    TargetUnhealthy,
    ElbFail,
    Exit(i32),
    /// The image pull gave up: the task stops without its container having started.
    FailToStart,
    /// The deregistration delay is over: the task stops, its essential container with this code.
    DrainDone(i32),
    ToDeprovisioning,
    ToStopped,
    Log(String),
}

#[derive(Clone, Debug)]
pub struct Container {
    pub name: String,
    pub image: String,
    pub essential: bool,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
    pub runtime_id: String,
    pub arn: String,
}

#[derive(Clone, Debug)]
pub struct Task {
    pub id: String,
    pub arn: String,
    pub td_arn: String,
    pub family: String,
    pub revision: u32,
    pub cpu: String,
    pub memory: String,
    pub started_by: Option<String>,
    pub group: String,
    pub deployment: Option<String>,
    pub behaviour: Behaviour,
    pub phase: Phase,
    pub desired_running: bool,
    pub created_at: i64,
    pub pull_started_at: Option<i64>,
    pub pull_stopped_at: Option<i64>,
    pub started_at: Option<i64>,
    pub stopping_at: Option<i64>,
    pub execution_stopped_at: Option<i64>,
    pub stopped_at: Option<i64>,
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    pub containers: Vec<Container>,
    pub ip: String,
    pub eni: String,
    pub subnet: String,
    pub attachment_id: String,
    pub az: String,
    pub target: Option<TargetState>,
    pub agenda: Vec<(i64, Step)>,
    pub log_group: String,
    pub log_stream: String,
    pub overrides: Value,
    pub command: Vec<String>,
    pub slow: i64,
    pub version: i64,
}

impl Task {
    pub(super) fn plan(&mut self, at: i64, step: Step) {
        let pos = self.agenda.partition_point(|(t, _)| *t <= at);
        self.agenda.insert(pos, (at, step));
    }
    pub fn is_live(&self) -> bool {
        self.desired_running && self.phase != Phase::Stopped
    }
    pub fn healthy_target(&self) -> bool {
        self.desired_running && self.target == Some(TargetState::Healthy)
    }
}

#[derive(Clone, Debug)]
pub struct Deployment {
    pub id: String,
    pub primary: bool,
    pub td_arn: String,
    pub desired: i64,
    pub failed_tasks: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub rollout_state: String,
    pub rollout_reason: String,
}

#[derive(Clone, Debug)]
pub struct ServiceEvent {
    pub id: String,
    pub at: i64,
    pub message: String,
}

#[derive(Clone, Debug)]
pub struct Service {
    pub desired: i64,
    pub deployments: Vec<Deployment>,
    pub events: Vec<ServiceEvent>,
    pub created_at: i64,
    pub circuit_breaker: bool,
    pub rollback: bool,
    pub maximum_percent: i64,
    pub minimum_healthy_percent: i64,
    pub health_check_grace: i64,
    pub last_completed: (String, String),
    pub steady_reported: bool,
    /// ROLLING, or a traffic-shifting strategy with its hooks and alarms.
    pub strategy: super::Strategy,
    /// The traffic-shifting deployment in flight.
    pub shift: Option<super::Shift>,
}

#[derive(Clone, Debug)]
pub struct LogEvent {
    pub timestamp: i64,
    pub ingestion: i64,
    pub message: String,
}

#[derive(Clone, Debug, Default)]
pub struct LogStream {
    pub created_at: i64,
    pub events: Vec<LogEvent>,
}

#[derive(Clone, Debug)]
pub struct Image {
    pub digest: String,
    pub tags: Vec<String>,
    pub manifest: String,
    pub media_type: String,
    pub pushed_at: i64,
    pub size: i64,
}

/// An S3 object.
#[derive(Clone, Debug)]
pub struct Object {
    pub body: Vec<u8>,
    pub etag: String,
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub last_modified: i64,
}

impl World {
    pub fn insert_task_definition(
        &mut self,
        mut body: Value,
        tags: Value,
        at: i64,
        new: bool,
    ) -> TaskDefinition {
        let family = body["family"].as_str().unwrap_or_default().to_string();
        let revisions = self.task_definitions.entry(family.clone()).or_default();
        let revision = revisions.last().map_or(1, |t| t.revision + 1);
        let arn = task_definition_arn(&family, revision);
        if let Some(obj) = body.as_object_mut() {
            obj.insert("taskDefinitionArn".into(), json!(arn));
            obj.insert("revision".into(), json!(revision));
            obj.insert("status".into(), json!("ACTIVE"));
            obj.insert(
                "requiresAttributes".into(),
                json!([
                    {"name": "com.amazonaws.ecs.capability.logging-driver.awslogs"},
                    {"name": "ecs.capability.execution-role-awslogs"},
                    {"name": "com.amazonaws.ecs.capability.docker-remote-api.1.19"},
                    {"name": "ecs.capability.task-eni"}
                ]),
            );
            obj.insert("compatibilities".into(), json!(["EC2", "FARGATE"]));
            obj.insert("registeredAt".into(), epoch(at));
            obj.insert(
                "registeredBy".into(),
                json!(format!(
                    "arn:aws:sts::{ACCOUNT}:assumed-role/github-actions-deploy/GitHubActions"
                )),
            );
            obj.entry("volumes").or_insert(json!([]));
            obj.entry("placementConstraints").or_insert(json!([]));
            obj.entry("networkMode").or_insert(json!("bridge"));
        }
        let td = TaskDefinition {
            family,
            revision,
            arn,
            body,
            tags,
            registered_at: at,
            new,
            active: true,
        };
        revisions.push(td.clone());
        td
    }

    /// Finds a task definition from a family, `family:revision` or an ARN.
    pub fn find_task_definition(&self, reference: &str) -> Option<&TaskDefinition> {
        let name = reference
            .rsplit_once(":task-definition/")
            .map_or(reference, |(_, n)| n);
        if let Some((family, revision)) = name.rsplit_once(':') {
            let revision: u32 = revision.parse().ok()?;
            self.task_definitions
                .get(family)?
                .iter()
                .find(|t| t.revision == revision)
        } else {
            self.task_definitions
                .get(name)?
                .iter()
                .rev()
                .find(|t| t.active)
        }
    }

    pub fn put_image_manifest(&mut self, manifest: String, tag: &str, at: i64) -> Image {
        let digest = format!("sha256:{}", sha256_hex(manifest.as_bytes()));
        for image in &mut self.images {
            image.tags.retain(|t| t != tag);
        }
        let size = serde_json::from_str::<Value>(&manifest)
            .ok()
            .and_then(|m| {
                m["layers"].as_array().map(|ls| {
                    ls.iter()
                        .map(|l| l["size"].as_i64().unwrap_or(0))
                        .sum::<i64>()
                })
            })
            .unwrap_or(manifest.len() as i64);
        let media_type = serde_json::from_str::<Value>(&manifest)
            .ok()
            .and_then(|m| m["mediaType"].as_str().map(String::from))
            .unwrap_or_else(|| "application/vnd.docker.distribution.manifest.v2+json".into());
        if let Some(image) = self.images.iter_mut().find(|i| i.digest == digest) {
            if !tag.is_empty() {
                image.tags.push(tag.to_string());
            }
            return image.clone();
        }
        let image = Image {
            digest,
            tags: if tag.is_empty() {
                vec![]
            } else {
                vec![tag.to_string()]
            },
            manifest,
            media_type,
            pushed_at: at,
            size,
        };
        // A moved tag leaves the old image untagged, as ECR does.
        self.images.push(image.clone());
        image
    }
}

pub fn split_td_arn(arn: &str) -> (String, u32) {
    let name = arn.rsplit_once(":task-definition/").map_or(arn, |(_, n)| n);
    match name.rsplit_once(':') {
        Some((f, r)) => (f.to_string(), r.parse().unwrap_or(0)),
        None => (name.to_string(), 0),
    }
}

/// Whether a task can pull `image`: images of the sandbox's registry must be in its ECR
/// repository (by tag, `latest` when none, or by digest); other registries always answer.
pub fn pullable(images: &[Image], image: &str) -> bool {
    let Some(rest) = image.strip_prefix(&format!("{REGISTRY}/")) else {
        return true;
    };
    let (repository, reference) = match rest.split_once('@') {
        Some((repository, digest)) => (repository, Err(digest)),
        None => match rest.rsplit_once(':') {
            Some((repository, tag)) => (repository, Ok(tag)),
            None => (rest, Ok("latest")),
        },
    };
    repository == REPOSITORY
        && images.iter().any(|i| match reference {
            Ok(tag) => i.tags.iter().any(|t| t == tag),
            Err(digest) => i.digest == digest,
        })
}

/// One request the sandbox received.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Call {
    pub seq: u64,
    /// `ecs`, `ecr`, `logs`, `cloudwatch`, `elbv2`, `s3`, `github`, `app` (or `unknown`).
    pub service: String,
    /// `UpdateService`, `dispatches`, `rerun-failed-jobs`, `health`, ...
    pub operation: String,
    pub request: Value,
    pub status: u16,
}

const MUTATING: &[&str] = &[
    "RegisterTaskDefinition",
    "DeregisterTaskDefinition",
    "UpdateService",
    "StopServiceDeployment",
    "ContinueServiceDeployment",
    "CreateService",
    "DeleteService",
    "RunTask",
    "StopTask",
    "PutImage",
    "PutObject",
    "CopyObject",
    "DeleteObject",
    "DeleteObjects",
    "CreateBucket",
    "BatchDeleteImage",
    "PutLogEvents",
    "CreateLogStream",
    "RegisterTargets",
    "DeregisterTargets",
    "ModifyTargetGroupAttributes",
    "dispatches",
    "rerun",
    "rerun-failed-jobs",
    "cancel",
    "create-deployment",
    "create-deployment-status",
];

impl Call {
    /// Whether the call changes anything (registers, updates, runs, stops, pushes, dispatches,
    /// re-runs, deployment records).
    pub fn is_mutating(&self) -> bool {
        MUTATING.contains(&self.operation.as_str())
    }
}

/// A timestamped fact, in wall-clock time, for benchmarks and tests.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Event {
    pub at_unix_ms: u128,
    /// `deployment-created`, `deployment-completed`, `deployment-failed`, `rollback-started`,
    /// `tasks-started`, `task-running`, `target-healthy`, `task-stopping`, `task-stopped`, ...
    pub kind: String,
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use super::super::{SERVICE_FAMILY, Scenario};
    use super::*;

    #[test]
    fn task_definitions_resolve_from_family_revision_or_arn() {
        let w = World::new(Scenario::default(), 1.0);
        let latest = w.find_task_definition(SERVICE_FAMILY).map(|t| t.revision);
        assert_eq!(latest, Some(3));
        let by_rev = w.find_task_definition("startupwebapp-migration-task:2");
        assert_eq!(by_rev.map(|t| t.revision), Some(2));
        let by_arn = w.find_task_definition(&task_definition_arn(SERVICE_FAMILY, 1));
        assert_eq!(by_arn.map(|t| t.family.as_str()), Some(SERVICE_FAMILY));
        assert!(
            w.find_task_definition("startupwebapp-service-task:9")
                .is_none()
        );
        assert!(w.find_task_definition("other").is_none());
    }
}
