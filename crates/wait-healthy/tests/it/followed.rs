//! The service deployment the sandbox keeps for every rollout, followed through the action.

use super::*;

/// The sandbox's newest service deployment, as /_sandbox/state shows it.
fn newest_service_deployment(sandbox: &Sandbox) -> serde_json::Value {
    let state = sandbox.state();
    let history = state["serviceDeployments"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    history.last().cloned().unwrap_or_default()
}

#[test]
fn complete_follows_the_service_deployment_to_successful() {
    let sandbox = sandbox("healthy");
    let id = start_rollout(&sandbox);
    let run = run(
        &sandbox,
        &[
            ("deployment-id", &id),
            ("until", "complete"),
            ("timeout", "2m"),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.log);
    let newest = newest_service_deployment(&sandbox);
    assert_eq!(newest["status"], "SUCCESSFUL", "{newest}");
    assert_eq!(
        run.outputs["service-deployment-arn"],
        newest["serviceDeploymentArn"].as_str().unwrap_or_default()
    );
    assert_eq!(run.outputs["service-deployment-status"], "SUCCESSFUL");
    // A rolling deployment has no stage and no traffic weights.
    assert_eq!(run.outputs["lifecycle-stage"], "");
    assert_eq!(run.outputs["production-weight"], "");
    let following: Vec<&str> = run
        .log
        .lines()
        .filter(|l| l.contains("service deployment"))
        .collect();
    snapshots(|| {
        insta::assert_snapshot!(following.join("\n"), @r#"
            Following service deployment arn:aws:ecs:us-east-1:123456789012:service-deployment/startupwebapp-cluster/startupwebapp-service/lExqTnY-u3DG6NX_GRkoe (strategy ROLLING)
            [[DURATION]] service deployment IN_PROGRESS
            [[DURATION]] service deployment SUCCESSFUL
            "#);
    });
}

#[test]
fn the_circuit_breaker_is_named_with_its_counts() {
    let sandbox = sandbox("crash-loop");
    let id = start_rollout(&sandbox);
    let run = run(
        &sandbox,
        &[
            ("deployment-id", &id),
            ("until", "complete"),
            ("timeout", "2m"),
        ],
    );
    assert_eq!(run.code, 1, "{}", run.log);
    assert_eq!(run.outputs["result"], "rolled-back");
    assert!(
        run.outputs["service-deployment-status"].starts_with("ROLLBACK_"),
        "{:?}",
        run.outputs
    );
    let cause: Vec<&str> = run
        .errors()
        .iter()
        .filter_map(|e| {
            e.split(". ")
                .find(|s| s.contains("circuit breaker tripped"))
        })
        .collect();
    snapshots(
        || insta::assert_snapshot!(cause.join("\n"), @"Service deployment ROLLBACK_IN_PROGRESS: the circuit breaker tripped at 3 failed tasks (threshold 3)"),
    );
}

#[test]
fn a_stage_of_a_rolling_service_is_refused_without_a_change() {
    let sandbox = sandbox("healthy");
    let run = run(&sandbox, &[("until", "test-traffic"), ("timeout", "1m")]);
    assert_eq!(run.code, 2, "{}", run.log);
    snapshots(
        || insta::assert_snapshot!(run.errors().join("\n"), @"::error title=Invalid input `until`::input `until` is `test-traffic`, a lifecycle stage of blue/green, linear and canary deployments, but service `startupwebapp-service` deploys with strategy ROLLING; wait until `steady`, `complete` or `serving`"),
    );
    assert!(
        sandbox.calls().iter().all(|c| !c.is_mutating()),
        "nothing changed"
    );
}

#[test]
fn a_cancelled_job_asks_ecs_to_roll_back_with_rollback_on_cancel() {
    let sandbox = sandbox("slow-start");
    let id = start_rollout(&sandbox);
    let before = sandbox.calls().len();
    let running = step(
        &sandbox,
        &[
            ("deployment-id", &id),
            ("timeout", "5m"),
            ("rollback-on-cancel", "true"),
        ],
    )
    .spawn();
    // Wait until it has seen the deployment: its second look at the service.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while sandbox.calls()[before..]
        .iter()
        .filter(|c| c.operation == "DescribeServices")
        .count()
        < 2
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    running.terminate();
    let run = with_stderr(running.finish(std::time::Duration::from_secs(300)));
    assert_eq!(run.code, 1, "{}", run.log);
    assert_eq!(run.outputs["result"], "failed");
    snapshots(
        || insta::assert_snapshot!(run.errors().join("\n"), @"::error title=Deployment failed::the wait was cancelled (SIGTERM); ECS was asked to roll service deployment arn:aws:ecs:us-east-1:123456789012:service-deployment/startupwebapp-cluster/startupwebapp-service/lExqTnY-u3DG6NX_GRkoe back (StopServiceDeployment ROLLBACK)"),
    );
    let stops = sandbox
        .calls()
        .iter()
        .filter(|c| c.operation == "StopServiceDeployment")
        .count();
    assert_eq!(stops, 1, "one StopServiceDeployment");
    let newest = newest_service_deployment(&sandbox);
    assert!(
        newest["status"]
            .as_str()
            .unwrap_or_default()
            .starts_with("ROLLBACK_"),
        "{newest}"
    );
}
