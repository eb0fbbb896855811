//! Property tests: hostile input never panics, generated valid queries always compile and
//! filter and sort exactly as an independent reference evaluator says, unknown names are
//! reported by name, and date-times survive a format/parse round trip.

mod support;

use std::cmp::Ordering;

use proptest::prelude::*;
use sfsync_soql::{
    ErrorCode, Value, compile_at, format_date, format_datetime, parse_date_literal,
    parse_datetime_literal,
};
use support::{NOW_MS, Store, TODAY, TestRow, schema, text};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

// ---------------------------------------------------------------------------------------
// Calendar arithmetic written independently of the crate (civil-from-days and back), so
// that the reference evaluator and the round-trip test do not trust the code under test.

fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn date_text(days: i64) -> String {
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}")
}

// ---------------------------------------------------------------------------------------
// The model: the fields a generated query may use, literals, conditions and sort keys.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Name,
    Industry,
    Employees,
    Revenue,
    Deleted,
    Created,
    LastActivity,
    OwnerName,
    ParentName,
    ParentEmployees,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Number,
    Bool,
    DateTime,
    Date,
}

const FIELDS: [Field; 10] = [
    Field::Name,
    Field::Industry,
    Field::Employees,
    Field::Revenue,
    Field::Deleted,
    Field::Created,
    Field::LastActivity,
    Field::OwnerName,
    Field::ParentName,
    Field::ParentEmployees,
];

impl Field {
    fn soql(self) -> &'static str {
        match self {
            Field::Name => "Name",
            Field::Industry => "Industry",
            Field::Employees => "NumberOfEmployees",
            Field::Revenue => "AnnualRevenue",
            Field::Deleted => "IsDeleted",
            Field::Created => "CreatedDate",
            Field::LastActivity => "LastActivityDate",
            Field::OwnerName => "Owner.Name",
            Field::ParentName => "Parent.Name",
            Field::ParentEmployees => "Parent.NumberOfEmployees",
        }
    }

    fn kind(self) -> Kind {
        match self {
            Field::Name | Field::Industry | Field::OwnerName | Field::ParentName => Kind::Text,
            Field::Employees | Field::Revenue | Field::ParentEmployees => Kind::Number,
            Field::Deleted => Kind::Bool,
            Field::Created => Kind::DateTime,
            Field::LastActivity => Kind::Date,
        }
    }

    /// The field's value on `row`, found by walking the test store directly.
    fn value(self, row: &TestRow<'_>) -> Value {
        let through = |reference: &str, field: &str| {
            row.parent(reference)
                .map_or(Value::Null, |parent| parent.field(field))
        };
        match self {
            Field::OwnerName => through("OwnerId", "Name"),
            Field::ParentName => through("ParentId", "Name"),
            Field::ParentEmployees => through("ParentId", "NumberOfEmployees"),
            other => row.field(other.soql()),
        }
    }
}

