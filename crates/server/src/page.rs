//! The Integrations page (Settings › Organization Settings › Integrations) and its
//! Salesforce card: Connect, then Connected with who, when and where; each object's sync
//! status; the API spend; recent changes; the settings, Sync now and Disconnect for admins.
//! Every failure of Connect lands here as a [`Problem`] that says what to do next.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use sfsync_core::ChangeEvent;
use sfsync_store::{ConnectionSettings, Role, Store};

use crate::auth::{Caller, SignedIn};
use crate::html::{csrf_field, esc, layout};
use crate::view::{IntegrationView, ObjectView, SpendView};
use crate::{ApiError, AppState, admin};

/// Changes listed on the card.
const RECENT_CHANGES: u32 = 20;

/// Audit lines listed on the card.
const RECENT_AUDIT: u32 = 10;

/// Why Connect did not end in a connection, with what the admin should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// The Salesforce user pressed Deny, or an admin blocked the app.
    Denied,
    /// The user may not approve an app that is not installed in the org.
    ApprovalRequired,
    /// The callback's `state` is unknown: forged, or already used.
    StateUnknown,
    /// The login took longer than the pending authorization lives.
    StateExpired,
    /// The callback arrived in another browser session than the one that pressed Connect.
    StateOtherSession,
    /// The authorization code expired or was used before it was exchanged.
    CodeExpired,
    /// Salesforce granted no refresh token.
    NoRefreshToken,
    /// Salesforce refused or failed in another way.
    SalesforceError,
    /// The My Domain URL is not an acceptable login host.
    BadLoginUrl,
    /// A member tried what only admins may do.
    NotAdmin,
    /// sfsync failed inside.
    Internal,
}

const PROBLEMS: [Problem; 11] = [
    Problem::Denied,
    Problem::ApprovalRequired,
    Problem::StateUnknown,
    Problem::StateExpired,
    Problem::StateOtherSession,
    Problem::CodeExpired,
    Problem::NoRefreshToken,
    Problem::SalesforceError,
    Problem::BadLoginUrl,
    Problem::NotAdmin,
    Problem::Internal,
];

