//! The source folder: every file, its key, size, SHA-256 and the headers it gets.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::rules::{self, CacheRules};

/// One file to sync.
#[derive(Debug, Clone)]
pub struct LocalFile {
    /// Path relative to the source folder, `/`-separated.
    pub relative: String,
    /// The S3 key: the prefix, then the relative path.
    pub key: String,
    pub path: PathBuf,
    pub size: u64,
    /// Hex SHA-256 of the content.
    pub sha256: String,
    pub content_type: &'static str,
    pub cache_control: String,
    pub html: bool,
}

/// What the scan found, and what it skipped, to tell the user.
#[derive(Debug, Default)]
pub struct Scan {
    pub files: Vec<LocalFile>,
    pub skipped: Vec<String>,
    /// Symbolic links to files outside the source folder (relative paths), left out unless
    /// they are followed.
    pub outside: Vec<String>,
}

/// Walks `source` (following symbolic links to files, not to folders; leaving out `.git`) and
/// hashes every file. A link that resolves to a file outside `source` is listed in
/// [`Scan::outside`], and its file is taken only when `follow_outside`. Sorted by key.
pub fn scan(
    source: &Path,
    prefix: &str,
    rules: &CacheRules,
    follow_outside: bool,
) -> io::Result<Scan> {
    let root = fs::canonicalize(source)?;
    let mut scan = Scan::default();
    let mut stack = vec![(source.to_path_buf(), String::new())];
    while let Some((dir, relative_dir)) = stack.pop() {
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                scan.skipped.push(format!(
                    "{} (the name is not UTF-8)",
                    entry.path().display()
                ));
                continue;
            };
            let relative = format!("{relative_dir}{name}");
            let mut file_type = entry.file_type()?;
            if file_type.is_symlink() {
                match fs::metadata(entry.path()) {
                    Ok(meta) if meta.is_file() => {
                        let target = fs::canonicalize(entry.path())?;
                        if !target.starts_with(&root) {
                            scan.outside.push(relative.clone());
                            if !follow_outside {
                                continue;
                            }
                        }
                        file_type = meta.file_type();
                    }
                    Ok(_) => {
                        scan.skipped
                            .push(format!("{relative} (a link to a folder is not followed)"));
                        continue;
                    }
                    Err(_) => {
                        scan.skipped.push(format!("{relative} (a broken link)"));
                        continue;
                    }
                }
            }
            if file_type.is_dir() {
                if name != ".git" {
                    stack.push((entry.path(), format!("{relative}/")));
                }
            } else if file_type.is_file() {
                let path = entry.path();
                let (size, sha256) = hash_file(&path)?;
                scan.files.push(LocalFile {
                    key: format!("{prefix}{relative}"),
                    content_type: rules::content_type(&relative),
                    cache_control: rules.cache_control(&relative).to_string(),
                    html: rules::is_html(&relative),
                    relative,
                    path,
                    size,
                    sha256,
                });
            }
        }
    }
    scan.files.sort_by(|a, b| a.key.cmp(&b.key));
    scan.outside.sort();
    Ok(scan)
}

/// The size and hex SHA-256 of a file, read in blocks.
pub fn hash_file(path: &Path) -> io::Result<(u64, String)> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buffer[..n]);
    }
    Ok((size, hex::encode(hasher.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_keys_hashes_and_headers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        fs::create_dir_all(root.join("assets/img")).expect("mkdir");
        fs::create_dir_all(root.join(".git")).expect("mkdir");
        fs::write(root.join("index.html"), "<h1>hi</h1>").expect("write");
        fs::write(root.join("assets/app.js"), "").expect("write");
        fs::write(root.join("assets/img/logo.svg"), "<svg/>").expect("write");
        fs::write(root.join(".git/config"), "[core]").expect("write");
        let rules = CacheRules::parse("").expect("rules");
        let scan = scan(root, "site/", &rules, false).expect("scan");
        let keys: Vec<&str> = scan.files.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "site/assets/app.js",
                "site/assets/img/logo.svg",
                "site/index.html"
            ]
        );
        let app = &scan.files[0];
        assert_eq!(app.relative, "assets/app.js");
        assert_eq!(app.size, 0);
        assert_eq!(
            app.sha256,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let index = &scan.files[2];
        assert!(index.html);
        assert_eq!(index.size, 11);
        assert_eq!(index.cache_control, rules::HTML_CACHE_CONTROL);
        assert_eq!(index.content_type, "text/html; charset=utf-8");
    }
}
