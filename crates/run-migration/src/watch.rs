//! Starting the task and following it to the end: its state from DescribeTasks, its log lines
//! from CloudWatch Logs, the timeout and the job's cancellation.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_cloudwatchlogs as logs;
use aws_sdk_ecs as ecs;
use aws_smithy_runtime_api::client::result::SdkError;
use ecs::types::{ContainerOverride, Task, TaskOverride};
use swa_ecs::{LogLocation, StoppedTask};
use swa_gha::{ActionError, Gha};
use tokio::time::{Instant, sleep, sleep_until, timeout};

use crate::follow::{Follower, Printer};
use crate::target::Target;
use crate::{Cancel, Clients};

/// How often the action asks; the defaults keep a log line's delay to about a second and the
/// calls to about 80 a minute while the task runs.
#[derive(Debug, Clone)]
pub struct Timing {
    /// Between DescribeTasks calls.
    pub describe_every: Duration,
    /// Between GetLogEvents polls once the container runs.
    pub logs_every: Duration,
    /// After the task stopped, how long to wait for late log lines.
    pub drain_grace: Duration,
    /// The longest wait between calls while a service is throttling.
    pub max_backoff: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            describe_every: Duration::from_secs(3),
            logs_every: Duration::from_secs(1),
            drain_grace: Duration::from_millis(1500),
            max_backoff: Duration::from_secs(20),
        }
    }
}

/// Lines of the log kept for the summary and the error message.
const TAIL_LINES: usize = 30;

pub struct Context<'a> {
    pub gha: &'a Gha,
    pub clients: &'a Clients,
    pub target: &'a Target,
    pub timing: &'a Timing,
    pub started_by: &'a str,
    pub timeout: Duration,
}

/// A task that RunTask started.
pub struct Started {
    pub task_arn: String,
    pub location: Option<LogLocation>,
    pub at: Instant,
    why_no_logs: Option<String>,
}

/// How the wait ended.
#[derive(Debug)]
pub enum End {
    Stopped(Box<StoppedTask>),
    TimedOut,
    Cancelled(&'static str),
}

/// What became of the StopTask call made when the wait ended early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopOutcome {
    Stopped,
    /// ECS refused it; the error text.
    Refused(String),
    /// No answer within the call's time limit.
    NoAnswer,
}

/// A task followed to its end.
pub struct Watched {
    pub task_arn: String,
    pub location: Option<LogLocation>,
    pub end: End,
    pub elapsed: Duration,
    /// The last lines of the log.
    pub tail: Vec<String>,
    /// Every line, when asked for (the plan).
    pub lines: Vec<String>,
    /// The StopTask call after a timeout or a cancel.
    pub stop: Option<StopOutcome>,
    pub cluster: String,
}

impl Watched {
    /// What happened to the task after a timeout or a cancel, in words a person can act on:
    /// `task ID was stopped`, or why it may still be running and how to stop it.
    pub fn stop_phrase(&self) -> String {
        let id = swa_ecs::task_id(&self.task_arn);
        let how = format!(
            "stop it with `aws ecs stop-task --cluster {} --task {id}`",
            self.cluster
        );
        match &self.stop {
            Some(StopOutcome::Stopped) => format!("task {id} was stopped"),
            Some(StopOutcome::Refused(why)) => format!(
                "StopTask was refused ({}), so task {id} may still be running: {how}",
                swa_gha::Foreign(why)
            ),
            Some(StopOutcome::NoAnswer) | None => {
                format!("StopTask did not answer, so task {id} may still be running: {how}")
            }
        }
    }

    /// The exit code of `container`, when it ran to an end.
    pub fn exit_code(&self, container: &str) -> Option<i32> {
        match &self.end {
            End::Stopped(s) => s
                .containers
                .iter()
                .find(|c| c.name == container)
                .and_then(|c| c.exit_code),
            _ => None,
        }
    }
}

