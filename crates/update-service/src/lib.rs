//! `update-service`: deploy a new image, or an existing revision, to an ECS service.
//!
//! The base is the service's current task definition (or a JSON file); only the image and the
//! environment change, the diff is printed, and nothing is registered when nothing changed. The
//! image tag is resolved to its digest in ECR before anything changes, so a missing tag fails with
//! exit 2 and the service untouched. `desiredCount` is never sent: auto-scaling owns it. A
//! deployment configuration is sent only with strategy overrides, merged into the service's own.

mod inputs;
mod render;
mod revision;
mod strategy;
mod summary;

use std::path::PathBuf;

use aws_sdk_ecr as ecr;
use aws_sdk_ecs as ecs;
use swa_aws::{Aws, error_text};
use swa_ecs::{EcsError, revision_label};
use swa_gha::{ActionError, Foreign, Gha};

pub use inputs::RevisionSpec;
pub use strategy::{Minutes, Percent, Strategy};
pub use swa_ecs::{EcrRepo, ImageRef};

use inputs::{Checked, check_inputs};
use summary::{Report, concurrent_updates};

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
    /// The container to change (default: the only, or the only essential, container).
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
    /// The deployment strategy for this update, instead of the service's own.
    #[arg(long, value_enum)]
    pub strategy: Option<Strategy>,
    /// How long both revisions run after the traffic has shifted (`10m`, `1h`; up to 24h);
    /// blue-green, linear and canary only.
    #[arg(long = "bake-time", value_parser = Minutes::parse)]
    pub bake_time: Option<Minutes>,
    /// The share of the traffic the canary gets (0.1 to 100, in steps of 0.1); canary only.
    #[arg(long = "canary-percent", value_parser = Percent::parse_canary)]
    pub canary_percent: Option<Percent>,
    /// How long the canary runs before the rest of the traffic shifts (`5m`); canary only.
    #[arg(long = "canary-bake-time", value_parser = Minutes::parse)]
    pub canary_bake_time: Option<Minutes>,
    /// The share of the traffic each step shifts (3 to 100, in steps of 0.1); linear only.
    #[arg(long = "linear-step-percent", value_parser = Percent::parse_linear_step)]
    pub linear_step_percent: Option<Percent>,
    /// How long to wait between two steps (`3m`); linear only.
    #[arg(long = "linear-step-bake-time", value_parser = Minutes::parse)]
    pub linear_step_bake_time: Option<Minutes>,
}

/// Every output the action writes, in the order it writes them.
pub const OUTPUTS: &[&str] = &[
    "task-definition-arn",
    "previous-task-definition-arn",
    "deployment-id",
    "service-deployment-arn",
    "image",
    "strategy",
];

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

