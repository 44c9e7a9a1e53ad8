//! ECS's deployment history through the aws-sdk client: every UpdateService that starts a
//! deployment is a service deployment from the running revisions to a new one; the circuit
//! breaker's rollback happens inside the failed one.

use std::time::Duration;

use swa_aws::ecs::types::{CreatedAt, ServiceDeployment, ServiceDeploymentStatus};

use crate::ecs_rollout::register_release_4;
use crate::{CLUSTER, SERVICE, aws, eventually, service, start};

const LIMIT: Duration = Duration::from_secs(120);
const TD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/startupwebapp-service-task";

pub async fn list(ecs: &swa_aws::ecs::Client) -> Vec<(String, String)> {
    ecs.list_service_deployments()
        .cluster(CLUSTER)
        .service(SERVICE)
        .send()
        .await
        .unwrap()
        .service_deployments()
        .iter()
        .map(|d| {
            (
                d.service_deployment_arn().unwrap().to_string(),
                d.status().unwrap().as_str().to_string(),
            )
        })
        .collect()
}

pub async fn describe(ecs: &swa_aws::ecs::Client, arn: &str) -> ServiceDeployment {
    let out = ecs
        .describe_service_deployments()
        .service_deployment_arns(arn)
        .send()
        .await
        .unwrap();
    assert!(out.failures().is_empty(), "{:?}", out.failures());
    out.service_deployments()[0].clone()
}

/// The task definition a service revision deploys.
async fn task_definition(ecs: &swa_aws::ecs::Client, revision: &str) -> String {
    ecs.describe_service_revisions()
        .service_revision_arns(revision)
        .send()
        .await
        .unwrap()
        .service_revisions()[0]
        .task_definition()
        .unwrap()
        .to_string()
}

/// The target of the most recent SUCCESSFUL service deployment whose target is not the revision
/// the service runs now: what a rollback to "the previous revision" deploys.
async fn previous(ecs: &swa_aws::ecs::Client) -> Option<String> {
    let running = service(ecs).await.task_definition().unwrap().to_string();
    let listed = ecs
        .list_service_deployments()
        .cluster(CLUSTER)
        .service(SERVICE)
        .status(ServiceDeploymentStatus::Successful)
        .send()
        .await
        .unwrap();
    for d in listed.service_deployments() {
        let td = task_definition(ecs, d.target_service_revision_arn().unwrap()).await;
        if td != running {
            return Some(td);
        }
    }
    None
}

fn arn_prefix() -> &'static str {
    "arn:aws:ecs:us-east-1:123456789012:service-deployment/startupwebapp-cluster/startupwebapp-service/"
}

#[tokio::test]
async fn the_history_before_the_sandbox_started_is_two_successful_deployments() {
    let sandbox = start("healthy", 1.0);
    let aws = aws(&sandbox).await;
    let ecs = aws.ecs();
    let listed = list(&ecs).await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(
        listed
            .iter()
            .all(|(arn, status)| arn.starts_with(arn_prefix()) && status == "SUCCESSFUL")
    );
    let newest = describe(&ecs, &listed[0].0).await;
    let older = describe(&ecs, &listed[1].0).await;
    assert!(newest.created_at() > older.created_at());
    let target = newest.target_service_revision().unwrap();
    assert!(
        target.arn().unwrap().starts_with(
            "arn:aws:ecs:us-east-1:123456789012:service-revision/startupwebapp-cluster/startupwebapp-service/"
        ),
        "{target:?}"
    );
    assert_eq!(target.running_task_count(), 2);
    assert_eq!(
        task_definition(&ecs, target.arn().unwrap()).await,
        format!("{TD}:3")
    );
    let source = &newest.source_service_revisions()[0];
    assert_eq!(source.arn(), older.target_service_revision().unwrap().arn());
    assert_eq!(
        task_definition(&ecs, source.arn().unwrap()).await,
        format!("{TD}:2")
    );
    let breaker = newest.deployment_circuit_breaker().unwrap();
    assert_eq!(breaker.status().unwrap().as_str(), "MONITORING_COMPLETE");
    assert_eq!((breaker.failure_count(), breaker.threshold()), (0, 3));
    assert!(newest.finished_at().is_some() && newest.rollback().is_none());
    assert_eq!(previous(&ecs).await, Some(format!("{TD}:2")));
}

