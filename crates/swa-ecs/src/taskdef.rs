//! Task definitions as RegisterTaskDefinition takes them.
//!
//! [`Registration`] holds every registrable field of a task definition and its tags, and none of
//! the fields ECS sets itself (ARN, revision, status, `registeredAt`, ...). It is built from a
//! DescribeTaskDefinition result or from a JSON file, rendered to the exact JSON the service
//! would receive, and compared and diffed in that form.

use aws_sdk_ecs as ecs;
use ecs::operation::register_task_definition::builders::RegisterTaskDefinitionFluentBuilder;
use ecs::types::{ContainerDefinition, KeyValuePair, Tag, TaskDefinition};
use serde_json::Value;

use crate::codec::OfflineEcs;

/// The fields a task-definition JSON may carry that RegisterTaskDefinition accepts.
pub const REGISTRABLE_FIELDS: &[&str] = &[
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "containerDefinitions",
    "volumes",
    "placementConstraints",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "tags",
    "pidMode",
    "ipcMode",
    "proxyConfiguration",
    "ephemeralStorage",
    "runtimePlatform",
    "enableFaultInjection",
];

/// The fields ECS sets on a registered revision (and `inferenceAccelerators`, which ECS no
/// longer accepts); a JSON file copied from
/// `aws ecs describe-task-definition` carries them, and they are dropped.
pub const READ_ONLY_FIELDS: &[&str] = &[
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
    "deleteRequestedAt",
    "inferenceAccelerators",
];

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the task definition is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the task definition is not a JSON object")]
    NotAnObject,
    #[error("the task definition does not match the ECS model: {0}")]
    Model(String),
    #[error("the task definition has no `family`")]
    NoFamily,
    #[error("the task definition has no container definitions")]
    NoContainers,
    #[error("the task definition could not be rendered: {0}")]
    Render(String),
}

/// Why no single container could be chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContainerChoiceError {
    #[error("there is no container `{name}` in the task definition (containers: {})", .available.join(", "))]
    NotFound {
        name: String,
        available: Vec<String>,
    },
    #[error("the task definition has {} essential containers ({}); name the one to use", .available.len(), .available.join(", "))]
    Ambiguous { available: Vec<String> },
    #[error("the task definition has no containers")]
    Empty,
}

/// The container an action works on: the one named, or else the only container, or else the
/// only essential one (a task with a non-essential log router beside its app has one). Several
/// essential containers and no name is an error that lists them: guessing would deploy an image
/// to, or run a command in, the wrong one.
pub fn choose_container(
    definition: &TaskDefinition,
    name: Option<&str>,
) -> Result<String, ContainerChoiceError> {
    let containers = definition.container_definitions();
    let names: Vec<String> = containers
        .iter()
        .map(|c| c.name().unwrap_or_default().to_string())
        .collect();
    if let Some(name) = name {
        return if names.iter().any(|n| n == name) {
            Ok(name.to_string())
        } else {
            Err(ContainerChoiceError::NotFound {
                name: name.to_string(),
                available: names,
            })
        };
    }
    if let [only] = names.as_slice() {
        return Ok(only.clone());
    }
    let essential: Vec<String> = containers
        .iter()
        .filter(|c| c.essential() != Some(false))
        .map(|c| c.name().unwrap_or_default().to_string())
        .collect();
    match essential.as_slice() {
        [] if names.is_empty() => Err(ContainerChoiceError::Empty),
        [only] => Ok(only.clone()),
        [] => Err(ContainerChoiceError::Ambiguous { available: names }),
        _ => Err(ContainerChoiceError::Ambiguous {
            available: essential,
        }),
    }
}

/// A task definition as RegisterTaskDefinition takes it: every registrable field and the tags.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    pub definition: TaskDefinition,
    pub tags: Vec<Tag>,
}

