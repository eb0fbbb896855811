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
    let magnitude = x.abs();
    if x == 0.0 || (1e-3..1e7).contains(&magnitude) {
        let text = format!("{x}");
        out.extend_from_slice(text.as_bytes());
        if !text.contains('.') {
            out.extend_from_slice(b".0");
        }
        return;
    }
    let text = format!("{x:E}");
    let (mantissa, exponent) = text.split_once('E').unwrap_or((&text, "0"));
    out.extend_from_slice(mantissa.as_bytes());
    if !mantissa.contains('.') {
        out.extend_from_slice(b".0");
    }
    out.push(b'E');
    out.extend_from_slice(exponent.as_bytes());
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
            out.extend_from_slice(sfsync_soql::format_date(*days).as_bytes());
            out.push(b'"');
        }
        Value::DateTime(ms) => {
            out.push(b'"');
            out.extend_from_slice(sfsync_soql::format_datetime(*ms).as_bytes());
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

/// A value as CSV text for Bulk API results: nulls are empty, like empty strings.
pub fn csv_text(kind: FieldKind, value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Text(t) => t.to_string(),
        Value::DateTime(ms) => sfsync_soql::format_datetime(*ms).replace("+0000", "Z"),
        other => {
            let mut out = Vec::new();
            write_value(&mut out, kind, other);
            String::from_utf8(out)
                .unwrap_or_default()
                .trim_matches('"')
                .to_string()
        }
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
    fn doubles_render_like_java() {
        assert_eq!(java(15000.0), "15000.0");
        assert_eq!(java(0.5), "0.5");
        assert_eq!(java(1.5e7), "1.5E7");
        assert_eq!(java(25000000.0), "2.5E7");
        assert_eq!(java(0.0), "0.0");
        assert_eq!(java(-42.25), "-42.25");
    }

    #[test]
    fn dates_round_trip() {
        let days = parse_date("2024-02-29").unwrap();
        assert_eq!(sfsync_soql::format_date(days), "2024-02-29");
        assert_eq!(fiscal_year_quarter(days), (2024, 1));
        assert_eq!(parse_date("2024-02-30"), None);
    }
}