#[derive(Debug, Clone)]
enum Lit {
    Text(String),
    Number(f64, String),
    Bool(bool),
    /// Epoch milliseconds and the literal as written (offset forms vary).
    Instant(i64, String),
    Day(i64),
    /// A relative literal as written and its span in days `[first, end)`.
    Relative(String, i64, i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn soql(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

#[derive(Debug, Clone)]
enum Cond {
    Cmp(Field, Op, Lit),
    Null(Field, bool),
    In(Field, bool, Vec<Option<Lit>>),
    Like(Field, Vec<Piece>),
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
    Paren(Box<Cond>),
}

/// A piece of a `LIKE` pattern.
#[derive(Debug, Clone)]
enum Piece {
    Many,
    One,
    Char(char),
}

#[derive(Debug, Clone)]
struct Key {
    field: Field,
    descending: bool,
    nulls: Option<bool>,
}

#[derive(Debug, Clone)]
struct Generated {
    select: Vec<Field>,
    filter: Option<Cond>,
    order: Vec<Key>,
    limit: Option<u8>,
    offset: Option<u8>,
}

// ---------------------------------------------------------------------------------------
// Rendering the model as SOQL.

fn quote(text: &str) -> String {
    let escaped: String = text
        .chars()
        .flat_map(|c| match c {
            '\'' | '\\' => vec!['\\', c],
            '\n' => vec!['\\', 'n'],
            _ => vec![c],
        })
        .collect();
    format!("'{escaped}'")
}

fn render_lit(lit: &Lit) -> String {
    match lit {
        Lit::Text(text) => quote(text),
        Lit::Number(_, written) | Lit::Instant(_, written) | Lit::Relative(written, ..) => {
            written.clone()
        }
        Lit::Bool(value) => {
            if *value {
                "TRUE".into()
            } else {
                "false".into()
            }
        }
        Lit::Day(day) => date_text(*day),
    }
}

fn render_pattern(pieces: &[Piece]) -> String {
    let body: String = pieces
        .iter()
        .map(|piece| match piece {
            Piece::Many => "%".to_string(),
            Piece::One => "_".to_string(),
            Piece::Char(c @ ('%' | '_' | '\'' | '\\')) => format!("\\{c}"),
            Piece::Char(c) => c.to_string(),
        })
        .collect();
    format!("'{body}'")
}

fn render(cond: &Cond) -> String {
    match cond {
        Cond::Cmp(field, op, lit) => format!("{} {} {}", field.soql(), op.soql(), render_lit(lit)),
        Cond::Null(field, negated) => {
            format!(
                "{} {} null",
                field.soql(),
                if *negated { "<>" } else { "=" }
            )
        }
        Cond::In(field, negated, lits) => {
            let items: Vec<String> = lits
                .iter()
                .map(|lit| lit.as_ref().map_or("NULL".into(), render_lit))
                .collect();
            let keyword = if *negated { "NOT IN" } else { "IN" };
            format!("{} {keyword} ({})", field.soql(), items.join(", "))
        }
        Cond::Like(field, pieces) => format!("{} LIKE {}", field.soql(), render_pattern(pieces)),
        Cond::And(items) => render_chain(items, " AND "),
        Cond::Or(items) => render_chain(items, " or "),
        Cond::Not(inner) => match **inner {
            Cond::And(_) | Cond::Or(_) => format!("NOT ({})", render(inner)),
            _ => format!("NOT {}", render(inner)),
        },
        Cond::Paren(inner) => format!("({})", render(inner)),
    }
}

/// Joins operands; nested connectives are parenthesized, as SOQL requires.
fn render_chain(items: &[Cond], connective: &str) -> String {
    let parts: Vec<String> = items
        .iter()
        .map(|item| match item {
            Cond::And(_) | Cond::Or(_) => format!("({})", render(item)),
            _ => render(item),
        })
        .collect();
    parts.join(connective)
}

fn render_query(query: &Generated) -> String {
    render_with(query, &Extra::default())
}

/// Extra text spliced into a rendered query (used to plant unknown names).
#[derive(Default)]
struct Extra {
    select: Option<String>,
    condition: Option<String>,
    key: Option<String>,
}

fn render_with(query: &Generated, extra: &Extra) -> String {
    let mut select: Vec<String> = query
        .select
        .iter()
        .map(|field| field.soql().to_string())
        .collect();
    select.extend(extra.select.clone());
    let mut soql = format!("SELECT {} FROM Account", select.join(", "));
    let filter = query.filter.as_ref().map(render);
    let condition = match (filter, &extra.condition) {
        (Some(filter), Some(extra)) => Some(format!("({filter}) AND {extra}")),
        (filter, extra) => filter.or_else(|| extra.clone()),
    };
    if let Some(condition) = condition {
        soql.push_str(&format!(" WHERE {condition}"));
    }
    let mut keys: Vec<String> = query.order.iter().map(render_key).collect();
    keys.extend(extra.key.clone());
    if !keys.is_empty() {
        soql.push_str(&format!(" ORDER BY {}", keys.join(", ")));
    }
    if let Some(limit) = query.limit {
        soql.push_str(&format!(" LIMIT {limit}"));
    }
    if let Some(offset) = query.offset {
        soql.push_str(&format!(" OFFSET {offset}"));
    }
    soql
}

fn render_key(key: &Key) -> String {
    let direction = if key.descending { " DESC" } else { "" };
    let nulls = match key.nulls {
        Some(true) => " NULLS FIRST",
        Some(false) => " NULLS LAST",
        None => "",
    };
    format!("{}{direction}{nulls}", key.field.soql())
}

// ---------------------------------------------------------------------------------------
// The reference evaluator: SOQL's documented semantics, written plainly.

fn ref_cmp(value: &Value, lit: &Lit) -> Option<Ordering> {
    match (value, lit) {
        (Value::Text(text), Lit::Text(expected)) => {
            Some(text.to_lowercase().cmp(&expected.to_lowercase()))
        }
        (Value::Int(int), Lit::Number(number, _)) => (*int as f64).partial_cmp(number),
        (Value::Double(double), Lit::Number(number, _)) => double.partial_cmp(number),
        (Value::Bool(actual), Lit::Bool(expected)) => Some(actual.cmp(expected)),
        _ => None,
    }
}

/// A literal's span `[lo, hi)` in the unit of `value` (days or milliseconds).
fn ref_span(lit: &Lit) -> Option<(i64, i64, bool)> {
    match lit {
        Lit::Instant(ms, _) => Some((*ms, ms + 1, true)),
        Lit::Day(day) => Some((*day, day + 1, false)),
        Lit::Relative(_, first, end) => Some((*first, *end, false)),
        _ => None,
    }
}

fn ref_compare(value: &Value, op: Op, lit: &Lit) -> bool {
    if let Some((lo, hi, in_ms)) = ref_span(lit) {
        let point = match value {
            Value::Date(day) => Some(i64::from(*day)),
            Value::DateTime(ms) if in_ms => Some(*ms),
            Value::DateTime(ms) => Some(*ms),
            _ => None,
        };
        let scale = if in_ms || matches!(value, Value::Date(_)) {
            1
        } else {
            DAY_MS
        };
        let (lo, hi) = (lo * scale, hi * scale);
        return match (point, op) {
            (None, Op::Ne) => true,
            (None, _) => false,
            (Some(v), Op::Eq) => lo <= v && v < hi,
            (Some(v), Op::Ne) => !(lo <= v && v < hi),
            (Some(v), Op::Lt) => v < lo,
            (Some(v), Op::Le) => v < hi,
            (Some(v), Op::Gt) => v >= hi,
            (Some(v), Op::Ge) => v >= lo,
        };
    }
    let ordering = ref_cmp(value, lit);
    match op {
        Op::Eq => ordering == Some(Ordering::Equal),
        Op::Ne => ordering != Some(Ordering::Equal),
        Op::Lt => ordering == Some(Ordering::Less),
        Op::Le => ordering.is_some_and(Ordering::is_le),
        Op::Gt => ordering == Some(Ordering::Greater),
        Op::Ge => ordering.is_some_and(Ordering::is_ge),
    }
}

fn ref_like(pieces: &[Piece], text: &[char]) -> bool {
    match pieces.split_first() {
        None => text.is_empty(),
        Some((Piece::Many, rest)) => (0..=text.len()).any(|skip| ref_like(rest, &text[skip..])),
        Some((Piece::One, rest)) => !text.is_empty() && ref_like(rest, &text[1..]),
        Some((Piece::Char(c), rest)) => {
            let lower: Vec<char> = c.to_lowercase().collect();
            text.starts_with(&lower) && ref_like(rest, &text[lower.len()..])
        }
    }
}

fn ref_eval(cond: &Cond, row: &TestRow<'_>) -> bool {
    match cond {
        Cond::Cmp(field, op, lit) => ref_compare(&field.value(row), *op, lit),
        Cond::Null(field, negated) => field.value(row).is_null() != *negated,
        Cond::In(field, negated, lits) => {
            let value = field.value(row);
            let found = lits.iter().any(|lit| match lit {
                None => value.is_null(),
                Some(lit) => !value.is_null() && ref_compare(&value, Op::Eq, lit),
            });
            found != *negated
        }
        Cond::Like(field, pieces) => match field.value(row) {
            Value::Text(text) => ref_like(pieces, &text.to_lowercase().chars().collect::<Vec<_>>()),
            _ => false,
        },
        Cond::And(items) => items.iter().all(|item| ref_eval(item, row)),
        Cond::Or(items) => items.iter().any(|item| ref_eval(item, row)),
        Cond::Not(inner) => !ref_eval(inner, row),
        Cond::Paren(inner) => ref_eval(inner, row),
    }
}

fn ref_order_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Text(x), Value::Text(y)) => x.to_lowercase().cmp(&y.to_lowercase()),
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Double(x), Value::Double(y)) => x.total_cmp(y),
        (Value::Int(x), Value::Double(y)) => (*x as f64).total_cmp(y),
        (Value::Double(x), Value::Int(y)) => x.total_cmp(&(*y as f64)),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Date(x), Value::Date(y)) => x.cmp(y),
        (Value::DateTime(x), Value::DateTime(y)) => x.cmp(y),
        other => panic!("mixed values in one column: {other:?}"),
    }
}

