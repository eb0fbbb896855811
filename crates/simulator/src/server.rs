//! Starting and stopping the simulator: configuration, the router, plain HTTP or HTTPS
//! with a self-signed certificate.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};

use axum::Router;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tower_http::compression::CompressionLayer;

use crate::seed::SeedCounts;
use crate::state::{OrgInfo, OrgSettings, SimState};

/// The consumer key the simulator's connected app has unless told otherwise.
pub const DEFAULT_CLIENT_ID: &str = "3MVG9sfsyncSimulatorConsumerKey";
/// The consumer secret that goes with it.
pub const DEFAULT_CLIENT_SECRET: &str = "sfsync-simulator-consumer-secret";

/// How to start a simulator.
#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Seed of the generated data.
    pub seed: u64,
    /// Records generated per object in the default org.
    pub counts: SeedCounts,
    /// Background changes per minute (0 = none).
    pub activity_per_min: u32,
    /// The connected app's consumer key.
    pub client_id: String,
    /// The connected app's consumer secret.
    pub client_secret: String,
    /// Skip the login-and-consent page, as for a user who already approved the app.
    pub auto_approve: bool,
    /// Serve HTTPS with a fresh self-signed certificate for 127.0.0.1 and localhost.
    pub tls: bool,
    /// Settings every new org starts with.
    pub settings: OrgSettings,
    /// Whether the default org is a sandbox.
    pub sandbox: bool,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            port: 0,
            seed: 1,
            counts: SeedCounts::default(),
            activity_per_min: 0,
            client_id: DEFAULT_CLIENT_ID.to_string(),
            client_secret: DEFAULT_CLIENT_SECRET.to_string(),
            auto_approve: false,
            tls: false,
            settings: OrgSettings::default(),
            sandbox: false,
        }
    }
}

/// A running simulator. Dropping it stops the server.
pub struct Simulator {
    url: String,
    state: Arc<SimState>,
    certificate_pem: Option<String>,
    tasks: Vec<JoinHandle<()>>,
}

impl Simulator {
    /// Seeds the default org and starts serving.
    pub async fn start(config: SimulatorConfig) -> std::io::Result<Simulator> {
        let state = Arc::new(SimState {
            clock: Default::default(),
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
            auto_approve: config.auto_approve,
            base_url: RwLock::new(String::new()),
            orgs: RwLock::new(Vec::new()),
            auth: Mutex::new(Default::default()),
            cursors: Mutex::new(Default::default()),
            jobs: Mutex::new(Default::default()),
            classic_jobs: Mutex::new(Default::default()),
            default_settings: config.settings.clone(),
        });
        state.add_org(config.seed, config.counts, config.sandbox);
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], config.port))).await?;
        let addr = listener.local_addr()?;
        let scheme = if config.tls { "https" } else { "http" };
        let url = format!("{scheme}://127.0.0.1:{}", addr.port());
        *state.base_url.write().expect("base url") = url.clone();
        let app = router(state.clone());
        let mut tasks = Vec::new();
        let (certificate_pem, acceptor) = if config.tls {
            let (pem, acceptor) = tls::acceptor()?;
            (Some(pem), Some(acceptor))
        } else {
            (None, None)
        };
        tasks.push(tokio::spawn(serve(listener, acceptor, app)));
        if config.activity_per_min > 0 {
            tasks.push(tokio::spawn(crate::activity::run(
                state.clone(),
                config.activity_per_min,
                config.seed,
            )));
        }
        Ok(Simulator {
            url,
            state,
            certificate_pem,
            tasks,
        })
    }

    /// The base URL: both the login URL and the instance URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The org created at start.
    pub fn default_org(&self) -> OrgInfo {
        self.state
            .org("default")
            .expect("the default org exists")
            .info
            .clone()
    }

    /// The self-signed certificate (PEM) when serving HTTPS.
    pub fn certificate_pem(&self) -> Option<&str> {
        self.certificate_pem.as_deref()
    }

    /// Mints an access and a refresh token for an org, as if its user approved the app.
    pub fn grant(&self, org_id: &str) -> Option<serde_json::Value> {
        let org = self.state.org(org_id).ok()?;
        Some(crate::oauth::grant_tokens(&self.state, &org))
    }

    /// Records held across all orgs (recycle bin included).
    pub fn record_count(&self) -> usize {
        let orgs = self.state.orgs.read().expect("orgs");
        orgs.iter()
            .map(|o| o.data.read().expect("org").record_count())
            .sum()
    }

    /// Waits until the server task ends (it runs until the simulator is dropped).
    pub async fn wait(mut self) {
        if let Some(server) = self.tasks.first_mut() {
            let _ = server.await;
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn router(state: Arc<SimState>) -> Router {
    Router::new()
        .route("/services/data", get(crate::rest::versions))
        .route("/services/data/", get(crate::rest::versions))
        .route(
            "/services/data/{*rest}",
            axum::routing::any(crate::rest::data_api),
        )
        .route(
            "/services/async/{*rest}",
            axum::routing::any(crate::bulk_v1::async_api),
        )
        .route(
            "/services/oauth2/authorize",
            get(crate::oauth::authorize_page).post(crate::oauth::authorize_submit),
        )
        .route("/services/oauth2/token", post(crate::oauth::token))
        .route(
            "/services/oauth2/revoke",
            post(crate::oauth::revoke).get(crate::oauth::revoke),
        )
        .route(
            "/services/oauth2/userinfo",
            get(crate::oauth::userinfo).post(crate::oauth::userinfo),
        )
        .route(
            "/id/{org}/{user}",
            get(crate::oauth::identity).post(crate::oauth::identity),
        )
        .merge(crate::control::router())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            stamp_date,
        ))
        // Fastest gzip: pages are large and compressing them must not be what limits a sync.
        .layer(CompressionLayer::new().quality(tower_http::CompressionLevel::Fastest))
        .with_state(state)
}

