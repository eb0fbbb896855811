//! Dates and date-times: the literal forms SOQL accepts in `WHERE`, the output forms the
//! REST API writes, and the relative date literals (`TODAY`, `LAST_N_DAYS:n`).
//!
//! Output (salesforce-api.md §2.6): date-times are always UTC with milliseconds and a
//! literal `+0000` (`2024-01-01T00:00:00.000+0000`); dates are `2024-01-01`. Input: SOQL
//! date-time literals take `Z`, `+hh:mm` or `-hh:mm`; fractional seconds are accepted in
//! practice, and the output form `+0000` is tolerated here so that a value read back from
//! the API can be pasted into a filter.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Milliseconds in a UTC day.
pub(crate) const MS_PER_DAY: i64 = 86_400_000;
/// Julian day number of 1970-01-01.
const UNIX_EPOCH_JULIAN_DAY: i32 = 2_440_588;

/// Formats epoch milliseconds the way the REST API writes a dateTime:
/// `2024-01-01T00:00:00.000+0000`. Values beyond the years ±9999 are clamped.
pub fn format_datetime(ms: i64) -> String {
    let at = datetime_from_ms(ms);
    format!(
        "{}T{:02}:{:02}:{:02}.{:03}+0000",
        format_calendar_date(at.date()),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

/// Formats days since 1970-01-01 the way the REST API writes a date: `2024-01-01`. Values
/// beyond the years ±9999 are clamped.
pub fn format_date(days: i32) -> String {
    let date = UNIX_EPOCH_JULIAN_DAY
        .checked_add(days)
        .and_then(|julian| Date::from_julian_day(julian).ok())
        .unwrap_or(if days < 0 { Date::MIN } else { Date::MAX });
    format_calendar_date(date)
}

/// Parses a SOQL date-time literal (`2024-01-01T00:00:00Z`, `...T00:00:00.123Z`,
/// `...T00:00:00+05:30`, `...-08:00`, and the output form `...+0000`) into epoch
/// milliseconds. Returns `None` for anything else, including impossible dates and times.
pub fn parse_datetime_literal(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() < 20 || !matches!(bytes[10], b'T' | b't') {
        return None;
    }
    let date = parse_calendar_date(&bytes[..10])?;
    let (time, rest) = parse_clock(&bytes[11..])?;
    let offset = parse_zone(rest)?;
    let at = PrimitiveDateTime::new(date, time).assume_offset(offset);
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Parses a SOQL date literal (`2024-01-31`) into days since 1970-01-01.
pub fn parse_date_literal(text: &str) -> Option<i32> {
    let date = parse_calendar_date(text.as_bytes())?;
    Some(date.to_julian_day() - UNIX_EPOCH_JULIAN_DAY)
}

/// The UTC day number that contains `now_ms`.
pub(crate) fn day_of(now_ms: i64) -> i64 {
    now_ms.div_euclid(MS_PER_DAY)
}

fn datetime_from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap_or(if ms < 0 {
        PrimitiveDateTime::MIN.assume_utc()
    } else {
        PrimitiveDateTime::MAX.assume_utc()
    })
}

fn format_calendar_date(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// `YYYY-MM-DD`, exactly ten bytes.
fn parse_calendar_date(bytes: &[u8]) -> Option<Date> {
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year = digits(&bytes[..4])?;
    let month = Month::try_from(u8::try_from(digits(&bytes[5..7])?).ok()?).ok()?;
    let day = u8::try_from(digits(&bytes[8..10])?).ok()?;
    Date::from_calendar_date(i32::try_from(year).ok()?, month, day).ok()
}

/// `hh:mm:ss` with optional `.fff` (1 to 9 digits, truncated to milliseconds); returns the
/// time and what follows it.
fn parse_clock(bytes: &[u8]) -> Option<(Time, &[u8])> {
    if bytes.len() < 8 || bytes[2] != b':' || bytes[5] != b':' {
        return None;
    }
    let hour = u8::try_from(digits(&bytes[..2])?).ok()?;
    let minute = u8::try_from(digits(&bytes[3..5])?).ok()?;
    let second = u8::try_from(digits(&bytes[6..8])?).ok()?;
    let (millis, rest) = parse_fraction(&bytes[8..])?;
    Some((
        Time::from_hms_milli(hour, minute, second, millis).ok()?,
        rest,
    ))
}

fn parse_fraction(bytes: &[u8]) -> Option<(u16, &[u8])> {
    if bytes.first() != Some(&b'.') {
        return Some((0, bytes));
    }
    let count = bytes[1..].iter().take_while(|b| b.is_ascii_digit()).count();
    if !(1..=9).contains(&count) {
        return None;
    }
    let mut padded = [b'0'; 3];
    let kept = count.min(3);
    padded[..kept].copy_from_slice(&bytes[1..1 + kept]);
    let millis = u16::try_from(digits(&padded)?).ok()?;
    Some((millis, &bytes[1 + count..]))
}

/// `Z`, `+hh:mm`, `-hh:mm` or `+hhmm`, and nothing after it.
fn parse_zone(bytes: &[u8]) -> Option<UtcOffset> {
    let sign: i8 = match bytes.first()? {
        b'Z' | b'z' if bytes.len() == 1 => return Some(UtcOffset::UTC),
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (hours, minutes) = match bytes.len() {
        6 if bytes[3] == b':' => (&bytes[1..3], &bytes[4..6]),
        5 => (&bytes[1..3], &bytes[3..5]),
        _ => return None,
    };
    let hours = i8::try_from(digits(hours)?).ok()?;
    let minutes = i8::try_from(digits(minutes)?).ok()?;
    if hours > 23 || minutes > 59 {
        return None;
    }
    UtcOffset::from_hms(sign * hours, sign * minutes, 0).ok()
}

/// The decimal value of a run of ASCII digits; `None` if any byte is not a digit.
fn digits(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0u32, |total, byte| {
        byte.is_ascii_digit()
            .then(|| total * 10 + u32::from(byte - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const JAN_1_2024_MS: i64 = 1_704_067_200_000;
    const JAN_1_2024_DAYS: i32 = 19_723;

    #[test]
    fn datetimes_are_written_in_the_rest_output_form() {
        assert_eq!(
            format_datetime(JAN_1_2024_MS),
            "2024-01-01T00:00:00.000+0000"
        );
        assert_eq!(
            format_datetime(JAN_1_2024_MS + 1_234),
            "2024-01-01T00:00:01.234+0000"
        );
        assert_eq!(format_datetime(-1), "1969-12-31T23:59:59.999+0000");
    }

    #[test]
    fn dates_are_written_as_plain_iso_dates() {
        assert_eq!(format_date(JAN_1_2024_DAYS), "2024-01-01");
        assert_eq!(format_date(0), "1970-01-01");
        assert_eq!(format_date(-1), "1969-12-31");
    }

    #[test]
    fn out_of_range_values_are_clamped_rather_than_panicking() {
        assert!(format_datetime(i64::MAX).starts_with("9999-12-31T"));
        assert!(format_date(i32::MIN).starts_with('-'));
    }

    #[test]
    fn every_documented_literal_form_parses() {
        let cases = [
            ("2024-01-01T00:00:00Z", JAN_1_2024_MS),
            ("2024-01-01T00:00:00.123Z", JAN_1_2024_MS + 123),
            ("2024-01-01T00:00:00.5Z", JAN_1_2024_MS + 500),
            ("2024-01-01T05:30:00+05:30", JAN_1_2024_MS),
            ("2023-12-31T16:00:00-08:00", JAN_1_2024_MS),
            ("2024-01-01T00:00:00.000+0000", JAN_1_2024_MS),
            ("2024-01-01t00:00:00z", JAN_1_2024_MS),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_datetime_literal(text), Some(expected), "{text}");
        }
    }

    #[test]
    fn impossible_or_incomplete_datetimes_are_rejected() {
        for text in [
            "2024-01-01T00:00:00",
            "2024-01-01",
            "2020-12-12T12:12:00-25:00",
            "2020-52-12T12:12:00-05:00",
            "2023-02-29T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00ZZ",
            "2024-01-01 00:00:00Z",
        ] {
            assert_eq!(parse_datetime_literal(text), None, "{text}");
        }
    }

    #[test]
    fn date_literals_need_a_real_calendar_day() {
        assert_eq!(parse_date_literal("2024-01-01"), Some(JAN_1_2024_DAYS));
        assert_eq!(parse_date_literal("2024-02-29"), Some(JAN_1_2024_DAYS + 59));
        assert_eq!(parse_date_literal("2023-02-29"), None);
        assert_eq!(parse_date_literal("2024-1-01"), None);
    }

    #[test]
    fn the_day_of_a_negative_instant_rounds_down() {
        assert_eq!(day_of(-1), -1);
        assert_eq!(day_of(JAN_1_2024_MS + 5), i64::from(JAN_1_2024_DAYS));
    }
}
