//! Binding: names resolved against the catalog, and the errors Salesforce gives when they
//! or their values do not fit.

mod support;

use sfsync_soql::{BoundQuery, CountKind, ErrorCode, SoqlError, Value, compile, compile_at, parse};
use support::{NOW_MS, schema};

fn bound(soql: &str) -> BoundQuery {
    compile_at(soql, &schema(), NOW_MS).unwrap_or_else(|error| panic!("{soql}: {error}"))
}

fn refused(soql: &str, code: ErrorCode) -> SoqlError {
    let error = compile_at(soql, &schema(), NOW_MS).expect_err(soql);
    assert_eq!(error.code, code, "{soql}: {}", error.message);
    error
}

fn last_line(error: &SoqlError) -> &str {
    error.message.lines().last().unwrap_or_default()
}

fn column_paths(query: &BoundQuery) -> Vec<String> {
    query
        .select
        .iter()
        .map(|column| column.alias_json_path.join("."))
        .collect()
}

const WSDL_FIELD: &str = "If you are attempting to use a custom field, be sure to append the \
    '__c' after the custom field name. Please reference your WSDL or the describe call for the \
    appropriate names.";

#[test]
fn values_stay_small_enough_for_a_million_records() {
    assert!(
        std::mem::size_of::<Value>() <= 24,
        "{}",
        std::mem::size_of::<Value>()
    );
}

#[test]
fn an_unknown_object_is_invalid_type_with_salesforces_message() {
    let error = refused("SELECT Id FROM Accountz LIMIT 2", ErrorCode::InvalidType);
    let expected = "\nSELECT Id FROM Accountz LIMIT 2\n               ^\nERROR at Row:1:Column:16\n\
        sObject type 'Accountz' is not supported. If you are attempting to use a custom object, \
        be sure to append the '__c' after the entity name. Please reference your WSDL or the \
        describe call for the appropriate names.";
    assert_eq!(error.message, expected);
}

#[test]
fn an_unknown_field_is_invalid_field_with_the_caret_under_it() {
    let error = refused("SELECT Id, Foo__c FROM Account", ErrorCode::InvalidField);
    let expected = format!(
        "\nSELECT Id, Foo__c FROM Account\n           ^\nERROR at Row:1:Column:12\n\
         No such column 'Foo__c' on entity 'Account'. {WSDL_FIELD}"
    );
    assert_eq!(error.message, expected);
}

#[test]
fn unknown_fields_are_found_in_every_clause() {
    for soql in [
        "SELECT Id FROM Account WHERE Nope = 1",
        "SELECT Id FROM Account ORDER BY Nope",
        "SELECT COUNT(Nope) FROM Account",
        "SELECT Id FROM Contact WHERE Account.Nope = 1",
    ] {
        let error = refused(soql, ErrorCode::InvalidField);
        assert!(
            last_line(&error).starts_with("No such column 'Nope' on entity"),
            "{}",
            error.message
        );
    }
}

#[test]
fn an_unknown_relationship_asks_for_the_r_suffix() {
    let error = refused("SELECT Acount.Name FROM Contact", ErrorCode::InvalidField);
    assert!(last_line(&error).starts_with(
        "Didn't understand relationship 'Acount' in field path. If you are attempting to use a \
         custom relationship, be sure to append the '__r' after the custom relationship name."
    ));
    // A reference field's own name is not its relationship name.
    refused(
        "SELECT AccountId.Name FROM Contact",
        ErrorCode::InvalidField,
    );
}

#[test]
fn names_resolve_case_insensitively_to_canonical_spellings() {
    let query = bound("select id, LASTNAME, account.OWNER.name from CONTACT");
    assert_eq!(query.object, "Contact");
    assert_eq!(
        column_paths(&query),
        ["Id", "LastName", "Account.Owner.Name"]
    );
    let hops: Vec<_> = query.select[2]
        .path
        .hops
        .iter()
        .map(|(_, name, target)| (name.as_str(), target.as_str()))
        .collect();
    assert_eq!(hops, [("Account", "Account"), ("Owner", "User")]);
    assert_eq!(query.select[2].path.field.name, "Name");
}

