//! A frontend repository on wiremock: it records dispatches, starts a run named with the
//! payload's correlation id, lists it among decoys, and plays a scripted conclusion for each
//! attempt (first run, re-runs, new dispatches, in the order they happen).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use wiremock::{Request, Respond, ResponseTemplate};

pub const REPO: &str = "org/startupwebapp-frontend";

#[derive(Clone, Debug)]
pub struct FakeRun {
    pub id: u64,
    pub title: String,
    pub created_at: String,
    pub attempt: u32,
    /// Looks at the current attempt so far; the first look sees it in progress.
    pub polls: u32,
    /// Index into the script of the current attempt's conclusion.
    pub script_index: usize,
    pub html_url: String,
}

#[derive(Default)]
pub struct State {
    /// Every request: `METHOD /path?query` and its JSON body.
    pub requests: Vec<(String, Value)>,
    pub dispatches: Vec<Value>,
    pub runs: Vec<FakeRun>,
    /// The conclusion of each attempt in turn; `in_progress` never finishes.
    pub script: Vec<&'static str>,
    pub attempts_started: usize,
    /// Listings that show no run yet, after each dispatch (GitHub takes a moment).
    pub hide_listings: u32,
    pub hidden: u32,
    /// The run is never named with the correlation id (the workflow lacks `run-name`).
    pub unnamed: bool,
    pub refuse_rerun: bool,
    /// (operation, answer) served once, before the normal answer.
    pub faults: VecDeque<(&'static str, ResponseTemplate)>,
    /// Every answer of this operation is this one.
    pub always: Option<(&'static str, ResponseTemplate)>,
    /// Dispatches that are accepted (the run starts) but answered with this, in turn: a 502
    /// from a proxy that lost GitHub's answer.
    pub accepted_but: VecDeque<ResponseTemplate>,
    /// Re-runs that are accepted (a new attempt starts) but answered with this, in turn.
    pub rerun_accepted_but: VecDeque<ResponseTemplate>,
    /// Appended to each run's name and URL, as a hostile or broken API might send them.
    pub title_suffix: String,
    pub url_suffix: String,
}

#[derive(Clone, Default)]
pub struct Fake(pub Arc<Mutex<State>>);

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn stamp(t: OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_default()
}

fn run_url(id: u64) -> String {
    format!("https://github.com/{REPO}/actions/runs/{id}")
}

fn run_json(run: &FakeRun, status: &str, conclusion: Option<&str>) -> Value {
    json!({
        "id": run.id,
        "name": "Deploy frontend",
        "display_title": run.title,
        "event": "repository_dispatch",
        "status": status,
        "conclusion": conclusion,
        "html_url": run.html_url,
        "created_at": run.created_at,
        "run_attempt": run.attempt,
    })
}

impl Fake {
    pub fn new(script: &[&'static str]) -> Self {
        let fake = Fake::default();
        fake.with(|s| {
            s.script = script.to_vec();
            s.hide_listings = 1;
        });
        fake
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.0.lock().unwrap())
    }

    pub fn requests(&self) -> Vec<String> {
        self.with(|s| s.requests.iter().map(|(r, _)| r.clone()).collect())
    }

    pub fn count(&self, operation: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| operation_of(r) == operation)
            .count()
    }

    fn status_of(&self, s: &mut State, index: usize) -> (&'static str, Option<&'static str>) {
        let run = &mut s.runs[index];
        run.polls += 1;
        let conclusion = s.script.get(run.script_index).copied().unwrap_or("success");
        if run.polls < 2 || conclusion == "in_progress" {
            ("in_progress", None)
        } else {
            ("completed", Some(conclusion))
        }
    }
}

/// `dispatch`, `list`, `get`, `rerun` or `other`.
pub fn operation_of(request: &str) -> &'static str {
    let path = request.split('?').next().unwrap_or(request);
    if path.ends_with("/dispatches") {
        "dispatch"
    } else if path.ends_with("/rerun-failed-jobs") {
        "rerun"
    } else if path.ends_with("/runs") {
        "list"
    } else if path.contains("/actions/runs/") {
        "get"
    } else {
        "other"
    }
}

