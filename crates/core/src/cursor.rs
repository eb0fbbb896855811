//! The cursor: where the incremental read of an object stands, as the (SystemModstamp, Id)
//! pair of the last record read.
//!
//! Salesforce gives many records one SystemModstamp, so the stamp alone cannot say where a
//! read stopped; the pair, ordered stamp first and Id second (as `ORDER BY SystemModstamp,
//! Id` orders rows), can, and a page resumes strictly after it. A long transaction can also
//! commit a row whose stamp is older than rows already read, so each run re-reads an
//! overlap behind the cursor and trusts nothing newer than the server's clock minus a lag
//! (design.md, "The hard parts"). Re-reading costs API calls, never duplicate events: the
//! diff emits nothing for an unchanged row.

use std::time::Duration;

use crate::RecordId;
use crate::datetime::format_datetime;

/// The read position of one object: the last (SystemModstamp, Id) pair read.
///
/// The derived order compares the stamp first, then the Id as a case-sensitive string,
/// which is how Salesforce orders Ids.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cursor {
    /// SystemModstamp of the last record read, UTC epoch milliseconds.
    pub system_modstamp_ms: i64,
    /// Id of the last record read.
    pub id: RecordId,
}

/// The cursor after reading `read`: it only ever moves forward, so a row re-read from the
/// overlap window cannot pull it back.
pub fn advance(current: Option<Cursor>, read: Cursor) -> Cursor {
    match current {
        Some(current) if current > read => current,
        _ => read,
    }
}

/// The range of SystemModstamp one run reads, both ends inclusive, in UTC epoch ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The lowest stamp read; `None` before the first run, when the whole object is read.
    pub from_ms: Option<i64>,
    /// The highest stamp read.
    pub to_ms: i64,
}

impl Window {
    /// Whether the window holds no instant at all, as when the server's clock is behind the
    /// cursor; the run then reads nothing and waits.
    pub fn is_empty(&self) -> bool {
        self.from_ms.is_some_and(|from| from > self.to_ms)
    }

    /// Whether a row with this stamp falls in the window.
    pub fn contains(&self, stamp_ms: i64) -> bool {
        self.from_ms.is_none_or(|from| from <= stamp_ms) && stamp_ms <= self.to_ms
    }
}

/// Plans the stamps a run reads: from `overlap` behind the cursor, to `lag` behind the
/// server's clock (`server_now_ms`, from the response's Date header rather than the local
/// clock, which may drift).
pub fn plan_window(
    cursor: Option<&Cursor>,
    server_now_ms: i64,
    overlap: Duration,
    lag: Duration,
) -> Window {
    Window {
        from_ms: cursor.map(|c| c.system_modstamp_ms.saturating_sub(millis(overlap))),
        to_ms: server_now_ms.saturating_sub(millis(lag)),
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Formats a SOQL date-time literal, `2024-01-01T00:00:00.000Z`. SOQL refuses the `+0000`
/// form the REST API writes in its output, so the two must never be confused.
pub fn soql_literal(ms: i64) -> String {
    format_datetime(ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn cursor(stamp: i64, id: &str) -> Cursor {
        Cursor {
            system_modstamp_ms: stamp,
            id: RecordId::parse(id).unwrap(),
        }
    }

    #[test]
    fn records_sharing_a_stamp_are_ordered_by_id() {
        assert!(cursor(5, "001000000000002") > cursor(5, "001000000000001"));
        assert!(cursor(6, "001000000000001") > cursor(5, "001000000000002"));
        // Upper case sorts before lower case, as in a case-sensitive string order.
        assert!(cursor(5, "001000000000A01") < cursor(5, "001000000000a01"));
    }

    #[test]
    fn the_cursor_never_moves_back() {
        let late = cursor(10, "001000000000001");
        let early = cursor(5, "001000000000009");
        assert_eq!(advance(Some(late.clone()), early.clone()), late);
        assert_eq!(advance(Some(early), late.clone()), late);
        assert_eq!(advance(None, late.clone()), late);
    }

    #[test]
    fn a_window_reaches_back_by_the_overlap_and_stops_short_by_the_lag() {
        let at = cursor(10 * 60_000, "001000000000001");
        let window = plan_window(Some(&at), 20 * 60_000, 2 * MINUTE, MINUTE);
        assert_eq!(
            window,
            Window {
                from_ms: Some(8 * 60_000),
                to_ms: 19 * 60_000
            }
        );
        assert!(window.contains(8 * 60_000) && window.contains(19 * 60_000));
        assert!(!window.contains(19 * 60_000 + 1) && !window.contains(8 * 60_000 - 1));
    }

    #[test]
    fn the_first_window_has_no_lower_bound() {
        let window = plan_window(None, 60_000, MINUTE, Duration::from_secs(1));
        assert_eq!(window.from_ms, None);
        assert!(window.contains(i64::MIN) && !window.is_empty());
    }

    #[test]
    fn a_server_clock_behind_the_cursor_gives_an_empty_window() {
        let at = cursor(100_000, "001000000000001");
        let window = plan_window(Some(&at), 50_000, Duration::ZERO, Duration::ZERO);
        assert!(window.is_empty());
    }

    #[test]
    fn soql_literals_use_z_and_never_the_rest_output_form() {
        assert_eq!(soql_literal(1_704_067_200_000), "2024-01-01T00:00:00.000Z");
        assert!(!soql_literal(0).contains("+0000"));
    }

    fn any_cursor() -> impl Strategy<Value = Cursor> {
        (0i64..4, "[0-9A-Za-z]{2}")
            .prop_map(|(stamp, tail)| cursor(stamp, &format!("0010000000000{tail}")))
    }

    proptest! {
        #[test]
        fn cursors_order_by_stamp_then_id(a in any_cursor(), b in any_cursor()) {
            let parts = |c: &Cursor| (c.system_modstamp_ms, c.id.as_str().to_owned());
            let by_parts = parts(&a).cmp(&parts(&b));
            prop_assert_eq!(a.cmp(&b), by_parts);
        }

        #[test]
        fn the_order_is_transitive(a in any_cursor(), b in any_cursor(), c in any_cursor()) {
            if a <= b && b <= c {
                prop_assert!(a <= c);
            }
        }

        #[test]
        fn advancing_over_any_reads_gives_their_maximum(
            start in proptest::option::of(any_cursor()),
            reads in proptest::collection::vec(any_cursor(), 0..8),
        ) {
            let expected = start.iter().chain(&reads).max().cloned();
            let end = reads.into_iter().fold(start, |c, r| Some(advance(c, r)));
            prop_assert_eq!(end, expected);
        }

        #[test]
        fn a_window_covers_the_overlap_and_nothing_newer_than_the_lag(
            stamp in 0i64..1_000_000_000,
            ahead in 0i64..1_000_000,
            overlap in 0u64..100_000,
            lag in 0u64..100_000,
        ) {
            let at = cursor(stamp, "001000000000001");
            let now = stamp + ahead;
            let (overlap_d, lag_d) = (Duration::from_millis(overlap), Duration::from_millis(lag));
            let window = plan_window(Some(&at), now, overlap_d, lag_d);
            prop_assert_eq!(window.from_ms, Some(stamp - overlap as i64));
            prop_assert!(window.to_ms <= now - lag as i64);
            // The cursor's own stamp is re-read whenever the lag allows it.
            prop_assert_eq!(window.contains(stamp), stamp <= now - lag as i64);
        }
    }
}
