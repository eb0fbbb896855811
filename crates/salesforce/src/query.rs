//! SOQL over REST: `query`, `queryAll` and `/composite` (salesforce-api.md §2.5, §2.10).
//!
//! A query is read as a stream of pages: the first from `/query?q=` (or `/queryAll?q=`, which
//! also returns rows in the Recycle Bin), the rest by following each page's `nextRecordsUrl`
//! until `done`. Each page is one API call.
//!
//! A statement whose URL would pass [`MAX_URI_BYTES`] is sent instead as a query subrequest of
//! a `/composite` request, in the JSON body. That was chosen over splitting the field list into
//! chunks joined on Id because it costs the same one API call per page, keeps every row whole
//! (chunk queries read at different moments, so a row updated between them comes back torn),
//! and needs no join; the later pages are ordinary `nextRecordsUrl` GETs.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream::{self, BoxStream};
use reqwest::header::HeaderName;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::{Value, json};

use crate::client::{Request, SalesforceClient, request_url};
use crate::error::{Error, Result};
use crate::record::{PageCache, Record, RecordsSeed};
use crate::wire;

/// The longest request URI sent as a GET. Salesforce refuses URI plus headers over 16,384
/// bytes (414/431, §2.1); our headers stay well under 1,000 bytes.
pub const MAX_URI_BYTES: usize = 15_000;

/// Subrequests allowed in one `/composite` request (§2.10).
pub const MAX_COMPOSITE_SUBREQUESTS: usize = 25;

/// The `Sforce-Query-Options` header.
const QUERY_OPTIONS: HeaderName = HeaderName::from_static("sforce-query-options");

/// How a query is read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueryOptions {
    /// Use `queryAll`: include soft-deleted (`IsDeleted = true`) and merged rows.
    pub include_deleted: bool,
    /// Rows per page via `Sforce-Query-Options: batchSize=N`. Salesforce accepts 200..=2000
    /// (default 2000) and may return fewer; values outside are clamped into that range.
    pub batch_size: Option<u32>,
}

impl QueryOptions {
    /// Options for `queryAll`.
    pub fn all() -> Self {
        Self {
            include_deleted: true,
            batch_size: None,
        }
    }

    /// Sets the batch size.
    pub fn with_batch_size(mut self, size: u32) -> Self {
        self.batch_size = Some(size);
        self
    }

    fn resource(&self) -> &'static str {
        if self.include_deleted {
            "queryAll"
        } else {
            "query"
        }
    }

    fn header_value(&self) -> Option<String> {
        self.batch_size
            .map(|size| format!("batchSize={}", size.clamp(200, 2000)))
    }
}

/// One page of a query result. Its records' text borrows from the page body: the body is freed
/// when the last record (or value) of the page is dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryPage {
    /// Rows matching the whole query (not this page).
    pub total_size: u64,
    /// True on the last page.
    pub done: bool,
    /// The path of the next page, present exactly when `done` is false.
    pub next_records_url: Option<String>,
    /// This page's records.
    pub records: Vec<Record>,
}

/// The documented body (§2.5); unknown keys are ignored.
struct PageWire {
    total_size: u64,
    done: bool,
    next_records_url: Option<String>,
    records: Vec<Record>,
}

impl<'de> Deserialize<'de> for PageWire {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        PageSeed {
            cache: PageCache::default(),
        }
        .deserialize(deserializer)
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum PageKey {
    TotalSize,
    Done,
    NextRecordsUrl,
    Records,
    #[serde(other)]
    Other,
}

/// Reads a page by hand so that its records share one [`PageCache`].
struct PageSeed {
    cache: PageCache,
}

impl<'de> DeserializeSeed<'de> for PageSeed {
    type Value = PageWire;

    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> std::result::Result<PageWire, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PageSeed {
    type Value = PageWire;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a query result object")
    }

    fn visit_map<A: MapAccess<'de>>(
        mut self,
        mut map: A,
    ) -> std::result::Result<PageWire, A::Error> {
        let (mut total_size, mut done, mut next_records_url, mut records) =
            (None, None, None, None);
        while let Some(key) = map.next_key::<PageKey>()? {
            match key {
                PageKey::TotalSize => total_size = Some(map.next_value()?),
                PageKey::Done => done = Some(map.next_value()?),
                PageKey::NextRecordsUrl => next_records_url = map.next_value()?,
                PageKey::Records => {
                    records = Some(map.next_value_seed(RecordsSeed {
                        cache: &mut self.cache,
                    })?)
                }
                PageKey::Other => drop(map.next_value::<IgnoredAny>()?),
            }
        }
        Ok(PageWire {
            total_size: total_size.ok_or_else(|| de::Error::missing_field("totalSize"))?,
            done: done.ok_or_else(|| de::Error::missing_field("done"))?,
            next_records_url,
            records: records.ok_or_else(|| de::Error::missing_field("records"))?,
        })
    }
}

