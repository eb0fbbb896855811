//! The persisted forms of domain values, shared by every backend.
//!
//! sfsync-core serialises values one way only, as change events carry them, and that form
//! loses the type: `"2024-01-01"` may be a date or a text, `1500` an int or a currency. The
//! store needs the value back exactly, so it writes its own tagged JSON (`{"t":"date",
//! "v":"2024-01-01"}`) and reads every row back through a decoder that reports a row it
//! cannot read as [`Error::Corrupt`] instead of panicking.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sfsync_core::{
    ChangeKind, Decimal, FieldChange, FieldName, FieldSpec, FieldType, FieldValue, ObjectName,
    Projection, SchemaChange,
};
use time::Date;
use time::macros::format_description;

use crate::Error;
use crate::model::{ConnectionStatus, Credential, Environment, Role, RunOutcome};

/// A [`FieldValue`] with its variant written down.
#[derive(Serialize, Deserialize)]
#[serde(tag = "t", content = "v", rename_all = "snake_case")]
enum StoredValue {
    Null,
    Bool(bool),
    Int(i64),
    /// Exact decimal text, never a float.
    Number(String),
    Text(String),
    /// `2024-01-31`.
    Date(String),
    /// UTC epoch milliseconds.
    DateTime(i64),
    Json(Value),
}

const DATE: &[time::format_description::BorrowedFormatItem<'_>] =
    format_description!("[year]-[month]-[day]");

impl From<&FieldValue> for StoredValue {
    fn from(value: &FieldValue) -> Self {
        match value {
            FieldValue::Null => Self::Null,
            FieldValue::Bool(b) => Self::Bool(*b),
            FieldValue::Int(i) => Self::Int(*i),
            FieldValue::Number(d) => Self::Number(d.to_string()),
            FieldValue::Text(t) => Self::Text(t.clone()),
            FieldValue::Date(d) => Self::Date(d.format(DATE).unwrap_or_default()),
            FieldValue::DateTime(ms) => Self::DateTime(*ms),
            FieldValue::Json(v) => Self::Json(v.clone()),
        }
    }
}

/// A [`FieldValue`] as written: texts, checkboxes and nulls as plain JSON (most fields of
/// most records, so snapshots stay small), every other variant as a [`StoredValue`] with
/// its tag. Written straight from a borrowed value, without copying its text.
enum StoredRef<'a> {
    Plain(&'a FieldValue),
    Tagged(StoredValue),
}

impl<'a> From<&'a FieldValue> for StoredRef<'a> {
    fn from(value: &'a FieldValue) -> Self {
        match value {
            FieldValue::Null | FieldValue::Bool(_) | FieldValue::Text(_) => Self::Plain(value),
            other => Self::Tagged(other.into()),
        }
    }
}

impl Serialize for StoredRef<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Plain(FieldValue::Bool(b)) => serializer.serialize_bool(*b),
            Self::Plain(FieldValue::Text(text)) => serializer.serialize_str(text),
            Self::Plain(_) => serializer.serialize_unit(),
            Self::Tagged(stored) => stored.serialize(serializer),
        }
    }
}

/// A stored value read back: plain JSON for a text, a checkbox or a null, a tagged object for
/// the rest (and for every value written before plain values existed).
struct StoredRead(StoredValue);

impl<'de> Deserialize<'de> for StoredRead {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StoredReadVisitor)
    }
}

struct StoredReadVisitor;

impl<'de> serde::de::Visitor<'de> for StoredReadVisitor {
    type Value = StoredRead;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a text, a boolean, null or a tagged value")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<StoredRead, E> {
        Ok(StoredRead(StoredValue::Text(text.to_owned())))
    }

    fn visit_string<E: serde::de::Error>(self, text: String) -> Result<StoredRead, E> {
        Ok(StoredRead(StoredValue::Text(text)))
    }

    fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<StoredRead, E> {
        Ok(StoredRead(StoredValue::Bool(b)))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<StoredRead, E> {
        Ok(StoredRead(StoredValue::Null))
    }

    fn visit_map<M: serde::de::MapAccess<'de>>(self, map: M) -> Result<StoredRead, M::Error> {
        let tagged = serde::de::value::MapAccessDeserializer::new(map);
        StoredValue::deserialize(tagged).map(StoredRead)
    }
}

