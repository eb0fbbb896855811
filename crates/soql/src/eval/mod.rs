//! The evaluator: `WHERE` and `ORDER BY` applied to one record (or one pair) at a time.
//!
//! Everything was resolved at bind time, so these functions only read values and compare;
//! text is compared without building new strings.

mod like;
mod text;

use std::cmp::Ordering;

use crate::ast::CmpOp;
use crate::bind::{BoundExpr, BoundOrder, BoundQuery, Operand, Predicate, Test};
use crate::catalog::Row;
use crate::value::{FieldKind, Value};

pub(crate) use like::LikePattern;
pub(crate) use text::fold;
use text::{cmp_folded, cmp_ignore_case};

impl BoundQuery {
    /// Whether `row` satisfies the `WHERE` clause (always, without one).
    pub fn matches<R: Row>(&self, row: &R) -> bool {
        self.filter.as_ref().is_none_or(|filter| filter.eval(row))
    }

    /// `ORDER BY` order of two records; `Equal` when every key ties (or there are none).
    pub fn compare<R: Row>(&self, a: &R, b: &R) -> Ordering {
        self.order_by
            .iter()
            .map(|key| key.compare(a, b))
            .find(|ordering| ordering.is_ne())
            .unwrap_or(Ordering::Equal)
    }

    /// Whether `ORDER BY` asks for ascending order of the queried object's own Id, the order
    /// in which the simulator holds records, so that a scan in that order needs no sort and
    /// can stop at `LIMIT`. Ids are unique, so keys after the Id never matter.
    pub fn ordered_by_id(&self) -> bool {
        self.order_by.first().is_some_and(|key| {
            key.path.hops.is_empty() && key.path.field.kind == FieldKind::Id && !key.descending
        })
    }

    /// The tightest top-level `Id > 'x'` / `Id >= 'x'` conjunct, so that the simulator can
    /// start an Id-ordered scan there. Returns the literal and whether it is inclusive.
    /// It is a lower bound only: rows must still pass [`BoundQuery::matches`].
    pub fn id_lower_bound(&self) -> Option<(String, bool)> {
        self.filter.as_ref()?.id_lower_bound()
    }
}

impl BoundOrder {
    /// Compares two records on this key, nulls placed as configured.
    pub fn compare<R: Row>(&self, a: &R, b: &R) -> Ordering {
        let (left, right) = (self.path.eval(a), self.path.eval(b));
        match (left.is_null(), right.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) if self.nulls_first => Ordering::Less,
            (true, false) => Ordering::Greater,
            (false, true) if self.nulls_first => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => {
                let ordering = compare_values(self.path.field.kind, &left, &right);
                if self.descending {
                    ordering.reverse()
                } else {
                    ordering
                }
            }
        }
    }
}

impl BoundExpr {
    /// Whether `row` satisfies the condition.
    pub fn eval<R: Row>(&self, row: &R) -> bool {
        match self {
            BoundExpr::And(items) => items.iter().all(|item| item.eval(row)),
            BoundExpr::Or(items) => items.iter().any(|item| item.eval(row)),
            BoundExpr::Not(inner) => !inner.eval(row),
            BoundExpr::Predicate(predicate) => predicate.eval(row),
        }
    }

    /// See [`BoundQuery::id_lower_bound`].
    pub fn id_lower_bound(&self) -> Option<(String, bool)> {
        let mut best = None;
        self.collect_id_bounds(&mut best);
        best.map(|(id, inclusive): (&str, bool)| (id.to_string(), inclusive))
    }

    fn collect_id_bounds<'a>(&'a self, best: &mut Option<(&'a str, bool)>) {
        match self {
            BoundExpr::And(items) => items.iter().for_each(|item| item.collect_id_bounds(best)),
            BoundExpr::Predicate(predicate) => {
                if let Some(bound) = predicate.id_lower_bound() {
                    *best = Some(tighter(*best, bound));
                }
            }
            BoundExpr::Or(_) | BoundExpr::Not(_) => {}
        }
    }
}

/// The stricter of two lower bounds: the larger Id, and exclusive over inclusive on a tie.
fn tighter<'a>(current: Option<(&'a str, bool)>, new: (&'a str, bool)) -> (&'a str, bool) {
    let Some(current) = current else { return new };
    match current.0.cmp(new.0) {
        Ordering::Greater => current,
        Ordering::Less => new,
        Ordering::Equal => (current.0, current.1 && new.1),
    }
}

impl Predicate {
    /// Whether `row` satisfies this comparison.
    pub fn eval<R: Row>(&self, row: &R) -> bool {
        self.test.check(&self.path.eval(row))
    }

    fn id_lower_bound(&self) -> Option<(&str, bool)> {
        if !self.path.hops.is_empty() || self.path.field.kind != FieldKind::Id {
            return None;
        }
        match &self.test {
            Test::Compare {
                op: CmpOp::Gt,
                operand: Operand::Id(id),
            } => Some((id, false)),
            Test::Compare {
                op: CmpOp::Ge,
                operand: Operand::Id(id),
            } => Some((id, true)),
            _ => None,
        }
    }
}

