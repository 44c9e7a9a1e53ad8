//! A small GitHub REST client for the swa actions.
//!
//! Plain reqwest with rustls. Every request carries `Accept: application/vnd.github+json`,
//! `X-GitHub-Api-Version: 2022-11-28` and a sensitive `Authorization` header built from a
//! [`Token`] whose `Debug` prints `***`. The base URL comes from the action's input, else
//! `GITHUB_API_URL`, else `https://api.github.com`, so GitHub Enterprise and the local sandbox
//! work unchanged. 5xx, 408 and 429 answers (and 403 answers that are rate limits), timeouts and
//! dropped connections are retried within a [`RetryPolicy`], honouring `Retry-After` and the
//! `x-ratelimit-*` headers.

mod client;
mod deployments;
mod error;
mod repo;
mod runs;
mod token;

pub use client::{GitHub, RetryEvent, RetryPolicy, api_base_url};
pub use deployments::{Deployment, DeploymentStatus, NewDeployment, NewStatus};
pub use error::GithubError;
pub use repo::Repo;
pub use runs::{RunFilter, WorkflowRun, parse_timestamp};
pub use token::Token;

/// `https://api.github.com`: the base URL when neither the input nor `GITHUB_API_URL` gives one.
pub const DEFAULT_API_URL: &str = "https://api.github.com";
