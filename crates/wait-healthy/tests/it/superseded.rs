//! A deployment replaced by another update of the service, not by a rollback.

use std::time::Duration;

use crate::{sandbox_at, snapshots, start_rollout, step, with_stderr};

#[test]
fn a_second_update_of_the_service_supersedes_the_watched_deployment() {
    // Slow enough that the first rollout is far from done when the second update comes.
    let sandbox = sandbox_at("healthy", 2.0);
    let first = start_rollout(&sandbox);
    let mut running = step(
        &sandbox,
        &[
            ("deployment-id", first.as_str()),
            ("timeout", "2m"),
            ("poll-interval", "500ms"),
        ],
    )
    .spawn();
    running.wait_for("Watching deployment", Duration::from_secs(60));
    // A second update-service run on the same service, to another revision (:5).
    let second = start_rollout(&sandbox);
    let run = with_stderr(running.finish(Duration::from_secs(120)));
    assert_eq!(run.code, 1, "{}", run.log);
    assert_eq!(run.outputs["result"], "superseded", "{}", run.log);
    assert_eq!(run.outputs["deployment-id"], first);
    assert!(
        run.errors().iter().any(|e| e.contains(&second)),
        "the error names the deployment that replaced it: {}",
        run.log
    );
    assert!(
        !sandbox
            .timeline()
            .iter()
            .any(|e| e.kind == "deployment-failed" || e.kind == "rollback-started"),
        "ECS failed or rolled back nothing"
    );
    snapshots(|| {
        insta::assert_snapshot!("superseded_error", run.errors().join("\n"));
        // Up to ECS's own events, which depend on how far the rollouts got.
        let summary = run.summary.split("#### Service events").next().unwrap();
        insta::assert_snapshot!("superseded_summary", summary);
    });
}
