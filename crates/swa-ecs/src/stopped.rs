//! Why a task stopped, told so that a person can act on it.

use aws_sdk_ecs::types::{Task, TaskDefinition};
use swa_gha::Foreign;

use crate::logs::task_id;

/// How one container of a stopped task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerExit {
    pub name: String,
    pub exit_code: Option<i32>,
    /// ECS's reason, such as `CannotPullContainerError: …` or `OutOfMemoryError: …`.
    pub reason: Option<String>,
    /// From the task definition; a container is essential unless it says otherwise.
    pub essential: bool,
}

impl ContainerExit {
    /// Ended with a non-zero exit code, or never ran and has a reason.
    pub fn failed(&self) -> bool {
        match self.exit_code {
            Some(code) => code != 0,
            None => self.reason.is_some(),
        }
    }
}

impl std::fmt::Display for ContainerExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", Foreign(&self.name))?;
        if !self.essential {
            f.write_str(" (not essential)")?;
        }
        match self.exit_code {
            Some(code) => write!(f, " exited {code}")?,
            None => f.write_str(" did not exit")?,
        }
        if let Some(reason) = &self.reason {
            write!(f, ": {}", Foreign(reason))?;
        }
        if self.exit_code == Some(137) && self.reason.is_none() {
            f.write_str(" (killed: out of memory, or stopped by ECS)")?;
        }
        Ok(())
    }
}

/// A stopped task as a person reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoppedTask {
    pub task_arn: String,
    pub task_id: String,
    pub task_definition_arn: Option<String>,
    /// `EssentialContainerExited`, `TaskFailedToStart`, `UserInitiated`, ...
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    pub containers: Vec<ContainerExit>,
    /// Its private IP address (awsvpc), which is its target in the service's target groups.
    pub ip: Option<String>,
}

impl StoppedTask {
    /// From DescribeTasks; `definition` (the task's task definition) tells which containers are
    /// essential. Without it every container counts as essential.
    pub fn new(task: &Task, definition: Option<&TaskDefinition>) -> StoppedTask {
        let essential = |name: &str| {
            definition
                .and_then(|d| {
                    d.container_definitions()
                        .iter()
                        .find(|c| c.name() == Some(name))
                })
                .and_then(|c| c.essential())
                .unwrap_or(true)
        };
        let task_arn = task.task_arn().unwrap_or_default().to_string();
        StoppedTask {
            task_id: task_id(&task_arn).to_string(),
            task_arn,
            task_definition_arn: task.task_definition_arn().map(String::from),
            stop_code: task.stop_code().map(|c| c.as_str().to_string()),
            stopped_reason: task.stopped_reason().map(String::from),
            ip: task_ip(task),
            containers: task
                .containers()
                .iter()
                .map(|c| {
                    let name = c.name().unwrap_or_default().to_string();
                    ContainerExit {
                        essential: essential(&name),
                        exit_code: c.exit_code(),
                        reason: c.reason().map(String::from),
                        name,
                    }
                })
                .collect(),
        }
    }

    /// Every essential container exited 0: the task did its work (a one-off task succeeded).
    pub fn essentials_exited_zero(&self) -> bool {
        let mut essentials = self.containers.iter().filter(|c| c.essential).peekable();
        essentials.peek().is_some() && essentials.all(|c| c.exit_code == Some(0))
    }

    /// The task failed: ECS stopped it for failing its load balancer's or its containers' health
    /// checks, it never started, or an essential container ended with a failure. A task ECS or
    /// a person stopped on purpose (a scale-in, a rollback replacing it, a StopTask) is no
    /// failure, whatever its containers' exit codes on the stop signal.
    pub fn failed(&self) -> bool {
        if self.stopped_reason.as_deref().is_some_and(|r| {
            r.contains("failed ELB health checks") || r.contains("failed container health checks")
        }) {
            return true;
        }
        match self.stop_code.as_deref() {
            Some("TaskFailedToStart") => true,
            Some(
                "ServiceSchedulerInitiated"
                | "UserInitiated"
                | "SpotInterruption"
                | "TerminationNotice",
            ) => false,
            _ => self.failed_containers().next().is_some(),
        }
    }

