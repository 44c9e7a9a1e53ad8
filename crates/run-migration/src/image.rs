//! The `image` input: the migration runs the release being deployed, not the image its task
//! definition last registered. RunTask cannot override a container's image, so a new revision of
//! the chosen task definition is registered with the image (pinned to its ECR digest), unless
//! that revision already names it.

use swa_ecs::{EcsError, ImageRef, Registration};
use swa_gha::{ActionError, Gha};

use crate::Clients;
use crate::target::Target;

/// Looks the image up in ECR (its digest, or exit 2 when the tag is missing), then registers a
/// revision of the target's task definition that runs it in the target's container, and points
/// the target at it. Registers nothing when the container already runs that image.
pub async fn apply(
    gha: &Gha,
    clients: &Clients,
    target: &mut Target,
    image: &ImageRef,
) -> Result<(), ActionError> {
    let uri = swa_ecs::pin_image(gha, &clients.ecr, image, true).await?;
    let mut registration = Registration::from_described(&target.definition, &target.tags);
    let current = registration
        .images()
        .into_iter()
        .find(|(name, _)| *name == target.container)
        .map(|(_, image)| image)
        .unwrap_or_default();
    if current == uri {
        gha.info(format!(
            "{} already runs {uri} in container `{}`; nothing to register",
            target.definition_name, target.container
        ));
        return Ok(());
    }
    registration.set_image(&target.container, &uri);
    let registered = registration
        .request(&clients.ecs)
        .send()
        .await
        .map_err(|e| EcsError::call("RegisterTaskDefinition", "", swa_aws::error_text(&e)))?;
    let definition = registered
        .task_definition
        .ok_or_else(|| EcsError::empty("RegisterTaskDefinition", "", "task definition"))?;
    let arn = definition
        .task_definition_arn()
        .unwrap_or_default()
        .to_string();
    let name = match (definition.family(), definition.revision()) {
        (Some(f), r) if r > 0 => format!("{f}:{r}"),
        _ => arn.clone(),
    };
    gha.info(format!(
        "Registered {name} from {}: container `{}` image {current} -> {uri}",
        target.definition_name, target.container
    ));
    target.definition = definition;
    target.definition_arn = arn;
    target.definition_name = name;
    Ok(())
}
