//! Amazon ECR (JSON 1.1, `AmazonEC2ContainerRegistry_V20150921.*`).

use serde_json::{Value, json};

use crate::api::ApiError;
use crate::world::*;

pub fn handle(w: &mut World, op: &str, req: &Value) -> Result<Value, ApiError> {
    match op {
        "DescribeImages" => describe_images(w, req),
        "BatchGetImage" => batch_get_image(w, req),
        "PutImage" => put_image(w, req),
        "BatchDeleteImage" => batch_delete_image(w, req),
        "DescribeRepositories" => describe_repositories(w, req),
        _ => Err(ApiError::unknown_operation(op)),
    }
}

fn check_repository(req: &Value) -> Result<(), ApiError> {
    let name = req["repositoryName"].as_str().unwrap_or_default();
    if name.is_empty() {
        return Err(ApiError::new(
            400,
            "InvalidParameterException",
            "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must not be empty'",
        ));
    }
    let registry = req["registryId"].as_str().unwrap_or(ACCOUNT);
    if name != REPOSITORY || registry != ACCOUNT {
        return Err(ApiError::new(
            400,
            "RepositoryNotFoundException",
            format!(
                "The repository with name '{name}' does not exist in the registry with id '{registry}'"
            ),
        ));
    }
    Ok(())
}

fn image_id_text(id: &Value) -> String {
    let digest = id["imageDigest"].as_str().unwrap_or("null");
    let tag = id["imageTag"].as_str().unwrap_or("null");
    format!("{{imageDigest:'{digest}', imageTag:'{tag}'}}")
}

fn find<'a>(w: &'a World, id: &Value) -> Option<&'a Image> {
    let tag = id["imageTag"].as_str();
    let digest = id["imageDigest"].as_str();
    w.images.iter().find(|i| {
        tag.is_none_or(|t| i.tags.iter().any(|x| x == t)) && digest.is_none_or(|d| i.digest == d)
    })
}

fn detail(i: &Image) -> Value {
    let mut v = json!({
        "registryId": ACCOUNT,
        "repositoryName": REPOSITORY,
        "imageDigest": i.digest,
        "imageSizeInBytes": i.size,
        "imagePushedAt": epoch(i.pushed_at),
        "imageManifestMediaType": i.media_type,
        "artifactMediaType": "application/vnd.docker.container.image.v1+json",
        "lastRecordedPullTime": epoch(i.pushed_at + 3_600_000),
    });
    if !i.tags.is_empty() {
        v["imageTags"] = json!(i.tags);
    }
    v
}

fn describe_images(w: &mut World, req: &Value) -> Result<Value, ApiError> {
    check_repository(req)?;
    let details: Vec<Value> = match req["imageIds"].as_array() {
        Some(ids) if !ids.is_empty() => {
            let mut out = Vec::new();
            for id in ids {
                match find(w, id) {
                    Some(i) => out.push(detail(i)),
                    None => {
                        return Err(ApiError::new(
                            400,
                            "ImageNotFoundException",
                            format!(
                                "The image with imageId {} does not exist within the repository with name '{REPOSITORY}' in the registry with id '{ACCOUNT}'",
                                image_id_text(id)
                            ),
                        ));
                    }
                }
            }
            out
        }
        _ => {
            let tagged = req["filter"]["tagStatus"].as_str();
            w.images
                .iter()
                .filter(|i| match tagged {
                    Some("TAGGED") => !i.tags.is_empty(),
                    Some("UNTAGGED") => i.tags.is_empty(),
                    _ => true,
                })
                .map(detail)
                .collect()
        }
    };
    Ok(json!({"imageDetails": details}))
}

fn batch_get_image(w: &mut World, req: &Value) -> Result<Value, ApiError> {
    check_repository(req)?;
    let ids = req["imageIds"].as_array().cloned().unwrap_or_default();
    if ids.is_empty() {
        return Err(ApiError::new(
            400,
            "InvalidParameterException",
            "Invalid parameter at 'imageIds' failed to satisfy constraint: 'Member must have length greater than or equal to 1'",
        ));
    }
    let mut images = Vec::new();
    let mut failures = Vec::new();
    for id in ids {
        match find(w, &id) {
            Some(i) => {
                let mut image_id = json!({"imageDigest": i.digest});
                if let Some(tag) = id["imageTag"].as_str() {
                    image_id["imageTag"] = json!(tag);
                }
                images.push(json!({
                    "registryId": ACCOUNT,
                    "repositoryName": REPOSITORY,
                    "imageId": image_id,
                    "imageManifest": i.manifest,
                    "imageManifestMediaType": i.media_type,
                }));
            }
            None => {
                let tag_elsewhere = id["imageDigest"].is_string()
                    && id["imageTag"]
                        .as_str()
                        .is_some_and(|t| w.images.iter().any(|i| i.tags.iter().any(|x| x == t)));
                let (code, reason) = if tag_elsewhere {
                    (
                        "ImageTagDoesNotMatchDigest",
                        "Requested image tag does not match requested image digest",
                    )
                } else {
                    ("ImageNotFound", "Requested image not found")
                };
                failures.push(json!({"imageId": id, "failureCode": code, "failureReason": reason}));
            }
        }
    }
    Ok(json!({"images": images, "failures": failures}))
}