impl Problem {
    /// The stable word carried in the card's URL.
    pub fn word(self) -> &'static str {
        match self {
            Self::Denied => "denied",
            Self::ApprovalRequired => "approval_required",
            Self::StateUnknown => "state_unknown",
            Self::StateExpired => "state_expired",
            Self::StateOtherSession => "state_other_session",
            Self::CodeExpired => "code_expired",
            Self::NoRefreshToken => "no_refresh_token",
            Self::SalesforceError => "salesforce_error",
            Self::BadLoginUrl => "bad_login_url",
            Self::NotAdmin => "not_admin",
            Self::Internal => "internal",
        }
    }

    fn from_word(word: &str) -> Option<Self> {
        PROBLEMS.into_iter().find(|p| p.word() == word)
    }

    /// Back to the card, which explains the problem.
    pub fn redirect(self) -> Response {
        Redirect::to(&format!("/settings/integrations?problem={}", self.word())).into_response()
    }

    /// The problem behind an authorize callback that carried an error or a wrong `state`.
    pub fn from_authorize(error: &sfsync_salesforce::Error) -> Self {
        use sfsync_salesforce::Error as E;
        match error {
            E::ApprovalRequired { .. } => Self::ApprovalRequired,
            E::AuthorizationDenied { .. } => Self::Denied,
            E::StateMismatch => Self::StateUnknown,
            _ => Self::SalesforceError,
        }
    }

    /// The problem behind an `error` parameter on the callback.
    pub fn from_oauth_error(error: &str, description: Option<&str>) -> Self {
        let description = description.unwrap_or_default().to_owned();
        Self::from_authorize(&sfsync_salesforce::Error::from_oauth(
            error.to_owned(),
            description,
        ))
    }

    /// The problem behind a failed code exchange.
    pub fn from_exchange(error: &sfsync_salesforce::Error) -> Self {
        match error {
            sfsync_salesforce::Error::InvalidGrant { .. } => Self::CodeExpired,
            other => Self::from_authorize(other),
        }
    }

    /// A title and the guidance, as HTML.
    fn explain(self) -> (&'static str, &'static str) {
        match self {
            Self::ApprovalRequired => (
                "Salesforce did not let this user approve sfsync",
                APPROVAL_GUIDANCE,
            ),
            Self::Denied => (
                "Access was denied in Salesforce",
                "<p>The Salesforce user pressed <b>Deny</b>, or a Salesforce admin blocked the \
                 app. Press <b>Connect</b> and choose <b>Allow</b>. If the app is blocked, a \
                 Salesforce admin unblocks it in Setup › Connected Apps OAuth Usage.</p>",
            ),
            Self::StateUnknown => (
                "This sign-in does not match a Connect started here",
                "<p>The answer from Salesforce was already used (a reload or the back button) \
                 or did not come from a Connect started in sfsync. Nothing was connected. \
                 Press <b>Connect</b> to start again.</p>",
            ),
            Self::StateExpired => (
                "The Salesforce sign-in took too long",
                "<p>A Connect waits 10 minutes for Salesforce to answer. Press <b>Connect</b> to \
                 start again.</p>",
            ),
            Self::StateOtherSession => (
                "Connect was started in another browser session",
                "<p>For safety, a connection is completed only in the browser session that \
                 pressed Connect. Press <b>Connect</b> here to start again.</p>",
            ),
            Self::CodeExpired => (
                "Salesforce's authorization code expired",
                "<p>The code Salesforce sent back expired or was already used before sfsync \
                 could exchange it (codes last 15 minutes and work once). Press \
                 <b>Connect</b> to start again.</p>",
            ),
            Self::NoRefreshToken => (
                "Salesforce granted no refresh token",
                "<p>Without a refresh token sfsync cannot keep polling. The operator's \
                 connected app must offer the scope <i>Perform requests at any time \
                 (refresh_token, offline_access)</i>; see docs/OPERATOR.md.</p>",
            ),
            Self::SalesforceError => (
                "Salesforce refused the connection",
                "<p>Salesforce answered with an error sfsync did not expect. Try again; if it \
                 persists, the operator checks the connected app's settings \
                 (docs/OPERATOR.md) and sfsync's log.</p>",
            ),
            Self::BadLoginUrl => (
                "That My Domain URL cannot be used",
                "<p>Enter your org's login URL as https with the host only, for example \
                 <code>https://acme.my.salesforce.com</code>.</p>",
            ),
            Self::NotAdmin => (
                "Only admins can do that",
                "<p>Connecting, disconnecting and changing settings are for your \
                 organization's admins. Ask one of them.</p>",
            ),
            Self::Internal => (
                "sfsync failed while connecting",
                "<p>The error is in sfsync's log. Try again; if it persists, tell the \
                 operator.</p>",
            ),
        }
    }
}

/// What to do when the user may not approve an uninstalled connected app.
const APPROVAL_GUIDANCE: &str = "\
<p>Since September 2025, Salesforce lets a user authorize a connected app that is not \
installed in the org only if the user holds the permission <b>Approve Uninstalled Connected \
Apps</b>. Salesforce reports this as <code>OAUTH_APPROVAL_ERROR_GENERIC</code> or \
<i>app must be installed into org</i>. Ask your Salesforce admin to do one of these, then \
press <b>Connect</b> again:</p>\
<ol data-testid=\"approval-steps\">\
<li><b>Grant the permission for the connection only.</b> In Salesforce Setup, open \
<i>Permission Sets</i> and click <i>New</i>; name it <i>sfsync connect (temporary)</i>, \
leave the license blank, and save.</li>\
<li>In the new permission set open <i>System Permissions</i>, click <i>Edit</i>, tick \
<b>Approve Uninstalled Connected Apps</b> and save.</li>\
<li>Click <i>Manage Assignments</i>, <i>Add Assignment</i>, choose the Salesforce user who \
will connect (best: a dedicated integration user) and assign.</li>\
<li>Come back here, press <b>Connect</b>, log in as that user and choose <b>Allow</b>.</li>\
<li>Once the card says Connected, remove the assignment and delete the permission set: \
the connection keeps working without it.</li>\
</ol>\
<p>Or install the app for good: Setup › <i>Connected Apps OAuth Usage</i>, find sfsync, \
click <i>Install</i>, then set who may use it. The Salesforce admin's guide \
(docs/SALESFORCE_ADMIN.md) has both ways step by step.</p>";

