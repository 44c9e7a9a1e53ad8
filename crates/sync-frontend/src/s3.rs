//! The S3 calls, each mapped to an error a person can act on. Retries (throttling, 5xx, dropped
//! connections, timeouts) are the SDK's standard retry, configured in `swa-aws`.

use std::time::Duration;

use swa_aws::s3::Client;
use swa_aws::s3::config::timeout::TimeoutConfig;
use swa_aws::s3::primitives::ByteStream;
use swa_aws::s3::types::{Delete, MetadataDirective, ObjectIdentifier};
use swa_aws::{error_code, error_text};
use swa_gha::{ActionError, Foreign};

use crate::RemoteObjects;
use crate::local::LocalFile;

/// The user-metadata key that holds the content's hex SHA-256 (`x-amz-meta-sha256`).
pub const HASH_METADATA: &str = "sha256";

/// Files above this size get more time than the default 30 s per attempt.
const LARGE_UPLOAD: u64 = 16 * 1024 * 1024;
/// The slowest upload rate a large file is given time for (bytes per second).
const SLOWEST_RATE: u64 = 512 * 1024;

/// Timeouts for uploading `size` bytes: `None` keeps the defaults; a large file gets 30 s plus
/// the time to send it at 512 KiB/s per attempt, and three attempts' worth in all.
pub fn upload_timeouts(size: u64) -> Option<TimeoutConfig> {
    if size <= LARGE_UPLOAD {
        return None;
    }
    let attempt = Duration::from_secs(30 + size / SLOWEST_RATE);
    Some(
        TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(3))
            .read_timeout(attempt)
            .operation_attempt_timeout(attempt)
            .operation_timeout(attempt * 3)
            .build(),
    )
}

/// DeleteObjects takes at most this many keys per call.
const DELETE_BATCH: usize = 1000;

/// An object as the listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    pub size: u64,
    pub etag: Option<String>,
    /// Seconds and milliseconds since the epoch.
    pub last_modified: Option<String>,
}

/// Every object under `prefix`, as the listing shows it.
pub async fn list(
    client: &Client,
    bucket: &str,
    prefix: &str,
) -> Result<RemoteObjects, ActionError> {
    let mut objects = RemoteObjects::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| match error_code(&e) {
            Some("NoSuchBucket") => ActionError::input(
                "bucket",
                format!(
                    "is `{bucket}`, which does not exist (or is in another account or partition); create it first, or fix the name"
                ),
            ),
            Some("AccessDenied") => ActionError::failed(format!(
                "these credentials may not list s3://{bucket}/{prefix} ({}); the role needs s3:ListBucket on arn:aws:s3:::{bucket}",
                error_text(&e)
            )),
            _ => ActionError::failed(format!(
                "could not list s3://{bucket}/{prefix}: {}",
                error_text(&e)
            )),
        })?;
        for object in page.contents() {
            if let Some(key) = object.key() {
                objects.insert(
                    key.to_string(),
                    Remote {
                        size: object.size().unwrap_or(0).max(0) as u64,
                        etag: object.e_tag().map(String::from),
                        last_modified: object
                            .last_modified()
                            .map(|t| format!("{}.{:03}", t.secs(), t.subsec_nanos() / 1_000_000)),
                    },
                );
            }
        }
    }
    Ok(objects)
}

/// What HeadObject says about an object, as far as the comparison needs.
#[derive(Debug, Clone)]
pub struct Head {
    pub sha256: Option<String>,
    pub cache_control: Option<String>,
    pub content_type: Option<String>,
    pub etag: Option<String>,
}

/// HeadObject; `None` when the object is gone.
pub async fn head(client: &Client, bucket: &str, key: &str) -> Result<Option<Head>, ActionError> {
    match client.head_object().bucket(bucket).key(key).send().await {
        Ok(out) => Ok(Some(Head {
            sha256: out
                .metadata()
                .and_then(|m| m.get(HASH_METADATA))
                .map(String::from),
            cache_control: out.cache_control().map(String::from),
            content_type: out.content_type().map(String::from),
            etag: out.e_tag().map(String::from),
        })),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
        Err(e) => Err(ActionError::failed(format!(
            "could not read s3://{bucket}/{}: {}",
            Foreign(key),
            error_text(&e)
        ))),
    }
}

/// PutObject with the file's content, headers and hash; the new object's ETag.
pub async fn put(
    client: &Client,
    bucket: &str,
    file: &LocalFile,
) -> Result<Option<String>, ActionError> {
    let body = ByteStream::from_path(&file.path).await.map_err(|e| {
        ActionError::failed(format!(
            "could not read `{}`: {e}",
            Foreign(&file.path.display().to_string())
        ))
    })?;
    let request = client
        .put_object()
        .bucket(bucket)
        .key(&file.key)
        .body(body)
        .content_length(file.size as i64)
        .content_type(file.content_type)
        .cache_control(&file.cache_control)
        .metadata(HASH_METADATA, &file.sha256);
    let sent = match upload_timeouts(file.size) {
        Some(timeouts) => {
            request
                .customize()
                .config_override(swa_aws::s3::config::Config::builder().timeout_config(timeouts))
                .send()
                .await
        }
        None => request.send().await,
    };
    let out = sent.map_err(|e| {
        ActionError::failed(format!(
            "could not upload `{}` to s3://{bucket}/{}: {}",
            Foreign(&file.relative),
            Foreign(&file.key),
            error_text(&e)
        ))
    })?;
    Ok(out.e_tag().map(String::from))
}