/// RunTask with the command override. `failures[]` and a refused request are the job's failure
/// (exit 1): nothing started.
pub async fn start(ctx: &Context<'_>, command: &[String]) -> Result<Started, ActionError> {
    let target = ctx.target;
    let overrides = TaskOverride::builder()
        .container_overrides(
            ContainerOverride::builder()
                .name(&target.container)
                .set_command(Some(command.to_vec()))
                .build(),
        )
        .build();
    // One token per task: a RunTask retried after a dropped connection cannot start a second one.
    let token = uuid::Uuid::new_v4().simple().to_string();
    let mut request = ctx
        .clients
        .ecs
        .run_task()
        .cluster(&target.cluster)
        .task_definition(&target.definition_arn)
        .count(1)
        .started_by(ctx.started_by)
        .client_token(token)
        .overrides(overrides)
        .set_network_configuration(target.network.clone())
        .set_platform_version(target.platform_version.clone());
    if target.capacity.is_empty() {
        request = request.set_launch_type(target.launch_type.clone());
    } else {
        request = request.set_capacity_provider_strategy(Some(target.capacity.clone()));
    }
    ctx.gha.info(format!(
        "Starting `{}` in container `{}` of {}",
        crate::display_command(command),
        target.container,
        target.definition_name
    ));
    let out = request.send().await.map_err(|e| {
        ActionError::failed(format!(
            "RunTask refused to start {}: {}",
            target.definition_name,
            swa_aws::error_text(&e)
        ))
        .with_title("Migration task not started")
    })?;
    if !out.failures().is_empty() {
        let reasons: Vec<String> = out
            .failures()
            .iter()
            .map(|f| {
                let mut text = f.reason().unwrap_or("unknown reason").to_string();
                if let Some(detail) = f.detail() {
                    text.push_str(&format!(" ({detail})"));
                }
                if let Some(arn) = f.arn() {
                    text.push_str(&format!(" [{arn}]"));
                }
                text
            })
            .collect();
        return Err(ActionError::failed(format!(
            "ECS could not start the task: {}",
            reasons.join("; ")
        ))
        .with_title("Migration task not started"));
    }
    let task_arn = out
        .tasks()
        .first()
        .and_then(Task::task_arn)
        .ok_or_else(|| ActionError::failed("RunTask returned neither a task nor a failure"))?
        .to_string();
    let (location, why_no_logs) =
        match swa_ecs::log_location(&target.definition, &target.container, &task_arn) {
            Ok(l) => (Some(l), None),
            Err(why) => (None, Some(why.to_string())),
        };
    Ok(Started {
        task_arn,
        location,
        at: Instant::now(),
        why_no_logs,
    })
}

