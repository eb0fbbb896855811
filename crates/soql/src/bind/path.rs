//! Resolving a dotted *path* (`Account.Owner.Name`): each leading segment is a
//! child-to-parent relationship, the last one a field of the object reached.

use super::Binder;
use crate::ast::{Name, Path};
use crate::catalog::{Catalog, Row};
use crate::error::{ErrorCode, SoqlError};
use crate::value::{FieldInfo, Value};

/// SOQL allows at most five levels of child-to-parent relationships in one path (SOQL
/// reference, "Relationship Query Limits").
const MAX_HOPS: usize = 5;

/// A field reached from the queried object through zero or more parent lookups.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundPath {
    /// The lookups walked, in order: reference field index, canonical relationship name,
    /// target object.
    pub hops: Vec<(usize, String, String)>,
    /// The final field, on the last target object (or the queried object when there are no
    /// hops).
    pub field: FieldInfo,
}

impl BoundPath {
    /// A field of the queried object itself.
    pub fn local(field: FieldInfo) -> Self {
        Self {
            hops: Vec::new(),
            field,
        }
    }

    /// How the column nests in the JSON result: relationship names, then the field name
    /// (`["Account", "Owner", "Name"]`).
    pub fn json_path(&self) -> Vec<String> {
        let relationships = self.hops.iter().map(|(_, name, _)| name.clone());
        relationships.chain([self.field.name.clone()]).collect()
    }

    /// The value at the end of the path; `Null` when any lookup on the way is empty or its
    /// parent is not visible.
    pub fn eval<R: Row>(&self, row: &R) -> Value {
        follow_hops(&self.hops, self.field.index, row)
    }
}

fn follow_hops<R: Row>(hops: &[(usize, String, String)], index: usize, row: &R) -> Value {
    match hops.split_first() {
        None => row.value(index),
        Some(((reference, _, _), rest)) => row
            .follow(*reference)
            .map_or(Value::Null, |parent| follow_hops(rest, index, &parent)),
    }
}

impl<C: Catalog + ?Sized> Binder<'_, C> {
    /// Resolves `path` from the queried object.
    pub(crate) fn path(&self, path: &Path) -> Result<BoundPath, SoqlError> {
        let (relationships, field) = self.split_path(path);
        if relationships.len() > MAX_HOPS {
            let message =
                "paths through more than 5 relationships are not supported by this simulator";
            return Err(self.error_at(ErrorCode::MalformedQuery, path.start(), message));
        }
        let mut object = self.object.clone();
        let mut hops = Vec::with_capacity(relationships.len());
        for segment in relationships {
            let (index, target) = self
                .catalog
                .parent_relationship(&object, &segment.text)
                .ok_or_else(|| self.unknown_relationship(path, segment))?;
            let name = self
                .catalog
                .relationship_name(&object, index, &segment.text);
            hops.push((index, name, target.clone()));
            object = target;
        }
        let info = self
            .catalog
            .field(&object, &field.text)
            .ok_or_else(|| self.no_such_column(path, field, &object))?;
        Ok(BoundPath { hops, field: info })
    }

    /// Splits off the final field. SOQL lets a path start with the queried object's own
    /// name (`SELECT Account.Name FROM Account`); that prefix is dropped unless a
    /// relationship of the same name exists.
    fn split_path<'p>(&self, path: &'p Path) -> (&'p [Name], &'p Name) {
        let (field, relationships) = path.segments.split_last().expect("paths are never empty");
        match relationships.split_first() {
            Some((first, rest))
                if first.text.eq_ignore_ascii_case(&self.object)
                    && self
                        .catalog
                        .parent_relationship(&self.object, &first.text)
                        .is_none() =>
            {
                (rest, field)
            }
            _ => (relationships, field),
        }
    }

    fn no_such_column(&self, path: &Path, field: &Name, object: &str) -> SoqlError {
        let message = format!(
            "No such column '{}' on entity '{object}'. If you are attempting to use a custom \
             field, be sure to append the '__c' after the custom field name. Please reference \
             your WSDL or the describe call for the appropriate names.",
            field.text
        );
        self.error_at(ErrorCode::InvalidField, path.start(), &message)
    }

    fn unknown_relationship(&self, path: &Path, segment: &Name) -> SoqlError {
        let message = format!(
            "Didn't understand relationship '{}' in field path. If you are attempting to use a \
             custom relationship, be sure to append the '__r' after the custom relationship \
             name. Please reference your WSDL or the describe call for the appropriate names.",
            segment.text
        );
        self.error_at(ErrorCode::InvalidField, path.start(), &message)
    }
}
