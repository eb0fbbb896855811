//! The scheduler inside `sfsync serve`, against the simulator: each connection is paced by
//! its own settings, Sync now wakes it at once, REQUEST_LIMIT_EXCEEDED pauses it until
//! usage falls, and a budget that is spent stretches the interval.

mod support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use sfsync_engine::{SchedulePolicy, Scheduler, TickReport};
use sfsync_store::{Connection, ConnectionSettings, Store};
use support::{Harness, engine, quiet_settings, small_counts};
use tokio::sync::{Notify, mpsc, oneshot};

/// What the observer saw of one tick.
#[derive(Debug)]
struct Seen {
    rate_limited: bool,
    objects: usize,
}

/// A scheduler running over the harness's store, with its waker and what it ticked.
struct Running {
    wake: Arc<Notify>,
    ticks: mpsc::UnboundedReceiver<Seen>,
    _stop: oneshot::Sender<()>,
}

impl Running {
    async fn next_tick(&mut self) -> Seen {
        tokio::time::timeout(Duration::from_secs(30), self.ticks.recv())
            .await
            .expect("a tick within 30 s")
            .expect("the scheduler runs")
    }
}

fn start(harness: &Harness, policy: SchedulePolicy) -> Running {
    let engine = Arc::new(engine(
        harness.store.clone(),
        harness.ring.clone(),
        quiet_settings(),
    ));
    let (sender, ticks) = mpsc::unbounded_channel();
    let observer = move |_: &Connection, report: &TickReport| {
        let seen = Seen {
            rate_limited: report.rate_limited,
            objects: report.objects.len(),
        };
        let _ = sender.send(seen);
    };
    let wake = Arc::new(Notify::new());
    let scheduler = Scheduler::new(engine, policy)
        .with_waker(wake.clone())
        .with_observer(Arc::new(observer));
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(scheduler.run(async {
        let _ = stopped.await;
    }));
    Running {
        wake,
        ticks,
        _stop: stop,
    }
}

/// How far the selected objects' next run is from now, in seconds (the same for all).
async fn next_run_in_secs(harness: &Harness) -> i64 {
    let states = harness
        .store
        .load_object_states(harness.connection.id)
        .await
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let next: Vec<i64> = states
        .iter()
        .filter(|s| s.selected)
        .map(|s| s.schedule.next_run_at_ms.expect("a next run is recorded"))
        .collect();
    assert!(!next.is_empty());
    (next[0] - now) / 1000
}

async fn save_settings(harness: &Harness, polling_interval_secs: u32, budget_share_percent: u8) {
    let settings = ConnectionSettings {
        polling_interval_secs,
        budget_share_percent,
    };
    harness
        .store
        .save_connection_settings(harness.connection.id, &settings)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_connection_waits_its_own_interval_and_sync_now_wakes_it() {
    let harness = Harness::start(small_counts(), quiet_settings()).await;
    save_settings(&harness, 3600, 50).await;
    let mut running = start(&harness, SchedulePolicy::default());

    let first = running.next_tick().await;
    assert!(!first.rate_limited && first.objects > 0, "{first:?}");
    let wait = next_run_in_secs(&harness).await;
    assert!(
        (3500..=3600).contains(&wait),
        "next run in {wait} s, not the hour set"
    );

    running.wake.notify_one();
    let woken = running.next_tick().await;
    assert!(woken.objects > 0, "Sync now ran the objects: {woken:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_limit_exceeded_pauses_until_usage_falls_then_resumes() {
    let harness = Harness::start(small_counts(), quiet_settings()).await;
    save_settings(&harness, 60, 50).await;
    harness
        .settings(json!({"api_daily_limit": 1000, "api_used": 1000}))
        .await;
    let policy = SchedulePolicy {
        pause_on_limit: Duration::from_secs(900),
        ..SchedulePolicy::default()
    };
    let mut running = start(&harness, policy);

    let refused = running.next_tick().await;
    assert!(refused.rate_limited, "{refused:?}");
    let wait = next_run_in_secs(&harness).await;
    assert!(
        (850..=900).contains(&wait),
        "paused for {wait} s, not the 15 minutes set"
    );
    assert!(harness.changes().await.is_empty());

    // Usage falls (the rolling day moved on); an admin presses Sync now.
    harness.settings(json!({"api_used": 0})).await;
    running.wake.notify_one();
    let resumed = running.next_tick().await;
    assert!(!resumed.rate_limited && resumed.objects > 0, "{resumed:?}");
    let held: u64 = harness
        .store
        .count_snapshots(harness.connection.id)
        .await
        .unwrap()
        .values()
        .sum();
    let seeded = small_counts();
    let expected = seeded.accounts + seeded.contacts + seeded.opportunities + seeded.cases;
    assert_eq!(held, expected, "the paused load finished with nothing lost");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_budget_stretches_the_interval_beyond_the_setting() {
    let harness = Harness::start(small_counts(), quiet_settings()).await;
    // 1 % of 1,000 calls is 10: the initial load alone spends more.
    save_settings(&harness, 60, 1).await;
    harness
        .settings(json!({"api_daily_limit": 1000, "api_used": 0}))
        .await;
    let mut running = start(&harness, SchedulePolicy::default());

    let first = running.next_tick().await;
    assert!(!first.rate_limited, "{first:?}");
    let wait = next_run_in_secs(&harness).await;
    assert!(
        wait > 3600,
        "a spent budget waits, not the minute set: {wait} s"
    );
}
