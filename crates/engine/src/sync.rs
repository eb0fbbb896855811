//! A tick of one connection: every selected object run once. Quiet objects (loaded, with no
//! budgeted check due) are polled together in one `/composite` call, so an idle tick over
//! five objects costs one API call; the others run one by one.
//!
//! The tick stops early, keeping what it committed, when Salesforce needs an admin
//! (invalid_grant: the connection is marked for re-authorization and polling stops) or the
//! org's allocation is spent (REQUEST_LIMIT_EXCEEDED: the caller pauses).

use std::sync::Arc;
use std::time::Duration;

use sfsync_core::ObjectName;
use sfsync_salesforce::{
    ClientConfig, ClientSecret, CompositeQuery, Environment, HttpConfig, OAuthClient, OAuthConfig,
    QueryOptions, QueryPage, SalesforceClient, TokenRefresher,
};
use sfsync_store::{
    ApiCalls, Connection, ConnectionStatus, ObjectState, OrgUsage, RunOutcome, RunRecord, Store,
};
use sfsync_vault::KeyRing;
use url::Url;

use crate::error::Error;
use crate::run::{ObjectRun, RunReport, RunSettings, local_now_ms};
use crate::tokens::{VaultTokenStore, load_tokens};

/// The objects a new connection syncs until an admin chooses otherwise.
pub const DEFAULT_OBJECTS: [&str; 4] = ["Account", "Contact", "Opportunity", "Case"];

/// Subrequests in one `/composite` call (Salesforce's limit).
const POLLS_PER_CALL: usize = 25;

/// The connected app sfsync operates: one for every organization (docs/OPERATOR.md).
#[derive(Debug, Clone)]
pub struct ConnectedApp {
    /// The consumer key (`SFSYNC_CLIENT_ID`).
    pub client_id: String,
    /// The consumer secret (`SFSYNC_CLIENT_SECRET`).
    pub client_secret: Option<ClientSecret>,
    /// The OAuth callback registered on the app (`SFSYNC_PUBLIC_URL` + `/oauth/callback`).
    pub redirect_uri: Url,
}

/// How the engine works.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// How runs read.
    pub run: RunSettings,
    /// Timeouts and retries of every Salesforce request.
    pub http: HttpConfig,
    /// Who holds the leases this process takes (unique per process).
    pub owner: String,
    /// How long a lease on an object lasts; a run longer than this may lose it. Default 30
    /// minutes.
    pub lease: Duration,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            run: RunSettings::default(),
            http: HttpConfig::default(),
            owner: format!("sfsync-{}", std::process::id()),
            lease: Duration::from_secs(30 * 60),
        }
    }
}

/// How one object's run in a tick ended.
#[derive(Debug)]
pub struct ObjectOutcome {
    /// The object.
    pub object: ObjectName,
    /// What the run did, or why it stopped.
    pub result: Result<RunReport, Error>,
}

/// What a tick did.
#[derive(Debug, Default)]
pub struct TickReport {
    /// Each object's outcome, in run order. Objects another worker held are absent.
    pub objects: Vec<ObjectOutcome>,
    /// API calls the tick spent.
    pub api_calls: u64,
    /// The org's usage from the last response.
    pub org_usage: Option<OrgUsage>,
    /// Whether Salesforce refused for the daily allocation: the caller should pause.
    pub rate_limited: bool,
    /// Whether the connection needs an admin to connect again.
    pub needs_reauthorization: bool,
}

impl TickReport {
    /// Whether every object ran to the end.
    pub fn succeeded(&self) -> bool {
        self.objects.iter().all(|o| o.result.is_ok()) && !self.rate_limited
    }
}

/// Called after each committed page with the object and its run so far (progress bars).
pub type OnProgress = dyn Fn(&ObjectName, &RunReport) + Send + Sync;

/// The engine: runs connections' ticks against their orgs and the store.
pub struct Engine {
    store: Arc<dyn Store>,
    ring: Arc<KeyRing>,
    app: ConnectedApp,
    settings: EngineSettings,
}

impl Engine {
    /// An engine over `store`, opening tokens with `ring`.
    pub fn new(
        store: Arc<dyn Store>,
        ring: Arc<KeyRing>,
        app: ConnectedApp,
        settings: EngineSettings,
    ) -> Self {
        Self {
            store,
            ring,
            app,
            settings,
        }
    }

    /// The engine's settings.
    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// A client for the connection, refreshing its session when none is stored.
    pub async fn connect_client(&self, connection: &Connection) -> Result<SalesforceClient, Error> {
        let environment = environment_of(connection)?;
        let opened = load_tokens(self.store.as_ref(), &self.ring, connection.id).await?;
        let (client_id, client_secret) = opened
            .app
            .unwrap_or_else(|| (self.app.client_id.clone(), self.app.client_secret.clone()));
        let mut config = OAuthConfig::new(client_id, self.app.redirect_uri.clone(), environment);
        config.client_secret = client_secret;
        config.http = self.settings.http.clone();
        let tokens = VaultTokenStore::new(self.store.clone(), self.ring.clone(), connection.id);
        let refresher = TokenRefresher::new(OAuthClient::new(config)?, Arc::new(tokens));
        let client_config = ClientConfig {
            http: self.settings.http.clone(),
            ..ClientConfig::default()
        };
        Ok(SalesforceClient::connect(client_config, refresher).await?)
    }