/// Messages after an action went well; only these fixed texts are ever shown.
fn notice_text(word: &str) -> Option<&'static str> {
    Some(match word {
        "connected" => {
            "Connected to Salesforce. The initial load has started: the record counts below \
             grow as it runs."
        }
        "disconnected" => {
            "Disconnected: the token was revoked at Salesforce and deleted here, and polling \
             stopped."
        }
        "disconnected_unrevoked" => {
            "Disconnected here and polling stopped, but Salesforce could not be reached to \
             revoke the token: revoke it in Setup › Connected Apps OAuth Usage."
        }
        "settings_saved" => "Settings saved; the next run follows them.",
        "objects_saved" => "Object selection saved; new objects load on the next run.",
        "sync_started" => "Sync started: every selected object runs now.",
        _ => return None,
    })
}

/// `/`: to the Integrations page.
pub async fn home() -> Redirect {
    Redirect::to("/settings/integrations")
}

/// `GET /signin`: the sign-in form, filled from the link's fragment by a line of script.
pub async fn sign_in_form() -> Html<String> {
    layout("Sign in", SIGN_IN_BODY)
}

const SIGN_IN_BODY: &str = "\
<div class=\"card\"><h2>Sign in to sfsync</h2>\
<p class=\"muted\">Open the sign-in link you were given, or paste its code.</p>\
<form method=\"post\" action=\"/signin\" id=\"signin\">\
<input type=\"text\" name=\"code\" id=\"code\" size=\"50\" autocomplete=\"off\" aria-label=\"Sign-in code\"> \
<button type=\"submit\">Sign in</button></form></div>\
<script>const m=location.hash.match(/code=([^&]+)/);if(m){history.replaceState(null,'',location.pathname);\
document.getElementById('code').value=m[1];document.getElementById('signin').submit();}</script>";

/// The answer to a sign-in code that is unknown, used or expired.
pub fn sign_in_refused() -> Response {
    let body = "<div class=\"card\"><h2>That sign-in link does not work</h2>\
        <p>It was already used, has expired (links last 24 hours) or was mistyped. Ask an \
        admin of your organization for a new one.</p></div>";
    (StatusCode::UNAUTHORIZED, layout("Sign in", body)).into_response()
}

/// The query of the Integrations page.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    notice: Option<String>,
    problem: Option<String>,
    error: Option<String>,
    proof: Option<String>,
}

/// `GET /settings/integrations`: the page.
pub async fn integrations(
    State(state): State<Arc<AppState>>,
    SignedIn(caller): SignedIn,
    Query(query): Query<PageQuery>,
) -> Result<Html<String>, ApiError> {
    let store = state.store.as_ref();
    let view = crate::view::integration(store, &caller.organization).await?;
    let changes = store
        .load_recent_changes(caller.organization.id, RECENT_CHANGES)
        .await?;
    let mut body = header(&caller);
    body.push_str(&banner(&query, &caller));
    body.push_str("<section class=\"card\" data-testid=\"salesforce-card\"><h2>Salesforce</h2>");
    body.push_str(&format!(
        "<div id=\"sf-status\">{}</div>",
        status_html(&view, &changes)
    ));
    if caller.user.role == Role::Admin {
        body.push_str(&admin_forms(&caller, &view));
    }
    body.push_str("</section>");
    if caller.user.role == Role::Admin {
        body.push_str(&audit_html(store, &caller).await?);
    }
    body.push_str(REFRESH_SCRIPT);
    Ok(layout("Integrations", &body))
}

