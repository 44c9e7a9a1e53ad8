//! `update-service`: deploy a new image, or an existing revision, to an ECS service.
//!
//! The base is the service's current task definition (or a JSON file); only the image and the
//! environment change, the diff is printed, and nothing is registered when nothing changed. The
//! image tag is resolved to its digest in ECR before anything changes, so a missing tag fails with
//! exit 2 and the service untouched. `desiredCount` is never sent: auto-scaling owns it.

use std::path::PathBuf;

use aws_sdk_ecr as ecr;
use aws_sdk_ecs as ecs;
use ecs::types::TaskDefinitionField;
use swa_aws::{Aws, error_code, error_text};
use swa_ecs::{Change, Registration, parse_env_lines, redacted_diff};
use swa_gha::{ActionError, Foreign, Gha, md};

pub use swa_ecs::{EcrRepo, ImageRef};

/// Inputs: one `--flag` per action input, named exactly as the input.
#[derive(clap::Parser, Debug)]
#[command(
    name = "update-service",
    version,
    about = "Deploy a new image (or an existing revision) to an ECS service"
)]
pub struct Args {
    /// The ECS cluster (name or ARN).
    #[arg(long)]
    pub cluster: String,
    /// The ECS service (name or ARN).
    #[arg(long)]
    pub service: String,
    /// The new image URI (`repo:tag` or `repo@sha256:…`).
    #[arg(long)]
    pub image: Option<String>,
    /// The container to change; default: the only container of the task definition.
    #[arg(long = "container-name")]
    pub container_name: Option<String>,
    /// A task-definition JSON file to use as the base instead of the service's current revision.
    #[arg(long = "task-definition")]
    pub task_definition: Option<PathBuf>,
    /// Deploy an existing revision as it is: a task-definition ARN, `family:N`, or `previous`.
    #[arg(long)]
    pub revision: Option<String>,
    /// `KEY=value` lines set in the container's environment.
    #[arg(long = "environment-variables")]
    pub environment_variables: Option<String>,
    /// Resolve the ECR tag to its digest and register `repo@sha256:…`.
    #[arg(long = "pin-digest", action = clap::ArgAction::Set, value_parser = swa_gha::parse_bool, default_value = "true")]
    pub pin_digest: bool,
    /// Start a new deployment even when the task definition did not change.
    #[arg(long = "force-new-deployment", action = clap::ArgAction::Set, value_parser = swa_gha::parse_bool, default_value = "false")]
    pub force_new_deployment: bool,
    /// Print what would change and change nothing.
    #[arg(long = "dry-run", action = clap::ArgAction::Set, value_parser = swa_gha::parse_bool, default_value = "false")]
    pub dry_run: bool,
}

/// Every output the action writes, in the order it writes them.
pub const OUTPUTS: &[&str] = &[
    "task-definition-arn",
    "previous-task-definition-arn",
    "deployment-id",
    "image",
];

/// What `revision` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevisionSpec {
    /// The revision the service ran before its current one.
    Previous,
    /// A task-definition ARN or `family:N`, as DescribeTaskDefinition takes it.
    Named(String),
}

impl RevisionSpec {
    pub fn parse(text: &str) -> Result<RevisionSpec, String> {
        let text = text.trim();
        if text == "previous" {
            return Ok(RevisionSpec::Previous);
        }
        let family_revision = match text.strip_prefix("arn:") {
            None => Some(text),
            Some(arn) => {
                let parts: Vec<&str> = arn.splitn(5, ':').collect();
                if parts.len() == 5 && parts[1] == "ecs" {
                    parts[4].strip_prefix("task-definition/")
                } else {
                    None
                }
            }
        };
        let valid = family_revision
            .and_then(|fr| fr.rsplit_once(':'))
            .is_some_and(|(family, revision)| {
                !family.is_empty()
                    && family.len() <= 255
                    && family
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                    && revision.parse::<u32>().is_ok_and(|n| n > 0)
            });
        if valid {
            Ok(RevisionSpec::Named(text.to_string()))
        } else {
            Err(format!(
                "is `{text}`; use a task-definition ARN, `family:N` (such as `startupwebapp-service-task:2`) or `previous`"
            ))
        }
    }
}

/// The inputs after every check that needs no AWS call.
struct Plan {
    image: Option<ImageRef>,
    env: Vec<(String, String)>,
    base_file: Option<(PathBuf, Registration)>,
    revision: Option<RevisionSpec>,
}

