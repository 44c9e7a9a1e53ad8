//! The sync index is as public as the bucket: it can be turned off, and named.

use crate::moto::Moto;
use crate::{INDEX, all_put_keys, create_bucket, heads, keys, run, site, write_site};

#[tokio::test]
async fn without_the_index_nothing_is_read_or_written_for_it() {
    let moto = Moto::start();
    let client = create_bucket(&moto).await;
    let site = site();
    let first = run(&moto, site.path(), &[("index", "false")]);
    assert_eq!(first.code, 0, "{}", first.log);
    assert!(!keys(&client).await.contains(&INDEX.to_string()));

    let checkout = tempfile::tempdir().unwrap();
    write_site(checkout.path());
    let mark = moto.requests().len();
    let rerun = run(&moto, checkout.path(), &[("index", "false")]);
    assert_eq!(rerun.code, 0, "{}", rerun.log);
    let requests = &moto.requests()[mark..];
    assert!(all_put_keys(requests).is_empty(), "{requests:?}");
    assert!(
        !requests
            .iter()
            .any(|r| r.starts_with("GET ") && r.contains(INDEX)),
        "{requests:?}"
    );
    assert_eq!(heads(requests).len(), 7, "{requests:?}");
    assert!(
        rerun
            .log
            .contains("compared 0 objects through the sync index and 7 with HeadObject"),
        "{}",
        rerun.log
    );
}

#[tokio::test]
async fn an_index_written_under_its_own_name_is_read_back_from_it() {
    let moto = Moto::start();
    let client = create_bucket(&moto).await;
    let site = site();
    let named = [("prefix", "site"), ("index-key", ".meta/sync.json")];
    let first = run(&moto, site.path(), &named);
    assert_eq!(first.code, 0, "{}", first.log);
    let stored = keys(&client).await;
    assert!(
        stored.contains(&"site/.meta/sync.json".to_string()),
        "{stored:?}"
    );
    assert!(!stored.iter().any(|k| k.ends_with(INDEX)), "{stored:?}");

    let checkout = tempfile::tempdir().unwrap();
    write_site(checkout.path());
    let mark = moto.requests().len();
    let rerun = run(
        &moto,
        checkout.path(),
        &[named[0], named[1], ("delete", "true")],
    );
    assert_eq!(rerun.code, 0, "{}", rerun.log);
    assert_eq!(
        rerun.output("deleted"),
        "0",
        "the index is not a stale object"
    );
    assert!(heads(&moto.requests()[mark..]).is_empty());
    assert!(
        rerun
            .log
            .contains("compared 7 objects through the sync index and 0 with HeadObject"),
        "{}",
        rerun.log
    );
}

#[tokio::test]
async fn a_bad_index_key_is_refused_before_any_call() {
    let moto = Moto::start();
    create_bucket(&moto).await;
    let site = site();
    let mark = moto.requests().len();
    let mut errors = Vec::new();
    for key in [
        "../index.json",
        "meta//index.json",
        "index\n.json",
        ".meta/",
    ] {
        let run = run(&moto, site.path(), &[("index-key", key)]);
        assert_eq!(run.code, 2, "{key:?}: {}", run.log);
        errors.extend(run.errors().iter().map(|e| e.to_string()));
    }
    assert_eq!(&moto.requests()[mark..], &[] as &[String]);
    insta::assert_snapshot!(errors.join("\n"), @r"
    ::error title=Invalid input `index-key`::input `index-key` must be a key under the prefix, without empty, `.` or `..` path segments
    ::error title=Invalid input `index-key`::input `index-key` must be a key under the prefix, without empty, `.` or `..` path segments
    ::error title=Invalid input `index-key`::input `index-key` has a control character
    ::error title=Invalid input `index-key`::input `index-key` must be a key under the prefix, without empty, `.` or `..` path segments
    ");
}