    /// One tick of `connection`: every selected object (selecting the defaults first if
    /// the connection has none), quiet ones polled together.
    pub async fn tick(&self, connection: &Connection, on_progress: &OnProgress) -> TickReport {
        let mut report = TickReport::default();
        let client = match self.connect_client(connection).await {
            Ok(client) => client,
            Err(e) => {
                self.note_failure(connection, &e, &mut report).await;
                return report;
            }
        };
        // Free of charge: every window below is then bounded by the server's clock.
        if let Err(e) = client.fetch_server_time().await {
            tracing::warn!(error = %e, "could not read the server's clock; using ours");
        }
        match self.selected_objects(connection).await {
            Ok(states) => {
                self.run_objects(connection, &client, states, on_progress, &mut report)
                    .await
            }
            Err(e) => self.note_failure(connection, &e, &mut report).await,
        }
        report.api_calls = client.api_calls();
        report.org_usage = client.api_usage().map(|u| OrgUsage {
            used: u.api.used,
            max: u.api.limit,
        });
        self.save_spend(connection, &report).await;
        report
    }

    /// The states of the selected objects, selecting the defaults on a new connection.
    async fn selected_objects(&self, connection: &Connection) -> Result<Vec<ObjectState>, Error> {
        let mut states = self.store.load_object_states(connection.id).await?;
        if states.is_empty() {
            let defaults: Vec<ObjectName> = DEFAULT_OBJECTS
                .iter()
                .map(|o| ObjectName::parse(o).expect("default objects are valid names"))
                .collect();
            self.store
                .save_selected_objects(connection.id, &defaults)
                .await?;
            states = self.store.load_object_states(connection.id).await?;
        }
        Ok(states.into_iter().filter(|s| s.selected).collect())
    }

    async fn run_objects(
        &self,
        connection: &Connection,
        client: &SalesforceClient,
        states: Vec<ObjectState>,
        on_progress: &OnProgress,
        report: &mut TickReport,
    ) {
        let now = client_now_ms(client);
        let (quiet, busy): (Vec<_>, Vec<_>) = states
            .into_iter()
            .partition(|s| self.settings.run.is_quiet(s, now));
        let mut leftover = busy;
        if !quiet.is_empty() {
            let polled = self
                .poll_quiet(connection, client, quiet, on_progress, report)
                .await;
            leftover.extend(polled);
        }
        for state in leftover {
            if report.rate_limited || report.needs_reauthorization {
                return;
            }
            self.run_one(connection, client, &state, None, on_progress, report)
                .await;
        }
    }

    /// Polls quiet objects in composite calls; returns the objects whose poll failed, to be
    /// run on their own.
    async fn poll_quiet(
        &self,
        connection: &Connection,
        client: &SalesforceClient,
        quiet: Vec<ObjectState>,
        on_progress: &OnProgress,
        report: &mut TickReport,
    ) -> Vec<ObjectState> {
        let mut failed = Vec::new();
        for chunk in quiet.chunks(POLLS_PER_CALL) {
            let now = client_now_ms(client);
            let queries = poll_queries(&self.settings.run, chunk, now);
            let results = match client.fetch_composite_queries(&queries).await {
                Ok(results) => results,
                Err(e) => {
                    let e = Error::from(e);
                    if e.is_rate_limited() || e.needs_reauthorization() {
                        self.note_failure(connection, &e, report).await;
                        return Vec::new();
                    }
                    tracing::warn!(error = %e, "composite poll failed; running objects one by one");
                    failed.extend(chunk.iter().cloned());
                    continue;
                }
            };
            for (state, result) in chunk.iter().zip(results) {
                match result.page {
                    Ok(page) => {
                        self.run_one(connection, client, state, Some(page), on_progress, report)
                            .await
                    }
                    Err(_) => failed.push(state.clone()),
                }
            }
        }
        failed
    }

    /// Runs one object under its lease and records the run.
    async fn run_one(
        &self,
        connection: &Connection,
        client: &SalesforceClient,
        state: &ObjectState,
        polled: Option<QueryPage>,
        on_progress: &OnProgress,
        report: &mut TickReport,
    ) {
        let started = local_now_ms();
        let calls_before = client.api_calls();
        let lease = self.claim(connection, state, started).await;
        let epoch = match lease {
            Ok(Some(epoch)) => epoch,
            Ok(None) => return,
            Err(e) => {
                report.objects.push(ObjectOutcome {
                    object: state.object.clone(),
                    result: Err(e),
                });
                return;
            }
        };
        let run = ObjectRun {
            store: self.store.as_ref(),
            client,
            connection: connection.id,
            settings: &self.settings.run,
            lease_epoch: Some(epoch),
            on_progress,
        };
        let result = match polled {
            Some(page) => run.run_polled(state, page).await,
            None => run.run(state).await,
        };
        let calls = client.api_calls() - calls_before;
        self.record_run(connection, state, started, calls, &result)
            .await;
        if let Err(e) = &result {
            self.note_failure(connection, e, report).await;
        }
        report.objects.push(ObjectOutcome {
            object: state.object.clone(),
            result,
        });
    }

