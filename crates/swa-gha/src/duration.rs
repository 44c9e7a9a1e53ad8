use std::time::Duration;

/// The longest duration any input takes: 24 hours. A longer one is an input error, so a deadline
/// computed from an input (`Instant::now() + timeout`) cannot overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

const NANOS_PER_SECOND: u128 = 1_000_000_000;

/// Parses `90s`, `10m`, `1h30m`, `500ms`, `1.5s` or a bare number of seconds, up to
/// [`MAX_DURATION`]. The arithmetic is exact and checked (whole nanoseconds in a `u128`), so no
/// text can overflow it; the error says what is wrong, for `has the value `…`, which {error}`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("is empty; expected a duration such as 90s, 10m or 1h".into());
    }
    let too_long = || {
        format!(
            "is longer than {}h, the longest duration an input takes",
            MAX_DURATION.as_secs() / 3600
        )
    };
    let mut total: u128 = 0;
    if text.bytes().all(|b| b.is_ascii_digit()) {
        total = component(text, NANOS_PER_SECOND).ok_or_else(too_long)?;
    } else {
        let mut rest = text;
        while !rest.is_empty() {
            let number_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or("has a number without a unit (ms, s, m, h)")?;
            if number_len == 0 {
                return Err(
                    "is not a duration; expected a number and a unit, such as 90s, 10m or 1h"
                        .into(),
                );
            }
            let number = &rest[..number_len];
            rest = &rest[number_len..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let unit_nanos: u128 = match unit {
                "ms" => 1_000_000,
                "s" | "sec" | "secs" => NANOS_PER_SECOND,
                "m" | "min" | "mins" => 60 * NANOS_PER_SECOND,
                "h" | "hr" | "hours" => 3600 * NANOS_PER_SECOND,
                other => {
                    return Err(format!("has an unknown unit `{other}`; use ms, s, m or h"));
                }
            };
            let well_formed = number.bytes().filter(|&b| b == b'.').count() <= 1
                && number.bytes().any(|b| b.is_ascii_digit());
            if !well_formed {
                return Err(format!("has a malformed number `{number}`"));
            }
            total = component(number, unit_nanos)
                .and_then(|nanos| total.checked_add(nanos))
                .ok_or_else(too_long)?;
        }
    }
    if total > MAX_DURATION.as_nanos() {
        return Err(too_long());
    }
    let secs = u64::try_from(total / NANOS_PER_SECOND).map_err(|_| too_long())?;
    let nanos = u32::try_from(total % NANOS_PER_SECOND).map_err(|_| too_long())?;
    Ok(Duration::new(secs, nanos))
}

/// `digits[.digits]` times `unit_nanos`, in whole nanoseconds (a fraction finer than a
/// nanosecond is dropped); `None` when it is beyond [`MAX_DURATION`] or would overflow.
fn component(number: &str, unit_nanos: u128) -> Option<u128> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let mut value: u128 = 0;
    for digit in whole.bytes() {
        value = value
            .checked_mul(10)?
            .checked_add(u128::from(digit - b'0'))?;
        if value > MAX_DURATION.as_nanos() {
            return None;
        }
    }
    let mut nanos = value.checked_mul(unit_nanos)?;
    // Eighteen fractional digits are finer than a nanosecond of any unit (at most an hour,
    // 3.6e12 ns), and 10^18 * 3.6e12 fits a u128 with room to spare.
    let fraction = &fraction[..fraction.len().min(18)];
    if !fraction.is_empty() {
        let mut numerator: u128 = 0;
        for digit in fraction.bytes() {
            numerator = numerator * 10 + u128::from(digit - b'0');
        }
        let denominator = 10u128.pow(u32::try_from(fraction.len()).ok()?);
        nanos = nanos.checked_add(numerator * unit_nanos / denominator)?;
    }
    Some(nanos)
}

/// `95.2s` -> `1m35s`; short and exact to the second (milliseconds below one second).
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{:.1}s", d.as_secs_f64()),
        (0, _) => format!("{m}m{s:02}s"),
        _ => format!("{h}h{m:02}m{s:02}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_forms_users_write() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration(" 2s "), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0.1s"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration(".25h"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h0.5m"), Ok(Duration::from_secs(3630)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_what_is_not_a_duration() {
        for bad in [
            "",
            "soon",
            "10 minutes",
            "10x",
            "m10",
            "5d",
            "-5s",
            "+5s",
            "-1",
            "1.5",
            "1.2.3s",
            ".s",
            "NaN",
            "nans",
            "inf",
            "infh",
            "1e3s",
            "1h 30m",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn the_ceiling_is_24_hours() {
        assert_eq!(parse_duration("24h"), Ok(MAX_DURATION));
        assert_eq!(parse_duration("86400"), Ok(MAX_DURATION));
        assert_eq!(parse_duration("23h60m"), Ok(MAX_DURATION));
        let too_long = "is longer than 24h, the longest duration an input takes";
        for bad in [
            "86401",
            "24h1ms",
            "1441m",
            "18446744073709551615",
            "99999999999999999999h",
            "1000000000000000000000000000000000000000000000000s",
            "18446744073709551615s18446744073709551615s",
            "12h12h1s",
        ] {
            assert_eq!(parse_duration(bad), Err(too_long.to_string()), "{bad}");
        }
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert_eq!(
            parse_duration("5d"),
            Err("has an unknown unit `d`; use ms, s, m or h".to_string())
        );
        assert_eq!(
            parse_duration("1.5"),
            Err("has a number without a unit (ms, s, m, h)".to_string())
        );
        assert_eq!(
            parse_duration("1.2.3s"),
            Err("has a malformed number `1.2.3`".to_string())
        );
    }

    #[test]
    fn formats_for_people() {
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_millis(4200)), "4.2s");
        assert_eq!(format_duration(Duration::from_secs(95)), "1m35s");
        assert_eq!(format_duration(Duration::from_secs(3725)), "1h02m05s");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        /// Any text: a duration within the ceiling or an error, never a panic.
        #[test]
        fn any_text_parses_or_is_refused(text in any::<String>()) {
            if let Ok(d) = parse_duration(&text) {
                prop_assert!(d <= MAX_DURATION);
            }
        }

        /// Text shaped like durations (digits, dots, units, signs), where overflow and
        /// malformed numbers live.
        #[test]
        fn duration_like_text_parses_or_is_refused(
            text in "[-+ ]?([0-9.]{0,25}(ms|s|sec|m|min|h|hr|hours|d|e|)){1,4}",
        ) {
            if let Ok(d) = parse_duration(&text) {
                prop_assert!(d <= MAX_DURATION);
            }
        }

        /// Whole numbers of each unit give exactly that many units, or the ceiling error.
        #[test]
        fn whole_numbers_are_exact(n in any::<u64>(), unit in 0usize..4) {
            let (suffix, nanos) = [("ms", 1_000_000u128), ("s", 1_000_000_000), ("m", 60_000_000_000), ("h", 3_600_000_000_000)][unit];
            let expected = u128::from(n) * nanos;
            match parse_duration(&format!("{n}{suffix}")) {
                Ok(d) => prop_assert_eq!(d.as_nanos(), expected),
                Err(e) => {
                    prop_assert!(expected > MAX_DURATION.as_nanos());
                    prop_assert!(e.starts_with("is longer than 24h"));
                }
            }
        }
    }
}
