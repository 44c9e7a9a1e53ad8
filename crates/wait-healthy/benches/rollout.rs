//! wait-healthy on sandbox rollouts: how soon it reports after the deployment becomes healthy
//! (or fails), how many ECS calls a minute it makes, how fast it starts, how much memory it uses.
//!
//! `cargo bench -p wait-healthy` (release build). `SWA_BENCH_RUNS` sets the runs per figure
//! (default 5), `SWA_BENCH_CLOCK` the sandbox's speed-up (default 10).

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::io::Read;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use swa_sandbox::{Options, Sandbox};

#[path = "../tests/it/rollout.rs"]
mod rollout;

use rollout::start_rollout;

const BIN: &str = env!("CARGO_BIN_EXE_wait-healthy");

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

struct Sample {
    /// Exit minus the sandbox's instant of the signal (or the start, if later), in ms.
    latency_ms: f64,
    exit_code: i32,
    ecs_calls: usize,
    /// The most ECS calls in any 60 s of the wait (all of them in a shorter wait).
    busiest_minute: usize,
    wait_s: f64,
    peak_rss_kb: u64,
}

/// One rollout watched by wait-healthy under `/usr/bin/time`; `signal` picks the instant from
/// the sandbox's timeline.
fn watch(
    scenario: &str,
    clock: f64,
    until: &str,
    signal: fn(&[swa_sandbox::Event]) -> Option<u128>,
) -> Sample {
    let sandbox = Sandbox::start(Options {
        scenario: scenario.into(),
        clock,
        ..Options::default()
    })
    .unwrap();
    let id = start_rollout(&sandbox);
    if scenario != "hook-fails" && sandbox.with_world(|w| w.service.strategy.shifts_traffic()) {
        continue_at_test_traffic(&sandbox);
    }
    // A workflow step starts at no particular moment of the rollout: start up to one poll
    // interval (2 s) late, so that the runs sample the phase between polls and ECS's timers.
    std::thread::sleep(Duration::from_millis(rand::random_range(0..2000)));
    let before = sandbox.calls().len();
    let dir = std::env::temp_dir().join(format!("wait-healthy-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rss_file = dir.join("rss");
    let started = Instant::now();
    let spawned = now_ms();
    let mut child = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&rss_file)
        .arg(BIN)
        .env_clear()
        .envs(sandbox.env())
        .env("GITHUB_OUTPUT", dir.join("output"))
        .env("GITHUB_STEP_SUMMARY", dir.join("summary"))
        .env("INPUT_CLUSTER", "startupwebapp-cluster")
        .env("INPUT_SERVICE", "startupwebapp-service")
        .env("INPUT_DEPLOYMENT-ID", &id)
        .env("INPUT_TIMEOUT", "10m")
        .env("INPUT_UNTIL", until)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The ECS calls made so far, every 100 ms: the busiest minute of the wait.
    let ecs_calls_now = || {
        sandbox.calls()[before..]
            .iter()
            .filter(|c| c.service == "ecs")
            .count()
    };
    let mut counts: Vec<(f64, usize)> = vec![(0.0, 0)];
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        counts.push((started.elapsed().as_secs_f64(), ecs_calls_now()));
        std::thread::sleep(Duration::from_millis(100));
    };
    let exited = now_ms();
    let wait_s = started.elapsed().as_secs_f64();
    let timeline = sandbox.timeline();
    let at = signal(&timeline).expect("the sandbox reported the signal");
    let ecs_calls = ecs_calls_now();
    counts.push((started.elapsed().as_secs_f64(), ecs_calls));
    let busiest_minute = counts
        .iter()
        .map(|&(from, at_start)| {
            let within = counts
                .iter()
                .take_while(|(t, _)| *t <= from + 60.0)
                .last()
                .map_or(at_start, |&(_, n)| n);
            within - at_start
        })
        .max()
        .unwrap_or(ecs_calls);
    let peak_rss_kb = std::fs::read_to_string(&rss_file)
        .unwrap_or_default()
        .trim()
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    // A signal before the watcher started counts from the start.
    Sample {
        latency_ms: exited as f64 - at.max(spawned) as f64,
        exit_code: status.code().unwrap_or(-1),
        ecs_calls,
        busiest_minute,
        wait_s,
        peak_rss_kb,
    }
}

fn completed(timeline: &[swa_sandbox::Event]) -> Option<u128> {
    timeline
        .iter()
        .find(|e| e.kind == "deployment-completed")
        .map(|e| e.at_unix_ms)
}

