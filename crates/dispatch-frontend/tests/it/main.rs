//! dispatch-frontend run as a workflow runs it, against a wiremock GitHub (and the sandbox).
#![allow(clippy::unwrap_used)]

mod dropping;
mod fake;
mod sandbox;
mod unsure;

use std::time::Duration;

use fake::{Fake, REPO};
use serde_json::json;
use swa_testing::{StepRun, run_step};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

const BIN: &str = env!("CARGO_BIN_EXE_dispatch-frontend");
const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const FRONTEND_REF: &str = "fedcba9876543210fedcba9876543210fedcba98";

/// Asserts snapshots of what users read with what varies between runs (correlation ids,
/// ports, times, durations) replaced by placeholders.
pub(crate) fn snapshots(assertions: impl FnOnce()) {
    let mut settings = swa_testing::snapshot_settings();
    settings.add_filter(
        r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
        "[CORRELATION-ID]",
    );
    settings.add_filter(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\b", "[TIME]");
    settings.add_filter(swa_testing::DURATION, "[DURATION]");
    settings.bind(assertions);
}

pub async fn serve(fake: &Fake) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(fake.clone())
        .mount(&server)
        .await;
    server
}

pub async fn dispatch(
    server: &MockServer,
    token: &str,
    extra: &[(&str, &str)],
    env: &[(&str, &str)],
) -> StepRun {
    let api = server.uri();
    let mut inputs = vec![
        ("repository", REPO),
        ("token", token),
        ("frontend-ref", FRONTEND_REF),
        ("api-url", api.as_str()),
        ("timeout", "60s"),
    ];
    for (k, v) in extra {
        inputs.retain(|(name, _)| name != k);
        inputs.push((k, v));
    }
    let mut all_env = vec![("GITHUB_SHA", SHA), ("SWA_POLL_INTERVAL", "50ms")];
    all_env.extend_from_slice(env);
    let run = run_step(BIN, &inputs, &all_env).await;
    run.assert_secret_hidden(token);
    run
}

