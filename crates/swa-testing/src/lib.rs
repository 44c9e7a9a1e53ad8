//! Runs an action's binary as a workflow step runs it: a cleared environment (only `PATH` is
//! kept), the inputs as `INPUT_*`, and fresh `GITHUB_OUTPUT` / `GITHUB_STEP_SUMMARY` files; then
//! reads back the exit code, the log, stderr, the outputs and the summary.
//!
//! ```no_run
//! let run = swa_testing::Step::new("target/debug/update-service")
//!     .input("cluster", "startupwebapp-cluster")
//!     .env("AWS_REGION", "us-east-1")
//!     .run();
//! assert_eq!(run.code, 0, "{}", run.log);
//! assert_eq!(run.output("result"), "deployed");
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod markdown;
pub mod view;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The outputs declared by `actions/<binary name>/action.yml`, or `None` when the binary is
/// not one of the actions.
fn declared_outputs(bin: &Path) -> Option<Vec<String>> {
    let name = bin.file_name()?.to_str()?;
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../actions")
        .join(name)
        .join("action.yml");
    let text = std::fs::read_to_string(&file).ok()?;
    let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not YAML: {e}", file.display()));
    let outputs = yaml.get("outputs").and_then(|o| o.as_mapping());
    Some(
        outputs
            .map(|o| {
                o.keys()
                    .filter_map(|k| k.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
    )
}

/// Insta settings that replace what differs between any two runs of an action: loopback ports,
/// stop-commands pause tokens, image digests and ECS deployment ids. A crate's tests add the
/// filters of their own (durations, times, task ids) on top, then `bind` their assertions.
pub fn snapshot_settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"swa-[0-9a-f]{32}", "swa-[TOKEN]");
    settings.add_filter(r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]");
    settings.add_filter(r"sha256:[0-9a-f]{64}", "sha256:[DIGEST]");
    settings.add_filter(r"ecs-svc/[0-9A-Za-z]+", "ecs-svc/[ID]");
    settings
}

/// A duration as the actions print them (`850ms`, `1.5s`, `2m30s`), for
/// `settings.add_filter(DURATION, "[DURATION]")`.
pub const DURATION: &str = r"\b(\d+h)?(\d+m)?\d+(\.\d+)?(ms|s)\b";

/// Starts the local sandbox with `scenario` (comma-separated names) and its clock 30 times
/// faster than real time.
pub fn sandbox(scenario: &str) -> swa_sandbox::Sandbox {
    sandbox_at(scenario, 30.0)
}

/// Starts the local sandbox with `scenario`, its clock `clock` times faster than real time.
pub fn sandbox_at(scenario: &str, clock: f64) -> swa_sandbox::Sandbox {
    swa_sandbox::Sandbox::start(swa_sandbox::Options {
        scenario: scenario.into(),
        clock,
        ..swa_sandbox::Options::default()
    })
    .unwrap_or_else(|e| panic!("the sandbox did not start with scenario {scenario}: {e}"))
}

/// An AWS SDK client of module `$sdk` (`aws_sdk_ecs` imported as `ecs`, ...) whose calls are
/// answered by the `aws_smithy_mocks` rules `$rules`, in `us-east-1` with test credentials. The
/// calling crate needs `aws-smithy-mocks` among its dev-dependencies.
///
/// - `mock_client!(ecs, [&rule])`: any rule may answer any call (`RuleMode::MatchAny`);
/// - `mock_client!(logs, [&first, &second], sequential)`: the rules answer in order;
/// - `, retry: RetryConfig::disabled()` after either sets the client's retry configuration.
///
/// ```ignore
/// let client = swa_testing::mock_client!(ecs, [&describe_services]);
/// ```
#[macro_export]
macro_rules! mock_client {
    ($sdk:ident, $rules:expr) => {
        $crate::mock_client!(@build $sdk, $rules, MatchAny, None)
    };
    ($sdk:ident, $rules:expr, sequential) => {
        $crate::mock_client!(@build $sdk, $rules, Sequential, None)
    };
    ($sdk:ident, $rules:expr, retry: $retry:expr) => {
        $crate::mock_client!(@build $sdk, $rules, MatchAny, Some($retry))
    };
    ($sdk:ident, $rules:expr, sequential, retry: $retry:expr) => {
        $crate::mock_client!(@build $sdk, $rules, Sequential, Some($retry))
    };
    (@build $sdk:ident, $rules:expr, $mode:ident, $retry:expr) => {{
        let mut interceptor = ::aws_smithy_mocks::MockResponseInterceptor::new()
            .rule_mode(::aws_smithy_mocks::RuleMode::$mode);
        for rule in $rules {
            interceptor = interceptor.with_rule(rule);
        }
        let mut config = $sdk::Config::builder()
            .behavior_version($sdk::config::BehaviorVersion::latest())
            .region($sdk::config::Region::from_static("us-east-1"))
            .credentials_provider($sdk::config::Credentials::new(
                "AKIDTEST", "test-secret", None, None, "test",
            ))
            .http_client(::aws_smithy_mocks::create_mock_http_client())
            .interceptor(interceptor);
        let retry: Option<$sdk::config::retry::RetryConfig> = $retry;
        if let Some(retry) = retry {
            config = config.retry_config(retry);
        }
        $sdk::Client::from_conf(config.build())
    }};
}

/// One step to run: the binary, its inputs, extra environment and working directory.
#[derive(Clone, Debug)]
pub struct Step {
    bin: PathBuf,
    inputs: Vec<(String, String)>,
    env: Vec<(OsString, OsString)>,
    dir: Option<PathBuf>,
}

impl Step {
    pub fn new(bin: impl AsRef<Path>) -> Self {
        Self {
            bin: bin.as_ref().to_path_buf(),
            inputs: Vec::new(),
            env: Vec::new(),
            dir: None,
        }
    }

    /// Sets input `name` (as written in `action.yml`): the variable is
    /// [`swa_gha::input_env_name`]`(name)`. A later value for the same input wins.
    pub fn input(mut self, name: &str, value: impl AsRef<str>) -> Self {
        self.inputs
            .push((name.to_string(), value.as_ref().to_string()));
        self
    }

    pub fn inputs<V: AsRef<str>>(self, inputs: &[(&str, V)]) -> Self {
        inputs
            .iter()
            .fold(self, |step, (name, value)| step.input(name, value))
    }

    /// Sets an environment variable besides the inputs, after them (so it can override one).
    pub fn env(mut self, name: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    pub fn envs<K, V>(self, vars: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<OsString>,
        V: Into<OsString>,
    {
        vars.into_iter()
            .fold(self, |step, (name, value)| step.env(name, value))
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.dir = Some(dir.as_ref().to_path_buf());
        self
    }

    fn command(&self, files: &Files) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("GITHUB_OUTPUT", &files.output)
            .env("GITHUB_STEP_SUMMARY", &files.summary)
            .stdin(Stdio::null());
        for (name, value) in &self.inputs {
            cmd.env(swa_gha::input_env_name(name), value);
        }
        for (name, value) in &self.env {
            cmd.env(name, value);
        }
        if let Some(dir) = &self.dir {
            cmd.current_dir(dir);
        }
        cmd
    }

    /// Runs the step to its end.
    pub fn run(&self) -> StepRun {
        let files = Files::new(&self.bin);
        let out = self
            .command(&files)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.bin.display()));
        files.read(out.status.code(), &out.stdout, &out.stderr)
    }

    /// Runs the step to its end without blocking the tokio runtime (tests that serve the
    /// step's HTTP calls from the same runtime need this).
    pub async fn run_async(&self) -> StepRun {
        let files = Files::new(&self.bin);
        let out = tokio::process::Command::from(self.command(&files))
            .output()
            .await
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.bin.display()));
        files.read(out.status.code(), &out.stdout, &out.stderr)
    }

    /// Starts the step and returns at once; its stdout is read line by line as it comes.
    pub fn spawn(&self) -> RunningStep {
        let files = Files::new(&self.bin);
        let mut child = self
            .command(&files)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.bin.display()));
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut stderr_pipe = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = stderr_pipe.read_to_end(&mut bytes);
            bytes
        });
        RunningStep {
            child,
            lines,
            log: Vec::new(),
            stderr: Some(stderr),
            files,
        }
    }
}

