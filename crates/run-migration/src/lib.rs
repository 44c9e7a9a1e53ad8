//! `run-migration`: runs `python manage.py migrate` once as an ECS task before the new release
//! goes out, streams its CloudWatch Logs into the job log as they are written, and fails the job
//! unless every essential container exited 0. With `destructive-guard`, it first runs
//! `migrate --plan` the same way and refuses operations the running release cannot survive.

mod command;
mod follow;
mod image;
mod network;
mod plan;
mod summary;
mod target;
mod watch;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use aws_sdk_cloudwatchlogs as logs;
use aws_sdk_ec2 as ec2;
use aws_sdk_ecr as ecr;
use aws_sdk_ecs as ecs;
use swa_ecs::ImageRef;
use swa_gha::{ActionError, Gha};

pub use command::{DEFAULT_COMMAND, display as display_command, parse_command, plan_command};
pub use plan::{Finding, OpKind, Plan, PlanError};
pub use watch::Timing;

use summary::Report;
use target::NetworkInputs;
use watch::{End, Watched};

/// Inputs: one `--flag` per action input, named exactly as the input.
#[derive(clap::Parser, Debug)]
#[command(
    name = "run-migration",
    version,
    about = "Runs database migrations as a one-off ECS task, streams its logs, and fails unless it succeeds"
)]
pub struct Args {
    /// The ECS cluster to run the task in.
    #[arg(long)]
    pub cluster: String,
    /// Task definition family, `family:revision` or ARN. Defaults to the service's current one.
    #[arg(long)]
    pub task_definition: Option<String>,
    /// A service whose task definition, network configuration and capacity the task uses.
    #[arg(long)]
    pub service: Option<String>,
    /// Subnet IDs (comma or whitespace separated); override the service's.
    #[arg(long)]
    pub subnets: Option<String>,
    /// Security group IDs (comma or whitespace separated); override the service's.
    #[arg(long)]
    pub security_groups: Option<String>,
    /// ENABLED or DISABLED; overrides the service's.
    #[arg(long)]
    pub assign_public_ip: Option<String>,
    /// The container that runs the command (default: the only, or the only essential, container).
    #[arg(long)]
    pub container_name: Option<String>,
    /// The command: shell words or a JSON array of strings.
    #[arg(long, default_value = DEFAULT_COMMAND)]
    pub command: String,
    /// How long the task may take before it is stopped.
    #[arg(long, value_parser = swa_gha::parse_duration, default_value = "10m")]
    pub timeout: Duration,
    /// The task's startedBy.
    #[arg(long, default_value = "swa-actions")]
    pub started_by: String,
    /// Run `migrate --plan` first and refuse destructive operations.
    #[arg(long, action = clap::ArgAction::Set, value_parser = swa_gha::parse_bool, default_value = "false")]
    pub destructive_guard: bool,
    /// With the guard: run destructive operations anyway (they are listed as warnings).
    #[arg(long, action = clap::ArgAction::Set, value_parser = swa_gha::parse_bool, default_value = "false")]
    pub allow_destructive: bool,
    /// The image to migrate with (`repo:tag` or `repo@sha256:…`): a revision of the task
    /// definition running it, pinned to its ECR digest, is registered first.
    #[arg(long)]
    pub image: Option<String>,
}

/// Every output the action writes, in the order it writes them.
pub const OUTPUTS: &[&str] = &[
    "task-definition-arn",
    "task-arn",
    "log-group",
    "log-stream",
    "exit-code",
    "elapsed-seconds",
    "destructive-migrations",
];

/// The clients the action calls.
#[derive(Clone, Debug)]
pub struct Clients {
    pub ecs: ecs::Client,
    pub logs: logs::Client,
    pub ecr: ecr::Client,
    pub ec2: ec2::Client,
}

/// Resolves when the job is cancelled, with the signal's name.
pub type Cancel = Pin<Box<dyn Future<Output = &'static str> + Send>>;

pub async fn run(args: Args, gha: Gha) -> Result<(), ActionError> {
    let checked = Checked::new(&args)?;
    let aws = swa_aws::Aws::load(gha.env()).await;
    let clients = Clients {
        ecs: aws.ecs(),
        logs: aws.logs(),
        ecr: aws.ecr(),
        ec2: aws.ec2(),
    };
    execute(
        &args,
        checked,
        &gha,
        &clients,
        Timing::default(),
        listen_for_cancel(),
    )
    .await
}

/// Starts listening for SIGINT/SIGTERM now, so a job cancelled while RunTask is in flight still
/// stops the task once its ARN is known.
fn listen_for_cancel() -> Cancel {
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let _ = tx.send(swa_gha::cancelled().await);
    });
    Box::pin(async move {
        match rx.await {
            Ok(signal) => signal,
            Err(_) => std::future::pending().await,
        }
    })
}