/// `GET /settings/integrations/salesforce/status`: the status section alone, which the page
/// re-reads every few seconds so that a load's progress and new changes appear.
pub async fn status_fragment(
    State(state): State<Arc<AppState>>,
    SignedIn(caller): SignedIn,
) -> Result<Html<String>, ApiError> {
    let store = state.store.as_ref();
    let view = crate::view::integration(store, &caller.organization).await?;
    let changes = store
        .load_recent_changes(caller.organization.id, RECENT_CHANGES)
        .await?;
    Ok(Html(status_html(&view, &changes)))
}

const REFRESH_SCRIPT: &str = "<script>setInterval(async()=>{try{const r=await \
fetch('/settings/integrations/salesforce/status',{credentials:'same-origin'});\
if(r.ok&&!r.redirected){document.getElementById('sf-status').innerHTML=await r.text();}}\
catch(e){}},4000);</script>";

fn header(caller: &Caller) -> String {
    let role = match caller.user.role {
        Role::Admin => "admin",
        Role::Member => "member",
    };
    let csrf = caller.csrf().unwrap_or_default();
    format!(
        "<header><strong>{org}</strong><form method=\"post\" action=\"/signout\">\
         <span class=\"muted\">{email} ({role})</span> {csrf}\
         <button class=\"secondary\" type=\"submit\">Sign out</button></form></header>\
         <nav class=\"crumbs\">Settings › Organization Settings › <b>Integrations</b></nav>",
        org = esc(caller.organization.slug.as_str()),
        email = esc(&caller.user.email),
        csrf = csrf_field(&csrf),
    )
}

fn banner(query: &PageQuery, caller: &Caller) -> String {
    if let Some(problem) = query.problem.as_deref().and_then(Problem::from_word) {
        let (title, guidance) = problem.explain();
        return format!(
            "<div class=\"problem\" data-testid=\"problem\" data-problem=\"{}\"><h3>{}</h3>{}</div>",
            problem.word(),
            esc(title),
            guidance
        );
    }
    let proof = query.proof.as_deref().unwrap_or_default();
    if let Some(error) = query
        .error
        .as_ref()
        .filter(|e| caller.is_own_message(e, proof))
    {
        return format!(
            "<div class=\"problem\" data-testid=\"problem\"><h3>That did not work</h3><p>{}</p></div>",
            esc(error)
        );
    }
    match query.notice.as_deref().and_then(notice_text) {
        Some(text) => format!("<div class=\"notice\" data-testid=\"notice\">{text}</div>"),
        None => String::new(),
    }
}

/// The status section: the connection, objects, spend and recent changes.
fn status_html(view: &IntegrationView, changes: &[ChangeEvent]) -> String {
    let mut out = connection_html(view);
    if view.connection.is_some() {
        out.push_str(&objects_html(&view.objects, view.status == "connected"));
        out.push_str(&spend_html(&view.api, view.settings.budget_share_percent));
        out.push_str(&changes_html(changes));
    }
    out
}

