//! Object and field definitions: what describe reports and what SOQL can name.
//!
//! A field keeps its position in the record for life: removing a field marks it removed,
//! adding one appends it. Field-level security is a per-field `visible` flag for the
//! integration user: a hidden field is absent from describe and unknown to SOQL, exactly as
//! Salesforce treats a field the user may not read.

use std::sync::Arc;

use sfsync_soql::FieldKind;

use crate::clock::Millis;

/// How a formula (calculated) field gets its value at query time. Formulas never bump
/// `SystemModstamp`, which is the trap this models.
#[derive(Debug, Clone, PartialEq)]
pub enum Formula {
    /// `Amount * Probability / 100` on Opportunity.
    ExpectedRevenue,
    /// A cross-object formula copying a field of the parent (`Account.Industry`).
    ParentField { reference: String, field: String },
    /// Days between a due date and today, while the record is not paid: changes every day.
    DaysOverdue {
        due: String,
        status: String,
        paid_value: String,
    },
}

/// One field of an object.
#[derive(Debug, Clone)]
pub struct FieldDef {
    pub name: String,
    pub label: String,
    pub kind: FieldKind,
    pub length: u32,
    pub precision: u32,
    pub scale: u32,
    pub nillable: bool,
    pub createable: bool,
    pub updateable: bool,
    pub custom: bool,
    pub formula: Option<Formula>,
    pub reference_to: Vec<String>,
    pub relationship_name: Option<String>,
    pub picklist: Vec<Arc<str>>,
    pub compound_field_name: Option<String>,
    pub name_field: bool,
    pub auto_number: bool,
    pub id_lookup: bool,
    pub visible: bool,
    pub removed: bool,
}

impl FieldDef {
    /// A plain field of `kind`.
    pub fn new(name: &str, kind: FieldKind) -> Self {
        let length = match kind {
            FieldKind::Id | FieldKind::Reference => 18,
            FieldKind::String | FieldKind::Email | FieldKind::Url => 255,
            FieldKind::Phone => 40,
            FieldKind::TextArea => 32000,
            FieldKind::Picklist | FieldKind::MultiPicklist => 255,
            _ => 0,
        };
        FieldDef {
            name: name.to_string(),
            label: label_of(name),
            kind,
            length,
            precision: 0,
            scale: 0,
            nillable: true,
            createable: true,
            updateable: true,
            custom: name.ends_with("__c"),
            formula: None,
            reference_to: Vec::new(),
            relationship_name: None,
            picklist: Vec::new(),
            compound_field_name: None,
            name_field: false,
            auto_number: false,
            id_lookup: false,
            visible: true,
            removed: false,
        }
    }

    /// Whether the integration user can see and query this field.
    pub fn is_readable(&self) -> bool {
        self.visible && !self.removed
    }

    /// Whether the value is computed at query time rather than stored.
    pub fn is_computed(&self) -> bool {
        self.formula.is_some() || self.kind == FieldKind::Address
    }

    fn system(mut self) -> Self {
        self.createable = false;
        self.updateable = false;
        self.nillable = false;
        self
    }
}

/// One sObject type.
#[derive(Debug, Clone)]
pub struct ObjectDef {
    pub name: String,
    pub label: String,
    pub label_plural: String,
    pub key_prefix: String,
    pub custom: bool,
    pub mergeable: bool,
    pub fields: Vec<FieldDef>,
    /// When the describe result last changed, for If-Modified-Since.
    pub modified_at: Millis,
}

impl ObjectDef {
    /// The position of a readable field, by case-insensitive name.
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields
            .iter()
            .position(|f| f.is_readable() && f.name.eq_ignore_ascii_case(name))
    }

    /// The position of any field that is not removed (hidden ones included), for writes.
    pub fn any_field_index(&self, name: &str) -> Option<usize> {
        self.fields
            .iter()
            .position(|f| !f.removed && f.name.eq_ignore_ascii_case(name))
    }

    /// Position of a system field every object has (`Id`, `SystemModstamp`, ...).
    pub fn system_index(&self, name: &str) -> usize {
        self.fields
            .iter()
            .position(|f| f.name == name)
            .unwrap_or_else(|| panic!("{} has no system field {name}", self.name))
    }
}

/// The system fields of every object, in Salesforce's describe order.
fn system_fields(fields: &mut Vec<FieldDef>, mergeable: bool) {
    let mut id = FieldDef::new("Id", FieldKind::Id).system();
    id.id_lookup = true;
    fields.push(id);
    fields.push(FieldDef::new("IsDeleted", FieldKind::Boolean).system());
    if mergeable {
        fields.push(reference("MasterRecordId", "MasterRecord", &[]).system_nillable());
    }
}

