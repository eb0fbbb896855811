//! The running service: the HTTP server and the scheduler side by side, on one store, until
//! shut down. `sfsync serve`, `sfsync demo` and the end-to-end tests all start it here.

use std::net::SocketAddr;
use std::sync::Arc;

use sfsync_engine::{ConnectedApp, Engine, EngineSettings, SchedulePolicy, Scheduler};
use sfsync_store::Store;
use sfsync_vault::KeyRing;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use url::Url;

use crate::{AppState, LoginHosts, Metrics};

/// What the service is started with.
pub struct ServiceConfig {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The master keys.
    pub ring: Arc<KeyRing>,
    /// The connected app sfsync operates.
    pub app: ConnectedApp,
    /// The public base URL; `None` takes `http://` and the bound address (tests, port 0).
    pub public_url: Option<Url>,
    /// Where Production and Sandbox log in.
    pub login_hosts: LoginHosts,
    /// The address to listen on.
    pub listen: SocketAddr,
    /// How the engine works.
    pub engine: EngineSettings,
    /// How the scheduler paces ticks.
    pub schedule: SchedulePolicy,
}

/// A running service; dropping it (or [`Service::shutdown`]) stops both halves.
pub struct Service {
    url: Url,
    bound: SocketAddr,
    state: Arc<AppState>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Service {
    /// Binds the listener and starts the HTTP server and the scheduler.
    pub async fn start(config: ServiceConfig) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let bound = listener.local_addr()?;
        let url = match config.public_url {
            Some(url) => url,
            None => Url::parse(&format!("http://{bound}/")).expect("an address makes a URL"),
        };
        let mut app = config.app;
        app.redirect_uri = url.join("oauth/callback").expect("a base URL takes a path");
        let engine = Arc::new(Engine::new(
            config.store.clone(),
            config.ring.clone(),
            app.clone(),
            config.engine.clone(),
        ));
        let state = Arc::new(AppState {
            store: config.store,
            ring: config.ring,
            engine: engine.clone(),
            app,
            public_url: url.clone(),
            login_hosts: config.login_hosts,
            http: config.engine.http.clone(),
            wake: Arc::new(Notify::new()),
            metrics: Arc::new(Metrics::default()),
        });
        let (stop, stopped) = watch::channel(false);
        let tasks = vec![
            tokio::spawn(run_http(listener, state.clone(), stopped.clone())),
            tokio::spawn(run_scheduler(
                engine,
                state.clone(),
                config.schedule,
                stopped,
            )),
        ];
        tracing::info!(url = %url, "sfsync is serving");
        Ok(Self {
            url,
            bound,
            state,
            stop,
            tasks,
        })
    }

    /// The service's base URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The address it listens on, which differs from the public URL behind a proxy.
    pub fn local_addr(&self) -> SocketAddr {
        self.bound
    }

    /// What every request shares (the store, the keys).
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// Stops accepting requests, lets the tick in flight finish its page, and waits.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn stopped(mut signal: watch::Receiver<bool>) {
    let _ = signal.wait_for(|stop| *stop).await;
}

async fn run_http(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    stop: watch::Receiver<bool>,
) {
    if let Err(e) = crate::serve(listener, state, stopped(stop)).await {
        tracing::error!(error = %e, "the HTTP server stopped");
    }
}

async fn run_scheduler(
    engine: Arc<Engine>,
    state: Arc<AppState>,
    policy: SchedulePolicy,
    stop: watch::Receiver<bool>,
) {
    let metrics = state.metrics.clone();
    let observer = move |connection: &sfsync_store::Connection,
                         report: &sfsync_engine::TickReport| {
        metrics.record_tick(connection.details.organization, report);
    };
    Scheduler::new(engine, policy)
        .with_waker(state.wake.clone())
        .with_observer(Arc::new(observer))
        .run(stopped(stop))
        .await;
}
