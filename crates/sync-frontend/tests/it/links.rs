//! Symbolic links in the source: inside it they are files of the site; out of it they would
//! publish whatever they point to, so they stop the sync unless `follow-symlinks: true`.

use std::os::unix::fs::symlink;

use crate::moto::Moto;
use crate::{body, create_bucket, keys, run, site};

#[tokio::test]
async fn a_link_out_of_the_source_stops_the_sync_before_any_call_unless_followed() {
    let moto = Moto::start();
    let client = create_bucket(&moto).await;
    let site = site();
    let elsewhere = tempfile::tempdir().unwrap();
    let secret = elsewhere.path().join("hostname");
    std::fs::write(&secret, "build-host-7\n").unwrap();
    symlink(&secret, site.path().join("assets/leak.txt")).unwrap();
    symlink("/etc/hostname", site.path().join("hostname.txt")).unwrap();
    // A link that stays inside the source is a file of the site like any other.
    symlink("site.9c1d.css", site.path().join("assets/site.css")).unwrap();

    let mark = moto.requests().len();
    let refused = run(&moto, site.path(), &[]);
    assert_eq!(refused.code, 2, "{}", refused.log);
    assert!(refused.outputs.is_empty());
    assert_eq!(&moto.requests()[mark..], &[] as &[String], "S3 was called");
    let source = site.path().to_str().unwrap();
    insta::assert_snapshot!(
        refused.errors().join("\n").replace(source, "[source]"),
        @"::error title=Invalid input `source`::input `source` holds `assets/leak.txt` (and 1 more), a symbolic link to a file outside `[source]`; nothing was uploaded. Remove the link, or set `follow-symlinks: true` to upload the file it points to"
    );

    let followed = run(&moto, site.path(), &[("follow-symlinks", "true")]);
    assert_eq!(followed.code, 0, "{}", followed.log);
    let uploaded = keys(&client).await;
    assert!(
        uploaded.contains(&"assets/leak.txt".to_string()),
        "{uploaded:?}"
    );
    assert!(
        uploaded.contains(&"assets/site.css".to_string()),
        "{uploaded:?}"
    );
    assert_eq!(body(&client, "assets/leak.txt").await, b"build-host-7\n");
    assert!(
        followed.log.contains(
            "assets/leak.txt links outside the source folder; following it (`follow-symlinks: true`)"
        ),
        "{}",
        followed.log
    );
}

#[tokio::test]
async fn links_that_stay_inside_the_source_are_uploaded() {
    let moto = Moto::start();
    let client = create_bucket(&moto).await;
    let site = site();
    symlink("../assets/app.3f2a.js", site.path().join("about/app.js")).unwrap();
    let run = run(&moto, site.path(), &[]);
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(body(&client, "about/app.js").await, b"console.log('app');");
}
