//! The budget: the share of the org's daily API allocation that sfsync may spend.
//!
//! Every REST response carries `Sforce-Limit-Info: api-usage=used/max`, counting the whole
//! org's calls over a rolling 24 hours, other integrations' included. sfsync takes at most
//! its configured percentage of `max` and, rather than failing when it nears that share,
//! polls less often: it paces what is left of the share over the next day.

use std::time::Duration;

/// The window over which Salesforce counts API calls.
pub const ROLLING_DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// The org's API usage as one `Sforce-Limit-Info` header reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiUsage {
    /// Calls made by the whole org in the rolling day.
    pub used: u64,
    /// The org's daily allocation.
    pub max: u64,
}

/// Reads the org-wide `api-usage=used/max` entry of a `Sforce-Limit-Info` header, ignoring
/// other entries (`api-bursts=1/750`, `per-app-api-usage=17/250(appName=x)`). Returns
/// `None` when the entry is missing or malformed, or its maximum is zero.
pub fn parse_limit_info(header: &str) -> Option<ApiUsage> {
    let entry = header
        .split([';', ','])
        .filter_map(|item| item.trim().split_once('='))
        .find(|(key, _)| key.trim().eq_ignore_ascii_case("api-usage"))?;
    let (used, max) = entry.1.trim().split_once('/')?;
    let usage = ApiUsage {
        used: used.trim().parse().ok()?,
        max: max.trim().parse().ok()?,
    };
    (usage.max > 0).then_some(usage)
}

/// What the organization's admin configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetPolicy {
    /// sfsync's share of the org's daily allocation, in percent of `max` (0 to 100).
    pub share_percent: u8,
    /// The polling interval when the budget is not a constraint.
    pub polling_interval: Duration,
}

/// What sfsync may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetPlan {
    /// Calls sfsync may still make without passing its share or the org's allocation.
    pub allowed_calls: u64,
    /// How long to wait before the next tick: never shorter than the configured interval,
    /// and stretched so that ticks at this pace spend at most `allowed_calls` in a day.
    pub interval: Duration,
}

/// Plans the budget from the org's usage, sfsync's own spend in the rolling day and the
/// calls one tick costs.
pub fn plan_budget(
    policy: BudgetPolicy,
    usage: ApiUsage,
    own_spend: u64,
    calls_per_tick: u64,
) -> BudgetPlan {
    let share = share_of(usage.max, policy.share_percent);
    let allowed_calls = share
        .saturating_sub(own_spend)
        .min(usage.max.saturating_sub(usage.used));
    let interval = policy
        .polling_interval
        .max(paced_interval(allowed_calls, calls_per_tick));
    BudgetPlan {
        allowed_calls,
        interval,
    }
}

/// `percent` of `max`, rounded down so the share is never passed by rounding.
fn share_of(max: u64, percent: u8) -> u64 {
    let share = u128::from(max) * u128::from(percent.min(100)) / 100;
    u64::try_from(share).unwrap_or(u64::MAX)
}

