//! File names are text we did not write: in the log they are shown, never obeyed; in the
//! summary they are escaped.

use crate::moto::Moto;
use crate::{create_bucket, keys, run, site};

const HOSTILE: &str = "::warning::x ##[error]y |.html";

#[tokio::test]
async fn a_file_named_like_a_command_is_shown_inert_and_escaped() {
    let moto = Moto::start();
    let client = create_bucket(&moto).await;
    let site = site();
    std::fs::write(site.path().join(HOSTILE), "<p>hi</p>").unwrap();
    // The step's log is checked for commands the action did not mean (swa-testing).
    let run = run(&moto, site.path(), &[]);
    assert_eq!(run.code, 0, "{}", run.log);
    assert!(keys(&client).await.contains(&HOSTILE.to_string()));
    let line = run
        .log
        .lines()
        .find(|l| l.contains("warning::x"))
        .unwrap_or_default()
        .replace('\u{200B}', "[zwsp]");
    insta::assert_snapshot!(line, @"upload (new) :[zwsp]:warning::x ##[zwsp][error]y |.html (9 B, text/html; charset=utf-8, no-cache, must-revalidate)");
    insta::assert_snapshot!(run.summary, @r"
    ### Frontend sync to <code>s3://startupwebapp-frontend/</code>

    | uploaded | metadata updated | unchanged | deleted | bytes uploaded |
    |---:|---:|---:|---:|---:|
    | 8 | 0 | 0 | 0 | 157 B |

    <details><summary>Changes</summary>

    - upload (new) <code>assets/app.3f2a.js</code> (19 B, text/javascript; charset=utf-8, public, max-age=31536000)
    - upload (new) <code>assets/site.9c1d.css</code> (18 B, text/css; charset=utf-8, public, max-age=31536000)
    - upload (new) <code>data/menu.json</code> (13 B, application/json, public, max-age=31536000)
    - upload (new) <code>favicon.ico</code> (4 B, image/vnd.microsoft.icon, public, max-age=31536000)
    - upload (new) <code>img/logo.png</code> (16 B, image/png, public, max-age=31536000)
    - upload (new) <code>::warning::x \#\#\[error\]y \|.html</code> (9 B, text/html; charset=utf-8, no-cache, must-revalidate)
    - upload (new) <code>about/index.html</code> (18 B, text/html; charset=utf-8, no-cache, must-revalidate)
    - upload (new) <code>index.html</code> (60 B, text/html; charset=utf-8, no-cache, must-revalidate)

    </details>
    ");
    // GitHub renders what follows an HTML block only after a blank line.
    assert!(
        run.summary.ends_with("\n</details>\n\n"),
        "{:?}",
        run.summary
    );
}
