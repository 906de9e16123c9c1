//! The in-process bus's durable parking store: one `bus_parked` row per parked message.
//!
//! The broker keeps parked messages in a durable parking queue; the in-process bus keeps them
//! here instead, in an SQL database (embedded mode: `bus.db` in the data directory), so that
//! they outlive the process and an operator can list and replay them after a restart.
//!
//! No step loses a message on a crash:
//! - parking writes the row before the publisher is told the message is done (until then the
//!   outbox row is not marked sent, so a crash means it is published again);
//! - a replay puts the message back in its queue and deletes the row only once the consumer
//!   has processed it, or moves it to a new row if the consumer parks it again (one
//!   transaction). A crash in between leaves the row, which a later replay delivers again: a
//!   duplicate, which consumers skip by event id (inbox).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveValue, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait};
use uuid::Uuid;

use crate::bus::{DeadLetter, Message};
use crate::db::{Db, DbError};

/// The `bus_parked` table as sea-orm sees it (see the `migration` module for the DDL).
pub(crate) mod entity {
    use sea_orm::entity::prelude::*;

    /// One parked message.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "bus_parked")]
    pub struct Model {
        /// Parking order: ids only grow.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The consumer (queue) that could not process it.
        pub queue: String,
        /// The event id (the message id).
        pub event_id: Uuid,
        /// `<entity>.<fact>`.
        pub routing_key: String,
        /// The encoded event, as published.
        #[sea_orm(column_type = "Blob")]
        pub payload: Vec<u8>,
        /// The headers as a JSON object of strings.
        #[sea_orm(column_type = "Text")]
        pub headers: String,
        /// The last error.
        #[sea_orm(column_type = "Text")]
        pub reason: String,
        /// Attempts made before parking.
        pub attempts: i32,
        /// When it was parked.
        pub parked_at: DateTimeUtc,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use entity::{ActiveModel, Column, Entity};

/// A parked message with its row id (the store's handle on it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkedRow {
    /// The row id.
    pub row: i64,
    /// The message and why it was parked.
    pub letter: DeadLetter,
}

/// The durable parking store of an [`InProcBus`](super::InProcBus). Clones share the pool.
#[derive(Debug, Clone)]
pub struct ParkedStore {
    db: Db,
}

impl ParkedStore {
    /// The store on `db`, after creating its table if needed.
    pub async fn open(db: Db) -> Result<Self, DbError> {
        db.migrate::<ParkedMigrator>().await?;
        Ok(ParkedStore { db })
    }

    /// The database it lives in.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Stores a parked message; when it was a replay of row `replaces`, that row goes in the
    /// same transaction. Returns the new row id.
    pub async fn park(&self, letter: &DeadLetter, replaces: Option<i64>) -> Result<i64, DbError> {
        let message = &letter.message;
        let headers = serde_json::to_string(&message.headers)
            .map_err(|source| DbError::Headers { event_id: message.id, source })?;
        let row = ActiveModel {
            id: ActiveValue::NotSet,
            queue: ActiveValue::Set(letter.queue.clone()),
            event_id: ActiveValue::Set(message.id),
            routing_key: ActiveValue::Set(message.routing_key.clone()),
            payload: ActiveValue::Set(message.payload.to_vec()),
            headers: ActiveValue::Set(headers),
            reason: ActiveValue::Set(letter.reason.clone()),
            attempts: ActiveValue::Set(i32::try_from(letter.attempts).unwrap_or(i32::MAX)),
            parked_at: ActiveValue::Set(letter.parked_at),
        };
        let txn = self.db.conn().begin().await?;
        let id = Entity::insert(row).exec(&txn).await?.last_insert_id;
        if let Some(old) = replaces {
            Entity::delete_by_id(old).exec(&txn).await?;
        }
        txn.commit().await?;
        Ok(id)
    }

    /// Up to `limit` parked messages of `queue`, oldest first, leaving out the rows in `skip`.
    pub async fn list(&self, queue: &str, limit: usize, skip: &[i64]) -> Result<Vec<ParkedRow>, DbError> {
        let query = Entity::find()
            .filter(Column::Queue.eq(queue))
            .filter(Expr::col(Column::Id).is_not_in(skip.iter().copied()))
            .order_by_asc(Column::Id)
            .limit(u64::try_from(limit).unwrap_or(u64::MAX));
        query.all(self.db.conn()).await?.into_iter().map(decode).collect()
    }

