//! The two seams between this crate and the simulator: a *catalog* answers name questions
//! at bind time, a *row* answers value questions at evaluation time.
//!
//! Both see the org through the querying user's eyes: a field or object hidden by
//! field-level security or permissions is simply absent, which is how Salesforce makes a
//! hidden field fail with the same `INVALID_FIELD` as a missing one (salesforce-api.md §5).

use crate::value::{FieldInfo, Value, ends_with_ignore_case};

/// What the binder needs to know about the org, seen by the querying user.
pub trait Catalog {
    /// Case-insensitive object lookup; returns the canonical name (`"account"` ->
    /// `"Account"`).
    fn object(&self, name: &str) -> Option<String>;

    /// Case-insensitive field lookup on a canonical object.
    fn field(&self, object: &str, field: &str) -> Option<FieldInfo>;

    /// Child-to-parent relationship by relationship name (case-insensitive), e.g.
    /// `("Contact", "account")` -> the index of `AccountId` and `"Account"`. Custom ones end
    /// in `__r` (`Account__r` for the field `Account__c`).
    fn parent_relationship(&self, object: &str, relationship: &str) -> Option<(usize, String)>;

    /// All fields the user can see, in describe order (for `FIELDS(...)`).
    fn fields(&self, object: &str) -> Vec<FieldInfo>;

    /// The canonical spelling of a relationship the user wrote as `written`, for the JSON
    /// nesting of results.
    ///
    /// The default follows Salesforce's naming rule: `AccountId` is reached through
    /// `Account`, `Mother__c` through `Mother__r` (salesforce-api.md §6.3). A catalog with
    /// irregular names (polymorphic `What`, say) overrides it. When the rule does not
    /// produce the written name, the written name is kept.
    fn relationship_name(&self, object: &str, reference_index: usize, written: &str) -> String {
        self.fields(object)
            .into_iter()
            .find(|field| field.index == reference_index)
            .and_then(|field| derived_relationship_name(&field.name))
            .filter(|derived| derived.eq_ignore_ascii_case(written))
            .unwrap_or_else(|| written.to_string())
    }
}

/// The relationship name Salesforce derives from a reference field's API name.
fn derived_relationship_name(field: &str) -> Option<String> {
    if ends_with_ignore_case(field, "__c") {
        return Some(format!("{}__r", &field[..field.len() - 3]));
    }
    if field.len() > 2 && ends_with_ignore_case(field, "id") {
        return Some(field[..field.len() - 2].to_string());
    }
    None
}

/// A record as the evaluator sees it.
pub trait Row: Sized {
    /// The value of the field at `index` (as [`FieldInfo::index`] gives it).
    fn value(&self, index: usize) -> Value;

    /// Walks the reference field at `reference_index` to the parent record; `None` when the
    /// lookup is empty or the parent is not visible.
    fn follow(&self, reference_index: usize) -> Option<Self>;
}

#[cfg(test)]
mod tests {
    use super::derived_relationship_name;

    #[test]
    fn standard_reference_fields_drop_the_id_suffix() {
        assert_eq!(
            derived_relationship_name("AccountId").as_deref(),
            Some("Account")
        );
        assert_eq!(
            derived_relationship_name("ReportsToId").as_deref(),
            Some("ReportsTo")
        );
    }

    #[test]
    fn custom_reference_fields_swap_c_for_r() {
        assert_eq!(
            derived_relationship_name("ns__Mother__c").as_deref(),
            Some("ns__Mother__r")
        );
    }

    #[test]
    fn names_without_a_rule_have_no_derived_relationship() {
        assert_eq!(derived_relationship_name("Id"), None);
        assert_eq!(derived_relationship_name("Name"), None);
    }
}
