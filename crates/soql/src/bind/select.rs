//! Binding the `SELECT` list: plain paths, `FIELDS(...)` expanded from describe, and the
//! one `COUNT` the subset allows.

use std::collections::HashSet;

use super::{Binder, BoundPath};
use crate::ast::{FieldGroup, Name, Path, SelectItem};
use crate::catalog::{Catalog, Row};
use crate::error::{ErrorCode, SoqlError};
use crate::value::FieldInfo;

/// One selected column.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectColumn {
    /// Where the value comes from.
    pub path: BoundPath,
    /// How the column nests in JSON: `["Account", "Name"]` for `Account.Name`, with
    /// canonical relationship and field names.
    pub alias_json_path: Vec<String>,
}

/// The count a `COUNT` query asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum CountKind {
    /// `SELECT COUNT()`: the answer is `totalSize`, with no records.
    Rows,
    /// `SELECT COUNT(field) [alias]`: one aggregate row counting non-null values.
    Field {
        /// The counted field (`Id` for `COUNT(Id)`).
        path: BoundPath,
        /// The alias, if written.
        alias: Option<String>,
    },
}

impl CountKind {
    /// Whether `row` adds one to the count.
    pub fn counts<R: Row>(&self, row: &R) -> bool {
        match self {
            CountKind::Rows => true,
            CountKind::Field { path, .. } => !path.eval(row).is_null(),
        }
    }

    /// The key of the aggregate column: the alias, else `expr0` as Salesforce names the
    /// first unaliased aggregate.
    pub fn column_name(&self) -> &str {
        match self {
            CountKind::Field {
                alias: Some(alias), ..
            } => alias,
            _ => "expr0",
        }
    }
}

/// The bound `SELECT` list.
pub(crate) struct Selection {
    pub columns: Vec<SelectColumn>,
    pub count: Option<CountKind>,
}

/// Collects columns, refusing the second copy of any field ("duplicate field selected:
/// Id", SOQL reference, "FIELDS()").
#[derive(Default)]
struct Columns {
    columns: Vec<SelectColumn>,
    seen: HashSet<String>,
}

impl Columns {
    fn push(&mut self, path: BoundPath) -> Result<(), SoqlError> {
        let alias_json_path = path.json_path();
        let written = alias_json_path.join(".");
        if !self.seen.insert(written.to_ascii_lowercase()) {
            // The documented response carries no position and the code INVALID_FIELD.
            let message = format!("duplicate field selected: {written}");
            return Err(SoqlError::new(ErrorCode::InvalidField, message));
        }
        self.columns.push(SelectColumn {
            path,
            alias_json_path,
        });
        Ok(())
    }
}

impl<C: Catalog + ?Sized> Binder<'_, C> {
    pub(crate) fn selection(&self, items: &[SelectItem]) -> Result<Selection, SoqlError> {
        let mut columns = Columns::default();
        let mut count = None;
        let mut first_plain = None;
        for item in items {
            match item {
                SelectItem::Field(path) => {
                    first_plain.get_or_insert((path.written(), path.start()));
                    columns.push(self.path(path)?)?;
                }
                SelectItem::Fields { group, start } => {
                    for field in self.field_group(*group) {
                        first_plain.get_or_insert((field.name.clone(), *start));
                        columns.push(BoundPath::local(field))?;
                    }
                }
                SelectItem::Count { arg, alias, start } => {
                    if count.is_some() {
                        let message = "several aggregate functions in one query are not \
                                       supported by this simulator";
                        return Err(self.error_at(ErrorCode::MalformedQuery, *start, message));
                    }
                    count = Some(self.count(arg.as_ref(), alias.as_ref())?);
                }
            }
        }
        self.check_aggregation(count.as_ref(), first_plain)?;
        Ok(Selection {
            columns: columns.columns,
            count,
        })
    }

    fn field_group(&self, group: FieldGroup) -> impl Iterator<Item = FieldInfo> {
        let wanted = move |field: &FieldInfo| match group {
            FieldGroup::All => true,
            FieldGroup::Standard => !field.is_custom(),
            FieldGroup::Custom => field.is_custom(),
        };
        self.catalog.fields(&self.object).into_iter().filter(wanted)
    }

    fn count(&self, arg: Option<&Path>, alias: Option<&Name>) -> Result<CountKind, SoqlError> {
        let Some(path) = arg else {
            return Ok(CountKind::Rows);
        };
        let alias = alias.map(|name| name.text.clone());
        Ok(CountKind::Field {
            path: self.path(path)?,
            alias,
        })
    }

    /// Without `GROUP BY`, an aggregate cannot sit beside a plain field; Salesforce says
    /// "Field must be grouped or aggregated: Name".
    fn check_aggregation(
        &self,
        count: Option<&CountKind>,
        first_plain: Option<(String, usize)>,
    ) -> Result<(), SoqlError> {
        match (count, first_plain) {
            (Some(_), Some((name, start))) => {
                let message = format!("Field must be grouped or aggregated: {name}");
                Err(self.error_at(ErrorCode::MalformedQuery, start, &message))
            }
            _ => Ok(()),
        }
    }
}
