//! The transactional outbox: events are written in the same transaction as the state change
//! that caused them, and the [`OutboxRelay`](super::OutboxRelay) publishes them afterwards.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ActiveValue, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};

use super::DbError;
use crate::bus::Message;

/// The `outbox` table as sea-orm sees it (see the migration for the DDL).
pub(crate) mod entity {
    use sea_orm::entity::prelude::*;

    /// One event waiting to be published, or published and kept for the retention period.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "outbox")]
    pub struct Model {
        /// Insertion order, which is the publish order.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The event id (AMQP `message_id`).
        #[sea_orm(unique)]
        pub event_id: Uuid,
        /// `<entity>.<fact>`.
        pub routing_key: String,
        /// The encoded event.
        #[sea_orm(column_type = "Blob")]
        pub payload: Vec<u8>,
        /// The headers as a JSON object of strings.
        #[sea_orm(column_type = "Text")]
        pub headers: String,
        /// When the event was enqueued.
        pub created_at: DateTimeUtc,
        /// When the bus confirmed it; `NULL` while pending.
        pub published_at: Option<DateTimeUtc>,
        /// Publish attempts so far, the successful one included.
        pub attempts: i32,
        /// The last publish error, if any.
        #[sea_orm(column_type = "Text", nullable)]
        pub last_error: Option<String>,
    }

    /// No relations: the outbox stands alone.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use entity::{ActiveModel, Column, Entity};

/// Rows per INSERT: 9 bound values each keeps a statement far below Postgres' 65 535
/// parameters and SQLite's 32 766.
const INSERT_CHUNK: usize = 1000;

/// Rows per DELETE of the clean-up, so one pass never holds locks on a huge range.
const PURGE_CHUNK: u64 = 5000;

/// Timestamps are stored with microsecond precision: what Postgres keeps, and what SQLite
/// then reads back identically.
pub(crate) fn now_micros() -> DateTime<Utc> {
    crate::clock::wall()
}

/// Writes `messages` to the outbox, in order. Call it with the transaction that changes the
/// service's state, so the events exist if and only if the change does; after the commit,
/// [`RelayNotifier::notify`](super::RelayNotifier::notify) wakes the relay.
///
/// Fails on a duplicate event id (the `event_id` column is unique), so a retried command that
/// reuses its event ids cannot publish them twice.
#[tracing::instrument(name = "outbox_enqueue", skip_all, fields(count = messages.len()))]
pub async fn enqueue(txn: &impl ConnectionTrait, messages: &[Message]) -> Result<(), DbError> {
    let created_at = now_micros();
    for chunk in messages.chunks(INSERT_CHUNK) {
        let mut rows = Vec::with_capacity(chunk.len());
        for message in chunk {
            let headers = serde_json::to_string(&message.headers)
                .map_err(|source| DbError::Headers { event_id: message.id, source })?;
            tracing::trace!(event_id = %message.id, routing_key = %message.routing_key, "event enqueued");
            rows.push(ActiveModel {
                id: ActiveValue::NotSet,
                event_id: ActiveValue::Set(message.id),
                routing_key: ActiveValue::Set(message.routing_key.clone()),
                payload: ActiveValue::Set(message.payload.to_vec()),
                headers: ActiveValue::Set(headers),
                created_at: ActiveValue::Set(created_at),
                published_at: ActiveValue::Set(None),
                attempts: ActiveValue::Set(0),
                last_error: ActiveValue::Set(None),
            });
        }
        Entity::insert_many(rows).exec_without_returning(txn).await?;
    }
    Ok(())
}

/// How many events wait to be published (for health checks and the load tool).
pub async fn pending_count(conn: &impl ConnectionTrait) -> Result<u64, DbError> {
    Ok(Entity::find().filter(Column::PublishedAt.is_null()).count(conn).await?)
}

/// Deletes up to `max_rows` of the oldest published rows confirmed before `before`, in
/// chunks; returns how many went. Pending rows are never touched, however old.
pub async fn purge_published(
    conn: &impl ConnectionTrait,
    before: DateTime<Utc>,
    max_rows: u64,
) -> Result<u64, DbError> {
    let mut total = 0;
    while total < max_rows {
        let chunk = Ord::min(PURGE_CHUNK, max_rows - total);
        // `id IN (SELECT … LIMIT n)` rather than `DELETE … LIMIT`, which neither Postgres nor
        // a default SQLite build accept.
        let ids = Query::select()
            .column(Column::Id)
            .from(Entity)
            .and_where(Expr::col(Column::PublishedAt).lt(before))
            .order_by(Column::Id, sea_orm::Order::Asc)
            .limit(chunk)
            .to_owned();
        let deleted = Entity::delete_many().filter(Column::Id.in_subquery(ids)).exec(conn).await?.rows_affected;
        total += deleted;
        if deleted < chunk {
            break;
        }
    }
    Ok(total)
}
