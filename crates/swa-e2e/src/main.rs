//! End to end: the real workflows, run by act, with the real image, against the local sandbox.
//!
//! ```text
//! swa-e2e [healthy|crash-loop|login-broken|frontend|all]      (default all; scripts/e2e.sh)
//! E2E_REUSE_IMAGE=1: use the image already built; E2E_CLOCK: the sandbox's speed-up (60)
//! ```
//!
//! It readies the Docker engine (scripts/docker.sh) and the image (scripts/build-image.sh), then
//! runs each case: a caller repository's entry workflow, exactly as examples/ holds it, which
//! calls org/swa-actions/.github/workflows/<workflow>.yml@v1 (served from this checkout). Each
//! case asserts on the sandbox's recorded calls and GitHub deployment records as well as on the
//! log (see `cases`).
//!
//! act runs the jobs on this machine (`-P ubuntu-latest=-self-hosted`) and each action in the
//! local image. With a self-hosted platform act 0.2.89 starts Docker actions on the default bridge
//! network whatever `--network` says, so they cannot reach 127.0.0.1: the sandbox, started in
//! this process, listens on the bridge's gateway address instead. `org/swa-actions/...@v1`
//! (actions and reusable workflows) resolves to a tree made from this checkout
//! (`--local-repository`), laid out as release.yml publishes it. Steps that need github.com (OIDC
//! credentials, pip's cache, the image build and push) are skipped under act (the image push is
//! done here, into the sandbox's ECR); configure-aws-credentials, actions/cache and the checkouts
//! of the frontend repository are replaced by the stand-ins in tests/e2e. Logs: .tmp/e2e/.

#![allow(
    clippy::print_stderr,
    reason = "a test driver: its progress and its failures are its output"
)]

mod cases;
mod harness;

use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use regex::Regex;

use harness::{E2e, IMAGE, commit_fixture, copy, edit_lines, output, run, say, since};

const USAGE: &str = "usage: swa-e2e [healthy|crash-loop|login-broken|blue-green|frontend|all]";

fn main() -> ExitCode {
    let which = std::env::args().nth(1).unwrap_or_else(|| "all".into());
    if ![
        "healthy",
        "crash-loop",
        "login-broken",
        "blue-green",
        "frontend",
        "all",
    ]
    .contains(&which.as_str())
    {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    match run_cases(&which) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\x1b[1;31me2e: {e:#}\x1b[0m");
            ExitCode::FAILURE
        }
    }
}

fn run_cases(which: &str) -> Result<()> {
    let started = Instant::now();
    let root = workspace_root()?;
    let mut e2e = prepare(root)?;
    match which {
        "healthy" => cases::healthy(&mut e2e)?,
        "crash-loop" => cases::crash_loop(&e2e)?,
        "login-broken" => cases::login_broken(&e2e)?,
        "blue-green" => cases::blue_green(&e2e)?,
        "frontend" => cases::frontend(&mut e2e)?,
        _ => {
            cases::release_layout(&e2e)?;
            cases::healthy(&mut e2e)?;
            cases::crash_loop(&e2e)?;
            cases::login_broken(&e2e)?;
            cases::blue_green(&e2e)?;
            cases::frontend(&mut e2e)?;
        }
    }
    say("e2e passed");
    if let Some(seconds) = e2e.deploy_seconds {
        eprintln!("act deploy-production wall time (healthy): {seconds}s");
    }
    eprintln!("e2e wall time: {}s", since(started));
    Ok(())
}

/// The checkout this driver was built from.
fn workspace_root() -> Result<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest
        .ancestors()
        .nth(2)
        .context("the crate lies in crates/")?;
    ensure!(
        root.join("Cargo.toml").is_file(),
        "no workspace at {}",
        root.display()
    );
    Ok(root.to_owned())
}