fn audit_fields(fields: &mut Vec<FieldDef>) {
    fields.push(FieldDef::new("CreatedDate", FieldKind::DateTime).system());
    fields.push(reference("CreatedById", "CreatedBy", &["User"]).system());
    fields.push(FieldDef::new("LastModifiedDate", FieldKind::DateTime).system());
    fields.push(reference("LastModifiedById", "LastModifiedBy", &["User"]).system());
    fields.push(FieldDef::new("SystemModstamp", FieldKind::DateTime).system());
}

impl FieldDef {
    fn system_nillable(mut self) -> Self {
        self.createable = false;
        self.updateable = false;
        self
    }
    fn required(mut self) -> Self {
        self.nillable = false;
        self
    }
    fn len(mut self, length: u32) -> Self {
        self.length = length;
        self
    }
    fn number(mut self, precision: u32, scale: u32) -> Self {
        self.precision = precision;
        self.scale = scale;
        self
    }
    fn read_only(mut self) -> Self {
        self.createable = false;
        self.updateable = false;
        self
    }
    fn formula(mut self, formula: Formula) -> Self {
        self.formula = Some(formula);
        self.read_only()
    }
}

fn reference(name: &str, relationship: &str, to: &[&str]) -> FieldDef {
    let mut f = FieldDef::new(name, FieldKind::Reference);
    f.reference_to = to.iter().map(|s| s.to_string()).collect();
    f.relationship_name = Some(relationship.to_string());
    f
}

fn picklist(name: &str, values: &[&str]) -> FieldDef {
    let mut f = FieldDef::new(name, FieldKind::Picklist);
    f.picklist = values.iter().map(|v| Arc::from(*v)).collect();
    f
}

/// An address compound field and its components, named `{prefix}Street` ... `{prefix}Address`.
fn address(fields: &mut Vec<FieldDef>, prefix: &str) {
    let compound = format!("{prefix}Address");
    let parts = [
        FieldDef::new(&format!("{prefix}Street"), FieldKind::TextArea).len(255),
        FieldDef::new(&format!("{prefix}City"), FieldKind::String).len(40),
        FieldDef::new(&format!("{prefix}State"), FieldKind::String).len(80),
        FieldDef::new(&format!("{prefix}PostalCode"), FieldKind::String).len(20),
        FieldDef::new(&format!("{prefix}Country"), FieldKind::String).len(80),
        FieldDef::new(&format!("{prefix}Latitude"), FieldKind::Double).number(18, 15),
        FieldDef::new(&format!("{prefix}Longitude"), FieldKind::Double).number(18, 15),
        picklist(
            &format!("{prefix}GeocodeAccuracy"),
            &["Address", "Street", "City", "Zip"],
        ),
    ];
    for mut part in parts {
        part.compound_field_name = Some(compound.clone());
        fields.push(part);
    }
    fields.push(FieldDef::new(&compound, FieldKind::Address).read_only());
}

fn owner(fields: &mut Vec<FieldDef>) {
    fields.push(reference("OwnerId", "Owner", &["User"]).required());
}

fn object(
    name: &str,
    plural: &str,
    prefix: &str,
    mergeable: bool,
    fields: Vec<FieldDef>,
) -> ObjectDef {
    ObjectDef {
        name: name.to_string(),
        label: label_of(name),
        label_plural: plural.to_string(),
        key_prefix: prefix.to_string(),
        custom: name.ends_with("__c"),
        mergeable,
        fields,
        modified_at: 0,
    }
}

/// Industry values used by Account (and the Contact formula that copies it).
pub const INDUSTRIES: &[&str] = &[
    "Agriculture",
    "Banking",
    "Biotechnology",
    "Chemicals",
    "Communications",
    "Construction",
    "Consulting",
    "Education",
    "Electronics",
    "Energy",
    "Engineering",
    "Finance",
    "Healthcare",
    "Insurance",
    "Manufacturing",
    "Media",
    "Retail",
    "Technology",
    "Transportation",
    "Utilities",
];

