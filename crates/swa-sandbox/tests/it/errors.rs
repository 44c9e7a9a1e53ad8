//! Bad requests get AWS's error codes and messages; the fault scenarios are deterministic and
//! the SDK's retries get through them.

use serde_json::{Value, json};
use swa_aws::ecr::types::ImageIdentifier;

use crate::{CLUSTER, SERVICE, aws, start};

async fn raw(url: &str, target: &str, body: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(url)
        .header("x-amz-target", target)
        .header("content-type", "application/x-amz-json-1.1")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn ecs_errors_carry_aws_codes_and_messages() {
    let sandbox = start("healthy", 1.0);
    let aws = aws(&sandbox).await;
    let ecs = aws.ecs();

    let err = ecs
        .describe_services()
        .cluster("production")
        .services(SERVICE)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        swa_aws::error_text(&err),
        "ClusterNotFoundException: Cluster not found."
    );

    let err = ecs
        .update_service()
        .cluster(CLUSTER)
        .service("web")
        .force_new_deployment(true)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        swa_aws::error_text(&err),
        "ServiceNotFoundException: Service not found."
    );

    let err = ecs
        .update_service()
        .cluster(CLUSTER)
        .service(SERVICE)
        .task_definition("startupwebapp-service-task:42")
        .send()
        .await
        .unwrap_err();
    assert_eq!(swa_aws::error_code(&err), Some("InvalidParameterException"));

    let err = ecs
        .describe_task_definition()
        .task_definition("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        swa_aws::error_text(&err),
        "ClientException: Unable to describe task definition."
    );

    let missing = ecs
        .describe_services()
        .cluster(CLUSTER)
        .services("web")
        .send()
        .await
        .unwrap();
    assert!(missing.services().is_empty());
    assert_eq!(missing.failures()[0].reason(), Some("MISSING"));

    // Malformed JSON and unknown operations: clear answers, never a crash.
    let url = sandbox.aws_url();
    let (status, body) = raw(
        &url,
        "AmazonEC2ContainerServiceV20141113.DescribeServices",
        "{not json",
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "SerializationException");
    let (status, body) = raw(
        &url,
        "AmazonEC2ContainerServiceV20141113.CreateCapacityProvider",
        "{}",
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "UnknownOperationException");
    let (status, body) = raw(&url, "DynamoDB_20120810.GetItem", "{}").await;
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "UnknownOperationException");

    // Nothing that failed changed anything.
    let s = crate::service(&ecs).await;
    assert_eq!(s.deployments().len(), 1);
    let calls = sandbox.calls();
    assert!(calls.iter().filter(|c| c.status != 200).count() >= 6);
    let status = reqwest::get(format!("{url}/_sandbox/state"))
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
}

#[tokio::test]
async fn ecr_answers_missing_tags_as_aws_does() {
    let sandbox = start("image-missing", 1.0);
    let aws = aws(&sandbox).await;
    let ecr = aws.ecr();
    for tag in ["release-4", "release-1"] {
        let err = ecr
            .describe_images()
            .repository_name("startupwebapp")
            .image_ids(ImageIdentifier::builder().image_tag(tag).build())
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            swa_aws::error_text(&err),
            format!(
                "ImageNotFoundException: The image with imageId {{imageDigest:'null', imageTag:'{tag}'}} does not exist within the repository with name 'startupwebapp' in the registry with id '123456789012'"
            )
        );
    }
    let got = ecr
        .batch_get_image()
        .repository_name("startupwebapp")
        .image_ids(ImageIdentifier::builder().image_tag("release-3").build())
        .image_ids(ImageIdentifier::builder().image_tag("release-4").build())
        .send()
        .await
        .unwrap();
    assert_eq!(got.images().len(), 1);
    assert_eq!(
        got.failures()[0].failure_code().map(|c| c.as_str()),
        Some("ImageNotFound")
    );

    // PutImage adds a tag; the digest is the sha256 of the manifest.
    let manifest = got.images()[0].image_manifest().unwrap().to_string();
    let digest = got.images()[0]
        .image_id()
        .unwrap()
        .image_digest()
        .unwrap()
        .to_string();
    let put = ecr
        .put_image()
        .repository_name("startupwebapp")
        .image_manifest(&manifest)
        .image_tag("production")
        .send()
        .await
        .unwrap();
    assert_eq!(
        put.image().unwrap().image_id().unwrap().image_digest(),
        Some(digest.as_str())
    );
    let tags = ecr
        .describe_images()
        .repository_name("startupwebapp")
        .image_ids(ImageIdentifier::builder().image_tag("production").build())
        .send()
        .await
        .unwrap();
    let mut tags = tags.image_details()[0].image_tags().to_vec();
    tags.sort();
    assert_eq!(tags, ["production", "release-3"]);
    assert!(
        sandbox
            .calls()
            .iter()
            .any(|c| c.operation == "PutImage" && c.is_mutating())
    );

    // Moving a tag to a new manifest leaves the old image untagged, still listed.
    let moved = ecr
        .put_image()
        .repository_name("startupwebapp")
        .image_manifest(manifest.replace("\"schemaVersion\":2", "\"schemaVersion\": 2"))
        .image_tag("release-2")
        .send()
        .await
        .unwrap();
    assert_ne!(
        moved.image().unwrap().image_id().unwrap().image_digest(),
        Some(digest.as_str())
    );
    let untagged = ecr
        .describe_images()
        .repository_name("startupwebapp")
        .filter(
            swa_aws::ecr::types::DescribeImagesFilter::builder()
                .tag_status(swa_aws::ecr::types::TagStatus::Untagged)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(untagged.image_details().len(), 1);
    assert!(untagged.image_details()[0].image_tags().is_empty());

    let err = ecr
        .describe_images()
        .repository_name("other")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        swa_aws::error_code(&err),
        Some("RepositoryNotFoundException")
    );
}