#[test]
fn custom_relationships_use_the_r_suffix() {
    let query = bound("SELECT account__R.name, Account__r.Owner.Email FROM invoice__c");
    assert_eq!(
        column_paths(&query),
        ["Account__r.Name", "Account__r.Owner.Email"]
    );
    let query = bound("SELECT Mother__r.Mother__r.LastName FROM Contact");
    assert_eq!(column_paths(&query), ["Mother__r.Mother__r.LastName"]);
}

#[test]
fn a_path_may_start_with_the_queried_objects_own_name() {
    let query = bound("SELECT Account.Name FROM Account");
    assert_eq!(column_paths(&query), ["Name"]);
    assert!(query.select[0].path.hops.is_empty());
}

#[test]
fn paths_may_climb_five_relationships_but_not_six() {
    let five = "SELECT Manager.Manager.Manager.Manager.Manager.Name FROM User";
    assert_eq!(bound(five).select[0].path.hops.len(), 5);
    let six = "SELECT Manager.Manager.Manager.Manager.Manager.Manager.Name FROM User";
    refused(six, ErrorCode::MalformedQuery);
}

#[test]
fn fields_all_expands_in_describe_order_and_needs_a_small_limit() {
    let query = bound("SELECT FIELDS(ALL) FROM Invoice__c LIMIT 200");
    assert_eq!(
        column_paths(&query),
        [
            "Id",
            "Name",
            "Account__c",
            "Amount__c",
            "Status__c",
            "IssuedOn__c"
        ]
    );
    let query = bound("SELECT Name, FIELDS(CUSTOM) FROM Account LIMIT 10");
    assert_eq!(
        column_paths(&query),
        ["Name", "Rating__c", "Tier__c", "Regions__c"]
    );
    let query = bound("SELECT FIELDS(STANDARD) FROM User");
    assert_eq!(query.select.len(), 6);

    for soql in [
        "SELECT FIELDS(ALL) FROM Account",
        "SELECT FIELDS(CUSTOM) FROM Account LIMIT 201",
    ] {
        let error = refused(soql, ErrorCode::MalformedQuery);
        assert_eq!(
            error.message,
            "The SOQL FIELDS function must have a LIMIT of at most 200"
        );
    }
}

#[test]
fn selecting_a_field_twice_is_refused_as_documented() {
    let error = refused(
        "SELECT Id, FIELDS(ALL) FROM User LIMIT 200",
        ErrorCode::InvalidField,
    );
    assert_eq!(error.message, "duplicate field selected: Id");
    let error = refused(
        "SELECT Account.Name, ACCOUNT.NAME FROM Contact",
        ErrorCode::InvalidField,
    );
    assert_eq!(error.message, "duplicate field selected: Account.Name");
}

#[test]
fn count_queries_bind_to_a_count_kind() {
    let query = bound("SELECT COUNT() FROM Account WHERE Name != null");
    assert_eq!(query.count, Some(CountKind::Rows));
    assert!(query.select.is_empty());

    let query = bound("SELECT COUNT(Id) total FROM Account");
    assert_eq!(
        query.count.as_ref().map(CountKind::column_name),
        Some("total")
    );
    let query = bound("SELECT COUNT(Industry) FROM Account");
    assert_eq!(
        query.count.as_ref().map(CountKind::column_name),
        Some("expr0")
    );

    let error = refused(
        "SELECT Name, COUNT(Id) FROM Account",
        ErrorCode::MalformedQuery,
    );
    assert_eq!(
        last_line(&error),
        "Field must be grouped or aggregated: Name"
    );
}

