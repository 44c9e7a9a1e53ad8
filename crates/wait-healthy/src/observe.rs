//! Observing: the calls that gather what each poll sees (the service, the task definition, the
//! deployment's tasks and its targets' health, the stopped containers' last log lines), every
//! ECS call counted against the pace.

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_ecs as ecs;
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use ecs::error::SdkError;
use ecs::operation::describe_services::DescribeServicesOutput;
use ecs::types::{DesiredStatus, Service, Task, TaskDefinition};
use swa_aws::{error_code, error_text, is_throttling};
use swa_ecs::{ContainerLog, StoppedTask};
use swa_gha::{ActionError, Foreign};

use crate::assess::{self, Followed, HealthCheck, Targets, Watched};
use crate::pace::Pacer;
use crate::watch::{Checked, Clients};

/// DescribeServices gave no answer.
#[derive(Debug, Clone)]
pub struct Unanswered {
    pub error: String,
    /// No connection, or no answer in time (rather than an error from ECS).
    pub unreachable: bool,
}

pub struct Observer {
    clients: Clients,
    cluster: String,
    service: String,
    pacer: Pacer,
    /// The new tasks' addresses, with the desired count they were read for.
    task_ips: Option<(i32, Vec<String>)>,
    seen_stopped: HashSet<String>,
}

impl Observer {
    pub fn new(clients: Clients, settings: &Checked) -> Observer {
        Observer {
            clients,
            cluster: settings.cluster.clone(),
            service: settings.service.clone(),
            pacer: Pacer::new(settings.poll_interval, settings.calls_per_minute),
            task_ips: None,
            seen_stopped: HashSet::new(),
        }
    }

    /// ECS API calls made so far.
    pub fn calls(&self) -> u32 {
        self.pacer.calls()
    }

    /// The pause before the next poll.
    pub fn next_delay(&mut self, close: bool, failing: bool) -> Duration {
        self.pacer.next_delay(close, failing)
    }