impl Registration {
    /// From a DescribeTaskDefinition result (`include: [TAGS]`): keeps every registrable field
    /// and drops the ones ECS sets itself.
    pub fn from_described(definition: &TaskDefinition, tags: &[Tag]) -> Registration {
        let d = definition.clone();
        let definition = TaskDefinition::builder()
            .set_family(d.family)
            .set_task_role_arn(d.task_role_arn)
            .set_execution_role_arn(d.execution_role_arn)
            .set_network_mode(d.network_mode)
            .set_container_definitions(d.container_definitions)
            .set_volumes(d.volumes)
            .set_placement_constraints(d.placement_constraints)
            .set_requires_compatibilities(d.requires_compatibilities)
            .set_cpu(d.cpu)
            .set_memory(d.memory)
            .set_pid_mode(d.pid_mode)
            .set_ipc_mode(d.ipc_mode)
            .set_proxy_configuration(d.proxy_configuration)
            .set_ephemeral_storage(d.ephemeral_storage)
            .set_runtime_platform(d.runtime_platform)
            .set_enable_fault_injection(d.enable_fault_injection)
            .build();
        Registration {
            definition,
            tags: tags.to_vec(),
        }
    }

    /// From a task-definition JSON file: the RegisterTaskDefinition input format, the
    /// `taskDefinition` object that `aws ecs describe-task-definition` prints, or its whole output
    /// (`{"taskDefinition": …, "tags": […]}`). Read-only fields are dropped; the second value
    /// lists the top-level fields that are neither registrable nor read-only (likely typos),
    /// which would otherwise be ignored silently.
    pub async fn from_json(text: &str) -> Result<(Registration, Vec<String>), RenderError> {
        let value: Value = serde_json::from_str(text)?;
        let Value::Object(mut top) = value else {
            return Err(RenderError::NotAnObject);
        };
        let (mut definition, mut tags) = match top.remove("taskDefinition") {
            Some(Value::Object(inner)) => (inner, top.remove("tags")),
            Some(_) => return Err(RenderError::NotAnObject),
            None => (top, None),
        };
        if let Some(inner_tags) = definition.remove("tags") {
            tags = Some(inner_tags);
        }
        let mut unknown = Vec::new();
        definition.retain(|key, _| {
            if READ_ONLY_FIELDS.contains(&key.as_str()) {
                return false;
            }
            if !REGISTRABLE_FIELDS.contains(&key.as_str()) {
                unknown.push(key.clone());
            }
            true
        });
        let mut envelope = serde_json::Map::new();
        envelope.insert("taskDefinition".into(), Value::Object(definition));
        if let Some(tags) = tags {
            envelope.insert("tags".into(), tags);
        }
        let body = serde_json::to_vec(&Value::Object(envelope))?;
        let described = decode_described(body).await?;
        let definition = described
            .task_definition()
            .cloned()
            .unwrap_or_else(|| TaskDefinition::builder().build());
        let registration = Registration::from_described(&definition, described.tags());
        if registration.family().is_empty() {
            return Err(RenderError::NoFamily);
        }
        if registration.containers().is_empty() {
            return Err(RenderError::NoContainers);
        }
        Ok((registration, unknown))
    }

    pub fn family(&self) -> &str {
        self.definition.family().unwrap_or_default()
    }

    pub fn containers(&self) -> &[ContainerDefinition] {
        self.definition.container_definitions()
    }

    pub fn container_names(&self) -> Vec<String> {
        self.containers()
            .iter()
            .map(|c| c.name().unwrap_or_default().to_string())
            .collect()
    }

    /// The container named `name`, or the one [`choose_container`] takes by default.
    pub fn choose_container(&self, name: Option<&str>) -> Result<String, ContainerChoiceError> {
        choose_container(&self.definition, name)
    }

