use std::time::{Duration, Instant};

use serde_json::Value;
use swa_gha::{ActionError, Foreign, Gha, format_duration, md};
use swa_github::{GitHub, GithubError, RunFilter, WorkflowRun};
use time::OffsetDateTime;

use crate::Checked;

/// Conclusions worth another attempt. `cancelled` is someone's decision, and `action_required`
/// waits for a person: neither is retried.
const RETRIED: &[&str] = &["failure", "timed_out", "startup_failure"];

/// How a run came to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum How {
    Dispatch,
    Rerun,
}

/// One attempt: a dispatch (and the run it started) or a re-run of a run's failed jobs.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub how: How,
    pub correlation_id: String,
    pub run: Option<WorkflowRun>,
    pub conclusion: Option<String>,
    pub started: Instant,
    pub took: Option<Duration>,
}

/// What happened, for the outputs and the summary, and how the action ends.
pub struct Outcome {
    pub attempts: Vec<Attempt>,
    pub result: Result<(), ActionError>,
}

enum Next {
    Dispatch,
    Rerun(WorkflowRun),
}

/// Deploys, until done, `timeout`, or the job is cancelled; what happened until then is kept
/// for the outputs and the summary either way.
pub async fn deploy(c: &Checked, gha: &Gha) -> Outcome {
    let mut attempts = Vec::new();
    let result = tokio::select! {
        result = deploy_into(c, gha, &mut attempts) => result,
        signal = swa_gha::cancelled() => Err(ActionError::failed(format!(
            "cancelled ({signal}) while deploying the frontend of {}; a run already started \
             goes on in that repository",
            c.repo
        ))),
    };
    Outcome { attempts, result }
}

/// Bounds a request by the deadline: `None` when the deadline came first.
async fn within<T>(
    deadline: Instant,
    request: impl Future<Output = Result<T, GithubError>>,
) -> Option<Result<T, GithubError>> {
    tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), request)
        .await
        .ok()
}

fn out_of_time(c: &Checked, doing: &str) -> ActionError {
    ActionError::failed(format!(
        "timed out after {} {doing}",
        format_duration(c.timeout)
    ))
}

