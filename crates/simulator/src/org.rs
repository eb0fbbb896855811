//! One simulated Salesforce org: its objects, records, recycle bin and delete log.
//!
//! Records are immutable once built and shared through `Arc`: an update replaces the row's
//! `Arc`, so a query locator can hold a snapshot of its result set for the price of a
//! pointer per row, as Salesforce's server-side cursors do.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value as Json;
use sfsync_soql::{FieldKind, Value};

use crate::clock::Millis;
use crate::error::SimError;
use crate::ids::{IdBytes, id_str, make_id, parse_id};
use crate::schema::{FieldDef, ObjectDef, STAGES};

/// One record: its Id and a value per field position.
#[derive(Debug, Clone)]
pub struct Record {
    pub id: IdBytes,
    pub values: Box<[Value]>,
}

impl Record {
    /// The stored value at `index` (`Null` past the end, for fields added after the record).
    pub fn get(&self, index: usize) -> Value {
        self.values.get(index).cloned().unwrap_or(Value::Null)
    }

    fn set(&mut self, index: usize, value: Value) {
        if index >= self.values.len() {
            let mut grown = self.values.to_vec();
            grown.resize(index + 1, Value::Null);
            self.values = grown.into_boxed_slice();
        }
        self.values[index] = value;
    }
}

/// One object's definition and rows.
#[derive(Debug, Clone)]
pub struct Table {
    pub def: ObjectDef,
    pub rows: BTreeMap<IdBytes, Arc<Record>>,
    pub next_counter: u64,
    pub next_auto_number: u64,
    /// Positions of the system fields, looked up once.
    pub sys: SystemIndexes,
}

/// Where the system fields sit in a table's records.
#[derive(Debug, Clone, Copy)]
pub struct SystemIndexes {
    pub id: usize,
    pub is_deleted: Option<usize>,
    pub system_modstamp: usize,
    pub last_modified: usize,
    pub created: usize,
    pub master_record: Option<usize>,
}

impl Table {
    fn new(def: ObjectDef) -> Self {
        let sys = SystemIndexes {
            id: def.system_index("Id"),
            is_deleted: def.fields.iter().position(|f| f.name == "IsDeleted"),
            system_modstamp: def.system_index("SystemModstamp"),
            last_modified: def.system_index("LastModifiedDate"),
            created: def.system_index("CreatedDate"),
            master_record: def.fields.iter().position(|f| f.name == "MasterRecordId"),
        };
        Table {
            def,
            rows: BTreeMap::new(),
            next_counter: 1,
            next_auto_number: 1,
            sys,
        }
    }

    /// Whether a row sits in the recycle bin.
    pub fn is_deleted(&self, record: &Record) -> bool {
        self.sys
            .is_deleted
            .is_some_and(|i| matches!(record.get(i), Value::Bool(true)))
    }

    /// A row's `SystemModstamp`.
    pub fn stamp(&self, record: &Record) -> Millis {
        match record.get(self.sys.system_modstamp) {
            Value::DateTime(ms) => ms,
            _ => 0,
        }
    }
}

/// An entry of the delete log behind getDeleted.
#[derive(Debug, Clone)]
pub struct DeleteEntry {
    pub object: String,
    pub id: IdBytes,
    pub deleted_at: Millis,
}

/// A long transaction: its writes are stamped when it opens and seen when it commits.
#[derive(Debug, Clone)]
pub struct PendingTxn {
    pub object: String,
    pub stamp: Millis,
    pub updates: Vec<(IdBytes, serde_json::Map<String, Json>)>,
}

/// The data of one org.
#[derive(Debug, Clone)]
pub struct OrgData {
    pub tables: Vec<Table>,
    pub delete_log: Vec<DeleteEntry>,
    /// The stamp of the last purge of the delete log: getDeleted cannot see before it.
    pub earliest_date_available: Millis,
    pub pending: HashMap<String, PendingTxn>,
    pub pod: String,
    /// The Id of the integration user, who is the author of API-side writes.
    pub user_id: IdBytes,
}

impl OrgData {
    /// An org with the standard objects and no records.
    pub fn new(objects: Vec<ObjectDef>, pod: &str, now: Millis) -> Self {
        let tables = objects
            .into_iter()
            .map(|mut def| {
                def.modified_at = now;
                Table::new(def)
            })
            .collect();
        OrgData {
            tables,
            delete_log: Vec::new(),
            earliest_date_available: now,
            pending: HashMap::new(),
            pod: pod.to_string(),
            user_id: [b'0'; 18],
        }
    }

