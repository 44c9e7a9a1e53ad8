//! Runs the checks: bounded concurrency, retries, and the report.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, HeaderName, HeaderValue, LOCATION, SET_COOKIE, USER_AGENT};
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde_json::Value;
use swa_gha::{ActionError, Foreign, Gha, format_duration, md};
use tokio::sync::Semaphore;

use crate::checks::{Body, Check, is_secret_header, shown_url};

/// Redirects followed before a check fails with "too many redirects".
const MAX_REDIRECTS: usize = 5;

/// How much of a failed check's last answer the log shows.
const BODY_LINES: usize = 40;
const BODY_CHARS: usize = 4000;

/// Why a try failed, and the body of the answer when one came.
type Verdict = Result<(), (String, Option<String>)>;

pub struct Settings {
    pub retries: u32,
    pub retry_delay: Duration,
    pub request_timeout: Duration,
    pub concurrency: usize,
}

/// How one check ended.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub name: String,
    pub method: String,
    pub url: String,
    pub passed: bool,
    /// The last answer's status; none when no answer came.
    pub status: Option<u16>,
    /// The last try, from sending to the last byte of the answer.
    pub latency_ms: u64,
    pub attempts: u32,
    /// Why it failed (the last try).
    pub reason: Option<String>,
}

pub async fn run_all(
    checks: Arc<Vec<Check>>,
    settings: Settings,
    gha: Gha,
) -> Result<Vec<CheckResult>, ActionError> {
    let http = reqwest::Client::builder()
        .timeout(settings.request_timeout)
        .connect_timeout(settings.request_timeout)
        // Redirects are followed here, not by reqwest, which forwards headers such as
        // `X-Api-Key` to another origin.
        .redirect(reqwest::redirect::Policy::none())
        // Cookies an answer sets go with the later requests to that site: a login's session
        // reaches the checks that run `after` it.
        .cookie_store(true)
        .build()?;
    let settings = Arc::new(settings);
    let gate = Arc::new(Semaphore::new(settings.concurrency.max(1)));
    // Each check says here when it is done, for the checks that run after it.
    let (done, finished): (Vec<_>, Vec<_>) = (0..checks.len())
        .map(|_| tokio::sync::watch::channel(false))
        .unzip();
    let mut done = done.into_iter();
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..checks.len() {
        let (checks, settings, gate, gha, http) = (
            checks.clone(),
            settings.clone(),
            gate.clone(),
            gha.clone(),
            http.clone(),
        );
        let first = checks[index].after.map(|i| finished[i].clone());
        let done = done.next();
        tasks.spawn(async move {
            if let Some(mut first) = first {
                // The earlier check is always started first, so it ends and says so.
                let _ = first.wait_for(|finished| *finished).await;
            }
            let result = {
                let _permit = gate.acquire_owned().await;
                run_one(&http, &checks[index], &settings, &gha).await
            };
            if let Some(done) = done {
                let _ = done.send(true);
            }
            (index, result)
        });
    }
    let mut results: Vec<Option<CheckResult>> = vec![None; checks.len()];
    while let Some(joined) = tasks.join_next().await {
        let (index, result) =
            joined.map_err(|e| ActionError::failed(format!("a check stopped: {e}")))?;
        results[index] = Some(result);
    }
    Ok(results.into_iter().flatten().collect())
}