async fn deploy_into(
    c: &Checked,
    gha: &Gha,
    attempts: &mut Vec<Attempt>,
) -> Result<(), ActionError> {
    let gh = GitHub::new(&c.api_url, &c.token)?.warn_retries(gha);
    // The input is at most MAX_DURATION; the clamp keeps the sum from overflowing whatever
    // built the settings.
    let deadline = Instant::now() + c.timeout.min(swa_gha::MAX_DURATION);
    let mut next = Next::Dispatch;
    loop {
        let number = attempts.len() as u32 + 1;
        let (run, min_attempt) = match next {
            Next::Dispatch => {
                let correlation_id = uuid::Uuid::new_v4().to_string();
                gha.info(format!(
                    "Dispatching `{}` to {} (attempt {number} of {}), correlation id {correlation_id}",
                    Foreign(&c.event_type),
                    c.repo,
                    c.attempts
                ));
                let started = Instant::now();
                let sent = send_dispatch(&gh, c, gha, &correlation_id, deadline).await?;
                attempts.push(Attempt {
                    how: How::Dispatch,
                    correlation_id: correlation_id.clone(),
                    run: None,
                    conclusion: None,
                    started,
                    took: None,
                });
                let run = match sent {
                    Sent::Found(run) => run,
                    Sent::Accepted(since) => {
                        match find_run(&gh, c, gha, &correlation_id, since, deadline).await? {
                            Ok(run) => run,
                            Err(last_seen) => {
                                return Err(not_found(c, &correlation_id, started, &last_seen));
                            }
                        }
                    }
                    Sent::Unconfirmed(error) => return Err(error),
                };
                gha.info(format!(
                    "Found run {} ({}): {}",
                    run.id,
                    Foreign(run.display_title.as_deref().unwrap_or("")),
                    Foreign(&run.html_url)
                ));
                (run, 1)
            }
            Next::Rerun(previous) => match rerun(&gh, c, gha, &previous, deadline).await? {
                Ok(()) => {
                    gha.info(format!(
                        "Re-running the failed jobs of run {} (attempt {number} of {}): {}",
                        previous.id,
                        c.attempts,
                        Foreign(&previous.html_url)
                    ));
                    let correlation_id = attempts
                        .last()
                        .map(|a| a.correlation_id.clone())
                        .unwrap_or_default();
                    attempts.push(Attempt {
                        how: How::Rerun,
                        correlation_id,
                        run: Some(previous.clone()),
                        conclusion: None,
                        started: Instant::now(),
                        took: None,
                    });
                    let min = previous.attempt() + 1;
                    (previous, min)
                }
                Err(e) if matches!(e.status(), Some(403 | 404 | 409 | 422)) => {
                    gha.warning(format!(
                        "GitHub refused to re-run run {} ({}); dispatching again",
                        previous.id,
                        Foreign(e.message().unwrap_or("no reason given"))
                    ));
                    next = Next::Dispatch;
                    continue;
                }
                Err(e) => return Err(e.into()),
            },
        };
        if let Some(current) = attempts.last_mut() {
            current.run = Some(run.clone());
        }
        if !c.wait {
            gha.info("Not waiting for the run to finish (`wait: false`).");
            return Ok(());
        }
        let done = wait_done(&gh, c, gha, &run, min_attempt, deadline).await?;
        let conclusion = done.conclusion.clone().unwrap_or_default();
        if let Some(current) = attempts.last_mut() {
            current.took = Some(current.started.elapsed());
            current.conclusion = Some(conclusion.clone());
            current.run = Some(done.clone());
        }
        if conclusion == "success" {
            gha.info(format!(
                "Run {} succeeded: {}",
                done.id,
                Foreign(&done.html_url)
            ));
            return Ok(());
        }
        if RETRIED.contains(&conclusion.as_str()) && number < c.attempts {
            gha.warning(format!(
                "Run {} ended `{}` (attempt {number} of {}): {}",
                done.id,
                Foreign(&conclusion),
                c.attempts,
                Foreign(&done.html_url)
            ));
            next = Next::Rerun(done);
            continue;
        }
        return Err(ActionError::failed(format!(
            "the frontend deploy run {} ended `{}` after {number} attempt(s): {}",
            done.id,
            Foreign(&conclusion),
            Foreign(&done.html_url)
        )));
    }
}

/// How a dispatch went, once GitHub did not refuse it.
enum Sent {
    /// GitHub accepted it; its run is created at or after this instant by GitHub's clock.
    Accepted(OffsetDateTime),
    /// GitHub's answer was unclear, and the run it started was found.
    Found(WorkflowRun),
    /// GitHub's answers stayed unclear and no run appeared: GitHub may or may not have taken it.
    Unconfirmed(ActionError),
}

