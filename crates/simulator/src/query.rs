//! query and queryAll: SOQL over a snapshot of the org, paged through query locators.
//!
//! A query runs once, at its first call. Its result rows (shared `Arc`s, so the snapshot
//! costs a pointer per row) stay in a cursor that `nextRecordsUrl` pages through: later
//! writes do not shift the pages, as with Salesforce's server-side cursors. Cursors live
//! two days (API v56.0 and later) and are then answered with INVALID_QUERY_LOCATOR.

use std::collections::HashMap;
use std::sync::Arc;

use sfsync_soql::{BoundQuery, CountKind, FieldInfo, FieldKind, Row, compile_at};

use crate::catalog::{RecordRow, UserCatalog};
use crate::clock::Millis;
use crate::error::SimError;
use crate::ids::{id_str, parse_id};
use crate::org::{OrgData, Record};
use crate::reply::Reply;
use crate::values::{write_json_str, write_value};

/// How long a query locator stays valid.
pub const CURSOR_LIFETIME_MS: Millis = 2 * 86_400_000;

/// Default and largest page size; `Sforce-Query-Options: batchSize` may lower it to 200.
pub const MAX_BATCH: usize = 2000;
const MIN_BATCH: usize = 200;

/// One open query result.
#[derive(Debug)]
pub struct Cursor {
    pub org_id: String,
    pub object: String,
    pub rows: Vec<Arc<Record>>,
    pub query: Arc<BoundQuery>,
    pub created: Millis,
    pub batch: usize,
}

/// Every open cursor, by locator id.
#[derive(Debug, Default)]
pub struct Cursors {
    pub open: HashMap<String, Cursor>,
}

impl Cursors {
    /// Forgets cursors past their lifetime.
    pub fn expire(&mut self, now: Millis) {
        self.open
            .retain(|_, c| now - c.created < CURSOR_LIFETIME_MS);
    }
}

/// The page size a request asks for through `Sforce-Query-Options: batchSize=N`.
/// Salesforce treats it as a hint between 200 and 2000.
pub fn batch_size(header: Option<&str>) -> usize {
    let requested = header.and_then(|h| {
        h.split([',', ';'])
            .filter_map(|part| part.trim().split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("batchSize"))
            .and_then(|(_, v)| v.trim().parse::<usize>().ok())
    });
    requested.unwrap_or(MAX_BATCH).clamp(MIN_BATCH, MAX_BATCH)
}

/// Runs a SOQL statement and selects its rows, in order, offset and limit applied.
pub fn select_rows(
    org: &OrgData,
    soql: &str,
    all_rows: bool,
    now: Millis,
) -> Result<(BoundQuery, Vec<Arc<Record>>), SimError> {
    let query = compile_at(soql, &UserCatalog { org }, now)?;
    let table = org.table(&query.object)?;
    let lower = query
        .id_lower_bound()
        .and_then(|(id, inclusive)| parse_id(&id).map(|k| (k, inclusive)));
    let candidates: Box<dyn Iterator<Item = &Arc<Record>>> = match lower {
        Some((key, true)) => Box::new(table.rows.range(key..).map(|(_, r)| r)),
        Some((key, false)) => Box::new(
            table
                .rows
                .range(key..)
                .filter(move |(k, _)| **k != key)
                .map(|(_, r)| r),
        ),
        None => Box::new(table.rows.values()),
    };
    // Records are held in Id order: a query without ORDER BY, or ordered by Id, is served in
    // scan order, so its LIMIT stops the scan as Salesforce's Id index would, instead of
    // every keyset page scanning and sorting the rest of the table.
    let in_scan_order = query.order_by.is_empty() || query.ordered_by_id();
    let cap = match (in_scan_order, query.limit) {
        (true, Some(limit)) => Some(limit as usize + query.offset.unwrap_or(0) as usize),
        _ => None,
    };
    let mut rows = Vec::new();
    for record in candidates {
        if !all_rows && table.is_deleted(record) {
            continue;
        }
        if query.matches(&RecordRow::new(org, table, record, now)) {
            rows.push(record.clone());
            if cap.is_some_and(|c| rows.len() >= c) {
                break;
            }
        }
    }
    if !in_scan_order {
        rows.sort_by(|a, b| {
            query.compare(
                &RecordRow::new(org, table, a, now),
                &RecordRow::new(org, table, b, now),
            )
        });
    }
    let offset = (query.offset.unwrap_or(0) as usize).min(rows.len());
    rows.drain(..offset);
    if let Some(limit) = query.limit {
        rows.truncate(limit as usize);
    }
    Ok((query, rows))
}

