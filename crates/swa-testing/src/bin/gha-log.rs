//! Reads a step's log on stdin and writes it as the Actions page shows it (see
//! `swa_testing::view`): `scripts/demo.sh` pipes each step through it. `--plain` writes no colours.

use std::io::{BufRead, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let colour = !std::env::args().any(|a| a == "--plain");
    let mut view = swa_testing::view::LogView::new(colour);
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let Ok(line) = line else {
            return ExitCode::FAILURE;
        };
        if let Some(shown) = view.line(&line) {
            // Each line at once: the demo is watched as it runs.
            if writeln!(stdout, "{shown}")
                .and_then(|()| stdout.flush())
                .is_err()
            {
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