async fn check_inputs(args: &Args, gha: &Gha) -> Result<Plan, ActionError> {
    for (name, value) in [("cluster", &args.cluster), ("service", &args.service)] {
        if value.trim().is_empty() || value.chars().any(char::is_whitespace) {
            return Err(ActionError::input(
                name,
                format!("is `{value}`; give the name or ARN"),
            ));
        }
    }
    let revision = match &args.revision {
        Some(text) => {
            let spec = RevisionSpec::parse(text).map_err(|e| ActionError::input("revision", e))?;
            for (other, given) in [
                ("image", args.image.is_some()),
                ("task-definition", args.task_definition.is_some()),
                (
                    "environment-variables",
                    args.environment_variables.is_some(),
                ),
                ("container-name", args.container_name.is_some()),
            ] {
                if given {
                    return Err(ActionError::input(
                        "revision",
                        format!(
                            "deploys an existing revision as it is and cannot be combined with `{other}`"
                        ),
                    ));
                }
            }
            Some(spec)
        }
        None => None,
    };
    let image = args
        .image
        .as_deref()
        .map(ImageRef::parse)
        .transpose()
        .map_err(|e| ActionError::input("image", e))?;
    let env = match &args.environment_variables {
        Some(text) => {
            parse_env_lines(text).map_err(|e| ActionError::input("environment-variables", e))?
        }
        None => Vec::new(),
    };
    for (key, value) in &env {
        if is_secret_name(key) {
            gha.add_mask(value);
        }
        for password in url_passwords(value) {
            gha.add_mask(password);
        }
    }
    let base_file = match &args.task_definition {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                ActionError::input(
                    "task-definition",
                    format!("names `{}`, which cannot be read: {e}", path.display()),
                )
            })?;
            let (registration, unknown) = Registration::from_json(&text).await.map_err(|e| {
                ActionError::input(
                    "task-definition",
                    format!("names `{}`: {e}", path.display()),
                )
            })?;
            if !unknown.is_empty() {
                gha.warning(format!(
                    "{}: ignoring fields that RegisterTaskDefinition does not take: {}",
                    path.display(),
                    unknown.join(", ")
                ));
            }
            Some((path.clone(), registration))
        }
        None => None,
    };
    if revision.is_none()
        && image.is_none()
        && env.is_empty()
        && base_file.is_none()
        && !args.force_new_deployment
    {
        return Err(ActionError::input(
            "image",
            "is not set, and neither is `revision`, `task-definition`, `environment-variables` or `force-new-deployment`: there is nothing to deploy",
        ));
    }
    Ok(Plan {
        image,
        env,
        base_file,
        revision,
    })
}

/// Variables whose values are masked in the log and the summary.
fn is_secret_name(key: &str) -> bool {
    let upper = key.to_ascii_uppercase();
    [
        "PASSWORD",
        "SECRET",
        "TOKEN",
        "PRIVATE_KEY",
        "API_KEY",
        "ACCESS_KEY",
    ]
    .iter()
    .any(|w| upper.contains(w))
}

/// The passwords of the URLs in `text` (`postgres://app:pw@db` -> `pw`).
fn url_passwords(text: &str) -> Vec<&str> {
    text.split("://")
        .skip(1)
        .filter_map(|tail| {
            let end = tail
                .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace())
                .unwrap_or(tail.len());
            let (userinfo, _) = tail[..end].rsplit_once('@')?;
            let (_, password) = userinfo.split_once(':')?;
            (password.len() >= 4).then_some(password)
        })
        .collect()
}