/// Follows the task until it stops, the timeout passes or the job is cancelled, streaming its
/// log into a group of the job log.
pub async fn watch(
    ctx: &Context<'_>,
    started: Started,
    title: &str,
    keep_lines: bool,
    cancel: &mut Cancel,
) -> Result<Watched, ActionError> {
    let gha = ctx.gha;
    let id = swa_ecs::task_id(&started.task_arn).to_string();
    gha.group_start(&format!("{title}: task {id}"));
    let mut printer = Printer::new(gha);
    match (&started.location, &started.why_no_logs) {
        (Some(l), _) => printer.status(&format!(
            "Task {} started; log stream {} in {}",
            started.task_arn, l.stream, l.group
        )),
        (None, why) => {
            printer.status(&format!("Task {} started", started.task_arn));
            gha.warning(format!(
                "the task's log cannot be shown: {}",
                why.as_deref().unwrap_or("no awslogs configuration")
            ));
        }
    }
    let follower = started.location.as_ref().map(|l| {
        let client = match &l.region {
            Some(region)
                if Some(region.as_str())
                    != ctx.clients.logs.config().region().map(|r| r.as_ref()) =>
            {
                logs::Client::from_conf(
                    ctx.clients
                        .logs
                        .config()
                        .to_builder()
                        .region(logs::config::Region::new(region.clone()))
                        .build(),
                )
            }
            _ => ctx.clients.logs.clone(),
        };
        Follower::new(client, &l.group, &l.stream, TAIL_LINES, keep_lines)
    });
    // The input is at most MAX_DURATION; the clamp keeps the sum from overflowing whatever
    // built the settings.
    let deadline = started.at + ctx.timeout.min(swa_gha::MAX_DURATION);
    let mut state = State {
        ctx,
        task_arn: &started.task_arn,
        task_id: &id,
        printer,
        follower,
        status: None,
        logs_on: false,
        next_describe: Instant::now(),
        next_logs: Instant::now(),
        describe_wait: ctx.timing.describe_every,
        logs_wait: ctx.timing.logs_every,
        warned: BTreeSet::new(),
        describe_calls: 0,
    };
    let end = loop {
        tokio::select! {
            biased;
            signal = cancel.as_mut() => break End::Cancelled(signal),
            _ = sleep_until(deadline) => break End::TimedOut,
            step = state.step() => {
                if let Some(stopped) = step? {
                    break End::Stopped(Box::new(stopped));
                }
            }
        }
    };
    let elapsed = started.at.elapsed();
    let mut stop = None;
    match &end {
        End::Stopped(stopped) => {
            state.drain().await;
            state.printer.resume();
            gha.info(stopped.summary());
        }
        End::TimedOut | End::Cancelled(_) => {
            let reason = match &end {
                End::Cancelled(signal) => {
                    format!("run-migration: the job was cancelled ({signal})")
                }
                _ => format!(
                    "run-migration: timed out after {}",
                    swa_gha::format_duration(ctx.timeout)
                ),
            };
            state.printer.resume();
            stop = Some(stop_task(ctx, &started.task_arn, &reason).await);
            // The last lines, without letting a slow service hold the job up.
            let _ = timeout(Duration::from_secs(5), state.poll_logs()).await;
            state.printer.resume();
        }
    }
    let (tail, lines, line_count, log_calls) = match &state.follower {
        Some(f) => (f.tail(), f.kept().to_vec(), f.lines, f.calls),
        None => (Vec::new(), Vec::new(), 0, 0),
    };
    gha.info(format!(
        "{line_count} log line(s) in {}; {} DescribeTasks and {log_calls} GetLogEvents call(s)",
        swa_gha::format_duration(elapsed),
        state.describe_calls
    ));
    gha.group_end();
    Ok(Watched {
        task_arn: started.task_arn.clone(),
        location: started.location,
        end,
        elapsed,
        tail,
        lines,
        stop,
        cluster: ctx.target.cluster.clone(),
    })
}

async fn stop_task(ctx: &Context<'_>, task_arn: &str, reason: &str) -> StopOutcome {
    let call = ctx
        .clients
        .ecs
        .stop_task()
        .cluster(&ctx.target.cluster)
        .task(task_arn)
        .reason(reason)
        .send();
    match timeout(Duration::from_secs(20), call).await {
        Ok(Ok(_)) => {
            ctx.gha.info(format!("Stopped task {task_arn} ({reason})"));
            StopOutcome::Stopped
        }
        Ok(Err(e)) => {
            let why = swa_aws::error_text(&e);
            ctx.gha.warning(format!(
                "could not stop task {task_arn}: {}; stop it in the console or with `aws ecs stop-task`",
                swa_gha::Foreign(&why)
            ));
            StopOutcome::Refused(why)
        }
        Err(_) => {
            ctx.gha.warning(format!(
                "StopTask for {task_arn} did not answer within 20s; stop it in the console or with `aws ecs stop-task`"
            ));
            StopOutcome::NoAnswer
        }
    }
}

struct State<'a> {
    ctx: &'a Context<'a>,
    task_arn: &'a str,
    task_id: &'a str,
    printer: Printer,
    follower: Option<Follower>,
    status: Option<String>,
    logs_on: bool,
    next_describe: Instant,
    next_logs: Instant,
    describe_wait: Duration,
    logs_wait: Duration,
    warned: BTreeSet<String>,
    describe_calls: u64,
}

/// Worth waiting out: throttling, a 5xx, a timeout or a dropped connection.
fn transient<E, R>(error: &SdkError<E, R>) -> bool
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
    R: HttpStatus,
{
    match error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(e) => {
            swa_aws::is_throttling(error)
                || e.raw().status_code() >= 500
                || matches!(
                    e.err().code(),
                    Some("ServerException" | "ServiceUnavailableException" | "InternalFailure")
                )
        }
        _ => false,
    }
}

trait HttpStatus {
    fn status_code(&self) -> u16;
}

