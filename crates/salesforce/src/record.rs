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
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::value::{FieldValue, Text, ValueSeed};
use crate::wire;

/// A field name → value map, ordered by name.
pub type Fields = BTreeMap<String, FieldValue>;

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
        let found = self
            .by_name
            .binary_search_by(|&i| self.names[i].as_ref().cmp(name));
        found.ok().map(|slot| self.by_name[slot])
    }
}

/// One record of an sObject.
#[derive(Clone)]
pub struct Record {
    object: Arc<str>,
    schema: Arc<Schema>,
    values: Vec<FieldValue>,
}

impl Record {
    /// Builds a record of `object` from its fields.
    pub fn new(object: impl Into<Arc<str>>, fields: Fields) -> Self {
        let (names, values): (Vec<FieldName>, Vec<FieldValue>) = fields
            .into_iter()
            .map(|(name, value)| (FieldName::from(name), value))
            .unzip();
        let schema = Schema::build(names).expect("map keys are unique");
        Self {
            object: object.into(),
            schema: Arc::new(schema),
            values,
        }
    }

    /// The sObject type (`attributes.type`), e.g. `Account`.
    pub fn object(&self) -> &str {
        &self.object
    }

    /// The record's `Id`, when it was selected.
    pub fn id(&self) -> Option<&str> {
        self.get("Id").and_then(FieldValue::as_str)
    }

    /// One field's value; `None` when the field was not selected.
    pub fn get(&self, field: &str) -> Option<&FieldValue> {
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
    pub fn iter(&self) -> impl Iterator<Item = (&str, &FieldValue)> {
        self.schema
            .by_name
            .iter()
            .map(|&i| (self.schema.names[i].as_ref(), &self.values[i]))
    }

    /// The field names in the order Salesforce sent them; [`Record::values`] holds the
    /// values in the same order.
    pub fn names(&self) -> impl ExactSizeIterator<Item = &str> {
        self.schema.names.iter().map(AsRef::as_ref)
    }

    /// The values in the order of [`Record::names`].
    pub fn values(&self) -> &[FieldValue] {
        &self.values
    }

    /// Whether `other` has the same field names in the same order, as the records of one
    /// page normally do (they then share one list): a lookup done with one record's names
    /// holds for the other's values.
    pub fn has_fields_of(&self, other: &Record) -> bool {
        Arc::ptr_eq(&self.schema, &other.schema) || self.schema.names == other.schema.names
    }

    /// The fields as a map.
    pub fn to_fields(&self) -> Fields {
        self.iter()
            .map(|(name, value)| (name.to_owned(), value.clone()))
            .collect()
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
            None | Some(FieldValue::Null) => Ok(None),
            Some(FieldValue::Text(text)) => wire::parse_datetime(text.as_str())
                .map(Some)
                .map_err(|err| Error::malformed("record", format!("field `{field}`: {err}"))),
            Some(other) => Err(Error::malformed(
                "record",
                format!(
                    "field `{field}` is {}, expected a date-time string",
                    other.type_name()
                ),
            )),
        }
    }

    /// `SystemModstamp`, the cursor field for incremental reads.
    pub fn system_modstamp(&self) -> Result<Option<OffsetDateTime>> {
        self.datetime("SystemModstamp")
    }

    /// True when `IsDeleted` is true (the row came from queryAll and sits in the Recycle Bin).
    pub fn is_deleted(&self) -> bool {
        self.get("IsDeleted") == Some(&FieldValue::Bool(true))
    }
}

impl PartialEq for Record {
    fn eq(&self, other: &Self) -> bool {
        self.object == other.object && self.len() == other.len() && self.iter().eq(other.iter())
    }
}

/// Serializes in Salesforce's shape, `attributes.type` first, so the output reads back as a
/// `Record`.
impl Serialize for Record {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len() + 1))?;
        map.serialize_entry("attributes", &serde_json::json!({ "type": self.object() }))?;
        for (name, value) in self.iter() {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("object", &self.object)
            .field(
                "fields",
                &fmt::from_fn(|f| f.debug_map().entries(self.iter()).finish()),
            )
            .finish()
    }
}

