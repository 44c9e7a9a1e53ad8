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

/// examples/startupwebapp-smoke.yml, the team's checks file, against the sandbox's app as the
/// verify job runs it: the frontend's URL and the smoke user in the step's environment.
fn startupwebapp_checks(sb: &Sandbox, smoke_user: bool) -> swa_testing::StepRun {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/startupwebapp-smoke.yml"
    );
    let mut env = vec![("FRONTEND_URL", sb.app_url())];
    if smoke_user {
        env.push(("SMOKE_USERNAME", TEST_USERNAME.to_string()));
        env.push(("SMOKE_PASSWORD", TEST_PASSWORD.to_string()));
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let step = swa_testing::Step::new(BIN)
        .input("base-url", sb.app_url())
        .input("checks", file)
        .input("retries", "0")
        .envs(env);
    step.run()
}

#[test]
fn the_startupwebapp_checks_file_passes_and_the_session_reaches_the_orders() {
    let sb = sandbox();
    let run = startupwebapp_checks(&sb, true);
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(run.output("passed"), "7", "{}", run.log);
    run.assert_secret_hidden(TEST_PASSWORD);
    let ops: Vec<String> = sb.calls().into_iter().map(|c| c.operation).collect();
    assert_eq!(ops.iter().filter(|o| *o == "orders").count(), 1, "{ops:?}");
    // The checks run side by side: their lines come in the order they finish.
    let mut passed: Vec<&str> = run.log.lines().filter(|l| l.starts_with('✓')).collect();
    passed.sort();
    crate::snapshots(|| {
        insta::assert_snapshot!(passed.join("\n"), @r"
        ✓ API health, every database: 200 in [LATENCY]
        ✓ Frontend index: 200 in [LATENCY]
        ✓ Frontend versioned asset, cached for a year: 200 in [LATENCY]
        ✓ Login as the smoke user: 200 in [LATENCY]
        ✓ Login refuses a wrong password: 401 in [LATENCY]
        ✓ Stripe publishable key: 200 in [LATENCY]
        ✓ The smoke user's orders: 200 in [LATENCY]
        ");
    });
    // The orders were asked for after the smoke user's login (the wrong-password check runs
    // beside them, before or after), with its session.
    let calls = sb.calls();
    let login = calls
        .iter()
        .position(|c| c.operation == "login" && c.status == 200)
        .unwrap();
    let orders = calls.iter().position(|c| c.operation == "orders").unwrap();
    assert!(login < orders, "{ops:?}");
}

#[test]
fn without_the_smoke_user_its_checks_are_skipped_and_the_rest_pass() {
    let sb = sandbox();
    let run = startupwebapp_checks(&sb, false);
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(run.output("passed"), "5", "{}", run.log);
    let notices: Vec<&str> = run
        .log
        .lines()
        .filter(|l| l.starts_with("::notice"))
        .collect();
    insta::assert_snapshot!(notices.join("\n"), @r"
    ::notice::check `Login as the smoke user` skipped: it needs SMOKE_PASSWORD, SMOKE_USERNAME, which are not set
    ::notice::check `The smoke user's orders` skipped: it runs after `Login as the smoke user`, which is skipped
    ");
    assert!(sb.calls().iter().all(|c| c.operation != "orders"));
}

#[test]
fn a_header_that_does_not_match_fails_the_check_and_after_must_name_an_earlier_check() {
    let sb = sandbox();
    let checks = "- name: asset\n  path: /js/jquery-3.7.1.min.js\n  expect-headers: {cache-control: no-cache, x-missing: .}\n";
    let run = swa_testing::Step::new(BIN)
        .input("base-url", sb.app_url())
        .input("checks", checks)
        .input("retries", "0")
        .run();
    assert_eq!(run.code, 1, "{}", run.log);
    let failed: Vec<&str> = run.log.lines().filter(|l| l.starts_with('✗')).collect();
    insta::assert_snapshot!(failed.join("\n"), @"✗ asset: header `cache-control` is `public, max-age=31536000, immutable`, which does not match /no-cache/ (after 1 tries)");

    let checks = "- name: orders\n  path: /user/orders\n  after: login\n- name: login\n  path: /user/login\n  method: POST\n";
    let calls = sb.calls().len();
    let run = swa_testing::Step::new(BIN)
        .input("base-url", sb.app_url())
        .input("checks", checks)
        .run();
    assert_eq!(run.code, 2, "{}", run.log);
    insta::assert_snapshot!(run.errors().join("\n"), @"::error title=Invalid input `checks`::input `checks` check 1 (`orders`) runs `after` `login`, which is not the name of a check before it");
    assert_eq!(sb.calls().len(), calls, "nothing is asked on bad input");
}