/// Shorthand for `Step::new(bin).inputs(inputs).envs(env).run_async().await`.
pub async fn run_step(
    bin: impl AsRef<Path>,
    inputs: &[(&str, &str)],
    env: &[(&str, &str)],
) -> StepRun {
    Step::new(bin)
        .inputs(inputs)
        .envs(env.iter().copied())
        .run_async()
        .await
}

struct Files {
    _dir: tempfile::TempDir,
    output: PathBuf,
    summary: PathBuf,
    /// The outputs the action's `action.yml` declares, when the binary is one of ours.
    declared: Option<Vec<String>>,
}

impl Files {
    fn new(bin: &Path) -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self {
            output: dir.path().join("github_output"),
            summary: dir.path().join("step_summary"),
            _dir: dir,
            declared: declared_outputs(bin),
        }
    }

    fn read(&self, code: Option<i32>, stdout: &[u8], stderr: &[u8]) -> StepRun {
        let outputs_raw = std::fs::read_to_string(&self.output).unwrap_or_default();
        let log = String::from_utf8_lossy(stdout).into_owned();
        if let Err(problem) = check_commands(&log) {
            panic!("{problem}\n--- the step's log ---\n{log}");
        }
        if let Some(declared) = &self.declared {
            for (name, _) in parse_outputs_in_order(&outputs_raw) {
                assert!(
                    declared.contains(&name),
                    "the step wrote output `{name}`, which its action.yml does not declare \
                     (declared: {declared:?})\n--- the step's log ---\n{log}"
                );
            }
        }
        let summary = std::fs::read_to_string(&self.summary).unwrap_or_default();
        if let Err(problem) = markdown::check(&summary) {
            panic!("{problem}\n--- the step's summary ---\n{summary}");
        }
        StepRun {
            code: code.unwrap_or(-1),
            log,
            stderr: String::from_utf8_lossy(stderr).into_owned(),
            outputs: parse_outputs(&outputs_raw),
            outputs_raw,
            summary,
        }
    }
}