/// `arn:…:task-definition/family:3` -> `family:3`.
pub fn revision_label(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The AWS clients the action uses.
pub struct Clients {
    pub ecs: ecs::Client,
    pub ecr: ecr::Client,
}

pub async fn run(args: Args, gha: Gha) -> Result<(), ActionError> {
    let plan = check_inputs(&args, &gha).await?;
    let aws = Aws::load(gha.env()).await;
    let clients = Clients {
        ecs: aws.ecs(),
        ecr: aws.ecr(),
    };
    deploy(&args, &gha, &clients, plan).await
}

async fn deploy(args: &Args, gha: &Gha, clients: &Clients, plan: Plan) -> Result<(), ActionError> {
    let ecs = &clients.ecs;
    let service = describe_service(ecs, &args.cluster, &args.service).await?;
    let current_arn = service.task_definition().unwrap_or_default().to_string();
    gha.info(format!(
        "Service {} runs {}",
        Foreign(service.service_name().unwrap_or(&args.service)),
        Foreign(revision_label(&current_arn))
    ));

    let outcome = match &plan.revision {
        Some(spec) => deploy_revision(clients, gha, &service, spec).await?,
        None => deploy_changes(clients, args, gha, &current_arn, plan).await?,
    };
    let Outcome {
        target_arn,
        image,
        changed,
        diff,
    } = outcome;

    let mut deployment_id = primary_deployment(&service).unwrap_or_default();
    let deploy = changed || args.force_new_deployment;
    if args.dry_run {
        gha.notice(if deploy {
            format!(
                "Dry run: would update {} to {}{}; nothing was changed",
                args.service,
                if target_arn.is_empty() {
                    "a new revision"
                } else {
                    revision_label(&target_arn)
                },
                if args.force_new_deployment {
                    " (forcing a new deployment)"
                } else {
                    ""
                }
            )
        } else {
            format!(
                "Dry run: {} already runs this task definition; nothing would change",
                args.service
            )
        });
        deployment_id = String::new();
    } else if deploy {
        let updated = ecs
            .update_service()
            .cluster(&args.cluster)
            .service(&args.service)
            .task_definition(&target_arn)
            .force_new_deployment(args.force_new_deployment)
            .send()
            .await
            .map_err(|e| {
                ActionError::failed(format!("UpdateService failed: {}", error_text(&e)))
            })?;
        deployment_id = updated
            .service()
            .and_then(primary_deployment)
            .unwrap_or_default();
        gha.info(format!(
            "Updated {} to {}: deployment {}",
            Foreign(&args.service),
            Foreign(revision_label(&target_arn)),
            Foreign(&deployment_id)
        ));
        for warning in concurrent_updates(&service, updated.service(), &target_arn) {
            gha.warning(warning);
        }
    } else {
        gha.notice(format!(
            "{} already runs this task definition ({}); nothing was registered or deployed",
            args.service,
            revision_label(&current_arn)
        ));
    }

    gha.set_output("task-definition-arn", &target_arn)?;
    gha.set_output("previous-task-definition-arn", &current_arn)?;
    gha.set_output("deployment-id", &deployment_id)?;
    gha.set_output("image", &image)?;

    let mut summary = format!(
        "### update-service: {}\n\n| | |\n|---|---|\n| Cluster | {} |\n| Previous revision | {} |\n| New revision | {} |\n| Image | {} |\n| Deployment | {} |\n",
        md::text(&args.service),
        md::code(&args.cluster),
        md::code(revision_label(&current_arn)),
        if target_arn.is_empty() {
            "(not registered: dry run)".to_string()
        } else {
            md::code(revision_label(&target_arn))
        },
        md::code(&image),
        if args.dry_run {
            "none (dry run)".to_string()
        } else if deploy {
            md::code(&deployment_id)
        } else {
            "none (nothing changed)".to_string()
        },
    );
    if !diff.is_empty() {
        // Blank lines around the HTML block, or GitHub renders what follows it as HTML too.
        summary.push_str(&format!(
            "\n<details><summary>Task definition changes</summary>\n\n{}\n</details>\n\n",
            md::fenced("diff", &diff)
        ));
    }
    gha.summary(&summary)?;
    Ok(())
}

struct Outcome {
    /// The revision the service is (or would be) updated to; empty in a dry run that would
    /// register a new one.
    target_arn: String,
    image: String,
    changed: bool,
    diff: String,
}

async fn describe_service(
    ecs: &ecs::Client,
    cluster: &str,
    service: &str,
) -> Result<ecs::types::Service, ActionError> {
    let out = ecs
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .map_err(|e| {
            let unknown_cluster = e
                .as_service_error()
                .is_some_and(|s| s.is_cluster_not_found_exception())
                || error_code(&e) == Some("ClusterNotFoundException");
            if unknown_cluster {
                ActionError::input(
                    "cluster",
                    format!("names `{cluster}`, which does not exist in this account and region"),
                )
            } else {
                ActionError::failed(format!("DescribeServices failed: {}", error_text(&e)))
            }
        })?;
    let found = out
        .services()
        .iter()
        .find(|s| s.status() != Some("INACTIVE"))
        .cloned();
    found.ok_or_else(|| {
        let reason = out
            .failures()
            .first()
            .and_then(|f| f.reason())
            .unwrap_or("INACTIVE");
        ActionError::input(
            "service",
            format!("names `{service}`, which is not a service of cluster `{cluster}` ({reason})"),
        )
    })
}

/// What a person must know when this update met another: a rollout it replaced before it
/// finished (whoever watches that one will see it superseded), and a PRIMARY deployment right
/// after the update that is not this update's own (another update landed at the same time).
fn concurrent_updates(
    before: &ecs::types::Service,
    after: Option<&ecs::types::Service>,
    target_arn: &str,
) -> Vec<String> {
    let mut warnings = Vec::new();
    let in_flight = before.deployments().iter().find(|d| {
        d.status() == Some("PRIMARY")
            && d.rollout_state() == Some(&ecs::types::DeploymentRolloutState::InProgress)
    });
    if let Some(d) = in_flight {
        warnings.push(format!(
            "this update replaces deployment {} ({}), which was still rolling out; a wait-healthy watching it reports `superseded`",
            d.id().unwrap_or_default(),
            revision_label(d.task_definition().unwrap_or_default())
        ));
    }
    let primary = after.and_then(|s| {
        s.deployments()
            .iter()
            .find(|d| d.status() == Some("PRIMARY"))
    });
    if let Some(p) = primary
        && p.task_definition().is_some_and(|td| td != target_arn)
    {
        warnings.push(format!(
            "right after this update the service's PRIMARY deployment is {} running {}, not {}: another update changed the service at the same time",
            p.id().unwrap_or_default(),
            revision_label(p.task_definition().unwrap_or_default()),
            revision_label(target_arn)
        ));
    }
    warnings
}

fn primary_deployment(service: &ecs::types::Service) -> Option<String> {
    service
        .deployments()
        .iter()
        .find(|d| d.status() == Some("PRIMARY"))
        .and_then(|d| d.id())
        .map(String::from)
}

async fn describe_revision(
    ecs: &ecs::Client,
    name: &str,
    input: &str,
    with_tags: bool,
) -> Result<(ecs::types::TaskDefinition, Vec<ecs::types::Tag>), ActionError> {
    let mut request = ecs.describe_task_definition().task_definition(name);
    if with_tags {
        request = request.include(TaskDefinitionField::Tags);
    }
    let out = request.send().await.map_err(|e| {
        // ECS answers ClientException for a task definition that does not exist.
        let missing = e
            .as_service_error()
            .is_some_and(|s| s.is_client_exception())
            || error_code(&e) == Some("ClientException");
        if missing {
            ActionError::input(
                input,
                format!("names `{name}`, which does not exist: {}", error_text(&e)),
            )
        } else {
            ActionError::failed(format!(
                "DescribeTaskDefinition {name} failed: {}",
                error_text(&e)
            ))
        }
    })?;
    let definition = out.task_definition().cloned().ok_or_else(|| {
        ActionError::failed(format!("DescribeTaskDefinition {name} returned nothing"))
    })?;
    Ok((definition, out.tags().to_vec()))
}

/// Deploys an existing revision as it is, after checking that its images still exist.
async fn deploy_revision(
    clients: &Clients,
    gha: &Gha,
    service: &ecs::types::Service,
    spec: &RevisionSpec,
) -> Result<Outcome, ActionError> {
    let ecs = &clients.ecs;
    let current_arn = service.task_definition().unwrap_or_default();
    let name = match spec {
        RevisionSpec::Named(name) => name.clone(),
        RevisionSpec::Previous => previous_revision(ecs, service).await?,
    };
    let (definition, _) = describe_revision(ecs, &name, "revision", false).await?;
    let target_arn = definition
        .task_definition_arn()
        .unwrap_or(&name)
        .to_string();
    let registration = Registration::from_described(&definition, &[]);
    let mut images = Vec::new();
    for (container, uri) in registration.images() {
        let image = ImageRef::parse(&uri).map_err(|e| {
            ActionError::input(
                "revision",
                format!(
                    "names `{target_arn}`, whose container `{container}` has an image that {e}"
                ),
            )
        })?;
        if let Some(repo) = image.ecr() {
            let digest = swa_ecs::resolve_digest(&clients.ecr, &repo, &image)
                .await
                .map_err(|e| {
                    ActionError::input(
                        "revision",
                        format!("names `{target_arn}`, whose container `{container}` image {e}"),
                    )
                })?;
            gha.info(format!(
                "{}: {} is in ECR ({})",
                Foreign(&container),
                Foreign(&uri),
                Foreign(&digest)
            ));
        }
        images.push(uri);
    }
    gha.info(format!(
        "Deploying {} as it is (the service runs {})",
        Foreign(revision_label(&target_arn)),
        Foreign(revision_label(current_arn))
    ));
    let changed = target_arn != current_arn;
    if !changed {
        gha.info("The service already runs this revision");
    }
    Ok(Outcome {
        changed,
        target_arn,
        image: images.join(","),
        diff: String::new(),
    })
}

/// The revision to go back to: the target of the service's most recent SUCCESSFUL deployment
/// whose revision is not the one it runs now, from ECS's own deployment history. After a
/// circuit-breaker rollback from :4 to :3 that is :2 (the failed :4 never succeeded).
async fn previous_revision(
    ecs: &ecs::Client,
    service: &ecs::types::Service,
) -> Result<String, ActionError> {
    let current = service.task_definition().unwrap_or_default();
    let cluster = service.cluster_arn().unwrap_or_default();
    let name = service.service_name().unwrap_or_default();
    let found = swa_ecs::last_successful_other_than(ecs, cluster, name, current)
        .await
        .map_err(|e| ActionError::failed(e.to_string()))?;
    match found {
        Some(previous) => Ok(previous.task_definition_arn),
        None => Err(ActionError::input(
            "revision",
            format!(
                "is `previous`, but service `{name}` has no successful deployment of a revision other than the one it runs now ({}); name the revision to deploy as `family:N`",
                revision_label(current)
            ),
        )),
    }
}

/// Renders the new task definition from the base, registers it when it differs from the
/// service's current one.
async fn deploy_changes(
    clients: &Clients,
    args: &Args,
    gha: &Gha,
    current_arn: &str,
    plan: Plan,
) -> Result<Outcome, ActionError> {
    let ecs = &clients.ecs;
    let (definition, tags) = describe_revision(ecs, current_arn, "service", true).await?;
    let current = Registration::from_described(&definition, &tags);
    let (base_label, mut new) = match plan.base_file {
        Some((path, registration)) => (path.display().to_string(), registration),
        None => (revision_label(current_arn).to_string(), current.clone()),
    };
    let container = new
        .choose_container(args.container_name.as_deref())
        .map_err(|e| {
            ActionError::input(
                "container-name",
                match &args.container_name {
                    Some(name) => format!("is `{name}`, but {e}"),
                    None => format!("is not set, and {e}"),
                },
            )
        })?;
    if let Some(image) = &plan.image {
        let uri = match image.ecr() {
            Some(repo) => {
                let digest = swa_ecs::resolve_digest(&clients.ecr, &repo, image)
                    .await
                    .map_err(|e| ActionError::input("image", e))?;
                if args.pin_digest {
                    gha.info(format!(
                        "{} is {}",
                        Foreign(&image.to_string()),
                        Foreign(&digest)
                    ));
                    image.pinned(&digest)
                } else {
                    image.to_string()
                }
            }
            None => {
                if args.pin_digest && image.digest.is_none() {
                    gha.warning(format!(
                        "{image} is not in ECR: it is registered by tag, not pinned to a digest"
                    ));
                }
                image.to_string()
            }
        };
        new.set_image(&container, &uri);
    }
    if !plan.env.is_empty() {
        new.upsert_environment(&container, &plan.env);
    }
    let Change { changed, diff } = redacted_diff(
        &current,
        &new,
        &format!("{} (running)", revision_label(current_arn)),
        &format!("new (from {base_label})"),
    )
    .await?;
    let image = new
        .images()
        .into_iter()
        .find(|(name, _)| *name == container)
        .map(|(_, image)| image)
        .unwrap_or_default();
    if !changed {
        gha.info(format!(
            "The task definition is unchanged from {}; nothing to register",
            Foreign(revision_label(current_arn))
        ));
        return Ok(Outcome {
            target_arn: current_arn.to_string(),
            image,
            changed: false,
            diff,
        });
    }
    if diff.is_empty() {
        gha.info("The task definition changed only in values that are not shown");
    } else {
        gha.group_start("Task definition changes");
        gha.foreign_block(&diff);
        gha.group_end();
    }
    if args.dry_run {
        return Ok(Outcome {
            target_arn: String::new(),
            image,
            changed: true,
            diff,
        });
    }
    let registered = new.request(ecs).send().await.map_err(|e| {
        ActionError::failed(format!("RegisterTaskDefinition failed: {}", error_text(&e)))
    })?;
    let target_arn = registered
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .unwrap_or_default()
        .to_string();
    gha.info(format!(
        "Registered {}",
        Foreign(revision_label(&target_arn))
    ));
    Ok(Outcome {
        target_arn,
        image,
        changed: true,
        diff,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
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
    const TD: &str =
        "arn:aws:ecs:us-east-1:123456789012:task-definition/startupwebapp-service-task";
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
            let revisions =
                mock!(ecs::Client::describe_service_revisions).then_compute_output(|r| {
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
        assert_eq!(err.kind(), ExitKind::BadInput);
        assert!(
            err.to_string().starts_with(
                "input `revision` names `startupwebapp-service-task:9`, which does not exist"
            ),
            "{err}"
        );
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
}
