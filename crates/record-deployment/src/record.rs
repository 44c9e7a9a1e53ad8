//! The three modes: record a deploy, mark how it went, find the live or the previous one.

use swa_gha::{ActionError, Foreign, Gha};
use swa_github::{Deployment, DeploymentStatus, GitHub, GithubError, NewDeployment, NewStatus};

use crate::TASK;
use crate::inputs::{Checked, Mode, Which};

pub async fn run(c: &Checked, gha: &Gha) -> Result<(), ActionError> {
    let gh = GitHub::new(&c.api_url, &c.token)?.warn_retries(gha);
    match &c.mode {
        Mode::Start {
            git_ref,
            description,
            payload,
        } => {
            let new = NewDeployment {
                git_ref,
                task: TASK,
                environment: &c.environment,
                description,
                payload,
            };
            let record = gh
                .create_deployment(&c.repo, &new)
                .await
                .map_err(|e| write_error(e, c))?;
            gha.set_output("deployment-id", &record.id.to_string())?;
            let status = NewStatus {
                state: "in_progress",
                description,
                log_url: &c.run_url,
                environment_url: "",
            };
            gh.create_deployment_status(&c.repo, record.id, &status)
                .await
                .map_err(|e| {
                    ActionError::failed(format!(
                        "deployment {} of {} was recorded, but it could not be marked in \
                         progress: {}",
                        record.id,
                        c.repo,
                        Foreign(&e.to_string())
                    ))
                })?;
            gha.info(format!(
                "Recorded the {} of {} to {} as deployment {} of {} (in progress): {}",
                payload_text(payload, "kind"),
                Foreign(git_ref),
                Foreign(&c.environment),
                record.id,
                c.repo,
                contents(payload)
            ));
            Ok(())
        }
        Mode::Finish {
            id,
            success,
            description,
            environment_url,
        } => {
            let state = if *success { "success" } else { "failure" };
            let status = NewStatus {
                state,
                description,
                log_url: &c.run_url,
                environment_url,
            };
            gh.create_deployment_status(&c.repo, *id, &status)
                .await
                .map_err(|e| match e.status() {
                    Some(404) => ActionError::input(
                        "deployment-id",
                        format!("names no deployment of {}", c.repo),
                    ),
                    _ => write_error(e, c),
                })?;
            let why = if description.is_empty() {
                String::new()
            } else {
                format!(": {}", Foreign(description))
            };
            gha.info(format!(
                "Deployment {id} of {} to {}: {state}{why}",
                c.repo,
                Foreign(&c.environment)
            ));
            Ok(())
        }
        Mode::Find {
            which,
            refuse_destructive,
        } => find(c, gha, &gh, *which, *refuse_destructive).await,
    }
}

async fn find(
    c: &Checked,
    gha: &Gha,
    gh: &GitHub,
    which: Which,
    refuse_destructive: bool,
) -> Result<(), ActionError> {
    let wanted = match which {
        Which::Live => 1,
        Which::Previous => 2,
    };
    let records = gh
        .list_deployments(&c.repo, TASK, &c.environment)
        .await
        .map_err(|e| read_error(e, c))?;
    let mut succeeded: Vec<Deployment> = Vec::new();
    for record in records {
        let statuses = gh
            .list_deployment_statuses(&c.repo, record.id)
            .await
            .map_err(|e| read_error(e, c))?;
        if went_live(&statuses) {
            succeeded.push(record);
            if succeeded.len() == wanted {
                break;
            }
        }
    }
    let name = match which {
        Which::Live => "live",
        Which::Previous => "previous",
    };
    let Some(found) = succeeded.get(wanted - 1) else {
        gha.set_output("found", "false")?;
        let text = match (which, succeeded.first()) {
            (Which::Previous, Some(live)) => format!(
                "No deployment to {} of {} succeeded before the live one ({})",
                Foreign(&c.environment),
                c.repo,
                live.id
            ),
            _ => format!(
                "No deployment to {} of {} has succeeded yet",
                Foreign(&c.environment),
                c.repo
            ),
        };
        gha.notice(text);
        return Ok(());
    };
    gha.set_output("found", "true")?;
    gha.set_output("deployment-id", &found.id.to_string())?;
    gha.set_output("ref", &found.git_ref)?;
    for (output, key) in [
        ("task-definition-arn", "task_definition_arn"),
        ("image", "image"),
        ("frontend-ref", "frontend_ref"),
    ] {
        gha.set_output(output, found.payload_text(key))?;
    }
    let destructive = destructive_migrations(found);
    gha.set_output("destructive-migrations", &destructive.join(","))?;
    gha.set_output(
        "created-at",
        found.created_at.as_deref().unwrap_or_default(),
    )?;
    gha.info(format!(
        "The {name} deployment to {} is {} of {}, made {}: backend {}, {}",
        Foreign(&c.environment),
        found.id,
        c.repo,
        Foreign(found.created_at.as_deref().unwrap_or("at an unknown time")),
        Foreign(&found.git_ref),
        contents(&found.payload)
    ));
    if refuse_destructive && !destructive.is_empty() {
        let names: Vec<String> = destructive.iter().map(|m| Foreign(m).to_string()).collect();
        return Err(ActionError::failed(format!(
            "deployment {} applied destructive migrations ({}): the code it replaced may not run \
             on the schema they left, so nothing is rolled back past it. Roll forward with a fix, \
             or allow this rollback explicitly",
            found.id,
            names.join(", ")
        ))
        .with_title("Rollback past destructive migrations refused"));
    }
    Ok(())
}

