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
    for _ in 0..6 {
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
        "export AWS_ENDPOINT_URL=http://127.0.0.1:{port}\nexport AWS_REGION=us-east-1\nexport AWS_ACCESS_KEY_ID=sandbox\nexport AWS_SECRET_ACCESS_KEY=sandbox\nexport GITHUB_API_URL=http://127.0.0.1:{port}/_github\nexport APP_URL=http://127.0.0.1:{port}/_app\n"
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
        r#"{"status":"healthy","database":"ok"}"#
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
