//! Change events and schema events, as the change log, the `changes` command and webhooks
//! carry them.
//!
//! A change event is one record's difference (created, updated, deleted, undeleted, with
//! per-field old and new values), placed in an organization's change log at a
//! [`FeedCursor`]. A schema event says that a field or object appeared, vanished or was
//! hidden from the integration user. Both serialise to one JSON line whose keys and key
//! order are part of the interface contract (design.md, "Change event JSON").

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

use crate::datetime::format_datetime;
use crate::{
    Change, ChangeKind, FieldChange, FieldName, ObjectName, OrganizationSlug, Projection, RecordId,
};

/// A position in an organization's change log, strictly increasing in the order events were
/// committed. Not to be confused with [`crate::Cursor`], the read position of an object; it
/// is written as a decimal string so readers treat it as opaque.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FeedCursor(pub u64);

impl fmt::Display for FeedCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for FeedCursor {
    type Err = std::num::ParseIntError;

    /// Parses what `changes --after` receives.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.parse().map(Self)
    }
}

impl Serialize for FeedCursor {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A change placed in the change log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeEvent {
    /// Where the event stands in the organization's change log.
    pub cursor: FeedCursor,
    /// The organization whose org the record belongs to.
    pub organization: OrganizationSlug,
    /// The record's object.
    pub object: ObjectName,
    /// When Salesforce last changed the record (its SystemModstamp), UTC epoch milliseconds.
    pub changed_at_ms: i64,
    /// When sfsync saw the change, UTC epoch milliseconds.
    pub detected_at_ms: i64,
    /// The record's difference.
    pub change: Change,
}

/// The JSON line of a change event, keys in contract order.
#[derive(Serialize)]
struct ChangeEventLine<'a> {
    cursor: FeedCursor,
    organization: &'a OrganizationSlug,
    object: &'a ObjectName,
    record_id: &'a RecordId,
    kind: ChangeKind,
    changed_at: String,
    detected_at: String,
    fields: &'a BTreeMap<FieldName, FieldChange>,
}

impl Serialize for ChangeEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ChangeEventLine {
            cursor: self.cursor,
            organization: &self.organization,
            object: &self.object,
            record_id: &self.change.record_id,
            kind: self.change.kind,
            changed_at: format_datetime(self.changed_at_ms),
            detected_at: format_datetime(self.detected_at_ms),
            fields: &self.change.fields,
        }
        .serialize(serializer)
    }
}

/// What changed in an object's schema.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SchemaChange {
    /// A field appeared in describe and joined the projection; it is backfilled without
    /// per-record events.
    FieldAdded(FieldName),
    /// A field was deleted from the object.
    FieldRemoved(FieldName),
    /// Field-level security hid a field from the integration user.
    FieldHidden(FieldName),
    /// The object itself is gone or no longer readable.
    ObjectVanished,
}

impl SchemaChange {
    fn kind(&self) -> &'static str {
        match self {
            Self::FieldAdded(_) => "field_added",
            Self::FieldRemoved(_) => "field_removed",
            Self::FieldHidden(_) => "field_hidden",
            Self::ObjectVanished => "object_vanished",
        }
    }

    fn field(&self) -> Option<&FieldName> {
        match self {
            Self::FieldAdded(f) | Self::FieldRemoved(f) | Self::FieldHidden(f) => Some(f),
            Self::ObjectVanished => None,
        }
    }
}

/// A schema change of one organization's object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaEvent {
    /// The organization.
    pub organization: OrganizationSlug,
    /// The object whose schema changed.
    pub object: ObjectName,
    /// What changed.
    pub change: SchemaChange,
    /// When sfsync saw it, UTC epoch milliseconds.
    pub detected_at_ms: i64,
}

#[derive(Serialize)]
struct SchemaEventLine<'a> {
    organization: &'a OrganizationSlug,
    object: &'a ObjectName,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a FieldName>,
    detected_at: String,
}

impl Serialize for SchemaEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        SchemaEventLine {
            organization: &self.organization,
            object: &self.object,
            kind: self.change.kind(),
            field: self.change.field(),
            detected_at: format_datetime(self.detected_at_ms),
        }
        .serialize(serializer)
    }
}

