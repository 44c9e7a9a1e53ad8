//! The GitHub Deployments API: create and list deployments (with the `sha`, `ref`, `task` and
//! `environment` filters), create and list a deployment's statuses.

use serde_json::{Value, json};

use crate::api::Reply;
use crate::github::{Request, message};
use crate::world::*;

const STATES: [&str; 7] = [
    "error",
    "failure",
    "inactive",
    "in_progress",
    "queued",
    "pending",
    "success",
];

pub fn route(w: &mut World, req: &Request, owner: &str, repo: &str, rest: &[&str]) -> Reply {
    let now = w.clock.now();
    match (req.method, rest) {
        ("POST", []) => create(w, req, owner, repo, now),
        ("GET", []) => list(w, req, owner, repo),
        ("GET", [id]) => match find(w, owner, repo, id) {
            Some(i) => Reply::json(200, &record_json(&w.records[i], &req.base)),
            None => message(404, "Not Found"),
        },
        ("POST", [id, "statuses"]) => match find(w, owner, repo, id) {
            Some(i) => create_status(w, req, i, now),
            None => message(404, "Not Found"),
        },
        ("GET", [id, "statuses"]) => match find(w, owner, repo, id) {
            Some(i) => {
                let r = &w.records[i];
                let statuses: Vec<Value> = r
                    .statuses
                    .iter()
                    .rev()
                    .map(|s| status_json(r, s, &req.base))
                    .collect();
                Reply::json(200, &json!(statuses))
            }
            None => message(404, "Not Found"),
        },
        _ => message(404, "Not Found"),
    }
}

fn find(w: &World, owner: &str, repo: &str, id: &str) -> Option<usize> {
    let id: u64 = id.parse().ok()?;
    w.records
        .iter()
        .position(|r| r.id == id && r.owner == owner && r.repo == repo)
}

fn invalid(text: &str) -> Reply {
    message(422, &format!("Invalid request.\n\n{text}"))
}

fn create(w: &mut World, req: &Request, owner: &str, repo: &str, now: i64) -> Reply {
    let Ok(body) = serde_json::from_slice::<Value>(req.body) else {
        return message(400, "Problems parsing JSON");
    };
    let git_ref = match &body["ref"] {
        Value::String(s) if !s.is_empty() => s.clone(),
        Value::Null => return invalid("\"ref\" wasn't supplied."),
        _ => return invalid("For 'properties/ref', is not a non-empty string."),
    };
    let payload = match &body["payload"] {
        Value::Null => json!({}),
        Value::Object(_) => body["payload"].clone(),
        Value::String(text) => match serde_json::from_str::<Value>(text) {
            Ok(v @ Value::Object(_)) => v,
            _ => return invalid("For 'properties/payload', is not an object or a JSON string."),
        },
        _ => return invalid("For 'properties/payload', is not an object or a JSON string."),
    };
    let text = |key: &str, default: &str| -> Result<String, Reply> {
        match &body[key] {
            Value::Null => Ok(default.to_string()),
            Value::String(s) => Ok(s.clone()),
            _ => Err(invalid(&format!(
                "For 'properties/{key}', is not a string."
            ))),
        }
    };
    let task = match text("task", "deploy") {
        Ok(t) => t,
        Err(reply) => return reply,
    };
    let environment = match text("environment", "production") {
        Ok(t) => t,
        Err(reply) => return reply,
    };
    let description = match &body["description"] {
        Value::String(s) => Some(s.clone()),
        _ => None,
    };
    // The commit a ref names: a full SHA as it is, anything else as the sandbox's main would.
    let sha = if git_ref.len() == 40 && git_ref.chars().all(|c| c.is_ascii_hexdigit()) {
        git_ref.to_lowercase()
    } else {
        let mut h = sha256_hex(format!("{owner}/{repo}@{git_ref}").as_bytes());
        h.truncate(40);
        h
    };
    let id = 2_400_000_000 + w.next_number(6);
    let record = Record {
        id,
        owner: owner.to_string(),
        repo: repo.to_string(),
        sha,
        git_ref,
        task,
        payload,
        production: body["production_environment"]
            .as_bool()
            .unwrap_or(environment == "production"),
        transient: body["transient_environment"].as_bool().unwrap_or(false),
        environment,
        description,
        created_at: now,
        statuses: Vec::new(),
    };
    w.event(
        now,
        "deployment",
        format!(
            "{owner}/{repo} deployment {id} of {} to {}",
            record.git_ref, record.environment
        ),
    );
    let reply = Reply::json(201, &record_json(&record, &req.base));
    w.records.push(record);
    reply
}

fn list(w: &World, req: &Request, owner: &str, repo: &str) -> Reply {
    let q = &req.query;
    let per_page: usize = match q.get("per_page").map(|v| v.parse::<usize>()) {
        None => 30,
        Some(Ok(n)) => n.clamp(1, 100),
        Some(Err(_)) => return invalid("per_page is not a number."),
    };
    let page: usize = q
        .get("page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let matching: Vec<Value> = w
        .records
        .iter()
        .rev()
        .filter(|r| r.owner == owner && r.repo == repo)
        .filter(|r| q.get("sha").is_none_or(|v| *v == r.sha))
        .filter(|r| q.get("ref").is_none_or(|v| *v == r.git_ref))
        .filter(|r| q.get("task").is_none_or(|v| *v == r.task))
        .filter(|r| q.get("environment").is_none_or(|v| *v == r.environment))
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|r| record_json(r, &req.base))
        .collect();
    Reply::json(200, &json!(matching))
}