    /// ECS stopped it because it failed its target group's health checks.
    pub fn failed_elb_health_checks(&self) -> bool {
        self.stopped_reason
            .as_deref()
            .is_some_and(|r| r.contains("failed ELB health checks"))
    }

    /// How it stopped, without which task it was: tasks that fail alike have the same one.
    pub fn failure_kind(&self) -> String {
        let summary = self.summary();
        summary
            .strip_prefix(&format!("task {} ", self.task_id))
            .unwrap_or(&summary)
            .to_string()
    }

    /// The containers that failed (non-zero exit, or never started with a reason).
    pub fn failed_containers(&self) -> impl Iterator<Item = &ContainerExit> {
        self.containers.iter().filter(|c| c.failed())
    }

    /// One line: `task 0f1e2d3c stopped (EssentialContainerExited: Essential container in task
    /// exited); startupwebapp exited 1`. The reasons come from ECS (a StopTask reason is anyone's
    /// text): they are folded onto the line and cannot act as workflow commands ([`Foreign`]).
    pub fn summary(&self) -> String {
        let mut text = format!("task {} stopped", self.task_id);
        match (&self.stop_code, &self.stopped_reason) {
            (Some(code), Some(reason)) => {
                text.push_str(&format!(" ({}: {})", Foreign(code), Foreign(reason)));
            }
            (Some(code), None) => text.push_str(&format!(" ({})", Foreign(code))),
            (None, Some(reason)) => text.push_str(&format!(" ({})", Foreign(reason))),
            (None, None) => {}
        }
        let containers: Vec<String> = self.containers.iter().map(ToString::to_string).collect();
        if !containers.is_empty() {
            text.push_str("; ");
            text.push_str(&containers.join("; "));
        }
        text
    }
}

/// A task's private IP address (its awsvpc network interface).
pub fn task_ip(task: &Task) -> Option<String> {
    task.attachments()
        .iter()
        .flat_map(|a| a.details())
        .find(|d| d.name() == Some("privateIPv4Address"))
        .and_then(|d| d.value())
        .map(String::from)
        .or_else(|| {
            task.containers()
                .iter()
                .flat_map(|c| c.network_interfaces())
                .find_map(|n| n.private_ipv4_address())
                .map(String::from)
        })
}