fn connection_html(view: &IntegrationView) -> String {
    let (class, label) = match view.status {
        "connected" => ("ok", "Connected"),
        "needs_reauthorization" => ("bad", "Needs re-authorization"),
        "disconnected" => ("off", "Disconnected"),
        _ => ("off", "Not connected"),
    };
    let mut out = format!(
        "<p><span class=\"badge {class}\" data-testid=\"status\" data-status=\"{}\">{label}</span></p>",
        view.status
    );
    if view.status == "needs_reauthorization" {
        out.push_str(&format!(
            "<p data-testid=\"reauth\">Salesforce no longer accepts sfsync's refresh token \
             (<code>{}</code>): it was revoked, expired, or the user was deactivated. Polling \
             has stopped. An admin presses <b>Reconnect</b> below and logs in again; the \
             synced data and cursors are kept.</p>",
            esc(view.status_detail.as_deref().unwrap_or("invalid_grant"))
        ));
    }
    let Some(c) = &view.connection else {
        return out;
    };
    let instance = match c.environment {
        "production" => "Production",
        "sandbox" => "Sandbox",
        _ => "My Domain",
    };
    // After a disconnect the details stay, as history: say so.
    let was = if view.status == "disconnected" {
        "Was connected"
    } else {
        "Connected"
    };
    out.push_str(&format!(
        "<dl data-testid=\"connection\"><dt>{was} by</dt><dd data-testid=\"connected-by\">{by} \
         as Salesforce user <b data-testid=\"sf-username\">{user}</b></dd>\
         <dt>{was} on</dt><dd data-testid=\"connected-at\">{at}</dd>\
         <dt>Instance</dt><dd data-testid=\"environment\">{instance}</dd>\
         <dt>Instance URL</dt><dd data-testid=\"instance-url\">{url}</dd>\
         <dt>Salesforce org</dt><dd>{org}</dd></dl>",
        by = esc(&c.connected_by),
        user = esc(&c.salesforce_username),
        at = esc(&human_time(&c.connected_at)),
        url = esc(&c.instance_url),
        org = esc(&c.salesforce_org_id),
    ));
    out
}

/// The selected objects' status; the next run only while polling goes on.
fn objects_html(objects: &[ObjectView], polling: bool) -> String {
    let mut out = String::from(
        "<h3>Objects</h3><table data-testid=\"objects\"><tr><th>Object</th><th>Records</th>\
         <th>Initial load</th><th>Last successful run</th><th>Next run</th><th>Last error</th></tr>",
    );
    for o in objects.iter().filter(|o| o.selected) {
        let load = if o.loaded { "done" } else { "running" };
        out.push_str(&format!(
            "<tr data-object=\"{name}\"><td>{name}</td><td data-testid=\"records\">{records}</td>\
             <td>{load}</td><td>{success}</td><td>{next}</td><td>{error}</td></tr>",
            name = esc(&o.object),
            records = grouped(o.records),
            success = esc(&o.last_success_at.as_deref().map_or("—".into(), human_time)),
            next = esc(&o
                .next_run_at
                .as_deref()
                .filter(|_| polling)
                .map_or("—".into(), human_time)),
            error = esc(o.last_error.as_deref().unwrap_or("")),
        ));
    }
    out.push_str("</table>");
    out
}

fn spend_html(api: &SpendView, share: u8) -> String {
    let org = match (api.org_used, api.org_max) {
        (Some(used), Some(max)) => format!(
            "the org has used {} of its {} daily calls, and sfsync may use up to {} ({share} %)",
            grouped(used),
            grouped(max),
            grouped(max * u64::from(share) / 100)
        ),
        _ => "the org's usage appears after the first run".to_owned(),
    };
    format!(
        "<h3>API spend</h3><p data-testid=\"api-spend\">sfsync made <b>{}</b> calls in the last \
         24 hours; {org}.</p>{}",
        grouped(api.sfsync_calls_24h),
        chart(api)
    )
}

/// A count with thousands separators: 100,000.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An ISO 8601 instant as people read it on the card: `2026-12-04 06:42:39 UTC`.
fn human_time(iso: &str) -> String {
    match iso.get(..19) {
        Some(seconds) if iso.len() > 19 => format!("{} UTC", seconds.replacen('T', " ", 1)),
        _ => iso.to_owned(),
    }
}

