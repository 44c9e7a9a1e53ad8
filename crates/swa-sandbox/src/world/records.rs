//! GitHub deployments (the Deployments API's records) and their statuses: what was deployed to
//! an environment, with a payload, and how it went.

use serde_json::{Value, json};

use super::{DAY, World};

/// The application repository the seeded records belong to, and the task they carry.
pub const APP_REPOSITORY: (&str, &str) = ("org", "startupwebapp");
pub const RECORD_TASK: &str = "deploy:swa-actions";

#[derive(Clone, Debug)]
pub struct Record {
    pub id: u64,
    pub owner: String,
    pub repo: String,
    pub sha: String,
    pub git_ref: String,
    pub task: String,
    pub payload: Value,
    pub environment: String,
    pub description: Option<String>,
    pub production: bool,
    pub transient: bool,
    pub created_at: i64,
    pub statuses: Vec<RecordStatus>,
}

#[derive(Clone, Debug)]
pub struct RecordStatus {
    pub id: u64,
    pub state: String,
    pub description: String,
    pub log_url: String,
    pub environment_url: String,
    pub created_at: i64,
}

/// The frontend commit the seeded deploy of task-definition revision `revision` shipped.
pub fn seeded_frontend_ref(revision: u32) -> String {
    let mut h = super::sha256_hex(format!("startupwebapp-frontend release-{revision}").as_bytes());
    h.truncate(40);
    h
}

impl World {
    /// The production deploys of revisions 2 and 3 (the one running), as deploy-production
    /// records them, each successful.
    pub(super) fn seed_records(&mut self, start: i64) {
        for revision in 2..=3u32 {
            let at = start - (4 - revision as i64) * 7 * DAY;
            // Fixed ids, apart from the world's counter, so that seeding them moves no other id.
            let mut sha = super::sha256_hex(format!("startupwebapp release-{revision}").as_bytes());
            sha.truncate(40);
            let id = 2_400_000_000 + revision as u64;
            let status = 24_000_000_000 + revision as u64;
            let arn = format!(
                "arn:aws:ecs:{}:{}:task-definition/{}:{revision}",
                super::REGION,
                super::ACCOUNT,
                super::SERVICE_FAMILY
            );
            let image = self
                .images
                .iter()
                .find(|i| i.tags.iter().any(|t| *t == format!("release-{revision}")))
                .map(|i| format!("{}/{}@{}", super::REGISTRY, super::REPOSITORY, i.digest))
                .unwrap_or_default();
            self.records.push(Record {
                id,
                owner: APP_REPOSITORY.0.into(),
                repo: APP_REPOSITORY.1.into(),
                git_ref: sha.clone(),
                sha,
                task: RECORD_TASK.into(),
                payload: json!({
                    "kind": "deploy",
                    "task_definition_arn": arn,
                    "image": image,
                    "frontend_ref": seeded_frontend_ref(revision),
                    "destructive_migrations": [],
                }),
                environment: "production".into(),
                description: Some(format!("Deploy of release-{revision}")),
                production: true,
                transient: false,
                created_at: at,
                statuses: vec![RecordStatus {
                    id: status,
                    state: "success".into(),
                    description: "verified".into(),
                    log_url: format!(
                        "https://github.com/{}/{}/actions/runs/{}",
                        APP_REPOSITORY.0,
                        APP_REPOSITORY.1,
                        9_000_000_000u64 + revision as u64
                    ),
                    environment_url: "https://startupwebapp.com".into(),
                    created_at: at + 600_000,
                }],
            });
        }
    }
}
