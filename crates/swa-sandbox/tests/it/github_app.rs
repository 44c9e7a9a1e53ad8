//! The GitHub API (dispatch, workflow runs, re-runs, faults) and the app (health, index, login).

use std::time::Duration;

use serde_json::{Value, json};

use crate::{CLUSTER, SERVICE, aws, eventually, start};

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn dispatch(base: &str, repo: &str, token: &str, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{base}/repos/{repo}/dispatches"))
        .bearer_auth(token)
        .header("accept", "application/vnd.github+json")
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn get(url: &str, token: &str) -> (u16, Value) {
    let r = client().get(url).bearer_auth(token).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn completed_run(base: &str, query: &str) -> Value {
    eventually(Duration::from_secs(60), || {
        let url = format!("{base}/repos/org/app/actions/runs?{query}");
        async move {
            let (_, body) = get(&url, "ghs_sandbox").await;
            body["workflow_runs"]
                .as_array()
                .and_then(|r| r.first().cloned())
                .filter(|r| r["status"] == "completed")
        }
    })
    .await
}

#[tokio::test]
async fn a_dispatch_starts_a_named_run_that_completes() {
    let sandbox = start("healthy", 30.0);
    let base = sandbox.github_url();
    let before = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let r = dispatch(
        &base,
        "org/app",
        "ghs_sandbox",
        &json!({"event_type": "deploy-frontend", "client_payload": {"correlation_id": "abc123", "ref": "release-4"}}),
    )
    .await;
    assert_eq!(r.status(), 204);
    assert!(r.headers().contains_key("x-ratelimit-remaining"));
    assert_eq!(r.headers()["x-github-api-version-selected"], "2022-11-28");

    let query = format!("event=repository_dispatch&created=>={before}&per_page=10");
    let run = completed_run(&base, &query).await;
    assert_eq!(run["name"], "Deploy abc123");
    assert_eq!(run["display_title"], "Deploy abc123");
    assert_eq!(run["path"], ".github/workflows/deploy-frontend.yml");
    assert_eq!(run["event"], "repository_dispatch");
    assert_eq!(run["conclusion"], "success");
    assert_eq!(run["run_attempt"], 1);
    let id = run["id"].as_u64().unwrap();
    assert_eq!(
        run["html_url"],
        format!("https://github.com/org/app/actions/runs/{id}")
    );
    let (status, one) = get(
        &format!("{base}/repos/org/app/actions/runs/{id}"),
        "ghs_sandbox",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(one["id"], id);
    let (status, list) = get(
        &format!("{base}/repos/org/app/actions/workflows/deploy-frontend.yml/runs?per_page=5"),
        "ghs_sandbox",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(list["total_count"], 1);
    let (_, none) = get(
        &format!("{base}/repos/org/app/actions/runs?created=>=2099-01-01"),
        "ghs_sandbox",
    )
    .await;
    assert_eq!(none["total_count"], 0);

    let calls = sandbox.calls();
    let d = calls.iter().find(|c| c.operation == "dispatches").unwrap();
    assert!(d.is_mutating());
    assert_eq!(
        d.request["body"]["client_payload"]["correlation_id"],
        "abc123"
    );
}

#[tokio::test]
async fn dispatch_rejects_what_github_rejects() {
    let sandbox = start("healthy", 1.0);
    let base = sandbox.github_url();
    let ok = json!({"event_type": "deploy-frontend"});
    assert_eq!(dispatch(&base, "org/missing", "t", &ok).await.status(), 404);
    let r = dispatch(&base, "org/app", "bad-token", &ok).await;
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["message"], "Bad credentials");
    let long = json!({"event_type": "x".repeat(101)});
    assert_eq!(dispatch(&base, "org/app", "t", &long).await.status(), 422);
    let payload: serde_json::Map<String, Value> =
        (0..11).map(|i| (format!("k{i}"), json!(i))).collect();
    let r = dispatch(
        &base,
        "org/app",
        "t",
        &json!({"event_type": "deploy-frontend", "client_payload": payload}),
    )
    .await;
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("No more than 10 properties")
    );
    assert!(
        sandbox.state()["workflowRuns"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn the_frontend_fails_once_then_a_rerun_succeeds() {
    let sandbox = start("frontend-fails-once", 30.0);
    let base = sandbox.github_url();
    let r = dispatch(
        &base,
        "org/app",
        "t",
        &json!({"event_type": "deploy-frontend", "client_payload": {"correlation_id": "one"}}),
    )
    .await;
    assert_eq!(r.status(), 204);
    let run = completed_run(&base, "event=repository_dispatch").await;
    assert_eq!(run["conclusion"], "failure");
    let id = run["id"].as_u64().unwrap();
    let r = client()
        .post(format!(
            "{base}/repos/org/app/actions/runs/{id}/rerun-failed-jobs"
        ))
        .bearer_auth("t")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let rerun = eventually(Duration::from_secs(60), || {
        let url = format!("{base}/repos/org/app/actions/runs/{id}");
        async move {
            let (_, run) = get(&url, "t").await;
            (run["status"] == "completed" && run["run_attempt"] == 2).then_some(run)
        }
    })
    .await;
    assert_eq!(rerun["conclusion"], "success");
}

#[tokio::test]
async fn github_flaky_answers_502_and_429_with_retry_after() {
    let sandbox = start("github-flaky", 1.0);
    let base = sandbox.github_url();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let r = client()
            .get(format!("{base}/repos/org/app/actions/runs"))
            .bearer_auth("t")
            .send()
            .await
            .unwrap();
        if r.status() != 200 {
            assert!(r.headers().contains_key("retry-after"));
        }
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, [502, 429, 200, 200, 502, 200]);
}

#[tokio::test]
async fn the_app_serves_health_index_and_login() {
    let sandbox = start("healthy", 1.0);
    let app = sandbox.app_url();
    let r = reqwest::get(format!("{app}/health")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-app-version"], "release-3");
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!({"status": "healthy", "database": "ok",
               "databases": {"default": "ok", "orders": "ok", "analytics": "ok"}})
    );
    let index = reqwest::get(format!("{app}/")).await.unwrap();
    assert_eq!(index.status(), 200);
    assert!(
        index
            .text()
            .await
            .unwrap()
            .contains("<title>StartupWebApp</title>")
    );

    let ok = client()
        .post(format!("{app}/user/login"))
        .json(&json!({"username": swa_sandbox::TEST_USERNAME, "password": swa_sandbox::TEST_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert!(
        ok.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .starts_with("sessionid=")
    );
    let form = client()
        .post(format!("{app}/user/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "username={}&password={}",
            swa_sandbox::TEST_USERNAME,
            swa_sandbox::TEST_PASSWORD
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);
    let bad = client()
        .post(format!("{app}/user/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "username={}&password=wrong",
            swa_sandbox::TEST_USERNAME
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let calls = sandbox.calls();
    assert!(
        calls
            .iter()
            .all(|c| !c.request.to_string().contains(swa_sandbox::TEST_PASSWORD))
    );
}

#[tokio::test]
async fn health_fails_while_a_broken_revision_is_deployed_and_recovers_after_rollback() {
    let sandbox = start("crash-loop", 60.0);
    let aws = aws(&sandbox).await;
    let ecs = aws.ecs();
    let arn = crate::ecs_rollout::register_release_4(&ecs).await;
    ecs.update_service()
        .cluster(CLUSTER)
        .service(SERVICE)
        .task_definition(arn)
        .send()
        .await
        .unwrap();
    let health = format!("{}/health", sandbox.app_url());
    let r = reqwest::get(&health).await.unwrap();
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "unhealthy");
    eventually(Duration::from_secs(120), || {
        let health = health.clone();
        async move { (reqwest::get(&health).await.unwrap().status() == 200).then_some(()) }
    })
    .await;
    let kinds: Vec<String> = sandbox.timeline().into_iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&"rollback-started".to_string()));
}

#[tokio::test]
async fn the_orders_need_the_session_login_hands_out_and_the_asset_is_cached_for_a_year() {
    let sandbox = start("healthy", 1.0);
    let app = sandbox.app_url();
    let anonymous = reqwest::get(format!("{app}/user/orders")).await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let with_cookies = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let login = with_cookies
        .post(format!("{app}/user/login"))
        .json(&json!({"username": swa_sandbox::TEST_USERNAME, "password": swa_sandbox::TEST_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let orders = with_cookies
        .get(format!("{app}/user/orders"))
        .send()
        .await
        .unwrap();
    assert_eq!(orders.status(), 200);
    let body: Value = orders.json().await.unwrap();
    assert_eq!(body["orders"][0]["identifier"], "ORD-1001");
    let forged = client()
        .get(format!("{app}/user/orders"))
        .header("cookie", "sessionid=0123456789abcdef0123456789abcdef")
        .send()
        .await
        .unwrap();
    assert_eq!(
        forged.status(),
        401,
        "only a session login handed out counts"
    );
    let key: Value = reqwest::get(format!("{app}/order/stripe-publishable-key"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        key["publishable_key"]
            .as_str()
            .unwrap()
            .starts_with("pk_test_")
    );
    let asset = reqwest::get(format!("{app}{}", swa_sandbox::VERSIONED_ASSET))
        .await
        .unwrap();
    assert_eq!(asset.status(), 200);
    assert_eq!(
        asset.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
}

/// `login-broken` and `database-down` break the release a deploy brings, not the one running:
/// both work until the new revision is the service's, and again after a rollback.
#[tokio::test]
async fn login_broken_and_database_down_break_only_the_new_revision() {
    let sandbox = start("login-broken,database-down", 60.0);
    let health = || async {
        reqwest::get(format!("{}/health", sandbox.app_url()))
            .await
            .unwrap()
    };
    let aws = aws(&sandbox).await;
    let ecs = aws.ecs();
    let deploy = |revision: String| {
        let ecs = ecs.clone();
        async move {
            ecs.update_service()
                .cluster(CLUSTER)
                .service(SERVICE)
                .task_definition(revision)
                .send()
                .await
                .unwrap();
        }
    };
    let login = || async {
        client()
            .post(format!("{}/user/login", sandbox.app_url()))
            .json(&json!({"username": "nobody", "password": "wrong"}))
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(login().await, 401);
    assert_eq!(health().await.status(), 200);
    deploy(crate::ecs_rollout::register_release_4(&ecs).await).await;
    assert_eq!(login().await, 500);
    let r = health().await;
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "unhealthy");
    assert_eq!(body["databases"]["default"], "ok");
    assert_eq!(
        body["databases"]["analytics"],
        "error: could not connect to server: Connection refused"
    );
    // Back on revision 3, as a rollback leaves it.
    deploy("startupwebapp-service-task:3".into()).await;
    assert_eq!(login().await, 401);
    assert_eq!(health().await.status(), 200);
}
