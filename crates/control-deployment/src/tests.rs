use super::*;
use ecs::types::{
    DeploymentLifecycleHookDetail, DeploymentLifecycleHookStatus, ServiceDeployment,
    ServiceDeploymentLifecycleStage as Stage, ServiceDeploymentStatus as Status,
};

fn state(status: Status, waiting_hook: bool) -> ServiceDeploymentState {
    let mut sd = ServiceDeployment::builder()
        .service_deployment_arn("arn:aws:ecs:us-east-1:123456789012:service-deployment/c/s/sd1")
        .status(status)
        .build();
    if waiting_hook {
        sd.lifecycle_stage = Some(Stage::PostTestTrafficShift);
        sd.lifecycle_hook_details = Some(vec![
            DeploymentLifecycleHookDetail::builder()
                .hook_id("hook-1")
                .status(DeploymentLifecycleHookStatus::AwaitingAction)
                .build(),
        ]);
    }
    ServiceDeploymentState::from_sdk(&sd)
}

fn answer(action: DeploymentLifecycleHookAction) -> Call {
    Call::Answer {
        hook_id: "hook-1".into(),
        action,
    }
}

#[test]
fn each_action_makes_the_call_its_state_allows() {
    let paused = state(Status::InProgress, true);
    let running = state(Status::InProgress, false);
    assert_eq!(
        plan(Control::Continue, &paused).ok(),
        Some(answer(DeploymentLifecycleHookAction::Continue))
    );
    assert_eq!(
        plan(Control::Rollback, &paused).ok(),
        Some(answer(DeploymentLifecycleHookAction::Rollback))
    );
    assert_eq!(
        plan(Control::Rollback, &running).ok(),
        Some(Call::Stop(StopServiceDeploymentStopType::Rollback))
    );
    assert_eq!(
        plan(Control::Rollback, &state(Status::Pending, false)).ok(),
        Some(Call::Stop(StopServiceDeploymentStopType::Rollback))
    );
    assert_eq!(
        plan(Control::Rollback, &state(Status::RollbackInProgress, false)).ok(),
        Some(Call::AlreadyRollingBack)
    );
    assert_eq!(
        plan(Control::Abort, &running).ok(),
        Some(Call::Stop(StopServiceDeploymentStopType::Abort))
    );
}

#[test]
fn a_state_the_action_does_not_apply_to_is_bad_input() {
    let refused = |action, status, hook| {
        let err = plan(action, &state(status, hook)).expect_err("refused");
        assert_eq!(err.kind(), swa_gha::ExitKind::BadInput);
        err.to_string()
    };
    insta::assert_snapshot!(refused(Control::Continue, Status::InProgress, false), @"input `action` is `continue`, but service deployment arn:aws:ecs:us-east-1:123456789012:service-deployment/c/s/sd1 waits at no lifecycle hook (it is IN_PROGRESS); there is nothing to continue");
    insta::assert_snapshot!(refused(Control::Rollback, Status::Successful, false), @"input `action` is `rollback`, but service deployment arn:aws:ecs:us-east-1:123456789012:service-deployment/c/s/sd1 is SUCCESSFUL: it is not in flight; to go back to an earlier revision, deploy it (update-service `revision: previous`)");
    insta::assert_snapshot!(refused(Control::Rollback, Status::RollbackFailed, false), @"input `action` is `rollback`, but service deployment arn:aws:ecs:us-east-1:123456789012:service-deployment/c/s/sd1 is ROLLBACK_FAILED: it is not in flight; to go back to an earlier revision, deploy it (update-service `revision: previous`)");
    insta::assert_snapshot!(refused(Control::Abort, Status::Stopped, false), @"input `action` is `abort`, but service deployment arn:aws:ecs:us-east-1:123456789012:service-deployment/c/s/sd1 is STOPPED: it is not in flight; to go back to an earlier revision, deploy it (update-service `revision: previous`)");
}
