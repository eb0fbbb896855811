//! Wire formats shared by several calls: error bodies, JSON decoding that names what was wrong,
//! and Salesforce's date-time forms.
//!
//! Written from the documented shapes (salesforce-api.md), never from the simulator's code, so a
//! misreading of the protocol cannot hide in both.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

use crate::error::{Error, Result};

/// One entry of a REST error array: `[{"message","errorCode","fields"?}]` (§2.12).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RestError {
    #[serde(default)]
    pub message: String,
    pub error_code: String,
    #[serde(default)]
    pub fields: Vec<String>,
}

/// An OAuth endpoint error: `{"error","error_description"}` (§1.8).
#[derive(Debug, Deserialize)]
pub(crate) struct OAuthError {
    pub error: String,
    #[serde(default)]
    pub error_description: String,
}

/// Reads a REST error body: normally an array whose first entry says what failed; a bare
/// object is tolerated because composite subresponses and some gateways use it.
pub(crate) fn parse_rest_error(body: &[u8]) -> Option<RestError> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Shape {
        Many(Vec<RestError>),
        One(RestError),
    }
    match serde_json::from_slice::<Shape>(body).ok()? {
        Shape::Many(list) => list.into_iter().next(),
        Shape::One(one) => Some(one),
    }
}

/// Reads an OAuth error body.
pub(crate) fn parse_oauth_error(body: &[u8]) -> Option<OAuthError> {
    serde_json::from_slice(body).ok()
}

/// Decodes a JSON body. On failure the body is decoded a second time, tracking the path, so
/// the error names the key (`records[3].attributes.type`) without slowing down the common case.
pub(crate) fn parse_json<T: DeserializeOwned>(what: &'static str, body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|first| describe_json_error::<T>(what, body, first))
}

/// Decodes an already-parsed JSON value, naming the key on failure.
pub(crate) fn from_value<T: DeserializeOwned>(
    what: &'static str,
    value: serde_json::Value,
) -> Result<T> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|err| {
        let path = err.path().to_string();
        Error::malformed(what, format!("at `{path}`: {}", err.into_inner()))
    })
}

/// Names what was wrong with a body that failed to decode as `T`.
pub(crate) fn describe_json_error<T: DeserializeOwned>(
    what: &'static str,
    body: &[u8],
    first: serde_json::Error,
) -> Error {
    let mut de = serde_json::Deserializer::from_slice(body);
    let detail = match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Err(err) if err.path().iter().next().is_some() => {
            format!("at `{}`: {}", err.path(), err.inner())
        }
        _ => first.to_string(),
    };
    Error::malformed(what, detail)
}

const DATETIME_BODY: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]");

/// Parses a Salesforce date-time with an explicit format.
///
/// Salesforce writes `2024-01-01T00:00:00.000+0000`: always milliseconds and an offset without a
/// colon (§2.6), which RFC 3339 parsers reject. Inputs written by other tools use `Z` or
/// `+00:00` and may omit the fraction; all of these are accepted and returned in UTC.
pub fn parse_datetime(text: &str) -> Result<OffsetDateTime> {
    let bad = |why: &str| Error::malformed("date-time", format!("{why}: {text:?}"));
    let (body, offset) = split_offset(text).ok_or_else(|| bad("no offset (Z, +hhmm or +hh:mm)"))?;
    let local = PrimitiveDateTime::parse(body, DATETIME_BODY).map_err(|e| bad(&e.to_string()))?;
    let offset = parse_offset(offset).ok_or_else(|| bad("invalid offset"))?;
    Ok(local.assume_offset(offset).to_offset(UtcOffset::UTC))
}

/// Splits `...Z`, `...+hhmm` or `...+hh:mm` into the local part and the offset text.
fn split_offset(text: &str) -> Option<(&str, &str)> {
    if let Some(body) = text.strip_suffix('Z') {
        return Some((body, "Z"));
    }
    let at = text
        .rfind(['+', '-'])
        .filter(|&at| at > text.find('T').unwrap_or(usize::MAX))?;
    Some(text.split_at(at))
}

fn parse_offset(offset: &str) -> Option<UtcOffset> {
    if offset == "Z" {
        return Some(UtcOffset::UTC);
    }
    let sign: i8 = if offset.starts_with('-') { -1 } else { 1 };
    let digits: String = offset[1..].chars().filter(|&c| c != ':').collect();
    let valid_shape = matches!(offset.len(), 5 | 6) && digits.len() == 4;
    if !valid_shape || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i8 = digits[..2].parse().ok()?;
    let minutes: i8 = digits[2..].parse().ok()?;
    UtcOffset::from_hms(sign * hours, sign * minutes, 0).ok()
}

