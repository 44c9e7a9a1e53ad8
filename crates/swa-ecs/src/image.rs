//! Image references as Docker writes them, the ECR repositories behind them, and the digest a
//! tag names in ECR (so a deploy pins the build it checked, and a missing tag fails before any
//! change).

use std::fmt;

use aws_sdk_ecr as ecr;
use swa_aws::error_text;
use swa_gha::{Foreign, Gha};

use crate::EcsError;

/// `registry/name:tag` or `registry/name@sha256:…` (or both).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Everything before the tag or digest (`123456789012.dkr.ecr.us-east-1.amazonaws.com/web`).
    pub name: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

/// The ECR repository an image lives in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcrRepo {
    pub account: String,
    pub region: String,
    pub repository: String,
}

impl ImageRef {
    /// Parses an image URI. It must name a tag or a digest: deploying "whatever `latest` is
    /// now" cannot be reproduced or rolled back.
    pub fn parse(text: &str) -> Result<ImageRef, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("is empty".into());
        }
        if text.chars().any(char::is_whitespace) {
            return Err(format!(
                "`{text}` is not an image URI: it contains whitespace"
            ));
        }
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => {
                let hex = digest.strip_prefix("sha256:").unwrap_or("");
                if hex.len() != 64 || !hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')) {
                    return Err(format!(
                        "`{text}` has the digest `{digest}`; a digest is sha256: and 64 hex digits"
                    ));
                }
                (rest, Some(digest.to_string()))
            }
            None => (text, None),
        };
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let at = last_slash + i;
                (&rest[..at], Some(rest[at + 1..].to_string()))
            }
            None => (rest, None),
        };
        if let Some(tag) = &tag {
            let valid = !tag.is_empty()
                && tag.len() <= 128
                && !tag.starts_with(['.', '-'])
                && tag
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
            if !valid {
                return Err(format!(
                    "`{text}` has the tag `{tag}`; a tag is up to 128 letters, digits, `_`, `.` and `-`"
                ));
            }
        }
        let mut parts: Vec<&str> = name.split('/').collect();
        if parts.len() > 1 && is_registry_host(parts[0]) {
            parts.remove(0);
        }
        for part in &parts {
            if !is_path_component(part) {
                return Err(format!(
                    "`{text}` has the repository part `{part}`; use lower-case letters, digits and single `.`, `_` or `-` between them"
                ));
            }
        }
        if tag.is_none() && digest.is_none() {
            return Err(format!(
                "`{text}` names no tag or digest; deploy a build by name, such as `{text}:release-4` or `{text}@sha256:…`"
            ));
        }
        Ok(ImageRef {
            name: name.to_string(),
            tag,
            digest,
        })
    }

    /// The repository in ECR, when the image is hosted there.
    pub fn ecr(&self) -> Option<EcrRepo> {
        let (host, path) = self.name.split_once('/')?;
        let labels: Vec<&str> = host.split('.').collect();
        // <account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]
        if labels.len() < 6 || labels[1] != "dkr" || !labels[2].starts_with("ecr") {
            return None;
        }
        if labels[4] != "amazonaws" {
            return None;
        }
        let account = labels[0];
        if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        Some(EcrRepo {
            account: account.to_string(),
            region: labels[3].to_string(),
            repository: path.to_string(),
        })
    }

    /// The same image pinned to `digest`: `name@sha256:…`.
    pub fn pinned(&self, digest: &str) -> String {
        format!("{}@{digest}", self.name)
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

fn is_registry_host(part: &str) -> bool {
    part.contains('.') || part.contains(':') || part == "localhost"
}

fn is_path_component(part: &str) -> bool {
    if part.is_empty() {
        return false;
    }
    let mut previous_separator = true;
    for c in part.chars() {
        let separator = matches!(c, '.' | '_' | '-');
        if separator {
            // `__` is allowed by Docker; other doubled separators are not.
            if previous_separator && c != '_' {
                return false;
            }
        } else if !(c.is_ascii_lowercase() || c.is_ascii_digit()) {
            return false;
        }
        previous_separator = separator;
    }
    !previous_separator
}

/// Why the digest of an image could not be read from ECR.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error(
        "`{image}` is not in ECR repository `{repository}` (deleted by a lifecycle policy, or never pushed)"
    )]
    NotFound { image: String, repository: String },
    #[error(
        "`{image}` names ECR repository `{repository}`, which does not exist in account {account} ({region})"
    )]
    NoRepository {
        image: String,
        repository: String,
        account: String,
        region: String,
    },
    /// ECR did not answer (a timeout, throttling, a refused permission): not the image's fault.
    #[error("`{image}` could not be looked up in ECR: {}", Foreign(reason))]
    Lookup { image: String, reason: String },
}

