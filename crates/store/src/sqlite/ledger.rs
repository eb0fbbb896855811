//! Runs and the API spend ledger.

use crate::rows::RunRow;
use sqlx::SqlitePool;

use crate::Result;
use crate::error::Context;
use crate::model::*;
use crate::persisted::AsText;
use crate::rows;

pub(super) async fn save_run(pool: &SqlitePool, run: &RunRecord) -> Result<RunId> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO runs (connection_id, object, started_at_ms, finished_at_ms, records_read, \
            events, api_calls, outcome, error) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(run.connection.0)
    .bind(run.object.as_str())
    .bind(run.started_at_ms)
    .bind(run.finished_at_ms)
    .bind(rows::stored_count(run.records_read))
    .bind(rows::stored_count(run.events))
    .bind(rows::stored_count(run.api_calls))
    .bind(run.outcome.as_text())
    .bind(run.error.as_deref())
    .fetch_one(pool)
    .await
    .context("saving a run")?;
    Ok(RunId(id))
}

pub(super) async fn load_runs(
    pool: &SqlitePool,
    connection: ConnectionId,
    limit: u32,
) -> Result<Vec<RunRecord>> {
    let found: Vec<RunRow> = sqlx::query_as(
        "SELECT connection_id, object, started_at_ms, finished_at_ms, records_read, events, \
            api_calls, outcome, error \
         FROM runs WHERE connection_id = ? ORDER BY id DESC LIMIT ?",
    )
    .bind(connection.0)
    .bind(limit)
    .fetch_all(pool)
    .await
    .context("loading runs")?;
    found.into_iter().map(RunRow::into_run).collect()
}

pub(super) async fn save_api_calls(pool: &SqlitePool, calls: &ApiCalls) -> Result<()> {
    let usage = calls.org_usage.as_ref();
    sqlx::query(
        "INSERT INTO api_calls (connection_id, at_ms, calls, org_used, org_max) \
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(calls.connection.0)
    .bind(calls.at_ms)
    .bind(calls.calls)
    .bind(usage.map(|u| rows::stored_count(u.used)))
    .bind(usage.map(|u| rows::stored_count(u.max)))
    .execute(pool)
    .await
    .context("saving api calls")?;
    Ok(())
}

pub(super) async fn load_api_spend(
    pool: &SqlitePool,
    connection: ConnectionId,
    since_ms: i64,
) -> Result<ApiSpend> {
    const OPERATION: &str = "loading api spend";
    let calls: i64 = sqlx::query_scalar(
        "SELECT COALESCE(SUM(calls), 0) FROM api_calls WHERE connection_id = ? AND at_ms >= ?",
    )
    .bind(connection.0)
    .bind(since_ms)
    .fetch_one(pool)
    .await
    .context(OPERATION)?;
    let latest: Option<(i64, i64, i64)> = sqlx::query_as(
        "SELECT at_ms, org_used, org_max FROM api_calls \
         WHERE connection_id = ? AND org_used IS NOT NULL AND org_max IS NOT NULL \
         ORDER BY at_ms DESC, id DESC LIMIT 1",
    )
    .bind(connection.0)
    .fetch_optional(pool)
    .await
    .context(OPERATION)?;
    let latest_org_usage = latest
        .map(|(at_ms, used, max)| {
            let usage = OrgUsage {
                used: rows::count(used, "org api usage")?,
                max: rows::count(max, "org api allocation")?,
            };
            Ok::<_, crate::Error>((at_ms, usage))
        })
        .transpose()?;
    Ok(ApiSpend {
        calls: rows::count(calls, "api calls")?,
        latest_org_usage,
    })
}

pub(super) async fn load_api_calls_by_hour(
    pool: &SqlitePool,
    connection: ConnectionId,
    since_ms: i64,
) -> Result<Vec<(i64, u64)>> {
    // Integer division floors the (positive) epoch milliseconds to the start of their UTC
    // hour: 3,600,000 ms.
    let found: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT at_ms / 3600000 * 3600000 AS hour, SUM(calls) FROM api_calls \
         WHERE connection_id = ? AND at_ms >= ? GROUP BY hour ORDER BY hour",
    )
    .bind(connection.0)
    .bind(since_ms)
    .fetch_all(pool)
    .await
    .context("loading api calls by hour")?;
    found
        .into_iter()
        .map(|(hour, calls)| Ok((hour, rows::count(calls, "api calls in an hour")?)))
        .collect()
}