/// Sends the dispatch once. When GitHub's answer leaves open whether it accepted the dispatch
/// (5xx, no answer), the run is looked for first, for `dispatch-grace`; only when none appears
/// is the dispatch sent again, with the same correlation id, so that whichever GitHub accepted
/// is the one run found. A refusal is an error.
async fn send_dispatch(
    gh: &GitHub,
    c: &Checked,
    gha: &Gha,
    correlation_id: &str,
    deadline: Instant,
) -> Result<Sent, ActionError> {
    let mut payload = c.payload.clone();
    payload.insert(
        "correlation_id".into(),
        Value::String(correlation_id.to_string()),
    );
    let payload = Value::Object(payload);
    // Without GitHub's clock, allow for a runner clock a minute off; the id decides anyway.
    let unsure_since = OffsetDateTime::now_utc() - Duration::from_secs(60);
    let sends = gh.policy().max_attempts.max(1);
    let mut send = 1;
    loop {
        let answer = within(deadline, gh.dispatch(&c.repo, &c.event_type, &payload))
            .await
            .ok_or_else(|| out_of_time(c, "dispatching"))?;
        let e = match answer {
            Ok(dispatched) => return Ok(Sent::Accepted(dispatched.unwrap_or(unsure_since))),
            Err(e) if e.may_have_acted() => e,
            Err(e) => return Err(dispatch_error(e, c)),
        };
        gha.warning(format!(
            "{}; GitHub may have accepted the dispatch all the same, so the action looks for its \
             run for up to {} before dispatching again",
            Foreign(&e.to_string()),
            format_duration(c.dispatch_grace)
        ));
        let until = deadline.min(Instant::now() + c.dispatch_grace);
        match find_run(gh, c, gha, correlation_id, unsure_since, until).await? {
            Ok(run) => {
                gha.info(format!(
                    "GitHub had accepted the dispatch: run {} carries correlation id \
                     {correlation_id}",
                    run.id
                ));
                return Ok(Sent::Found(run));
            }
            Err(_) if Instant::now() >= deadline => {
                return Ok(Sent::Unconfirmed(out_of_time(
                    c,
                    "looking for the run of a dispatch GitHub did not confirm",
                )));
            }
            Err(_) if send >= sends => {
                return Ok(Sent::Unconfirmed(ActionError::failed(format!(
                    "{}; the dispatch was sent {send} times and no run named with correlation \
                     id {correlation_id} appeared within {} of any of them",
                    Foreign(&e.to_string()),
                    format_duration(c.dispatch_grace)
                ))));
            }
            Err(_) => {
                send += 1;
                gha.info(format!(
                    "No run named with correlation id {correlation_id} within {}: dispatching \
                     again (send {send} of {sends})",
                    format_duration(c.dispatch_grace)
                ));
            }
        }
    }
}

fn not_found(c: &Checked, correlation_id: &str, sent: Instant, last_seen: &str) -> ActionError {
    ActionError::failed(format!(
        "no run of {} named with correlation id {correlation_id} appeared within {} of the \
         dispatch (last look: {last_seen}). The receiving workflow must listen for \
         `repository_dispatch` type `{}` and set `run-name: Deploy ${{{{ \
         github.event.client_payload.correlation_id }}}}`",
        c.repo,
        format_duration(sent.elapsed()),
        Foreign(&c.event_type)
    ))
}

/// Asks for a re-run of the run's failed jobs. After an unclear answer (5xx, none), the run is
/// read: a new attempt means GitHub took the request, which is then not sent again.
async fn rerun(
    gh: &GitHub,
    c: &Checked,
    gha: &Gha,
    previous: &WorkflowRun,
    deadline: Instant,
) -> Result<Result<(), GithubError>, ActionError> {
    let sends = gh.policy().max_attempts.max(1);
    let mut send = 1;
    loop {
        let answer = within(deadline, gh.rerun_failed_jobs(&c.repo, previous.id))
            .await
            .ok_or_else(|| out_of_time(c, "asking for a re-run"))?;
        let e = match answer {
            Err(e) if e.may_have_acted() => e,
            other => return Ok(other),
        };
        gha.warning(format!(
            "{}; reading run {} to see whether GitHub re-ran it all the same",
            Foreign(&e.to_string()),
            previous.id
        ));
        if let Some(Ok(now)) = within(deadline, gh.get_run(&c.repo, previous.id)).await
            && now.attempt() > previous.attempt()
        {
            return Ok(Ok(()));
        }
        if send >= sends || Instant::now() >= deadline {
            return Ok(Err(e));
        }
        send += 1;
    }
}

