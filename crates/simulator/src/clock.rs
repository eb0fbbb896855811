//! The simulator's clock: the machine's time plus an offset that the control API can move
//! forward, so tests can age data (recycle-bin windows, session timeouts, formula drift)
//! without waiting.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

/// Wall time plus a forward offset.
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    /// Now, in milliseconds.
    pub fn now_ms(&self) -> Millis {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        wall + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Now, truncated to the second: Salesforce stamps `SystemModstamp` with second
    /// granularity (every published sample ends in `.000`), which is why many records share one.
    pub fn now_stamp(&self) -> Millis {
        truncate_to_second(self.now_ms())
    }

    /// Moves the clock forward.
    pub fn advance(&self, seconds: i64) {
        self.offset_ms
            .fetch_add(seconds.max(0) * 1000, Ordering::Relaxed);
    }
}

/// `ms` rounded down to a whole second.
pub fn truncate_to_second(ms: Millis) -> Millis {
    ms - ms.rem_euclid(1000)
}
