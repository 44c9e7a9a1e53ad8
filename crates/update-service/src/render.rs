//! A new revision rendered from the base (the running revision or a file) with the new image
//! and environment, diffed against the running one with its secrets redacted, and registered
//! when it differs.

use swa_aws::error_text;
use swa_ecs::{
    Change, EcsError, Registration, describe_task_definition, pin_image, redacted_diff,
    revision_label,
};
use swa_gha::{ActionError, Foreign, Gha};

use crate::inputs::Checked;
use crate::{Args, Clients, Outcome};

/// Renders the new task definition from the base, registers it when it differs from the
/// service's current one.
pub(crate) async fn deploy_changes(
    clients: &Clients,
    args: &Args,
    gha: &Gha,
    current_arn: &str,
    plan: Checked,
) -> Result<Outcome, ActionError> {
    let ecs = &clients.ecs;
    let (definition, tags) = describe_task_definition(ecs, current_arn, "service").await?;
    let current = Registration::from_described(&definition, &tags);
    let (base_label, mut new) = match plan.base_file {
        Some((path, registration)) => (path.display().to_string(), registration),
        None => (revision_label(current_arn).to_string(), current.clone()),
    };
    let container = new
        .choose_container(args.container_name.as_deref())
        .map_err(|e| EcsError::container(args.container_name.as_deref(), e))?;
    if let Some(image) = &plan.image {
        let uri = pin_image(gha, &clients.ecr, image, args.pin_digest).await?;
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
    let registered = new
        .request(ecs)
        .send()
        .await
        .map_err(|e| EcsError::call("RegisterTaskDefinition", "", error_text(&e)))?;
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