#[tokio::test]
async fn a_healthy_rollout_is_a_successful_service_deployment() {
    let sandbox = start("healthy", 60.0);
    let aws = aws(&sandbox).await;
    let ecs = aws.ecs();
    let arn = register_release_4(&ecs).await;
    ecs.update_service()
        .cluster(CLUSTER)
        .service(SERVICE)
        .task_definition(&arn)
        .send()
        .await
        .unwrap();
    let listed = list(&ecs).await;
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[0].1, "IN_PROGRESS");
    let before = describe(&ecs, &listed[0].0).await;
    assert!(before.finished_at().is_none());
    assert_eq!(
        before
            .target_service_revision()
            .unwrap()
            .requested_task_count(),
        2
    );
    assert_eq!(
        before
            .deployment_circuit_breaker()
            .unwrap()
            .status()
            .unwrap()
            .as_str(),
        "MONITORING"
    );

    eventually(LIMIT, || {
        let ecs = ecs.clone();
        async move { (list(&ecs).await[0].1 == "SUCCESSFUL").then_some(()) }
    })
    .await;
    let done = describe(&ecs, &listed[0].0).await;
    assert!(done.finished_at().unwrap() > done.started_at().unwrap());
    let target = done.target_service_revision().unwrap();
    assert_eq!(task_definition(&ecs, target.arn().unwrap()).await, arn);
    assert_eq!(target.running_task_count(), 2);
    let sources = done.source_service_revisions();
    assert_eq!(sources.len(), 1);
    assert_eq!(
        task_definition(&ecs, sources[0].arn().unwrap()).await,
        format!("{TD}:3")
    );
    assert_eq!(sources[0].running_task_count(), 0);
    assert_eq!(previous(&ecs).await, Some(format!("{TD}:3")));

    // A newer UpdateService stops the one in progress.
    for _ in 0..2 {
        ecs.update_service()
            .cluster(CLUSTER)
            .service(SERVICE)
            .force_new_deployment(true)
            .send()
            .await
            .unwrap();
    }
    let listed = list(&ecs).await;
    let statuses: Vec<&str> = listed.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(
        statuses,
        [
            "IN_PROGRESS",
            "STOPPED",
            "SUCCESSFUL",
            "SUCCESSFUL",
            "SUCCESSFUL"
        ]
    );
    let stopped = describe(&ecs, &listed[1].0).await;
    assert!(stopped.stopped_at().is_some());
    assert_eq!(
        stopped.status_reason(),
        Some("A newer service deployment replaced it.")
    );
}

