//! Against the sandbox's GitHub: the production names, its run physics, its faults.

use swa_sandbox::Sandbox;

use swa_testing::{StepRun, run_step};

const BIN: &str = env!("CARGO_BIN_EXE_dispatch-frontend");
const FRONTEND: &str = "org/startupwebapp-frontend";

fn sandbox(scenario: &str) -> Sandbox {
    swa_testing::sandbox_at(scenario, 20.0)
}

async fn step(sb: &Sandbox, token: &str, inputs: &[(&str, &str)]) -> StepRun {
    let mut all = vec![
        ("repository", FRONTEND),
        ("token", token),
        ("frontend-ref", "fedcba9876543210fedcba9876543210fedcba98"),
        ("timeout", "2m"),
    ];
    for (k, v) in inputs {
        all.retain(|(n, _)| n != k);
        all.push((k, v));
    }
    let env: Vec<(String, String)> = sb
        .env()
        .into_iter()
        .chain([
            ("SWA_POLL_INTERVAL".to_string(), "100ms".to_string()),
            (
                "GITHUB_SHA".to_string(),
                "0123456789abcdef0123456789abcdef01234567".to_string(),
            ),
        ])
        .collect();
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let run = run_step(BIN, &all, &env_refs).await;
    run.assert_secret_hidden(token);
    run
}

fn github_ops(sb: &Sandbox) -> Vec<String> {
    sb.calls()
        .into_iter()
        .filter(|c| c.service == "github")
        .map(|c| c.operation)
        .collect()
}

