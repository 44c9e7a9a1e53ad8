//! `revision`: an existing task definition deployed as it is, after checking that its images
//! are still in ECR; `previous` is found in ECS's own deployment history.

use aws_sdk_ecs as ecs;
use swa_ecs::{EcsError, ImageRef, Registration, describe_task_definition, revision_label};
use swa_gha::{ActionError, Foreign, Gha};

use crate::inputs::RevisionSpec;
use crate::{Clients, Outcome};

/// Deploys an existing revision as it is, after checking that its images still exist.
pub(crate) async fn deploy_revision(
    clients: &Clients,
    gha: &Gha,
    service: &ecs::types::Service,
    spec: &RevisionSpec,
) -> Result<Outcome, ActionError> {
    let current_arn = service.task_definition().unwrap_or_default();
    let name = match spec {
        RevisionSpec::Named(name) => name.clone(),
        RevisionSpec::Previous => previous_revision(&clients.ecs, service).await?,
    };
    let (definition, _) = describe_task_definition(&clients.ecs, &name, "revision").await?;
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
                .map_err(|e| EcsError::revision_image(&target_arn, &container, e))?;
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
    let found = swa_ecs::last_successful_other_than(ecs, cluster, name, current).await?;
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