#[tokio::test]
async fn a_circuit_breaker_rollback_happens_inside_the_failed_service_deployment() {
    let sandbox = start("crash-loop", 60.0);
    let aws = aws(&sandbox).await;
    let ecs = aws.ecs();
    let running_before = list(&ecs).await[0].0.clone();
    let source = describe(&ecs, &running_before)
        .await
        .target_service_revision()
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    let arn = register_release_4(&ecs).await;
    ecs.update_service()
        .cluster(CLUSTER)
        .service(SERVICE)
        .task_definition(&arn)
        .send()
        .await
        .unwrap();
    let failed = list(&ecs).await[0].0.clone();
    let seen = eventually(LIMIT, || {
        let (ecs, failed) = (ecs.clone(), failed.clone());
        async move {
            let d = describe(&ecs, &failed).await;
            (d.status().unwrap().as_str() != "IN_PROGRESS").then_some(d)
        }
    })
    .await;
    assert_eq!(seen.status().unwrap().as_str(), "ROLLBACK_IN_PROGRESS");
    eventually(LIMIT, || {
        let (ecs, failed) = (ecs.clone(), failed.clone());
        async move {
            let d = describe(&ecs, &failed).await;
            (d.status().unwrap().as_str() == "ROLLBACK_SUCCESSFUL").then_some(())
        }
    })
    .await;
    let d = describe(&ecs, &failed).await;
    let rollback = d.rollback().unwrap();
    assert_eq!(
        rollback.reason(),
        Some("ECS deployment circuit breaker: tasks failed to start.")
    );
    assert_eq!(rollback.service_revision_arn(), Some(source.as_str()));
    assert!(rollback.started_at().unwrap() < d.finished_at().unwrap());
    let breaker = d.deployment_circuit_breaker().unwrap();
    assert_eq!(breaker.status().unwrap().as_str(), "TRIGGERED");
    assert!(
        breaker.failure_count() >= 3 && breaker.threshold() == 3,
        "{breaker:?}"
    );
    assert_eq!(
        task_definition(&ecs, d.target_service_revision().unwrap().arn().unwrap()).await,
        arn
    );
    // No new service deployment for the rollback.
    assert_eq!(list(&ecs).await.len(), 3);
    // Back on :3, "previous" is :2, never the :4 that failed.
    assert_eq!(
        service(&ecs).await.task_definition(),
        Some(format!("{TD}:3").as_str())
    );
    assert_eq!(previous(&ecs).await, Some(format!("{TD}:2")));
    let state = sandbox.state();
    let newest = &state["serviceDeployments"][2];
    assert_eq!(newest["to"], arn.as_str());
    assert_eq!(newest["rolledBackTo"], format!("{TD}:3"));
    assert_eq!(newest["ecsDeployments"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn the_list_filters_pages_and_describe_reports_what_it_cannot_find() {
    let sandbox = start("healthy", 1.0);
    let aws = aws(&sandbox).await;
    let ecs = aws.ecs();
    for _ in 0..3 {
        ecs.update_service()
            .cluster(CLUSTER)
            .service(SERVICE)
            .force_new_deployment(true)
            .send()
            .await
            .unwrap();
    }
    let all = list(&ecs).await;
    assert_eq!(all.len(), 5);

    let mut pages = Vec::new();
    let mut token = None;
    loop {
        let page = ecs
            .list_service_deployments()
            .cluster(CLUSTER)
            .service(SERVICE)
            .max_results(2)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        pages.push(page.service_deployments().len());
        token = page.next_token().map(String::from);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, [2, 2, 1]);

    let stopped = ecs
        .list_service_deployments()
        .service(format!(
            "arn:aws:ecs:us-east-1:123456789012:service/{CLUSTER}/{SERVICE}"
        ))
        .cluster(CLUSTER)
        .status(ServiceDeploymentStatus::Stopped)
        .send()
        .await
        .unwrap();
    assert_eq!(stopped.service_deployments().len(), 2);

    let started = sandbox.timeline()[0].at_unix_ms;
    let recent = ecs
        .list_service_deployments()
        .cluster(CLUSTER)
        .service(SERVICE)
        .created_at(
            CreatedAt::builder()
                .after(swa_aws::ecs::primitives::DateTime::from_millis(
                    started as i64 - 1000,
                ))
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(recent.service_deployments().len(), 3);

    let missing = format!("{}nosuchdeployment", arn_prefix());
    let out = ecs
        .describe_service_deployments()
        .service_deployment_arns(&all[0].0)
        .service_deployment_arns(&missing)
        .send()
        .await
        .unwrap();
    assert_eq!(out.service_deployments().len(), 1);
    assert_eq!(out.failures()[0].arn(), Some(missing.as_str()));
    assert_eq!(out.failures()[0].reason(), Some("MISSING"));

    let err = ecs
        .list_service_deployments()
        .cluster(CLUSTER)
        .service("web")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        swa_aws::error_text(&err),
        "ServiceNotFoundException: Service not found."
    );
    let err = ecs
        .list_service_deployments()
        .cluster(CLUSTER)
        .service(SERVICE)
        .max_results(101)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        swa_aws::error_text(&err),
        "InvalidParameterException: maxResults must be an integer between 1 and 100."
    );
}

/// The error code of a failed call, as the SDK reports it.
pub fn code<E: swa_aws::ecs::error::ProvideErrorMetadata>(
    e: &swa_aws::ecs::error::SdkError<E, swa_aws::ecs::config::http::HttpResponse>,
) -> String {
    e.as_service_error()
        .and_then(|s| s.code())
        .unwrap_or("(none)")
        .to_string()
}

#[tokio::test]
async fn stop_service_deployment_rolls_a_healthy_rollout_back_inside_it() {
    use swa_aws::ecs::types::StopServiceDeploymentStopType as StopType;
    let sandbox = start("healthy", 60.0);
    let aws = aws(&sandbox).await;
    let ecs = aws.ecs();
    let arn = register_release_4(&ecs).await;
    ecs.update_service()
        .cluster(CLUSTER)
        .service(SERVICE)
        .task_definition(&arn)
        .send()
        .await
        .unwrap();
    let rolling = list(&ecs).await[0].0.clone();
    let stopped = ecs
        .stop_service_deployment()
        .service_deployment_arn(&rolling)
        .stop_type(StopType::Rollback)
        .send()
        .await
        .unwrap();
    assert_eq!(stopped.service_deployment_arn(), Some(rolling.as_str()));
    let d = describe(&ecs, &rolling).await;
    assert_eq!(d.status().unwrap().as_str(), "ROLLBACK_IN_PROGRESS");
    assert_eq!(
        d.rollback().unwrap().reason(),
        Some("Rollback requested by StopServiceDeployment.")
    );
    // Asking again while it rolls back is no error; the rollback goes on.
    ecs.stop_service_deployment()
        .service_deployment_arn(&rolling)
        .send()
        .await
        .unwrap();
    eventually(LIMIT, || {
        let (ecs, rolling) = (ecs.clone(), rolling.clone());
        async move {
            let d = describe(&ecs, &rolling).await;
            (d.status().unwrap().as_str() == "ROLLBACK_SUCCESSFUL").then_some(())
        }
    })
    .await;
    assert_eq!(
        service(&ecs).await.task_definition(),
        Some(format!("{TD}:3").as_str())
    );
    assert_eq!(list(&ecs).await.len(), 3, "no new service deployment");

    // Over, it cannot be stopped; an unknown one is not found; ABORT is refused.
    let over = ecs
        .stop_service_deployment()
        .service_deployment_arn(&rolling)
        .send()
        .await
        .expect_err("over");
    assert_eq!(code(&over), "ConflictException");
    let unknown = ecs
        .stop_service_deployment()
        .service_deployment_arn(format!("{}nope", arn_prefix()))
        .send()
        .await
        .expect_err("unknown");
    assert_eq!(code(&unknown), "ServiceDeploymentNotFoundException");
    let abort = ecs
        .stop_service_deployment()
        .service_deployment_arn(&rolling)
        .stop_type(StopType::Abort)
        .send()
        .await
        .expect_err("abort");
    assert_eq!(code(&abort), "InvalidParameterException");
    let mutating: Vec<String> = sandbox
        .calls()
        .iter()
        .filter(|c| c.is_mutating())
        .map(|c| c.operation.clone())
        .collect();
    assert_eq!(
        mutating
            .iter()
            .filter(|o| *o == "StopServiceDeployment")
            .count(),
        5,
        "each StopServiceDeployment counts as a change: {mutating:?}"
    );
}