    /// Every container's image, in order: `(container, image)`.
    pub fn images(&self) -> Vec<(String, String)> {
        self.containers()
            .iter()
            .map(|c| {
                (
                    c.name().unwrap_or_default().to_string(),
                    c.image().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    fn edit_container(
        &mut self,
        container: &str,
        edit: impl FnOnce(ContainerDefinition) -> ContainerDefinition,
    ) -> bool {
        let Some(containers) = self.definition.container_definitions.as_mut() else {
            return false;
        };
        let Some(slot) = containers.iter_mut().find(|c| c.name() == Some(container)) else {
            return false;
        };
        *slot = edit(slot.clone());
        true
    }

    /// Sets the image of `container`; false if there is no such container.
    pub fn set_image(&mut self, container: &str, image: &str) -> bool {
        self.edit_container(container, |c| {
            let mut c = c;
            c.image = Some(image.to_string());
            c
        })
    }

    /// Sets each `(name, value)` in `container`'s environment: an existing variable keeps its
    /// place and takes the new value, a new one is appended. False if there is no such container.
    pub fn upsert_environment(&mut self, container: &str, vars: &[(String, String)]) -> bool {
        self.edit_container(container, |c| {
            let mut c = c;
            let env = c.environment.get_or_insert_with(Vec::new);
            for (name, value) in vars {
                let pair = KeyValuePair::builder().name(name).value(value).build();
                match env.iter_mut().find(|p| p.name() == Some(name.as_str())) {
                    Some(existing) => *existing = pair,
                    None => env.push(pair),
                }
            }
            c
        })
    }

    /// The RegisterTaskDefinition call for this registration, ready to send.
    pub fn request(&self, client: &ecs::Client) -> RegisterTaskDefinitionFluentBuilder {
        let d = self.definition.clone();
        client
            .register_task_definition()
            .set_family(d.family)
            .set_task_role_arn(d.task_role_arn)
            .set_execution_role_arn(d.execution_role_arn)
            .set_network_mode(d.network_mode)
            .set_container_definitions(d.container_definitions)
            .set_volumes(d.volumes)
            .set_placement_constraints(d.placement_constraints)
            .set_requires_compatibilities(d.requires_compatibilities)
            .set_cpu(d.cpu)
            .set_memory(d.memory)
            .set_tags((!self.tags.is_empty()).then(|| self.tags.clone()))
            .set_pid_mode(d.pid_mode)
            .set_ipc_mode(d.ipc_mode)
            .set_proxy_configuration(d.proxy_configuration)
            .set_ephemeral_storage(d.ephemeral_storage)
            .set_runtime_platform(d.runtime_platform)
            .set_enable_fault_injection(d.enable_fault_injection)
    }

    /// The RegisterTaskDefinition request body, exactly as the SDK would send it.
    pub async fn request_json(&self) -> Result<Value, RenderError> {
        let offline = OfflineEcs::new(br#"{"taskDefinition":{}}"#.to_vec());
        self.request(&offline.client)
            .send()
            .await
            .map_err(|e| RenderError::Render(swa_aws::error_text(&e)))?;
        let body = offline
            .last_request()
            .ok_or_else(|| RenderError::Render("no request body".into()))?;
        Ok(serde_json::from_slice(&body)?)
    }

    /// [`Registration::request_json`] without empty lists, empty objects and nulls (ECS treats
    /// them as absent, and describes an absent list as an empty one): the form to compare and
    /// diff.
    pub async fn canonical_json(&self) -> Result<Value, RenderError> {
        let mut value = self.request_json().await?;
        prune_empty(&mut value);
        Ok(value)
    }

    /// The canonical JSON, pretty-printed with two-space indents. It holds every value as it
    /// is: print [`redacted_diff`] instead.
    pub async fn pretty(&self) -> Result<String, RenderError> {
        pretty_json(&self.canonical_json().await?)
    }
}

/// Reads `{"taskDefinition": …, "tags": […]}` with the SDK's own deserializer.
async fn decode_described(
    body: Vec<u8>,
) -> Result<ecs::operation::describe_task_definition::DescribeTaskDefinitionOutput, RenderError> {
    let offline = OfflineEcs::new(body);
    offline
        .client
        .describe_task_definition()
        .task_definition("offline")
        .send()
        .await
        .map_err(|e| {
            RenderError::Model(match &e {
                aws_smithy_runtime_api::client::result::SdkError::ResponseError(_) => {
                    let text = swa_aws::error_text(&e);
                    text.trim_start_matches("the response could not be read: ")
                        .to_string()
                }
                _ => swa_aws::error_text(&e),
            })
        })
}

fn prune_empty(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for v in map.values_mut() {
                prune_empty(v);
            }
            map.retain(|_, v| !is_empty(v));
        }
        Value::Array(items) => {
            for v in items.iter_mut() {
                prune_empty(v);
            }
        }
        _ => {}
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

/// How a new registration differs from the running one, in a form safe to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Whether the two registrations differ at all (a change in values the diff does not
    /// show counts).
    pub changed: bool,
    /// A unified diff of the two canonical renderings, with every value that must not be
    /// printed redacted ([`crate::redact`]); empty when they are equal.
    pub diff: String,
}

/// The change from `old` to `new`, redacted for printing.
pub async fn redacted_diff(
    old: &Registration,
    new: &Registration,
    old_label: &str,
    new_label: &str,
) -> Result<Change, RenderError> {
    let old = old.canonical_json().await?;
    let new = new.canonical_json().await?;
    let changed = old != new;
    let (old_shown, new_shown) = crate::redact::redact_pair(&old, &new);
    let diff = unified_diff(
        &pretty_json(&old_shown)?,
        &pretty_json(&new_shown)?,
        old_label,
        new_label,
    );
    Ok(Change { changed, diff })
}

fn pretty_json(value: &Value) -> Result<String, RenderError> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    Ok(text)
}

/// A unified diff of two renderings (`pretty` texts); empty when they are equal.
pub fn unified_diff(old: &str, new: &str, old_label: &str, new_label: &str) -> String {
    if old == new {
        return String::new();
    }
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(old_label, new_label)
        .to_string()
}

/// Parses `KEY=value` lines (blank lines and `#` comments skipped; the value may contain `=`
/// and be empty). The error names the line that is wrong by its number, never by its text
/// (which may hold a value).
pub fn parse_env_lines(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut vars: Vec<(String, String)> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!(
                "has line {} without `=`; write KEY=value lines",
                index + 1
            ));
        };
        let key = key.trim();
        let valid = !key.is_empty()
            && !key.starts_with(|c: char| c.is_ascii_digit())
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(format!(
                "has line {} whose variable name is not valid; use letters, digits and `_`, not starting with a digit",
                index + 1
            ));
        }
        let value = value.to_string();
        match vars.iter_mut().find(|(k, _)| k == key) {
            Some(existing) => existing.1 = value,
            None => vars.push((key.to_string(), value)),
        }
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ecs::types::{
        Compatibility, LogConfiguration, LogDriver, NetworkMode, PortMapping, TaskDefinitionStatus,
    };

