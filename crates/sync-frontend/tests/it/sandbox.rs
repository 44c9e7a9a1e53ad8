//! Against the swa sandbox (the world the demo and the other actions run in), whose frontend
//! bucket exists from the start and which records every call it receives.

use swa_sandbox::{Options, Sandbox};

use crate::{BUCKET, Counts, run_at, site, write_site};

fn s3_calls(sandbox: &Sandbox) -> Vec<(String, bool)> {
    sandbox
        .calls()
        .into_iter()
        .filter(|c| c.service == "s3")
        .map(|c| {
            let mutating = c.is_mutating();
            (c.operation, mutating)
        })
        .collect()
}

#[test]
fn the_sandbox_frontend_bucket_syncs_and_a_fresh_checkout_changes_nothing() {
    let sandbox = Sandbox::start(Options::default()).unwrap();
    let site = site();
    let first = run_at(&sandbox.aws_url(), site.path(), &[("bucket", BUCKET)]);
    assert_eq!(first.code, 0, "{}", first.log);
    assert_eq!(first.counts(), [7, 0, 0, 0], "{}", first.log);
    let calls = s3_calls(&sandbox);
    let puts = calls.iter().filter(|(op, _)| op == "PutObject").count();
    assert_eq!(puts, 8, "7 files and the sync index: {calls:?}");
    assert_eq!(calls.first().map(|c| c.0.as_str()), Some("ListObjectsV2"));

    let checkout = tempfile::tempdir().unwrap();
    write_site(checkout.path());
    let mark = s3_calls(&sandbox).len();
    let rerun = run_at(&sandbox.aws_url(), checkout.path(), &[("bucket", BUCKET)]);
    assert_eq!(rerun.code, 0, "{}", rerun.log);
    assert_eq!(rerun.counts(), [0, 0, 7, 0], "{}", rerun.log);
    let calls = s3_calls(&sandbox);
    let changed: Vec<_> = calls[mark..].iter().filter(|(_, m)| *m).collect();
    assert!(
        changed.is_empty(),
        "a re-run changed the bucket: {changed:?}"
    );
    let ops: Vec<&str> = calls[mark..].iter().map(|(op, _)| op.as_str()).collect();
    assert_eq!(ops, ["ListObjectsV2", "GetObject"], "{ops:?}");
}
