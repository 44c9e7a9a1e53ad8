//! A service's deployment history, as ECS keeps it (ListServiceDeployments,
//! DescribeServiceRevisions): the revision to go back to.

use std::collections::BTreeMap;

use aws_sdk_ecs as ecs;
use ecs::types::{ServiceDeploymentBrief, ServiceDeploymentStatus};

/// Pages of ListServiceDeployments read at most (100 deployments a page).
const MAX_PAGES: usize = 10;
/// DescribeServiceRevisions takes at most 20 ARNs.
const REVISIONS_PER_CALL: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("ListServiceDeployments for service {service} failed: {reason}")]
    List { service: String, reason: String },
    #[error("DescribeServiceRevisions failed: {reason}")]
    Revisions { reason: String },
}

/// One page of ListServiceDeployments for `service`, with the filters `narrow` adds.
async fn list(
    ecs: &ecs::Client,
    cluster: &str,
    service: &str,
    narrow: impl FnOnce(ListRequest) -> ListRequest,
) -> Result<ecs::operation::list_service_deployments::ListServiceDeploymentsOutput, HistoryError> {
    narrow(
        ecs.list_service_deployments()
            .cluster(cluster)
            .service(service),
    )
    .send()
    .await
    .map_err(|e| HistoryError::List {
        service: service.to_string(),
        reason: swa_aws::error_text(&e),
    })
}

type ListRequest =
    ecs::operation::list_service_deployments::builders::ListServiceDeploymentsFluentBuilder;

/// A successful deployment's target: the service revision and its task definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployedRevision {
    pub service_deployment_arn: String,
    pub service_revision_arn: String,
    pub task_definition_arn: String,
}

/// The target of the most recent SUCCESSFUL service deployment whose task definition is not
/// `current` (the one the service runs now). After a circuit-breaker rollback from :4 to :3 the
/// history holds :3's and :2's successful deployments (the rolled-back :4 never succeeded), so
/// this is :2, never :4. `None` when the history has no such deployment.
pub async fn last_successful_other_than(
    ecs: &ecs::Client,
    cluster: &str,
    service: &str,
    current: &str,
) -> Result<Option<DeployedRevision>, HistoryError> {
    let mut briefs: Vec<ServiceDeploymentBrief> = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page = list(ecs, cluster, service, |list| {
            list.status(ServiceDeploymentStatus::Successful)
                .max_results(100)
                .set_next_token(token.take())
        })
        .await?;
        briefs.extend(
            page.service_deployments()
                .iter()
                .filter(|b| b.status() == Some(&ServiceDeploymentStatus::Successful))
                .cloned(),
        );
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    // Newest first, whatever order the pages came in.
    briefs.sort_by_key(|b| {
        std::cmp::Reverse(
            b.finished_at()
                .or(b.started_at())
                .or(b.created_at())
                .map(|t| (t.secs(), t.subsec_nanos())),
        )
    });
    for chunk in briefs.chunks(REVISIONS_PER_CALL) {
        let task_definitions = targets_task_definitions(ecs, chunk.iter()).await?;
        for brief in chunk {
            let Some(revision) = brief.target_service_revision_arn() else {
                continue;
            };
            let Some(task_definition) = task_definitions.get(revision) else {
                continue;
            };
            if task_definition != current {
                return Ok(Some(DeployedRevision {
                    service_deployment_arn: brief
                        .service_deployment_arn()
                        .unwrap_or_default()
                        .to_string(),
                    service_revision_arn: revision.to_string(),
                    task_definition_arn: task_definition.to_string(),
                }));
            }
        }
    }
    Ok(None)
}

/// The task definition of each deployment's target revision (at most 20 deployments): one
/// DescribeServiceRevisions, none when no deployment names a target.
async fn targets_task_definitions<'a>(
    ecs: &ecs::Client,
    briefs: impl Iterator<Item = &'a ServiceDeploymentBrief>,
) -> Result<BTreeMap<String, String>, HistoryError> {
    let arns: Vec<String> = briefs
        .filter_map(|b| b.target_service_revision_arn())
        .map(str::to_string)
        .collect();
    if arns.is_empty() {
        return Ok(BTreeMap::new());
    }
    let out = ecs
        .describe_service_revisions()
        .set_service_revision_arns(Some(arns))
        .send()
        .await
        .map_err(|e| HistoryError::Revisions {
            reason: swa_aws::error_text(&e),
        })?;
    Ok(out
        .service_revisions()
        .iter()
        .filter_map(|r| {
            Some((
                r.service_revision_arn()?.to_string(),
                r.task_definition()?.to_string(),
            ))
        })
        .collect())
}

