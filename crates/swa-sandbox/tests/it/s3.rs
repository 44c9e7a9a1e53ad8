//! S3 through the aws-sdk client, as a frontend sync uses it.

use swa_aws::s3::primitives::ByteStream;
use swa_aws::s3::types::{Delete, MetadataDirective, ObjectIdentifier};

use crate::{aws, start};

const BUCKET: &str = "startupwebapp-frontend";

#[tokio::test]
async fn a_frontend_sync_round_trip() {
    let sandbox = start("healthy", 1.0);
    let aws = aws(&sandbox).await;
    let s3 = aws.s3();

    // A file body streams (aws-chunked with a trailing checksum); a byte body does not.
    let dir = std::env::temp_dir().join(format!("swa-sandbox-s3-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("index.html");
    std::fs::write(&file, "<html>index</html>").unwrap();
    let put = s3
        .put_object()
        .bucket(BUCKET)
        .key("site/index.html")
        .body(ByteStream::from_path(&file).await.unwrap())
        .content_type("text/html; charset=utf-8")
        .cache_control("no-cache")
        .metadata("sha256", "abc")
        .send()
        .await
        .unwrap();
    // The ETag is the MD5 of the content, quoted.
    let etag = put.e_tag().unwrap().to_string();
    assert_eq!(etag, "\"633b265aed14daaf83626aa33f0d5d7f\"");
    s3.put_object()
        .bucket(BUCKET)
        .key("site/app.js")
        .body(ByteStream::from_static(b"console.log(1)"))
        .send()
        .await
        .unwrap();

    let got = s3
        .get_object()
        .bucket(BUCKET)
        .key("site/index.html")
        .send()
        .await
        .unwrap();
    assert_eq!(got.cache_control(), Some("no-cache"));
    let body = got.body.collect().await.unwrap().into_bytes();
    assert_eq!(&body[..], b"<html>index</html>");

    let head = s3
        .head_object()
        .bucket(BUCKET)
        .key("site/index.html")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("text/html; charset=utf-8"));
    assert_eq!(head.metadata().unwrap()["sha256"], "abc");
    assert_eq!(head.content_length(), Some(18));
    assert_eq!(head.e_tag(), Some(etag.as_str()));

    // Metadata replaced in place, guarded by the ETag.
    let copied = s3
        .copy_object()
        .bucket(BUCKET)
        .key("site/index.html")
        .copy_source(format!("{BUCKET}/site/index.html"))
        .metadata_directive(MetadataDirective::Replace)
        .content_type("text/html")
        .cache_control("max-age=60")
        .metadata("sha256", "def")
        .copy_source_if_match(&etag)
        .send()
        .await
        .unwrap();
    assert_eq!(
        copied.copy_object_result().unwrap().e_tag(),
        Some(etag.as_str())
    );
    let head = s3
        .head_object()
        .bucket(BUCKET)
        .key("site/index.html")
        .send()
        .await
        .unwrap();
    assert_eq!(head.cache_control(), Some("max-age=60"));
    assert_eq!(head.metadata().unwrap()["sha256"], "def");
    let stale = s3
        .copy_object()
        .bucket(BUCKET)
        .key("site/index.html")
        .copy_source(format!("{BUCKET}/site/index.html"))
        .metadata_directive(MetadataDirective::Replace)
        .copy_source_if_match("\"0000\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!(swa_aws::error_code(&stale), Some("PreconditionFailed"));

    let listed = s3
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix("site/")
        .max_keys(1)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.contents().len(), 1);
    assert_eq!(listed.is_truncated(), Some(true));
    let mut keys = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix("site/")
        .max_keys(1)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for o in page.unwrap().contents() {
            keys.push(o.key().unwrap().to_string());
            assert!(o.last_modified().is_some() && o.size().is_some());
        }
    }
    assert_eq!(keys, ["site/app.js", "site/index.html"]);

    s3.delete_objects()
        .bucket(BUCKET)
        .delete(
            Delete::builder()
                .objects(
                    ObjectIdentifier::builder()
                        .key("site/app.js")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let err = s3
        .get_object()
        .bucket(BUCKET)
        .key("site/app.js")
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().unwrap().is_no_such_key());
    let err = s3
        .head_object()
        .bucket(BUCKET)
        .key("site/app.js")
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().unwrap().is_not_found());
    let err = s3
        .list_objects_v2()
        .bucket("missing-bucket")
        .send()
        .await
        .unwrap_err();
    assert_eq!(swa_aws::error_code(&err), Some("NoSuchBucket"));

    let ops: Vec<String> = sandbox
        .calls()
        .into_iter()
        .filter(|c| c.service == "s3")
        .map(|c| c.operation)
        .collect();
    assert!(
        ops.contains(&"PutObject".to_string()) && ops.contains(&"DeleteObjects".to_string()),
        "{ops:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