fn ref_order(keys: &[Key], a: &TestRow<'_>, b: &TestRow<'_>) -> Ordering {
    for key in keys {
        let (left, right) = (key.field.value(a), key.field.value(b));
        let nulls_first = key.nulls.unwrap_or(!key.descending);
        let ordering = match (left.is_null(), right.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => {
                if nulls_first {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (false, true) => {
                if nulls_first {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            (false, false) if key.descending => ref_order_values(&right, &left),
            (false, false) => ref_order_values(&left, &right),
        };
        if ordering.is_ne() {
            return ordering;
        }
    }
    Ordering::Equal
}

// ---------------------------------------------------------------------------------------
// Strategies.

const NAMES: [&str; 7] = [
    "Acme", "beta", "Gamma Co", "DELTA", "épée", "O'Neil", "100%_x",
];
const INDUSTRIES: [&str; 3] = ["Energy", "Retail", "retail"];

/// Rewrites letters of `text` to upper or lower case according to `mask`.
fn recase(text: &str, mask: u32) -> String {
    text.chars()
        .enumerate()
        .map(|(i, c)| {
            if mask >> (i % 32) & 1 == 1 {
                c.to_uppercase().next().unwrap_or(c)
            } else {
                c.to_lowercase().next().unwrap_or(c)
            }
        })
        .collect()
}

fn text_literal() -> impl Strategy<Value = Lit> {
    let known = prop::sample::select(
        [&NAMES[..], &INDUSTRIES[..], &["Ada Admin", "bob boss", ""]].concat(),
    );
    (known, any::<u32>()).prop_map(|(text, mask)| Lit::Text(recase(text, mask)))
}

fn number_literal() -> impl Strategy<Value = Lit> {
    prop::sample::select(vec![
        "-5", "0", "3", "15", "15.0", "120", "250000.5", "1000000",
    ])
    .prop_map(|written| Lit::Number(written.parse().expect("a number"), written.to_string()))
}

fn instant_literal() -> impl Strategy<Value = Lit> {
    let offsets = prop::sample::select(vec![0i64, 330, -480, 60]);
    (-72i64..=72, offsets, any::<bool>()).prop_map(|(hours, offset_minutes, millis)| {
        let ms = NOW_MS + hours * HOUR_MS;
        let local = ms + offset_minutes * 60_000;
        let days = local.div_euclid(DAY_MS);
        let in_day = local.rem_euclid(DAY_MS) / 1_000;
        let zone = match offset_minutes {
            0 => "Z".to_string(),
            minutes => {
                let sign = if minutes < 0 { '-' } else { '+' };
                format!("{sign}{:02}:{:02}", minutes.abs() / 60, minutes.abs() % 60)
            }
        };
        let fraction = if millis { ".000" } else { "" };
        let written = format!(
            "{}T{:02}:{:02}:{:02}{fraction}{zone}",
            date_text(days),
            in_day / 3_600,
            in_day / 60 % 60,
            in_day % 60
        );
        Lit::Instant(ms, written)
    })
}

fn relative_literal() -> impl Strategy<Value = Lit> {
    let today = i64::from(TODAY);
    prop_oneof![
        Just(Lit::Relative("TODAY".into(), today, today + 1)),
        Just(Lit::Relative("yesterday".into(), today - 1, today)),
        Just(Lit::Relative("TOMORROW".into(), today + 1, today + 2)),
        (0i64..5).prop_map(move |n| Lit::Relative(
            format!("LAST_N_DAYS:{n}"),
            today - n,
            today + 1
        )),
        (0i64..5).prop_map(move |n| Lit::Relative(
            format!("NEXT_N_DAYS:{n}"),
            today + 1,
            today + 1 + n
        )),
    ]
}

fn literal_for(kind: Kind) -> BoxedStrategy<Lit> {
    let today = i64::from(TODAY);
    match kind {
        Kind::Text => text_literal().boxed(),
        Kind::Number => number_literal().boxed(),
        Kind::Bool => any::<bool>().prop_map(Lit::Bool).boxed(),
        Kind::DateTime => prop_oneof![instant_literal(), relative_literal()].boxed(),
        Kind::Date => prop_oneof![
            (-4i64..=4).prop_map(move |d| Lit::Day(today + d)),
            relative_literal()
        ]
        .boxed(),
    }
}

fn op_for(kind: Kind) -> BoxedStrategy<Op> {
    let all = vec![Op::Eq, Op::Ne, Op::Lt, Op::Le, Op::Gt, Op::Ge];
    match kind {
        Kind::Bool => prop::sample::select(vec![Op::Eq, Op::Ne]).boxed(),
        _ => prop::sample::select(all).boxed(),
    }
}

const PATTERN_CHARS: [char; 12] = ['a', 'C', 'e', 'é', 'O', '\'', ' ', '%', '_', 'x', 'n', 'T'];

fn like_pattern() -> impl Strategy<Value = Vec<Piece>> {
    let piece = prop_oneof![
        2 => Just(Piece::Many),
        1 => Just(Piece::One),
        4 => prop::sample::select(PATTERN_CHARS.to_vec()).prop_map(Piece::Char),
    ];
    prop::collection::vec(piece, 0..6)
}

fn leaf() -> impl Strategy<Value = Cond> {
    prop::sample::select(FIELDS.to_vec()).prop_flat_map(|field| {
        let kind = field.kind();
        let compare =
            (op_for(kind), literal_for(kind)).prop_map(move |(op, lit)| Cond::Cmp(field, op, lit));
        let null = any::<bool>().prop_map(move |negated| Cond::Null(field, negated));
        let values = prop::collection::vec(prop::option::weighted(0.85, literal_for(kind)), 1..4);
        let member =
            (any::<bool>(), values).prop_map(move |(negated, lits)| Cond::In(field, negated, lits));
        if kind == Kind::Text {
            let like = like_pattern().prop_map(move |pieces| Cond::Like(field, pieces));
            prop_oneof![4 => compare, 1 => null, 2 => member, 3 => like].boxed()
        } else {
            prop_oneof![4 => compare, 1 => null, 2 => member].boxed()
        }
    })
}

fn condition() -> impl Strategy<Value = Cond> {
    leaf().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(Cond::And),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Cond::Or),
            inner.clone().prop_map(|c| Cond::Not(Box::new(c))),
            inner.prop_map(|c| Cond::Paren(Box::new(c))),
        ]
    })
}

