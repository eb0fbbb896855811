//! A small org for the tests: a schema that implements `Catalog`, a record store whose rows
//! implement `Row`, and a helper that runs a bound query over the store the way the
//! simulator does (filter, sort, offset, limit).

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;

use sfsync_soql::{BoundQuery, Catalog, FieldInfo, FieldKind, Row, Value};

/// 2024-01-15T12:00:00Z: the "now" the date-literal tests bind at.
pub const NOW_MS: i64 = 1_705_320_000_000;
/// The UTC day of [`NOW_MS`].
pub const TODAY: i32 = 19_737;

pub struct FieldDef {
    pub info: FieldInfo,
    /// The parent object for reference fields.
    pub target: Option<&'static str>,
}

pub struct ObjectDef {
    pub name: &'static str,
    pub fields: Vec<FieldDef>,
}

/// The org as the querying user sees it.
pub struct Schema {
    pub objects: Vec<ObjectDef>,
}

fn field(name: &str, kind: FieldKind, target: Option<&'static str>, index: usize) -> FieldDef {
    let long_text = kind == FieldKind::TextArea;
    let filterable = !long_text;
    let sortable = !long_text && kind != FieldKind::Address;
    FieldDef {
        info: FieldInfo {
            name: name.to_string(),
            index,
            kind,
            filterable,
            sortable,
        },
        target,
    }
}

fn object(name: &'static str, specs: &[(&str, FieldKind, Option<&'static str>)]) -> ObjectDef {
    let fields = specs
        .iter()
        .enumerate()
        .map(|(index, (name, kind, target))| field(name, *kind, *target, index))
        .collect();
    ObjectDef { name, fields }
}

pub fn schema() -> Schema {
    use FieldKind::*;
    let user = object(
        "User",
        &[
            ("Id", Id, None),
            ("Name", String, None),
            ("Email", Email, None),
            ("IsActive", Boolean, None),
            ("ManagerId", Reference, Some("User")),
            ("CreatedDate", DateTime, None),
        ],
    );
    let account = object(
        "Account",
        &[
            ("Id", Id, None),
            ("Name", String, None),
            ("Industry", Picklist, None),
            ("AnnualRevenue", Currency, None),
            ("NumberOfEmployees", Int, None),
            ("Description", TextArea, None),
            ("BillingCity", String, None),
            ("BillingAddress", Address, None),
            ("OwnerId", Reference, Some("User")),
            ("ParentId", Reference, Some("Account")),
            ("CreatedDate", DateTime, None),
            ("SystemModstamp", DateTime, None),
            ("LastActivityDate", Date, None),
            ("IsDeleted", Boolean, None),
            ("Rating__c", Double, None),
            ("Tier__c", Picklist, None),
            ("Regions__c", MultiPicklist, None),
        ],
    );
    let contact = object(
        "Contact",
        &[
            ("Id", Id, None),
            ("FirstName", String, None),
            ("LastName", String, None),
            ("Email", Email, None),
            ("AccountId", Reference, Some("Account")),
            ("ReportsToId", Reference, Some("Contact")),
            ("Birthdate", Date, None),
            ("CreatedDate", DateTime, None),
            ("HasOptedOutOfEmail", Boolean, None),
            ("Score__c", Double, None),
            ("Mother__c", Reference, Some("Contact")),
        ],
    );
    let invoice = object(
        "Invoice__c",
        &[
            ("Id", Id, None),
            ("Name", String, None),
            ("Account__c", Reference, Some("Account")),
            ("Amount__c", Currency, None),
            ("Status__c", Picklist, None),
            ("IssuedOn__c", Date, None),
        ],
    );
    Schema {
        objects: vec![user, account, contact, invoice],
    }
}

impl Schema {
    pub fn object_def(&self, name: &str) -> &ObjectDef {
        self.objects
            .iter()
            .find(|object| object.name == name)
            .expect("known object")
    }

    pub fn field_def(&self, object: &str, field: &str) -> &FieldDef {
        let object = self.object_def(object);
        object
            .fields
            .iter()
            .find(|def| def.info.name == field)
            .expect("known field")
    }
}

/// The relationship name of a reference field, by Salesforce's rule.
pub fn relationship_of(field: &str) -> std::string::String {
    if let Some(stem) = field.strip_suffix("__c") {
        format!("{stem}__r")
    } else {
        field.strip_suffix("Id").unwrap_or(field).to_string()
    }
}

impl Catalog for Schema {
    fn object(&self, name: &str) -> Option<std::string::String> {
        let found = self
            .objects
            .iter()
            .find(|object| object.name.eq_ignore_ascii_case(name));
        found.map(|object| object.name.to_string())
    }

    fn field(&self, object: &str, field: &str) -> Option<FieldInfo> {
        let object = self
            .objects
            .iter()
            .find(|candidate| candidate.name == object)?;
        let def = object
            .fields
            .iter()
            .find(|def| def.info.name.eq_ignore_ascii_case(field))?;
        Some(def.info.clone())
    }

