//! The scheduler inside `sfsync serve`: a tick per active connection at its polling
//! interval, stretched so sfsync never spends more than its share of the org's daily
//! allocation, and paused when Salesforce answers REQUEST_LIMIT_EXCEEDED.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sfsync_core::budget::ROLLING_DAY;
use sfsync_core::{ApiUsage, BudgetPolicy, plan_budget};
use sfsync_store::{Connection, ConnectionId, ConnectionStatus};
use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::Instrument;

use crate::run::{local_now_ms, millis};
use crate::sync::{Engine, TickReport};

/// How the scheduler paces ticks.
#[derive(Debug, Clone, Copy)]
pub struct SchedulePolicy {
    /// The interval and share used when a connection's own settings (set by its admins)
    /// cannot be read. Default: every 5 minutes, at most 50 % of the allocation.
    pub budget: BudgetPolicy,
    /// How long a connection waits after REQUEST_LIMIT_EXCEEDED before it tries again.
    /// Default 15 minutes.
    pub pause_on_limit: Duration,
    /// How often the list of connections is re-read (new connections, disconnects).
    /// Default 10 seconds.
    pub rescan: Duration,
}

impl Default for SchedulePolicy {
    fn default() -> Self {
        Self {
            budget: BudgetPolicy {
                share_percent: 50,
                polling_interval: Duration::from_secs(300),
            },
            pause_on_limit: Duration::from_secs(15 * 60),
            rescan: Duration::from_secs(10),
        }
    }
}

/// Runs ticks until shut down.
pub struct Scheduler {
    engine: Arc<Engine>,
    policy: SchedulePolicy,
    wake: Arc<Notify>,
    next: HashMap<ConnectionId, Instant>,
    observer: Option<Arc<TickObserver>>,
}

/// Called after every tick with the connection and what the tick did (metrics).
pub type TickObserver = dyn Fn(&Connection, &TickReport) + Send + Sync;

impl Scheduler {
    /// A scheduler over `engine`'s connections.
    pub fn new(engine: Arc<Engine>, policy: SchedulePolicy) -> Self {
        Self {
            engine,
            policy,
            wake: Arc::new(Notify::new()),
            next: HashMap::new(),
            observer: None,
        }
    }

    /// Wakes on `wake` instead of a notifier of its own, so a server built before the
    /// scheduler can hold the handle.
    pub fn with_waker(mut self, wake: Arc<Notify>) -> Self {
        self.wake = wake;
        self
    }

    /// Calls `observer` after every tick.
    pub fn with_observer(mut self, observer: Arc<TickObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// A handle that makes every connection due at once ("Sync now").
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Ticks due connections, one at a time, until `shutdown` completes. A tick in flight
    /// finishes its page first: each page is committed whole, so stopping between pages
    /// loses nothing.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let wait = self.tick_due().await;
            let woken = self.wake.clone();
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(wait) => {}
                () = woken.notified() => self.next.clear(),
            }
        }
    }

    /// Ticks every due connection; returns how long until the next check.
    async fn tick_due(&mut self) -> Duration {
        let connections = match self.engine.store().load_connections().await {
            Ok(connections) => connections,
            Err(e) => {
                tracing::error!(error = %e, "could not list connections");
                return self.policy.rescan;
            }
        };
        for connection in connections
            .iter()
            .filter(|c| c.status == ConnectionStatus::Active)
        {
            let due = self
                .next
                .get(&connection.id)
                .is_none_or(|at| *at <= Instant::now());
            if due {
                let span = tracing::info_span!("tick", connection = %connection.id);
                let (report, wait) = self.tick(connection).instrument(span).await;
                self.next.insert(connection.id, Instant::now() + wait);
                self.save_next_run(connection, wait).await;
                if let Some(observer) = &self.observer {
                    observer(connection, &report);
                }
            }
        }
        let soonest = self
            .next
            .values()
            .min()
            .map(|at| at.saturating_duration_since(Instant::now()));
        soonest
            .unwrap_or(self.policy.rescan)
            .min(self.policy.rescan)
    }

    /// One tick of a connection; returns what it did and how long it waits before the next.
    async fn tick(&self, connection: &Connection) -> (TickReport, Duration) {
        let report = self.engine.tick(connection, &|_, _| {}).await;
        tracing::info!(
            objects = report.objects.len(),
            events = report
                .objects
                .iter()
                .filter_map(|o| o.result.as_ref().ok())
                .map(|r| r.events)
                .sum::<u64>(),
            api_calls = report.api_calls,
            "tick done"
        );
        if report.rate_limited {
            return (report, self.policy.pause_on_limit);
        }
        let budget = self.budget_of(connection).await;
        let wait = self.paced_interval(connection, budget, &report).await;
        (report, wait)
    }

    /// Records when the connection's selected objects run next, for the admin's card.
    async fn save_next_run(&self, connection: &Connection, wait: Duration) {
        let store = self.engine.store();
        let next = local_now_ms() + millis(wait);
        let states = match store.load_object_states(connection.id).await {
            Ok(states) => states,
            Err(e) => return tracing::warn!(error = %e, "could not read object states"),
        };
        for state in states.into_iter().filter(|s| s.selected) {
            let mut schedule = state.schedule;
            schedule.next_run_at_ms = Some(next);
            if let Err(e) = store
                .save_schedule(connection.id, &state.object, &schedule)
                .await
            {
                tracing::warn!(object = %state.object, error = %e, "could not record the next run");
            }
        }
    }

    /// The connection's own interval and share, as its admins set them; the default policy
    /// when they cannot be read.
    async fn budget_of(&self, connection: &Connection) -> BudgetPolicy {
        match self
            .engine
            .store()
            .load_connection_settings(connection.id)
            .await
        {
            Ok(settings) => BudgetPolicy {
                share_percent: settings.budget_share_percent,
                polling_interval: Duration::from_secs(settings.polling_interval_secs.into()),
            },
            Err(e) => {
                tracing::warn!(error = %e, "could not read the polling settings; using defaults");
                self.policy.budget
            }
        }
    }

    /// The configured interval, stretched by the budget.
    async fn paced_interval(
        &self,
        connection: &Connection,
        budget: BudgetPolicy,
        report: &TickReport,
    ) -> Duration {
        let Some(usage) = report.org_usage else {
            return budget.polling_interval;
        };
        let since = local_now_ms() - millis(ROLLING_DAY);
        let spent = match self
            .engine
            .store()
            .load_api_spend(connection.id, since)
            .await
        {
            Ok(spend) => spend.calls,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the API spend; keeping the interval");
                return budget.polling_interval;
            }
        };
        let usage = ApiUsage {
            used: usage.used,
            max: usage.max,
        };
        let plan = plan_budget(budget, usage, spent, report.api_calls.max(1));
        if plan.interval > budget.polling_interval {
            tracing::info!(
                interval_s = plan.interval.as_secs(),
                "polling slowed to stay within the API budget"
            );
        }
        plan.interval
    }
}
