//! The cases. Each runs a caller repository's entry workflow under act against a sandbox of its
//! own, and checks the log, the sandbox's recorded calls and its GitHub deployment records.
//!
//! - healthy: examples/app deploy.yml on push deploys (check, test beside the frontend's checkout,
//!   migrate, update, wait, the frontend commit that was tested, verify with
//!   examples/startupwebapp-smoke.yml and the smoke user's secrets; one UpdateService, no
//!   rollback); then rollback.yml (workflow_dispatch) takes both halves back to the deployment
//!   before.
//! - crash-loop: the push deploy fails at wait-healthy, the log says why, and the rollback job
//!   takes the backend back; a caller passing `auto-rollback: false` gets no rollback job.
//! - login-broken: the rollout is healthy, the plan's verification finds the login answering 500,
//!   and the rollback job takes both halves back: the backend to the revision it replaced, the
//!   frontend to the commit the live deployment record names.
//! - blue-green: a blue/green service with a PAUSE hook after test traffic and the caller's
//!   TEST_URL: the plan's checks pass on the test listener and the deploy continues to production
//!   (one ContinueServiceDeployment CONTINUE, no rollback job); with the new revision failing on
//!   the test listener, the gate answers the hook with ROLLBACK, the deploy fails saying
//!   production never saw it, and nothing else is deployed (no rollback job, no frontend).
//! - frontend: examples/frontend deploy.yml on repository_dispatch uploads the site to the
//!   sandbox's S3, a second run uploads nothing, and a caller passing `delete: false` deletes
//!   nothing.
//! - release layout: the tree release.yml publishes, built with a made-up digest.

use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, ensure};
use regex::escape;
use sha2::{Digest, Sha256};
use swa_sandbox::Sandbox;

use crate::harness::{
    Act, E2e, calls, check_record, commit_fixture, copy, dispatched, edit_lines, git, head,
    newest_record, output, run, say, text,
};

/// The task definition the deploys register, and the one they replace.
const REVISION_4: &str =
    "arn:aws:ecs:us-east-1:123456789012:task-definition/startupwebapp-service-task:4";
const REVISION_3: &str =
    "arn:aws:ecs:us-east-1:123456789012:task-definition/startupwebapp-service-task:3";
/// The sandbox's smoke user's password, as the caller's secrets give it.
const SMOKE_PASSWORD: &str = "sandbox-password";

/// The push of the commit checked out in `repo` to main: the image of that commit is pushed,
/// and the caller's deploy.yml starts deploy-production.yml@v1.
fn deploy_on_push(
    e2e: &E2e,
    sandbox: &Sandbox,
    name: &str,
    repo: &Path,
    extra: &[&str],
) -> Result<Act> {
    e2e.push_image(sandbox, &head(repo)?)?;
    e2e.act(sandbox, name, repo, "push", "deploy.yml", extra)
}

/// The frontend commit the sandbox's record of revision 3 (the deploy before) names.
fn frontend_of_revision_3(sandbox: &Sandbox) -> String {
    let record = newest_record(sandbox, "/payload/task_definition_arn", REVISION_3);
    text(&record, "/payload/frontend_ref")
}

fn count(sandbox: &Sandbox, operation: &str, want: usize, what: &str) -> Result<()> {
    let got = calls(sandbox, operation);
    ensure!(
        got == want,
        "{what}: {operation} was called {got} times, not {want}"
    );
    Ok(())
}

fn job_succeeded(job: &str) -> String {
    format!(r"\[Deploy/Deploy production/{job} *\] .*Job succeeded")
}

