//! The GitHub Actions contract, written once for every swa action.
//!
//! An action gets a [`Gha`]: the injected environment plus the writers for the job log, the
//! outputs file and the step summary. `main.rs` builds it from the process; tests build it from a
//! map and a buffer and run the action in-process.

mod duration;
mod error;
mod gha;
mod inputs;
mod main_fn;
pub mod md;
mod text;

pub use duration::{MAX_DURATION, format_duration, parse_duration};
pub use error::{ActionError, ExitKind, cause_chain};
pub use gha::{Capture, Env, Gha};
pub use inputs::{ParseError, input_env_name, parse_args, parse_bool};
pub use main_fn::{cancelled, run_main, run_main_with_args, run_main_with_gha};
pub use text::{Foreign, neutralise, neutralise_line};
