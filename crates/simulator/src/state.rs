//! The simulator's shared state: orgs, their users and sessions, usage counters and faults.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};

use serde::{Deserialize, Serialize};

use crate::clock::{Clock, Millis};
use crate::error::SimError;
use crate::ids::{IdBytes, id_str, make_id};
use crate::org::OrgData;
use crate::seed::{SeedCounts, seed};

/// Who an org is and who its integration user is.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OrgInfo {
    pub org_id: String,
    pub user_id: String,
    pub username: String,
    pub display_name: String,
    pub email: String,
    pub sandbox: bool,
}

/// Behaviour switches of one org, settable through the control API.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct OrgSettings {
    /// Refresh-token rotation: every refresh returns a new refresh token and reusing an old
    /// one revokes the whole grant.
    pub rotate_refresh_tokens: bool,
    /// The user lacks "Approve Uninstalled Connected Apps" and the app is not installed.
    pub approval_required: bool,
    /// Seconds of inactivity after which an access token stops working.
    pub session_timeout_secs: i64,
    /// A deactivated user's grants fail with `invalid_grant` / `inactive user`.
    pub user_active: bool,
    /// `DailyApiRequests.Max`.
    pub api_daily_limit: u64,
    /// `DailyBulkV2QueryJobs.Max`: query jobs the org may create; past it, creating one is
    /// refused with 400 `LIMIT_EXCEEDED`.
    #[serde(default = "bulk_query_jobs_daily_limit")]
    pub bulk_query_jobs_daily_limit: u64,
}

fn bulk_query_jobs_daily_limit() -> u64 {
    10_000
}

impl Default for OrgSettings {
    fn default() -> Self {
        OrgSettings {
            rotate_refresh_tokens: false,
            approval_required: false,
            session_timeout_secs: 7200,
            user_active: true,
            api_daily_limit: 100_000,
            bulk_query_jobs_daily_limit: bulk_query_jobs_daily_limit(),
        }
    }
}

/// A fault waiting to hit the next matching responses.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Fault {
    pub kind: FaultKind,
    #[serde(default = "one")]
    pub count: u32,
    #[serde(default)]
    pub delay_ms: u64,
    #[serde(default)]
    pub path: Option<String>,
}

fn one() -> u32 {
    1
}

/// The faults the control API can inject.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    ExpireSessions,
    InvalidSessionRest,
    Unavailable,
    QueryTimeout,
    InvalidQueryLocator,
    RequestLimit,
    Slow,
    MalformedBody,
    /// 404 NOT_FOUND, as from a server that does not serve the resource at all.
    NotFound,
    /// 400 MALFORMED_QUERY, as from a server that cannot run the statement.
    MalformedQuery,
}

/// API calls counted against the daily allocation, in hourly buckets for a rolling 24 hours.
#[derive(Debug, Default, Clone)]
pub struct Usage {
    buckets: VecDeque<(i64, u64)>,
    /// Extra usage set through the control API (other integrations' spend).
    pub baseline: u64,
    pub per_endpoint: HashMap<String, u64>,
    pub bytes_served: u64,
}

impl Usage {
    /// Calls in the last 24 hours, baseline included.
    pub fn used(&mut self, now: Millis) -> u64 {
        let hour = now / 3_600_000;
        while self.buckets.front().is_some_and(|(h, _)| *h <= hour - 24) {
            self.buckets.pop_front();
        }
        self.baseline + self.buckets.iter().map(|(_, n)| n).sum::<u64>()
    }

    /// Counts `n` calls to `endpoint`.
    pub fn count(&mut self, now: Millis, endpoint: &str, n: u64) {
        let hour = now / 3_600_000;
        match self.buckets.back_mut() {
            Some((h, count)) if *h == hour => *count += n,
            _ => self.buckets.push_back((hour, n)),
        }
        *self.per_endpoint.entry(endpoint.to_string()).or_default() += n;
    }
}

/// An access token's session.
#[derive(Debug, Clone)]
pub struct Session {
    pub org_id: String,
    pub last_used: Millis,
    pub grant: Option<u64>,
}

/// A refresh token's grant: the user's approval of the connected app.
#[derive(Debug, Clone)]
pub struct Grant {
    pub id: u64,
    pub org_id: String,
    pub client_id: String,
    pub created: Millis,
    pub current_refresh: String,
    pub revoked: bool,
}

/// An authorization code waiting to be exchanged.
#[derive(Debug, Clone)]
pub struct PendingCode {
    pub org_id: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub issued: Millis,
    pub scope: String,
}

/// Tokens and codes across every org.
#[derive(Debug, Default)]
pub struct AuthState {
    pub sessions: HashMap<String, Session>,
    pub refresh_tokens: HashMap<String, u64>,
    pub grants: HashMap<u64, Grant>,
    pub codes: HashMap<String, PendingCode>,
    pub next_grant: u64,
}

