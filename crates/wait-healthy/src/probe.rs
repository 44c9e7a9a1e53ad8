//! The `health-url` probe: GET must answer 200, and the body must contain `health-expect`.
//!
//! The probe runs on its own task ([`Prober`]), beside the polls: a slow URL never delays what
//! ECS already said, and the wait reads the latest answer whenever it decides.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

/// Probes one URL, counting what it saw.
pub struct Probe {
    client: reqwest::Client,
    url: String,
    expect: Option<Value>,
    pub attempts: u32,
    pub failures: u32,
    /// The last failure's reason; `None` once a probe passes.
    pub last_error: Option<String>,
    pub last_ok: bool,
}

impl Probe {
    pub fn new(url: String, expect: Option<Value>, timeout: Duration) -> Result<Probe, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("swa-wait-healthy/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Probe {
            client,
            url,
            expect,
            attempts: 0,
            failures: 0,
            last_error: None,
            last_ok: false,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// One GET; true when it passed.
    pub async fn check(&mut self) -> bool {
        self.attempts += 1;
        let result = self.get().await;
        self.last_ok = result.is_ok();
        match result {
            Ok(()) => self.last_error = None,
            Err(e) => {
                self.failures += 1;
                self.last_error = Some(e);
            }
        }
        self.last_ok
    }

    async fn get(&self) -> Result<(), String> {
        let response = self
            .client
            .get(&self.url)
            .send()
            .await
            .map_err(|e| describe_reqwest(&e))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| format!("reading the body: {}", describe_reqwest(&e)))?;
        if status.as_u16() != 200 {
            return Err(format!("HTTP {status}: {}", excerpt(&body)));
        }
        if let Some(expect) = &self.expect {
            let got: Value = serde_json::from_str(&body)
                .map_err(|_| format!("the body is not JSON: {}", excerpt(&body)))?;
            if !contains(&got, expect) {
                return Err(format!(
                    "the body {} does not contain {}",
                    excerpt(&body),
                    expect
                ));
            }
        }
        Ok(())
    }
}

/// What the probes have seen so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Probed {
    /// Probes answered (passed or failed); one still waiting for its answer is not counted.
    pub attempts: u32,
    pub failures: u32,
    /// The last answer passed.
    pub last_ok: bool,
    /// The last failure's reason; `None` once a probe passes.
    pub last_error: Option<String>,
}

/// A [`Probe`] running on its own task: a GET, then a pause of `interval` (cut short by
/// [`Prober::nudge`]), again and again until the prober is dropped.
pub struct Prober {
    latest: watch::Receiver<Probed>,
    nudge: Arc<Notify>,
    task: JoinHandle<()>,
}

impl Prober {
    pub fn spawn(mut probe: Probe, interval: Duration) -> Prober {
        let (tx, latest) = watch::channel(Probed::default());
        let nudge = Arc::new(Notify::new());
        let woken = nudge.clone();
        let task = tokio::spawn(async move {
            loop {
                probe.check().await;
                tx.send_replace(Probed {
                    attempts: probe.attempts,
                    failures: probe.failures,
                    last_ok: probe.last_ok,
                    last_error: probe.last_error.clone(),
                });
                tokio::select! {
                    () = tokio::time::sleep(interval) => {}
                    () = woken.notified() => {}
                }
            }
        });
        Prober {
            latest,
            nudge,
            task,
        }
    }

    /// The answers so far; never waits for a probe under way.
    pub fn latest(&self) -> Probed {
        self.latest.borrow().clone()
    }

    /// Probes again as soon as the probe under way (if any) has its answer, instead of after the
    /// pause: the rollout is about to be healthy and only the URL is left to check.
    pub fn nudge(&self) {
        self.nudge.notify_one();
    }

    /// Stops probing; the answers so far stay readable.
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Prober {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn describe_reqwest(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".into();
    }
    if e.is_connect() {
        return "connection refused or unreachable".into();
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

fn excerpt(body: &str) -> String {
    let one_line: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 200 {
        format!("{}…", one_line.chars().take(200).collect::<String>())
    } else {
        one_line
    }
}

/// `expected` is contained in `got`: every key of an expected object is present with a
/// contained value; other values are equal.
pub fn contains(got: &Value, expected: &Value) -> bool {
    match (got, expected) {
        (Value::Object(got), Value::Object(expected)) => expected
            .iter()
            .all(|(k, v)| got.get(k).is_some_and(|g| contains(g, v))),
        _ => got == expected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_body_must_contain_the_expected_fields() {
        let got = json!({"status": "healthy", "database": "ok", "version": "release-4", "checks": {"cache": "ok", "queue": "ok"}});
        assert!(contains(
            &got,
            &json!({"status": "healthy", "database": "ok"})
        ));
        assert!(contains(&got, &json!({"checks": {"cache": "ok"}})));
        assert!(!contains(&got, &json!({"database": "down"})));
        assert!(!contains(&got, &json!({"missing": "x"})));
        assert!(contains(&got, &json!({})));
    }
}