/// sfsync's calls per hour over the last day: one slot per hour, the current one at the
/// right, on a baseline.
fn chart(api: &SpendView) -> String {
    const HOUR_MS: i64 = 3_600_000;
    let max = api.hourly.iter().map(|h| h.calls).max().unwrap_or(0).max(1);
    let this_hour = crate::auth::now_ms() / HOUR_MS;
    let bars: String = api
        .hourly
        .iter()
        .filter_map(|h| {
            let ago = this_hour - h.hour_ms / HOUR_MS;
            let slot = 23 - ago;
            let height = (h.calls * 40 / max).max(1);
            (0..24).contains(&slot).then(|| {
                format!(
                    "<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"{height}\">\
                     <title>{}: {} calls</title></rect>",
                    slot * 12,
                    40 - height,
                    esc(&human_time(&h.hour)),
                    h.calls
                )
            })
        })
        .collect();
    format!(
        "<figure class=\"chart\"><svg width=\"288\" height=\"42\" role=\"img\" \
         aria-label=\"sfsync API calls per hour, last 24 hours\">{bars}\
         <line x1=\"0\" y1=\"41\" x2=\"288\" y2=\"41\"/></svg>\
         <figcaption class=\"muted\">calls per hour, last 24 hours (now at the right; \
         peak {max})</figcaption></figure>"
    )
}

fn changes_html(changes: &[ChangeEvent]) -> String {
    if changes.is_empty() {
        return "<h3>Recent changes</h3><p class=\"muted\" data-testid=\"changes\">None yet.</p>"
            .to_owned();
    }
    let mut out = String::from(
        "<h3>Recent changes</h3><table data-testid=\"changes\"><tr><th>Detected</th>\
         <th>Record</th><th>Change</th><th>Fields</th></tr>",
    );
    for event in changes {
        out.push_str(&change_row(event));
    }
    out.push_str("</table>");
    out
}

