//! A field value: what one field of one record holds, normalised by the field's describe
//! type so that the same Salesforce value read twice, in whatever form, compares equal.
//!
//! Salesforce writes one value in several forms: a currency as `1500`, `1500.0` or `1.5E3`
//! (REST) or `"1500.00"` (Bulk CSV); a dateTime with `+0000`, `Z` or `+00:00`; a
//! multi-select picklist in any order; an empty text as `null` (REST) or `""` (CSV).
//! [`normalize`] folds each family into one [`FieldValue`], so that the diff sees a change
//! only where the data changed.

use serde::{Serialize, Serializer};
use serde_json::Value;
use time::Date;

use crate::datetime::{
    format_date, format_datetime, format_time, parse_date, parse_datetime, parse_time,
};
use crate::{Decimal, Error, RecordId};

/// The most significant digits a decimal may have and still be written as a JSON number:
/// up to 15 digits survive a round trip through the `f64` most JSON readers use.
const JSON_NUMBER_DIGITS: usize = 15;

/// A field's type as describe reports it (the `type` of a field in `sobjects/X/describe`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// `id`: the record's own Id.
    Id,
    /// `reference`: a lookup or master-detail Id.
    Reference,
    /// `string`.
    String,
    /// `textarea`, plain or long or rich.
    TextArea,
    /// `picklist`.
    Picklist,
    /// `multipicklist`: values joined by `;`, order without meaning.
    MultiPicklist,
    /// `combobox`: a picklist that also takes free text.
    Combobox,
    /// `email`.
    Email,
    /// `phone`.
    Phone,
    /// `url`.
    Url,
    /// `encryptedstring`: the masked text the integration user may read.
    EncryptedString,
    /// `boolean`.
    Boolean,
    /// `int`.
    Int,
    /// `long`.
    Long,
    /// `double`, with the field's scale.
    Double,
    /// `currency`, with the field's scale.
    Currency,
    /// `percent`, with the field's scale.
    Percent,
    /// `date`.
    Date,
    /// `datetime`.
    DateTime,
    /// `time`.
    Time,
    /// `base64`: REST returns the blob's URL, not its content.
    Base64,
    /// `address`: a compound field, never in a projection (its components are).
    Address,
    /// `location`: a compound field, never in a projection (its components are).
    Location,
    /// `anyType`: a value whose type varies per record (field history, for one).
    AnyType,
    /// A type this version does not know, kept by name so it can be logged.
    Other(String),
}

/// Every known type with its describe spelling, so parsing and printing cannot disagree.
const NAMES: &[(FieldType, &str)] = &[
    (FieldType::Id, "id"),
    (FieldType::Reference, "reference"),
    (FieldType::String, "string"),
    (FieldType::TextArea, "textarea"),
    (FieldType::Picklist, "picklist"),
    (FieldType::MultiPicklist, "multipicklist"),
    (FieldType::Combobox, "combobox"),
    (FieldType::Email, "email"),
    (FieldType::Phone, "phone"),
    (FieldType::Url, "url"),
    (FieldType::EncryptedString, "encryptedstring"),
    (FieldType::Boolean, "boolean"),
    (FieldType::Int, "int"),
    (FieldType::Long, "long"),
    (FieldType::Double, "double"),
    (FieldType::Currency, "currency"),
    (FieldType::Percent, "percent"),
    (FieldType::Date, "date"),
    (FieldType::DateTime, "datetime"),
    (FieldType::Time, "time"),
    (FieldType::Base64, "base64"),
    (FieldType::Address, "address"),
    (FieldType::Location, "location"),
    (FieldType::AnyType, "anyType"),
];

impl FieldType {
    /// Reads describe's `type` (case-insensitive; unknown names become [`FieldType::Other`]).
    pub fn from_describe(name: &str) -> Self {
        NAMES
            .iter()
            .find(|(_, known)| known.eq_ignore_ascii_case(name))
            .map_or_else(|| Self::Other(name.to_owned()), |(ty, _)| ty.clone())
    }

    /// The describe spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Other(name) => name,
            known => NAMES
                .iter()
                .find(|(ty, _)| ty == known)
                .map_or("", |(_, name)| name),
        }
    }

    /// Whether the field is a compound field, which a projection replaces by its components.
    pub fn is_compound(&self) -> bool {
        matches!(self, Self::Address | Self::Location)
    }
}

impl std::fmt::Display for FieldType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One normalised field value. Two reads of the same Salesforce value are equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    /// No value: JSON `null`, or the empty text Bulk CSV writes for it.
    Null,
    /// A checkbox.
    Bool(bool),
    /// An `int` or `long`.
    Int(i64),
    /// A `double`, `currency` or `percent`, exact and rounded to the field's scale.
    Number(Decimal),
    /// Text of any kind; Ids in their 18-character form, multi-select picklists sorted,
    /// times of day as `10:00:00.000Z`.
    Text(String),
    /// A calendar date.
    Date(Date),
    /// An instant, in UTC epoch milliseconds.
    DateTime(i64),
    /// Anything else (compound and unknown types), with object keys in sorted order.
    Json(Value),
}