pub fn healthy(e2e: &mut E2e) -> Result<()> {
    say(
        "healthy: the application's deploy.yml on push, verified by examples/startupwebapp-smoke.yml",
    );
    let sandbox = e2e.sandbox("healthy")?;
    let frontend_url = format!("FRONTEND_URL={}", sandbox.app_url());
    let password = format!("SMOKE_PASSWORD={SMOKE_PASSWORD}");
    let deploy = deploy_on_push(
        e2e,
        &sandbox,
        "deploy-healthy",
        &e2e.app,
        &[
            "--var",
            &frontend_url,
            "--var",
            "SMOKE_CHECKS=.github/smoke-checks.yml",
            "-s",
            "SMOKE_USERNAME=smoke-test",
            "-s",
            &password,
        ],
    )?;
    deploy.succeeded("the healthy deploy failed")?;
    for job in [
        "Check the inputs",
        "Test",
        "Build the image",
        "Migrate",
        "Deploy the backend",
        "Deploy the frontend",
        "Verify",
    ] {
        deploy.expect(&job_succeeded(job), &format!("job {job} did not succeed"))?;
    }
    deploy.refuse(
        r"\[Deploy/Deploy production/Roll back *\]",
        "the healthy deploy rolled back",
    )?;
    deploy.expect(
        "Ran the application tests: OK",
        "the application's tests did not run",
    )?;
    // The frontend that was tested is the frontend that was dispatched: the head of its default
    // branch when the test job checked it out.
    let tested = head(&e2e.frontend_repo)?;
    deploy.expect(
        &format!("Ran the functional tests against the frontend at {tested}: OK"),
        "the functional tests did not run against the frontend's head",
    )?;
    deploy.expect(
        &format!("::set-output:: frontend-commit={tested}$"),
        "the test job did not record the frontend commit",
    )?;
    let sent = dispatched(&sandbox);
    ensure!(
        sent == [tested.clone()],
        "the frontend dispatched ({sent:?}) is not the one tested ({tested})"
    );
    eprintln!("frontend tested and dispatched: {tested}");
    // The deploy's record: in progress from the update, success once verified, with what went
    // live.
    check_record(
        &sandbox,
        "deploy",
        "in_progress,success",
        &[
            ("/payload/frontend_ref", &tested),
            ("/payload/task_definition_arn", REVISION_4),
            ("/ref", &head(&e2e.app)?),
        ],
    )?;
    deploy.expect(
        "Success - Main Update the service",
        "update-service did not run",
    )?;
    deploy.expect(
        "Success - Main Wait until healthy",
        "wait-healthy did not run",
    )?;
    count(&sandbox, "UpdateService", 1, "the healthy deploy")?;
    // The checks file ran whole: the smoke user logged in and its session read the orders.
    deploy.expect(
        "Success - Main The smoke checks",
        "the smoke checks file did not pass",
    )?;
    for operation in ["orders", "stripe-key", "asset"] {
        count(&sandbox, operation, 1, "the smoke checks")?;
    }
    deploy.refuse(SMOKE_PASSWORD, "the smoke user's password is in the log")?;
    e2e.deploy_seconds = Some(deploy.seconds);

    say("healthy: the application's rollback.yml (workflow_dispatch)");
    let rollback = e2e.act(
        &sandbox,
        "rollback",
        &e2e.app,
        "workflow_dispatch",
        "rollback.yml",
        &[
            "--input",
            "revision=previous",
            "--input",
            "frontend-ref=previous",
            "--input",
            "reason=e2e: roll back the deploy",
        ],
    )?;
    rollback.succeeded("the rollback failed")?;
    // `previous` of the frontend: the commit the deploy before the live one (revision 3) shipped.
    let previous_frontend = frontend_of_revision_3(&sandbox);
    ensure!(
        dispatched(&sandbox).last() == Some(&previous_frontend),
        "the rollback did not dispatch the previous frontend ({previous_frontend})"
    );
    check_record(
        &sandbox,
        "rollback",
        "in_progress,success",
        &[
            ("/payload/frontend_ref", &previous_frontend),
            ("/payload/task_definition_arn", REVISION_3),
        ],
    )?;
    rollback.expect(
        &format!(
            r"Live before \(deployment [0-9]+\) \| backend .{}",
            escape(REVISION_4)
        ),
        "the summary does not say what was live",
    )?;
    rollback.expect(
        "Success - Main Roll the backend back",
        "the rollback's update-service did not run",
    )?;
    rollback.expect(
        r"Rolled back by .*startupwebapp-service-task:4 -> .*startupwebapp-service-task:3 \(success\)",
        "the rollback did not go from the deployed revision 4 back to revision 3",
    )?;
    count(&sandbox, "UpdateService", 2, "the deploy and the rollback")
}

