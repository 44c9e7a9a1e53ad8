//! sync-frontend against `aws s3 sync` (awscli, from .venv) on one S3 server: a site of small
//! files, each tool into its own bucket; the first upload, a re-run with nothing changed, and a
//! re-run from a fresh checkout (the same content copied to a new folder, so every file has a new
//! modification time, as in CI).
//!
//! `cargo bench -p sync-frontend --bench sync` (release build). `SWA_BENCH_FILES` sets the number
//! of files (default 2000), `SWA_BENCH_RUNS` the runs (default 1), `SWA_BENCH_SERVER` the server:
//! `moto` (default; one request at a time, in Python, so it bounds both tools) or `sandbox` (the
//! swa sandbox's S3, in this process). For moto it also prints the CPU time the server spent on
//! each phase: when it is close to the wall time, the server is the limit.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

#[allow(dead_code)]
#[path = "../tests/it/moto.rs"]
mod moto;

const BIN: &str = env!("CARGO_BIN_EXE_sync-frontend");
const PHASES: [&str; 3] = [
    "first upload",
    "re-run, nothing changed",
    "re-run, fresh checkout",
];

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

enum Server {
    Moto(moto::Moto),
    Sandbox(swa_sandbox::Sandbox),
}

impl Server {
    fn url(&self) -> String {
        match self {
            Server::Moto(m) => m.url.clone(),
            Server::Sandbox(s) => s.aws_url(),
        }
    }

    /// The PutObject requests the server received for `bucket`.
    fn puts(&self, bucket: &str) -> usize {
        match self {
            Server::Moto(m) => {
                let prefix = format!("PUT /{bucket}/");
                m.requests()
                    .iter()
                    .filter(|r| r.starts_with(&prefix))
                    .count()
            }
            Server::Sandbox(s) => s
                .calls()
                .iter()
                .filter(|c| c.operation == "PutObject" && c.request["bucket"] == bucket)
                .count(),
        }
    }

    /// The server's CPU seconds so far (moto only: the sandbox shares this process).
    fn cpu(&self) -> Option<f64> {
        let Server::Moto(m) = self else { return None };
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", m.pid())).ok()?;
        let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split(' ').collect();
        let ticks: f64 =
            fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
        // USER_HZ is 100 on Linux.
        Some(ticks / 100.0)
    }
}

/// Pages, scripts, styles and small images in 20 folders, 0.5-2.5 KiB each, the same every run.
fn write_site(root: &Path, count: usize) -> u64 {
    let exts = ["js", "css", "js", "svg", "json", "png", "html"];
    let mut state: u64 = 7;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        state >> 33
    };
    let mut bytes = 0;
    for i in 0..count {
        let folder = root.join(format!("section{:02}", i % 20));
        std::fs::create_dir_all(&folder).unwrap();
        let size = 512 + (next() % 2049) as usize;
        let body: String = (0..size.div_ceil(8))
            .map(|_| format!("{:08x}", next() as u32))
            .collect();
        let path = folder.join(format!("file{i:05}.{}", exts[i % exts.len()]));
        std::fs::write(path, &body.as_bytes()[..size]).unwrap();
        bytes += size as u64;
    }
    bytes
}