async fn deploy(
    args: &Args,
    gha: &Gha,
    clients: &Clients,
    plan: Checked,
) -> Result<(), ActionError> {
    let ecs = &clients.ecs;
    let service = swa_ecs::describe_service(ecs, &args.cluster, &args.service).await?;
    let current_arn = service.task_definition().unwrap_or_default().to_string();
    gha.info(format!(
        "Service {} runs {}",
        Foreign(service.service_name().unwrap_or(&args.service)),
        Foreign(revision_label(&current_arn))
    ));
    let overrides = plan.overrides.apply(&service)?;
    if let Some(applied) = &overrides {
        gha.info(format!(
            "Strategy overrides: {}",
            Foreign(&applied.description)
        ));
    }

    let outcome = match &plan.revision {
        Some(spec) => revision::deploy_revision(clients, gha, &service, spec).await?,
        None => render::deploy_changes(clients, args, gha, &current_arn, plan).await?,
    };
    let Outcome {
        target_arn,
        image,
        changed,
        diff,
    } = outcome;

    let mut deployment_id = primary_deployment(&service).unwrap_or_default();
    let mut service_deployment = String::new();
    let deploy = changed || args.force_new_deployment;
    if args.dry_run {
        gha.notice(if deploy {
            format!(
                "Dry run: would update {} to {}{}{}; nothing was changed",
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
                },
                overrides
                    .as_ref()
                    .map(|a| format!(" with strategy overrides: {}", a.description))
                    .unwrap_or_default()
            )
        } else {
            format!(
                "Dry run: {} already runs this task definition; nothing would change{}",
                args.service,
                if overrides.is_some() {
                    ", and the strategy overrides would not be applied"
                } else {
                    ""
                }
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
            .set_deployment_configuration(overrides.as_ref().map(|a| a.configuration.clone()))
            .send()
            .await
            .map_err(|e| EcsError::call("UpdateService", "", error_text(&e)))?;
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
        if let Some(created) = updated.service().and_then(primary_created_at) {
            service_deployment =
                find_service_deployment(ecs, args, gha, &target_arn, created).await;
        }
    } else {
        gha.notice(format!(
            "{} already runs this task definition ({}); nothing was registered or deployed{}",
            args.service,
            revision_label(&current_arn),
            if overrides.is_some() {
                ", and the strategy overrides were not applied"
            } else {
                ""
            }
        ));
    }

    gha.set_output("task-definition-arn", &target_arn)?;
    gha.set_output("previous-task-definition-arn", &current_arn)?;
    gha.set_output("deployment-id", &deployment_id)?;
    gha.set_output("service-deployment-arn", &service_deployment)?;
    gha.set_output("image", &image)?;
    // How this deployment goes: an override's strategy, else the service's own.
    let strategy = overrides
        .as_ref()
        .and_then(|a| a.configuration.strategy())
        .map_or_else(|| swa_ecs::deployment_strategy(&service), |s| s.as_str());
    gha.set_output("strategy", strategy)?;

    let summary = Report {
        args,
        current_arn: &current_arn,
        target_arn: &target_arn,
        image: &image,
        deployment_id: &deployment_id,
        deploy,
        diff: &diff,
        overrides: overrides.as_ref().map(|a| a.description.as_str()),
    };
    gha.summary(&summary.markdown())?;
    Ok(())
}

pub(crate) struct Outcome {
    /// The revision the service is (or would be) updated to; empty in a dry run that would
    /// register a new one.
    pub target_arn: String,
    pub image: String,
    pub changed: bool,
    pub diff: String,
}

/// The service deployment that carries the update: ECS's record of the rollout, which
/// wait-healthy follows. The service is updated already: a failed read is a warning, never a
/// failure.
async fn find_service_deployment(
    ecs: &ecs::Client,
    args: &Args,
    gha: &Gha,
    target_arn: &str,
    created: aws_smithy_types::DateTime,
) -> String {
    // A minute's leeway for the two clocks.
    let since = aws_smithy_types::DateTime::from_secs(created.secs() - 60);
    match swa_ecs::service_deployment_to(ecs, &args.cluster, &args.service, target_arn, since).await
    {
        Ok(Some(arn)) => {
            gha.info(format!("Service deployment {}", Foreign(&arn)));
            arn
        }
        Ok(None) => String::new(),
        Err(e) => {
            gha.warning(format!(
                "The service is updated, but its service deployment cannot be read (the role needs ecs:ListServiceDeployments and ecs:DescribeServiceRevisions): {}",
                Foreign(&e.to_string())
            ));
            String::new()
        }
    }
}

fn primary_created_at(service: &ecs::types::Service) -> Option<aws_smithy_types::DateTime> {
    service
        .deployments()
        .iter()
        .find(|d| d.status() == Some("PRIMARY"))
        .and_then(|d| d.created_at().copied())
}

fn primary_deployment(service: &ecs::types::Service) -> Option<String> {
    service
        .deployments()
        .iter()
        .find(|d| d.status() == Some("PRIMARY"))
        .and_then(|d| d.id())
        .map(String::from)
}

#[cfg(test)]
mod tests;
