//! Syntax: what `parse` accepts, and the `MALFORMED_QUERY` messages it gives otherwise.

use sfsync_soql::{ErrorCode, SoqlError, parse};

fn syntax_error(soql: &str) -> SoqlError {
    let error = parse(soql).expect_err(soql);
    assert_eq!(
        error.code,
        ErrorCode::MalformedQuery,
        "{soql}: {}",
        error.message
    );
    error
}

fn last_line(error: &SoqlError) -> &str {
    error.message.lines().last().unwrap_or_default()
}

#[test]
fn a_missing_condition_reports_eof_with_salesforces_excerpt() {
    let error = syntax_error("SELECT Id FROM Account WHERE");
    let expected = format!(
        "\nSELECT Id FROM Account WHERE\n{}^\nERROR at Row:1:Column:29\nunexpected token: '<EOF>'",
        " ".repeat(28)
    );
    assert_eq!(error.message, expected);
}

#[test]
fn a_trailing_comma_in_the_select_list_fails_at_from() {
    let error = syntax_error("SELECT Id, FROM Bar__c");
    assert!(
        error
            .message
            .ends_with("ERROR at Row:1:Column:12\nunexpected token: 'FROM'")
    );
}

#[test]
fn mixing_and_with_or_at_one_level_fails_at_the_second_connective() {
    let soql = "SELECT Id FROM Contact WHERE LastName = 'a' AND FirstName = 'b' OR Email = 'c'";
    let error = syntax_error(soql);
    let column = soql.find(" OR ").unwrap() + 2;
    assert!(
        error
            .message
            .contains(&format!("ERROR at Row:1:Column:{column}\n"))
    );
    assert_eq!(last_line(&error), "unexpected token: 'OR'");

    let error = syntax_error("SELECT Id FROM Contact WHERE a = 1 OR b = 2 AND c = 3");
    assert_eq!(last_line(&error), "unexpected token: 'AND'");
}

#[test]
fn parentheses_make_mixed_connectives_legal() {
    for soql in [
        "SELECT Id FROM Contact WHERE (a = 1 AND b = 2) OR c = 3",
        "SELECT Id FROM Contact WHERE a = 1 AND (b = 2 OR c = 3) AND d = 4",
        "SELECT Id FROM Contact WHERE NOT (a = 1 OR b = 2) AND NOT c = 3",
        "SELECT Id FROM Contact WHERE ((a = 1))",
    ] {
        parse(soql).unwrap_or_else(|error| panic!("{soql}: {error}"));
    }
}

#[test]
fn an_empty_select_list_names_both_keywords_as_the_current_parser_does() {
    let error = syntax_error("SELECT FROM ServicePresenceStatus");
    assert_eq!(last_line(&error), "unexpected token: 'SELECT FROM'");
}

#[test]
fn an_empty_in_list_quotes_the_whole_comparison() {
    let error = syntax_error("SELECT ParentId, Value FROM X WHERE ParentId IN ()");
    assert_eq!(last_line(&error), "unexpected token: 'ParentId IN ()'");
}

#[test]
fn keywords_are_case_insensitive() {
    let query = parse(
        "select id from account where name = 'x' and not industry in ('a', null) \
         order by name desc nulls last, id asc nulls first limit 5 offset 2",
    )
    .unwrap();
    assert_eq!(query.object_name(), "account");
    assert_eq!((query.limit(), query.offset()), (Some(5), Some(2)));
}

#[test]
fn every_documented_literal_form_parses() {
    let soql = "SELECT Id FROM A WHERE a = 'it''s' OR a = 'O\\'Brien' OR b = -12.5 OR c = 7 \
                OR d = true OR e = FALSE OR f = null OR g = 2024-01-31 \
                OR h = 2024-01-31T10:00:00Z OR h = 2024-01-31T10:00:00.123Z \
                OR h = 2024-01-31T10:00:00+05:30 OR h = 2024-01-31T10:00:00-08:00 \
                OR h = 2024-01-31T10:00:00.000+0000 OR i = TODAY OR i = YESTERDAY \
                OR i = TOMORROW OR i = LAST_N_DAYS:30 OR i = NEXT_N_DAYS:7 OR i = LAST_90_DAYS";
    // 'it''s' is not SOQL quoting: it is two strings, so this must fail ...
    assert_eq!(last_line(&syntax_error(soql)), "unexpected token: ''s''");
    // ... and the rest must parse.
    parse(&soql.replace("'it''s' OR a = ", "")).unwrap();
}

#[test]
fn limits_and_offsets_must_be_plain_non_negative_integers() {
    assert_eq!(
        last_line(&syntax_error("SELECT Id FROM A LIMIT -1")),
        "unexpected token: '-1'"
    );
    assert_eq!(
        last_line(&syntax_error("SELECT Id FROM A LIMIT 1.5")),
        "unexpected token: '1.5'"
    );
    assert_eq!(
        last_line(&syntax_error("SELECT Id FROM A OFFSET x")),
        "unexpected token: 'x'"
    );
    assert_eq!(parse("SELECT Id FROM A LIMIT 0").unwrap().limit(), Some(0));
}

