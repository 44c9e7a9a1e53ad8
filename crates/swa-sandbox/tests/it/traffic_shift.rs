//! Blue/green, canary and linear deployments through the aws-sdk client and the app's two
//! listeners: the lifecycle stages on the virtual clock, the PAUSE hook that waits for
//! ContinueServiceDeployment, the test listener on the new revision before production, the
//! weights of canary and linear steps, the alarm and the Lambda hook that roll back, and the
//! rollback that puts production back on the old tasks without starting any.

use std::time::Duration;

use swa_aws::ecs::types::{
    DeploymentLifecycleHookAction as Action, DeploymentLifecycleHookStatus as HookStatus,
    ServiceDeployment,
};
use swa_sandbox::Sandbox;

use crate::ecs_rollout::register_release_4;
use crate::service_deployments::{code, describe, list};
use crate::{CLUSTER, SERVICE, aws, eventually, service, start};

const LIMIT: Duration = Duration::from_secs(120);
const STAGES: [&str; 10] = [
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
    "CLEAN_UP",
];

/// Deploys release 4; the service deployment that carries it.
async fn deploy(ecs: &swa_aws::ecs::Client) -> String {
    let arn = register_release_4(ecs).await;
    ecs.update_service()
        .cluster(CLUSTER)
        .service(SERVICE)
        .task_definition(&arn)
        .send()
        .await
        .unwrap();
    list(ecs).await[0].0.clone()
}

/// Deploys release 4, waits for the PAUSE hook after test traffic and continues it; the service
/// deployment.
pub async fn deploy_and_continue(ecs: &swa_aws::ecs::Client) -> String {
    let arn = deploy(ecs).await;
    until(ecs, &arn, |d| paused(d).is_some()).await;
    continue_hook(ecs, &arn).await;
    arn
}

/// Waits until the service deployment `arn` satisfies `check`.
pub async fn until(
    ecs: &swa_aws::ecs::Client,
    arn: &str,
    check: impl Fn(&ServiceDeployment) -> bool,
) -> ServiceDeployment {
    let check = &check;
    eventually(LIMIT, || async move {
        let d = describe(ecs, arn).await;
        check(&d).then_some(d)
    })
    .await
}

pub fn status(d: &ServiceDeployment) -> &str {
    d.status().map_or("", |s| s.as_str())
}

fn stage(d: &ServiceDeployment) -> &str {
    d.lifecycle_stage().map_or("", |s| s.as_str())
}

/// The hook awaiting action, if any.
fn paused(d: &ServiceDeployment) -> Option<String> {
    d.lifecycle_hook_details()
        .iter()
        .find(|h| h.status() == Some(&HookStatus::AwaitingAction))
        .and_then(|h| h.hook_id())
        .map(String::from)
}

fn weights(d: &ServiceDeployment) -> (f64, f64) {
    let t = d.target_service_revision().unwrap();
    (
        t.requested_production_traffic_weight().unwrap_or(-1.0),
        t.requested_test_traffic_weight().unwrap_or(-1.0),
    )
}

/// The release that answers `/health` on `base` (APP_URL or TEST_URL).
async fn version(base: &str) -> String {
    let r = reqwest::get(format!("{base}/health")).await.unwrap();
    r.headers()["x-app-version"].to_str().unwrap().to_string()
}

/// The timeline's facts of `kind`, in order.
fn timeline(sandbox: &Sandbox, kind: &str) -> Vec<String> {
    sandbox
        .timeline()
        .into_iter()
        .filter(|e| e.kind == kind)
        .map(|e| e.detail)
        .collect()
}

#[tokio::test]
async fn blue_green_waits_at_test_traffic_then_goes_through_every_stage() {
    let sandbox = start("blue-green", 60.0);
    let aws = aws(&sandbox).await;
    let ecs = aws.ecs();
    let config = service(&ecs)
        .await
        .deployment_configuration()
        .unwrap()
        .clone();
    assert_eq!(config.strategy().unwrap().as_str(), "BLUE_GREEN");
    assert_eq!(config.bake_time_in_minutes(), Some(3));
    let hooks = config.lifecycle_hooks();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0].target_type().unwrap().as_str(), "PAUSE");

    let arn = deploy(&ecs).await;
    let d = until(&ecs, &arn, |d| paused(d).is_some()).await;
    assert_eq!(stage(&d), "POST_TEST_TRAFFIC_SHIFT");
    assert_eq!(weights(&d), (0.0, 100.0));
    let hook = &d.lifecycle_hook_details()[0];
    assert_eq!(hook.timeout_action().unwrap().as_str(), "ROLLBACK");
    assert!(hook.expires_at().is_some());
    // The test listener reaches the new revision; production stays on the old one.
    assert_eq!(version(&sandbox.test_url()).await, "release-4");
    assert_eq!(version(&sandbox.app_url()).await, "release-3");

    let hook_id = paused(&d).unwrap();
    ecs.continue_service_deployment()
        .service_deployment_arn(&arn)
        .hook_id(&hook_id)
        .action(Action::Continue)
        .send()
        .await
        .unwrap();
    let bake = until(&ecs, &arn, |d| stage(d) == "BAKE_TIME").await;
    assert_eq!(weights(&bake), (100.0, 100.0));
    assert_eq!(version(&sandbox.app_url()).await, "release-4");
    let done = until(&ecs, &arn, |d| status(d) == "SUCCESSFUL").await;
    assert_eq!(done.source_service_revisions()[0].running_task_count(), 0);
    assert_eq!(timeline(&sandbox, "lifecycle-stage"), STAGES);
    assert_eq!(
        service(&ecs).await.deployments().len(),
        1,
        "the old deployment is cleaned up"
    );
    let over = ecs
        .continue_service_deployment()
        .service_deployment_arn(&arn)
        .hook_id(&hook_id)
        .send()
        .await
        .expect_err("over");
    assert_eq!(code(&over), "ConflictException");
}

