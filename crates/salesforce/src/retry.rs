//! Bounded, jittered exponential backoff.
//!
//! Used for retryable failures ([`crate::Error::is_retryable`]: 5xx, timeouts, connection
//! errors) and for polling Bulk API 2.0 jobs. Salesforce sends no `Retry-After` header
//! (salesforce-api.md §2.9), so the delay is ours alone. Jitter keeps many connections that
//! failed together from retrying together.

use std::time::Duration;

use rand::Rng;

/// How often and how patiently a failed request is sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt; 0 disables retrying. Default 4.
    pub max_retries: u32,
    /// The delay before the first retry, before jitter. Default 250 ms.
    pub initial_delay: Duration,
    /// The longest delay between attempts, before jitter. Default 8 s.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 4,
            initial_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// The delay before retry number `retry` (0-based), or `None` once retries are spent.
    pub fn delay(&self, retry: u32) -> Option<Duration> {
        (retry < self.max_retries)
            .then(|| jittered(backoff(self.initial_delay, self.max_delay, retry)))
    }
}

/// `initial × 2^step`, capped at `max`.
pub(crate) fn backoff(initial: Duration, max: Duration, step: u32) -> Duration {
    let factor = 2u32.saturating_pow(step.min(30));
    initial.saturating_mul(factor).min(max)
}

/// "Equal jitter": a uniform draw from the upper half of `delay`, so waits still grow while
/// synchronized clients spread out.
pub(crate) fn jittered(delay: Duration) -> Duration {
    let half = delay / 2;
    let spread = u64::try_from(half.as_micros()).unwrap_or(u64::MAX);
    half + Duration::from_micros(rand::rng().random_range(0..=spread))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_then_cap_and_stop_after_max_retries() {
        let policy = RetryPolicy {
            max_retries: 6,
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(500),
        };
        let bounds = [100, 200, 400, 500, 500, 500];
        for (retry, max_ms) in bounds.into_iter().enumerate() {
            let delay = policy.delay(retry as u32).unwrap();
            let max = Duration::from_millis(max_ms);
            assert!(delay >= max / 2 && delay <= max, "retry {retry}: {delay:?}");
        }
        assert_eq!(policy.delay(6), None);
        assert_eq!(RetryPolicy::none().delay(0), None);
    }

    #[test]
    fn backoff_never_overflows() {
        let max = Duration::from_secs(8);
        assert_eq!(backoff(Duration::from_secs(1), max, u32::MAX), max);
    }
}
