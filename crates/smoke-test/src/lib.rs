//! `smoke-test`: checks a live system over HTTP (status, JSON subset, body regex, latency), with
//! retries and bounded concurrency, and reports every check in the outputs and the job summary.

pub mod checks;
mod expand;
mod probe;

use std::sync::Arc;
use std::time::Duration;

use swa_gha::{ActionError, Gha};

pub use checks::Check;
pub use probe::CheckResult;

/// Inputs: one `--flag` per action input.
#[derive(clap::Parser, Debug)]
#[command(
    name = "smoke-test",
    version,
    about = "Check a live system over HTTP: status, JSON, body and latency, with retries"
)]
pub struct Args {
    /// The base URL that check paths are relative to (its path is kept).
    #[arg(long)]
    pub base_url: Option<String>,
    /// YAML list of checks, inline or the path of a file; default GET /health answering
    /// {"status": "healthy"}.
    #[arg(long)]
    pub checks: Option<String>,
    /// How many more times a failing check is tried.
    #[arg(long, default_value = "3", value_parser = clap::value_parser!(u32).range(0..=20))]
    pub retries: u32,
    /// Between two tries of a check.
    #[arg(long, value_parser = swa_gha::parse_duration, default_value = "5s")]
    pub retry_delay: Duration,
    /// One request, from sending to the last byte of the answer.
    #[arg(long, value_parser = swa_gha::parse_duration, default_value = "10s")]
    pub request_timeout: Duration,
    /// Checks run at the same time.
    #[arg(long, default_value = "4", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub concurrency: u32,
}

/// Every output the action writes, in the order it writes them.
pub const OUTPUTS: &[&str] = &["passed", "failed", "report"];

pub async fn run(args: Args, gha: Gha) -> Result<(), ActionError> {
    let Checked { checks, probe } = Checked::new(&args, &gha)?;
    let results = tokio::select! {
        results = probe::run_all(Arc::new(checks), probe, gha.clone()) => results?,
        signal = swa_gha::cancelled() => {
            return Err(ActionError::failed(format!("cancelled ({signal}) while checking")));
        }
    };
    probe::report(&gha, &results)
}

/// The inputs checked before any request: the checks to run and how to run them.
struct Checked {
    checks: Vec<Check>,
    probe: probe::Settings,
}

impl Checked {
    /// Checks the inputs and masks every secret header value before anything is printed.
    fn new(args: &Args, gha: &Gha) -> Result<Checked, ActionError> {
        Ok(Checked {
            checks: checks(args, gha)?,
            probe: probe::Settings {
                retries: args.retries,
                retry_delay: args.retry_delay,
                request_timeout: args.request_timeout,
                concurrency: args.concurrency as usize,
            },
        })
    }
}

/// The checks the inputs ask for; masks every secret header value before anything is printed.
fn checks(args: &Args, gha: &Gha) -> Result<Vec<Check>, ActionError> {
    let base_url = args
        .base_url
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if let Some(base) = base_url {
        checks::check_url(base).map_err(|e| ActionError::input("base-url", e))?;
    }
    if args.request_timeout.is_zero() {
        return Err(ActionError::input(
            "request-timeout",
            "must be more than zero",
        ));
    }
    let checks = match args
        .checks
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => match base_url {
            Some(base) => checks::default_checks(base),
            None => {
                return Err(ActionError::input(
                    "base-url",
                    "is required when `checks` is not given (the default check is GET /health)",
                ));
            }
        },
        Some(value) => {
            let text = checks::checks_text(value, gha.env().non_empty("GITHUB_WORKSPACE"))?;
            // Mask secret header values and every variable the checks fill in as soon as the
            // text is read, even if it then fails to parse, so no later message can show them.
            mask_secret_values(&text, gha);
            for name in expand::names(&text) {
                if let Some(value) = gha.env().non_empty(name) {
                    mask_header_value(gha, value);
                }
            }
            let parsed = checks::parse_checks(&text, base_url, gha.env())?;
            for (check, skip) in &parsed.skipped {
                gha.notice(match skip {
                    checks::Skip::Unset(missing) => format!(
                        "check `{}` skipped: it needs {}, which {} not set",
                        swa_gha::Foreign(check),
                        missing.join(", "),
                        if missing.len() == 1 { "is" } else { "are" }
                    ),
                    checks::Skip::After(first) => format!(
                        "check `{}` skipped: it runs after `{}`, which is skipped",
                        swa_gha::Foreign(check),
                        swa_gha::Foreign(first)
                    ),
                });
            }
            parsed.checks
        }
    };
    for check in &checks {
        for (name, value) in &check.headers {
            if checks::is_secret_header(name.as_str()) {
                mask_header_value(gha, value.to_str().unwrap_or_default());
            }
        }
    }
    Ok(checks)
}

/// Masks a secret header value, and its credential alone (`Bearer <token>` -> `<token>`;
/// `a=1; b=2` -> `1`, `2`).
pub(crate) fn mask_header_value(gha: &Gha, value: &str) {
    gha.add_mask(value);
    if let Some((_, credential)) = value.split_once(' ')
        && credential.trim().len() >= 4
    {
        gha.add_mask(credential.trim());
    }
    for pair in value.split(';') {
        if let Some((_, v)) = pair.split_once('=')
            && v.trim().len() >= 4
        {
            gha.add_mask(v.trim());
        }
    }
}

/// Before parsing: values on `Authorization:`/`Cookie:`-like lines of the YAML.
fn mask_secret_values(text: &str, gha: &Gha) {
    for line in text.lines() {
        // A value made of `${NAME}` variables is not the secret: what they are filled with is,
        // and that is masked when they are filled. Their braces are not YAML's.
        let line = expand::without_variables(line);
        let line = line.replace(['{', '}'], ",");
        for part in line.trim().trim_start_matches('-').split(',') {
            if let Some((key, value)) = part.split_once(':') {
                let key = key.trim().trim_matches(|c| c == '"' || c == '\'');
                if checks::is_secret_header(key) {
                    let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
                    if !value.is_empty() && !value.contains(expand::VARIABLE_MARK) {
                        mask_header_value(gha, value);
                    }
                }
            }
        }
    }
}
