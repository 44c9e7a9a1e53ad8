//! Every `actions/<name>/action.yml` agrees with the binary: the same inputs with the same
//! required-ness and defaults as the action's clap arguments, the same outputs as it writes, and
//! `runs` pointing at the one image with the action's name as its argument.

use std::collections::BTreeSet;
use std::fs;

use action_runner::{ACTIONS, Action, IMAGE};
use github_actions_models::action::{Action as ActionYml, DockerActionUses, Runs};
use github_actions_models::common::expr::LoE;

use crate::root;

struct Parsed {
    model: ActionYml,
    raw: serde_yaml_ng::Value,
}

fn action_ymls() -> Vec<(String, Parsed)> {
    let dir = root().join("actions");
    let mut found = Vec::new();
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let file = path.join("action.yml");
        if !file.is_file() {
            continue;
        }
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let text = fs::read_to_string(&file).unwrap();
        let model: ActionYml = serde_yaml_ng::from_str(&text)
            .unwrap_or_else(|e| panic!("actions/{name}/action.yml does not parse: {e}"));
        let raw: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
        found.push((name, Parsed { model, raw }));
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

/// The inputs an action's clap command declares: (name, required, default).
fn clap_inputs(action: &Action) -> Vec<(String, bool, Option<String>)> {
    let command = (action.command)();
    command
        .get_arguments()
        .filter_map(|arg| {
            let long = arg.get_long()?;
            if matches!(long, "help" | "version") {
                return None;
            }
            let defaults: Vec<String> = arg
                .get_default_values()
                .iter()
                .map(|v| v.to_string_lossy().into_owned())
                .collect();
            let default = (!defaults.is_empty()).then(|| defaults.join(","));
            Some((long.to_string(), arg.is_required_set(), default))
        })
        .collect()
}

#[test]
fn every_action_in_the_image_has_an_action_yml_and_back() {
    let ymls: BTreeSet<String> = action_ymls().into_iter().map(|(n, _)| n).collect();
    let binary: BTreeSet<String> = ACTIONS.iter().map(|a| a.name.to_string()).collect();
    assert!(!binary.is_empty(), "the image runs no action");
    let missing_yml: Vec<_> = binary.difference(&ymls).collect();
    assert!(
        missing_yml.is_empty(),
        "actions in the image without actions/<name>/action.yml: {missing_yml:?}"
    );
    let missing_binary: Vec<_> = ymls.difference(&binary).collect();
    assert!(
        missing_binary.is_empty(),
        "action.yml files the image cannot run: {missing_binary:?}"
    );
}

#[test]
fn inputs_match_the_binarys_arguments() {
    let mut problems = Vec::new();
    for (name, parsed) in action_ymls() {
        let Some(action) = action_runner::action(&name) else {
            continue;
        };
        let clap = clap_inputs(action);
        let yml = &parsed.model.inputs;
        for (input, required, default) in &clap {
            let Some(declared) = yml.get(input) else {
                problems.push(format!(
                    "{name}: input `{input}` is missing from action.yml"
                ));
                continue;
            };
            if declared.required.unwrap_or(false) != *required {
                problems.push(format!(
                    "{name}: input `{input}` is required={} in action.yml, required={required} in the binary",
                    declared.required.unwrap_or(false)
                ));
            }
            if declared.default.as_deref() != default.as_deref() {
                problems.push(format!(
                    "{name}: input `{input}` has default {:?} in action.yml, {default:?} in the binary",
                    declared.default
                ));
            }
            if declared
                .description
                .as_deref()
                .is_none_or(|d| d.trim().is_empty())
            {
                problems.push(format!("{name}: input `{input}` has no description"));
            }
        }
        for input in yml.keys() {
            if !clap.iter().any(|(n, _, _)| n == input) {
                problems.push(format!(
                    "{name}: action.yml declares input `{input}`, which the binary does not take"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn outputs_match_what_the_binary_writes() {
    let mut problems = Vec::new();
    for (name, parsed) in action_ymls() {
        let Some(action) = action_runner::action(&name) else {
            continue;
        };
        let declared: Vec<&str> = parsed.model.outputs.keys().map(String::as_str).collect();
        let written: BTreeSet<&str> = action.outputs.iter().copied().collect();
        let declared_set: BTreeSet<&str> = declared.iter().copied().collect();
        if declared_set != written {
            problems.push(format!(
                "{name}: action.yml declares outputs {declared:?}, the binary writes {:?}",
                action.outputs
            ));
        }
        for (output, spec) in &parsed.model.outputs {
            if spec
                .description
                .as_deref()
                .is_none_or(|d| d.trim().is_empty())
            {
                problems.push(format!("{name}: output `{output}` has no description"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_action_runs_the_one_image_with_its_name() {
    for (name, parsed) in action_ymls() {
        let Runs::Docker(docker) = &parsed.model.runs else {
            panic!("{name}: runs.using must be docker");
        };
        assert_eq!(docker.using, "docker", "{name}: runs.using");
        let DockerActionUses::Image(LoE::Literal(image)) = &docker.image else {
            panic!("{name}: runs.image must be a literal docker:// image");
        };
        assert_eq!(image.raw(), IMAGE, "{name}: runs.image");
        let args = parsed.raw["runs"]["args"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{name}: runs.args must be a list"));
        let args: Vec<&str> = args.iter().filter_map(|a| a.as_str()).collect();
        assert_eq!(args, [name.as_str()], "{name}: runs.args names the action");
        assert!(
            docker.entrypoint.is_none(),
            "{name}: the image's entrypoint is the runner"
        );
    }
}

#[test]
fn every_action_yml_has_a_name_description_branding_and_readme() {
    for (name, parsed) in action_ymls() {
        assert!(
            parsed.model.name.as_deref().is_some_and(|n| !n.is_empty()),
            "{name}: name"
        );
        assert!(
            parsed
                .model
                .description
                .as_deref()
                .is_some_and(|d| !d.trim().is_empty()),
            "{name}: description"
        );
        let branding = &parsed.raw["branding"];
        assert!(
            branding["icon"].as_str().is_some() && branding["color"].as_str().is_some(),
            "{name}: branding needs icon and color"
        );
        let readme = root().join("actions").join(&name).join("README.md");
        let text = fs::read_to_string(&readme)
            .unwrap_or_else(|_| panic!("{name}: actions/{name}/README.md is missing"));
        assert!(
            text.contains(&format!("uses: org/swa-actions/{name}@v1")),
            "{name}: the README's example must use `org/swa-actions/{name}@v1`"
        );
        for key in parsed
            .model
            .inputs
            .keys()
            .chain(parsed.model.outputs.keys())
        {
            assert!(
                text.contains(&format!("| `{key}` |")),
                "{name}: the README's tables do not list `{key}`"
            );
        }
    }
}

/// An action's metadata holds no expression: act refuses `${{ }}` where the runner does not
/// evaluate one ("expressions are not allowed here"), descriptions included.
#[test]
fn action_metadata_holds_no_expression() {
    for (name, _) in action_ymls() {
        let text =
            fs::read_to_string(root().join("actions").join(&name).join("action.yml")).unwrap();
        let lines: Vec<&str> = text.lines().filter(|l| l.contains("${{")).collect();
        assert!(lines.is_empty(), "actions/{name}/action.yml: {lines:?}");
    }
}