    fn parent_relationship(
        &self,
        object: &str,
        relationship: &str,
    ) -> Option<(usize, std::string::String)> {
        let object = self
            .objects
            .iter()
            .find(|candidate| candidate.name == object)?;
        object.fields.iter().find_map(|def| {
            let target = def.target?;
            relationship_of(&def.info.name)
                .eq_ignore_ascii_case(relationship)
                .then(|| (def.info.index, target.to_string()))
        })
    }

    fn fields(&self, object: &str) -> Vec<FieldInfo> {
        let object = self
            .objects
            .iter()
            .find(|candidate| candidate.name == object);
        object.map_or_else(Vec::new, |object| {
            object.fields.iter().map(|def| def.info.clone()).collect()
        })
    }
}

/// Records per object, with an Id index for lookups.
pub struct Store {
    pub schema: Schema,
    records: HashMap<&'static str, Vec<Vec<Value>>>,
    by_id: HashMap<std::string::String, (&'static str, usize)>,
}

pub fn text(value: &str) -> Value {
    Value::Text(Arc::from(value))
}

impl Store {
    pub fn new() -> Self {
        Self {
            schema: schema(),
            records: HashMap::new(),
            by_id: HashMap::new(),
        }
    }

    /// Adds a record; unnamed fields are null.
    pub fn insert(&mut self, object: &'static str, values: &[(&str, Value)]) {
        let def = self.schema.object_def(object);
        let mut record = vec![Value::Null; def.fields.len()];
        for (name, value) in values {
            let index = self.schema.field_def(object, name).info.index;
            record[index] = value.clone();
        }
        let rows = self.records.entry(object).or_default();
        if let Value::Text(id) = &record[0] {
            self.by_id.insert(id.to_string(), (object, rows.len()));
        }
        rows.push(record);
    }

    pub fn rows(&self, object: &'static str) -> Vec<TestRow<'_>> {
        let count = self.records.get(object).map_or(0, Vec::len);
        (0..count)
            .map(|index| TestRow {
                store: self,
                object,
                index,
            })
            .collect()
    }

    /// Runs `query` as the simulator would and returns the selected rows.
    pub fn run<'s>(&'s self, query: &BoundQuery) -> Vec<TestRow<'s>> {
        let object = self.schema.object_def(&query.object).name;
        let mut rows: Vec<TestRow<'s>> = self
            .rows(object)
            .into_iter()
            .filter(|row| query.matches(row))
            .collect();
        rows.sort_by(|a, b| query.compare(a, b));
        let offset = query.offset.unwrap_or(0) as usize;
        let limit = query.limit.map_or(usize::MAX, |limit| limit as usize);
        rows.into_iter().skip(offset).take(limit).collect()
    }

    /// The Ids `query` selects, in order.
    pub fn ids(&self, query: &BoundQuery) -> Vec<std::string::String> {
        self.run(query).iter().map(TestRow::id).collect()
    }
}

#[derive(Clone, Copy)]
pub struct TestRow<'a> {
    store: &'a Store,
    object: &'static str,
    index: usize,
}

impl TestRow<'_> {
    pub fn id(&self) -> std::string::String {
        match self.value(0) {
            Value::Text(id) => id.to_string(),
            other => panic!("record without an Id: {other:?}"),
        }
    }

    pub fn field(&self, name: &str) -> Value {
        self.value(self.store.schema.field_def(self.object, name).info.index)
    }

    /// The parent record behind the reference field `reference`, if visible.
    pub fn parent(&self, reference: &str) -> Option<Self> {
        self.follow(
            self.store
                .schema
                .field_def(self.object, reference)
                .info
                .index,
        )
    }
}

impl Row for TestRow<'_> {
    fn value(&self, index: usize) -> Value {
        self.store.records[self.object][self.index][index].clone()
    }

    fn follow(&self, reference_index: usize) -> Option<Self> {
        let Value::Text(id) = self.value(reference_index) else {
            return None;
        };
        let (object, index) = *self.store.by_id.get(id.as_ref())?;
        Some(TestRow {
            store: self.store,
            object,
            index,
        })
    }
}