#[tokio::test]
async fn dispatches_the_tested_commit_and_waits_for_its_own_run_among_decoys() {
    let fake = Fake::new(&["success"]);
    let server = serve(&fake).await;
    let token = "ghp_happyPathToken000000000000000001";
    let run = dispatch(
        &server,
        token,
        &[("client-payload", r#"{"environment": "production"}"#)],
        &[],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.log);
    let sent = fake.with(|s| s.dispatches.clone());
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["event_type"], "deploy-production");
    let payload = &sent[0]["client_payload"];
    assert_eq!(payload["frontend_ref"], FRONTEND_REF);
    assert_eq!(payload["sha"], SHA);
    assert_eq!(payload["environment"], "production");
    let correlation = payload["correlation_id"].as_str().unwrap();
    assert_eq!(correlation.len(), 36, "{correlation}");
    // The run listed an hour before the dispatch with the same id, and the one with another id,
    // are not taken.
    assert_eq!(run.output("run-id"), "5000");
    assert_eq!(
        run.output("run-url"),
        format!("https://github.com/{REPO}/actions/runs/5000")
    );
    assert_eq!(run.output("conclusion"), "success");
    assert_eq!(run.output("attempts"), "1");
    let order: Vec<&str> = run
        .outputs_raw
        .lines()
        .filter_map(|l| l.split_once("<<").map(|p| p.0))
        .collect();
    assert_eq!(order, dispatch_frontend::OUTPUTS);
    snapshots(|| {
        insta::assert_snapshot!("dispatched_log", run.log);
        insta::assert_snapshot!("dispatched_summary", run.summary);
    });
    // The search looked only at dispatch runs created since the dispatch.
    let list = fake
        .requests()
        .into_iter()
        .find(|r| fake::operation_of(r) == "list")
        .unwrap();
    assert!(list.contains("event=repository_dispatch"), "{list}");
    assert!(list.contains("created=%3E%3D"), "{list}");
    assert_eq!(fake.count("rerun"), 0);
}

#[tokio::test]
async fn a_failed_run_has_its_failed_jobs_re_run() {
    let fake = Fake::new(&["failure", "success"]);
    let server = serve(&fake).await;
    let token = "ghp_rerunToken0000000000000000000002";
    let run = dispatch(&server, token, &[], &[]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(fake.count("dispatch"), 1);
    assert_eq!(fake.count("rerun"), 1);
    assert!(fake.requests().contains(&format!(
        "POST /repos/{REPO}/actions/runs/5000/rerun-failed-jobs"
    )));
    assert_eq!(run.output("run-id"), "5000");
    assert_eq!(run.output("conclusion"), "success");
    assert_eq!(run.output("attempts"), "2");
    snapshots(|| {
        insta::assert_snapshot!("re_run_log", run.log);
        insta::assert_snapshot!("re_run_summary", run.summary);
    });
}

#[tokio::test]
async fn a_refused_re_run_becomes_a_new_dispatch_with_a_new_id() {
    let fake = Fake::new(&["failure", "success"]);
    fake.with(|s| s.refuse_rerun = true);
    let server = serve(&fake).await;
    let token = "ghp_redispatchToken0000000000000003";
    let run = dispatch(&server, token, &[], &[]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    let sent = fake.with(|s| s.dispatches.clone());
    assert_eq!(sent.len(), 2);
    assert_ne!(
        sent[0]["client_payload"]["correlation_id"],
        sent[1]["client_payload"]["correlation_id"]
    );
    assert_eq!(sent[1]["client_payload"]["frontend_ref"], FRONTEND_REF);
    assert_eq!(run.output("run-id"), "5001");
    assert_eq!(run.output("attempts"), "2");
    snapshots(|| insta::assert_snapshot!("re_dispatched_log", run.log));
}

#[tokio::test]
async fn attempts_are_bounded_and_the_last_conclusion_fails_the_step() {
    let fake = Fake::new(&["failure", "failure", "success"]);
    let server = serve(&fake).await;
    let token = "ghp_boundedToken00000000000000000004";
    let run = dispatch(&server, token, &[("attempts", "2")], &[]).await;
    assert_eq!(run.code, 1, "{}", run.log);
    assert_eq!(fake.count("rerun"), 1);
    assert_eq!(run.output("conclusion"), "failure");
    assert_eq!(run.output("attempts"), "2");
    snapshots(|| {
        insta::assert_snapshot!("failed_log", run.log);
        insta::assert_snapshot!("failed_summary", run.summary);
    });
}

#[tokio::test]
async fn a_cancelled_run_is_not_retried() {
    let fake = Fake::new(&["cancelled"]);
    let server = serve(&fake).await;
    let run = dispatch(&server, "ghp_cancelToken000000000000000000005", &[], &[]).await;
    assert_eq!(run.code, 1, "{}", run.log);
    assert_eq!(fake.count("rerun"), 0);
    assert_eq!(fake.count("dispatch"), 1);
    assert_eq!(run.output("conclusion"), "cancelled");
}

async fn refused_dispatch(status: u16, body: serde_json::Value, token: &str) -> (StepRun, Fake) {
    let fake = Fake::new(&["success"]);
    fake.with(|s| {
        s.always = Some((
            "dispatch",
            ResponseTemplate::new(status).set_body_json(body),
        ))
    });
    let server = serve(&fake).await;
    (dispatch(&server, token, &[], &[]).await, fake)
}

#[tokio::test]
async fn a_refused_token_is_named() {
    let token = "bad-token-0000000000000000000000006";
    let (run, fake) = refused_dispatch(401, json!({"message": "Bad credentials"}), token).await;
    assert_eq!(run.code, 2, "{}", run.log);
    assert_eq!(
        run.errors(),
        [format!(
            "::error title=Invalid input `token`::POST /repos/{REPO}/dispatches: GitHub refused the token (401 Bad credentials): it is expired, revoked or mistyped"
        )]
    );
    assert_eq!(fake.count("dispatch"), 1, "a 401 is not retried");
}

#[tokio::test]
async fn a_missing_repository_is_named_with_the_scope_it_needs() {
    let (run, fake) = refused_dispatch(
        404,
        json!({"message": "Not Found"}),
        "ghp_missingRepo0000000000000000007",
    )
    .await;
    assert_eq!(run.code, 2, "{}", run.log);
    let errors = run.errors();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].starts_with(&format!("::error title=Invalid input `repository`::input `repository` `{REPO}` was not found, or the token cannot see it")), "{}", errors[0]);
    assert!(errors[0].contains("Contents: write"), "{}", errors[0]);
    assert_eq!(fake.count("dispatch"), 1);
    assert_eq!(fake.count("list"), 0);
}

#[tokio::test]
async fn a_payload_github_refuses_is_named() {
    let (run, _) = refused_dispatch(
        422,
        json!({"message": "Validation Failed", "errors": [{"resource": "Dispatch", "field": "event_type", "code": "invalid"}]}),
        "ghp_refusedPayload00000000000000008",
    )
    .await;
    assert_eq!(run.code, 2, "{}", run.log);
    let errors = run.errors();
    assert!(
        errors[0].starts_with(
            "::error title=Invalid input `event-type`::input `event-type` was refused by GitHub:"
        ),
        "{}",
        errors[0]
    );
    assert!(
        errors[0].contains("422 Validation Failed: event_type invalid"),
        "{}",
        errors[0]
    );
    assert!(
        run.outputs.is_empty(),
        "nothing started, so no run to report"
    );
}

#[tokio::test]
async fn server_errors_and_rate_limits_are_retried_honouring_retry_after() {
    let fake = Fake::new(&["success"]);
    fake.with(|s| {
        s.faults.push_back((
            "dispatch",
            ResponseTemplate::new(429).insert_header("retry-after", "0"),
        ));
        s.faults.push_back((
            "list",
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(json!({"message": "You have exceeded a secondary rate limit"})),
        ));
        s.faults.push_back(("get", ResponseTemplate::new(503)));
    });
    let server = serve(&fake).await;
    let token = "ghp_flakyToken00000000000000000000009";
    let run = dispatch(&server, token, &[], &[]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(fake.count("dispatch"), 2);
    assert_eq!(
        run.output("attempts"),
        "1",
        "retried requests are not attempts"
    );
    assert!(
        run.log.contains(&format!(
            "::warning::GitHub: 429 Too Many Requests (Retry-After: 0) on POST /repos/{REPO}/dispatches; retrying in"
        )),
        "{}",
        run.log
    );
    assert!(
        run.log
            .contains("429 Too Many Requests (Retry-After: 1) on GET"),
        "{}",
        run.log
    );
    assert!(
        run.log.contains("; retrying in 1.0s (attempt 2 of 5)"),
        "{}",
        run.log
    );
    assert!(
        run.log.contains("503 Service Unavailable on GET"),
        "{}",
        run.log
    );
}

#[tokio::test]
async fn a_run_that_never_carries_the_id_ends_at_the_timeout_and_says_how_to_fix_it() {
    let fake = Fake::new(&["success"]);
    fake.with(|s| s.unnamed = true);
    let server = serve(&fake).await;
    let token = "ghp_unnamedToken0000000000000000010";
    let run = dispatch(&server, token, &[("timeout", "2s")], &[]).await;
    assert_eq!(run.code, 1, "{}", run.log);
    let errors = run.errors();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].contains("named with correlation id"),
        "{}",
        errors[0]
    );
    assert!(
        errors[0].contains("run-name: Deploy ${{ github.event.client_payload.correlation_id }}"),
        "{}",
        errors[0]
    );
    assert!(
        errors[0].contains("3 run(s) listed, none named with the id"),
        "{}",
        errors[0]
    );
    assert_eq!(fake.count("dispatch"), 1);
}

