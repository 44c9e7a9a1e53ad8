//! The job summary: the totals and the changes, the list cut at a length a page can show.

use std::fmt::Write as _;

use swa_gha::md;

use crate::Totals;
use crate::inputs::Checked;

/// At most this many changed keys are listed in the step summary.
const SUMMARY_LIST_LIMIT: usize = 50;

pub(crate) fn summary(checked: &Checked, totals: &Totals, log: &[String]) -> String {
    let mut md = format!(
        "### Frontend sync to {}{}\n\n\
         | uploaded | metadata updated | unchanged | deleted | bytes uploaded |\n\
         |---:|---:|---:|---:|---:|\n\
         | {} | {} | {} | {} | {} |\n",
        md::code(&checked.location()),
        if checked.dry_run {
            " (dry run: nothing was changed)"
        } else {
            ""
        },
        totals.uploaded,
        totals.updated,
        totals.skipped,
        totals.deleted,
        human_bytes(totals.bytes)
    );
    if !log.is_empty() {
        md.push_str("\n<details><summary>Changes</summary>\n\n");
        for line in log.iter().take(SUMMARY_LIST_LIMIT) {
            let _ = writeln!(md, "- {line}");
        }
        if log.len() > SUMMARY_LIST_LIMIT {
            let _ = writeln!(md, "- … and {} more", log.len() - SUMMARY_LIST_LIMIT);
        }
        md.push_str("\n</details>\n\n");
    }
    md
}

/// `1 page`, `2 pages`.
pub(crate) fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

pub(crate) fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 * 1024 * 1024), "5.0 MiB");
    }
}