impl Respond for Fake {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut s = self.0.lock().unwrap();
        let line = format!(
            "{} {}{}",
            request.method,
            request.url.path(),
            request
                .url
                .query()
                .map(|q| format!("?{q}"))
                .unwrap_or_default()
        );
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        s.requests.push((line.clone(), body.clone()));
        let op = operation_of(&line);
        if let Some((fault_op, answer)) = &s.always
            && *fault_op == op
        {
            return answer.clone();
        }
        if s.faults.front().is_some_and(|(o, _)| *o == op)
            && let Some((_, answer)) = s.faults.pop_front()
        {
            return answer;
        }
        let path = request.url.path().to_string();
        let runs_base = format!("/repos/{REPO}/actions/runs/");
        match op {
            "dispatch" => {
                let correlation = body["client_payload"]["correlation_id"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                s.dispatches.push(body.clone());
                let id = 5000 + s.runs.len() as u64;
                let title = if s.unnamed {
                    "Deploy frontend".to_string()
                } else {
                    format!("Deploy {correlation}{}", s.title_suffix)
                };
                let html_url = format!("{}{}", run_url(id), s.url_suffix);
                let script_index = s.attempts_started;
                s.attempts_started += 1;
                s.runs.push(FakeRun {
                    id,
                    title,
                    created_at: stamp(now()),
                    attempt: 1,
                    polls: 0,
                    script_index,
                    html_url,
                });
                s.hidden = 0;
                s.accepted_but
                    .pop_front()
                    .unwrap_or_else(|| ResponseTemplate::new(204))
            }
            "list" => {
                let mut listed = Vec::new();
                if s.hidden < s.hide_listings {
                    s.hidden += 1;
                } else {
                    for run in &s.runs {
                        listed.push(run_json(run, "in_progress", None));
                    }
                }
                // Decoys: the same correlation id on a run created an hour before the
                // dispatch, and runs created since carrying other ids.
                if let Some(last) = s.dispatches.last() {
                    let correlation = last["client_payload"]["correlation_id"]
                        .as_str()
                        .unwrap_or("");
                    let old = FakeRun {
                        id: 10,
                        title: format!("Deploy {correlation}"),
                        created_at: stamp(now() - time::Duration::hours(1)),
                        attempt: 1,
                        polls: 0,
                        script_index: 0,
                        html_url: run_url(10),
                    };
                    let other = FakeRun {
                        id: 99999,
                        title: "Deploy 00000000-0000-4000-8000-000000000000".into(),
                        created_at: stamp(now()),
                        attempt: 1,
                        polls: 0,
                        script_index: 0,
                        html_url: run_url(99999),
                    };
                    listed.insert(0, run_json(&other, "queued", None));
                    listed.push(run_json(&old, "completed", Some("success")));
                }
                listed.reverse();
                ResponseTemplate::new(200)
                    .set_body_json(json!({"total_count": listed.len(), "workflow_runs": listed}))
            }
            "get" => {
                let id: u64 = path
                    .trim_start_matches(&runs_base)
                    .parse()
                    .unwrap_or_default();
                let Some(index) = s.runs.iter().position(|r| r.id == id) else {
                    return ResponseTemplate::new(404)
                        .set_body_json(json!({"message": "Not Found"}));
                };
                let (status, conclusion) = self.status_of(&mut s, index);
                ResponseTemplate::new(200).set_body_json(run_json(
                    &s.runs[index],
                    status,
                    conclusion,
                ))
            }
            "rerun" => {
                if s.refuse_rerun {
                    return ResponseTemplate::new(403)
                        .set_body_json(json!({"message": "This workflow run cannot be retried"}));
                }
                let id: u64 = path
                    .trim_start_matches(&runs_base)
                    .trim_end_matches("/rerun-failed-jobs")
                    .parse()
                    .unwrap_or_default();
                let next = s.attempts_started;
                let Some(run) = s.runs.iter_mut().find(|r| r.id == id) else {
                    return ResponseTemplate::new(404)
                        .set_body_json(json!({"message": "Not Found"}));
                };
                run.attempt += 1;
                run.polls = 0;
                run.script_index = next;
                s.attempts_started += 1;
                s.rerun_accepted_but
                    .pop_front()
                    .unwrap_or_else(|| ResponseTemplate::new(201).set_body_json(json!({})))
            }
            _ => ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})),
        }
    }
}
