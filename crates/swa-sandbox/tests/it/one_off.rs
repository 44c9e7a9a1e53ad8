//! RunTask one-off tasks: the migration's scripted output in CloudWatch Logs, exit codes,
//! overrides, StopTask, and the failures RunTask reports.

use std::time::Duration;

use swa_aws::ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, ContainerOverride, NetworkConfiguration, Task,
    TaskOverride,
};

use crate::{CLUSTER, aws, eventually, start};

const LIMIT: Duration = Duration::from_secs(60);

fn network() -> NetworkConfiguration {
    NetworkConfiguration::builder()
        .awsvpc_configuration(
            AwsVpcConfiguration::builder()
                .subnets("subnet-0a1b2c3d4e5f60001")
                .subnets("subnet-0a1b2c3d4e5f60002")
                .security_groups("sg-0a1b2c3d4e5f60003")
                .assign_public_ip(AssignPublicIp::Disabled)
                .build()
                .unwrap(),
        )
        .build()
}

async fn run(
    ecs: &swa_aws::ecs::Client,
    family: &str,
    container: &str,
    command: Option<&[&str]>,
) -> Task {
    let mut over = ContainerOverride::builder().name(container);
    if let Some(command) = command {
        for c in command {
            over = over.command(*c);
        }
    }
    let out = ecs
        .run_task()
        .cluster(CLUSTER)
        .task_definition(family)
        .launch_type(swa_aws::ecs::types::LaunchType::Fargate)
        .network_configuration(network())
        .overrides(
            TaskOverride::builder()
                .container_overrides(over.build())
                .build(),
        )
        .started_by("run-migration")
        .send()
        .await
        .unwrap();
    assert!(out.failures().is_empty(), "{:?}", out.failures());
    let task = out.tasks()[0].clone();
    assert_eq!(task.last_status(), Some("PROVISIONING"));
    assert_eq!(task.started_by(), Some("run-migration"));
    task
}

async fn until_stopped(ecs: &swa_aws::ecs::Client, arn: &str) -> Task {
    eventually(LIMIT, || {
        let ecs = ecs.clone();
        let arn = arn.to_string();
        async move {
            let d = ecs
                .describe_tasks()
                .cluster(CLUSTER)
                .tasks(arn)
                .send()
                .await
                .unwrap();
            let t = d.tasks()[0].clone();
            (t.last_status() == Some("STOPPED")).then_some(t)
        }
    })
    .await
}

async fn all_lines(logs: &swa_aws::logs::Client, group: &str, stream: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = logs
            .get_log_events()
            .log_group_name(group)
            .log_stream_name(stream)
            .start_from_head(true)
            .set_next_token(token.clone())
            .limit(4)
            .send()
            .await
            .unwrap();
        for e in out.events() {
            assert!(e.timestamp().is_some() && e.ingestion_time().is_some());
            lines.push(e.message().unwrap().to_string());
        }
        let next = out.next_forward_token().map(String::from);
        if next == token {
            // The end: the same token comes back, with no events.
            assert!(out.events().is_empty());
            return lines;
        }
        token = next;
    }
}

#[tokio::test]
async fn a_migration_runs_writes_its_output_and_exits_0() {
    let sandbox = start("healthy", 30.0);
    let aws = aws(&sandbox).await;
    let ecs = aws.ecs();
    let task = run(
        &ecs,
        "startupwebapp-migration-task",
        "migration",
        Some(&["python", "manage.py", "migrate", "--noinput"]),
    )
    .await;
    assert_eq!(
        task.task_definition_arn(),
        Some("arn:aws:ecs:us-east-1:123456789012:task-definition/startupwebapp-migration-task:3")
    );
    let stopped = until_stopped(&ecs, task.task_arn().unwrap()).await;
    assert_eq!(stopped.containers()[0].exit_code(), Some(0));
    assert_eq!(
        stopped.stop_code().map(|c| c.as_str()),
        Some("EssentialContainerExited")
    );
    assert!(stopped.started_at().is_some() && stopped.stopped_at().is_some());
    let id = task.task_arn().unwrap().rsplit('/').next().unwrap();
    let lines = all_lines(
        &aws.logs(),
        "/ecs/startupwebapp-migrations",
        &format!("ecs/migration/{id}"),
    )
    .await;
    assert_eq!(lines[0], "Operations to perform:");
    assert!(lines.contains(&"Running migrations:".to_string()));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("  Applying ") && l.ends_with("... OK"))
    );

    let streams = aws
        .logs()
        .describe_log_streams()
        .log_group_name("/ecs/startupwebapp-migrations")
        .log_stream_name_prefix("ecs/migration/")
        .send()
        .await
        .unwrap();
    assert_eq!(
        streams.log_streams()[0].log_stream_name(),
        Some(format!("ecs/migration/{id}").as_str())
    );
    let filtered = aws
        .logs()
        .filter_log_events()
        .log_group_name("/ecs/startupwebapp-migrations")
        .filter_pattern("Applying")
        .send()
        .await
        .unwrap();
    assert!(filtered.events().len() >= 2);

    let run_call = sandbox
        .calls()
        .into_iter()
        .find(|c| c.operation == "RunTask")
        .unwrap();
    assert!(run_call.is_mutating());
    assert_eq!(
        run_call.request["overrides"]["containerOverrides"][0]["command"][2],
        "migrate"
    );
}