fn create_status(w: &mut World, req: &Request, i: usize, now: i64) -> Reply {
    let Ok(body) = serde_json::from_slice::<Value>(req.body) else {
        return message(400, "Problems parsing JSON");
    };
    let state = match body["state"].as_str() {
        Some(s) if STATES.contains(&s) => s.to_string(),
        Some(s) => {
            return invalid(&format!(
                "For 'properties/state', \"{s}\" is not one of {}.",
                STATES.join(", ")
            ));
        }
        None => return invalid("\"state\" wasn't supplied."),
    };
    let field = |key: &str| body[key].as_str().unwrap_or_default().to_string();
    let status = RecordStatus {
        id: 24_000_000_000 + w.next_number(6),
        state: state.clone(),
        description: field("description"),
        log_url: if body["log_url"].is_string() {
            field("log_url")
        } else {
            field("target_url")
        },
        environment_url: field("environment_url"),
        created_at: now,
    };
    // A success makes the environment's earlier successful deployments inactive, unless
    // `auto_inactive` is false (GitHub does this for non-production environments only).
    let auto_inactive = body["auto_inactive"].as_bool().unwrap_or(true);
    let (owner, repo, environment, id) = {
        let r = &w.records[i];
        (r.owner.clone(), r.repo.clone(), r.environment.clone(), r.id)
    };
    if state == "success" && auto_inactive && !w.records[i].production {
        let earlier: Vec<usize> = (0..w.records.len())
            .filter(|&j| {
                let r = &w.records[j];
                r.id != id
                    && r.owner == owner
                    && r.repo == repo
                    && r.environment == environment
                    && !r.transient
                    && r.statuses.last().is_some_and(|s| s.state == "success")
            })
            .collect();
        // Each inactive status is a status of its own, with its own id.
        for j in earlier {
            let inactive = RecordStatus {
                id: 24_000_000_000 + w.next_number(6),
                state: "inactive".into(),
                description: String::new(),
                log_url: String::new(),
                environment_url: String::new(),
                created_at: now,
            };
            w.records[j].statuses.push(inactive);
        }
    }
    w.event(
        now,
        "deployment",
        format!("{owner}/{repo} deployment {id}: {state}"),
    );
    let reply = Reply::json(201, &status_json(&w.records[i], &status, &req.base));
    w.records[i].statuses.push(status);
    reply
}

fn creator() -> Value {
    json!({"login": "github-actions[bot]", "id": 41_898_282, "type": "Bot"})
}

pub fn record_json(r: &Record, base: &str) -> Value {
    let api = format!("{base}/repos/{}/{}", r.owner, r.repo);
    let updated = r.statuses.last().map_or(r.created_at, |s| s.created_at);
    json!({
        "url": format!("{api}/deployments/{}", r.id),
        "id": r.id,
        "node_id": format!("DE_kwDOsandbox{}", r.id),
        "sha": r.sha,
        "ref": r.git_ref,
        "task": r.task,
        "payload": r.payload,
        "original_environment": r.environment,
        "environment": r.environment,
        "description": r.description,
        "creator": creator(),
        "created_at": iso8601(r.created_at),
        "updated_at": iso8601(updated),
        "statuses_url": format!("{api}/deployments/{}/statuses", r.id),
        "repository_url": api,
        "transient_environment": r.transient,
        "production_environment": r.production,
    })
}

fn status_json(r: &Record, s: &RecordStatus, base: &str) -> Value {
    let api = format!("{base}/repos/{}/{}", r.owner, r.repo);
    json!({
        "url": format!("{api}/deployments/{}/statuses/{}", r.id, s.id),
        "id": s.id,
        "node_id": format!("DES_kwDOsandbox{}", s.id),
        "state": s.state,
        "creator": creator(),
        "description": s.description,
        "environment": r.environment,
        "target_url": s.log_url,
        "log_url": s.log_url,
        "environment_url": s.environment_url,
        "created_at": iso8601(s.created_at),
        "updated_at": iso8601(s.created_at),
        "deployment_url": format!("{api}/deployments/{}", r.id),
        "repository_url": api,
    })
}

/// The records as `/_sandbox/state` shows them, oldest first, each with its statuses' states.
pub fn state_json(w: &World) -> Value {
    json!(
        w.records
            .iter()
            .map(|r| json!({
                "id": r.id,
                "repository": format!("{}/{}", r.owner, r.repo),
                "ref": r.git_ref,
                "task": r.task,
                "environment": r.environment,
                "payload": r.payload,
                "states": r.statuses.iter().map(|s| s.state.clone()).collect::<Vec<_>>(),
            }))
            .collect::<Vec<_>>()
    )
}
