//! The life of a task: created, pulled, running (serving, crashing, failing its health checks or
//! running a script), draining and stopped, each step planned on the task's agenda.

use serde_json::json;

use super::{
    ACCOUNT, Behaviour, CLUSTER, Container, DEREGISTRATION_DELAY_SECONDS, LogEvent, LogStream,
    MIGRATION_FAMILY, Phase, REGION, SECOND, SERVICE, SERVICE_LOG_GROUP, STREAM_PREFIX, SUBNETS,
    Step, TARGET_GROUP_ARN, TargetState, Task, World, canned, pullable, service_behaviour,
    task_arn,
};

impl World {
    /// Creates a task (PROVISIONING at `at`) and plans its life; returns its index.
    pub fn create_task(
        &mut self,
        family: &str,
        revision: u32,
        deployment: Option<String>,
        started_by: Option<String>,
        at: i64,
    ) -> usize {
        let td = self
            .task_definitions
            .get(family)
            .and_then(|v| v.iter().find(|t| t.revision == revision))
            .cloned();
        let Some(td) = td else { return usize::MAX };
        let id = self.next_hex(32);
        let n = self.tasks.len() as u64 + 10;
        let ip = format!("10.0.{}.{}", 1 + (n % 2) * 2, 10 + (n * 37) % 240);
        let subnet = SUBNETS[(n % 2) as usize].to_string();
        let az = if n.is_multiple_of(2) {
            "us-east-1a"
        } else {
            "us-east-1b"
        }
        .to_string();
        let eni = format!("eni-0{}", self.next_hex(16));
        let attachment_id = self.next_uuid();
        let behaviour = if deployment.is_some() {
            service_behaviour(&self.scenario, td.new)
        } else if family == MIGRATION_FAMILY && self.scenario.migration_no_start {
            Behaviour::NoStart
        } else {
            Behaviour::Script
        };
        // An image ECR does not hold cannot be pulled, whichever way the task was started.
        let pullable = td
            .containers()
            .iter()
            .all(|c| pullable(&self.images, c["image"].as_str().unwrap_or_default()));
        let behaviour = if pullable {
            behaviour
        } else {
            Behaviour::NoStart
        };
        let slow = if td.new && self.scenario.slow_start {
            4
        } else {
            1
        };
        let mut containers = Vec::new();
        for c in td.containers() {
            let name = c["name"].as_str().unwrap_or_default().to_string();
            let runtime = self.next_hex(32);
            containers.push(Container {
                arn: format!(
                    "arn:aws:ecs:{REGION}:{ACCOUNT}:container/{CLUSTER}/{id}/{}",
                    self.next_hex(32)
                ),
                name,
                image: c["image"].as_str().unwrap_or_default().to_string(),
                essential: c["essential"].as_bool() != Some(false),
                exit_code: None,
                reason: None,
                runtime_id: format!("{id}-{}", &runtime[..10]),
            });
        }
        let essential = td.essential_container();
        let container_name = essential["name"].as_str().unwrap_or_default().to_string();
        let log_group = essential["logConfiguration"]["options"]["awslogs-group"]
            .as_str()
            .unwrap_or(SERVICE_LOG_GROUP)
            .to_string();
        let prefix = essential["logConfiguration"]["options"]["awslogs-stream-prefix"]
            .as_str()
            .unwrap_or(STREAM_PREFIX);
        let command = essential["command"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let group = match &deployment {
            Some(_) => format!("service:{SERVICE}"),
            None => format!("family:{family}"),
        };
        let mut task = Task {
            arn: task_arn(&id),
            id: id.clone(),
            td_arn: td.arn.clone(),
            family: family.to_string(),
            revision,
            cpu: td.body["cpu"].as_str().unwrap_or("256").to_string(),
            memory: td.body["memory"].as_str().unwrap_or("512").to_string(),
            started_by: started_by.or_else(|| deployment.clone()),
            group,
            deployment,
            behaviour,
            phase: Phase::Provisioning,
            desired_running: true,
            created_at: at,
            pull_started_at: None,
            pull_stopped_at: None,
            started_at: None,
            stopping_at: None,
            execution_stopped_at: None,
            stopped_at: None,
            stop_code: None,
            stopped_reason: None,
            containers,
            ip,
            eni,
            subnet,
            attachment_id,
            az,
            target: None,
            agenda: Vec::new(),
            log_group,
            log_stream: format!("{prefix}/{container_name}/{id}"),
            overrides: json!({"containerOverrides": [{"name": container_name}], "inferenceAcceleratorOverrides": []}),
            command,
            slow,
            version: 1,
        };
        task.plan(at + 4 * SECOND * slow, Step::ToPending);
        self.tasks.push(task);
        self.tasks.len() - 1
    }

    /// Task `i`'s log stream, created empty on first use.
    fn log_stream(&mut self, i: usize) -> &mut LogStream {
        let (group, stream) = (
            self.tasks[i].log_group.clone(),
            self.tasks[i].log_stream.clone(),
        );
        self.logs
            .entry(group)
            .or_default()
            .entry(stream)
            .or_default()
    }

    pub(super) fn write_log(&mut self, i: usize, at: i64, message: String) {
        let s = self.log_stream(i);
        if s.events.is_empty() && s.created_at == 0 {
            s.created_at = at;
        }
        s.events.push(LogEvent {
            timestamp: at,
            ingestion: at + 180,
            message,
        });
    }

    pub(super) fn apply(&mut self, i: usize, step: Step, at: i64) {
        let slow = self.tasks[i].slow;
        match step {
            Step::ToPending => {
                let t = &mut self.tasks[i];
                if t.phase != Phase::Provisioning {
                    return;
                }
                t.phase = Phase::Pending;
                t.version += 1;
                t.pull_started_at = Some(at + SECOND);
                if t.behaviour == Behaviour::NoStart {
                    // The agent retries the pull five times before it gives up.
                    t.plan(at + 30 * SECOND * slow, Step::FailToStart);
                } else {
                    t.pull_stopped_at = Some(at + 7 * SECOND * slow);
                    t.plan(at + 8 * SECOND * slow, Step::ToRunning);
                }
            }
            Step::ToRunning => {
                if self.tasks[i].phase != Phase::Pending {
                    return;
                }
                {
                    let t = &mut self.tasks[i];
                    t.phase = Phase::Running;
                    t.version += 1;
                    t.started_at = Some(at);
                }
                let id = self.tasks[i].id.clone();
                // The awslogs driver creates the stream when the container starts.
                let s = self.log_stream(i);
                if s.created_at == 0 {
                    s.created_at = at;
                }
                self.event(at, "task-running", id.clone());
                match self.tasks[i].behaviour {
                    Behaviour::Healthy | Behaviour::Unhealthy | Behaviour::Crash => {
                        let lines = if self.tasks[i].behaviour == Behaviour::Crash {
                            canned::crash_traceback()
                        } else {
                            canned::gunicorn_start_lines()
                        };
                        let t = &mut self.tasks[i];
                        for (k, line) in lines.into_iter().enumerate() {
                            t.plan(at + 200 * (k as i64 + 1), Step::Log(line));
                        }
                        t.target = Some(TargetState::Initial);
                        let behaviour = t.behaviour;
                        match behaviour {
                            Behaviour::Healthy => {
                                t.plan(at + 20 * SECOND * slow, Step::TargetHealthy)
                            }
                            Behaviour::Unhealthy => {
                                // Unhealthy after the target group's 3 failed checks 10 s
                                // apart; ECS replaces the task once the service's health
                                // check grace period is over, and its next look after that.
                                let grace = self.service.health_check_grace.max(30) * SECOND;
                                let t = &mut self.tasks[i];
                                t.plan(at + 30 * SECOND, Step::TargetUnhealthy);
                                t.plan(at + grace + 10 * SECOND, Step::ElbFail);
                            }
                            _ => t.plan(at + 4 * SECOND, Step::Exit(1)),
                        }
                        self.service_event_at(
                            at,
                            format!("(service {SERVICE}) registered 1 targets in (target-group {TARGET_GROUP_ARN})"),
                        );
                    }
                    Behaviour::NoStart => {}
                    Behaviour::Script => {
                        let (lines, code) = self.script_for(i);
                        let t = &mut self.tasks[i];
                        let mut offset = SECOND;
                        for line in lines {
                            t.plan(at + offset, Step::Log(line));
                            offset += 400;
                        }
                        if let Some(code) = code {
                            t.plan(at + offset + SECOND, Step::Exit(code));
                        }
                    }
                }
            }
            Step::Log(line) => {
                if matches!(self.tasks[i].phase, Phase::Running | Phase::Deactivating) {
                    self.write_log(i, at, line);
                }
            }
            Step::TargetHealthy => {
                let t = &mut self.tasks[i];
                if t.target == Some(TargetState::Initial) {
                    t.target = Some(TargetState::Healthy);
                    let id = t.id.clone();
                    self.event(at, "target-healthy", id);
                }
            }
            Step::TargetUnhealthy => {
                let t = &mut self.tasks[i];
                if t.target == Some(TargetState::Initial) {
                    let odd = t.ip.ends_with(['1', '3', '5', '7', '9']);
                    t.target = Some(if odd {
                        TargetState::Unhealthy {
                            reason: "Target.Timeout".into(),
                            description: "Request timed out".into(),
                        }
                    } else {
                        TargetState::Unhealthy {
                            reason: "Target.ResponseCodeMismatch".into(),
                            description: "Health checks failed with these codes: [503]".into(),
                        }
                    });
                    let id = t.id.clone();
                    self.event(at, "target-unhealthy", id);
                }
            }
            Step::ElbFail => {
                if !self.tasks[i].is_live() {
                    return;
                }
                self.count_failure(i);
                let reason =
                    format!("Task failed ELB health checks in (target-group {TARGET_GROUP_ARN})");
                self.begin_stop(i, at, "ServiceSchedulerInitiated", &reason, Some(143));
                let id = self.tasks[i].id.clone();
                self.service_event_at(
                    at,
                    format!("(service {SERVICE}) has stopped 1 running tasks: (task {id})."),
                );
                self.event(at, "task-failed-elb-health-checks", id);
            }
            Step::Exit(code) => {
                if !matches!(self.tasks[i].phase, Phase::Running | Phase::Deactivating) {
                    return;
                }
                let failure = code != 0
                    && self.tasks[i].deployment.is_some()
                    && self.tasks[i].desired_running;
                if failure {
                    self.count_failure(i);
                }
                {
                    let t = &mut self.tasks[i];
                    t.agenda.clear();
                    for c in &mut t.containers {
                        c.exit_code = Some(if c.essential { code } else { 0 });
                        if c.essential && code != 0 {
                            c.reason = Some("Essential container in task exited".into());
                        }
                    }
                    if t.stop_code.is_none() {
                        t.stop_code = Some("EssentialContainerExited".into());
                        t.stopped_reason = Some("Essential container in task exited".into());
                    }
                    t.desired_running = false;
                    t.stopping_at.get_or_insert(at);
                    t.execution_stopped_at = Some(at);
                    t.target = None;
                    t.phase = Phase::Stopping;
                    t.version += 1;
                    t.plan(at + 2 * SECOND, Step::ToDeprovisioning);
                }
                let id = self.tasks[i].id.clone();
                self.event(at, "container-exited", format!("{id} exit code {code}"));
            }
            Step::FailToStart => {
                if self.tasks[i].phase != Phase::Pending {
                    return;
                }
                self.count_failure(i);
                let images = self.images.clone();
                let t = &mut self.tasks[i];
                let image = t
                    .containers
                    .iter()
                    .find(|c| !pullable(&images, &c.image))
                    .or(t.containers.iter().find(|c| c.essential))
                    .or(t.containers.first())
                    .map(|c| c.image.clone())
                    .unwrap_or_default();
                let reason = format!(
                    "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref {image}: not found"
                );
                for c in &mut t.containers {
                    c.reason = Some(reason.clone());
                }
                t.desired_running = false;
                t.stop_code = Some("TaskFailedToStart".into());
                t.stopped_reason = Some(reason);
                t.stopping_at = Some(at);
                t.execution_stopped_at = Some(at);
                t.stopped_at = Some(at);
                t.agenda.clear();
                t.phase = Phase::Stopped;
                t.version += 1;
                let detail = format!("{} {}:{} TaskFailedToStart", t.id, t.family, t.revision);
                self.event(at, "task-stopped", detail);
            }
            Step::DrainDone(exit) => {
                let t = &mut self.tasks[i];
                let started = t.started_at.is_some();
                for c in &mut t.containers {
                    if c.exit_code.is_none() && started {
                        c.exit_code = Some(exit);
                    }
                }
                let scaled_in = t.deployment.is_some()
                    && t.stop_code.as_deref() == Some("ServiceSchedulerInitiated")
                    && t.stopped_reason
                        .as_deref()
                        .is_some_and(|r| r.starts_with("Scaling activity initiated by"));
                if scaled_in {
                    self.drained.push((at, t.id.clone()));
                }
                let t = &mut self.tasks[i];
                t.target = None;
                t.phase = Phase::Stopping;
                t.version += 1;
                t.execution_stopped_at = Some(at + SECOND);
                t.plan(at + 3 * SECOND, Step::ToDeprovisioning);
                let id = t.id.clone();
                self.event(at, "target-deregistered", id);
            }
            Step::ToDeprovisioning => {
                let t = &mut self.tasks[i];
                t.phase = Phase::Deprovisioning;
                t.version += 1;
                t.plan(at + 3 * SECOND, Step::ToStopped);
            }
            Step::ToStopped => {
                let t = &mut self.tasks[i];
                t.phase = Phase::Stopped;
                t.version += 1;
                t.stopped_at = Some(at);
                let detail = format!(
                    "{} {}:{} {}",
                    t.id,
                    t.family,
                    t.revision,
                    t.stop_code.clone().unwrap_or_default()
                );
                self.event(at, "task-stopped", detail);
            }
        }
    }

    pub(super) fn count_failure(&mut self, i: usize) {
        let Some(dep) = self.tasks[i].deployment.clone() else {
            return;
        };
        if let Some(d) = self
            .service
            .deployments
            .iter_mut()
            .find(|d| d.id == dep && d.primary && d.rollout_state == "IN_PROGRESS")
        {
            d.failed_tasks += 1;
        }
    }

    /// Starts stopping a task: draining first when it is registered in the target group.
    pub fn begin_stop(
        &mut self,
        i: usize,
        at: i64,
        code: &str,
        reason: &str,
        exit_code: Option<i32>,
    ) {
        let t = &mut self.tasks[i];
        if !t.desired_running || t.phase == Phase::Stopped {
            return;
        }
        t.desired_running = false;
        t.stop_code = Some(code.to_string());
        t.stopped_reason = Some(reason.to_string());
        t.stopping_at = Some(at);
        t.agenda.retain(|(_, s)| matches!(s, Step::Log(_)));
        t.version += 1;
        let exit = exit_code.unwrap_or(0);
        if t.target.is_some() {
            // The containers keep serving the connections in flight while the target drains.
            t.target = Some(TargetState::Draining);
            t.phase = Phase::Deactivating;
            t.plan(
                at + DEREGISTRATION_DELAY_SECONDS * SECOND,
                Step::DrainDone(exit),
            );
        } else {
            let started = t.started_at.is_some();
            for c in &mut t.containers {
                if c.exit_code.is_none() && started {
                    c.exit_code = Some(exit);
                }
            }
            t.phase = Phase::Stopping;
            t.execution_stopped_at = Some(at + SECOND);
            t.plan(at + 2 * SECOND, Step::ToDeprovisioning);
        }
    }
}