async fn run_one(
    http: &reqwest::Client,
    check: &Check,
    settings: &Settings,
    gha: &Gha,
) -> CheckResult {
    let tries = settings.retries + 1;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (status, latency, verdict) = try_once(http, check, gha).await;
        let latency_ms = latency.as_millis() as u64;
        match verdict {
            Ok(()) => {
                gha.info(format!(
                    "✓ {}: {} in {latency_ms} ms",
                    Foreign(&check.name),
                    status.map(|s| s.to_string()).unwrap_or_default()
                ));
                return CheckResult {
                    name: check.name.clone(),
                    method: check.method.to_string(),
                    url: shown_url(&check.url),
                    passed: true,
                    status,
                    latency_ms,
                    attempts: attempt,
                    reason: None,
                };
            }
            Err((reason, _)) if attempt < tries => {
                gha.info(format!(
                    "{}: try {attempt} of {tries} failed ({}); trying again in {}",
                    Foreign(&check.name),
                    Foreign(&reason),
                    format_duration(settings.retry_delay)
                ));
                tokio::time::sleep(settings.retry_delay).await;
            }
            Err((reason, body)) => {
                gha.info(format!(
                    "✗ {}: {} (after {attempt} tries)",
                    Foreign(&check.name),
                    Foreign(&reason)
                ));
                if let Some(body) = body.as_deref().map(str::trim).filter(|b| !b.is_empty()) {
                    gha.group_start(&format!("The last answer to {}", Foreign(&check.name)));
                    gha.foreign_block(&head(body));
                    gha.group_end();
                }
                return CheckResult {
                    name: check.name.clone(),
                    method: check.method.to_string(),
                    url: shown_url(&check.url),
                    passed: false,
                    status,
                    latency_ms,
                    attempts: attempt,
                    reason: Some(reason),
                };
            }
        }
    }
}

/// One request of a check: where it goes, with what.
struct Hop {
    method: Method,
    url: Url,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Option<String>,
}

impl Hop {
    fn first(check: &Check) -> Result<Hop, String> {
        let url = Url::parse(&check.url).map_err(|_| "the URL is not valid".to_string())?;
        let mut headers = check.headers.clone();
        let body = match &check.body {
            Some(Body::Text(text)) => Some(text.clone()),
            Some(Body::Json(value)) => {
                if !headers.iter().any(|(n, _)| n == CONTENT_TYPE) {
                    headers.push((CONTENT_TYPE, HeaderValue::from_static("application/json")));
                }
                Some(value.to_string())
            }
            None => None,
        };
        Ok(Hop {
            method: check.method.clone(),
            url,
            headers,
            body,
        })
    }

    fn send(&self, http: &reqwest::Client) -> reqwest::RequestBuilder {
        let mut request = http.request(self.method.clone(), self.url.clone()).header(
            USER_AGENT,
            concat!("swa-actions-smoke-test/", env!("CARGO_PKG_VERSION")),
        );
        for (name, value) in &self.headers {
            request = request.header(name.clone(), value.clone());
        }
        if let Some(body) = &self.body {
            request = request.body(body.clone());
        }
        request
    }

    /// The request a redirect answer leads to, as browsers make it: 303 (and 301/302 after a
    /// POST) becomes a GET without a body; secret headers ([`is_secret_header`]) are not sent
    /// to another origin (scheme, host and port), there or anywhere after.
    fn follow(self, status: StatusCode, location: &str) -> Result<Hop, String> {
        let url = self
            .url
            .join(location)
            .map_err(|_| format!("answered {status} with a Location that is not a URL"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "answered {status} with a Location that is not http(s)"
            ));
        }
        let mut next = self;
        if url.origin() != next.url.origin() {
            next.headers
                .retain(|(name, _)| !is_secret_header(name.as_str()));
        }
        let to_get = status == StatusCode::SEE_OTHER
            || (matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND)
                && next.method == Method::POST);
        if to_get && next.method != Method::HEAD {
            next.method = Method::GET;
            next.body = None;
            next.headers.retain(|(name, _)| name != CONTENT_TYPE);
        }
        next.url = url;
        Ok(next)
    }
}

/// A session cookie the system hands out is a secret too.
fn mask_cookies(gha: &Gha, response: &reqwest::Response) {
    for cookie in response.headers().get_all(SET_COOKIE) {
        if let Ok(text) = cookie.to_str()
            && let Some((_, value)) = text.split(';').next().and_then(|p| p.split_once('='))
            && value.len() >= 4
        {
            gha.add_mask(value);
        }
    }
}