#[test]
fn a_field_that_cannot_be_filtered_is_refused_in_where() {
    let error = refused(
        "SELECT Id FROM Account WHERE Description = 'x'",
        ErrorCode::InvalidField,
    );
    assert!(error.message.ends_with(
        "ERROR at Row:1:Column:30\nfield 'Description' can not be filtered in a query call"
    ));
    let error = refused(
        "SELECT Id FROM Contact WHERE Account.Description LIKE 'x%'",
        ErrorCode::InvalidField,
    );
    assert_eq!(
        last_line(&error),
        "field 'Description' can not be filtered in a query call"
    );
    let error = refused(
        "SELECT Id FROM Account WHERE BillingAddress = null",
        ErrorCode::InvalidField,
    );
    assert_eq!(
        last_line(&error),
        "Address fields can only be filtered using Distance expressions"
    );
}

#[test]
fn a_field_that_cannot_be_sorted_is_refused_in_order_by() {
    let error = refused(
        "SELECT Id FROM Account ORDER BY Description",
        ErrorCode::MalformedQuery,
    );
    assert_eq!(
        last_line(&error),
        "field 'Description' can not be sorted in a query call"
    );
}

#[test]
fn literals_of_the_wrong_type_are_refused_with_the_field_type() {
    let cases = [
        (
            "CreatedDate > 2024-01-01",
            "'CreatedDate' must be of type dateTime and should not be",
        ),
        (
            "CreatedDate > '2024-01-01T00:00:00Z'",
            "'CreatedDate' must be of type dateTime and should not be",
        ),
        (
            "LastActivityDate = 2024-01-01T00:00:00Z",
            "'LastActivityDate' must be of type date and should not be",
        ),
        (
            "LastActivityDate = '2024-01-01'",
            "'LastActivityDate' must be of type date and should not be",
        ),
        (
            "NumberOfEmployees = '5'",
            "'NumberOfEmployees' must be of type int and should not be",
        ),
        (
            "AnnualRevenue > '5'",
            "'AnnualRevenue' must be of type double and should not be",
        ),
        (
            "IsDeleted = 'true'",
            "'IsDeleted' must be of type boolean and should not be",
        ),
        ("Name = 5", "'Name' must be of type string and should be"),
        (
            "Name = TODAY",
            "'Name' must be of type string and should be",
        ),
        ("OwnerId = 5", "'OwnerId' must be of type id and should be"),
    ];
    for (condition, fragment) in cases {
        let soql = format!("SELECT Id FROM Account WHERE {condition}");
        let error = refused(&soql, ErrorCode::InvalidField);
        let expected = format!("value of filter criterion for field {fragment} enclosed in quotes");
        assert_eq!(error.message, expected, "{soql}");
    }
}

#[test]
fn relative_dates_fit_both_date_and_datetime_fields() {
    bound("SELECT Id FROM Account WHERE CreatedDate = TODAY AND LastActivityDate = LAST_N_DAYS:7");
}

#[test]
fn a_malformed_id_is_an_invalid_filter_operator_as_salesforce_reports_it() {
    let error = refused(
        "SELECT Id FROM Contact WHERE Id = 'ZZZ'",
        ErrorCode::InvalidQueryFilterOperator,
    );
    let expected = format!(
        "\nSELECT Id FROM Contact WHERE Id = 'ZZZ'\n{}^\n\
         ERROR at Row:1:Column:30\ninvalid ID field: ZZZ",
        " ".repeat(29)
    );
    assert_eq!(error.message, expected);
    refused(
        "SELECT Id FROM Contact WHERE AccountId IN ('001000000000001AAA', 'nope')",
        ErrorCode::InvalidQueryFilterOperator,
    );
    bound("SELECT Id FROM Contact WHERE AccountId IN ('001000000000001', '001000000000001AAA')");
}

#[test]
fn operators_a_type_does_not_support_are_refused() {
    for condition in [
        "NumberOfEmployees LIKE '1%'",
        "IsDeleted > false",
        "Regions__c < 'a'",
        "CreatedDate LIKE '2024%'",
    ] {
        let soql = format!("SELECT Id FROM Account WHERE {condition}");
        let error = refused(&soql, ErrorCode::InvalidQueryFilterOperator);
        assert!(
            last_line(&error).starts_with("invalid operator on "),
            "{}",
            error.message
        );
    }
}

