//! Throughput of `matches` and `compare` on the incremental-sync query shape, over 200,000
//! in-memory records. Fails (exit code 1) below the simulator's budget of 200,000 records/s.
//!
//! Run with `cargo bench -p sfsync-soql`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use sfsync_soql::{Catalog, FieldInfo, FieldKind, Row, Value, compile_at};

const RECORDS: usize = 200_000;
const BUDGET_PER_SECOND: f64 = 200_000.0;
const FIELDS: [(&str, FieldKind); 5] = [
    ("Id", FieldKind::Id),
    ("Name", FieldKind::String),
    ("Industry", FieldKind::Picklist),
    ("SystemModstamp", FieldKind::DateTime),
    ("AnnualRevenue", FieldKind::Currency),
];

struct Account;

impl Catalog for Account {
    fn object(&self, name: &str) -> Option<String> {
        name.eq_ignore_ascii_case("Account")
            .then(|| "Account".to_string())
    }

    fn field(&self, _: &str, field: &str) -> Option<FieldInfo> {
        self.fields("Account")
            .into_iter()
            .find(|f| f.name.eq_ignore_ascii_case(field))
    }

    fn parent_relationship(&self, _: &str, _: &str) -> Option<(usize, String)> {
        None
    }

    fn fields(&self, _: &str) -> Vec<FieldInfo> {
        let info = |(index, (name, kind)): (usize, &(&str, FieldKind))| FieldInfo {
            name: name.to_string(),
            index,
            kind: *kind,
            filterable: true,
            sortable: true,
        };
        FIELDS.iter().enumerate().map(info).collect()
    }
}

struct Record<'a>(&'a [Value]);

impl Row for Record<'_> {
    fn value(&self, index: usize) -> Value {
        self.0[index].clone()
    }

    fn follow(&self, _: usize) -> Option<Self> {
        None
    }
}

fn records() -> Vec<Vec<Value>> {
    let names = ["Acme Corp", "Globex", "acme labs", "Initech", "Umbrella"];
    let industries = ["Retail", "Energy", "Media"];
    (0..RECORDS)
        .map(|i| {
            vec![
                Value::Text(Arc::from(format!("001{i:012}AAA"))),
                Value::Text(Arc::from(names[i % names.len()])),
                Value::Text(Arc::from(industries[i % industries.len()])),
                Value::DateTime(1_700_000_000_000 + (i as i64 % 5_000) * 60_000),
                Value::Double(i as f64),
            ]
        })
        .collect()
}

fn main() -> ExitCode {
    let soql = "SELECT Id, Name FROM Account WHERE SystemModstamp > 2023-11-14T22:20:00Z \
                AND (Name LIKE 'acme%' OR Industry = 'retail') AND Id >= '001000000000000AAA' \
                ORDER BY SystemModstamp, Id";
    let query = compile_at(soql, &Account, 0).expect("the benchmark query compiles");
    let records = records();

    let started = Instant::now();
    let mut rows: Vec<Record<'_>> = records
        .iter()
        .map(|r| Record(r))
        .filter(|row| query.matches(row))
        .collect();
    let filter_rate = RECORDS as f64 / started.elapsed().as_secs_f64();

    let started = Instant::now();
    rows.sort_by(|a, b| query.compare(a, b));
    let sort_rate = rows.len() as f64 / started.elapsed().as_secs_f64();

    println!(
        "matches: {filter_rate:>12.0} records/s ({} of {RECORDS} kept)",
        rows.len()
    );
    println!("sort:    {sort_rate:>12.0} records/s");
    if filter_rate < BUDGET_PER_SECOND || sort_rate < BUDGET_PER_SECOND {
        eprintln!("below the budget of {BUDGET_PER_SECOND} records/s");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
