//! The inputs, checked before anything is sent.

use serde_json::{Value, json};
use swa_gha::{ActionError, Env, Foreign};
use swa_github::{Repo, Token};

use crate::Args;

#[derive(Debug)]
pub struct Checked {
    pub repo: Repo,
    pub token: Token,
    pub api_url: String,
    pub environment: String,
    pub mode: Mode,
    /// The run's page (GITHUB_SERVER_URL/GITHUB_REPOSITORY/actions/runs/GITHUB_RUN_ID), when the
    /// runner says which run this is.
    pub run_url: String,
}

#[derive(Debug)]
pub enum Mode {
    Start {
        git_ref: String,
        description: String,
        payload: Value,
    },
    Finish {
        id: u64,
        success: bool,
        description: String,
        environment_url: String,
    },
    Find {
        which: Which,
        refuse_destructive: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    /// The newest deployment that succeeded: what runs now.
    Live,
    /// The one that succeeded before the live one.
    Previous,
}

/// One line of text without spaces: a ref, an ARN, an image.
fn word(name: &str, value: Option<&str>) -> Result<Option<String>, ActionError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) if v.chars().any(|c| c.is_whitespace() || c.is_control()) => Err(
            ActionError::input(name, "has spaces or line breaks; give one value"),
        ),
        Some(v) if v.len() > 1024 => Err(ActionError::input(name, "is longer than 1024 bytes")),
        Some(v) => Ok(Some(v.to_string())),
    }
}

/// One line of free text.
fn line(name: &str, value: Option<&str>) -> Result<String, ActionError> {
    let v = value.unwrap_or_default().trim();
    if v.chars().any(char::is_control) {
        return Err(ActionError::input(
            name,
            "has a line break or another control character; give one line",
        ));
    }
    // GitHub keeps at most 140 characters of a status description.
    Ok(v.chars().take(140).collect())
}