    /// One DescribeServices: its answer, no answer, or an error that ends the wait.
    pub async fn describe_service(
        &mut self,
    ) -> Result<Result<DescribeServicesOutput, Unanswered>, ActionError> {
        let described = self
            .clients
            .ecs
            .describe_services()
            .cluster(&self.cluster)
            .services(&self.service)
            .send()
            .await;
        self.pacer.spent(1);
        let e = match described {
            Ok(out) => {
                self.pacer.recovered();
                return Ok(Ok(out));
            }
            Err(e) => e,
        };
        let refused = swa_ecs::describe_services_error(&self.cluster, &self.service, &e);
        if refused.input().is_some() {
            return Err(refused.into());
        }
        if error_code(&e) == Some("AccessDeniedException") {
            return Err(ActionError::failed(format!(
                "DescribeServices is not allowed: {}",
                error_text(&e)
            )));
        }
        if is_throttling(&e) {
            self.pacer.throttled();
        }
        Ok(Err(Unanswered {
            unreachable: matches!(e, SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)),
            error: error_text(&e),
        }))
    }

    /// The service deployment that carries the watched deployment: the newest one created since
    /// it (with a minute's leeway for the two clocks) whose target runs its task definition.
    pub async fn find_service_deployment(
        &mut self,
        watched: &Watched,
    ) -> Result<Option<String>, String> {
        self.pacer.spent(2);
        let since = DateTime::from_secs(watched.since.secs() - 60);
        swa_ecs::service_deployment_to(
            &self.clients.ecs,
            &self.cluster,
            &self.service,
            &watched.revision,
            since,
        )
        .await
        .map_err(|e| e.to_string())
    }

    /// One DescribeServiceDeployments of `arn`: what it says now, or why there is no answer.
    pub async fn describe_service_deployment(&mut self, arn: &str) -> Result<Followed, String> {
        self.pacer.spent(1);
        swa_ecs::describe_service_deployment(&self.clients.ecs, arn).await
    }

    /// The CloudWatch alarms named (one DescribeAlarms; not an ECS call).
    pub async fn alarms(&self, names: &[String]) -> Result<Vec<swa_aws::AlarmState>, String> {
        swa_aws::describe_alarms(&self.clients.cloudwatch, names).await
    }

    /// StopServiceDeployment ROLLBACK of `arn`.
    pub async fn stop_service_deployment(&mut self, arn: &str) -> Result<(), String> {
        self.pacer.spent(1);
        self.clients
            .ecs
            .stop_service_deployment()
            .service_deployment_arn(arn)
            .stop_type(ecs::types::StopServiceDeploymentStopType::Rollback)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| format!("StopServiceDeployment failed: {}", error_text(&e)))
    }

    pub async fn describe_definition(
        &mut self,
        arn: &str,
    ) -> Result<Option<TaskDefinition>, String> {
        self.pacer.spent(1);
        self.clients
            .ecs
            .describe_task_definition()
            .task_definition(arn)
            .send()
            .await
            .map(|out| out.task_definition().cloned())
            .map_err(|e| error_text(&e))
    }

    /// The deployment's stopped tasks not returned before, oldest first.
    pub async fn new_stopped_tasks(
        &mut self,
        watched: &Watched,
        definition: Option<&TaskDefinition>,
    ) -> Result<Vec<StoppedTask>, String> {
        let tasks = self.tasks_of(watched, DesiredStatus::Stopped).await?;
        let mut tasks: Vec<Task> = tasks
            .into_iter()
            .filter(|t| !self.seen_stopped.contains(t.task_arn().unwrap_or_default()))
            .collect();
        tasks.sort_by_key(|t| t.stopped_at().map(|s| (s.secs(), s.subsec_nanos())));
        let stopped: Vec<StoppedTask> = tasks
            .iter()
            .map(|task| StoppedTask::new(task, definition))
            .collect();
        self.seen_stopped
            .extend(stopped.iter().map(|s| s.task_arn.clone()));
        Ok(stopped)
    }

    /// The new tasks' addresses (read again only when the desired count changed or some had
    /// none), and each target group's health once every desired task has one.
    pub async fn targets(&mut self, watched: &Watched, desired: i32) -> Targets {
        let ips = match &self.task_ips {
            Some((count, ips)) if *count == desired && ips.len() >= desired as usize => ips.clone(),
            _ => match self.tasks_of(watched, DesiredStatus::Running).await {
                Ok(tasks) => {
                    let ips: Vec<String> = tasks
                        .iter()
                        .filter(|t| t.last_status() == Some("RUNNING"))
                        .filter_map(swa_ecs::task_ip)
                        .collect();
                    self.task_ips = Some((desired, ips.clone()));
                    ips
                }
                Err(e) => {
                    return Targets {
                        ips: Err(e),
                        groups: Vec::new(),
                    };
                }
            },
        };
        let mut groups = Vec::new();
        if ips.len() < desired as usize {
            self.task_ips = None;
        } else {
            for lb in &watched.load_balancers {
                let health = self
                    .clients
                    .elbv2
                    .describe_target_health()
                    .target_group_arn(&lb.target_group)
                    .send()
                    .await
                    .map(|out| out.target_health_descriptions().to_vec())
                    .map_err(|e| error_text(&e));
                groups.push((lb.clone(), health));
            }
            // A task replaced since its address was read leaves its target draining (or gone):
            // the addresses are read again on the next look.
            let replaced = groups.iter().any(|(lb, health)| {
                health.as_ref().is_ok_and(|descriptions| {
                    ips.iter().any(|ip| {
                        assess::health_of(descriptions, ip, lb.port)
                            .and_then(|h| h.state())
                            .is_none_or(|s| matches!(s.as_str(), "draining" | "unused"))
                    })
                })
            });
            if replaced {
                self.task_ips = None;
            }
        }
        Targets {
            ips: Ok(ips),
            groups,
        }
    }

    /// What the health check of each of the service's target groups expects (one
    /// DescribeTargetGroups); nothing when it cannot be read.
    pub async fn health_checks(&self, watched: &Watched) -> Vec<HealthCheck> {
        if watched.load_balancers.is_empty() {
            return Vec::new();
        }
        let arns = watched
            .load_balancers
            .iter()
            .map(|lb| lb.target_group.clone())
            .collect();
        let Ok(out) = self
            .clients
            .elbv2
            .describe_target_groups()
            .set_target_group_arns(Some(arns))
            .send()
            .await
        else {
            return Vec::new();
        };
        out.target_groups()
            .iter()
            .map(|g| HealthCheck {
                group: g.target_group_name().unwrap_or_default().to_string(),
                protocol: g.health_check_protocol().map(|p| p.as_str().to_string()),
                path: g.health_check_path().map(String::from),
                port: g.health_check_port().map(String::from),
                matcher: g
                    .matcher()
                    .and_then(|m| m.http_code().or(m.grpc_code()))
                    .map(String::from),
            })
            .collect()
    }

    /// The last `lines` log lines of the stopped task's failed containers.
    pub async fn container_logs(
        &self,
        definition: &TaskDefinition,
        stopped: &StoppedTask,
        lines: u32,
    ) -> Vec<ContainerLog> {
        swa_ecs::failed_container_logs(&self.clients.logs, definition, stopped, lines).await
    }

    /// The deployment's tasks with the given desired status (one ListTasks and one DescribeTasks).
    async fn tasks_of(
        &mut self,
        watched: &Watched,
        status: DesiredStatus,
    ) -> Result<Vec<Task>, String> {
        self.pacer.spent(1);
        let listed = self
            .clients
            .ecs
            .list_tasks()
            .cluster(&self.cluster)
            .service_name(&self.service)
            .desired_status(status)
            .send()
            .await
            .map_err(|e| format!("ListTasks failed: {}", Foreign(&error_text(&e))))?;
        let arns: Vec<String> = listed.task_arns().to_vec();
        if arns.is_empty() {
            return Ok(Vec::new());
        }
        let mut tasks = Vec::new();
        for chunk in arns.chunks(100) {
            self.pacer.spent(1);
            let described = self
                .clients
                .ecs
                .describe_tasks()
                .cluster(&self.cluster)
                .set_tasks(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| format!("DescribeTasks failed: {}", Foreign(&error_text(&e))))?;
            tasks.extend(described.tasks().iter().cloned());
        }
        let since = watched.since.secs();
        Ok(tasks
            .into_iter()
            .filter(|t| match t.started_by() {
                Some(by) if by.starts_with("ecs-svc/") => by == watched.id,
                _ => {
                    t.task_definition_arn() == Some(watched.revision.as_str())
                        && t.created_at().is_none_or(|c| c.secs() >= since)
                }
            })
            .collect())
    }
}

/// A service event: its time of day and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub time: String,
    pub message: String,
}

/// The service's events since the deployment was created, each returned once.
#[derive(Debug, Default)]
pub struct Events {
    seen: HashSet<String>,
}

impl Events {
    /// The events not returned before, created since `since`, oldest first.
    pub fn fresh(&mut self, service: &Service, since: DateTime) -> Vec<Event> {
        let mut fresh: Vec<_> = service
            .events()
            .iter()
            .filter(|e| e.created_at().is_some_and(|t| t.secs() >= since.secs()))
            .filter(|e| {
                let key = e
                    .id()
                    .map(String::from)
                    .unwrap_or_else(|| e.message().unwrap_or_default().to_string());
                self.seen.insert(key)
            })
            .collect();
        fresh.sort_by_key(|e| e.created_at().map(|t| (t.secs(), t.subsec_nanos())));
        fresh
            .into_iter()
            .map(|event| Event {
                time: event
                    .created_at()
                    .and_then(|t| t.fmt(Format::DateTime).ok())
                    .map(|t| t.get(11..19).unwrap_or(&t).to_string())
                    .unwrap_or_default(),
                message: event.message().unwrap_or_default().to_string(),
            })
            .collect()
    }
}
