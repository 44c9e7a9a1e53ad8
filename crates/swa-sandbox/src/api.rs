//! Errors as the AWS services answer them.

/// An error answer: HTTP status, the service's error code and message.
#[derive(Clone, Debug)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
    /// Extra headers (e.g. `Retry-After`).
    pub headers: Vec<(String, String)>,
}

impl ApiError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
            headers: Vec::new(),
        }
    }

    pub fn unknown_operation(op: &str) -> ApiError {
        ApiError::new(
            400,
            "UnknownOperationException",
            format!("The operation {op} is not supported by swa-sandbox."),
        )
    }

    pub fn serialization(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "SerializationException", message)
    }
}

/// An HTTP answer, built under the world's lock and sent afterwards.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.into(),
        }
    }

    pub fn json(status: u16, value: &serde_json::Value) -> Reply {
        Reply::new(status, "application/json", value.to_string())
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}
