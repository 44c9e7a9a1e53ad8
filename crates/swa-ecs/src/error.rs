//! What went wrong in an ECS or ECR call or check, and whose fault it was: an input that names
//! something that is not there (exit 2, nothing changed), or the deployment (exit 1).

use std::fmt;

use swa_gha::{ActionError, Foreign};

use crate::ContainerChoiceError;
use crate::image::DigestError;

/// A failed ECS or ECR call or check. [`EcsFault::input`] says whether an input is at fault;
/// `?` turns it into the [`ActionError`] with the right exit code.
///
/// `EcsError` is not a `std::error::Error` itself: `ActionError` converts every such error into a
/// failure of the deployment, and this type must reach it only through its own `From`, which
/// knows better. Its [`fault`](EcsError::fault) is the error, with the cause chain.
#[derive(Debug)]
pub struct EcsError(Box<EcsFault>);

/// What went wrong, with what a person needs to act on it. The messages of the input faults
/// follow the input's name: "input `cluster` names `x`, which does not exist ...".
#[derive(Debug, thiserror::Error)]
pub enum EcsFault {
    #[error("is `{value}`; give the name or ARN")]
    BadName { input: &'static str, value: String },

    #[error("names `{cluster}`, which does not exist in this account and region")]
    ClusterNotFound { cluster: String },

    #[error(
        "names `{service}`, which is not an active service of cluster `{cluster}` ({})",
        Foreign(reason)
    )]
    ServiceNotFound {
        cluster: String,
        service: String,
        reason: String,
    },

    #[error(
        "names `{service}`, which ECS refuses to describe: {}",
        Foreign(reason)
    )]
    ServiceRefused { service: String, reason: String },

    /// `input` is the input that named the task definition (`revision`, `task-definition`, or
    /// `service` for the revision a service runs).
    #[error(
        "names task definition `{name}`, which does not exist: {}",
        Foreign(reason)
    )]
    TaskDefinitionNotFound {
        input: &'static str,
        name: String,
        reason: String,
    },

    #[error("{}", container_choice(.name.as_deref(), .source))]
    Container {
        /// The `container-name` input, when it was given.
        name: Option<String>,
        source: ContainerChoiceError,
    },

    /// The image an input names is not in ECR.
    #[error("{source}")]
    ImageMissing {
        input: &'static str,
        source: DigestError,
    },

    /// An image of the revision the `revision` input names is not in ECR.
    #[error("names `{revision}`, whose container `{container}` image {source}")]
    RevisionImageMissing {
        revision: String,
        container: String,
        source: DigestError,
    },

    /// ECR did not answer whether the image is there.
    #[error("{source}")]
    ImageLookup { source: DigestError },

    #[error("{operation}{} failed: {}", on(target), Foreign(reason))]
    Call {
        operation: &'static str,
        /// What the call was about (a service, a task definition); may be empty.
        target: String,
        reason: String,
    },

    #[error("{operation}{} returned no {what}", on(target))]
    Empty {
        operation: &'static str,
        target: String,
        what: &'static str,
    },
}

fn on(target: &str) -> String {
    if target.is_empty() {
        String::new()
    } else {
        format!(" {}", Foreign(target))
    }
}

fn container_choice(name: Option<&str>, source: &ContainerChoiceError) -> String {
    match name {
        Some(name) => format!("is `{name}`, but {source}"),
        None => format!("is not set, and {source}"),
    }
}

impl EcsFault {
    /// The input at fault, or `None` when the deployment failed.
    pub fn input(&self) -> Option<&'static str> {
        match self {
            EcsFault::BadName { input, .. }
            | EcsFault::TaskDefinitionNotFound { input, .. }
            | EcsFault::ImageMissing { input, .. } => Some(input),
            EcsFault::ClusterNotFound { .. } => Some("cluster"),
            EcsFault::ServiceNotFound { .. } | EcsFault::ServiceRefused { .. } => Some("service"),
            EcsFault::Container { .. } => Some("container-name"),
            EcsFault::RevisionImageMissing { .. } => Some("revision"),
            EcsFault::ImageLookup { .. } | EcsFault::Call { .. } | EcsFault::Empty { .. } => None,
        }
    }
}

impl EcsError {
    pub fn fault(&self) -> &EcsFault {
        &self.0
    }