#[tokio::test]
async fn a_failing_migration_prints_a_traceback_and_exits_1() {
    let sandbox = start("migration-fails", 30.0);
    let aws = aws(&sandbox).await;
    let ecs = aws.ecs();
    let task = run(&ecs, "startupwebapp-migration-task:3", "migration", None).await;
    let stopped = until_stopped(&ecs, task.task_arn().unwrap()).await;
    assert_eq!(stopped.containers()[0].exit_code(), Some(1));
    let id = task.task_arn().unwrap().rsplit('/').next().unwrap();
    let lines = all_lines(
        &aws.logs(),
        "/ecs/startupwebapp-migrations",
        &format!("ecs/migration/{id}"),
    )
    .await;
    assert!(lines.contains(&"Traceback (most recent call last):".to_string()));
    assert!(
        lines
            .last()
            .unwrap()
            .starts_with("django.db.utils.ProgrammingError")
    );
}

#[tokio::test]
async fn the_migration_plan_shows_destructive_operations_in_that_scenario() {
    for (scenario, destructive) in [("healthy", false), ("destructive-migration", true)] {
        let sandbox = start(scenario, 30.0);
        let aws = aws(&sandbox).await;
        let ecs = aws.ecs();
        let task = run(
            &ecs,
            "startupwebapp-migration-task",
            "migration",
            Some(&["python", "manage.py", "migrate", "--plan"]),
        )
        .await;
        let stopped = until_stopped(&ecs, task.task_arn().unwrap()).await;
        assert_eq!(stopped.containers()[0].exit_code(), Some(0));
        let id = task.task_arn().unwrap().rsplit('/').next().unwrap();
        let lines = all_lines(
            &aws.logs(),
            "/ecs/startupwebapp-migrations",
            &format!("ecs/migration/{id}"),
        )
        .await;
        assert_eq!(lines[0], "Planned operations:");
        assert!(lines.iter().any(|l| l.trim().starts_with("Add field ")));
        assert!(lines.iter().any(|l| l.trim().starts_with("Create model ")));
        assert!(
            lines.iter().any(|l| l.trim().starts_with("Create index ")),
            "{scenario}: {lines:?}"
        );
        for destructive_op in ["Remove field ", "Alter field "] {
            assert_eq!(
                lines.iter().any(|l| l.trim().starts_with(destructive_op)),
                destructive,
                "{scenario}: {destructive_op}in {lines:?}"
            );
        }
        // Only additive operations otherwise: creating models, adding fields and indexes.
        let additive = ["Create model ", "Add field ", "Create index "];
        let operations: Vec<&String> = lines.iter().filter(|l| l.starts_with("    ")).collect();
        assert_eq!(
            operations
                .iter()
                .all(|l| additive.iter().any(|a| l.trim().starts_with(a))),
            !destructive,
            "{scenario}: {operations:?}"
        );
    }
}

#[tokio::test]
async fn stop_task_stops_a_long_running_task_as_user_initiated() {
    let sandbox = start("healthy", 30.0);
    let aws = aws(&sandbox).await;
    let ecs = aws.ecs();
    let task = run(&ecs, "startupwebapp-service-task", "startupwebapp", None).await;
    let arn = task.task_arn().unwrap().to_string();
    eventually(LIMIT, || {
        let ecs = ecs.clone();
        let arn = arn.clone();
        async move {
            let d = ecs
                .describe_tasks()
                .cluster(CLUSTER)
                .tasks(arn)
                .send()
                .await
                .unwrap();
            (d.tasks()[0].last_status() == Some("RUNNING")).then_some(())
        }
    })
    .await;
    let out = ecs
        .stop_task()
        .cluster(CLUSTER)
        .task(&arn)
        .reason("Deployment cancelled")
        .send()
        .await
        .unwrap();
    assert_eq!(out.task().unwrap().desired_status(), Some("STOPPED"));
    let stopped = until_stopped(&ecs, &arn).await;
    assert_eq!(
        stopped.stop_code().map(|c| c.as_str()),
        Some("UserInitiated")
    );
    assert_eq!(stopped.stopped_reason(), Some("Deployment cancelled"));
    assert!(
        sandbox
            .calls()
            .iter()
            .any(|c| c.operation == "StopTask" && c.is_mutating())
    );
}