    /// The table of an object, by case-insensitive name.
    pub fn table_index(&self, object: &str) -> Option<usize> {
        self.tables
            .iter()
            .position(|t| t.def.name.eq_ignore_ascii_case(object))
    }

    /// The table for an object, or `INVALID_TYPE`.
    pub fn table(&self, object: &str) -> Result<&Table, SimError> {
        self.table_index(object)
            .map(|i| &self.tables[i])
            .ok_or_else(|| SimError::invalid_type(object))
    }

    fn table_mut(&mut self, object: &str) -> Result<&mut Table, SimError> {
        let i = self
            .table_index(object)
            .ok_or_else(|| SimError::invalid_type(object))?;
        Ok(&mut self.tables[i])
    }

    /// The table whose key prefix starts `id`.
    pub fn table_for_id(&self, id: &IdBytes) -> Option<usize> {
        self.tables
            .iter()
            .position(|t| t.def.key_prefix.as_bytes() == &id[..3])
    }

    /// Finds a record by Id in any table, deleted or not.
    pub fn find(&self, id: &IdBytes) -> Option<(usize, &Arc<Record>)> {
        let t = self.table_for_id(id)?;
        self.tables[t].rows.get(id).map(|r| (t, r))
    }

    /// Total rows across all tables (recycle bin included).
    pub fn record_count(&self) -> usize {
        self.tables.iter().map(|t| t.rows.len()).sum()
    }

    /// Creates a record from API-style field values; returns its Id.
    pub fn create(
        &mut self,
        object: &str,
        fields: &serde_json::Map<String, Json>,
        stamp: Millis,
    ) -> Result<IdBytes, SimError> {
        let pod = self.pod.clone();
        let user = Value::Text(Arc::from(id_str(&self.user_id)));
        let table = self.table_mut(object)?;
        let id = make_id(&table.def.key_prefix, &pod, table.next_counter);
        table.next_counter += 1;
        let mut record = blank_record(table, id, stamp, &user);
        apply_fields(&table.def, &mut record, fields, true)?;
        assign_auto_numbers(table, &mut record);
        derive_fields(&table.def, &mut record);
        check_required(&table.def, &record)?;
        table.rows.insert(id, Arc::new(record));
        Ok(id)
    }

    /// Inserts a fully built record (used by the seeder, which sets its own timestamps).
    pub fn insert_seeded(&mut self, table: usize, mut record: Record) {
        let t = &mut self.tables[table];
        assign_auto_numbers(t, &mut record);
        derive_fields(&t.def, &mut record);
        t.rows.insert(record.id, Arc::new(record));
    }

    /// Updates a live record's fields with the given `SystemModstamp`.
    pub fn update(
        &mut self,
        object: &str,
        id: &str,
        fields: &serde_json::Map<String, Json>,
        stamp: Millis,
    ) -> Result<(), SimError> {
        let user = Value::Text(Arc::from(id_str(&self.user_id)));
        let table = self.table_mut(object)?;
        let key = live_key(table, id)?;
        let mut record = (*table.rows[&key]).clone();
        apply_fields(&table.def, &mut record, fields, false)?;
        derive_fields(&table.def, &mut record);
        check_required(&table.def, &record)?;
        touch(table, &mut record, stamp, &user);
        table.rows.insert(key, Arc::new(record));
        Ok(())
    }

    /// Moves a record to the recycle bin and logs the delete.
    pub fn delete(&mut self, object: &str, id: &str, stamp: Millis) -> Result<(), SimError> {
        let table_name = self.table(object)?.def.name.clone();
        let key = self.set_deleted(object, id, true, stamp)?;
        self.delete_log.push(DeleteEntry {
            object: table_name,
            id: key,
            deleted_at: stamp,
        });
        Ok(())
    }

    /// Restores a record from the recycle bin.
    pub fn undelete(&mut self, object: &str, id: &str, stamp: Millis) -> Result<(), SimError> {
        let key = self.set_deleted(object, id, false, stamp)?;
        self.delete_log.retain(|e| e.id != key);
        Ok(())
    }

