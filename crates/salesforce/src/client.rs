//! The REST client: one org, one session, every request through one path.
//!
//! [`SalesforceClient::execute`] is where the protocol rules that apply to every call live:
//! the bearer token goes only in the `Authorization` header; `Sforce-Limit-Info` is read from
//! every response; a 401 `INVALID_SESSION_ID` is answered by one refresh and one retry; 5xx,
//! timeouts and connection errors are retried with bounded, jittered backoff.
//! The read operations themselves live in [`crate::query`], [`crate::describe`],
//! [`crate::bulk`], [`crate::replication`] and [`crate::limits`].

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::Method;
use reqwest::header::{DATE, HeaderMap, HeaderName};
use time::OffsetDateTime;
use tokio::sync::watch;
use tracing::Instrument;
use url::Url;

use crate::error::{Error, Result};
use crate::limits::{ApiUsage, parse_limit_info};
use crate::retry::RetryPolicy;
use crate::session::{Session, TokenRefresher};

/// Timeouts and retries for HTTP calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Time allowed to open a connection (TCP and TLS). Default 10 s.
    pub connect_timeout: Duration,
    /// Time allowed for a whole request, body included. Default 120 s: a 2,000-row page of a
    /// wide object can take that long.
    pub request_timeout: Duration,
    /// Retries on 5xx, timeouts and connection errors.
    pub retry: RetryPolicy,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(120),
            retry: RetryPolicy::default(),
        }
    }
}

