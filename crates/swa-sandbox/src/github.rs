//! The GitHub REST API, as much as dispatching a workflow and following its run needs.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::api::Reply;
use crate::world::*;

pub const WORKFLOW_PATH: &str = ".github/workflows/deploy-frontend.yml";
pub const WORKFLOW_ID: u64 = 161_335_047;
const DOCS: &str = "https://docs.github.com/rest";

pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: BTreeMap<String, String>,
    pub authorization: Option<&'a str>,
    pub body: &'a [u8],
    /// `http://host:port/_github`, for the `url` fields.
    pub base: String,
}

/// The operation name recorded in the call log.
pub fn operation(method: &str, path: &str) -> String {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, parts.as_slice()) {
        ("POST", ["repos", _, _, "dispatches"]) => "dispatches".into(),
        ("GET", ["repos", _, _, "actions", "runs"]) => "list-runs".into(),
        ("GET", ["repos", _, _, "actions", "workflows", _, "runs"]) => "list-workflow-runs".into(),
        ("GET", ["repos", _, _, "actions", "runs", _]) => "get-run".into(),
        ("GET", ["repos", _, _, "actions", "runs", _, "jobs"]) => "list-jobs".into(),
        ("POST", ["repos", _, _, "actions", "runs", _, "rerun-failed-jobs"]) => {
            "rerun-failed-jobs".into()
        }
        ("POST", ["repos", _, _, "actions", "runs", _, "rerun"]) => "rerun".into(),
        ("GET", ["repos", _, _]) => "get-repo".into(),
        ("GET", ["rate_limit"]) => "rate-limit".into(),
        ("POST", ["repos", _, _, "deployments"]) => "create-deployment".into(),
        ("GET", ["repos", _, _, "deployments"]) => "list-deployments".into(),
        ("POST", ["repos", _, _, "deployments", _, "statuses"]) => {
            "create-deployment-status".into()
        }
        ("GET", ["repos", _, _, "deployments", _, "statuses"]) => "list-deployment-statuses".into(),
        _ => format!("{method} {path}"),
    }
}

pub fn message(status: u16, text: &str) -> Reply {
    Reply::json(
        status,
        &json!({"message": text, "documentation_url": DOCS, "status": status.to_string()}),
    )
}

fn headers(w: &mut World, mut reply: Reply) -> Reply {
    w.rate_remaining = (w.rate_remaining - 1).max(0);
    let reset = w.clock.start_ms() / 1000 + 3600;
    let id = w.next_hex(8).to_uppercase();
    reply.headers.retain(|(k, _)| k != "content-type");
    reply
        .header("content-type", "application/json; charset=utf-8")
        .header("server", "github.com")
        .header("x-github-api-version-selected", "2022-11-28")
        .header("x-github-media-type", "github.v3; format=json")
        .header("x-github-request-id", format!("{id}:1A2B:3C4D5E:6F7A8B:0"))
        .header("x-ratelimit-limit", "5000")
        .header("x-ratelimit-remaining", w.rate_remaining.to_string())
        .header("x-ratelimit-used", (5000 - w.rate_remaining).to_string())
        .header("x-ratelimit-reset", reset.to_string())
        .header("x-ratelimit-resource", "core")
}

pub fn handle(w: &mut World, req: &Request) -> Reply {
    let reply = route(w, req);
    headers(w, reply)
}

