//! Reading SDK errors the same way in every action.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// The service's error code (`ServiceNotFoundException`, `ThrottlingException`, ...), if the
/// service answered with one.
pub fn error_code<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> Option<&str> {
    match error {
        SdkError::ServiceError(e) => e.err().code(),
        _ => None,
    }
}

/// One line a person can act on: the service's code and message, or what failed on the way
/// (timeout, connection refused, ...).
pub fn error_text<E, R>(error: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match error {
        SdkError::ServiceError(e) => {
            let err = e.err();
            match (err.code(), err.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_string(),
                _ => err.to_string(),
            }
        }
        SdkError::TimeoutError(_) => "the request timed out".to_string(),
        SdkError::DispatchFailure(e) => {
            let mut text = "the request could not be sent".to_string();
            if let Some(cause) = std::error::Error::source(error) {
                text.push_str(&format!(": {}", swa_gha::cause_chain(cause)));
            } else if e.is_io() {
                text.push_str(": connection error");
            }
            text
        }
        SdkError::ResponseError(_) => {
            let mut text = "the response could not be read".to_string();
            if let Some(cause) = std::error::Error::source(error) {
                text.push_str(&format!(": {}", swa_gha::cause_chain(cause)));
            }
            text
        }
        other => {
            let mut text = other.to_string();
            if let Some(cause) = std::error::Error::source(other) {
                text.push_str(&format!(": {}", swa_gha::cause_chain(cause)));
            }
            text
        }
    }
}

/// Throttling, as the services name it; the SDK retries these itself, and a poller that sees
/// one after the retries slows down.
pub fn is_throttling<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    matches!(
        error_code(error),
        Some(
            "ThrottlingException"
                | "Throttling"
                | "TooManyRequestsException"
                | "RequestLimitExceeded"
                | "SlowDown"
        )
    )
}
