use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue, RETRY_AFTER, USER_AGENT};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use swa_gha::Env;

use crate::{DEFAULT_API_URL, GithubError, Token};

/// How hard the client tries before it reports a fault.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts per request, the first one included.
    pub max_attempts: u32,
    /// The first back-off when GitHub gives no `Retry-After`; it doubles on each retry.
    pub base_delay: Duration,
    /// The longest back-off of our own choosing.
    pub max_delay: Duration,
    /// The longest wait GitHub may ask for (`Retry-After`, rate-limit reset) before the client
    /// gives up with [`GithubError::RateLimited`] instead of sleeping.
    pub max_wait: Duration,
    /// One request, from sending to the last byte of the answer.
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            max_wait: Duration::from_secs(120),
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// A retry about to happen, for the action's log.
#[derive(Debug)]
pub struct RetryEvent<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// The attempt that failed (1 for the first).
    pub attempt: u32,
    pub max_attempts: u32,
    pub delay: Duration,
    /// `502 Bad Gateway`, `429 (Retry-After: 3)`, `timed out`, ...
    pub reason: String,
}

type RetryHook = Arc<dyn Fn(&RetryEvent<'_>) + Send + Sync>;

/// The GitHub REST API at one base URL, with one token.
#[derive(Clone)]
pub struct GitHub {
    http: reqwest::Client,
    base: String,
    policy: RetryPolicy,
    on_retry: Option<RetryHook>,
}

/// What GitHub answered to a successful request.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// The server's `Date` header: GitHub's clock, which its `created_at` stamps also follow.
    pub date: Option<SystemTime>,
    pub body: Vec<u8>,
}

/// The API base URL: the action's input, else `GITHUB_API_URL`, else `https://api.github.com`.
/// Checked to be an http(s) URL without credentials, query or fragment; returned without a
/// trailing slash. The error never repeats credentials written into the URL.
pub fn api_base_url(input: Option<&str>, env: &Env) -> Result<String, String> {
    let raw = input
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .or_else(|| env.non_empty("GITHUB_API_URL"))
        .unwrap_or(DEFAULT_API_URL);
    if has_userinfo(raw) {
        return Err(
            "a URL with credentials (`user:password@`); give the plain base URL, such as \
             https://api.github.com, and the token as `token`"
                .into(),
        );
    }
    let shown = swa_gha::Foreign(raw);
    let url = url::Url::parse(raw).map_err(|e| format!("`{shown}` is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "`{shown}` is not an http(s) URL such as https://api.github.com"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "`{shown}` should be a plain base URL, without query or fragment"
        ));
    }
    Ok(raw.trim_end_matches('/').to_string())
}

