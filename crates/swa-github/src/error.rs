use std::time::Duration;

/// What went wrong talking to GitHub, with the request it happened on. The messages say what a
/// person can do about it.
#[derive(Debug, thiserror::Error)]
pub enum GithubError {
    #[error(
        "{method} {path}: GitHub refused the token (401 {message}): it is expired, revoked or mistyped"
    )]
    Unauthorized {
        method: String,
        path: String,
        message: String,
    },

    #[error(
        "{method} {path}: GitHub answered 403 ({message}): the token lacks a permission this call needs"
    )]
    Forbidden {
        method: String,
        path: String,
        message: String,
    },

    #[error(
        "{method} {path}: GitHub answered 404 ({message}): the resource does not exist, or the token cannot see it"
    )]
    NotFound {
        method: String,
        path: String,
        message: String,
    },

    #[error("{method} {path}: GitHub refused the request (422 {message})")]
    Unprocessable {
        method: String,
        path: String,
        message: String,
    },

    #[error("{method} {path}: GitHub answered {status} ({message}) after {attempts} attempt(s)")]
    Status {
        method: String,
        path: String,
        status: u16,
        message: String,
        attempts: u32,
    },

    #[error("{method} {path}: GitHub's rate limit asks to wait {}s, longer than the {}s this action waits at once{}", wait.as_secs(), limit.as_secs(), reset.as_ref().map(|r| format!(" (the limit resets at {r})")).unwrap_or_default())]
    RateLimited {
        method: String,
        path: String,
        wait: Duration,
        limit: Duration,
        reset: Option<String>,
    },

    #[error("{method} {path}: no answer from GitHub after {attempts} attempt(s)")]
    Transport {
        method: String,
        path: String,
        attempts: u32,
        #[source]
        source: reqwest::Error,
    },

    #[error("{method} {path}: GitHub's answer is not the JSON expected")]
    Decode {
        method: String,
        path: String,
        #[source]
        source: serde_json::Error,
    },

    #[error("the token holds characters an HTTP header cannot carry")]
    InvalidToken,

    #[error("cannot build the HTTP client")]
    Client(#[source] reqwest::Error),
}

impl GithubError {
    /// The HTTP status GitHub answered, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            GithubError::Unauthorized { .. } => Some(401),
            GithubError::Forbidden { .. } => Some(403),
            GithubError::NotFound { .. } => Some(404),
            GithubError::Unprocessable { .. } => Some(422),
            GithubError::Status { status, .. } => Some(*status),
            GithubError::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    /// GitHub's own message (`Bad credentials`, `Not Found`, ...), when it sent one.
    pub fn message(&self) -> Option<&str> {
        match self {
            GithubError::Unauthorized { message, .. }
            | GithubError::Forbidden { message, .. }
            | GithubError::NotFound { message, .. }
            | GithubError::Unprocessable { message, .. }
            | GithubError::Status { message, .. } => Some(message),
            _ => None,
        }
    }

    /// Whether GitHub may have acted on the request although it did not say so: it answered
    /// 5xx, or the answer never came (a timeout, a dropped connection). A 4xx answer is a
    /// refusal, and a connection that could not be made carried nothing.
    pub fn may_have_acted(&self) -> bool {
        match self {
            GithubError::Status { status, .. } => *status >= 500,
            GithubError::Transport { source, .. } => !source.is_connect(),
            _ => false,
        }
    }

    /// A fault worth trying again later (the client already retried it within its bounds).
    pub fn is_transient(&self) -> bool {
        match self {
            GithubError::Status { status, .. } => {
                *status >= 500 || *status == 408 || *status == 429
            }
            GithubError::RateLimited { .. } | GithubError::Transport { .. } => true,
            _ => false,
        }
    }
}