fn copy_dir(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-r")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}

/// Runs one tool; returns its wall seconds and the uploads it reports.
fn run(
    tool: &str,
    aws: &Path,
    url: &str,
    bucket: &str,
    source: &Path,
    work: &Path,
) -> (f64, usize) {
    let started = Instant::now();
    let uploaded = if tool == "sync-frontend" {
        let outputs = work.join("outputs");
        std::fs::write(&outputs, "").unwrap();
        let status = Command::new(BIN)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(credentials(url))
            .env("GITHUB_OUTPUT", &outputs)
            .env("INPUT_BUCKET", bucket)
            .env("INPUT_SOURCE", source)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "sync-frontend failed");
        let text = std::fs::read_to_string(&outputs).unwrap();
        let mut lines = text.lines().skip_while(|l| !l.starts_with("uploaded<<"));
        lines.nth(1).and_then(|n| n.parse().ok()).unwrap_or(0)
    } else {
        let out = Command::new(aws)
            .args(["--endpoint-url", url, "s3", "sync"])
            .arg(source)
            .arg(format!("s3://{bucket}/"))
            .arg("--no-progress")
            .envs(credentials(url))
            .output()
            .unwrap();
        assert!(out.status.success(), "aws s3 sync failed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("upload:"))
            .count()
    };
    (started.elapsed().as_secs_f64(), uploaded)
}

fn credentials(url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", "bench".into()),
        ("AWS_SECRET_ACCESS_KEY", "bench".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_DEFAULT_REGION", "us-east-1".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("AWS_ENDPOINT_URL", url.into()),
    ]
}

fn main() {
    let files = env_or("SWA_BENCH_FILES", 2000usize);
    let runs = env_or("SWA_BENCH_RUNS", 1usize);
    let aws: PathBuf = moto::workspace_root().join(".venv/bin/aws");
    assert!(
        aws.exists(),
        "{} is missing: run scripts/venv.sh",
        aws.display()
    );
    let server = match std::env::var("SWA_BENCH_SERVER").as_deref() {
        Ok("sandbox") => {
            Server::Sandbox(swa_sandbox::Sandbox::start(swa_sandbox::Options::default()).unwrap())
        }
        Ok("moto") | Err(_) => Server::Moto(moto::Moto::start()),
        Ok(other) => panic!("SWA_BENCH_SERVER must be moto or sandbox, not {other}"),
    };
    let url = server.url();
    let work = tempfile::tempdir().unwrap();
    let site = work.path().join("site");
    let bytes = write_site(&site, files);
    let version = Command::new(&aws).arg("--version").output().unwrap();
    let version = String::from_utf8_lossy(&version.stdout).to_string()
        + &String::from_utf8_lossy(&version.stderr);
    println!(
        "sync-frontend vs aws s3 sync ({}) on {}",
        version.split(' ').next().unwrap_or("?"),
        match server {
            Server::Moto(_) => "moto",
            Server::Sandbox(_) => "swa-sandbox",
        }
    );
    println!(
        "{files} files, {bytes} bytes; {runs} run(s); {} cores\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:14} {:4} {:26} {:>9} {:>9} {:>12} {:>14}",
        "tool", "run", "phase", "seconds", "uploaded", "server PUTs", "server CPU s"
    );
    let mut times: BTreeMap<(&str, &str), Vec<f64>> = BTreeMap::new();
    for r in 1..=runs {
        for tool in ["sync-frontend", "aws s3 sync"] {
            let bucket = format!("bench-{}-{r}", tool.replace(' ', "-"));
            let made = Command::new(&aws)
                .args([
                    "--endpoint-url",
                    &url,
                    "s3",
                    "mb",
                    &format!("s3://{bucket}"),
                ])
                .envs(credentials(&url))
                .output()
                .unwrap();
            assert!(
                made.status.success(),
                "{}",
                String::from_utf8_lossy(&made.stderr)
            );
            for phase in PHASES {
                let mut source = site.clone();
                if phase == "re-run, fresh checkout" {
                    source = work.path().join(format!("checkout-{tool}-{r}"));
                    // A checkout made later than the upload, as in CI.
                    std::thread::sleep(std::time::Duration::from_millis(1100));
                    copy_dir(&site, &source);
                }
                let (puts, cpu) = (server.puts(&bucket), server.cpu());
                let (secs, uploaded) = run(tool, &aws, &url, &bucket, &source, work.path());
                let cpu = match (cpu, server.cpu()) {
                    (Some(a), Some(b)) => format!("{:.2}", b - a),
                    _ => "-".into(),
                };
                println!(
                    "{tool:14} {r:4} {phase:26} {secs:9.2} {uploaded:9} {:12} {cpu:>14}",
                    server.puts(&bucket) - puts
                );
                times.entry((tool, phase)).or_default().push(secs);
            }
        }
    }
    println!("\nspeed-up of sync-frontend over aws s3 sync (mean over runs):");
    let mean = |v: &Vec<f64>| v.iter().sum::<f64>() / v.len() as f64;
    for phase in PHASES {
        let swa = mean(&times[&("sync-frontend", phase)]);
        let aws = mean(&times[&("aws s3 sync", phase)]);
        println!("  {phase:26} {swa:6.2}s vs {aws:6.2}s  {:5.2}x", aws / swa);
    }
}