impl FieldValue {
    /// Whether this is [`FieldValue::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }
}

/// Writes a value the way change events carry it: numbers as JSON numbers (as strings when
/// they have more digits than an `f64` keeps), dates and date-times as ISO text in UTC.
impl Serialize for FieldValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Null => serializer.serialize_none(),
            Self::Bool(b) => serializer.serialize_bool(*b),
            Self::Int(i) => serializer.serialize_i64(*i),
            Self::Number(d) => serialize_decimal(*d, serializer),
            Self::Text(text) => serializer.serialize_str(text),
            Self::Date(date) => serializer.serialize_str(&format_date(*date)),
            Self::DateTime(ms) => serializer.serialize_str(&format_datetime(*ms)),
            Self::Json(value) => value.serialize(serializer),
        }
    }
}

fn serialize_decimal<S: Serializer>(value: Decimal, serializer: S) -> Result<S::Ok, S::Error> {
    if let Some(int) = value.to_i64() {
        return serializer.serialize_i64(int);
    }
    let text = value.to_string();
    match text.parse::<f64>() {
        Ok(float) if value.significant_digits() <= JSON_NUMBER_DIGITS => {
            serializer.serialize_f64(float)
        }
        _ => serializer.serialize_str(&text),
    }
}

/// Normalises one value read from Salesforce (REST JSON, or Bulk CSV text as a JSON string)
/// by the field's describe type and, for numbers, its scale (decimal places).
pub fn normalize(
    field_type: &FieldType,
    scale: Option<u32>,
    raw: &Value,
) -> Result<FieldValue, Error> {
    // Salesforce stores empty text as null, and Bulk CSV writes null as an empty cell.
    if raw.is_null() || raw.as_str() == Some("") {
        return Ok(FieldValue::Null);
    }
    let invalid = |expected| Error::InvalidValue {
        field_type: field_type.to_string(),
        text: raw.to_string(),
        expected,
    };
    match field_type {
        FieldType::Id | FieldType::Reference => {
            normalize_id(raw).ok_or_else(|| invalid("a 15- or 18-character record id"))
        }
        FieldType::MultiPicklist => raw
            .as_str()
            .map(normalize_multipicklist)
            .ok_or_else(|| invalid("text")),
        FieldType::Boolean => normalize_bool(raw).ok_or_else(|| invalid("true or false")),
        FieldType::Int | FieldType::Long => {
            normalize_int(raw).ok_or_else(|| invalid("a whole number"))
        }
        FieldType::Double | FieldType::Currency | FieldType::Percent => {
            normalize_decimal(raw, scale).ok_or_else(|| invalid("a decimal number"))
        }
        FieldType::Date => raw
            .as_str()
            .and_then(parse_date)
            .map(FieldValue::Date)
            .ok_or_else(|| invalid("a date like 2024-01-01")),
        FieldType::DateTime => raw
            .as_str()
            .and_then(parse_datetime)
            .map(FieldValue::DateTime)
            .ok_or_else(|| invalid("a date-time like 2024-01-01T00:00:00.000Z")),
        FieldType::Time => normalize_time(raw).ok_or_else(|| invalid("a time like 10:00:00.000Z")),
        FieldType::Address | FieldType::Location => Ok(FieldValue::Json(canonical_json(raw))),
        FieldType::AnyType | FieldType::Other(_) => Ok(normalize_by_shape(raw)),
        _text => raw
            .as_str()
            .map(|s| FieldValue::Text(s.to_owned()))
            .ok_or_else(|| invalid("text")),
    }
}

fn normalize_id(raw: &Value) -> Option<FieldValue> {
    let id = RecordId::parse(raw.as_str()?).ok()?;
    Some(FieldValue::Text(id.as_str().to_owned()))
}

/// Sorts and de-duplicates the selected values: Salesforce gives them no order.
fn normalize_multipicklist(text: &str) -> FieldValue {
    let mut values: Vec<&str> = text.split(';').filter(|v| !v.is_empty()).collect();
    values.sort_unstable();
    values.dedup();
    FieldValue::Text(values.join(";"))
}

fn normalize_bool(raw: &Value) -> Option<FieldValue> {
    match raw {
        Value::Bool(b) => Some(FieldValue::Bool(*b)),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(FieldValue::Bool(true)),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(FieldValue::Bool(false)),
        _ => None,
    }
}

/// Accepts `5`, `5.0` and the CSV text `"5"` or `"5.0"`; refuses a fractional part.
fn normalize_int(raw: &Value) -> Option<FieldValue> {
    decimal_of(raw)?.to_i64().map(FieldValue::Int)
}

