//! `sync-frontend` run as a workflow runs it: the binary, a cleared environment with `INPUT_*`,
//! `GITHUB_OUTPUT` and `GITHUB_STEP_SUMMARY` files, against a moto S3 server.

#![allow(clippy::unwrap_used)]

mod faults;
mod index;
mod links;
mod moto;
mod names;
mod parsers;
mod sandbox;

use std::path::Path;

use moto::Moto;
use sha2::{Digest, Sha256};
use swa_testing::{Step, StepRun};

pub const BUCKET: &str = "startupwebapp-frontend";

/// The built frontend: pages, hashed assets, an image, data, and a `.git` folder that must
/// never be uploaded.
const SITE: &[(&str, &[u8])] = &[
    (
        "index.html",
        b"<html><script src=\"/assets/app.3f2a.js\"></script>home</html>",
    ),
    ("about/index.html", b"<html>about</html>"),
    ("assets/app.3f2a.js", b"console.log('app');"),
    ("assets/site.9c1d.css", b"body { margin: 0 }"),
    ("img/logo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
    ("data/menu.json", b"{\"items\": []}"),
    ("favicon.ico", b"\x00\x00\x01\x00"),
];

pub fn write_site(root: &Path) {
    for (path, content) in SITE {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    std::fs::create_dir_all(root.join(".git")).unwrap();
    std::fs::write(root.join(".git/config"), "[core]").unwrap();
}

pub fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_site(dir.path());
    dir
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The counts a sync reports: uploaded, updated, skipped, deleted.
pub trait Counts {
    fn counts(&self) -> [usize; 4];
}

impl Counts for StepRun {
    fn counts(&self) -> [usize; 4] {
        ["uploaded", "updated", "skipped", "deleted"].map(|n| self.output(n).parse().unwrap())
    }
}

/// Runs the binary with `inputs` (input name, value) the way the runner does.
/// Asserts snapshots of what users read with what varies between runs (ports, temporary
/// folders, durations, pause tokens) replaced by placeholders.
pub(crate) fn snapshots(assertions: impl FnOnce()) {
    let mut settings = swa_testing::snapshot_settings();
    settings.add_filter(r"/tmp/\.tmp[A-Za-z0-9]+", "[TMP]");
    settings.add_filter(swa_testing::DURATION, "[DURATION]");
    settings.bind(assertions);
}

fn run(moto: &Moto, source: &Path, inputs: &[(&str, &str)]) -> StepRun {
    run_at(&moto.url, source, inputs)
}

/// `log` is stdout followed by stderr; no output of the step may carry the secret access key.
pub fn run_at(endpoint: &str, source: &Path, inputs: &[(&str, &str)]) -> StepRun {
    let mut run = Step::new(env!("CARGO_BIN_EXE_sync-frontend"))
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", moto::REGION)
        .env("AWS_ACCESS_KEY_ID", moto::ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", moto::SECRET_KEY)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .input("bucket", BUCKET)
        .input("source", source.to_str().unwrap())
        .inputs(inputs)
        .run();
    run.log = run.log_and_stderr();
    for text in [&run.log, &run.outputs_raw, &run.summary] {
        assert!(
            !text.contains(moto::SECRET_KEY),
            "the secret access key appeared in the output:\n{text}"
        );
    }
    run
}

async fn create_bucket(moto: &Moto) -> swa_aws::s3::Client {
    let client = moto.client();
    client.create_bucket().bucket(BUCKET).send().await.unwrap();
    client
}

async fn put(client: &swa_aws::s3::Client, key: &str, body: &str) {
    client
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .body(body.as_bytes().to_vec().into())
        .send()
        .await
        .unwrap();
}

async fn keys(client: &swa_aws::s3::Client) -> Vec<String> {
    let out = client
        .list_objects_v2()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    let mut keys: Vec<String> = out
        .contents()
        .iter()
        .filter_map(|o| o.key().map(String::from))
        .collect();
    keys.sort();
    keys
}

async fn body(client: &swa_aws::s3::Client, key: &str) -> Vec<u8> {
    let out = client
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap();
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

const INDEX: &str = ".sync-frontend-index.json";

/// The keys of the PutObject/CopyObject requests in `requests`, in order, the sync index's
/// included.
fn all_put_keys(requests: &[String]) -> Vec<String> {
    let prefix = format!("PUT /{BUCKET}/");
    requests
        .iter()
        .filter_map(|r| r.strip_prefix(&prefix))
        .map(|k| k.split('?').next().unwrap_or(k).to_string())
        .filter(|k| !k.is_empty())
        .collect()
}

/// The keys of the PutObject/CopyObject requests for the site's files.
fn put_keys(requests: &[String]) -> Vec<String> {
    all_put_keys(requests)
        .into_iter()
        .filter(|k| !k.ends_with(INDEX))
        .collect()
}

fn heads(requests: &[String]) -> Vec<&String> {
    requests.iter().filter(|r| r.starts_with("HEAD ")).collect()
}

#[tokio::test]
async fn first_upload_sets_cache_control_content_type_and_hash_per_file() {
    let moto = Moto::start();
    let client = create_bucket(&moto).await;
    let site = site();

    let run = run(&moto, site.path(), &[]);
    let sync_requests = moto.requests();
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(run.counts(), [7, 0, 0, 0], "{}", run.log);
    let total: usize = SITE.iter().map(|(_, c)| c.len()).sum();
    assert_eq!(run.output("bytes"), total.to_string());

    let expected = [
        (
            "index.html",
            "no-cache, must-revalidate",
            "text/html; charset=utf-8",
        ),
        (
            "about/index.html",
            "no-cache, must-revalidate",
            "text/html; charset=utf-8",
        ),
        (
            "assets/app.3f2a.js",
            "public, max-age=31536000",
            "text/javascript; charset=utf-8",
        ),
        (
            "assets/site.9c1d.css",
            "public, max-age=31536000",
            "text/css; charset=utf-8",
        ),
        ("img/logo.png", "public, max-age=31536000", "image/png"),
        (
            "data/menu.json",
            "public, max-age=31536000",
            "application/json",
        ),
        (
            "favicon.ico",
            "public, max-age=31536000",
            "image/vnd.microsoft.icon",
        ),
    ];
    for (key, cache_control, content_type) in expected {
        let head = client
            .head_object()
            .bucket(BUCKET)
            .key(key)
            .send()
            .await
            .unwrap();
        assert_eq!(head.cache_control(), Some(cache_control), "{key}");
        assert_eq!(head.content_type(), Some(content_type), "{key}");
        let content = SITE.iter().find(|(p, _)| *p == key).unwrap().1;
        assert_eq!(
            head.metadata()
                .and_then(|m| m.get("sha256"))
                .map(String::as_str),
            Some(sha256(content).as_str()),
            "{key}"
        );
        assert_eq!(body(&client, key).await, content, "{key}");
    }
    assert!(!keys(&client).await.iter().any(|k| k.contains(".git/")));

    // Assets before pages: every page's PutObject comes after every asset's.
    let puts = put_keys(&sync_requests);
    assert_eq!(puts.len(), 7, "{puts:?}");
    let first_page = puts.iter().position(|k| k.ends_with(".html")).unwrap();
    assert!(
        puts[first_page..].iter().all(|k| k.ends_with(".html")),
        "an asset went up after a page: {puts:?}"
    );
    assert_eq!(puts.len() - first_page, 2, "{puts:?}");
    let all_puts = all_put_keys(&sync_requests);
    assert_eq!(
        all_puts.last().map(String::as_str),
        Some(INDEX),
        "{all_puts:?}"
    );
    // A first upload has nothing to compare: no HeadObject at all.
    assert!(heads(&sync_requests).is_empty(), "{sync_requests:?}");

    snapshots(|| {
        insta::assert_snapshot!("first_upload_log", run.log);
        insta::assert_snapshot!("first_upload_summary", run.summary);
    });
}

#[tokio::test]
async fn a_fresh_checkout_uploads_nothing_and_a_changed_file_uploads_only_itself() {
    let moto = Moto::start();
    create_bucket(&moto).await;
    let site = site();
    let first = run(&moto, site.path(), &[]);
    assert_eq!(first.code, 0, "{}", first.log);

    // A fresh checkout: same content, every file written again (new modification times).
    let checkout = tempfile::tempdir().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    write_site(checkout.path());
    let mark = moto.requests().len();
    let rerun = run(&moto, checkout.path(), &[]);
    assert_eq!(rerun.code, 0, "{}", rerun.log);
    assert_eq!(rerun.counts(), [0, 0, 7, 0], "{}", rerun.log);
    assert_eq!(rerun.output("bytes"), "0");
    assert_eq!(moto.writes().len(), moto_writes_before(&moto, mark));
    assert!(
        all_put_keys(&moto.requests()[mark..]).is_empty(),
        "a re-run uploaded: {:?}",
        &moto.requests()[mark..]
    );
    // The sync index vouches for every object: one listing and one GET, no HeadObject.
    assert!(
        heads(&moto.requests()[mark..]).is_empty(),
        "{:?}",
        &moto.requests()[mark..]
    );
    assert!(
        rerun
            .log
            .contains("compared 7 objects through the sync index and 0 with HeadObject"),
        "{}",
        rerun.log
    );

    // One changed file, same size: the hash tells.
    std::fs::write(
        checkout.path().join("assets/app.3f2a.js"),
        b"console.log('APP');",
    )
    .unwrap();
    let mark = moto.requests().len();
    let changed = run(&moto, checkout.path(), &[]);
    assert_eq!(changed.code, 0, "{}", changed.log);
    assert_eq!(changed.counts(), [1, 0, 6, 0], "{}", changed.log);
    assert_eq!(changed.output("bytes"), "19");
    assert_eq!(
        put_keys(&moto.requests()[mark..]),
        ["assets/app.3f2a.js"],
        "{:?}",
        &moto.requests()[mark..]
    );
    assert!(
        changed
            .log
            .contains("upload (changed) assets/app.3f2a.js (19 B"),
        "{}",
        changed.log
    );
}

/// The writes moto had seen when `mark` requests had been made.
fn moto_writes_before(moto: &Moto, mark: usize) -> usize {
    moto.requests()[..mark]
        .iter()
        .filter(|r| !r.starts_with("GET ") && !r.starts_with("HEAD "))
        .count()
}

#[tokio::test]
async fn a_changed_cache_control_rule_is_applied_without_sending_the_content_again() {
    let moto = Moto::start();
    let client = create_bucket(&moto).await;
    let site = site();
    let first = run(&moto, site.path(), &[]);
    assert_eq!(first.code, 0, "{}", first.log);

    let rules = "# short cache for scripts while we try things\n*.js = public, max-age=60\n";
    let second = run(&moto, site.path(), &[("cache-control", rules)]);
    assert_eq!(second.code, 0, "{}", second.log);
    assert_eq!(second.counts(), [0, 1, 6, 0], "{}", second.log);
    assert_eq!(second.output("bytes"), "0");
    assert!(
        second.log.contains(
            "update metadata assets/app.3f2a.js (public, max-age=31536000; text/javascript; charset=utf-8 -> public, max-age=60;"
        ),
        "{}",
        second.log
    );
    let head = client
        .head_object()
        .bucket(BUCKET)
        .key("assets/app.3f2a.js")
        .send()
        .await
        .unwrap();
    assert_eq!(head.cache_control(), Some("public, max-age=60"));
    assert_eq!(head.content_type(), Some("text/javascript; charset=utf-8"));
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("sha256"))
            .map(String::as_str),
        Some(sha256(b"console.log('app');").as_str())
    );
    assert_eq!(
        body(&client, "assets/app.3f2a.js").await,
        b"console.log('app');"
    );

    // Applied once: the next run with the same rule changes nothing.
    let third = run(&moto, site.path(), &[("cache-control", rules)]);
    assert_eq!(third.counts(), [0, 0, 7, 0], "{}", third.log);
}

#[tokio::test]
async fn delete_removes_only_stale_objects_under_the_prefix_after_the_uploads() {
    let moto = Moto::start();
    let client = create_bucket(&moto).await;
    put(&client, "site/old.3a9f.js", "stale").await;
    put(&client, "site2/other.js", "not under the prefix").await;
    put(&client, "elsewhere/keep.txt", "not under the prefix").await;
    let site = site();

    let first = run(&moto, site.path(), &[("prefix", "/site/")]);
    assert_eq!(first.code, 0, "{}", first.log);
    assert_eq!(first.counts(), [7, 0, 0, 0], "{}", first.log);
    let all = keys(&client).await;
    assert!(all.contains(&"site/index.html".to_string()), "{all:?}");
    assert!(
        all.contains(&"site/assets/app.3f2a.js".to_string()),
        "{all:?}"
    );
    assert!(
        all.contains(&"site/old.3a9f.js".to_string()),
        "kept without delete"
    );
    assert!(!all.contains(&"index.html".to_string()), "{all:?}");
    assert!(
        first
            .summary
            .contains(&format!("<code>s3://{BUCKET}/site/</code>"))
    );

    std::fs::write(site.path().join("index.html"), "<html>new home</html>").unwrap();
    let mark = moto.requests().len();
    let second = run(
        &moto,
        site.path(),
        &[("prefix", "site"), ("delete", "true")],
    );
    assert_eq!(second.code, 0, "{}", second.log);
    assert_eq!(second.counts(), [1, 0, 6, 1], "{}", second.log);
    let all = keys(&client).await;
    assert!(!all.contains(&"site/old.3a9f.js".to_string()), "{all:?}");
    assert!(all.contains(&"site2/other.js".to_string()), "{all:?}");
    assert!(all.contains(&"elsewhere/keep.txt".to_string()), "{all:?}");
    assert_eq!(all.iter().filter(|k| k.starts_with("site/")).count(), 8);
    assert!(all.contains(&format!("site/{INDEX}")), "{all:?}");
    assert!(
        second.log.contains("delete site/old.3a9f.js"),
        "{}",
        second.log
    );

    // The delete comes after the upload; the index is brought up to date last.
    let writes: Vec<String> = moto.requests()[mark..]
        .iter()
        .filter(|r| !r.starts_with("GET ") && !r.starts_with("HEAD "))
        .cloned()
        .collect();
    assert_eq!(writes.len(), 3, "{writes:?}");
    assert!(
        writes[2].starts_with(&format!("PUT /{BUCKET}/site/{INDEX}")),
        "{writes:?}"
    );
    assert!(
        writes[0].starts_with(&format!("PUT /{BUCKET}/site/index.html")),
        "{writes:?}"
    );
    assert!(
        writes[1].starts_with(&format!("POST /{BUCKET}")),
        "{writes:?}"
    );
    assert!(writes[1].contains("delete"), "{writes:?}");
}

#[tokio::test]
async fn dry_run_reports_the_plan_and_changes_nothing() {
    let moto = Moto::start();
    let client = create_bucket(&moto).await;
    let site = site();
    let first = run(&moto, site.path(), &[]);
    assert_eq!(first.code, 0, "{}", first.log);
    put(&client, "stale.js", "stale").await;
    std::fs::write(site.path().join("data/menu.json"), "{\"items\": [1, 2]}").unwrap();
    std::fs::write(site.path().join("new.txt"), "new").unwrap();
    let before: Vec<(String, Vec<u8>)> = {
        let mut all = Vec::new();
        for key in keys(&client).await {
            let content = body(&client, &key).await;
            all.push((key, content));
        }
        all
    };

    let mark = moto.requests().len();
    let dry = run(
        &moto,
        site.path(),
        &[
            ("dry-run", "true"),
            ("delete", "true"),
            ("cache-control", "*.css=no-store"),
        ],
    );
    assert_eq!(dry.code, 0, "{}", dry.log);
    assert_eq!(dry.counts(), [2, 1, 5, 1], "{}", dry.log);
    let writes: Vec<String> = moto.requests()[mark..]
        .iter()
        .filter(|r| !r.starts_with("GET ") && !r.starts_with("HEAD "))
        .cloned()
        .collect();
    assert!(writes.is_empty(), "a dry run changed something: {writes:?}");
    snapshots(|| {
        insta::assert_snapshot!("dry_run_log", dry.log);
        insta::assert_snapshot!("dry_run_summary", dry.summary);
    });

    let mut after = Vec::new();
    for key in keys(&client).await {
        let content = body(&client, &key).await;
        after.push((key, content));
    }
    assert_eq!(before, after);
}

/// The inputs given, the input the error must name, and words the error must carry.
type BadInput<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);

#[tokio::test]
async fn bad_input_exits_2_naming_the_input_before_any_call_to_s3() {
    let moto = Moto::start();
    let client = create_bucket(&moto).await;
    put(&client, "keep.html", "existing").await;
    let site = site();
    let empty = tempfile::tempdir().unwrap();
    let missing = site.path().join("dist");
    let missing = missing.to_str().unwrap();
    let file = site.path().join("index.html");
    let file = file.to_str().unwrap();

    let cases: &[BadInput] = &[
        (
            &[("source", missing)],
            "source",
            "which does not exist; build the frontend first",
        ),
        (&[("source", file)], "source", "which is not a folder"),
        (
            &[("cache-control", "*.js=max-age=60\n*.html no-cache")],
            "cache-control",
            "line 2 (`*.html no-cache`) is not `glob=value`",
        ),
        (
            &[("cache-control", "*.js max-age=60")],
            "cache-control",
            "line 1 (`*.js max-age=60`) has `60`, which is not a Cache-Control directive",
        ),
        (
            &[("cache-control", "[abc=max-age=60")],
            "cache-control",
            "line 1 has an invalid glob `[abc`",
        ),
        (
            &[("concurrency", "0")],
            "concurrency",
            "has the value `0`, which must be a whole number from 1 to 256",
        ),
        (
            &[("concurrency", "many")],
            "concurrency",
            "has the value `many`",
        ),
        (
            &[("bucket", "s3://startupwebapp-frontend/site")],
            "bucket",
            "give the bucket's name alone",
        ),
        (
            &[("bucket", "Not_A_Bucket")],
            "bucket",
            "which is not an S3 bucket name",
        ),
        (
            &[("prefix", "site/../other")],
            "prefix",
            "`..` path segment",
        ),
        (&[("delete", "yes")], "delete", "use true or false"),
        (&[("dry-run", "1")], "dry-run", "has the value `1`"),
    ];
    let mark = moto.requests().len();
    let mut seen = Vec::new();
    for (inputs, name, reason) in cases {
        let run = run(&moto, site.path(), inputs);
        assert_eq!(run.code, 2, "{inputs:?}: {}", run.log);
        let errors = run.errors();
        assert_eq!(errors.len(), 1, "{inputs:?}: {}", run.log);
        let annotation = format!("::error title=Invalid input `{name}`::input `{name}` ");
        assert!(
            errors[0].starts_with(&annotation) && errors[0].contains(reason),
            "{inputs:?}: {}",
            run.log
        );
        assert!(run.outputs.is_empty(), "{inputs:?}: {:?}", run.outputs);
        seen.push(errors[0].to_string());
    }
    snapshots(|| insta::assert_snapshot!("bad_input_errors", seen.join("\n")));

    // An empty source with delete would empty the bucket: refused.
    let run_empty = run(&moto, empty.path(), &[("delete", "true")]);
    assert_eq!(run_empty.code, 2, "{}", run_empty.log);
    assert!(
        run_empty
            .log
            .contains("::error title=Invalid input `source`::input `source` is")
            && run_empty
                .log
                .contains("which holds no files; with `delete: true`"),
        "{}",
        run_empty.log
    );

    assert_eq!(
        &moto.requests()[mark..],
        &[] as &[String],
        "bad input reached S3"
    );
    assert_eq!(keys(&client).await, ["keep.html"]);
}

#[tokio::test]
async fn a_missing_bucket_fails_clearly_and_uploads_nothing() {
    let moto = Moto::start();
    let site = site();
    let run = run(&moto, site.path(), &[("bucket", "no-such-frontend-bucket")]);
    assert_eq!(run.code, 2, "{}", run.log);
    assert!(
        run.log.contains(
            "::error title=Invalid input `bucket`::input `bucket` is `no-such-frontend-bucket`, which does not exist"
        ),
        "{}",
        run.log
    );
    assert!(moto.writes().is_empty(), "{:?}", moto.writes());
    assert!(run.outputs.is_empty());
}

#[test]
fn an_unreachable_endpoint_fails_after_the_sdk_retries() {
    let site = site();
    // Nothing listens on this port: every attempt is refused, retried, and the run fails.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let run = run_at(&endpoint, site.path(), &[]);
    assert_eq!(run.code, 1, "{}", run.log);
    assert!(
        run.log.contains(&format!(
            "::error::could not list s3://{BUCKET}/: the request could not be sent"
        )),
        "{}",
        run.log
    );
    assert!(run.outputs.is_empty());
}

#[tokio::test]
async fn throttling_is_retried_and_the_sync_completes() {
    let moto = Moto::start();
    create_bucket(&moto).await;
    let site = site();
    // The first two attempts are throttled (503 SlowDown); the SDK's retry gets through.
    let proxy = faults::FaultyProxy::start(&moto.url, 2);
    let run = run_at(&proxy.url, site.path(), &[]);
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(run.counts(), [7, 0, 0, 0], "{}", run.log);
    assert!(proxy.connections() > 2);
    assert_eq!(put_keys(&moto.requests()).len(), 7);
}

#[tokio::test]
async fn throttling_that_does_not_stop_fails_after_bounded_attempts() {
    let moto = Moto::start();
    create_bucket(&moto).await;
    let site = site();
    let proxy = faults::FaultyProxy::start(&moto.url, usize::MAX);
    let run = run_at(&proxy.url, site.path(), &[]);
    assert_eq!(run.code, 1, "{}", run.log);
    assert!(
        run.log.contains(&format!(
            "::error::could not list s3://{BUCKET}/: SlowDown: Please reduce your request rate."
        )),
        "{}",
        run.log
    );
    // swa-aws allows 5 attempts per call: the ListObjectsV2 is tried 5 times, then given up.
    assert_eq!(proxy.connections(), swa_aws::DEFAULT_MAX_ATTEMPTS as usize);
    assert!(put_keys(&moto.requests()).is_empty());
}

#[tokio::test]
async fn an_object_changed_by_anything_else_is_compared_again_not_trusted_to_the_index() {
    let moto = Moto::start();
    let client = create_bucket(&moto).await;
    let site = site();
    let first = run(&moto, site.path(), &[]);
    assert_eq!(first.code, 0, "{}", first.log);

    // Someone else changes one object's Cache-Control in place (same content, same ETag) and
    // replaces another with different content of the same size.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    client
        .copy_object()
        .bucket(BUCKET)
        .key("assets/site.9c1d.css")
        .copy_source(format!("{BUCKET}/assets/site.9c1d.css"))
        .metadata_directive(swa_aws::s3::types::MetadataDirective::Replace)
        .cache_control("no-store")
        .content_type("text/css; charset=utf-8")
        .metadata("sha256", sha256(b"body { margin: 0 }"))
        .send()
        .await
        .unwrap();
    put(&client, "data/menu.json", "{\"itemz\": []}").await;

    let mark = moto.requests().len();
    let rerun = run(&moto, site.path(), &[]);
    assert_eq!(rerun.code, 0, "{}", rerun.log);
    assert_eq!(rerun.counts(), [1, 1, 5, 0], "{}", rerun.log);
    let requests = &moto.requests()[mark..];
    let mut checked: Vec<&String> = heads(requests);
    checked.sort();
    assert_eq!(
        checked,
        [
            &format!("HEAD /{BUCKET}/assets/site.9c1d.css"),
            &format!("HEAD /{BUCKET}/data/menu.json"),
        ],
        "{requests:?}"
    );
    let head = client
        .head_object()
        .bucket(BUCKET)
        .key("assets/site.9c1d.css")
        .send()
        .await
        .unwrap();
    assert_eq!(head.cache_control(), Some("public, max-age=31536000"));
    assert_eq!(body(&client, "data/menu.json").await, b"{\"items\": []}");

    // A damaged index costs HeadObject calls, never a wrong answer.
    put(&client, INDEX, "not json").await;
    let mark = moto.requests().len();
    let third = run(&moto, site.path(), &[]);
    assert_eq!(third.counts(), [0, 0, 7, 0], "{}", third.log);
    assert_eq!(heads(&moto.requests()[mark..]).len(), 7);
    assert_eq!(all_put_keys(&moto.requests()[mark..]), [INDEX]);
}

#[tokio::test]
async fn a_large_file_is_uploaded_whole() {
    let moto = Moto::start();
    let client = create_bucket(&moto).await;
    let dir = tempfile::tempdir().unwrap();
    // Above 16 MiB the upload runs with timeouts sized to the file.
    let video: Vec<u8> = (0..17 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.path().join("intro.mp4"), &video).unwrap();
    std::fs::write(dir.path().join("index.html"), "<video src=intro.mp4>").unwrap();

    let run = run(&moto, dir.path(), &[]);
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(run.counts(), [2, 0, 0, 0], "{}", run.log);
    let head = client
        .head_object()
        .bucket(BUCKET)
        .key("intro.mp4")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(video.len() as i64));
    assert_eq!(head.content_type(), Some("video/mp4"));
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("sha256"))
            .map(String::as_str),
        Some(sha256(&video).as_str())
    );
    assert!(body(&client, "intro.mp4").await == video);
}
