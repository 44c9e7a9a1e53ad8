//! The client's exact HTTP behaviour, against one wiremock server per test.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use swa_github::{GitHub, GithubError, Repo, RetryPolicy, RunFilter, Token};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "ghp_wiremockTOKEN0123456789";

fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
        max_wait: Duration::from_secs(5),
        request_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(2),
    }
}

fn client(server: &MockServer) -> (GitHub, Arc<Mutex<Vec<String>>>) {
    let retries = Arc::new(Mutex::new(Vec::new()));
    let seen = retries.clone();
    let gh = GitHub::with_policy(&server.uri(), &Token::new(TOKEN), fast_policy())
        .unwrap()
        .on_retry(move |e| {
            seen.lock().unwrap().push(format!(
                "{} {} attempt {}/{}: {} in {:?}",
                e.method, e.path, e.attempt, e.max_attempts, e.reason, e.delay
            ));
        });
    (gh, retries)
}

fn repo() -> Repo {
    "org/startupwebapp-frontend".parse().unwrap()
}

#[tokio::test]
async fn every_request_carries_the_api_headers_and_the_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/repos/org/startupwebapp-frontend/dispatches"))
        .and(header("accept", "application/vnd.github+json"))
        .and(header("x-github-api-version", "2022-11-28"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(body_json(json!({
            "event_type": "deploy-production",
            "client_payload": {"correlation_id": "abc"}
        })))
        .respond_with(
            ResponseTemplate::new(204).insert_header("date", "Thu, 26 Nov 2026 14:05:09 GMT"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (gh, retries) = client(&server);
    let at = gh
        .dispatch(
            &repo(),
            "deploy-production",
            &json!({"correlation_id": "abc"}),
        )
        .await
        .unwrap();
    assert_eq!(at.map(|t| t.unix_timestamp()), Some(1_795_701_909));
    assert!(retries.lock().unwrap().is_empty());
}

#[tokio::test]
async fn server_errors_are_retried_until_an_answer() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/org/startupwebapp-frontend/actions/runs/42"))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/org/startupwebapp-frontend/actions/runs/42"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": 42, "status": "completed", "conclusion": "success",
            "html_url": "https://github.com/org/startupwebapp-frontend/actions/runs/42",
            "created_at": "2026-11-26T14:05:09Z"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let (gh, retries) = client(&server);
    let run = gh.get_run(&repo(), 42).await.unwrap();
    assert_eq!(run.conclusion.as_deref(), Some("success"));
    let retries = retries.lock().unwrap();
    assert_eq!(retries.len(), 2, "{retries:?}");
    assert!(
        retries[0].contains("attempt 1/4: 502 Bad Gateway"),
        "{retries:?}"
    );
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"workflow_runs": []})))
        .expect(1)
        .mount(&server)
        .await;
    let (gh, retries) = client(&server);
    let started = Instant::now();
    let runs = gh.list_runs(&repo(), &RunFilter::default()).await.unwrap();
    assert!(runs.is_empty());
    // A lower bound only: the client must not come back before GitHub said it could.
    assert!(started.elapsed() >= Duration::from_secs(1));
    let retries = retries.lock().unwrap();
    assert!(
        retries[0].contains("429 Too Many Requests (Retry-After: 1) in 1s"),
        "{retries:?}"
    );
}

#[tokio::test]
async fn a_used_up_rate_limit_waits_for_the_reset_by_the_servers_clock() {
    let server = MockServer::start().await;
    // The server's clock says the reset is 1s away, whatever the local clock says.
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("date", "Thu, 26 Nov 2026 14:05:09 GMT")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", "1795701910")
                .set_body_json(json!({"message": "API rate limit exceeded"})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"workflow_runs": []})))
        .expect(1)
        .mount(&server)
        .await;
    let (gh, retries) = client(&server);
    gh.list_runs(&repo(), &RunFilter::default()).await.unwrap();
    let retries = retries.lock().unwrap();
    assert!(
        retries[0].contains("403 Forbidden (rate limit used up until 2026-11-26T14:05:10Z) in 2s"),
        "{retries:?}"
    );
}

#[tokio::test]
async fn a_wait_longer_than_the_bound_is_reported_not_slept() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "3600"))
        .expect(1)
        .mount(&server)
        .await;
    let (gh, _) = client(&server);
    let started = Instant::now();
    let err = gh.get_run(&repo(), 1).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(matches!(err, GithubError::RateLimited { .. }), "{err:?}");
    assert!(err.to_string().contains("asks to wait 3600s"), "{err}");
}

#[tokio::test]
async fn persistent_server_errors_end_after_the_bounded_attempts() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({"message": "Unavailable"})))
        .expect(4)
        .mount(&server)
        .await;
    let (gh, _) = client(&server);
    let err = gh.get_run(&repo(), 1).await.unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert!(err.is_transient());
    assert_eq!(
        err.to_string(),
        "GET /repos/org/startupwebapp-frontend/actions/runs/1: GitHub answered 503 (Unavailable) after 4 attempt(s)"
    );
}