#[tokio::test]
async fn a_rollback_at_test_traffic_keeps_production_on_the_old_tasks() {
    let sandbox = start("blue-green-test-fails", 60.0);
    let aws = aws(&sandbox).await;
    let ecs = aws.ecs();
    let arn = deploy(&ecs).await;
    let d = until(&ecs, &arn, |d| paused(d).is_some()).await;
    let login = reqwest::Client::new()
        .post(format!("{}/user/login", sandbox.test_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        login.status(),
        500,
        "the new revision fails on the test listener"
    );
    let index = reqwest::get(format!("{}/", sandbox.app_url()))
        .await
        .unwrap();
    assert_eq!(index.status(), 200, "production is still the old revision");

    let unknown = ecs
        .continue_service_deployment()
        .service_deployment_arn(&arn)
        .hook_id("not-a-hook")
        .send()
        .await
        .expect_err("unknown hook");
    assert_eq!(code(&unknown), "InvalidParameterException");
    let started_before = timeline(&sandbox, "tasks-started").len();
    ecs.continue_service_deployment()
        .service_deployment_arn(&arn)
        .hook_id(paused(&d).unwrap())
        .action(Action::Rollback)
        .send()
        .await
        .unwrap();
    let rolling = describe(&ecs, &arn).await;
    assert_eq!(status(&rolling), "ROLLBACK_IN_PROGRESS");
    assert_eq!(weights(&rolling), (0.0, 0.0));
    assert_eq!(version(&sandbox.test_url()).await, "release-3");
    let done = until(&ecs, &arn, |d| status(d) == "ROLLBACK_SUCCESSFUL").await;
    assert!(
        done.rollback()
            .unwrap()
            .reason()
            .unwrap()
            .starts_with("Rollback requested by ContinueServiceDeployment on lifecycle hook"),
        "{:?}",
        done.rollback()
    );
    assert_eq!(
        timeline(&sandbox, "tasks-started").len(),
        started_before,
        "the rollback started no task: the old ones serve again"
    );
    assert!(
        !timeline(&sandbox, "lifecycle-stage")
            .iter()
            .any(|s| s == "PRODUCTION_TRAFFIC_SHIFT")
    );
    let svc = service(&ecs).await;
    assert!(svc.task_definition().unwrap().ends_with(":3"));
    assert_eq!(svc.running_count(), 2);
}

#[tokio::test]
async fn a_canary_alarm_rolls_back_with_only_the_canary_on_the_new_revision() {
    let sandbox = start("canary-alarm", 20.0);
    let aws = aws(&sandbox).await;
    let ecs = aws.ecs();
    let arn = deploy_and_continue(&ecs).await;
    let canary = until(&ecs, &arn, |d| stage(d) == "PRODUCTION_TRAFFIC_SHIFT").await;
    assert_eq!(weights(&canary), (10.0, 100.0));
    // About one request in ten reaches the canary.
    let mut new = 0;
    for _ in 0..50 {
        if version(&sandbox.app_url()).await == "release-4" {
            new += 1;
        }
    }
    assert!(
        (3..=7).contains(&new),
        "{new} of 50 requests reached the canary"
    );
    let rolled = until(&ecs, &arn, |d| status(d) == "ROLLBACK_SUCCESSFUL").await;
    let alarms = rolled.alarms().unwrap();
    assert_eq!(alarms.status().unwrap().as_str(), "TRIGGERED");
    assert_eq!(alarms.triggered_alarm_names(), ["startupwebapp-api-5xx"]);
    assert_eq!(
        timeline(&sandbox, "traffic")
            .iter()
            .filter(|t| t.starts_with("production 10 "))
            .count(),
        1
    );
    assert!(
        !timeline(&sandbox, "traffic")
            .iter()
            .any(|t| t.starts_with("production 100 "))
    );
    assert_eq!(version(&sandbox.app_url()).await, "release-3");
}

#[tokio::test]
async fn linear_moves_production_traffic_in_steps() {
    let sandbox = start("linear", 60.0);
    let aws = aws(&sandbox).await;
    let ecs = aws.ecs();
    let arn = deploy_and_continue(&ecs).await;
    until(&ecs, &arn, |d| status(d) == "SUCCESSFUL").await;
    let production: Vec<String> = timeline(&sandbox, "traffic")
        .iter()
        .filter_map(|t| t.split(' ').nth(1).map(String::from))
        .collect();
    assert_eq!(production, ["0", "25", "50", "75", "100"]);
}

#[tokio::test]
async fn a_failing_lambda_hook_rolls_back_before_any_traffic_moves() {
    let sandbox = start("hook-fails", 60.0);
    let aws = aws(&sandbox).await;
    let ecs = aws.ecs();
    let arn = deploy(&ecs).await;
    let d = until(&ecs, &arn, |d| status(d) == "ROLLBACK_SUCCESSFUL").await;
    let hook = &d.lifecycle_hook_details()[0];
    assert_eq!(hook.status(), Some(&HookStatus::Failed));
    assert_eq!(
        hook.target_arn(),
        Some("arn:aws:lambda:us-east-1:123456789012:function:startupwebapp-predeploy-check")
    );
    assert_eq!(stage(&d), "POST_SCALE_UP");
    assert!(
        timeline(&sandbox, "traffic").is_empty(),
        "no traffic ever reached the new revision"
    );
}

#[tokio::test]
async fn update_service_checks_the_strategy_settings_and_changes_nothing_when_they_are_wrong() {
    use swa_aws::ecs::types::{CanaryConfiguration, DeploymentConfiguration};
    let sandbox = start("healthy", 60.0);
    let aws = aws(&sandbox).await;
    let ecs = aws.ecs();
    let bad = [
        DeploymentConfiguration::builder()
            .bake_time_in_minutes(1441)
            .build(),
        DeploymentConfiguration::builder()
            .canary_configuration(CanaryConfiguration::builder().canary_percent(0.0).build())
            .build(),
    ];
    for cfg in bad {
        let e = ecs
            .update_service()
            .cluster(CLUSTER)
            .service(SERVICE)
            .force_new_deployment(true)
            .deployment_configuration(cfg)
            .send()
            .await
            .expect_err("refused");
        assert_eq!(code(&e), "InvalidParameterException");
    }
    assert_eq!(list(&ecs).await.len(), 2, "no deployment started");
    // A valid one switches the service to canary for the next deployment.
    ecs.update_service()
        .cluster(CLUSTER)
        .service(SERVICE)
        .deployment_configuration(
            DeploymentConfiguration::builder()
                .strategy(swa_aws::ecs::types::DeploymentStrategy::Canary)
                .canary_configuration(
                    CanaryConfiguration::builder()
                        .canary_percent(20.0)
                        .canary_bake_time_in_minutes(4)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let config = service(&ecs)
        .await
        .deployment_configuration()
        .unwrap()
        .clone();
    assert_eq!(config.strategy().unwrap().as_str(), "CANARY");
    let canary = config.canary_configuration().unwrap();
    assert_eq!(canary.canary_percent(), Some(20.0));
    assert_eq!(canary.canary_bake_time_in_minutes(), Some(4));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_login_broken_in_production_passes_on_test_traffic_and_fails_in_a_long_bake() {
    let sandbox = start("blue-green,production-login-broken,long-bake", 60.0);
    let aws = aws(&sandbox).await;
    let ecs = aws.ecs();
    let login = |base: String| async move {
        reqwest::Client::new()
            .post(format!("{base}/user/login"))
            .json(&serde_json::json!({"username": "smoke-test", "password": "wrong"}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    let arn = deploy(&ecs).await;
    until(&ecs, &arn, |d| paused(d).is_some()).await;
    assert_eq!(
        login(sandbox.test_url()).await,
        401,
        "the new revision's login works on the test listener"
    );
    continue_hook(&ecs, &arn).await;
    let baking = until(&ecs, &arn, |d| stage(d) == "BAKE_TIME").await;
    assert_eq!(status(&baking), "IN_PROGRESS");
    assert_eq!(
        login(sandbox.app_url()).await,
        500,
        "through production it fails"
    );
    // An hour's bake: a minute of it (1 s at the clock x60) later, still in flight.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let still = describe(&ecs, &arn).await;
    assert_eq!(
        (status(&still), stage(&still)),
        ("IN_PROGRESS", "BAKE_TIME")
    );
}

/// Continues the PAUSE hook `arn` waits at.
async fn continue_hook(ecs: &swa_aws::ecs::Client, arn: &str) {
    let d = describe(ecs, arn).await;
    ecs.continue_service_deployment()
        .service_deployment_arn(arn)
        .hook_id(paused(&d).unwrap())
        .send()
        .await
        .unwrap();
}