/// Records of `object` from rows of values aligned with `columns` (Bulk results): one schema
/// shared by all of them. Fails on a repeated column name.
pub(crate) fn records_from_rows(
    object: &str,
    columns: &[String],
    rows: Vec<Vec<FieldValue>>,
) -> Result<Vec<Record>> {
    let names = columns
        .iter()
        .map(|c| FieldName::from(c.as_str()))
        .collect();
    let schema = Arc::new(Schema::build(names).map_err(|e| Error::malformed("bulk results", e))?);
    let object: Arc<str> = object.into();
    let records = rows.into_iter().map(|values| Record {
        object: object.clone(),
        schema: schema.clone(),
        values,
    });
    Ok(records.collect())
}

impl<'de> Deserialize<'de> for Record {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        RecordSeed {
            cache: &mut PageCache::default(),
        }
        .deserialize(deserializer)
    }
}

/// What the records of one page share: the last schema, interned names, the object type.
#[derive(Default)]
pub(crate) struct PageCache {
    source: Option<Arc<str>>,
    schema: Option<Arc<Schema>>,
    names: HashMap<Box<str>, FieldName>,
    object: Option<Arc<str>>,
    nested: Vec<FieldName>,
    nested_at: usize,
}

impl PageCache {
    /// A cache whose text values borrow from `source`, the body being parsed.
    pub(crate) fn with_source(source: Arc<str>) -> Self {
        Self {
            source: Some(source),
            ..Self::default()
        }
    }

    /// Text borrowed from the body when `text` lies inside it, else copied.
    pub(crate) fn text(&self, text: &str) -> Text {
        if let Some(source) = &self.source {
            // Address arithmetic only: `text` is a slice of `source` exactly when its bytes
            // lie inside it, and then its offsets are char boundaries of `source`.
            let base = source.as_ptr() as usize;
            let at = text.as_ptr() as usize;
            if at >= base && at + text.len() <= base + source.len() {
                return Text::shared(source, at - base, at - base + text.len());
            }
        }
        Text::from(text)
    }

    /// The schema of a record just read: the previous one when the names matched it, else a
    /// new one built from `diverged` that later records are compared against.
    fn settle(
        &mut self,
        previous: Option<Arc<Schema>>,
        diverged: Option<Vec<FieldName>>,
    ) -> std::result::Result<Arc<Schema>, String> {
        if let (None, Some(previous)) = (&diverged, previous) {
            return Ok(previous);
        }
        let schema = Arc::new(Schema::build(diverged.unwrap_or_default())?);
        self.schema = Some(schema.clone());
        Ok(schema)
    }

    /// A key of a nested object (`Owner.Name`, `BillingAddress.city`). Records of a page nest
    /// the same keys in the same order, so the keys of the previous record are replayed first
    /// and the hash map is consulted only when they differ.
    pub(crate) fn nested_key(&mut self, key: &str) -> FieldName {
        let at = self.nested_at;
        self.nested_at += 1;
        if let Some(name) = self.nested.get(at).filter(|name| name.as_ref() == key) {
            return name.clone();
        }
        let name = self.intern(key);
        self.nested.truncate(at);
        self.nested.push(name.clone());
        name
    }

    /// Marks the start of a record for [`Self::nested_key`].
    fn start_record(&mut self) {
        self.nested_at = 0;
    }

