//! Records, snapshots and projections.
//!
//! A record is one row of an object as read in one run: its Id and the normalised values of
//! the fields that read included. A snapshot is what sfsync holds for a record between runs:
//! the last values of its projected fields and whether it was deleted. A projection is the
//! set of fields sfsync reads for an object, with the describe type that decides how each
//! value is normalised.
//!
//! Values live in a [`BTreeMap`] rather than a `serde_json::Map`, whose order depends on
//! which serde_json features the build happened to unify (rust-stack.md §1.6); a sorted map
//! makes snapshots compare and hash the same in every build.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::{Error, FieldName, FieldType, FieldValue, ObjectName, RecordId, normalize};

/// How one projected field is read: its describe type and, for numbers, its scale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    /// The describe `type`.
    pub field_type: FieldType,
    /// The describe `scale` (decimal places), for `double`, `currency` and `percent`.
    pub scale: Option<u32>,
    /// Whether it is a formula (describe `calculated`): its value can change without a new
    /// SystemModstamp, so it is also refreshed on its own schedule.
    pub calculated: bool,
}

/// The fields sfsync reads for one object: visible, queryable, not compound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Projection {
    /// The object the fields belong to.
    pub object: ObjectName,
    /// The fields, by name.
    pub fields: BTreeMap<FieldName, FieldSpec>,
}

impl Projection {
    /// An empty projection of `object`.
    pub fn new(object: ObjectName) -> Self {
        Self {
            object,
            fields: BTreeMap::new(),
        }
    }

    /// Adds a field, leaving out compound fields: their components are read instead, and
    /// reading both would report one change twice.
    pub fn with_field(self, name: FieldName, field_type: FieldType, scale: Option<u32>) -> Self {
        let spec = FieldSpec {
            field_type,
            scale,
            calculated: false,
        };
        self.with_spec(name, spec)
    }

    /// Adds a field with its whole spec, leaving out compound fields as
    /// [`with_field`](Self::with_field) does.
    pub fn with_spec(mut self, name: FieldName, spec: FieldSpec) -> Self {
        if !spec.field_type.is_compound() {
            self.fields.insert(name, spec);
        }
        self
    }

    /// The formula fields, in name order.
    pub fn formulas(&self) -> impl Iterator<Item = &FieldName> {
        self.fields
            .iter()
            .filter(|(_, spec)| spec.calculated)
            .map(|(name, _)| name)
    }

    /// Whether `name` is projected.
    pub fn contains(&self, name: &FieldName) -> bool {
        self.fields.contains_key(name)
    }

    /// Builds a record from one row of a REST query result: `Id` plus each projected field
    /// the row carries. Fields the row lacks stay absent (not null), so a partial read, such
    /// as a formula refresh, never looks like a field emptied; unprojected keys, such as
    /// `attributes`, are ignored.
    pub fn build_record(&self, row: &Map<String, Value>) -> Result<Record, Error> {
        let id_text = row.get("Id").and_then(Value::as_str).unwrap_or_default();
        self.build_record_from(id_text, row.iter().map(|(k, v)| (k.as_str(), v)))
    }

    /// Builds a record from its Id and its fields as they come, without first gathering
    /// them into a map.
    pub fn build_record_from<'a, V: std::borrow::Borrow<Value>>(
        &self,
        id: &str,
        fields: impl IntoIterator<Item = (&'a str, V)>,
    ) -> Result<Record, Error> {
        let mut record = Record::new(RecordId::parse(id)?);
        for (key, raw) in fields {
            let Ok(name) = FieldName::parse(key) else {
                continue;
            };
            if let Some(spec) = self.fields.get(&name) {
                let value = normalize(&spec.field_type, spec.scale, raw.borrow())?;
                record.values.insert(name, value);
            }
        }
        Ok(record)
    }

    /// The projected fields among `names`, the field names of rows that all carry the same
    /// ones in the same order, as the rows of a query page do: looked up once for the page
    /// rather than name by name in every row.
    pub fn columns<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Columns<'_> {
        let mut slots: Vec<_> = names
            .into_iter()
            .enumerate()
            .filter_map(|(position, name)| {
                let (name, spec) = self.fields.get_key_value(&FieldName::parse(name).ok()?)?;
                Some(Slot {
                    position,
                    name,
                    spec,
                })
            })
            .collect();
        // In name order, so that each record's map is built from sorted entries.
        slots.sort_by(|a, b| a.name.cmp(b.name));
        Columns { slots }
    }
}

/// The projected fields among a page's columns; see [`Projection::columns`].
#[derive(Debug)]
pub struct Columns<'p> {
    slots: Vec<Slot<'p>>,
}

#[derive(Debug)]
struct Slot<'p> {
    /// Where the field stands among the row's values.
    position: usize,
    name: &'p FieldName,
    spec: &'p FieldSpec,
}

impl Columns<'_> {
    /// Builds a record from its Id and a row's values, `value_at(position)` being the value
    /// of the column at `position` among the names the columns were worked out from. The
    /// record holds the projected fields only, as [`Projection::build_record_from`] does.
    pub fn build_record<V: std::borrow::Borrow<Value>>(
        &self,
        id: &str,
        value_at: impl Fn(usize) -> V,
    ) -> Result<Record, Error> {
        let id = RecordId::parse(id)?;
        let values = self
            .slots
            .iter()
            .map(|slot| {
                let raw = value_at(slot.position);
                let value = normalize(&slot.spec.field_type, slot.spec.scale, raw.borrow())?;
                Ok((slot.name.clone(), value))
            })
            .collect::<Result<_, Error>>()?;
        Ok(Record { id, values })
    }
}

