use std::process::ExitCode;

fn main() -> ExitCode {
    action_runner::main(std::env::args().collect())
}
