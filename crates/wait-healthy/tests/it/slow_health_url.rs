//! A slow health URL never delays a verdict ECS has already given.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::{run, sandbox_at, snapshots, start_rollout};

/// A health URL that takes `delay` to answer each request (200 `{"status":"healthy"}`).
struct SlowUrl {
    url: String,
    received: Arc<AtomicU32>,
    answered: Arc<AtomicU32>,
}

fn slow_url(delay: Duration) -> SlowUrl {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/health", listener.local_addr().unwrap());
    let received = Arc::new(AtomicU32::new(0));
    let answered = Arc::new(AtomicU32::new(0));
    let (r, a) = (received.clone(), answered.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let (received, answered) = (r.clone(), a.clone());
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    line.clear();
                }
                received.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(delay);
                answered.fetch_add(1, Ordering::SeqCst);
                let body = r#"{"status":"healthy"}"#;
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    SlowUrl {
        url,
        received,
        answered,
    }
}

#[test]
fn a_crash_loop_is_reported_without_waiting_for_a_slow_health_url() {
    let health = slow_url(Duration::from_secs(5));
    let sandbox = sandbox_at("crash-loop", 30.0);
    let id = start_rollout(&sandbox);
    let run = run(
        &sandbox,
        &[
            ("deployment-id", id.as_str()),
            ("timeout", "2m"),
            ("max-failed-tasks", "50"),
            ("health-url", &health.url),
            ("poll-interval", "500ms"),
        ],
    );
    let answered = health.answered.load(Ordering::SeqCst);
    let exited_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    assert_eq!(run.code, 1, "{}", run.log);
    assert_eq!(run.outputs["result"], "rolled-back", "{}", run.log);
    assert!(
        health.received.load(Ordering::SeqCst) >= 1,
        "the URL was probed"
    );
    // The verdict came while the first probe was still waiting for its answer: no probe had
    // been answered (or had timed out, which would count as a failed probe) when it was given.
    assert_eq!(answered, 0, "{}", run.log);
    assert_eq!(run.outputs["failed-probes"], "0", "{}", run.log);
    let failed_ms = sandbox
        .timeline()
        .iter()
        .find(|e| e.kind == "deployment-failed")
        .map(|e| e.at_unix_ms)
        .expect("the sandbox's circuit breaker tripped");
    assert!(
        failed_ms <= exited_ms,
        "the verdict follows the failure ({} ms after it)",
        exited_ms.saturating_sub(failed_ms)
    );
    snapshots(|| {
        insta::assert_snapshot!("slow_health_url_error", run.errors().join("\n"));
    });
}