impl Test {
    fn check(&self, value: &Value) -> bool {
        match self {
            Test::IsNull => value.is_null(),
            Test::NotNull => !value.is_null(),
            Test::Never => false,
            Test::Compare { op, operand } => compare_with(*op, operand, value),
            Test::In {
                negated,
                operands,
                has_null,
            } => {
                let found = if value.is_null() {
                    *has_null
                } else {
                    operands
                        .iter()
                        .any(|operand| compare_with(CmpOp::Eq, operand, value))
                };
                found != *negated
            }
            Test::Like(pattern) => matches!(value, Value::Text(text) if pattern.matches(text)),
        }
    }
}

/// `value op operand`. A null or incomparable value satisfies only `!=`.
fn compare_with(op: CmpOp, operand: &Operand, value: &Value) -> bool {
    if let Operand::Range { lo, hi } = operand {
        return in_range(op, *lo, *hi, instant(value));
    }
    let ordering = operand.order_of(value);
    match op {
        CmpOp::Eq => ordering == Some(Ordering::Equal),
        CmpOp::Ne => ordering != Some(Ordering::Equal),
        CmpOp::Lt => ordering == Some(Ordering::Less),
        CmpOp::Le => matches!(ordering, Some(Ordering::Less | Ordering::Equal)),
        CmpOp::Gt => ordering == Some(Ordering::Greater),
        CmpOp::Ge => matches!(ordering, Some(Ordering::Greater | Ordering::Equal)),
    }
}

/// Comparison with a span `[lo, hi)`: `=` means inside it, `<` before it starts, `>` after
/// it ends, which is how SOQL reads `CreatedDate > TODAY`; a single date or instant is a
/// span of one unit, so the same rules give ordinary comparisons.
fn in_range(op: CmpOp, lo: i64, hi: i64, value: Option<i64>) -> bool {
    let Some(value) = value else {
        return op == CmpOp::Ne;
    };
    let inside = lo <= value && value < hi;
    match op {
        CmpOp::Eq => inside,
        CmpOp::Ne => !inside,
        CmpOp::Lt => value < lo,
        CmpOp::Le => value < hi,
        CmpOp::Gt => value >= hi,
        CmpOp::Ge => value >= lo,
    }
}

fn instant(value: &Value) -> Option<i64> {
    match value {
        Value::Date(day) => Some(i64::from(*day)),
        Value::DateTime(ms) => Some(*ms),
        _ => None,
    }
}

impl Operand {
    /// How `value` orders against this operand; `None` when it cannot be compared.
    fn order_of(&self, value: &Value) -> Option<Ordering> {
        match (self, value) {
            (Operand::Text(folded), Value::Text(text)) => Some(cmp_folded(text, folded)),
            (Operand::Id(id), Value::Text(text)) => Some(compare_id(text, id)),
            (Operand::Number(number), Value::Int(int)) => (*int as f64).partial_cmp(number),
            (Operand::Number(number), Value::Double(double)) => double.partial_cmp(number),
            (Operand::Bool(expected), Value::Bool(actual)) => Some(actual.cmp(expected)),
            _ => None,
        }
    }
}

/// Ids compare as case-sensitive strings; a 15-character literal stands for the 18-character
/// Id that begins with it, as Salesforce accepts either form in a filter.
fn compare_id(value: &str, literal: &str) -> Ordering {
    let value = value.as_bytes();
    if literal.len() == 15 && value.len() == 18 {
        value[..15].cmp(literal.as_bytes())
    } else {
        value.cmp(literal.as_bytes())
    }
}

/// Orders two non-null values of a field of `kind`.
fn compare_values(kind: FieldKind, left: &Value, right: &Value) -> Ordering {
    match (left, right) {
        (Value::Text(a), Value::Text(b)) if kind.is_id() => a.as_bytes().cmp(b.as_bytes()),
        (Value::Text(a), Value::Text(b)) => cmp_ignore_case(a, b),
        (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
        (Value::Int(a), Value::Int(b)) => a.cmp(b),
        (Value::Date(a), Value::Date(b)) => a.cmp(b),
        (Value::DateTime(a), Value::DateTime(b)) => a.cmp(b),
        _ => match (number(left), number(right)) {
            (Some(a), Some(b)) => a.total_cmp(&b),
            _ => rank(left).cmp(&rank(right)),
        },
    }
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Int(int) => Some(*int as f64),
        Value::Double(double) => Some(*double),
        _ => None,
    }
}

/// A fixed order between values of different variants, which a well-typed store never
/// produces but which must still sort consistently.
fn rank(value: &Value) -> u8 {
    match value {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Int(_) | Value::Double(_) => 2,
        Value::Text(_) => 3,
        Value::Date(_) => 4,
        Value::DateTime(_) => 5,
    }
}
