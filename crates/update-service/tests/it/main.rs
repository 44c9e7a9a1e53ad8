//! The update-service binary, run as a workflow runs it, against the local sandbox.

#![allow(clippy::unwrap_used)]

use swa_sandbox::Sandbox;
use swa_testing::{Step, StepRun, sandbox};

const REPO: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp";
const TD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/startupwebapp-service-task";

/// Runs the binary as a workflow step runs it, with the sandbox's environment; `log` is stdout
/// followed by stderr.
fn run(sandbox: &Sandbox, inputs: &[(&str, &str)]) -> StepRun {
    let mut run = Step::new(env!("CARGO_BIN_EXE_update-service"))
        .input("cluster", "startupwebapp-cluster")
        .input("service", "startupwebapp-service")
        .inputs(inputs)
        .envs(sandbox.env())
        .run();
    run.log = run.log_and_stderr();
    run
}

fn mutating(sandbox: &Sandbox) -> Vec<String> {
    sandbox
        .calls()
        .iter()
        .filter(|c| c.is_mutating())
        .map(|c| c.operation.clone())
        .collect()
}

fn operations(sandbox: &Sandbox, name: &str) -> Vec<serde_json::Value> {
    sandbox
        .calls()
        .into_iter()
        .filter(|c| c.operation == name)
        .map(|c| c.request)
        .collect()
}

/// What a person reads of a run: the log, the outputs in the order written, the job summary and
/// the blocks GitHub renders it as; with what changes from run to run (digests, deployment ids,
/// pause tokens, ports) replaced.
fn read(run: &StepRun) -> String {
    let outputs: Vec<String> = swa_testing::parse_outputs_in_order(&run.outputs_raw)
        .into_iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    format!(
        "exit {}\n--- log\n{}--- outputs\n{}\n--- summary\n{}--- rendered\n{}",
        run.code,
        run.log,
        outputs.join("\n"),
        run.summary,
        swa_testing::markdown::outline(&run.summary)
    )
}

/// Snapshots `text` with the values that vary between runs replaced.
macro_rules! assert_read {
    ($name:expr, $text:expr) => {
        swa_testing::snapshot_settings().bind(|| insta::assert_snapshot!($name, $text))
    };
}