/// Whether the text carries `user@`, `user:password@` or `:password@` before the host, parsed
/// or not (the text may not be a valid URL, and must not be echoed then either).
fn has_userinfo(raw: &str) -> bool {
    let rest = raw.split_once("://").map_or(raw, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    authority.contains('@')
}

impl GitHub {
    pub fn new(base_url: &str, token: &Token) -> Result<Self, GithubError> {
        Self::with_policy(base_url, token, RetryPolicy::default())
    }

    pub fn with_policy(
        base_url: &str,
        token: &Token,
        policy: RetryPolicy,
    ) -> Result<Self, GithubError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            ACCEPT,
            HeaderValue::from_static("application/vnd.github+json"),
        );
        headers.insert(
            "X-GitHub-Api-Version",
            HeaderValue::from_static("2022-11-28"),
        );
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("swa-actions/", env!("CARGO_PKG_VERSION"))),
        );
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
            .map_err(|_| GithubError::InvalidToken)?;
        auth.set_sensitive(true);
        headers.insert(AUTHORIZATION, auth);
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(policy.request_timeout)
            .connect_timeout(policy.connect_timeout)
            .build()
            .map_err(GithubError::Client)?;
        Ok(GitHub {
            http,
            base: base_url.trim_end_matches('/').to_string(),
            policy,
            on_retry: None,
        })
    }

    /// Calls `hook` before each retry, so the action can say in its log what it is waiting for.
    /// Each retry as a warning in the job log: what failed, when the next attempt comes, and
    /// how many are left.
    pub fn warn_retries(self, gha: &swa_gha::Gha) -> Self {
        let log = gha.clone();
        self.on_retry(move |e| {
            log.warning(format!(
                "GitHub: {} on {} {}; retrying in {} (attempt {} of {})",
                e.reason,
                e.method,
                e.path,
                swa_gha::format_duration(e.delay),
                e.attempt + 1,
                e.max_attempts
            ));
        })
    }

    pub fn on_retry(mut self, hook: impl Fn(&RetryEvent<'_>) + Send + Sync + 'static) -> Self {
        self.on_retry = Some(Arc::new(hook));
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// A request that answers JSON, decoded as `T`.
    pub async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
    ) -> Result<(T, Answer), GithubError> {
        let answer = self.send(method.clone(), path, query, body).await?;
        let value = serde_json::from_slice(&answer.body).map_err(|source| GithubError::Decode {
            method: method.to_string(),
            path: path.to_string(),
            source,
        })?;
        Ok((value, answer))
    }

    /// Sends a request, retrying faults within the policy. A 2xx answer is returned; any other
    /// ends as the [`GithubError`] that names it.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, GithubError> {
        self.send_with(method, path, query, body, Repeat::Faults)
            .await
    }

    /// Sends a request that must not happen twice (one that starts something). It is repeated
    /// only when GitHub surely did not act on it: the connection could not be made, or GitHub
    /// answered 408, 429 or a rate-limit 403. A 5xx answer, a timeout or a dropped connection
    /// ends at once, as an error whose [`GithubError::may_have_acted`] is true: only the caller
    /// can tell whether it happened, by looking for what it would have started.
    pub async fn send_once(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, GithubError> {
        self.send_with(method, path, query, body, Repeat::UnlessReceived)
            .await
    }

    async fn send_with(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
        repeat: Repeat,
    ) -> Result<Answer, GithubError> {
        let url = format!("{}{}", self.base, path);
        let max = self.policy.max_attempts.max(1);
        let method_name = method.to_string();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self.http.request(method.clone(), &url);
            if !query.is_empty() {
                request = request.query(query);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let outcome = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    match response.bytes().await {
                        Ok(bytes) => Ok((status, headers, bytes.to_vec())),
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(e),
            };
            let (status, headers, bytes) = match outcome {
                Ok(parts) => parts,
                Err(source) => {
                    let may_repeat = repeat == Repeat::Faults || source.is_connect();
                    if attempt < max && may_repeat && transport_retryable(&source) {
                        let delay = self.backoff(attempt);
                        self.notify(
                            &method_name,
                            path,
                            attempt,
                            delay,
                            transport_reason(&source),
                        );
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    return Err(GithubError::Transport {
                        method: method_name,
                        path: path.to_string(),
                        attempts: attempt,
                        source,
                    });
                }
            };
            let date = header_str(&headers, "date").and_then(|d| httpdate::parse_http_date(d).ok());
            if status.is_success() {
                return Ok(Answer {
                    status: status.as_u16(),
                    date,
                    body: bytes,
                });
            }
            let hint = wait_hint(&headers, date);
            let retryable = (status.is_server_error() && repeat == Repeat::Faults)
                || status == StatusCode::REQUEST_TIMEOUT
                || status == StatusCode::TOO_MANY_REQUESTS
                || (status == StatusCode::FORBIDDEN && hint.is_some());
            if retryable && attempt < max {
                let delay = match &hint {
                    Some(h) => h.wait,
                    None => self.backoff(attempt),
                };
                if delay > self.policy.max_wait {
                    return Err(GithubError::RateLimited {
                        method: method_name,
                        path: path.to_string(),
                        wait: delay,
                        limit: self.policy.max_wait,
                        reset: hint.and_then(|h| h.reset),
                    });
                }
                let mut reason = status_text(status);
                if let Some(h) = &hint {
                    reason.push_str(&format!(" ({})", h.source));
                }
                self.notify(&method_name, path, attempt, delay, reason);
                tokio::time::sleep(delay).await;
                continue;
            }
            return Err(classify(status, &bytes, method_name, path, attempt));
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .policy
            .base_delay
            .saturating_mul(1u32 << (attempt - 1).min(16));
        let capped = exp.min(self.policy.max_delay);
        // Equal jitter: half fixed, half random, so parallel clients do not retry in step.
        let half = capped / 2;
        let extra = rand::random_range(0.0..=1.0);
        half + half.mul_f64(extra)
    }

    fn notify(&self, method: &str, path: &str, attempt: u32, delay: Duration, reason: String) {
        if let Some(hook) = &self.on_retry {
            hook(&RetryEvent {
                method,
                path,
                attempt,
                max_attempts: self.policy.max_attempts,
                delay,
                reason,
            });
        }
    }
}

/// Which faults a request is repeated after.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Repeat {
    /// Any fault: reading, or a change that may safely happen twice.
    Faults,
    /// Only faults that show GitHub did not receive or act on the request.
    UnlessReceived,
}

fn transport_retryable(e: &reqwest::Error) -> bool {
    e.is_timeout() || e.is_connect() || e.is_request() || e.is_body() || e.is_decode()
}

fn transport_reason(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else {
        "connection dropped".into()
    }
}

fn status_text(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

struct WaitHint {
    wait: Duration,
    source: String,
    reset: Option<String>,
}

/// How long GitHub asks us to wait: `Retry-After` (seconds or an HTTP date), else, when the
/// rate limit is used up, until `x-ratelimit-reset` (epoch seconds, read against the server's
/// own `Date` so a skewed runner clock does not matter).
fn wait_hint(headers: &HeaderMap, server_now: Option<SystemTime>) -> Option<WaitHint> {
    let now = server_now.unwrap_or_else(SystemTime::now);
    if let Some(value) = header_str(headers, RETRY_AFTER.as_str()) {
        if let Ok(secs) = value.parse::<u64>() {
            return Some(WaitHint {
                wait: Duration::from_secs(secs),
                source: format!("Retry-After: {value}"),
                reset: None,
            });
        }
        if let Ok(at) = httpdate::parse_http_date(value) {
            return Some(WaitHint {
                wait: at.duration_since(now).unwrap_or(Duration::ZERO),
                source: format!("Retry-After: {value}"),
                reset: None,
            });
        }
    }
    let remaining = header_str(headers, "x-ratelimit-remaining")?;
    if remaining != "0" {
        return None;
    }
    let reset: u64 = header_str(headers, "x-ratelimit-reset")?.parse().ok()?;
    // A reset beyond what the clock can hold is no hint (adding it would overflow).
    let reset_at = SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(reset))?;
    let wait = reset_at
        .duration_since(now)
        .unwrap_or(Duration::ZERO)
        .saturating_add(Duration::from_secs(1));
    let reset_text = i64::try_from(reset)
        .ok()
        .and_then(|secs| time::OffsetDateTime::from_unix_timestamp(secs).ok())
        .and_then(|at| {
            at.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| reset.to_string());
    Some(WaitHint {
        wait,
        source: format!("rate limit used up until {reset_text}"),
        reset: Some(reset_text),
    })
}

/// GitHub's `message`, plus the `errors` details a 422 carries.
fn error_message(bytes: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Body {
        message: Option<String>,
        #[serde(default)]
        errors: Vec<serde_json::Value>,
    }
    if let Ok(body) = serde_json::from_slice::<Body>(bytes) {
        let mut text = body.message.unwrap_or_default();
        let details: Vec<String> = body
            .errors
            .iter()
            .map(|e| match e {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Object(o) => o
                    .get("message")
                    .and_then(|m| m.as_str())
                    .map(String::from)
                    .unwrap_or_else(|| {
                        let field = o.get("field").and_then(|f| f.as_str()).unwrap_or("?");
                        let code = o.get("code").and_then(|f| f.as_str()).unwrap_or("invalid");
                        format!("{field} {code}")
                    }),
                other => other.to_string(),
            })
            .collect();
        if !details.is_empty() {
            text.push_str(&format!(": {}", details.join("; ")));
        }
        if !text.is_empty() {
            return text;
        }
    }
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.is_empty() {
        return "no message".into();
    }
    text.chars().take(200).collect()
}

fn classify(
    status: StatusCode,
    bytes: &[u8],
    method: String,
    path: &str,
    attempts: u32,
) -> GithubError {
    let message = error_message(bytes);
    let path = path.to_string();
    match status.as_u16() {
        401 => GithubError::Unauthorized {
            method,
            path,
            message,
        },
        403 => GithubError::Forbidden {
            method,
            path,
            message,
        },
        404 => GithubError::NotFound {
            method,
            path,
            message,
        },
        422 => GithubError::Unprocessable {
            method,
            path,
            message,
        },
        other => GithubError::Status {
            method,
            path,
            status: other,
            message,
            attempts,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_url_comes_from_the_input_then_the_environment() {
        let env = Env::from_pairs([("GITHUB_API_URL", "https://ghe.example.com/api/v3/")]);
        assert_eq!(
            api_base_url(None, &env),
            Ok("https://ghe.example.com/api/v3".into())
        );
        assert_eq!(
            api_base_url(Some("http://127.0.0.1:9/_github"), &env),
            Ok("http://127.0.0.1:9/_github".into())
        );
        assert_eq!(
            api_base_url(Some(" "), &Env::default()),
            Ok(DEFAULT_API_URL.into())
        );
    }

    #[test]
    fn a_base_url_that_is_not_http_is_refused() {
        for bad in [
            "api.github.com",
            "ftp://x.example",
            "https://",
            "https://user:pw@x.example",
            "https://x.example/?a=b",
        ] {
            assert!(
                api_base_url(Some(bad), &Env::default()).is_err(),
                "{bad} should be refused"
            );
        }
    }

    #[test]
    fn error_messages_carry_githubs_details() {
        let body = br#"{"message":"Validation Failed","errors":[{"resource":"Dispatch","field":"event_type","code":"too_long"}]}"#;
        assert_eq!(
            error_message(body),
            "Validation Failed: event_type too_long"
        );
        assert_eq!(error_message(b"<html>oops</html>"), "<html>oops</html>");
        assert_eq!(error_message(b""), "no message");
    }

    #[test]
    fn rate_limit_reset_is_read_against_the_servers_clock() {
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        headers.insert("x-ratelimit-reset", HeaderValue::from_static("1000010"));
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let hint = wait_hint(&headers, Some(now)).expect("hint");
        assert_eq!(hint.wait, Duration::from_secs(11));
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static("12"));
        assert!(wait_hint(&headers, Some(now)).is_none());
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(
            wait_hint(&headers, Some(now)).expect("hint").wait,
            Duration::from_secs(7)
        );
    }

    #[test]
    fn a_reset_beyond_the_clock_is_no_hint_and_no_panic() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        headers.insert(
            "x-ratelimit-reset",
            HeaderValue::from_static("18446744073709551615"),
        );
        assert!(wait_hint(&headers, Some(now)).is_none());
        // Past the year 9999: a wait far beyond any limit, shown as the raw number.
        headers.insert(
            "x-ratelimit-reset",
            HeaderValue::from_static("300000000000"),
        );
        let hint = wait_hint(&headers, Some(now)).expect("hint");
        assert!(hint.wait > Duration::from_secs(299_000_000_000));
        assert_eq!(hint.reset.as_deref(), Some("300000000000"));
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("18446744073709551615"),
        );
        assert_eq!(
            wait_hint(&headers, Some(now)).expect("hint").wait,
            Duration::from_secs(u64::MAX)
        );
    }
}
