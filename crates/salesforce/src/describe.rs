//! Describe: which objects the integration user sees (describeGlobal) and which fields an
//! object shows it (sObject describe), salesforce-api.md §2.3, §2.4, §5.
//!
//! Both are user-scoped: a field hidden by field-level security is simply absent. Both honour
//! `If-Modified-Since` and answer `304 Not Modified` when nothing changed, which the caller sees
//! as [`Conditional::NotModified`] and which costs no parsing.

use reqwest::header::{IF_MODIFIED_SINCE, LAST_MODIFIED};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;

use crate::client::{Request, SalesforceClient};
use crate::error::{Error, Result};
use crate::wire;

/// The answer to a conditional request.
#[derive(Debug, Clone, PartialEq)]
pub enum Conditional<T> {
    /// Changed since the given time (or no time was given).
    Modified {
        /// The new value.
        value: T,
        /// The `Last-Modified` header, to send as `If-Modified-Since` next time.
        last_modified: Option<OffsetDateTime>,
    },
    /// `304`: unchanged since the given time.
    NotModified,
}

impl<T> Conditional<T> {
    /// The value, if modified.
    pub fn modified(self) -> Option<T> {
        match self {
            Self::Modified { value, .. } => Some(value),
            Self::NotModified => None,
        }
    }
}

/// The describeGlobal result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GlobalDescribe {
    /// The objects the user can see.
    pub sobjects: Vec<SObjectSummary>,
}

/// One object in describeGlobal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SObjectSummary {
    /// The API name (`Account`, `Invoice__c`).
    pub name: String,
    /// The label.
    #[serde(default)]
    pub label: String,
    /// The 3-character Id prefix, when the object has Ids.
    #[serde(default)]
    pub key_prefix: Option<String>,
    /// True for custom objects.
    #[serde(default)]
    pub custom: bool,
    /// True for custom settings.
    #[serde(default)]
    pub custom_setting: bool,
    /// Usable in SOQL; objects that are not are skipped.
    #[serde(default)]
    pub queryable: bool,
    /// Usable with getUpdated/getDeleted.
    #[serde(default)]
    pub replicateable: bool,
    /// Readable by Id.
    #[serde(default)]
    pub retrieveable: bool,
    /// Deprecated and hidden.
    #[serde(default)]
    pub deprecated_and_hidden: bool,
}

/// An sObject describe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SObjectDescribe {
    /// The API name.
    pub name: String,
    /// The label.
    #[serde(default)]
    pub label: String,
    /// True for custom objects.
    #[serde(default)]
    pub custom: bool,
    /// Usable in SOQL.
    #[serde(default)]
    pub queryable: bool,
    /// Usable with getUpdated/getDeleted.
    #[serde(default)]
    pub replicateable: bool,
    /// The fields the user can read.
    pub fields: Vec<FieldDescribe>,
}

impl SObjectDescribe {
    /// A field by API name.
    pub fn field(&self, name: &str) -> Option<&FieldDescribe> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// One field of an sObject describe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldDescribe {
    /// The API name.
    pub name: String,
    /// The field type.
    #[serde(rename = "type")]
    pub field_type: FieldType,
    /// The label.
    #[serde(default)]
    pub label: String,
    /// Maximum length for text types.
    #[serde(default)]
    pub length: u32,
    /// Total digits for numbers.
    #[serde(default)]
    pub precision: u32,
    /// Digits after the decimal point.
    #[serde(default)]
    pub scale: u32,
    /// True for custom fields.
    #[serde(default)]
    pub custom: bool,
    /// Formula or roll-up: its value changes without a new `SystemModstamp`.
    #[serde(default)]
    pub calculated: bool,
    /// The formula, for formula fields.
    #[serde(default)]
    pub calculated_formula: Option<String>,
    /// The compound field this one is a component of (`BillingAddress` for `BillingCity`).
    #[serde(default)]
    pub compound_field_name: Option<String>,
    /// Usable in WHERE; a cursor field must be.
    #[serde(default)]
    pub filterable: bool,
    /// Usable in ORDER BY.
    #[serde(default)]
    pub sortable: bool,
    /// May be null (not to be trusted for schemas, §2.4).
    #[serde(default)]
    pub nillable: bool,
    /// Objects a reference field can point to.
    #[serde(default, deserialize_with = "null_as_default")]
    pub reference_to: Vec<String>,
    /// The relationship name for traversal (`Owner` for `OwnerId`).
    #[serde(default)]
    pub relationship_name: Option<String>,
    /// The SOAP type (`xsd:dateTime`, `tns:ID`, `urn:address`).
    #[serde(default)]
    pub soap_type: Option<String>,
    /// Deprecated and hidden.
    #[serde(default)]
    pub deprecated_and_hidden: bool,
}

/// A field type from describe (§2.4); types this client has no name for keep their text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
#[allow(missing_docs)]
pub enum FieldType {
    Id,
    String,
    Picklist,
    Multipicklist,
    Combobox,
    Textarea,
    Phone,
    Url,
    Email,
    Reference,
    EncryptedString,
    Boolean,
    Int,
    Long,
    Double,
    Currency,
    Percent,
    Date,
    DateTime,
    Time,
    Base64,
    Address,
    Location,
    Json,
    AnyType,
    Other(std::string::String),
}

