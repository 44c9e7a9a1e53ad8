//! smoke-test run as a workflow runs it, against wiremock (and the sandbox's app).
#![allow(clippy::unwrap_used)]

mod parsers;
mod redact;
mod sandbox;
mod variables;

use std::time::Duration;

use serde_json::{Value, json};
use swa_testing::run_step;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_smoke-test");

/// Asserts snapshots of what users read with what varies between runs (ports, latencies)
/// replaced by placeholders.
pub(crate) fn snapshots(assertions: impl FnOnce()) {
    let mut settings = swa_testing::snapshot_settings();
    settings.add_filter(r"(\d{3}) in \d+ ?ms", "$1 in [LATENCY]");
    settings.add_filter(r"\| \d+ ?ms \|", "| [LATENCY] |");
    settings.bind(assertions);
}

fn report(run: &swa_testing::StepRun) -> Value {
    serde_json::from_str(run.output("report")).unwrap()
}

#[tokio::test]
async fn with_only_a_base_url_health_must_say_healthy() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/_app/health"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"status": "healthy", "database": "ok"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let base = format!("{}/_app", server.uri());
    let run = run_step(BIN, &[("base-url", &base)], &[]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(run.output("passed"), "1");
    assert_eq!(run.output("failed"), "0");
    let order: Vec<&str> = run
        .outputs_raw
        .lines()
        .filter_map(|l| l.split_once("<<").map(|p| p.0))
        .collect();
    assert_eq!(order, smoke_test::OUTPUTS);
    let report = report(&run);
    assert_eq!(report["checks"][0]["name"], "GET /health");
    assert_eq!(report["checks"][0]["url"], format!("{base}/health"));
    assert_eq!(report["checks"][0]["status"], 200);
    assert_eq!(report["checks"][0]["attempts"], 1);
    snapshots(|| {
        insta::assert_snapshot!("healthy_log", run.log);
        insta::assert_snapshot!("healthy_summary", run.summary);
    });
}

#[tokio::test]
async fn an_unhealthy_answer_fails_with_the_reason() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/health"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"status": "degraded", "database": "down"})),
        )
        .expect(2)
        .mount(&server)
        .await;
    let run = run_step(
        BIN,
        &[
            ("base-url", &server.uri()),
            ("retries", "1"),
            ("retry-delay", "10ms"),
        ],
        &[],
    )
    .await;
    assert_eq!(run.code, 1, "{}", run.log);
    assert_eq!(run.output("failed"), "1");
    let reason = "JSON `$.status` is \"degraded\", expected \"healthy\"";
    assert_eq!(report(&run)["checks"][0]["reason"], reason);
    assert_eq!(report(&run)["checks"][0]["attempts"], 2);
    snapshots(|| {
        insta::assert_snapshot!("unhealthy_log", run.log);
        insta::assert_snapshot!("unhealthy_summary", run.summary);
    });
}