fn normalize_decimal(raw: &Value, scale: Option<u32>) -> Option<FieldValue> {
    let value = decimal_of(raw)?;
    Some(FieldValue::Number(
        scale.map_or(value, |places| value.round_to(places)),
    ))
}

/// Reads a JSON number or numeric text exactly. A JSON float is read back from its shortest
/// round-trip text, which is the text Salesforce sent for any value an `f64` can hold.
fn decimal_of(raw: &Value) -> Option<Decimal> {
    match raw {
        Value::Number(n) if n.is_i64() => n.as_i64().map(Decimal::from_int),
        Value::Number(n) => Decimal::parse(&n.to_string()),
        Value::String(s) => Decimal::parse(s.trim()),
        _ => None,
    }
}

fn normalize_time(raw: &Value) -> Option<FieldValue> {
    let time = parse_time(raw.as_str()?)?;
    Some(FieldValue::Text(format!("{}Z", format_time(time))))
}

/// For `anyType`, the JSON shape is the only type information there is.
fn normalize_by_shape(raw: &Value) -> FieldValue {
    match raw {
        Value::Bool(b) => FieldValue::Bool(*b),
        Value::Number(_) => {
            decimal_of(raw).map_or_else(|| FieldValue::Json(raw.clone()), FieldValue::Number)
        }
        Value::String(s) => FieldValue::Text(s.clone()),
        other => FieldValue::Json(canonical_json(other)),
    }
}