fn route(w: &mut World, req: &Request) -> Reply {
    if w.scenario.github_flaky {
        let n = w.github_counter;
        w.github_counter += 1;
        match n {
            0 | 4 => {
                return Reply::new(
                    502,
                    "text/html",
                    "<html><body><h1>502 Bad Gateway</h1></body></html>",
                )
                .header("retry-after", "1");
            }
            1 => {
                return message(429, "API rate limit exceeded for installation ID 4242.")
                    .header("retry-after", "1");
            }
            _ => {}
        }
    }
    let token = req.authorization.map(|a| {
        a.strip_prefix("Bearer ")
            .or_else(|| a.strip_prefix("bearer "))
            .or_else(|| a.strip_prefix("token "))
            .unwrap_or(a)
            .trim()
    });
    match token {
        None | Some("") => return message(401, "Requires authentication"),
        Some("bad-token") => return message(401, "Bad credentials"),
        _ => {}
    }
    let parts: Vec<&str> = req.path.trim_matches('/').split('/').collect();
    if let ["rate_limit"] = parts.as_slice() {
        let core = json!({"limit": 5000, "remaining": w.rate_remaining, "used": 5000 - w.rate_remaining, "reset": w.clock.start_ms() / 1000 + 3600});
        return Reply::json(200, &json!({"resources": {"core": core}, "rate": core}));
    }
    let ["repos", owner, repo, rest @ ..] = parts.as_slice() else {
        return message(404, "Not Found");
    };
    if format!("{owner}/{repo}") == "org/missing" {
        return message(404, "Not Found");
    }
    let now = w.clock.now();
    match (req.method, rest) {
        ("GET", []) => Reply::json(200, &repository(owner, repo)),
        ("POST", ["dispatches"]) => dispatch(w, req, owner, repo, now),
        (_, ["deployments", rest @ ..]) => crate::records::route(w, req, owner, repo, rest),
        ("GET", ["actions", "runs"]) => list_runs(w, req, owner, repo, None, now),
        ("GET", ["actions", "workflows", workflow, "runs"]) => {
            let file = WORKFLOW_PATH.rsplit('/').next().unwrap_or_default();
            if *workflow != file && *workflow != WORKFLOW_ID.to_string() {
                return message(404, "Not Found");
            }
            list_runs(w, req, owner, repo, Some(()), now)
        }
        ("GET", ["actions", "runs", id]) => match find_run(w, owner, repo, id, now) {
            Some(i) => Reply::json(200, &run_json(&w.runs[i], &req.base, now)),
            None => message(404, "Not Found"),
        },
        ("GET", ["actions", "runs", id, "jobs"]) => match find_run(w, owner, repo, id, now) {
            Some(i) => Reply::json(200, &jobs_json(&w.runs[i], &req.base, now)),
            None => message(404, "Not Found"),
        },
        (
            "POST",
            [
                "actions",
                "runs",
                id,
                action @ ("rerun-failed-jobs" | "rerun"),
            ],
        ) => match find_run(w, owner, repo, id, now) {
            Some(i) => rerun(w, i, action, now),
            None => message(404, "Not Found"),
        },
        _ => message(404, "Not Found"),
    }
}

fn repository(owner: &str, repo: &str) -> Value {
    json!({
        "id": 700_000_001u64,
        "node_id": "R_kgDOKsandbox",
        "name": repo,
        "full_name": format!("{owner}/{repo}"),
        "private": true,
        "owner": {"login": owner, "id": 100_001, "type": "Organization"},
        "html_url": format!("https://github.com/{owner}/{repo}"),
        "default_branch": "main"
    })
}

fn dispatch(w: &mut World, req: &Request, owner: &str, repo: &str, now: i64) -> Reply {
    let Ok(body) = serde_json::from_slice::<Value>(req.body) else {
        return message(400, "Problems parsing JSON");
    };
    let event_type = match &body["event_type"] {
        Value::String(s) => s.clone(),
        Value::Null => {
            return message(422, "Invalid request.\n\n\"event_type\" wasn't supplied.");
        }
        _ => {
            return message(
                422,
                "Invalid request.\n\nFor 'properties/event_type', is not a string.",
            );
        }
    };
    if event_type.is_empty() || event_type.chars().count() > 100 {
        return message(
            422,
            &format!(
                "Invalid request.\n\nFor 'properties/event_type', \"{event_type}\" is {} (maxLength 100, minLength 1).",
                if event_type.is_empty() {
                    "too short"
                } else {
                    "too long"
                }
            ),
        );
    }
    let payload = body.get("client_payload").cloned().unwrap_or(json!({}));
    match &payload {
        Value::Object(map) if map.len() > 10 => {
            return message(
                422,
                &format!(
                    "Invalid request.\n\nNo more than 10 properties are allowed; {} were supplied.",
                    map.len()
                ),
            );
        }
        Value::Object(_) => {}
        _ => {
            return message(
                422,
                "Invalid request.\n\nFor 'properties/client_payload', is not an object.",
            );
        }
    }
    let name = match payload["correlation_id"].as_str() {
        Some(id) if !id.trim().is_empty() => format!("Deploy {id}"),
        _ => "Deploy frontend".to_string(),
    };
    let conclusion = if w.scenario.frontend_fails_once && !w.frontend_failed_once {
        w.frontend_failed_once = true;
        "failure"
    } else {
        "success"
    };
    let id = 12_000_000_000 + w.next_number(9);
    let run_number = w.runs.len() as u64 + 101;
    let head_sha = w.next_hex(40);
    let created = now + 2_000;
    w.runs.push(Run {
        id,
        owner: owner.to_string(),
        repo: repo.to_string(),
        name: name.clone(),
        event: "repository_dispatch".into(),
        path: WORKFLOW_PATH.into(),
        head_sha,
        run_number,
        created_at: created,
        attempt: 1,
        attempt_created_at: created,
        start_at: created + 4_000,
        complete_at: created + 24_000,
        conclusion: conclusion.into(),
        completion_reported: 0,
    });
    w.event(
        now,
        "dispatch",
        format!("{owner}/{repo} {event_type} -> run {id} {name}"),
    );
    Reply::new(204, "application/json", Vec::new())
}