impl PageWire {
    fn check(self) -> Result<QueryPage> {
        let what = "query response";
        let next_records_url = match (self.done, self.next_records_url) {
            (false, None) => {
                return Err(Error::malformed(
                    what,
                    "`done` is false but `nextRecordsUrl` is missing",
                ));
            }
            (false, Some(next)) if !next.starts_with("/services/data/") => {
                return Err(Error::malformed(
                    what,
                    format!("`nextRecordsUrl` {next:?} is not a data API path"),
                ));
            }
            // A finished result has no next page, whatever else the body says.
            (true, _) => None,
            (false, next) => next,
        };
        let PageWire {
            total_size,
            done,
            records,
            ..
        } = self;
        Ok(QueryPage {
            total_size,
            done,
            next_records_url,
            records,
        })
    }
}

/// Parses a query response body. Public for benchmarks and fuzzing.
///
/// The body is copied once into a shared buffer that the records' text values borrow from, so
/// the page costs one allocation per record rather than one per string.
pub fn parse_query_page(body: &[u8]) -> Result<QueryPage> {
    let what = "query response";
    let text = std::str::from_utf8(body)
        .map_err(|e| Error::malformed(what, format!("not UTF-8 at byte {}", e.valid_up_to())))?;
    let source: Arc<str> = Arc::from(text);
    let mut de = serde_json::Deserializer::from_str(&source);
    let seed = PageSeed {
        cache: PageCache::with_source(source.clone()),
    };
    let parsed = seed
        .deserialize(&mut de)
        .and_then(|page| de.end().map(|()| page));
    match parsed {
        Ok(page) => page.check(),
        Err(first) => Err(wire::describe_json_error::<PageWire>(what, body, first)),
    }
}

fn page_from_value(value: Value) -> Result<QueryPage> {
    wire::from_value::<PageWire>("query response", value)?.check()
}

/// One query of a [`SalesforceClient::fetch_composite_queries`] call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompositeQuery {
    /// Names the result; letters, digits and `_`, starting with a letter.
    pub reference_id: String,
    /// The SOQL statement.
    pub soql: String,
    /// How to read it (`batch_size` applies to its first page).
    pub options: QueryOptions,
}

/// The first page of one composite query, or why it failed.
#[derive(Debug)]
pub struct CompositeQueryResult {
    /// The query's reference id.
    pub reference_id: String,
    /// Its first page, or its own typed error (other queries in the call are unaffected).
    pub page: Result<QueryPage>,
}

/// The composite response envelope (§2.10).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CompositeWire {
    composite_response: Vec<SubresponseWire>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubresponseWire {
    body: Value,
    http_status_code: u16,
    reference_id: String,
}

enum Cursor {
    First(String),
    Next(String),
    Done,
}

