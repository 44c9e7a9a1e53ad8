//! What every case uses: the commands, the fixtures, act, and the checks on what act and the
//! sandbox recorded.

use std::fs;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use regex::{Regex, RegexBuilder};
use serde_json::Value;
use swa_sandbox::{Options, Sandbox};

/// The image every action runs, as the workflows name it.
pub const IMAGE: &str = "ghcr.io/org/swa-actions:v1";

/// A heading in the driver's output.
pub fn say(what: &str) {
    eprintln!("\n\x1b[1m==> {what}\x1b[0m");
}

/// Runs `cmd` to the end; an error unless it exits 0.
pub fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    ensure!(status.success(), "{cmd:?} exited with {status}");
    Ok(())
}

/// Runs `cmd` and returns its standard output, trimmed; an error unless it exits 0.
pub fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    ensure!(out.status.success(), "{cmd:?} exited with {}", out.status);
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// `git -C DIR` as the fixtures' author.
pub fn git(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("-C")
        .arg(dir)
        .args(["-c", "user.name=e2e", "-c", "user.email=e2e@localhost"]);
    cmd
}

/// The commit checked out in `dir`.
pub fn head(dir: &Path) -> Result<String> {
    output(git(dir).args(["rev-parse", "HEAD"]))
}

/// Makes `dir` a git repository of its files on branch `main`, whose origin is
/// github.com/org/NAME (NAME: the directory's name).
pub fn commit_fixture(dir: &Path) -> Result<()> {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .context("a fixture directory has a name")?;
    run(git(dir).args(["init", "--quiet", "-b", "main"]))?;
    run(git(dir).args(["add", "-A"]))?;
    run(git(dir).args(["commit", "--quiet", "-m", "fixture"]))?;
    run(git(dir)
        .args(["remote", "add", "origin"])
        .arg(format!("https://github.com/org/{name}.git")))
}

/// `cp -r FROM TO`.
pub fn copy(from: &Path, to: &Path) -> Result<()> {
    run(Command::new("cp").arg("-r").arg(from).arg(to))
}

/// Rewrites each line of `file` that starts with `prefix` (it may become several lines); an
/// error when no line does, so that a fixture cannot silently stop applying.
pub fn edit_lines(file: &Path, prefix: &str, change: impl Fn(&str) -> String) -> Result<()> {
    let text =
        fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut found = false;
    let mut edited = String::with_capacity(text.len());
    for line in text.lines() {
        if line.starts_with(prefix) {
            found = true;
            edited.push_str(&change(line));
        } else {
            edited.push_str(line);
        }
        edited.push('\n');
    }
    ensure!(found, "{} has no line starting {prefix:?}", file.display());
    fs::write(file, edited).with_context(|| format!("cannot write {}", file.display()))
}

/// A made-up token of `prefix` (`ghs_`, `ghp_`) and 24 random hex digits, new for each run.
fn token(prefix: &str) -> Result<String> {
    let mut bytes = [0u8; 12];
    fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(format!("{prefix}e2e{}", hex::encode(bytes)))
}

/// Seconds since `started`, to a tenth.
pub fn since(started: Instant) -> f64 {
    (started.elapsed().as_secs_f64() * 10.0).round() / 10.0
}

/// The run's directories and settings, and the repositories the cases run act in.
pub struct E2e {
    pub root: PathBuf,
    /// `.tmp/e2e`: every log and fixture of the run.
    pub work: PathBuf,
    venv: PathBuf,
    /// `--local-repository` arguments: org/swa-actions@v1 from this checkout, and the stand-ins.
    pub local_repos: Vec<String>,
    /// The docker bridge's gateway: this machine and the action containers both reach it.
    pub bridge: IpAddr,
    /// The sandbox's speed-up (E2E_CLOCK, default 60).
    pub clock: f64,
    /// The application's repository, with examples/app's entry workflows.
    pub app: PathBuf,
    /// The frontend repository the deploy's test job checks out.
    pub frontend_repo: PathBuf,
    /// What the checkout stand-in serves for a checkout of the frontend (E2E_FRONTEND_DIR).
    pub frontend_dir: PathBuf,
    /// The healthy deploy's wall time under act.
    pub deploy_seconds: Option<f64>,
}

/// One act run: its exit, its log, its time.
pub struct Act {
    pub name: String,
    pub success: bool,
    pub path: PathBuf,
    pub log: String,
    pub seconds: f64,
}

impl E2e {
    pub fn new(root: PathBuf, bridge: IpAddr, clock: f64) -> E2e {
        let work = root.join(".tmp/e2e");
        E2e {
            venv: root.join(".venv"),
            app: work.join("startupwebapp"),
            frontend_repo: work.join("frontend-repo"),
            frontend_dir: work.join("frontend-repo"),
            work,
            root,
            local_repos: Vec::new(),
            bridge,
            clock,
            deploy_seconds: None,
        }
    }

