//! Unit tests for the backoff schedule and `Retry-After` parsing.

use std::time::{Duration, UNIX_EPOCH};

use proptest::prelude::*;

use super::*;

#[test]
fn backoff_cap_doubles_up_to_the_maximum() {
    let initial = Duration::from_millis(250);
    let max = Duration::from_secs(8);
    let caps: Vec<_> = (1..=8)
        .map(|attempt| backoff_cap(initial, max, attempt))
        .collect();
    assert_eq!(
        caps,
        [250, 500, 1000, 2000, 4000, 8000, 8000, 8000].map(Duration::from_millis)
    );
    assert_eq!(backoff_cap(initial, max, u32::MAX), max);
}

#[test]
fn retry_after_seconds_and_dates() {
    let now = UNIX_EPOCH + Duration::from_secs(1_445_412_480);
    assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
    assert_eq!(
        parse_retry_after(" 120 ", now),
        Some(Duration::from_secs(120))
    );
    assert_eq!(parse_retry_after("0", now), Some(Duration::ZERO));
    assert_eq!(
        parse_retry_after("99999999999999999999999", now),
        Some(Duration::from_secs(u64::MAX))
    );
    // 1445412480 is Wed, 21 Oct 2015 07:28:00 GMT.
    assert_eq!(
        parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
        Some(Duration::from_secs(30))
    );
    assert_eq!(
        parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
        Some(Duration::ZERO)
    );
    for ignored in ["", "-1", "1.5", "soon", "2s"] {
        assert_eq!(parse_retry_after(ignored, now), None, "{ignored:?}");
    }
}

proptest! {
    #[test]
    fn full_jitter_stays_within_the_cap(millis in 0u64..100_000) {
        let cap = Duration::from_millis(millis);
        prop_assert!(full_jitter(cap) <= cap);
    }
}

#[test]
fn full_jitter_spreads_delays() {
    let cap = Duration::from_secs(10);
    let delays: std::collections::HashSet<_> = (0..32).map(|_| full_jitter(cap)).collect();
    assert!(delays.len() > 1, "jitter should not be constant");
    assert_eq!(full_jitter(Duration::ZERO), Duration::ZERO);
    assert!(full_jitter(Duration::MAX) <= Duration::MAX);
}