fn key() -> impl Strategy<Value = Key> {
    let nulls = prop::option::of(any::<bool>());
    (prop::sample::select(FIELDS.to_vec()), any::<bool>(), nulls).prop_map(
        |(field, descending, nulls)| Key {
            field,
            descending,
            nulls,
        },
    )
}

fn generated_query() -> impl Strategy<Value = Generated> {
    (
        prop::sample::subsequence(FIELDS.to_vec(), 1..=FIELDS.len()).prop_shuffle(),
        prop::option::weighted(0.9, condition()),
        prop::collection::vec(key(), 0..4),
        prop::option::of(0u8..20),
        prop::option::of(0u8..5),
    )
        .prop_map(|(select, filter, order, limit, offset)| Generated {
            select,
            filter,
            order,
            limit,
            offset,
        })
}

/// One generated account: name, industry, employees, revenue, deleted, created (hours from
/// now), last activity (days from today), owner (user 1-3), parent (earlier account).
type AccountSpec = (
    Option<usize>,
    Option<usize>,
    Option<i64>,
    Option<u8>,
    Option<bool>,
    Option<i64>,
    Option<i32>,
    Option<u8>,
    Option<u8>,
);

fn accounts() -> impl Strategy<Value = Vec<AccountSpec>> {
    let spec = (
        prop::option::weighted(0.9, 0..NAMES.len()),
        prop::option::of(0..INDUSTRIES.len()),
        prop::option::of(prop::sample::select(vec![-5i64, 0, 3, 15, 120, 1_000])),
        prop::option::of(0u8..4),
        prop::option::of(any::<bool>()),
        prop::option::of(-100i64..=100),
        prop::option::of(-5i32..=5),
        prop::option::of(1u8..=4),
        prop::option::of(0u8..12),
    );
    prop::collection::vec(spec, 0..12)
}