/// Looks `image` up in ECR with DescribeImages (in the repository's own region): its digest,
/// or why it is not there, in words that name the image.
pub async fn resolve_digest(
    client: &ecr::Client,
    repo: &EcrRepo,
    image: &ImageRef,
) -> Result<String, DigestError> {
    let mut client = client.clone();
    let region = client.config().region().map(|r| r.as_ref().to_string());
    if region.as_deref() != Some(repo.region.as_str()) {
        let config = client
            .config()
            .to_builder()
            .region(ecr::config::Region::new(repo.region.clone()))
            .build();
        client = ecr::Client::from_conf(config);
    }
    let id = ecr::types::ImageIdentifier::builder()
        .set_image_tag(image.tag.clone())
        .set_image_digest(image.digest.clone())
        .build();
    let not_found = || DigestError::NotFound {
        image: image.to_string(),
        repository: repo.repository.clone(),
    };
    let out = client
        .describe_images()
        .registry_id(&repo.account)
        .repository_name(&repo.repository)
        .image_ids(id)
        .send()
        .await
        .map_err(|e| {
            let service_error = e.as_service_error();
            if service_error.is_some_and(|s| s.is_image_not_found_exception()) {
                not_found()
            } else if service_error.is_some_and(|s| s.is_repository_not_found_exception()) {
                DigestError::NoRepository {
                    image: image.to_string(),
                    repository: repo.repository.clone(),
                    account: repo.account.clone(),
                    region: repo.region.clone(),
                }
            } else {
                DigestError::Lookup {
                    image: image.to_string(),
                    reason: error_text(&e),
                }
            }
        })?;
    out.image_details()
        .iter()
        .find_map(|d| d.image_digest())
        .map(String::from)
        .ok_or_else(not_found)
}

/// The image URI to register for the `image` input: pinned to the digest its tag names in ECR
/// (`pin` false keeps the tag, after checking that it exists). An image outside ECR cannot be
/// checked; it is registered as given, with a warning when it was to be pinned and is not.
pub async fn pin_image(
    gha: &Gha,
    client: &ecr::Client,
    image: &ImageRef,
    pin: bool,
) -> Result<String, EcsError> {
    let Some(repo) = image.ecr() else {
        if pin && image.digest.is_none() {
            gha.warning(format!(
                "{} is not in ECR: it is registered by tag, not pinned to a digest",
                Foreign(&image.to_string())
            ));
        }
        return Ok(image.to_string());
    };
    let digest = resolve_digest(client, &repo, image)
        .await
        .map_err(EcsError::image)?;
    if !pin {
        return Ok(image.to_string());
    }
    if image.digest.is_none() {
        gha.info(format!(
            "{} is {}",
            Foreign(&image.to_string()),
            Foreign(&digest)
        ));
    }
    Ok(image.pinned(&digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ECR: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp";

    #[test]
    fn ecr_images_with_a_tag_or_digest_parse() {
        let image = ImageRef::parse(&format!("{ECR}:release-4")).expect("parses");
        assert_eq!(image.name, ECR);
        assert_eq!(image.tag.as_deref(), Some("release-4"));
        assert_eq!(
            image.ecr(),
            Some(EcrRepo {
                account: "123456789012".into(),
                region: "us-east-1".into(),
                repository: "startupwebapp".into()
            })
        );
        let digest = format!("sha256:{}", "a".repeat(64));
        let pinned = ImageRef::parse(&format!("{ECR}@{digest}")).expect("parses");
        assert_eq!(pinned.digest.as_deref(), Some(digest.as_str()));
        assert_eq!(pinned.to_string(), format!("{ECR}@{digest}"));
        assert_eq!(image.pinned(&digest), format!("{ECR}@{digest}"));
    }

    #[test]
    fn other_registries_parse_but_are_not_ecr() {
        for text in [
            "nginx:1.27",
            "ghcr.io/org/app:v1",
            "localhost:5000/team/app:dev",
        ] {
            let image = ImageRef::parse(text).expect(text);
            assert_eq!(image.ecr(), None, "{text}");
            assert_eq!(image.to_string(), text);
        }
        assert_eq!(
            ImageRef::parse("localhost:5000/app:dev")
                .expect("parses")
                .name,
            "localhost:5000/app"
        );
    }

    #[test]
    fn malformed_images_say_what_is_wrong() {
        let cases = [
            ("", "is empty"),
            ("web app:1", "whitespace"),
            (ECR, "names no tag or digest"),
            (&format!("{ECR}:")[..], "has the tag ``"),
            (&format!("{ECR}:rel/4")[..], "has the repository part"),
            (&format!("{ECR}@sha256:abc")[..], "64 hex digits"),
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/StartupWebApp:1",
                "`StartupWebApp`",
            ),
            ("app:-bad", "has the tag `-bad`"),
        ];
        for (text, expected) in cases {
            let err = ImageRef::parse(text).expect_err(text);
            assert!(err.contains(expected), "{text}: {err}");
        }
    }
}