impl SalesforceClient {
    /// Streams the pages of `query`.
    pub fn query(&self, soql: impl Into<String>) -> BoxStream<'static, Result<QueryPage>> {
        self.query_with(soql, QueryOptions::default())
    }

    /// Streams the pages of `queryAll` (soft-deleted rows included).
    pub fn query_all(&self, soql: impl Into<String>) -> BoxStream<'static, Result<QueryPage>> {
        self.query_with(soql, QueryOptions::all())
    }

    /// Streams the pages of a query. The stream ends after the last page or after the first
    /// error; an expired session is refreshed inside, so it continues across token expiry.
    pub fn query_with(
        &self,
        soql: impl Into<String>,
        options: QueryOptions,
    ) -> BoxStream<'static, Result<QueryPage>> {
        self.page_stream(Cursor::First(soql.into()), options)
    }

    /// Streams the pages after `page` (none if it is the last).
    pub fn continue_query(
        &self,
        page: &QueryPage,
        options: QueryOptions,
    ) -> BoxStream<'static, Result<QueryPage>> {
        let cursor = page
            .next_records_url
            .clone()
            .map_or(Cursor::Done, Cursor::Next);
        self.page_stream(cursor, options)
    }

    fn page_stream(
        &self,
        cursor: Cursor,
        options: QueryOptions,
    ) -> BoxStream<'static, Result<QueryPage>> {
        let client = self.clone();
        stream::try_unfold(cursor, move |cursor| {
            let client = client.clone();
            async move {
                let page = match cursor {
                    Cursor::First(soql) => client.fetch_first_page(&soql, options).await?,
                    Cursor::Next(path) => client.fetch_next_page(&path, options).await?,
                    Cursor::Done => return Ok(None),
                };
                let next = page
                    .next_records_url
                    .clone()
                    .map_or(Cursor::Done, Cursor::Next);
                tracing::debug!(
                    records = page.records.len(),
                    done = page.done,
                    "query page read"
                );
                Ok(Some((page, next)))
            }
        })
        .boxed()
    }

    /// Reads the first page of a query, through `/composite` when the URL would be too long.
    pub async fn fetch_first_page(&self, soql: &str, options: QueryOptions) -> Result<QueryPage> {
        let path = self.data_path(options.resource());
        if uri_len(&self.instance_url(), &path, soql)? > MAX_URI_BYTES {
            tracing::debug!(
                soql_bytes = soql.len(),
                "query too long for a URL; sending it in /composite"
            );
            return self.fetch_first_page_composite(soql, options).await;
        }
        self.get_first_page(soql, options).await
    }

    /// Reads the first page of a query in a GET, however long its URL.
    async fn get_first_page(&self, soql: &str, options: QueryOptions) -> Result<QueryPage> {
        let path = self.data_path(options.resource());
        let mut request = Request::get("query", path).query("q", soql);
        if let Some(value) = options.header_value() {
            request = request.header(QUERY_OPTIONS, value);
        }
        parse_query_page(&self.execute(&request).await?.body)
    }

    /// Reads the page at a `nextRecordsUrl`.
    pub async fn fetch_next_page(
        &self,
        next_records_url: &str,
        options: QueryOptions,
    ) -> Result<QueryPage> {
        let mut request = Request::get("query", next_records_url.to_owned());
        if let Some(value) = options.header_value() {
            request = request.header(QUERY_OPTIONS, value);
        }
        parse_query_page(&self.execute(&request).await?.body)
    }

    async fn fetch_first_page_composite(
        &self,
        soql: &str,
        options: QueryOptions,
    ) -> Result<QueryPage> {
        let query = CompositeQuery {
            reference_id: "page".to_owned(),
            soql: soql.to_owned(),
            options,
        };
        let mut results = self
            .fetch_composite_queries(std::slice::from_ref(&query))
            .await?;
        results
            .pop()
            .map(|r| r.page)
            .unwrap_or_else(|| Err(Error::malformed("composite response", "no subresponse")))
    }

    /// Runs several queries in one `/composite` request, which counts as one API call (§2.10).
    /// Each result is the query's first page; continue it with [`Self::continue_query`].
    ///
    /// Where the server does not serve `/composite`, the queries go one by one with the same
    /// results, and the client remembers not to ask again.
    pub async fn fetch_composite_queries(
        &self,
        queries: &[CompositeQuery],
    ) -> Result<Vec<CompositeQueryResult>> {
        check_composite(queries)?;
        if !self.composite_unserved() {
            match self.send_composite(queries).await {
                Err(e) if e.is_not_served() => {
                    tracing::warn!(error = %e, "/composite is not served; sending its queries one by one");
                    self.mark_composite_unserved();
                }
                sent => return sent,
            }
        }
        self.fetch_each(queries).await
    }

    /// The queries of a composite call sent one by one. A query's own failure is its result,
    /// as in a composite response; a failure of the session, the budget or the transport
    /// ends the call, as it would end a composite request.
    async fn fetch_each(&self, queries: &[CompositeQuery]) -> Result<Vec<CompositeQueryResult>> {
        let mut results = Vec::with_capacity(queries.len());
        for query in queries {
            let page = self.get_first_page(&query.soql, query.options).await;
            if let Err(e) = &page
                && !e.is_query_error()
            {
                return Err(page.unwrap_err());
            }
            results.push(CompositeQueryResult {
                reference_id: query.reference_id.clone(),
                page,
            });
        }
        Ok(results)
    }

    async fn send_composite(
        &self,
        queries: &[CompositeQuery],
    ) -> Result<Vec<CompositeQueryResult>> {
        let subrequests: Vec<Value> = queries.iter().map(|q| self.subrequest(q)).collect();
        let body = json!({ "allOrNone": false, "compositeRequest": subrequests });
        let request = Request::post("composite", self.data_path("composite"), body);
        let response = self.execute(&request).await?;
        let envelope: CompositeWire = wire::parse_json("composite response", &response.body)?;
        match_subresponses(queries, envelope.composite_response)
    }

    fn subrequest(&self, query: &CompositeQuery) -> Value {
        let mut url = url::form_urlencoded::Serializer::new(String::new());
        url.append_pair("q", &query.soql);
        let url = format!(
            "{}?{}",
            self.data_path(query.options.resource()),
            url.finish()
        );
        let mut subrequest =
            json!({ "method": "GET", "url": url, "referenceId": query.reference_id });
        if let Some(value) = query.options.header_value() {
            subrequest["httpHeaders"] = json!({ "Sforce-Query-Options": value });
        }
        subrequest
    }
}