/// The schema changes between the projection held and the one built from a fresh describe
/// (`None` when the object is gone). A field that left describe is reported as removed:
/// describe alone cannot tell a deleted field from one hidden by field-level security, so
/// the engine turns it into [`SchemaChange::FieldHidden`] when it knows better.
pub fn plan_schema_changes(held: &Projection, fresh: Option<&Projection>) -> Vec<SchemaChange> {
    let Some(fresh) = fresh else {
        return vec![SchemaChange::ObjectVanished];
    };
    let added = fresh
        .fields
        .keys()
        .filter(|f| !held.contains(f))
        .cloned()
        .map(SchemaChange::FieldAdded);
    let removed = held
        .fields
        .keys()
        .filter(|f| !fresh.contains(f))
        .cloned()
        .map(SchemaChange::FieldRemoved);
    added.chain(removed).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FieldType, FieldValue};

    fn name(text: &str) -> FieldName {
        FieldName::parse(text).unwrap()
    }

    const DETECTED_MS: i64 = 1_796_292_000_000; // 2026-12-03T10:00:00Z

    #[test]
    fn a_change_event_serialises_to_the_contract_json_line() {
        let fields = BTreeMap::from([(
            name("StageName"),
            FieldChange {
                old: FieldValue::Text("Prospecting".into()),
                new: FieldValue::Text("Closed Won".into()),
            },
        )]);
        let event = ChangeEvent {
            cursor: FeedCursor(42),
            organization: OrganizationSlug::parse("acme").unwrap(),
            object: ObjectName::parse("Opportunity").unwrap(),
            changed_at_ms: DETECTED_MS - 1_500,
            detected_at_ms: DETECTED_MS,
            change: Change {
                record_id: RecordId::parse("006000000000001").unwrap(),
                kind: ChangeKind::Updated,
                fields,
            },
        };
        assert_eq!(
            serde_json::to_string(&event).unwrap(),
            concat!(
                r#"{"cursor":"42","organization":"acme","object":"Opportunity","#,
                r#""record_id":"006000000000001AAA","kind":"updated","#,
                r#""changed_at":"2026-12-03T09:59:58.500Z","#,
                r#""detected_at":"2026-12-03T10:00:00.000Z","#,
                r#""fields":{"StageName":{"old":"Prospecting","new":"Closed Won"}}}"#
            )
        );
    }

    #[test]
    fn change_kinds_are_written_in_snake_case() {
        let kinds = [
            ChangeKind::Created,
            ChangeKind::Updated,
            ChangeKind::Deleted,
            ChangeKind::Undeleted,
        ];
        let written: Vec<_> = kinds
            .iter()
            .map(|k| serde_json::to_string(k).unwrap())
            .collect();
        assert_eq!(
            written,
            [
                r#""created""#,
                r#""updated""#,
                r#""deleted""#,
                r#""undeleted""#
            ]
        );
    }

    #[test]
    fn feed_cursors_read_back_what_they_write() {
        assert_eq!("17".parse::<FeedCursor>(), Ok(FeedCursor(17)));
        assert!("abc".parse::<FeedCursor>().is_err());
    }

    #[test]
    fn a_schema_event_names_its_field_only_when_it_has_one() {
        let event = |change| SchemaEvent {
            organization: OrganizationSlug::parse("acme").unwrap(),
            object: ObjectName::parse("Invoice__c").unwrap(),
            change,
            detected_at_ms: DETECTED_MS,
        };
        let hidden =
            serde_json::to_string(&event(SchemaChange::FieldHidden(name("Secret__c")))).unwrap();
        assert_eq!(
            hidden,
            concat!(
                r#"{"organization":"acme","object":"Invoice__c","kind":"field_hidden","#,
                r#""field":"Secret__c","detected_at":"2026-12-03T10:00:00.000Z"}"#
            )
        );
        let vanished = serde_json::to_string(&event(SchemaChange::ObjectVanished)).unwrap();
        assert!(
            vanished.contains(r#""kind":"object_vanished","detected_at""#),
            "{vanished}"
        );
    }

    #[test]
    fn schema_changes_list_added_and_removed_fields() {
        let object = ObjectName::parse("Account").unwrap();
        let held = Projection::new(object.clone())
            .with_field(name("Name"), FieldType::String, None)
            .with_field(name("Old__c"), FieldType::String, None);
        let fresh = Projection::new(object)
            .with_field(name("name"), FieldType::String, None)
            .with_field(name("New__c"), FieldType::Int, None);
        assert_eq!(
            plan_schema_changes(&held, Some(&fresh)),
            [
                SchemaChange::FieldAdded(name("New__c")),
                SchemaChange::FieldRemoved(name("Old__c"))
            ]
        );
        assert_eq!(
            plan_schema_changes(&held, None),
            [SchemaChange::ObjectVanished]
        );
        assert_eq!(plan_schema_changes(&held, Some(&held)), []);
    }
}
