//! The consumer inbox: which events each consumer has already applied, so a redelivered
//! event (the bus delivers at least once) does nothing twice.

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

/// Forgets marks older than `before` (all consumers); returns how many went. A redelivery
/// older than the kept window would be applied again, so keep it longer than any queue's
/// retry and parking time.
pub async fn purge_processed(conn: &impl ConnectionTrait, before: DateTime<Utc>) -> Result<u64, DbError> {
    let delete =
        Query::delete().from_table(Inbox::Table).and_where(Expr::col(Inbox::ProcessedAt).lt(before)).to_owned();
    Ok(conn.execute(&delete).await?.rows_affected())
}