/// A step started with [`Step::spawn`].
pub struct RunningStep {
    child: Child,
    lines: mpsc::Receiver<String>,
    log: Vec<String>,
    stderr: Option<std::thread::JoinHandle<Vec<u8>>>,
    files: Files,
}

impl RunningStep {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Reads the log until a line contains `text` (panics after `timeout`, or if the step
    /// ends first).
    pub fn wait_for(&mut self, text: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            match self.lines.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => {
                    let found = line.contains(text);
                    self.log.push(line);
                    if found {
                        return;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        panic!("`{text}` never appeared in:\n{}", self.log.join("\n"));
    }

    /// Sends SIGTERM, as the runner does when the job is cancelled.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM {} failed", self.pid());
    }

    /// Waits for the step to end (kills it and panics after `timeout`).
    pub fn finish(mut self, timeout: Duration) -> StepRun {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("the step did not finish:\n{}", self.log.join("\n"));
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        // The reader threads end at EOF.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(10)) {
            self.log.push(line);
        }
        let stderr = self
            .stderr
            .take()
            .map(|t| t.join().unwrap_or_default())
            .unwrap_or_default();
        let mut stdout = self.log.join("\n");
        if !self.log.is_empty() {
            stdout.push('\n');
        }
        self.files.read(status.code(), stdout.as_bytes(), &stderr)
    }
}

/// What a finished step showed and wrote.
#[derive(Clone, Debug)]
pub struct StepRun {
    /// The exit code (-1 when ended by a signal).
    pub code: i32,
    /// stdout: the log, with its workflow commands.
    pub log: String,
    pub stderr: String,
    /// `GITHUB_OUTPUT` parsed; a later value of the same name wins, as on the runner.
    pub outputs: BTreeMap<String, String>,
    /// `GITHUB_OUTPUT` as written.
    pub outputs_raw: String,
    /// `GITHUB_STEP_SUMMARY` as written.
    pub summary: String,
}

impl StepRun {
    /// stdout followed by stderr.
    pub fn log_and_stderr(&self) -> String {
        format!("{}{}", self.log, self.stderr)
    }

    /// Everything the step showed or wrote, minus the `::add-mask::` commands the runner
    /// consumes (they must carry the secret, or they would mask nothing).
    pub fn everything(&self) -> String {
        let log: Vec<&str> = self
            .log
            .lines()
            .filter(|l| !l.starts_with("::add-mask::"))
            .collect();
        format!(
            "{}\n{}\n{}\n{}",
            log.join("\n"),
            self.stderr,
            self.outputs_raw,
            self.summary
        )
    }

