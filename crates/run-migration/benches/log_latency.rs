//! How quickly a migration's log line reaches the job log, and how many API calls the action
//! makes while it waits. Runs the real binary against the sandbox in real time (clock 1.0):
//!
//! - latency: from the line's CloudWatch timestamp (when the sandbox's container wrote it) to
//!   the moment the line came out of the binary's stdout;
//! - stop detection: from the sandbox's `task-stopped` event to the binary printing the stop;
//! - calls per minute: DescribeTasks + GetLogEvents the sandbox received, over the time from
//!   RunTask to the end.
//!
//! `cargo bench -p run-migration --bench log_latency --profile dev` (the figures are dominated
//! by the polling intervals, not by code speed; a dev build avoids a long release build).

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use swa_sandbox::{Options, Sandbox};

const BIN: &str = env!("CARGO_BIN_EXE_run-migration");

struct Case {
    name: &'static str,
    scenario: &'static str,
    command: Option<&'static str>,
    timeout: Option<&'static str>,
}

struct Figures {
    latencies: Vec<i64>,
    stop_detect_ms: Option<i64>,
    describe: usize,
    get_log_events: usize,
    wait_ms: i64,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn run(case: &Case) -> Figures {
    let sandbox = Sandbox::start(Options {
        scenario: case.scenario.into(),
        clock: 1.0,
        ..Options::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let outputs = dir.path().join("outputs");
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .envs(sandbox.env())
        .env("GITHUB_OUTPUT", &outputs)
        .env("INPUT_CLUSTER", "startupwebapp-cluster")
        .env("INPUT_SERVICE", "startupwebapp-service")
        .env("INPUT_TASK-DEFINITION", "startupwebapp-migration-task")
        .stdout(Stdio::piped());
    if let Some(command) = case.command {
        cmd.env("INPUT_COMMAND", command);
    }
    if let Some(timeout) = case.timeout {
        cmd.env("INPUT_TIMEOUT", timeout);
    }
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let printed: Arc<Mutex<Vec<(i64, String)>>> = Arc::default();
    let sink = printed.clone();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            sink.lock().unwrap().push((now_ms(), line));
        }
    });
    child.wait().unwrap();
    let ended = now_ms();
    reader.join().unwrap();
    let printed = printed.lock().unwrap().clone();

    let text = std::fs::read_to_string(&outputs).unwrap();
    let output = |name: &str| -> String {
        let mut lines = text.lines();
        while let Some(head) = lines.next() {
            if let Some((n, _)) = head.split_once("<<")
                && n == name
            {
                return lines.next().unwrap_or_default().to_string();
            }
        }
        String::new()
    };
    let (group, stream) = (output("log-group"), output("log-stream"));

    // The lines as the sandbox stored them, with the instant each was written.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let events = runtime.block_on(async {
        let env = swa_gha::Env::from_pairs(sandbox.env());
        let aws = swa_aws::Aws::load(&env).await;
        aws.logs()
            .get_log_events()
            .log_group_name(&group)
            .log_stream_name(&stream)
            .start_from_head(true)
            .send()
            .await
            .unwrap()
            .events()
            .to_vec()
    });
    let mut latencies = Vec::new();
    let mut cursor = 0;
    for event in &events {
        let message = event.message().unwrap_or_default().trim_end_matches('\n');
        if let Some(k) = printed[cursor..].iter().position(|(_, l)| l == message) {
            let (at, _) = printed[cursor + k];
            latencies.push(at - event.timestamp().unwrap_or_default());
            cursor += k + 1;
        }
    }

    let timeline = sandbox.timeline();
    let stopped_at = timeline
        .iter()
        .filter(|e| {
            e.kind == "task-stopped" && stream.ends_with(e.detail.split(' ').next().unwrap_or("-"))
        })
        .map(|e| e.at_unix_ms as i64)
        .next();
    let stop_printed = printed
        .iter()
        .find(|(_, l)| l.starts_with("task ") && l.contains(" stopped"))
        .map(|(at, _)| *at);
    let stop_detect_ms = match (stopped_at, stop_printed) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    let started = printed
        .iter()
        .find(|(_, l)| l.starts_with("Starting `"))
        .map(|(at, _)| *at)
        .unwrap_or(ended);
    let calls = sandbox.calls();
    Figures {
        latencies,
        stop_detect_ms,
        describe: calls
            .iter()
            .filter(|c| c.operation == "DescribeTasks")
            .count(),
        get_log_events: calls
            .iter()
            .filter(|c| c.operation == "GetLogEvents")
            .count(),
        wait_ms: ended - started,
    }
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let cases = [
        Case {
            name: "migration succeeds (5 lines)",
            scenario: "healthy",
            command: None,
            timeout: None,
        },
        Case {
            name: "migration fails (19-line traceback)",
            scenario: "migration-fails",
            command: None,
            timeout: None,
        },
        Case {
            name: "long task stopped at timeout (60s)",
            scenario: "healthy",
            command: Some("gunicorn StartupWebApp.wsgi"),
            timeout: Some("60s"),
        },
    ];
    println!("run-migration against swa-sandbox in real time (clock 1.0)\n");
    println!(
        "{:<38} {:>5} {:>8} {:>8} {:>8} {:>8} {:>10} {:>9} {:>9} {:>8} {:>10}",
        "case",
        "lines",
        "min ms",
        "p50 ms",
        "p95 ms",
        "max ms",
        "stop ms",
        "Describe",
        "GetLogEv",
        "wait s",
        "calls/min"
    );
    let mut all = Vec::new();
    let (mut calls, mut wait) = (0usize, 0i64);
    for case in &cases {
        let f = run(case);
        let mut sorted = f.latencies.clone();
        sorted.sort_unstable();
        let n = f.describe + f.get_log_events;
        let per_min = n as f64 / (f.wait_ms as f64 / 60_000.0);
        println!(
            "{:<38} {:>5} {:>8} {:>8} {:>8} {:>8} {:>10} {:>9} {:>9} {:>8.1} {:>10.1}",
            case.name,
            sorted.len(),
            sorted.first().copied().unwrap_or(0),
            percentile(&sorted, 0.5),
            percentile(&sorted, 0.95),
            sorted.last().copied().unwrap_or(0),
            f.stop_detect_ms
                .map(|v| v.to_string())
                .unwrap_or_else(|| "-".into()),
            f.describe,
            f.get_log_events,
            f.wait_ms as f64 / 1000.0,
            per_min
        );
        all.extend(sorted);
        calls += n;
        wait += f.wait_ms;
        std::thread::sleep(Duration::from_millis(200));
    }
    all.sort_unstable();
    println!(
        "\nall {} lines: written -> printed min {} ms, median {} ms, p95 {} ms, max {} ms, mean {:.0} ms",
        all.len(),
        all.first().copied().unwrap_or(0),
        percentile(&all, 0.5),
        percentile(&all, 0.95),
        all.last().copied().unwrap_or(0),
        all.iter().sum::<i64>() as f64 / all.len().max(1) as f64
    );
    println!(
        "API calls while waiting: {calls} in {:.1}s = {:.1} per minute (DescribeTasks + GetLogEvents)",
        wait as f64 / 1000.0,
        calls as f64 / (wait as f64 / 60_000.0)
    );
}