/// A fixture org: three users, four accounts, five contacts, three invoices.
pub fn sample_store() -> Store {
    let mut store = Store::new();
    let day_ms = 86_400_000;
    let now = NOW_MS;
    store.insert(
        "User",
        &[
            ("Id", text("005000000000001AAA")),
            ("Name", text("Ada Admin")),
            ("IsActive", Value::Bool(true)),
        ],
    );
    store.insert(
        "User",
        &[
            ("Id", text("005000000000002AAA")),
            ("Name", text("Bob Boss")),
            ("IsActive", Value::Bool(true)),
            ("ManagerId", text("005000000000001AAA")),
        ],
    );
    store.insert(
        "User",
        &[
            ("Id", text("005000000000003AAA")),
            ("Name", text("Cy Gone")),
            ("IsActive", Value::Bool(false)),
            ("ManagerId", text("005000000000002AAA")),
        ],
    );
    store.insert(
        "Account",
        &[
            ("Id", text("001000000000001AAA")),
            ("Name", text("Acme")),
            ("Industry", text("Energy")),
            ("AnnualRevenue", Value::Double(1_000_000.0)),
            ("NumberOfEmployees", Value::Int(120)),
            ("BillingCity", text("Paris")),
            ("OwnerId", text("005000000000002AAA")),
            ("CreatedDate", Value::DateTime(now - 3 * day_ms)),
            ("LastActivityDate", Value::Date(TODAY)),
            ("IsDeleted", Value::Bool(false)),
            ("Rating__c", Value::Double(4.5)),
            ("Tier__c", text("Gold")),
        ],
    );
    store.insert(
        "Account",
        &[
            ("Id", text("001000000000002AAA")),
            ("Name", text("beta industries")),
            ("Industry", text("Retail")),
            ("AnnualRevenue", Value::Double(250_000.5)),
            ("NumberOfEmployees", Value::Int(15)),
            ("BillingCity", text("Berlin")),
            ("OwnerId", text("005000000000003AAA")),
            ("ParentId", text("001000000000001AAA")),
            ("CreatedDate", Value::DateTime(now - 40 * day_ms)),
            ("LastActivityDate", Value::Date(TODAY - 1)),
            ("IsDeleted", Value::Bool(false)),
            ("Rating__c", Value::Double(3.0)),
        ],
    );
    store.insert(
        "Account",
        &[
            ("Id", text("001000000000003AAA")),
            ("Name", text("Café Ölmühle")),
            ("Industry", text("Retail")),
            ("NumberOfEmployees", Value::Int(3)),
            ("BillingCity", text("Zürich")),
            ("OwnerId", text("005000000000002AAA")),
            ("ParentId", text("001000000000002AAA")),
            ("CreatedDate", Value::DateTime(now)),
            ("IsDeleted", Value::Bool(true)),
        ],
    );
    store.insert(
        "Account",
        &[
            ("Id", text("001000000000004AAA")),
            ("Name", text("100% Pure_Water")),
            ("CreatedDate", Value::DateTime(now + day_ms)),
            ("LastActivityDate", Value::Date(TODAY + 1)),
            ("IsDeleted", Value::Bool(false)),
        ],
    );
    store.insert(
        "Contact",
        &[
            ("Id", text("003000000000001AAA")),
            ("FirstName", text("Ann")),
            ("LastName", text("O'Brien")),
            ("AccountId", text("001000000000001AAA")),
            ("Birthdate", Value::Date(7_000)),
            ("Score__c", Value::Double(10.0)),
            ("HasOptedOutOfEmail", Value::Bool(false)),
        ],
    );
    store.insert(
        "Contact",
        &[
            ("Id", text("003000000000002AAA")),
            ("FirstName", text("ben")),
            ("LastName", text("Smith")),
            ("AccountId", text("001000000000002AAA")),
            ("ReportsToId", text("003000000000001AAA")),
            ("Mother__c", text("003000000000001AAA")),
            ("Score__c", Value::Double(7.5)),
            ("HasOptedOutOfEmail", Value::Bool(true)),
        ],
    );
    store.insert(
        "Contact",
        &[
            ("Id", text("003000000000003AAA")),
            ("FirstName", text("Cleo")),
            ("LastName", text("smith")),
            ("AccountId", text("001000000000003AAA")),
            ("Birthdate", Value::Date(9_000)),
        ],
    );
    store.insert(
        "Contact",
        &[
            ("Id", text("003000000000004AAA")),
            ("LastName", text("Orphan")),
            ("Score__c", Value::Double(-2.0)),
        ],
    );
    store.insert(
        "Contact",
        &[
            ("Id", text("003000000000005AAA")),
            ("FirstName", text("Dee")),
            ("LastName", text("Hidden")),
            ("AccountId", text("001999999999999AAA")),
        ],
    );
    store.insert(
        "Invoice__c",
        &[
            ("Id", text("a00000000000001AAA")),
            ("Name", text("INV-1")),
            ("Account__c", text("001000000000001AAA")),
            ("Amount__c", Value::Double(99.5)),
            ("Status__c", text("Open")),
            ("IssuedOn__c", Value::Date(TODAY - 10)),
        ],
    );
    store.insert(
        "Invoice__c",
        &[
            ("Id", text("a00000000000002AAA")),
            ("Name", text("INV-2")),
            ("Account__c", text("001000000000002AAA")),
            ("Amount__c", Value::Double(10.0)),
            ("Status__c", text("Paid")),
            ("IssuedOn__c", Value::Date(TODAY)),
        ],
    );
    store.insert(
        "Invoice__c",
        &[
            ("Id", text("a00000000000003AAA")),
            ("Name", text("INV-3")),
            ("Amount__c", Value::Int(500)),
            ("Status__c", text("Open")),
        ],
    );
    store
}
