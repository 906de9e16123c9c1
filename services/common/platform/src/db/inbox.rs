//! The consumer inbox: which events each consumer has already applied, so a redelivered
//! event (the bus delivers at least once) does nothing twice.

use std::collections::{BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ConnectionTrait, DbErr};
use uuid::Uuid;

use super::DbError;
use super::outbox::now_micros;

#[derive(sea_orm::DeriveIden)]
enum Inbox {
    Table,
    Consumer,
    EventId,
    ProcessedAt,
}

/// Records that `consumer` processes `event_id`; `true` if it is the first time.
///
/// Call it inside the transaction that applies the event and skip the effect on `false`: the
/// mark and the effect then commit or roll back together, so a crash in between means the
/// redelivery is processed, and a committed event is never applied again.
#[tracing::instrument(name = "inbox_first_delivery", skip(txn), fields(%event_id))]
pub async fn first_delivery(txn: &impl ConnectionTrait, consumer: &str, event_id: Uuid) -> Result<bool, DbError> {
    // `ON CONFLICT DO NOTHING` instead of a SELECT first: two concurrent deliveries of the same
    // event cannot both see "absent" — the second blocks on the first's row until it commits
    // (Postgres) or on the write lock (SQLite), then inserts nothing.
    let insert = Query::insert()
        .into_table(Inbox::Table)
        .columns([Inbox::Consumer, Inbox::EventId, Inbox::ProcessedAt])
        .values([consumer.into(), event_id.into(), now_micros().into()])
        .map_err(|e| DbErr::Custom(e.to_string()))?
        .on_conflict(OnConflict::columns([Inbox::Consumer, Inbox::EventId]).do_nothing().to_owned())
        .to_owned();
    let first = txn.execute(&insert).await?.rows_affected() == 1;
    if !first {
        tracing::debug!(consumer, "event already processed; skipping");
    }
    Ok(first)
}

/// Records that `consumer` processes each of `event_ids`, in one statement; returns the ids
/// seen for the first time. An id that appears twice in `event_ids` counts once.
///
/// The same contract as [`first_delivery`], for a batch applied in one transaction.
pub async fn first_deliveries(
    txn: &impl ConnectionTrait,
    consumer: &str,
    event_ids: &[Uuid],
) -> Result<HashSet<Uuid>, DbError> {
    let distinct: BTreeSet<Uuid> = event_ids.iter().copied().collect();
    if distinct.is_empty() {
        return Ok(HashSet::new());
    }
    let now = now_micros();
    let mut insert = Query::insert();
    insert.into_table(Inbox::Table).columns([Inbox::Consumer, Inbox::EventId, Inbox::ProcessedAt]);
    for id in &distinct {
        insert.values([consumer.into(), (*id).into(), now.into()]).map_err(|e| DbErr::Custom(e.to_string()))?;
    }
    insert
        .on_conflict(OnConflict::columns([Inbox::Consumer, Inbox::EventId]).do_nothing().to_owned())
        .returning_col(Inbox::EventId);
    let rows = txn.query_all(&insert).await?;
    let first = rows.iter().map(|row| row.try_get::<Uuid>("", "event_id")).collect::<Result<HashSet<_>, _>>()?;
    if first.len() < distinct.len() {
        tracing::debug!(consumer, repeats = distinct.len() - first.len(), "events already processed; skipping");
    }
    Ok(first)
}

/// Forgets marks older than `before` (all consumers); returns how many went. A redelivery
/// older than the kept window would be applied again, so keep it longer than any queue's
/// retry and parking time.
pub async fn purge_processed(conn: &impl ConnectionTrait, before: DateTime<Utc>) -> Result<u64, DbError> {
    let delete =
        Query::delete().from_table(Inbox::Table).and_where(Expr::col(Inbox::ProcessedAt).lt(before)).to_owned();
    Ok(conn.execute(&delete).await?.rows_affected())
}