#[tokio::test]
async fn a_run_that_never_finishes_ends_at_the_timeout_with_what_was_last_seen() {
    let fake = Fake::new(&["in_progress"]);
    let server = serve(&fake).await;
    let token = "ghp_slowRunToken0000000000000000011";
    let run = dispatch(&server, token, &[("timeout", "2s")], &[]).await;
    assert_eq!(run.code, 1, "{}", run.log);
    assert_eq!(
        run.errors(),
        [format!(
            "::error::timed out after 2.0s waiting for run 5000 to finish: it was last in_progress (run attempt 1): https://github.com/{REPO}/actions/runs/5000"
        )]
    );
    assert_eq!(run.output("run-id"), "5000");
    assert_eq!(run.output("conclusion"), "");
}

#[tokio::test]
async fn without_wait_the_run_is_found_and_not_waited_for() {
    let fake = Fake::new(&["in_progress"]);
    let server = serve(&fake).await;
    let token = "ghp_noWaitToken00000000000000000012";
    let run = dispatch(&server, token, &[("wait", "false")], &[]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(run.output("run-id"), "5000");
    assert_eq!(run.output("conclusion"), "");
    assert_eq!(run.output("attempts"), "1");
    assert_eq!(fake.count("get"), 0);
    assert!(run.summary.contains("not waited for"), "{}", run.summary);
}

#[tokio::test]
async fn the_workflow_input_narrows_the_search_and_the_api_url_comes_from_the_environment() {
    let fake = Fake::new(&["success"]);
    let server = serve(&fake).await;
    let token = "ghp_workflowToken000000000000000013";
    let api = server.uri();
    let run = dispatch(
        &server,
        token,
        &[
            ("workflow", ".github/workflows/deploy.yml"),
            ("api-url", ""),
        ],
        &[("GITHUB_API_URL", api.as_str())],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert!(
        fake.requests().iter().any(|r| r.starts_with(&format!(
            "GET /repos/{REPO}/actions/workflows/deploy.yml/runs?"
        ))),
        "{:?}",
        fake.requests()
    );
}

#[tokio::test]
async fn bad_input_is_named_and_nothing_is_sent() {
    let long_event = "e".repeat(101);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![("client-payload", "{\"environment\": ")],
            "client-payload",
        ),
        (vec![("client-payload", "[1, 2]")], "client-payload"),
        (
            vec![("client-payload", r#"{"correlation_id": "mine"}"#)],
            "client-payload",
        ),
        (
            vec![(
                "client-payload",
                r#"{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8}"#,
            )],
            "client-payload",
        ),
        (vec![("repository", "startupwebapp-frontend")], "repository"),
        (vec![("api-url", "not a url")], "api-url"),
        (vec![("event-type", long_event.as_str())], "event-type"),
        (vec![("event-type", "deploy\nproduction")], "event-type"),
        (vec![("event-type", "deploy\u{1b}[2J")], "event-type"),
        (vec![("api-url", "http://:hunter2@127.0.0.1:9")], "api-url"),
        (
            vec![("api-url", "http://user:hunter2@127.0.0.1:9")],
            "api-url",
        ),
        (vec![("dispatch-grace", "soon")], "dispatch-grace"),
        (vec![("attempts", "0")], "attempts"),
        (vec![("wait", "yes")], "wait"),
        (vec![("timeout", "soon")], "timeout"),
        (vec![("workflow", "deploy")], "workflow"),
        (vec![("frontend-ref", "main branch")], "frontend-ref"),
        (vec![("token", "ghp has spaces")], "token"),
    ];
    for (inputs, named) in cases {
        let fake = Fake::new(&["success"]);
        let server = serve(&fake).await;
        let token = "ghp_badInputToken000000000000000014";
        let run = dispatch(&server, token, &inputs, &[]).await;
        assert_eq!(run.code, 2, "{inputs:?}: {}", run.log);
        let errors = run.errors();
        assert_eq!(errors.len(), 1, "{inputs:?}: {}", run.log);
        assert!(
            errors[0].starts_with(&format!(
                "::error title=Invalid input `{named}`::input `{named}`"
            )),
            "{inputs:?}: {}",
            errors[0]
        );
        assert!(
            fake.requests().is_empty(),
            "{inputs:?}: {:?}",
            fake.requests()
        );
        assert!(run.outputs.is_empty());
        // A bad token is never echoed back, even in the message about it; nor are credentials
        // written into the API URL.
        assert!(!run.everything().contains("ghp has spaces"));
        assert!(!run.everything().contains("hunter2"));
    }
}

#[tokio::test]
async fn a_missing_required_input_is_named() {
    let run = run_step(BIN, &[("repository", REPO)], &[]).await;
    assert_eq!(run.code, 2, "{}", run.log);
    assert!(
        run.errors()[0]
            .starts_with("::error title=Invalid input `token`::input `token` is required"),
        "{}",
        run.log
    );
}

#[tokio::test]
async fn a_connection_that_drops_is_retried() {
    // A port nothing listens on: every attempt fails to connect, within the bounds.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let api = format!("http://127.0.0.1:{port}");
    let token = "ghp_noServerToken000000000000000015";
    let run = run_step(
        BIN,
        &[
            ("repository", REPO),
            ("token", token),
            ("api-url", api.as_str()),
        ],
        &[("SWA_POLL_INTERVAL", "50ms")],
    )
    .await;
    run.assert_secret_hidden(token);
    assert_eq!(run.code, 1, "{}", run.log);
    assert_eq!(
        run.log.matches("could not connect on POST").count(),
        4,
        "{}",
        run.log
    );
    assert!(
        run.errors()[0].contains("no answer from GitHub after 5 attempt(s)"),
        "{}",
        run.log
    );
    let _ = Duration::ZERO;
}

#[tokio::test]
async fn a_cancelled_job_stops_waiting_and_still_reports_the_run() {
    use tokio::io::{AsyncBufReadExt, BufReader};

    let fake = Fake::new(&["in_progress"]);
    let server = serve(&fake).await;
    let dir = tempfile::tempdir().unwrap();
    let token = "ghp_cancelledJobToken00000000000016";
    let mut child = tokio::process::Command::new(BIN)
        .env_clear()
        .env("GITHUB_OUTPUT", dir.path().join("output"))
        .env("GITHUB_STEP_SUMMARY", dir.path().join("summary"))
        .env("SWA_POLL_INTERVAL", "50ms")
        .env("INPUT_REPOSITORY", REPO)
        .env("INPUT_TOKEN", token)
        .env("INPUT_API-URL", server.uri())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut log = String::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        log.push_str(&line);
        log.push('\n');
        if line.starts_with("Run 5000: in_progress") {
            break;
        }
    }
    let pid = child.id().unwrap().to_string();
    let killed = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    while let Some(line) = lines.next_line().await.unwrap() {
        log.push_str(&line);
        log.push('\n');
    }
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(
        log.contains("::error::cancelled (SIGTERM) while deploying the frontend of org/startupwebapp-frontend"),
        "{log}"
    );
    let outputs = std::fs::read_to_string(dir.path().join("output")).unwrap();
    assert!(outputs.contains("\n5000\n"), "{outputs}");
    let summary = std::fs::read_to_string(dir.path().join("summary")).unwrap();
    assert!(summary.contains("did not finish"), "{summary}");
    assert!(
        !format!("{log}{outputs}{summary}")
            .replace(&format!("::add-mask::{token}"), "")
            .contains(token)
    );
}

#[tokio::test]
async fn the_timeout_bounds_a_request_that_hangs() {
    let fake = Fake::new(&["success"]);
    fake.with(|s| {
        s.always = Some((
            "get",
            ResponseTemplate::new(200)
                .set_body_json(json!({}))
                .set_delay(Duration::from_secs(120)),
        ))
    });
    let server = serve(&fake).await;
    let token = "ghp_hangingRequestToken000000000017";
    let run = dispatch(&server, token, &[("timeout", "3s")], &[]).await;
    assert_eq!(run.code, 1, "{}", run.log);
    assert_eq!(
        run.errors(),
        [format!(
            "::error::timed out after 3.0s waiting for run 5000 to finish: it was last in_progress (run attempt 1): https://github.com/{REPO}/actions/runs/5000"
        )]
    );
    // One request, cut at the deadline: not five tries of the client's own 30s timeout.
    assert_eq!(fake.count("get"), 1);
}

#[tokio::test]
async fn an_event_type_of_more_than_one_line_or_an_api_url_with_credentials_is_refused() {
    let fake = Fake::new(&["success"]);
    let server = serve(&fake).await;
    let mut errors = Vec::new();
    for input in [
        ("event-type", "deploy-production\n::warning::x"),
        ("event-type", "deploy\tproduction"),
        ("api-url", "http://:hunter2@127.0.0.1:9"),
        ("api-url", "https://user:hunter2@ghe.example.com/api/v3"),
    ] {
        let run = dispatch(
            &server,
            "ghp_badInputToken000000000000000022",
            &[input],
            &[],
        )
        .await;
        assert_eq!(run.code, 2, "{input:?}: {}", run.log);
        assert!(
            !run.everything().contains("hunter2"),
            "{}",
            run.everything()
        );
        errors.extend(run.errors().iter().map(|e| e.to_string()));
    }
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
    insta::assert_snapshot!(errors.join("\n"), @r"
    ::error title=Invalid input `event-type`::input `event-type` has a control character (a line break, tab or the like) at character 18; an event type is one line of text
    ::error title=Invalid input `event-type`::input `event-type` has a control character (a line break, tab or the like) at character 7; an event type is one line of text
    ::error title=Invalid input `api-url`::input `api-url` is a URL with credentials (`user:password@`); give the plain base URL, such as https://api.github.com, and the token as `token`
    ::error title=Invalid input `api-url`::input `api-url` is a URL with credentials (`user:password@`); give the plain base URL, such as https://api.github.com, and the token as `token`
    ");
}
