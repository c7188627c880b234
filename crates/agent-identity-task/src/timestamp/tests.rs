//! Unit tests for RFC 3339 timestamps: known instants, strict parsing, and round trips.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use proptest::prelude::*;

use super::*;

fn at(unix: i64) -> Timestamp {
    Timestamp::from_unix_seconds(unix).unwrap_or_else(|| panic!("{unix} out of range"))
}

#[test]
fn formats_known_instants() {
    let cases = [
        (0, "1970-01-01T00:00:00Z"),
        (1_777_291_200, "2026-04-27T12:00:00Z"),
        (1_893_456_000, "2030-01-01T00:00:00Z"),
        (951_782_400, "2000-02-29T00:00:00Z"),
        (-1, "1969-12-31T23:59:59Z"),
        (MIN_UNIX, "0000-01-01T00:00:00Z"),
        (MAX_UNIX, "9999-12-31T23:59:59Z"),
        (4_107_542_399, "2100-02-28T23:59:59Z"),
        (4_107_542_400, "2100-03-01T00:00:00Z"),
    ];
    for (unix, text) in cases {
        assert_eq!(at(unix).to_string(), text);
        assert_eq!(Timestamp::parse(text), Some(at(unix)), "{text}");
    }
}

#[test]
fn drops_fractions_towards_the_past() {
    let after = UNIX_EPOCH + Duration::from_millis(1_500);
    assert_eq!(
        Timestamp::from_system_time(after).map(Timestamp::unix_seconds),
        Some(1)
    );
    let before = UNIX_EPOCH - Duration::from_millis(500);
    assert_eq!(
        Timestamp::from_system_time(before).map(Timestamp::unix_seconds),
        Some(-1)
    );
    let exactly_before = UNIX_EPOCH - Duration::from_secs(2);
    assert_eq!(
        Timestamp::from_system_time(exactly_before).map(Timestamp::unix_seconds),
        Some(-2)
    );
}

#[test]
fn refuses_times_outside_four_digit_years() {
    assert_eq!(Timestamp::from_unix_seconds(MAX_UNIX + 1), None);
    assert_eq!(Timestamp::from_unix_seconds(MIN_UNIX - 1), None);
    assert_eq!(
        Timestamp::from_system_time(UNIX_EPOCH + Duration::from_secs(u64::MAX / 2)),
        None
    );
}

#[test]
fn parse_accepts_only_the_wire_form() {
    let rejected = [
        "",
        "2026-04-27T12:00:00",
        "2026-04-27t12:00:00Z",
        "2026-04-27T12:00:00z",
        "2026-04-27 12:00:00Z",
        "2026-04-27T12:00:00.5Z",
        "2026-04-27T12:00:00+00:00",
        "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z",
        "2026-02-29T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2026-04-00T00:00:00Z",
        "2026-04-27T24:00:00Z",
        "2026-04-27T23:60:00Z",
        "2026-04-27T23:59:60Z",
        "+026-04-27T12:00:00Z",
        "2026-04-27T12:0a:00Z",
        "２026-04-27T12:00:00Z",
        " 2026-04-27T12:00:00Z",
    ];
    for text in rejected {
        assert_eq!(Timestamp::parse(text), None, "{text:?}");
    }
    assert!(Timestamp::parse("2024-02-29T00:00:00Z").is_some());
}

#[test]
fn system_time_round_trips() {
    let now = SystemTime::now();
    let stamp = Timestamp::from_system_time(now).unwrap_or_else(|| panic!("now is in range"));
    let back = stamp.to_system_time();
    assert!(back <= now && now.duration_since(back).unwrap_or_default() < Duration::from_secs(1));
    assert_eq!(at(-5).to_system_time(), UNIX_EPOCH - Duration::from_secs(5));
}

proptest! {
    #[test]
    fn format_then_parse_round_trips(unix in MIN_UNIX..=MAX_UNIX) {
        let stamp = at(unix);
        let text = stamp.to_string();
        prop_assert_eq!(text.len(), LEN);
        prop_assert_eq!(Timestamp::parse(&text), Some(stamp));
    }

    #[test]
    fn civil_and_days_are_inverse(days in -800_000i64..3_000_000) {
        let (year, month, day) = civil_from_days(days);
        prop_assert!((1..=12).contains(&month));
        prop_assert!(day >= 1 && day <= days_in_month(year, month));
        prop_assert_eq!(days_from_civil(year, month, day), days);
    }

    #[test]
    fn parse_never_panics(text in "\\PC{0,24}") {
        if let Some(stamp) = Timestamp::parse(&text) {
            prop_assert_eq!(stamp.to_string(), text);
        }
    }

    #[test]
    fn parse_of_digit_shaped_strings_is_canonical(
        y in 0u32..10_000, mo in 0u32..14, d in 0u32..33, h in 0u32..26, mi in 0u32..62, s in 0u32..62,
    ) {
        let text = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z");
        if let Some(stamp) = Timestamp::parse(&text) {
            prop_assert_eq!(stamp.to_string(), text);
        } else {
            let y = i64::from(y);
            let valid_date = (1..=12).contains(&mo) && d >= 1 && i64::from(d) <= days_in_month(y, i64::from(mo));
            prop_assert!(!valid_date || h > 23 || mi > 59 || s > 59);
        }
    }
}
