//! The SDK's own wire format, used offline.
//!
//! The ECS model types carry no serde support, but the SDK knows how to write them to JSON (as a
//! request body) and read them from JSON (as a response body). A client whose HTTP layer is an
//! in-memory function gives access to both, exactly as the service sees them, without a network.

use std::sync::{Arc, Mutex};

use aws_sdk_ecs as ecs;
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, SharedHttpConnector, http_client_fn,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

/// Answers every request with `response` and keeps the last request body.
#[derive(Debug, Clone)]
struct Loopback {
    response: Arc<Vec<u8>>,
    request: Arc<Mutex<Option<Vec<u8>>>>,
}

impl HttpConnector for Loopback {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let body = request.body().bytes().map(<[u8]>::to_vec);
        *self
            .request
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = body;
        let response = match StatusCode::try_from(200u16) {
            Ok(status) => Ok(HttpResponse::new(
                status,
                SdkBody::from(self.response.as_ref().clone()),
            )),
            Err(e) => Err(
                aws_smithy_runtime_api::client::result::ConnectorError::other(Box::new(e), None),
            ),
        };
        HttpConnectorFuture::ready(response)
    }
}

/// An ECS client that never leaves the process: every call gets `response` as its body.
pub(crate) struct OfflineEcs {
    pub(crate) client: ecs::Client,
    loopback: Loopback,
}

impl OfflineEcs {
    pub(crate) fn new(response: Vec<u8>) -> Self {
        let loopback = Loopback {
            response: Arc::new(response),
            request: Arc::new(Mutex::new(None)),
        };
        let connector = loopback.clone();
        let config = ecs::Config::builder()
            .behavior_version(ecs::config::BehaviorVersion::latest())
            .region(ecs::config::Region::from_static("us-east-1"))
            .credentials_provider(ecs::config::Credentials::new(
                "offline", "offline", None, None, "offline",
            ))
            .retry_config(ecs::config::retry::RetryConfig::disabled())
            .http_client(http_client_fn(move |_, _| {
                SharedHttpConnector::new(connector.clone())
            }))
            .build();
        OfflineEcs {
            client: ecs::Client::from_conf(config),
            loopback,
        }
    }

    /// The body of the last request sent through this client.
    pub(crate) fn last_request(&self) -> Option<Vec<u8>> {
        self.loopback
            .request
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}
