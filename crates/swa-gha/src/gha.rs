use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::text::neutralise;

/// The environment an action sees, injected rather than read from `std::env` here and there.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    pub fn from_process() -> Self {
        Env {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(String::as_str)
    }

    /// A variable that is set and not blank.
    pub fn non_empty(&self, key: &str) -> Option<&str> {
        self.get(key).map(str::trim).filter(|v| !v.is_empty())
    }

    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.vars.insert(key.into(), value.into());
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// What a test reads back after running an action in-process.
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&lock(&self.0)).into_owned()
    }
}

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        lock(&self.0).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

struct Inner {
    env: Env,
    log: Mutex<Box<dyn Write + Send>>,
    masks: Mutex<Vec<String>>,
}

/// The action's handle on the runner: environment, job log, outputs, summary. Cheap to clone and
/// safe to share between tasks; every line it writes has the registered secrets masked.
#[derive(Clone)]
pub struct Gha {
    inner: Arc<Inner>,
}

impl Gha {
    pub fn new(env: Env, log: Box<dyn Write + Send>) -> Self {
        Gha {
            inner: Arc::new(Inner {
                env,
                log: Mutex::new(log),
                masks: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The process environment, logging to stdout (where the runner reads workflow commands).
    pub fn from_process() -> Self {
        Gha::new(Env::from_process(), Box::new(io::stdout()))
    }

    /// An in-process action for tests: the log goes to the returned [`Capture`].
    pub fn capture(env: Env) -> (Self, Capture) {
        let capture = Capture::default();
        (Gha::new(env, Box::new(capture.clone())), capture)
    }

    pub fn env(&self) -> &Env {
        &self.inner.env
    }

    /// Registers a secret: the runner hides it from the log, and so does every line written
    /// here (runs outside GitHub, such as tests and the sandbox demo, included).
    pub fn add_mask(&self, secret: &str) {
        let secret = secret.trim();
        if secret.is_empty() {
            return;
        }
        let escaped = escape_data(secret);
        lock(&self.inner.masks).push(secret.to_string());
        // The command itself must reach the runner unmasked, or it would mask nothing.
        self.write_raw(&format!("::add-mask::{escaped}\n"));
    }

    /// Replaces every registered secret in `text` with `***`.
    pub fn mask(&self, text: &str) -> String {
        let masks = lock(&self.inner.masks);
        let mut out = text.to_string();
        for secret in masks.iter() {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "***");
            }
        }
        out
    }

    fn write_raw(&self, text: &str) {
        let mut log = lock(&self.inner.log);
        // The job log is best effort: an action must not fail because stdout closed.
        let _ = log.write_all(text.as_bytes());
        let _ = log.flush();
    }

    /// One or more lines into the job log. This is the one way plain text reaches the log, so
    /// every line is masked and made unable to act as a workflow command ([`neutralise`]):
    /// foreign text formatted into a message is shown, never obeyed. Format foreign values with
    /// [`crate::Foreign`] so they stay on their line.
    pub fn info(&self, message: impl AsRef<str>) {
        let mut text = neutralise(&self.mask(message.as_ref()));
        text.push('\n');
        self.write_raw(&text);
    }

    /// A block of foreign lines (a log tail, an HTTP body) inside a `::stop-commands::` pause,
    /// so the runner obeys nothing in it even where a line escaped [`neutralise`]; each line is
    /// also masked and neutralised.
    pub fn foreign_block(&self, text: &str) {
        let token = self.pause_commands();
        self.info(text.trim_end_matches(['\n', '\r']));
        self.resume_commands(&token);
    }

    /// Stops the runner from processing workflow commands until [`Gha::resume_commands`] with the
    /// returned token, for a stream of foreign lines printed over time.
    pub fn pause_commands(&self) -> String {
        let token = format!("swa-{}", uuid::Uuid::new_v4().simple());
        self.write_raw(&format!("::stop-commands::{token}\n"));
        token
    }

    pub fn resume_commands(&self, token: &str) {
        self.write_raw(&format!("::{token}::\n"));
    }

    pub fn debug(&self, message: impl AsRef<str>) {
        self.command("debug", &[], message.as_ref());
    }

    pub fn notice(&self, message: impl AsRef<str>) {
        self.command("notice", &[], message.as_ref());
    }

    pub fn warning(&self, message: impl AsRef<str>) {
        self.command("warning", &[], message.as_ref());
    }

    pub fn error(&self, title: Option<&str>, message: impl AsRef<str>) {
        let props: Vec<(&str, &str)> = title.map(|t| ("title", t)).into_iter().collect();
        self.command("error", &props, message.as_ref());
    }

    fn command(&self, name: &str, props: &[(&str, &str)], message: &str) {
        let mut line = format!("::{name}");
        for (i, (key, value)) in props.iter().enumerate() {
            line.push(if i == 0 { ' ' } else { ',' });
            line.push_str(key);
            line.push('=');
            line.push_str(&escape_property(&break_legacy(&self.mask(value))));
        }
        line.push_str("::");
        line.push_str(&escape_data(&break_legacy(&self.mask(message))));
        line.push('\n');
        self.write_raw(&line);
    }

    pub fn group_start(&self, title: &str) {
        self.write_raw(&format!(
            "::group::{}\n",
            escape_data(&break_legacy(&self.mask(title)))
        ));
    }

    pub fn group_end(&self) {
        self.write_raw("::endgroup::\n");
    }

    /// Sets output `name`. Written to `$GITHUB_OUTPUT` with a heredoc delimiter that does not occur
    /// in the value; outside a runner (no `GITHUB_OUTPUT`) it is shown in the log instead.
    pub fn set_output(&self, name: &str, value: &str) -> io::Result<()> {
        let Some(path) = self.inner.env.non_empty("GITHUB_OUTPUT") else {
            self.info(format!("output {name}={value}"));
            return Ok(());
        };
        let mut delimiter = format!("ghadelimiter_{}", uuid::Uuid::new_v4());
        while value.contains(&delimiter) || name.contains(&delimiter) {
            delimiter = format!("ghadelimiter_{}", uuid::Uuid::new_v4());
        }
        let record = format!("{name}<<{delimiter}\n{value}\n{delimiter}\n");
        append(PathBuf::from(path), &record)
    }

    /// Appends markdown to the step summary (`$GITHUB_STEP_SUMMARY`); without one it goes to
    /// `SWA_SUMMARY_FILE` if that is set, and is skipped otherwise.
    pub fn summary(&self, markdown: &str) -> io::Result<()> {
        let path = self
            .inner
            .env
            .non_empty("GITHUB_STEP_SUMMARY")
            .or_else(|| self.inner.env.non_empty("SWA_SUMMARY_FILE"));
        let Some(path) = path else {
            return Ok(());
        };
        // Every block ends with a blank line, so that the next one (this step's or the next
        // step's) starts a block of its own: a heading right after an HTML block such as
        // `</details>`, or a paragraph right after a table, would otherwise be read into it.
        let mut text = self.mask(markdown);
        text.truncate(text.trim_end_matches('\n').len());
        text.push_str("\n\n");
        append(PathBuf::from(path), &text)
    }
}

fn append(path: PathBuf, text: &str) -> io::Result<()> {
    let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
    file.write_all(text.as_bytes())
}

/// A command's message or property with foreign text in it: `##[` is made inert (the message
/// cannot start a line, since [`escape_data`] turns line breaks into `%0A`).
fn break_legacy(text: &str) -> String {
    text.replace("##[", "##\u{200B}[")
}

/// Escapes a workflow command's message, as the runner reads it back.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow command's property value.
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gha_with_files() -> (Gha, Capture, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("tempdir");
        let env = Env::from_pairs([
            (
                "GITHUB_OUTPUT",
                dir.path().join("out").to_string_lossy().into_owned(),
            ),
            (
                "GITHUB_STEP_SUMMARY",
                dir.path().join("summary").to_string_lossy().into_owned(),
            ),
        ]);
        let (gha, log) = Gha::capture(env);
        (gha, log, dir)
    }

    #[test]
    fn outputs_use_a_heredoc_that_survives_newlines() {
        let (gha, _log, dir) = gha_with_files();
        gha.set_output("report", "line one\nline two")
            .expect("output");
        gha.set_output("arn", "arn:aws:ecs:x").expect("output");
        let text = std::fs::read_to_string(dir.path().join("out")).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("report<<ghadelimiter_"));
        let delimiter = lines[0].trim_start_matches("report<<");
        assert_eq!(lines[1..4], ["line one", "line two", delimiter]);
        assert!(lines[4].starts_with("arn<<ghadelimiter_"));
        assert_eq!(lines[5], "arn:aws:ecs:x");
    }