/// Serde helper: a date-time string read with [`parse_datetime`].
pub(crate) fn de_datetime<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<OffsetDateTime, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_datetime(&text).map_err(serde::de::Error::custom)
}

/// Serde helper: an optional date-time string read with [`parse_datetime`].
pub(crate) fn de_opt_datetime<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<OffsetDateTime>, D::Error> {
    match Option::<String>::deserialize(deserializer)? {
        Some(text) => parse_datetime(&text)
            .map(Some)
            .map_err(serde::de::Error::custom),
        None => Ok(None),
    }
}

const SECONDS_Z: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
const MILLIS_Z: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// Formats a date-time as a SOQL literal (unquoted, UTC, `Z`): `2024-01-01T00:00:00Z`.
///
/// Salesforce's own `+0000` output form is not a documented SOQL literal (§2.6), so values read
/// from records must go through here before they are compared against in a WHERE clause.
/// Milliseconds are written only when non-zero, so a cursor never loses precision.
pub fn soql_datetime(value: OffsetDateTime) -> String {
    let utc = value.to_offset(UtcOffset::UTC);
    let format = if utc.millisecond() == 0 {
        SECONDS_Z
    } else {
        MILLIS_Z
    };
    // Formatting a valid OffsetDateTime with a fixed format cannot fail for years 0..=9999.
    utc.format(format).unwrap_or_default()
}

const HTTP_DATE: &[BorrowedFormatItem<'static>] = format_description!(
    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
);

/// Formats an `If-Modified-Since` value (RFC 9110 IMF-fixdate).
pub(crate) fn http_date(value: OffsetDateTime) -> String {
    value
        .to_offset(UtcOffset::UTC)
        .format(HTTP_DATE)
        .unwrap_or_default()
}

/// Parses a `Last-Modified` value (RFC 9110 IMF-fixdate).
pub(crate) fn parse_http_date(text: &str) -> Option<OffsetDateTime> {
    PrimitiveDateTime::parse(text.trim(), HTTP_DATE)
        .ok()
        .map(PrimitiveDateTime::assume_utc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn accepts_every_documented_datetime_form() {
        let expected = datetime!(2024-01-02 03:04:05 UTC);
        for text in [
            "2024-01-02T03:04:05.000+0000",
            "2024-01-02T03:04:05+0000",
            "2024-01-02T03:04:05Z",
            "2024-01-02T03:04:05.000Z",
            "2024-01-02T03:04:05+00:00",
            "2024-01-02T05:04:05.000+0200",
            "2024-01-02T01:04:05-02:00",
        ] {
            assert_eq!(parse_datetime(text).unwrap(), expected, "{text}");
        }
        assert_eq!(
            parse_datetime("2024-01-02T03:04:05.123+0000").unwrap(),
            datetime!(2024-01-02 03:04:05.123 UTC)
        );
    }

    #[test]
    fn rejects_dates_without_an_offset_and_garbage() {
        for text in [
            "2024-01-02T03:04:05",
            "2024-01-02",
            "",
            "2024-13-02T03:04:05Z",
            "x+0000",
            "2024-01-02T03:04:05+00",
        ] {
            let err = parse_datetime(text).unwrap_err();
            assert!(err.is_malformed(), "{text}: {err}");
        }
    }

    #[test]
    fn soql_literal_uses_z_and_keeps_milliseconds_only_when_present() {
        assert_eq!(
            soql_datetime(datetime!(2024-01-02 03:04:05 UTC)),
            "2024-01-02T03:04:05Z"
        );
        assert_eq!(
            soql_datetime(datetime!(2024-01-02 03:04:05.120 UTC)),
            "2024-01-02T03:04:05.120Z"
        );
        assert_eq!(
            soql_datetime(datetime!(2024-01-02 05:04:05 +2)),
            "2024-01-02T03:04:05Z"
        );
    }

    #[test]
    fn http_dates_round_trip() {
        let at = datetime!(2015-08-10 00:00:00 UTC);
        assert_eq!(http_date(at), "Mon, 10 Aug 2015 00:00:00 GMT");
        assert_eq!(parse_http_date("Mon, 10 Aug 2015 00:00:00 GMT"), Some(at));
    }

    #[test]
    fn json_errors_name_the_key_and_the_types() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Page {
            done: bool,
            records: Vec<u32>,
        }
        let err =
            parse_json::<Page>("query response", br#"{"done":"yes","records":[]}"#).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("`done`") && text.contains("expected a boolean"),
            "{text}"
        );
        let err = parse_json::<Page>("query response", br#"{"records":[1,"x"],"done":true}"#)
            .unwrap_err();
        assert!(err.to_string().contains("records[1]"), "{err}");
        let err = parse_json::<Page>("query response", br#"{"records":[]}"#).unwrap_err();
        assert!(err.to_string().contains("missing field `done`"), "{err}");
    }
}