    pub fn assert_secret_hidden(&self, secret: &str) {
        assert!(
            !self.everything().contains(secret),
            "the secret appears in the step's output:\n{}",
            self.everything()
        );
    }

    /// The output `name`; panics, showing the outputs and the log, when it was not set.
    pub fn output(&self, name: &str) -> &str {
        self.outputs
            .get(name)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no output {name}: {:?}\n{}", self.outputs, self.log))
    }

    /// The names of the outputs in the order the step wrote them (repeats kept).
    pub fn output_names(&self) -> Vec<String> {
        parse_outputs_in_order(&self.outputs_raw)
            .into_iter()
            .map(|(name, _)| name)
            .collect()
    }

    /// The `::error` lines of the log.
    pub fn errors(&self) -> Vec<&str> {
        self.log
            .lines()
            .filter(|l| l.starts_with("::error"))
            .collect()
    }
}

/// The workflow commands an action means to give. Anything else the runner would obey in a log
/// came from text the action did not write (an event, a log line, a body) and is a bug.
const OWN_COMMANDS: [&str; 8] = [
    "error",
    "warning",
    "notice",
    "debug",
    "group",
    "endgroup",
    "add-mask",
    "stop-commands",
];

/// Reads a job log as the runner does and checks that it obeys only the action's own commands:
/// a line starting with `::` (after whitespace) names one of [`OWN_COMMANDS`] or ends a pause
/// started with `::stop-commands::<token>` (a token of at least 20 characters, which foreign
/// text cannot guess), and the legacy `##[` form appears nowhere outside such a pause. Every
/// step run in tests is checked this way.
pub fn check_commands(log: &str) -> Result<(), String> {
    let mut paused: Option<String> = None;
    for (n, line) in log.lines().enumerate() {
        let n = n + 1;
        let trimmed = line.trim_start();
        if let Some(token) = &paused {
            if trimmed == format!("::{token}::") {
                paused = None;
            }
            continue;
        }
        if line.contains("##[") {
            return Err(format!("line {n} holds a legacy `##[` command: {line:?}"));
        }
        let Some(rest) = trimmed.strip_prefix("::") else {
            continue;
        };
        let name_end = rest.find([' ', ':']).unwrap_or(rest.len());
        let name = &rest[..name_end];
        if !OWN_COMMANDS.contains(&name) {
            return Err(format!(
                "line {n} is a workflow command the action did not mean: {line:?}"
            ));
        }
        if name == "stop-commands" {
            let token = rest.strip_prefix("stop-commands::").unwrap_or_default();
            if token.len() < 20 {
                return Err(format!(
                    "line {n} pauses commands with a guessable token: {line:?}"
                ));
            }
            paused = Some(token.to_string());
        }
    }
    Ok(())
}

/// Parses the runner's `GITHUB_OUTPUT` file: `name<<DELIMITER`, the value's lines, `DELIMITER`;
/// and the one-line `name=value` form. A later value of the same name wins.
pub fn parse_outputs(text: &str) -> BTreeMap<String, String> {
    parse_outputs_in_order(text).into_iter().collect()
}

/// Every output record of a `GITHUB_OUTPUT` file, in the order written (repeats kept).
pub fn parse_outputs_in_order(text: &str) -> Vec<(String, String)> {
    let mut outputs = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delimiter)) = line.split_once("<<") {
            let mut value = Vec::new();
            let mut closed = false;
            for l in lines.by_ref() {
                if l == delimiter {
                    closed = true;
                    break;
                }
                value.push(l);
            }
            assert!(closed, "output {name}: no closing {delimiter} in\n{text}");
            outputs.push((name.to_string(), value.join("\n")));
        } else if let Some((name, value)) = line.split_once('=') {
            outputs.push((name.to_string(), value.to_string()));
        } else if !line.is_empty() {
            panic!("a GITHUB_OUTPUT line that is no output: {line:?}");
        }
    }
    outputs
}

#[cfg(test)]
mod command_tests {
    use super::check_commands;