#[derive(Serialize)]
struct StoredChangeRef<'a> {
    old: StoredRef<'a>,
    new: StoredRef<'a>,
}

impl StoredValue {
    fn into_value(self) -> Result<FieldValue, String> {
        Ok(match self {
            Self::Null => FieldValue::Null,
            Self::Bool(b) => FieldValue::Bool(b),
            Self::Int(i) => FieldValue::Int(i),
            Self::Number(text) => FieldValue::Number(
                Decimal::parse(&text).ok_or_else(|| format!("bad decimal {text:?}"))?,
            ),
            Self::Text(t) => FieldValue::Text(t),
            Self::Date(text) => FieldValue::Date(
                Date::parse(&text, DATE).map_err(|e| format!("bad date {text:?}: {e}"))?,
            ),
            Self::DateTime(ms) => FieldValue::DateTime(ms),
            Self::Json(v) => FieldValue::Json(v),
        })
    }
}

#[derive(Deserialize)]
struct StoredChange {
    old: StoredRead,
    new: StoredRead,
}

#[derive(Serialize, Deserialize)]
struct StoredSpec {
    #[serde(rename = "type")]
    field_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scale: Option<u32>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    calculated: bool,
}

/// Writes a snapshot's values.
pub fn encode_values(values: &BTreeMap<FieldName, FieldValue>) -> String {
    encode_map(values, StoredRef::from)
}

/// Reads a snapshot's values back; `what` names the row for the error.
pub fn decode_values(
    text: &str,
    what: impl Fn() -> String,
) -> Result<BTreeMap<FieldName, FieldValue>, Error> {
    decode_map(text, |stored: StoredRead| stored.0.into_value())
        .map_err(|e| Error::corrupt(what(), e))
}

/// Writes a change's fields.
pub fn encode_changes(fields: &BTreeMap<FieldName, FieldChange>) -> String {
    encode_map(fields, |c| StoredChangeRef {
        old: (&c.old).into(),
        new: (&c.new).into(),
    })
}

/// Reads a change's fields back.
pub fn decode_changes(
    text: &str,
    what: impl Fn() -> String,
) -> Result<BTreeMap<FieldName, FieldChange>, Error> {
    decode_map(text, |stored: StoredChange| {
        Ok(FieldChange {
            old: stored.old.0.into_value()?,
            new: stored.new.0.into_value()?,
        })
    })
    .map_err(|e| Error::corrupt(what(), e))
}

/// Writes a projection's fields with their describe types.
pub fn encode_projection(projection: &Projection) -> String {
    encode_map(&projection.fields, |spec| StoredSpec {
        field_type: spec.field_type.as_str().to_owned(),
        scale: spec.scale,
        calculated: spec.calculated,
    })
}

/// Reads a projection of `object` back.
pub fn decode_projection(object: &ObjectName, text: &str) -> Result<Projection, Error> {
    let fields = decode_map(text, |stored: StoredSpec| {
        Ok(FieldSpec {
            field_type: FieldType::from_describe(&stored.field_type),
            scale: stored.scale,
            calculated: stored.calculated,
        })
    })
    .map_err(|e| Error::corrupt(format!("projection of {object}"), e))?;
    Ok(Projection {
        object: object.clone(),
        fields,
    })
}

fn encode_map<'a, V, S: Serialize>(
    map: &'a BTreeMap<FieldName, V>,
    f: impl Fn(&'a V) -> S,
) -> String {
    let mut out = Vec::with_capacity(64 * map.len());
    let mut serializer = serde_json::Serializer::new(&mut out);
    // Keys are unique (they come from a map), so the entries are written as they come.
    let entries = map.iter().map(|(k, v)| (k.as_str(), f(v)));
    // A map of strings to plain data always serialises, and serde_json writes UTF-8.
    let _ = serde::Serializer::collect_map(&mut serializer, entries);
    String::from_utf8(out).unwrap_or_default()
}