    /// The input at fault, or `None` when the deployment failed.
    pub fn input(&self) -> Option<&'static str> {
        self.0.input()
    }

    /// A call that failed, with the SDK's error in one line.
    pub fn call(operation: &'static str, target: impl Into<String>, reason: String) -> EcsError {
        EcsFault::Call {
            operation,
            target: target.into(),
            reason,
        }
        .into()
    }

    /// No single container could be chosen; `name` is the `container-name` input, when given.
    pub fn container(name: Option<&str>, source: ContainerChoiceError) -> EcsError {
        EcsFault::Container {
            name: name.map(String::from),
            source,
        }
        .into()
    }

    /// The digest of an image that the `image` input names could not be read from ECR.
    pub fn image(source: DigestError) -> EcsError {
        match source {
            DigestError::Lookup { .. } => EcsFault::ImageLookup { source },
            _ => EcsFault::ImageMissing {
                input: "image",
                source,
            },
        }
        .into()
    }

    /// The digest of an image of the revision that the `revision` input names could not be
    /// read from ECR.
    pub fn revision_image(revision: &str, container: &str, source: DigestError) -> EcsError {
        match source {
            DigestError::Lookup { .. } => EcsFault::ImageLookup { source },
            _ => EcsFault::RevisionImageMissing {
                revision: revision.to_string(),
                container: container.to_string(),
                source,
            },
        }
        .into()
    }

    /// A call that succeeded but returned nothing to work with.
    pub fn empty(
        operation: &'static str,
        target: impl Into<String>,
        what: &'static str,
    ) -> EcsError {
        EcsFault::Empty {
            operation,
            target: target.into(),
            what,
        }
        .into()
    }
}

impl From<EcsFault> for EcsError {
    fn from(fault: EcsFault) -> EcsError {
        EcsError(Box::new(fault))
    }
}

impl fmt::Display for EcsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.input() {
            Some(input) => write!(f, "input `{input}` {}", self.0),
            None => write!(f, "{}", swa_gha::cause_chain(self.0.as_ref())),
        }
    }
}

/// The one place that decides the exit code of an ECS failure: 2 when an input is at fault,
/// 1 otherwise.
impl From<EcsError> for ActionError {
    fn from(error: EcsError) -> ActionError {
        match error.input() {
            Some(input) => ActionError::input(input, swa_gha::cause_chain(error.0.as_ref())),
            None => ActionError::from(*error.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use swa_gha::ExitKind;

    #[test]
    fn input_faults_exit_2_naming_the_input_and_failed_calls_exit_1() {
        let cluster: ActionError = EcsError::from(EcsFault::ClusterNotFound {
            cluster: "nope".into(),
        })
        .into();
        assert_eq!(cluster.kind(), ExitKind::BadInput);
        assert_eq!(cluster.title(), Some("Invalid input `cluster`"));
        assert_eq!(
            cluster.to_string(),
            "input `cluster` names `nope`, which does not exist in this account and region"
        );
        let call: ActionError = EcsError::call(
            "UpdateService",
            "web",
            "ThrottlingException: Rate exceeded\n::error::x".into(),
        )
        .into();
        assert_eq!(call.kind(), ExitKind::Failed);
        assert_eq!(
            call.to_string(),
            r"UpdateService web failed: ThrottlingException: Rate exceeded\n::error::x"
        );
        let lookup: ActionError = EcsError::from(EcsFault::ImageLookup {
            source: DigestError::Lookup {
                image: "nginx:1".into(),
                reason: "the request timed out".into(),
            },
        })
        .into();
        assert_eq!(lookup.kind(), ExitKind::Failed);
    }

    #[test]
    fn the_container_message_says_whether_the_input_was_given() {
        let available = vec!["web".to_string(), "worker".to_string()];
        let named = EcsError::from(EcsFault::Container {
            name: Some("app".into()),
            source: ContainerChoiceError::NotFound {
                name: "app".into(),
                available: available.clone(),
            },
        });
        assert_eq!(
            named.to_string(),
            "input `container-name` is `app`, but there is no container `app` in the task definition (containers: web, worker)"
        );
        let unset = EcsError::from(EcsFault::Container {
            name: None,
            source: ContainerChoiceError::Ambiguous { available },
        });
        assert_eq!(
            unset.to_string(),
            "input `container-name` is not set, and the task definition has 2 essential containers (web, worker); name the one to use"
        );
    }
}