fn store_with(specs: &[AccountSpec]) -> Store {
    let mut store = Store::new();
    for (index, name) in ["Ada Admin", "Bob Boss", "Cy Gone"].iter().enumerate() {
        let id = format!("005{:012}AAA", index + 1);
        store.insert("User", &[("Id", text(&id)), ("Name", text(name))]);
    }
    let revenues = [
        Value::Double(250_000.5),
        Value::Double(1e6),
        Value::Int(15),
        Value::Double(-5.0),
    ];
    for (index, spec) in specs.iter().enumerate() {
        let (name, industry, employees, revenue, deleted, created, activity, owner, parent) = *spec;
        let mut values = vec![("Id", text(&format!("001{:012}AAA", index + 1)))];
        let mut put = |field: &'static str, value: Option<Value>| {
            if let Some(value) = value {
                values.push((field, value));
            }
        };
        put("Name", name.map(|n| text(NAMES[n])));
        put("Industry", industry.map(|i| text(INDUSTRIES[i])));
        put("NumberOfEmployees", employees.map(Value::Int));
        put(
            "AnnualRevenue",
            revenue.map(|r| revenues[usize::from(r)].clone()),
        );
        put("IsDeleted", deleted.map(Value::Bool));
        put(
            "CreatedDate",
            created.map(|hours| Value::DateTime(NOW_MS + hours * HOUR_MS)),
        );
        put(
            "LastActivityDate",
            activity.map(|days| Value::Date(TODAY + days)),
        );
        // Owner 4 does not exist: a lookup the user cannot see.
        put(
            "OwnerId",
            owner.map(|user| text(&format!("005{:012}AAA", user))),
        );
        put(
            "ParentId",
            parent.map(|p| text(&format!("001{:012}AAA", p + 1))),
        );
        store.insert("Account", &values);
    }
    store
}

