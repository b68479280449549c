//! UTC times as RFC 3339 text (`2026-01-31T12:00:00Z`), for the `expires` field of signed roots.
//!
//! Signed roots are the one deliberate exception to "no clock in the output": a root that never
//! expires would let anyone who can replay it freeze clients on an old registry. The build reads
//! the time from `SOURCE_DATE_EPOCH` when it is set, so reproducible builds stay reproducible.

use std::time::{SystemTime, UNIX_EPOCH};

use jiff::Timestamp;

/// 0000-01-01T00:00:00Z: before it, years are written with a sign and six digits.
const FIRST_SECOND: i64 = -62_167_219_200;

/// Seconds since the Unix epoch by the system clock.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The build's notion of now: `SOURCE_DATE_EPOCH` if set, else the clock.
pub fn build_time() -> Result<i64, String> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(text) => text.trim().parse().map_err(|_| {
            format!("SOURCE_DATE_EPOCH is \"{text}\", not a number of seconds since 1970")
        }),
        Err(_) => Ok(now()),
    }
}

/// `seconds` as RFC 3339 text in UTC, to the second: `2026-01-31T12:00:00Z`. Instants before
/// the year 0000 or after jiff's last one (9999-12-30T22:00:00Z) are clamped to them, so the
/// text always has a four-digit year.
pub fn format(seconds: i64) -> String {
    let clamped = seconds.clamp(FIRST_SECOND, Timestamp::MAX.as_second());
    Timestamp::from_second(clamped)
        .expect("clamped to jiff's range")
        .to_string()
}

/// Parses exactly the form [`format()`] writes: jiff reads RFC 3339, and the text must be what
/// [`format()`] writes back for it (so no offsets, fractions, lowercase `t`/`z` or leap seconds).
pub fn parse(text: &str) -> Option<i64> {
    let seconds = text.parse::<Timestamp>().ok()?.as_second();
    (format(seconds) == text).then_some(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_known_instants() {
        for (seconds, text) in [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_000_000_000, "2001-09-09T01:46:40Z"),
            (4_102_444_799, "2099-12-31T23:59:59Z"),
        ] {
            assert_eq!(format(seconds), text);
            assert_eq!(parse(text), Some(seconds));
        }
    }

    #[test]
    fn rejects_anything_else() {
        for bad in [
            "2001-02-29T00:00:00Z",
            "2001-13-01T00:00:00Z",
            "2001-01-01 00:00:00Z",
            "2001-01-01T00:00:00+00:00",
            "2001-01-01T24:00:00Z",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn every_day_round_trips() {
        for days in -1000..200_000 {
            let seconds = days * 86_400 + 86_399;
            assert_eq!(parse(&format(seconds)), Some(seconds));
        }
    }

    #[test]
    fn rejects_what_rfc_3339_allows_but_format_never_writes() {
        for bad in [
            "2001-01-01t00:00:00z",
            "2001-01-01T00:00:00.5Z",
            "2001-01-01T00:00:00.000Z",
            "2001-01-01T01:00:00+01:00",
            "2016-12-31T23:59:60Z",
            "+002001-01-01T00:00:00Z",
            "2001-1-01T00:00:00Z",
            " 2001-01-01T00:00:00Z",
            "",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn clamps_to_four_digit_years() {
        assert_eq!(format(i64::MAX), "9999-12-30T22:00:00Z");
        assert_eq!(parse("9999-12-30T22:00:00Z"), Some(253_402_207_200));
        assert_eq!(format(FIRST_SECOND), "0000-01-01T00:00:00Z");
        assert_eq!(format(i64::MIN), "0000-01-01T00:00:00Z");
        assert_eq!(parse("0000-01-01T00:00:00Z"), Some(FIRST_SECOND));
    }
}
