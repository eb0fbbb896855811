//! The one error type of the HTTP API: a status, a stable code and a message. Internal
//! failures are logged once, here, and the client gets a generic body.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No credential, or one that is unknown or expired.
    #[error("sign in first: no valid credential was presented")]
    Unauthorized,
    /// The caller may not do this (a member changing settings).
    #[error("{0}")]
    Forbidden(&'static str),
    /// The form's CSRF proof is missing or wrong.
    #[error("the form's CSRF proof is missing or does not match your session")]
    Csrf,
    /// What the request names does not exist for the caller's organization.
    #[error("{0} not found")]
    NotFound(String),
    /// The request is malformed; the message names what was wrong.
    #[error("{0}")]
    BadRequest(String),
    /// The request conflicts with the current state (no connection to disconnect).
    #[error("{0}")]
    Conflict(String),
    /// Salesforce refused or failed; the message is safe to show.
    #[error("salesforce: {0}")]
    Salesforce(String),
    /// Something inside sfsync failed; logged, never shown.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::Csrf => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Salesforce(_) => StatusCode::BAD_GATEWAY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code scripts match on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::Csrf => "csrf",
            Self::NotFound(_) => "not_found",
            Self::BadRequest(_) => "bad_request",
            Self::Conflict(_) => "conflict",
            Self::Salesforce(_) => "salesforce",
            Self::Internal(_) => "internal",
        }
    }

    /// Logs an internal failure once and returns the message the client may see.
    pub(crate) fn public_message(&self) -> String {
        if let Self::Internal(detail) = self {
            tracing::error!(error = %detail, "request failed");
        }
        self.to_string()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code(), "message": self.public_message()}});
        (self.status(), Json(body)).into_response()
    }
}

impl From<sfsync_store::Error> for ApiError {
    fn from(e: sfsync_store::Error) -> Self {
        Self::Internal(format!("store: {e}"))
    }
}

impl From<sfsync_vault::Error> for ApiError {
    fn from(e: sfsync_vault::Error) -> Self {
        Self::Internal(format!("vault: {e}"))
    }
}

impl From<sfsync_engine::Error> for ApiError {
    fn from(e: sfsync_engine::Error) -> Self {
        Self::Salesforce(e.to_string())
    }
}
