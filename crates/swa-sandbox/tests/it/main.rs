//! swa-sandbox through the interfaces its users have: the aws-sdk clients, awscli, reqwest
//! against the GitHub API and the app, and the `swa-sandbox` binary.
#![allow(clippy::unwrap_used)]

mod aws_cli;
mod binary;
mod cloudwatch;
mod control;
mod ecs_rollout;
mod errors;
mod github_app;
mod limits;
mod one_off;
mod s3;
mod service_deployments;
mod traffic_shift;
mod validation;

use std::time::{Duration, Instant};

use swa_sandbox::{Options, Sandbox};

pub fn start(scenario: &str, clock: f64) -> Sandbox {
    Sandbox::start(Options {
        scenario: scenario.into(),
        clock,
        ..Options::default()
    })
    .unwrap()
}

pub async fn aws(sandbox: &Sandbox) -> swa_aws::Aws {
    swa_aws::Aws::load(&swa_gha::Env::from_pairs(sandbox.env())).await
}

pub const CLUSTER: &str = "startupwebapp-cluster";
pub const SERVICE: &str = "startupwebapp-service";

/// Polls `check` until it gives a value, for at most `limit` of real time.
pub async fn eventually<T, F, Fut>(limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "condition not reached within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn service(ecs: &swa_aws::ecs::Client) -> swa_aws::ecs::types::Service {
    ecs.describe_services()
        .cluster(CLUSTER)
        .services(SERVICE)
        .send()
        .await
        .unwrap()
        .services()[0]
        .clone()
}
