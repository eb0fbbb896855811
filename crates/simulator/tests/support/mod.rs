//! Test support: a simulator on port 0 and a raw HTTP client (deliberately not sfsync's
//! Salesforce client: these tests check the simulator against the protocol itself).

#![allow(dead_code)]

use reqwest::{Client, Method, Response};
use serde_json::{Value, json};
use sfsync_simulator::{SeedCounts, Simulator, SimulatorConfig};

pub const V: &str = "v62.0";

/// A running simulator plus an access token for its default org.
pub struct Org {
    pub sim: Simulator,
    pub http: Client,
    pub token: String,
    pub refresh: String,
}

pub fn small() -> SeedCounts {
    SeedCounts {
        accounts: 30,
        contacts: 60,
        opportunities: 20,
        cases: 20,
        invoices: 10,
    }
}

impl Org {
    pub async fn start(counts: SeedCounts) -> Org {
        Self::start_with(SimulatorConfig {
            counts,
            ..Default::default()
        })
        .await
    }

    pub async fn start_with(config: SimulatorConfig) -> Org {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let sim = Simulator::start(config).await.expect("simulator starts");
        let http = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let grant = sim.grant("default").expect("default org");
        let token = grant["access_token"].as_str().unwrap().to_string();
        let refresh = grant["refresh_token"].as_str().unwrap().to_string();
        Org {
            sim,
            http,
            token,
            refresh,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.sim.url(), path)
    }

    /// A GET under `/services/data/v62.0/`, with the token.
    pub async fn get(&self, path: &str) -> Response {
        self.http
            .get(self.url(&format!("/services/data/{V}/{path}")))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("request")
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn query(&self, soql: &str) -> (u16, Value) {
        let q = url_encode(soql);
        self.get_json(&format!("query?q={q}")).await
    }

    pub async fn query_all(&self, soql: &str) -> (u16, Value) {
        let q = url_encode(soql);
        self.get_json(&format!("queryAll?q={q}")).await
    }

    /// Every record of a query, following nextRecordsUrl.
    pub async fn collect(&self, first: Value) -> Vec<Value> {
        let mut records = first["records"].as_array().cloned().unwrap_or_default();
        let mut next = first["nextRecordsUrl"].as_str().map(String::from);
        while let Some(url) = next {
            let page: Value = self
                .http
                .get(self.url(&url))
                .bearer_auth(&self.token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            records.extend(page["records"].as_array().cloned().unwrap_or_default());
            next = page["nextRecordsUrl"].as_str().map(String::from);
        }
        records
    }

    /// A control-API call.
    pub async fn control(&self, method: Method, path: &str, body: Value) -> Value {
        let response = self
            .http
            .request(method, self.url(&format!("/__sim/v1{path}")))
            .json(&body)
            .send()
            .await
            .expect("control request");
        assert!(
            response.status().is_success(),
            "control {path} failed: {}",
            response.text().await.unwrap_or_default()
        );
        response.json().await.unwrap_or(Value::Null)
    }

    pub async fn fault(&self, kind: &str, count: u32) {
        self.control(
            Method::POST,
            "/orgs/default/faults",
            json!({"kind": kind, "count": count}),
        )
        .await;
    }
}

pub fn url_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