/// Rebuilds objects with their keys in sorted order, whatever map type serde_json was built
/// with (`preserve_order` can be switched on by feature unification; rust-stack.md §1.6).
fn canonical_json(raw: &Value) -> Value {
    match raw {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), canonical_json(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical_json).collect()),
        scalar => scalar.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn norm(ty: FieldType, scale: Option<u32>, raw: Value) -> FieldValue {
        normalize(&ty, scale, &raw).unwrap_or_else(|e| panic!("{raw} did not normalise: {e}"))
    }

    #[test]
    fn a_currency_written_as_integer_float_exponent_or_csv_text_is_one_value() {
        let expected = norm(FieldType::Currency, Some(2), json!(1500));
        for raw in [
            json!(1500.0),
            json!(1.5e3),
            json!("1.5E3"),
            json!("1500.00"),
            json!(" 1500 "),
        ] {
            assert_eq!(
                norm(FieldType::Currency, Some(2), raw.clone()),
                expected,
                "{raw}"
            );
        }
    }

    #[test]
    fn a_decimal_is_held_exactly() {
        let sum = norm(FieldType::Double, None, json!(0.3));
        assert_eq!(sum, FieldValue::Number(Decimal::parse("0.3").unwrap()));
        assert_ne!(sum, norm(FieldType::Double, None, json!(0.1 + 0.2)));
    }

    #[test]
    fn numbers_are_rounded_to_the_field_scale() {
        assert_eq!(
            norm(FieldType::Percent, Some(2), json!(12.345)),
            norm(FieldType::Percent, Some(2), json!("12.35"))
        );
    }

    #[test]
    fn every_spelling_of_one_datetime_is_one_value() {
        let expected = norm(FieldType::DateTime, None, json!("2024-01-01T00:00:00.000Z"));
        for raw in [
            "2024-01-01T00:00:00.000+0000",
            "2024-01-01T00:00:00+00:00",
            "2024-01-01T00:00:00Z",
        ] {
            assert_eq!(
                norm(FieldType::DateTime, None, json!(raw)),
                expected,
                "{raw}"
            );
        }
    }

    #[test]
    fn multi_select_picklists_ignore_order_and_repeats() {
        let expected = FieldValue::Text("a;b".to_owned());
        assert_eq!(norm(FieldType::MultiPicklist, None, json!("b;a")), expected);
        assert_eq!(
            norm(FieldType::MultiPicklist, None, json!("a;b;a")),
            expected
        );
    }

    #[test]
    fn bulk_csv_text_normalises_like_rest_json() {
        assert_eq!(norm(FieldType::String, None, json!("")), FieldValue::Null);
        assert_eq!(
            norm(FieldType::Currency, Some(2), json!("")),
            FieldValue::Null
        );
        assert_eq!(
            norm(FieldType::Boolean, None, json!("true")),
            norm(FieldType::Boolean, None, json!(true))
        );
        assert_eq!(norm(FieldType::Int, None, json!("0.0")), FieldValue::Int(0));
        assert_eq!(norm(FieldType::Int, None, json!(42.0)), FieldValue::Int(42));
        assert_eq!(
            norm(FieldType::Date, None, json!("2024-02-29")),
            FieldValue::Date(time::macros::date!(2024 - 02 - 29))
        );
    }

    #[test]
    fn ids_are_held_in_their_18_character_form() {
        let short = norm(FieldType::Reference, None, json!("001D000000IRFma"));
        assert_eq!(short, FieldValue::Text("001D000000IRFmaIAH".to_owned()));
        assert_eq!(
            short,
            norm(FieldType::Id, None, json!("001D000000IRFmaIAH"))
        );
    }

    #[test]
    fn times_of_day_are_held_with_milliseconds() {
        assert_eq!(
            norm(FieldType::Time, None, json!("10:00:00Z")),
            FieldValue::Text("10:00:00.000Z".to_owned())
        );
    }

    #[test]
    fn compound_values_compare_whatever_their_key_order() {
        let a = norm(
            FieldType::Address,
            None,
            json!({"city": "Paris", "street": "Rue 1"}),
        );
        let b = norm(
            FieldType::Address,
            None,
            json!({"street": "Rue 1", "city": "Paris"}),
        );
        assert_eq!(a, b);
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            r#"{"city":"Paris","street":"Rue 1"}"#
        );
    }

    #[test]
    fn a_value_that_does_not_fit_its_type_names_the_type_and_the_text() {
        let cases = [
            (
                FieldType::Int,
                json!(1.5),
                "invalid int value 1.5: expected a whole number",
            ),
            (
                FieldType::Boolean,
                json!("yes"),
                "invalid boolean value \"yes\": expected true or false",
            ),
            (
                FieldType::Currency,
                json!("12,50"),
                "invalid currency value \"12,50\": expected a decimal number",
            ),
            (
                FieldType::DateTime,
                json!("2024-01-01"),
                concat!(
                    "invalid datetime value \"2024-01-01\": ",
                    "expected a date-time like 2024-01-01T00:00:00.000Z"
                ),
            ),
            (
                FieldType::Reference,
                json!("nope"),
                "invalid reference value \"nope\": expected a 15- or 18-character record id",
            ),
            (
                FieldType::String,
                json!(5),
                "invalid string value 5: expected text",
            ),
        ];
        for (ty, raw, message) in cases {
            assert_eq!(normalize(&ty, None, &raw).unwrap_err().to_string(), message);
        }
    }

    #[test]
    fn field_types_round_trip_through_their_describe_names() {
        for (ty, name) in NAMES {
            assert_eq!(&FieldType::from_describe(name), ty);
            assert_eq!(ty.as_str(), *name);
        }
        assert_eq!(FieldType::from_describe("DateTime"), FieldType::DateTime);
        assert_eq!(
            FieldType::from_describe("complexvalue").as_str(),
            "complexvalue"
        );
    }

    #[test]
    fn values_serialise_as_change_events_carry_them() {
        let write = |v: FieldValue| serde_json::to_string(&v).unwrap();
        assert_eq!(write(FieldValue::Null), "null");
        assert_eq!(
            write(FieldValue::Number(Decimal::parse("1500.50").unwrap())),
            "1500.5"
        );
        assert_eq!(write(FieldValue::Number(Decimal::from_int(7))), "7");
        let long = Decimal::parse("1234567890.1234567").unwrap();
        assert_eq!(write(FieldValue::Number(long)), "\"1234567890.1234567\"");
        assert_eq!(
            write(FieldValue::DateTime(0)),
            "\"1970-01-01T00:00:00.000Z\""
        );
        assert_eq!(
            write(FieldValue::Date(time::macros::date!(2024 - 01 - 31))),
            "\"2024-01-31\""
        );
    }

    proptest! {
        #[test]
        fn an_integer_reads_the_same_as_json_and_as_csv_text(n in any::<i64>()) {
            let json = norm(FieldType::Long, None, json!(n));
            prop_assert_eq!(&json, &norm(FieldType::Long, None, json!(n.to_string())));
            prop_assert_eq!(json, FieldValue::Int(n));
        }

        #[test]
        fn a_currency_reads_the_same_as_json_and_as_csv_text(
            cents in -1_000_000_000i64..1_000_000_000,
        ) {
            let text = format!("{}.{:02}", cents / 100, (cents % 100).abs());
            let text = if cents < 0 && cents > -100 { format!("-{text}") } else { text };
            let float: f64 = text.parse().unwrap();
            let currency = |raw| norm(FieldType::Currency, Some(2), raw);
            prop_assert_eq!(currency(json!(float)), currency(json!(text)));
        }

        #[test]
        fn multi_select_order_never_matters(
            mut values in proptest::collection::vec("[a-z]{1,5}", 1..6),
        ) {
            let forward = norm(FieldType::MultiPicklist, None, json!(values.join(";")));
            values.reverse();
            prop_assert_eq!(forward, norm(FieldType::MultiPicklist, None, json!(values.join(";"))));
        }
    }
}