/// The newest service deployment of `service` created at `since` or later whose target
/// revision runs `task_definition`: the one that carries the update to it. Two calls
/// (ListServiceDeployments, DescribeServiceRevisions); `None` when there is none.
pub async fn service_deployment_to(
    ecs: &ecs::Client,
    cluster: &str,
    service: &str,
    task_definition: &str,
    since: aws_smithy_types::DateTime,
) -> Result<Option<String>, HistoryError> {
    let page = list(ecs, cluster, service, |list| {
        list.created_at(ecs::types::CreatedAt::builder().after(since).build())
            .max_results(REVISIONS_PER_CALL as i32)
    })
    .await?;
    let mut briefs: Vec<&ServiceDeploymentBrief> = page.service_deployments().iter().collect();
    briefs.sort_by_key(|b| std::cmp::Reverse(b.created_at().map(|t| (t.secs(), t.subsec_nanos()))));
    let task_definitions = targets_task_definitions(ecs, briefs.iter().copied()).await?;
    Ok(briefs
        .iter()
        .find(|b| {
            b.target_service_revision_arn()
                .and_then(|r| task_definitions.get(r))
                .is_some_and(|td| td == task_definition)
        })
        .and_then(|b| b.service_deployment_arn())
        .map(str::to_string))
}

/// The newest service deployment of `service` still in flight (pending, in progress, stopping
/// or rolling back), if any: one ListServiceDeployments.
pub async fn in_flight_service_deployment(
    ecs: &ecs::Client,
    cluster: &str,
    service: &str,
) -> Result<Option<String>, HistoryError> {
    use ServiceDeploymentStatus as S;
    let page = list(ecs, cluster, service, |list| {
        list.set_status(Some(vec![
            S::Pending,
            S::InProgress,
            S::StopRequested,
            S::RollbackRequested,
            S::RollbackInProgress,
        ]))
        .max_results(REVISIONS_PER_CALL as i32)
    })
    .await?;
    Ok(page
        .service_deployments()
        .iter()
        .max_by_key(|b| b.created_at().map(|t| (t.secs(), t.subsec_nanos())))
        .and_then(|b| b.service_deployment_arn())
        .map(str::to_string))
}

/// One DescribeServiceDeployments of `arn`: what it says now, or why there is no answer.
pub async fn describe_service_deployment(
    ecs: &ecs::Client,
    arn: &str,
) -> Result<crate::ServiceDeploymentState, String> {
    let out = ecs
        .describe_service_deployments()
        .service_deployment_arns(arn)
        .send()
        .await
        .map_err(|e| {
            format!(
                "DescribeServiceDeployments failed: {}",
                swa_aws::error_text(&e)
            )
        })?;
    match out.service_deployments().first() {
        Some(sd) => Ok(crate::ServiceDeploymentState::from_sdk(sd)),
        None => Err(match out.failures().first() {
            Some(f) => format!(
                "DescribeServiceDeployments found no {arn}: {}",
                f.reason().unwrap_or("no reason given")
            ),
            None => format!("DescribeServiceDeployments found no {arn}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_mocks::mock;
    use aws_smithy_types::DateTime;
    use ecs::operation::describe_service_revisions::DescribeServiceRevisionsOutput;
    use ecs::operation::list_service_deployments::ListServiceDeploymentsOutput;
    use ecs::types::ServiceRevision;

    const TD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web";

    fn brief(n: u32, finished: i64) -> ServiceDeploymentBrief {
        ServiceDeploymentBrief::builder()
            .service_deployment_arn(format!("sd-{n}"))
            .target_service_revision_arn(format!("rev-{n}"))
            .status(ServiceDeploymentStatus::Successful)
            .finished_at(DateTime::from_secs(finished))
            .build()
    }

    async fn previous(current: &str) -> Option<String> {
        // Pages out of order: :3 (newest) and :1 on the second page, :2 on the first.
        let list = mock!(ecs::Client::list_service_deployments)
            .sequence()
            .output(|| {
                ListServiceDeploymentsOutput::builder()
                    .service_deployments(brief(2, 200))
                    .next_token("p2")
                    .build()
            })
            .output(|| {
                ListServiceDeploymentsOutput::builder()
                    .service_deployments(brief(1, 100))
                    .service_deployments(brief(3, 300))
                    .build()
            })
            .build();
        let revisions =
            mock!(ecs::Client::describe_service_revisions).then_compute_output(|input| {
                let mut out = DescribeServiceRevisionsOutput::builder();
                for arn in input.service_revision_arns() {
                    let n = arn.trim_start_matches("rev-");
                    out = out.service_revisions(
                        ServiceRevision::builder()
                            .service_revision_arn(arn)
                            .task_definition(format!("{TD}:{n}"))
                            .build(),
                    );
                }
                out.build()
            });
        let client = swa_testing::mock_client!(ecs, [&list, &revisions]);
        last_successful_other_than(&client, "c", "s", current)
            .await
            .expect("history")
            .map(|r| r.task_definition_arn)
    }

    #[tokio::test]
    async fn the_newest_success_that_is_not_the_current_revision() {
        // Rolled back from :4 to :3: the service runs :3, so previous is :2, never :4.
        assert_eq!(previous(&format!("{TD}:3")).await, Some(format!("{TD}:2")));
        // Running :4 (in progress or done): the newest success, :3.
        assert_eq!(previous(&format!("{TD}:4")).await, Some(format!("{TD}:3")));
    }
}
