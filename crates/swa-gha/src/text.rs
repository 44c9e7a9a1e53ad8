//! Text we did not write (logs, service events, stop reasons, HTTP bodies, file names, API
//! fields) on its way to the job log and the step summary.
//!
//! The runner treats a line as a workflow command when it starts with `::` after leading
//! whitespace, and finds the legacy `##[name]` form anywhere in a line. [`neutralise_line`] makes
//! both inert by putting a zero-width space between the two characters that start them: the line
//! reads the same to a person and is never obeyed. Every line [`crate::Gha`] writes as plain text
//! goes through it, so foreign text formatted into a log line cannot become a command.
//! [`Foreign`] folds foreign text onto one line first, so it cannot start a line of its own that
//! passes for one of ours either.

use std::borrow::Cow;
use std::fmt;

/// U+200B ZERO WIDTH SPACE: not whitespace to the runner, invisible to a reader.
const BREAK: char = '\u{200B}';

/// Makes one line of text unable to act as a workflow command: a leading `::` (after whitespace)
/// and every `##[` are broken with a zero-width space. Control characters other than tab are
/// folded to visible escapes (`\r`, `\x1b`, ...).
pub fn neutralise_line(line: &str) -> Cow<'_, str> {
    let starts_command = line.trim_start().starts_with("::");
    let needs_work =
        starts_command || line.contains("##[") || line.chars().any(|c| c.is_control() && c != '\t');
    if !needs_work {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len() + 8);
    let indent = line.len() - line.trim_start().len();
    out.push_str(&line[..indent]);
    let mut rest = &line[indent..];
    if starts_command {
        out.push(':');
        out.push(BREAK);
        rest = &rest[1..];
    }
    let mut chars = rest.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '#' && rest[i..].starts_with("##[") {
            out.push_str("##");
            out.push(BREAK);
            chars.next();
            continue;
        }
        push_folded(&mut out, c);
    }
    Cow::Owned(out)
}

/// Every line of a block of text through [`neutralise_line`]; line breaks are kept.
pub fn neutralise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&neutralise_line(line.strip_suffix('\r').unwrap_or(line)));
    }
    out
}

fn push_folded(out: &mut String, c: char) {
    match c {
        '\t' => out.push('\t'),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        c if c.is_control() => {
            let code = u32::from(c);
            if code <= 0xff {
                out.push_str(&format!("\\x{code:02x}"));
            } else {
                out.push_str(&format!("\\u{{{code:x}}}"));
            }
        }
        c => out.push(c),
    }
}

/// Foreign text for a single line: newlines and other control characters are shown as escapes
/// (`\n`, `\x1b`), and a leading `::` or any `##[` is made inert.
///
/// ```
/// let event = "deployed\n::add-mask::x";
/// assert_eq!(
///     format!("event: {}", swa_gha::Foreign(event)),
///     "event: deployed\\n::add-mask::x"
/// );
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Foreign<'a>(pub &'a str);

impl fmt::Display for Foreign<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut folded = String::with_capacity(self.0.len());
        for c in self.0.chars() {
            push_folded(&mut folded, c);
        }
        f.write_str(&neutralise_line(&folded))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_at_the_start_of_a_line_are_broken() {
        assert_eq!(neutralise_line("::add-mask::x"), ":\u{200B}:add-mask::x");
        assert_eq!(
            neutralise_line("  \t::stop-commands::t"),
            "  \t:\u{200B}:stop-commands::t"
        );
        assert_eq!(neutralise_line("a ::b"), "a ::b");
    }

    #[test]
    fn legacy_commands_are_broken_anywhere() {
        assert_eq!(
            neutralise_line("x ##[set-output name=result]healthy ##[error]y"),
            "x ##\u{200B}[set-output name=result]healthy ##\u{200B}[error]y"
        );
        assert_eq!(neutralise_line("## heading [x]"), "## heading [x]");
    }

    #[test]
    fn control_characters_are_folded() {
        assert_eq!(
            neutralise_line("a\rb\x1b[31mred\u{7f}\u{85}"),
            "a\\rb\\x1b[31mred\\x7f\\x85"
        );
        assert_eq!(neutralise_line("tab\tkept"), "tab\tkept");
    }

    #[test]
    fn blocks_keep_their_lines() {
        assert_eq!(
            neutralise("one\r\n::two\n##[three]"),
            "one\n:\u{200B}:two\n##\u{200B}[three]"
        );
    }

    #[test]
    fn foreign_text_stays_on_one_line() {
        let text = format!("{}", Foreign("ok\n::error::x\r\n##[warning]y"));
        assert_eq!(text, "ok\\n::error::x\\r\\n##\u{200B}[warning]y");
        assert_eq!(format!("{}", Foreign("::x")), ":\u{200B}:x");
    }

    /// What the runner would obey in `text`, read line by line as it reads the log (a line ends
    /// at `\n`, `\r` or both): a line starting with `::` after whitespace, or `##[` anywhere.
    fn obeyed(text: &str) -> Option<&str> {
        text.split(['\n', '\r'])
            .find(|l| l.trim_start().starts_with("::") || l.contains("##["))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1000))]

        #[test]
        fn no_text_survives_as_a_command(text in "(\\PC|[:#\\[\r\n\t \u{1b}\u{85}\u{2028}]){0,80}") {
            let shown = neutralise(&text);
            proptest::prop_assert_eq!(obeyed(&shown), None, "{:?} -> {:?}", text, shown);
        }

        #[test]
        fn foreign_text_is_one_inert_line(text in "(\\PC|[:#\\[\r\n\t \u{1b}\u{85}\u{2028}]){0,80}") {
            let shown = Foreign(&text).to_string();
            proptest::prop_assert!(!shown.contains(['\n', '\r']), "{:?} -> {:?}", text, shown);
            proptest::prop_assert!(
                !shown.chars().any(|c| c.is_control() && c != '\t'),
                "{:?} -> {:?}", text, shown
            );
            proptest::prop_assert_eq!(obeyed(&shown), None, "{:?} -> {:?}", text, shown);
        }
    }
}