/// One row of an object as read in one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The record's Id.
    pub id: RecordId,
    /// The normalised values of the fields this read included.
    pub values: BTreeMap<FieldName, FieldValue>,
}

impl Record {
    /// A record with no values yet.
    pub fn new(id: RecordId) -> Self {
        Self {
            id,
            values: BTreeMap::new(),
        }
    }
}

/// What sfsync holds for a record between runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The record's Id.
    pub id: RecordId,
    /// The last known values of projected fields. A field that was never read is absent,
    /// which is not the same as a field read as null.
    pub values: BTreeMap<FieldName, FieldValue>,
    /// Whether the record was last seen in the recycle bin (`IsDeleted = true`).
    pub is_deleted: bool,
}

impl Snapshot {
    /// The first snapshot of a record that sfsync never held, such as one read by the
    /// initial load: the record's values as they are, since
    /// [`Projection::build_record_from`] keeps only projected fields. It equals
    /// [`Snapshot::next`] without a `before`, without copying every value a second time.
    pub fn baseline(record: Record, is_deleted: bool) -> Self {
        Self {
            id: record.id,
            values: record.values,
            is_deleted,
        }
    }

    /// The snapshot to hold after reading `after`: its projected values over those of
    /// `before`, with fields that left the projection dropped, so a field that comes back
    /// later is backfilled rather than compared with a stale value.
    pub fn next(
        before: Option<&Snapshot>,
        after: &Record,
        is_deleted: bool,
        projection: &Projection,
    ) -> Self {
        let carried = before.into_iter().flat_map(|b| &b.values);
        let values = carried
            .chain(&after.values)
            .filter(|(name, _)| projection.contains(name))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        Self {
            id: after.id.clone(),
            values,
            is_deleted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn name(text: &str) -> FieldName {
        FieldName::parse(text).unwrap()
    }

    fn projection() -> Projection {
        Projection::new(ObjectName::parse("Opportunity").unwrap())
            .with_field(name("Amount"), FieldType::Currency, Some(2))
            .with_field(name("StageName"), FieldType::Picklist, None)
            .with_field(name("BillingAddress"), FieldType::Address, None)
    }

    #[test]
    fn compound_fields_never_enter_a_projection() {
        assert!(!projection().contains(&name("BillingAddress")));
        assert!(projection().contains(&name("stagename")));
    }

    #[test]
    fn a_rest_row_becomes_a_record_of_its_projected_fields() {
        let row = json!({
            "attributes": {"type": "Opportunity"},
            "Id": "006000000000001",
            "Amount": 1.5e3,
            "StageName": "Prospecting",
            "Unprojected__c": "ignored"
        });
        let record = projection().build_record(row.as_object().unwrap()).unwrap();
        assert_eq!(record.id.as_str(), "006000000000001AAA");
        assert_eq!(record.values.len(), 2);
        assert_eq!(
            record.values[&name("Amount")],
            FieldValue::Number(crate::Decimal::from_int(1500))
        );
    }

    #[test]
    fn columns_worked_out_once_build_the_same_records_as_a_lookup_per_row() {
        let names = [
            "Id",
            "StageName",
            "unprojected__c",
            "amount",
            "BillingAddress",
        ];
        let rows = [
            json!(["006000000000001", "Won", 1, 12.5, {"city": "Oslo"}]),
            json!(["006000000000002", null, 2, "7", null]),
        ];
        let projection = projection();
        let columns = projection.columns(names);
        for row in rows {
            let values = row.as_array().unwrap();
            let id = values[0].as_str().unwrap();
            let by_columns = columns.build_record(id, |i| &values[i]).unwrap();
            let by_name = projection
                .build_record_from(id, names.iter().copied().zip(values))
                .unwrap();
            assert_eq!(by_columns, by_name);
            assert_eq!(by_columns.values.len(), 2, "Amount and StageName only");
        }
    }

    #[test]
    fn a_row_without_a_valid_id_is_an_error() {
        let row = json!({"Amount": 1});
        assert!(projection().build_record(row.as_object().unwrap()).is_err());
    }

    #[test]
    fn a_baseline_is_the_next_snapshot_of_nothing() {
        let row = json!({"Id": "006000000000001", "Amount": 2, "StageName": "Won", "X__c": 1});
        let record = projection().build_record(row.as_object().unwrap()).unwrap();
        let next = Snapshot::next(None, &record, true, &projection());
        assert_eq!(Snapshot::baseline(record, true), next);
    }

    #[test]
    fn a_partial_read_keeps_the_other_values_and_drops_unprojected_ones() {
        let id = RecordId::parse("006000000000001").unwrap();
        let before = Snapshot {
            id: id.clone(),
            values: BTreeMap::from([
                (name("Amount"), FieldValue::Int(1)),
                (name("StageName"), FieldValue::Text("Prospecting".into())),
                (name("Hidden__c"), FieldValue::Text("secret".into())),
            ]),
            is_deleted: false,
        };
        let mut after = Record::new(id);
        after.values.insert(name("Amount"), FieldValue::Int(2));
        let next = Snapshot::next(Some(&before), &after, false, &projection());
        assert_eq!(next.values[&name("Amount")], FieldValue::Int(2));
        assert_eq!(
            next.values[&name("StageName")],
            FieldValue::Text("Prospecting".into())
        );
        assert!(!next.values.contains_key(&name("Hidden__c")));
    }
}
