//! Field values: what one field of a record holds, as Salesforce sent it.
//!
//! A [`FieldValue`] is JSON's shape (null, boolean, number, text, object, array) with two
//! differences from `serde_json::Value` that matter for reading 2,000-record pages fast:
//! text read from a page body borrows from that body (one shared buffer, no copy per string),
//! and object keys are shared names. A value therefore keeps its page's body alive; call
//! [`FieldValue::to_json`] or [`Text::to_string`] to keep something past the page.
//! Numbers are kept as JSON wrote them (`1500` and `1500.0` differ): normalising by the describe
//! type is the caller's job.

use std::fmt;
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{Number, Value};

use crate::record::{FieldName, PageCache};

/// A string value, either borrowed from a page body or owned.
#[derive(Clone)]
pub struct Text(Repr);

#[derive(Clone)]
enum Repr {
    Shared {
        source: Arc<str>,
        start: u32,
        end: u32,
    },
    Owned(Box<str>),
}

impl Text {
    /// A slice of `source`; owned instead when the offsets do not fit in `u32`.
    pub(crate) fn shared(source: &Arc<str>, start: usize, end: usize) -> Self {
        match (u32::try_from(start), u32::try_from(end)) {
            (Ok(start), Ok(end)) => Self(Repr::Shared {
                source: source.clone(),
                start,
                end,
            }),
            _ => Self::from(&source[start..end]),
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Shared { source, start, end } => &source[*start as usize..*end as usize],
            Repr::Owned(text) => text,
        }
    }
}

impl From<&str> for Text {
    fn from(text: &str) -> Self {
        Self(Repr::Owned(text.into()))
    }
}

impl From<String> for Text {
    fn from(text: String) -> Self {
        Self(Repr::Owned(text.into_boxed_str()))
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Text {}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One field's value.
#[derive(Clone, Debug, Default)]
pub enum FieldValue {
    /// JSON null: an empty field (or, from Bulk CSV, an empty string).
    #[default]
    Null,
    /// A checkbox.
    Bool(bool),
    /// A number as written.
    Number(Number),
    /// Text: strings, ids, picklists, dates and date-times.
    Text(Text),
    /// A relationship (`Owner`, with its own `attributes`), a compound field (`BillingAddress`)
    /// or a subquery result; keys in the order sent.
    Object(Vec<(FieldName, FieldValue)>),
    /// An array (inside subquery results).
    Array(Vec<FieldValue>),
}

impl FieldValue {
    /// True for null.
    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }

    /// The text, for text values.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::Text(text) => Some(text.as_str()),
            _ => None,
        }
    }

    /// The boolean, for booleans.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Self::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number as `f64`, for numbers.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Self::Number(n) => n.as_f64(),
            _ => None,
        }
    }

    /// A key of an object value (`Owner` → `Name`).
    pub fn get(&self, key: &str) -> Option<&FieldValue> {
        match self {
            Self::Object(entries) => entries
                .iter()
                .find(|(k, _)| k.as_ref() == key)
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value as `serde_json::Value`, owning all its text.
    pub fn to_json(&self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Bool(b) => Value::Bool(*b),
            Self::Number(n) => Value::Number(n.clone()),
            Self::Text(t) => Value::String(t.as_str().to_owned()),
            Self::Object(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_json()))
                    .collect(),
            ),
            Self::Array(items) => Value::Array(items.iter().map(Self::to_json).collect()),
        }
    }

    /// The JSON type, for error messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Bool(_) => "a boolean",
            Self::Number(_) => "a number",
            Self::Text(_) => "a string",
            Self::Object(_) => "an object",
            Self::Array(_) => "an array",
        }
    }
}

impl PartialEq for FieldValue {
    /// Objects compare as maps: the same keys with equal values, in any order.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Null, Self::Null) => true,
            (Self::Bool(a), Self::Bool(b)) => a == b,
            (Self::Number(a), Self::Number(b)) => a == b,
            (Self::Text(a), Self::Text(b)) => a == b,
            (Self::Array(a), Self::Array(b)) => a == b,
            (Self::Object(a), Self::Object(b)) => {
                a.len() == b.len() && a.iter().all(|(key, value)| other.get(key) == Some(value))
            }
            _ => false,
        }
    }
}

