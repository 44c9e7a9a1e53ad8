use std::time::Duration;

use serde_json::{Map, Value};
use swa_gha::{ActionError, Env, Foreign};
use swa_github::{Repo, Token};

use crate::Args;

/// GitHub's limits on a `repository_dispatch`.
const MAX_EVENT_TYPE: usize = 100;
const MAX_PAYLOAD_KEYS: usize = 10;

/// The inputs, checked before anything is sent.
#[derive(Debug)]
pub struct Checked {
    pub repo: Repo,
    pub token: Token,
    pub event_type: String,
    /// client_payload without the correlation id, which each dispatch adds.
    pub payload: Map<String, Value>,
    pub frontend_ref: Option<String>,
    /// The frontend commit live now, from the deployment records.
    pub live_ref: Option<String>,
    pub skip_unchanged: bool,
    pub sha: Option<String>,
    pub wait: bool,
    pub workflow: Option<String>,
    pub timeout: Duration,
    pub attempts: u32,
    /// How long to look for the run of a dispatch GitHub may have accepted (it answered 5xx,
    /// or not at all) before dispatching again.
    pub dispatch_grace: Duration,
    pub api_url: String,
    /// Between two looks at the run: `SWA_POLL_INTERVAL`, else 5s.
    pub poll: Duration,
}

pub fn check(args: &Args, env: &Env) -> Result<Checked, ActionError> {
    let token = args.token.clone();
    token.check_input("pass the secret alone, such as `${{ secrets.FRONTEND_DISPATCH_TOKEN }}`")?;
    let repo: Repo = args
        .repository
        .parse()
        .map_err(|e| ActionError::input("repository", format!("is {e}")))?;

    let event_type = args.event_type.trim().to_string();
    if let Some(at) = event_type.chars().position(char::is_control) {
        return Err(ActionError::input(
            "event-type",
            format!(
                "has a control character (a line break, tab or the like) at character {}; an \
                 event type is one line of text",
                at + 1
            ),
        ));
    }
    if event_type.is_empty() || event_type.chars().count() > MAX_EVENT_TYPE {
        return Err(ActionError::input(
            "event-type",
            format!(
                "must be 1 to {MAX_EVENT_TYPE} characters (GitHub's limit); it has {}",
                event_type.chars().count()
            ),
        ));
    }

    let frontend_ref = git_ref("frontend-ref", args.frontend_ref.as_deref())?;
    let live_ref = git_ref("live-ref", args.live_ref.as_deref())?;
    let sha = env.non_empty("GITHUB_SHA").map(String::from);

    let mut payload = match args.client_payload.as_deref().map(str::trim) {
        None | Some("") => Map::new(),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            Ok(other) => {
                return Err(ActionError::input(
                    "client-payload",
                    format!(
                        "must be a JSON object such as {{\"environment\": \"production\"}}, not {}",
                        kind(&other)
                    ),
                ));
            }
            Err(e) => {
                return Err(ActionError::input(
                    "client-payload",
                    format!("is not valid JSON: {e}"),
                ));
            }
        },
    };
    let mut ours = vec!["correlation_id"];
    if sha.is_some() {
        ours.push("sha");
    }
    if frontend_ref.is_some() {
        ours.push("frontend_ref");
    }
    if let Some(key) = ours.iter().find(|k| payload.contains_key(**k)) {
        return Err(ActionError::input(
            "client-payload",
            format!(
                "sets `{key}`, which this action sets itself (from {}); remove it",
                match *key {
                    "sha" => "GITHUB_SHA",
                    "frontend_ref" => "input `frontend-ref`",
                    _ => "a fresh id for each dispatch",
                }
            ),
        ));
    }
    if let Some(sha) = &sha {
        payload.insert("sha".into(), Value::String(sha.clone()));
    }
    if let Some(r) = &frontend_ref {
        payload.insert("frontend_ref".into(), Value::String(r.clone()));
    }
    if payload.len() + 1 > MAX_PAYLOAD_KEYS {
        return Err(ActionError::input(
            "client-payload",
            format!(
                "has {} top-level keys; with the {} this action adds that is more than the \
                 {MAX_PAYLOAD_KEYS} GitHub accepts: nest some of them under one key",
                payload.len() + 1 - ours.len(),
                ours.len()
            ),
        ));
    }

    let workflow = match args.workflow.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(w) => {
            let file = w.rsplit('/').next().unwrap_or(w);
            let is_id = file.chars().all(|c| c.is_ascii_digit());
            let is_file = (file.ends_with(".yml") || file.ends_with(".yaml"))
                && file
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
            if !is_id && !is_file {
                return Err(ActionError::input(
                    "workflow",
                    format!("`{w}` is not a workflow file name (deploy.yml) or a workflow id"),
                ));
            }
            Some(file.to_string())
        }
    };

    if args.timeout.is_zero() {
        return Err(ActionError::input("timeout", "must be more than zero"));
    }
    let api_url = swa_github::api_base_url(args.api_url.as_deref(), env)
        .map_err(|e| ActionError::input("api-url", format!("is {e}")))?;
    let poll = match env.non_empty("SWA_POLL_INTERVAL") {
        Some(text) => {
            swa_gha::parse_duration(text).map_err(|e| ActionError::input("SWA_POLL_INTERVAL", e))?
        }
        None => Duration::from_secs(5),
    };

    Ok(Checked {
        repo,
        token,
        event_type,
        payload,
        frontend_ref,
        live_ref,
        skip_unchanged: args.skip_unchanged,
        sha,
        wait: args.wait,
        workflow,
        timeout: args.timeout,
        attempts: args.attempts,
        dispatch_grace: args.dispatch_grace,
        api_url,
        poll: poll.max(Duration::from_millis(10)),
    })
}

/// A commit SHA or a ref name: one word, at most 255 bytes.
fn git_ref(input: &str, value: Option<&str>) -> Result<Option<String>, ActionError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(r) if r.len() > 255 || r.chars().any(|c| c.is_whitespace() || c.is_control()) => {
            Err(ActionError::input(
                input,
                format!("`{}` is not a commit SHA or ref name", Foreign(r)),
            ))
        }
        Some(r) => Ok(Some(r.to_string())),
    }
}

impl Checked {
    /// The frontend commit asked for when it is the one live already and `skip-unchanged` is on:
    /// there is nothing to deploy.
    pub fn unchanged(&self) -> Option<&str> {
        let wanted = self.frontend_ref.as_deref()?;
        let live = self.live_ref.as_deref()?;
        (self.skip_unchanged && wanted.eq_ignore_ascii_case(live)).then_some(wanted)
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
