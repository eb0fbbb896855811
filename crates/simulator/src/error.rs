//! Errors as Salesforce reports them: an HTTP status and a JSON array of
//! `{"message", "errorCode", "fields"?}` (REST API guide, "Status Codes and Error Responses").

use axum::http::StatusCode;

/// A Salesforce-style REST error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct SimError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub fields: Vec<String>,
}

impl SimError {
    /// An error with any status and code.
    pub fn new(status: StatusCode, code: &str, message: &str) -> Self {
        SimError {
            status,
            code: code.to_string(),
            message: message.to_string(),
            fields: vec![],
        }
    }

    /// 400 with the given code.
    pub fn bad_request(code: &str, message: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// The answer for an object that does not exist or that the user may not see.
    pub fn invalid_type(object: &str) -> Self {
        Self::bad_request(
            "INVALID_TYPE",
            &format!(
                "sObject type '{object}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names."
            ),
        )
    }

    /// The answer for a field that does not exist or that the user may not see.
    pub fn no_such_field(object: &str, field: &str) -> Self {
        let mut e = Self::bad_request(
            "INVALID_FIELD",
            &format!("No such column '{field}' on sobject of type {object}"),
        );
        e.fields = vec![field.to_string()];
        e
    }

    /// 404 NOT_FOUND, as for an unknown resource or record.
    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
        )
    }

    /// A malformed Id in a path or field.
    pub fn malformed_id(id: &str) -> Self {
        Self::bad_request("MALFORMED_ID", &format!("malformed id {id}"))
    }

    /// A record that is in the recycle bin, or gone.
    pub fn entity_deleted(id: &str) -> Self {
        Self::bad_request("ENTITY_IS_DELETED", &format!("entity is deleted: {id}"))
    }

    /// 401 for a missing, expired or revoked access token.
    pub fn invalid_session() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "INVALID_SESSION_ID",
            "Session expired or invalid",
        )
    }

    /// The JSON body Salesforce sends for this error.
    pub fn body(&self) -> serde_json::Value {
        let mut item = serde_json::json!({ "message": self.message, "errorCode": self.code });
        if !self.fields.is_empty() {
            item["fields"] = serde_json::json!(self.fields);
        }
        serde_json::json!([item])
    }
}

impl From<sfsync_soql::SoqlError> for SimError {
    fn from(e: sfsync_soql::SoqlError) -> Self {
        SimError::bad_request(e.code.as_str(), &e.message)
    }
}
