//! Following a container's CloudWatch Logs stream as it is written: GetLogEvents from the head,
//! then from each response's forward token, so every line is read exactly once and in order.

use std::collections::VecDeque;

use aws_sdk_cloudwatchlogs as logs;
use aws_smithy_runtime_api::client::result::SdkError;
use logs::operation::get_log_events::GetLogEventsError;
use swa_gha::Gha;

/// Pages read in one poll before handing back to the wait loop (a page is up to 10,000 events).
const MAX_PAGES_PER_POLL: usize = 20;

/// The reader of one log stream.
pub struct Follower {
    client: logs::Client,
    group: String,
    stream: String,
    token: Option<String>,
    tail: VecDeque<String>,
    tail_len: usize,
    kept: Option<Vec<String>>,
    /// Lines read so far.
    pub lines: u64,
    /// GetLogEvents calls made.
    pub calls: u64,
    /// The stream has been seen (the container started logging).
    pub exists: bool,
}

pub type LogError = SdkError<GetLogEventsError, aws_smithy_runtime_api::http::Response>;

impl Follower {
    /// Follows `stream` in `group`; the last `tail_len` lines are kept for the summary, and every
    /// line when `keep_all` (the plan is parsed from them).
    pub fn new(
        client: logs::Client,
        group: &str,
        stream: &str,
        tail_len: usize,
        keep_all: bool,
    ) -> Follower {
        Follower {
            client,
            group: group.to_string(),
            stream: stream.to_string(),
            token: None,
            tail: VecDeque::with_capacity(tail_len),
            tail_len,
            kept: keep_all.then(Vec::new),
            lines: 0,
            calls: 0,
            exists: false,
        }
    }

    /// Reads everything written since the last poll. A stream that does not exist yet gives no
    /// lines. On an error after some pages were read, the lines read are returned and the error
    /// shows on the next poll (the token only moves past lines that were returned).
    pub async fn poll(&mut self) -> Result<Vec<String>, LogError> {
        let mut out = Vec::new();
        for _ in 0..MAX_PAGES_PER_POLL {
            self.calls += 1;
            let result = self
                .client
                .get_log_events()
                .log_group_name(&self.group)
                .log_stream_name(&self.stream)
                .start_from_head(true)
                .set_next_token(self.token.clone())
                .send()
                .await;
            let page = match result {
                Ok(page) => page,
                Err(e)
                    if e.as_service_error()
                        .is_some_and(GetLogEventsError::is_resource_not_found_exception) =>
                {
                    break;
                }
                Err(e) if out.is_empty() => return Err(e),
                Err(_) => break,
            };
            self.exists = true;
            let next = page.next_forward_token().map(String::from);
            let moved = next.is_some() && next != self.token;
            for event in page.events() {
                let message = event.message().unwrap_or_default();
                let message = message.strip_suffix('\n').unwrap_or(message);
                let message = message.strip_suffix('\r').unwrap_or(message);
                for line in message.split('\n') {
                    out.push(line.trim_end_matches('\r').to_string());
                }
            }
            let empty = page.events().is_empty();
            if next.is_some() {
                self.token = next;
            }
            if empty || !moved {
                break;
            }
        }
        for line in &out {
            self.remember(line);
        }
        self.lines += out.len() as u64;
        Ok(out)
    }

    fn remember(&mut self, line: &str) {
        if self.tail_len > 0 {
            if self.tail.len() == self.tail_len {
                self.tail.pop_front();
            }
            self.tail.push_back(line.to_string());
        }
        if let Some(kept) = &mut self.kept {
            kept.push(line.to_string());
        }
    }

    /// The last lines read.
    pub fn tail(&self) -> Vec<String> {
        self.tail.iter().cloned().collect()
    }

    /// Every line read, when the follower keeps them.
    pub fn kept(&self) -> &[String] {
        self.kept.as_deref().unwrap_or_default()
    }
}

/// Writes the container's lines into the job log with workflow commands turned off, so a line
/// such as `::add-mask::` or `::set-output` printed by the migration is shown, not obeyed.
/// The action's own commands (warnings, the end of the group) resume them first.
pub struct Printer {
    gha: Gha,
    paused: Option<String>,
}

impl Printer {
    pub fn new(gha: &Gha) -> Printer {
        Printer {
            gha: gha.clone(),
            paused: None,
        }
    }

    /// One line from the container.
    pub fn line(&mut self, text: &str) {
        if self.paused.is_none() {
            self.paused = Some(self.gha.pause_commands());
        }
        self.gha.info(text);
    }

    /// Turns workflow commands back on.
    pub fn resume(&mut self) {
        if let Some(token) = self.paused.take() {
            self.gha.resume_commands(&token);
        }
    }

    /// A line of the action's own (state changes), which is not a workflow command.
    pub fn status(&mut self, text: &str) {
        self.gha.info(text);
    }
}