/// Opportunity stages with their default probability, in pipeline order.
pub const STAGES: &[(&str, i64)] = &[
    ("Prospecting", 10),
    ("Qualification", 10),
    ("Needs Analysis", 20),
    ("Value Proposition", 50),
    ("Id. Decision Makers", 60),
    ("Perception Analysis", 70),
    ("Proposal/Price Quote", 75),
    ("Negotiation/Review", 90),
    ("Closed Won", 100),
    ("Closed Lost", 0),
];

/// Case statuses in their usual order.
pub const CASE_STATUSES: &[&str] = &["New", "Working", "Escalated", "Closed"];

/// The User object: owners and auditors of every record.
pub fn user() -> ObjectDef {
    let mut f = Vec::new();
    system_fields(&mut f, false);
    f.pop(); // Users are never deleted, only deactivated: no IsDeleted field.
    f.push(
        FieldDef::new("Username", FieldKind::String)
            .required()
            .len(80),
    );
    f.push(FieldDef::new("FirstName", FieldKind::String).len(40));
    f.push(
        FieldDef::new("LastName", FieldKind::String)
            .required()
            .len(80),
    );
    let mut name = FieldDef::new("Name", FieldKind::String)
        .read_only()
        .len(121);
    name.name_field = true;
    f.push(name);
    f.push(FieldDef::new("Email", FieldKind::Email).required().len(128));
    f.push(FieldDef::new("IsActive", FieldKind::Boolean));
    audit_fields(&mut f);
    object("User", "Users", "005", false, f)
}

/// Account with its billing address.
pub fn account() -> ObjectDef {
    let mut f = Vec::new();
    system_fields(&mut f, true);
    let mut name = FieldDef::new("Name", FieldKind::String).required();
    name.name_field = true;
    f.push(name);
    f.push(picklist(
        "Type",
        &[
            "Prospect",
            "Customer - Direct",
            "Customer - Channel",
            "Partner",
            "Other",
        ],
    ));
    f.push(reference("ParentId", "Parent", &["Account"]));
    address(&mut f, "Billing");
    f.push(FieldDef::new("Phone", FieldKind::Phone));
    f.push(FieldDef::new("Fax", FieldKind::Phone));
    f.push(FieldDef::new("AccountNumber", FieldKind::String).len(40));
    f.push(FieldDef::new("Website", FieldKind::Url));
    f.push(picklist("Industry", INDUSTRIES));
    f.push(FieldDef::new("AnnualRevenue", FieldKind::Currency).number(18, 0));
    f.push(FieldDef::new("NumberOfEmployees", FieldKind::Int).number(8, 0));
    f.push(picklist("Rating", &["Hot", "Warm", "Cold"]));
    f.push(FieldDef::new("Description", FieldKind::TextArea));
    f.push(picklist(
        "AccountSource",
        &[
            "Web",
            "Phone Inquiry",
            "Partner Referral",
            "Purchased List",
            "Other",
        ],
    ));
    owner(&mut f);
    audit_fields(&mut f);
    f.push(FieldDef::new("LastActivityDate", FieldKind::Date).read_only());
    f.push(picklist("Tier__c", &["Gold", "Silver", "Bronze"]));
    object("Account", "Accounts", "001", true, f)
}

/// Contact, with a cross-object formula copying its Account's industry.
pub fn contact() -> ObjectDef {
    let mut f = Vec::new();
    system_fields(&mut f, true);
    f.push(reference("AccountId", "Account", &["Account"]));
    f.push(
        FieldDef::new("LastName", FieldKind::String)
            .required()
            .len(80),
    );
    f.push(FieldDef::new("FirstName", FieldKind::String).len(40));
    f.push(picklist(
        "Salutation",
        &["Mr.", "Ms.", "Mrs.", "Dr.", "Prof."],
    ));
    let mut name = FieldDef::new("Name", FieldKind::String)
        .read_only()
        .len(121);
    name.name_field = true;
    f.push(name);
    address(&mut f, "Mailing");
    f.push(FieldDef::new("Phone", FieldKind::Phone));
    f.push(FieldDef::new("MobilePhone", FieldKind::Phone));
    f.push(FieldDef::new("Email", FieldKind::Email).len(80));
    f.push(FieldDef::new("Title", FieldKind::String).len(128));
    f.push(FieldDef::new("Department", FieldKind::String).len(80));
    f.push(picklist(
        "LeadSource",
        &[
            "Web",
            "Phone Inquiry",
            "Partner Referral",
            "Trade Show",
            "Other",
        ],
    ));
    f.push(FieldDef::new("Birthdate", FieldKind::Date));
    f.push(FieldDef::new("HasOptedOutOfEmail", FieldKind::Boolean).required());
    owner(&mut f);
    audit_fields(&mut f);
    f.push(
        FieldDef::new("Account_Industry__c", FieldKind::String)
            .len(1300)
            .formula(Formula::ParentField {
                reference: "AccountId".into(),
                field: "Industry".into(),
            }),
    );
    object("Contact", "Contacts", "003", true, f)
}