impl HttpStatus for aws_smithy_runtime_api::http::Response {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

const STARTED: &[&str] = &[
    "RUNNING",
    "DEACTIVATING",
    "STOPPING",
    "DEPROVISIONING",
    "STOPPED",
];

impl State<'_> {
    /// Waits for the next call that is due and makes it. `Some` once the task has stopped.
    async fn step(&mut self) -> Result<Option<StoppedTask>, ActionError> {
        let wake = if self.logs_on && self.follower.is_some() {
            self.next_describe.min(self.next_logs)
        } else {
            self.next_describe
        };
        sleep_until(wake).await;
        let now = Instant::now();
        if self.logs_on && now >= self.next_logs {
            self.poll_logs().await;
        }
        if now >= self.next_describe {
            return self.describe().await;
        }
        Ok(None)
    }

    async fn describe(&mut self) -> Result<Option<StoppedTask>, ActionError> {
        let ctx = self.ctx;
        self.describe_calls += 1;
        let result = ctx
            .clients
            .ecs
            .describe_tasks()
            .cluster(&ctx.target.cluster)
            .tasks(self.task_arn)
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            Err(e) if transient(&e) => {
                self.describe_wait = (self.describe_wait * 2).min(ctx.timing.max_backoff);
                self.next_describe = Instant::now() + self.describe_wait;
                self.warn_once(
                    "describe",
                    &format!(
                        "DescribeTasks: {}; asking again every {} while it lasts",
                        swa_aws::error_text(&e),
                        swa_gha::format_duration(self.describe_wait)
                    ),
                );
                return Ok(None);
            }
            Err(e) => {
                return Err(ActionError::failed(format!(
                    "could not follow task {}: DescribeTasks: {}",
                    self.task_arn,
                    swa_aws::error_text(&e)
                )));
            }
        };
        self.describe_wait = ctx.timing.describe_every;
        self.next_describe = Instant::now() + self.describe_wait;
        let Some(task) = out.tasks().first() else {
            // Just after RunTask a task may not be visible yet.
            return Ok(None);
        };
        let status = task.last_status().unwrap_or("UNKNOWN").to_string();
        if self.status.as_deref() != Some(status.as_str()) {
            self.printer
                .status(&format!("Task {} is {status}", self.task_id));
            self.status = Some(status.clone());
        }
        if STARTED.contains(&status.as_str()) && !self.logs_on {
            self.logs_on = true;
            self.next_logs = Instant::now();
        }
        if status == "STOPPED" {
            return Ok(Some(StoppedTask::new(task, Some(&ctx.target.definition))));
        }
        Ok(None)
    }

    /// Reads and prints the lines written since the last poll.
    async fn poll_logs(&mut self) {
        let Some(follower) = self.follower.as_mut() else {
            return;
        };
        let timing = self.ctx.timing;
        match follower.poll().await {
            Ok(lines) => {
                for line in &lines {
                    self.printer.line(line);
                }
                self.logs_wait = timing.logs_every;
            }
            Err(e) => {
                let text = swa_aws::error_text(&e);
                if transient(&e) {
                    self.logs_wait = (self.logs_wait * 2).min(timing.max_backoff);
                    self.warn_once(
                        "logs",
                        &format!(
                            "GetLogEvents: {text}; reading the log every {} while it lasts",
                            swa_gha::format_duration(self.logs_wait)
                        ),
                    );
                } else {
                    self.warn_once("logs-off", &format!("the log cannot be read: {text}"));
                    self.follower = None;
                }
            }
        }
        self.next_logs = Instant::now() + self.logs_wait;
    }

    /// After the task stopped: reads until the stream is quiet, waiting once for lines the log
    /// driver sends late.
    async fn drain(&mut self) {
        if self.follower.is_none() {
            return;
        }
        let mut waited = false;
        for _ in 0..20 {
            let before = self.follower.as_ref().map(|f| f.lines).unwrap_or_default();
            self.poll_logs().await;
            let Some(after) = self.follower.as_ref().map(|f| f.lines) else {
                return;
            };
            if after == before {
                if waited {
                    return;
                }
                waited = true;
                sleep(self.ctx.timing.drain_grace).await;
            }
        }
    }

    fn warn_once(&mut self, key: &str, message: &str) {
        if self.warned.insert(key.to_string()) {
            self.printer.resume();
            self.ctx.gha.warning(message);
        }
    }
}