fn put_image(w: &mut World, req: &Value) -> Result<Value, ApiError> {
    check_repository(req)?;
    let manifest = req["imageManifest"].as_str().unwrap_or_default();
    if manifest.is_empty() {
        return Err(ApiError::new(
            400,
            "InvalidParameterException",
            "Invalid parameter at 'imageManifest' failed to satisfy constraint: 'must not be empty'",
        ));
    }
    if serde_json::from_str::<Value>(manifest).is_err() {
        return Err(ApiError::new(
            400,
            "InvalidParameterException",
            "Invalid parameter at 'ImageManifest' failed to satisfy constraint: 'Invalid JSON syntax'",
        ));
    }
    let digest = format!("sha256:{}", sha256_hex(manifest.as_bytes()));
    if let Some(given) = req["imageDigest"].as_str()
        && given != digest
    {
        return Err(ApiError::new(
            400,
            "ImageDigestDoesNotMatchException",
            format!(
                "Invalid parameter at 'imageDigest' failed to satisfy constraint: 'The digest {given} does not match the digest of the image manifest'"
            ),
        ));
    }
    let tag = req["imageTag"].as_str().unwrap_or_default();
    if w.images
        .iter()
        .any(|i| i.digest == digest && (tag.is_empty() || i.tags.iter().any(|t| t == tag)))
    {
        return Err(ApiError::new(
            400,
            "ImageAlreadyExistsException",
            format!(
                "Image with digest '{digest}' and tag '{tag}' already exists in the repository with name '{REPOSITORY}' in registry with id '{ACCOUNT}'"
            ),
        ));
    }
    let now = w.clock.now();
    let mut image = w.put_image_manifest(manifest.to_string(), tag, now);
    if let Some(media_type) = req["imageManifestMediaType"].as_str() {
        image.media_type = media_type.to_string();
        if let Some(stored) = w.images.iter_mut().find(|i| i.digest == image.digest) {
            stored.media_type = media_type.to_string();
        }
    }
    w.event(now, "image-put", format!("{} {tag}", image.digest));
    let mut image_id = json!({"imageDigest": image.digest});
    if !tag.is_empty() {
        image_id["imageTag"] = json!(tag);
    }
    Ok(json!({"image": {
        "registryId": ACCOUNT,
        "repositoryName": REPOSITORY,
        "imageId": image_id,
        "imageManifest": image.manifest,
        "imageManifestMediaType": image.media_type,
    }}))
}

/// Deletes images by digest (with every tag) or untags them by tag (the image goes with its last
/// tag), as ECR does.
fn batch_delete_image(w: &mut World, req: &Value) -> Result<Value, ApiError> {
    check_repository(req)?;
    let ids = req["imageIds"].as_array().cloned().unwrap_or_default();
    if ids.is_empty() {
        return Err(ApiError::new(
            400,
            "InvalidParameterException",
            "Invalid parameter at 'imageIds' failed to satisfy constraint: 'Member must have length greater than or equal to 1'",
        ));
    }
    let mut deleted = Vec::new();
    let mut failures = Vec::new();
    for id in ids {
        let Some(image) = find(w, &id).cloned() else {
            failures.push(json!({"imageId": id, "failureCode": "ImageNotFound", "failureReason": "Requested image not found"}));
            continue;
        };
        match id["imageTag"].as_str() {
            Some(tag) if id["imageDigest"].is_null() && image.tags.len() > 1 => {
                if let Some(stored) = w.images.iter_mut().find(|i| i.digest == image.digest) {
                    stored.tags.retain(|t| t != tag);
                }
                deleted.push(json!({"imageDigest": image.digest, "imageTag": tag}));
            }
            _ => {
                w.images.retain(|i| i.digest != image.digest);
                if image.tags.is_empty() {
                    deleted.push(json!({"imageDigest": image.digest}));
                }
                for tag in &image.tags {
                    deleted.push(json!({"imageDigest": image.digest, "imageTag": tag}));
                }
            }
        }
        let now = w.clock.now();
        w.event(now, "image-deleted", image.digest.clone());
    }
    Ok(json!({"imageIds": deleted, "failures": failures}))
}

fn describe_repositories(w: &mut World, req: &Value) -> Result<Value, ApiError> {
    if let Some(names) = req["repositoryNames"].as_array() {
        for n in names {
            let n = n.as_str().unwrap_or_default();
            if n != REPOSITORY {
                return Err(ApiError::new(
                    400,
                    "RepositoryNotFoundException",
                    format!(
                        "The repository with name '{n}' does not exist in the registry with id '{ACCOUNT}'"
                    ),
                ));
            }
        }
    }
    let created = w.clock.start_ms() - 400 * 86_400_000;
    Ok(json!({"repositories": [{
        "repositoryArn": format!("arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{REPOSITORY}"),
        "registryId": ACCOUNT,
        "repositoryName": REPOSITORY,
        "repositoryUri": format!("{REGISTRY}/{REPOSITORY}"),
        "createdAt": epoch(created),
        "imageTagMutability": "MUTABLE",
        "imageScanningConfiguration": {"scanOnPush": true},
        "encryptionConfiguration": {"encryptionType": "AES256"}
    }]}))
}