    fn set_deleted(
        &mut self,
        object: &str,
        id: &str,
        deleted: bool,
        stamp: Millis,
    ) -> Result<IdBytes, SimError> {
        let user = Value::Text(Arc::from(id_str(&self.user_id)));
        let table = self.table_mut(object)?;
        let Some(flag) = table.sys.is_deleted else {
            return Err(SimError::bad_request(
                "CANNOT_DELETE",
                "this object cannot be deleted",
            ));
        };
        let key = parse_id(id).ok_or_else(|| SimError::malformed_id(id))?;
        let current = table
            .rows
            .get(&key)
            .ok_or_else(|| SimError::entity_deleted(id))?;
        if table.is_deleted(current) == deleted {
            let code = if deleted {
                "ENTITY_IS_DELETED"
            } else {
                "UNDELETE_FAILED"
            };
            return Err(SimError::bad_request(
                code,
                "the record is not in the expected state",
            ));
        }
        let mut record = (**current).clone();
        record.set(flag, Value::Bool(deleted));
        touch(table, &mut record, stamp, &user);
        table.rows.insert(key, Arc::new(record));
        Ok(key)
    }

    /// Hard delete: the record vanishes from query and queryAll. A purge of a live record
    /// (Bulk hardDelete) still leaves a delete-log entry; one from the recycle bin keeps
    /// the entry its soft delete made.
    pub fn purge(&mut self, object: &str, id: &str, stamp: Millis) -> Result<(), SimError> {
        let table = self.table_mut(object)?;
        let key = parse_id(id).ok_or_else(|| SimError::malformed_id(id))?;
        let record = table
            .rows
            .remove(&key)
            .ok_or_else(|| SimError::entity_deleted(id))?;
        let was_deleted = table.is_deleted(&record);
        let name = table.def.name.clone();
        if !was_deleted {
            self.delete_log.push(DeleteEntry {
                object: name,
                id: key,
                deleted_at: stamp,
            });
        }
        Ok(())
    }

    /// Empties the delete log up to now, as Salesforce does when it grows large: getDeleted
    /// then reports a later `earliestDateAvailable`, and only a reconciliation finds the gap.
    pub fn purge_delete_log(&mut self, now: Millis) {
        self.delete_log.clear();
        self.earliest_date_available = now;
    }

    /// Merges `losers` into `master`: losers go to the recycle bin with `MasterRecordId`
    /// set, their children move to the master, and the master is touched.
    pub fn merge(
        &mut self,
        object: &str,
        master: &str,
        losers: &[String],
        stamp: Millis,
    ) -> Result<(), SimError> {
        let table = self.table(object)?;
        let Some(master_field) = table.sys.master_record else {
            return Err(SimError::bad_request(
                "INVALID_TYPE",
                "this object does not support merge",
            ));
        };
        let master_key = live_key(table, master)?;
        let master_text = Value::Text(Arc::from(id_str(&master_key)));
        for loser in losers {
            let key = live_key(self.table(object)?, loser)?;
            self.reparent_children(&key, &master_text, stamp);
            let fields = serde_json::Map::new();
            self.update(object, loser, &fields, stamp)?;
            let table = self.table_mut(object)?;
            let mut record = (*table.rows[&key]).clone();
            record.set(master_field, master_text.clone());
            table.rows.insert(key, Arc::new(record));
            self.delete(object, loser, stamp)?;
        }
        self.update(object, master, &serde_json::Map::new(), stamp)
    }

    fn reparent_children(&mut self, from: &IdBytes, to: &Value, stamp: Millis) {
        let from_text = id_str(from).to_string();
        let user = Value::Text(Arc::from(id_str(&self.user_id)));
        for table in &mut self.tables {
            let refs: Vec<usize> = table
                .def
                .fields
                .iter()
                .enumerate()
                .filter(|(_, f)| f.kind == FieldKind::Reference && f.name != "MasterRecordId")
                .map(|(i, _)| i)
                .collect();
            let children: Vec<(IdBytes, usize)> = table
                .rows
                .values()
                .flat_map(|r| {
                    refs.iter()
                        .filter(|&&i| matches!(r.get(i), Value::Text(ref t) if **t == *from_text))
                        .map(|&i| (r.id, i))
                        .collect::<Vec<_>>()
                })
                .collect();
            for (id, field) in children {
                let mut record = (*table.rows[&id]).clone();
                record.set(field, to.clone());
                touch(table, &mut record, stamp, &user);
                table.rows.insert(id, Arc::new(record));
            }
        }
    }
}

