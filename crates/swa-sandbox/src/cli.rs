//! `swa-sandbox serve --port N --scenario NAME --clock X`

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::{Options, Sandbox};

#[derive(Parser, Debug)]
#[command(
    name = "swa-sandbox",
    version,
    about = "A local AWS (ECS, ECR, CloudWatch Logs, ELBv2, S3), GitHub and StartupWebApp on one port"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve on 127.0.0.1 until SIGTERM or SIGINT; print the `export` lines a shell can eval.
    Serve {
        /// 0 picks a free port.
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// `healthy`, or comma-separated scenario names (crash-loop, unhealthy-targets, ...).
        #[arg(long, default_value = "healthy")]
        scenario: String,
        /// Time speed-up: 1 is real time, 60 makes a minute pass in a second.
        #[arg(long, default_value_t = 1.0)]
        clock: f64,
    },
}

fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let Command::Serve {
        port,
        scenario,
        clock,
    } = cli.command;
    let sandbox = match Sandbox::start(Options {
        scenario: scenario.clone(),
        clock,
        port,
    }) {
        Ok(s) => s,
        Err(e) => {
            say(&format!("swa-sandbox: cannot start: {e}"));
            return ExitCode::from(if e.kind() == std::io::ErrorKind::InvalidInput {
                2
            } else {
                1
            });
        }
    };
    let mut exports = String::new();
    for (k, v) in sandbox.env() {
        exports.push_str(&format!("export {k}={v}\n"));
    }
    let mut out = std::io::stdout().lock();
    if out
        .write_all(exports.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        return ExitCode::from(1);
    }
    drop(out);
    say(&format!(
        "swa-sandbox: serving on {} (scenario {scenario}, clock x{clock}); control at {}/_sandbox/state; stop with Ctrl-C",
        sandbox.aws_url(),
        sandbox.aws_url()
    ));
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            say(&format!("swa-sandbox: {e}"));
            return ExitCode::from(1);
        }
    };
    let signal = runtime.block_on(async {
        let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            return "error";
        };
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = tokio::signal::ctrl_c() => "SIGINT",
        }
    });
    let calls = sandbox.calls().len();
    drop(sandbox);
    say(&format!(
        "swa-sandbox: {signal}: stopped after {calls} calls"
    ));
    ExitCode::SUCCESS
}