    pub(crate) fn described() -> (TaskDefinition, Vec<Tag>) {
        let container = ContainerDefinition::builder()
            .name("startupwebapp")
            .image("123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp:release-3")
            .essential(true)
            .port_mappings(PortMapping::builder().container_port(8000).build())
            .environment(
                KeyValuePair::builder()
                    .name("DJANGO_DEBUG")
                    .value("false")
                    .build(),
            )
            .environment(KeyValuePair::builder().name("WORKERS").value("3").build())
            .log_configuration(
                LogConfiguration::builder()
                    .log_driver(LogDriver::Awslogs)
                    .options("awslogs-group", "/ecs/startupwebapp-service")
                    .options("awslogs-stream-prefix", "ecs")
                    .options("awslogs-region", "us-east-1")
                    .build()
                    .expect("log configuration"),
            )
            .build();
        let definition = TaskDefinition::builder()
            .task_definition_arn(
                "arn:aws:ecs:us-east-1:123456789012:task-definition/startupwebapp-service-task:3",
            )
            .family("startupwebapp-service-task")
            .revision(3)
            .status(TaskDefinitionStatus::Active)
            .compatibilities(Compatibility::Ec2)
            .compatibilities(Compatibility::Fargate)
            .requires_compatibilities(Compatibility::Fargate)
            .network_mode(NetworkMode::Awsvpc)
            .cpu("512")
            .memory("1024")
            .execution_role_arn("arn:aws:iam::123456789012:role/ecsTaskExecutionRole")
            .registered_at(aws_smithy_types::DateTime::from_secs(1_700_000_000))
            .registered_by("arn:aws:iam::123456789012:user/deployer")
            .container_definitions(container)
            .build();
        let tags = vec![Tag::builder().key("app").value("startupwebapp").build()];
        (definition, tags)
    }

