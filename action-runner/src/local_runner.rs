//! Running under act (`-P ubuntu-latest=-self-hosted`), a Docker action's container gets the
//! runner's file-command folder mounted at `/var/run/act`, but the `GITHUB_OUTPUT`,
//! `GITHUB_STEP_SUMMARY`, ... variables still name the host path, which does not exist in the
//! container: outputs and summaries would be lost. This maps them to the mounted folder. It
//! applies only when `ACT` is set and the named folder is missing, so a GitHub runner (which mounts
//! `/github/file_commands` where its variables say) is never affected.

use std::path::Path;

use swa_gha::Env;

/// Where act mounts its file-command folder in a Docker action's container.
const MOUNT: &str = "/var/run/act";

/// The file-command variables whose paths act names on the host.
const FILE_COMMANDS: &[&str] = &[
    "GITHUB_OUTPUT",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_ENV",
    "GITHUB_PATH",
    "GITHUB_STATE",
];

/// The environment with act's host paths replaced by the container's, where they differ.
/// `exists` tells whether a path exists (`Path::exists`; injected for tests).
pub fn container_paths(mut env: Env, exists: impl Fn(&Path) -> bool) -> Env {
    if env.non_empty("ACT").is_none() {
        return env;
    }
    let mut moved = Vec::new();
    for key in FILE_COMMANDS {
        let Some(value) = env.non_empty(key) else {
            continue;
        };
        let host = Path::new(value);
        if host.parent().is_none_or(&exists) {
            continue;
        }
        // `/root/.cache/act/<run>/act/workflow/outputcmd.txt` -> `/var/run/act/workflow/outputcmd.txt`
        let Some((_, rest)) = value.rsplit_once("/act/") else {
            continue;
        };
        let inside = format!("{MOUNT}/{rest}");
        if Path::new(&inside).parent().is_some_and(&exists) {
            moved.push((*key, inside));
        }
    }
    for (key, value) in moved {
        env.set(key, value);
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "/root/.cache/act/3eb1e450354359a8/act/workflow/outputcmd.txt";

    fn mounted(path: &Path) -> bool {
        path.starts_with(MOUNT)
    }

    #[test]
    fn act_host_paths_move_to_the_mount() {
        let env = Env::from_pairs([
            ("ACT", "true"),
            ("GITHUB_OUTPUT", HOST),
            (
                "GITHUB_STEP_SUMMARY",
                "/root/.cache/act/3eb1e450354359a8/act/workflow/SUMMARY.md",
            ),
            (
                "GITHUB_WORKSPACE",
                "/root/.cache/act/3eb1e450354359a8/hostexecutor",
            ),
        ]);
        let env = container_paths(env, mounted);
        assert_eq!(
            env.get("GITHUB_OUTPUT"),
            Some("/var/run/act/workflow/outputcmd.txt")
        );
        assert_eq!(
            env.get("GITHUB_STEP_SUMMARY"),
            Some("/var/run/act/workflow/SUMMARY.md")
        );
        assert_eq!(
            env.get("GITHUB_WORKSPACE"),
            Some("/root/.cache/act/3eb1e450354359a8/hostexecutor")
        );
    }

    #[test]
    fn paths_that_exist_are_kept() {
        let env = Env::from_pairs([("ACT", "true"), ("GITHUB_OUTPUT", HOST)]);
        let env = container_paths(env, |_| true);
        assert_eq!(env.get("GITHUB_OUTPUT"), Some(HOST));
    }

    #[test]
    fn without_act_nothing_changes() {
        let env = Env::from_pairs([("GITHUB_OUTPUT", HOST)]);
        let env = container_paths(env, mounted);
        assert_eq!(env.get("GITHUB_OUTPUT"), Some(HOST));
    }

    #[test]
    fn without_the_mount_nothing_changes() {
        let env = Env::from_pairs([("ACT", "true"), ("GITHUB_OUTPUT", HOST)]);
        let env = container_paths(env, |_| false);
        assert_eq!(env.get("GITHUB_OUTPUT"), Some(HOST));
    }
}