/// Looks for the run named with the correlation id, created at or after `since` by GitHub's
/// clock, until `until`. Runs created before it, or carrying other ids, are not it. `Err` says
/// what the last look saw when no run appeared in time.
async fn find_run(
    gh: &GitHub,
    c: &Checked,
    gha: &Gha,
    correlation_id: &str,
    since: OffsetDateTime,
    until: Instant,
) -> Result<Result<WorkflowRun, String>, ActionError> {
    let filter = RunFilter {
        event: Some("repository_dispatch".into()),
        created_since: Some(since),
        workflow: c.workflow.clone(),
    };
    let mut last_seen = String::from("no answer from GitHub yet");
    loop {
        match within(until, gh.list_runs(&c.repo, &filter)).await {
            None => {}
            Some(Ok(runs)) => {
                let found = runs
                    .iter()
                    .filter(|r| r.named_with(correlation_id))
                    .filter(|r| r.created().is_some_and(|t| t >= since))
                    .min_by_key(|r| (r.created(), r.id));
                if let Some(run) = found {
                    return Ok(Ok(run.clone()));
                }
                last_seen = format!(
                    "{} run(s) listed, none named with the id and created after the dispatch",
                    runs.len()
                );
            }
            Some(Err(e)) if e.is_transient() => {
                gha.warning(format!(
                    "Listing runs failed, still looking: {}",
                    Foreign(&e.to_string())
                ));
                last_seen = e.to_string();
            }
            Some(Err(e)) => return Err(read_error(e, c)),
        }
        // GitHub starts a run within seconds of the dispatch: look often until it shows.
        if !pause(c.poll.min(Duration::from_secs(2)), until).await {
            return Ok(Err(last_seen));
        }
    }
}

/// Waits until the run completes; after a re-run, until the new attempt completes.
async fn wait_done(
    gh: &GitHub,
    c: &Checked,
    gha: &Gha,
    run: &WorkflowRun,
    min_attempt: u32,
    deadline: Instant,
) -> Result<WorkflowRun, ActionError> {
    let mut last_state = String::new();
    let mut seen_active = false;
    let mut last = run.clone();
    loop {
        match within(deadline, gh.get_run(&c.repo, run.id)).await {
            None => {}
            Some(Ok(now)) => {
                let state = format!("{} (run attempt {})", Foreign(&now.state()), now.attempt());
                if state != last_state {
                    gha.info(format!("Run {}: {state}", now.id));
                    last_state = state;
                }
                if !now.is_completed() {
                    seen_active = true;
                } else if now.attempt() >= min_attempt || seen_active {
                    return Ok(now);
                }
                last = now;
            }
            Some(Err(e)) if e.is_transient() => {
                gha.warning(format!(
                    "Reading run {} failed, still waiting: {}",
                    run.id,
                    Foreign(&e.to_string())
                ));
            }
            Some(Err(e)) => return Err(read_error(e, c)),
        }
        if !pause(c.poll, deadline).await {
            return Err(ActionError::failed(format!(
                "timed out after {} waiting for run {} to finish: it was last {} (run attempt \
                 {}): {}",
                format_duration(c.timeout),
                last.id,
                Foreign(&last.state()),
                last.attempt(),
                Foreign(&last.html_url)
            )));
        }
    }
}

/// Sleeps one poll interval, or until the deadline; false when the deadline has passed.
async fn pause(poll: Duration, deadline: Instant) -> bool {
    let now = Instant::now();
    if now >= deadline {
        return false;
    }
    tokio::time::sleep(poll.min(deadline - now)).await;
    true
}

fn dispatch_error(e: GithubError, c: &Checked) -> ActionError {
    match e.status() {
        Some(401) => ActionError::input_with_source("token", e),
        Some(403) => ActionError::input(
            "token",
            format!(
                "may not dispatch to {}: it needs Contents: write on it (a classic token: the \
                 repo scope). {}",
                c.repo,
                Foreign(&e.to_string())
            ),
        ),
        Some(404) => ActionError::input(
            "repository",
            format!(
                "`{}` was not found, or the token cannot see it: check the name, and give the \
                 token Contents: write on it (a classic token: the repo scope). {}",
                c.repo,
                Foreign(&e.to_string())
            ),
        ),
        Some(422) => {
            let message = e.message().unwrap_or_default().to_string();
            let input = if message.contains("event_type") {
                "event-type"
            } else {
                "client-payload"
            };
            ActionError::input(
                input,
                format!("was refused by GitHub: {}", Foreign(&e.to_string())),
            )
        }
        _ => e.into(),
    }
}

fn read_error(e: GithubError, c: &Checked) -> ActionError {
    match (e.status(), &c.workflow) {
        (Some(404), Some(workflow)) => ActionError::input(
            "workflow",
            format!(
                "`{workflow}` is not a workflow of {}: {}",
                c.repo,
                Foreign(&e.to_string())
            ),
        ),
        (Some(401 | 403 | 404), _) => ActionError::input(
            "token",
            format!(
                "cannot read the workflow runs of {}: it needs Actions: read (Actions: write to \
                 re-run). {}",
                c.repo,
                Foreign(&e.to_string())
            ),
        ),
        _ => e.into(),
    }
}

