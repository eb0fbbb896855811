//! Identifiers: a record's Id, the API names of objects and fields, and an organization's
//! slug. Each is a newtype so that an object name can never be passed where a field name is
//! expected, and each is validated once, when it is built.
//!
//! A [`RecordId`] is always held in its 18-character, case-insensitive-safe form, so the
//! 15-character form some formulas and reports return compares equal to the 18-character
//! form the API returns.
//!
//! Object and field names are case-insensitive in Salesforce (`stagename` and `StageName`
//! name the same field in SOQL and in describe), so [`ObjectName`] and [`FieldName`]
//! compare, order and hash without regard to ASCII case, while keeping the spelling they
//! were built from for display and JSON.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

/// The alphabet of the 3-character suffix that makes a 15-character Id case-insensitive.
const SUFFIX_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

/// A Salesforce record Id, always held as 18 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordId(String);

impl RecordId {
    /// Builds an Id from its 15- or 18-character form. An 18-character Id must carry the
    /// suffix its first 15 characters imply (compared without case, as Salesforce does).
    pub fn parse(text: &str) -> Result<Self, Error> {
        let invalid = |reason| Error::InvalidRecordId {
            text: text.to_owned(),
            reason,
        };
        if !text.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(invalid("only ASCII letters and digits are allowed"));
        }
        match text.len() {
            15 => Ok(Self(format!("{text}{}", case_suffix(text)))),
            18 if text[15..].eq_ignore_ascii_case(&case_suffix(&text[..15])) => {
                Ok(Self(format!("{}{}", &text[..15], case_suffix(&text[..15]))))
            }
            18 => Err(invalid("the last 3 characters do not match the first 15")),
            _ => Err(invalid("must be 15 or 18 characters long")),
        }
    }

    /// The 18-character form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 15-character, case-sensitive form.
    pub fn short(&self) -> &str {
        &self.0[..15]
    }

    /// The 3-character key prefix that names the object (`001` for Account).
    pub fn key_prefix(&self) -> &str {
        &self.0[..3]
    }
}

/// Computes the 3-character suffix of a 15-character Id: for each 5-character chunk, bit
/// `i` is set when character `i` is an upper-case letter, and the 5-bit number picks a
/// character of [`SUFFIX_ALPHABET`].
fn case_suffix(short: &str) -> String {
    short
        .as_bytes()
        .chunks(5)
        .map(|chunk| {
            let bits = chunk
                .iter()
                .enumerate()
                .filter(|(_, b)| b.is_ascii_uppercase())
                .fold(0usize, |acc, (i, _)| acc | (1 << i));
            char::from(SUFFIX_ALPHABET[bits])
        })
        .collect()
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for RecordId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RecordId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// An API name kept as spelled, compared without regard to ASCII case.
#[derive(Debug, Clone)]
struct ApiName(String);

impl ApiName {
    /// Accepts what Salesforce accepts in API names: a letter first, then letters, digits
    /// and underscores (`Invoice__c`, `ns__Amount__c`).
    fn parse(kind: &'static str, text: &str) -> Result<Self, Error> {
        let invalid = |reason| Error::InvalidName {
            kind,
            text: text.to_owned(),
            reason,
        };
        let first = text
            .bytes()
            .next()
            .ok_or_else(|| invalid("must not be empty"))?;
        if !first.is_ascii_alphabetic() {
            return Err(invalid("must start with a letter"));
        }
        if !text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(invalid(
                "only ASCII letters, digits and underscores are allowed",
            ));
        }
        Ok(Self(text.to_owned()))
    }

    fn folded(&self) -> impl Iterator<Item = u8> + '_ {
        self.0.bytes().map(|b| b.to_ascii_lowercase())
    }
}

impl PartialEq for ApiName {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl Eq for ApiName {}

impl Ord for ApiName {
    fn cmp(&self, other: &Self) -> Ordering {
        self.folded().cmp(other.folded())
    }
}

impl PartialOrd for ApiName {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Hash for ApiName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.folded().for_each(|b| state.write_u8(b));
    }
}