/// The key of a record that exists and is not in the recycle bin.
fn live_key(table: &Table, id: &str) -> Result<IdBytes, SimError> {
    let key = parse_id(id).ok_or_else(|| SimError::malformed_id(id))?;
    match table.rows.get(&key) {
        Some(record) if !table.is_deleted(record) => Ok(key),
        Some(_) => Err(SimError::entity_deleted(id)),
        None => Err(SimError::not_found()),
    }
}

fn blank_record(table: &Table, id: IdBytes, stamp: Millis, user: &Value) -> Record {
    let mut record = Record {
        id,
        values: vec![Value::Null; table.def.fields.len()].into(),
    };
    record.set(table.sys.id, Value::Text(Arc::from(id_str(&id))));
    if let Some(i) = table.sys.is_deleted {
        record.set(i, Value::Bool(false));
    }
    for (i, field) in table.def.fields.iter().enumerate() {
        if matches!(
            field.name.as_str(),
            "CreatedById" | "LastModifiedById" | "OwnerId"
        ) {
            record.set(i, user.clone());
        }
        if field.kind == FieldKind::Boolean && record.get(i) == Value::Null && !field.is_computed()
        {
            record.set(i, Value::Bool(false));
        }
    }
    record.set(table.sys.created, Value::DateTime(stamp));
    record.set(table.sys.last_modified, Value::DateTime(stamp));
    record.set(table.sys.system_modstamp, Value::DateTime(stamp));
    record
}

fn touch(table: &Table, record: &mut Record, stamp: Millis, user: &Value) {
    record.set(table.sys.last_modified, Value::DateTime(stamp));
    record.set(table.sys.system_modstamp, Value::DateTime(stamp));
    if let Some(i) = table
        .def
        .fields
        .iter()
        .position(|f| f.name == "LastModifiedById")
    {
        record.set(i, user.clone());
    }
}

/// Writes API-style JSON values into a record, checking names, writability and types.
fn apply_fields(
    def: &ObjectDef,
    record: &mut Record,
    fields: &serde_json::Map<String, Json>,
    creating: bool,
) -> Result<(), SimError> {
    for (name, json) in fields {
        let index = def
            .any_field_index(name)
            .ok_or_else(|| SimError::no_such_field(&def.name, name))?;
        let field = &def.fields[index];
        let writable = if creating {
            field.createable
        } else {
            field.updateable
        };
        if !writable {
            return Err(SimError::bad_request(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                &format!(
                    "Unable to create/update fields: {}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.",
                    field.name
                ),
            ));
        }
        record.set(index, json_to_value(field, json)?);
    }
    Ok(())
}

fn check_required(def: &ObjectDef, record: &Record) -> Result<(), SimError> {
    for (i, field) in def.fields.iter().enumerate() {
        if !field.nillable && field.createable && record.get(i) == Value::Null {
            return Err(SimError::bad_request(
                "REQUIRED_FIELD_MISSING",
                &format!("Required fields are missing: [{}]", field.name),
            ));
        }
    }
    Ok(())
}

/// Converts one JSON value to the stored form of `field`'s type.
pub fn json_to_value(field: &FieldDef, json: &Json) -> Result<Value, SimError> {
    let bad = || {
        SimError::bad_request(
            "JSON_PARSER_ERROR",
            &format!(
                "Cannot deserialize instance of {} from {} value for field {}",
                kind_word(field.kind),
                json,
                field.name
            ),
        )
    };
    if json.is_null() {
        return Ok(Value::Null);
    }
    Ok(match field.kind {
        FieldKind::Boolean => Value::Bool(json.as_bool().ok_or_else(bad)?),
        FieldKind::Int => Value::Int(json.as_i64().ok_or_else(bad)?),
        FieldKind::Double | FieldKind::Currency | FieldKind::Percent => {
            Value::Double(json.as_f64().ok_or_else(bad)?)
        }
        FieldKind::Date => {
            let text = json.as_str().ok_or_else(bad)?;
            Value::Date(crate::values::parse_date(text).ok_or_else(bad)?)
        }
        FieldKind::DateTime => {
            let text = json.as_str().ok_or_else(bad)?;
            Value::DateTime(sfsync_soql::parse_datetime_literal(text).ok_or_else(bad)?)
        }
        FieldKind::Picklist => {
            let text = json.as_str().ok_or_else(bad)?;
            // Share the definition's string: a million records then hold one copy of "Prospecting".
            let shared = field.picklist.iter().find(|v| ***v == *text).cloned();
            Value::Text(shared.unwrap_or_else(|| Arc::from(text)))
        }
        FieldKind::Reference | FieldKind::Id => {
            let text = json.as_str().ok_or_else(bad)?;
            let id = parse_id(text).ok_or_else(|| SimError::malformed_id(text))?;
            Value::Text(Arc::from(id_str(&id)))
        }
        _ => Value::Text(Arc::from(json.as_str().ok_or_else(bad)?)),
    })
}