/// Starts a query: the first page, and a cursor when there are more.
pub fn start_query(
    org_id: &str,
    org: &OrgData,
    cursors: &mut Cursors,
    request: &QueryRequest<'_>,
) -> Result<Reply, SimError> {
    let (query, rows) = select_rows(org, request.soql, request.all_rows, request.now)?;
    if let Some(count) = count_reply(org, &query, &rows, request.now) {
        return Ok(count);
    }
    let total = rows.len();
    let first: Vec<Arc<Record>> = rows.iter().take(request.batch).cloned().collect();
    let next = if total > request.batch {
        let locator = new_locator();
        let cursor = Cursor {
            org_id: org_id.to_string(),
            object: query.object.clone(),
            rows,
            query: Arc::new(query.clone()),
            created: request.now,
            batch: request.batch,
        };
        cursors.open.insert(locator.clone(), cursor);
        Some(format!(
            "/services/data/{}/query/{locator}-{}",
            request.version, request.batch
        ))
    } else {
        None
    };
    Ok(render_page(
        org,
        &query,
        &first,
        total,
        next.as_deref(),
        request,
    ))
}

/// One query request's parameters.
pub struct QueryRequest<'a> {
    pub soql: &'a str,
    pub all_rows: bool,
    pub batch: usize,
    pub version: &'a str,
    pub now: Millis,
}

/// Serves the page of an open cursor that starts at `offset`.
pub fn next_page(
    org_id: &str,
    org: &OrgData,
    cursors: &mut Cursors,
    locator_and_offset: &str,
    request: &QueryRequest<'_>,
) -> Result<Reply, SimError> {
    cursors.expire(request.now);
    let invalid = || SimError::bad_request("INVALID_QUERY_LOCATOR", "invalid query locator");
    let (locator, offset) = locator_and_offset.rsplit_once('-').ok_or_else(invalid)?;
    let offset: usize = offset.parse().map_err(|_| invalid())?;
    let cursor = cursors
        .open
        .get(locator)
        .filter(|c| c.org_id == org_id)
        .ok_or_else(invalid)?;
    if offset > cursor.rows.len() {
        return Err(invalid());
    }
    let end = (offset + request.batch).min(cursor.rows.len());
    let page = &cursor.rows[offset..end];
    let next = (end < cursor.rows.len())
        .then(|| format!("/services/data/{}/query/{locator}-{end}", request.version));
    let reply = render_page(
        org,
        &cursor.query,
        page,
        cursor.rows.len(),
        next.as_deref(),
        request,
    );
    if next.is_none() {
        cursors.open.remove(locator);
    }
    Ok(reply)
}

fn new_locator() -> String {
    // Salesforce's locators look like `01gRO0000016PIAYA2`; clients must treat them as opaque.
    let token = crate::rng::secure_token(12).replace(['-', '_'], "x");
    format!("01g{}", &token[..15])
}

/// The reply to `SELECT COUNT() ...` or `SELECT COUNT(field) ...`, if the query is one.
fn count_reply(
    org: &OrgData,
    query: &BoundQuery,
    rows: &[Arc<Record>],
    now: Millis,
) -> Option<Reply> {
    let count = query.count.as_ref()?;
    let table = org.table(&query.object).ok()?;
    let body = match count {
        CountKind::Rows => {
            serde_json::json!({"totalSize": rows.len(), "done": true, "records": []})
        }
        CountKind::Field { .. } => {
            let n = rows
                .iter()
                .filter(|r| count.counts(&RecordRow::new(org, table, r, now)))
                .count();
            serde_json::json!({
                "totalSize": 1,
                "done": true,
                "records": [{"attributes": {"type": "AggregateResult"}, count.column_name(): n}],
            })
        }
    };
    Some(Reply::json(&body))
}

/// Writes a query response page: `{"totalSize","done","nextRecordsUrl"?,"records"}`.
fn render_page(
    org: &OrgData,
    query: &BoundQuery,
    rows: &[Arc<Record>],
    total: usize,
    next: Option<&str>,
    request: &QueryRequest<'_>,
) -> Reply {
    let tree = ColumnTree::build(query);
    let table = org.table(&query.object).expect("bound object exists");
    let mut out = Vec::with_capacity(rows.len() * 600 + 128);
    out.extend_from_slice(
        format!("{{\"totalSize\":{total},\"done\":{}", next.is_none()).as_bytes(),
    );
    if let Some(next) = next {
        out.extend_from_slice(b",\"nextRecordsUrl\":");
        write_json_str(&mut out, next);
    }
    out.extend_from_slice(b",\"records\":[");
    for (i, record) in rows.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let row = RecordRow::new(org, table, record, request.now);
        write_record(&mut out, &tree, &row, request.version);
    }
    out.extend_from_slice(b"]}");
    Reply::json_bytes(out)
}

