//! A record: one row of an sObject as Salesforce returned it.
//!
//! Every REST record carries `attributes {type, url}` (§2.5). The fields never include
//! `attributes`; the object type from `attributes.type` is kept beside them. Fields are read by
//! name and iterated in name order, so their order never depends on the SELECT list or on
//! whether some crate switched on serde_json's `preserve_order` (rust-stack.md §1.6).
//! Relationship values (`Owner`) stay as Salesforce sent them, nested `attributes` included:
//! for a polymorphic lookup that is the only place the parent's type appears.
//!
//! Every record of a page has the same field names in the same order, so a page's records share
//! one [`Arc`]ed list of names and each record holds only its values. That keeps parsing at
//! one allocation per record plus its string values (see `benches/parse.rs`).

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::wire;

/// A field name → value map, ordered by name.
pub type Fields = BTreeMap<String, Value>;

/// A field name, shared by every record of a page.
pub type FieldName = Arc<str>;

/// The field names of a record in wire order, and their order by name.
#[derive(Debug, PartialEq, Eq)]
struct Schema {
    names: Vec<FieldName>,
    by_name: Vec<usize>,
}

impl Schema {
    /// Fails on a repeated name, which would make lookups ambiguous.
    fn build(names: Vec<FieldName>) -> std::result::Result<Self, String> {
        let mut by_name: Vec<usize> = (0..names.len()).collect();
        by_name.sort_unstable_by(|&a, &b| names[a].cmp(&names[b]));
        if let Some(pair) = by_name.windows(2).find(|w| names[w[0]] == names[w[1]]) {
            return Err(format!("field `{}` appears twice", names[pair[0]]));
        }
        Ok(Self { names, by_name })
    }

    fn position(&self, name: &str) -> Option<usize> {
        let found = self.by_name.binary_search_by(|&i| self.names[i].as_ref().cmp(name));
        found.ok().map(|slot| self.by_name[slot])
    }
}

/// One record of an sObject.
#[derive(Clone)]
pub struct Record {
    object: Arc<str>,
    schema: Arc<Schema>,
    values: Vec<Value>,
}

impl Record {
    /// Builds a record of `object` from its fields.
    pub fn new(object: impl Into<Arc<str>>, fields: Fields) -> Self {
        let (names, values): (Vec<FieldName>, Vec<Value>) =
            fields.into_iter().map(|(name, value)| (FieldName::from(name), value)).unzip();
        let schema = Schema::build(names).expect("map keys are unique");
        Self { object: object.into(), schema: Arc::new(schema), values }
    }

    /// The sObject type (`attributes.type`), e.g. `Account`.
    pub fn object(&self) -> &str {
        &self.object
    }

    /// The record's `Id`, when it was selected.
    pub fn id(&self) -> Option<&str> {
        self.get("Id").and_then(Value::as_str)
    }

    /// One field's value; `None` when the field was not selected.
    pub fn get(&self, field: &str) -> Option<&Value> {
        self.schema.position(field).map(|i| &self.values[i])
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when the record has no fields.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The fields in name order, `attributes` excluded.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.schema.by_name.iter().map(|&i| (self.schema.names[i].as_ref(), &self.values[i]))
    }

    /// The fields as a map.
    pub fn to_fields(&self) -> Fields {
        self.iter().map(|(name, value)| (name.to_owned(), value.clone())).collect()
    }

    /// Takes the fields out of the record as a map.
    pub fn into_fields(self) -> Fields {
        let names = self.schema.names.iter().map(|name| name.to_string());
        names.zip(self.values).collect()
    }

    /// A date-time field parsed with [`wire::parse_datetime`]; `Ok(None)` when absent or null,
    /// and a malformed error naming the field when it is not a date-time.
    pub fn datetime(&self, field: &str) -> Result<Option<OffsetDateTime>> {
        match self.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => wire::parse_datetime(text)
                .map(Some)
                .map_err(|err| Error::malformed("record", format!("field `{field}`: {err}"))),
            Some(other) => Err(Error::malformed(
                "record",
                format!("field `{field}` is {}, expected a date-time string", json_type(other)),
            )),
        }
    }

    /// `SystemModstamp`, the cursor field for incremental reads.
    pub fn system_modstamp(&self) -> Result<Option<OffsetDateTime>> {
        self.datetime("SystemModstamp")
    }

    /// True when `IsDeleted` is true (the row came from queryAll and sits in the Recycle Bin).
    pub fn is_deleted(&self) -> bool {
        self.get("IsDeleted") == Some(&Value::Bool(true))
    }
}

impl PartialEq for Record {
    fn eq(&self, other: &Self) -> bool {
        self.object == other.object && self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("object", &self.object)
            .field("fields", &fmt::from_fn(|f| f.debug_map().entries(self.iter()).finish()))
            .finish()
    }
}

