//! What smoke-test never shows or forwards: input values in errors, secret headers on a
//! redirect to another origin, and text from a failed answer acting as Markdown or a command.

use swa_testing::{StepRun, run_step};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::BIN;

/// Exit 2 with one error, no request made; the error line.
async fn bad_input(server: &MockServer, run: &StepRun) -> String {
    assert_eq!(run.code, 2, "{}", run.log);
    assert!(server.received_requests().await.unwrap().is_empty());
    let errors = run.errors();
    assert_eq!(errors.len(), 1, "{}", run.log);
    errors[0].to_string()
}

#[tokio::test]
async fn headers_written_as_a_string_are_named_not_echoed() {
    let server = MockServer::start().await;
    let checks = "- path: /health\n  headers: \"Authorization: Bearer hdrSECRETvalue0001\"\n";
    let run = run_step(BIN, &[("base-url", &server.uri()), ("checks", checks)], &[]).await;
    let error = bad_input(&server, &run).await;
    run.assert_secret_hidden("hdrSECRETvalue0001");
    insta::assert_snapshot!(error, @"::error title=Invalid input `checks`::input `checks` is not a list of checks: check 1 `headers` is a string, expected a map (line 2, column 12)");
}

#[tokio::test]
async fn checks_naming_a_file_that_is_not_checks_show_none_of_it() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("passwd");
    std::fs::write(
        &file,
        "root:x:0:0:root:/root:/bin/bash\nDATABASE_URL=postgres://app:FileSecret0002@db/app\n",
    )
    .unwrap();
    let run = run_step(
        BIN,
        &[
            ("base-url", &server.uri()),
            ("checks", file.to_str().unwrap()),
        ],
        &[],
    )
    .await;
    let error = bad_input(&server, &run).await;
    for content in ["FileSecret0002", "root:x:0:0", "/bin/bash"] {
        run.assert_secret_hidden(content);
    }
    insta::assert_snapshot!(error, @"::error title=Invalid input `checks`::input `checks` is not a list of checks: the document is a string, expected a sequence (line 1, column 1)");
}

#[tokio::test]
async fn secret_headers_stay_with_their_origin_on_a_redirect() {
    let first = MockServer::start().await;
    let other = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/away"))
        .and(header("authorization", "Bearer redirSECRET0003"))
        .and(header("x-api-key", "redirKEY0004"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", format!("{}/landing", other.uri()).as_str()),
        )
        .expect(1)
        .mount(&first)
        .await;
    Mock::given(method("GET"))
        .and(path("/landing"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&other)
        .await;
    // On the same origin, the headers follow the redirect.
    Mock::given(method("GET"))
        .and(path("/here"))
        .respond_with(ResponseTemplate::new(307).insert_header("location", "/kept"))
        .expect(1)
        .mount(&first)
        .await;
    Mock::given(method("GET"))
        .and(path("/kept"))
        .and(header("authorization", "Bearer redirSECRET0003"))
        .and(header("x-api-key", "redirKEY0004"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&first)
        .await;
    let checks = "
- name: away
  path: /away
  headers: {Authorization: Bearer redirSECRET0003, X-Api-Key: redirKEY0004, X-Request-Id: smoke-1}
- name: here
  path: /here
  headers: {Authorization: Bearer redirSECRET0003, X-Api-Key: redirKEY0004}
";
    let run = run_step(
        BIN,
        &[
            ("base-url", &first.uri()),
            ("checks", checks),
            ("retries", "0"),
        ],
        &[],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.log);
    let landed = other.received_requests().await.unwrap();
    assert_eq!(landed.len(), 1);
    let sent: Vec<&str> = landed[0]
        .headers
        .keys()
        .map(|name| name.as_str())
        .filter(|name| !["host", "accept", "user-agent"].contains(name))
        .collect();
    assert_eq!(sent, ["x-request-id"], "{:?}", landed[0].headers);
}

#[tokio::test]
async fn a_failed_answer_is_inert_in_the_log_and_escaped_in_the_summary() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/health"))
        .respond_with(ResponseTemplate::new(500).set_body_string(
            "::add-mask::x\n##[set-output name=result]ok\n| cell | <b>bold</b>\n::error::forged",
        ))
        .mount(&server)
        .await;
    let run = run_step(
        BIN,
        &[
            ("base-url", &server.uri()),
            ("checks", "- name: health | <i>app</i>\n  path: /health\n"),
            ("retries", "0"),
        ],
        &[],
    )
    .await;
    // run_step read the log as the runner does (swa-testing's check_commands) and found no
    // command the action did not mean.
    assert_eq!(run.code, 1, "{}", run.log);
    assert!(!run.outputs.contains_key("result"), "{:?}", run.outputs);
    let latency = regex::Regex::new(r"\| \d+ ms \|").unwrap();
    insta::assert_snapshot!(latency.replace_all(&run.summary, "| [latency] ms |"));
    let failed: Vec<&str> = run
        .log
        .lines()
        .skip_while(|l| !l.starts_with("✗"))
        .take_while(|l| !l.starts_with("::endgroup::"))
        .collect();
    let token = regex::Regex::new(r"swa-[0-9a-f]{32}").unwrap();
    insta::assert_snapshot!(token.replace_all(&failed.join("\n"), "[token]"));
}

#[tokio::test]
async fn redirects_are_followed_as_browsers_do_and_a_loop_ends() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/login"))
        .respond_with(ResponseTemplate::new(303).insert_header("location", "/home"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/home"))
        .respond_with(ResponseTemplate::new(200).set_body_string("welcome"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/loop"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", "/loop"))
        .expect(6)
        .mount(&server)
        .await;
    let checks = "
- name: login
  path: /login
  method: POST
  body: {username: smoke}
  expect-body: welcome
- name: loop
  path: /loop
";
    let run = run_step(
        BIN,
        &[
            ("base-url", &server.uri()),
            ("checks", checks),
            ("retries", "0"),
        ],
        &[],
    )
    .await;
    assert_eq!(run.code, 1, "{}", run.log);
    let report: serde_json::Value = serde_json::from_str(run.output("report")).unwrap();
    assert_eq!(report["checks"][0]["passed"], true, "{report}");
    assert_eq!(report["checks"][1]["reason"], "too many redirects");
    assert_eq!(report["checks"][1]["status"], 302);
    let home = server.received_requests().await.unwrap();
    let home = home.iter().find(|r| r.url.path() == "/home").unwrap();
    assert!(home.body.is_empty());
    assert!(
        !home.headers.contains_key("content-type"),
        "{:?}",
        home.headers
    );
}
