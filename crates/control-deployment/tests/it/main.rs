//! control-deployment run as a workflow step runs it, against the sandbox's ECS.
#![allow(clippy::unwrap_used)]

use swa_sandbox::Sandbox;
use swa_testing::{Step, StepRun, sandbox};

const BIN: &str = env!("CARGO_BIN_EXE_control-deployment");
const TD_3: &str =
    "arn:aws:ecs:us-east-1:123456789012:task-definition/startupwebapp-service-task:3";

fn run(sandbox: &Sandbox, inputs: &[(&str, &str)]) -> StepRun {
    let run = Step::new(BIN)
        .inputs(&[
            ("cluster", "startupwebapp-cluster"),
            ("service", "startupwebapp-service"),
        ])
        .inputs(inputs)
        .envs(sandbox.env())
        .run();
    swa_testing::check_commands(&run.log).unwrap();
    run
}

/// A deployment in flight: the service forced onto new tasks of the revision it runs.
fn start_deployment(sandbox: &Sandbox) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let env = swa_gha::Env::from_pairs(sandbox.env());
        swa_aws::Aws::load(&env)
            .await
            .ecs()
            .update_service()
            .cluster("startupwebapp-cluster")
            .service("startupwebapp-service")
            .force_new_deployment(true)
            .send()
            .await
            .unwrap();
    });
}

/// The sandbox's newest service deployment, as /_sandbox/state shows it.
fn newest(sandbox: &Sandbox) -> serde_json::Value {
    let state = sandbox.state();
    state["serviceDeployments"]
        .as_array()
        .and_then(|a| a.last().cloned())
        .unwrap_or_default()
}