/// The inputs checked before any call.
#[derive(Debug, Clone)]
pub struct Checked {
    command: Vec<String>,
    network: NetworkInputs,
    image: Option<ImageRef>,
}

impl Checked {
    pub fn new(args: &Args) -> Result<Checked, ActionError> {
        if args.task_definition.is_none() && args.service.is_none() {
            return Err(ActionError::input(
                "task-definition",
                "is required unless `service` is given (then the service's current task definition runs)",
            ));
        }
        if args.timeout.is_zero() {
            return Err(ActionError::input(
                "timeout",
                "is zero; give the time the migration may take, such as 10m",
            ));
        }
        let started_by = args.started_by.trim();
        if started_by.is_empty()
            || started_by.len() > 128
            || !started_by
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ActionError::input(
                "started-by",
                format!(
                    "has the value `{started_by}`; ECS takes up to 128 letters, digits, hyphens and underscores"
                ),
            ));
        }
        let command = parse_command(&args.command).map_err(|e| ActionError::input("command", e))?;
        let network = NetworkInputs {
            subnets: args
                .subnets
                .as_deref()
                .map(|s| target::parse_ids("subnets", s, "subnet-"))
                .transpose()?,
            security_groups: args
                .security_groups
                .as_deref()
                .map(|s| target::parse_ids("security-groups", s, "sg-"))
                .transpose()?,
            assign_public_ip: args
                .assign_public_ip
                .as_deref()
                .map(target::parse_assign_public_ip)
                .transpose()?,
        };
        let image = args
            .image
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(ImageRef::parse)
            .transpose()
            .map_err(|e| ActionError::input("image", e))?;
        Ok(Checked {
            command,
            network,
            image,
        })
    }
}

/// The whole action over the given clients; tests call it with mocked clients and short timings.
pub async fn execute(
    args: &Args,
    checked: Checked,
    gha: &Gha,
    clients: &Clients,
    timing: Timing,
    mut cancel: Cancel,
) -> Result<(), ActionError> {
    if args.allow_destructive && !args.destructive_guard {
        gha.warning("`allow-destructive` has no effect without `destructive-guard: true`");
    }
    network::check(gha, &clients.ec2, &checked.network).await?;
    let mut target = target::resolve(
        &clients.ecs,
        &args.cluster,
        args.task_definition.as_deref(),
        args.service.as_deref(),
        args.container_name.as_deref(),
        &checked.network,
    )
    .await?;
    if let Some(image) = &checked.image {
        image::apply(gha, clients, &mut target, image).await?;
    }
    gha.info(format!(
        "Task definition {} in cluster {}, container `{}`{}",
        target.definition_name,
        target.cluster,
        target.container,
        target
            .from_service
            .as_deref()
            .map(|s| format!(", network and capacity of service {s}"))
            .unwrap_or_default()
    ));
    let ctx = watch::Context {
        gha,
        clients,
        target: &target,
        timing: &timing,
        started_by: args.started_by.trim(),
        timeout: args.timeout,
    };
    let mut report = Report::new(&target, &checked.command);

    // The destructive migrations the guard let through (allow-destructive), for the deploy's
    // record: a rollback past them needs to know.
    let mut destructive: Vec<String> = Vec::new();
    if args.destructive_guard {
        let (plan_cmd, same) = plan_command(&checked.command);
        if !same {
            gha.notice(format!(
                "`command` is not a `manage.py migrate`; the destructive guard checks `{}`",
                display_command(&plan_cmd)
            ));
        }
        let started = watch::start(&ctx, &plan_cmd).await?;
        let watched = watch::watch(&ctx, started, "Migration plan", true, &mut cancel).await?;
        match guard(gha, &watched, args.allow_destructive, &mut report) {
            Ok(allowed) => destructive = allowed,
            Err(error) => {
                report.plan_failed(&watched);
                write_summary(gha, &report);
                return Err(error);
            }
        }
    }

    let started = watch::start(&ctx, &checked.command).await?;
    gha.set_output("task-definition-arn", &target.definition_arn)?;
    gha.set_output("task-arn", &started.task_arn)?;
    let (group, stream) = started
        .location
        .as_ref()
        .map(|l| (l.group.clone(), l.stream.clone()))
        .unwrap_or_default();
    gha.set_output("log-group", &group)?;
    gha.set_output("log-stream", &stream)?;
    let watched = watch::watch(&ctx, started, "Migration", false, &mut cancel).await?;
    let exit_code = watched.exit_code(&target.container);
    gha.set_output(
        "exit-code",
        &exit_code.map(|c| c.to_string()).unwrap_or_default(),
    )?;
    gha.set_output(
        "elapsed-seconds",
        &watched.elapsed.as_secs_f64().round().to_string(),
    )?;
    gha.set_output("destructive-migrations", &destructive.join(","))?;
    report.migration(&watched);
    write_summary(gha, &report);
    let id = swa_ecs::task_id(&watched.task_arn).to_string();
    let secs = swa_gha::format_duration(watched.elapsed);
    match &watched.end {
        End::Stopped(stopped) if stopped.essentials_exited_zero() => {
            gha.info(format!("Migration succeeded in {secs} (task {id})"));
            Ok(())
        }
        End::Stopped(stopped) => Err(ActionError::failed(format!(
            "the migration failed: {}{}",
            stopped.summary(),
            last_lines(&watched)
        ))
        .with_title("Migration failed")),
        End::TimedOut => Err(ActionError::failed(format!(
            "the migration did not finish within {}; {}{}",
            swa_gha::format_duration(args.timeout),
            watched.stop_phrase(),
            last_lines(&watched)
        ))
        .with_title("Migration timed out")),
        End::Cancelled(signal) => Err(ActionError::failed(format!(
            "the job was cancelled ({signal}); migration {}",
            watched.stop_phrase()
        ))
        .with_title("Migration cancelled")),
    }
}

