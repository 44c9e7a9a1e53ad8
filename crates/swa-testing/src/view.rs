//! A step's log as the Actions page shows it: masked values as `***` and the mask commands
//! hidden, groups as folded headings (`▸ title`), `::error`/`::warning`/`::notice` as
//! `Error:`/`Warning:`/`Notice:` lines with their escapes decoded, `::stop-commands::` honoured
//! (the lines it pauses are shown as text), and the other commands hidden.

/// Renders one line at a time, keeping what the runner keeps between lines (masks, a pause, the
/// open group).
#[derive(Debug, Default)]
pub struct LogView {
    masks: Vec<String>,
    paused: Option<String>,
    in_group: bool,
    colour: bool,
}

/// How a rendered line is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Plain,
    Group,
    Error,
    Warning,
    Notice,
}

impl LogView {
    /// A view that writes ANSI colours (for a terminal) or plain text.
    pub fn new(colour: bool) -> Self {
        Self {
            colour,
            ..Self::default()
        }
    }

    /// The line as shown, or `None` for a line the page does not show.
    pub fn line(&mut self, raw: &str) -> Option<String> {
        let line = raw.trim_end_matches(['\r', '\n']);
        if let Some(token) = &self.paused {
            if line.trim_start() == format!("::{token}::") {
                self.paused = None;
                return None;
            }
            return Some(self.show(Kind::Plain, line));
        }
        let Some(command) = line.trim_start().strip_prefix("::") else {
            return Some(self.show(Kind::Plain, line));
        };
        let Some((head, message)) = command.split_once("::") else {
            return Some(self.show(Kind::Plain, line));
        };
        let name = head.split(' ').next().unwrap_or_default();
        let message = unescape(message);
        match name {
            "add-mask" => {
                if !message.is_empty() {
                    self.masks.push(message);
                    // Longer values first, so that a value containing another is masked whole.
                    self.masks.sort_by_key(|m| std::cmp::Reverse(m.len()));
                }
                None
            }
            "stop-commands" => {
                self.paused = Some(message);
                None
            }
            "group" => {
                self.in_group = true;
                Some(self.show(Kind::Group, &message))
            }
            "endgroup" => {
                self.in_group = false;
                None
            }
            "error" => Some(self.annotation(Kind::Error, head, &message)),
            "warning" => Some(self.annotation(Kind::Warning, head, &message)),
            "notice" => Some(self.annotation(Kind::Notice, head, &message)),
            _ => None,
        }
    }

    /// `Error: title: message`, each line of a multi-line message on its own line.
    fn annotation(&self, kind: Kind, head: &str, message: &str) -> String {
        let title = head
            .split_once(' ')
            .map(|(_, params)| params)
            .into_iter()
            .flat_map(|params| params.split(','))
            .find_map(|param| param.strip_prefix("title="))
            .map(unescape);
        let label = match kind {
            Kind::Error => "Error",
            Kind::Warning => "Warning",
            _ => "Notice",
        };
        let text = match title {
            Some(title) => format!("{label}: {title}: {message}"),
            None => format!("{label}: {message}"),
        };
        self.show(kind, &text)
    }

    fn show(&self, kind: Kind, text: &str) -> String {
        let mut text = text.to_string();
        for mask in &self.masks {
            text = text.replace(mask.as_str(), "***");
        }
        let indent = if self.in_group && kind != Kind::Group {
            "  "
        } else {
            ""
        };
        let text = match kind {
            Kind::Group => format!("▸ {text}"),
            _ => text,
        };
        let text: String = text
            .lines()
            .map(|l| format!("{indent}{l}"))
            .collect::<Vec<_>>()
            .join("\n");
        if !self.colour {
            return text;
        }
        let code = match kind {
            Kind::Plain => return text,
            Kind::Group => "1",
            Kind::Error => "31",
            Kind::Warning => "33",
            Kind::Notice => "36",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }
}

/// A command's value as the runner decodes it: `%25` `%0D` `%0A` `%3A` `%2C`.
fn unescape(text: &str) -> String {
    text.replace("%0A", "\n")
        .replace("%0D", "\r")
        .replace("%3A", ":")
        .replace("%2C", ",")
        .replace("%25", "%")
}

/// The whole log as the page shows it, without colours.
pub fn render(log: &str) -> String {
    let mut view = LogView::new(false);
    log.lines()
        .filter_map(|l| view.line(l))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_reads_as_the_actions_page_shows_it() {
        let log = "\
::add-mask::ghp_demo0123456789abcdef
Dispatching with token ghp_demo0123456789abcdef
::group::Syncing 2 assets
upload a.js
::endgroup::
::stop-commands::swa-0123456789abcdef0123456789abcdef
::error::not a command while paused
::add-mask::neither is this
::swa-0123456789abcdef0123456789abcdef::
::warning::Run 5000 ended `failure`
::error title=Invalid input `checks`::input `checks` is not a regex:%0A    (unclosed%0A100%25 sure
::notice::check skipped
::debug::hidden
::set-output name=x::hidden
plain ::error:: in the middle is text
";
        insta::assert_snapshot!(render(log), @r"
        Dispatching with token ***
        ▸ Syncing 2 assets
          upload a.js
        ::error::not a command while paused
        ::add-mask::neither is this
        Warning: Run 5000 ended `failure`
        Error: Invalid input `checks`: input `checks` is not a regex:
            (unclosed
        100% sure
        Notice: check skipped
        plain ::error:: in the middle is text
        ");
    }

    #[test]
    fn a_value_masked_later_is_hidden_from_then_on_and_the_longest_mask_wins() {
        let mut view = LogView::new(false);
        assert_eq!(
            view.line("token abcd1234").as_deref(),
            Some("token abcd1234")
        );
        assert_eq!(view.line("::add-mask::abcd"), None);
        assert_eq!(view.line("::add-mask::abcd1234"), None);
        assert_eq!(view.line("token abcd1234").as_deref(), Some("token ***"));
        assert_eq!(view.line("token abcd").as_deref(), Some("token ***"));
    }

    #[test]
    fn colours_mark_groups_and_annotations() {
        let mut view = LogView::new(true);
        assert_eq!(
            view.line("::error::boom").as_deref(),
            Some("\x1b[31mError: boom\x1b[0m")
        );
        assert_eq!(
            view.line("::group::Step").as_deref(),
            Some("\x1b[1m▸ Step\x1b[0m")
        );
        assert_eq!(view.line("plain").as_deref(), Some("  plain"));
    }
}