/// Builds a reqwest client: both timeouts, gzip, and no redirects (a bearer token, code or
/// refresh token must never follow a redirect; no Salesforce data or token endpoint needs one).
pub(crate) fn build_http(config: &HttpConfig) -> Result<reqwest::Client> {
    // reqwest is built with `rustls-no-provider`: a process-wide provider must exist first.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(config.connect_timeout)
        .timeout(config.request_timeout)
        .gzip(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("sfsync/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::transport("http client setup", e))
}

/// A REST API version such as `62.0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiVersion(String);

impl ApiVersion {
    /// Parses `62.0` (or `v62.0`).
    pub fn new(version: &str) -> Result<Self> {
        let version = version.strip_prefix('v').unwrap_or(version);
        let valid = version
            .split_once('.')
            .is_some_and(|(major, minor)| is_digits(major) && is_digits(minor));
        if !valid {
            return Err(Error::InvalidArgument(format!(
                "api version {version:?} is not like 62.0"
            )));
        }
        Ok(Self(version.to_owned()))
    }

    /// The version number, e.g. `62.0`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

impl Default for ApiVersion {
    /// v62.0, the version sfsync is tested against.
    fn default() -> Self {
        Self("62.0".to_owned())
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

/// How a [`SalesforceClient`] talks to the org.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientConfig {
    /// The REST API version. Default v62.0.
    pub api_version: ApiVersion,
    /// Timeouts and retries.
    pub http: HttpConfig,
}

/// A client for one org's REST and Bulk APIs. Cheap to clone; clones share the session.
#[derive(Clone)]
pub struct SalesforceClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    config: ClientConfig,
    session: RwLock<Session>,
    refresher: Option<TokenRefresher>,
    usage: watch::Sender<Option<ApiUsage>>,
    /// The last `Date` header and when it arrived, to tell the server's time.
    server_clock: std::sync::Mutex<Option<(OffsetDateTime, Instant)>>,
    /// Requests sent to the REST and Bulk APIs (each one an API call; OAuth is not counted).
    calls: AtomicU64,
    /// Whether the server answered that it does not serve `/composite`.
    composite_unserved: AtomicBool,
}

impl fmt::Debug for SalesforceClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SalesforceClient")
            .field("instance_url", &self.instance_url().as_str())
            .field("api_version", &self.inner.config.api_version)
            .finish_non_exhaustive()
    }
}

/// A request as the read operations describe it.
pub(crate) struct Request {
    pub what: &'static str,
    pub method: Method,
    /// A path on the instance, starting with `/services/`.
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub headers: Vec<(HeaderName, String)>,
    pub json: Option<serde_json::Value>,
}

impl Request {
    pub fn get(what: &'static str, path: String) -> Self {
        let (method, query, headers, json) = (Method::GET, Vec::new(), Vec::new(), None);
        Self {
            what,
            method,
            path,
            query,
            headers,
            json,
        }
    }

    pub fn post(what: &'static str, path: String, json: serde_json::Value) -> Self {
        Self {
            method: Method::POST,
            json: Some(json),
            ..Self::get(what, path)
        }
    }

    pub fn query(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.query.push((key, value.into()));
        self
    }

    pub fn header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// A successful (2xx or 304) response, body read.
pub(crate) struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Response {
    /// A header as text, if present and readable.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl SalesforceClient {
    /// A client using `session`. With a refresher, a rejected session is refreshed once per
    /// request; without one, [`Error::SessionExpired`] is returned as is.
    pub fn new(
        config: ClientConfig,
        session: Session,
        refresher: Option<TokenRefresher>,
    ) -> Result<Self> {
        let http = build_http(&config.http)?;
        let (usage, _) = watch::channel(None);
        let session = RwLock::new(session);
        let inner = Inner {
            http,
            config,
            session,
            refresher,
            usage,
            server_clock: std::sync::Mutex::new(None),
            calls: AtomicU64::new(0),
            composite_unserved: AtomicBool::new(false),
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// A client for the connection behind `refresher`: the stored access token, or a freshly
    /// refreshed one when none is stored.
    pub async fn connect(config: ClientConfig, refresher: TokenRefresher) -> Result<Self> {
        let session = refresher.refresh(None).await?;
        Self::new(config, session, Some(refresher))
    }

    /// The current session (it changes when a refresh happens).
    pub fn session(&self) -> Session {
        self.inner
            .session
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The current instance URL; a refresh may move it.
    pub fn instance_url(&self) -> Url {
        self.session().instance_url().clone()
    }

    /// The API version in use.
    pub fn api_version(&self) -> &ApiVersion {
        &self.inner.config.api_version
    }

    /// The usage reported by the last `Sforce-Limit-Info` header, if any response had one.
    pub fn api_usage(&self) -> Option<ApiUsage> {
        *self.inner.usage.borrow()
    }

    /// The server's time now: the last response's `Date` plus the time since it arrived.
    /// A sync bounds its reads by the server's clock, never the local one, which may be
    /// skewed (salesforce-api.md §8, trap 3). `None` before the first response.
    pub fn server_time(&self) -> Option<OffsetDateTime> {
        let clock = self
            .inner
            .server_clock
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        clock.map(|(date, at)| date + at.elapsed())
    }

    /// Reads the server's clock from the versions list (`GET /services/data/`), which is not
    /// counted against the daily allocation (salesforce-api.md §2.2), so a sync can bound
    /// its first read by the server's time rather than the local one at no cost.
    pub async fn fetch_server_time(&self) -> Result<OffsetDateTime> {
        let session = self.session();
        let url = request_url(session.instance_url(), "/services/data/")?;
        let response = self
            .inner
            .http
            .get(url)
            .bearer_auth(session.access_token().expose())
            .send()
            .await
            .map_err(|e| Error::transport("versions", e))?;
        self.record_date(response.headers());
        self.server_time()
            .ok_or_else(|| Error::malformed("versions response", "no Date header"))
    }

    /// How many REST and Bulk requests this client (and its clones) sent, retries included:
    /// each is one call against the org's daily allocation.
    pub fn api_calls(&self) -> u64 {
        self.inner.calls.load(Ordering::Relaxed)
    }

    /// Whether this server has answered that it does not serve `/composite`.
    pub(crate) fn composite_unserved(&self) -> bool {
        self.inner.composite_unserved.load(Ordering::Relaxed)
    }

    pub(crate) fn mark_composite_unserved(&self) {
        self.inner.composite_unserved.store(true, Ordering::Relaxed);
    }

    /// A channel that sees every new `Sforce-Limit-Info` reading.
    pub fn watch_api_usage(&self) -> watch::Receiver<Option<ApiUsage>> {
        self.inner.usage.subscribe()
    }

    /// `/services/data/vXX.X/{rest}`.
    pub(crate) fn data_path(&self, rest: &str) -> String {
        format!("/services/data/{}/{rest}", self.inner.config.api_version)
    }

    /// Sends a request with the session, refreshing once on an expired session and retrying
    /// retryable failures within the retry policy.
    pub(crate) async fn execute(&self, request: &Request) -> Result<Response> {
        let span = tracing::debug_span!(
            "salesforce.request",
            what = request.what,
            method = %request.method,
            path = %request.path,
        );
        self.execute_with_recovery(request).instrument(span).await
    }

    async fn execute_with_recovery(&self, request: &Request) -> Result<Response> {
        let mut refreshed = false;
        let mut retry = 0;
        loop {
            let session = self.session();
            let error = match self.send_once(&session, request).await {
                Ok(response) => return Ok(response),
                Err(error) => error,
            };
            if error.is_session_expired() && !refreshed && self.inner.refresher.is_some() {
                refreshed = true;
                tracing::info!("session expired; refreshing once and retrying");
                self.replace_session(session.access_token()).await?;
                continue;
            }
            let Some(delay) = error
                .is_retryable()
                .then(|| self.inner.config.http.retry.delay(retry))
                .flatten()
            else {
                return Err(error);
            };
            tracing::warn!(error = %error, retry, delay_ms = delay.as_millis() as u64, "retrying");
            tokio::time::sleep(delay).await;
            retry += 1;
        }
    }

    /// Swaps in a session whose token is not `rejected`, unless another task already did.
    async fn replace_session(&self, rejected: &crate::AccessToken) -> Result<()> {
        if self.session().access_token() != rejected {
            return Ok(());
        }
        let refresher = self
            .inner
            .refresher
            .as_ref()
            .expect("checked by the caller");
        let fresh = refresher.refresh(Some(rejected)).await?;
        *self
            .inner
            .session
            .write()
            .unwrap_or_else(|e| e.into_inner()) = fresh;
        Ok(())
    }

    async fn send_once(&self, session: &Session, request: &Request) -> Result<Response> {
        let started = Instant::now();
        let url = request_url(session.instance_url(), &request.path)?;
        let mut builder = self
            .inner
            .http
            .request(request.method.clone(), url)
            .bearer_auth(session.access_token().expose())
            .query(&request.query);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if let Some(json) = &request.json {
            builder = builder.json(json);
        }
        self.inner.calls.fetch_add(1, Ordering::Relaxed);
        let response = builder
            .send()
            .await
            .map_err(|e| Error::transport(request.what, e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        self.record_usage(&headers);
        self.record_date(&headers);
        let body = response
            .bytes()
            .await
            .map_err(|e| Error::transport(request.what, e))?;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        tracing::debug!(
            status,
            bytes = body.len(),
            elapsed_ms,
            "salesforce response"
        );
        match status {
            200..=299 | 304 => Ok(Response {
                status,
                headers,
                body,
            }),
            _ => Err(Error::from_rest(request.what, status, &body)),
        }
    }

    fn record_date(&self, headers: &HeaderMap) {
        let date = headers.get(DATE).and_then(|v| v.to_str().ok());
        if let Some(date) = date.and_then(parse_http_date) {
            let mut clock = self
                .inner
                .server_clock
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            *clock = Some((date, Instant::now()));
        }
    }

    fn record_usage(&self, headers: &HeaderMap) {
        let Some(value) = headers.get("sforce-limit-info") else {
            return;
        };
        match value.to_str().ok().and_then(parse_limit_info) {
            Some(usage) => {
                self.inner.usage.send_replace(Some(usage));
            }
            None => tracing::debug!("unreadable Sforce-Limit-Info header ignored"),
        }
    }
}

/// Reads an HTTP date (RFC 9110 IMF-fixdate, `Fri, 04 Dec 2026 10:00:00 GMT`).
fn parse_http_date(text: &str) -> Option<OffsetDateTime> {
    let rfc2822 = text.trim().strip_suffix("GMT")?.to_string() + "+0000";
    OffsetDateTime::parse(&rfc2822, &time::format_description::well_known::Rfc2822).ok()
}

/// The URL of `path` on the instance. `path` comes from us or from Salesforce
/// (`nextRecordsUrl`); either way it must be a plain path under `/services/`, so a tampered
/// response cannot send the bearer token to another host.
pub(crate) fn request_url(instance: &Url, path: &str) -> Result<Url> {
    let (path_only, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    let safe = path_only.starts_with("/services/")
        && !path_only.contains("//")
        && !path_only.split('/').any(|segment| segment == "..")
        && !path_only.contains(['\\', '#']);
    if !safe {
        return Err(Error::InvalidUrl {
            what: "request path",
            reason: format!("{path_only:?} is not a path under /services/"),
        });
    }
    let mut url = instance.clone();
    url.set_path(path_only);
    url.set_query(query);
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_are_validated() {
        assert_eq!(ApiVersion::new("62.0").unwrap().to_string(), "v62.0");
        assert_eq!(ApiVersion::new("v58.0").unwrap().as_str(), "58.0");
        assert_eq!(ApiVersion::default().as_str(), "62.0");
        for bad in ["62", "62.", "x.0", "", "62.0/../x"] {
            assert!(ApiVersion::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn http_dates_parse_and_other_forms_do_not() {
        let date = parse_http_date("Fri, 04 Dec 2026 10:00:01 GMT").unwrap();
        assert_eq!(date.unix_timestamp(), 1_796_378_401);
        for bad in [
            "",
            "yesterday",
            "Fri, 04 Dec 2026 10:00:01 +0100",
            "2026-12-04T10:00:01Z",
        ] {
            assert!(parse_http_date(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn request_paths_stay_on_the_instance() {
        let instance = Url::parse("https://acme.my.salesforce.com").unwrap();
        let url = request_url(&instance, "/services/data/v62.0/query/01gXX-2000").unwrap();
        assert_eq!(
            url.as_str(),
            "https://acme.my.salesforce.com/services/data/v62.0/query/01gXX-2000"
        );
        for bad in [
            "https://evil.example/services/data",
            "//evil.example/services/data",
            "/services//evil",
            "/services/data/../../x",
            "services/data",
            "/other/path",
        ] {
            assert!(request_url(&instance, bad).is_err(), "{bad}");
        }
    }
}