    pub(crate) fn intern(&mut self, name: &str) -> FieldName {
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

    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> std::result::Result<Vec<Record>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RecordsSeed<'_> {
    type Value = Vec<Record>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Vec<Record>, A::Error> {
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

    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> std::result::Result<Record, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_> {
    type Value = Record;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a record object with attributes")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Record, A::Error> {
        self.cache.start_record();
        let previous = self.cache.schema.clone();
        let expected: &[FieldName] = previous.as_ref().map_or(&[], |s| &s.names);
        let mut values = Vec::with_capacity(expected.len());
        let mut diverged: Option<Vec<FieldName>> = None;
        let mut object = None;
        loop {
            let next = if diverged.is_none() {
                expected.get(values.len())
            } else {
                None
            };
            let seed = KeySeed {
                cache: &mut *self.cache,
                expected: next,
            };
            match map.next_key_seed(seed)? {
                None => break,
                Some(Key::Attributes) => {
                    object = Some(map.next_value_seed(AttributesSeed {
                        cache: &mut *self.cache,
                    })?);
                }
                Some(Key::Expected) => values.push(map.next_value_seed(ValueSeed {
                    cache: &mut *self.cache,
                })?),
                Some(Key::Other(name)) => {
                    let names = diverged.get_or_insert_with(|| expected[..values.len()].to_vec());
                    names.push(name);
                    values.push(map.next_value_seed(ValueSeed {
                        cache: &mut *self.cache,
                    })?);
                }
            }
        }
        let object = object.ok_or_else(|| de::Error::missing_field("attributes"))?;
        if diverged.is_none() && values.len() != expected.len() {
            diverged = Some(expected[..values.len()].to_vec());
        }
        let schema = self
            .cache
            .settle(previous, diverged)
            .map_err(de::Error::custom)?;
        Ok(Record {
            object,
            schema,
            values,
        })
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

    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> std::result::Result<Key, D::Error> {
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

    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> std::result::Result<Arc<str>, D::Error> {
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
                AttributeKey::Type => {
                    object = Some(map.next_value_seed(ObjectSeed {
                        cache: &mut *self.cache,
                    })?)
                }
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

    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> std::result::Result<Arc<str>, D::Error> {
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
        RecordsSeed { cache: &mut cache }
            .deserialize(&mut de)
            .unwrap()
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
        let owner = record.get("Owner").unwrap();
        assert_eq!(
            owner
                .get("attributes")
                .unwrap()
                .get("type")
                .unwrap()
                .as_str(),
            Some("User")
        );
        assert_eq!(
            record.system_modstamp().unwrap(),
            Some(datetime!(2024-01-01 0:00 UTC))
        );
        assert!(!record.is_deleted());
        let names: Vec<&str> = record.iter().map(|(name, _)| name).collect();
        assert_eq!(
            names,
            ["Id", "IsDeleted", "Name", "Owner", "SystemModstamp"]
        );
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
        assert_eq!(records[1].get("Name"), Some(&FieldValue::from("y")));
        assert!(Arc::ptr_eq(&records[0].schema, &records[1].schema));
        assert_eq!((records[2].object(), records[2].len()), ("B", 1));
        assert_eq!(records[2].get("Name"), None);
        assert_eq!(records[3].get("Other"), Some(&FieldValue::Bool(true)));
        assert_eq!(records[4].get("More"), Some(&FieldValue::from(json!(1))));
        assert_eq!(records[4].get("Name"), None);
    }

    #[test]
    fn a_record_built_from_fields_equals_the_parsed_one() {
        let parsed = parse(r#"{"attributes":{"type":"A"},"b":1,"a":null}"#).unwrap();
        let built = Record::new(
            "A",
            Fields::from([
                ("a".into(), FieldValue::Null),
                ("b".into(), json!(1).into()),
            ]),
        );
        assert_eq!(parsed, built);
        assert_eq!(parsed.clone().into_fields(), built.to_fields());
    }

    #[test]
    fn a_serialized_record_reads_back_equal() {
        let record = parse(
            r#"{"attributes":{"type":"A","url":"/u"},"Id":"1","Owner":{"Name":"n"},"N":2.5}"#,
        )
        .unwrap();
        let text = serde_json::to_string(&record).unwrap();
        assert!(text.starts_with(r#"{"attributes":{"type":"A"}"#), "{text}");
        assert_eq!(parse(&text).unwrap(), record);
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