/// Opportunity, with the ExpectedRevenue formula.
pub fn opportunity() -> ObjectDef {
    let mut f = Vec::new();
    system_fields(&mut f, false);
    f.push(reference("AccountId", "Account", &["Account"]));
    let mut name = FieldDef::new("Name", FieldKind::String).required().len(120);
    name.name_field = true;
    f.push(name);
    f.push(FieldDef::new("Description", FieldKind::TextArea));
    let stages: Vec<&str> = STAGES.iter().map(|(s, _)| *s).collect();
    f.push(picklist("StageName", &stages).required());
    f.push(FieldDef::new("Amount", FieldKind::Currency).number(18, 2));
    f.push(FieldDef::new("Probability", FieldKind::Percent).number(3, 0));
    f.push(
        FieldDef::new("ExpectedRevenue", FieldKind::Currency)
            .number(18, 2)
            .formula(Formula::ExpectedRevenue),
    );
    f.push(FieldDef::new("CloseDate", FieldKind::Date).required());
    f.push(picklist(
        "Type",
        &[
            "Existing Customer - Upgrade",
            "New Customer",
            "Existing Customer - Replacement",
        ],
    ));
    f.push(FieldDef::new("NextStep", FieldKind::String));
    f.push(picklist(
        "LeadSource",
        &[
            "Web",
            "Phone Inquiry",
            "Partner Referral",
            "Trade Show",
            "Other",
        ],
    ));
    f.push(FieldDef::new("IsClosed", FieldKind::Boolean).read_only());
    f.push(FieldDef::new("IsWon", FieldKind::Boolean).read_only());
    f.push(picklist(
        "ForecastCategoryName",
        &["Omitted", "Pipeline", "Best Case", "Commit", "Closed"],
    ));
    owner(&mut f);
    audit_fields(&mut f);
    f.push(FieldDef::new("FiscalYear", FieldKind::Int).read_only());
    f.push(FieldDef::new("FiscalQuarter", FieldKind::Int).read_only());
    object("Opportunity", "Opportunities", "006", false, f)
}

/// Case, with its auto-number.
pub fn case() -> ObjectDef {
    let mut f = Vec::new();
    system_fields(&mut f, true);
    let mut number = FieldDef::new("CaseNumber", FieldKind::String)
        .read_only()
        .len(30);
    number.auto_number = true;
    number.id_lookup = true;
    number.name_field = true;
    f.push(number);
    f.push(reference("ContactId", "Contact", &["Contact"]));
    f.push(reference("AccountId", "Account", &["Account"]));
    f.push(reference("ParentId", "Parent", &["Case"]));
    f.push(FieldDef::new("Subject", FieldKind::String));
    f.push(FieldDef::new("Description", FieldKind::TextArea));
    f.push(picklist("Status", CASE_STATUSES));
    f.push(picklist("Priority", &["High", "Medium", "Low"]));
    f.push(picklist("Origin", &["Phone", "Email", "Web"]));
    f.push(picklist(
        "Reason",
        &[
            "Installation",
            "Equipment Complexity",
            "Performance",
            "Breakdown",
            "Feedback",
            "Other",
        ],
    ));
    f.push(picklist(
        "Type",
        &[
            "Mechanical",
            "Electrical",
            "Electronic",
            "Structural",
            "Other",
        ],
    ));
    f.push(FieldDef::new("IsClosed", FieldKind::Boolean).read_only());
    f.push(FieldDef::new("ClosedDate", FieldKind::DateTime).read_only());
    f.push(FieldDef::new("IsEscalated", FieldKind::Boolean));
    owner(&mut f);
    audit_fields(&mut f);
    object("Case", "Cases", "500", true, f)
}

