//! Parsing realistic Account query pages: 2,000 records of 45 fields each, with the nested
//! `attributes`, an `Owner` relationship object and the compound `BillingAddress`.
//!
//! Run: `cargo bench -p sfsync-salesforce --bench parse`.
//! Criterion reports records per second (one element = one record).

#![recursion_limit = "256"]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use sfsync_salesforce::query::parse_query_page;

const RECORDS: usize = 2000;

fn account(i: usize) -> Value {
    let id = format!("001RO00000{i:05}AAA");
    let owner = format!("005RO00000{:05}AAA", i % 37);
    let stamp = format!(
        "2025-{:02}-{:02}T{:02}:{:02}:{:02}.000+0000",
        1 + i % 12,
        1 + i % 28,
        i % 24,
        i % 60,
        (i * 7) % 60
    );
    json!({
        "attributes": {"type": "Account", "url": format!("/services/data/v62.0/sobjects/Account/{id}")},
        "Id": id,
        "IsDeleted": false,
        "MasterRecordId": null,
        "Name": format!("Acme Widgets {i} Holdings, Inc."),
        "Type": "Customer - Direct",
        "ParentId": if i.is_multiple_of(5) { Value::Null } else { json!(format!("001RO00000{:05}AAA", i / 5)) },
        "BillingStreet": format!("{} Market Street\nSuite {}", 100 + i, i % 900),
        "BillingCity": "San Francisco",
        "BillingState": "CA",
        "BillingPostalCode": "94105",
        "BillingCountry": "United States",
        "BillingLatitude": 37.793_9 + (i as f64) * 1e-5,
        "BillingLongitude": -122.395_0,
        "BillingGeocodeAccuracy": "Address",
        "BillingAddress": {
            "city": "San Francisco", "country": "United States", "geocodeAccuracy": "Address",
            "latitude": 37.793_9 + (i as f64) * 1e-5, "longitude": -122.395_0, "postalCode": "94105",
            "state": "CA", "street": format!("{} Market Street\nSuite {}", 100 + i, i % 900)
        },
        "ShippingStreet": null,
        "ShippingCity": null,
        "ShippingState": null,
        "ShippingPostalCode": null,
        "ShippingCountry": null,
        "Phone": format!("(415) 555-{:04}", i % 10000),
        "Fax": null,
        "AccountNumber": format!("CD{:06}", i),
        "Website": format!("https://www.acme{i}.example.com"),
        "Industry": "Manufacturing",
        "AnnualRevenue": 1_250_000.0 + (i as f64) * 1000.0,
        "NumberOfEmployees": 50 + i % 5000,
        "Ownership": "Public",
        "Description": "Long-standing customer with several active contracts; renewal discussions planned for next quarter.",
        "Rating": "Hot",
        "Site": null,
        "OwnerId": owner,
        "Owner": {
            "attributes": {"type": "User", "url": format!("/services/data/v62.0/sobjects/User/{owner}")},
            "Name": format!("Owner {}", i % 37),
            "Email": format!("owner{}@example.com", i % 37)
        },
        "CreatedDate": "2023-03-14T09:26:53.000+0000",
        "CreatedById": "005RO0000000001AAA",
        "LastModifiedDate": stamp,
        "LastModifiedById": "005RO0000000002AAA",
        "SystemModstamp": stamp,
        "LastActivityDate": "2025-06-01",
        "AccountSource": "Web",
        "SicDesc": "Industrial machinery",
        "Tier__c": "Gold",
        "Health_Score__c": 87.5,
        "Active__c": true,
        "Region__c": "AMER;EMEA"
    })
}

fn page() -> Vec<u8> {
    let records: Vec<Value> = (0..RECORDS).map(account).collect();
    serde_json::to_vec(&json!({
        "totalSize": 250_000,
        "done": false,
        "nextRecordsUrl": "/services/data/v62.0/query/01gRO0000016PIAYA2-2000",
        "records": records
    }))
    .expect("a page serializes")
}

fn parse_account_page(c: &mut Criterion) {
    let body = page();
    let parsed = parse_query_page(&body).expect("the page parses");
    assert_eq!(parsed.records.len(), RECORDS);
    assert_eq!(parsed.records[0].len(), 45);
    let mut group = c.benchmark_group("query_page");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.bench_function("account_2000x45", |b| {
        b.iter(|| parse_query_page(std::hint::black_box(&body)).expect("the page parses"))
    });
    group.finish();
}

criterion_group!(benches, parse_account_page);
criterion_main!(benches);
