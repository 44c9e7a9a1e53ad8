//! The `swa-sandbox serve` binary: prints eval-able exports, serves, stops on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn serve_prints_exports_a_shell_can_eval_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_swa-sandbox"))
        .args([
            "serve",
            "--port",
            "0",
            "--scenario",
            "healthy",
            "--clock",
            "10",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    for _ in 0..8 {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        lines.push(line);
    }
    let exports = lines.concat();
    let port = lines[0]
        .trim()
        .strip_prefix("export AWS_ENDPOINT_URL=http://127.0.0.1:")
        .unwrap()
        .to_string();
    assert_ne!(port, "0");
    let expected = format!(
        "export AWS_ENDPOINT_URL=http://127.0.0.1:{port}\nexport AWS_REGION=us-east-1\nexport AWS_DEFAULT_REGION=us-east-1\nexport AWS_ACCESS_KEY_ID=sandbox\nexport AWS_SECRET_ACCESS_KEY=sandbox\nexport GITHUB_API_URL=http://127.0.0.1:{port}/_github\nexport APP_URL=http://127.0.0.1:{port}/_app\nexport TEST_URL=http://127.0.0.1:{port}/_test\n"
    );
    assert_eq!(exports, expected);

    // A shell evaluates the lines and reaches the app with them.
    let script = "eval \"$SANDBOX_EXPORTS\"; exec python3 -c 'import os,urllib.request; print(urllib.request.urlopen(os.environ[\"APP_URL\"] + \"/health\").read().decode())'";
    let shell = Command::new("bash")
        .args(["-c", script])
        .env("SANDBOX_EXPORTS", &exports)
        .output()
        .unwrap();
    assert!(
        shell.status.success(),
        "{}",
        String::from_utf8_lossy(&shell.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&shell.stdout).trim(),
        r#"{"status":"healthy","database":"ok","databases":{"default":"ok","orders":"ok","analytics":"ok"}}"#
    );

    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert!(rest.is_empty(), "stdout carries only the exports: {rest}");
}

#[test]
fn an_unknown_scenario_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_swa-sandbox"))
        .args(["serve", "--scenario", "crash-loop,typo"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown scenario `typo`"), "{stderr}");
    assert!(out.stdout.is_empty());
}

/// `swa-sandbox exec ARGS -- CMD...`: its exit code, stdout and stderr.
fn exec(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_swa-sandbox"))
        .arg("exec")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The sandbox's port in `text` becomes `PORT`.
fn redact_port(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("127.0.0.") {
        let (head, tail) = rest.split_at(at + "127.0.0.".len() + 1);
        out.push_str(head);
        rest = match tail.strip_prefix(':') {
            Some(t) => {
                out.push_str(":PORT");
                t.trim_start_matches(|c: char| c.is_ascii_digit())
            }
            None => tail,
        };
    }
    out.push_str(rest);
    out
}

/// Prints the sandbox's variables and the app's health as the command sees them, then exits
/// with `$1`.
const SHOW_ENV: &str = r#"env | grep -E '^(AWS_|GITHUB_API_URL|APP_URL)' | sort; python3 -c 'import os,urllib.request; print(urllib.request.urlopen(os.environ["APP_URL"] + "/health").read().decode())'; exit "$1""#;

#[test]
fn exec_runs_the_command_with_the_exports_and_exits_with_its_status() {
    let (code, stdout, stderr) = exec(&["--clock", "10", "--", "sh", "-c", SHOW_ENV, "sh", "0"]);
    assert_eq!(code, Some(0), "{stderr}");
    insta::assert_snapshot!(redact_port(&stdout), @r#"
    APP_URL=http://127.0.0.1:PORT/_app
    AWS_ACCESS_KEY_ID=sandbox
    AWS_DEFAULT_REGION=us-east-1
    AWS_ENDPOINT_URL=http://127.0.0.1:PORT
    AWS_REGION=us-east-1
    AWS_SECRET_ACCESS_KEY=sandbox
    GITHUB_API_URL=http://127.0.0.1:PORT/_github
    {"status":"healthy","database":"ok","databases":{"default":"ok","orders":"ok","analytics":"ok"}}
    "#);
    insta::assert_snapshot!(redact_port(&stderr), @r#"
    swa-sandbox: serving on http://127.0.0.1:PORT (scenario healthy, clock x10) for `sh -c env | grep -E '^(AWS_|GITHUB_API_URL|APP_URL)' | sort; python3 -c 'import os,urllib.request; print(urllib.request.urlopen(os.environ["APP_URL"] + "/health").read().decode())'; exit "$1" sh 0`
    swa-sandbox: `sh` exited with 0; stopped after 1 calls
    "#);

    let (code, _, stderr) = exec(&[
        "--scenario",
        "crash-loop",
        "--",
        "sh",
        "-c",
        SHOW_ENV,
        "sh",
        "3",
    ]);
    assert_eq!(code, Some(3), "{stderr}");
}

#[test]
fn exec_stops_the_sandbox_when_the_command_ends() {
    let (code, stdout, stderr) = exec(&["--", "sh", "-c", "echo \"$AWS_ENDPOINT_URL\""]);
    assert_eq!(code, Some(0), "{stderr}");
    let addr = stdout.trim().strip_prefix("http://").unwrap().to_string();
    assert!(
        std::net::TcpStream::connect(&addr).is_err(),
        "{addr} still answers"
    );
}

#[test]
fn exec_and_serve_listen_on_the_address_given_with_bind() {
    let (code, stdout, stderr) =
        exec(&["--bind", "127.0.0.2", "--", "sh", "-c", SHOW_ENV, "sh", "0"]);
    assert_eq!(code, Some(0), "{stderr}");
    let url = stdout
        .lines()
        .find_map(|l| l.strip_prefix("AWS_ENDPOINT_URL=http://"));
    assert!(url.is_some_and(|u| u.starts_with("127.0.0.2:")), "{stdout}");
    assert!(
        stdout.ends_with(
            "\"databases\":{\"default\":\"ok\",\"orders\":\"ok\",\"analytics\":\"ok\"}}\n"
        ),
        "{stdout}"
    );

    let mut child = Command::new(env!("CARGO_BIN_EXE_swa-sandbox"))
        .args(["serve", "--bind", "127.0.0.2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .strip_prefix("export AWS_ENDPOINT_URL=http://127.0.0.2:")
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();
    assert!(std::net::TcpStream::connect(format!("127.0.0.2:{port}")).is_ok());
    assert!(
        std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_err(),
        "listens on 127.0.0.1 too"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn exec_refuses_bad_arguments_with_exit_code_2() {
    let (code, stdout, stderr) = exec(&["--scenario", "healthy"]);
    assert_eq!(code, Some(2));
    assert!(stdout.is_empty());
    insta::assert_snapshot!(stderr, @"
    error: the following required arguments were not provided:
      <CMD>...

    Usage: swa-sandbox exec --scenario <SCENARIO> -- <CMD>...

    For more information, try '--help'.
    ");

    let (code, _, stderr) = exec(&["--bind", "localhost", "--", "true"]);
    assert_eq!(code, Some(2));
    insta::assert_snapshot!(stderr, @"
    error: invalid value 'localhost' for '--bind <ADDR>': invalid IP address syntax

    For more information, try '--help'.
    ");

    let (code, _, stderr) = exec(&["--bind", "192.0.2.1", "--", "true"]);
    assert_eq!(code, Some(2));
    insta::assert_snapshot!(redact_errno(&stderr), @"swa-sandbox: cannot listen on 192.0.2.1:0: Cannot assign requested address");

    let (code, _, stderr) = exec(&["--scenario", "crash-loop,typo", "--", "true"]);
    assert_eq!(code, Some(2));
    insta::assert_snapshot!(stderr, @"swa-sandbox: cannot start: unknown scenario `typo`; known: healthy, crash-loop, unhealthy-targets, slow-start, migration-fails, destructive-migration, image-missing, no-capacity, throttling, server-errors, github-flaky, frontend-fails-once, migration-no-start, login-broken, production-login-broken, database-down, blue-green, blue-green-test-fails, canary-alarm, linear, hook-fails, long-bake");

    let (code, _, stderr) = exec(&["--clock", "0", "--", "true"]);
    assert_eq!(code, Some(2));
    insta::assert_snapshot!(stderr, @"swa-sandbox: cannot start: clock must be a positive number, not 0");
}

#[test]
fn exec_of_a_missing_command_exits_127() {
    let (code, _, stderr) = exec(&["--", "swa-sandbox-no-such-command", "x"]);
    assert_eq!(code, Some(127));
    insta::assert_snapshot!(redact_errno(&redact_port(&stderr)), @"
    swa-sandbox: serving on http://127.0.0.1:PORT (scenario healthy, clock x1) for `swa-sandbox-no-such-command x`
    swa-sandbox: cannot run `swa-sandbox-no-such-command`: No such file or directory
    swa-sandbox: `swa-sandbox-no-such-command` exited with 127; stopped after 0 calls
    ");
}

/// `(os error N)` varies by platform.
fn redact_errno(text: &str) -> String {
    match text.split_once(" (os error") {
        Some((head, tail)) => format!("{head}{}", &tail[tail.find(')').map_or(0, |i| i + 1)..]),
        None => text.to_string(),
    }
}
