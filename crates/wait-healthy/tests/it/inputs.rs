//! Durations beyond the 24h ceiling are bad input (exit 2) before any call, and no text makes
//! the input checks panic.

use proptest::prelude::*;
use swa_gha::{Env, ExitKind, ParseError};
use wait_healthy::Args;

use super::{run, sandbox};

#[test]
fn a_duration_beyond_the_ceiling_exits_2_before_any_call() {
    let sandbox = sandbox("healthy");
    let mut errors = Vec::new();
    for inputs in [
        [
            ("timeout", "99999999999999999999h"),
            ("poll-interval", "2s"),
        ],
        [
            ("timeout", "15m"),
            ("poll-interval", "18446744073709551615"),
        ],
    ] {
        let run = run(&sandbox, &inputs);
        assert_eq!(run.code, 2, "{inputs:?}: {}", run.log);
        errors.extend(run.errors().iter().map(|e| e.to_string()));
    }
    assert!(sandbox.calls().is_empty(), "{:?}", sandbox.calls());
    insta::assert_snapshot!(errors.join("\n"), @r#"
        ::error title=Invalid input `timeout`::input `timeout` has the value `99999999999999999999h`, which is longer than 24h, the longest duration an input takes
        ::error title=Invalid input `poll-interval`::input `poll-interval` has the value `18446744073709551615`, which is longer than 24h, the longest duration an input takes
        "#);
}

fn any_inputs() -> impl Strategy<Value = Vec<(&'static str, String)>> {
    let names = [
        "cluster",
        "service",
        "deployment-id",
        "until",
        "timeout",
        "health-url",
        "health-expect",
        "max-failed-tasks",
        "log-lines",
        "poll-interval",
    ];
    let value = prop_oneof![
        any::<String>(),
        "[0-9.]{0,24}(ms|s|m|h|)",
        "(https?://)?[a-z0-9.:@/-]{0,20}",
        r#"\{("[a-z]{0,4}":[0-9a-z"]{0,4},?){0,3}\}?"#,
    ];
    proptest::collection::vec((proptest::sample::select(names.to_vec()), value), 0..8)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Whatever the inputs, they are read and checked to settings or an input error, never a
    /// panic.
    #[test]
    fn any_inputs_are_checked_or_refused(inputs in any_inputs()) {
        let env = Env::from_pairs(
            inputs.iter().map(|(name, value)| (swa_gha::input_env_name(name), value.clone())),
        );
        match swa_gha::parse_args::<Args>(&env, ["wait-healthy".to_string()]) {
            Ok(args) => {
                if let Err(e) = wait_healthy::settings(&args) {
                    prop_assert_eq!(e.kind(), ExitKind::BadInput);
                }
            }
            Err(ParseError::Input(e)) => prop_assert_eq!(e.kind(), ExitKind::BadInput),
            Err(ParseError::Help(text)) => prop_assert!(false, "help: {}", text),
        }
    }
}