/// Rows as a JSON array of records, each as a query page writes it (Bulk API 1.0 results
/// of a JSON job).
pub fn records_json(
    org: &OrgData,
    query: &BoundQuery,
    rows: &[Arc<Record>],
    now: Millis,
    version: &str,
) -> Vec<u8> {
    let tree = ColumnTree::build(query);
    let table = org.table(&query.object).expect("bound object exists");
    let mut out = Vec::with_capacity(rows.len() * 600 + 2);
    out.push(b'[');
    for (i, record) in rows.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_record(
            &mut out,
            &tree,
            &RecordRow::new(org, table, record, now),
            version,
        );
    }
    out.push(b']');
    out
}

/// The select list as nested JSON objects: plain fields, and relationships holding theirs.
#[derive(Debug, Default)]
struct ColumnTree {
    entries: Vec<Entry>,
}

#[derive(Debug)]
enum Entry {
    Field(FieldInfo),
    Parent {
        name: String,
        reference: usize,
        tree: ColumnTree,
    },
}

impl ColumnTree {
    fn build(query: &BoundQuery) -> Self {
        let mut root = ColumnTree::default();
        for column in &query.select {
            root.insert(&column.path.hops, &column.path.field);
        }
        root
    }

    fn insert(&mut self, hops: &[(usize, String, String)], field: &FieldInfo) {
        let Some(((reference, name, _), rest)) = hops.split_first() else {
            self.entries.push(Entry::Field(field.clone()));
            return;
        };
        let existing = self.entries.iter_mut().find_map(|e| match e {
            Entry::Parent { name: n, tree, .. } if n == name => Some(tree),
            _ => None,
        });
        match existing {
            Some(tree) => tree.insert(rest, field),
            None => {
                let mut tree = ColumnTree::default();
                tree.insert(rest, field);
                self.entries.push(Entry::Parent {
                    name: name.clone(),
                    reference: *reference,
                    tree,
                });
            }
        }
    }
}

fn write_record(out: &mut Vec<u8>, tree: &ColumnTree, row: &RecordRow<'_>, version: &str) {
    let object = &row.table.def.name;
    out.extend_from_slice(b"{\"attributes\":{\"type\":");
    write_json_str(out, object);
    out.extend_from_slice(b",\"url\":\"/services/data/");
    out.extend_from_slice(version.as_bytes());
    out.extend_from_slice(b"/sobjects/");
    out.extend_from_slice(object.as_bytes());
    out.push(b'/');
    out.extend_from_slice(id_str(&row.record.id).as_bytes());
    out.extend_from_slice(b"\"}");
    for entry in &tree.entries {
        out.push(b',');
        match entry {
            Entry::Field(field) => {
                write_json_str(out, &field.name);
                out.push(b':');
                write_field(out, field, row);
            }
            Entry::Parent {
                name,
                reference,
                tree,
            } => {
                write_json_str(out, name);
                out.push(b':');
                match row.follow(*reference) {
                    Some(parent) => write_record(out, tree, &parent, version),
                    None => out.extend_from_slice(b"null"),
                }
            }
        }
    }
    out.push(b'}');
}

fn write_field(out: &mut Vec<u8>, field: &FieldInfo, row: &RecordRow<'_>) {
    if field.kind != FieldKind::Address {
        write_value(out, field.kind, &row.value(field.index));
        return;
    }
    let parts = row.address_parts(&field.name);
    if parts.iter().all(|(_, _, v)| *v == sfsync_soql::Value::Null) {
        out.extend_from_slice(b"null");
        return;
    }
    out.push(b'{');
    for (i, (key, kind, value)) in parts.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_json_str(out, key);
        out.push(b':');
        write_value(out, *kind, value);
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_size_header_is_a_hint_between_200_and_2000() {
        assert_eq!(batch_size(None), 2000);
        assert_eq!(batch_size(Some("batchSize=500")), 500);
        assert_eq!(batch_size(Some("batchSize=50")), 200);
        assert_eq!(batch_size(Some("batchSize=9000")), 2000);
        assert_eq!(batch_size(Some("junk")), 2000);
    }
}
