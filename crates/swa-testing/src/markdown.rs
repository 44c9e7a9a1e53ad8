//! A job summary as GitHub renders it: the outline of its blocks (CommonMark with GitHub's
//! tables), so that a test can see that headings are headings and tables are tables, and that
//! no block swallowed the one after it.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// One line per top-level block: `heading 3: text`, `paragraph: text` (its first 80
/// characters), `table: 2 columns, 9 rows`, `list: 4 items`, `code block: 13 lines`, `html`,
/// `rule`.
pub fn outline(markdown: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut depth = 0usize;
    let mut text = String::new();
    let mut columns = 0;
    let mut rows = 0;
    let mut items = 0;
    for event in Parser::new_ext(markdown, Options::ENABLE_TABLES) {
        match event {
            Event::Start(tag) => {
                if depth == 0 {
                    text.clear();
                    rows = 0;
                    items = 0;
                    if let Tag::Table(alignments) = &tag {
                        columns = alignments.len();
                    }
                }
                if depth == 1 {
                    match tag {
                        Tag::TableRow => rows += 1,
                        Tag::Item => items += 1,
                        _ => {}
                    }
                }
                depth += 1;
            }
            Event::End(end) => {
                depth = depth.saturating_sub(1);
                if depth > 0 {
                    continue;
                }
                let line = match end {
                    TagEnd::Heading(level) => format!("heading {}: {}", level as u8, text.trim()),
                    TagEnd::Paragraph => {
                        let shown: String = text.trim().chars().take(80).collect();
                        format!("paragraph: {shown}")
                    }
                    TagEnd::Table => format!("table: {columns} columns, {rows} rows"),
                    TagEnd::List(_) => format!("list: {items} items"),
                    TagEnd::CodeBlock => format!("code block: {} lines", text.lines().count()),
                    TagEnd::HtmlBlock => "html".to_string(),
                    TagEnd::BlockQuote(_) => "quote".to_string(),
                    other => format!("{other:?}"),
                };
                out.push(line);
            }
            Event::Text(t) | Event::Code(t) => text.push_str(&t),
            Event::SoftBreak | Event::HardBreak => text.push(' '),
            Event::Rule if depth == 0 => out.push("rule".to_string()),
            _ => {}
        }
    }
    out.join("\n")
}

/// Checks that a summary renders as written: no line meant as a heading (`### …`) or a table
/// row (`| … |`) is read into the paragraph or the HTML block before it, as happens when a
/// block does not end with a blank line. Every step's summary goes through this.
pub fn check(markdown: &str) -> Result<(), String> {
    let mut depth = 0usize;
    let mut start = None;
    for (event, range) in Parser::new_ext(markdown, Options::ENABLE_TABLES).into_offset_iter() {
        match event {
            Event::Start(tag) => {
                if depth == 0 && matches!(tag, Tag::Paragraph | Tag::HtmlBlock) {
                    start = Some(range.start);
                }
                depth += 1;
            }
            Event::End(end) => {
                depth = depth.saturating_sub(1);
                if depth > 0 || !matches!(end, TagEnd::Paragraph | TagEnd::HtmlBlock) {
                    continue;
                }
                let Some(from) = start.take() else { continue };
                let block = &markdown[from..range.end];
                for line in block.lines().skip(1) {
                    let hashes = line.chars().take_while(|c| *c == '#').count();
                    let heading = (1..=6).contains(&hashes) && line[hashes..].starts_with(' ');
                    if heading || line.starts_with('|') {
                        return Err(format!(
                            "`{line}` does not render as written: it is read into the block before it, which has no blank line after it"
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_that_swallows_the_next_one_is_found() {
        assert!(check("</details>\n### wait-healthy\n").is_err());
        assert!(check("some words\n| a | b |\n").is_err());
        assert!(check("</details>\n\n### wait-healthy\n\n| a | b |\n|---|---|\n").is_ok());
        assert!(check("text with \\# an escaped hash\n\\### not a heading\n").is_ok());
    }

    #[test]
    fn a_heading_right_after_an_html_block_is_swallowed_by_it() {
        let glued = "<details><summary>x</summary>\n\n```\nlog\n```\n\n</details>\n### next\n";
        assert_eq!(outline(glued), "html\ncode block: 1 lines\nhtml");
        let apart = "<details><summary>x</summary>\n\n```\nlog\n```\n\n</details>\n\n### next\n";
        assert_eq!(
            outline(apart),
            "html\ncode block: 1 lines\nhtml\nheading 3: next"
        );
    }

    #[test]
    fn tables_lists_and_paragraphs_are_counted() {
        let md = "### ✅ done\n\nsome *text*\n\n| | |\n|---|---|\n| a | b |\n| c | d |\n\n- one\n- two\n";
        assert_eq!(
            outline(md),
            "heading 3: ✅ done\nparagraph: some text\ntable: 2 columns, 2 rows\nlist: 2 items"
        );
    }
}
