use std::process::ExitCode;

fn main() -> ExitCode {
    swa_sandbox::cli_main()
}