    #[test]
    fn only_the_actions_own_commands_pass() {
        let token = "swa-0123456789abcdef0123456789abcdef";
        let ok = format!(
            "plain\n::group::Logs\n::stop-commands::{token}\n::add-mask::x\n::{token}::\n::endgroup::\n"
        );
        assert_eq!(check_commands(&ok), Ok(()));
        assert!(check_commands("event\n::set-output name=result::healthy\n").is_err());
        assert!(check_commands("  ::stop-commands::t\n").is_err());
        assert!(check_commands("reason ##[set-output name=x]y\n").is_err());
        assert!(check_commands(&format!("::stop-commands::{token}\n::x::\n")).is_ok());
        assert!(
            check_commands(&format!(
                "::stop-commands::{token}\n##[error]x\n::{token}::\n"
            ))
            .is_ok()
        );
        assert!(
            check_commands(&format!(
                "::stop-commands::{token}\n::{token}::\n##[error]x\n"
            ))
            .is_err()
        );
        assert!(check_commands(":\u{200B}:add-mask::x ##\u{200B}[error]\n").is_ok());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_outputs_each_with_its_delimiter() {
        let text = "result<<ghadelimiter_a\ndeployed\nghadelimiter_a\n\
                    arn<<ghadelimiter_b\narn:aws:ecs:task/1\nghadelimiter_b\n";
        let outputs = parse_outputs(text);
        assert_eq!(outputs.len(), 2);
        assert_eq!(outputs["result"], "deployed");
        assert_eq!(outputs["arn"], "arn:aws:ecs:task/1");
    }

    #[test]
    fn a_multi_line_value_keeps_its_lines() {
        let text = "diff<<EOF_1\n- a\n+ b\n\n  c\nEOF_1\nnext<<EOF_2\nx\nEOF_2\n";
        let outputs = parse_outputs(text);
        assert_eq!(outputs["diff"], "- a\n+ b\n\n  c");
        assert_eq!(outputs["next"], "x");
    }

    #[test]
    fn an_empty_value_is_an_empty_string() {
        let outputs = parse_outputs("empty<<D\nD\nafter<<D\nvalue\nD\n");
        assert_eq!(outputs["empty"], "");
        assert_eq!(outputs["after"], "value");
    }

    #[test]
    fn a_value_line_that_looks_like_a_header_is_part_of_the_value() {
        let outputs = parse_outputs("body<<D\nx<<y\na=b\nD\n");
        assert_eq!(outputs.len(), 1);
        assert_eq!(outputs["body"], "x<<y\na=b");
    }

    #[test]
    fn the_one_line_form_and_a_repeated_name() {
        let outputs = parse_outputs("a=1\nb=x=y\na<<D\n2\nD\n");
        assert_eq!(outputs["a"], "2");
        assert_eq!(outputs["b"], "x=y");
    }

    #[test]
    fn the_order_written_is_kept() {
        let text = "z<<D\n1\nD\na<<D\nq<<r\nD\nm=3\nz<<D\n4\nD\n";
        assert_eq!(
            parse_outputs_in_order(text),
            [("z", "1"), ("a", "q<<r"), ("m", "3"), ("z", "4")]
                .map(|(n, v)| (n.to_string(), v.to_string()))
        );
        let run = step_run("", "", text, "");
        assert_eq!(run.output_names(), ["z", "a", "m", "z"]);
        assert_eq!(run.output("z"), "4");
    }

    #[test]
    #[should_panic(expected = "no closing D")]
    fn an_unclosed_value_is_a_failure() {
        parse_outputs("a<<D\nvalue\n");
    }

    fn step_run(log: &str, stderr: &str, outputs_raw: &str, summary: &str) -> StepRun {
        StepRun {
            code: 0,
            log: log.into(),
            stderr: stderr.into(),
            outputs: parse_outputs(outputs_raw),
            outputs_raw: outputs_raw.into(),
            summary: summary.into(),
        }
    }

    #[test]
    fn errors_are_the_error_lines() {
        let run = step_run(
            "a\n::error title=x::bad\n::warning::w\n::error::worse\n",
            "",
            "",
            "",
        );
        assert_eq!(run.errors(), ["::error title=x::bad", "::error::worse"]);
    }

    #[test]
    fn a_secret_anywhere_but_add_mask_is_seen() {
        let clean = step_run("::add-mask::s3cret\nok\n", "", "", "");
        clean.assert_secret_hidden("s3cret");
        for run in [
            step_run("s3cret\n", "", "", ""),
            step_run("", "s3cret", "", ""),
            step_run("", "", "t<<D\ns3cret\nD\n", ""),
            step_run("", "", "", "| s3cret |"),
        ] {
            let shown = std::panic::catch_unwind(|| run.assert_secret_hidden("s3cret"));
            assert!(shown.is_err(), "{run:?}");
        }
    }

    /// A step whose binary is `script` (a step takes no arguments, so the script is a file).
    fn script(script: &str) -> (tempfile::TempDir, Step) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("step.sh");
        std::fs::write(&file, format!("#!/bin/sh\n{script}\n")).unwrap();
        let mut perms = std::fs::metadata(&file).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&file, perms).unwrap();
        (dir, Step::new(file))
    }

    const SHOW: &str = r#"printf 'seen=%s|%s|%s|%s|%s\n' "$(tr '\0' '\n' < /proc/$$/environ | sed -n 's/^INPUT_CONTAINER-NAME=//p')" "$INPUT_MY_INPUT" "$EXTRA" "$(pwd)" "${CARGO:-none}";