/// One try of a check (its redirects followed) and its verdict: the status, the latency, and
/// why it failed.
async fn try_once(
    http: &reqwest::Client,
    check: &Check,
    gha: &Gha,
) -> (Option<u16>, Duration, Verdict) {
    let started = Instant::now();
    let mut hop = match Hop::first(check) {
        Ok(hop) => hop,
        Err(reason) => return (None, started.elapsed(), Err((reason, None))),
    };
    let mut redirects = 0;
    let response = loop {
        let response = match hop.send(http).send().await {
            Ok(r) => r,
            Err(e) => return (None, started.elapsed(), Err((transport_reason(&e), None))),
        };
        mask_cookies(gha, &response);
        let status = response.status();
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(str::to_string);
        let redirect = matches!(
            status,
            StatusCode::MOVED_PERMANENTLY
                | StatusCode::FOUND
                | StatusCode::SEE_OTHER
                | StatusCode::TEMPORARY_REDIRECT
                | StatusCode::PERMANENT_REDIRECT
        );
        let Some(location) = location.filter(|_| redirect) else {
            break response;
        };
        if redirects == MAX_REDIRECTS {
            return (
                Some(status.as_u16()),
                started.elapsed(),
                Err(("too many redirects".into(), None)),
            );
        }
        redirects += 1;
        hop = match hop.follow(status, &location) {
            Ok(next) => next,
            Err(reason) => {
                return (
                    Some(status.as_u16()),
                    started.elapsed(),
                    Err((reason, None)),
                );
            }
        };
    };
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = match response.bytes().await {
        Ok(b) => b,
        Err(e) => {
            return (
                Some(status),
                started.elapsed(),
                Err((transport_reason(&e), None)),
            );
        }
    };
    let latency = started.elapsed();
    let verdict = judge(check, status, &headers, &body, latency)
        .map_err(|reason| (reason, Some(String::from_utf8_lossy(&body).into_owned())));
    (Some(status), latency, verdict)
}

/// The first [`BODY_LINES`] lines and [`BODY_CHARS`] characters of a body, saying what was left
/// out.
fn head(body: &str) -> String {
    let total = body.lines().count();
    let mut out = String::new();
    let mut room = BODY_CHARS;
    for (n, line) in body.lines().enumerate() {
        if n == BODY_LINES || room == 0 {
            out.push_str(&format!("… ({} more lines)", total - n));
            return out;
        }
        let count = line.chars().count();
        if count > room {
            out.extend(line.chars().take(room));
            out.push_str("…\n");
            room = 0;
        } else {
            out.push_str(line);
            out.push('\n');
            room -= count;
        }
    }
    out
}

fn transport_reason(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "no answer within request-timeout".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else {
        "the connection failed".into()
    }
}

fn judge(
    check: &Check,
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &[u8],
    latency: Duration,
) -> Result<(), String> {
    if !check.expect_status.contains(&status) {
        let expected: Vec<String> = check.expect_status.iter().map(u16::to_string).collect();
        return Err(format!(
            "expected status {}, got {status}{}",
            expected.join(" or "),
            excerpt(body)
        ));
    }
    if let Some(expected) = &check.expect_json {
        let actual: Value = serde_json::from_slice(body)
            .map_err(|_| format!("expected a JSON body{}", excerpt(body)))?;
        contains(&actual, expected, "$")?;
    }
    if let Some(pattern) = &check.expect_body {
        let text = String::from_utf8_lossy(body);
        if !pattern.is_match(&text) {
            return Err(format!(
                "body does not match /{}/{}",
                pattern.as_str(),
                excerpt(body)
            ));
        }
    }
    for (name, pattern) in &check.expect_headers {
        let Some(value) = headers.get(name) else {
            return Err(format!("the answer has no `{name}` header"));
        };
        let value = String::from_utf8_lossy(value.as_bytes());
        if !pattern.is_match(&value) {
            return Err(format!(
                "header `{name}` is `{value}`, which does not match /{}/",
                pattern.as_str()
            ));
        }
    }
    if let Some(max) = check.max_latency_ms {
        let ms = latency.as_millis() as u64;
        if ms > max {
            return Err(format!("took {ms} ms, more than max-latency-ms {max}"));
        }
    }
    Ok(())
}