#[test]
fn an_offset_above_two_thousand_is_out_of_range() {
    let error = refused(
        "SELECT Id FROM Account OFFSET 2001",
        ErrorCode::NumberOutsideValidRange,
    );
    assert_eq!(error.message, "Maximum SOQL offset allowed is 2000");
    assert_eq!(
        bound("SELECT Id FROM Account LIMIT 10 OFFSET 2000").offset,
        Some(2000)
    );
}

#[test]
fn order_by_defaults_put_nulls_first_ascending_and_last_descending() {
    let query = bound(
        "SELECT Id FROM Account \
         ORDER BY Name, Industry DESC, Rating__c DESC NULLS FIRST, Tier__c NULLS LAST",
    );
    let keys: Vec<_> = query
        .order_by
        .iter()
        .map(|key| {
            (
                key.path.field.name.as_str(),
                key.descending,
                key.nulls_first,
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            ("Name", false, true),
            ("Industry", true, false),
            ("Rating__c", true, true),
            ("Tier__c", false, false)
        ]
    );
}

#[test]
fn the_id_lower_bound_comes_from_a_top_level_conjunct() {
    let bound_of = |condition: &str| {
        bound(&format!("SELECT Id FROM Account WHERE {condition}")).id_lower_bound()
    };
    assert_eq!(
        bound_of("Id > '001000000000002AAA'"),
        Some(("001000000000002AAA".into(), false))
    );
    assert_eq!(
        bound_of("Name != null AND Id >= '001000000000002AAA' AND (Id > '001000000000003AAA')"),
        Some(("001000000000003AAA".into(), false))
    );
    assert_eq!(
        bound_of("Id >= '001000000000002AAA' AND Id > '001000000000002AAA'"),
        Some(("001000000000002AAA".into(), false))
    );
    assert_eq!(bound_of("Id > '001000000000002AAA' OR Name = 'x'"), None);
    assert_eq!(bound_of("NOT Id > '001000000000002AAA'"), None);
    assert_eq!(bound_of("ParentId > '001000000000002AAA'"), None);
    assert_eq!(bound("SELECT Id FROM Account").id_lower_bound(), None);
}

#[test]
fn only_an_ascending_order_on_the_record_s_own_id_counts_as_id_order() {
    let ordered = |order: &str| bound(&format!("SELECT Id FROM Account {order}")).ordered_by_id();
    assert!(ordered("ORDER BY Id"));
    assert!(ordered("ORDER BY Id ASC NULLS LAST, Name"));
    assert!(!ordered("ORDER BY Id DESC"));
    assert!(!ordered("ORDER BY Name, Id"));
    assert!(!ordered("ORDER BY ParentId"));
    assert!(!ordered(""));
}

#[test]
fn a_hidden_field_is_indistinguishable_from_a_missing_one() {
    // The test catalog hides nothing, so hide by asking for a field it does not list.
    let error = refused("SELECT Id, Secret__c FROM Account", ErrorCode::InvalidField);
    assert!(last_line(&error).starts_with("No such column 'Secret__c' on entity 'Account'."));
}

#[test]
fn bind_reuses_a_parsed_query_and_compile_uses_the_clock() {
    let query = parse("SELECT Id FROM Account WHERE CreatedDate = LAST_N_DAYS:3").unwrap();
    assert_eq!(
        sfsync_soql::bind(&query, &schema()).unwrap().object,
        "Account"
    );
    assert!(compile("SELECT Id FROM Nope", &schema()).is_err());
}

#[test]
fn catalogs_can_be_used_as_trait_objects() {
    let catalog: &dyn sfsync_soql::Catalog = &schema();
    assert_eq!(
        compile("SELECT Id FROM Account", catalog).unwrap().object,
        "Account"
    );
}

#[test]
fn relative_dates_bind_at_any_instant_without_overflow() {
    let soql = "SELECT Id FROM Account WHERE CreatedDate = NEXT_N_DAYS:4294967295 \
                OR LastActivityDate = LAST_N_DAYS:4294967295";
    for now_ms in [i64::MIN, -1, 0, i64::MAX] {
        compile_at(soql, &schema(), now_ms).unwrap();
    }
}