#[tokio::test]
async fn a_check_that_fails_once_passes_on_retry() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/"))
        .respond_with(ResponseTemplate::new(503).set_body_string("warming up"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<title>StartupWebApp</title>"))
        .expect(1)
        .mount(&server)
        .await;
    let checks = "- name: frontend\n  path: /\n  expect-body: '<title>StartupWebApp</title>'\n";
    let run = run_step(
        BIN,
        &[
            ("base-url", &server.uri()),
            ("checks", checks),
            ("retry-delay", "10ms"),
        ],
        &[],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(report(&run)["checks"][0]["attempts"], 2);
    snapshots(|| insta::assert_snapshot!("retried_log", run.log));
}

#[tokio::test]
async fn every_field_of_a_check_is_applied_and_secrets_never_show() {
    let server = MockServer::start().await;
    let bearer = "sk_live_authorizationSECRET0001";
    let session = "sessionCOOKIEvalue0002";
    let issued = "issuedSESSIONcookie0003";
    Mock::given(method("POST"))
        .and(path("/user/login"))
        .and(header("authorization", format!("Bearer {bearer}").as_str()))
        .and(header("cookie", format!("csrftoken={session}").as_str()))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({"username": "smoke", "password": "pw"})))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header(
                    "set-cookie",
                    format!("sessionid={issued}; HttpOnly; Path=/").as_str(),
                )
                // A server that echoes what it got must not leak it either.
                .set_body_json(
                    json!({"ok": true, "echo": format!("Bearer {bearer} {session} {issued}")}),
                ),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(400)))
        .mount(&server)
        .await;
    let checks = format!(
        r#"
- name: login
  path: /user/login
  method: POST
  headers:
    Authorization: Bearer {bearer}
    Cookie: csrftoken={session}
  body: {{username: smoke, password: pw}}
  expect-status: [200, 302]
  expect-json: {{ok: true}}
  expect-body: 'Bearer \S+'
- name: slow page
  url: {}/slow
  max-latency-ms: 100
"#,
        server.uri()
    );
    let run = run_step(
        BIN,
        &[
            ("base-url", &server.uri()),
            ("checks", &checks),
            ("retries", "0"),
        ],
        &[],
    )
    .await;
    assert_eq!(run.code, 1, "{}", run.log);
    for secret in [bearer, session, issued] {
        run.assert_secret_hidden(secret);
    }
    let report = report(&run);
    assert_eq!(report["passed"], 1);
    assert_eq!(report["failed"], 1);
    assert_eq!(report["checks"][0]["passed"], true, "{report}");
    let reason = report["checks"][1]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("took ") && reason.ends_with(" ms, more than max-latency-ms 100"),
        "{reason}"
    );
    assert!(!run.everything().to_lowercase().contains("authorization:"));
}

#[tokio::test]
async fn many_checks_are_reported_in_the_order_written() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(500)))
        .expect(4)
        .mount(&server)
        .await;
    let checks = "- path: /a\n- path: /b\n- path: /c\n- path: /d\n";
    let started = std::time::Instant::now();
    let run = run_step(
        BIN,
        &[
            ("base-url", &server.uri()),
            ("checks", checks),
            ("concurrency", "4"),
        ],
        &[],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(run.output("passed"), "4");
    let names: Vec<Value> = report(&run)["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].clone())
        .collect();
    assert_eq!(
        names,
        ["GET /a", "GET /b", "GET /c", "GET /d"],
        "the report keeps the order written"
    );
    // Informational only; not asserted (a loaded machine may be slow).
    let _ = started.elapsed();
}

#[tokio::test]
async fn checks_come_from_a_file_relative_to_the_workspace() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/health"))
        .respond_with(ResponseTemplate::new(204))
        .expect(2)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".github")).unwrap();
    std::fs::write(
        dir.path().join(".github/smoke.yml"),
        "- name: health\n  path: /health\n  expect-status: 204\n",
    )
    .unwrap();
    let ws = dir.path().to_string_lossy().into_owned();
    let run = run_step(
        BIN,
        &[("base-url", &server.uri()), ("checks", ".github/smoke.yml")],
        &[("GITHUB_WORKSPACE", ws.as_str())],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(report(&run)["checks"][0]["name"], "health");
    // A Docker action runs in the workspace, which a runner on the host may name in
    // GITHUB_WORKSPACE by a path the container does not have: the working directory counts first.
    let run = swa_testing::Step::new(BIN)
        .input("base-url", server.uri())
        .input("checks", ".github/smoke.yml")
        .env("GITHUB_WORKSPACE", "/no/such/host/workspace")
        .current_dir(dir.path())
        .run();
    assert_eq!(run.code, 0, "{}", run.log);
}

#[tokio::test]
async fn a_request_that_times_out_is_retried_then_reported() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(10)))
        .mount(&server)
        .await;
    let run = run_step(
        BIN,
        &[
            ("base-url", &server.uri()),
            ("request-timeout", "300ms"),
            ("retries", "1"),
            ("retry-delay", "10ms"),
            ("checks", "- path: /health\n"),
        ],
        &[],
    )
    .await;
    assert_eq!(run.code, 1, "{}", run.log);
    let report = report(&run);
    assert_eq!(
        report["checks"][0]["reason"],
        "no answer within request-timeout"
    );
    assert_eq!(report["checks"][0]["attempts"], 2);
    assert_eq!(report["checks"][0]["status"], Value::Null);
}