/// Defines a case-insensitive API-name newtype with its parsing, display and serde.
macro_rules! api_name {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(ApiName);

        impl $name {
            #[doc = concat!("Builds a ", $kind, ", checking that it is a valid API name.")]
            pub fn parse(text: &str) -> Result<Self, Error> {
                ApiName::parse($kind, text).map(Self)
            }

            /// The name as it was spelled when built.
            pub fn as_str(&self) -> &str {
                &self.0 .0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

api_name!(
    /// The API name of an object (`Account`, `Invoice__c`), compared without case.
    ObjectName,
    "object name"
);

api_name!(
    /// The API name of a field (`StageName`, `Amount__c`), compared without case.
    FieldName,
    "field name"
);

/// The URL-safe short name of an organization (`acme`): lower-case letters, digits and
/// inner hyphens, at most 63 characters so that it fits a DNS label.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrganizationSlug(String);

impl OrganizationSlug {
    /// Builds a slug, rejecting upper case rather than folding it, so that a slug printed
    /// once is the slug typed back.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let invalid = |reason| Error::InvalidName {
            kind: "organization slug",
            text: text.to_owned(),
            reason,
        };
        if text.is_empty() || text.len() > 63 {
            return Err(invalid("must be 1 to 63 characters long"));
        }
        if !text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(invalid(
                "only lower-case letters, digits and hyphens are allowed",
            ));
        }
        if text.starts_with('-') || text.ends_with('-') {
            return Err(invalid("must not start or end with a hyphen"));
        }
        Ok(Self(text.to_owned()))
    }

    /// The slug as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrganizationSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for OrganizationSlug {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_15_character_id_gains_the_salesforce_case_suffix() {
        let id = RecordId::parse("001D000000IRFma").unwrap();
        assert_eq!(id.as_str(), "001D000000IRFmaIAH");
        assert_eq!(id.short(), "001D000000IRFma");
        assert_eq!(id.key_prefix(), "001");
    }

    #[test]
    fn the_15_and_18_character_forms_of_one_id_are_equal() {
        let short = RecordId::parse("001D000000IRFma").unwrap();
        assert_eq!(short, RecordId::parse("001D000000IRFmaIAH").unwrap());
        // The suffix is compared without case; the stored form is always upper case.
        let lower = RecordId::parse("001D000000IRFmaiah").unwrap();
        assert_eq!(lower.as_str(), "001D000000IRFmaIAH");
    }

    #[test]
    fn ids_differing_only_in_case_are_different_records() {
        let upper = RecordId::parse("001D000000IRFMA").unwrap();
        let lower = RecordId::parse("001D000000IRFma").unwrap();
        assert_ne!(upper, lower);
        assert_ne!(upper.as_str()[15..], lower.as_str()[15..]);
    }

    #[test]
    fn an_18_character_id_with_a_wrong_suffix_is_rejected() {
        let err = RecordId::parse("001D000000IRFmaAAA").unwrap_err();
        assert!(err.to_string().contains("001D000000IRFmaAAA"), "{err}");
    }

    #[test]
    fn ids_of_other_lengths_or_characters_are_rejected() {
        for text in ["", "001D000000IRFm", "001D000000IRFmaI", "001D000000IRF-a"] {
            assert!(RecordId::parse(text).is_err(), "{text:?} was accepted");
        }
    }

    #[test]
    fn field_names_compare_without_case_but_keep_their_spelling() {
        let canonical = FieldName::parse("StageName").unwrap();
        let lower = FieldName::parse("stagename").unwrap();
        assert_eq!(canonical, lower);
        assert_eq!(canonical.cmp(&lower), Ordering::Equal);
        assert_eq!(lower.to_string(), "stagename");
        let set: std::collections::HashSet<_> = [canonical, lower].into_iter().collect();
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn invalid_api_names_are_rejected_with_their_kind() {
        let err = ObjectName::parse("1Account").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid object name \"1Account\""),
            "{err}"
        );
        assert!(FieldName::parse("Owner.Name").is_err());
        assert!(FieldName::parse("").is_err());
        assert!(FieldName::parse("ns__Amount__c").is_ok());
    }

    #[test]
    fn organization_slugs_are_lower_case_dns_labels() {
        assert!(OrganizationSlug::parse("acme-eu-2").is_ok());
        for text in ["", "Acme", "-acme", "acme-", "ac me", &"a".repeat(64)] {
            assert!(
                OrganizationSlug::parse(text).is_err(),
                "{text:?} was accepted"
            );
        }
    }
}
