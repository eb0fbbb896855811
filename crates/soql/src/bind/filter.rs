//! Binding `WHERE`: each comparison becomes a [`Predicate`] whose literal is already
//! converted to the field's representation (folded text, a number, a day or millisecond
//! range), so that evaluating it is one comparison per record.

use super::{Binder, BoundPath};
use crate::ast::{CmpOp, Condition, Literal, LiteralValue, Path, RelativeDate};
use crate::catalog::Catalog;
use crate::datetime::{MS_PER_DAY, day_of};
use crate::error::{ErrorCode, SoqlError};
use crate::eval::{LikePattern, fold};
use crate::value::{FieldInfo, FieldKind};

/// A bound `WHERE` condition. SOQL logic is two-valued: a comparison with a null field is
/// simply false, except `!=` and `NOT IN`, which match nulls (SOQL reference,
/// "Comparison Operators").
#[derive(Debug, Clone)]
pub enum BoundExpr {
    /// All must hold.
    And(Vec<BoundExpr>),
    /// One must hold.
    Or(Vec<BoundExpr>),
    /// Negation.
    Not(Box<BoundExpr>),
    /// One comparison of a field.
    Predicate(Predicate),
}

/// One comparison of a field with literals.
#[derive(Debug, Clone)]
pub struct Predicate {
    /// The compared field.
    pub path: BoundPath,
    pub(crate) test: Test,
}

/// What a predicate checks.
#[derive(Debug, Clone)]
pub(crate) enum Test {
    IsNull,
    NotNull,
    /// An ordering comparison with `null` (`x < null`), which no value satisfies.
    Never,
    Compare {
        op: CmpOp,
        operand: Operand,
    },
    In {
        negated: bool,
        operands: Vec<Operand>,
        has_null: bool,
    },
    Like(LikePattern),
}

/// A literal converted to the form its field compares in.
#[derive(Debug, Clone)]
pub(crate) enum Operand {
    /// Case-insensitive text, lower-cased once here.
    Text(Box<str>),
    /// A record Id, compared case-sensitively.
    Id(Box<str>),
    Number(f64),
    Bool(bool),
    /// A date or date-time as a half-open range `[lo, hi)` in the field's unit (days or
    /// milliseconds): a single day, a single instant, or a relative literal's span.
    Range {
        lo: i64,
        hi: i64,
    },
}