#[tokio::test]
async fn run_task_reports_what_aws_reports() {
    let sandbox = start("no-capacity", 30.0);
    let aws = aws(&sandbox).await;
    let ecs = aws.ecs();
    let err = ecs
        .run_task()
        .cluster(CLUSTER)
        .task_definition("startupwebapp-migration-task")
        .send()
        .await
        .unwrap_err();
    assert_eq!(swa_aws::error_code(&err), Some("InvalidParameterException"));
    assert!(swa_aws::error_text(&err).contains("Network Configuration must be provided"));

    let err = ecs
        .run_task()
        .cluster(CLUSTER)
        .task_definition("startupwebapp-migration-task:99")
        .network_configuration(network())
        .send()
        .await
        .unwrap_err();
    assert_eq!(swa_aws::error_code(&err), Some("ClientException"));
    assert!(swa_aws::error_text(&err).contains("Unable to find task definition"));

    // no-capacity: the first two runs report a capacity failure, the third starts.
    for attempt in 1..=3 {
        let out = ecs
            .run_task()
            .cluster(CLUSTER)
            .task_definition("startupwebapp-migration-task")
            .network_configuration(network())
            .send()
            .await
            .unwrap();
        if attempt < 3 {
            assert!(out.tasks().is_empty());
            assert!(
                out.failures()[0]
                    .reason()
                    .unwrap()
                    .starts_with("Capacity is unavailable at this time")
            );
        } else {
            assert_eq!(out.tasks().len(), 1);
        }
    }
}

#[tokio::test]
async fn a_migration_whose_image_cannot_be_pulled_never_starts() {
    let sandbox = start("migration-no-start", 30.0);
    let aws = aws(&sandbox).await;
    let ecs = aws.ecs();
    let task = run(
        &ecs,
        "startupwebapp-migration-task",
        "migration",
        Some(&["python", "manage.py", "migrate", "--noinput"]),
    )
    .await;
    let arn = task.task_arn().unwrap().to_string();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stopped = eventually(LIMIT, || {
        let (ecs, arn, seen) = (ecs.clone(), arn.clone(), seen.clone());
        async move {
            let d = ecs
                .describe_tasks()
                .cluster(CLUSTER)
                .tasks(arn)
                .send()
                .await
                .unwrap();
            let t = d.tasks()[0].clone();
            let status = t.last_status().unwrap().to_string();
            let mut seen = seen.lock().unwrap();
            if seen.last() != Some(&status) {
                seen.push(status);
            }
            (t.last_status() == Some("STOPPED")).then_some(t)
        }
    })
    .await;
    let seen = seen.lock().unwrap().clone();
    // PROVISIONING (RunTask's answer), PENDING while the pull is retried, then STOPPED.
    assert!(
        seen == ["PENDING", "STOPPED"] || seen == ["PROVISIONING", "PENDING", "STOPPED"],
        "{seen:?}"
    );
    let reason = "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref 123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp:release-3: not found";
    assert_eq!(
        stopped.stop_code().map(|c| c.as_str()),
        Some("TaskFailedToStart")
    );
    assert_eq!(stopped.stopped_reason(), Some(reason));
    assert_eq!(stopped.desired_status(), Some("STOPPED"));
    assert!(stopped.started_at().is_none() && stopped.pull_stopped_at().is_none());
    let container = &stopped.containers()[0];
    assert_eq!(container.exit_code(), None);
    assert_eq!(container.reason(), Some(reason));
    assert_eq!(container.last_status(), Some("STOPPED"));

    // The container never ran, so the awslogs driver made no stream.
    let id = arn.rsplit('/').next().unwrap();
    let streams = aws
        .logs()
        .describe_log_streams()
        .log_group_name("/ecs/startupwebapp-migrations")
        .log_stream_name_prefix(format!("ecs/migration/{id}"))
        .send()
        .await
        .unwrap();
    assert!(streams.log_streams().is_empty(), "{streams:?}");
    let err = aws
        .logs()
        .get_log_events()
        .log_group_name("/ecs/startupwebapp-migrations")
        .log_stream_name(format!("ecs/migration/{id}"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        swa_aws::error_code(&err),
        Some("ResourceNotFoundException"),
        "{err:?}"
    );
}
