//! Amazon S3, path-style, as much as publishing a static frontend needs: buckets, PutObject
//! (plain or `aws-chunked` bodies), GetObject, HeadObject, CopyObject (metadata replace, with
//! `x-amz-copy-source-if-match`), DeleteObject, DeleteObjects and ListObjectsV2.

use std::collections::BTreeMap;

use md5::{Digest, Md5};
use serde_json::{Value, json};

use crate::api::Reply;
use crate::limits::MAX_OBJECT_BYTES;
use crate::world::*;
use crate::xml::escape;

pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a BTreeMap<String, String>,
    pub headers: &'a BTreeMap<String, String>,
    pub body: &'a [u8],
    pub request_id: String,
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && text.is_char_boundary(i + 3)
            && let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `(bucket, key)` from a path-style path.
pub fn split(path: &str) -> (String, String) {
    let path = path.trim_start_matches('/');
    let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
    (percent_decode(bucket), percent_decode(key))
}

pub fn operation(
    method: &str,
    path: &str,
    query: &BTreeMap<String, String>,
    headers: &BTreeMap<String, String>,
) -> &'static str {
    let (_, key) = split(path);
    match (method, key.is_empty()) {
        ("PUT", true) => "CreateBucket",
        ("HEAD", true) => "HeadBucket",
        ("GET", true) if query.get("list-type").map(String::as_str) == Some("2") => "ListObjectsV2",
        ("GET", true) => "ListObjects",
        ("POST", true) if query.contains_key("delete") => "DeleteObjects",
        ("DELETE", true) => "DeleteBucket",
        ("PUT", false) if headers.contains_key("x-amz-copy-source") => "CopyObject",
        ("PUT", false) => "PutObject",
        ("GET", false) => "GetObject",
        ("HEAD", false) => "HeadObject",
        ("DELETE", false) => "DeleteObject",
        _ => "Unsupported",
    }
}

fn error(status: u16, code: &str, message: &str, resource: &str, request_id: &str) -> Reply {
    Reply::new(
        status,
        "application/xml",
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{}</Message><Resource>{}</Resource><RequestId>{request_id}</RequestId></Error>",
            escape(message),
            escape(resource)
        ),
    )
}

/// S3's answer to an object over the size limit (the sandbox's is [`MAX_OBJECT_BYTES`]).
pub fn entity_too_large(path: &str, proposed: usize, limit: usize, rid: &str) -> Reply {
    let (_, key) = split(path);
    Reply::new(
        400,
        "application/xml",
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>EntityTooLarge</Code><Message>Your proposed upload exceeds the maximum allowed size</Message><ProposedSize>{proposed}</ProposedSize><MaxSizeAllowed>{limit}</MaxSizeAllowed><Resource>{}</Resource><RequestId>{rid}</RequestId></Error>",
            escape(&key)
        ),
    )
}

/// S3's answer to a body shorter than its `Content-Length`.
pub fn incomplete_body(path: &str, rid: &str) -> Reply {
    let (_, key) = split(path);
    error(
        400,
        "IncompleteBody",
        "You did not provide the number of bytes specified by the Content-Length HTTP header.",
        &key,
        rid,
    )
}

fn no_bucket(bucket: &str, rid: &str) -> Reply {
    error(
        404,
        "NoSuchBucket",
        "The specified bucket does not exist",
        bucket,
        rid,
    )
}

fn no_key(key: &str, rid: &str) -> Reply {
    error(
        404,
        "NoSuchKey",
        "The specified key does not exist.",
        key,
        rid,
    )
}

fn http_date(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let f = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    t.format(&f).unwrap_or_default()
}

fn iso_ms(ms: i64) -> String {
    let base = iso8601(ms);
    format!("{}.{:03}Z", base.trim_end_matches('Z'), ms.rem_euclid(1000))
}

/// Decodes an `aws-chunked` body (`<hex size>[;chunk-signature=…]\r\n<data>\r\n … 0\r\n<trailers>`).
fn decode_aws_chunked(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = body;
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let line = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size = usize::from_str_radix(line.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        if rest.len() < size {
            return None;
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size..];
        rest = rest.strip_prefix(b"\r\n").unwrap_or(rest);
    }
}

fn metadata_from(headers: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    headers
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("x-amz-meta-")
                .map(|m| (m.to_string(), v.clone()))
        })
        .collect()
}

