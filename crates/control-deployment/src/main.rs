use std::process::ExitCode;

fn main() -> ExitCode {
    swa_gha::run_main(control_deployment::run)
}