/// The length of `{instance}{path}?q={soql}` as it will be sent.
fn uri_len(instance: &url::Url, path: &str, soql: &str) -> Result<usize> {
    let mut url = request_url(instance, path)?;
    url.query_pairs_mut().append_pair("q", soql);
    Ok(url.as_str().len())
}

fn check_composite(queries: &[CompositeQuery]) -> Result<()> {
    if queries.is_empty() || queries.len() > MAX_COMPOSITE_SUBREQUESTS {
        let msg = format!(
            "a composite request takes 1 to {MAX_COMPOSITE_SUBREQUESTS} queries, not {}",
            queries.len()
        );
        return Err(Error::InvalidArgument(msg));
    }
    let mut seen = HashSet::new();
    for query in queries {
        let id = &query.reference_id;
        let valid = id.starts_with(|c: char| c.is_ascii_alphabetic())
            && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid || !seen.insert(id.as_str()) {
            return Err(Error::InvalidArgument(format!(
                "composite reference id {id:?} is invalid or repeated"
            )));
        }
    }
    Ok(())
}

/// Pairs each query with its subresponse by reference id; a missing one is malformed.
fn match_subresponses(
    queries: &[CompositeQuery],
    responses: Vec<SubresponseWire>,
) -> Result<Vec<CompositeQueryResult>> {
    let mut responses: Vec<Option<SubresponseWire>> = responses.into_iter().map(Some).collect();
    let mut results = Vec::with_capacity(queries.len());
    for query in queries {
        let slot = responses
            .iter_mut()
            .find(|r| {
                r.as_ref()
                    .is_some_and(|r| r.reference_id == query.reference_id)
            })
            .and_then(Option::take)
            .ok_or_else(|| {
                let detail = format!("no subresponse for referenceId {:?}", query.reference_id);
                Error::malformed("composite response", detail)
            })?;
        results.push(CompositeQueryResult {
            reference_id: query.reference_id.clone(),
            page: subresponse_page(slot),
        });
    }
    Ok(results)
}

