//! One place that builds the AWS SDK configuration: the standard credential chain, the region,
//! `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>` overrides, retries and timeouts.
//!
//! Everything is read from the injected [`Env`], so an action run in-process by a test sees the
//! same settings as one run by the runner.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use swa_gha::Env;

pub use aws_sdk_cloudwatch as cloudwatch;
pub use aws_sdk_cloudwatchlogs as logs;
pub use aws_sdk_ec2 as ec2;
pub use aws_sdk_ecr as ecr;
pub use aws_sdk_ecs as ecs;
pub use aws_sdk_elasticloadbalancingv2 as elbv2;
pub use aws_sdk_s3 as s3;

mod alarms;
mod errors;
pub use alarms::{AlarmState, describe_alarms, metric_text};
pub use errors::{error_code, error_text, is_throttling};

/// Attempts per call (the first one included) unless `AWS_MAX_ATTEMPTS` says otherwise.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// The SDK configuration and the service endpoints that override it.
#[derive(Clone, Debug)]
pub struct Aws {
    config: SdkConfig,
    endpoints: Endpoints,
}

#[derive(Clone, Debug, Default)]
struct Endpoints {
    ecs: Option<String>,
    ecr: Option<String>,
    cloudwatch: Option<String>,
    logs: Option<String>,
    elbv2: Option<String>,
    ec2: Option<String>,
    s3: Option<String>,
    any_override: bool,
}

impl Aws {
    /// Loads the configuration as the AWS CLI would, from `env`.
    pub async fn load(env: &Env) -> Aws {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(retry_config(env))
            .timeout_config(timeout_config());
        if let Some(region) = env
            .non_empty("AWS_REGION")
            .or_else(|| env.non_empty("AWS_DEFAULT_REGION"))
        {
            loader = loader.region(Region::new(region.to_string()));
        }
        if let Some(url) = env.non_empty("AWS_ENDPOINT_URL") {
            loader = loader.endpoint_url(url);
        }
        if let (Some(id), Some(secret)) = (
            env.non_empty("AWS_ACCESS_KEY_ID"),
            env.non_empty("AWS_SECRET_ACCESS_KEY"),
        ) {
            loader = loader.credentials_provider(Credentials::new(
                id,
                secret,
                env.non_empty("AWS_SESSION_TOKEN").map(String::from),
                None,
                "environment",
            ));
        }
        let config = loader.load().await;
        Aws {
            config,
            endpoints: Endpoints::from_env(env),
        }
    }

    /// Wraps a ready configuration (tests, mocks).
    pub fn from_config(config: SdkConfig) -> Aws {
        Aws {
            config,
            endpoints: Endpoints::default(),
        }
    }

    pub fn config(&self) -> &SdkConfig {
        &self.config
    }

    pub fn region(&self) -> Option<&str> {
        self.config.region().map(Region::as_ref)
    }

    pub fn ecs(&self) -> ecs::Client {
        let mut b = ecs::config::Builder::from(&self.config);
        if let Some(url) = &self.endpoints.ecs {
            b = b.endpoint_url(url);
        }
        ecs::Client::from_conf(b.build())
    }

    pub fn ecr(&self) -> ecr::Client {
        let mut b = ecr::config::Builder::from(&self.config);
        if let Some(url) = &self.endpoints.ecr {
            b = b.endpoint_url(url);
        }
        ecr::Client::from_conf(b.build())
    }

    pub fn cloudwatch(&self) -> cloudwatch::Client {
        let mut b = cloudwatch::config::Builder::from(&self.config);
        if let Some(url) = &self.endpoints.cloudwatch {
            b = b.endpoint_url(url);
        }
        cloudwatch::Client::from_conf(b.build())
    }

    pub fn logs(&self) -> logs::Client {
        let mut b = logs::config::Builder::from(&self.config);
        if let Some(url) = &self.endpoints.logs {
            b = b.endpoint_url(url);
        }
        logs::Client::from_conf(b.build())
    }