    async fn claim(
        &self,
        connection: &Connection,
        state: &ObjectState,
        now: i64,
    ) -> Result<Option<i64>, Error> {
        let until = now + crate::run::millis(self.settings.lease);
        let lease = self
            .store
            .claim_lease(
                connection.id,
                &state.object,
                &self.settings.owner,
                now,
                until,
            )
            .await?;
        Ok(lease.map(|l| l.epoch))
    }

    /// Saves the run and the object's schedule; a failure to record is logged, not raised,
    /// since the run's own pages are already committed.
    async fn record_run(
        &self,
        connection: &Connection,
        state: &ObjectState,
        started: i64,
        calls: u64,
        result: &Result<RunReport, Error>,
    ) {
        let finished = local_now_ms();
        let (outcome, error) = match result {
            Ok(_) => (RunOutcome::Succeeded, None),
            Err(e) if e.is_rate_limited() => (RunOutcome::Paused, Some(e.to_string())),
            Err(e) => (RunOutcome::Failed, Some(e.to_string())),
        };
        let done = result.as_ref().ok();
        let run = RunRecord {
            connection: connection.id,
            object: state.object.clone(),
            started_at_ms: started,
            finished_at_ms: finished,
            records_read: done.map_or(0, |r| r.records_read),
            events: done.map_or(0, |r| r.events),
            api_calls: calls,
            outcome,
            error: error.clone(),
        };
        let mut schedule = state.schedule.clone();
        schedule.last_run_at_ms = Some(finished);
        schedule.last_error = error;
        let saved = async {
            self.store.save_run(&run).await?;
            self.store
                .save_schedule(connection.id, &state.object, &schedule)
                .await
        };
        if let Err(e) = saved.await {
            tracing::error!(object = %state.object, error = %e, "could not record a run");
        }
    }

    /// Classifies a failure: invalid_grant marks the connection; the allocation pauses.
    async fn note_failure(&self, connection: &Connection, error: &Error, report: &mut TickReport) {
        if error.needs_reauthorization() {
            report.needs_reauthorization = true;
            tracing::error!(connection = %connection.id, error = %error, "connection needs re-authorization; polling stops");
            let status = ConnectionStatus::NeedsReauthorization;
            let detail = error.to_string();
            if let Err(e) = self
                .store
                .save_connection_status(connection.id, status, Some(&detail))
                .await
            {
                tracing::error!(error = %e, "could not mark the connection for re-authorization");
            }
        } else if error.is_rate_limited() {
            report.rate_limited = true;
            tracing::warn!(connection = %connection.id, "the org's daily API allocation is spent; pausing");
        } else {
            tracing::warn!(connection = %connection.id, error = %error, "object run failed");
        }
    }

    async fn save_spend(&self, connection: &Connection, report: &TickReport) {
        let calls = ApiCalls {
            connection: connection.id,
            at_ms: local_now_ms(),
            calls: u32::try_from(report.api_calls).unwrap_or(u32::MAX),
            org_usage: report.org_usage,
        };
        if let Err(e) = self.store.save_api_calls(&calls).await {
            tracing::error!(error = %e, "could not record API spend");
        }
    }
}

/// The composite subrequests polling `states`, named by position.
fn poll_queries(
    settings: &RunSettings,
    states: &[ObjectState],
    now_ms: i64,
) -> Vec<CompositeQuery> {
    states
        .iter()
        .enumerate()
        .map(|(i, state)| {
            let projection = state
                .projection
                .as_ref()
                .expect("quiet objects have a projection");
            CompositeQuery {
                reference_id: format!("poll{i}"),
                soql: ObjectRun::poll_soql(settings, projection, &state.progress, now_ms),
                options: QueryOptions::all(),
            }
        })
        .collect()
}

/// The server's time as the client last saw it, else the local clock.
pub(crate) fn client_now_ms(client: &SalesforceClient) -> i64 {
    client
        .server_time()
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .unwrap_or_else(local_now_ms)
}

/// The login host of a connection.
fn environment_of(connection: &Connection) -> Result<Environment, Error> {
    // The login URL recorded is the one the admin's authorization went through; for
    // Production and Sandbox it is the canonical host unless the operator pointed them
    // elsewhere (the demo, the tests), and a refresh must go back to the same host.
    Ok(Environment::custom(&connection.details.login_url)?)
}