fn subresponse_page(response: SubresponseWire) -> Result<QueryPage> {
    match response.http_status_code {
        200 => page_from_value(response.body),
        status => {
            let body = serde_json::to_vec(&response.body).unwrap_or_default();
            Err(Error::from_rest("composite query", status, &body))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"{"totalSize":3,"done":false,"nextRecordsUrl":"/services/data/v62.0/query/01gRO0000016PIAYA2-2",
        "records":[{"attributes":{"type":"Contact","url":"/services/data/v62.0/sobjects/Contact/003A"},"Id":"003A","Name":"John Smith",
                    "Account":{"attributes":{"type":"Account","url":"/x"},"Name":"Acme"},
                    "Cases":{"totalSize":1,"done":true,"records":[{"attributes":{"type":"Case"},"Subject":"S"}]}},
                   {"attributes":{"type":"Contact"},"Id":"003B","Name":null}]}"#;

    #[test]
    fn a_documented_page_parses_into_records_and_a_next_url() {
        let page = parse_query_page(PAGE.as_bytes()).unwrap();
        assert_eq!(page.total_size, 3);
        assert!(!page.done);
        assert_eq!(
            page.next_records_url.as_deref(),
            Some("/services/data/v62.0/query/01gRO0000016PIAYA2-2")
        );
        assert_eq!(page.records.len(), 2);
        assert_eq!(
            page.records[0]
                .get("Account")
                .unwrap()
                .get("Name")
                .unwrap()
                .as_str(),
            Some("Acme")
        );
        assert_eq!(page.records[1].get("Name"), Some(&crate::FieldValue::Null));
    }

    #[test]
    fn an_unfinished_page_without_a_next_url_is_malformed() {
        let err = parse_query_page(br#"{"totalSize":1,"done":false,"records":[]}"#).unwrap_err();
        assert!(err.to_string().contains("nextRecordsUrl"), "{err}");
    }

    #[test]
    fn a_next_url_off_the_data_api_is_refused() {
        let body = br#"{"totalSize":1,"done":false,"nextRecordsUrl":"https://evil.example/x","records":[]}"#;
        assert!(parse_query_page(body).unwrap_err().is_malformed());
    }

    #[test]
    fn wrong_types_and_missing_keys_name_the_key() {
        let err = parse_query_page(br#"{"totalSize":"3","done":true,"records":[]}"#).unwrap_err();
        assert!(err.to_string().contains("totalSize"), "{err}");
        let err = parse_query_page(
            br#"{"totalSize":3,"done":true,"records":[{"attributes":{"type":7}}]}"#,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("records[0].attributes.type"),
            "{err}"
        );
        let err = parse_query_page(br#"{"totalSize":3,"done":true}"#).unwrap_err();
        assert!(err.to_string().contains("records"), "{err}");
    }

    #[test]
    fn batch_size_is_clamped_to_the_documented_range() {
        assert_eq!(
            QueryOptions::default()
                .with_batch_size(50)
                .header_value()
                .unwrap(),
            "batchSize=200"
        );
        assert_eq!(
            QueryOptions::default()
                .with_batch_size(5000)
                .header_value()
                .unwrap(),
            "batchSize=2000"
        );
        assert_eq!(
            QueryOptions::default()
                .with_batch_size(500)
                .header_value()
                .unwrap(),
            "batchSize=500"
        );
        assert_eq!(QueryOptions::default().header_value(), None);
    }

    #[test]
    fn composite_reference_ids_are_checked() {
        let q = |id: &str| CompositeQuery {
            reference_id: id.into(),
            soql: "SELECT Id FROM Account".into(),
            options: QueryOptions::default(),
        };
        assert!(check_composite(&[q("a1"), q("b_2")]).is_ok());
        assert!(check_composite(&[]).is_err());
        assert!(check_composite(&[q("a"), q("a")]).is_err());
        assert!(check_composite(&[q("1a")]).is_err());
        assert!(check_composite(&[q("a.b")]).is_err());
        assert!(check_composite(&vec![q("a"); 26]).is_err());
    }

    #[test]
    fn subresponses_pair_by_reference_id_and_fail_alone() {
        let queries: Vec<CompositeQuery> = ["a", "b"]
            .iter()
            .map(|id| CompositeQuery {
                reference_id: (*id).into(),
                soql: String::new(),
                options: QueryOptions::default(),
            })
            .collect();
        let body = br#"{"compositeResponse":[
            {"body":[{"errorCode":"INVALID_FIELD","message":"No such column 'Foo__c' on entity 'Account'."}],"httpHeaders":{},"httpStatusCode":400,"referenceId":"b"},
            {"body":{"totalSize":0,"done":true,"records":[]},"httpHeaders":{},"httpStatusCode":200,"referenceId":"a"}]}"#;
        let envelope: CompositeWire = wire::parse_json("composite response", body).unwrap();
        let results = match_subresponses(&queries, envelope.composite_response).unwrap();
        assert_eq!(results[0].reference_id, "a");
        assert!(results[0].page.as_ref().unwrap().done);
        assert_eq!(
            results[1].page.as_ref().unwrap_err().invalid_field(),
            Some("Foo__c")
        );
        let missing: CompositeWire =
            wire::parse_json("composite response", br#"{"compositeResponse":[]}"#).unwrap();
        assert!(
            match_subresponses(&queries, missing.composite_response)
                .unwrap_err()
                .is_malformed()
        );
    }

    #[test]
    fn uri_length_counts_the_encoded_statement() {
        let instance = url::Url::parse("https://acme.my.salesforce.com").unwrap();
        let short = uri_len(
            &instance,
            "/services/data/v62.0/query",
            "SELECT Id FROM Account",
        )
        .unwrap();
        assert!(short < 100);
        let fields: Vec<String> = (0..1500).map(|i| format!("Field_{i}__c")).collect();
        let long = format!("SELECT {} FROM Account", fields.join(", "));
        assert!(uri_len(&instance, "/services/data/v62.0/query", &long).unwrap() > MAX_URI_BYTES);
    }
}
