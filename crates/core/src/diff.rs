//! The diff: how a record read in a run differs from the snapshot sfsync holds for it.
//!
//! Change events come from comparing normalised values, not from SystemModstamp: re-reading
//! a row that did not change (the cursor's overlap window re-reads rows on purpose) yields
//! nothing. Only projected fields are compared, and only those present on both sides, so a
//! field hidden or removed from the projection is never reported as "changed to null", and a
//! field new to the projection is adopted silently by its backfill.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::{FieldName, FieldValue, Projection, Record, RecordId, Snapshot};

/// What happened to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// First seen, alive.
    Created,
    /// Alive before and after, with at least one field changed.
    Updated,
    /// Moved to the recycle bin (soft delete) or gone for good (hard delete).
    Deleted,
    /// Brought back from the recycle bin.
    Undeleted,
}

/// One field's old and new value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    /// The value in the snapshot (null for a created record).
    pub old: FieldValue,
    /// The value read.
    pub new: FieldValue,
}

/// One record's difference, before the engine places it in the change log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The record.
    pub record_id: RecordId,
    /// What happened to it.
    pub kind: ChangeKind,
    /// The fields whose value changed, by name.
    pub fields: BTreeMap<FieldName, FieldChange>,
}

/// Compares the record read with its snapshot and returns the change, if any.
///
/// A created record lists its non-null fields. A deleted or undeleted record lists whatever
/// fields changed along with it (often none). A record first seen already deleted yields
/// nothing: sfsync never reported it, so there is nothing to retract, and its snapshot is
/// still saved as deleted.
pub fn diff(
    before: Option<&Snapshot>,
    after: &Record,
    is_deleted: bool,
    projection: &Projection,
) -> Option<Change> {
    let kind = plan_kind(before.map(|b| b.is_deleted), is_deleted)?;
    let fields = changed_fields(before, after, projection);
    if kind == ChangeKind::Updated && fields.is_empty() {
        return None;
    }
    Some(Change {
        record_id: after.id.clone(),
        kind,
        fields,
    })
}

/// The kind of change from whether the record was deleted before (`None`: never seen) and
/// whether it is deleted now. `Updated` here still needs a changed field to be reported.
fn plan_kind(was_deleted: Option<bool>, is_deleted: bool) -> Option<ChangeKind> {
    match (was_deleted, is_deleted) {
        (None, false) => Some(ChangeKind::Created),
        (None, true) => None,
        (Some(false), true) => Some(ChangeKind::Deleted),
        (Some(true), false) => Some(ChangeKind::Undeleted),
        (Some(_), _) => Some(ChangeKind::Updated),
    }
}

/// The projected fields whose value differs. Without a snapshot every non-null value is new.
fn changed_fields(
    before: Option<&Snapshot>,
    after: &Record,
    projection: &Projection,
) -> BTreeMap<FieldName, FieldChange> {
    let projected = after
        .values
        .iter()
        .filter(|(name, _)| projection.contains(name));
    let changed = projected.filter_map(|(name, new)| {
        let old = match before {
            Some(snapshot) => snapshot.values.get(name)?,
            None if new.is_null() => return None,
            None => &FieldValue::Null,
        };
        (old != new).then(|| {
            (
                name.clone(),
                FieldChange {
                    old: old.clone(),
                    new: new.clone(),
                },
            )
        })
    });
    changed.collect()
}

impl Snapshot {
    /// The snapshot a change leads to: its new values written over this one's.
    pub fn apply(&self, change: &Change) -> Snapshot {
        let mut next = self.clone();
        for (name, field) in &change.fields {
            next.values.insert(name.clone(), field.new.clone());
        }
        next.is_deleted = match change.kind {
            ChangeKind::Deleted => true,
            ChangeKind::Created | ChangeKind::Undeleted => false,
            ChangeKind::Updated => self.is_deleted,
        };
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FieldType, ObjectName};
    use proptest::prelude::*;

    fn name(text: &str) -> FieldName {
        FieldName::parse(text).unwrap()
    }

    fn id() -> RecordId {
        RecordId::parse("006000000000001").unwrap()
    }

    fn projection() -> Projection {
        ["A", "B", "C", "D"].iter().fold(
            Projection::new(ObjectName::parse("Opportunity").unwrap()),
            |p, f| p.with_field(name(f), FieldType::AnyType, None),
        )
    }

    fn record(values: &[(&str, FieldValue)]) -> Record {
        let values = values.iter().map(|(n, v)| (name(n), v.clone())).collect();
        Record { id: id(), values }
    }

    fn snapshot(values: &[(&str, FieldValue)], is_deleted: bool) -> Snapshot {
        Snapshot::next(None, &record(values), is_deleted, &projection())
    }

    fn text(s: &str) -> FieldValue {
        FieldValue::Text(s.to_owned())
    }

    #[test]
    fn a_changed_field_is_reported_with_its_old_and_new_value() {
        let before = snapshot(
            &[("A", text("Prospecting")), ("B", FieldValue::Int(1))],
            false,
        );
        let after = record(&[("A", text("Closed Won")), ("B", FieldValue::Int(1))]);
        let change = diff(Some(&before), &after, false, &projection()).unwrap();
        assert_eq!(change.kind, ChangeKind::Updated);
        assert_eq!(change.fields.len(), 1);
        assert_eq!(
            change.fields[&name("A")],
            FieldChange {
                old: text("Prospecting"),
                new: text("Closed Won")
            }
        );
    }