#[tokio::test]
async fn client_errors_are_not_retried_and_say_what_to_do() {
    for (status, body, expected) in [
        (
            401,
            json!({"message": "Bad credentials"}),
            "GitHub refused the token (401 Bad credentials): it is expired, revoked or mistyped",
        ),
        (
            404,
            json!({"message": "Not Found"}),
            "GitHub answered 404 (Not Found): the resource does not exist, or the token cannot see it",
        ),
        (
            422,
            json!({"message": "Validation Failed", "errors": [{"field": "event_type", "code": "too_long"}]}),
            "GitHub refused the request (422 Validation Failed: event_type too_long)",
        ),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .expect(1)
            .mount(&server)
            .await;
        let (gh, retries) = client(&server);
        let err = gh.dispatch(&repo(), "x", &json!({})).await.unwrap_err();
        assert_eq!(err.status(), Some(status));
        assert!(!err.is_transient());
        assert!(err.to_string().ends_with(expected), "{err}");
        assert!(retries.lock().unwrap().is_empty());
        assert!(!err.to_string().contains(TOKEN));
    }
}

#[tokio::test]
async fn a_slow_answer_times_out_and_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"workflow_runs": []}))
                .set_delay(Duration::from_secs(10)),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"workflow_runs": []})))
        .expect(1)
        .mount(&server)
        .await;
    let (gh, retries) = client(&server);
    gh.list_runs(&repo(), &RunFilter::default()).await.unwrap();
    let retries = retries.lock().unwrap();
    assert!(retries[0].contains("timed out"), "{retries:?}");
}

#[tokio::test]
async fn runs_are_listed_by_event_and_creation_time() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(
            "/repos/org/startupwebapp-frontend/actions/workflows/deploy.yml/runs",
        ))
        .and(query_param("event", "repository_dispatch"))
        .and(query_param("created", ">=2026-11-26T14:05:09Z"))
        .and(query_param("per_page", "100"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total_count": 1,
            "workflow_runs": [{"id": 5, "display_title": "Deploy x", "status": "queued",
                               "created_at": "2026-11-26T14:05:10Z", "html_url": "u"}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let (gh, _) = client(&server);
    let since = swa_github::parse_timestamp("2026-11-26T14:05:09.750Z");
    let runs = gh
        .list_runs(
            &repo(),
            &RunFilter {
                event: Some("repository_dispatch".into()),
                created_since: since,
                workflow: Some("deploy.yml".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(runs.len(), 1);
    assert!(runs[0].named_with("Deploy x"));
}

#[tokio::test]
async fn the_client_debug_and_errors_never_show_the_token() {
    let token = Token::new(TOKEN);
    assert_eq!(format!("{token:?}"), "***");
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"message": "Bad credentials"})),
        )
        .mount(&server)
        .await;
    let (gh, _) = client(&server);
    let err = gh.get_run(&repo(), 1).await.unwrap_err();
    assert!(!format!("{err:?} {err}").contains(TOKEN));
}

#[tokio::test]
async fn a_dispatch_github_may_have_accepted_is_not_sent_again() {
    for answer in [
        ResponseTemplate::new(502),
        ResponseTemplate::new(204).set_delay(Duration::from_secs(5)),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(answer)
            .expect(1)
            .mount(&server)
            .await;
        let (gh, retries) = client(&server);
        let err = gh.dispatch(&repo(), "x", &json!({})).await.unwrap_err();
        assert!(err.may_have_acted(), "{err:?}");
        assert!(retries.lock().unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_dispatch_github_surely_refused_is_sent_again() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let (gh, retries) = client(&server);
    gh.dispatch(&repo(), "x", &json!({})).await.unwrap();
    assert_eq!(retries.lock().unwrap().len(), 1);

    // Nothing listens: the request never left, so it is tried again within the bounds.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let gh = GitHub::with_policy(&url, &Token::new(TOKEN), fast_policy()).unwrap();
    let err = gh.dispatch(&repo(), "x", &json!({})).await.unwrap_err();
    assert!(!err.may_have_acted(), "{err:?}");
    assert!(err.to_string().contains("after 4 attempt(s)"), "{err}");
}

#[test]
fn an_api_url_with_credentials_is_refused_without_showing_them() {
    let env = swa_gha::Env::from_pairs::<&str, &str>([]);
    for url in [
        "http://:hunter2pw@127.0.0.1:9",
        "http://user:hunter2pw@127.0.0.1:9",
        "https://hunter2pw@api.example.com",
        "http://user:hunter2pw@exa mple.com",
    ] {
        let err = swa_github::api_base_url(Some(url), &env).unwrap_err();
        assert!(!err.contains("hunter2pw"), "{url}: {err}");
        assert!(err.contains("credentials"), "{url}: {err}");
    }
    assert_eq!(
        swa_github::api_base_url(Some("https://ghe.example.com/api/v3/"), &env).unwrap(),
        "https://ghe.example.com/api/v3"
    );
}
