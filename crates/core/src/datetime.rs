//! Date-times as sfsync holds them: milliseconds since the Unix epoch, UTC.
//!
//! Salesforce writes a dateTime as `2024-01-01T00:00:00.000+0000` in REST output and as
//! `...Z` in Bulk CSV, and other tools write `+00:00` or leave the milliseconds out. All of
//! them parse to the same millisecond, and sfsync writes exactly one form,
//! `2024-01-01T00:00:00.000Z`, which is also a valid SOQL literal.

use time::format_description::FormatItem;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

const DATE: &[FormatItem<'_>] = format_description!("[year]-[month]-[day]");
const CLOCK: &[FormatItem<'_>] = format_description!("[hour]:[minute]:[second]");

/// Parses a date-time with an offset (`Z`, `+hh:mm`, `+hhmm`) and optional fractional
/// seconds (truncated to milliseconds) into UTC epoch milliseconds.
pub fn parse_datetime(text: &str) -> Option<i64> {
    let (date, rest) = text.split_once('T')?;
    let date = Date::parse(date, DATE).ok()?;
    let (clock, offset) = parse_clock_with_offset(rest)?;
    let at = PrimitiveDateTime::new(date, clock).assume_offset(offset);
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
}

/// The first millisecond of year 1 and the last of year 9999: the range a four-digit year
/// can write, far wider than the years 1700 to 4000 Salesforce accepts.
const WRITABLE_MS: (i64, i64) = (-62_135_596_800_000, 253_402_300_799_999);

/// Formats UTC epoch milliseconds as `2024-01-01T00:00:00.000Z`, clamping instants outside
/// the years 1 to 9999 to those bounds.
pub fn format_datetime(ms: i64) -> String {
    let ms = ms.clamp(WRITABLE_MS.0, WRITABLE_MS.1);
    let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!("{}T{}Z", format_date(at.date()), format_time(at.time()))
}

/// Parses a plain ISO date, `2024-01-01`.
pub fn parse_date(text: &str) -> Option<Date> {
    Date::parse(text, DATE).ok()
}

/// Formats a date as `2024-01-01`.
pub fn format_date(date: Date) -> String {
    date.format(DATE).unwrap_or_default()
}

/// Parses a Salesforce time of day, `10:00:00.000Z` (the zone, when present, must be UTC,
/// as Salesforce writes it; fractional seconds are optional).
pub fn parse_time(text: &str) -> Option<Time> {
    let clock = text.strip_suffix('Z').unwrap_or(text);
    let (clock, millis) = split_fraction(clock)?;
    let time = Time::parse(clock, CLOCK).ok()?;
    time.replace_millisecond(millis).ok()
}

/// Formats a time of day as `10:00:00.000`.
pub fn format_time(time: Time) -> String {
    let (hour, minute, second, millis) = time.as_hms_milli();
    format!("{hour:02}:{minute:02}:{second:02}.{millis:03}")
}

/// Splits `hh:mm:ss[.fff]<offset>` into the clock time and the offset.
fn parse_clock_with_offset(text: &str) -> Option<(Time, UtcOffset)> {
    let zone_at = text.find(['Z', 'z', '+', '-'])?;
    let (clock, zone) = text.split_at(zone_at);
    Some((parse_time(clock)?, parse_offset(zone)?))
}

/// Splits off fractional seconds of 1 to 9 digits, truncated to milliseconds.
fn split_fraction(clock: &str) -> Option<(&str, u16)> {
    let Some((whole, fraction)) = clock.split_once('.') else {
        return Some((clock, 0));
    };
    if fraction.is_empty() || fraction.len() > 9 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let millis = format!("{fraction:0<3}")[..3].parse().ok()?;
    Some((whole, millis))
}

/// Parses `Z`, `+hh:mm`, `-hh:mm`, `+hhmm` or `-hhmm`.
fn parse_offset(zone: &str) -> Option<UtcOffset> {
    if zone.eq_ignore_ascii_case("z") {
        return Some(UtcOffset::UTC);
    }
    let sign: i8 = if zone.starts_with('-') { -1 } else { 1 };
    let digits = zone[1..].replace(':', "");
    let well_formed = digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_digit());
    let (hours, minutes) = (
        digits.get(..2)?.parse::<i8>().ok()?,
        digits.get(2..)?.parse::<i8>().ok()?,
    );
    if !well_formed || zone[1..].len() > 5 {
        return None;
    }
    UtcOffset::from_hms(sign * hours, sign * minutes, 0).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEW_YEAR_MS: i64 = 1_704_067_200_000;

    #[test]
    fn every_utc_spelling_of_one_instant_parses_to_the_same_millisecond() {
        for text in [
            "2024-01-01T00:00:00.000+0000",
            "2024-01-01T00:00:00.000Z",
            "2024-01-01T00:00:00Z",
            "2024-01-01T00:00:00+00:00",
            "2024-01-01T00:00:00.000000Z",
            "2024-01-01T01:00:00.000+01:00",
            "2023-12-31T19:00:00-0500",
        ] {
            assert_eq!(parse_datetime(text), Some(NEW_YEAR_MS), "{text}");
        }
    }

    #[test]
    fn fractional_seconds_are_truncated_to_milliseconds() {
        assert_eq!(
            parse_datetime("2024-01-01T00:00:00.1239Z"),
            Some(NEW_YEAR_MS + 123)
        );
        assert_eq!(
            parse_datetime("2024-01-01T00:00:00.5Z"),
            Some(NEW_YEAR_MS + 500)
        );
    }

    #[test]
    fn datetimes_are_written_in_utc_with_milliseconds_and_a_z() {
        assert_eq!(format_datetime(NEW_YEAR_MS + 7), "2024-01-01T00:00:00.007Z");
    }

    #[test]
    fn instants_beyond_four_digit_years_are_clamped() {
        assert_eq!(format_datetime(i64::MAX), "9999-12-31T23:59:59.999Z");
        assert_eq!(format_datetime(i64::MIN), "0001-01-01T00:00:00.000Z");
    }

    #[test]
    fn malformed_datetimes_are_rejected() {
        for text in [
            "2024-01-01",
            "2024-01-01T00:00:00",
            "2024-02-30T00:00:00Z",
            "2024-01-01T25:00:00Z",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00+0",
            "2024-01-01T00:00:00+00:00:00",
            "2024-01-01 00:00:00Z",
        ] {
            assert_eq!(parse_datetime(text), None, "{text}");
        }
    }

    #[test]
    fn times_of_day_parse_with_or_without_milliseconds() {
        let time = parse_time("10:00:00.000Z").unwrap();
        assert_eq!(parse_time("10:00:00"), Some(time));
        assert_eq!(
            format_time(parse_time("09:05:01.25Z").unwrap()),
            "09:05:01.250"
        );
        assert_eq!(parse_time("10:00"), None);
    }
}
