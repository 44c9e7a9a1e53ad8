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
            if job["timeout-minutes"].as_u64().is_none() {
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

/// The production deploy: reusable and runnable, no overlapping runs, OIDC, at most 20 minutes
/// along its longest path, and an automatic rollback.
#[test]
fn the_production_deploy_fits_20_minutes_and_rolls_back() {
    let workflow = yaml(&root().join(".github/workflows/deploy-production.yml"));
    let on = &workflow["on"];
    for trigger in ["push", "workflow_dispatch", "workflow_call"] {
        assert!(
            !on[trigger].is_null(),
            "deploy-production: no `{trigger}` trigger"
        );
    }
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
    let text = fs::read_to_string(root().join(".github/workflows/deploy-production.yml")).unwrap();
    assert!(
        !text.contains("aws-access-key-id"),
        "no long-lived AWS keys"
    );
    let rollback = &jobs[&Value::from("rollback")];
    let condition = rollback["if"].as_str().unwrap();
    assert!(condition.contains("needs.deploy-backend.result == 'failure'"));
    assert!(condition.contains("needs.verify.result == 'failure'"));
    assert!(condition.contains("inputs.auto-rollback"));
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
