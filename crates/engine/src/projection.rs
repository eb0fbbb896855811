//! The projection of an object: every field the integration user can read, compound fields
//! replaced by their components (which describe lists on their own), read with the type that
//! decides how each value is normalised.

use sfsync_core::{FieldName, FieldSpec, FieldType, ObjectName, Projection};
use sfsync_salesforce::{FieldDescribe, SObjectDescribe};

/// What a run needs to know of an object's fields besides the projection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectShape {
    /// The fields read and how to normalise them.
    pub projection: Projection,
    /// Formula (calculated) fields: they change without a new SystemModstamp, so they are
    /// refreshed on their own schedule.
    pub formulas: Vec<FieldName>,
    /// Whether `SystemModstamp` can drive an incremental read (present and filterable).
    pub has_cursor_field: bool,
}

/// Builds the shape of an object from its describe.
pub fn shape_of(describe: &SObjectDescribe) -> Result<ObjectShape, sfsync_core::Error> {
    let object = ObjectName::parse(&describe.name)?;
    let mut projection = Projection::new(object);
    let mut formulas = Vec::new();
    for field in describe.fields.iter().filter(|f| is_projected(f)) {
        let name = FieldName::parse(&field.name)?;
        let field_type = FieldType::from_describe(field.field_type.as_str());
        if field.calculated && !field_type.is_compound() {
            formulas.push(name.clone());
        }
        let spec = FieldSpec {
            field_type,
            scale: Some(field.scale),
            calculated: field.calculated,
        };
        projection = projection.with_spec(name, spec);
    }
    let has_cursor_field = describe
        .field("SystemModstamp")
        .is_some_and(|f| f.filterable);
    Ok(ObjectShape {
        projection,
        formulas,
        has_cursor_field,
    })
}

/// The fields every incremental read selects for itself: the cursor and the delete flag.
/// They are not diffed: a SystemModstamp bumped by a system process alone is no change a
/// team wants to hear about (salesforce-api.md §8.5), and a delete is its own event kind.
const READ_FIELDS: [&str; 2] = ["SystemModstamp", "IsDeleted"];

/// Reads every field but compound ones (their components are read), base64 bodies, which
/// are blobs fetched one record at a time and never part of a query page, and the fields
/// each read selects for itself.
fn is_projected(field: &FieldDescribe) -> bool {
    !field.field_type.is_compound()
        && !READ_FIELDS
            .iter()
            .any(|f| f.eq_ignore_ascii_case(&field.name))
        && field.field_type.as_str() != "base64"
        && !field.deprecated_and_hidden
}