/// CopyObject of the object onto itself with new headers (`MetadataDirective: REPLACE`): the
/// bytes stay on S3. `etag` guards the copy: it applies only to the content that was compared.
/// Returns the object's ETag afterwards.
pub async fn replace_metadata(
    client: &Client,
    bucket: &str,
    file: &LocalFile,
    etag: Option<&str>,
) -> Result<Option<String>, ActionError> {
    let mut copy = client
        .copy_object()
        .bucket(bucket)
        .key(&file.key)
        .copy_source(format!("{bucket}/{}", encode_key(&file.key)))
        .metadata_directive(MetadataDirective::Replace)
        .content_type(file.content_type)
        .cache_control(&file.cache_control)
        .metadata(HASH_METADATA, &file.sha256);
    if let Some(etag) = etag {
        copy = copy.copy_source_if_match(etag);
    }
    let out = copy.send().await.map_err(|e| {
        ActionError::failed(format!(
            "could not update the metadata of s3://{bucket}/{}: {}",
            Foreign(&file.key),
            error_text(&e)
        ))
    })?;
    Ok(out
        .copy_object_result()
        .and_then(|r| r.e_tag())
        .map(String::from))
}

/// The stored sync index, if there is one.
pub async fn get_index(
    client: &Client,
    bucket: &str,
    key: &str,
) -> Result<Option<Vec<u8>>, ActionError> {
    let out = match client.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => out,
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
        Err(e) => {
            return Err(ActionError::failed(format!(
                "could not read s3://{bucket}/{key}: {}",
                error_text(&e)
            )));
        }
    };
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| ActionError::failed(format!("could not read s3://{bucket}/{key}: {e}")))?;
    Ok(Some(bytes.into_bytes().to_vec()))
}

/// Stores the sync index (never cached: it is not part of the site).
pub async fn put_index(
    client: &Client,
    bucket: &str,
    key: &str,
    json: Vec<u8>,
) -> Result<(), ActionError> {
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(json))
        .content_type("application/json")
        .cache_control("no-store")
        .send()
        .await
        .map_err(|e| {
            ActionError::failed(format!(
                "could not store the sync index s3://{bucket}/{key}: {}",
                error_text(&e)
            ))
        })?;
    Ok(())
}

/// DeleteObjects in batches; any key S3 could not delete fails the action, named.
pub async fn delete(client: &Client, bucket: &str, keys: &[String]) -> Result<(), ActionError> {
    for batch in keys.chunks(DELETE_BATCH) {
        let objects = batch
            .iter()
            .map(|key| ObjectIdentifier::builder().key(key).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ActionError::failed(format!("could not build the delete request: {e}")))?;
        let delete = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|e| ActionError::failed(format!("could not build the delete request: {e}")))?;
        let out = client
            .delete_objects()
            .bucket(bucket)
            .delete(delete)
            .send()
            .await
            .map_err(|e| {
                ActionError::failed(format!(
                    "could not delete stale objects from s3://{bucket}: {}",
                    error_text(&e)
                ))
            })?;
        if let Some(first) = out.errors().first() {
            return Err(ActionError::failed(format!(
                "S3 did not delete {} of {} stale objects; first: {} ({}: {})",
                out.errors().len(),
                batch.len(),
                Foreign(first.key().unwrap_or("?")),
                Foreign(first.code().unwrap_or("?")),
                Foreign(first.message().unwrap_or("no message"))
            )));
        }
    }
    Ok(())
}

/// Percent-encodes a key for `x-amz-copy-source` (everything but unreserved characters and `/`).
fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_files_get_time_to_upload() {
        assert!(upload_timeouts(1024).is_none());
        assert!(upload_timeouts(LARGE_UPLOAD).is_none());
        let t = upload_timeouts(200 * 1024 * 1024).expect("a large file");
        assert_eq!(
            t.operation_attempt_timeout(),
            Some(Duration::from_secs(30 + 400))
        );
        assert_eq!(t.read_timeout(), Some(Duration::from_secs(430)));
        assert_eq!(t.operation_timeout(), Some(Duration::from_secs(3 * 430)));
        assert_eq!(t.connect_timeout(), Some(Duration::from_secs(3)));
    }

    #[test]
    fn copy_source_keys_are_percent_encoded() {
        assert_eq!(encode_key("site/app.3f2a.js"), "site/app.3f2a.js");
        assert_eq!(
            encode_key("site/my page+1 é.html"),
            "site/my%20page%2B1%20%C3%A9.html"
        );
    }
}
