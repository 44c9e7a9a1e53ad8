//! record-deployment run as a workflow step runs it, against the sandbox's GitHub, which starts
//! with the production deploys of revisions 2 and 3 recorded (3 is live).
#![allow(clippy::unwrap_used)]

use swa_sandbox::Sandbox;
use swa_testing::{Step, StepRun};

const BIN: &str = env!("CARGO_BIN_EXE_record-deployment");
const APP: &str = "org/startupwebapp";
const TOKEN: &str = "ghs_recordDeployment000000000000001";
const SHA: &str = "4444444444444444444444444444444444444444";
const REVISION_4: &str =
    "arn:aws:ecs:us-east-1:123456789012:task-definition/startupwebapp-service-task:4";
const REVISION_3: &str =
    "arn:aws:ecs:us-east-1:123456789012:task-definition/startupwebapp-service-task:3";
const FRONTEND: &str = "fe00000000000000000000000000000000000004";

/// The step as a workflow runs it: the repository and token first, `inputs` over them, the
/// sandbox's exports and the runner's variables.
async fn step(sb: &Sandbox, inputs: &[(&str, &str)]) -> StepRun {
    let run = Step::new(BIN)
        .inputs(&[("repository", APP), ("token", TOKEN)])
        .inputs(inputs)
        .envs(sb.env())
        .envs([
            ("GITHUB_SHA", SHA),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_REPOSITORY", APP),
            ("GITHUB_RUN_ID", "9100000001"),
            ("GITHUB_ACTOR", "octocat"),
        ])
        .run_async()
        .await;
    run.assert_secret_hidden(TOKEN);
    swa_testing::check_commands(&run.log).unwrap();
    run
}

fn github_ops(sb: &Sandbox) -> Vec<String> {
    sb.calls()
        .into_iter()
        .filter(|c| c.service == "github")
        .map(|c| c.operation)
        .collect()
}

