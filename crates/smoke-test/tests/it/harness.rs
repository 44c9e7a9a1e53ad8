//! Runs the binary as a workflow step runs it: a cleared environment with `INPUT_*`, and
//! `GITHUB_OUTPUT` / `GITHUB_STEP_SUMMARY` files.

use std::collections::BTreeMap;

pub struct StepRun {
    pub code: i32,
    pub log: String,
    pub stderr: String,
    pub outputs: BTreeMap<String, String>,
    pub outputs_raw: String,
    pub summary: String,
}

impl StepRun {
    /// Everything the step showed or wrote, minus the `::add-mask::` commands the runner
    /// consumes (they must carry the secret, or they would mask nothing).
    pub fn everything(&self) -> String {
        let log: Vec<&str> = self
            .log
            .lines()
            .filter(|l| !l.starts_with("::add-mask::"))
            .collect();
        format!(
            "{}\n{}\n{}\n{}",
            log.join("\n"),
            self.stderr,
            self.outputs_raw,
            self.summary
        )
    }

    pub fn assert_secret_hidden(&self, secret: &str) {
        assert!(
            !self.everything().contains(secret),
            "the secret appears in the step's output:\n{}",
            self.everything()
        );
    }

    pub fn output(&self, name: &str) -> &str {
        self.outputs
            .get(name)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no output {name}: {:?}\n{}", self.outputs, self.log))
    }

    pub fn errors(&self) -> Vec<&str> {
        self.log
            .lines()
            .filter(|l| l.starts_with("::error"))
            .collect()
    }
}

pub async fn run_step(bin: &str, inputs: &[(&str, &str)], env: &[(&str, &str)]) -> StepRun {
    let dir = tempfile::tempdir().unwrap();
    let output_file = dir.path().join("output");
    let summary_file = dir.path().join("summary");
    let mut cmd = tokio::process::Command::new(bin);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GITHUB_OUTPUT", &output_file)
        .env("GITHUB_STEP_SUMMARY", &summary_file);
    for (name, value) in inputs {
        cmd.env(format!("INPUT_{}", name.to_uppercase()), value);
    }
    for (name, value) in env {
        cmd.env(name, value);
    }
    let out = cmd.output().await.unwrap();
    let outputs_raw = std::fs::read_to_string(&output_file).unwrap_or_default();
    StepRun {
        code: out.status.code().unwrap_or(-1),
        log: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        outputs: parse_outputs(&outputs_raw),
        outputs_raw,
        summary: std::fs::read_to_string(&summary_file).unwrap_or_default(),
    }
}

fn parse_outputs(text: &str) -> BTreeMap<String, String> {
    let mut outputs = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some((name, delimiter)) = line.split_once("<<") else {
            continue;
        };
        let mut value = Vec::new();
        for l in lines.by_ref() {
            if l == delimiter {
                break;
            }
            value.push(l);
        }
        outputs.insert(name.to_string(), value.join("\n"));
    }
    outputs
}
