//! The one error type of this crate and the questions a caller asks of it.
//!
//! Salesforce reports failures in two shapes: REST endpoints answer with a JSON array
//! `[{"message","errorCode","fields"?}]` and OAuth endpoints with `{"error","error_description"}`
//! (salesforce-api.md §1.8, §2.12). Both become typed variants here, never strings to match on.
//! Messages are lowercase, name what failed, and never hold a token: tokens live in
//! [`crate::secret`] types, and transport errors are stripped of their URL.

use std::time::Duration;

use crate::wire;

/// Everything that can go wrong talking to Salesforce.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A login host, instance URL or identity URL is plain http and not a loopback address.
    #[error("{what} must use https (http is allowed only for loopback hosts): {url}")]
    InsecureUrl {
        /// Which URL (for example "login host" or "instance_url").
        what: &'static str,
        /// The offending URL; these never carry a token.
        url: String,
    },
    /// A URL could not be parsed or does not have the required shape.
    #[error("invalid {what}: {reason}")]
    InvalidUrl {
        /// Which URL.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The caller passed a value outside what Salesforce accepts.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// The `state` on the authorize callback is not the one this authorization sent (CSRF).
    #[error("authorize callback state does not match the pending authorization")]
    StateMismatch,
    /// The user or an admin refused the authorization (`access_denied`, `OAUTH_APP_BLOCKED`).
    #[error("authorization refused ({error}): {description}")]
    AuthorizationDenied {
        /// The OAuth `error` code.
        error: String,
        /// Its `error_description`.
        description: String,
    },
    /// The connected app is not installed in (or not approved for) the org, so the user may not
    /// authorize it: `error=invalid_client` with "app must be installed into org", shown as
    /// `OAUTH_APPROVAL_ERROR_GENERIC` (enforced since September 2025).
    #[error("an org admin must install or approve the connected app ({error}): {description}")]
    ApprovalRequired {
        /// The OAuth `error` code.
        error: String,
        /// Its `error_description`.
        description: String,
    },
    /// `invalid_grant`: the refresh token or code is revoked, expired, rotated out or belongs to
    /// an inactive user. Only a new authorization helps.
    #[error("authorization is no longer valid (invalid_grant): {description}")]
    InvalidGrant {
        /// The `error_description`, e.g. "expired access/refresh token" or "inactive user".
        description: String,
    },
    /// Any other OAuth endpoint error.
    #[error("oauth error {error}: {description}")]
    OAuth {
        /// The OAuth `error` code.
        error: String,
        /// Its `error_description`.
        description: String,
    },
    /// The token response's `signature` is not HMAC-SHA256(client secret, `id` + `issued_at`).
    #[error("token response signature does not match its id and issued_at")]
    SignatureMismatch,

    /// 401 `INVALID_SESSION_ID` "Session expired or invalid": refreshing the token fixes it.
    #[error("session expired or invalid (INVALID_SESSION_ID): {message}")]
    SessionExpired {
        /// Salesforce's message.
        message: String,
    },
    /// 401 `INVALID_SESSION_ID` "This session is not valid for use with the REST API": a refresh
    /// cannot fix it (missing `api` scope, IP restrictions, high-assurance sessions).
    #[error("session not valid for the REST API (INVALID_SESSION_ID): {message}")]
    SessionNotUsable {
        /// Salesforce's message.
        message: String,
    },
    /// 403 `REQUEST_LIMIT_EXCEEDED`: the org's rolling 24-hour allocation or its cap on
    /// concurrent long requests is spent.
    #[error("api request limit exceeded (REQUEST_LIMIT_EXCEEDED): {message}")]
    RateLimited {
        /// Salesforce's message, e.g. "TotalRequests Limit exceeded."
        message: String,
    },
    /// `QUERY_TIMEOUT`: the SOQL ran too long; narrow the query and try again.
    #[error("query ran too long (QUERY_TIMEOUT): {message}")]
    QueryTimeout {
        /// Salesforce's message.
        message: String,
    },
    /// `INVALID_QUERY_LOCATOR`: the cursor behind a `nextRecordsUrl` expired or never existed.
    #[error("query locator invalid or expired (INVALID_QUERY_LOCATOR): {message}")]
    InvalidQueryLocator {
        /// Salesforce's message.
        message: String,
    },
    /// `INVALID_FIELD`: the field does not exist or is hidden from the user by field-level
    /// security (Salesforce words both the same), or cannot be used where it was.
    #[error("invalid field {} (INVALID_FIELD): {message}", field.as_deref().unwrap_or("?"))]
    InvalidField {
        /// The field, when the message or the `fields` list names it.
        field: Option<String>,
        /// The object, when the message names it.
        object: Option<String>,
        /// Salesforce's message.
        message: String,
    },
    /// `INVALID_TYPE`: the sObject does not exist or is hidden from the user.
    #[error("invalid object {} (INVALID_TYPE): {message}", object.as_deref().unwrap_or("?"))]
    InvalidType {
        /// The object, when the message names it.
        object: Option<String>,
        /// Salesforce's message.
        message: String,
    },
    /// 5xx, `SERVER_UNAVAILABLE` or a transient edge status (420): try again later.
    #[error("salesforce unavailable (http {status}): {message}")]
    ServerUnavailable {
        /// The HTTP status.
        status: u16,
        /// The `errorCode`, when the body had one.
        code: Option<String>,
        /// Salesforce's message or an excerpt of the body.
        message: String,
    },
    /// Any other REST error with an `errorCode`.
    #[error("salesforce error {code} (http {status}) on {what}: {message}")]
    Api {
        /// Which call failed.
        what: &'static str,
        /// The HTTP status.
        status: u16,
        /// The `errorCode`.
        code: String,
        /// Salesforce's message.
        message: String,
    },
    /// A non-success status whose body is not a Salesforce error.
    #[error("unexpected http {status} from {what}: {excerpt}")]
    UnexpectedStatus {
        /// Which call failed.
        what: &'static str,
        /// The HTTP status.
        status: u16,
        /// The first characters of the body.
        excerpt: String,
    },
    /// A success response whose body or headers do not have the documented shape.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// Which response, e.g. "query response".
        what: &'static str,
        /// What was wrong: the key, the expected and found type, or the bad header.
        detail: String,
    },
    /// A Bulk API 2.0 query job ended `Failed` or `Aborted`.
    #[error("bulk query job {job_id} ended {state}: {message}")]
    BulkJobFailed {
        /// The job id.
        job_id: String,
        /// Its final state.
        state: String,
        /// The job's `errorMessage`.
        message: String,
    },
    /// A Bulk API 2.0 query job did not finish within the configured wait.
    #[error("bulk query job {job_id} still {state} after {waited:?}")]
    BulkJobTimeout {
        /// The job id.
        job_id: String,
        /// Its last state.
        state: String,
        /// How long the client polled.
        waited: Duration,
    },
    /// The request did not complete: connect failure, timeout, reset, or a body cut short.
    #[error("transport error on {what}: {source}")]
    Transport {
        /// Which call failed.
        what: &'static str,
        /// The underlying error, its URL removed.
        #[source]
        source: reqwest::Error,
    },
    /// The caller's token store failed.
    #[error("token store failed: {0}")]
    TokenStore(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// A shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// True for 401 `INVALID_SESSION_ID` that a token refresh fixes. The client already
    /// refreshes and retries once; seeing this means the fresh token was rejected too.
    pub fn is_session_expired(&self) -> bool {
        matches!(self, Self::SessionExpired { .. })
    }

    /// True when the connection must be authorized again by a person (`invalid_grant`: the
    /// refresh token is revoked, expired, rotated out or its user is inactive). Stop polling.
    pub fn needs_reauthorization(&self) -> bool {
        matches!(self, Self::InvalidGrant { .. })
    }

    /// True when an org admin must install or approve the connected app before anyone can
    /// authorize it (the uninstalled-app enforcement of September 2025, and
    /// `OAUTH_APP_ACCESS_DENIED` "user is not admin approved to access this app").
    pub fn is_approval_required(&self) -> bool {
        matches!(self, Self::ApprovalRequired { .. })
    }

    /// True for 403 `REQUEST_LIMIT_EXCEEDED`. Never retried: the budget is a rolling 24-hour
    /// window shared with the org's other integrations, so the caller should pause.
    pub fn is_rate_limited(&self) -> bool {
        matches!(self, Self::RateLimited { .. })
    }

    /// True when the server answered that it does not serve the resource at all: 404, 405 or
    /// 501 on a resource (not a record), as from an API version before the resource existed,
    /// a proxy in front of the org, or a Salesforce look-alike that lacks it. Another way to
    /// the same data is the remedy, not a retry.
    pub fn is_not_served(&self) -> bool {
        let status = match self {
            Self::Api { status, .. } | Self::UnexpectedStatus { status, .. } => *status,
            _ => return false,
        };
        matches!(status, 404 | 405 | 501)
    }

    /// True for a failure of one query's own (its SOQL, a field, an object, its run time),
    /// which leaves other queries and the session unaffected.
    pub fn is_query_error(&self) -> bool {
        match self {
            Self::InvalidField { .. }
            | Self::InvalidType { .. }
            | Self::QueryTimeout { .. }
            | Self::InvalidQueryLocator { .. } => true,
            Self::Api { status, .. } => *status == 400,
            _ => false,
        }
    }

    /// True for `QUERY_TIMEOUT`; narrowing the query's window is the known remedy.
    pub fn is_query_timeout(&self) -> bool {
        matches!(self, Self::QueryTimeout { .. })
    }

    /// True for `INVALID_QUERY_LOCATOR`; restart the read from the last checkpoint.
    pub fn is_invalid_query_locator(&self) -> bool {
        matches!(self, Self::InvalidQueryLocator { .. })
    }

    /// The field an `INVALID_FIELD` error names, if any.
    pub fn invalid_field(&self) -> Option<&str> {
        match self {
            Self::InvalidField { field, .. } => field.as_deref(),
            _ => None,
        }
    }

    /// The object an `INVALID_TYPE` error names, if any.
    pub fn invalid_type(&self) -> Option<&str> {
        match self {
            Self::InvalidType { object, .. } => object.as_deref(),
            _ => None,
        }
    }

    /// True for a response that did not have the documented shape.
    pub fn is_malformed(&self) -> bool {
        matches!(self, Self::Malformed { .. })
    }

    /// True when the same request may succeed if sent again after a pause: transport failures
    /// (connect errors, timeouts, resets), 5xx, `SERVER_UNAVAILABLE`, the edge's 420, and
    /// `UNABLE_TO_LOCK_ROW`. Session expiry is not listed: the client handles it by refreshing.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Transport { .. } | Self::ServerUnavailable { .. } => true,
            Self::Api { code, .. } => code == "UNABLE_TO_LOCK_ROW",
            _ => false,
        }
    }

    /// True when the request never reached the server, so even a non-idempotent request
    /// (a refresh under token rotation) is safe to send again.
    pub(crate) fn is_connect(&self) -> bool {
        matches!(self, Self::Transport { source, .. } if source.is_connect())
    }

    /// Wraps a reqwest failure, dropping its URL so no query string reaches a log line.
    pub(crate) fn transport(what: &'static str, source: reqwest::Error) -> Self {
        Self::Transport {
            what,
            source: source.without_url(),
        }
    }

    /// A malformed-response error.
    pub(crate) fn malformed(what: &'static str, detail: impl Into<String>) -> Self {
        Self::Malformed {
            what,
            detail: detail.into(),
        }
    }

    /// Classifies a non-success REST response (salesforce-api.md §2.12).
    pub(crate) fn from_rest(what: &'static str, status: u16, body: &[u8]) -> Self {
        match wire::parse_rest_error(body) {
            Some(err) => Self::from_rest_error(what, status, err),
            None if status >= 500 || status == 420 => Self::ServerUnavailable {
                status,
                code: None,
                message: excerpt(body),
            },
            None => Self::UnexpectedStatus {
                what,
                status,
                excerpt: excerpt(body),
            },
        }
    }

    fn from_rest_error(what: &'static str, status: u16, err: wire::RestError) -> Self {
        let wire::RestError {
            message,
            error_code: code,
            fields,
        } = err;
        match code.as_str() {
            // jsforce's rule: this variant never heals by refreshing, so refreshing would loop.
            "INVALID_SESSION_ID" if message.contains("not valid for use with the REST API") => {
                Self::SessionNotUsable { message }
            }
            "INVALID_SESSION_ID" => Self::SessionExpired { message },
            "REQUEST_LIMIT_EXCEEDED" => Self::RateLimited { message },
            "QUERY_TIMEOUT" => Self::QueryTimeout { message },
            "INVALID_QUERY_LOCATOR" => Self::InvalidQueryLocator { message },
            "INVALID_FIELD" => Self::InvalidField {
                field: named_field(&message).or_else(|| fields.into_iter().next()),
                object: quoted_after(&message, "on entity '"),
                message,
            },
            "INVALID_TYPE" => Self::InvalidType {
                object: quoted_after(&message, "sObject type '"),
                message,
            },
            "SERVER_UNAVAILABLE" => Self::ServerUnavailable {
                status,
                code: Some(code),
                message,
            },
            _ if status >= 500 || status == 420 => Self::ServerUnavailable {
                status,
                code: Some(code),
                message,
            },
            _ => Self::Api {
                what,
                status,
                code,
                message,
            },
        }
    }

    /// Classifies an OAuth error: from the token or revoke endpoint, or from the authorize
    /// callback's `error` and `error_description` parameters (salesforce-api.md §1.8).
    pub fn from_oauth(error: String, description: String) -> Self {
        if is_approval_error(&error, &description) {
            return Self::ApprovalRequired { error, description };
        }
        match error.as_str() {
            "invalid_grant" => Self::InvalidGrant { description },
            // The help page spells it with a hyphen in one example; tolerate both.
            "access_denied" | "access-denied" | "OAUTH_APP_BLOCKED" => {
                Self::AuthorizationDenied { error, description }
            }
            _ => Self::OAuth { error, description },
        }
    }

    /// Classifies a non-success OAuth endpoint response.
    pub(crate) fn from_oauth_response(status: u16, body: &[u8]) -> Self {
        match wire::parse_oauth_error(body) {
            Some(err) => Self::from_oauth(err.error, err.error_description),
            None if status >= 500 => Self::ServerUnavailable {
                status,
                code: None,
                message: excerpt(body),
            },
            None => Self::UnexpectedStatus {
                what: "oauth endpoint",
                status,
                excerpt: excerpt(body),
            },
        }
    }
}