printf 'out<<EOF\nline1\nline2\nEOF\n' >> "$GITHUB_OUTPUT";
echo '## done' >> "$GITHUB_STEP_SUMMARY";
echo oops >&2;
exit 3"#;

    fn check(run: &StepRun, dir: &Path) {
        assert_eq!(run.code, 3, "{run:?}");
        let expected = format!(
            "seen=web|v|e|{}|none\n",
            dir.canonicalize().unwrap().display()
        );
        assert_eq!(run.log, expected);
        assert_eq!(run.output("out"), "line1\nline2");
        assert_eq!(run.summary, "## done\n");
        assert_eq!(run.stderr, "oops\n");
        assert_eq!(run.log_and_stderr(), format!("{expected}oops\n"));
    }

    fn show_step() -> (tempfile::TempDir, tempfile::TempDir, Step) {
        let (bin_dir, step) = script(SHOW);
        let work = tempfile::tempdir().unwrap();
        let step = step
            .input("container-name", "web")
            .inputs(&[("my input", "v")])
            .envs([("EXTRA", "e")])
            .current_dir(work.path());
        (bin_dir, work, step)
    }

    #[test]
    fn a_step_gets_its_inputs_env_files_and_dir_and_nothing_else() {
        // cargo sets CARGO for the tests; the step must not see it.
        assert!(std::env::var_os("CARGO").is_some());
        let (_bin, work, step) = show_step();
        check(&step.run(), work.path());
    }

    #[tokio::test]
    async fn run_async_sees_the_same() {
        let (_bin, work, step) = show_step();
        check(&step.run_async().await, work.path());
    }

    #[tokio::test]
    async fn run_step_is_the_builder_in_one_call() {
        let (bin, _step) = script(SHOW);
        let run = run_step(
            bin.path().join("step.sh"),
            &[("container-name", "web"), ("my input", "v")],
            &[("EXTRA", "e")],
        )
        .await;
        // No working directory given: the test's own.
        let cwd = std::env::current_dir().unwrap().canonicalize().unwrap();
        assert_eq!(run.code, 3, "{run:?}");
        assert_eq!(run.log, format!("seen=web|v|e|{}|none\n", cwd.display()));
    }

    #[test]
    fn a_spawned_step_is_read_as_it_runs_and_ends_on_sigterm() {
        let (_bin, step) = script(
            r#"trap 'echo "cancelled"; echo "result<<D" >> "$GITHUB_OUTPUT"; echo failed >> "$GITHUB_OUTPUT"; echo D >> "$GITHUB_OUTPUT"; exit 1' TERM
echo "waiting for $INPUT_WHAT"
while true; do sleep 0.1; done"#,
        );
        let mut running = step.input("what", "healthy").spawn();
        running.wait_for("waiting for healthy", Duration::from_secs(60));
        running.terminate();
        let run = running.finish(Duration::from_secs(60));
        assert_eq!(run.code, 1, "{run:?}");
        assert_eq!(run.log, "waiting for healthy\ncancelled\n");
        assert_eq!(run.output("result"), "failed");
    }

    #[test]
    #[should_panic(expected = "never appeared")]
    fn wait_for_fails_when_the_step_ends_without_the_text() {
        let (_bin, step) = script("echo other");
        step.spawn().wait_for("healthy", Duration::from_secs(60));
    }
}
