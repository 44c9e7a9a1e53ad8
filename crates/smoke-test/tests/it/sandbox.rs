//! Against the sandbox's app: `/health`, the frontend's index page, the login endpoint.

use serde_json::Value;
use swa_sandbox::{Sandbox, TEST_PASSWORD, TEST_USERNAME};

use swa_testing::run_step;

const BIN: &str = env!("CARGO_BIN_EXE_smoke-test");

fn sandbox() -> Sandbox {
    swa_testing::sandbox_at("healthy", 20.0)
}

#[tokio::test]
async fn sandbox_the_default_check_passes_on_a_healthy_app() {
    let sb = sandbox();
    let run = run_step(BIN, &[("base-url", &sb.app_url())], &[]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(run.output("passed"), "1");
    let health: Vec<_> = sb
        .calls()
        .into_iter()
        .filter(|c| c.service == "app")
        .collect();
    assert_eq!(health.len(), 1);
    assert_eq!(health[0].operation, "health");
}

#[tokio::test]
async fn sandbox_health_index_and_login_with_no_secret_in_any_output() {
    let sb = sandbox();
    let bearer = "sandboxBEARERsecret0000000000000001";
    let checks = format!(
        r#"
- name: health
  path: /health
  headers: {{Authorization: "Bearer {bearer}"}}
  expect-json: {{status: healthy, database: ok}}
  max-latency-ms: 5000
- name: frontend
  path: /
  expect-body: '<title>StartupWebApp</title>'
- name: login
  path: /user/login
  method: POST
  body: {{username: {TEST_USERNAME}, password: {TEST_PASSWORD}}}
  expect-json: {{login: true}}
- name: wrong password
  path: /user/login
  method: POST
  body: {{username: {TEST_USERNAME}, password: not-it}}
  expect-status: 401
  expect-json: {{login: false}}
"#
    );
    let run = run_step(
        BIN,
        &[
            ("base-url", &sb.app_url()),
            ("checks", &checks),
            ("retries", "0"),
        ],
        &[],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(run.output("passed"), "4");
    run.assert_secret_hidden(bearer);
    // The session cookie the login hands out is never shown.
    assert!(
        !run.everything().contains("sessionid"),
        "{}",
        run.everything()
    );
    let report: Value = serde_json::from_str(run.output("report")).unwrap();
    assert_eq!(report["checks"][2]["name"], "login");
    assert_eq!(report["checks"][2]["status"], 200);
    let ops: Vec<String> = sb.calls().into_iter().map(|c| c.operation).collect();
    assert_eq!(ops.iter().filter(|o| *o == "login").count(), 2, "{ops:?}");
}

#[tokio::test]
async fn sandbox_a_failing_check_fails_the_step_with_its_reason() {
    let sb = sandbox();
    let checks = "- name: missing page\n  path: /nope\n";
    let run = run_step(
        BIN,
        &[
            ("base-url", &sb.app_url()),
            ("checks", checks),
            ("retries", "1"),
            ("retry-delay", "10ms"),
        ],
        &[],
    )
    .await;
    assert_eq!(run.code, 1, "{}", run.log);
    assert_eq!(run.output("failed"), "1");
    assert!(
        run.summary.contains("| missing page | ❌ failed | 404 | "),
        "{}",
        run.summary
    );
    assert!(
        run.summary.contains("expected status 200, got 404"),
        "{}",
        run.summary
    );
    assert_eq!(sb.calls().len(), 2, "one try and one retry");
}
