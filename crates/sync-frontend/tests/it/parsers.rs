//! The input parsers, driven with arbitrary text: they return a value or an input error,
//! never a panic.

use proptest::prelude::*;
use swa_gha::{Env, ExitKind, ParseError};
use sync_frontend::Args;
use sync_frontend::rules::CacheRules;

/// `glob=value` lines with globs and Cache-Control values from the edges of both grammars.
fn rules_text() -> impl Strategy<Value = String> {
    let glob = prop_oneof![
        "[*?a-z./{},\\[\\]!-]{0,12}",
        "[ -~]{0,12}",
        Just("**/".to_string()),
    ];
    let value = prop_oneof![
        "(public|private|no-cache|no-store|immutable|max-age|s-maxage|stale-while-revalidate)(=[0-9a-z-]{0,22})?(, ?(public|max-age=[0-9]{0,25}|immutable)){0,3}",
        "[ -~]{0,20}",
        "\\PC{0,8}",
    ];
    let line = prop_oneof![
        (glob, value).prop_map(|(g, v)| format!("{g}={v}")),
        "#[ -~]{0,10}",
        "[ -~]{0,16}",
    ];
    proptest::collection::vec(line, 0..6).prop_map(|lines| lines.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn any_cache_control_rules_parse_or_are_refused(text in prop_oneof![any::<String>(), rules_text()]) {
        if let Ok(rules) = CacheRules::parse(&text) {
            // The defaults still apply after any accepted rules.
            prop_assert!(!rules.cache_control("index.html").is_empty());
        }
    }

    /// Every input as any text: read to arguments or refused as bad input.
    #[test]
    fn any_inputs_parse_or_are_refused(
        inputs in proptest::collection::vec((
            proptest::sample::select(vec![
                "bucket", "source", "prefix", "cache-control", "delete", "dry-run", "concurrency",
            ]),
            prop_oneof![any::<String>(), "-?[0-9]{1,22}", "(true|false|True|yes)"],
        ), 0..6),
    ) {
        let env = Env::from_pairs(
            inputs.iter().map(|(name, value)| (swa_gha::input_env_name(name), value.clone())),
        );
        match swa_gha::parse_args::<Args>(&env, ["sync-frontend".to_string()]) {
            Ok(args) => prop_assert!((1..=sync_frontend::MAX_CONCURRENCY).contains(&args.concurrency)),
            Err(ParseError::Input(e)) => prop_assert_eq!(e.kind(), ExitKind::BadInput),
            Err(ParseError::Help(text)) => prop_assert!(false, "help: {}", text),
        }
    }
}