pub fn crash_loop(e2e: &E2e) -> Result<()> {
    say("crash-loop: the application's deploy.yml on push (auto-rollback on)");
    let sandbox = e2e.sandbox("crash-loop")?;
    let deploy = deploy_on_push(e2e, &sandbox, "deploy-crash-loop", &e2e.app, &[])?;
    deploy.failed("the crash-loop deploy succeeded")?;
    deploy.expect(
        "Failure - Main Wait until healthy",
        "the deploy did not fail at wait-healthy",
    )?;
    deploy.expect(
        r"\[Deploy/Deploy production/Deploy the backend *\] .*::error",
        "wait-healthy gave no ::error:: reason",
    )?;
    deploy.expect(
        "::error title=Deployment rolled-back::.*rolled back to startupwebapp-service-task:3",
        "wait-healthy did not say the service rolled back",
    )?;
    deploy.expect(
        r"stopped \(EssentialContainerExited: .*startupwebapp exited 1",
        "the log does not show why the tasks stopped",
    )?;
    deploy.expect(
        r"\[Deploy/Deploy production/Deploy the backend *\] +\| +Traceback",
        "the log does not show the failed container's last lines",
    )?;
    deploy.refuse(
        r"\[Deploy/Deploy production/Verify *\] .*Main",
        "verify ran after a failed rollout",
    )?;
    deploy.expect(
        &job_succeeded("Roll back"),
        "the deploy's rollback job did not succeed",
    )?;
    // ECS's circuit breaker puts revision 3 back itself: the rollback job waits for that
    // rollback while it is in flight, or, once it is over, finds revision 3 running. Nothing is
    // deployed again either way.
    if deploy
        .matches("Rolled back: service deployment .* is ROLLBACK_SUCCESSFUL")?
        .is_none()
    {
        deploy.expect(
            "Nothing to roll back: service deployment .* is ROLLBACK_SUCCESSFUL, not in flight",
            "the rollback job did not find ECS's rollback over",
        )?;
        deploy.expect(
            "Success - Main Wait until the rollback is healthy",
            "the rollback was not confirmed healthy",
        )?;
        deploy.expect(
            r"already runs this task definition \(startupwebapp-service-task:3\)",
            "the rollback job did not find revision 3 running",
        )?;
    }
    count(&sandbox, "UpdateService", 1, "the crash-loop deploy")?;
    count(
        &sandbox,
        "StopServiceDeployment",
        0,
        "ECS rolled back on its own",
    )?;
    count(&sandbox, "dispatches", 0, "a failed rollout")?;
    check_record(&sandbox, "deploy", "in_progress,failure", &[])?;
    check_record(&sandbox, "rollback", "in_progress,success", &[])?;
    // The annotations as act shows them (a ❗ line), not the scripts that could print one.
    let errors = deploy
        .log
        .lines()
        .filter(|l| l.contains("❗") && l.contains("::error"));
    for line in errors.take(3) {
        eprintln!("  reason shown: {line}");
    }
    drop(sandbox);

    say("crash-loop: a caller that passes auto-rollback: false, on push");
    let caller = e2e.work.join("no-rollback/startupwebapp");
    fs::create_dir_all(&caller)?;
    for file in [".github", "requirements.txt", "manage.py"] {
        copy(&e2e.app.join(file), &caller)?;
    }
    edit_lines(
        &caller.join(".github/workflows/deploy.yml"),
        "      auto-rollback: ",
        |_| "      auto-rollback: false".into(),
    )?;
    commit_fixture(&caller)?;
    let sandbox = e2e.sandbox("crash-loop")?;
    let deploy = deploy_on_push(e2e, &sandbox, "deploy-no-rollback", &caller, &[])?;
    deploy.failed("the crash-loop deploy succeeded")?;
    deploy.expect(
        "Failure - Main Wait until healthy",
        "the deploy did not fail at wait-healthy",
    )?;
    deploy.refuse(
        r"\[Deploy/Deploy production/Roll back *\] .*Main",
        "a rollback job ran with auto-rollback: false",
    )?;
    count(&sandbox, "UpdateService", 1, "with auto-rollback: false")
}