/// The ARN of the sandbox's newest service deployment.
fn newest_arn(sandbox: &Sandbox) -> String {
    newest(sandbox)["serviceDeploymentArn"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The operations that changed something, apart from the test's own UpdateService.
fn changes(sandbox: &Sandbox) -> Vec<String> {
    sandbox
        .calls()
        .iter()
        .filter(|c| c.is_mutating() && c.operation != "UpdateService")
        .map(|c| c.operation.clone())
        .collect()
}

fn snapshots(assertions: impl FnOnce()) {
    let mut settings = swa_testing::snapshot_settings();
    settings.add_filter(swa_testing::DURATION, "[DURATION]");
    settings.bind(assertions);
}

#[test]
fn a_rollback_in_flight_waits_until_the_old_revision_is_back() {
    let sandbox = sandbox("slow-start");
    start_deployment(&sandbox);
    let run = run(&sandbox, &[("action", "rollback"), ("timeout", "5m")]);
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(run.outputs["result"], "rolled-back");
    assert_eq!(run.outputs["status"], "ROLLBACK_SUCCESSFUL");
    let sd = newest(&sandbox);
    assert_eq!(sd["status"], "ROLLBACK_SUCCESSFUL", "{sd}");
    assert_eq!(sd["rolledBackTo"], TD_3);
    assert_eq!(
        run.outputs["service-deployment-arn"],
        sd["serviceDeploymentArn"].as_str().unwrap()
    );
    assert!(
        run.outputs["service-revision"].contains(":service-revision/"),
        "{:?}",
        run.outputs
    );
    assert_eq!(changes(&sandbox), ["StopServiceDeployment"]);
    snapshots(|| {
        insta::assert_snapshot!(run.log, @r#"
            Service deployment arn:aws:ecs:us-east-1:123456789012:service-deployment/startupwebapp-cluster/startupwebapp-service/lExqTnY-u3DG6NX_GRkoe is IN_PROGRESS
            Stopped it with ROLLBACK
            [[DURATION]] ROLLBACK_IN_PROGRESS
            [[DURATION]] ROLLBACK_SUCCESSFUL
            ::notice::Rolled back: service deployment lExqTnY-u3DG6NX_GRkoe is ROLLBACK_SUCCESSFUL
            "#);
        insta::assert_snapshot!(run.summary, @r#"
            ### control-deployment: startupwebapp-service rollback

            | | |
            |---|---|
            | Service deployment | <code>arn:aws:ecs:us-east-1:123456789012:service-deployment/startupwebapp-cluster/startupwebapp-service/lExqTnY-u3DG6NX\_GRkoe</code> |
            | Before | IN\_PROGRESS |
            | After | ROLLBACK\_SUCCESSFUL |
            | Cause | Rollback requested by StopServiceDeployment. |
            | Production traffic on | <code>arn:aws:ecs:us-east-1:123456789012:service-revision/startupwebapp-cluster/startupwebapp-service/2183977051309861993</code> |
            "#);
    });
}

#[test]
fn an_action_that_does_not_apply_is_bad_input_and_changes_nothing() {
    // In flight, but waiting at no hook: nothing to continue.
    let sandbox = sandbox("slow-start");
    start_deployment(&sandbox);
    let cont = run(&sandbox, &[("action", "continue")]);
    assert_eq!(cont.code, 2, "{}", cont.log);
    // Nothing in flight: nothing to roll back.
    let settled = swa_testing::sandbox("healthy");
    let back = run(&settled, &[("action", "rollback")]);
    assert_eq!(back.code, 2, "{}", back.log);
    // Over: a named deployment that succeeded long ago.
    let over = newest_arn(&settled);
    let named = run(
        &settled,
        &[("action", "abort"), ("service-deployment-arn", &over)],
    );
    assert_eq!(named.code, 2, "{}", named.log);
    assert!(changes(&sandbox).is_empty() && changes(&settled).is_empty());
    snapshots(|| {
        insta::assert_snapshot!(
            [cont.errors(), back.errors(), named.errors()].concat().join("\n"),
            @r#"
                ::error title=Invalid input `action`::input `action` is `continue`, but service deployment arn:aws:ecs:us-east-1:123456789012:service-deployment/startupwebapp-cluster/startupwebapp-service/lExqTnY-u3DG6NX_GRkoe waits at no lifecycle hook (it is IN_PROGRESS); there is nothing to continue
                ::error title=Invalid input `service`::input `service` `startupwebapp-service` has no service deployment in flight; there is nothing to roll back
                ::error title=Invalid input `action`::input `action` is `abort`, but service deployment arn:aws:ecs:us-east-1:123456789012:service-deployment/startupwebapp-cluster/startupwebapp-service/kdeIw0SrKHU1P6M0pC0sQ is SUCCESSFUL: it is not in flight; to go back to an earlier revision, deploy it (update-service `revision: previous`)
                "#
        );
    });
}

#[test]
fn with_if_not_in_flight_skip_a_deployment_that_is_over_is_left_alone() {
    let settled = swa_testing::sandbox("healthy");
    let over = newest_arn(&settled);
    let named = run(
        &settled,
        &[
            ("action", "rollback"),
            ("service-deployment-arn", &over),
            ("if-not-in-flight", "skip"),
        ],
    );
    assert_eq!(named.code, 0, "{}", named.log);
    assert_eq!(named.outputs["result"], "not-in-flight");
    assert_eq!(named.outputs["status"], "SUCCESSFUL");
    assert_eq!(named.outputs["service-deployment-arn"], over);
    assert!(
        named.outputs["service-revision"].contains(":service-revision/"),
        "{:?}",
        named.outputs
    );
    let none = run(
        &settled,
        &[("action", "rollback"), ("if-not-in-flight", "skip")],
    );
    assert_eq!(none.code, 0, "{}", none.log);
    assert_eq!(none.outputs["result"], "not-in-flight");
    assert!(changes(&settled).is_empty());
    snapshots(|| {
        insta::assert_snapshot!(format!("{}\n{}", named.log, none.log), @r#"
            Service deployment arn:aws:ecs:us-east-1:123456789012:service-deployment/startupwebapp-cluster/startupwebapp-service/kdeIw0SrKHU1P6M0pC0sQ is SUCCESSFUL
            ::notice::Nothing to roll back: service deployment kdeIw0SrKHU1P6M0pC0sQ is SUCCESSFUL, not in flight

            ::notice::Nothing to roll back: service `startupwebapp-service` has no service deployment in flight
            "#);
        insta::assert_snapshot!(named.summary, @r#"
            ### control-deployment: startupwebapp-service rollback

            | | |
            |---|---|
            | Service deployment | <code>arn:aws:ecs:us-east-1:123456789012:service-deployment/startupwebapp-cluster/startupwebapp-service/kdeIw0SrKHU1P6M0pC0sQ</code> |
            | Before | SUCCESSFUL |
            | Now | SUCCESSFUL |
            | Production traffic on | <code>arn:aws:ecs:us-east-1:123456789012:service-revision/startupwebapp-cluster/startupwebapp-service/2183977051309861993</code> |
            "#);
    });
}

#[test]
fn a_refusal_from_ecs_is_a_failure_with_its_reason() {
    // The ECS API reference lists ROLLBACK as the stop type it accepts; the sandbox refuses ABORT.
    let sandbox = sandbox("slow-start");
    start_deployment(&sandbox);
    let run = run(&sandbox, &[("action", "abort")]);
    assert_eq!(run.code, 1, "{}", run.log);
    snapshots(
        || insta::assert_snapshot!(run.errors().join("\n"), @"::error::ECS refused StopServiceDeployment ABORT: InvalidParameterException: The stop type ABORT is not supported. The valid values are ROLLBACK."),
    );
}

#[test]
fn bad_inputs_exit_2_before_any_call() {
    let sandbox = sandbox("healthy");
    let cases: Vec<String> = [
        vec![("action", "sideways")],
        vec![("action", "rollback"), ("service-deployment-arn", "sd-1")],
        vec![("action", "rollback"), ("timeout", "0s")],
        vec![("action", "rollback"), ("wait", "maybe")],
    ]
    .iter()
    .map(|inputs| {
        let run = run(&sandbox, inputs);
        assert_eq!(run.code, 2, "{}", run.log);
        run.errors().join("\n")
    })
    .collect();
    assert!(sandbox.calls().is_empty(), "no call at all");
    insta::assert_snapshot!(cases.join("\n"), @r#"
        ::error title=Invalid input `action`::input `action` has the value `sideways`, which is not one of: continue, rollback, abort
        ::error title=Invalid input `service-deployment-arn`::input `service-deployment-arn` is `sd-1`; a service deployment ARN looks like arn:aws:ecs:us-east-1:123456789012:service-deployment/CLUSTER/SERVICE/ID
        ::error title=Invalid input `timeout`::input `timeout` is zero; give a duration such as 10m
        ::error title=Invalid input `wait`::input `wait` has the value `maybe`, which is not a boolean; use true or false
        "#);
}

/// Waits (at most a minute of real time) until the newest service deployment waits at a hook.
fn until_paused(sandbox: &Sandbox) -> serde_json::Value {
    let start = std::time::Instant::now();
    loop {
        let sd = newest(sandbox);
        if sd["awaitingHook"].is_string() {
            return sd;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "never paused: {sd}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn stages(sandbox: &Sandbox) -> Vec<String> {
    sandbox
        .timeline()
        .into_iter()
        .filter(|e| e.kind == "lifecycle-stage")
        .map(|e| e.detail)
        .collect()
}

#[test]
fn continue_answers_the_hook_a_blue_green_deployment_waits_at_after_test_traffic() {
    let sandbox = sandbox("blue-green");
    start_deployment(&sandbox);
    let paused = until_paused(&sandbox);
    assert_eq!(paused["lifecycleStage"], "POST_TEST_TRAFFIC_SHIFT");
    let run = run(&sandbox, &[("action", "continue")]);
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(run.outputs["result"], "continued");
    assert_eq!(changes(&sandbox), ["ContinueServiceDeployment"]);
    let hook = paused["awaitingHook"].as_str().unwrap();
    let continued = sandbox
        .calls()
        .into_iter()
        .find(|c| c.operation == "ContinueServiceDeployment")
        .unwrap();
    assert_eq!(continued.request["hookId"], hook);
    assert_eq!(continued.request["action"], "CONTINUE");
    assert!(stages(&sandbox).contains(&"PRODUCTION_TRAFFIC_SHIFT".to_string()));
    snapshots(|| {
        let mut settings = insta::Settings::clone_current();
        settings.add_filter(hook, "[HOOK]");
        settings.bind(|| {
            insta::assert_snapshot!(run.log, @r#"
                Service deployment arn:aws:ecs:us-east-1:123456789012:service-deployment/startupwebapp-cluster/startupwebapp-service/lExqTnY-u3DG6NX_GRkoe is IN_PROGRESS, stage POST_TEST_TRAFFIC_SHIFT
                Answered lifecycle hook [HOOK] with CONTINUE
                ::notice::Continued: service deployment lExqTnY-u3DG6NX_GRkoe is IN_PROGRESS, stage BAKE_TIME
                "#);
        });
    });
}

#[test]
fn a_rollback_at_test_traffic_answers_the_hook_and_production_never_moves() {
    let sandbox = sandbox("blue-green-test-fails");
    start_deployment(&sandbox);
    let paused = until_paused(&sandbox);
    let run = run(&sandbox, &[("action", "rollback"), ("timeout", "5m")]);
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(run.outputs["result"], "rolled-back");
    assert_eq!(run.outputs["status"], "ROLLBACK_SUCCESSFUL");
    assert_eq!(changes(&sandbox), ["ContinueServiceDeployment"]);
    let answered = sandbox
        .calls()
        .into_iter()
        .find(|c| c.operation == "ContinueServiceDeployment")
        .unwrap();
    assert_eq!(answered.request["action"], "ROLLBACK");
    assert!(!stages(&sandbox).contains(&"PRODUCTION_TRAFFIC_SHIFT".to_string()));
    let sd = newest(&sandbox);
    assert_eq!(sd["rolledBackTo"], TD_3, "{sd}");
    let hook = paused["awaitingHook"].as_str().unwrap();
    snapshots(|| {
        let mut settings = insta::Settings::clone_current();
        settings.add_filter(hook, "[HOOK]");
        settings.bind(|| {
            insta::assert_snapshot!(run.log, @r#"
                Service deployment arn:aws:ecs:us-east-1:123456789012:service-deployment/startupwebapp-cluster/startupwebapp-service/lExqTnY-u3DG6NX_GRkoe is IN_PROGRESS, stage POST_TEST_TRAFFIC_SHIFT
                Answered lifecycle hook [HOOK] with ROLLBACK
                [[DURATION]] ROLLBACK_IN_PROGRESS, stage POST_TEST_TRAFFIC_SHIFT
                [[DURATION]] ROLLBACK_SUCCESSFUL
                ::notice::Rolled back: service deployment lExqTnY-u3DG6NX_GRkoe is ROLLBACK_SUCCESSFUL
                "#);
        });
    });
}