/// Sets `Date` from the simulator's clock rather than the machine's: clients take the
/// server's time from this header (a sync stops a little behind it), and a test that moves
/// the clock forward must move what they see too.
async fn stamp_date(
    axum::extract::State(state): axum::extract::State<Arc<SimState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut response = next.run(request).await;
    let now = crate::rest::http_date(state.clock.now_ms());
    if let Ok(value) = axum::http::HeaderValue::from_str(&now) {
        response
            .headers_mut()
            .insert(axum::http::header::DATE, value);
    }
    response
}

/// Accepts connections, over TLS when there is an acceptor, and serves the router on each.
async fn serve(listener: TcpListener, acceptor: Option<tokio_rustls::TlsAcceptor>, app: Router) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors, most likely: give connections time to close rather
            // than spin on the error.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let Some(acceptor) = acceptor else {
                return serve_connection(stream, app).await;
            };
            if let Ok(tls) = acceptor.accept(stream).await {
                serve_connection(tls, app).await;
            }
        });
    }
}

/// Serves one connection. HTTP/1 header names go out in Title-Case, as Salesforce's do:
/// header names are case-insensitive, but clients that copy the headers into a plain
/// dictionary look up `Content-Type`, and Airbyte's Bulk reader fails on `content-type`.
async fn serve_connection<I>(io: I, app: Router)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let io = hyper_util::rt::TokioIo::new(io);
    let service = hyper_util::service::TowerToHyperService::new(app);
    let mut builder =
        hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
    builder.http1().title_case_headers(true);
    let _ = builder.serve_connection(io, service).await;
}

mod tls {
    //! HTTPS with a self-signed certificate, so that clients which insist on `https://`
    //! instance URLs (simple-salesforce does) work unchanged, trusting the certificate.

    use std::sync::Arc;

    use tokio_rustls::TlsAcceptor;
    use tokio_rustls::rustls::ServerConfig;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

    /// A fresh certificate authority, a certificate for 127.0.0.1 and localhost signed by it,
    /// and an acceptor serving the latter. The CA's PEM is what clients are told to trust
    /// (OpenSSL refuses a self-signed leaf as its own trust anchor).
    pub fn acceptor() -> std::io::Result<(String, TlsAcceptor)> {
        let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
        let (ca_pem, chain, key) = certificates().map_err(std::io::Error::other)?;
        let mut config = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(std::io::Error::other)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok((ca_pem, TlsAcceptor::from(Arc::new(config))))
    }

    type Chain = (String, Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

    fn certificates() -> Result<Chain, rcgen::Error> {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "sfsync simulator CA");
        let ca_key = rcgen::KeyPair::generate()?;
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key)?;
        let leaf_params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])?;
        let leaf_key = rcgen::KeyPair::generate()?;
        let leaf = leaf_params.signed_by(&leaf_key, &ca)?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let chain = vec![leaf.der().clone(), ca.der().clone()];
        Ok((ca.pem(), chain, key))
    }
}
