//! The retry schedule: exponential backoff with full jitter, and `Retry-After` parsing.

use std::time::{Duration, SystemTime};

/// The backoff cap before attempt `attempt + 1`, having made `attempt` (≥ 1) attempts:
/// `initial × 2^(attempt−1)`, at most `max`.
pub(crate) fn backoff_cap(initial: Duration, max: Duration, attempt: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
    initial.saturating_mul(factor).min(max)
}

/// "Full jitter" (AWS architecture blog, "Exponential Backoff and Jitter"): a uniformly random
/// delay in `[0, cap]`, which spreads out clients that failed together better than a fixed delay.
pub(crate) fn full_jitter(cap: Duration) -> Duration {
    let mut bytes = [0u8; 8];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        // Without randomness, waiting the whole cap is the safe choice.
        return cap;
    }
    let cap_nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
    let random = u64::from_le_bytes(bytes);
    Duration::from_nanos(match cap_nanos.checked_add(1) {
        Some(range) => random % range,
        None => random,
    })
}

/// Parses a `Retry-After` value (RFC 9110 §10.2.3): delay-seconds, or an HTTP-date, which is
/// measured from `now` (a date in the past means "now"). Anything else is ignored.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // An absurdly long number saturates rather than being ignored: the server said "long".
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests;
