//! describeGlobal and sObject describe, as the integration user sees them: a hidden field
//! is absent, exactly as in Salesforce.

use serde_json::{Value as Json, json};
use sfsync_soql::FieldKind;

use crate::org::{OrgData, Table};
use crate::schema::{FieldDef, ObjectDef, type_names};

/// `GET /sobjects/`.
pub fn describe_global(org: &OrgData, version: &str) -> Json {
    let sobjects: Vec<Json> = org
        .tables
        .iter()
        .map(|t| global_entry(&t.def, version))
        .collect();
    json!({ "encoding": "UTF-8", "maxBatchSize": 200, "sobjects": sobjects })
}

fn urls(def: &ObjectDef, version: &str) -> Json {
    let base = format!("/services/data/{version}/sobjects/{}", def.name);
    json!({
        "sobject": base,
        "describe": format!("{base}/describe"),
        "rowTemplate": format!("{base}/{{ID}}"),
    })
}

/// One object's entry in describeGlobal, also its basic information.
pub fn global_entry(def: &ObjectDef, version: &str) -> Json {
    let deletable = def.fields.iter().any(|f| f.name == "IsDeleted");
    json!({
        "activateable": false, "createable": true, "custom": def.custom, "customSetting": false,
        "deepCloneable": false, "deletable": deletable, "deprecatedAndHidden": false,
        "feedEnabled": !def.custom, "hasSubtypes": false, "isInterface": false,
        "isSubtype": false, "keyPrefix": def.key_prefix, "label": def.label,
        "labelPlural": def.label_plural, "layoutable": true, "mergeable": def.mergeable,
        "mruEnabled": true, "name": def.name, "queryable": true, "replicateable": true,
        "retrieveable": true, "searchable": true, "triggerable": true,
        "undeletable": deletable, "updateable": true, "urls": urls(def, version),
    })
}

/// `GET /sobjects/{object}/describe`.
pub fn describe_object(org: &OrgData, table: &Table, version: &str) -> Json {
    let def = &table.def;
    let mut out = global_entry(def, version);
    let fields: Vec<Json> = def
        .fields
        .iter()
        .filter(|f| f.is_readable())
        .map(describe_field)
        .collect();
    out["fields"] = Json::Array(fields);
    out["childRelationships"] = Json::Array(child_relationships(org, def));
    out["recordTypeInfos"] = json!([]);
    out["supportedScopes"] = json!([{"label": "All", "name": "everything"}]);
    out["compactLayoutable"] = json!(true);
    out["listviewable"] = Json::Null;
    out["lookupLayoutable"] = Json::Null;
    out["searchLayoutable"] = json!(true);
    out["networkScopeFieldName"] = Json::Null;
    out["actionOverrides"] = json!([]);
    out["namedLayoutInfos"] = json!([]);
    out
}

fn child_relationships(org: &OrgData, parent: &ObjectDef) -> Vec<Json> {
    let mut out = Vec::new();
    for table in &org.tables {
        for field in table.def.fields.iter().filter(|f| f.is_readable()) {
            if field.reference_to.contains(&parent.name) && field.name != "MasterRecordId" {
                let plural = table.def.label_plural.replace(' ', "");
                let relationship = if table.def.custom {
                    format!("{plural}__r")
                } else {
                    plural
                };
                out.push(json!({
                    "cascadeDelete": false, "childSObject": table.def.name,
                    "deprecatedAndHidden": false, "field": field.name,
                    "junctionIdListNames": [], "junctionReferenceTo": [],
                    "relationshipName": relationship, "restrictedDelete": false,
                }));
            }
        }
    }
    out
}

fn describe_field(field: &FieldDef) -> Json {
    let (type_name, soap_type) = type_names(field.kind);
    let numeric = matches!(
        field.kind,
        FieldKind::Double | FieldKind::Currency | FieldKind::Percent
    );
    let textual = !numeric
        && !matches!(
            field.kind,
            FieldKind::Boolean
                | FieldKind::Int
                | FieldKind::Date
                | FieldKind::DateTime
                | FieldKind::Address
        );
    let filterable = !(field.kind == FieldKind::TextArea && field.length > 255);
    let picklist: Vec<Json> = field
        .picklist
        .iter()
        .map(|v| json!({"active": true, "defaultValue": false, "label": &**v, "validFor": null, "value": &**v}))
        .collect();
    json!({
        "aggregatable": filterable && field.kind != FieldKind::Address,
        "autoNumber": field.auto_number,
        "byteLength": if textual { field.length * 3 } else { 0 },
        "calculated": field.formula.is_some(),
        "calculatedFormula": field.formula.as_ref().map(formula_text),
        "cascadeDelete": false,
        "caseSensitive": false,
        "compoundFieldName": field.compound_field_name,
        "controllerName": null,
        "createable": field.createable,
        "custom": field.custom,
        "defaultValue": if field.kind == FieldKind::Boolean { json!(false) } else { Json::Null },
        "defaultValueFormula": null,
        "defaultedOnCreate": field.kind == FieldKind::Boolean || field.kind == FieldKind::Id || field.name.ends_with("Date") && !field.createable,
        "dependentPicklist": false,
        "deprecatedAndHidden": false,
        "digits": if field.kind == FieldKind::Int { field.precision } else { 0 },
        "displayLocationInDecimal": false,
        "encrypted": false,
        "externalId": false,
        "extraTypeInfo": null,
        "filterable": filterable,
        "filteredLookupInfo": null,
        "groupable": filterable && !numeric && field.kind != FieldKind::Address,
        "highScaleNumber": false,
        "htmlFormatted": false,
        "idLookup": field.id_lookup,
        "inlineHelpText": null,
        "label": field.label,
        "length": if textual { field.length } else { 0 },
        "mask": null,
        "maskType": null,
        "name": field.name,
        "nameField": field.name_field,
        "namePointing": field.name == "OwnerId",
        "nillable": field.nillable,
        "permissionable": field.nillable || field.custom,
        "picklistValues": picklist,
        "polymorphicForeignKey": field.name == "OwnerId",
        "precision": if numeric { field.precision } else { 0 },
        "queryByDistance": false,
        "referenceTargetField": null,
        "referenceTo": field.reference_to,
        "relationshipName": field.relationship_name,
        "relationshipOrder": null,
        "restrictedDelete": false,
        "restrictedPicklist": false,
        "scale": if numeric { field.scale } else { 0 },
        "searchPrefilterable": false,
        "soapType": soap_type,
        "sortable": filterable && field.kind != FieldKind::Address && field.kind != FieldKind::MultiPicklist,
        "type": type_name,
        "unique": false,
        "updateable": field.updateable,
        "writeRequiresMasterRead": false,
    })
}

fn formula_text(formula: &crate::schema::Formula) -> String {
    use crate::schema::Formula;
    match formula {
        Formula::ExpectedRevenue => "Amount * Probability / 100".into(),
        Formula::ParentField { reference, field } => {
            format!(
                "TEXT({}.{field})",
                reference.trim_end_matches("Id").trim_end_matches("__c")
            )
        }
        Formula::DaysOverdue {
            due,
            status,
            paid_value,
        } => {
            format!("IF(ISPICKVAL({status}, \"{paid_value}\"), NULL, MAX(0, TODAY() - {due}))")
        }
    }
}