#[test]
fn clauses_out_of_order_are_unexpected() {
    let error = syntax_error("SELECT Id FROM A LIMIT 5 WHERE Name = 'x'");
    assert_eq!(last_line(&error), "unexpected token: 'WHERE'");
    let error = syntax_error("SELECT Id FROM A ORDER BY Name WHERE Name = 'x'");
    assert_eq!(last_line(&error), "unexpected token: 'WHERE'");
}

#[test]
fn subqueries_and_other_unsupported_constructs_say_so() {
    let cases = [
        (
            "SELECT Id, (SELECT Id FROM Contacts) FROM Account",
            "parent-to-child subqueries are",
        ),
        (
            "SELECT Id FROM Account WHERE Id IN (SELECT AccountId FROM Contact)",
            "semi-join",
        ),
        (
            "SELECT Name, COUNT(Id) FROM Account GROUP BY Name",
            "GROUP BY clauses are",
        ),
        (
            "SELECT Id FROM Account WITH SECURITY_ENFORCED",
            "WITH clauses are",
        ),
        (
            "SELECT Id FROM Account FOR UPDATE",
            "FOR UPDATE clauses are",
        ),
        (
            "SELECT SUM(AnnualRevenue) FROM Account",
            "the SUM() function is",
        ),
        (
            "SELECT Id FROM Account WHERE CreatedDate = THIS_MONTH",
            "THIS_MONTH",
        ),
        (
            "SELECT Id FROM Account WHERE Regions__c INCLUDES ('a')",
            "INCLUDES",
        ),
        (
            "SELECT TYPEOF What WHEN Account THEN Name END FROM Task",
            "TYPEOF",
        ),
    ];
    for (soql, fragment) in cases {
        let error = syntax_error(soql);
        assert!(
            error.message.contains(fragment),
            "{soql}: {}",
            error.message
        );
        assert!(
            error.message.ends_with("not supported by this simulator"),
            "{}",
            error.message
        );
    }
}

#[test]
fn count_with_no_argument_must_stand_alone() {
    assert_eq!(
        last_line(&syntax_error("SELECT COUNT(), Id FROM A")),
        "unexpected token: ','"
    );
    assert_eq!(
        last_line(&syntax_error("SELECT Id, COUNT() FROM A")),
        "unexpected token: 'COUNT'"
    );
    parse("SELECT COUNT() FROM A WHERE Name LIKE 'a%'").unwrap();
    parse("SELECT COUNT(Id) total FROM A").unwrap();
}

#[test]
fn not_only_combines_with_in() {
    parse("SELECT Id FROM A WHERE Name NOT IN ('a', 'b')").unwrap();
    assert_eq!(
        last_line(&syntax_error("SELECT Id FROM A WHERE Name NOT LIKE 'a%'")),
        "unexpected token: 'LIKE'"
    );
}

#[test]
fn like_needs_a_quoted_pattern() {
    assert_eq!(
        last_line(&syntax_error("SELECT Id FROM A WHERE Name LIKE null")),
        "unexpected token: 'null'"
    );
}

#[test]
fn reserved_words_cannot_be_names_but_order_is_an_object() {
    assert_eq!(
        last_line(&syntax_error("SELECT Id FROM Account WHERE Limit = 1")),
        "unexpected token: 'Limit'"
    );
    parse("SELECT Id FROM Order ORDER BY Id").unwrap();
}

#[test]
fn lexical_errors_use_the_lexer_position_form() {
    let error = syntax_error("SELECT Id from $casecomment WHERE isdeleted = false");
    assert!(
        error
            .message
            .ends_with("ERROR at Row:1:Column:15\nline 1:15 unexpected token: '$'")
    );
    let error =
        syntax_error("SELECT Id FROM Account WHERE SystemModstamp > 2020-12-12t12:12:00-25:00");
    assert_eq!(
        last_line(&error),
        "Invalid datetime: 2020-12-12t12:12:00-25:00"
    );
}

#[test]
fn hostile_nesting_is_refused_without_exhausting_the_stack() {
    let deep = format!(
        "SELECT Id FROM A WHERE {}a = 1{}",
        "(".repeat(5_000),
        ")".repeat(5_000)
    );
    let error = syntax_error(&deep);
    assert!(
        error
            .message
            .ends_with("conditions nested this deeply are not supported by this simulator")
    );
    let nots = format!("SELECT Id FROM A WHERE {}a = 1", "NOT ".repeat(5_000));
    syntax_error(&nots);
}

#[test]
fn queries_over_several_lines_report_the_row() {
    let error =
        syntax_error("SELECT Id\nFROM Account\nWHERE Name = 'x' AND\n  Id = 'y' OR Id = 'z'");
    assert!(
        error
            .message
            .starts_with("\nId = 'y' OR Id = 'z'\n         ^\nERROR at Row:4:Column:12\n"),
        "{}",
        error.message
    );
}