/// Records of `object` from rows of values aligned with `columns` (Bulk results): one schema
/// shared by all of them. Fails on a repeated column name.
pub(crate) fn records_from_rows(object: &str, columns: &[String], rows: Vec<Vec<Value>>) -> Result<Vec<Record>> {
    let names = columns.iter().map(|c| FieldName::from(c.as_str())).collect();
    let schema = Arc::new(Schema::build(names).map_err(|e| Error::malformed("bulk results", e))?);
    let object: Arc<str> = object.into();
    let records = rows.into_iter().map(|values| Record { object: object.clone(), schema: schema.clone(), values });
    Ok(records.collect())
}

/// The JSON type of a value, for error messages.
pub(crate) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl<'de> Deserialize<'de> for Record {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        RecordSeed { cache: &mut PageCache::default() }.deserialize(deserializer)
    }
}

/// What the records of one page share: the last schema, interned names, the object type.
#[derive(Default)]
pub(crate) struct PageCache {
    schema: Option<Arc<Schema>>,
    names: HashMap<Box<str>, FieldName>,
    object: Option<Arc<str>>,
}

impl PageCache {
    fn intern(&mut self, name: &str) -> FieldName {
        if let Some(found) = self.names.get(name) {
            return found.clone();
        }
        let interned = FieldName::from(name);
        self.names.insert(name.into(), interned.clone());
        interned
    }

    fn object(&mut self, object: &str) -> Arc<str> {
        match &self.object {
            Some(cached) if cached.as_ref() == object => cached.clone(),
            _ => self.object.insert(Arc::from(object)).clone(),
        }
    }
}

/// Reads a JSON array of records sharing one [`PageCache`].
pub(crate) struct RecordsSeed<'a> {
    pub cache: &'a mut PageCache,
}

impl<'de> DeserializeSeed<'de> for RecordsSeed<'_> {
    type Value = Vec<Record>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> std::result::Result<Vec<Record>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RecordsSeed<'_> {
    type Value = Vec<Record>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Vec<Record>, A::Error> {
        let mut records = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(2000));
        while let Some(record) = seq.next_element_seed(RecordSeed { cache: self.cache })? {
            records.push(record);
        }
        Ok(records)
    }
}

/// Reads one record, reusing the previous record's schema when the names match.
struct RecordSeed<'a> {
    cache: &'a mut PageCache,
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = Record;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> std::result::Result<Record, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_> {
    type Value = Record;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a record object with attributes")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Record, A::Error> {
        let previous = self.cache.schema.clone();
        let expected: &[FieldName] = previous.as_ref().map_or(&[], |s| &s.names);
        let mut values = Vec::with_capacity(expected.len());
        let mut diverged: Option<Vec<FieldName>> = None;
        let mut object = None;
        loop {
            let next = if diverged.is_none() { expected.get(values.len()) } else { None };
            let seed = KeySeed { cache: &mut *self.cache, expected: next };
            match map.next_key_seed(seed)? {
                None => break,
                Some(Key::Attributes) => {
                    object = Some(map.next_value_seed(AttributesSeed { cache: &mut *self.cache })?);
                }
                Some(Key::Expected) => values.push(map.next_value::<Value>()?),
                Some(Key::Other(name)) => {
                    let names = diverged.get_or_insert_with(|| expected[..values.len()].to_vec());
                    names.push(name);
                    values.push(map.next_value::<Value>()?);
                }
            }
        }
        let object = object.ok_or_else(|| de::Error::missing_field("attributes"))?;
        if diverged.is_none() && values.len() != expected.len() {
            diverged = Some(expected[..values.len()].to_vec());
        }
        let schema = match (diverged, previous) {
            (None, Some(previous)) => previous,
            (names, _) => {
                let schema = Arc::new(Schema::build(names.unwrap_or_default()).map_err(de::Error::custom)?);
                self.cache.schema = Some(schema.clone());
                schema
            }
        };
        Ok(Record { object, schema, values })
    }
}

/// A record key: `attributes`, the name the schema expects here, or another name.
enum Key {
    Attributes,
    Expected,
    Other(FieldName),
}

struct KeySeed<'a> {
    cache: &'a mut PageCache,
    expected: Option<&'a FieldName>,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Key;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> std::result::Result<Key, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed<'_> {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> std::result::Result<Key, E> {
        Ok(match (key, self.expected) {
            ("attributes", _) => Key::Attributes,
            (key, Some(expected)) if expected.as_ref().cmp(key) == Ordering::Equal => Key::Expected,
            (key, _) => Key::Other(self.cache.intern(key)),
        })
    }
}

/// Reads `attributes {type, url}`, keeping the type (the url follows from it and the Id).
struct AttributesSeed<'a> {
    cache: &'a mut PageCache,
}