/// A release whose login answers 500: the rollout is healthy, the plan's checks find the login
/// broken, and the automatic rollback puts both halves back.
pub fn login_broken(e2e: &E2e) -> Result<()> {
    say("login-broken: the plan's checks fail the verification, and the backend rolls back");
    let sandbox = e2e.sandbox("login-broken")?;
    let frontend_url = format!("FRONTEND_URL={}", sandbox.app_url());
    let deploy = deploy_on_push(
        e2e,
        &sandbox,
        "deploy-login-broken",
        &e2e.app,
        &["--var", &frontend_url],
    )?;
    deploy.failed("a deploy with a broken login succeeded")?;
    deploy.expect(
        &job_succeeded("Deploy the backend"),
        "the rollout itself should have been healthy",
    )?;
    deploy.expect(
        "Failure - Main The plan's checks",
        "the verification did not fail",
    )?;
    deploy.expect(
        "Login refuses a wrong password.*expected status 400 or 401 or 403, got 500",
        "the verification did not name the login check",
    )?;
    deploy.expect(
        &job_succeeded("Roll back"),
        "the rollback job did not succeed",
    )?;
    deploy.expect(
        "Success - Main Wait until the rollback is healthy",
        "the rollback was not confirmed healthy",
    )?;
    count(&sandbox, "UpdateService", 2, "the deploy and its rollback")?;
    // Both halves: the frontend goes back to the commit of the deployment that was live before
    // (the sandbox's record of revision 3), after the tested one had been dispatched.
    let live_frontend = frontend_of_revision_3(&sandbox);
    let sent = dispatched(&sandbox);
    let want = [head(&e2e.frontend_repo)?, live_frontend.clone()];
    ensure!(
        sent == want,
        "the frontend dispatches were {sent:?}, not the tested commit then {live_frontend}"
    );
    deploy.expect(
        "Success - Main Roll the frontend back",
        "the frontend was not rolled back",
    )?;
    check_record(&sandbox, "deploy", "in_progress,failure", &[])?;
    check_record(
        &sandbox,
        "rollback",
        "in_progress,success",
        &[("/payload/frontend_ref", &live_frontend)],
    )?;
    eprintln!("both halves rolled back: frontend {live_frontend}");
    Ok(())
}

/// The hook answers the deploy sent: ContinueServiceDeployment's `action`s, in order.
fn hook_answers(sandbox: &Sandbox) -> Vec<String> {
    sandbox
        .calls()
        .iter()
        .filter(|c| c.operation == "ContinueServiceDeployment")
        .map(|c| {
            c.request["action"]
                .as_str()
                .unwrap_or("CONTINUE")
                .to_string()
        })
        .collect()
}

/// The push deploy `name` against a sandbox of `scenario`, the caller passing its test listener
/// as TEST_URL, and `extra` act arguments.
fn deploy_with_test_listener(
    e2e: &E2e,
    scenario: &str,
    name: &str,
    extra: &[&str],
) -> Result<(Sandbox, Act)> {
    let sandbox = e2e.sandbox(scenario)?;
    let frontend_url = format!("FRONTEND_URL={}", sandbox.app_url());
    let test_url = format!("TEST_URL={}", sandbox.test_url());
    let vars = [&["--var", &frontend_url, "--var", &test_url], extra].concat();
    let deploy = deploy_on_push(e2e, &sandbox, name, &e2e.app, &vars)?;
    Ok((sandbox, deploy))
}