    #[tokio::test]
    async fn renders_every_registrable_field_and_no_read_only_one() {
        let (definition, tags) = described();
        let registration = Registration::from_described(&definition, &tags);
        let json = registration.request_json().await.expect("renders");
        let keys: Vec<&str> = json
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        for key in &keys {
            assert!(REGISTRABLE_FIELDS.contains(key), "{key} is not registrable");
        }
        for key in [
            "family",
            "executionRoleArn",
            "networkMode",
            "containerDefinitions",
            "requiresCompatibilities",
            "cpu",
            "memory",
            "tags",
        ] {
            assert!(keys.contains(&key), "{key} missing from {json}");
        }
        assert_eq!(json["tags"][0]["key"], "app");
        assert_eq!(
            json["containerDefinitions"][0]["logConfiguration"]["options"]["awslogs-group"],
            "/ecs/startupwebapp-service"
        );
        assert_eq!(
            json["containerDefinitions"][0]["portMappings"][0]["containerPort"],
            8000
        );
    }

    #[tokio::test]
    async fn a_described_json_file_reads_back_to_the_same_registration() {
        let (definition, tags) = described();
        let registration = Registration::from_described(&definition, &tags);
        let mut file = registration.request_json().await.expect("renders");
        // What `aws ecs describe-task-definition --query taskDefinition` adds:
        file["taskDefinitionArn"] = "arn:aws:ecs:us-east-1:123456789012:task-definition/x:3".into();
        file["revision"] = 3.into();
        file["status"] = "ACTIVE".into();
        file["registeredAt"] = "2024-05-01T10:00:00.000000+00:00".into();
        file["compatibilities"] = serde_json::json!(["EC2", "FARGATE"]);
        file["containerDefnitions"] = serde_json::json!([]);
        let (read, unknown) = Registration::from_json(&file.to_string())
            .await
            .expect("reads");
        assert_eq!(read, registration);
        assert_eq!(unknown, vec!["containerDefnitions".to_string()]);

        let whole = serde_json::json!({
            "taskDefinition": {"family": "f", "containerDefinitions": [{"name": "web", "image": "nginx"}]},
            "tags": [{"key": "team", "value": "web"}]
        });
        let (read, unknown) = Registration::from_json(&whole.to_string())
            .await
            .expect("reads");
        assert!(unknown.is_empty());
        assert_eq!(read.family(), "f");
        assert_eq!(read.tags[0].key(), Some("team"));
    }