/// The interval that spreads `allowed` calls evenly over a rolling day, at most a day: by
/// then the spend that filled the share has aged out of Salesforce's count.
fn paced_interval(allowed: u64, calls_per_tick: u64) -> Duration {
    if calls_per_tick == 0 {
        return Duration::ZERO;
    }
    if allowed < calls_per_tick {
        return ROLLING_DAY;
    }
    // Rounded up, so that a day of ticks at this pace never spends a call more than allowed.
    let nanos = (ROLLING_DAY.as_nanos() * u128::from(calls_per_tick)).div_ceil(u128::from(allowed));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX)).min(ROLLING_DAY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn policy(share_percent: u8) -> BudgetPolicy {
        BudgetPolicy {
            share_percent,
            polling_interval: MINUTE,
        }
    }

    #[test]
    fn the_org_wide_usage_is_read_among_other_entries() {
        let usage = Some(ApiUsage {
            used: 18,
            max: 5000,
        });
        assert_eq!(parse_limit_info("api-usage=18/5000"), usage);
        assert_eq!(
            parse_limit_info("api-usage=18/5000; api-bursts=1/750"),
            usage
        );
        assert_eq!(
            parse_limit_info("per-app-api-usage=17/250(appName=sample-app); api-usage=18/5000"),
            usage
        );
        assert_eq!(parse_limit_info(" API-Usage = 18 / 5000 "), usage);
    }

    #[test]
    fn a_header_without_a_well_formed_org_usage_gives_nothing() {
        for header in [
            "",
            "per-app-api-usage=17/250(appName=x)",
            "api-usage=18",
            "api-usage=a/5000",
            "api-usage=1/0",
            "api-usage=-1/5",
        ] {
            assert_eq!(parse_limit_info(header), None, "{header:?}");
        }
    }

    #[test]
    fn an_idle_org_with_room_keeps_the_configured_interval() {
        // 10 % of 100,000 is 10,000 calls a day; 2 calls a minute is 2,880.
        let plan = plan_budget(
            policy(10),
            ApiUsage {
                used: 500,
                max: 100_000,
            },
            0,
            2,
        );
        assert_eq!(
            plan,
            BudgetPlan {
                allowed_calls: 10_000,
                interval: MINUTE
            }
        );
    }

    #[test]
    fn nearing_the_share_stretches_the_interval() {
        let plan = plan_budget(
            policy(10),
            ApiUsage {
                used: 9_000,
                max: 100_000,
            },
            9_856,
            2,
        );
        assert_eq!(plan.allowed_calls, 144);
        assert_eq!(plan.interval, Duration::from_secs(1_200));
    }

    #[test]
    fn a_spent_share_waits_a_day_and_allows_nothing() {
        let plan = plan_budget(
            policy(10),
            ApiUsage {
                used: 20_000,
                max: 100_000,
            },
            10_000,
            2,
        );
        assert_eq!(
            plan,
            BudgetPlan {
                allowed_calls: 0,
                interval: ROLLING_DAY
            }
        );
    }

    #[test]
    fn other_integrations_exhausting_the_org_leave_sfsync_nothing() {
        let plan = plan_budget(
            policy(50),
            ApiUsage {
                used: 5_100,
                max: 5_000,
            },
            0,
            1,
        );
        assert_eq!(plan.allowed_calls, 0);
    }

    proptest! {
        #[test]
        fn the_plan_never_allows_spending_past_the_share_or_the_org_allocation(
            max in 1u64..10_000_000,
            used_part in 0u64..=100,
            percent in 0u8..=100,
            own in 0u64..10_000_000,
            tick in 0u64..10,
        ) {
            let usage = ApiUsage { used: max * used_part / 100, max };
            let plan = plan_budget(policy(percent), usage, own, tick);
            prop_assert!(plan.allowed_calls.saturating_add(own) <= share_of(max, percent).max(own));
            prop_assert!(plan.allowed_calls + usage.used <= max);
        }

        #[test]
        fn ticking_at_the_planned_pace_for_a_day_stays_within_what_is_allowed(
            max in 1u64..10_000_000, percent in 1u8..=100, own in 0u64..10_000_000, tick in 1u64..10
        ) {
            let plan = plan_budget(policy(percent), ApiUsage { used: 0, max }, own, tick);
            let ticks = ROLLING_DAY.as_nanos() / plan.interval.as_nanos();
            // A paused plan (a day's wait) spends nothing until the share has aged out.
            if plan.allowed_calls >= tick {
                prop_assert!(ticks * u128::from(tick) <= u128::from(plan.allowed_calls));
            }
        }

        #[test]
        fn the_interval_never_shrinks_as_spend_grows_nor_drops_below_the_configured_one(
            max in 1u64..10_000_000,
            percent in 0u8..=100,
            a in 0u64..10_000_000,
            b in 0u64..10_000_000,
            tick in 0u64..10,
        ) {
            let usage = ApiUsage { used: 0, max };
            let (low, high) = (a.min(b), a.max(b));
            let first = plan_budget(policy(percent), usage, low, tick);
            let second = plan_budget(policy(percent), usage, high, tick);
            prop_assert!(first.interval <= second.interval);
            prop_assert!(first.interval >= MINUTE);
        }
    }
}