pub fn blue_green(e2e: &E2e) -> Result<()> {
    say("blue-green: smoke-tested on the test listener, then continued to production traffic");
    let (sandbox, deploy) = deploy_with_test_listener(e2e, "blue-green", "deploy-blue-green", &[])?;
    deploy.succeeded("the blue/green deploy failed")?;
    deploy.expect(
        "Success - Main Smoke test on test traffic",
        "the test listener was not smoke-tested",
    )?;
    deploy.expect(
        "Success - Main Continue to production traffic, or roll back",
        "the deployment was not continued",
    )?;
    deploy.expect(&job_succeeded("Verify"), "the verification did not pass")?;
    deploy.refuse(
        r"\[Deploy/Deploy production/Roll back *\]",
        "the healthy blue/green deploy rolled back",
    )?;
    count(&sandbox, "UpdateService", 1, "one deploy")?;
    let answers = hook_answers(&sandbox);
    ensure!(
        answers == ["CONTINUE"],
        "the hook was answered {answers:?}, not CONTINUE once"
    );

    say("blue-green-test-fails: the gate rolls back before production traffic moves");
    let (sandbox, deploy) = deploy_with_test_listener(
        e2e,
        "blue-green-test-fails",
        "deploy-blue-green-test-fails",
        &[],
    )?;
    deploy.failed("a deploy failing on the test listener succeeded")?;
    deploy.expect(
        "Rolled back on test traffic",
        "the deploy did not say it rolled back on test traffic",
    )?;
    deploy.refuse(
        r"\[Deploy/Deploy production/Roll back *\]",
        "the rollback job ran after ECS had rolled back",
    )?;
    count(&sandbox, "UpdateService", 1, "the deploy only")?;
    let answers = hook_answers(&sandbox);
    ensure!(
        answers == ["ROLLBACK"],
        "the hook was answered {answers:?}, not ROLLBACK once"
    );
    let sent = dispatched(&sandbox);
    ensure!(sent.is_empty(), "the frontend was dispatched: {sent:?}");
    ensure!(
        !sandbox
            .timeline()
            .iter()
            .any(|e| e.kind == "lifecycle-stage" && e.detail == "PRODUCTION_TRAFFIC_SHIFT"),
        "production traffic moved to the new revision"
    );
    check_record(&sandbox, "deploy", "in_progress,failure", &[])?;

    say("blue-green in the bake: the verification fails, the rollback job rolls back in flight");
    let (sandbox, deploy) = deploy_with_test_listener(
        e2e,
        "blue-green,production-login-broken,long-bake",
        "deploy-bake-fails",
        &["--var", "DEPLOY_WAIT_UNTIL=serving"],
    )?;
    deploy.failed("a deploy with a broken login succeeded")?;
    deploy.expect(
        "Success - Main Smoke test on test traffic",
        "the test listener's checks did not pass",
    )?;
    deploy.expect(
        "Failure - Main The plan's checks",
        "the verification did not fail",
    )?;
    deploy.expect(
        "Success - Main Roll the deployment back in flight",
        "the deployment was not rolled back in flight",
    )?;
    deploy.expect(&job_succeeded("Roll back"), "the rollback job failed")?;
    count(
        &sandbox,
        "UpdateService",
        1,
        "the deploy only: nothing redeployed",
    )?;
    count(
        &sandbox,
        "StopServiceDeployment",
        1,
        "one rollback in flight",
    )?;
    let back = sandbox.state();
    let newest = back["serviceDeployments"]
        .as_array()
        .and_then(|a| a.last().cloned())
        .unwrap_or_default();
    ensure!(
        newest["status"] == "ROLLBACK_SUCCESSFUL",
        "the service deployment is not rolled back: {newest}"
    );
    check_record(&sandbox, "rollback", "in_progress,success", &[])?;

    say(
        "blue-green after the bake: the verification fails, the rollback job redeploys through the hook",
    );
    let (sandbox, deploy) = deploy_with_test_listener(
        e2e,
        "blue-green,production-login-broken",
        "deploy-verify-fails",
        &[],
    )?;
    deploy.failed("a deploy with a broken login succeeded")?;
    deploy.expect(
        "Failure - Main The plan's checks",
        "the verification did not fail",
    )?;
    deploy.expect(
        "Nothing to roll back: service deployment .* is SUCCESSFUL, not in flight",
        "control-deployment did not find the deployment over",
    )?;
    deploy.expect(
        "Success - Main Continue the rollback to production traffic",
        "the rollback's deployment was not continued at its hook",
    )?;
    deploy.expect(&job_succeeded("Roll back"), "the rollback job failed")?;
    count(&sandbox, "UpdateService", 2, "the deploy and its rollback")?;
    count(
        &sandbox,
        "StopServiceDeployment",
        0,
        "no rollback in flight",
    )?;
    let answers = hook_answers(&sandbox);
    ensure!(
        answers == ["CONTINUE", "CONTINUE"],
        "the hooks were answered {answers:?}, not CONTINUE for the deploy and for its rollback"
    );
    check_record(&sandbox, "rollback", "in_progress,success", &[])?;
    Ok(())
}