impl Drop for Printer {
    fn drop(&mut self) {
        self.resume();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use aws_smithy_mocks::{Rule, mock};
    use logs::operation::get_log_events::GetLogEventsOutput;
    use logs::types::OutputLogEvent;
    use swa_gha::Env;

    pub(crate) fn mock_logs(rules: &[&Rule]) -> logs::Client {
        swa_testing::mock_client!(logs, rules, sequential)
    }

    fn page(token: &str, messages: &[&str]) -> GetLogEventsOutput {
        let mut out = GetLogEventsOutput::builder()
            .next_forward_token(token)
            .next_backward_token("b/0");
        for (i, m) in messages.iter().enumerate() {
            out = out.events(
                OutputLogEvent::builder()
                    .timestamp(i as i64)
                    .message(*m)
                    .build(),
            );
        }
        out.build()
    }

    fn not_found() -> GetLogEventsError {
        GetLogEventsError::ResourceNotFoundException(
            logs::types::error::ResourceNotFoundException::builder()
                .message("The specified log stream does not exist.")
                .build(),
        )
    }

    #[tokio::test]
    async fn pages_are_followed_with_the_forward_token_without_gaps_or_repeats() {
        let missing = mock!(logs::Client::get_log_events)
            .match_requests(|r| r.next_token().is_none())
            .then_error(not_found);
        let first = mock!(logs::Client::get_log_events)
            .match_requests(|r| {
                r.next_token().is_none()
                    && r.start_from_head() == Some(true)
                    && r.log_group_name() == Some("/ecs/startupwebapp-migrations")
                    && r.log_stream_name() == Some("ecs/migration/abc")
            })
            .then_output(|| {
                page(
                    "f/1",
                    &[
                        "Operations to perform:\n",
                        "  Apply all migrations: catalog",
                    ],
                )
            });
        let second = mock!(logs::Client::get_log_events)
            .match_requests(|r| r.next_token() == Some("f/1"))
            .then_output(|| {
                page(
                    "f/2",
                    &[
                        "Running migrations:\r\n",
                        "  Applying catalog.0003... OK\n  Applying catalog.0004... OK",
                    ],
                )
            });
        let end = mock!(logs::Client::get_log_events)
            .match_requests(|r| r.next_token() == Some("f/2"))
            .then_output(|| page("f/2", &[]));
        let again = mock!(logs::Client::get_log_events)
            .match_requests(|r| r.next_token() == Some("f/2"))
            .then_output(|| page("f/3", &["  Applying catalog.0005... OK"]));
        let last = mock!(logs::Client::get_log_events)
            .match_requests(|r| r.next_token() == Some("f/3"))
            .then_output(|| page("f/3", &[]));
        let client = mock_logs(&[&missing, &first, &second, &end, &again, &last]);
        let mut f = Follower::new(
            client,
            "/ecs/startupwebapp-migrations",
            "ecs/migration/abc",
            2,
            true,
        );

        assert!(f.poll().await.expect("poll").is_empty());
        assert!(!f.exists);
        let lines = f.poll().await.expect("poll");
        assert_eq!(
            lines,
            [
                "Operations to perform:",
                "  Apply all migrations: catalog",
                "Running migrations:",
                "  Applying catalog.0003... OK",
                "  Applying catalog.0004... OK"
            ]
        );
        assert!(f.exists);
        let lines = f.poll().await.expect("poll");
        assert_eq!(lines, ["  Applying catalog.0005... OK"]);
        assert_eq!(f.lines, 6);
        assert_eq!(f.calls, 6);
        assert_eq!(f.kept().len(), 6);
        assert_eq!(
            f.tail(),
            [
                "  Applying catalog.0004... OK",
                "  Applying catalog.0005... OK"
            ]
        );
        for rule in [&missing, &first, &second, &end, &again, &last] {
            assert_eq!(rule.num_calls(), 1);
        }
    }

    #[tokio::test]
    async fn an_error_after_some_pages_keeps_the_lines_and_the_position() {
        let first = mock!(logs::Client::get_log_events).then_output(|| page("f/1", &["one"]));
        let fails = mock!(logs::Client::get_log_events)
            .match_requests(|r| r.next_token() == Some("f/1"))
            .then_error(|| {
                GetLogEventsError::ServiceUnavailableException(
                    logs::types::error::ServiceUnavailableException::builder().build(),
                )
            });
        let fails_again = mock!(logs::Client::get_log_events)
            .match_requests(|r| r.next_token() == Some("f/1"))
            .then_error(|| {
                GetLogEventsError::ServiceUnavailableException(
                    logs::types::error::ServiceUnavailableException::builder().build(),
                )
            });
        let resumes = mock!(logs::Client::get_log_events)
            .match_requests(|r| r.next_token() == Some("f/1"))
            .then_output(|| page("f/2", &["two"]));
        let end = mock!(logs::Client::get_log_events)
            .match_requests(|r| r.next_token() == Some("f/2"))
            .then_output(|| page("f/2", &[]));
        let client = mock_logs(&[&first, &fails, &fails_again, &resumes, &end]);
        let mut f = Follower::new(client, "g", "s", 10, false);
        assert_eq!(f.poll().await.expect("first poll"), ["one"]);
        assert!(f.poll().await.is_err());
        assert_eq!(f.poll().await.expect("third poll"), ["two"]);
        assert_eq!(f.tail(), ["one", "two"]);
    }

    #[test]
    fn container_lines_cannot_issue_workflow_commands() {
        let (gha, log) = swa_gha::Gha::capture(Env::default());
        let mut p = Printer::new(&gha);
        p.line("::add-mask::not-a-secret");
        p.line("::set-output name=x::y");
        p.resume();
        gha.warning("after");
        drop(p);
        let text = log.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        let token = lines[0]
            .strip_prefix("::stop-commands::")
            .expect("stop first");
        assert!(token.len() > 20);
        assert_eq!(lines[1], ":\u{200B}:add-mask::not-a-secret");
        assert_eq!(lines[3], format!("::{token}::"));
        assert_eq!(lines[4], "::warning::after");
    }
}
