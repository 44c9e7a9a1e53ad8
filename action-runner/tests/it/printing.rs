//! Text reaches the job log through one printer: `swa_gha::Gha`, which masks secrets and makes
//! every plain line unable to act as a workflow command. This test keeps the product code from
//! writing to stdout or stderr any other way, and from spelling workflow commands itself.

use std::path::{Path, PathBuf};

use crate::root;

/// Code that may write to the process's streams: the printer (swa-gha), the binary that hands it
/// stdout, the sandbox (a server whose stdout is its exports, not a job log) and the test tools
/// (swa-testing; swa-e2e, which matches workflow commands in act's logs and reports to a
/// terminal).
const EXEMPT: [&str; 5] = [
    "crates/swa-gha/",
    "crates/swa-sandbox/",
    "crates/swa-testing/",
    "crates/swa-e2e/",
    "action-runner/src/lib.rs",
];

const FORBIDDEN: [&str; 9] = [
    "println!",
    "print!(",
    "eprintln!",
    "eprint!(",
    "io::stdout",
    "io::stderr",
    "\"::",
    "\"##[",
    "write_raw",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The product part of a source file: unit tests (`#[cfg(test)]` to the end, as every file here
/// keeps them) and test-only files are left out.
fn product_code(path: &Path, text: &str) -> Option<String> {
    if path.file_name().is_some_and(|n| n == "tests.rs") {
        return None;
    }
    let end = text.find("#[cfg(test)]").unwrap_or(text.len());
    Some(text[..end].to_string())
}

#[test]
fn only_the_safe_printer_writes_to_the_job_log() {
    let root = root();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(root.join("crates")).unwrap().flatten() {
        rust_files(&entry.path().join("src"), &mut files);
    }
    rust_files(&root.join("action-runner/src"), &mut files);
    assert!(files.len() > 50, "found only {} source files", files.len());
    let mut found = Vec::new();
    for path in &files {
        let relative = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if EXEMPT.iter().any(|e| relative.starts_with(e)) {
            continue;
        }
        let text = std::fs::read_to_string(path).unwrap();
        let Some(code) = product_code(path, &text) else {
            continue;
        };
        for (n, line) in code.lines().enumerate() {
            let code_part = line.split("//").next().unwrap_or_default();
            for pattern in FORBIDDEN {
                if code_part.contains(pattern) {
                    found.push(format!(
                        "{relative}:{}: `{pattern}` in {}",
                        n + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "write through swa_gha::Gha (info, foreign_block, annotations), not around it:\n{}",
        found.join("\n")
    );
}