    /// A tool of the project's virtualenv (`act`, `aws`).
    pub fn tool(&self, name: &str) -> PathBuf {
        self.venv.join("bin").join(name)
    }

    /// Starts the sandbox with `scenario` on the bridge's gateway; dropping it stops it.
    pub fn sandbox(&self, scenario: &str) -> Result<Sandbox> {
        let sandbox = Sandbox::start(Options {
            scenario: scenario.into(),
            clock: self.clock,
            port: 0,
            bind: self.bridge,
        })
        .with_context(|| format!("the sandbox did not start with scenario {scenario}"))?;
        eprintln!("sandbox: scenario {scenario} at {}", sandbox.aws_url());
        Ok(sandbox)
    }

    /// Runs `event` on the repository `dir` as act runs it, with the caller's variables and
    /// secrets and the sandbox's AWS settings; `extra` goes last (more variables, inputs).
    pub fn act(
        &self,
        sandbox: &Sandbox,
        name: &str,
        dir: &Path,
        event: &str,
        workflow: &str,
        extra: &[&str],
    ) -> Result<Act> {
        let path = self.work.join(format!("{name}.log"));
        let log = fs::File::create(&path)?;
        let mut cmd = Command::new(self.tool("act"));
        cmd.current_dir(dir)
            .arg(event)
            .arg("-W")
            .arg(format!(".github/workflows/{workflow}"))
            .args(["-P", "ubuntu-latest=-self-hosted", "--pull=false"])
            .args(["--network", "host"])
            .args(&self.local_repos);
        for (key, value) in sandbox.env() {
            if key.starts_with("AWS_") {
                cmd.arg("--env").arg(format!("{key}={value}"));
            }
        }
        let var = |name: &str, value: &str| ["--var".to_owned(), format!("{name}={value}")];
        cmd.arg("--env")
            .arg(format!("E2E_FRONTEND_DIR={}", self.frontend_dir.display()))
            .args(var(
                "IMAGE_REPOSITORY",
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp",
            ))
            .args(var("APP_URL", &sandbox.app_url()))
            .args(var("FRONTEND_REPOSITORY", "org/startupwebapp-frontend"))
            .args(var("FRONTEND_API_URL", &sandbox.github_url()))
            .args(var("FRONTEND_BUCKET", "startupwebapp-frontend"))
            .arg("--env")
            .arg(format!("GITHUB_API_URL={}", sandbox.github_url()))
            .arg("-s")
            .arg(format!("GITHUB_TOKEN={}", token("ghs_")?))
            .arg("-s")
            .arg(format!("FRONTEND_DISPATCH_TOKEN={}", token("ghp_")?))
            .args(extra)
            .stdout(log.try_clone()?)
            .stderr(log);
        let started = Instant::now();
        let status = cmd
            .status()
            .with_context(|| format!("cannot run act for {name}"))?;
        let run = Act {
            name: name.to_owned(),
            success: status.success(),
            log: fs::read_to_string(&path)?,
            path,
            seconds: since(started),
        };
        eprintln!(
            "act {name}: {status} after {}s (log: {})",
            run.seconds,
            run.path.display()
        );
        Ok(run)
    }

    /// What the build job pushes on GitHub (skipped under act), done here: the application's
    /// image under `tag` in the sandbox's ECR (the manifest of release-4), through awscli.
    pub fn push_image(&self, sandbox: &Sandbox, tag: &str) -> Result<()> {
        let aws = |operation: &str, args: &[&str]| {
            let mut cmd = Command::new(self.tool("aws"));
            cmd.envs(sandbox.env())
                .args(["ecr", operation, "--repository-name", "startupwebapp"])
                .args(args);
            cmd
        };
        let manifest = output(&mut aws(
            "batch-get-image",
            &[
                "--image-ids",
                "imageTag=release-4",
                "--query",
                "images[0].imageManifest",
                "--output",
                "text",
            ],
        ))?;
        let mut put = aws(
            "put-image",
            &["--image-tag", tag, "--image-manifest", &manifest],
        );
        run(put.stdout(Stdio::null()))
    }
}

impl Act {
    /// Some line of the log matches the regex `pattern`: the regex.
    pub fn matches(&self, pattern: &str) -> Result<Option<Regex>> {
        let re = RegexBuilder::new(pattern).multi_line(true).build()?;
        Ok(re.is_match(&self.log).then_some(re))
    }

