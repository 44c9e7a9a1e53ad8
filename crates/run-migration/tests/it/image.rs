//! The `image` input against the sandbox: the migration runs a new revision of its task
//! definition whose image is the deployed release pinned to its ECR digest; a tag that is not in
//! ECR exits 2 before anything changes.

use swa_sandbox::Call;
use swa_testing::Step;

const BIN: &str = env!("CARGO_BIN_EXE_run-migration");
const REPO: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp";
const MIGRATION_3: &str =
    "arn:aws:ecs:us-east-1:123456789012:task-definition/startupwebapp-migration-task:3";
const MIGRATION_4: &str =
    "arn:aws:ecs:us-east-1:123456789012:task-definition/startupwebapp-migration-task:4";

struct Ran {
    code: i32,
    log: String,
    outputs: String,
    calls: Vec<Call>,
}

/// Runs the binary as a step runs it: a cleared environment, `INPUT_*`, `GITHUB_OUTPUT`.
fn run_with_image(scenario: &str, image: &str) -> Ran {
    let sandbox = swa_testing::sandbox_at(scenario, 20.0);
    let run = Step::new(BIN)
        .input("cluster", "startupwebapp-cluster")
        .input("service", "startupwebapp-service")
        .input("task-definition", "startupwebapp-migration-task")
        .input("image", image)
        .envs(sandbox.env())
        .run();
    Ran {
        code: run.code,
        log: run.log,
        outputs: run.outputs_raw,
        calls: sandbox.calls(),
    }
}

fn requests<'a>(calls: &'a [Call], operation: &str) -> Vec<&'a serde_json::Value> {
    calls
        .iter()
        .filter(|c| c.operation == operation && c.status < 300)
        .map(|c| &c.request)
        .collect()
}

fn is_digest(text: &str) -> bool {
    text.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit()))
}

#[test]
fn the_migration_runs_a_new_revision_pinned_to_the_deployed_image() {
    let r = run_with_image("healthy", &format!("{REPO}:release-4"));
    assert_eq!(r.code, 0, "{}", r.log);

    let registered = requests(&r.calls, "RegisterTaskDefinition");
    assert_eq!(registered.len(), 1, "{}", r.log);
    let body = registered[0];
    assert_eq!(body["family"], "startupwebapp-migration-task");
    let container = &body["containerDefinitions"][0];
    assert_eq!(container["name"], "migration");
    let image = container["image"].as_str().expect("image");
    let digest = image
        .strip_prefix(&format!("{REPO}@"))
        .unwrap_or_else(|| panic!("{image} is not pinned"));
    assert!(is_digest(digest), "{image}");
    // Everything else is the migration revision's: its command, logs and roles.
    assert_eq!(
        container["command"],
        serde_json::json!(["python", "manage.py", "migrate", "--noinput"])
    );
    assert_eq!(
        container["logConfiguration"]["options"]["awslogs-group"],
        "/ecs/startupwebapp-migrations"
    );

    // The digest is the one ECR gave for release-4.
    let looked_up = requests(&r.calls, "DescribeImages");
    assert_eq!(looked_up[0]["imageIds"][0]["imageTag"], "release-4");
    assert!(
        r.log.contains(&format!("{REPO}:release-4 is {digest}")),
        "{}",
        r.log
    );

    let runs = requests(&r.calls, "RunTask");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["taskDefinition"], MIGRATION_4);
    assert!(
        r.log.contains(
            "Registered startupwebapp-migration-task:4 from startupwebapp-migration-task:3"
        ),
        "{}",
        r.log
    );
    assert!(
        r.outputs.starts_with("task-definition-arn<<")
            && r.outputs.contains(&format!("\n{MIGRATION_4}\n")),
        "{}",
        r.outputs
    );
    assert!(!r.outputs.contains(MIGRATION_3), "{}", r.outputs);
}

#[test]
fn an_image_missing_from_ecr_exits_2_and_changes_nothing() {
    for (scenario, tag) in [("image-missing", "release-4"), ("healthy", "release-9")] {
        let r = run_with_image(scenario, &format!("{REPO}:{tag}"));
        assert_eq!(r.code, 2, "{scenario}: {}", r.log);
        let error = r
            .log
            .lines()
            .find(|l| l.starts_with("::error"))
            .unwrap_or_else(|| panic!("no ::error:: in\n{}", r.log));
        assert!(
            error.contains(&format!(
                "input `image` `{REPO}:{tag}` is not in ECR repository `startupwebapp`"
            )),
            "{error}"
        );
        let mutating: Vec<&str> = r
            .calls
            .iter()
            .filter(|c| c.is_mutating())
            .map(|c| c.operation.as_str())
            .collect();
        assert!(mutating.is_empty(), "{scenario}: {mutating:?}");
        assert!(r.outputs.is_empty(), "{}", r.outputs);
    }
}

#[test]
fn a_malformed_image_exits_2_before_any_call() {
    let r = run_with_image("healthy", &format!("{REPO}:rel/4"));
    assert_eq!(r.code, 2, "{}", r.log);
    assert!(
        r.log.contains("input `image`") && r.log.contains("has the repository part"),
        "{}",
        r.log
    );
    assert!(r.calls.is_empty(), "{:?}", r.calls);
}
