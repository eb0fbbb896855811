//! Evaluation: `matches` and `compare` over a small org, checked against hand-computed
//! answers for each SOQL rule they implement.

mod support;

use sfsync_soql::{BoundQuery, compile_at};
use support::{NOW_MS, Store, sample_store, schema};

/// A1..A4 for accounts, C1..C5 for contacts, I1..I3 for invoices, U1..U3 for users.
fn label(id: &str) -> String {
    let letter = match &id[..3] {
        "001" => 'A',
        "003" => 'C',
        "005" => 'U',
        "a00" => 'I',
        other => panic!("unexpected key prefix {other}"),
    };
    format!("{letter}{}", &id[14..15])
}

fn compile_now(soql: &str, now_ms: i64) -> BoundQuery {
    compile_at(soql, &schema(), now_ms).unwrap_or_else(|error| panic!("{soql}: {error}"))
}

fn run_at(store: &Store, soql: &str, now_ms: i64) -> Vec<String> {
    store
        .ids(&compile_now(soql, now_ms))
        .iter()
        .map(|id| label(id))
        .collect()
}

/// Runs `SELECT Id FROM {object} WHERE {condition} ORDER BY Id`.
fn filter(object: &str, condition: &str) -> Vec<String> {
    let soql = format!("SELECT Id FROM {object} WHERE {condition} ORDER BY Id");
    run_at(&sample_store(), &soql, NOW_MS)
}

fn query(soql: &str) -> Vec<String> {
    run_at(&sample_store(), soql, NOW_MS)
}

#[test]
fn text_equality_ignores_case() {
    assert_eq!(filter("Account", "Name = 'ACME'"), ["A1"]);
    assert_eq!(filter("Account", "Name = 'café ÖLMÜHLE'"), ["A3"]);
    assert_eq!(filter("Account", "Name = 'Acm'"), Vec::<String>::new());
}

#[test]
fn not_equal_and_not_in_also_match_nulls() {
    assert_eq!(filter("Account", "Industry != 'Retail'"), ["A1", "A4"]);
    assert_eq!(filter("Account", "Industry <> 'retail'"), ["A1", "A4"]);
    assert_eq!(
        filter("Account", "Industry NOT IN ('Retail')"),
        ["A1", "A4"]
    );
    assert_eq!(
        filter("Account", "Industry NOT IN ('Energy', null)"),
        ["A2", "A3"]
    );
    assert_eq!(
        filter("Account", "Industry IN ('energy', 'RETAIL')"),
        ["A1", "A2", "A3"]
    );
    assert_eq!(
        filter("Account", "Industry IN ('Energy', null)"),
        ["A1", "A4"]
    );
}

#[test]
fn null_checks_and_ordering_against_null() {
    assert_eq!(filter("Account", "Industry = null"), ["A4"]);
    assert_eq!(filter("Account", "Industry != null"), ["A1", "A2", "A3"]);
    assert_eq!(
        filter("Account", "NumberOfEmployees > null"),
        Vec::<String>::new()
    );
}

#[test]
fn numbers_compare_numerically_across_int_and_double() {
    assert_eq!(filter("Account", "NumberOfEmployees > 10"), ["A1", "A2"]);
    assert_eq!(filter("Account", "NumberOfEmployees <= 15"), ["A2", "A3"]);
    assert_eq!(filter("Account", "AnnualRevenue >= 250000.5"), ["A1", "A2"]);
    assert_eq!(filter("Account", "NumberOfEmployees = 120.0"), ["A1"]);
    assert_eq!(filter("Invoice__c", "Amount__c > 50"), ["I1", "I3"]);
    assert_eq!(filter("Contact", "Score__c < -1"), ["C4"]);
}

#[test]
fn like_patterns_follow_salesforce_wildcards_and_escapes() {
    assert_eq!(filter("Account", "Name LIKE 'a%'"), ["A1"]);
    assert_eq!(filter("Account", "Name LIKE '%IND%'"), ["A2"]);
    assert_eq!(filter("Account", "Name LIKE '_cme'"), ["A1"]);
    assert_eq!(filter("Account", r"Name LIKE '100\% Pure\_%'"), ["A4"]);
    assert_eq!(
        filter("Account", r"Name LIKE '10\%%'"),
        Vec::<String>::new()
    );
    assert_eq!(filter("Account", "Name LIKE 'CAFÉ%'"), ["A3"]);
    assert_eq!(filter("Contact", r"LastName LIKE 'o\'%'"), ["C1"]);
    assert_eq!(
        filter("Contact", "FirstName LIKE '%'"),
        ["C1", "C2", "C3", "C5"]
    );
}

#[test]
fn and_or_not_and_parentheses_combine_as_written() {
    let condition = "(Industry = 'Retail' AND NumberOfEmployees > 10) OR Name = 'Acme'";
    assert_eq!(filter("Account", condition), ["A1", "A2"]);
    assert_eq!(filter("Account", "NOT (Industry = 'Retail')"), ["A1", "A4"]);
    assert_eq!(
        filter("Account", "NOT Industry = 'Retail' AND IsDeleted = false"),
        ["A1", "A4"]
    );
    let condition = "Industry = 'Retail' AND (NumberOfEmployees < 10 OR BillingCity = 'berlin')";
    assert_eq!(filter("Account", condition), ["A2", "A3"]);
    assert_eq!(filter("Account", "NOT (NOT Name = 'Acme')"), ["A1"]);
}