/// The tree release.yml publishes as v1: every action at the root, its image pinned by digest,
/// the reusable workflows beside them. Built with a made-up digest; nothing is tagged or pushed.
pub fn release_layout(e2e: &E2e) -> Result<()> {
    say("release layout");
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(b"e2e")));
    let published = output(
        Command::new(e2e.root.join("action-runner/publish-actions.sh"))
            .current_dir(&e2e.root)
            .args([&digest, "v1.0.0"]),
    )?;
    let commit = published
        .lines()
        .filter(|l| l.contains("commit"))
        .filter_map(|l| l.split_whitespace().last())
        .next_back()
        .context("publish-actions.sh printed no commit")?;
    let tree = e2e.work.join("published");
    let archive = e2e.work.join("published.tar");
    fs::create_dir_all(&tree)?;
    run(git(&e2e.root)
        .arg("archive")
        .arg("-o")
        .arg(&archive)
        .arg(commit))?;
    run(Command::new("tar")
        .arg("-xf")
        .arg(&archive)
        .arg("-C")
        .arg(&tree))?;
    let pinned = format!("image: docker://ghcr.io/org/swa-actions@{digest}");
    for action in fs::read_dir(e2e.root.join("actions"))? {
        let action = action?.path();
        if !action.join("action.yml").is_file() {
            continue;
        }
        let name = action.file_name().unwrap_or_default().to_string_lossy();
        let yml = fs::read_to_string(tree.join(&*name).join("action.yml"))
            .with_context(|| format!("the published tree has no {name}/action.yml"))?;
        ensure!(
            yml.contains(&pinned),
            "published {name}/action.yml does not pin the image digest"
        );
        ensure!(
            tree.join(&*name).join("README.md").is_file(),
            "published {name} has no README"
        );
    }
    for workflow in [
        "deploy-production",
        "rollback-production",
        "deploy-frontend",
    ] {
        ensure!(
            tree.join(format!(".github/workflows/{workflow}.yml"))
                .is_file(),
            "the published tree lacks {workflow}.yml"
        );
    }
    ensure!(
        !tree.join("Cargo.toml").exists(),
        "the published tree carries the sources"
    );
    eprintln!("published tree of {commit}: {} files", count_files(&tree)?);
    Ok(())
}

fn count_files(dir: &Path) -> Result<usize> {
    let mut n = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        n += if entry.file_type()?.is_dir() {
            count_files(&entry.path())?
        } else {
            1
        };
    }
    Ok(n)
}

