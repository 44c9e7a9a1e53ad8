//! What GitHub sends back is not always what happened: a dispatch answered 502, or whose answer
//! never came, may have started the run all the same. Text from its API is not ours either.

use serde_json::Value;
use wiremock::ResponseTemplate;

use crate::dropping::DroppingProxy;
use crate::fake::Fake;
use crate::{dispatch, serve};

/// The log and summary lines a person reads, with what changes from run to run replaced, and
/// the zero-width space that breaks a command shown as `[zwsp]`.
pub fn redact(text: &str, correlation: &str) -> String {
    let text = text
        .replace(correlation, "[correlation-id]")
        .replace('\u{200B}', "[zwsp]");
    let port = regex::Regex::new(r"127\.0\.0\.1:\d+").unwrap();
    let took = regex::Regex::new(r"\| \d+(\.\d)?m?s \|").unwrap();
    let retry = regex::Regex::new(r"retrying in \d+(\.\d)?m?s").unwrap();
    let text = port.replace_all(&text, "127.0.0.1:[port]");
    let text = took.replace_all(&text, "| [took] |");
    retry.replace_all(&text, "retrying in [delay]").into_owned()
}

fn correlation_ids(fake: &Fake) -> Vec<String> {
    fake.with(|s| {
        s.dispatches
            .iter()
            .map(|d| {
                d["client_payload"]["correlation_id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    })
}

fn lines_with(log: &str, words: &[&str]) -> String {
    log.lines()
        .filter(|l| words.iter().any(|w| l.contains(w)))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn a_dispatch_github_accepted_but_answered_502_starts_one_run() {
    let fake = Fake::new(&["success"]);
    fake.with(|s| s.accepted_but.push_back(ResponseTemplate::new(502)));
    let server = serve(&fake).await;
    let token = "ghp_acceptedBut502Token00000000000018";
    let run = dispatch(&server, token, &[], &[]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(fake.count("dispatch"), 1, "{:?}", fake.requests());
    assert_eq!(fake.with(|s| s.runs.len()), 1);
    assert_eq!(run.output("run-id"), "5000");
    assert_eq!(run.output("conclusion"), "success");
    assert_eq!(run.output("attempts"), "1");
    let ids = correlation_ids(&fake);
    insta::assert_snapshot!(
        redact(&lines_with(&run.log, &["ispatch", "GitHub", "Found run"]), &ids[0]),
        @r"
    Dispatching `deploy-production` to org/startupwebapp-frontend (attempt 1 of 3), correlation id [correlation-id]
    ::warning::POST /repos/org/startupwebapp-frontend/dispatches: GitHub answered 502 (no message) after 1 attempt(s); GitHub may have accepted the dispatch all the same, so the action looks for its run for up to 1m00s before dispatching again
    GitHub had accepted the dispatch: run 5000 carries correlation id [correlation-id]
    Found run 5000 (Deploy [correlation-id]): https://github.com/org/startupwebapp-frontend/actions/runs/5000
    "
    );
}

#[tokio::test]
async fn a_dispatch_whose_answer_was_lost_with_the_connection_starts_one_run() {
    let fake = Fake::new(&["success"]);
    let server = serve(&fake).await;
    let proxy = DroppingProxy::start(&server.uri(), 1);
    let token = "ghp_droppedAnswerToken0000000000019";
    let run = dispatch(&server, token, &[("api-url", proxy.url.as_str())], &[]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(proxy.dropped(), 1);
    assert_eq!(fake.count("dispatch"), 1, "{:?}", fake.requests());
    assert_eq!(fake.with(|s| s.runs.len()), 1);
    assert_eq!(run.output("run-id"), "5000");
    assert_eq!(run.output("attempts"), "1");
    let ids = correlation_ids(&fake);
    insta::assert_snapshot!(
        redact(&lines_with(&run.log, &["::warning::", "GitHub had"]), &ids[0]),
        @r"
    ::warning::POST /repos/org/startupwebapp-frontend/dispatches: no answer from GitHub after 1 attempt(s); GitHub may have accepted the dispatch all the same, so the action looks for its run for up to 1m00s before dispatching again
    GitHub had accepted the dispatch: run 5000 carries correlation id [correlation-id]
    "
    );
}

#[tokio::test]
async fn a_dispatch_github_did_not_accept_is_sent_again_after_the_grace_with_the_same_id() {
    let fake = Fake::new(&["success"]);
    // Answered 502 before it was accepted: no run will ever carry its id.
    fake.with(|s| s.faults.push_back(("dispatch", ResponseTemplate::new(502))));
    let server = serve(&fake).await;
    let token = "ghp_lostDispatchToken00000000000020";
    let run = dispatch(&server, token, &[("dispatch-grace", "1s")], &[]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(fake.count("dispatch"), 2, "{:?}", fake.requests());
    let ids = correlation_ids(&fake);
    assert_eq!(ids.len(), 1, "only the second was accepted");
    let sent: Vec<Value> = fake.with(|s| {
        s.requests
            .iter()
            .filter(|(r, _)| r.ends_with("/dispatches"))
            .map(|(_, body)| body["client_payload"]["correlation_id"].clone())
            .collect()
    });
    assert_eq!(sent[0], sent[1], "both sends carry one id");
    assert_eq!(run.output("run-id"), "5000");
    assert_eq!(run.output("attempts"), "1");
    insta::assert_snapshot!(
        redact(&lines_with(&run.log, &["::warning::", "again", "GitHub had"]), &ids[0]),
        @r"
    ::warning::POST /repos/org/startupwebapp-frontend/dispatches: GitHub answered 502 (no message) after 1 attempt(s); GitHub may have accepted the dispatch all the same, so the action looks for its run for up to 1.0s before dispatching again
    No run named with correlation id [correlation-id] within 1.0s: dispatching again (send 2 of 5)
    "
    );
}

#[tokio::test]
async fn run_names_and_urls_from_the_api_are_shown_inert_and_escaped() {
    let fake = Fake::new(&["success"]);
    fake.with(|s| {
        s.title_suffix = " ::add-mask::x\n##[set-output name=r]y|<b>".into();
        s.url_suffix = "\n::warning::u|<i>".into();
    });
    let server = serve(&fake).await;
    let token = "ghp_hostileNamesToken00000000000021";
    // The step's log is checked for commands the action did not mean (swa-testing).
    let run = dispatch(&server, token, &[], &[]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    let ids = correlation_ids(&fake);
    insta::assert_snapshot!(
        redact(&lines_with(&run.log, &["Found run", "succeeded"]), &ids[0]),
        @r"
    Found run 5000 (Deploy [correlation-id] ::add-mask::x\n##[zwsp][set-output name=r]y|<b>): https://github.com/org/startupwebapp-frontend/actions/runs/5000\n::warning::u|<i>
    Run 5000 succeeded: https://github.com/org/startupwebapp-frontend/actions/runs/5000\n::warning::u|<i>
    "
    );
    insta::assert_snapshot!(redact(&run.summary, &ids[0]), @r"
    ### Frontend deploy: org/startupwebapp-frontend success

    | Attempt | How | Run | Result | Time |
    |---|---|---|---|---|
    | 1 | dispatch <code>deploy-production</code> | #5000 <code>https://github.com/org/startupwebapp-frontend/actions/runs/5000<br>::warning::u\|&lt;i&gt;</code> Deploy [correlation-id] ::add-mask::x<br>\#\#\[set-output name=r\]y\|&lt;b&gt; | success | [took] |

    Frontend ref <code>fedcba9876543210fedcba9876543210fedcba98</code>, backend commit `0123456789abcdef0123456789abcdef01234567`, correlation id `[correlation-id]`.
    ");
}

#[tokio::test]
async fn a_re_run_github_took_but_answered_502_is_not_asked_again() {
    let fake = Fake::new(&["failure", "success"]);
    fake.with(|s| s.rerun_accepted_but.push_back(ResponseTemplate::new(502)));
    let server = serve(&fake).await;
    let token = "ghp_rerunAcceptedToken0000000000023";
    let run = dispatch(&server, token, &[], &[]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(fake.count("rerun"), 1, "{:?}", fake.requests());
    assert_eq!(fake.count("dispatch"), 1, "{:?}", fake.requests());
    assert_eq!(run.output("run-id"), "5000");
    assert_eq!(run.output("attempts"), "2");
    insta::assert_snapshot!(
        lines_with(&run.log, &["::warning::POST", "Re-running"]),
        @r"
    ::warning::POST /repos/org/startupwebapp-frontend/actions/runs/5000/rerun-failed-jobs: GitHub answered 502 (no message) after 1 attempt(s); reading run 5000 to see whether GitHub re-ran it all the same
    Re-running the failed jobs of run 5000 (attempt 2 of 3): https://github.com/org/startupwebapp-frontend/actions/runs/5000
    "
    );
}