impl<'de> DeserializeSeed<'de> for AttributesSeed<'_> {
    type Value = Arc<str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> std::result::Result<Arc<str>, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for AttributesSeed<'_> {
    type Value = Arc<str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an attributes object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Arc<str>, A::Error> {
        let mut object = None;
        while let Some(key) = map.next_key::<AttributeKey>()? {
            match key {
                AttributeKey::Type => object = Some(map.next_value_seed(ObjectSeed { cache: &mut *self.cache })?),
                AttributeKey::Other => drop(map.next_value::<IgnoredAny>()?),
            }
        }
        object.ok_or_else(|| de::Error::missing_field("type"))
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum AttributeKey {
    Type,
    #[serde(other)]
    Other,
}

/// Reads `attributes.type` without allocating when it repeats.
struct ObjectSeed<'a> {
    cache: &'a mut PageCache,
}

impl<'de> DeserializeSeed<'de> for ObjectSeed<'_> {
    type Value = Arc<str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> std::result::Result<Arc<str>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for ObjectSeed<'_> {
    type Value = Arc<str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an sObject type name")
    }

    fn visit_str<E: de::Error>(self, object: &str) -> std::result::Result<Arc<str>, E> {
        Ok(self.cache.object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    fn parse(text: &str) -> Result<Record> {
        wire::parse_json("record", text.as_bytes())
    }

    fn parse_many(text: &str) -> Vec<Record> {
        let mut cache = PageCache::default();
        let mut de = serde_json::Deserializer::from_str(text);
        RecordsSeed { cache: &mut cache }.deserialize(&mut de).unwrap()
    }

    #[test]
    fn attributes_become_the_object_type_and_leave_the_fields() {
        let record = parse(
            r#"{"attributes":{"type":"Account","url":"/services/data/v62.0/sobjects/Account/001"},
                "Id":"001000000000001AAA","Name":"Acme","IsDeleted":false,
                "Owner":{"attributes":{"type":"User","url":"/x"},"Name":"Ann"},
                "SystemModstamp":"2024-01-01T00:00:00.000+0000"}"#,
        )
        .unwrap();
        assert_eq!(record.object(), "Account");
        assert_eq!(record.id(), Some("001000000000001AAA"));
        assert!(record.get("attributes").is_none());
        assert_eq!(record.get("Owner").unwrap()["attributes"]["type"], json!("User"));
        assert_eq!(record.system_modstamp().unwrap(), Some(datetime!(2024-01-01 0:00 UTC)));
        assert!(!record.is_deleted());
        let names: Vec<&str> = record.iter().map(|(name, _)| name).collect();
        assert_eq!(names, ["Id", "IsDeleted", "Name", "Owner", "SystemModstamp"]);
    }

    #[test]
    fn records_with_other_names_or_fewer_fields_get_their_own_schema() {
        let records = parse_many(
            r#"[{"attributes":{"type":"A"},"Id":"1","Name":"x"},
                {"Id":"2","attributes":{"type":"A"},"Name":"y"},
                {"attributes":{"type":"B"},"Id":"3"},
                {"attributes":{"type":"A"},"Id":"4","Other":true},
                {"attributes":{"type":"A"},"Id":"5","Other":false,"More":1}]"#,
        );
        assert_eq!(records[1].get("Name"), Some(&json!("y")));
        assert!(Arc::ptr_eq(&records[0].schema, &records[1].schema));
        assert_eq!((records[2].object(), records[2].len()), ("B", 1));
        assert_eq!(records[2].get("Name"), None);
        assert_eq!(records[3].get("Other"), Some(&json!(true)));
        assert_eq!(records[4].get("More"), Some(&json!(1)));
        assert_eq!(records[4].get("Name"), None);
    }

    #[test]
    fn a_record_built_from_fields_equals_the_parsed_one() {
        let parsed = parse(r#"{"attributes":{"type":"A"},"b":1,"a":null}"#).unwrap();
        let built = Record::new("A", Fields::from([("a".into(), Value::Null), ("b".into(), json!(1))]));
        assert_eq!(parsed, built);
        assert_eq!(parsed.clone().into_fields(), built.to_fields());
    }

    #[test]
    fn a_repeated_field_is_malformed() {
        let err = parse(r#"{"attributes":{"type":"A"},"Id":"1","Id":"2"}"#).unwrap_err();
        assert!(err.to_string().contains("appears twice"), "{err}");
    }

    #[test]
    fn a_record_without_attributes_or_type_is_malformed() {
        let err = parse(r#"{"Id":"001"}"#).unwrap_err();
        assert!(err.to_string().contains("attributes"), "{err}");
        let err = parse(r#"{"attributes":{"url":"/x"},"Id":"001"}"#).unwrap_err();
        assert!(err.to_string().contains("type"), "{err}");
    }

    #[test]
    fn a_non_datetime_field_read_as_datetime_names_the_field() {
        let record = parse(r#"{"attributes":{"type":"A"},"SystemModstamp":5}"#).unwrap();
        let err = record.system_modstamp().unwrap_err();
        assert!(err.to_string().contains("SystemModstamp"), "{err}");
        assert!(err.to_string().contains("a number"), "{err}");
    }
}