/// `app.0042_name` entries, one per line or comma-separated.
fn migrations(value: Option<&str>) -> Result<Vec<String>, ActionError> {
    let mut list = Vec::new();
    for entry in value
        .unwrap_or_default()
        .split([',', '\n'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let valid = entry.split_once('.').is_some_and(|(app, name)| {
            [app, name]
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        });
        if !valid {
            return Err(ActionError::input(
                "destructive-migrations",
                format!(
                    "has `{}`, which is not app.migration (such as orders.0042_drop_total)",
                    Foreign(entry)
                ),
            ));
        }
        list.push(entry.to_string());
    }
    Ok(list)
}

pub fn check(args: &Args, env: &Env) -> Result<Checked, ActionError> {
    let token = args.token.clone();
    token.check_input("pass `${{ github.token }}` with `deployments: write`")?;
    let repository = match args.repository.as_deref().map(str::trim) {
        Some(r) if !r.is_empty() => r.to_string(),
        _ => env
            .non_empty("GITHUB_REPOSITORY")
            .map(String::from)
            .ok_or_else(|| {
                ActionError::input("repository", "is empty and GITHUB_REPOSITORY is not set")
            })?,
    };
    let repo: Repo = repository
        .parse()
        .map_err(|e| ActionError::input("repository", format!("is not usable: {e}")))?;
    let api_url = swa_github::api_base_url(args.api_url.as_deref(), env)
        .map_err(|e| ActionError::input("api-url", e))?;
    let environment = args.environment.trim().to_string();
    if environment.is_empty() || environment.chars().any(char::is_control) {
        return Err(ActionError::input(
            "environment",
            "must be one line of text, such as production",
        ));
    }

    let mode = args.mode.trim();
    // The inputs that belong to one mode only: given to another, they are a mistake.
    let only = |mode_of: &str, given: &[(&str, bool)]| -> Result<(), ActionError> {
        match given.iter().find(|(_, set)| *set) {
            Some((name, _)) => Err(ActionError::input(
                name,
                format!("is for mode {mode_of}, not {mode}"),
            )),
            None => Ok(()),
        }
    };
    let start_inputs = [
        ("task-definition-arn", args.task_definition_arn.is_some()),
        ("image", args.image.is_some()),
        ("frontend-ref", args.frontend_ref.is_some()),
        (
            "destructive-migrations",
            args.destructive_migrations.is_some(),
        ),
        ("ref", args.git_ref.is_some()),
    ];
    let finish_inputs = [
        ("deployment-id", args.deployment_id.is_some()),
        ("result", args.result.is_some()),
    ];
    let mode = match mode {
        "start" | "finish" if args.refuse_destructive => {
            return Err(ActionError::input(
                "refuse-destructive",
                format!("is for mode find, not {mode}"),
            ));
        }
        "start" => {
            only("finish", &finish_inputs)?;
            let git_ref = word("ref", args.git_ref.as_deref())?
                .or_else(|| env.non_empty("GITHUB_SHA").map(String::from))
                .ok_or_else(|| ActionError::input("ref", "is empty and GITHUB_SHA is not set"))?;
            let kind = args.kind.trim();
            if !matches!(kind, "deploy" | "rollback") {
                return Err(ActionError::input(
                    "kind",
                    format!("must be deploy or rollback; it is `{}`", Foreign(kind)),
                ));
            }
            let task_definition = word("task-definition-arn", args.task_definition_arn.as_deref())?
                .ok_or_else(|| {
                    ActionError::input(
                        "task-definition-arn",
                        "is empty; give the revision the service runs now (update-service's \
                         `task-definition-arn` output)",
                    )
                })?;
            let payload = json!({
                "kind": kind,
                "task_definition_arn": task_definition,
                "image": word("image", args.image.as_deref())?.unwrap_or_default(),
                "frontend_ref": word("frontend-ref", args.frontend_ref.as_deref())?.unwrap_or_default(),
                "destructive_migrations": migrations(args.destructive_migrations.as_deref())?,
                "run_id": env.non_empty("GITHUB_RUN_ID").unwrap_or_default(),
                "actor": env.non_empty("GITHUB_ACTOR").unwrap_or_default(),
            });
            Mode::Start {
                git_ref,
                description: line("description", args.description.as_deref())?,
                payload,
            }
        }
        "finish" => {
            only("start", &start_inputs)?;
            let id = match args.deployment_id.as_deref().map(str::trim) {
                None | Some("") => {
                    return Err(ActionError::input(
                        "deployment-id",
                        "is empty; give the `deployment-id` output of the step that started the record",
                    ));
                }
                Some(v) => v.parse::<u64>().ok().filter(|id| *id > 0).ok_or_else(|| {
                    ActionError::input(
                        "deployment-id",
                        format!("must be a deployment's number; it is `{}`", Foreign(v)),
                    )
                })?,
            };
            let success = match args.result.as_deref().map(str::trim) {
                Some("success") => true,
                Some("failure") => false,
                Some(other) => {
                    return Err(ActionError::input(
                        "result",
                        format!("must be success or failure; it is `{}`", Foreign(other)),
                    ));
                }
                None => {
                    return Err(ActionError::input(
                        "result",
                        "is empty; give success or failure",
                    ));
                }
            };
            Mode::Finish {
                id,
                success,
                description: line("description", args.description.as_deref())?,
                environment_url: word("environment-url", args.environment_url.as_deref())?
                    .unwrap_or_default(),
            }
        }
        "find" => {
            only("start", &start_inputs)?;
            only("finish", &finish_inputs)?;
            let which = match args.which.trim() {
                "live" => Which::Live,
                "previous" => Which::Previous,
                other => {
                    return Err(ActionError::input(
                        "which",
                        format!("must be live or previous; it is `{}`", Foreign(other)),
                    ));
                }
            };
            Mode::Find {
                which,
                refuse_destructive: args.refuse_destructive,
            }
        }
        other => {
            return Err(ActionError::input(
                "mode",
                format!("must be start, finish or find; it is `{}`", Foreign(other)),
            ));
        }
    };
    let run_url = match (
        env.non_empty("GITHUB_SERVER_URL"),
        env.non_empty("GITHUB_REPOSITORY"),
        env.non_empty("GITHUB_RUN_ID"),
    ) {
        (Some(server), Some(repository), Some(run)) => {
            format!(
                "{}/{repository}/actions/runs/{run}",
                server.trim_end_matches('/')
            )
        }
        _ => String::new(),
    };
    Ok(Checked {
        repo,
        token,
        api_url,
        environment,
        mode,
        run_url,
    })
}
