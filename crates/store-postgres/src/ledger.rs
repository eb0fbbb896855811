//! Runs and the API spend ledger.

use sfsync_store::Result;
use sfsync_store::model::*;
use sfsync_store::rows::RunRow;
use sqlx::PgPool;

use crate::error::Context;
use sfsync_store::persisted::AsText;
use sfsync_store::rows;

pub(crate) async fn save_run(pool: &PgPool, run: &RunRecord) -> Result<RunId> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO runs (connection_id, object, started_at_ms, finished_at_ms, records_read, \
            events, api_calls, outcome, error) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
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

pub(crate) async fn load_runs(
    pool: &PgPool,
    connection: ConnectionId,
    limit: u32,
) -> Result<Vec<RunRecord>> {
    let found: Vec<RunRow> = sqlx::query_as(
        "SELECT connection_id, object, started_at_ms, finished_at_ms, records_read, events, \
            api_calls, outcome, error \
         FROM runs WHERE connection_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(connection.0)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .context("loading runs")?;
    found.into_iter().map(RunRow::into_run).collect()
}

pub(crate) async fn save_api_calls(pool: &PgPool, calls: &ApiCalls) -> Result<()> {
    let usage = calls.org_usage.as_ref();
    sqlx::query(
        "INSERT INTO api_calls (connection_id, at_ms, calls, org_used, org_max) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(calls.connection.0)
    .bind(calls.at_ms)
    .bind(i64::from(calls.calls))
    .bind(usage.map(|u| rows::stored_count(u.used)))
    .bind(usage.map(|u| rows::stored_count(u.max)))
    .execute(pool)
    .await
    .context("saving api calls")?;
    Ok(())
}

pub(crate) async fn load_api_spend(
    pool: &PgPool,
    connection: ConnectionId,
    since_ms: i64,
) -> Result<ApiSpend> {
    const OPERATION: &str = "loading api spend";
    let calls: i64 = sqlx::query_scalar(
        // SUM of BIGINT is NUMERIC in PostgreSQL; the ledger's totals fit a BIGINT.
        "SELECT COALESCE(SUM(calls), 0)::BIGINT FROM api_calls \
         WHERE connection_id = $1 AND at_ms >= $2",
    )
    .bind(connection.0)
    .bind(since_ms)
    .fetch_one(pool)
    .await
    .context(OPERATION)?;
    let latest: Option<(i64, i64, i64)> = sqlx::query_as(
        "SELECT at_ms, org_used, org_max FROM api_calls \
         WHERE connection_id = $1 AND org_used IS NOT NULL AND org_max IS NOT NULL \
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
            Ok::<_, sfsync_store::Error>((at_ms, usage))
        })
        .transpose()?;
    Ok(ApiSpend {
        calls: rows::count(calls, "api calls")?,
        latest_org_usage,
    })
}

pub(crate) async fn load_api_calls_by_hour(
    pool: &PgPool,
    connection: ConnectionId,
    since_ms: i64,
) -> Result<Vec<(i64, u64)>> {
    // Integer division floors the (positive) epoch milliseconds to the start of their UTC
    // hour: 3,600,000 ms.
    let found: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT at_ms / 3600000 * 3600000 AS hour, SUM(calls)::BIGINT FROM api_calls \
         WHERE connection_id = $1 AND at_ms >= $2 GROUP BY hour ORDER BY hour",
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