/// The engine, the image, and the fixtures every case shares.
fn prepare(root: PathBuf) -> Result<E2e> {
    let clock = match std::env::var("E2E_CLOCK") {
        Ok(c) => c
            .parse()
            .with_context(|| format!("E2E_CLOCK {c:?} is not a number"))?,
        Err(_) => 60.0,
    };
    let script = |name: &str| {
        let mut cmd = Command::new(root.join("scripts").join(name));
        cmd.current_dir(&root);
        cmd
    };
    if !root.join(".venv/bin/act").exists() {
        run(&mut script("venv.sh"))?;
    }
    ensure!(
        root.join(".venv/bin/act").exists(),
        "act is missing from .venv: run scripts/venv.sh"
    );

    say("Docker engine");
    run(&mut script("docker.sh"))?;

    say(&format!("Image {IMAGE}"));
    let started = Instant::now();
    let built = || {
        Command::new("docker")
            .args(["image", "inspect", IMAGE])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if std::env::var("E2E_REUSE_IMAGE").as_deref() == Ok("1") && built() {
        eprintln!("reusing the image already built (E2E_REUSE_IMAGE=1)");
    } else {
        run(script("build-image.sh").arg(IMAGE))?;
    }
    let size =
        output(Command::new("docker").args(["image", "inspect", IMAGE, "--format", "{{.Size}}"]))?;
    eprintln!("image build: {}s; size: {size} bytes", since(started));

    say("Step start-up in the container");
    // What every step pays before the action's first request: docker creates and starts the
    // container, the static binary parses its inputs. Measured as a full `docker run` of an
    // action that stops at its input check (exit 2), median of 5.
    let mut times: Vec<f64> = (0..5)
        .map(|_| {
            let started = Instant::now();
            let _ = Command::new("docker")
                .args(["run", "--rm", "--network", "host", IMAGE, "update-service"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            started.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    eprintln!(
        "step start-up (docker run to exit, median of 5): {:.3}s",
        times[2]
    );

    let mut e2e = E2e::new(root, bridge_address()?, clock);
    let _ = fs::remove_dir_all(&e2e.work);
    fs::create_dir_all(&e2e.work)?;
    let v1 = published_tree(&e2e)?;

    // A caller repository: the application's entry workflows exactly as examples/app holds
    // them, beside a stand-in for the application (its tests run as the workflow's default test
    // command), and the checks file the healthy case's variables name, as the team would keep it.
    let root = &e2e.root;
    copy(&root.join("tests/e2e/startupwebapp"), &e2e.app)?;
    copy(&root.join("examples/app/.github"), &e2e.app)?;
    fs::copy(
        root.join("examples/startupwebapp-smoke.yml"),
        e2e.app.join(".github/smoke-checks.yml"),
    )?;
    // The caller's lint command, as its inputs would give it: flake8 (the default) is not on
    // this machine.
    edit_lines(
        &e2e.app.join(".github/workflows/deploy.yml"),
        "      functional-test-command: ",
        |line| format!("{line}\n      lint-command: python -m py_compile manage.py"),
    )?;
    commit_fixture(&e2e.app)?;
    // The frontend repository the deploy's test job checks out (its default branch's head).
    copy(
        &root.join("tests/e2e/startupwebapp-frontend"),
        &e2e.frontend_repo,
    )?;
    commit_fixture(&e2e.frontend_repo)?;

    e2e.local_repos = local_repositories(&e2e, &v1)?;
    Ok(e2e)
}

/// The tree act serves for org/swa-actions@v1 (`--local-repository`), laid out as release.yml
/// publishes it: every action at the root, the reusable workflows beside them.
fn published_tree(e2e: &E2e) -> Result<PathBuf> {
    let v1 = e2e.work.join("v1");
    fs::create_dir_all(v1.join(".github"))?;
    for action in fs::read_dir(e2e.root.join("actions"))? {
        copy(&action?.path(), &v1)?;
    }
    copy(&e2e.root.join(".github/workflows"), &v1.join(".github"))?;
    Ok(v1)
}

/// org/swa-actions@v1 from `v1`; the actions that are skipped under act
/// (configure-aws-credentials, actions/cache) still have to resolve: a local stand-in. act serves
/// actions/checkout from the working copy when it checks out the calling repository itself; a
/// checkout of the frontend (a `repository` or a `ref`) goes to the local checkout stand-in,
/// which exports `E2E_FRONTEND_DIR`.
fn local_repositories(e2e: &E2e, v1: &Path) -> Result<Vec<String>> {
    let mut repos = vec![format!("org/swa-actions@v1={}", v1.display())];
    let pinned = Regex::new(
        r"(aws-actions/configure-aws-credentials|actions/cache|actions/checkout)@[0-9a-f]{40}",
    )?;
    let mut uses = std::collections::BTreeSet::new();
    for workflow in fs::read_dir(e2e.root.join(".github/workflows"))? {
        let text = fs::read_to_string(workflow?.path())?;
        uses.extend(pinned.find_iter(&text).map(|m| m.as_str().to_owned()));
    }
    for action in uses {
        let stand_in = if action.starts_with("actions/checkout@") {
            "checkout"
        } else {
            "stand-in"
        };
        let dir = e2e.root.join("tests/e2e").join(stand_in);
        repos.push(format!("{action}={}", dir.display()));
    }
    Ok(repos
        .into_iter()
        .flat_map(|r| ["--local-repository".to_owned(), r])
        .collect())
}

/// The address containers on the default bridge reach this machine at.
fn bridge_address() -> Result<IpAddr> {
    let shown = output(Command::new("ip").args(["-4", "-o", "addr", "show", "docker0"]))
        .unwrap_or_default();
    let address = match shown.split_whitespace().nth(3) {
        Some(cidr) => cidr.split('/').next().unwrap_or_default().to_owned(),
        None => output(Command::new("docker").args([
            "network",
            "inspect",
            "bridge",
            "-f",
            "{{range .IPAM.Config}}{{.Gateway}}{{end}}",
        ]))?,
    };
    if address.is_empty() {
        bail!("no docker0 bridge address");
    }
    address
        .parse()
        .with_context(|| format!("the bridge's address {address:?} is not an IP address"))
}
