//! A response under construction, independent of axum so that `/composite` can run
//! subrequests through the same handlers and read their results.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::SimError;

/// Status, headers and body of one Salesforce response.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// 200 with a JSON body already serialized.
    pub fn json_bytes(body: Vec<u8>) -> Self {
        Reply {
            status: StatusCode::OK,
            headers: vec![("content-type", "application/json;charset=UTF-8".into())],
            body,
        }
    }

    /// 200 with a JSON value.
    pub fn json(value: &serde_json::Value) -> Self {
        Self::json_bytes(serde_json::to_vec(value).unwrap_or_default())
    }

    /// The same reply with another status.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// An empty reply.
    pub fn empty(status: StatusCode) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The body as JSON, for composite subresponses.
    pub fn body_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

impl From<SimError> for Reply {
    fn from(e: SimError) -> Self {
        Reply::json(&e.body()).with_status(e.status)
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = self.status;
        let no_content =
            self.status == StatusCode::NO_CONTENT || self.status == StatusCode::NOT_MODIFIED;
        let headers = response.headers_mut();
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.append(name, value);
            }
        }
        if !headers.contains_key(header::CONTENT_TYPE) && !no_content {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json;charset=UTF-8"),
            );
        }
        response
    }
}