/// The custom object `Invoice__c`, with a time-based formula.
pub fn invoice() -> ObjectDef {
    let mut f = Vec::new();
    system_fields(&mut f, false);
    let mut name = FieldDef::new("Name", FieldKind::String).read_only().len(80);
    name.name_field = true;
    name.auto_number = true;
    f.push(name);
    owner(&mut f);
    audit_fields(&mut f);
    let mut account = reference("Account__c", "Account__r", &["Account"]);
    account.custom = true;
    f.push(account);
    f.push(FieldDef::new("Amount__c", FieldKind::Currency).number(16, 2));
    f.push(picklist("Status__c", &["Draft", "Sent", "Paid", "Overdue"]));
    f.push(FieldDef::new("Due_Date__c", FieldKind::Date));
    f.push(FieldDef::new("Paid_Date__c", FieldKind::Date));
    f.push(
        FieldDef::new("Days_Overdue__c", FieldKind::Double)
            .number(18, 0)
            .formula(Formula::DaysOverdue {
                due: "Due_Date__c".into(),
                status: "Status__c".into(),
                paid_value: "Paid".into(),
            }),
    );
    object("Invoice__c", "Invoices", "a0B", false, f)
}

/// Every object a new org starts with.
pub fn standard_objects() -> Vec<ObjectDef> {
    vec![
        user(),
        account(),
        contact(),
        opportunity(),
        case(),
        invoice(),
    ]
}

/// A label from an API name: `Days_Overdue__c` -> "Days Overdue", `AnnualRevenue` -> "Annual Revenue".
pub fn label_of(name: &str) -> String {
    let base = name.trim_end_matches("__c").trim_end_matches("Id");
    let base = if base.is_empty() { name } else { base };
    let mut out = String::new();
    for (i, c) in base.chars().enumerate() {
        if c == '_' {
            out.push(' ');
        } else {
            let prev = base.chars().nth(i.wrapping_sub(1));
            if i > 0 && c.is_ascii_uppercase() && prev.is_some_and(|p| p.is_ascii_lowercase()) {
                out.push(' ');
            }
            out.push(c);
        }
    }
    out
}

/// The type names describe reports for a kind: (`type`, `soapType`).
pub fn type_names(kind: FieldKind) -> (&'static str, &'static str) {
    match kind {
        FieldKind::Id => ("id", "tns:ID"),
        FieldKind::Reference => ("reference", "tns:ID"),
        FieldKind::String => ("string", "xsd:string"),
        FieldKind::TextArea => ("textarea", "xsd:string"),
        FieldKind::Picklist => ("picklist", "xsd:string"),
        FieldKind::MultiPicklist => ("multipicklist", "xsd:string"),
        FieldKind::Email => ("email", "xsd:string"),
        FieldKind::Phone => ("phone", "xsd:string"),
        FieldKind::Url => ("url", "xsd:string"),
        FieldKind::Boolean => ("boolean", "xsd:boolean"),
        FieldKind::Int => ("int", "xsd:int"),
        FieldKind::Double => ("double", "xsd:double"),
        FieldKind::Currency => ("currency", "xsd:double"),
        FieldKind::Percent => ("percent", "xsd:double"),
        FieldKind::Date => ("date", "xsd:date"),
        FieldKind::DateTime => ("datetime", "xsd:dateTime"),
        FieldKind::Address => ("address", "urn:address"),
    }
}

/// Reads a field type name as the control API accepts it when adding a field.
pub fn kind_from_name(name: &str) -> Option<FieldKind> {
    Some(match name.to_ascii_lowercase().as_str() {
        "string" | "text" => FieldKind::String,
        "textarea" => FieldKind::TextArea,
        "picklist" => FieldKind::Picklist,
        "multipicklist" => FieldKind::MultiPicklist,
        "email" => FieldKind::Email,
        "phone" => FieldKind::Phone,
        "url" => FieldKind::Url,
        "boolean" | "checkbox" => FieldKind::Boolean,
        "int" | "integer" => FieldKind::Int,
        "double" | "number" => FieldKind::Double,
        "currency" => FieldKind::Currency,
        "percent" => FieldKind::Percent,
        "date" => FieldKind::Date,
        "datetime" => FieldKind::DateTime,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_read_like_salesforce_labels() {
        assert_eq!(label_of("AnnualRevenue"), "Annual Revenue");
        assert_eq!(label_of("Days_Overdue__c"), "Days Overdue");
        assert_eq!(label_of("AccountId"), "Account");
        assert_eq!(label_of("Id"), "Id");
    }

    #[test]
    fn every_object_has_the_system_fields_sync_relies_on() {
        for object in standard_objects() {
            for name in ["Id", "SystemModstamp", "CreatedDate", "LastModifiedDate"] {
                assert!(
                    object.field_index(name).is_some(),
                    "{} lacks {name}",
                    object.name
                );
            }
        }
    }
}