/// The uninstalled-app case is reported as `invalid_client` with "app must be installed into
/// org" on the URL, and as `OAUTH_APPROVAL_ERROR_GENERIC` on Salesforce's error page; a plain
/// `invalid_client` (wrong consumer key) is not an approval problem.
fn is_approval_error(error: &str, description: &str) -> bool {
    let installed = description
        .to_ascii_lowercase()
        .contains("must be installed");
    (error == "invalid_client" && installed)
        || error == "OAUTH_APPROVAL_ERROR_GENERIC"
        || description.contains("OAUTH_APPROVAL_ERROR_GENERIC")
        || error == "OAUTH_APP_ACCESS_DENIED"
}

/// The field an `INVALID_FIELD` message names: "No such column 'X' on entity 'Y'" or
/// "field 'X' can not be filtered in a query call".
fn named_field(message: &str) -> Option<String> {
    quoted_after(message, "No such column '").or_else(|| quoted_after(message, "field '"))
}

/// The text between `prefix` and the next `'`, anywhere in `message`.
fn quoted_after(message: &str, prefix: &str) -> Option<String> {
    let start = message.find(prefix)? + prefix.len();
    let len = message[start..].find('\'')?;
    Some(message[start..start + len].to_owned()).filter(|s| !s.is_empty())
}

