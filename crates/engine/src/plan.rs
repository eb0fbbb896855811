//! The SOQL of each read, as pure functions of the projection and the cursor.
//!
//! Field lists are sorted (the projection is a sorted map), so the same projection always
//! sends the same text. Datetime literals use the `...000Z` form: SOQL does not accept the
//! `+0000` form that the REST API writes (salesforce-api.md §2.6).

use sfsync_core::{FieldName, ObjectName, Projection, RecordId, Window, soql_literal};
use sfsync_store::IdRange;

/// The comma-separated field list of a projection, `Id` first.
pub fn field_list(projection: &Projection) -> String {
    let mut fields = vec!["Id".to_string()];
    let rest = projection.fields.keys().map(|f| f.as_str().to_string());
    fields.extend(rest.filter(|f| !f.eq_ignore_ascii_case("Id")));
    fields.join(", ")
}

/// One page of the initial load, keyset by Id: `WHERE Id > :after ORDER BY Id LIMIT :n`.
/// Keyset paging survives a restart at any page, which a query locator would not.
pub fn initial_load(projection: &Projection, after: Option<&RecordId>, limit: u32) -> String {
    format!(
        "SELECT {} FROM {}{} ORDER BY Id LIMIT {limit}",
        field_list(projection),
        projection.object.as_str(),
        after_filter(after),
    )
}

/// How many records the load has left after `after`: `SELECT COUNT() ... WHERE Id > :after`.
pub fn count_after(object: &ObjectName, after: Option<&RecordId>) -> String {
    format!(
        "SELECT COUNT() FROM {}{}",
        object.as_str(),
        after_filter(after)
    )
}

/// The incremental read of a window, through queryAll so soft deletes come with updates,
/// ordered by (SystemModstamp, Id) so that a tie group is read in a stable order.
pub fn incremental(projection: &Projection, window: &Window) -> String {
    let upper = format!("SystemModstamp <= {}", soql_literal(window.to_ms));
    let filter = match window.from_ms {
        Some(from) => format!("SystemModstamp >= {} AND {upper}", soql_literal(from)),
        None => upper,
    };
    format!(
        "SELECT {}, IsDeleted, SystemModstamp FROM {} WHERE {filter} ORDER BY SystemModstamp, Id",
        dedup_fields(projection, &["IsDeleted", "SystemModstamp"]),
        projection.object.as_str()
    )
}

/// The field list without the names the query adds itself.
fn dedup_fields(projection: &Projection, added: &[&str]) -> String {
    let list = field_list(projection);
    let kept: Vec<&str> = list
        .split(", ")
        .filter(|f| !added.iter().any(|a| a.eq_ignore_ascii_case(f)))
        .collect();
    kept.join(", ")
}

/// A keyset page of Id plus `fields`: for formula refreshes and new-field backfills.
pub fn id_pages(
    projection: &Projection,
    fields: &[FieldName],
    after: Option<&RecordId>,
    limit: u32,
) -> String {
    let mut list = vec!["Id".to_string()];
    list.extend(fields.iter().map(|f| f.as_str().to_string()));
    format!(
        "SELECT {} FROM {}{} ORDER BY Id LIMIT {limit}",
        list.join(", "),
        projection.object.as_str(),
        after_filter(after),
    )
}

/// Counts the rows of an Id range (sent through queryAll, so the recycle bin counts too).
pub fn count_in_range(object: &ObjectName, range: &IdRange) -> String {
    format!(
        "SELECT COUNT() FROM {}{}",
        object.as_str(),
        range_filter(range)
    )
}

/// The Ids of an Id range.
pub fn ids_in_range(object: &ObjectName, range: &IdRange) -> String {
    format!(
        "SELECT Id FROM {}{} ORDER BY Id",
        object.as_str(),
        range_filter(range)
    )
}

fn after_filter(after: Option<&RecordId>) -> String {
    match after {
        Some(id) => format!(" WHERE Id > '{}'", id.as_str()),
        None => String::new(),
    }
}

/// `WHERE Id >= 'from' AND Id < 'to'` for the sides the range bounds. Ids are checked
/// base-62 text, so quoting them needs no escaping.
fn range_filter(range: &IdRange) -> String {
    let from = range
        .from
        .as_ref()
        .map(|id| format!("Id >= '{}'", id.as_str()));
    let to = range
        .to
        .as_ref()
        .map(|id| format!("Id < '{}'", id.as_str()));
    let parts: Vec<String> = from.into_iter().chain(to).collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", parts.join(" AND "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sfsync_core::{FieldName, FieldType, ObjectName};

    fn projection() -> Projection {
        let field = |n: &str| FieldName::parse(n).unwrap();
        Projection::new(ObjectName::parse("Account").unwrap())
            .with_field(field("Name"), FieldType::String, None)
            .with_field(field("Id"), FieldType::Id, None)
            .with_field(field("SystemModstamp"), FieldType::DateTime, None)
            .with_field(
                field("BillingAddress"),
                FieldType::from_describe("address"),
                None,
            )
    }

    #[test]
    fn field_lists_put_id_first_and_leave_compound_fields_out() {
        assert_eq!(field_list(&projection()), "Id, Name, SystemModstamp");
    }

    #[test]
    fn initial_load_pages_by_id_keyset() {
        let after = RecordId::parse("001D000000IRFma").unwrap();
        assert_eq!(
            initial_load(&projection(), Some(&after), 2000),
            "SELECT Id, Name, SystemModstamp FROM Account WHERE Id > '001D000000IRFmaIAH' ORDER BY Id LIMIT 2000"
        );
    }

    #[test]
    fn id_ranges_bound_only_the_sides_they_have() {
        let object = ObjectName::parse("Account").unwrap();
        let id = |t: &str| Some(RecordId::parse(t).unwrap());
        let range = IdRange {
            from: id("001000000000001"),
            to: id("001000000000009"),
        };
        assert_eq!(
            count_in_range(&object, &range),
            "SELECT COUNT() FROM Account WHERE Id >= '001000000000001AAA' AND Id < '001000000000009AAA'"
        );
        let open = IdRange {
            from: None,
            to: id("001000000000009"),
        };
        assert_eq!(
            ids_in_range(&object, &open),
            "SELECT Id FROM Account WHERE Id < '001000000000009AAA' ORDER BY Id"
        );
        assert_eq!(
            count_in_range(&object, &IdRange::default()),
            "SELECT COUNT() FROM Account"
        );
    }

    #[test]
    fn incremental_reads_the_window_in_stamp_then_id_order_with_z_literals() {
        let window = Window {
            from_ms: Some(0),
            to_ms: 60_000,
        };
        assert_eq!(
            incremental(&projection(), &window),
            "SELECT Id, Name, IsDeleted, SystemModstamp FROM Account WHERE SystemModstamp >= 1970-01-01T00:00:00.000Z AND SystemModstamp <= 1970-01-01T00:01:00.000Z ORDER BY SystemModstamp, Id"
        );
    }
}