#[tokio::test]
async fn bad_input_is_named_and_nothing_is_requested() {
    let server = MockServer::start().await;
    let base = server.uri();
    type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec![("checks", "- path: /health\n  expect_status: 200\n")],
            "checks",
            "unknown key `expect_status`",
        ),
        (
            vec![("checks", "- path: /health\n  timeout: 5\n")],
            "checks",
            "unknown key `timeout`",
        ),
        (
            vec![("checks", "- path: health\n")],
            "checks",
            "must start with /",
        ),
        (
            vec![("checks", "missing/smoke.yml")],
            "checks",
            "does not exist",
        ),
        (
            vec![("checks", "- path: /a\n  expect-body: '(unclosed'\n")],
            "checks",
            "not a regex",
        ),
        (vec![("base-url", "not a url")], "base-url", "is not a URL"),
        (vec![("base-url", "")], "base-url", "is required"),
        (
            vec![("retry-delay", "soon")],
            "retry-delay",
            "has the value `soon`",
        ),
        (
            vec![("concurrency", "0")],
            "concurrency",
            "has the value `0`",
        ),
    ];
    let mut seen = Vec::new();
    for (inputs, named, says) in cases {
        let mut all = vec![("base-url", base.as_str())];
        for (k, v) in &inputs {
            all.retain(|(n, _)| n != k);
            all.push((k, v));
        }
        let run = run_step(BIN, &all, &[]).await;
        assert_eq!(run.code, 2, "{inputs:?}: {}", run.log);
        let errors = run.errors();
        assert_eq!(errors.len(), 1, "{inputs:?}: {}", run.log);
        assert!(
            errors[0].starts_with(&format!(
                "::error title=Invalid input `{named}`::input `{named}`"
            )) && errors[0].contains(says),
            "{inputs:?}: {}",
            errors[0]
        );
        seen.push(errors[0].to_string());
    }
    snapshots(|| insta::assert_snapshot!("bad_input_errors", seen.join("\n")));
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_secret_in_a_check_that_does_not_parse_is_not_echoed() {
    let secret = "Bearer ghp_inBrokenChecks0000000000004";
    let checks = format!("- path: /a\n  headers: {{Authorization: \"{secret}\"}}\n  bogus: 1\n");
    let run = run_step(
        BIN,
        &[("base-url", "http://127.0.0.1:9"), ("checks", &checks)],
        &[],
    )
    .await;
    assert_eq!(run.code, 2, "{}", run.log);
    run.assert_secret_hidden("ghp_inBrokenChecks0000000000004");
}

/// An HTTP server that counts the requests in flight together. Each request is held until
/// `bound` are in flight (or all `total` have arrived, or 5s pass), then a little longer, so
/// that a client exceeding the bound would be seen doing so.
async fn counting_server(
    bound: usize,
    total: usize,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let in_flight = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    let seen = max.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let (in_flight, started, max) = (in_flight.clone(), started.clone(), max.clone());
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                started.fetch_add(1, Ordering::SeqCst);
                max.fetch_max(now, Ordering::SeqCst);
                let held = std::time::Instant::now();
                while in_flight.load(Ordering::SeqCst) < bound
                    && started.load(Ordering::SeqCst) < total
                    && held.elapsed() < Duration::from_secs(5)
                {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    (url, seen)
}

#[tokio::test]
async fn checks_run_side_by_side_up_to_the_concurrency_bound() {
    let checks =
        "- path: /1\n- path: /2\n- path: /3\n- path: /4\n- path: /5\n- path: /6\n- path: /7\n";
    for bound in [1usize, 3] {
        let (url, max) = counting_server(bound, 7).await;
        let concurrency = bound.to_string();
        let run = run_step(
            BIN,
            &[
                ("base-url", &url),
                ("checks", checks),
                ("concurrency", &concurrency),
                ("retries", "0"),
                ("request-timeout", "30s"),
            ],
            &[],
        )
        .await;
        assert_eq!(run.code, 0, "{}", run.log);
        assert_eq!(run.output("passed"), "7");
        assert_eq!(
            max.load(std::sync::atomic::Ordering::SeqCst),
            bound,
            "requests in flight together with concurrency {bound}"
        );
    }
}
