//! Blue/green, canary and linear deployments in the sandbox, followed through the action: paused
//! at the hook after test traffic, continued, and rolled back by an alarm or a failing hook.

use super::*;

/// Answers the hook the newest service deployment waits at with CONTINUE, as control-deployment
/// would.
fn continue_hook(sandbox: &Sandbox, arn: &str, hook: &str) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let env = swa_gha::Env::from_pairs(sandbox.env());
        swa_aws::Aws::load(&env)
            .await
            .ecs()
            .continue_service_deployment()
            .service_deployment_arn(arn)
            .hook_id(hook)
            .send()
            .await
            .unwrap();
    });
}

/// Waits for test traffic: paused at the PAUSE hook; the ARN and the hook.
fn paused_at_test_traffic(sandbox: &Sandbox, id: &str) -> (String, String) {
    let run = run(
        sandbox,
        &[
            ("deployment-id", id),
            ("until", "test-traffic"),
            ("timeout", "2m"),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(run.outputs["result"], "paused", "{}", run.log);
    assert_eq!(run.outputs["lifecycle-stage"], "POST_TEST_TRAFFIC_SHIFT");
    assert_eq!(run.outputs["test-weight"], "100");
    assert_eq!(run.outputs["production-weight"], "0");
    assert_eq!(run.outputs["hook-timeout-action"], "ROLLBACK");
    assert!(!run.outputs["expires-at"].is_empty());
    (
        run.outputs["service-deployment-arn"].clone(),
        run.outputs["hook-id"].clone(),
    )
}

/// Continues the hook, then waits for the service deployment `arn` `until` the given point.
fn continue_then_wait(sandbox: &Sandbox, id: &str, arn: &str, hook: &str, until: &str) -> StepRun {
    continue_hook(sandbox, arn, hook);
    run(
        sandbox,
        &[
            ("deployment-id", id),
            ("service-deployment-arn", arn),
            ("until", until),
            ("timeout", "3m"),
        ],
    )
}

/// The error's sentence that names the rollback's cause.
fn cause(run: &StepRun) -> String {
    run.errors()
        .iter()
        .filter_map(|e| e.split(". ").find(|s| s.starts_with("Service deployment ")))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn blue_green_pauses_after_test_traffic_then_completes_once_continued() {
    let sandbox = sandbox("blue-green");
    let id = start_rollout(&sandbox);
    let (arn, hook) = paused_at_test_traffic(&sandbox, &id);
    assert!(
        sandbox.calls().iter().all(|c| !c.is_mutating()
            || matches!(
                c.operation.as_str(),
                "RegisterTaskDefinition" | "UpdateService"
            )),
        "waiting changes nothing"
    );
    let run = continue_then_wait(&sandbox, &id, &arn, &hook, "complete");
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(run.outputs["result"], "healthy");
    assert_eq!(run.outputs["service-deployment-status"], "SUCCESSFUL");
    assert_eq!(run.outputs["production-weight"], "100");
}

#[test]
fn a_canary_alarm_rolls_back_and_the_error_names_the_alarm() {
    let sandbox = sandbox("canary-alarm");
    let id = start_rollout(&sandbox);
    let (arn, hook) = paused_at_test_traffic(&sandbox, &id);
    let run = continue_then_wait(&sandbox, &id, &arn, &hook, "complete");
    assert_eq!(run.code, 1, "{}", run.log);
    assert_eq!(run.outputs["result"], "rolled-back");
    assert_eq!(run.outputs["production-weight"], "0");
    // CloudWatch's account of the alarm: what it watches, and why it fired (on the sandbox's clock).
    let alarm: Vec<String> = run
        .errors()
        .iter()
        .filter_map(|e| e.split(". ").find(|s| s.starts_with("Alarm ")))
        .map(String::from)
        .collect();
    let mut settings = swa_testing::snapshot_settings();
    settings.add_filter(r"\d\d/\d\d/\d\d \d\d:\d\d:\d\d", "[TIME]");
    settings.bind(|| {
        insta::assert_snapshot!(cause(&run), @"Service deployment ROLLBACK_IN_PROGRESS: alarm startupwebapp-api-5xx went into ALARM");
        insta::assert_snapshot!(alarm.join("\n"), @"Alarm startupwebapp-api-5xx (HTTPCode_Target_5XX_Count (AWS/ApplicationELB, Sum over 60 s) > 5) is ALARM: Threshold Crossed: 1 out of the last 1 datapoints [12.0 ([TIME])] was greater than the threshold (5.0) (minimum 1 datapoint for OK -> ALARM transition).");
    });
}

#[test]
fn a_failing_lambda_hook_rolls_back_and_the_error_names_the_function() {
    let sandbox = sandbox("hook-fails");
    let id = start_rollout(&sandbox);
    let run = run(
        &sandbox,
        &[
            ("deployment-id", &id),
            ("until", "test-traffic"),
            ("timeout", "2m"),
        ],
    );
    assert_eq!(run.code, 1, "{}", run.log);
    assert_eq!(run.outputs["result"], "rolled-back");
    snapshots(|| {
        insta::assert_snapshot!(cause(&run), @"Service deployment ROLLBACK_IN_PROGRESS: lifecycle hook arn:aws:lambda:us-east-1:123456789012:function:startupwebapp-predeploy-check failed at stage POST_SCALE_UP.");
    });
}

#[test]
fn linear_reports_each_step_of_production_traffic() {
    // A step lasts one virtual minute: 7.5 s at this clock, two polls or more.
    let sandbox = sandbox_at("linear", 8.0);
    let id = start_rollout(&sandbox);
    let (arn, hook) = paused_at_test_traffic(&sandbox, &id);
    let run = continue_then_wait(&sandbox, &id, &arn, &hook, "bake");
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(run.outputs["production-weight"], "100");
    assert_eq!(run.outputs["lifecycle-stage"], "BAKE_TIME");
    let weights: Vec<&str> = run
        .log
        .lines()
        .filter_map(|l| l.split("] ").nth(1))
        .filter(|l| l.starts_with("production traffic"))
        .collect();
    snapshots(|| {
        insta::assert_snapshot!(weights.join("\n"), @r#"
            production traffic 25% on the new revision
            production traffic 50% on the new revision
            production traffic 75% on the new revision
            production traffic 100% on the new revision
            "#);
    });
}