// ---------------------------------------------------------------------------------------
// Hostile input.

const VOCABULARY: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "Account",
    "Contact",
    "Id",
    "Name",
    "Owner.Name",
    "Account.Name",
    "Description",
    "BillingAddress",
    "CreatedDate",
    "LastActivityDate",
    "IsDeleted",
    ",",
    "(",
    ")",
    "=",
    "!=",
    "<>",
    "<",
    ">=",
    "AND",
    "OR",
    "NOT",
    "IN",
    "LIKE",
    "ORDER",
    "BY",
    "DESC",
    "NULLS",
    "FIRST",
    "LIMIT",
    "OFFSET",
    "5",
    "-3",
    "2001",
    "1.5",
    "'x'",
    "'a%'",
    "'\\'",
    "'",
    "\\",
    "2024-01-31",
    "2024-13-45",
    "2024-01-31T10:00:00Z",
    "TODAY",
    "LAST_N_DAYS:3",
    "LAST_N_DAYS:",
    "null",
    "true",
    "FIELDS(ALL)",
    "FIELDS(",
    "COUNT()",
    "COUNT(Id)",
    "GROUP",
    "Nope__c",
    "Foo__r",
    ".",
    ":",
    "$",
    "é",
    "\n",
    "'ZZZ'",
    "'001000000000001AAA'",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(VOCABULARY.to_vec()), 0..24)
        .prop_map(|tokens| tokens.join(" "))
}

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    Delete(usize),
    Duplicate(usize),
    Swap(usize, usize),
}