/// Whether `actual` contains `expected`: every key of an expected object is in the actual one
/// with a value that contains the expected value; arrays match element by element; other values
/// are equal. The error names where they differ.
fn contains(actual: &Value, expected: &Value, at: &str) -> Result<(), String> {
    match (expected, actual) {
        (Value::Object(want), Value::Object(have)) => {
            for (key, value) in want {
                let here = format!("{at}.{key}");
                match have.get(key) {
                    Some(found) => contains(found, value, &here)?,
                    None => return Err(format!("JSON has no `{here}` (expected {value})")),
                }
            }
            Ok(())
        }
        (Value::Array(want), Value::Array(have)) => {
            if want.len() != have.len() {
                return Err(format!(
                    "JSON `{at}` has {} items, expected {}",
                    have.len(),
                    want.len()
                ));
            }
            for (i, (w, h)) in want.iter().zip(have).enumerate() {
                contains(h, w, &format!("{at}[{i}]"))?;
            }
            Ok(())
        }
        (Value::Number(want), Value::Number(have)) if want.as_f64() == have.as_f64() => Ok(()),
        (want, have) if want == have => Ok(()),
        (want, have) => Err(format!("JSON `{at}` is {have}, expected {want}")),
    }
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return String::new();
    }
    let short: String = text.chars().take(120).collect();
    let more = if text.chars().count() > 120 {
        "…"
    } else {
        ""
    };
    format!(": {}{more}", short.replace(['\n', '\r'], " "))
}

/// The outputs, the summary table, and the verdict.
pub fn report(gha: &Gha, results: &[CheckResult]) -> Result<(), ActionError> {
    let passed = results.iter().filter(|r| r.passed).count();
    let failed = results.len() - passed;
    let report = serde_json::json!({ "passed": passed, "failed": failed, "checks": results });
    gha.set_output("passed", &passed.to_string())?;
    gha.set_output("failed", &failed.to_string())?;
    // Outputs are not masked by the runner's file: mask here.
    gha.set_output("report", &gha.mask(&report.to_string()))?;

    let mut summary = format!("### Smoke test: {passed} passed, {failed} failed\n\n");
    summary.push_str(
        "| Check | Result | Status | Latency | Tries | Reason |\n|---|---|---|---|---|---|\n",
    );
    for r in results {
        summary.push_str(&format!(
            "| {} | {} | {} | {} ms | {} | {} |\n",
            md::text(&r.name),
            if r.passed { "✅ passed" } else { "❌ failed" },
            r.status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "-".into()),
            r.latency_ms,
            r.attempts,
            md::text(r.reason.as_deref().unwrap_or(""))
        ));
    }
    // A blank line ends the table, so whatever a later step appends renders on its own.
    summary.push('\n');
    gha.summary(&summary)?;
    if failed == 0 {
        return Ok(());
    }
    let failures: Vec<String> = results
        .iter()
        .filter(|r| !r.passed)
        .map(|r| format!("{} ({})", r.name, r.reason.as_deref().unwrap_or("failed")))
        .collect();
    Err(ActionError::failed(format!(
        "{failed} of {} smoke check(s) failed: {}",
        results.len(),
        failures.join("; ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_head_of_a_body_says_what_was_left_out() {
        assert_eq!(head("a\nb\n"), "a\nb\n");
        let many: String = (1..=50).map(|n| format!("{n}\n")).collect();
        assert!(
            head(&many).ends_with("40\n… (10 more lines)"),
            "{}",
            head(&many)
        );
        let long = format!("{}\nnext\n", "x".repeat(5000));
        assert_eq!(
            head(&long),
            format!("{}…\n… (1 more lines)", "x".repeat(4000))
        );
    }

    #[test]
    fn json_subsets_name_where_they_differ() {
        let actual =
            json!({"status": "healthy", "database": "ok", "n": 1.0, "list": [1, {"a": 2, "b": 3}]});
        assert_eq!(
            contains(&actual, &json!({"status": "healthy"}), "$"),
            Ok(())
        );
        assert_eq!(
            contains(&actual, &json!({"n": 1, "list": [1, {"a": 2}]}), "$"),
            Ok(())
        );
        assert_eq!(
            contains(&actual, &json!({"database": "down"}), "$"),
            Err("JSON `$.database` is \"ok\", expected \"down\"".into())
        );
        assert_eq!(
            contains(&actual, &json!({"cache": "ok"}), "$"),
            Err("JSON has no `$.cache` (expected \"ok\")".into())
        );
        assert_eq!(
            contains(&actual, &json!({"list": [1]}), "$"),
            Err("JSON `$.list` has 2 items, expected 1".into())
        );
    }
}