/// A deployment that went live: it succeeded, and nothing but `inactive` came after.
fn went_live(statuses: &[DeploymentStatus]) -> bool {
    let newest = statuses.first().map(|s| s.state.as_str());
    matches!(newest, Some("success" | "inactive")) && statuses.iter().any(|s| s.state == "success")
}

fn destructive_migrations(d: &Deployment) -> Vec<String> {
    d.payload["destructive_migrations"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|m| m.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn payload_text<'a>(payload: &'a serde_json::Value, key: &str) -> &'a str {
    payload[key].as_str().unwrap_or_default()
}

/// What a record says was deployed, each value through the safe printer.
fn contents(payload: &serde_json::Value) -> String {
    let or_none = |key: &str| match payload_text(payload, key) {
        "" => "none recorded".to_string(),
        v => Foreign(v).to_string(),
    };
    let destructive: Vec<String> = payload["destructive_migrations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m.as_str())
        .map(|m| Foreign(m).to_string())
        .collect();
    format!(
        "task definition {}, image {}, frontend {}, destructive migrations {}",
        or_none("task_definition_arn"),
        or_none("image"),
        or_none("frontend_ref"),
        if destructive.is_empty() {
            "none".to_string()
        } else {
            destructive.join(", ")
        }
    )
}

fn write_error(e: GithubError, c: &Checked) -> ActionError {
    if e.may_have_acted() {
        return ActionError::failed(format!(
            "GitHub may have recorded the deployment of {} and did not say: look at its \
             deployments before running this again ({})",
            c.repo,
            Foreign(&e.to_string())
        ));
    }
    match e.status() {
        Some(401) => ActionError::input_with_source("token", e),
        Some(403) => ActionError::input(
            "token",
            format!(
                "may not write deployments in {}: give the job `permissions: deployments: write` \
                 ({})",
                c.repo,
                Foreign(&e.to_string())
            ),
        ),
        Some(404) => ActionError::input(
            "repository",
            format!(
                "`{}` was not found, or the token cannot see it ({})",
                c.repo,
                Foreign(&e.to_string())
            ),
        ),
        Some(409 | 422) => ActionError::input(
            "ref",
            format!(
                "was refused by GitHub: {} (give a commit of {})",
                Foreign(&e.to_string()),
                c.repo
            ),
        ),
        _ => e.into(),
    }
}

fn read_error(e: GithubError, c: &Checked) -> ActionError {
    match e.status() {
        Some(401) => ActionError::input_with_source("token", e),
        Some(403 | 404) => ActionError::input(
            "repository",
            format!(
                "`{}`'s deployments cannot be read with this token: give the job \
                 `permissions: deployments: read` ({})",
                c.repo,
                Foreign(&e.to_string())
            ),
        ),
        _ => e.into(),
    }
}
