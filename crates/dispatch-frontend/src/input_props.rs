//! The inputs, driven with arbitrary text: they are checked or refused as bad input (exit 2),
//! never a panic.

use proptest::prelude::*;
use swa_gha::{Env, ExitKind, ParseError};

use crate::Args;

fn any_inputs() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = proptest::sample::select(vec![
        "INPUT_REPOSITORY",
        "INPUT_TOKEN",
        "INPUT_EVENT-TYPE",
        "INPUT_CLIENT-PAYLOAD",
        "INPUT_FRONTEND-REF",
        "INPUT_WAIT",
        "INPUT_WORKFLOW",
        "INPUT_TIMEOUT",
        "INPUT_ATTEMPTS",
        "INPUT_API-URL",
        "GITHUB_API_URL",
        "SWA_POLL_INTERVAL",
    ]);
    let value = prop_oneof![
        any::<String>(),
        "[0-9.]{0,24}(ms|s|m|h|)",
        "[a-z-]{0,8}/[a-z.-]{0,8}",
        r#"\{("[a-z_]{0,6}": ?("[a-z]{0,4}"|[0-9]{1,3}|\{\}|\[\]),?){0,4}\}?"#,
        "(https?://)?([a-z]{0,4}:[a-z]{0,4}@)?[a-z0-9.:/]{0,16}",
        "[0-9a-f]{0,40}",
    ];
    proptest::collection::vec((name.prop_map(String::from), value), 0..10)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn any_inputs_are_checked_or_refused(vars in any_inputs()) {
        let env = Env::from_pairs(vars);
        match swa_gha::parse_args::<Args>(&env, ["dispatch-frontend".to_string()]) {
            Ok(args) => match crate::inputs::check(&args, &env) {
                Ok(checked) => {
                    prop_assert!(checked.timeout <= swa_gha::MAX_DURATION);
                    prop_assert!(checked.poll <= swa_gha::MAX_DURATION);
                }
                Err(e) => prop_assert_eq!(e.kind(), ExitKind::BadInput),
            },
            Err(ParseError::Input(e)) => prop_assert_eq!(e.kind(), ExitKind::BadInput),
            Err(ParseError::Help(text)) => prop_assert!(false, "help: {}", text),
        }
    }
}