impl From<Value> for FieldValue {
    fn from(value: Value) -> Self {
        match value {
            Value::Null => Self::Null,
            Value::Bool(b) => Self::Bool(b),
            Value::Number(n) => Self::Number(n),
            Value::String(s) => Self::Text(Text::from(s)),
            Value::Object(map) => {
                Self::Object(map.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
            }
            Value::Array(items) => Self::Array(items.into_iter().map(Self::from).collect()),
        }
    }
}

impl From<&str> for FieldValue {
    fn from(text: &str) -> Self {
        Self::Text(Text::from(text))
    }
}

impl Serialize for FieldValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Null => serializer.serialize_unit(),
            Self::Bool(b) => serializer.serialize_bool(*b),
            Self::Number(n) => n.serialize(serializer),
            Self::Text(t) => serializer.serialize_str(t.as_str()),
            Self::Object(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(key.as_ref(), value)?;
                }
                map.end()
            }
            Self::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
        }
    }
}

/// Reads one value, borrowing text from the page body and sharing key names.
pub(crate) struct ValueSeed<'a> {
    pub cache: &'a mut PageCache,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = FieldValue;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<FieldValue, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = FieldValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<FieldValue, E> {
        Ok(FieldValue::Null)
    }

    fn visit_none<E>(self) -> Result<FieldValue, E> {
        Ok(FieldValue::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<FieldValue, E> {
        Ok(FieldValue::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<FieldValue, E> {
        Ok(FieldValue::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<FieldValue, E> {
        Ok(FieldValue::Number(n.into()))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<FieldValue, E> {
        Number::from_f64(n)
            .map(FieldValue::Number)
            .ok_or_else(|| E::custom("a number that is not finite"))
    }

    fn visit_borrowed_str<E>(self, text: &'de str) -> Result<FieldValue, E> {
        Ok(FieldValue::Text(self.cache.text(text)))
    }

    fn visit_str<E>(self, text: &str) -> Result<FieldValue, E> {
        Ok(FieldValue::Text(Text::from(text)))
    }

    fn visit_string<E>(self, text: String) -> Result<FieldValue, E> {
        Ok(FieldValue::Text(Text::from(text)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FieldValue, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(ValueSeed {
            cache: &mut *self.cache,
        })? {
            items.push(item);
        }
        Ok(FieldValue::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FieldValue, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(4));
        while let Some(key) = map.next_key_seed(NameSeed {
            cache: &mut *self.cache,
        })? {
            let value = map.next_value_seed(ValueSeed {
                cache: &mut *self.cache,
            })?;
            entries.push((key, value));
        }
        Ok(FieldValue::Object(entries))
    }
}

/// Reads an object key as a shared name.
pub(crate) struct NameSeed<'a> {
    pub cache: &'a mut PageCache,
}

impl<'de> DeserializeSeed<'de> for NameSeed<'_> {
    type Value = FieldName;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<FieldName, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for NameSeed<'_> {
    type Value = FieldName;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E>(self, key: &str) -> Result<FieldName, E> {
        Ok(self.cache.nested_key(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_round_trip_through_json() {
        let json = json!({"a": [1, 2.5, null, true, "x"], "b": {"c": "d"}, "e": -3});
        let value = FieldValue::from(json.clone());
        assert_eq!(value.to_json(), json);
        assert_eq!(serde_json::to_value(&value).unwrap(), json);
        assert_eq!(
            value.get("b").unwrap().get("c").unwrap().as_str(),
            Some("d")
        );
    }

    #[test]
    fn objects_compare_as_maps_and_text_by_content() {
        let a = FieldValue::from(json!({"x": 1, "y": "t"}));
        let b = FieldValue::Object(vec![
            ("y".into(), "t".into()),
            ("x".into(), FieldValue::Number(1.into())),
        ]);
        assert_eq!(a, b);
        let source: Arc<str> = Arc::from("hello world");
        assert_eq!(
            FieldValue::Text(Text::shared(&source, 6, 11)),
            FieldValue::from("world")
        );
        assert_ne!(FieldValue::from(json!(1)), FieldValue::from(json!(1.0)));
    }
}
