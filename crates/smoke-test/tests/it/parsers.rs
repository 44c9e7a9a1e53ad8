//! The input parsers, driven with arbitrary text: they return the checks or an input error
//! (exit 2), never a panic.

use proptest::prelude::*;
use smoke_test::{Args, checks};
use swa_gha::{Env, ExitKind, ParseError};

/// A YAML list of checks built from the real keys with arbitrary values, where strictness and
/// conversion errors live.
fn checks_yaml() -> impl Strategy<Value = String> {
    let key = proptest::sample::select(vec![
        "name",
        "path",
        "url",
        "method",
        "headers",
        "body",
        "expect-status",
        "expect-json",
        "expect-body",
        "max-latency-ms",
        "unknown",
    ]);
    let value = prop_oneof![
        "[ -~]{0,20}",
        "/[a-z/]{0,10}",
        "https?://[a-z0-9.:@/]{0,20}",
        "-?[0-9]{1,22}",
        r"\[[0-9, ]{0,12}\]",
        r"\{[A-Za-z-]{0,10}: [ -~]{0,12}\}",
        r"[\[(*+?\\]{1,6}",
    ];
    let check = proptest::collection::vec((key, value), 0..6).prop_map(|pairs| {
        let fields: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        format!("- {}", fields.join("\n  "))
    });
    proptest::collection::vec(check, 0..4).prop_map(|checks| checks.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn any_checks_parse_or_are_refused(
        text in prop_oneof![any::<String>(), checks_yaml()],
        base in prop_oneof![Just(None), Just(Some("https://example.test/app"))],
    ) {
        match checks::parse_checks(&text, base, &swa_gha::Env::default()) {
            Ok(parsed) => prop_assert!(!parsed.checks.is_empty()),
            Err(e) => prop_assert_eq!(e.kind(), ExitKind::BadInput),
        }
    }

    /// Every input as any text: read to arguments or refused as bad input.
    #[test]
    fn any_inputs_parse_or_are_refused(
        inputs in proptest::collection::vec((
            proptest::sample::select(vec![
                "base-url", "retries", "retry-delay", "request-timeout", "concurrency",
            ]),
            prop_oneof![any::<String>(), "[0-9.]{0,24}(ms|s|m|h|)", "-?[0-9]{1,22}"],
        ), 0..6),
    ) {
        let env = Env::from_pairs(
            inputs.iter().map(|(name, value)| (swa_gha::input_env_name(name), value.clone())),
        );
        match swa_gha::parse_args::<Args>(&env, ["smoke-test".to_string()]) {
            Ok(args) => {
                prop_assert!(args.retry_delay <= swa_gha::MAX_DURATION);
                prop_assert!(args.request_timeout <= swa_gha::MAX_DURATION);
            }
            Err(ParseError::Input(e)) => prop_assert_eq!(e.kind(), ExitKind::BadInput),
            Err(ParseError::Help(text)) => prop_assert!(false, "help: {}", text),
        }
    }
}