/// Asserts snapshots with the times and ids that vary between runs replaced.
fn snapshots(assertions: impl FnOnce()) {
    let mut settings = swa_testing::snapshot_settings();
    settings.add_filter(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\b", "[TIME]");
    settings.add_filter(r"\b24\d{8}\b", "[ID]");
    settings.bind(assertions);
}

/// The log without the masks the runner consumes.
fn shown(run: &StepRun) -> String {
    run.log
        .lines()
        .filter(|l| !l.starts_with("::add-mask::"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn a_verified_deploy_becomes_the_live_one_and_the_one_before_it_the_previous() {
    let sb = swa_testing::sandbox("healthy");
    let live = step(&sb, &[("mode", "find")]).await;
    assert_eq!(live.code, 0, "{}", live.log);
    assert_eq!(live.output("found"), "true");
    assert_eq!(live.output("task-definition-arn"), REVISION_3);
    let frontend_3 = live.output("frontend-ref").to_string();
    assert_eq!(frontend_3.len(), 40);

    let start = step(
        &sb,
        &[
            ("mode", "start"),
            ("task-definition-arn", REVISION_4),
            (
                "image",
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp@sha256:4444",
            ),
            ("frontend-ref", FRONTEND),
            (
                "destructive-migrations",
                "orders.0042_drop_total, user.0007_rename_email",
            ),
            ("description", "Deploy of 4444444"),
        ],
    )
    .await;
    assert_eq!(start.code, 0, "{}", start.log);
    let id = start.output("deployment-id").to_string();
    let written: Vec<String> = sb
        .calls()
        .into_iter()
        .filter(|c| c.is_mutating())
        .map(|c| c.operation)
        .collect();
    assert_eq!(written, ["create-deployment", "create-deployment-status"]);
    // Not live while in progress.
    let during = step(&sb, &[("mode", "find")]).await;
    assert_eq!(during.output("task-definition-arn"), REVISION_3);

    let finish = step(
        &sb,
        &[
            ("mode", "finish"),
            ("deployment-id", &id),
            ("result", "success"),
            ("description", "verified"),
            ("environment-url", "https://startupwebapp.com"),
        ],
    )
    .await;
    assert_eq!(finish.code, 0, "{}", finish.log);

    let live = step(&sb, &[("mode", "find")]).await;
    assert_eq!(live.output("deployment-id"), id);
    assert_eq!(live.output("ref"), SHA);
    assert_eq!(live.output("frontend-ref"), FRONTEND);
    assert_eq!(
        live.output("destructive-migrations"),
        "orders.0042_drop_total,user.0007_rename_email"
    );
    let previous = step(&sb, &[("mode", "find"), ("which", "previous")]).await;
    assert_eq!(previous.output("task-definition-arn"), REVISION_3);
    assert_eq!(previous.output("frontend-ref"), frontend_3);

    // What GitHub holds: the payload and the two statuses, with the run's link.
    let state: serde_json::Value = reqwest::get(format!("{}/_sandbox/state", sb.aws_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let record = state["githubDeployments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"].as_u64().map(|n| n.to_string()) == Some(id.clone()))
        .unwrap();
    assert_eq!(record["task"], "deploy:swa-actions");
    assert_eq!(record["ref"], SHA);
    assert_eq!(record["payload"]["kind"], "deploy");
    assert_eq!(record["payload"]["actor"], "octocat");
    assert_eq!(record["payload"]["run_id"], "9100000001");
    assert_eq!(
        record["states"],
        serde_json::json!(["in_progress", "success"])
    );

    let all = [
        shown(&start),
        shown(&finish),
        shown(&live),
        shown(&previous),
    ]
    .join("\n---\n");
    snapshots(|| {
        insta::assert_snapshot!(
            all,
            @r"
    Recorded the deploy of 4444444444444444444444444444444444444444 to production as deployment [ID] of org/startupwebapp (in progress): task definition arn:aws:ecs:us-east-1:123456789012:task-definition/startupwebapp-service-task:4, image 123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp@sha256:4444, frontend fe00000000000000000000000000000000000004, destructive migrations orders.0042_drop_total, user.0007_rename_email
    ---
    Deployment [ID] of org/startupwebapp to production: success: verified
    ---
    The live deployment to production is [ID] of org/startupwebapp, made [TIME]: backend 4444444444444444444444444444444444444444, task definition arn:aws:ecs:us-east-1:123456789012:task-definition/startupwebapp-service-task:4, image 123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp@sha256:4444, frontend fe00000000000000000000000000000000000004, destructive migrations orders.0042_drop_total, user.0007_rename_email
    ---
    The previous deployment to production is [ID] of org/startupwebapp, made [TIME]: backend e0cd223c4ab0cb3798fc4928bf3dc266a90d69f8, task definition arn:aws:ecs:us-east-1:123456789012:task-definition/startupwebapp-service-task:3, image 123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp@sha256:[DIGEST], frontend f19c9751f3510b6bc5804ecaff3780e530f8b5cc, destructive migrations none
    "
        )
    });
}

#[tokio::test]
async fn a_failed_deploy_never_becomes_live() {
    let sb = swa_testing::sandbox("healthy");
    let start = step(
        &sb,
        &[("mode", "start"), ("task-definition-arn", REVISION_4)],
    )
    .await;
    assert_eq!(start.code, 0, "{}", start.log);
    let id = start.output("deployment-id").to_string();
    let finish = step(
        &sb,
        &[
            ("mode", "finish"),
            ("deployment-id", &id),
            ("result", "failure"),
        ],
    )
    .await;
    assert_eq!(finish.code, 0, "{}", finish.log);
    let live = step(&sb, &[("mode", "find")]).await;
    assert_eq!(live.output("task-definition-arn"), REVISION_3);
    let previous = step(&sb, &[("mode", "find"), ("which", "previous")]).await;
    assert!(previous.output("task-definition-arn").ends_with(":2"));
}

#[tokio::test]
async fn a_repository_without_records_finds_none_and_says_so() {
    let sb = swa_testing::sandbox("healthy");
    let run = step(&sb, &[("mode", "find"), ("repository", "org/newapp")]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(run.output("found"), "false");
    let previous = step(&sb, &[("mode", "find"), ("which", "previous")]).await;
    assert_eq!(previous.output("found"), "true");
    let first = step(
        &sb,
        &[
            ("mode", "start"),
            ("repository", "org/newapp"),
            ("task-definition-arn", REVISION_4),
        ],
    )
    .await;
    let id = first.output("deployment-id").to_string();
    step(
        &sb,
        &[
            ("mode", "finish"),
            ("repository", "org/newapp"),
            ("deployment-id", &id),
            ("result", "success"),
        ],
    )
    .await;
    let only_one = step(
        &sb,
        &[
            ("mode", "find"),
            ("repository", "org/newapp"),
            ("which", "previous"),
        ],
    )
    .await;
    assert_eq!(only_one.output("found"), "false");
    let all = [shown(&run), shown(&only_one)].join("\n---\n");
    snapshots(|| {
        insta::assert_snapshot!(all, @r"
    ::notice::No deployment to production of org/newapp has succeeded yet
    ---
    ::notice::No deployment to production of org/newapp succeeded before the live one ([ID])
    ")
    });
}

#[tokio::test]
async fn bad_input_is_refused_before_github_is_asked() {
    let sb = swa_testing::sandbox("healthy");
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("mode", "begin")], "mode"),
        (&[("mode", "start")], "task-definition-arn"),
        (
            &[
                ("mode", "start"),
                ("task-definition-arn", REVISION_4),
                ("result", "success"),
            ],
            "result",
        ),
        (
            &[
                ("mode", "start"),
                ("task-definition-arn", REVISION_4),
                ("kind", "hotfix"),
            ],
            "kind",
        ),
        (
            &[
                ("mode", "start"),
                ("task-definition-arn", REVISION_4),
                ("frontend-ref", "main branch"),
            ],
            "frontend-ref",
        ),
        (
            &[
                ("mode", "start"),
                ("task-definition-arn", REVISION_4),
                ("destructive-migrations", "orders.0042,drop table"),
            ],
            "destructive-migrations",
        ),
        (
            &[
                ("mode", "start"),
                ("task-definition-arn", REVISION_4),
                ("description", "two\nlines"),
            ],
            "description",
        ),
        (
            &[("mode", "finish"), ("result", "success")],
            "deployment-id",
        ),
        (
            &[
                ("mode", "finish"),
                ("deployment-id", "12x"),
                ("result", "success"),
            ],
            "deployment-id",
        ),
        (
            &[
                ("mode", "finish"),
                ("deployment-id", "12"),
                ("result", "ok"),
            ],
            "result",
        ),
        (
            &[
                ("mode", "finish"),
                ("deployment-id", "12"),
                ("result", "success"),
                ("image", "x"),
            ],
            "image",
        ),
        (&[("mode", "find"), ("which", "last")], "which"),
        (
            &[("mode", "find"), ("repository", "not-a-repository")],
            "repository",
        ),
        (&[("mode", "find"), ("token", "")], "token"),
        (
            &[("mode", "find"), ("environment", "pro\nduction")],
            "environment",
        ),
    ];
    let mut errors = Vec::new();
    for (inputs, named) in cases {
        let run = step(&sb, inputs).await;
        assert_eq!(run.code, 2, "{inputs:?}: {}", run.log);
        let error = run.errors().join("\n");
        assert!(
            error.contains(&format!("Invalid input `{named}`")),
            "{inputs:?}: {error}"
        );
        errors.push(error);
    }
    assert!(github_ops(&sb).is_empty(), "{:?}", github_ops(&sb));
    insta::assert_snapshot!(errors.join("\n"), @r"
    ::error title=Invalid input `mode`::input `mode` must be start, finish or find; it is `begin`
    ::error title=Invalid input `task-definition-arn`::input `task-definition-arn` is empty; give the revision the service runs now (update-service's `task-definition-arn` output)
    ::error title=Invalid input `result`::input `result` is for mode finish, not start
    ::error title=Invalid input `kind`::input `kind` must be deploy or rollback; it is `hotfix`
    ::error title=Invalid input `frontend-ref`::input `frontend-ref` has spaces or line breaks; give one value
    ::error title=Invalid input `destructive-migrations`::input `destructive-migrations` has `drop table`, which is not app.migration (such as orders.0042_drop_total)
    ::error title=Invalid input `description`::input `description` has a line break or another control character; give one line
    ::error title=Invalid input `deployment-id`::input `deployment-id` is empty; give the `deployment-id` output of the step that started the record
    ::error title=Invalid input `deployment-id`::input `deployment-id` must be a deployment's number; it is `12x`
    ::error title=Invalid input `result`::input `result` must be success or failure; it is `ok`
    ::error title=Invalid input `image`::input `image` is for mode start, not finish
    ::error title=Invalid input `which`::input `which` must be live or previous; it is `last`
    ::error title=Invalid input `repository`::input `repository` is not usable: `not-a-repository` is not owner/name (for example `org/startupwebapp-frontend`)
    ::error title=Invalid input `token`::input `token` is required; set it under `with:` in the workflow, or pass --token
    ::error title=Invalid input `environment`::input `environment` must be one line of text, such as production
    ");
}

#[tokio::test]
async fn finishing_a_deployment_that_does_not_exist_names_the_input() {
    let sb = swa_testing::sandbox("healthy");
    let run = step(
        &sb,
        &[
            ("mode", "finish"),
            ("deployment-id", "77"),
            ("result", "success"),
        ],
    )
    .await;
    assert_eq!(run.code, 2, "{}", run.log);
    insta::assert_snapshot!(run.errors().join("\n"), @"::error title=Invalid input `deployment-id`::input `deployment-id` names no deployment of org/startupwebapp");
}

/// The team's rollback scenario D: the live deploy applied destructive migrations, so a rollback
/// past it is refused before anything changes, naming them; the deploy before it has none.
#[tokio::test]
async fn a_rollback_past_destructive_migrations_is_refused_naming_them() {
    let sb = swa_testing::sandbox("healthy");
    let start = step(
        &sb,
        &[
            ("mode", "start"),
            ("task-definition-arn", REVISION_4),
            ("destructive-migrations", "orders.0042_drop_total"),
        ],
    )
    .await;
    let id = start.output("deployment-id").to_string();
    step(
        &sb,
        &[
            ("mode", "finish"),
            ("deployment-id", &id),
            ("result", "success"),
        ],
    )
    .await;
    let refused = step(&sb, &[("mode", "find"), ("refuse-destructive", "true")]).await;
    assert_eq!(refused.code, 1, "{}", refused.log);
    assert_eq!(
        refused.output("destructive-migrations"),
        "orders.0042_drop_total"
    );
    let allowed = step(&sb, &[("mode", "find")]).await;
    assert_eq!(allowed.code, 0, "{}", allowed.log);
    let earlier = step(
        &sb,
        &[
            ("mode", "find"),
            ("which", "previous"),
            ("refuse-destructive", "true"),
        ],
    )
    .await;
    assert_eq!(earlier.code, 0, "{}", earlier.log);
    let errors = refused.errors().join("\n");
    snapshots(
        || insta::assert_snapshot!(errors, @"::error title=Rollback past destructive migrations refused::deployment [ID] applied destructive migrations (orders.0042_drop_total): the code it replaced may not run on the schema they left, so nothing is rolled back past it. Roll forward with a fix, or allow this rollback explicitly"),
    );
    let misplaced = step(
        &sb,
        &[
            ("mode", "finish"),
            ("deployment-id", &id),
            ("result", "success"),
            ("refuse-destructive", "true"),
        ],
    )
    .await;
    assert_eq!(misplaced.code, 2, "{}", misplaced.log);
}

/// Outside production GitHub would mark the earlier successful deployment `inactive` when a newer
/// one succeeds; the statuses are written with `auto_inactive: false`, so the history stays as it
/// happened, and the earlier one is the previous one.
#[tokio::test]
async fn a_newer_success_leaves_the_earlier_deployments_history_as_it_was() {
    let sb = swa_testing::sandbox("healthy");
    let mut ids = Vec::new();
    for revision in [REVISION_3, REVISION_4] {
        let start = step(
            &sb,
            &[
                ("mode", "start"),
                ("environment", "staging"),
                ("task-definition-arn", revision),
            ],
        )
        .await;
        let id = start.output("deployment-id").to_string();
        let finish = step(
            &sb,
            &[
                ("mode", "finish"),
                ("environment", "staging"),
                ("deployment-id", &id),
                ("result", "success"),
            ],
        )
        .await;
        assert_eq!(finish.code, 0, "{}", finish.log);
        ids.push(id);
    }
    let state = sb.state();
    let states: Vec<String> = state["githubDeployments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["environment"] == "staging")
        .map(|r| r["states"].to_string())
        .collect();
    assert_eq!(
        states,
        [
            r#"["in_progress","success"]"#,
            r#"["in_progress","success"]"#
        ]
    );
    let live = step(&sb, &[("mode", "find"), ("environment", "staging")]).await;
    assert_eq!(live.output("deployment-id"), ids[1]);
    let previous = step(
        &sb,
        &[
            ("mode", "find"),
            ("environment", "staging"),
            ("which", "previous"),
        ],
    )
    .await;
    assert_eq!(previous.output("deployment-id"), ids[0]);
    assert_eq!(previous.output("task-definition-arn"), REVISION_3);
}