fn kind_word(kind: FieldKind) -> &'static str {
    crate::schema::type_names(kind).0
}

fn assign_auto_numbers(table: &mut Table, record: &mut Record) {
    let Some(index) = table.def.fields.iter().position(|f| f.auto_number) else {
        return;
    };
    if record.get(index) != Value::Null {
        return;
    }
    let n = table.next_auto_number;
    table.next_auto_number += 1;
    let text = if table.def.name == "Case" {
        format!("{n:08}")
    } else {
        format!("INV-{n:05}")
    };
    record.set(index, Value::Text(Arc::from(text)));
}

/// Fields Salesforce derives on save: Contact.Name, Opportunity's stage-driven fields,
/// Case's closed state.
fn derive_fields(def: &ObjectDef, record: &mut Record) {
    let idx = |name: &str| def.field_index(name).or_else(|| def.any_field_index(name));
    let text = |record: &Record, name: &str| match idx(name).map(|i| record.get(i)) {
        Some(Value::Text(t)) => Some(t),
        _ => None,
    };
    match def.name.as_str() {
        "Contact" | "User" => {
            let first = text(record, "FirstName");
            let last = text(record, "LastName")
                .map(|s| s.to_string())
                .unwrap_or_default();
            let name = match first {
                Some(f) => format!("{f} {last}"),
                None => last,
            };
            if let Some(i) = idx("Name") {
                record.set(i, Value::Text(Arc::from(name)));
            }
        }
        "Opportunity" => derive_stage(def, record),
        "Case" => {
            let closed = text(record, "Status").is_some_and(|s| &*s == "Closed");
            if let Some(i) = idx("IsClosed") {
                record.set(i, Value::Bool(closed));
            }
            if let Some(i) = idx("ClosedDate") {
                let stamp = record.get(def.system_index("SystemModstamp"));
                let current = record.get(i);
                let value = match (closed, current) {
                    (false, _) => Value::Null,
                    (true, Value::Null) => stamp,
                    (true, existing) => existing,
                };
                record.set(i, value);
            }
        }
        _ => {}
    }
}

fn derive_stage(def: &ObjectDef, record: &mut Record) {
    let Some(stage_index) = def.any_field_index("StageName") else {
        return;
    };
    let Value::Text(stage) = record.get(stage_index) else {
        return;
    };
    let probability = STAGES.iter().find(|(s, _)| **s == *stage).map(|(_, p)| *p);
    let set = |record: &mut Record, name: &str, value: Value| {
        if let Some(i) = def.any_field_index(name) {
            record.set(i, value);
        }
    };
    let closed = stage.starts_with("Closed");
    let won = &*stage == "Closed Won";
    set(record, "IsClosed", Value::Bool(closed));
    set(record, "IsWon", Value::Bool(won));
    if let Some(p) = probability {
        set(record, "Probability", Value::Double(p as f64));
    }
    let forecast = match (closed, won, probability.unwrap_or(0)) {
        (true, true, _) => "Closed",
        (true, false, _) => "Omitted",
        (_, _, p) if p >= 90 => "Commit",
        (_, _, p) if p >= 60 => "Best Case",
        _ => "Pipeline",
    };
    set(
        record,
        "ForecastCategoryName",
        Value::Text(Arc::from(forecast)),
    );
    if let Some(Value::Date(days)) = def.any_field_index("CloseDate").map(|i| record.get(i)) {
        let (year, quarter) = crate::values::fiscal_year_quarter(days);
        set(record, "FiscalYear", Value::Int(year));
        set(record, "FiscalQuarter", Value::Int(quarter));
    }
}