    /// Every parked message of `queue` (with one of `ids`, when given), oldest first, leaving
    /// out the rows in `skip`.
    pub async fn matching(&self, queue: &str, ids: Option<&[Uuid]>, skip: &[i64]) -> Result<Vec<ParkedRow>, DbError> {
        let mut query = Entity::find()
            .filter(Column::Queue.eq(queue))
            .filter(Expr::col(Column::Id).is_not_in(skip.iter().copied()));
        if let Some(ids) = ids {
            query = query.filter(Column::EventId.is_in(ids.iter().copied()));
        }
        query.order_by_asc(Column::Id).all(self.db.conn()).await?.into_iter().map(decode).collect()
    }

    /// Deletes one row (its message was processed); `false` if it was gone already.
    pub async fn remove(&self, row: i64) -> Result<bool, DbError> {
        Ok(Entity::delete_by_id(row).exec(self.db.conn()).await?.rows_affected == 1)
    }

    /// How many messages are parked, all queues together.
    pub async fn count(&self) -> Result<u64, DbError> {
        use sea_orm::PaginatorTrait;
        Ok(Entity::find().count(self.db.conn()).await?)
    }
}

fn decode(model: entity::Model) -> Result<ParkedRow, DbError> {
    let headers: BTreeMap<String, String> =
        serde_json::from_str(&model.headers).map_err(|source| DbError::Headers { event_id: model.event_id, source })?;
    Ok(ParkedRow {
        row: model.id,
        letter: DeadLetter {
            message: Message {
                id: model.event_id,
                routing_key: model.routing_key,
                payload: model.payload.into(),
                headers,
            },
            queue: model.queue,
            reason: model.reason,
            attempts: u32::try_from(model.attempts).unwrap_or(0),
            parked_at: model.parked_at,
        },
    })
}

/// When a message is parked: now, at the precision the database keeps.
pub(crate) fn parked_now() -> DateTime<Utc> {
    crate::db::outbox::now_micros()
}

pub use migration::ParkedMigrator;

/// The table's DDL, apart so that the migration prelude's names stay out of the queries.
mod migration {
    use sea_orm_migration::prelude::*;
    use sea_orm_migration::schema::{big_pk_auto, blob, integer, string_len, text, timestamp_with_time_zone, uuid};

    /// The parking store's migrations, for a database of its own (`bus.db`) or beside a
    /// service's tables.
    pub struct ParkedMigrator;

    impl MigratorTrait for ParkedMigrator {
        fn migrations() -> Vec<Box<dyn MigrationTrait>> {
            vec![Box::new(CreateBusParked)]
        }
    }

    /// Creates `bus_parked` and its index.
    struct CreateBusParked;

    impl MigrationName for CreateBusParked {
        fn name(&self) -> &str {
            "platform_bus_m0001_create_bus_parked"
        }
    }

    #[derive(DeriveIden)]
    enum BusParked {
        Table,
        Id,
        Queue,
        EventId,
        RoutingKey,
        Payload,
        Headers,
        Reason,
        Attempts,
        ParkedAt,
    }

    #[async_trait::async_trait]
    impl MigrationTrait for CreateBusParked {
        async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
            // No unique key on (queue, event_id): after a crash during a replay the same message
            // may be parked twice, and both rows must be kept (and replayed) rather than refused.
            manager
                .create_table(
                    Table::create()
                        .table(BusParked::Table)
                        .if_not_exists()
                        .col(big_pk_auto(BusParked::Id))
                        .col(string_len(BusParked::Queue, 255))
                        .col(uuid(BusParked::EventId))
                        .col(string_len(BusParked::RoutingKey, 255))
                        .col(blob(BusParked::Payload))
                        .col(text(BusParked::Headers))
                        .col(text(BusParked::Reason))
                        .col(integer(BusParked::Attempts))
                        .col(timestamp_with_time_zone(BusParked::ParkedAt))
                        .to_owned(),
                )
                .await?;
            // Listing is per queue, oldest first.
            manager
                .create_index(
                    Index::create()
                        .name("bus_parked_queue_idx")
                        .table(BusParked::Table)
                        .col(BusParked::Queue)
                        .col(BusParked::Id)
                        .if_not_exists()
                        .to_owned(),
                )
                .await
        }

        async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
            manager.drop_table(Table::drop().table(BusParked::Table).if_exists().to_owned()).await
        }

        fn use_transaction(&self) -> Option<bool> {
            Some(true)
        }
    }
}