/// The first failure signal: the third failed container (max-failed-tasks is 3) or the rollout
/// FAILED, whichever came first.
fn first_failure(timeline: &[swa_sandbox::Event]) -> Option<u128> {
    let created = timeline
        .iter()
        .position(|e| e.kind == "deployment-created")?;
    let third_exit = timeline[created..]
        .iter()
        .filter(|e| e.kind == "container-exited" && !e.detail.ends_with("exit code 0"))
        .nth(2)
        .map(|e| e.at_unix_ms);
    let failed = timeline
        .iter()
        .find(|e| e.kind == "deployment-failed")
        .map(|e| e.at_unix_ms);
    match (third_exit, failed) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Waits until the traffic shift waits at its PAUSE hook after test traffic, and continues it,
/// as a workflow does once its smoke test passed on the test listener.
fn continue_at_test_traffic(sandbox: &Sandbox) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let state = sandbox.state();
        let newest = state["serviceDeployments"]
            .as_array()
            .and_then(|a| a.last().cloned())
            .unwrap_or_default();
        if let (Some(hook), Some(ecs_id)) = (
            newest["awaitingHook"].as_str(),
            newest["ecsDeployments"][0].as_str(),
        ) {
            let result = sandbox.with_world(|w| {
                let now = w.clock.now();
                w.continue_hook(ecs_id, hook, "CONTINUE", now)
            });
            result.unwrap();
            return;
        }
        assert!(Instant::now() < deadline, "never paused at test traffic");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The instant of the first fact of `kind` whose detail ends with `suffix`.
fn fact(timeline: &[swa_sandbox::Event], kind: &str, suffix: &str) -> Option<u128> {
    timeline
        .iter()
        .find(|e| e.kind == kind && e.detail.ends_with(suffix))
        .map(|e| e.at_unix_ms)
}

fn alarm(timeline: &[swa_sandbox::Event]) -> Option<u128> {
    fact(timeline, "alarm", "")
}

fn hook_failed(timeline: &[swa_sandbox::Event]) -> Option<u128> {
    fact(timeline, "hook", " FAILED")
}

/// Process start to the first byte of its first request, against a listener that only records
/// when the connection arrives.
fn start_to_first_request() -> f64 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let started = Instant::now();
    let mut child = Command::new(BIN)
        .env_clear()
        .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"))
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("INPUT_CLUSTER", "startupwebapp-cluster")
        .env("INPUT_SERVICE", "startupwebapp-service")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (mut stream, _) = listener.accept().unwrap();
    let mut first = [0u8; 1];
    let _ = stream.read(&mut first);
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    let _ = child.kill();
    let _ = child.wait();
    elapsed
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn report(name: &str, samples: &[Sample]) {
    let latencies: Vec<f64> = samples.iter().map(|s| s.latency_ms).collect();
    let calls: u64 = samples.iter().map(|s| s.ecs_calls as u64).sum();
    let minutes: f64 = samples.iter().map(|s| s.wait_s).sum::<f64>() / 60.0;
    let rss = samples.iter().map(|s| s.peak_rss_kb).max().unwrap_or(0);
    println!("{name}: {} runs", samples.len());
    for (i, s) in samples.iter().enumerate() {
        println!(
            "  run {}: exit {}, {:.0} ms after the signal, {} ECS calls in {:.1} s ({:.1}/min on average, {} in the busiest minute), peak RSS {:.1} MB",
            i + 1,
            s.exit_code,
            s.latency_ms,
            s.ecs_calls,
            s.wait_s,
            s.ecs_calls as f64 / (s.wait_s / 60.0),
            s.busiest_minute,
            s.peak_rss_kb as f64 / 1024.0
        );
    }
    println!(
        "  median {:.0} ms from the signal to exit (min {:.0}, max {:.0}); {:.1} ECS calls per minute of waiting on average, at most {} in any minute; peak RSS {:.1} MB",
        median(latencies.clone()),
        latencies.iter().copied().fold(f64::INFINITY, f64::min),
        latencies.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        calls as f64 / minutes,
        samples.iter().map(|s| s.busiest_minute).max().unwrap_or(0),
        rss as f64 / 1024.0
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and then one quick run
    // of each kind checks that the benchmark still works.
    let bench = std::env::args().any(|a| a == "--bench");
    let runs: usize = std::env::var("SWA_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if bench { 5 } else { 1 });
    let clock: f64 = std::env::var("SWA_BENCH_CLOCK")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if bench { 10.0 } else { 30.0 });
    println!("wait-healthy benchmark: {runs} runs per figure, sandbox clock x{clock}");

    let starts: Vec<f64> = (0..runs.max(5)).map(|_| start_to_first_request()).collect();
    println!(
        "process start to first request: median {:.1} ms (min {:.1}, max {:.1})",
        median(starts.clone()),
        starts.iter().copied().fold(f64::INFINITY, f64::min),
        starts.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    );

    let healthy: Vec<Sample> = (0..runs)
        .map(|_| watch("healthy", clock, "steady", completed))
        .collect();
    report(
        "healthy rollout (until steady), from deployment COMPLETED",
        &healthy,
    );

    // The service deployment succeeds as the deployment completes; read on every poll.
    let complete: Vec<Sample> = (0..runs)
        .map(|_| watch("healthy", clock, "complete", completed))
        .collect();
    report(
        "healthy rollout (until complete), from service deployment SUCCESSFUL",
        &complete,
    );

    let failed: Vec<Sample> = (0..runs)
        .map(|_| watch("crash-loop", clock, "steady", first_failure))
        .collect();
    report(
        "crash-loop rollout, from the first failure signal (3rd failed task or rollout FAILED)",
        &failed,
    );

    // Continued after test traffic, then through production traffic, the 3-minute bake and the
    // old tasks' drain: the calls a minute of a wait that follows the service deployment.
    let blue_green: Vec<Sample> = (0..runs)
        .map(|_| watch("blue-green", clock, "complete", completed))
        .collect();
    report(
        "blue/green through the bake (until complete), from service deployment SUCCESSFUL",
        &blue_green,
    );

    let canary: Vec<Sample> = (0..runs)
        .map(|_| watch("canary-alarm", clock, "complete", alarm))
        .collect();
    report(
        "canary rolled back by an alarm (until complete), from the alarm firing",
        &canary,
    );

    let hook: Vec<Sample> = (0..runs)
        .map(|_| watch("hook-fails", clock, "complete", hook_failed))
        .collect();
    report(
        "blue/green rolled back by a failing Lambda hook (until complete), from the hook failing",
        &hook,
    );
}