fn find_run(w: &World, owner: &str, repo: &str, id: &str, now: i64) -> Option<usize> {
    let id: u64 = id.parse().ok()?;
    w.runs
        .iter()
        .position(|r| r.id == id && r.owner == owner && r.repo == repo && r.created_at <= now)
}

fn rerun(w: &mut World, i: usize, action: &str, now: i64) -> Reply {
    let run = &mut w.runs[i];
    if run.status(now) != "completed" {
        return message(403, "This workflow run is not completed");
    }
    if action == "rerun-failed-jobs" && run.conclusion == "success" {
        return message(403, "This workflow run has no failed jobs to re-run");
    }
    run.attempt += 1;
    run.attempt_created_at = now;
    run.start_at = now + 3_000;
    run.complete_at = now + 18_000;
    run.conclusion = "success".into();
    let detail = format!("{} attempt {}", run.id, run.attempt);
    w.event(now, "rerun", detail);
    Reply::json(201, &json!({}))
}

/// Parses a `created` bound: a date (the whole day) or a date-time (an instant).
fn parse_when(text: &str) -> Option<(i64, i64)> {
    let text = text.trim();
    if text == "*" {
        return Some((i64::MIN / 2, i64::MAX / 2));
    }
    if let Ok(t) = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
    {
        let ms = (t.unix_timestamp_nanos() / 1_000_000) as i64;
        return Some((ms, ms + 999));
    }
    let f = time::macros::format_description!("[year]-[month]-[day]");
    let d = time::Date::parse(text, &f).ok()?;
    let start = d.midnight().assume_utc().unix_timestamp() * 1000;
    Some((start, start + 86_400_000 - 1))
}

/// GitHub's `created` filter: `>=X`, `>X`, `<=X`, `<X`, `A..B` or a date.
fn created_matches(filter: &str, created_ms: i64) -> Option<bool> {
    let created_s = created_ms.div_euclid(1000) * 1000;
    if let Some(x) = filter.strip_prefix(">=") {
        return Some(created_s >= parse_when(x)?.0);
    }
    if let Some(x) = filter.strip_prefix('>') {
        return Some(created_s > parse_when(x)?.1);
    }
    if let Some(x) = filter.strip_prefix("<=") {
        return Some(created_s <= parse_when(x)?.1);
    }
    if let Some(x) = filter.strip_prefix('<') {
        return Some(created_s < parse_when(x)?.0);
    }
    if let Some((a, b)) = filter.split_once("..") {
        return Some(created_s >= parse_when(a)?.0 && created_s <= parse_when(b)?.1);
    }
    let (a, b) = parse_when(filter)?;
    Some(created_s >= a && created_s <= b)
}

fn list_runs(
    w: &mut World,
    req: &Request,
    owner: &str,
    repo: &str,
    _workflow: Option<()>,
    now: i64,
) -> Reply {
    let q = &req.query;
    let per_page: usize = match q.get("per_page").map(|v| v.parse::<usize>()) {
        None => 30,
        Some(Ok(n)) => n.clamp(1, 100),
        Some(Err(_)) => return message(422, "Invalid request.\n\nper_page is not a number."),
    };
    let page: usize = q
        .get("page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let mut runs: Vec<&Run> = Vec::new();
    for r in w.runs.iter().rev() {
        if r.owner != owner || r.repo != repo || r.created_at > now {
            continue;
        }
        if q.get("event").is_some_and(|e| *e != r.event) {
            continue;
        }
        if q.get("branch").is_some_and(|b| b != "main") {
            continue;
        }
        if q.get("head_sha").is_some_and(|s| *s != r.head_sha) {
            continue;
        }
        if let Some(s) = q.get("status") {
            let status = r.status(now);
            let conclusion = if status == "completed" {
                r.conclusion.as_str()
            } else {
                ""
            };
            if s != status && s != conclusion {
                continue;
            }
        }
        if let Some(c) = q.get("created") {
            match created_matches(c, r.created_at) {
                Some(true) => {}
                Some(false) => continue,
                None => {
                    return message(
                        422,
                        &format!("Invalid request.\n\n\"{c}\" is not a valid created filter."),
                    );
                }
            }
        }
        runs.push(r);
    }
    let total = runs.len();
    let list: Vec<Value> = runs
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|r| run_json(r, &req.base, now))
        .collect();
    Reply::json(200, &json!({"total_count": total, "workflow_runs": list}))
}