fn decode_map<V, S: for<'de> Deserialize<'de>>(
    text: &str,
    f: impl Fn(S) -> Result<V, String>,
) -> Result<BTreeMap<FieldName, V>, String> {
    let stored: BTreeMap<String, S> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    stored
        .into_iter()
        .map(|(name, s)| {
            let name = FieldName::parse(&name).map_err(|e| e.to_string())?;
            Ok((name, f(s)?))
        })
        .collect()
}

/// Maps an enum to the text stored for it and back, so both directions share one table.
macro_rules! text_enum {
    ($ty:ty, $what:literal, $($variant:path => $text:literal),+ $(,)?) => {
        impl $crate::persisted::AsText for $ty {
            fn as_text(&self) -> &'static str {
                match self { $($variant => $text),+ }
            }

            fn from_text(text: &str) -> Result<Self, Error> {
                match text {
                    $($text => Ok($variant),)+
                    other => Err(Error::corrupt($what, format!("unknown value {other:?}"))),
                }
            }
        }
    };
}

/// An enum stored as a fixed word.
pub trait AsText: Sized {
    /// The stored word.
    fn as_text(&self) -> &'static str;
    /// Reads the stored word back.
    fn from_text(text: &str) -> Result<Self, Error>;
}

text_enum!(Role, "user role", Role::Admin => "admin", Role::Member => "member");
text_enum!(Environment, "connection environment",
    Environment::Production => "production",
    Environment::Sandbox => "sandbox",
    Environment::Custom => "custom",
);
text_enum!(ConnectionStatus, "connection status",
    ConnectionStatus::Active => "active",
    ConnectionStatus::NeedsReauthorization => "needs_reauthorization",
    ConnectionStatus::Disconnected => "disconnected",
);
text_enum!(Credential, "credential kind",
    Credential::SignInLink => "sign_in_link",
    Credential::Session => "session",
);
text_enum!(RunOutcome, "run outcome",
    RunOutcome::Succeeded => "succeeded",
    RunOutcome::Failed => "failed",
    RunOutcome::Paused => "paused",
);
text_enum!(ChangeKind, "change kind",
    ChangeKind::Created => "created",
    ChangeKind::Updated => "updated",
    ChangeKind::Deleted => "deleted",
    ChangeKind::Undeleted => "undeleted",
);

/// Splits a schema change into its stored kind and field.
pub fn encode_schema_change(change: &SchemaChange) -> (&'static str, Option<&str>) {
    match change {
        SchemaChange::FieldAdded(f) => ("field_added", Some(f.as_str())),
        SchemaChange::FieldRemoved(f) => ("field_removed", Some(f.as_str())),
        SchemaChange::FieldHidden(f) => ("field_hidden", Some(f.as_str())),
        SchemaChange::ObjectVanished => ("object_vanished", None),
    }
}

