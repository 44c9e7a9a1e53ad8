//! The image's binary and the `action.yml` files users reference, checked against each other.
#![allow(clippy::unwrap_used)]

mod action_yml;
mod binary;
mod printing;
mod workflows;

use std::path::{Path, PathBuf};

/// The checkout: `action-runner/..`.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}