const FIELD_TYPES: &[(&str, FieldType)] = &[
    ("id", FieldType::Id),
    ("string", FieldType::String),
    ("picklist", FieldType::Picklist),
    ("multipicklist", FieldType::Multipicklist),
    ("combobox", FieldType::Combobox),
    ("textarea", FieldType::Textarea),
    ("phone", FieldType::Phone),
    ("url", FieldType::Url),
    ("email", FieldType::Email),
    ("reference", FieldType::Reference),
    ("encryptedstring", FieldType::EncryptedString),
    ("boolean", FieldType::Boolean),
    ("int", FieldType::Int),
    ("long", FieldType::Long),
    ("double", FieldType::Double),
    ("currency", FieldType::Currency),
    ("percent", FieldType::Percent),
    ("date", FieldType::Date),
    ("datetime", FieldType::DateTime),
    ("time", FieldType::Time),
    ("base64", FieldType::Base64),
    ("address", FieldType::Address),
    ("location", FieldType::Location),
    ("json", FieldType::Json),
    ("anyType", FieldType::AnyType),
];

impl FieldType {
    /// The type as describe spells it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Other(text) => text,
            known => FIELD_TYPES
                .iter()
                .find(|(_, t)| t == known)
                .map_or("", |(name, _)| name),
        }
    }

    /// True for compound types (address, location): readable over REST as an object, but not
    /// selectable in Bulk queries, and a projection should read their components instead.
    pub fn is_compound(&self) -> bool {
        matches!(self, Self::Address | Self::Location)
    }
}

impl From<&str> for FieldType {
    fn from(text: &str) -> Self {
        FIELD_TYPES
            .iter()
            .find(|(name, _)| *name == text)
            .map_or_else(|| Self::Other(text.to_owned()), |(_, t)| t.clone())
    }
}

impl From<FieldType> for String {
    fn from(value: FieldType) -> Self {
        value.as_str().to_owned()
    }
}

impl<'de> Deserialize<'de> for FieldType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let text = std::string::String::deserialize(deserializer)?;
        Ok(Self::from(text.as_str()))
    }
}

fn null_as_default<'de, D, T>(deserializer: D) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

impl SalesforceClient {
    /// describeGlobal: `GET /sobjects/`.
    pub async fn fetch_describe_global(
        &self,
        if_modified_since: Option<OffsetDateTime>,
    ) -> Result<Conditional<GlobalDescribe>> {
        let request = Request::get("describe global", self.data_path("sobjects/"));
        self.fetch_conditional(request, if_modified_since, "describe global response")
            .await
    }

    /// sObject describe: `GET /sobjects/{object}/describe`.
    pub async fn fetch_describe(
        &self,
        object: &str,
        if_modified_since: Option<OffsetDateTime>,
    ) -> Result<Conditional<SObjectDescribe>> {
        let path = self.data_path(&format!("sobjects/{}/describe", checked_name(object)?));
        let request = Request::get("describe", path);
        self.fetch_conditional(request, if_modified_since, "describe response")
            .await
    }

    async fn fetch_conditional<T: DeserializeOwned>(
        &self,
        mut request: Request,
        if_modified_since: Option<OffsetDateTime>,
        what: &'static str,
    ) -> Result<Conditional<T>> {
        if let Some(since) = if_modified_since {
            request = request.header(IF_MODIFIED_SINCE, wire::http_date(since));
        }
        let response = self.execute(&request).await?;
        if response.status == 304 {
            return Ok(Conditional::NotModified);
        }
        let last_modified = response
            .header(LAST_MODIFIED.as_str())
            .and_then(wire::parse_http_date);
        let value = wire::parse_json(what, &response.body)?;
        Ok(Conditional::Modified {
            value,
            last_modified,
        })
    }
}

/// An sObject API name, checked before it goes into a path: letters, digits and `_` only.
pub(crate) fn checked_name(object: &str) -> Result<&str> {
    let valid = !object.is_empty()
        && object
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(object)
    } else {
        Err(Error::InvalidArgument(format!(
            "{object:?} is not an sObject name"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_describe_parses_types_and_tolerates_missing_flags() {
        let body = br#"{"name":"Account","label":"Account","custom":false,"queryable":true,"replicateable":true,
            "fields":[{"name":"Id","type":"id","length":18,"nillable":false,"filterable":true},
                      {"name":"OwnerId","type":"reference","referenceTo":["Group","User"],"relationshipName":"Owner"},
                      {"name":"BillingAddress","type":"address"},
                      {"name":"BillingCity","type":"string","compoundFieldName":"BillingAddress","referenceTo":null},
                      {"name":"Score__c","type":"double","calculated":true,"calculatedFormula":"1+1"},
                      {"name":"Odd","type":"brandnewtype"}]}"#;
        let describe: SObjectDescribe = wire::parse_json("describe response", body).unwrap();
        assert_eq!(describe.field("Id").unwrap().field_type, FieldType::Id);
        assert_eq!(
            describe.field("OwnerId").unwrap().reference_to,
            ["Group", "User"]
        );
        assert!(
            describe
                .field("BillingAddress")
                .unwrap()
                .field_type
                .is_compound()
        );
        assert_eq!(
            describe
                .field("BillingCity")
                .unwrap()
                .compound_field_name
                .as_deref(),
            Some("BillingAddress")
        );
        assert!(describe.field("Score__c").unwrap().calculated);
        assert_eq!(
            describe.field("Odd").unwrap().field_type,
            FieldType::Other("brandnewtype".into())
        );
        assert_eq!(FieldType::DateTime.as_str(), "datetime");
    }

    #[test]
    fn a_field_without_a_type_is_malformed_and_named() {
        let err = wire::parse_json::<SObjectDescribe>(
            "describe response",
            br#"{"name":"A","fields":[{"name":"X"}]}"#,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("fields[0]") && err.to_string().contains("type"),
            "{err}"
        );
    }

    #[test]
    fn object_names_cannot_escape_the_path() {
        assert!(checked_name("Invoice__c").is_ok());
        for bad in ["", "../limits", "Account/describe", "A?b"] {
            assert!(checked_name(bad).is_err(), "{bad}");
        }
    }
}
