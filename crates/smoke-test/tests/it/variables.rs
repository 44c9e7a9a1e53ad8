//! `${NAME}` in a check, filled from the step's environment: a smoke user's credentials reach the
//! request, never the log, the outputs or the summary; a check whose variables are unset is skipped
//! with a notice, and checks that are all skipped are bad input.

use serde_json::json;
use swa_testing::run_step;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{BIN, snapshots};

const CHECKS: &str = r#"
- name: health
  path: /health
- name: login as the smoke user
  path: /user/login
  method: POST
  body: {username: "${SMOKE_USERNAME}", password: "${SMOKE_PASSWORD}"}
- name: the smoke user's orders
  path: /users/${SMOKE_USERNAME}/orders
  headers: {X-Api-Key: "${SMOKE_API_KEY}"}
"#;

/// The app: health, the login (expected `logins` times, with the smoke user), the user's orders.
async fn server(logins: u64) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/health"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/user/login"))
        .and(body_json(
            json!({"username": "smoke-user-7", "password": "Smoke-Pass-0091"}),
        ))
        .respond_with(ResponseTemplate::new(200))
        .expect(logins)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/users/smoke-user-7/orders"))
        .and(header("x-api-key", "key-00042-secret"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn variables_reach_the_request_and_never_the_output() {
    let server = server(1).await;
    let run = run_step(
        BIN,
        &[("base-url", &server.uri()), ("checks", CHECKS)],
        &[
            ("SMOKE_USERNAME", "smoke-user-7"),
            ("SMOKE_PASSWORD", "Smoke-Pass-0091"),
            ("SMOKE_API_KEY", "key-00042-secret"),
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(run.output("passed"), "3");
    for value in ["smoke-user-7", "Smoke-Pass-0091", "key-00042-secret"] {
        run.assert_secret_hidden(value);
    }
}

#[tokio::test]
async fn a_check_whose_variables_are_unset_is_skipped_with_a_notice() {
    let server = server(0).await;
    let run = run_step(
        BIN,
        &[("base-url", &server.uri()), ("checks", CHECKS)],
        &[("SMOKE_USERNAME", "smoke-user-7")],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(run.output("passed"), "1");
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1, "only the health check ran: {requests:?}");
    run.assert_secret_hidden("smoke-user-7");
    snapshots(|| insta::assert_snapshot!("skipped_log", run.log));
}

#[tokio::test]
async fn checks_that_are_all_skipped_are_bad_input() {
    let server = MockServer::start().await;
    let checks = "- path: /users/${SMOKE_USERNAME}\n";
    let run = run_step(BIN, &[("base-url", &server.uri()), ("checks", checks)], &[]).await;
    assert_eq!(run.code, 2, "{}", run.log);
    assert!(server.received_requests().await.unwrap().is_empty());
    insta::assert_snapshot!(run.errors().join("\n"), @"::error title=Invalid input `checks`::input `checks` has no check left to run: each needs a variable that is not set (SMOKE_USERNAME); set them in the step's `env:`");
}
