//! The Deployments API: the records of what was deployed to an environment, with a payload, and
//! their statuses.

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{GitHub, GithubError, Repo};

/// The fields of a deployment the actions read.
#[derive(Clone, Debug, Deserialize)]
pub struct Deployment {
    pub id: u64,
    #[serde(default)]
    pub sha: String,
    #[serde(rename = "ref", default)]
    pub git_ref: String,
    #[serde(default)]
    pub task: String,
    #[serde(default)]
    pub environment: String,
    /// What the deploy recorded; an object (GitHub answers `{}` when none was given).
    #[serde(default)]
    pub payload: Value,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
}

impl Deployment {
    /// A text field of the payload, empty when it has none.
    pub fn payload_text(&self, key: &str) -> &str {
        self.payload[key].as_str().unwrap_or_default()
    }
}

/// A deployment's status.
#[derive(Clone, Debug, Deserialize)]
pub struct DeploymentStatus {
    pub id: u64,
    /// `error`, `failure`, `inactive`, `in_progress`, `queued`, `pending` or `success`.
    pub state: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub log_url: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
}

/// A deployment to create.
#[derive(Clone, Debug)]
pub struct NewDeployment<'a> {
    /// The commit, branch or tag deployed.
    pub git_ref: &'a str,
    pub task: &'a str,
    pub environment: &'a str,
    pub description: &'a str,
    pub payload: &'a Value,
}

/// A status to add to a deployment.
#[derive(Clone, Debug)]
pub struct NewStatus<'a> {
    pub state: &'a str,
    pub description: &'a str,
    /// The run's page.
    pub log_url: &'a str,
    /// The environment's URL; empty for none.
    pub environment_url: &'a str,
}

impl GitHub {
    /// `POST /repos/{owner}/{repo}/deployments`, without merging the default branch in and
    /// without waiting on commit statuses: the record of a deploy that is happening. Sent once,
    /// as a dispatch is: a second record of the same deploy would count twice.
    pub async fn create_deployment(
        &self,
        repo: &Repo,
        new: &NewDeployment<'_>,
    ) -> Result<Deployment, GithubError> {
        let body = json!({
            "ref": new.git_ref,
            "task": new.task,
            "environment": new.environment,
            "description": new.description,
            "payload": new.payload,
            "auto_merge": false,
            "required_contexts": [],
            "production_environment": new.environment == "production",
        });
        let path = format!("/repos/{repo}/deployments");
        let answer = self
            .send_once(Method::POST, &path, &[], Some(&body))
            .await?;
        serde_json::from_slice(&answer.body).map_err(|source| GithubError::Decode {
            method: "POST".into(),
            path,
            source,
        })
    }

    /// The newest deployments of `task` to `environment` (one page of up to 100), newest first.
    pub async fn list_deployments(
        &self,
        repo: &Repo,
        task: &str,
        environment: &str,
    ) -> Result<Vec<Deployment>, GithubError> {
        let query = [
            ("task", task.to_string()),
            ("environment", environment.to_string()),
            ("per_page", "100".to_string()),
        ];
        let (list, _) = self
            .json(
                Method::GET,
                &format!("/repos/{repo}/deployments"),
                &query,
                None,
            )
            .await?;
        Ok(list)
    }

    /// `POST /repos/{owner}/{repo}/deployments/{id}/statuses`. Earlier deployments keep their
    /// statuses (`auto_inactive` is off): the history stays readable. Repeated after a fault: a
    /// second status of the same state changes nothing that is read.
    pub async fn create_deployment_status(
        &self,
        repo: &Repo,
        id: u64,
        new: &NewStatus<'_>,
    ) -> Result<DeploymentStatus, GithubError> {
        let mut body = json!({
            "state": new.state,
            "description": new.description,
            "log_url": new.log_url,
            "auto_inactive": false,
        });
        if !new.environment_url.is_empty() {
            body["environment_url"] = json!(new.environment_url);
        }
        let (status, _) = self
            .json(
                Method::POST,
                &format!("/repos/{repo}/deployments/{id}/statuses"),
                &[],
                Some(&body),
            )
            .await?;
        Ok(status)
    }

    /// A deployment's statuses, newest first (one page of up to 100).
    pub async fn list_deployment_statuses(
        &self,
        repo: &Repo,
        id: u64,
    ) -> Result<Vec<DeploymentStatus>, GithubError> {
        let (list, _) = self
            .json(
                Method::GET,
                &format!("/repos/{repo}/deployments/{id}/statuses"),
                &[("per_page", "100".to_string())],
                None,
            )
            .await?;
        Ok(list)
    }
}