    #[tokio::test]
    async fn a_json_file_that_is_not_a_task_definition_is_refused() {
        assert!(matches!(
            Registration::from_json("[1]").await,
            Err(RenderError::NotAnObject)
        ));
        assert!(matches!(
            Registration::from_json("{").await,
            Err(RenderError::Json(_))
        ));
        assert!(matches!(
            Registration::from_json(r#"{"containerDefinitions":[{"name":"a"}]}"#).await,
            Err(RenderError::NoFamily)
        ));
        assert!(matches!(
            Registration::from_json(r#"{"family":"f"}"#).await,
            Err(RenderError::NoContainers)
        ));
        let model = Registration::from_json(r#"{"family":"f","containerDefinitions":"web"}"#).await;
        assert!(matches!(model, Err(RenderError::Model(_))), "{model:?}");
    }

    #[tokio::test]
    async fn image_and_environment_changes_show_in_the_diff_and_nothing_else() {
        let (definition, tags) = described();
        let base = Registration::from_described(&definition, &tags);
        let mut new = base.clone();
        assert!(new.set_image(
            "startupwebapp",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp@sha256:abc"
        ));
        assert!(new.upsert_environment(
            "startupwebapp",
            &[
                ("WORKERS".into(), "4".into()),
                ("RELEASE".into(), "release-4".into())
            ]
        ));
        assert!(!new.set_image("worker", "x"));
        let change = redacted_diff(&base, &new, "revision 3", "new revision")
            .await
            .expect("renders");
        assert!(change.changed);
        let diff = change.diff;
        let changed: Vec<&str> = diff
            .lines()
            .filter(|l| {
                (l.starts_with('+') || l.starts_with('-'))
                    && !l.starts_with("---")
                    && !l.starts_with("+++")
            })
            .collect();
        assert_eq!(
            changed,
            vec![
                r#"-      "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp:release-3","#,
                r#"+      "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp@sha256:abc","#,
                r#"-          "value": "<redacted>""#,
                r#"+          "value": "<redacted, changed>""#,
                r#"+        },"#,
                r#"+        {"#,
                r#"+          "name": "RELEASE","#,
                r#"+          "value": "<redacted, added>""#,
            ],
            "{diff}"
        );
        assert!(
            diff.starts_with("--- revision 3\n+++ new revision\n"),
            "{diff}"
        );
    }

    #[tokio::test]
    async fn a_change_only_in_a_redacted_value_still_counts_and_shows_no_value() {
        let (definition, tags) = described();
        let base = Registration::from_described(&definition, &tags);
        let mut new = base.clone();
        new.upsert_environment(
            "startupwebapp",
            &[(
                "DATABASE_URL".into(),
                "postgres://app:PASSWORD@db/app".into(),
            )],
        );
        let mut newer = new.clone();
        newer.upsert_environment(
            "startupwebapp",
            &[(
                "DATABASE_URL".into(),
                "postgres://app:PASSWORD2@db/app".into(),
            )],
        );
        let change = redacted_diff(&new, &newer, "a", "b")
            .await
            .expect("renders");
        assert!(change.changed);
        assert!(!change.diff.contains("PASSWORD"), "{}", change.diff);
        assert!(
            change
                .diff
                .contains("+          \"value\": \"<redacted, changed>\""),
            "{}",
            change.diff
        );
        let same = redacted_diff(&new, &new.clone(), "a", "b")
            .await
            .expect("renders");
        assert_eq!(
            same,
            Change {
                changed: false,
                diff: String::new()
            }
        );
    }

    #[tokio::test]
    async fn empty_lists_do_not_count_as_a_change() {
        let (definition, tags) = described();
        let base = Registration::from_described(&definition, &tags);
        let mut same = base.clone();
        same.definition.volumes = Some(Vec::new());
        same.definition.placement_constraints = Some(Vec::new());
        assert_ne!(base, same);
        assert_eq!(
            base.canonical_json().await.expect("renders"),
            same.canonical_json().await.expect("renders")
        );
        assert_eq!(
            unified_diff(
                &base.pretty().await.expect("renders"),
                &same.pretty().await.expect("renders"),
                "a",
                "b"
            ),
            ""
        );
    }

    #[test]
    fn one_container_is_chosen_by_name_or_by_being_the_only_essential_one() {
        let (definition, tags) = described();
        let mut registration = Registration::from_described(&definition, &tags);
        assert_eq!(
            registration.choose_container(None),
            Ok("startupwebapp".to_string())
        );
        assert!(matches!(
            registration.choose_container(Some("web")),
            Err(ContainerChoiceError::NotFound { .. })
        ));
        if let Some(list) = registration.definition.container_definitions.as_mut() {
            list.push(
                ContainerDefinition::builder()
                    .name("log-router")
                    .essential(false)
                    .build(),
            );
        }
        assert_eq!(
            registration.choose_container(None),
            Ok("startupwebapp".to_string()),
            "a non-essential sidecar is never the default"
        );
        if let Some(list) = registration.definition.container_definitions.as_mut() {
            list.push(ContainerDefinition::builder().name("worker").build());
        }
        let err = registration.choose_container(None).expect_err("ambiguous");
        assert_eq!(
            err.to_string(),
            "the task definition has 2 essential containers (startupwebapp, worker); name the one to use"
        );
        assert_eq!(
            registration.choose_container(Some("log-router")),
            Ok("log-router".to_string())
        );
        assert_eq!(
            choose_container(&TaskDefinition::builder().build(), None),
            Err(ContainerChoiceError::Empty)
        );
    }

    #[test]
    fn environment_lines_parse_and_name_the_bad_line() {
        let vars = parse_env_lines("A=1\n\n# comment\nURL=postgres://u:p@h/db?x=y\nEMPTY=\nA=2\n")
            .expect("parses");
        assert_eq!(
            vars,
            vec![
                ("A".to_string(), "2".to_string()),
                ("URL".to_string(), "postgres://u:p@h/db?x=y".to_string()),
                ("EMPTY".to_string(), String::new()),
            ]
        );
        let err = parse_env_lines("A=1\nDATABASE_URL postgres://u:PASSWORD@h\n").expect_err("no =");
        assert_eq!(err, "has line 2 without `=`; write KEY=value lines");
        let err = parse_env_lines("postgres://u:PASSWORD@h=x").expect_err("bad name");
        assert_eq!(
            err,
            "has line 1 whose variable name is not valid; use letters, digits and `_`, not starting with a digit"
        );
    }
}