#[test]
fn relationship_paths_filter_through_parents() {
    assert_eq!(filter("Contact", "Account.Name = 'acme'"), ["C1"]);
    assert_eq!(
        filter("Contact", "Account.Owner.Name LIKE 'bob%'"),
        ["C1", "C3"]
    );
    assert_eq!(
        filter("Contact", "Account.Owner.Manager.Name = 'Ada Admin'"),
        ["C1", "C3"]
    );
    assert_eq!(
        filter("Contact", "Account.Parent.Parent.Name = 'Acme'"),
        ["C3"]
    );
    assert_eq!(
        filter("Contact", r"Mother__r.LastName = 'O\'Brien'"),
        ["C2"]
    );
    assert_eq!(
        filter("Invoice__c", "Account__r.Industry = 'Retail'"),
        ["I2"]
    );
}

#[test]
fn an_empty_or_invisible_parent_reads_as_null() {
    assert_eq!(filter("Contact", "Account.Name = null"), ["C4", "C5"]);
    assert_eq!(
        filter("Contact", "Account.Name != 'Acme'"),
        ["C2", "C3", "C4", "C5"]
    );
}

#[test]
fn booleans_compare_by_value_and_null_is_neither() {
    assert_eq!(filter("Account", "IsDeleted = true"), ["A3"]);
    assert_eq!(filter("Account", "IsDeleted != true"), ["A1", "A2", "A4"]);
    assert_eq!(filter("Contact", "HasOptedOutOfEmail = false"), ["C1"]);
}

#[test]
fn ids_compare_exactly_and_accept_the_fifteen_character_form() {
    assert_eq!(filter("Account", "Id = '001000000000002'"), ["A2"]);
    assert_eq!(filter("Account", "Id = '001000000000002AAA'"), ["A2"]);
    assert_eq!(
        filter("Account", "Id = '001000000000002aaa'"),
        Vec::<String>::new()
    );
    assert_eq!(filter("Account", "Id > '001000000000002AAA'"), ["A3", "A4"]);
    assert_eq!(filter("Account", "ParentId = '001000000000001AAA'"), ["A2"]);
    assert_eq!(filter("Account", "ParentId = null"), ["A1", "A4"]);
}

#[test]
fn datetime_literals_honour_their_offsets() {
    assert_eq!(
        filter("Account", "CreatedDate > 2024-01-15T12:00:00Z"),
        ["A4"]
    );
    assert_eq!(
        filter("Account", "CreatedDate >= 2024-01-15T12:00:00Z"),
        ["A3", "A4"]
    );
    assert_eq!(
        filter("Account", "CreatedDate = 2024-01-15T13:30:00+01:30"),
        ["A3"]
    );
    assert_eq!(
        filter("Account", "CreatedDate = 2024-01-15T04:00:00.000-08:00"),
        ["A3"]
    );
    assert_eq!(
        filter("Account", "CreatedDate <= 2024-01-15T12:00:00.000+0000"),
        ["A1", "A2", "A3"]
    );
    assert_eq!(filter("Account", "LastActivityDate = 2024-01-15"), ["A1"]);
    assert_eq!(
        filter("Account", "LastActivityDate > 2024-01-14"),
        ["A1", "A4"]
    );
}

#[test]
fn relative_date_literals_cover_whole_utc_days() {
    assert_eq!(filter("Account", "CreatedDate = TODAY"), ["A3"]);
    assert_eq!(filter("Account", "CreatedDate < TODAY"), ["A1", "A2"]);
    assert_eq!(filter("Account", "CreatedDate > TODAY"), ["A4"]);
    assert_eq!(
        filter("Account", "CreatedDate <= TODAY"),
        ["A1", "A2", "A3"]
    );
    assert_eq!(
        filter("Account", "CreatedDate != TODAY"),
        ["A1", "A2", "A4"]
    );
    // LAST_N_DAYS:n includes today and the n days before it.
    assert_eq!(
        filter("Account", "CreatedDate = LAST_N_DAYS:3"),
        ["A1", "A3"]
    );
    assert_eq!(filter("Account", "CreatedDate = LAST_N_DAYS:2"), ["A3"]);
    assert_eq!(filter("Account", "CreatedDate = NEXT_N_DAYS:1"), ["A4"]);
    assert_eq!(filter("Account", "LastActivityDate = YESTERDAY"), ["A2"]);
    assert_eq!(filter("Account", "LastActivityDate = TOMORROW"), ["A4"]);
    assert_eq!(filter("Account", "LastActivityDate >= TODAY"), ["A1", "A4"]);
    assert_eq!(
        filter("Invoice__c", "IssuedOn__c = LAST_N_DAYS:10"),
        ["I1", "I2"]
    );
    assert_eq!(filter("Invoice__c", "IssuedOn__c = LAST_N_DAYS:9"), ["I2"]);
}