fn mutate(soql: &str, mutation: &Mutation) -> String {
    let tokens: Vec<&str> = soql.split(' ').collect();
    let pick = |index: usize| index % tokens.len();
    match *mutation {
        Mutation::Truncate(at) => soql.chars().take(at % (soql.chars().count() + 1)).collect(),
        Mutation::Delete(at) => {
            let mut tokens = tokens.clone();
            tokens.remove(pick(at));
            tokens.join(" ")
        }
        Mutation::Duplicate(at) => {
            let mut tokens = tokens.clone();
            tokens.insert(pick(at), tokens[pick(at)]);
            tokens.join(" ")
        }
        Mutation::Swap(a, b) => {
            let mut tokens = tokens.clone();
            tokens.swap(pick(a), pick(b));
            tokens.join(" ")
        }
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Duplicate),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap(a, b)),
    ]
}

/// Compiling must return, never panic, and any error must carry a message.
fn compile_returns(soql: &str) -> Result<(), TestCaseError> {
    if let Err(error) = compile_at(soql, &schema(), NOW_MS) {
        let allowed = [
            ErrorCode::MalformedQuery,
            ErrorCode::InvalidField,
            ErrorCode::InvalidType,
            ErrorCode::NumberOutsideValidRange,
            ErrorCode::InvalidQueryFilterOperator,
        ];
        prop_assert!(allowed.contains(&error.code));
        prop_assert!(!error.message.is_empty(), "{soql}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(soql in any::<String>()) {
        compile_returns(&soql)?;
    }

    #[test]
    fn soups_of_soql_tokens_never_panic(soql in token_soup()) {
        compile_returns(&soql)?;
    }

    #[test]
    fn mutated_valid_queries_never_panic(
        query in generated_query(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let mut soql = render_query(&query);
        for mutation in &mutations {
            soql = mutate(&soql, mutation);
            compile_returns(&soql)?;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn generated_queries_filter_and_sort_like_the_reference(
        query in generated_query(),
        specs in accounts(),
    ) {
        let soql = render_query(&query);
        let bound = compile_at(&soql, &schema(), NOW_MS)
            .map_err(|error| TestCaseError::fail(format!("{soql}\n{error}")))?;
        let store = store_with(&specs);
        let rows = store.rows("Account");
        for row in &rows {
            let expected = query.filter.as_ref().is_none_or(|filter| ref_eval(filter, row));
            prop_assert_eq!(bound.matches(row), expected, "{}\nrow {}", soql, row.id());
        }
        for a in &rows {
            for b in &rows {
                let expected = ref_order(&query.order, a, b);
                let actual = bound.compare(a, b);
                prop_assert_eq!(actual, expected, "{}\n{} vs {}", soql, a.id(), b.id());
            }
        }
        let columns: Vec<String> =
            bound.select.iter().map(|c| c.alias_json_path.join(".")).collect();
        let written: Vec<String> = query.select.iter().map(|f| f.soql().to_string()).collect();
        prop_assert_eq!(columns, written);
    }

    #[test]
    fn single_comparisons_match_the_reference(condition in leaf(), specs in accounts()) {
        // Deep trees mask most leaves; single leaves give each rule a direct check.
        let soql = format!("SELECT Id FROM Account WHERE {}", render(&condition));
        let bound = compile_at(&soql, &schema(), NOW_MS)
            .map_err(|error| TestCaseError::fail(format!("{soql}\n{error}")))?;
        let store = store_with(&specs);
        for row in &store.rows("Account") {
            let expected = ref_eval(&condition, row);
            prop_assert_eq!(bound.matches(row), expected, "{}\nrow {}", soql, row.id());
        }
    }

    #[test]
    fn an_unknown_field_anywhere_is_reported_by_name(
        query in generated_query(),
        name in "[A-Z][a-z]{2,8}_[a-z]{1,4}__c",
        place in 0..4usize,
    ) {
        let extra = match place {
            0 => Extra { select: Some(name.clone()), ..Extra::default() },
            1 => Extra { condition: Some(format!("{name} = 'x'")), ..Extra::default() },
            2 => Extra { key: Some(format!("Owner.{name} DESC")), ..Extra::default() },
            _ => Extra { condition: Some(format!("Parent.{name} != null")), ..Extra::default() },
        };
        let soql = render_with(&query, &extra);
        let error = compile_at(&soql, &schema(), NOW_MS).expect_err(&soql);
        prop_assert_eq!(error.code, ErrorCode::InvalidField, "{}\n{}", soql, error.message);
        let needle = format!("No such column '{name}'");
        prop_assert!(error.message.contains(&needle), "{}\n{}", soql, error.message);
    }

    #[test]
    fn an_unknown_object_is_reported_by_name(name in "[A-Z][a-z]{3,10}(__c)?") {
        prop_assume!(schema_has_no_object(&name));
        let soql = format!("SELECT Id FROM {name}");
        let error = compile_at(&soql, &schema(), NOW_MS).expect_err(&soql);
        prop_assert_eq!(error.code, ErrorCode::InvalidType);
        let needle = format!("sObject type '{name}' is not supported.");
        prop_assert!(error.message.contains(&needle), "{}", error.message);
    }

    #[test]
    fn datetimes_survive_a_format_parse_round_trip(
        ms in -62_135_596_800_000i64..253_402_300_800_000,
    ) {
        let written = format_datetime(ms);
        prop_assert_eq!(parse_datetime_literal(&written), Some(ms), "{}", written);
    }

    #[test]
    fn datetime_literals_parse_to_the_instant_they_name(
        days in -700_000i64..2_900_000,
        second in 0i64..86_400,
        millis in prop::option::of(0i64..1_000),
        offset_quarters in -95i64..=95,
        colon in any::<bool>(),
    ) {
        let offset_minutes = offset_quarters * 15;
        let zone = match offset_minutes {
            0 if colon => "Z".to_string(),
            minutes => {
                let sign = if minutes < 0 { '-' } else { '+' };
                let (h, m) = (minutes.abs() / 60, minutes.abs() % 60);
                if colon { format!("{sign}{h:02}:{m:02}") } else { format!("{sign}{h:02}{m:02}") }
            }
        };
        let fraction = millis.map_or(String::new(), |ms| format!(".{ms:03}"));
        let written = format!(
            "{}T{:02}:{:02}:{:02}{fraction}{zone}",
            date_text(days), second / 3_600, second / 60 % 60, second % 60
        );
        let local = days * DAY_MS + second * 1_000 + millis.unwrap_or(0);
        let expected = local - offset_minutes * 60_000;
        prop_assert_eq!(parse_datetime_literal(&written), Some(expected), "{}", written);
    }

    #[test]
    fn dates_survive_a_format_parse_round_trip(days in -719_162i32..2_932_896) {
        let written = format_date(days);
        prop_assert_eq!(&written, &date_text(i64::from(days)));
        prop_assert_eq!(parse_date_literal(&written), Some(days));
    }
}

fn schema_has_no_object(name: &str) -> bool {
    use sfsync_soql::Catalog;
    schema().object(name).is_none() && !["Order"].contains(&name)
}

#[test]
fn the_calendar_helpers_agree_with_known_dates() {
    assert_eq!(days_from_civil(2024, 1, 15), i64::from(TODAY));
    assert_eq!(civil_from_days(0), (1970, 1, 1));
    assert_eq!(date_text(days_from_civil(2000, 2, 29)), "2000-02-29");
}