    #[test]
    fn secrets_are_masked_everywhere_after_add_mask() {
        let (gha, log, dir) = gha_with_files();
        gha.add_mask("s3cr3t-token");
        gha.info("token is s3cr3t-token");
        gha.error(Some("Bad s3cr3t-token"), "failed with s3cr3t-token");
        gha.summary("| s3cr3t-token |").expect("summary");
        let text = log.text();
        assert_eq!(text.matches("s3cr3t-token").count(), 1, "{text}");
        assert!(text.starts_with("::add-mask::s3cr3t-token\n"));
        assert!(text.contains("token is ***\n"));
        assert!(text.contains("::error title=Bad ***::failed with ***\n"));
        let summary = std::fs::read_to_string(dir.path().join("summary")).expect("read");
        assert_eq!(summary, "| *** |\n\n");
    }

    /// The headings GitHub renders in a summary (CommonMark with tables).
    fn rendered_headings(markdown: &str) -> Vec<String> {
        use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
        let mut headings = Vec::new();
        let mut current: Option<String> = None;
        for event in Parser::new_ext(markdown, Options::ENABLE_TABLES) {
            match event {
                Event::Start(Tag::Heading { .. }) => current = Some(String::new()),
                Event::Text(t) => {
                    if let Some(h) = current.as_mut() {
                        h.push_str(&t);
                    }
                }
                Event::End(TagEnd::Heading(_)) => headings.extend(current.take()),
                _ => {}
            }
        }
        headings
    }

