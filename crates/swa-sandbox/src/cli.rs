//! `swa-sandbox serve [--bind ADDR] [--port N] [--scenario NAME] [--clock X]` and
//! `swa-sandbox exec [the same] -- CMD ARGS...`

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

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
    /// Serve until SIGTERM or SIGINT; print the `export` lines a shell can eval.
    Serve(Start),
    /// Start the sandbox, run CMD with the sandbox's exports in its environment, stop the
    /// sandbox, and exit with CMD's status (127: CMD not found, 126: CMD could not run).
    Exec {
        #[command(flatten)]
        start: Start,
        /// The command and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<String>,
    },
}

#[derive(Args, Debug)]
struct Start {
    /// The address to listen on and to hand out in the exports (a docker bridge's gateway lets
    /// containers reach the sandbox).
    #[arg(long, value_name = "ADDR", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    bind: IpAddr,
    /// 0 picks a free port.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// `healthy`, or comma-separated scenario names (crash-loop, unhealthy-targets, ...).
    #[arg(long, default_value = "healthy")]
    scenario: String,
    /// Time speed-up: 1 is real time, 60 makes a minute pass in a second.
    #[arg(long, default_value_t = 1.0)]
    clock: f64,
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
    match cli.command {
        Command::Serve(start) => serve(start),
        Command::Exec { start, command } => exec(start, &command),
    }
}

/// Starts the sandbox, or says why not: bad options and an address this host does not have are
/// usage errors (exit 2).
fn start(start: &Start) -> Result<Sandbox, ExitCode> {
    let options = Options {
        scenario: start.scenario.clone(),
        clock: start.clock,
        port: start.port,
        bind: start.bind,
    };
    Sandbox::start(options).map_err(|e| {
        use std::io::ErrorKind::{AddrInUse, AddrNotAvailable, InvalidInput, PermissionDenied};
        match e.kind() {
            InvalidInput => {
                say(&format!("swa-sandbox: cannot start: {e}"));
                ExitCode::from(2)
            }
            AddrNotAvailable | AddrInUse | PermissionDenied => {
                say(&format!(
                    "swa-sandbox: cannot listen on {}:{}: {e}",
                    start.bind, start.port
                ));
                ExitCode::from(2)
            }
            _ => {
                say(&format!("swa-sandbox: cannot start: {e}"));
                ExitCode::from(1)
            }
        }
    })
}

fn serving(sandbox: &Sandbox, start: &Start) -> String {
    format!(
        "swa-sandbox: serving on {} (scenario {}, clock x{})",
        sandbox.aws_url(),
        start.scenario,
        start.clock
    )
}

fn serve(options: Start) -> ExitCode {
    let sandbox = match start(&options) {
        Ok(s) => s,
        Err(code) => return code,
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
        "{}; control at {}/_sandbox/state; stop with Ctrl-C",
        serving(&sandbox, &options),
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

fn exec(options: Start, command: &[String]) -> ExitCode {
    let Some((program, args)) = command.split_first() else {
        say("swa-sandbox: exec needs a command after `--`");
        return ExitCode::from(2);
    };
    let sandbox = match start(&options) {
        Ok(s) => s,
        Err(code) => return code,
    };
    say(&format!(
        "{} for `{}`",
        serving(&sandbox, &options),
        command.join(" ")
    ));
    let status = std::process::Command::new(program)
        .args(args)
        .envs(sandbox.env())
        .status();
    let calls = sandbox.calls().len();
    drop(sandbox);
    let code = match status {
        Ok(status) => {
            use std::os::unix::process::ExitStatusExt;
            // A command killed by a signal exits as a shell reports it: 128 + the signal.
            status
                .code()
                .or_else(|| status.signal().map(|s| 128 + s))
                .unwrap_or(1)
        }
        Err(e) => {
            say(&format!("swa-sandbox: cannot run `{program}`: {e}"));
            if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            }
        }
    };
    say(&format!(
        "swa-sandbox: `{program}` exited with {code}; stopped after {calls} calls"
    ));
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
