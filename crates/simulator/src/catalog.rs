//! The bridge between an org and the SOQL engine: what the integration user can name
//! (`Catalog`) and how a stored record reads as a row (`Row`), formulas included.

use std::sync::Arc;

use sfsync_soql::{Catalog, FieldInfo, FieldKind, Row, Value};

use crate::clock::Millis;
use crate::ids::parse_id;
use crate::org::{OrgData, Record, Table};
use crate::schema::{FieldDef, Formula};

/// The org as the integration user sees it.
pub struct UserCatalog<'a> {
    pub org: &'a OrgData,
}

/// Whether a field of this kind can appear in WHERE or ORDER BY. Long text areas cannot,
/// nor can compound fields in ORDER BY (SOQL reference, "filterable" and "sortable").
fn filterable(field: &FieldDef) -> bool {
    !(field.kind == FieldKind::TextArea && field.length > 255)
}

fn sortable(field: &FieldDef) -> bool {
    filterable(field) && field.kind != FieldKind::Address && field.kind != FieldKind::MultiPicklist
}

/// What the SOQL binder knows of a field.
pub fn field_info(index: usize, field: &FieldDef) -> FieldInfo {
    FieldInfo {
        name: field.name.clone(),
        index,
        kind: field.kind,
        filterable: filterable(field),
        sortable: sortable(field),
    }
}

impl Catalog for UserCatalog<'_> {
    fn object(&self, name: &str) -> Option<String> {
        self.org
            .table_index(name)
            .map(|i| self.org.tables[i].def.name.clone())
    }

    fn field(&self, object: &str, field: &str) -> Option<FieldInfo> {
        let table = self.org.table(object).ok()?;
        let index = table.def.field_index(field)?;
        Some(field_info(index, &table.def.fields[index]))
    }

    fn parent_relationship(&self, object: &str, relationship: &str) -> Option<(usize, String)> {
        let table = self.org.table(object).ok()?;
        table.def.fields.iter().enumerate().find_map(|(i, f)| {
            let name = f.relationship_name.as_deref()?;
            let target = f.reference_to.first()?;
            (f.is_readable()
                && name.eq_ignore_ascii_case(relationship)
                && self.object(target).is_some())
            .then(|| (i, target.clone()))
        })
    }

    fn relationship_name(&self, object: &str, reference_index: usize, written: &str) -> String {
        let field = self
            .org
            .table(object)
            .ok()
            .and_then(|t| t.def.fields.get(reference_index));
        let canonical = field.and_then(|f| f.relationship_name.clone());
        canonical.unwrap_or_else(|| written.to_string())
    }

    fn fields(&self, object: &str) -> Vec<FieldInfo> {
        let Ok(table) = self.org.table(object) else {
            return Vec::new();
        };
        let readable = table
            .def
            .fields
            .iter()
            .enumerate()
            .filter(|(_, f)| f.is_readable());
        readable.map(|(i, f)| field_info(i, f)).collect()
    }
}

/// A stored record read through the org: formulas computed, lookups followed.
#[derive(Clone, Copy)]
pub struct RecordRow<'a> {
    pub org: &'a OrgData,
    pub table: &'a Table,
    pub record: &'a Record,
    pub now: Millis,
}

impl<'a> RecordRow<'a> {
    /// A row of `record` in `table`.
    pub fn new(org: &'a OrgData, table: &'a Table, record: &'a Record, now: Millis) -> Self {
        RecordRow {
            org,
            table,
            record,
            now,
        }
    }

    fn by_name(&self, name: &str) -> Value {
        match self.table.def.any_field_index(name) {
            Some(i) => self.value(i),
            None => Value::Null,
        }
    }

    fn formula(&self, formula: &Formula) -> Value {
        match formula {
            Formula::ExpectedRevenue => match (
                number(&self.by_name("Amount")),
                number(&self.by_name("Probability")),
            ) {
                (Some(a), Some(p)) => Value::Double((a * p / 100.0 * 100.0).round() / 100.0),
                _ => Value::Null,
            },
            Formula::ParentField { reference, field } => {
                let Some(index) = self.table.def.any_field_index(reference) else {
                    return Value::Null;
                };
                self.follow(index)
                    .map(|parent| parent.by_name(field))
                    .unwrap_or(Value::Null)
            }
            Formula::DaysOverdue {
                due,
                status,
                paid_value,
            } => {
                let paid =
                    matches!(self.by_name(status), Value::Text(ref s) if **s == **paid_value);
                match self.by_name(due) {
                    Value::Date(due) if !paid => {
                        let today = (self.now.div_euclid(86_400_000)) as i32;
                        Value::Double(f64::from((today - due).max(0)))
                    }
                    _ => Value::Null,
                }
            }
        }
    }

    /// The compound address value's components, in Salesforce's JSON key order.
    pub fn address_parts(&self, compound: &str) -> Vec<(&'static str, FieldKind, Value)> {
        let prefix = compound.trim_end_matches("Address");
        let part = |suffix: &str| self.by_name(&format!("{prefix}{suffix}"));
        vec![
            ("city", FieldKind::String, part("City")),
            ("country", FieldKind::String, part("Country")),
            (
                "geocodeAccuracy",
                FieldKind::String,
                part("GeocodeAccuracy"),
            ),
            ("latitude", FieldKind::Double, part("Latitude")),
            ("longitude", FieldKind::Double, part("Longitude")),
            ("postalCode", FieldKind::String, part("PostalCode")),
            ("state", FieldKind::String, part("State")),
            ("street", FieldKind::String, part("Street")),
        ]
    }
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Double(d) => Some(*d),
        Value::Int(i) => Some(*i as f64),
        _ => None,
    }
}

impl Row for RecordRow<'_> {
    fn value(&self, index: usize) -> Value {
        let Some(field) = self.table.def.fields.get(index) else {
            return Value::Null;
        };
        match &field.formula {
            Some(formula) => self.formula(formula),
            // A compound address is "non-null" when any component is set; SOQL filters on it
            // only through `!= null`, so a marker value is enough here.
            None if field.kind == FieldKind::Address => {
                let any = self
                    .address_parts(&field.name)
                    .iter()
                    .any(|(_, _, v)| *v != Value::Null);
                if any {
                    Value::Text(Arc::from("address"))
                } else {
                    Value::Null
                }
            }
            None => self.record.get(index),
        }
    }

    fn follow(&self, reference_index: usize) -> Option<Self> {
        let Value::Text(id) = self.record.get(reference_index) else {
            return None;
        };
        let key = parse_id(&id)?;
        let (t, record) = self.org.find(&key)?;
        let table = &self.org.tables[t];
        // A parent in the recycle bin is not visible through the lookup.
        (!table.is_deleted(record)).then(|| RecordRow::new(self.org, table, record, self.now))
    }
}
