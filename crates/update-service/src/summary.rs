//! What a person reads once the update is done: the job summary, and the warnings when this
//! update met another.

use aws_sdk_ecs as ecs;
use swa_ecs::revision_label;
use swa_gha::md;

use crate::Args;

/// What the summary shows.
pub(crate) struct Report<'a> {
    pub args: &'a Args,
    pub current_arn: &'a str,
    /// Empty in a dry run that would register a new revision.
    pub target_arn: &'a str,
    pub image: &'a str,
    pub deployment_id: &'a str,
    /// Whether the service is (or would be) updated.
    pub deploy: bool,
    pub diff: &'a str,
    /// What the strategy overrides set, when any were given.
    pub overrides: Option<&'a str>,
}

impl Report<'_> {
    pub(crate) fn markdown(&self) -> String {
        let mut summary = format!(
            "### update-service: {}\n\n| | |\n|---|---|\n| Cluster | {} |\n| Previous revision | {} |\n| New revision | {} |\n| Image | {} |\n| Deployment | {} |\n",
            md::text(&self.args.service),
            md::code(&self.args.cluster),
            md::code(revision_label(self.current_arn)),
            if self.target_arn.is_empty() {
                "(not registered: dry run)".to_string()
            } else {
                md::code(revision_label(self.target_arn))
            },
            md::code(self.image),
            if self.args.dry_run {
                "none (dry run)".to_string()
            } else if self.deploy {
                md::code(self.deployment_id)
            } else {
                "none (nothing changed)".to_string()
            },
        );
        if let Some(overrides) = self.overrides {
            summary.push_str(&format!(
                "| Strategy overrides | {}{} |\n",
                md::text(overrides),
                if self.args.dry_run {
                    " (not applied: dry run)"
                } else if self.deploy {
                    ""
                } else {
                    " (not applied: nothing changed)"
                }
            ));
        }
        if !self.diff.is_empty() {
            // Blank lines around the HTML block, or GitHub renders what follows it as HTML too.
            summary.push_str(&format!(
                "\n<details><summary>Task definition changes</summary>\n\n{}\n</details>\n\n",
                md::fenced("diff", self.diff)
            ));
        }
        summary
    }
}

/// What a person must know when this update met another: a rollout it replaced before it
/// finished (whoever watches that one will see it superseded), and a PRIMARY deployment right
/// after the update that is not this update's own (another update landed at the same time).
pub(crate) fn concurrent_updates(
    before: &ecs::types::Service,
    after: Option<&ecs::types::Service>,
    target_arn: &str,
) -> Vec<String> {
    let mut warnings = Vec::new();
    let in_flight = before.deployments().iter().find(|d| {
        d.status() == Some("PRIMARY")
            && d.rollout_state() == Some(&ecs::types::DeploymentRolloutState::InProgress)
    });
    if let Some(d) = in_flight {
        warnings.push(format!(
            "this update replaces deployment {} ({}), which was still rolling out; a wait-healthy watching it reports `superseded`",
            d.id().unwrap_or_default(),
            revision_label(d.task_definition().unwrap_or_default())
        ));
    }
    let primary = after.and_then(|s| {
        s.deployments()
            .iter()
            .find(|d| d.status() == Some("PRIMARY"))
    });
    if let Some(p) = primary
        && p.task_definition().is_some_and(|td| td != target_arn)
    {
        warnings.push(format!(
            "right after this update the service's PRIMARY deployment is {} running {}, not {}: another update changed the service at the same time",
            p.id().unwrap_or_default(),
            revision_label(p.task_definition().unwrap_or_default()),
            revision_label(target_arn)
        ));
    }
    warnings
}