#[test]
fn relative_dates_follow_the_bind_instant() {
    let store = sample_store();
    let soql = "SELECT Id FROM Account WHERE CreatedDate = TODAY ORDER BY Id";
    assert_eq!(run_at(&store, soql, NOW_MS), ["A3"]);
    assert_eq!(run_at(&store, soql, NOW_MS + 86_400_000), ["A4"]);
}

#[test]
fn order_by_text_ignores_case_and_honours_direction() {
    assert_eq!(
        query("SELECT Id FROM Account ORDER BY Name"),
        ["A4", "A1", "A2", "A3"]
    );
    assert_eq!(
        query("SELECT Id FROM Account ORDER BY Name DESC"),
        ["A3", "A2", "A1", "A4"]
    );
    let soql = "SELECT Id FROM Contact ORDER BY LastName, FirstName";
    assert_eq!(query(soql), ["C5", "C1", "C4", "C2", "C3"]);
}

#[test]
fn order_by_places_nulls_by_default_and_on_request() {
    assert_eq!(
        query("SELECT Id FROM Account ORDER BY Industry, Name DESC"),
        ["A4", "A1", "A3", "A2"]
    );
    assert_eq!(
        query("SELECT Id FROM Account ORDER BY Industry DESC, Id"),
        ["A2", "A3", "A1", "A4"]
    );
    assert_eq!(
        query("SELECT Id FROM Account ORDER BY Industry NULLS LAST, Id"),
        ["A1", "A2", "A3", "A4"]
    );
    let soql = "SELECT Id FROM Account ORDER BY AnnualRevenue DESC NULLS FIRST, Id DESC";
    assert_eq!(query(soql), ["A4", "A3", "A1", "A2"]);
}

#[test]
fn order_by_follows_relationship_paths() {
    assert_eq!(
        query("SELECT Id FROM Account ORDER BY Owner.Name, Id"),
        ["A4", "A1", "A3", "A2"]
    );
    assert_eq!(
        query("SELECT Id FROM Contact ORDER BY Account.CreatedDate DESC, Id"),
        ["C3", "C1", "C2", "C4", "C5"]
    );
}

#[test]
fn numbers_dates_and_booleans_sort_by_value() {
    assert_eq!(
        query("SELECT Id FROM Invoice__c ORDER BY Amount__c"),
        ["I2", "I1", "I3"]
    );
    assert_eq!(
        query("SELECT Id FROM Account ORDER BY IsDeleted DESC, Id"),
        ["A3", "A1", "A2", "A4"]
    );
    assert_eq!(
        query("SELECT Id FROM Account ORDER BY LastActivityDate, Id"),
        ["A3", "A2", "A1", "A4"]
    );
}

#[test]
fn limit_and_offset_page_through_the_ordered_rows() {
    assert_eq!(
        query("SELECT Id FROM Account ORDER BY Name LIMIT 2 OFFSET 1"),
        ["A1", "A2"]
    );
    assert_eq!(
        query("SELECT Id FROM Account ORDER BY Name LIMIT 0"),
        Vec::<String>::new()
    );
}

#[test]
fn without_order_by_every_pair_compares_equal() {
    let store = sample_store();
    let query = compile_now("SELECT Id FROM Account", NOW_MS);
    let rows = store.rows("Account");
    assert!(
        rows.iter()
            .all(|a| rows.iter().all(|b| query.compare(a, b).is_eq()))
    );
}

#[test]
fn count_kinds_count_rows_or_non_null_values() {
    let store = sample_store();
    let rows = store.rows("Account");
    let count = |soql: &str| {
        let query = compile_now(soql, NOW_MS);
        let kind = query.count.clone().expect("a count query");
        rows.iter()
            .filter(|row| query.matches(*row) && kind.counts(*row))
            .count()
    };
    assert_eq!(count("SELECT COUNT() FROM Account"), 4);
    assert_eq!(count("SELECT COUNT(Industry) FROM Account"), 3);
    assert_eq!(
        count("SELECT COUNT(Id) FROM Account WHERE Industry = 'Retail'"),
        2
    );
}

#[test]
fn select_paths_evaluate_through_parents() {
    let store = sample_store();
    let query = compile_now(
        "SELECT Account.Owner.Name, Mother__r.FirstName FROM Contact ORDER BY Id",
        NOW_MS,
    );
    let values: Vec<_> = store
        .run(&query)
        .iter()
        .map(|row| {
            (
                query.select[0].path.eval(row),
                query.select[1].path.eval(row),
            )
        })
        .collect();
    use sfsync_soql::Value::Null;
    let text = support::text;
    assert_eq!(
        values,
        [
            (text("Bob Boss"), Null),
            (text("Cy Gone"), text("Ann")),
            (text("Bob Boss"), Null),
            (Null, Null),
            (Null, Null),
        ]
    );
}