fn object_headers(mut reply: Reply, o: &Object) -> Reply {
    reply = reply
        .header("etag", o.etag.clone())
        .header("last-modified", http_date(o.last_modified))
        .header("accept-ranges", "bytes");
    reply.headers.retain(|(k, _)| k != "content-type");
    reply = reply.header(
        "content-type",
        o.content_type
            .clone()
            .unwrap_or_else(|| "binary/octet-stream".into()),
    );
    if let Some(c) = &o.cache_control {
        reply = reply.header("cache-control", c.clone());
    }
    for (k, v) in &o.metadata {
        reply = reply.header(&format!("x-amz-meta-{k}"), v.clone());
    }
    reply
}

/// What the call log keeps of an S3 request: never the body, only its size.
pub fn logged(req: &Request) -> Value {
    let (bucket, key) = split(req.path);
    let mut v = json!({"bucket": bucket, "key": key, "query": req.query, "size": req.body.len()});
    for h in [
        "content-type",
        "cache-control",
        "x-amz-copy-source",
        "x-amz-metadata-directive",
    ] {
        if let Some(value) = req.headers.get(h) {
            v[h] = json!(value);
        }
    }
    v
}

pub fn handle(w: &mut World, req: &Request) -> Reply {
    let (bucket, key) = split(req.path);
    let rid = req.request_id.as_str();
    let op = operation(req.method, req.path, req.query, req.headers);
    let now = w.clock.now();
    if bucket.is_empty() {
        return error(
            400,
            "InvalidRequest",
            "Path-style requests name a bucket: http://host/BUCKET/KEY",
            "/",
            rid,
        );
    }
    if op == "CreateBucket" {
        if w.buckets.contains_key(&bucket) {
            return error(
                409,
                "BucketAlreadyOwnedByYou",
                "Your previous request to create the named bucket succeeded and you already own it.",
                &bucket,
                rid,
            );
        }
        w.buckets.insert(bucket.clone(), BTreeMap::new());
        return Reply::new(200, "application/xml", Vec::new())
            .header("location", format!("/{bucket}"));
    }
    let Some(objects) = w.buckets.get_mut(&bucket) else {
        return no_bucket(&bucket, rid);
    };
    match op {
        "HeadBucket" => Reply::new(200, "application/xml", Vec::new()),
        "ListObjectsV2" => list(objects, &bucket, req.query),
        "DeleteObjects" => {
            let text = String::from_utf8_lossy(req.body);
            let mut deleted = String::new();
            for part in text.split("<Key>").skip(1) {
                let Some((k, _)) = part.split_once("</Key>") else {
                    continue;
                };
                let k = k
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&quot;", "\"")
                    .replace("&apos;", "'")
                    .replace("&amp;", "&");
                objects.remove(&k);
                deleted.push_str(&format!("<Deleted><Key>{}</Key></Deleted>", escape(&k)));
            }
            Reply::new(
                200,
                "application/xml",
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">{deleted}</DeleteResult>"
                ),
            )
        }
        "PutObject" => {
            let chunked = req
                .headers
                .get("content-encoding")
                .is_some_and(|e| e.contains("aws-chunked"))
                || req
                    .headers
                    .get("x-amz-content-sha256")
                    .is_some_and(|s| s.starts_with("STREAMING-"));
            let body = if chunked {
                match decode_aws_chunked(req.body) {
                    Some(b) => b,
                    None => {
                        return error(
                            400,
                            "IncompleteBody",
                            "The request body is not valid aws-chunked encoding.",
                            &key,
                            rid,
                        );
                    }
                }
            } else {
                req.body.to_vec()
            };
            if body.len() > MAX_OBJECT_BYTES {
                return entity_too_large(req.path, body.len(), MAX_OBJECT_BYTES, rid);
            }
            let etag = format!("\"{}\"", hex::encode(Md5::digest(&body)));
            let content_type = req
                .headers
                .get("content-type")
                .filter(|c| !c.is_empty())
                .cloned();
            objects.insert(
                key,
                Object {
                    body,
                    etag: etag.clone(),
                    content_type,
                    cache_control: req.headers.get("cache-control").cloned(),
                    metadata: metadata_from(req.headers),
                    last_modified: now,
                },
            );
            Reply::new(200, "application/xml", Vec::new()).header("etag", etag)
        }
        "CopyObject" => {
            let source = req
                .headers
                .get("x-amz-copy-source")
                .cloned()
                .unwrap_or_default();
            let source = source.split('?').next().unwrap_or_default();
            let (src_bucket, src_key) = split(source);
            let Some(src) = w
                .buckets
                .get(&src_bucket)
                .and_then(|b| b.get(&src_key))
                .cloned()
            else {
                return no_key(&src_key, rid);
            };
            if let Some(m) = req.headers.get("x-amz-copy-source-if-match")
                && m.trim_matches('"') != src.etag.trim_matches('"')
            {
                return error(
                    412,
                    "PreconditionFailed",
                    "At least one of the pre-conditions you specified did not hold",
                    "x-amz-copy-source-If-Match",
                    rid,
                );
            }
            let replace = req
                .headers
                .get("x-amz-metadata-directive")
                .map(String::as_str)
                == Some("REPLACE");
            if src_bucket == bucket && src_key == key && !replace {
                return error(
                    400,
                    "InvalidRequest",
                    "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
                    &key,
                    rid,
                );
            }
            let mut copy = src.clone();
            copy.last_modified = now;
            if replace {
                copy.content_type = req.headers.get("content-type").cloned();
                copy.cache_control = req.headers.get("cache-control").cloned();
                copy.metadata = metadata_from(req.headers);
            }
            let etag = copy.etag.clone();
            if let Some(b) = w.buckets.get_mut(&bucket) {
                b.insert(key, copy);
            }
            Reply::new(
                200,
                "application/xml",
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CopyObjectResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LastModified>{}</LastModified><ETag>{}</ETag></CopyObjectResult>",
                    iso_ms(now),
                    escape(&etag)
                ),
            )
        }
        "GetObject" | "HeadObject" => match objects.get(&key) {
            Some(o) => {
                let body = if op == "GetObject" {
                    o.body.clone()
                } else {
                    Vec::new()
                };
                let mut r = object_headers(Reply::new(200, "binary/octet-stream", body), o);
                if op == "HeadObject" {
                    r = r.header("content-length", o.body.len().to_string());
                }
                r
            }
            None if op == "HeadObject" => Reply::new(404, "application/xml", Vec::new()),
            None => no_key(&key, rid),
        },
        "DeleteObject" => {
            objects.remove(&key);
            Reply::new(204, "application/xml", Vec::new())
        }
        _ => error(
            501,
            "NotImplemented",
            &format!(
                "swa-sandbox does not serve the S3 operation {} {}",
                req.method, req.path
            ),
            req.path,
            rid,
        ),
    }
}

