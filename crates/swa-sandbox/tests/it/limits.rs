//! The sandbox cannot be knocked over: counts above ECS's quota get ECS's error, bodies are
//! stored whole or refused with S3's `EntityTooLarge`, and the call log keeps no whole bodies.

use serde_json::json;
use swa_aws::s3::primitives::ByteStream;

use crate::{CLUSTER, SERVICE, aws, service, start};

const BUCKET: &str = "startupwebapp-frontend";
const MIB: usize = 1024 * 1024;

#[tokio::test]
async fn a_desired_count_above_the_tasks_per_service_quota_is_refused() {
    let sandbox = start("healthy", 1.0);
    let aws = aws(&sandbox).await;
    let ecs = aws.ecs();
    for count in [100_000_000, 5001] {
        let err = ecs
            .update_service()
            .cluster(CLUSTER)
            .service(SERVICE)
            .desired_count(count)
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            swa_aws::error_text(&err),
            format!(
                "InvalidParameterException: The desired count of {count} is greater than the maximum of 5000 tasks per service."
            )
        );
    }
    let s = service(&ecs).await;
    assert_eq!(s.desired_count(), 2);
    assert_eq!(s.deployments().len(), 1);
    assert_eq!(sandbox.state()["tasks"].as_array().unwrap().len(), 2);

    // RunTask's count is 1 to 10, as on ECS.
    let err = ecs
        .run_task()
        .cluster(CLUSTER)
        .task_definition("startupwebapp-migration-task")
        .count(100_000_000)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        swa_aws::error_text(&err),
        "InvalidParameterException: Count must be between 1 and 10."
    );
}

#[tokio::test]
async fn a_17_mb_object_is_stored_whole() {
    let sandbox = start("healthy", 1.0);
    let aws = aws(&sandbox).await;
    let s3 = aws.s3();
    let body: Vec<u8> = (0..17_000_000u32).map(|i| (i % 251) as u8).collect();
    let put = s3
        .put_object()
        .bucket(BUCKET)
        .key("big.bin")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    // Not the MD5 of an empty body.
    assert_ne!(put.e_tag(), Some("\"d41d8cd98f00b204e9800998ecf8427e\""));
    let got = s3
        .get_object()
        .bucket(BUCKET)
        .key("big.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_length(), Some(17_000_000));
    assert_eq!(got.e_tag(), put.e_tag());
    let bytes = got.body.collect().await.unwrap().into_bytes();
    assert!(bytes[..] == body[..], "the object came back changed");
}

#[tokio::test]
async fn a_body_over_64_mib_is_refused_with_entity_too_large() {
    let sandbox = start("healthy", 1.0);
    let aws = aws(&sandbox).await;
    let s3 = aws.s3();
    let err = s3
        .put_object()
        .bucket(BUCKET)
        .key("huge.bin")
        .body(ByteStream::from(vec![b'x'; 65 * MIB]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        swa_aws::error_text(&err),
        "EntityTooLarge: Your proposed upload exceeds the maximum allowed size"
    );
    let missing = s3
        .head_object()
        .bucket(BUCKET)
        .key("huge.bin")
        .send()
        .await
        .unwrap_err();
    assert!(
        missing.as_service_error().is_some_and(|e| e.is_not_found()),
        "{missing:?}"
    );
    let calls = sandbox.calls();
    let put = calls.iter().find(|c| c.operation == "PutObject").unwrap();
    assert_eq!(put.status, 400);
    assert_eq!(put.request["key"], "huge.bin");
    assert!(put.request["size"].as_u64().unwrap() > 64 * MIB as u64);
}

#[tokio::test]
async fn the_call_log_keeps_no_whole_bodies() {
    let sandbox = start("healthy", 1.0);
    let aws = aws(&sandbox).await;
    let url = sandbox.aws_url();
    let http = reqwest::Client::new();
    let padding = "p".repeat(15_000_000);

    let ecs = |body: String| {
        http.post(&url)
            .header(
                "x-amz-target",
                "AmazonEC2ContainerServiceV20141113.DescribeServices",
            )
            .header("content-type", "application/x-amz-json-1.1")
            .body(body)
            .send()
    };
    let described =
        json!({"cluster": CLUSTER, "services": [SERVICE], "padding": padding}).to_string();
    let answered = ecs(described.clone()).await.unwrap();
    assert_eq!(answered.status(), 200);
    let malformed = format!("{{\"cluster\": \"{padding}");
    assert_eq!(ecs(malformed.clone()).await.unwrap().status(), 400);
    let dispatch = json!({"event_type": "deploy", "padding": padding}).to_string();
    let dispatched = http
        .post(format!("{}/repos/org/app/dispatches", sandbox.github_url()))
        .header("authorization", "Bearer token")
        .body(dispatch.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(dispatched.status(), 204);
    aws.s3()
        .put_object()
        .bucket(BUCKET)
        .key("fifteen.bin")
        .body(ByteStream::from(padding.clone().into_bytes()))
        .send()
        .await
        .unwrap();
    // A small request is kept whole: tests read it.
    aws.ecs()
        .update_service()
        .cluster(CLUSTER)
        .service(SERVICE)
        .desired_count(3)
        .send()
        .await
        .unwrap();

    let calls = sandbox.calls();
    let logged: usize = calls.iter().map(|c| c.request.to_string().len()).sum();
    assert!(logged < 16 * 1024, "the call log holds {logged} bytes");
    let sizes: Vec<(String, u64)> = calls
        .iter()
        .filter_map(|c| {
            let size = c.request["size"]
                .as_u64()
                .or_else(|| c.request["body"]["size"].as_u64())?;
            Some((c.operation.clone(), size))
        })
        .collect();
    let expected = [
        ("DescribeServices", described.len()),
        ("DescribeServices", malformed.len()),
        ("dispatches", dispatch.len()),
        ("PutObject", padding.len()),
    ]
    .map(|(op, size)| (op.to_string(), size as u64));
    assert_eq!(sizes, expected);
    let described = &calls[0].request;
    assert_eq!(described["summarised"], true);
    assert!(
        described["prefix"]
            .as_str()
            .unwrap()
            .starts_with("{\"cluster\":\"startupwebapp-cluster\""),
        "{described}"
    );
    let update = calls
        .iter()
        .find(|c| c.operation == "UpdateService")
        .unwrap();
    assert_eq!(
        update.request,
        json!({"cluster": CLUSTER, "service": SERVICE, "desiredCount": 3})
    );
}

#[tokio::test]
async fn a_body_cut_short_is_not_stored() {
    use std::io::{Read, Write};

    let sandbox = start("healthy", 1.0);
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", sandbox.port())).unwrap();
    stream
        .write_all(
            b"PUT /startupwebapp-frontend/cut.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\nonly these",
        )
        .unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);

    let aws = aws(&sandbox).await;
    let missing = aws
        .s3()
        .head_object()
        .bucket(BUCKET)
        .key("cut.bin")
        .send()
        .await
        .unwrap_err();
    assert!(
        missing.as_service_error().is_some_and(|e| e.is_not_found()),
        "{missing:?}"
    );
    let calls = sandbox.calls();
    let put = calls.iter().find(|c| c.operation == "PutObject").unwrap();
    assert_eq!(put.status, 400);
    assert_eq!(
        put.request,
        json!({"path": "/startupwebapp-frontend/cut.bin", "size": 10, "refused": "incomplete", "bucket": BUCKET, "key": "cut.bin"})
    );
}