#[tokio::test]
async fn throttling_comes_in_deterministic_bursts_and_the_sdk_gets_through() {
    let sandbox = start("throttling", 1.0);
    let url = sandbox.aws_url();
    let mut codes = Vec::new();
    for _ in 0..12 {
        let (status, body) = raw(
            &url,
            "AmazonEC2ContainerServiceV20141113.DescribeServices",
            &json!({"cluster": CLUSTER, "services": [SERVICE]}).to_string(),
        )
        .await;
        codes.push(if status == 200 {
            "ok".to_string()
        } else {
            body["__type"].as_str().unwrap().to_string()
        });
    }
    let throttled = codes.iter().filter(|c| *c == "ThrottlingException").count();
    assert_eq!(throttled, 4, "{codes:?}");

    let aws = aws(&sandbox).await;
    for _ in 0..6 {
        crate::service(&aws.ecs()).await;
        aws.elbv2()
            .describe_target_health()
            .target_group_arn("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/startupwebapp-tg/0123456789abcdef")
            .send()
            .await
            .unwrap();
    }
    let calls = sandbox.calls();
    assert!(
        calls
            .iter()
            .any(|c| c.service == "elbv2" && c.status == 400)
    );
}

#[tokio::test]
async fn server_errors_are_retried_by_the_sdk() {
    let sandbox = start("server-errors", 1.0);
    let aws = aws(&sandbox).await;
    for _ in 0..10 {
        crate::service(&aws.ecs()).await;
    }
    let statuses: Vec<u16> = sandbox.calls().iter().map(|c| c.status).collect();
    assert!(statuses.contains(&500), "{statuses:?}");
    assert!(statuses.contains(&503), "{statuses:?}");
}

#[tokio::test]
async fn elbv2_errors_are_query_protocol_errors() {
    let sandbox = start("healthy", 1.0);
    let aws = aws(&sandbox).await;
    let err = aws
        .elbv2()
        .describe_target_health()
        .target_group_arn("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/other/0000000000000000")
        .send()
        .await
        .unwrap_err();
    assert_eq!(swa_aws::error_code(&err), Some("TargetGroupNotFound"));
    let groups = aws
        .elbv2()
        .describe_target_groups()
        .target_group_arns("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/startupwebapp-tg/0123456789abcdef")
        .send()
        .await
        .unwrap();
    let tg = &groups.target_groups()[0];
    assert_eq!(tg.health_check_path(), Some("/health"));
    assert_eq!(tg.port(), Some(8000));
    let attrs = aws
        .elbv2()
        .describe_target_group_attributes()
        .target_group_arn("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/startupwebapp-tg/0123456789abcdef")
        .send()
        .await
        .unwrap();
    assert!(attrs.attributes().iter().any(|a| a.key()
        == Some("deregistration_delay.timeout_seconds")
        && a.value() == Some("300")));
}
