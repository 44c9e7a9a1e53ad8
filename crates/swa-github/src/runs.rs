use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::{GitHub, GithubError, Repo};

/// The fields of a workflow run the actions read.
#[derive(Clone, Debug, Deserialize)]
pub struct WorkflowRun {
    pub id: u64,
    /// The workflow's name.
    #[serde(default)]
    pub name: Option<String>,
    /// The run's name: the workflow's `run-name`, when it sets one.
    #[serde(default)]
    pub display_title: Option<String>,
    /// `queued`, `in_progress`, `completed`, `waiting`, `requested`, `pending`.
    #[serde(default)]
    pub status: Option<String>,
    /// Once completed: `success`, `failure`, `cancelled`, `timed_out`, `startup_failure`, ...
    #[serde(default)]
    pub conclusion: Option<String>,
    #[serde(default)]
    pub html_url: String,
    #[serde(default)]
    pub created_at: Option<String>,
    /// 1 for the first run, +1 for each re-run.
    #[serde(default)]
    pub run_attempt: Option<u32>,
    #[serde(default)]
    pub event: Option<String>,
}

impl WorkflowRun {
    pub fn created(&self) -> Option<OffsetDateTime> {
        self.created_at.as_deref().and_then(parse_timestamp)
    }

    pub fn is_completed(&self) -> bool {
        self.status.as_deref() == Some("completed")
    }

    pub fn attempt(&self) -> u32 {
        self.run_attempt.unwrap_or(1)
    }

    /// Whether the run's name (or, for older servers, the workflow's) contains `text`.
    pub fn named_with(&self, text: &str) -> bool {
        [&self.display_title, &self.name]
            .into_iter()
            .flatten()
            .any(|n| n.contains(text))
    }

    /// `in_progress`, or `completed/failure`.
    pub fn state(&self) -> String {
        let status = self.status.as_deref().unwrap_or("unknown");
        match &self.conclusion {
            Some(c) if !c.is_empty() => format!("{status}/{c}"),
            _ => status.to_string(),
        }
    }
}

/// GitHub's timestamps: RFC 3339 (`2026-11-26T14:05:09Z`).
pub fn parse_timestamp(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text.trim(), &Rfc3339).ok()
}

/// Which runs to list.
#[derive(Clone, Debug, Default)]
pub struct RunFilter {
    /// `repository_dispatch`, `push`, ...
    pub event: Option<String>,
    /// Only runs created at or after this instant.
    pub created_since: Option<OffsetDateTime>,
    /// A workflow file name (`deploy.yml`) or id, to list only its runs.
    pub workflow: Option<String>,
}

#[derive(Deserialize)]
struct RunList {
    #[serde(default)]
    workflow_runs: Vec<WorkflowRun>,
}

impl GitHub {
    /// `POST /repos/{owner}/{repo}/dispatches`. Returns GitHub's clock at the time of the
    /// dispatch (its `Date` header), against which the run's `created_at` is compared.
    ///
    /// Sent with [`GitHub::send_once`]: a dispatch GitHub may have accepted (a 5xx answer, no
    /// answer) is not sent again here, since a second one would start a second run; the error
    /// says so through [`GithubError::may_have_acted`].
    pub async fn dispatch(
        &self,
        repo: &Repo,
        event_type: &str,
        client_payload: &Value,
    ) -> Result<Option<OffsetDateTime>, GithubError> {
        let body = json!({ "event_type": event_type, "client_payload": client_payload });
        let answer = self
            .send_once(
                Method::POST,
                &format!("/repos/{repo}/dispatches"),
                &[],
                Some(&body),
            )
            .await?;
        Ok(answer.date.map(OffsetDateTime::from))
    }

    /// The newest runs (one page of up to 100) matching `filter`.
    pub async fn list_runs(
        &self,
        repo: &Repo,
        filter: &RunFilter,
    ) -> Result<Vec<WorkflowRun>, GithubError> {
        let path = match &filter.workflow {
            Some(workflow) => format!("/repos/{repo}/actions/workflows/{workflow}/runs"),
            None => format!("/repos/{repo}/actions/runs"),
        };
        let mut query = vec![("per_page", "100".to_string())];
        if let Some(event) = &filter.event {
            query.push(("event", event.clone()));
        }
        if let Some(since) = filter.created_since {
            let since = since
                .replace_nanosecond(0)
                .unwrap_or(since)
                .to_offset(time::UtcOffset::UTC)
                .format(&Rfc3339)
                .unwrap_or_default();
            query.push(("created", format!(">={since}")));
        }
        let (list, _): (RunList, _) = self.json(Method::GET, &path, &query, None).await?;
        Ok(list.workflow_runs)
    }

    /// `GET /repos/{owner}/{repo}/actions/runs/{id}`.
    pub async fn get_run(&self, repo: &Repo, id: u64) -> Result<WorkflowRun, GithubError> {
        let (run, _) = self
            .json(
                Method::GET,
                &format!("/repos/{repo}/actions/runs/{id}"),
                &[],
                None,
            )
            .await?;
        Ok(run)
    }

    /// `POST /repos/{owner}/{repo}/actions/runs/{id}/rerun-failed-jobs`: a new attempt of the
    /// same run, with only its failed jobs (and those depending on them). Sent with
    /// [`GitHub::send_once`], as a dispatch is: after an unclear answer, the run's attempt number
    /// tells whether GitHub took it.
    pub async fn rerun_failed_jobs(&self, repo: &Repo, id: u64) -> Result<(), GithubError> {
        self.send_once(
            Method::POST,
            &format!("/repos/{repo}/actions/runs/{id}/rerun-failed-jobs"),
            &[],
            None,
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_found_by_its_name_or_the_workflows() {
        let run: WorkflowRun = serde_json::from_value(json!({
            "id": 7, "name": "Deploy frontend", "display_title": "Deploy 1234-abcd",
            "status": "completed", "conclusion": "failure",
            "html_url": "https://github.com/org/fe/actions/runs/7",
            "created_at": "2026-11-26T14:05:09Z", "run_attempt": 2
        }))
        .expect("run");
        assert!(run.named_with("1234-abcd"));
        assert!(!run.named_with("9999"));
        assert_eq!(run.state(), "completed/failure");
        assert_eq!(run.attempt(), 2);
        assert_eq!(
            run.created().map(|t| t.unix_timestamp()),
            Some(1_795_701_909)
        );
    }
}