#[tokio::test]
async fn sandbox_healthy_deploy_succeeds_on_the_first_run() {
    let sb = sandbox("healthy");
    let run = step(&sb, "ghs_sandboxHealthy00000000000000001", &[]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(run.output("conclusion"), "success");
    assert_eq!(run.output("attempts"), "1");
    assert!(
        run.output("run-url")
            .starts_with("https://github.com/org/startupwebapp-frontend/actions/runs/")
    );
    let ops = github_ops(&sb);
    assert_eq!(
        ops.iter().filter(|o| *o == "dispatches").count(),
        1,
        "{ops:?}"
    );
    assert!(ops.iter().any(|o| o == "list-runs"), "{ops:?}");
    assert!(ops.iter().any(|o| o == "get-run"), "{ops:?}");
    assert!(!ops.iter().any(|o| o.starts_with("rerun")), "{ops:?}");
    let dispatch = sb
        .calls()
        .into_iter()
        .find(|c| c.operation == "dispatches")
        .unwrap();
    let text = dispatch.request.to_string();
    assert!(
        text.contains("fedcba9876543210fedcba9876543210fedcba98"),
        "{text}"
    );
    assert!(text.contains("correlation_id"), "{text}");
}

#[tokio::test]
async fn sandbox_a_frontend_that_fails_once_is_re_run_and_succeeds() {
    let sb = sandbox("frontend-fails-once");
    let run = step(
        &sb,
        "ghs_sandboxFailsOnce0000000000000002",
        &[("workflow", "deploy-frontend.yml")],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(run.output("conclusion"), "success");
    assert_eq!(run.output("attempts"), "2");
    let ops = github_ops(&sb);
    assert_eq!(
        ops.iter().filter(|o| *o == "dispatches").count(),
        1,
        "{ops:?}"
    );
    assert_eq!(
        ops.iter().filter(|o| *o == "rerun-failed-jobs").count(),
        1,
        "{ops:?}"
    );
    assert!(ops.iter().any(|o| o == "list-workflow-runs"), "{ops:?}");
    assert!(
        run.summary.contains("| 2 | re-run of failed jobs |"),
        "{}",
        run.summary
    );
}

#[tokio::test]
async fn sandbox_flaky_github_is_retried_honouring_retry_after() {
    let sb = sandbox("github-flaky");
    // The dispatch answered 502 was not taken (the sandbox accepts nothing it answers 502):
    // after a short grace without a run, it is sent again.
    let run = step(
        &sb,
        "ghs_sandboxFlaky000000000000000000003",
        &[("dispatch-grace", "2s")],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(run.output("conclusion"), "success");
    assert!(
        run.log.contains("502 Bad Gateway (Retry-After: 1)"),
        "{}",
        run.log
    );
    assert!(
        run.log.contains("429 Too Many Requests (Retry-After: 1)"),
        "{}",
        run.log
    );
    let statuses: Vec<u16> = sb
        .calls()
        .into_iter()
        .filter(|c| c.operation == "dispatches")
        .map(|c| c.status)
        .collect();
    assert_eq!(statuses.last(), Some(&204), "{statuses:?}");
}

#[tokio::test]
async fn sandbox_a_missing_repository_and_a_bad_token_are_named() {
    let sb = sandbox("healthy");
    let run = step(
        &sb,
        "ghs_sandboxMissing00000000000000004",
        &[("repository", "org/missing")],
    )
    .await;
    assert_eq!(run.code, 2, "{}", run.log);
    assert!(run.errors()[0].starts_with("::error title=Invalid input `repository`::input `repository` `org/missing` was not found"), "{}", run.log);
    let run = step(&sb, "bad-token", &[]).await;
    assert_eq!(run.code, 2, "{}", run.log);
    assert!(
        run.errors()[0].starts_with("::error title=Invalid input `token`::"),
        "{}",
        run.log
    );
    assert!(
        run.errors()[0].contains("401 Bad credentials"),
        "{}",
        run.log
    );
    // Neither started anything.
    assert!(
        sb.calls().iter().all(|c| c.status >= 400),
        "{:?}",
        sb.calls()
    );
}

#[tokio::test]
async fn sandbox_bad_input_makes_no_call() {
    let sb = sandbox("healthy");
    for inputs in [
        vec![("client-payload", "{not json")],
        vec![("repository", "no-slash")],
        vec![("api-url", "ftp://example.com")],
    ] {
        let run = step(&sb, "ghs_sandboxBadInput0000000000000005", &inputs).await;
        assert_eq!(run.code, 2, "{inputs:?}: {}", run.log);
    }
    assert!(sb.calls().is_empty(), "{:?}", sb.calls());
}

/// A backend-only change: the frontend commit asked for is the one live already, so nothing is
/// dispatched, and the step says so; `skip-unchanged: false` dispatches all the same.
#[tokio::test]
async fn an_unchanged_frontend_is_not_dispatched_again() {
    let sb = sandbox("healthy");
    let live = "fedcba9876543210fedcba9876543210fedcba98";
    let run = step(
        &sb,
        "ghs_sandboxUnchanged000000000000001",
        &[("live-ref", live)],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(run.output("skipped"), "true");
    assert!(github_ops(&sb).is_empty(), "{:?}", github_ops(&sb));
    let shown: Vec<&str> = run
        .log
        .lines()
        .filter(|l| !l.starts_with("::add-mask::"))
        .collect();
    insta::assert_snapshot!(shown.join("\n"), @"::notice::Frontend fedcba9876543210fedcba9876543210fedcba98 is live already: nothing dispatched to org/startupwebapp-frontend (skip-unchanged)");
    insta::assert_snapshot!(run.summary, @r"
    ### Frontend deploy: org/startupwebapp-frontend unchanged

    <code>fedcba9876543210fedcba9876543210fedcba98</code> is live already; nothing was dispatched.
    ");

    let changed = step(
        &sb,
        "ghs_sandboxUnchanged000000000000002",
        &[("live-ref", "0000000000000000000000000000000000000001")],
    )
    .await;
    assert_eq!(changed.code, 0, "{}", changed.log);
    assert_eq!(changed.output("skipped"), "false");
    let forced = step(
        &sb,
        "ghs_sandboxUnchanged000000000000003",
        &[("live-ref", live), ("skip-unchanged", "false")],
    )
    .await;
    assert_eq!(forced.code, 0, "{}", forced.log);
    assert_eq!(forced.output("skipped"), "false");
    let dispatches = github_ops(&sb)
        .iter()
        .filter(|o| *o == "dispatches")
        .count();
    assert_eq!(dispatches, 2);

    let bad = step(
        &sb,
        "ghs_sandboxUnchanged000000000000004",
        &[("live-ref", "main branch")],
    )
    .await;
    assert_eq!(bad.code, 2, "{}", bad.log);
    insta::assert_snapshot!(bad.errors().join("\n"), @"::error title=Invalid input `live-ref`::input `live-ref` `main branch` is not a commit SHA or ref name");
    assert_eq!(
        github_ops(&sb)
            .iter()
            .filter(|o| *o == "dispatches")
            .count(),
        2
    );
}
