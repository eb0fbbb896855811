//! Property tests over every response parser: arbitrary bytes, truncated bodies, values of the
//! wrong type, missing keys and the date-time forms Salesforce and other tools write. Each must
//! end in a value or a typed error, never a panic.

use proptest::prelude::*;
use serde_json::{Value, json};
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use crate::auth::{Identity, TokenResponse};
use crate::bulk::{BulkJob, parse_csv};
use crate::describe::{GlobalDescribe, SObjectDescribe};
use crate::error::{Error, Result};
use crate::limits::{OrgLimits, parse_limit_info};
use crate::query::{CompositeWire, parse_query_page};
use crate::replication::{DeletedRecords, UpdatedIds};
use crate::wire::{parse_datetime, parse_json};

/// A parser under test, its result reduced to success or the error.
type Parser = fn(&[u8]) -> Result<()>;

/// A documented example body for each parser, and the parser.
fn samples() -> Vec<(&'static str, Value, Parser)> {
    vec![
        ("query", query_sample(), |b| parse_query_page(b).map(drop)),
        (
            "token",
            json!({"access_token":"00D!x","refresh_token":"5Aep","signature":"c2ln","scope":"api","instance_url":"https://a.my.salesforce.com","id":"https://login.salesforce.com/id/00D/005","token_type":"Bearer","issued_at":"1278448832702"}),
            |b| parse_json::<TokenResponse>("token response", b).map(drop),
        ),
        (
            "identity",
            json!({"user_id":"005","organization_id":"00D","username":"u@x.com","display_name":"U","email":"u@x.com","active":true}),
            |b| parse_json::<Identity>("identity response", b).map(drop),
        ),
        (
            "describe",
            json!({"name":"Account","queryable":true,"fields":[{"name":"Id","type":"id","filterable":true},{"name":"OwnerId","type":"reference","referenceTo":["User"]}]}),
            |b| parse_json::<SObjectDescribe>("describe response", b).map(drop),
        ),
        (
            "global",
            json!({"encoding":"UTF-8","maxBatchSize":200,"sobjects":[{"name":"Account","queryable":true,"keyPrefix":"001"}]}),
            |b| parse_json::<GlobalDescribe>("describe global response", b).map(drop),
        ),
        (
            "limits",
            json!({"DailyApiRequests":{"Max":15000,"Remaining":14998}}),
            |b| parse_json::<OrgLimits>("limits response", b).map(drop),
        ),
        (
            "updated",
            json!({"ids":["a00D0000008pQR5IAM"],"latestDateCovered":"2013-05-08T21:20:00.000+0000"}),
            |b| parse_json::<UpdatedIds>("getUpdated response", b).map(drop),
        ),
        (
            "deleted",
            json!({"deletedRecords":[{"id":"a00","deletedDate":"2013-05-07T22:07:19.000+0000"}],"earliestDateAvailable":"2013-05-03T15:57:00.000+0000","latestDateCovered":"2013-05-08T21:20:00.000+0000"}),
            |b| parse_json::<DeletedRecords>("getDeleted response", b).map(drop),
        ),
        (
            "bulk job",
            json!({"id":"750A","operation":"query","object":"Account","state":"JobComplete","numberRecordsProcessed":3}),
            |b| parse_json::<BulkJob>("bulk job response", b).map(drop),
        ),
        (
            "composite",
            json!({"compositeResponse":[{"body":{"totalSize":0,"done":true,"records":[]},"httpHeaders":{},"httpStatusCode":200,"referenceId":"a"}]}),
            |b| parse_json::<CompositeWire>("composite response", b).map(drop),
        ),
    ]
}

fn query_sample() -> Value {
    json!({"totalSize":2,"done":false,"nextRecordsUrl":"/services/data/v62.0/query/01gRO0000016PIAYA2-2",
        "records":[
            {"attributes":{"type":"Account","url":"/services/data/v62.0/sobjects/Account/001A"},"Id":"001A","Name":"Acme",
             "Owner":{"attributes":{"type":"User","url":"/x"},"Name":"Ann"},
             "BillingAddress":{"city":"Paris","latitude":48.85,"street":"1 rue\nde la Paix"},
             "SystemModstamp":"2024-01-01T00:00:00.000+0000","AnnualRevenue":1500.5,"IsDeleted":false},
            {"attributes":{"type":"Account"},"Id":"001B","Name":null,"Owner":null,"BillingAddress":null,
             "SystemModstamp":"2024-01-01T00:00:01.000+0000","AnnualRevenue":null,"IsDeleted":true}]})
}