    /// The last `n` lines of the log, on the driver's error output.
    pub fn tail(&self, n: usize) {
        let lines: Vec<&str> = self.log.lines().collect();
        for line in &lines[lines.len().saturating_sub(n)..] {
            eprintln!("{line}");
        }
    }

    /// The run exited 0, else its log's tail and `what`.
    pub fn succeeded(&self, what: &str) -> Result<()> {
        if !self.success {
            self.tail(80);
            bail!(
                "{what} (act {} failed; log: {})",
                self.name,
                self.path.display()
            );
        }
        Ok(())
    }

    /// The run did not exit 0.
    pub fn failed(&self, what: &str) -> Result<()> {
        ensure!(!self.success, "{what} (log: {})", self.path.display());
        Ok(())
    }

    /// Some line of the log matches the regex `pattern`, else `what`.
    pub fn expect(&self, pattern: &str, what: &str) -> Result<()> {
        if self.matches(pattern)?.is_none() {
            self.tail(60);
            bail!("{what} (no /{pattern}/ in {})", self.path.display());
        }
        Ok(())
    }

    /// No line of the log matches the regex `pattern`, else `what`.
    pub fn refuse(&self, pattern: &str, what: &str) -> Result<()> {
        if let Some(re) = self.matches(pattern)? {
            for line in self.log.lines().filter(|l| re.is_match(l)).take(5) {
                eprintln!("{line}");
            }
            bail!("{what} (log: {})", self.path.display());
        }
        Ok(())
    }
}

/// How many times the sandbox was asked `operation`.
pub fn calls(sandbox: &Sandbox, operation: &str) -> usize {
    sandbox
        .calls()
        .iter()
        .filter(|c| c.operation == operation)
        .count()
}

/// The frontend commits dispatched to the frontend repository, in order.
pub fn dispatched(sandbox: &Sandbox) -> Vec<String> {
    sandbox
        .calls()
        .iter()
        .filter(|c| c.operation == "dispatches")
        .map(|c| text(&c.request, "/body/client_payload/frontend_ref"))
        .collect()
}

/// The string at `pointer` in `value`, or "" when there is none.
pub fn text(value: &Value, pointer: &str) -> String {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The newest GitHub deployment record whose `pointer` field is `value`.
pub fn newest_record(sandbox: &Sandbox, pointer: &str, value: &str) -> Value {
    let state = sandbox.state();
    state["githubDeployments"]
        .as_array()
        .into_iter()
        .flatten()
        .rfind(|d| text(d, pointer) == value)
        .cloned()
        .unwrap_or(Value::Null)
}

/// The newest record of `kind` (`deploy`, `rollback`) went through `states` (comma-separated)
/// and has each `(pointer, value)` of `fields`.
pub fn check_record(
    sandbox: &Sandbox,
    kind: &str,
    states: &str,
    fields: &[(&str, &str)],
) -> Result<()> {
    let record = newest_record(sandbox, "/payload/kind", kind);
    let went: Vec<&str> = record["states"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    ensure!(
        went.join(",") == states,
        "the {kind}'s record went through {went:?}, not {states}"
    );
    for (pointer, want) in fields {
        let got = text(&record, pointer);
        ensure!(
            got == *want,
            "the {kind}'s record has {pointer} {got:?}, not {want:?}"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn act(log: &str) -> Act {
        Act {
            name: "deploy".into(),
            success: true,
            path: PathBuf::from("deploy.log"),
            log: log.into(),
            seconds: 1.0,
        }
    }

    #[test]
    fn a_pattern_is_matched_line_by_line() {
        let run = act("[Deploy/Verify] ✅  Success\n::set-output:: uploaded=2\nnext\n");
        assert!(
            run.expect("::set-output:: uploaded=2$", "anchored at the line's end")
                .is_ok()
        );
        assert!(run.expect("^next$", "a whole line").is_ok());
        let err = run
            .expect("uploaded=2.*next", "across lines")
            .expect_err("one line only");
        assert!(
            err.to_string()
                .starts_with("across lines (no /uploaded=2.*next/"),
            "{err}"
        );
        assert!(run.refuse("uploaded=3", "absent").is_ok());
        assert!(run.refuse("Success", "present").is_err());
    }

    #[test]
    fn an_edit_that_finds_no_line_is_an_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("deploy.yml");
        fs::write(&file, "with:\n      delete: true\n").expect("write");
        edit_lines(&file, "      delete: ", |_| "      delete: false".into()).expect("edited");
        assert_eq!(
            fs::read_to_string(&file).expect("read"),
            "with:\n      delete: false\n"
        );
        let err = edit_lines(&file, "      auto-rollback: ", |l| l.into()).expect_err("no line");
        assert!(
            err.to_string()
                .ends_with("has no line starting \"      auto-rollback: \""),
            "{err}"
        );
    }
}