fn list(objects: &BTreeMap<String, Object>, bucket: &str, q: &BTreeMap<String, String>) -> Reply {
    let prefix = q.get("prefix").cloned().unwrap_or_default();
    let max: usize = q
        .get("max-keys")
        .and_then(|m| m.parse().ok())
        .unwrap_or(1000)
        .min(1000);
    let after = q
        .get("continuation-token")
        .or_else(|| q.get("start-after"))
        .cloned()
        .unwrap_or_default();
    let matching: Vec<(&String, &Object)> = objects
        .iter()
        .filter(|(k, _)| k.starts_with(&prefix) && k.as_str() > after.as_str())
        .collect();
    let page = &matching[..matching.len().min(max)];
    let truncated = matching.len() > page.len();
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>{}</Name><Prefix>{}</Prefix><KeyCount>{}</KeyCount><MaxKeys>{max}</MaxKeys><IsTruncated>{truncated}</IsTruncated>",
        escape(bucket),
        escape(&prefix),
        page.len()
    );
    if let Some(t) = q.get("continuation-token") {
        xml.push_str(&format!(
            "<ContinuationToken>{}</ContinuationToken>",
            escape(t)
        ));
    }
    if truncated && let Some((last, _)) = page.last() {
        xml.push_str(&format!(
            "<NextContinuationToken>{}</NextContinuationToken>",
            escape(last)
        ));
    }
    for (k, o) in page {
        xml.push_str(&format!(
            "<Contents><Key>{}</Key><LastModified>{}</LastModified><ETag>{}</ETag><Size>{}</Size><StorageClass>STANDARD</StorageClass></Contents>",
            escape(k),
            iso_ms(o.last_modified),
            escape(&o.etag),
            o.body.len()
        ));
    }
    xml.push_str("</ListBucketResult>");
    Reply::new(200, "application/xml", xml)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_chunked_bodies_decode() {
        let body = b"5;chunk-signature=abc\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:AAAA\r\n\r\n";
        assert_eq!(
            decode_aws_chunked(body).as_deref(),
            Some(&b"hello world"[..])
        );
        assert_eq!(decode_aws_chunked(b"3\r\nab").as_deref(), None);
    }

    #[test]
    fn path_style_paths_split_into_bucket_and_key() {
        assert_eq!(
            split("/b/site/a%20b.css"),
            ("b".to_string(), "site/a b.css".to_string())
        );
        assert_eq!(split("/b"), ("b".to_string(), String::new()));
    }
}
