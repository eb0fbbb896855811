//! Values on the wire: Salesforce's JSON forms for each field type.

use std::io::Write;

use sfsync_soql::{FieldKind, Value};

/// Days since 1970-01-01 for a `yyyy-MM-dd` date.
pub fn parse_date(text: &str) -> Option<i32> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(text, &format).ok()?;
    Some(date.to_julian_day() - date_of(0).to_julian_day())
}

/// The date `days` after 1970-01-01.
pub fn date_of(days: i32) -> time::Date {
    let epoch = time::Date::from_calendar_date(1970, time::Month::January, 1).expect("valid date");
    epoch + time::Duration::days(days as i64)
}

/// The calendar year and quarter of a date (the org's fiscal year starts in January).
pub fn fiscal_year_quarter(days: i32) -> (i64, i64) {
    let date = date_of(days);
    (date.year() as i64, (date.month() as i64 - 1) / 3 + 1)
}

/// Writes a double the way Salesforce's Java serializer does: `15000.0`, `0.5`, and
/// scientific notation such as `1.5E7` from ten million up. Clients that compare numbers
/// as text get false differences from this; a faithful fake must produce it.
pub fn write_java_double(out: &mut Vec<u8>, x: f64) {
    if !x.is_finite() {
        out.extend_from_slice(b"null");
        return;
    }
    let start = out.len();
    let magnitude = x.abs();
    if x == 0.0 || (1e-3..1e7).contains(&magnitude) {
        let _ = write!(out, "{x}");
        if !out[start..].contains(&b'.') {
            out.extend_from_slice(b".0");
        }
        return;
    }
    let _ = write!(out, "{x:E}");
    let e = start
        + out[start..]
            .iter()
            .position(|&b| b == b'E')
            .unwrap_or(out.len() - start);
    if !out[start..e].contains(&b'.') {
        out.splice(e..e, *b".0");
    }
}

/// Writes `n` as exactly `width` decimal digits.
fn write_padded(out: &mut Vec<u8>, n: u32, width: usize) {
    let mut digits = [b'0'; 4];
    let mut v = n;
    for slot in digits[..width].iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.extend_from_slice(&digits[..width]);
}

/// Year, month and day of a day count since 1970-01-01 (proleptic Gregorian), by the
/// era-based algorithm: no allocation and no table, which matters on the hot path of
/// serving pages.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn write_date(out: &mut Vec<u8>, days: i64) {
    let (year, month, day) = civil_from_days(days);
    if !(0..=9999).contains(&year) {
        out.extend_from_slice(sfsync_soql::format_date(days as i32).as_bytes());
        return;
    }
    write_padded(out, year as u32, 4);
    out.push(b'-');
    write_padded(out, month, 2);
    out.push(b'-');
    write_padded(out, day, 2);
}

/// Writes `2024-01-01T00:00:00.000+0000`, Salesforce's dateTime output form.
fn write_datetime(out: &mut Vec<u8>, ms: i64) {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000) as u32;
    write_date(out, days);
    out.push(b'T');
    write_padded(out, in_day / 3_600_000, 2);
    out.push(b':');
    write_padded(out, in_day / 60_000 % 60, 2);
    out.push(b':');
    write_padded(out, in_day / 1000 % 60, 2);
    out.push(b'.');
    write_padded(out, in_day % 1000, 3);
    out.extend_from_slice(b"+0000");
}

/// Writes a JSON string with escaping.
pub fn write_json_str(out: &mut Vec<u8>, s: &str) {
    // serde_json's escaper is fast and correct; writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Writes one field value in Salesforce's JSON form.
pub fn write_value(out: &mut Vec<u8>, kind: FieldKind, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Int(i) if kind_is_double(kind) => write_java_double(out, *i as f64),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Double(d) if kind == FieldKind::Int => {
            let _ = write!(out, "{}", *d as i64);
        }
        Value::Double(d) => write_java_double(out, *d),
        Value::Text(t) => write_json_str(out, t),
        Value::Date(days) => {
            out.push(b'"');
            write_date(out, i64::from(*days));
            out.push(b'"');
        }
        Value::DateTime(ms) => {
            out.push(b'"');
            write_datetime(out, *ms);
            out.push(b'"');
        }
    }
}

fn kind_is_double(kind: FieldKind) -> bool {
    matches!(
        kind,
        FieldKind::Double | FieldKind::Currency | FieldKind::Percent
    )
}

/// Appends a value as one quoted Bulk API CSV cell: Bulk 2.0 quotes every value and doubles
/// a quote inside one; nulls are empty, like empty strings.
pub fn write_csv_cell(out: &mut String, kind: FieldKind, value: &Value) {
    out.push('"');
    match value {
        Value::Null => {}
        Value::Text(t) => push_doubling_quotes(out, t),
        Value::DateTime(ms) => {
            out.push_str(&sfsync_soql::format_datetime(*ms).replace("+0000", "Z"));
        }
        other => {
            let mut json = Vec::new();
            write_value(&mut json, kind, other);
            let text = String::from_utf8(json).unwrap_or_default();
            push_doubling_quotes(out, text.trim_matches('"'));
        }
    }
    out.push('"');
}

/// Appends `text` with each `"` doubled, as CSV writes a quote inside a quoted cell.
pub fn push_doubling_quotes(out: &mut String, text: &str) {
    let mut parts = text.split('"');
    out.push_str(parts.next().unwrap_or_default());
    for part in parts {
        out.push_str("\"\"");
        out.push_str(part);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn java(x: f64) -> String {
        let mut out = Vec::new();
        write_java_double(&mut out, x);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn csv_cells_are_quoted_with_inner_quotes_doubled_and_nulls_empty() {
        let mut out = String::new();
        write_csv_cell(
            &mut out,
            FieldKind::String,
            &Value::Text("say \"hi\"".into()),
        );
        write_csv_cell(&mut out, FieldKind::String, &Value::Null);
        write_csv_cell(&mut out, FieldKind::Double, &Value::Double(1.5e7));
        assert_eq!(out, "\"say \"\"hi\"\"\"\"\"\"1.5E7\"");
    }

    #[test]
    fn doubles_render_like_java() {
        assert_eq!(java(15000.0), "15000.0");
        assert_eq!(java(0.5), "0.5");
        assert_eq!(java(1.5e7), "1.5E7");
        assert_eq!(java(25000000.0), "2.5E7");
        assert_eq!(java(0.0), "0.0");
        assert_eq!(java(-42.25), "-42.25");
        assert_eq!(java(1e-4), "1.0E-4");
        assert_eq!(java(123456789.5), "1.234567895E8");
    }

    #[test]
    fn fast_date_writers_agree_with_the_calendar_library() {
        for ms in [
            0i64,
            951_782_400_000,
            1_709_164_800_123,
            4_102_444_799_999,
            -86_400_000,
        ] {
            let mut out = Vec::new();
            write_datetime(&mut out, ms);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                sfsync_soql::format_datetime(ms)
            );
        }
        for days in [-1, 0, 11_016, 19_782, 2_932_896] {
            let mut out = Vec::new();
            write_date(&mut out, i64::from(days));
            assert_eq!(
                String::from_utf8(out).unwrap(),
                sfsync_soql::format_date(days)
            );
        }
    }

    #[test]
    fn dates_round_trip() {
        let days = parse_date("2024-02-29").unwrap();
        assert_eq!(sfsync_soql::format_date(days), "2024-02-29");
        assert_eq!(fiscal_year_quarter(days), (2024, 1));
        assert_eq!(parse_date("2024-02-30"), None);
    }
}