    #[test]
    fn a_field_outside_the_projection_is_never_reported_as_changed_to_null() {
        let before = Snapshot {
            values: BTreeMap::from([(name("Hidden__c"), text("x"))]),
            ..snapshot(&[], false)
        };
        let after = record(&[("Hidden__c", FieldValue::Null)]);
        assert_eq!(diff(Some(&before), &after, false, &projection()), None);
    }

    #[test]
    fn a_field_missing_from_the_read_is_not_reported() {
        let before = snapshot(&[("A", text("x"))], false);
        assert_eq!(
            diff(Some(&before), &record(&[]), false, &projection()),
            None
        );
    }

    #[test]
    fn a_field_new_to_the_snapshot_is_adopted_without_an_event() {
        let before = snapshot(&[("A", text("x"))], false);
        let after = record(&[("A", text("x")), ("B", text("backfilled"))]);
        assert_eq!(diff(Some(&before), &after, false, &projection()), None);
    }

    #[test]
    fn a_new_record_lists_its_non_null_fields() {
        let after = record(&[("A", text("x")), ("B", FieldValue::Null)]);
        let change = diff(None, &after, false, &projection()).unwrap();
        assert_eq!(change.kind, ChangeKind::Created);
        assert_eq!(change.fields.keys().collect::<Vec<_>>(), [&name("A")]);
        assert_eq!(change.fields[&name("A")].old, FieldValue::Null);
    }

    #[test]
    fn deletes_and_undeletes_are_reported_even_without_field_changes() {
        let alive = snapshot(&[("A", text("x"))], false);
        let deleted = snapshot(&[("A", text("x"))], true);
        let after = record(&[("A", text("x"))]);
        let delete = diff(Some(&alive), &after, true, &projection()).unwrap();
        assert_eq!((delete.kind, delete.fields.len()), (ChangeKind::Deleted, 0));
        let undelete = diff(Some(&deleted), &after, false, &projection()).unwrap();
        assert_eq!(undelete.kind, ChangeKind::Undeleted);
        assert_eq!(diff(Some(&deleted), &after, true, &projection()), None);
    }

    #[test]
    fn a_record_first_seen_deleted_yields_nothing() {
        assert_eq!(
            diff(None, &record(&[("A", text("x"))]), true, &projection()),
            None
        );
    }

    fn value() -> impl Strategy<Value = FieldValue> {
        prop_oneof![
            Just(FieldValue::Null),
            any::<bool>().prop_map(FieldValue::Bool),
            (0i64..4).prop_map(FieldValue::Int),
            "[ab]{0,2}".prop_map(FieldValue::Text),
        ]
    }

    /// Values for every projected field, so both sides of a diff hold the same keys.
    fn full_record() -> impl Strategy<Value = Record> {
        proptest::collection::vec(value(), 4).prop_map(|values| {
            let pairs: Vec<_> = ["A", "B", "C", "D"].into_iter().zip(values).collect();
            record(&pairs)
        })
    }

    proptest! {
        #[test]
        fn a_record_compared_with_its_own_snapshot_has_no_change(
            r in full_record(),
            deleted in any::<bool>(),
        ) {
            let before = Snapshot::next(None, &r, deleted, &projection());
            prop_assert_eq!(diff(Some(&before), &r, deleted, &projection()), None);
        }

        #[test]
        fn applying_a_change_to_the_snapshot_gives_the_next_snapshot(
            a in full_record(), b in full_record(), was in any::<bool>(), is in any::<bool>()
        ) {
            let before = Snapshot::next(None, &a, was, &projection());
            let after = Snapshot::next(Some(&before), &b, is, &projection());
            let applied = match diff(Some(&before), &b, is, &projection()) {
                Some(change) => before.apply(&change),
                None => before.clone(),
            };
            // A deleted record read again while still deleted changes only its values.
            prop_assert_eq!(applied.values, after.values);
            prop_assert_eq!(applied.is_deleted, is);
        }

        #[test]
        fn applying_a_creation_gives_the_non_null_values(r in full_record()) {
            let empty = Snapshot { id: id(), values: BTreeMap::new(), is_deleted: false };
            let change = diff(None, &r, false, &projection()).unwrap();
            let mut expected = r.values;
            expected.retain(|_, v| !v.is_null());
            prop_assert_eq!(empty.apply(&change).values, expected);
        }

        #[test]
        fn swapping_before_and_after_swaps_old_and_new(a in full_record(), b in full_record()) {
            let forward = diff(Some(&snapshot_of(&a)), &b, false, &projection());
            let backward = diff(Some(&snapshot_of(&b)), &a, false, &projection());
            let swapped = backward.map(|mut change| {
                for field in change.fields.values_mut() {
                    std::mem::swap(&mut field.old, &mut field.new);
                }
                change.fields
            });
            prop_assert_eq!(forward.map(|c| c.fields), swapped);
        }
    }

    fn snapshot_of(r: &Record) -> Snapshot {
        Snapshot::next(None, r, false, &projection())
    }
}