pub fn run_json(r: &Run, base: &str, now: i64) -> Value {
    let status = r.status(now);
    let updated = if status == "completed" {
        r.complete_at
    } else if status == "in_progress" {
        r.start_at
    } else {
        r.attempt_created_at
    };
    let api = format!("{base}/repos/{}/{}", r.owner, r.repo);
    let html = format!("https://github.com/{}/{}", r.owner, r.repo);
    let actor = json!({"login": "swa-deployer", "id": 4_200_001, "type": "User", "html_url": "https://github.com/swa-deployer"});
    let mut v = json!({
        "id": r.id,
        "name": r.name,
        "node_id": format!("WFR_kwLO{}", r.id),
        "head_branch": "main",
        "head_sha": r.head_sha,
        "path": r.path,
        "display_title": r.name,
        "run_number": r.run_number,
        "event": r.event,
        "status": status,
        "conclusion": if status == "completed" { json!(r.conclusion) } else { Value::Null },
        "workflow_id": WORKFLOW_ID,
        "check_suite_id": r.id + 7,
        "url": format!("{api}/actions/runs/{}", r.id),
        "html_url": format!("{html}/actions/runs/{}", r.id),
        "pull_requests": [],
        "created_at": iso8601(r.created_at),
        "updated_at": iso8601(updated),
        "actor": actor,
        "triggering_actor": actor,
        "run_attempt": r.attempt,
        "referenced_workflows": [],
        "run_started_at": iso8601(r.attempt_created_at),
        "jobs_url": format!("{api}/actions/runs/{}/jobs", r.id),
        "logs_url": format!("{api}/actions/runs/{}/logs", r.id),
        "check_suite_url": format!("{api}/check-suites/{}", r.id + 7),
        "artifacts_url": format!("{api}/actions/runs/{}/artifacts", r.id),
        "cancel_url": format!("{api}/actions/runs/{}/cancel", r.id),
        "rerun_url": format!("{api}/actions/runs/{}/rerun", r.id),
        "workflow_url": format!("{api}/actions/workflows/{WORKFLOW_ID}"),
        "head_commit": {"id": r.head_sha, "message": "Release frontend", "timestamp": iso8601(r.created_at - 600_000),
            "author": {"name": "swa-deployer", "email": "deployer@startupwebapp.example"}},
        "repository": repository(&r.owner, &r.repo),
        "head_repository": repository(&r.owner, &r.repo),
    });
    if r.attempt > 1 {
        v["previous_attempt_url"] = json!(format!(
            "{api}/actions/runs/{}/attempts/{}",
            r.id,
            r.attempt - 1
        ));
    } else {
        v["previous_attempt_url"] = Value::Null;
    }
    v
}

fn jobs_json(r: &Run, base: &str, now: i64) -> Value {
    let status = r.status(now);
    let conclusion = if status == "completed" {
        json!(r.conclusion)
    } else {
        Value::Null
    };
    let api = format!("{base}/repos/{}/{}", r.owner, r.repo);
    json!({"total_count": 1, "jobs": [{
        "id": r.id * 10 + r.attempt as u64,
        "run_id": r.id,
        "run_attempt": r.attempt,
        "name": "deploy",
        "workflow_name": "Deploy frontend",
        "head_branch": "main",
        "head_sha": r.head_sha,
        "status": status,
        "conclusion": conclusion,
        "started_at": iso8601(r.start_at.min(now.max(r.attempt_created_at))),
        "completed_at": if status == "completed" { json!(iso8601(r.complete_at)) } else { Value::Null },
        "url": format!("{api}/actions/jobs/{}", r.id * 10 + r.attempt as u64),
        "html_url": format!("https://github.com/{}/{}/actions/runs/{}/job/{}", r.owner, r.repo, r.id, r.id * 10 + r.attempt as u64),
        "steps": [
            {"name": "Set up job", "status": status, "conclusion": if status == "completed" { json!("success") } else { Value::Null }, "number": 1},
            {"name": "Sync to S3 and invalidate CloudFront", "status": status, "conclusion": conclusion, "number": 2}
        ],
        "labels": ["ubuntu-latest"],
        "runner_name": "GitHub Actions 2",
    }]})
}

#[cfg(test)]
mod tests {
    use super::created_matches;

    #[test]
    fn created_filters() {
        let t = 1_764_167_000_000; // 2025-11-26T14:23:20Z
        assert_eq!(created_matches(">=2025-11-26T14:00:00Z", t), Some(true));
        assert_eq!(created_matches(">=2025-11-26T15:00:00Z", t), Some(false));
        assert_eq!(created_matches("2025-11-26", t), Some(true));
        assert_eq!(created_matches("2025-11-25", t), Some(false));
        assert_eq!(created_matches("2025-11-25..2025-11-27", t), Some(true));
        assert_eq!(created_matches("<2025-11-26T14:23:20Z", t), Some(false));
        assert_eq!(created_matches("<=2025-11-26T14:23:20Z", t), Some(true));
        assert_eq!(created_matches("yesterday", t), None);
    }
}