fn change_row(event: &ChangeEvent) -> String {
    let fields: String = event
        .change
        .fields
        .iter()
        .take(6)
        .map(|(name, change)| {
            let old = serde_json::to_string(&change.old).unwrap_or_default();
            let new = serde_json::to_string(&change.new).unwrap_or_default();
            format!(
                "<div><code>{}</code>: <span class=\"diff-old\">{}</span> → <span class=\"diff-new\">{}</span></div>",
                esc(name.as_str()),
                esc(&truncate(&old, 60)),
                esc(&truncate(&new, 60))
            )
        })
        .collect();
    let kind = serde_json::to_value(event.change.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    format!(
        "<tr data-testid=\"change\"><td class=\"when\">{}</td><td>{} <code>{}</code></td><td>{}</td><td>{}</td></tr>",
        esc(&human_time(&sfsync_core::format_datetime(
            event.detected_at_ms
        ))),
        esc(event.object.as_str()),
        esc(event.change.record_id.as_str()),
        esc(&kind),
        fields
    )
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Connect (or Reconnect), and for a connection its settings, Sync now and Disconnect.
fn admin_forms(caller: &Caller, view: &IntegrationView) -> String {
    let csrf = caller.csrf().unwrap_or_default();
    let mut out = String::new();
    if view.status != "connected" {
        out.push_str(&connect_form(&csrf, view.status));
    }
    if matches!(view.status, "connected" | "needs_reauthorization") {
        out.push_str(&format!(
            "<form method=\"post\" action=\"/settings/integrations/salesforce/sync\">{}\
             <button type=\"submit\" data-testid=\"sync-now\">Sync now</button> \
             <span class=\"muted\">runs every selected object at once</span></form>\
             <h3>Settings</h3>",
            csrf_field(&csrf)
        ));
        out.push_str(&settings_form(&csrf, view));
        out.push_str(&disconnect_form(&csrf));
    }
    out
}

fn connect_form(csrf: &str, status: &str) -> String {
    let label = match status {
        "needs_reauthorization" => "Reconnect",
        _ => "Connect",
    };
    format!(
        "<form method=\"post\" action=\"/settings/integrations/salesforce/connect\" \
         data-testid=\"connect-form\">{csrf}<fieldset><legend>Where does your org log in?</legend>\
         <label><input type=\"radio\" name=\"environment\" value=\"production\" checked> \
         Production (login.salesforce.com)</label><br>\
         <label><input type=\"radio\" name=\"environment\" value=\"sandbox\"> Sandbox \
         (test.salesforce.com)</label><br>\
         <label><input type=\"radio\" name=\"environment\" value=\"custom\"> My Domain: \
         <input type=\"url\" name=\"login_url\" placeholder=\"https://acme.my.salesforce.com\" \
         size=\"36\"></label></fieldset>\
         <p class=\"muted\">You will log in to Salesforce and allow sfsync to read data \
         (scopes <code>api refresh_token offline_access</code>). Nothing is installed in your \
         org, and sfsync sees only what that Salesforce user may see.</p>\
         <button type=\"submit\" data-testid=\"connect\">{label}</button></form>",
        csrf = csrf_field(csrf),
    )
}

fn settings_form(csrf: &str, view: &IntegrationView) -> String {
    let objects: String = view
        .objects
        .iter()
        .map(|o| {
            let checked = if o.selected { " checked" } else { "" };
            format!(
                "<label><input type=\"checkbox\" name=\"object\" value=\"{0}\"{checked}> {0}</label> ",
                esc(&o.object)
            )
        })
        .collect();
    format!(
        "<form method=\"post\" action=\"/settings/integrations/salesforce/settings\" \
         data-testid=\"settings-form\">{csrf}<fieldset><legend>Polling</legend>\
         <label>Every <input type=\"number\" name=\"polling_interval_minutes\" min=\"1\" \
         max=\"1440\" value=\"{minutes}\"> minutes</label>, using at most \
         <label><input type=\"number\" name=\"budget_share_percent\" min=\"1\" max=\"100\" \
         value=\"{share}\"> % of the org's daily API allocation</label></fieldset>\
         <fieldset><legend>Objects</legend>{objects}<br><label>Add custom objects: \
         <input type=\"text\" name=\"custom_objects\" placeholder=\"Invoice__c, Project__c\" \
         size=\"36\"></label></fieldset><button type=\"submit\">Save settings</button></form>",
        csrf = csrf_field(csrf),
        minutes = view.settings.polling_interval_secs / 60,
        share = view.settings.budget_share_percent,
    )
}

fn disconnect_form(csrf: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/settings/integrations/salesforce/disconnect\" \
         data-testid=\"disconnect-form\">{}<fieldset><legend>Disconnect</legend>\
         <p class=\"muted\">Revokes sfsync's token at Salesforce, deletes it here and stops \
         polling.</p><label><input type=\"radio\" name=\"data\" value=\"keep\" checked> Keep \
         the synced records and changes</label><br><label><input type=\"radio\" name=\"data\" \
         value=\"delete\"> Delete them</label></fieldset>\
         <button class=\"danger\" type=\"submit\" data-testid=\"disconnect\">Disconnect</button></form>",
        csrf_field(csrf)
    )
}

async fn audit_html(store: &dyn Store, caller: &Caller) -> Result<String, ApiError> {
    let entries = store
        .load_audit(caller.organization.id, RECENT_AUDIT)
        .await?;
    let users = store.load_users(caller.organization.id).await?;
    let rows: String = entries
        .iter()
        .map(|e| {
            let who = e
                .user
                .and_then(|id| users.iter().find(|u| u.id == id))
                .map_or("sfsync", |u| u.email.as_str());
            format!(
                "<tr><td class=\"when\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&human_time(&sfsync_core::format_datetime(e.at_ms))),
                esc(who),
                esc(&e.action),
                esc(&e.detail)
            )
        })
        .collect();
    Ok(format!(
        "<section class=\"card\" data-testid=\"audit\"><h2>Audit log</h2><table><tr><th>When</th>\
         <th>Who</th><th>What</th><th>Details</th></tr>{rows}</table></section>"
    ))
}

/// The CSRF proof of a form without other fields.
#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST …/sync`: Sync now.
pub async fn sync_now(
    State(state): State<Arc<AppState>>,
    SignedIn(caller): SignedIn,
    axum::Form(form): axum::Form<CsrfForm>,
) -> Result<Response, ApiError> {
    caller.check_csrf(&form.csrf)?;
    if caller.require_admin().is_err() {
        return Ok(Problem::NotAdmin.redirect());
    }
    admin::sync_now(&state, &caller).await?;
    Ok(Redirect::to("/settings/integrations?notice=sync_started").into_response())
}

/// `POST …/settings`: the polling settings and the object selection. Read by hand, as the
/// `object` checkboxes repeat a key.
pub async fn save_settings(
    State(state): State<Arc<AppState>>,
    SignedIn(caller): SignedIn,
    body: Bytes,
) -> Result<Response, ApiError> {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |key: &str| form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    caller.check_csrf(field("csrf").unwrap_or_default())?;
    if caller.require_admin().is_err() {
        return Ok(Problem::NotAdmin.redirect());
    }
    match apply_settings(&state, &caller, &form).await {
        Ok(()) => Ok(Redirect::to("/settings/integrations?notice=settings_saved").into_response()),
        Err(ApiError::BadRequest(message) | ApiError::Salesforce(message)) => {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("error", &message)
                .append_pair("proof", &caller.message_proof(&message).unwrap_or_default())
                .finish();
            Ok(Redirect::to(&format!("/settings/integrations?{query}")).into_response())
        }
        Err(e) => Err(e),
    }
}

async fn apply_settings(
    state: &AppState,
    caller: &Caller,
    form: &[(String, String)],
) -> Result<(), ApiError> {
    let field = |key: &str| form.iter().find(|(k, _)| k == key).map(|(_, v)| v.trim());
    let number = |key: &str| -> Result<u32, ApiError> {
        let text = field(key).unwrap_or_default();
        text.parse()
            .map_err(|_| ApiError::BadRequest(format!("{key} {text:?} is not a whole number")))
    };
    let settings = ConnectionSettings {
        polling_interval_secs: number("polling_interval_minutes")?.saturating_mul(60),
        budget_share_percent: u8::try_from(number("budget_share_percent")?.min(255))
            .unwrap_or(u8::MAX),
    };
    let checked = form
        .iter()
        .filter(|(k, _)| k == "object")
        .map(|(_, v)| v.as_str());
    let custom = field("custom_objects")
        .unwrap_or_default()
        .split([',', ' ']);
    let objects = admin::parse_objects(checked.chain(custom))?;
    if objects.is_empty() {
        return Err(ApiError::BadRequest(
            "select at least one object; Disconnect stops syncing altogether".into(),
        ));
    }
    admin::save_settings(state, caller, settings).await?;
    let connection = admin::connection_of(state, caller).await?;
    let current: Vec<_> = state
        .store
        .load_object_states(connection.id)
        .await?
        .into_iter()
        .filter(|s| s.selected)
        .map(|s| s.object)
        .collect();
    if current != objects {
        admin::select_objects(state, caller, &objects).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(100_000), "100,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }

    #[test]
    fn instants_read_as_utc_seconds_and_odd_text_is_left_alone() {
        assert_eq!(
            human_time("2026-12-04T06:42:39.979Z"),
            "2026-12-04 06:42:39 UTC"
        );
        assert_eq!(human_time("soon"), "soon");
    }

    #[test]
    fn every_problem_word_reads_back_as_itself() {
        for problem in PROBLEMS {
            assert_eq!(Problem::from_word(problem.word()), Some(problem));
        }
        assert_eq!(Problem::from_word("<script>"), None);
    }

    #[test]
    fn callback_errors_map_to_the_guidance_salesforce_calls_for() {
        let approval =
            Problem::from_oauth_error("invalid_client", Some("app must be installed into org"));
        assert_eq!(approval, Problem::ApprovalRequired);
        assert_eq!(
            Problem::from_oauth_error("OAUTH_APPROVAL_ERROR_GENERIC", None),
            Problem::ApprovalRequired
        );
        assert_eq!(
            Problem::from_oauth_error("access_denied", None),
            Problem::Denied
        );
        assert_eq!(
            Problem::from_oauth_error("invalid_client", Some("invalid client credentials")),
            Problem::SalesforceError
        );
    }
}
