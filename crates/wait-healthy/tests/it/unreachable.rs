//! ECS unreachable: the wait ends with `error` after `unreachable-timeout`, with one warning.

use std::net::TcpListener;

use swa_testing::Step;

use crate::{snapshots, with_stderr};

/// A port on 127.0.0.1 where nothing listens (connections are refused).
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn an_unreachable_endpoint_ends_the_wait_with_error_and_one_warning() {
    let endpoint = format!("http://127.0.0.1:{}", closed_port());
    let run = with_stderr(
        Step::new(env!("CARGO_BIN_EXE_wait-healthy"))
            .input("cluster", "startupwebapp-cluster")
            .input("service", "startupwebapp-service")
            .input("timeout", "30s")
            .input("unreachable-timeout", "3s")
            .input("poll-interval", "500ms")
            .env("AWS_ENDPOINT_URL", &endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "sandbox")
            .env("AWS_SECRET_ACCESS_KEY", "sandbox")
            .run(),
    );
    assert_eq!(run.code, 1, "{}", run.log);
    assert_eq!(run.outputs["result"], "error", "{}", run.log);
    let elapsed: f64 = run.outputs["elapsed-seconds"].parse().unwrap();
    assert!(
        (3.0..30.0).contains(&elapsed),
        "gave up after unreachable-timeout, not at the timeout: {elapsed}"
    );
    let warnings: Vec<&str> = run
        .log
        .lines()
        .filter(|l| l.starts_with("::warning"))
        .collect();
    snapshots(|| {
        insta::assert_snapshot!("unreachable_warnings", warnings.join("\n"));
        insta::assert_snapshot!("unreachable_error", run.errors().join("\n"));
        insta::assert_snapshot!("unreachable_summary", run.summary);
    });
}