    pub fn elbv2(&self) -> elbv2::Client {
        let mut b = elbv2::config::Builder::from(&self.config);
        if let Some(url) = &self.endpoints.elbv2 {
            b = b.endpoint_url(url);
        }
        elbv2::Client::from_conf(b.build())
    }

    pub fn ec2(&self) -> ec2::Client {
        let mut b = ec2::config::Builder::from(&self.config);
        if let Some(url) = &self.endpoints.ec2 {
            b = b.endpoint_url(url);
        }
        ec2::Client::from_conf(b.build())
    }

    /// S3 uses path-style addressing whenever an endpoint is overridden: emulators and local
    /// servers do not resolve bucket subdomains.
    pub fn s3(&self) -> s3::Client {
        let mut b = s3::config::Builder::from(&self.config);
        if let Some(url) = &self.endpoints.s3 {
            b = b.endpoint_url(url);
        }
        if self.endpoints.any_override || self.config.endpoint_url().is_some() {
            b = b.force_path_style(true);
        }
        s3::Client::from_conf(b.build())
    }
}

impl Endpoints {
    fn from_env(env: &Env) -> Endpoints {
        let get = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| env.non_empty(&format!("AWS_ENDPOINT_URL_{n}")))
                .map(String::from)
        };
        let e = Endpoints {
            ecs: get(&["ECS"]),
            ecr: get(&["ECR"]),
            cloudwatch: get(&["CLOUDWATCH"]),
            logs: get(&["CLOUDWATCH_LOGS", "LOGS"]),
            elbv2: get(&["ELASTIC_LOAD_BALANCING_V2", "ELBV2"]),
            ec2: get(&["EC2"]),
            s3: get(&["S3"]),
            any_override: false,
        };
        let any_override = e.ecs.is_some()
            || e.ecr.is_some()
            || e.cloudwatch.is_some()
            || e.logs.is_some()
            || e.elbv2.is_some()
            || e.ec2.is_some()
            || e.s3.is_some();
        Endpoints { any_override, ..e }
    }
}

fn retry_config(env: &Env) -> RetryConfig {
    let attempts = env
        .non_empty("AWS_MAX_ATTEMPTS")
        .and_then(|v| v.parse::<u32>().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(DEFAULT_MAX_ATTEMPTS);
    let base = match env.non_empty("AWS_RETRY_MODE") {
        Some("adaptive") => RetryConfig::adaptive(),
        _ => RetryConfig::standard(),
    };
    base.with_max_attempts(attempts)
        .with_initial_backoff(Duration::from_millis(200))
        .with_max_backoff(Duration::from_secs(8))
}

fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .read_timeout(Duration::from_secs(20))
        .operation_attempt_timeout(Duration::from_secs(30))
        .operation_timeout(Duration::from_secs(120))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn endpoint_region_and_credentials_come_from_the_injected_environment() {
        let env = Env::from_pairs([
            ("AWS_REGION", "eu-west-2"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
            ("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:5000"),
            ("AWS_ENDPOINT_URL_CLOUDWATCH", "http://127.0.0.1:5001"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_MAX_ATTEMPTS", "7"),
        ]);
        let aws = Aws::load(&env).await;
        assert_eq!(aws.region(), Some("eu-west-2"));
        assert_eq!(aws.config().endpoint_url(), Some("http://127.0.0.1:4566"));
        assert_eq!(aws.endpoints.s3.as_deref(), Some("http://127.0.0.1:5000"));
        assert_eq!(
            aws.endpoints.cloudwatch.as_deref(),
            Some("http://127.0.0.1:5001")
        );
        assert!(aws.endpoints.ecs.is_none());
        let retry = aws.config().retry_config().expect("retry config");
        assert_eq!(retry.max_attempts(), 7);
        let timeouts = aws.config().timeout_config().expect("timeouts");
        assert_eq!(timeouts.connect_timeout(), Some(Duration::from_secs(3)));
    }
}