/// Reads a schema change back from its stored kind and field.
pub fn decode_schema_change(kind: &str, field: Option<&str>) -> Result<SchemaChange, Error> {
    let corrupt = |reason: String| Error::corrupt("schema event", reason);
    let field = || {
        let text = field.ok_or_else(|| corrupt(format!("{kind} without a field")))?;
        FieldName::parse(text).map_err(|e| corrupt(e.to_string()))
    };
    match kind {
        "field_added" => Ok(SchemaChange::FieldAdded(field()?)),
        "field_removed" => Ok(SchemaChange::FieldRemoved(field()?)),
        "field_hidden" => Ok(SchemaChange::FieldHidden(field()?)),
        "object_vanished" => Ok(SchemaChange::ObjectVanished),
        other => Err(corrupt(format!("unknown kind {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn name(text: &str) -> FieldName {
        FieldName::parse(text).unwrap()
    }

    fn every_kind_of_value() -> BTreeMap<FieldName, FieldValue> {
        BTreeMap::from([
            (name("A"), FieldValue::Null),
            (name("B"), FieldValue::Bool(true)),
            (name("C"), FieldValue::Int(-7)),
            (
                name("D"),
                FieldValue::Number(Decimal::parse("1234567890.1234567").unwrap()),
            ),
            (name("E"), FieldValue::Text("2024-01-01".into())),
            (
                name("F"),
                FieldValue::Date(time::macros::date!(2024 - 02 - 29)),
            ),
            (name("G"), FieldValue::DateTime(-1)),
            (name("H"), FieldValue::Json(json!({"city": "Paris"}))),
        ])
    }

    #[test]
    fn texts_checkboxes_and_nulls_are_written_plain_and_the_rest_tagged() {
        let text = encode_values(&every_kind_of_value());
        let written: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(written["A"], Value::Null);
        assert_eq!(written["B"], json!(true));
        assert_eq!(written["E"], json!("2024-01-01"));
        assert_eq!(written["F"], json!({"t": "date", "v": "2024-02-29"}));
        assert_eq!(written["H"], json!({"t": "json", "v": {"city": "Paris"}}));
    }

    #[test]
    fn values_written_all_tagged_by_earlier_versions_still_read_back() {
        let earlier = r#"{"A":{"t":"null"},"B":{"t":"bool","v":true},"E":{"t":"text","v":"x"}}"#;
        let values = decode_values(earlier, || "snapshot".into()).unwrap();
        assert_eq!(values[&name("A")], FieldValue::Null);
        assert_eq!(values[&name("B")], FieldValue::Bool(true));
        assert_eq!(values[&name("E")], FieldValue::Text("x".into()));
        let change = r#"{"E":{"old":{"t":"text","v":"a"},"new":"b"}}"#;
        let fields = decode_changes(change, || "change".into()).unwrap();
        assert_eq!(fields[&name("E")].old, FieldValue::Text("a".into()));
        assert_eq!(fields[&name("E")].new, FieldValue::Text("b".into()));
    }

    #[test]
    fn every_kind_of_value_reads_back_as_itself() {
        let values = every_kind_of_value();
        let text = encode_values(&values);
        assert_eq!(decode_values(&text, String::new).unwrap(), values);
    }

    #[test]
    fn a_date_and_a_text_with_the_same_spelling_stay_apart() {
        let values = every_kind_of_value();
        let back = decode_values(&encode_values(&values), String::new).unwrap();
        assert!(matches!(back[&name("E")], FieldValue::Text(_)));
        assert!(matches!(back[&name("F")], FieldValue::Date(_)));
    }

    #[test]
    fn a_projection_reads_back_with_types_and_scales() {
        let projection = Projection::new(ObjectName::parse("Opportunity").unwrap())
            .with_field(name("Amount"), FieldType::Currency, Some(2))
            .with_field(
                name("Odd__c"),
                FieldType::Other("complexvalue".into()),
                None,
            )
            .with_spec(
                name("Margin__c"),
                FieldSpec {
                    field_type: FieldType::Currency,
                    scale: Some(2),
                    calculated: true,
                },
            );
        let text = encode_projection(&projection);
        assert_eq!(
            decode_projection(&projection.object, &text).unwrap(),
            projection
        );
    }

    #[test]
    fn a_row_that_does_not_decode_is_corrupt_and_named() {
        let what = || "snapshot 001 of Account".to_owned();
        for text in [
            "not json",
            r#"{"1bad": {"t": "null"}}"#,
            r#"{"A": {"t": "number", "v": "twelve"}}"#,
            r#"{"A": {"t": "date", "v": "2024-02-30"}}"#,
            r#"{"A": {"t": "colour", "v": 1}}"#,
        ] {
            let err = decode_values(text, what).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("corrupt snapshot 001 of Account"),
                "{err}"
            );
        }
    }

    #[test]
    fn stored_words_read_back_and_unknown_words_are_corrupt() {
        for status in [
            ConnectionStatus::Active,
            ConnectionStatus::NeedsReauthorization,
            ConnectionStatus::Disconnected,
        ] {
            assert_eq!(
                ConnectionStatus::from_text(status.as_text()).unwrap(),
                status
            );
        }
        let err = Role::from_text("owner").unwrap_err();
        assert_eq!(
            err.to_string(),
            "corrupt user role: unknown value \"owner\""
        );
    }

    #[test]
    fn schema_changes_read_back_and_need_their_field() {
        let hidden = SchemaChange::FieldHidden(name("Secret__c"));
        let (kind, field) = encode_schema_change(&hidden);
        assert_eq!(decode_schema_change(kind, field).unwrap(), hidden);
        assert!(decode_schema_change("field_added", None).is_err());
    }
}