/// Every path to a value inside `value`.
fn paths(value: &Value, prefix: Vec<PathStep>, out: &mut Vec<Vec<PathStep>>) {
    let children: Vec<(PathStep, &Value)> = match value {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| (PathStep::Key(k.clone()), v))
            .collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (PathStep::Index(i), v))
            .collect(),
        _ => Vec::new(),
    };
    for (step, child) in children {
        let mut path = prefix.clone();
        path.push(step);
        out.push(path.clone());
        paths(child, path, out);
    }
}

#[derive(Clone, Debug)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn at_path<'a>(value: &'a mut Value, path: &[PathStep]) -> &'a mut Value {
    path.iter().fold(value, |v, step| match step {
        PathStep::Key(k) => &mut v[k.as_str()],
        PathStep::Index(i) => &mut v[*i],
    })
}

fn remove_at(value: &mut Value, path: &[PathStep]) {
    let (last, parent) = path.split_last().expect("paths are non-empty");
    match (at_path(value, parent), last) {
        (Value::Object(map), PathStep::Key(k)) => drop(map.remove(k)),
        (Value::Array(items), PathStep::Index(i)) => drop(items.remove(*i)),
        _ => {}
    }
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1e12f64..1e12).prop_map(|n| json!(n)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn assert_typed(result: Result<()>) -> std::result::Result<(), TestCaseError> {
    if let Err(err) = result {
        prop_assert!(
            err.is_malformed(),
            "not a malformed-response error: {err:?}"
        );
        prop_assert!(!err.to_string().is_empty());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_give_a_value_or_a_typed_error(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        for (_, _, parse) in samples() {
            assert_typed(parse(&bytes))?;
        }
        let _ = parse_csv(&bytes);
        let _ = Error::from_rest("query", 400, &bytes);
        let _ = Error::from_oauth_response(400, &bytes);
    }

    #[test]
    fn every_truncation_of_a_valid_body_is_a_typed_error(cut in any::<prop::sample::Index>()) {
        for (name, sample, parse) in samples() {
            let body = serde_json::to_vec(&sample).unwrap();
            prop_assert!(parse(&body).is_ok(), "the {name} sample parses");
            let at = cut.index(body.len());
            let err = parse(&body[..at]).expect_err("a strict prefix of a JSON object is not JSON");
            prop_assert!(err.is_malformed(), "{name}: {err:?}");
        }
    }

    #[test]
    fn any_value_of_any_type_anywhere_gives_a_value_or_a_typed_error(
        pick in any::<prop::sample::Index>(),
        replacement in any_json(),
    ) {
        for (_, sample, parse) in samples() {
            let mut all = Vec::new();
            paths(&sample, Vec::new(), &mut all);
            let mut changed = sample.clone();
            *at_path(&mut changed, &all[pick.index(all.len())]) = replacement.clone();
            assert_typed(parse(&serde_json::to_vec(&changed).unwrap()))?;
        }
    }

    #[test]
    fn any_missing_key_gives_a_value_or_a_typed_error(pick in any::<prop::sample::Index>()) {
        for (_, sample, parse) in samples() {
            let mut all = Vec::new();
            paths(&sample, Vec::new(), &mut all);
            let mut changed = sample.clone();
            remove_at(&mut changed, &all[pick.index(all.len())]);
            assert_typed(parse(&serde_json::to_vec(&changed).unwrap()))?;
        }
    }

    #[test]
    fn a_missing_required_page_key_is_named(key in prop::sample::select(vec!["totalSize", "done", "records"])) {
        let mut page = query_sample();
        page.as_object_mut().unwrap().remove(key);
        let err = parse_query_page(&serde_json::to_vec(&page).unwrap()).unwrap_err();
        prop_assert!(err.to_string().contains(key), "{err}");
    }

    #[test]
    fn a_wrong_type_in_a_record_names_its_path(record in 0usize..2, value in any_json()) {
        let mut page = query_sample();
        page["records"][record]["attributes"]["type"] = value.clone();
        let result = parse_query_page(&serde_json::to_vec(&page).unwrap());
        if value.is_string() {
            prop_assert!(result.is_ok());
        } else {
            let err = result.unwrap_err();
            prop_assert!(err.to_string().contains(&format!("records[{record}].attributes.type")), "{err}");
        }
    }

    #[test]
    fn datetimes_parse_in_every_documented_form(
        (year, month, day) in (1971i32..2100, 1u8..=12, 1u8..=28),
        (hour, minute, second, millis) in (0u8..24, 0u8..60, 0u8..60, 0u16..1000),
        offset_minutes in -12 * 60i32..=14 * 60,
        form in 0usize..6,
    ) {
        let local = PrimitiveDateTime::new(
            Date::from_calendar_date(year, Month::try_from(month).unwrap(), day).unwrap(),
            Time::from_hms_milli(hour, minute, second, millis).unwrap(),
        );
        let (sign, abs) = if offset_minutes < 0 { ('-', -offset_minutes) } else { ('+', offset_minutes) };
        let (oh, om) = (abs / 60, abs % 60);
        let base = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}");
        let text = match form {
            0 => format!("{base}.{millis:03}+0000"),
            1 => format!("{base}.{millis:03}Z"),
            2 => format!("{base}.{millis:03}+00:00"),
            3 => format!("{base}Z"),
            4 => format!("{base}.{millis:03}{sign}{oh:02}{om:02}"),
            _ => format!("{base}{sign}{oh:02}:{om:02}"),
        };
        let offset = match form {
            0..=3 => UtcOffset::UTC,
            _ => UtcOffset::from_whole_seconds(offset_minutes * 60).unwrap(),
        };
        let expected_local = if form == 3 || form == 5 { local.replace_millisecond(0).unwrap() } else { local };
        let expected: OffsetDateTime = expected_local.assume_offset(offset);
        prop_assert_eq!(parse_datetime(&text).unwrap(), expected, "{}", text);
    }

    #[test]
    fn arbitrary_datetime_text_gives_a_value_or_a_typed_error(text in ".{0,40}", tail in "[0-9:+Z.-]{0,8}") {
        let candidate = format!("2024-01-02T03:04:05{tail}");
        for input in [text.as_str(), candidate.as_str()] {
            if let Err(err) = parse_datetime(input) {
                prop_assert!(err.is_malformed(), "{err:?}");
            }
        }
    }

    #[test]
    fn api_usage_is_found_among_other_items_in_any_order(
        used in 0u64..10_000_000,
        limit in 1u64..10_000_000,
        others in prop::collection::vec(prop_oneof![
            (0u64..1000, 1u64..1000).prop_map(|(a, b)| format!("api-bursts={a}/{b}")),
            (0u64..1000, 1u64..1000, "[a-z-]{1,10}").prop_map(|(a, b, n)| format!("per-app-api-usage={a}/{b}(appName={n})")),
            "[a-z]{1,8}=[0-9/]{1,8}",
        ], 0..3),
        at in any::<prop::sample::Index>(),
        separator in prop::sample::select(vec!["; ", ";", ", "]),
    ) {
        let mut items = others;
        let position = at.index(items.len() + 1);
        items.insert(position, format!("api-usage={used}/{limit}"));
        let header = items.join(separator);
        let usage = parse_limit_info(&header).expect("api-usage is present");
        prop_assert_eq!((usage.api.used, usage.api.limit), (used, limit), "{}", header);
    }

    #[test]
    fn arbitrary_limit_headers_never_panic(header in ".{0,64}") {
        let _ = parse_limit_info(&header);
    }

    #[test]
    fn csv_round_trips_any_fields(rows in prop::collection::vec(prop::collection::vec("[a-z ,\"\n\r]{0,6}", 3), 1..6)) {
        let quote = |f: &String| format!("\"{}\"", f.replace('"', "\"\""));
        let mut body = String::from("A,B,C\n");
        for row in &rows {
            body.push_str(&row.iter().map(quote).collect::<Vec<_>>().join(","));
            body.push('\n');
        }
        let (header, parsed) = parse_csv(body.as_bytes()).unwrap();
        prop_assert_eq!(header, vec!["A", "B", "C"]);
        let expected: Vec<Vec<Option<String>>> = rows
            .iter()
            .map(|r| r.iter().map(|f| Some(f.clone()).filter(|f| !f.is_empty())).collect())
            .collect();
        prop_assert_eq!(parsed, expected);
    }
}