/// One simulated org.
#[derive(Debug)]
pub struct Org {
    pub info: OrgInfo,
    pub data: RwLock<OrgData>,
    pub seeded: OrgData,
    pub settings: Mutex<OrgSettings>,
    pub usage: Mutex<Usage>,
    pub faults: Mutex<Vec<Fault>>,
}

impl Org {
    /// Takes the first pending fault that applies to `path`, counting it down.
    pub fn take_fault(&self, path: &str, applies: impl Fn(FaultKind) -> bool) -> Option<Fault> {
        let mut faults = self.faults.lock().expect("faults lock");
        let position = faults
            .iter()
            .position(|f| applies(f.kind) && f.path.as_deref().is_none_or(|p| path.contains(p)))?;
        let fault = faults[position].clone();
        faults[position].count -= 1;
        if faults[position].count == 0 {
            faults.remove(position);
        }
        Some(fault)
    }

    /// Calls used in the rolling day and the limit.
    pub fn api_usage(&self, now: Millis) -> (u64, u64) {
        let limit = self.settings.lock().expect("settings lock").api_daily_limit;
        (self.usage.lock().expect("usage lock").used(now), limit)
    }
}

/// Everything the simulator holds.
#[derive(Debug)]
pub struct SimState {
    pub clock: Clock,
    pub client_id: String,
    pub client_secret: String,
    pub auto_approve: bool,
    pub base_url: RwLock<String>,
    pub orgs: RwLock<Vec<Arc<Org>>>,
    pub auth: Mutex<AuthState>,
    pub cursors: Mutex<crate::query::Cursors>,
    pub jobs: Mutex<crate::bulk::Jobs>,
    pub classic_jobs: Mutex<crate::bulk_v1::ClassicJobs>,
    pub default_settings: OrgSettings,
}

impl SimState {
    /// The org with this id (15 or 18 characters) or `default`.
    pub fn org(&self, key: &str) -> Result<Arc<Org>, SimError> {
        let orgs = self.orgs.read().expect("orgs lock");
        let found = if key == "default" {
            orgs.first()
        } else {
            orgs.iter()
                .find(|o| o.info.org_id == key || o.info.org_id[..15] == *key)
        };
        found.cloned().ok_or_else(SimError::not_found)
    }

    /// The org whose integration user has `username`.
    pub fn org_by_username(&self, username: &str) -> Option<Arc<Org>> {
        let orgs = self.orgs.read().expect("orgs lock");
        orgs.iter()
            .find(|o| o.info.username.eq_ignore_ascii_case(username))
            .cloned()
    }

    /// Creates an org with seeded data and returns it.
    pub fn add_org(&self, seed_value: u64, counts: SeedCounts, sandbox: bool) -> Arc<Org> {
        let mut orgs = self.orgs.write().expect("orgs lock");
        let n = orgs.len() as u64 + 1;
        let org_id = make_id("00D", "5g", n * 7919);
        let pod = format!("{}", char::from(b'A' + (n % 26) as u8)).repeat(1) + "x";
        let now = self.clock.now_stamp();
        let mut data = OrgData::new(crate::schema::standard_objects(), &pod, now);
        seed(&mut data, seed_value, counts, now);
        let info = integration_user(&mut data, &org_id, n, sandbox);
        let mut settings = self.default_settings.clone();
        if sandbox {
            settings.api_daily_limit = settings.api_daily_limit.max(5_000_000);
        }
        let org = Arc::new(Org {
            info,
            seeded: data.clone(),
            data: RwLock::new(data),
            settings: Mutex::new(settings),
            usage: Mutex::new(Usage::default()),
            faults: Mutex::new(Vec::new()),
        });
        orgs.push(org.clone());
        org
    }
}

/// The first seeded user becomes the integration user the org's tokens act as.
fn integration_user(data: &mut OrgData, org_id: &IdBytes, n: u64, sandbox: bool) -> OrgInfo {
    let users = data.table_index("User").expect("User object");
    let table = &data.tables[users];
    let first = table.rows.values().next().expect("seeded users").clone();
    let text = |name: &str| match first.get(table.def.system_index(name)) {
        sfsync_soql::Value::Text(t) => t.to_string(),
        _ => String::new(),
    };
    let domain = if sandbox {
        format!("acme{n}.sandbox")
    } else {
        format!("acme{n}")
    };
    let username = format!("integration@{domain}.example.com");
    let info = OrgInfo {
        org_id: id_str(org_id).to_string(),
        user_id: id_str(&first.id).to_string(),
        username,
        display_name: text("Name"),
        email: text("Email"),
        sandbox,
    };
    data.user_id = first.id;
    info
}
