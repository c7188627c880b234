//! RFC 3339 timestamps in the one form the wire uses: UTC, whole seconds, `Z` (`2026-04-27T18:03:11Z`).
//!
//! A hand-written civil-from-days conversion (Howard Hinnant's algorithms) rather than a date
//! crate: the format is fixed, signing needs it without allocation, and verifying needs a strict
//! parser that accepts exactly the strings we would have written.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Length of `YYYY-MM-DDTHH:MM:SSZ`.
const LEN: usize = 20;
const SECONDS_PER_DAY: i64 = 86_400;
/// `0000-01-01T00:00:00Z`, the earliest time a four-digit year can express.
const MIN_UNIX: i64 = -62_167_219_200;
/// `9999-12-31T23:59:59Z`, the latest.
const MAX_UNIX: i64 = 253_402_300_799;

/// A UTC instant with whole-second precision, written as RFC 3339 with a `Z` suffix.
///
/// The range is the one a four-digit year allows, `0000-01-01T00:00:00Z` to `9999-12-31T23:59:59Z`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    unix: i64,
}

impl Timestamp {
    /// The timestamp of `time`, with any fraction of a second dropped (rounded towards the past).
    ///
    /// Returns `None` outside the representable range.
    pub fn from_system_time(time: SystemTime) -> Option<Self> {
        let unix = match time.duration_since(UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_secs()).ok()?,
            Err(before) => {
                let before = before.duration();
                let whole = i64::try_from(before.as_secs()).ok()?;
                // Flooring: 0.5 s before the epoch is in the second that starts at -1.
                -whole - i64::from(before.subsec_nanos() > 0)
            }
        };
        Self::from_unix_seconds(unix)
    }

    /// The timestamp `unix` seconds after the epoch; `None` outside the representable range.
    pub fn from_unix_seconds(unix: i64) -> Option<Self> {
        (MIN_UNIX..=MAX_UNIX)
            .contains(&unix)
            .then_some(Self { unix })
    }

    /// Parses exactly `YYYY-MM-DDTHH:MM:SSZ`: uppercase `T` and `Z`, no fraction, no offset, no
    /// leap second, a real calendar date. Returns `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes: &[u8; LEN] = text.as_bytes().try_into().ok()?;
        let separators = [
            (4, b'-'),
            (7, b'-'),
            (10, b'T'),
            (13, b':'),
            (16, b':'),
            (19, b'Z'),
        ];
        if separators.iter().any(|&(at, sep)| bytes[at] != sep) {
            return None;
        }
        let year = digits(&bytes[0..4])?;
        let month = digits(&bytes[5..7])?;
        let day = digits(&bytes[8..10])?;
        let hour = digits(&bytes[11..13])?;
        let minute = digits(&bytes[14..16])?;
        let second = digits(&bytes[17..19])?;
        if !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return None;
        }
        let days = days_from_civil(year, month, day);
        Self::from_unix_seconds(days * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second)
    }

    /// Seconds since the Unix epoch (negative before it).
    pub fn unix_seconds(self) -> i64 {
        self.unix
    }

    /// The same instant as a [`SystemTime`].
    pub fn to_system_time(self) -> SystemTime {
        let magnitude = Duration::from_secs(self.unix.unsigned_abs());
        if self.unix >= 0 {
            UNIX_EPOCH + magnitude
        } else {
            UNIX_EPOCH - magnitude
        }
    }

    /// The distance between two timestamps, whichever comes first.
    pub fn abs_diff(self, other: Self) -> Duration {
        Duration::from_secs(self.unix.abs_diff(other.unix))
    }

    /// The RFC 3339 text, on the stack.
    pub(crate) fn text(self) -> TimestampText {
        let days = self.unix.div_euclid(SECONDS_PER_DAY);
        let seconds_of_day = self.unix.rem_euclid(SECONDS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        let mut out = *b"0000-00-00T00:00:00Z";
        put(&mut out[0..4], year);
        put(&mut out[5..7], month);
        put(&mut out[8..10], day);
        put(&mut out[11..13], seconds_of_day / 3600);
        put(&mut out[14..16], seconds_of_day % 3600 / 60);
        put(&mut out[17..19], seconds_of_day % 60);
        TimestampText(out)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text().as_str())
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

/// A formatted timestamp held in a fixed buffer, so signing does not allocate for it.
#[derive(Clone, Copy)]
pub(crate) struct TimestampText([u8; LEN]);

impl TimestampText {
    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII digits and separators are ever written into the buffer.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// Writes `value` as zero-padded decimal digits filling `out`.
fn put(out: &mut [u8], mut value: i64) {
    for slot in out.iter_mut().rev() {
        // `value` is in range for the field, so each digit is 0..=9.
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

fn digits(text: &[u8]) -> Option<i64> {
    text.iter().try_fold(0i64, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0'))
    })
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's `days_from_civil`).
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Hinnant's `civil_from_days`).
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests;