impl std::fmt::Display for StoppedTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.summary())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::types::{Container, ContainerDefinition, TaskStopCode};

    const ARN: &str = "arn:aws:ecs:us-east-1:123456789012:task/startupwebapp-cluster/0f1e2d3c";

    #[test]
    fn a_crashed_container_is_described_with_its_exit_code() {
        let task = Task::builder()
            .task_arn(ARN)
            .stop_code(TaskStopCode::EssentialContainerExited)
            .stopped_reason("Essential container in task exited")
            .containers(
                Container::builder()
                    .name("startupwebapp")
                    .exit_code(1)
                    .build(),
            )
            .containers(Container::builder().name("log-router").exit_code(0).build())
            .build();
        let definition = TaskDefinition::builder()
            .container_definitions(ContainerDefinition::builder().name("startupwebapp").build())
            .container_definitions(
                ContainerDefinition::builder()
                    .name("log-router")
                    .essential(false)
                    .build(),
            )
            .build();
        let stopped = StoppedTask::new(&task, Some(&definition));
        assert_eq!(
            stopped.summary(),
            "task 0f1e2d3c stopped (EssentialContainerExited: Essential container in task exited); \
             startupwebapp exited 1; log-router (not essential) exited 0"
        );
        assert!(!stopped.essentials_exited_zero());
        let failed: Vec<&str> = stopped
            .failed_containers()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(failed, vec!["startupwebapp"]);
    }

    #[test]
    fn an_image_that_cannot_be_pulled_is_named() {
        let task = Task::builder()
            .task_arn(ARN)
            .stop_code(TaskStopCode::TaskFailedToStart)
            .stopped_reason("CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref 123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp:release-9: not found")
            .containers(
                Container::builder()
                    .name("startupwebapp")
                    .reason("CannotPullContainerError: failed to resolve ref: not found")
                    .build(),
            )
            .build();
        let stopped = StoppedTask::new(&task, None);
        assert!(
            stopped
                .summary()
                .contains("TaskFailedToStart: CannotPullContainerError")
        );
        assert!(stopped.summary().ends_with(
            "startupwebapp did not exit: CannotPullContainerError: failed to resolve ref: not found"
        ));
        assert_eq!(stopped.failed_containers().count(), 1);
        assert!(!stopped.essentials_exited_zero());
    }

    #[test]
    fn crafted_reasons_stay_on_the_line_and_cannot_act_as_commands() {
        let task = Task::builder()
            .task_arn(ARN)
            .stop_code(TaskStopCode::UserInitiated)
            .stopped_reason("cleanup\n::add-mask::x ##[set-output name=result]healthy")
            .containers(
                Container::builder()
                    .name("startupwebapp")
                    .exit_code(143)
                    .reason("::stop-commands::t\r")
                    .build(),
            )
            .build();
        assert_eq!(
            StoppedTask::new(&task, None).summary(),
            "task 0f1e2d3c stopped (UserInitiated: cleanup\\n::add-mask::x ##\u{200B}[set-output name=result]healthy); \
             startupwebapp exited 143: :\u{200B}:stop-commands::t\\r"
        );
    }

    #[test]
    fn out_of_memory_and_success_read_right() {
        let oom = Task::builder()
            .task_arn(ARN)
            .containers(
                Container::builder()
                    .name("migration")
                    .exit_code(137)
                    .reason("OutOfMemoryError: Container killed due to memory usage")
                    .build(),
            )
            .build();
        let text = StoppedTask::new(&oom, None).summary();
        assert_eq!(
            text,
            "task 0f1e2d3c stopped; migration exited 137: OutOfMemoryError: Container killed due to memory usage"
        );
        let done = Task::builder()
            .task_arn(ARN)
            .stop_code(TaskStopCode::EssentialContainerExited)
            .containers(Container::builder().name("migration").exit_code(0).build())
            .build();
        let done = StoppedTask::new(&done, None);
        assert!(done.essentials_exited_zero());
        assert_eq!(done.failed_containers().count(), 0);
        let no_containers = StoppedTask::new(&Task::builder().task_arn(ARN).build(), None);
        assert!(!no_containers.essentials_exited_zero());
    }

    #[test]
    fn a_task_stopped_on_purpose_is_no_failure_whatever_its_exit_code() {
        let stopped = |code: TaskStopCode, reason: &str, exit: Option<i32>| {
            let mut container = Container::builder().name("startupwebapp");
            if let Some(exit) = exit {
                container = container.exit_code(exit);
            }
            StoppedTask::new(
                &Task::builder()
                    .task_arn(ARN)
                    .stop_code(code)
                    .stopped_reason(reason)
                    .containers(container.build())
                    .build(),
                None,
            )
        };
        use TaskStopCode::*;
        let cases = [
            (
                EssentialContainerExited,
                "Essential container in task exited",
                Some(1),
                true,
            ),
            (
                EssentialContainerExited,
                "Essential container in task exited",
                Some(0),
                false,
            ),
            (
                TaskFailedToStart,
                "CannotPullContainerError: not found",
                None,
                true,
            ),
            (
                ServiceSchedulerInitiated,
                "Task failed ELB health checks in (target-group x)",
                Some(143),
                true,
            ),
            (
                ServiceSchedulerInitiated,
                "Task failed container health checks",
                Some(143),
                true,
            ),
            (
                ServiceSchedulerInitiated,
                "Scaling activity initiated by (deployment ecs-svc/1)",
                Some(137),
                false,
            ),
            (
                ServiceSchedulerInitiated,
                "Scaling activity initiated by (deployment ecs-svc/1)",
                None,
                false,
            ),
            (UserInitiated, "Task stopped by a person", Some(143), false),
        ];
        for (code, reason, exit, failed) in cases {
            let task = stopped(code.clone(), reason, exit);
            assert_eq!(task.failed(), failed, "{code:?} {reason} {exit:?}");
        }
        let elb = stopped(
            ServiceSchedulerInitiated,
            "Task failed ELB health checks in (target-group x)",
            Some(143),
        );
        assert!(elb.failed_elb_health_checks());
        assert_eq!(
            elb.failure_kind(),
            "stopped (ServiceSchedulerInitiated: Task failed ELB health checks in (target-group x)); startupwebapp exited 143"
        );
    }
}