/// Up to 200 characters of a body, for errors whose body has no known shape.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut cut: String = text.chars().take(200).collect();
    if text.chars().nth(200).is_some() {
        cut.push('…');
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rest(status: u16, body: &str) -> Error {
        Error::from_rest("query", status, body.as_bytes())
    }

    #[test]
    fn expired_session_is_refreshable_but_rest_variant_is_not() {
        let expired = rest(
            401,
            r#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#,
        );
        assert!(expired.is_session_expired());
        let not_rest = rest(
            401,
            r#"[{"message":"This session is not valid for use with the REST API","errorCode":"INVALID_SESSION_ID"}]"#,
        );
        assert!(!not_rest.is_session_expired());
        assert!(matches!(not_rest, Error::SessionNotUsable { .. }));
    }

    #[test]
    fn invalid_field_names_the_field_and_object_from_the_message() {
        let body = r#"[{"message":"\nselect Id, SF_date__c from Lead\n ^\nERROR at Row:1:Column:35\nNo such column 'SF_date__c' on entity 'Lead'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name.","errorCode":"INVALID_FIELD"}]"#;
        let err = rest(400, body);
        assert_eq!(err.invalid_field(), Some("SF_date__c"));
        assert!(matches!(err, Error::InvalidField { object: Some(ref o), .. } if o == "Lead"));
        let filter = rest(
            400,
            r#"[{"message":"field 'SystemModstamp' can not be filtered in a query call","errorCode":"INVALID_FIELD"}]"#,
        );
        assert_eq!(filter.invalid_field(), Some("SystemModstamp"));
    }

    #[test]
    fn invalid_field_falls_back_to_the_fields_list() {
        let err = rest(
            400,
            r#"[{"message":"bad","errorCode":"INVALID_FIELD","fields":["Foo__c"]}]"#,
        );
        assert_eq!(err.invalid_field(), Some("Foo__c"));
    }

    #[test]
    fn invalid_type_names_the_object() {
        let err = rest(
            400,
            r#"[{"message":"sObject type 'Foo__c' is not supported.","errorCode":"INVALID_TYPE"}]"#,
        );
        assert_eq!(err.invalid_type(), Some("Foo__c"));
    }

    #[test]
    fn each_rest_code_maps_to_its_classification() {
        assert!(rest(403, r#"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#).is_rate_limited());
        assert!(
            rest(
                400,
                r#"[{"message":"too long","errorCode":"QUERY_TIMEOUT"}]"#
            )
            .is_query_timeout()
        );
        assert!(
            rest(
                400,
                r#"[{"message":"x","errorCode":"INVALID_QUERY_LOCATOR"}]"#
            )
            .is_invalid_query_locator()
        );
        assert!(
            rest(
                503,
                r#"[{"message":"down","errorCode":"SERVER_UNAVAILABLE"}]"#
            )
            .is_retryable()
        );
        assert!(rest(503, "<html>Service Unavailable</html>").is_retryable());
        assert!(rest(400, r#"[{"message":"x","errorCode":"UNABLE_TO_LOCK_ROW"}]"#).is_retryable());
        assert!(
            !rest(
                403,
                r#"[{"message":"x","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#
            )
            .is_retryable()
        );
        assert!(!rest(400, r#"[{"message":"x","errorCode":"MALFORMED_QUERY"}]"#).is_retryable());
        assert!(matches!(
            rest(404, "not json"),
            Error::UnexpectedStatus { status: 404, .. }
        ));
    }

    #[test]
    fn oauth_errors_classify_reauthorization_and_approval() {
        let grant = Error::from_oauth_response(
            400,
            br#"{"error":"invalid_grant","error_description":"expired access/refresh token"}"#,
        );
        assert!(grant.needs_reauthorization());
        let inactive = Error::from_oauth("invalid_grant".into(), "inactive user".into());
        assert!(inactive.needs_reauthorization());
        let uninstalled = Error::from_oauth(
            "invalid_client".into(),
            "app must be installed into org".into(),
        );
        assert!(uninstalled.is_approval_required());
        let generic = Error::from_oauth("OAUTH_APPROVAL_ERROR_GENERIC".into(), String::new());
        assert!(generic.is_approval_required());
        let bad_secret =
            Error::from_oauth("invalid_client".into(), "invalid client credentials".into());
        assert!(!bad_secret.is_approval_required());
        assert!(!bad_secret.needs_reauthorization());
    }

    #[test]
    fn errors_and_clients_can_cross_tasks() {
        fn send_sync<T: Send + Sync + 'static>() {}
        send_sync::<Error>();
        send_sync::<crate::SalesforceClient>();
        send_sync::<crate::TokenRefresher>();
        send_sync::<crate::QueryPage>();
    }

    #[test]
    fn unreadable_error_bodies_are_excerpted_not_dumped() {
        let long = "x".repeat(5000);
        let err = rest(418, &long);
        let text = err.to_string();
        assert!(text.len() < 300, "{}", text.len());
    }
}
