//! A *value* is one field of one record as the simulator stores it; a *field kind* is the
//! describe type that decides how SOQL compares and filters that field.
//!
//! [`Value`] is kept at 24 bytes so that a million records fit in little memory: text is
//! an `Arc<str>` (shared, 16 bytes), dates are day numbers and date-times are epoch
//! milliseconds.

use std::sync::Arc;

/// One field value of a record.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An empty field (Salesforce has no separate "empty string" for most fields).
    Null,
    /// A checkbox.
    Bool(bool),
    /// An integer field.
    Int(i64),
    /// A double, currency or percent field.
    Double(f64),
    /// Any text-like field, Ids included.
    Text(Arc<str>),
    /// A date, as days since 1970-01-01.
    Date(i32),
    /// A date-time, as milliseconds since the Unix epoch, UTC.
    DateTime(i64),
}

impl Value {
    /// Whether this is [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

/// The describe type of a field, as far as SOQL cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldKind {
    /// The record's own `Id`.
    Id,
    /// A lookup or master-detail field holding another record's Id.
    Reference,
    /// A short text field.
    String,
    /// A text area (long ones are usually not filterable).
    TextArea,
    /// A single-select picklist.
    Picklist,
    /// A multi-select picklist (`"a;b"`).
    MultiPicklist,
    /// An email address.
    Email,
    /// A phone number.
    Phone,
    /// A URL.
    Url,
    /// A checkbox.
    Boolean,
    /// An integer.
    Int,
    /// A double.
    Double,
    /// A currency amount.
    Currency,
    /// A percentage.
    Percent,
    /// A date without time.
    Date,
    /// A date and time, UTC.
    DateTime,
    /// A compound address (`BillingAddress`); SOQL only filters it with `DISTANCE`, which the
    /// simulator does not support.
    Address,
}

impl FieldKind {
    /// Whether SOQL treats the field as text that compares case-insensitively.
    pub fn is_case_insensitive_text(self) -> bool {
        use FieldKind::*;
        matches!(
            self,
            String | TextArea | Picklist | MultiPicklist | Email | Phone | Url
        )
    }

    /// Whether the field holds a record Id (compared as a case-sensitive string).
    pub fn is_id(self) -> bool {
        matches!(self, FieldKind::Id | FieldKind::Reference)
    }
}

/// What the binder knows about one field, as the querying user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldInfo {
    /// Canonical API name, e.g. `BillingCity`.
    pub name: String,
    /// Position of the field in the record, as [`crate::Row::value`] takes it.
    pub index: usize,
    /// Describe type.
    pub kind: FieldKind,
    /// Whether the field may appear in `WHERE`.
    pub filterable: bool,
    /// Whether the field may appear in `ORDER BY`.
    pub sortable: bool,
}

impl FieldInfo {
    /// Whether this is a custom field (its API name ends with `__c`).
    pub fn is_custom(&self) -> bool {
        ends_with_ignore_case(&self.name, "__c")
    }
}

/// Case-insensitive ASCII suffix test that never slices inside a multi-byte character.
pub(crate) fn ends_with_ignore_case(text: &str, suffix: &str) -> bool {
    text.len() >= suffix.len()
        && text.as_bytes()[text.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}
