//! The inputs once checked, before any call to S3: the bucket, the source folder, the prefix,
//! the Cache-Control rules, the sync index and the bounds.

use std::path::PathBuf;

use swa_gha::ActionError;

use crate::Args;
use crate::rules::CacheRules;

/// The most requests in flight the `concurrency` input allows.
pub const MAX_CONCURRENCY: usize = 256;

pub(crate) fn parse_concurrency(value: &str) -> Result<usize, String> {
    match value.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_CONCURRENCY).contains(&n) => Ok(n),
        _ => Err(format!(
            "must be a whole number from 1 to {MAX_CONCURRENCY}"
        )),
    }
}

/// The inputs once checked: everything `run` needs before it calls S3.
#[derive(Debug)]
pub(crate) struct Checked {
    pub(crate) bucket: String,
    pub(crate) source: PathBuf,
    /// Empty, or ending in `/`.
    pub(crate) prefix: String,
    pub(crate) rules: CacheRules,
    pub(crate) delete: bool,
    pub(crate) dry_run: bool,
    pub(crate) concurrency: usize,
    pub(crate) follow_symlinks: bool,
    /// The sync index's full key, when there is one.
    pub(crate) index_key: Option<String>,
}

impl Checked {
    pub(crate) fn new(args: Args) -> Result<Checked, ActionError> {
        let bucket = args.bucket.trim().to_string();
        check_bucket(&bucket)?;
        let source = args.source;
        if !source.exists() {
            return Err(ActionError::input(
                "source",
                format!(
                    "is `{}`, which does not exist; build the frontend first, or point `source` at its output folder",
                    source.display()
                ),
            ));
        }
        if !source.is_dir() {
            return Err(ActionError::input(
                "source",
                format!("is `{}`, which is not a folder", source.display()),
            ));
        }
        let prefix = normalize_prefix(args.prefix.as_deref().unwrap_or(""))?;
        let rules = CacheRules::parse(args.cache_control.as_deref().unwrap_or(""))
            .map_err(|reason| ActionError::input("cache-control", reason))?;
        let index_key = if args.index {
            Some(format!("{prefix}{}", check_index_key(&args.index_key)?))
        } else {
            None
        };
        Ok(Checked {
            bucket,
            source,
            prefix,
            rules,
            delete: args.delete,
            dry_run: args.dry_run,
            concurrency: args.concurrency,
            follow_symlinks: args.follow_symlinks,
            index_key,
        })
    }

    pub(crate) fn location(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }
}

/// S3's rules for bucket names (3-63 characters of a-z, 0-9, `.` and `-`, starting and ending
/// with a letter or digit).
fn check_bucket(bucket: &str) -> Result<(), ActionError> {
    if let Some(rest) = bucket.strip_prefix("s3://") {
        return Err(ActionError::input(
            "bucket",
            format!(
                "is `{bucket}`; give the bucket's name alone (`{}`) and any folder as `prefix`",
                rest.split('/').next().unwrap_or(rest)
            ),
        ));
    }
    let valid_chars = bucket
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
    let ends_ok = bucket
        .chars()
        .next()
        .zip(bucket.chars().last())
        .is_some_and(|(a, z)| a.is_ascii_alphanumeric() && z.is_ascii_alphanumeric());
    if !(3..=63).contains(&bucket.len()) || !valid_chars || !ends_ok || bucket.contains("..") {
        return Err(ActionError::input(
            "bucket",
            format!(
                "is `{bucket}`, which is not an S3 bucket name (3 to 63 characters: lower-case letters, digits, `.` and `-`, starting and ending with a letter or digit)"
            ),
        ));
    }
    Ok(())
}

/// The index's key under the prefix: a relative key, without empty, `.` or `..` segments or
/// control characters.
fn check_index_key(key: &str) -> Result<&str, ActionError> {
    let key = key.trim();
    let bad = if key.is_empty() {
        Some("is empty; to keep no index, set `index: false`")
    } else if key.chars().any(char::is_control) {
        Some("has a control character")
    } else if key.len() > 512 {
        Some("is longer than 512 bytes")
    } else if key.ends_with('/')
        || key
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..")
    {
        Some("must be a key under the prefix, without empty, `.` or `..` path segments")
    } else {
        None
    };
    match bad {
        Some(reason) => Err(ActionError::input("index-key", reason)),
        None => Ok(key),
    }
}

/// `/site/v2/` and `site/v2` both become `site/v2/`; empty stays empty.
fn normalize_prefix(prefix: &str) -> Result<String, ActionError> {
    let trimmed = prefix.trim().trim_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    if trimmed
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err(ActionError::input(
            "prefix",
            format!("is `{prefix}`, which has an empty, `.` or `..` path segment"),
        ));
    }
    Ok(format!("{trimmed}/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_normalized() {
        assert_eq!(normalize_prefix("").ok().as_deref(), Some(""));
        assert_eq!(normalize_prefix(" / ").ok().as_deref(), Some(""));
        assert_eq!(normalize_prefix("site").ok().as_deref(), Some("site/"));
        assert_eq!(
            normalize_prefix("/site/v2/").ok().as_deref(),
            Some("site/v2/")
        );
        let e = normalize_prefix("site//v2").expect_err("empty segment");
        assert!(e.to_string().starts_with("input `prefix` is `site//v2`"));
        assert!(normalize_prefix("a/../b").is_err());
    }

    #[test]
    fn bucket_names_follow_s3_rules() {
        for good in ["startupwebapp-frontend", "abc", "my.site.example.com"] {
            assert!(check_bucket(good).is_ok(), "{good}");
        }
        for bad in ["ab", "Upper", "under_score", "-start", "end-", "a..b", ""] {
            let e = check_bucket(bad).expect_err(bad);
            assert!(e.to_string().starts_with("input `bucket` is"), "{e}");
        }
        let e = check_bucket("s3://site-bucket/app").expect_err("url");
        assert!(e.to_string().contains("(`site-bucket`)"), "{e}");
    }

    #[test]
    fn concurrency_is_bounded() {
        assert_eq!(parse_concurrency("16"), Ok(16));
        assert_eq!(parse_concurrency("256"), Ok(256));
        assert!(parse_concurrency("0").is_err());
        assert!(parse_concurrency("257").is_err());
        assert!(parse_concurrency("many").is_err());
    }
}