/// Writes the outputs and the summary, and ends the action as the outcome says.
pub fn report(c: &Checked, gha: &Gha, outcome: Outcome) -> Result<(), ActionError> {
    let last_run = outcome.attempts.iter().rev().find_map(|a| a.run.as_ref());
    let conclusion = outcome
        .attempts
        .last()
        .and_then(|a| a.conclusion.clone())
        .unwrap_or_default();
    if !outcome.attempts.is_empty() {
        let run_id = last_run.map(|r| r.id.to_string()).unwrap_or_default();
        let run_url = last_run.map(|r| r.html_url.clone()).unwrap_or_default();
        gha.set_output("skipped", "false")?;
        gha.set_output("run-id", &run_id)?;
        gha.set_output("run-url", &run_url)?;
        gha.set_output("conclusion", &conclusion)?;
        gha.set_output("attempts", &outcome.attempts.len().to_string())?;
        gha.summary(&summary(c, &outcome))?;
    }
    outcome.result
}

fn summary(c: &Checked, outcome: &Outcome) -> String {
    let verdict = match &outcome.result {
        Ok(()) if !c.wait => "dispatched".to_string(),
        Ok(()) => "success".to_string(),
        Err(_) => "failed".to_string(),
    };
    let mut md = format!("### Frontend deploy: {} {verdict}\n\n", c.repo);
    md.push_str("| Attempt | How | Run | Result | Time |\n|---|---|---|---|---|\n");
    for (i, a) in outcome.attempts.iter().enumerate() {
        let how = match a.how {
            How::Dispatch => format!("dispatch {}", md::code(&c.event_type)),
            How::Rerun => "re-run of failed jobs".to_string(),
        };
        let run = a
            .run
            .as_ref()
            .map(run_cell)
            .unwrap_or_else(|| "not found".into());
        let result = match &a.conclusion {
            Some(conclusion) => md::text(conclusion),
            None if c.wait => "did not finish".into(),
            None => "not waited for".into(),
        };
        let took = a.took.map(format_duration).unwrap_or_default();
        md.push_str(&format!(
            "| {} | {how} | {run} | {result} | {took} |\n",
            i + 1
        ));
    }
    md.push('\n');
    let mut facts = Vec::new();
    if let Some(r) = &c.frontend_ref {
        facts.push(format!("frontend ref {}", md::code(r)));
    }
    if let Some(sha) = &c.sha {
        facts.push(format!("backend commit `{sha}`"));
    }
    if let Some(a) = outcome.attempts.last() {
        facts.push(format!("correlation id `{}`", a.correlation_id));
    }
    if !facts.is_empty() {
        let mut line = facts.join(", ");
        if let Some(first) = line.get(..1) {
            line = first.to_uppercase() + &line[1..];
        }
        md.push_str(&format!("{line}.\n"));
    }
    if let Err(e) = &outcome.result {
        md.push_str(&format!("\n**Failed:** {}\n", md::text(&e.to_string())));
    }
    md
}

/// The run as a table cell: a link to it when its URL is a plain http(s) URL, else the URL as
/// code, then its name.
fn run_cell(run: &WorkflowRun) -> String {
    let url = run.html_url.as_str();
    let plain = (url.starts_with("https://") || url.starts_with("http://"))
        && url.chars().all(|c| {
            c.is_ascii_graphic()
                && !matches!(
                    c,
                    '(' | ')' | '<' | '>' | '[' | ']' | '|' | '\\' | '`' | '"'
                )
        });
    let mut cell = if plain {
        format!("[#{}]({url})", run.id)
    } else {
        format!("#{} {}", run.id, md::code(url))
    };
    if let Some(name) = run.display_title.as_deref().filter(|n| !n.is_empty()) {
        cell.push(' ');
        cell.push_str(&md::text(name));
    }
    cell
}
