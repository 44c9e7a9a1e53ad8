//! The inputs, checked before any AWS call: what `revision` names, the image, the environment
//! lines (their secrets masked at once), the task-definition file and the strategy overrides.

use std::path::PathBuf;

use swa_ecs::{ImageRef, Registration, parse_env_lines};
use swa_gha::{ActionError, Gha};

use crate::Args;
use crate::strategy::Overrides;

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
pub(crate) struct Checked {
    pub image: Option<ImageRef>,
    pub env: Vec<(String, String)>,
    pub base_file: Option<(PathBuf, Registration)>,
    pub revision: Option<RevisionSpec>,
    pub overrides: Overrides,
}

pub(crate) async fn check_inputs(args: &Args, gha: &Gha) -> Result<Checked, ActionError> {
    swa_ecs::check_name("cluster", &args.cluster)?;
    swa_ecs::check_name("service", &args.service)?;
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
    let overrides = Overrides::from_args(args)?;
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
    Ok(Checked {
        image,
        env,
        base_file,
        revision,
        overrides,
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
