//! The sandbox's limits: how large a request body may be, what the call log keeps of a body, and
//! the ECS quotas the API enforces. A request over a limit gets the service's own error; nothing
//! is stored empty or allocated without bound.

use std::pin::Pin;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Uri};
use hyper::body::Body as _;
use serde_json::{Value, json};

use crate::api::Reply;
use crate::world::World;
use crate::{header, record, s3};

/// The largest S3 object body stored (decoded): larger PUTs answer `EntityTooLarge`.
pub const MAX_OBJECT_BYTES: usize = 64 * 1024 * 1024;

/// The largest request body read: an object at the limit plus its `aws-chunked` framing.
pub const MAX_REQUEST_BYTES: usize = MAX_OBJECT_BYTES + 1024 * 1024;

/// What is read and thrown away of a body over the limit, so the client, still sending, reads
/// the answer; beyond it the connection is closed.
const MAX_DISCARDED_BYTES: usize = 1024 * 1024 * 1024;

/// Requests whose logged form is larger than this are kept in the call log as a summary.
pub const MAX_LOGGED_BYTES: usize = 16 * 1024;

/// How much of a summarised body the call log keeps.
const LOGGED_PREFIX_BYTES: usize = 256;

/// ECS's `Tasks per service` quota: the largest desiredCount a service accepts.
pub const MAX_TASKS_PER_SERVICE: i64 = 5000;

/// A request body: whole, over [`MAX_REQUEST_BYTES`], or cut short (the client went away or
/// sent less than it announced); with how many bytes were received.
pub enum RequestBody {
    Whole(Vec<u8>),
    TooLarge { received: usize },
    Broken { received: usize },
}

/// Reads a body up to [`MAX_REQUEST_BYTES`]; past it, reads on without keeping anything.
pub async fn read(mut body: Body) -> RequestBody {
    let announced = usize::try_from(body.size_hint().lower()).unwrap_or(usize::MAX);
    let mut kept = Vec::with_capacity(announced.min(MAX_REQUEST_BYTES));
    let mut received = 0usize;
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let Ok(frame) = frame else {
            return RequestBody::Broken { received };
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        received = received.saturating_add(data.len());
        if received <= MAX_REQUEST_BYTES {
            kept.extend_from_slice(&data);
        } else {
            kept = Vec::new();
            if received > MAX_DISCARDED_BYTES {
                break;
            }
        }
    }
    if received > MAX_REQUEST_BYTES {
        RequestBody::TooLarge { received }
    } else {
        RequestBody::Whole(kept)
    }
}

/// The answer to a request whose body was not read whole, in the service's own terms: S3's
/// `EntityTooLarge` or `IncompleteBody`, 413 `RequestEntityTooLargeException` or 400
/// `SerializationException` from the JSON services, 413 or 400 elsewhere. Nothing is dispatched;
/// the call log keeps the size.
pub fn refuse(
    w: &mut World,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &RequestBody,
) -> Reply {
    let (received, too_large) = match body {
        RequestBody::TooLarge { received } => (*received, true),
        RequestBody::Broken { received } => (*received, false),
        RequestBody::Whole(b) => (b.len(), false),
    };
    let path = uri.path();
    let rid = w.next_uuid();
    let form = header(headers, "content-type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    let (service, operation, reply) = if let Some(target) = header(headers, "x-amz-target") {
        let (prefix, op) = target.split_once('.').unwrap_or((target, ""));
        let service = match prefix {
            "AmazonEC2ContainerServiceV20141113" => "ecs",
            "Logs_20140328" => "logs",
            "AmazonEC2ContainerRegistry_V20150921" => "ecr",
            _ => "unknown",
        };
        let (status, code, message) = if too_large {
            (
                413,
                "RequestEntityTooLargeException",
                format!(
                    "Request body of {received} bytes is larger than the limit of {MAX_REQUEST_BYTES} bytes."
                ),
            )
        } else {
            (
                400,
                "SerializationException",
                format!("The request body ended after {received} bytes, before it was complete."),
            )
        };
        let reply = Reply::new(
            status,
            "application/x-amz-json-1.1",
            json!({"__type": code, "message": message}).to_string(),
        )
        .header("x-amzn-errortype", format!("{code}:"))
        .header("x-amzn-requestid", rid);
        (service, op.to_string(), reply)
    } else if let Some(service) = ["github", "app", "sandbox"]
        .into_iter()
        .find(|s| path.starts_with(&format!("/_{s}")))
        .or(form.then_some("elbv2"))
    {
        let reply = if too_large {
            Reply::json(
                413,
                &json!({"message": "Payload Too Large", "size": received, "limit": MAX_REQUEST_BYTES}),
            )
        } else {
            Reply::json(
                400,
                &json!({"message": "Incomplete request body", "size": received}),
            )
        };
        (service, format!("{} {path}", method.as_str()), reply)
    } else {
        let none = std::collections::BTreeMap::new();
        let operation = s3::operation(method.as_str(), path, &none, &none);
        let reply = if too_large {
            s3::entity_too_large(path, received, MAX_OBJECT_BYTES, &rid)
        } else {
            s3::incomplete_body(path, &rid)
        };
        (
            "s3",
            operation.to_string(),
            reply.header("x-amz-request-id", rid),
        )
    };
    let mut logged = json!({"path": path, "size": received, "refused": if too_large { "larger than the sandbox's limit" } else { "incomplete" }});
    if service == "s3" {
        let (bucket, key) = s3::split(path);
        logged["bucket"] = json!(bucket);
        logged["key"] = json!(key);
    }
    record(w, service, &operation, logged, reply.status);
    reply
}

/// What the call log keeps of a body it does not keep whole: its size and its first bytes.
pub fn summary(body: &[u8]) -> Value {
    let mut end = body.len().min(LOGGED_PREFIX_BYTES);
    let text = loop {
        match std::str::from_utf8(&body[..end]) {
            Ok(t) => break t.to_string(),
            Err(e) if e.valid_up_to() > 0 => end = e.valid_up_to(),
            Err(_) => break String::from_utf8_lossy(&body[..end]).into_owned(),
        }
    };
    json!({"summarised": true, "size": body.len(), "prefix": text})
}

/// `logged` when its JSON text is at most [`MAX_LOGGED_BYTES`], else a summary of `body`.
pub fn bounded(logged: Value, body: &[u8]) -> Value {
    if body.len() <= MAX_LOGGED_BYTES && logged.to_string().len() <= MAX_LOGGED_BYTES {
        logged
    } else {
        summary(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_requests_are_kept_and_large_ones_summarised() {
        let small = json!({"service": "startupwebapp-service"});
        assert_eq!(bounded(small.clone(), small.to_string().as_bytes()), small);
        let big = format!("{{\"x\":\"{}\"}}", "é".repeat(MAX_LOGGED_BYTES));
        let kept = bounded(json!({"x": "…"}), big.as_bytes());
        assert_eq!(kept["size"], big.len());
        assert_eq!(kept["summarised"], true);
        let prefix = kept["prefix"].as_str().unwrap_or_default();
        assert!(prefix.starts_with("{\"x\":\"éé"), "{prefix}");
        assert!(prefix.len() <= LOGGED_PREFIX_BYTES);
    }
}