#[test]
fn a_new_image_is_pinned_registered_and_deployed() {
    let sandbox = sandbox("healthy");
    let run = run(
        &sandbox,
        &[
            ("image", &format!("{REPO}:release-4")),
            ("environment-variables", "RELEASE=release-4"),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(run.outputs["task-definition-arn"], format!("{TD}:4"));
    assert_eq!(
        run.outputs["previous-task-definition-arn"],
        format!("{TD}:3")
    );
    assert!(
        run.outputs["deployment-id"].starts_with("ecs-svc/"),
        "{:?}",
        run.outputs
    );
    assert!(
        run.outputs["image"].starts_with(&format!("{REPO}@sha256:")),
        "{:?}",
        run.outputs
    );
    assert_eq!(
        mutating(&sandbox),
        ["RegisterTaskDefinition", "UpdateService"]
    );
    let register = &operations(&sandbox, "RegisterTaskDefinition")[0];
    let container = &register["containerDefinitions"][0];
    assert_eq!(container["image"], run.outputs["image"].as_str());
    assert!(
        container["environment"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "RELEASE" && e["value"] == "release-4")
    );
    for read_only in [
        "taskDefinitionArn",
        "revision",
        "status",
        "registeredAt",
        "compatibilities",
    ] {
        assert!(
            register.get(read_only).is_none(),
            "{read_only} sent: {register}"
        );
    }
    let update = &operations(&sandbox, "UpdateService")[0];
    assert!(update.get("desiredCount").is_none(), "{update}");
    assert_eq!(update["taskDefinition"], format!("{TD}:4"));
    assert_read!("deployed", read(&run));
}

#[test]
fn nothing_changed_registers_nothing() {
    let sandbox = sandbox("healthy");
    let run = run(
        &sandbox,
        &[
            ("image", &format!("{REPO}:release-3")),
            ("pin-digest", "false"),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.log);
    assert!(mutating(&sandbox).is_empty(), "{:?}", mutating(&sandbox));
    assert_eq!(run.outputs["task-definition-arn"], format!("{TD}:3"));
    assert_read!("nothing_changed", read(&run));
}

#[test]
fn dry_run_prints_the_diff_and_changes_nothing() {
    let sandbox = sandbox("healthy");
    let run = run(
        &sandbox,
        &[("image", &format!("{REPO}:release-4")), ("dry-run", "true")],
    );
    assert_eq!(run.code, 0, "{}", run.log);
    assert!(mutating(&sandbox).is_empty(), "{:?}", mutating(&sandbox));
    assert_read!("dry_run", read(&run));
}

#[test]
fn previous_rolls_back_to_the_revision_before() {
    let sandbox = sandbox("healthy");
    let run = run(&sandbox, &[("revision", "previous")]);
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(mutating(&sandbox), ["UpdateService"]);
    assert_eq!(
        operations(&sandbox, "UpdateService")[0]["taskDefinition"],
        format!("{TD}:2")
    );
    assert_eq!(run.outputs["task-definition-arn"], format!("{TD}:2"));
    assert!(
        !operations(&sandbox, "DescribeImages").is_empty(),
        "the images of :2 were checked"
    );
    assert_read!("rollback_to_previous", read(&run));
}

#[test]
fn a_named_revision_is_deployed_as_it_is() {
    let sandbox = sandbox("healthy");
    let run = run(&sandbox, &[("revision", "startupwebapp-service-task:2")]);
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(mutating(&sandbox), ["UpdateService"]);
    assert_eq!(
        operations(&sandbox, "UpdateService")[0]["taskDefinition"],
        format!("{TD}:2")
    );
    assert_read!("rollback_to_a_revision", read(&run));
}

#[test]
fn bad_inputs_exit_2_naming_the_input_and_change_nothing() {
    let cases: &[&[(&str, &str)]] = &[
        &[("service", "")],
        &[("service", "startupwebapp service"), ("image", "nginx:1")],
        &[("cluster", "no-such-cluster"), ("image", "nginx:1")],
        &[("service", "no-such-service"), ("image", "nginx:1")],
        &[("image", "startupwebapp release 4")],
        &[("image", &format!("{REPO}:release-9"))],
        &[("revision", "startupwebapp-service-task:9")],
        &[("revision", "latest")],
        &[("revision", "previous"), ("image", "nginx:1")],
        &[("image", "nginx:1"), ("container-name", "web")],
        &[("image", "nginx:1"), ("dry-run", "yes")],
        &[],
    ];
    let mut read = Vec::new();
    for inputs in cases {
        let sandbox = sandbox("healthy");
        let run = run(&sandbox, inputs);
        assert_eq!(run.code, 2, "{inputs:?}: {}", run.log);
        assert!(
            mutating(&sandbox).is_empty(),
            "{inputs:?}: {:?}",
            mutating(&sandbox)
        );
        assert!(run.outputs.is_empty(), "{inputs:?}: {:?}", run.outputs);
        let given: Vec<String> = inputs.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
        let given = if given.is_empty() {
            "(no input but cluster and service)".to_string()
        } else {
            given.join(" ")
        };
        read.push(format!("{given}\n{}", run.errors().join("\n")));
    }
    assert_read!("bad_inputs", read.join("\n\n"));
}

#[test]
fn a_missing_image_fails_before_any_change() {
    // In this scenario release-1 and release-4 are gone from ECR.
    let sandbox = sandbox("image-missing");
    let image = run(&sandbox, &[("image", &format!("{REPO}:release-4"))]);
    assert_eq!(image.code, 2, "{}", image.log);
    let revision = run(&sandbox, &[("revision", "startupwebapp-service-task:1")]);
    assert_eq!(revision.code, 2, "{}", revision.log);
    assert!(mutating(&sandbox).is_empty(), "{:?}", mutating(&sandbox));
    assert_read!(
        "missing_image",
        format!("{}\n\n{}", read(&image), read(&revision))
    );
}

#[test]
fn throttling_is_retried_and_the_deploy_succeeds() {
    let sandbox = sandbox("throttling");
    let run = run(&sandbox, &[("image", &format!("{REPO}:release-4"))]);
    assert_eq!(run.code, 0, "{}", run.log);
    let done: Vec<String> = sandbox
        .calls()
        .iter()
        .filter(|c| c.is_mutating() && c.status == 200)
        .map(|c| c.operation.clone())
        .collect();
    assert_eq!(done, ["RegisterTaskDefinition", "UpdateService"]);
    assert_eq!(run.outputs["task-definition-arn"], format!("{TD}:4"));
    assert!(
        sandbox.calls().iter().any(|c| c.status != 200),
        "the sandbox throttled some calls"
    );
}

#[test]
fn a_task_definition_file_is_the_base() {
    let sandbox = sandbox("healthy");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("task-definition.json");
    std::fs::write(
        &path,
        serde_json::json!({
            "family": "startupwebapp-service-task",
            "taskDefinitionArn": format!("{TD}:3"),
            "revision": 3,
            "status": "ACTIVE",
            "networkMode": "awsvpc",
            "requiresCompatibilities": ["FARGATE"],
            "cpu": "1024",
            "memory": "2048",
            "containerDefinitions": [{"name": "startupwebapp", "image": "placeholder:1", "essential": true, "portMappings": [{"containerPort": 8000}]}]
        })
        .to_string(),
    )
    .unwrap();
    let run = run(
        &sandbox,
        &[
            ("task-definition", path.to_str().unwrap()),
            ("image", &format!("{REPO}:release-4")),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.log);
    let register = &operations(&sandbox, "RegisterTaskDefinition")[0];
    assert_eq!(register["cpu"], "1024");
    assert!(register.get("revision").is_none());
    assert!(
        register["containerDefinitions"][0]["image"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{REPO}@sha256:"))
    );
}
mod inputs;

/// After the circuit breaker rolled :4 back to :3, `previous` is :2 (the newest successful
/// deployment of another revision), never the :4 that failed.
#[test]
fn previous_after_a_rollback_is_the_last_good_revision_not_the_failed_one() {
    let sandbox = sandbox("crash-loop");
    let deploy = run(&sandbox, &[("image", &format!("{REPO}:release-4"))]);
    assert_eq!(deploy.code, 0, "{}", deploy.log);
    assert_eq!(deploy.outputs["task-definition-arn"], format!("{TD}:4"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let state = sandbox.state();
        let rolled_back = state["serviceDeployments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["status"] == "ROLLBACK_SUCCESSFUL");
        if rolled_back {
            assert_eq!(state["service"]["taskDefinition"], format!("{TD}:3"));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no rollback: {state:#}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let rollback = run(&sandbox, &[("revision", "previous")]);
    assert_eq!(rollback.code, 0, "{}", rollback.log);
    assert_eq!(rollback.outputs["task-definition-arn"], format!("{TD}:2"));
    assert_eq!(
        rollback.outputs["previous-task-definition-arn"],
        format!("{TD}:3")
    );
}

/// A second update while the first still rolls out says that it replaces it.
#[test]
fn an_update_that_replaces_a_rollout_in_flight_says_so() {
    let sandbox = sandbox("healthy");
    let first = run(&sandbox, &[("image", &format!("{REPO}:release-4"))]);
    assert_eq!(first.code, 0, "{}", first.log);
    assert!(
        !first.log.contains("::warning::"),
        "the first update replaced nothing: {}",
        first.log
    );
    let second = run(&sandbox, &[("revision", &format!("{TD}:2"))]);
    assert_eq!(second.code, 0, "{}", second.log);
    let warnings: Vec<String> = second
        .log
        .lines()
        .filter(|l| l.starts_with("::warning::"))
        .map(|l| l.replace(first.output("deployment-id"), "[first deployment]"))
        .collect();
    insta::assert_snapshot!(warnings.join("\n"), @"::warning::this update replaces deployment [first deployment] (startupwebapp-service-task:4), which was still rolling out; a wait-healthy watching it reports `superseded`");
}

/// The summary from the changes block to its end.
fn diff_section(summary: &str) -> &str {
    let start = summary.find("\n<details>").unwrap_or(summary.len());
    &summary[start..]
}

#[test]
fn environment_values_from_an_earlier_deploy_are_never_printed() {
    let password = "Pa55w0rdFromAnEarlierDeploy";
    let sandbox = sandbox("healthy");
    let earlier = run(
        &sandbox,
        &[
            ("image", &format!("{REPO}:release-4")),
            (
                "environment-variables",
                &format!("DJANGO_DEBUG=false\nDATABASE_URL=postgres://app:{password}@db/app"),
            ),
        ],
    );
    assert_eq!(earlier.code, 0, "{}", earlier.log);
    earlier.assert_secret_hidden(password);

    // An unrelated deploy: the value comes from the running revision, not from an input.
    let later = run(
        &sandbox,
        &[
            ("image", &format!("{REPO}:release-3")),
            ("environment-variables", "RELEASE=release-3"),
        ],
    );
    assert_eq!(later.code, 0, "{}", later.log);
    later.assert_secret_hidden(password);
    assert!(
        !later.log.contains("add-mask"),
        "the value is hidden by redaction, not by a mask:\n{}",
        later.log
    );
    insta::assert_snapshot!(diff_section(&later.summary));
}

#[test]
fn url_credentials_are_hidden_even_in_a_variable_whose_value_is_shown() {
    let sandbox = sandbox("healthy");
    let run = run(
        &sandbox,
        &[
            ("image", &format!("{REPO}:release-4")),
            (
                "environment-variables",
                "CACHE_HOST=redis://default:Red1sCacheSecret@cache:6379\nDJANGO_DEBUG=true",
            ),
            ("dry-run", "true"),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.log);
    assert!(mutating(&sandbox).is_empty(), "{:?}", mutating(&sandbox));
    run.assert_secret_hidden("Red1sCacheSecret");
    let changes: Vec<&str> = diff_section(&run.summary)
        .lines()
        .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
        .collect();
    insta::assert_snapshot!(changes.join("\n"));
}

#[test]
fn foreign_text_in_the_diff_is_inert_in_the_log_and_the_summary() {
    let sandbox = sandbox("healthy");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("task-definition.json");
    std::fs::write(
        &path,
        serde_json::json!({
            "family": "startupwebapp-service-task",
            "networkMode": "awsvpc",
            "requiresCompatibilities": ["FARGATE"],
            "cpu": "512",
            "memory": "1024",
            "containerDefinitions": [{
                "name": "startupwebapp",
                "image": "placeholder:1",
                "essential": true,
                "command": ["::add-mask::x", "##[set-output name=result]ok", "a | <b>bold</b>\n::error::y", "```"]
            }]
        })
        .to_string(),
    )
    .unwrap();
    let run = run(
        &sandbox,
        &[
            ("task-definition", path.to_str().unwrap()),
            ("image", &format!("{REPO}:release-4")),
            ("dry-run", "true"),
        ],
    );
    // The step's log was read as the runner reads it (swa-testing's check_commands): nothing in
    // it acted as a command.
    assert_eq!(run.code, 0, "{}", run.log);
    let command: Vec<&str> = diff_section(&run.summary)
        .lines()
        .filter(|l| {
            l.starts_with("```")
                || l.starts_with("+      \"command\"")
                || l.starts_with("+        \"")
        })
        .collect();
    insta::assert_snapshot!(command.join("\n"));
    assert!(
        diff_section(&run.summary).starts_with("\n<details>"),
        "{}",
        run.summary
    );
    assert!(run.summary.ends_with("</details>\n\n"), "{}", run.summary);
}

/// A rolling service switched to canary for this update: the sandbox takes the merged
/// configuration, and the deployment moves production traffic in a canary step.
#[test]
fn a_strategy_override_switches_the_rollout_to_canary() {
    let sandbox = sandbox("healthy");
    let run = run(
        &sandbox,
        &[
            ("image", &format!("{REPO}:release-4")),
            ("strategy", "canary"),
            ("bake-time", "5m"),
            ("canary-percent", "20"),
            ("canary-bake-time", "2m"),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.log);
    let update = &operations(&sandbox, "UpdateService")[0];
    let config = &update["deploymentConfiguration"];
    assert_eq!(config["strategy"], "CANARY", "{update}");
    assert_eq!(config["bakeTimeInMinutes"], 5);
    assert_eq!(config["canaryConfiguration"]["canaryPercent"], 20.0);
    assert_eq!(config["canaryConfiguration"]["canaryBakeTimeInMinutes"], 2);
    // The service's own settings are kept.
    assert_eq!(config["deploymentCircuitBreaker"]["rollback"], true);
    assert_eq!(config["maximumPercent"], 200);
    let strategy = sandbox.with_world(|w| w.service.strategy.clone());
    assert_eq!(strategy.kind, "CANARY");
    assert_eq!(strategy.canary, (20.0, 2));
    assert_eq!(strategy.bake_minutes, 5);
    assert_eq!(
        sandbox.with_world(|w| w.service.shift.as_ref().map(|s| s.strategy.kind.clone())),
        Some("CANARY".to_string()),
        "the update's deployment shifts traffic"
    );
}