impl<C: Catalog + ?Sized> Binder<'_, C> {
    pub(crate) fn condition(&self, condition: &Condition) -> Result<BoundExpr, SoqlError> {
        Ok(match condition {
            Condition::And(items) => BoundExpr::And(self.conditions(items)?),
            Condition::Or(items) => BoundExpr::Or(self.conditions(items)?),
            Condition::Not(inner) => BoundExpr::Not(Box::new(self.condition(inner)?)),
            Condition::Compare { path, op, value } => self.comparison(path, *op, value)?,
            Condition::In {
                path,
                negated,
                values,
            } => self.membership(path, *negated, values)?,
            Condition::Like { path, pattern } => self.like(path, pattern)?,
        })
    }

    fn conditions(&self, items: &[Condition]) -> Result<Vec<BoundExpr>, SoqlError> {
        items.iter().map(|item| self.condition(item)).collect()
    }

    fn comparison(&self, path: &Path, op: CmpOp, value: &Literal) -> Result<BoundExpr, SoqlError> {
        let bound = self.filter_path(path)?;
        let ordering = !matches!(op, CmpOp::Eq | CmpOp::Ne);
        if ordering
            && matches!(
                bound.field.kind,
                FieldKind::Boolean | FieldKind::MultiPicklist
            )
        {
            return Err(self.invalid_operator(path, &bound.field));
        }
        let test = match (&value.value, op) {
            (LiteralValue::Null, CmpOp::Eq) => Test::IsNull,
            (LiteralValue::Null, CmpOp::Ne) => Test::NotNull,
            (LiteralValue::Null, _) => Test::Never,
            _ => Test::Compare {
                op,
                operand: self.operand(path, &bound.field, value)?,
            },
        };
        Ok(BoundExpr::Predicate(Predicate { path: bound, test }))
    }

    fn membership(
        &self,
        path: &Path,
        negated: bool,
        values: &[Literal],
    ) -> Result<BoundExpr, SoqlError> {
        let bound = self.filter_path(path)?;
        let mut operands = Vec::with_capacity(values.len());
        let mut has_null = false;
        for value in values {
            match value.value {
                LiteralValue::Null => has_null = true,
                _ => operands.push(self.operand(path, &bound.field, value)?),
            }
        }
        let test = Test::In {
            negated,
            operands,
            has_null,
        };
        Ok(BoundExpr::Predicate(Predicate { path: bound, test }))
    }

    fn like(&self, path: &Path, pattern: &str) -> Result<BoundExpr, SoqlError> {
        let bound = self.filter_path(path)?;
        let kind = bound.field.kind;
        if !(kind.is_case_insensitive_text() || kind.is_id()) || kind == FieldKind::MultiPicklist {
            return Err(self.invalid_operator(path, &bound.field));
        }
        let test = Test::Like(LikePattern::compile(pattern));
        Ok(BoundExpr::Predicate(Predicate { path: bound, test }))
    }

    /// Resolves a path used in `WHERE` and checks that it may be filtered on.
    fn filter_path(&self, path: &Path) -> Result<BoundPath, SoqlError> {
        let bound = self.path(path)?;
        let message = if bound.field.kind == FieldKind::Address {
            "Address fields can only be filtered using Distance expressions".to_string()
        } else if !bound.field.filterable {
            format!(
                "field '{}' can not be filtered in a query call",
                bound.field.name
            )
        } else {
            return Ok(bound);
        };
        Err(self.error_at(ErrorCode::InvalidField, path.start(), &message))
    }

    fn invalid_operator(&self, path: &Path, field: &FieldInfo) -> SoqlError {
        let message = format!("invalid operator on {} field", type_name(field.kind));
        self.error_at(
            ErrorCode::InvalidQueryFilterOperator,
            path.start(),
            &message,
        )
    }

    /// Converts a non-null literal to its field's representation, or reports the mismatch
    /// the way Salesforce does.
    fn operand(
        &self,
        path: &Path,
        field: &FieldInfo,
        literal: &Literal,
    ) -> Result<Operand, SoqlError> {
        use FieldKind as K;
        use LiteralValue as L;
        let today = day_of(self.now_ms);
        Ok(match (field.kind, &literal.value) {
            (kind, L::Text(text)) if kind.is_case_insensitive_text() => Operand::Text(fold(text)),
            (kind, L::Text(text)) if kind.is_id() => self.id_operand(path, text)?,
            (K::Boolean, L::Bool(value)) => Operand::Bool(*value),
            (K::Int | K::Double | K::Currency | K::Percent, L::Number(value)) => {
                Operand::Number(*value)
            }
            (K::Date, L::Date(day)) => day_range(i64::from(*day), 1),
            (K::Date, L::Relative(relative)) => relative_range(*relative, today, 1),
            (K::DateTime, L::DateTime(ms)) => Operand::Range {
                lo: *ms,
                hi: ms + 1,
            },
            (K::DateTime, L::Relative(relative)) => relative_range(*relative, today, MS_PER_DAY),
            _ => return Err(type_mismatch(field)),
        })
    }

    /// Ids must look like Ids: Salesforce refuses `Id = 'ZZZ'` with
    /// `INVALID_QUERY_FILTER_OPERATOR` "invalid ID field: ZZZ", caret on the field.
    fn id_operand(&self, path: &Path, text: &str) -> Result<Operand, SoqlError> {
        let looks_like_id =
            matches!(text.len(), 15 | 18) && text.bytes().all(|b| b.is_ascii_alphanumeric());
        if !text.is_empty() && !looks_like_id {
            let message = format!("invalid ID field: {text}");
            return Err(self.error_at(
                ErrorCode::InvalidQueryFilterOperator,
                path.start(),
                &message,
            ));
        }
        Ok(Operand::Id(text.into()))
    }
}

fn day_range(day: i64, unit: i64) -> Operand {
    Operand::Range {
        lo: day * unit,
        hi: (day + 1) * unit,
    }
}

/// The span a relative literal covers, in days times `unit`. `LAST_N_DAYS:n` includes
/// today and reaches back `n` days; `NEXT_N_DAYS:n` starts tomorrow (SOQL reference,
/// "Date Literals").
fn relative_range(relative: RelativeDate, today: i64, unit: i64) -> Operand {
    let (first, end) = match relative {
        RelativeDate::Today => (today, today + 1),
        RelativeDate::Yesterday => (today - 1, today),
        RelativeDate::Tomorrow => (today + 1, today + 2),
        RelativeDate::LastNDays(n) => (today - i64::from(n), today + 1),
        RelativeDate::NextNDays(n) => (today + 1, today + 1 + i64::from(n)),
    };
    // Saturating: only an absurd `now_ms` passed to `bind_at` could get near the limits.
    Operand::Range {
        lo: first.saturating_mul(unit),
        hi: end.saturating_mul(unit),
    }
}

/// "value of filter criterion for field 'CloseDate' must be of type date and should not be
/// enclosed in quotes" (`INVALID_FIELD`, no position), as Salesforce reports a literal of
/// the wrong type.
fn type_mismatch(field: &FieldInfo) -> SoqlError {
    let quoting = if field.kind.is_case_insensitive_text() || field.kind.is_id() {
        "should be"
    } else {
        "should not be"
    };
    let message = format!(
        "value of filter criterion for field '{}' must be of type {} and {quoting} enclosed in \
         quotes",
        field.name,
        type_name(field.kind)
    );
    SoqlError::new(ErrorCode::InvalidField, message)
}

/// The SOAP type name Salesforce uses for a field kind in filter messages.
fn type_name(kind: FieldKind) -> &'static str {
    use FieldKind as K;
    match kind {
        K::Id | K::Reference => "id",
        K::String | K::TextArea | K::Email | K::Phone | K::Url | K::Picklist => "string",
        K::MultiPicklist => "multipicklist",
        K::Boolean => "boolean",
        K::Int => "int",
        K::Double | K::Currency | K::Percent => "double",
        K::Date => "date",
        K::DateTime => "dateTime",
        K::Address => "address",
    }
}