    #[test]
    fn each_summary_block_ends_so_that_the_next_one_renders_as_written() {
        let (gha, _log, dir) = gha_with_files();
        // One step ends with an HTML block, the next starts with a heading; one ends with a
        // table, the next starts with a paragraph.
        gha.summary("### update-service\n\n<details><summary>Changes</summary>\n\n```diff\n-a\n+b\n```\n\n</details>")
            .expect("summary");
        gha.summary("### wait-healthy\n\n| | |\n|---|---|\n| a | b |\n")
            .expect("summary");
        gha.summary("plain words after a table").expect("summary");
        let summary = std::fs::read_to_string(dir.path().join("summary")).expect("read");
        assert_eq!(
            rendered_headings(&summary),
            ["update-service", "wait-healthy"],
            "{summary}"
        );
        assert!(
            summary.ends_with("| a | b |\n\nplain words after a table\n\n"),
            "{summary}"
        );
        // Without the blank line the second heading is read into the HTML block.
        let glued = "<details>\n\n</details>\n### wait-healthy\n";
        assert!(rendered_headings(glued).is_empty());
    }

    #[test]
    fn command_values_are_escaped() {
        let (gha, log) = Gha::capture(Env::default());
        gha.error(Some("a: b, c"), "100% done\nnext line\r");
        gha.group_start("Logs");
        gha.group_end();
        assert_eq!(
            log.text(),
            "::error title=a%3A b%2C c::100%25 done%0Anext line%0D\n::group::Logs\n::endgroup::\n"
        );
    }

    #[test]
    fn plain_text_never_acts_as_a_workflow_command() {
        let (gha, log) = Gha::capture(Env::default());
        gha.info("event: ok\n::add-mask::x\n  ::stop-commands::t");
        gha.info("reason ##[set-output name=result]healthy");
        gha.warning("stopped: ##[error]boom\n::endgroup::");
        assert_eq!(
            log.text(),
            "event: ok\n:\u{200B}:add-mask::x\n  :\u{200B}:stop-commands::t\n\
             reason ##\u{200B}[set-output name=result]healthy\n\
             ::warning::stopped: ##\u{200B}[error]boom%0A::endgroup::\n"
        );
    }

    #[test]
    fn foreign_blocks_pause_commands() {
        let (gha, log) = Gha::capture(Env::default());
        gha.add_mask("s3cr3t");
        gha.foreign_block("line s3cr3t\n::error::x\n");
        let text = log.text();
        let lines: Vec<&str> = text.lines().collect();
        let token = lines[1].strip_prefix("::stop-commands::").expect("paused");
        assert!(token.len() > 30, "{token}");
        assert_eq!(
            lines[2..],
            [
                "line ***",
                ":\u{200B}:error::x",
                format!("::{token}::").as_str()
            ]
        );
    }

    #[test]
    fn without_a_runner_outputs_go_to_the_log() {
        let (gha, log) = Gha::capture(Env::default());
        gha.set_output("result", "healthy").expect("output");
        gha.summary("ignored").expect("summary");
        assert_eq!(log.text(), "output result=healthy\n");
    }
}
