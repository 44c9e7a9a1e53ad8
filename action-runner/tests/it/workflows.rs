//! The workflows call the actions with inputs the actions declare, give every required input, and
//! keep to the CI rules: `permissions: {}` at the top, a timeout on every job, third-party actions
//! pinned by commit, checkouts that do not keep credentials.

use std::collections::BTreeMap;
use std::fs;

use serde_yaml_ng::Value;

use crate::root;

fn yaml(path: &std::path::Path) -> Value {
    serde_yaml_ng::from_str(&fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()))
}

fn workflows() -> Vec<(String, Value)> {
    let dir = root().join(".github/workflows");
    let mut found: Vec<(String, Value)> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .map(|p| {
            (
                p.file_name().unwrap().to_str().unwrap().to_string(),
                yaml(&p),
            )
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

/// (input, required without a default) for `actions/<name>/action.yml`.
fn action_inputs(name: &str) -> Option<BTreeMap<String, bool>> {
    let path = root().join("actions").join(name).join("action.yml");
    if !path.is_file() {
        return None;
    }
    let action = yaml(&path);
    let inputs = action["inputs"].as_mapping()?;
    Some(
        inputs
            .iter()
            .map(|(k, v)| {
                let required = v["required"].as_bool().unwrap_or(false) && v["default"].is_null();
                (k.as_str().unwrap().to_string(), required)
            })
            .collect(),
    )
}

fn steps(job: &Value) -> impl Iterator<Item = &Value> {
    job["steps"].as_sequence().into_iter().flatten()
}

#[test]
fn the_five_workflows_exist() {
    let names: Vec<String> = workflows().into_iter().map(|(n, _)| n).collect();
    for expected in [
        "ci.yml",
        "deploy-frontend.yml",
        "deploy-production.yml",
        "release.yml",
        "rollback-production.yml",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing: {names:?}"
        );
    }
}

#[test]
fn steps_give_our_actions_inputs_they_declare() {
    let mut problems = Vec::new();
    let mut calls = 0;
    for (file, workflow) in workflows() {
        for (job_name, job) in workflow["jobs"].as_mapping().unwrap() {
            let job_name = job_name.as_str().unwrap();
            for step in steps(job) {
                let Some(uses) = step["uses"].as_str() else {
                    continue;
                };
                let Some(rest) = uses.strip_prefix("org/swa-actions/") else {
                    continue;
                };
                let Some((action, reference)) = rest.split_once('@') else {
                    problems.push(format!("{file} {job_name}: `{uses}` has no ref"));
                    continue;
                };
                assert_eq!(reference, "v1", "{file} {job_name}: {uses}");
                let Some(inputs) = action_inputs(action) else {
                    problems.push(format!("{file} {job_name}: no actions/{action}/action.yml"));
                    continue;
                };
                calls += 1;
                let with = step["with"].as_mapping().cloned().unwrap_or_default();
                for key in with.keys() {
                    let key = key.as_str().unwrap();
                    if !inputs.contains_key(key) {
                        problems.push(format!("{file} {job_name}: {action} has no input `{key}`"));
                    }
                }
                for (input, required) in &inputs {
                    if *required && !with.contains_key(input.as_str()) {
                        problems.push(format!("{file} {job_name}: {action} needs input `{input}`"));
                    }
                }
            }
        }
    }
    assert!(calls >= 10, "only {calls} calls of our actions found");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn workflows_follow_the_ci_rules() {
    let mut problems = Vec::new();
    for (file, workflow) in workflows() {
        match workflow["permissions"].as_mapping() {
            Some(m) if m.is_empty() => {}
            _ => problems.push(format!("{file}: top-level `permissions: {{}}` missing")),
        }
        for (job_name, job) in workflow["jobs"].as_mapping().unwrap() {
            let job_name = job_name.as_str().unwrap();
            if job["uses"].is_null() && job["timeout-minutes"].as_u64().is_none() {
                problems.push(format!("{file} {job_name}: no timeout-minutes"));
            }
            if job["permissions"].is_null() {
                problems.push(format!("{file} {job_name}: no job permissions"));
            }
            for step in steps(job) {
                let Some(uses) = step["uses"].as_str() else {
                    continue;
                };
                if uses.starts_with("org/swa-actions/") || uses.starts_with("./") {
                    continue;
                }
                let pinned = uses.split_once('@').is_some_and(|(_, r)| {
                    r.len() == 40 && r.bytes().all(|b| b.is_ascii_hexdigit())
                });
                if !pinned {
                    problems.push(format!(
                        "{file} {job_name}: `{uses}` is not pinned by commit"
                    ));
                }
                if uses.starts_with("actions/checkout@") {
                    let keeps = step["with"]["persist-credentials"].as_bool();
                    let pushes = file == "release.yml" && job_name == "publish";
                    if keeps != Some(false) && !pushes {
                        problems.push(format!(
                            "{file} {job_name}: checkout without persist-credentials: false"
                        ));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The entry workflows users copy (examples/*/.github/workflows), by file name.
fn entry_workflows() -> Vec<(String, Value)> {
    let mut found = Vec::new();
    for repo in ["app", "frontend"] {
        let dir = root().join("examples").join(repo).join(".github/workflows");
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = format!("{repo}/{}", path.file_name().unwrap().to_str().unwrap());
            found.push((name, yaml(&path)));
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

/// The workflows users call: started by `workflow_call` alone, deciding from their inputs alone.
const REUSABLE: [&str; 3] = [
    "deploy-production.yml",
    "rollback-production.yml",
    "deploy-frontend.yml",
];

/// The text of a workflow without its comments.
fn code_of(file: &str) -> String {
    fs::read_to_string(root().join(".github/workflows").join(file))
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn reusable_workflows_decide_from_their_inputs_alone() {
    let mut problems = Vec::new();
    for file in REUSABLE {
        let workflow = yaml(&root().join(".github/workflows").join(file));
        let triggers: Vec<&str> = match &workflow["on"] {
            Value::Mapping(m) => m.keys().map(|k| k.as_str().unwrap()).collect(),
            other => vec![other.as_str().unwrap_or("?")],
        };
        if triggers != ["workflow_call"] {
            problems.push(format!(
                "{file}: started by {triggers:?}, not workflow_call alone"
            ));
        }
        let code = code_of(file);
        for context in [
            "vars.",
            "github.event_name",
            "github.event.",
            "inputs.image-tag ||",
        ] {
            if code.contains(context) {
                problems.push(format!("{file}: reads `{context}`; its inputs must decide"));
            }
        }
        // Every default is declared once: on the input, never again as `inputs.x || 'default'`.
        for line in code
            .lines()
            .filter(|l| l.contains("${{ inputs.") && l.contains("||"))
        {
            problems.push(format!("{file}: a second default in `{}`", line.trim()));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Every entry workflow calls one of our reusable workflows at v1 with inputs it declares, every
/// required input and every required secret.
#[test]
fn entry_workflows_call_the_reusable_ones_with_inputs_they_declare() {
    let mut problems = Vec::new();
    let mut calls = 0;
    for (file, workflow) in entry_workflows() {
        for (job_name, job) in workflow["jobs"].as_mapping().unwrap() {
            let job_name = job_name.as_str().unwrap();
            let Some(uses) = job["uses"].as_str() else {
                problems.push(format!(
                    "{file} {job_name}: not a call of a reusable workflow"
                ));
                continue;
            };
            let Some(called) = uses
                .strip_prefix("org/swa-actions/.github/workflows/")
                .and_then(|rest| rest.strip_suffix("@v1"))
            else {
                problems.push(format!("{file} {job_name}: calls `{uses}`"));
                continue;
            };
            calls += 1;
            let reusable = yaml(&root().join(".github/workflows").join(called));
            let call = &reusable["on"]["workflow_call"];
            for (kind, given) in [("inputs", &job["with"]), ("secrets", &job["secrets"])] {
                let declared = call[kind].as_mapping().cloned().unwrap_or_default();
                let given = given.as_mapping().cloned().unwrap_or_default();
                for key in given.keys() {
                    if !declared.contains_key(key) {
                        problems.push(format!(
                            "{file} {job_name}: {called} declares no {kind} `{}`",
                            key.as_str().unwrap()
                        ));
                    }
                }
                for (key, spec) in &declared {
                    if spec["required"].as_bool() == Some(true) && !given.contains_key(key) {
                        problems.push(format!(
                            "{file} {job_name}: {called} needs {kind} `{}`",
                            key.as_str().unwrap()
                        ));
                    }
                }
            }
        }
    }
    assert_eq!(calls, 3, "{problems:?}");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The README shows the application's entry workflow exactly as examples/ holds it (and as the
/// end-to-end test runs it).
#[test]
fn the_readme_shows_the_entry_workflow_as_it_is() {
    let example =
        fs::read_to_string(root().join("examples/app/.github/workflows/deploy.yml")).unwrap();
    let readme = fs::read_to_string(root().join("README.md")).unwrap();
    assert!(
        readme.contains(example.trim_end()),
        "README.md does not show examples/app/.github/workflows/deploy.yml's jobs as they are"
    );
}

/// A step's time limit in minutes: its `timeout` input (run-migration runs up to two tasks of
/// that length when it checks the migration plan first).
fn step_minutes(step: &Value) -> f64 {
    let Some(timeout) = step["with"]["timeout"].as_str() else {
        return 0.0;
    };
    let limit = swa_gha::parse_duration(timeout)
        .unwrap_or_else(|e| panic!("timeout `{timeout}`: {e}"))
        .as_secs_f64()
        / 60.0;
    let uses = step["uses"].as_str().unwrap_or_default();
    let guarded = step["with"]["destructive-guard"].as_bool() == Some(true);
    if uses.starts_with("org/swa-actions/run-migration@") && guarded {
        2.0 * limit
    } else {
        limit
    }
}

#[test]
fn every_job_outlasts_its_steps_time_limits() {
    let mut problems = Vec::new();
    for (file, workflow) in workflows() {
        for (job_name, job) in workflow["jobs"].as_mapping().unwrap() {
            let Some(job_minutes) = job["timeout-minutes"].as_u64() else {
                continue;
            };
            let steps: f64 = steps(job).map(step_minutes).sum();
            if steps >= job_minutes as f64 {
                problems.push(format!(
                    "{file} {}: steps may take {steps} minutes, the job has {job_minutes}",
                    job_name.as_str().unwrap()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The production deploy: no overlapping runs, OIDC, the jobs that change production in the
/// environment given, at most 20 minutes along its longest path, and an automatic rollback that
/// only `auto-rollback` decides.
#[test]
fn the_production_deploy_fits_20_minutes_and_rolls_back() {
    let workflow = yaml(&root().join(".github/workflows/deploy-production.yml"));
    assert_eq!(
        workflow["concurrency"]["cancel-in-progress"].as_bool(),
        Some(false)
    );
    let jobs = workflow["jobs"].as_mapping().unwrap();
    let minutes = |name: &str| -> u64 {
        jobs[&Value::from(name)]["timeout-minutes"]
            .as_u64()
            .unwrap()
    };
    // The longest chain of `needs` that ends in verify, each job at its timeout: jobs that run
    // side by side (test and build) count once, as the slower of the two.
    fn longest(jobs: &serde_yaml_ng::Mapping, name: &str, minutes: &dyn Fn(&str) -> u64) -> u64 {
        let needs = &jobs[&Value::from(name)]["needs"];
        let before: Vec<String> = match needs {
            Value::String(one) => vec![one.clone()],
            Value::Sequence(many) => many
                .iter()
                .map(|n| n.as_str().unwrap().to_string())
                .collect(),
            _ => Vec::new(),
        };
        minutes(name)
            + before
                .iter()
                .map(|n| longest(jobs, n, minutes))
                .max()
                .unwrap_or(0)
    }
    let path = longest(jobs, "verify", &minutes);
    assert!(
        path <= 20,
        "the deploy's longest path of jobs may take {path} minutes"
    );
    for job in [
        "check",
        "test",
        "build",
        "migrate",
        "deploy-backend",
        "deploy-frontend",
    ] {
        assert!(
            jobs.contains_key(Value::from(job)),
            "deploy-production has no `{job}` job"
        );
    }
    for job in ["build", "migrate", "deploy-backend", "rollback"] {
        assert_eq!(
            jobs[&Value::from(job)]["permissions"]["id-token"].as_str(),
            Some("write"),
            "{job} gets AWS credentials through OIDC"
        );
    }
    for job in ["migrate", "deploy-backend", "rollback"] {
        let environment = &jobs[&Value::from(job)]["environment"];
        assert_eq!(
            environment["name"].as_str(),
            Some("${{ inputs.environment }}"),
            "{job} runs in the environment given"
        );
        assert_eq!(
            environment["url"].as_str(),
            Some("${{ inputs.app-url }}"),
            "{job} shows the application's URL"
        );
    }
    let text = fs::read_to_string(root().join(".github/workflows/deploy-production.yml")).unwrap();
    assert!(
        !text.contains("aws-access-key-id"),
        "no long-lived AWS keys"
    );
    let rollback = &jobs[&Value::from("rollback")];
    let condition = rollback["if"].as_str().unwrap();
    assert!(condition.contains("needs.deploy-backend.result == 'failure'"));
    assert!(condition.contains("needs.verify.result == 'failure'"));
    assert!(
        condition.trim_end().ends_with("&& inputs.auto-rollback }}"),
        "{condition}"
    );
}

/// The frontend that ships is the frontend that was tested: the test job checks the frontend
/// repository out beside the backend, records the commit it got, runs the functional tests
/// against that checkout, and deploy-frontend dispatches that very commit.
#[test]
fn the_frontend_dispatched_is_the_one_the_test_job_checked_out() {
    let workflow = yaml(&root().join(".github/workflows/deploy-production.yml"));
    let test = &workflow["jobs"]["test"];
    let frontend = steps(test)
        .position(|s| s["with"]["repository"] == "${{ env.FRONTEND_REPOSITORY }}")
        .expect("the test job checks the frontend repository out");
    let checkout = steps(test).nth(frontend).unwrap();
    assert!(
        checkout["uses"]
            .as_str()
            .unwrap()
            .starts_with("actions/checkout@")
    );
    assert_eq!(checkout["with"]["ref"], "${{ env.FRONTEND_REF }}");
    assert_eq!(checkout["with"]["persist-credentials"], false);
    let path = checkout["with"]["path"]
        .as_str()
        .expect("a path of its own");

    // The job's output is the commit read from that checkout, after it.
    let output = test["outputs"]["frontend-commit"].as_str().unwrap();
    let id = output
        .strip_prefix("${{ steps.")
        .and_then(|rest| rest.strip_suffix(".outputs.frontend-commit }}"))
        .unwrap_or_else(|| panic!("frontend-commit is `{output}`"));
    let reader = steps(test)
        .position(|s| s["id"] == id)
        .expect("the step that reads the commit");
    assert!(reader > frontend, "the commit is read before the checkout");
    let script = steps(test).nth(reader).unwrap()["run"].as_str().unwrap();
    assert!(
        script.contains(&format!("frontend=$(git -C {path} rev-parse HEAD)"))
            && script.contains("echo \"frontend-commit=$frontend\" >> \"$GITHUB_OUTPUT\""),
        "{script}"
    );

    // The functional tests see that checkout.
    let functional = steps(test)
        .find(|s| s["env"]["STAGE"] == "functional-test-command")
        .expect("a functional-test stage");
    assert_eq!(
        functional["env"]["FRONTEND_DIR"].as_str(),
        Some(format!("${{{{ github.workspace }}}}/{path}").as_str())
    );

    // deploy-frontend waits for the test job and dispatches its commit, and nothing else reads
    // the frontend-ref input than the test job's checkout.
    let deploy = &workflow["jobs"]["deploy-frontend"];
    let needs: Vec<&str> = deploy["needs"]
        .as_sequence()
        .expect("deploy-frontend needs a list")
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(needs.contains(&"test"), "{needs:?}");
    let dispatch = steps(deploy)
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("org/swa-actions/dispatch-frontend@"))
        })
        .expect("the dispatch");
    assert_eq!(
        dispatch["with"]["frontend-ref"],
        "${{ needs.test.outputs.frontend-commit }}"
    );
    let code = code_of("deploy-production.yml");
    assert_eq!(code.matches("env.FRONTEND_REF").count(), 1, "{code}");
    assert_eq!(code.matches("inputs.frontend-ref").count(), 1, "{code}");
}

/// The test job's stages as the plan names them, each one input, against a PostgreSQL service
/// container that the input names (empty, none) and that is health-checked before the tests.
#[test]
fn the_test_job_runs_the_plans_stages_against_postgresql() {
    let workflow = yaml(&root().join(".github/workflows/deploy-production.yml"));
    let test = &workflow["jobs"]["test"];
    let stages: Vec<(&str, &str)> = steps(test)
        .filter_map(|s| Some((s["name"].as_str()?, s["env"]["STAGE"].as_str()?)))
        .collect();
    assert_eq!(
        stages,
        [
            ("Install", "install-command"),
            ("Lint", "lint-command"),
            ("Unit tests", "test-command"),
            ("Functional tests", "functional-test-command"),
        ]
    );
    let inputs = &workflow["on"]["workflow_call"]["inputs"];
    for (_, stage) in &stages {
        let step = steps(test).find(|s| s["env"]["STAGE"] == *stage).unwrap();
        assert_eq!(
            step["env"]["COMMAND"].as_str(),
            Some(format!("${{{{ inputs.{stage} }}}}").as_str())
        );
        assert_eq!(inputs[*stage]["type"], "string", "{stage}");
    }
    assert_eq!(inputs["lint-command"]["default"], "flake8");
    let postgres = &test["services"]["postgres"];
    assert_eq!(postgres["image"], "${{ inputs.postgres-image }}");
    assert!(
        inputs["postgres-image"]["default"]
            .as_str()
            .unwrap()
            .starts_with("postgres:")
    );
    assert!(
        postgres["options"]
            .as_str()
            .unwrap()
            .contains("--health-cmd \"pg_isready"),
        "the service is health-checked before the steps start"
    );
    let database = steps(test)
        .find(|s| s["name"] == "The database")
        .expect("a step that exports the database's variables");
    let script = database["run"].as_str().unwrap();
    for var in [
        "DATABASE_URL=",
        "PGHOST=",
        "PGPORT=",
        "PGUSER=",
        "PGPASSWORD=",
        "PGDATABASE=",
    ] {
        assert!(script.contains(var), "{var} is not exported");
    }
    let position = |name: &str| steps(test).position(|s| s["name"] == name).unwrap();
    assert!(position("The database") < position("Unit tests"));
    let cache = steps(test)
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/cache@"))
        })
        .expect("pip's cache");
    assert_eq!(cache["with"]["path"], "~/.cache/pip");
    assert!(
        cache["with"]["key"]
            .as_str()
            .unwrap()
            .contains("hashFiles('**/requirements*.txt')")
    );
    assert!(position("pip's cache") < position("Install"));
}

/// Every job that reads or writes deployment records has `deployments: write`, and the entry
/// workflows that call those reusable workflows grant it (a called workflow gets no more than its
/// caller gives).
#[test]
fn jobs_that_keep_deployment_records_may_write_them() {
    let mut problems = Vec::new();
    let mut recording = Vec::new();
    for (file, workflow) in workflows() {
        for (name, job) in workflow["jobs"].as_mapping().unwrap() {
            let records = steps(job).any(|s| {
                s["uses"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("org/swa-actions/record-deployment@"))
            });
            if !records {
                continue;
            }
            recording.push(file.clone());
            if job["permissions"]["deployments"].as_str() != Some("write") {
                problems.push(format!(
                    "{file} {}: records deployments without `deployments: write`",
                    name.as_str().unwrap()
                ));
            }
        }
    }
    recording.dedup();
    assert_eq!(
        recording,
        ["deploy-production.yml", "rollback-production.yml"]
    );
    for (file, workflow) in entry_workflows() {
        for job in workflow["jobs"].as_mapping().unwrap().values() {
            let called = job["uses"].as_str().unwrap_or_default();
            if recording.iter().any(|r| called.contains(r.as_str()))
                && job["permissions"]["deployments"].as_str() != Some("write")
            {
                problems.push(format!(
                    "{file}: calls {called} without granting `deployments: write`"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The deploy's record names the frontend commit the tests passed with; it is marked a success
/// only when the verification passed; a failed verification after the frontend went out sends
/// the frontend back to the commit the live record names, and an unchanged frontend is not
/// dispatched again.
#[test]
fn the_deploy_record_and_the_rollback_of_both_halves_are_wired() {
    let workflow = yaml(&root().join(".github/workflows/deploy-production.yml"));
    let jobs = &workflow["jobs"];
    let step = |job: &str, name: &str| {
        steps(&jobs[job])
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("{job} has no step `{name}`"))
            .clone()
    };
    let record = step("deploy-backend", "Record the deployment");
    assert_eq!(record["with"]["mode"], "start");
    assert_eq!(
        record["with"]["frontend-ref"],
        "${{ needs.test.outputs.frontend-commit }}"
    );
    assert_eq!(
        record["with"]["task-definition-arn"],
        "${{ steps.update.outputs.task-definition-arn }}"
    );
    let outcome = step("record", "Record the outcome");
    assert_eq!(outcome["with"]["mode"], "finish");
    assert_eq!(
        outcome["with"]["result"],
        "${{ needs.verify.result == 'success' && 'success' || 'failure' }}"
    );
    assert!(jobs["record"]["if"].as_str().unwrap().contains("always()"));

    let frontend = step("rollback", "Roll the frontend back");
    assert_eq!(
        frontend["with"]["frontend-ref"],
        "${{ steps.live.outputs.frontend-ref }}"
    );
    let condition = frontend["if"].as_str().unwrap();
    for part in [
        "needs.verify.result == 'failure'",
        "needs.deploy-frontend.result == 'success'",
        "steps.live.outputs.frontend-ref != needs.test.outputs.frontend-commit",
    ] {
        assert!(condition.contains(part), "{condition}");
    }
    let live = step("rollback", "What was live before");
    assert_eq!(live["with"]["mode"], "find");
    let order: Vec<&str> = steps(&jobs["rollback"])
        .filter_map(|s| s["name"].as_str())
        .collect();
    let at = |name: &str| order.iter().position(|n| *n == name).unwrap();
    assert!(at("What was live before") < at("Roll the backend back"));
    assert!(at("Wait until the rollback is healthy") < at("Roll the frontend back"));
    assert!(at("Roll the frontend back") < at("Record the rollback"));

    let dispatch = step("deploy-frontend", "Deploy the frontend");
    assert_eq!(
        dispatch["with"]["live-ref"],
        "${{ needs.deploy-backend.outputs.live-frontend-ref }}"
    );

    let manual = yaml(&root().join(".github/workflows/rollback-production.yml"));
    let order: Vec<&str> = steps(&manual["jobs"]["rollback"])
        .filter_map(|s| s["name"].as_str())
        .collect();
    let at = |name: &str| {
        order
            .iter()
            .position(|n| *n == name)
            .unwrap_or_else(|| panic!("no step {name}"))
    };
    // `previous` is resolved, or refused, before anything changes.
    assert!(at("The frontend commit") < at("Roll the backend back"));
    assert!(at("The previous deployment") < at("The frontend commit"));
    // A live deployment with destructive migrations is not rolled back past unless allowed.
    let live = steps(&manual["jobs"]["rollback"])
        .find(|s| s["name"] == "What is live")
        .unwrap();
    assert_eq!(
        live["with"]["refuse-destructive"],
        "${{ !inputs.allow-destructive-rollback }}"
    );
    assert!(at("What is live") < at("Roll the backend back"));
    assert_eq!(
        manual["on"]["workflow_call"]["inputs"]["allow-destructive-rollback"]["default"],
        false
    );
}

/// A stage's script, run by bash as the runner runs it: an empty command skips the stage with a
/// notice naming the input, a command runs, and its failure fails the step.
#[test]
fn an_empty_stage_command_is_skipped_and_says_so() {
    let workflow = yaml(&root().join(".github/workflows/deploy-production.yml"));
    let lint = steps(&workflow["jobs"]["test"])
        .find(|s| s["name"] == "Lint")
        .unwrap();
    let script = lint["run"].as_str().unwrap();
    let run = |command: &str| {
        let out = std::process::Command::new("bash")
            .args(["-e", "-c", script])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap())
            .env("STAGE", "lint-command")
            .env("COMMAND", command)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8(out.stdout).unwrap() + &String::from_utf8(out.stderr).unwrap(),
        )
    };
    insta::assert_snapshot!(run("").1, @"::notice title=Skipped::`lint-command` is empty: this stage does not run");
    assert_eq!(run("").0, Some(0));
    assert_eq!(
        run("echo linted; echo '::warning::x' | tr x y"),
        (Some(0), "linted\n::warning::y\n".to_string())
    );
    assert_eq!(run("false; echo not reached").0, Some(1));
    assert_eq!(run("exit 3").0, Some(3));
}

/// rollback-production's summary step, run by bash as the runner runs it, with a reason that
/// tries to act as workflow commands and to break the summary's Markdown.
#[test]
fn the_rollback_reason_is_shown_never_obeyed() {
    let workflow = yaml(&crate::root().join(".github/workflows/rollback-production.yml"));
    let step = steps(&workflow["jobs"]["rollback"])
        .find(|s| s["name"] == "Summary")
        .expect("the Summary step");
    let script = step["run"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    let reason = "bad release | see <b>#42</b>\n::add-mask::x\n::set-output name=r::y ##[error]z";
    let out = std::process::Command::new("bash")
        .args(["-e", "-c", script])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("ACTOR", "octocat")
        .env("REASON", reason)
        .env("FROM", "startupwebapp-service-task:4")
        .env("TO", "startupwebapp-service-task:3")
        .env("OUTCOME", "success")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let log = String::from_utf8(out.stdout).unwrap();
    swa_testing::check_commands(&log).unwrap();
    let token = log
        .lines()
        .find_map(|l| l.strip_prefix("::stop-commands::"))
        .expect("a paused block");
    assert!(token.len() >= 36, "{token}");
    let shown = log.replace(token, "TOKEN");
    insta::assert_snapshot!(shown, @r#"
        Rolled back by octocat: startupwebapp-service-task:4 -> startupwebapp-service-task:3 (success). Reason:
        ::stop-commands::TOKEN
        bad release | see <b>#42</b>
        ::add-mask::x
        ::set-output name=r::y ##[error]z
        ::TOKEN::
        "#);
    let md = std::fs::read_to_string(&summary).unwrap();
    insta::assert_snapshot!(md.lines().take(3).collect::<Vec<_>>().join("\n"), @r#"
        ## Production rolled back by @octocat

        > bad release \| see &lt;b&gt;\#42&lt;/b&gt;<br>::add-mask::x<br>::set-output name=r::y \#\#\[error\]z
        "#);
}

/// Every third-party action the workflows pin, with the runtime its `action.yml` declares at
/// that commit (read from the action's repository when a pin moves). GitHub's runners no longer
/// have Node 20 (removed 2026-09-16): anything older than node24 fails here.
const PINNED: &[(&str, &str, &str)] = &[
    (
        "actions/checkout",
        "3d3c42e5aac5ba805825da76410c181273ba90b1", // v7.0.1
        "node24",
    ),
    (
        "aws-actions/configure-aws-credentials",
        "e6de054238d6b7531b4efff3b6587d9aade6a06c", // v6.2.3
        "node24",
    ),
    (
        "actions/cache",
        "27d5ce7f107fe9357f9df03efb73ab90386fccae", // v5.0.5
        "node24",
    ),
    (
        "Swatinem/rust-cache",
        "6323deb102c322ba6fcbdcafc7e3dddab59af2b6", // v2.9.2
        "node24",
    ),
    (
        "taiki-e/install-action",
        "37d0871ce760f1b574b572e72d1ddb6afe7c0585", // nextest
        "composite",
    ),
];

#[test]
fn every_pinned_action_runs_on_a_current_runtime() {
    for (action, _, runtime) in PINNED {
        assert!(
            ["node24", "composite", "docker"].contains(runtime),
            "{action} runs on {runtime}, which GitHub's runners no longer have"
        );
    }
    let mut problems = Vec::new();
    for (file, workflow) in workflows() {
        for job in workflow["jobs"].as_mapping().unwrap().values() {
            for uses in steps(job).filter_map(|s| s["uses"].as_str()) {
                let Some((action, sha)) = uses.split_once('@') else {
                    continue;
                };
                if action.starts_with("org/swa-actions/") || action.starts_with("./") {
                    continue;
                }
                if !PINNED.iter().any(|(a, s, _)| *a == action && *s == sha) {
                    problems.push(format!(
                        "{file}: `{uses}` is not in the table of pinned actions and their runtimes"
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A workflow example from a README as a whole workflow actionlint can read: a full workflow as
/// it is; `jobs:` under a trigger; a job's body or a list of steps inside a job.
fn as_workflow(block: &str) -> String {
    let indent = block
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let lines: Vec<&str> = block
        .lines()
        .map(|l| l.get(indent..).unwrap_or(""))
        .collect();
    let text = lines.join("\n");
    let indented = |n: usize| {
        lines
            .iter()
            .map(|l| format!("{}{l}", " ".repeat(n)))
            .collect::<Vec<_>>()
            .join("\n")
    };
    // A fragment that reads `inputs.x` stands in a workflow_dispatch that declares them.
    let mut inputs: Vec<&str> = text
        .match_indices("inputs.")
        .map(|(at, _)| {
            let name = &text[at + "inputs.".len()..];
            let end = name
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                .unwrap_or(name.len());
            &name[..end]
        })
        .collect();
    inputs.sort_unstable();
    inputs.dedup();
    let on = if inputs.is_empty() {
        "on: push\n".to_string()
    } else {
        let declared: String = inputs
            .iter()
            .map(|i| format!("      {i}:\n        type: string\n"))
            .collect();
        format!("on:\n  workflow_dispatch:\n    inputs:\n{declared}")
    };
    let first = lines
        .iter()
        .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .copied()
        .unwrap_or("");
    if ["name:", "on:", "run-name:"]
        .iter()
        .any(|k| first.starts_with(k))
    {
        text
    } else if first.starts_with("jobs:") {
        format!("{on}{text}\n")
    } else if first.starts_with("- ") {
        format!(
            "{on}jobs:\n  example:\n    runs-on: ubuntu-latest\n    steps:\n{}\n",
            indented(6)
        )
    } else {
        let runs_on = if text.contains("runs-on:") {
            ""
        } else {
            "    runs-on: ubuntu-latest\n"
        };
        format!("{on}jobs:\n  example:\n{runs_on}{}\n", indented(4))
    }
}

/// The ```yaml blocks of a Markdown file.
fn yaml_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_start()) {
            (None, l) if l.starts_with("```yaml") || l.starts_with("```yml") => {
                current = Some(Vec::new())
            }
            (Some(block), l) if l.starts_with("```") => {
                blocks.push(block.join("\n"));
                current = None;
            }
            (Some(block), _) => block.push(line),
            (None, _) => {}
        }
    }
    blocks
}

/// Every workflow example in the READMEs passes actionlint, which also flags actions on
/// runtimes GitHub's runners no longer have.
#[test]
fn the_readmes_workflow_examples_pass_actionlint() {
    let actionlint = root().join(".venv/bin/actionlint");
    assert!(
        actionlint.is_file(),
        "{} is missing: run scripts/venv.sh",
        actionlint.display()
    );
    let mut readmes = vec![root().join("README.md")];
    for dir in ["actions", "crates"] {
        for entry in fs::read_dir(root().join(dir)).unwrap() {
            let readme = entry.unwrap().path().join("README.md");
            if readme.is_file() {
                readmes.push(readme);
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for readme in &readmes {
        let markdown = fs::read_to_string(readme).unwrap();
        for (n, block) in yaml_blocks(&markdown).iter().enumerate() {
            if !block.contains("uses:") && !block.contains("run:") {
                continue;
            }
            let name = readme
                .strip_prefix(root())
                .unwrap()
                .to_string_lossy()
                .replace('/', "_");
            let file = dir.path().join(format!("{name}-{}.yml", n + 1));
            fs::write(&file, as_workflow(block)).unwrap();
            files.push(file);
        }
    }
    assert!(files.len() >= 15, "only {} examples found", files.len());
    let out = std::process::Command::new(&actionlint)
        .arg("-no-color")
        .args(&files)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "actionlint:\n{report}");
}

#[test]
fn an_outdated_runtime_in_an_example_fails_actionlint() {
    // The check above can fail, for the reason it exists: actionlint knows checkout@v4 runs on
    // Node 20, which GitHub's runners no longer have.
    let actionlint = root().join(".venv/bin/actionlint");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("old.yml");
    fs::write(&file, as_workflow("- uses: actions/checkout@v4\n")).unwrap();
    let out = std::process::Command::new(&actionlint)
        .arg("-no-color")
        .arg(&file)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{report}");
    assert!(
        report.contains(r#"runtime "node20" is deprecated"#),
        "{report}"
    );
}