/// Reads the plan and applies the rules; an error refuses the migration.
/// Reads the plan task's output and refuses destructive operations unless `allow`; returns the
/// migrations (`app.migration`, in plan order) whose destructive operations it let through.
fn guard(
    gha: &Gha,
    watched: &Watched,
    allow: bool,
    report: &mut Report,
) -> Result<Vec<String>, ActionError> {
    match &watched.end {
        End::Stopped(stopped) if stopped.essentials_exited_zero() => {}
        End::Stopped(stopped) => {
            return Err(ActionError::failed(format!(
                "the migration plan task failed, so nothing was migrated: {}{}",
                stopped.summary(),
                last_lines(watched)
            ))
            .with_title("Migration plan failed"));
        }
        End::TimedOut => {
            return Err(ActionError::failed(format!(
                "the migration plan task did not finish in time; nothing was migrated; plan {}",
                watched.stop_phrase()
            )));
        }
        End::Cancelled(signal) => {
            return Err(ActionError::failed(format!(
                "the job was cancelled ({signal}) during the migration plan; nothing was migrated; plan {}",
                watched.stop_phrase()
            )));
        }
    }
    if watched.location.is_none() {
        return Err(ActionError::failed(
            "the destructive guard needs the plan task's output, but the container does not log to CloudWatch Logs (awslogs)",
        ));
    }
    let plan = Plan::parse(watched.lines.iter().map(String::as_str)).map_err(|e| {
        ActionError::failed(format!(
            "could not read the migration plan, so nothing was migrated: {e}"
        ))
    })?;
    let findings = plan.destructive();
    report.plan(&plan, &findings, allow);
    gha.info(format!(
        "Migration plan: {} migration(s), {} operation(s), {} destructive",
        plan.migrations.len(),
        plan.operation_count(),
        findings.len()
    ));
    if findings.is_empty() {
        return Ok(Vec::new());
    }
    let list = findings
        .iter()
        .map(|f| format!("  - {f}"))
        .collect::<Vec<_>>()
        .join("\n");
    if allow {
        gha.warning(format!(
            "running {} destructive operation(s) because allow-destructive is true:\n{list}",
            findings.len()
        ));
        let mut migrations: Vec<String> = Vec::new();
        for f in &findings {
            let name = format!("{}.{}", f.app, f.migration);
            if !migrations.contains(&name) {
                migrations.push(name);
            }
        }
        return Ok(migrations);
    }
    Err(ActionError::failed(format!(
        "refusing to migrate: the plan has {} operation(s) the release still running cannot survive during a rolling deploy:\n{list}\nShip them in a later release once no running code uses the old schema, or set allow-destructive: true",
        findings.len()
    ))
    .with_title("Destructive migration refused"))
}

fn last_lines(watched: &Watched) -> String {
    let tail: Vec<&String> = watched
        .tail
        .iter()
        .rev()
        .filter(|l| !l.trim().is_empty())
        .take(3)
        .collect();
    if tail.is_empty() {
        return String::new();
    }
    let lines: Vec<&str> = tail.iter().rev().map(|s| s.as_str()).collect();
    format!("\nLast log lines:\n{}", lines.join("\n"))
}

fn write_summary(gha: &Gha, report: &Report) {
    if let Err(e) = gha.summary(&report.markdown()) {
        gha.warning(format!("could not write the step summary: {e}"));
    }
}

#[cfg(test)]
mod tests;