/// The frontend's side: the frontend repository's deploy.yml exactly as examples/frontend holds
/// it starts deploy-frontend.yml@v1 on repository_dispatch; it checks out the commit in the
/// payload, lints, tests, and sync-frontend uploads the site to the sandbox's S3. A second run
/// uploads nothing. A caller that passes `delete: false` leaves an object the site no longer has.
pub fn frontend(e2e: &mut E2e) -> Result<()> {
    say("frontend: the frontend's deploy.yml on repository_dispatch");
    let sandbox = e2e.sandbox("healthy")?;
    let fe = e2e.work.join("startupwebapp-frontend");
    let _ = fs::remove_dir_all(&fe);
    copy(&e2e.root.join("tests/e2e/startupwebapp-frontend"), &fe)?;
    copy(&e2e.root.join("examples/frontend/.github"), &fe)?;
    // The frontend's own commands, as its variables would give them on GitHub: the example
    // passes none, so the defaults (npm) are replaced here by ones this machine has.
    let workflow = fe.join(".github/workflows/deploy.yml");
    edit_lines(&workflow, "      delete: ", |line| {
        format!(
            "{line}\n      source: site\n      install-command: \"true\"\n      \
             lint-command: test -f site/index.html\n      \
             test-command: grep -q assets/app.js site/index.html"
        )
    })?;
    commit_fixture(&fe)?;
    let event = e2e.work.join("frontend-event.json");
    let dispatch = |suffix: &str| -> Result<()> {
        let payload = serde_json::json!({
            "action": "deploy-production",
            "client_payload": {
                "correlation_id": format!("e2e-{}{suffix}", std::process::id()),
                "frontend_ref": head(&fe)?,
            },
        });
        Ok(fs::write(&event, payload.to_string())?)
    };
    dispatch("")?;
    // The checkout of the payload's `ref` exports exactly that commit of this repository.
    e2e.frontend_dir = fe.clone();
    let event_arg = event.to_string_lossy().into_owned();
    let mut runs = Vec::new();
    for n in 1..=2 {
        let name = format!("frontend-{n}");
        let run = e2e.act(
            &sandbox,
            &name,
            &fe,
            "repository_dispatch",
            "deploy.yml",
            &["-e", &event_arg],
        )?;
        run.succeeded(&format!("deploy-frontend run {n} failed"))?;
        run.expect("Success - Main Upload", "sync-frontend did not run")?;
        runs.push(run);
    }
    runs[0].expect(
        &format!("checked out {}", head(&fe)?),
        "the frontend commit was not checked out",
    )?;
    runs[0].expect("Success - Main Lint", "the lint command did not pass")?;
    runs[0].expect(
        "::set-output:: uploaded=2$",
        "the first run did not upload the 2 files",
    )?;
    runs[1].expect(
        "::set-output:: uploaded=0$",
        "the second run uploaded again",
    )?;
    runs[1].expect(
        "::set-output:: skipped=2$",
        "the second run did not skip the 2 unchanged files",
    )?;

    say("frontend: a caller that passes delete: false");
    run(git(&fe).args(["rm", "--quiet", "site/assets/app.js"]))?;
    fs::write(fe.join("site/index.html"), "<!doctype html>\n")?;
    edit_lines(&workflow, "      delete: ", |_| {
        "      delete: false".into()
    })?;
    edit_lines(&workflow, "      test-command: ", |_| {
        "      test-command: \"true\"".into()
    })?;
    run(git(&fe).args(["commit", "--quiet", "-am", "no app.js"]))?;
    dispatch("-3")?;
    let deletes = |s: &Sandbox| calls(s, "DeleteObject") + calls(s, "DeleteObjects");
    let deletes_before = deletes(&sandbox);
    let keep = e2e.act(
        &sandbox,
        "frontend-keep",
        &fe,
        "repository_dispatch",
        "deploy.yml",
        &["-e", &event_arg],
    )?;
    keep.succeeded("deploy-frontend with delete: false failed")?;
    keep.expect("::set-output:: deleted=0$", "delete: false deleted objects")?;
    ensure!(
        deletes(&sandbox) == deletes_before,
        "with delete: false the sandbox's S3 was asked to delete"
    );
    e2e.frontend_dir = e2e.frontend_repo.clone();
    Ok(())
}
