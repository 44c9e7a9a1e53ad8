//! Foreign text in the step summary's Markdown (GitHub Flavored Markdown, as GitHub renders it).
//!
//! A stop reason, a file name or an HTTP body must read as itself: it cannot end a table row,
//! open an HTML tag, start a heading or close the code block it sits in. [`text`] escapes for
//! running text and table cells, [`code`] shows a value as inline code (in a table too), and
//! [`fenced`] builds a code block whose fence no line of the content can close.

use std::fmt::Write as _;

/// Foreign text as Markdown text: HTML's `& < >` as entities, Markdown's punctuation
/// backslash-escaped (`|` included, so it stays in its table cell), line breaks as `<br>`.
pub fn text(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 8);
    let raw = raw.trim_end_matches(['\n', '\r']);
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '#' | '!' | '$' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("<br>"),
            '\r' => {}
            '\t' => out.push(' '),
            c if c.is_control() => {
                let _ = write!(out, "\\\\x{:02x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// Foreign text as inline code that is safe anywhere, table cells included.
pub fn code(raw: &str) -> String {
    format!("<code>{}</code>", text(raw))
}

/// A fenced code block around foreign lines: the fence is longer than any run of backticks in
/// them, and control characters other than tab are shown as escapes.
pub fn fenced(info: &str, raw: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in raw.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat((longest + 1).max(3));
    let mut out = format!("{fence}{info}\n");
    for line in raw.lines() {
        for c in line.chars() {
            if c.is_control() && c != '\t' {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            } else {
                out.push(c);
            }
        }
        out.push('\n');
    }
    out.push_str(&fence);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_cannot_break_a_table_or_open_html() {
        assert_eq!(
            text("a | b\n<img src=x onerror=alert(1)> & **bold**"),
            "a \\| b<br>&lt;img src=x onerror=alert(1)&gt; &amp; \\*\\*bold\\*\\*"
        );
        assert_eq!(text("# not a heading\n"), "\\# not a heading");
    }

    #[test]
    fn code_is_safe_in_a_table_cell() {
        assert_eq!(code("x|y<br>"), "<code>x\\|y&lt;br&gt;</code>");
    }

    #[test]
    fn a_fence_is_longer_than_any_run_of_backticks_inside() {
        assert_eq!(fenced("", "plain\n"), "```\nplain\n```\n");
        assert_eq!(
            fenced("diff", "a ```` b\nc\x1bd"),
            "`````diff\na ```` b\nc\\x1bd\n`````\n"
        );
    }
}
