//! A service's own view of each report ("replica"), changed by its own decisions and by
//! the other services' facts, folded as stated.
//!
//! The pure state machine (`paht_domain::lifecycle::Report`) is the whole lifecycle of a
//! report. Routing and processing each keep a view per report in their own schema, table
//! `report_replicas`, next to the report's content as received (the `report.received`
//! view, without personal data); intake keeps it on its `reports` rows:
//!
//! - a command the service owns runs through [`execute`]: the locked view, the domain's
//!   decision, the new view and the outbox rows of its facts in one transaction;
//! - another service's fact arrives as an event; [`ReplicaConsumer`] records it in the
//!   inbox and folds it as its owner stated it (`Report::fold`), never refusing it. A
//!   fact decided after one this view has not folded yet is held durably (table
//!   `held_facts`) and folded as soon as that one arrives; a repeat is skipped by its
//!   sequence number.
//!
//! A service's [`Hook`] runs in the same transaction after every change, to keep its own
//! index tables (queues, inboxes, deadlines) in step with the view, and may name a
//! decision the service takes at once in reaction (routing resolves the report when the
//! last approval folds).

mod consumer;
mod held;
mod migration;
#[cfg(test)]
mod tests;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use paht_domain::actor::Actor;
use paht_domain::calendar::WorkingCalendar;
use paht_domain::ids::ReportId;
use paht_domain::lifecycle::{self as lc, Command, LifecycleError};
use paht_proto::{convert, v1};
use prost::Message as _;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, DbErr};
use thiserror::Error;
use tonic::Status;

pub use consumer::{ConsumeError, Outcome, ReplicaConsumer, subscription};
pub use held::{HeldFact, list as held_facts};
pub use migration::{held_migration, migration};

use crate::db::{DbError, outbox};

/// A report's lifecycle state with its content as received.
#[derive(Debug, Clone, PartialEq)]
pub struct Replica {
    /// The lifecycle state.
    pub state: lc::Report,
    /// The report as received (content, place, attachments, category), without personal data.
    pub view: v1::Report,
    /// How many times the replica was saved; 0 before the first save.
    pub version: i64,
}

impl Replica {
    /// The report's id.
    pub fn id(&self) -> ReportId {
        self.state.id
    }

    /// The report as staff see it now: the received content with the current lifecycle
    /// (status, assignments and the deadlines running, escalation, answer).
    pub fn report(&self) -> v1::Report {
        let mut out = self.view.clone();
        convert::fill_lifecycle(&mut out, &self.state, crate::clock::now());
        out
    }

    /// The report's category: confirmed at the check, or as submitted.
    pub fn category_id(&self) -> Option<&str> {
        Some(self.view.category_id.as_str()).filter(|c| !c.is_empty())
    }
}

/// Why a replica could not be changed.
#[derive(Debug, Error)]
pub enum ReplicaError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The domain refused the transition; nothing changed.
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    /// No replica of this report (yet).
    #[error("report {0} not found")]
    NotFound(ReportId),
    /// A stored replica or an event could not be decoded.
    #[error("cannot decode {0}")]
    Decode(String),
}

impl From<DbErr> for ReplicaError {
    fn from(err: DbErr) -> Self {
        ReplicaError::Db(DbError::Query(err))
    }
}

impl From<ReplicaError> for Status {
    fn from(err: ReplicaError) -> Self {
        crate::error::ApiError::from(err).into()
    }
}

/// Runs in the transaction after every change of a view, own or folded.
#[async_trait]
pub trait Hook: Send + Sync + 'static {
    /// Keep the service's index tables in step; `before` is `None` for a new view.
    async fn changed(
        &self,
        txn: &DatabaseTransaction,
        before: Option<&lc::Report>,
        after: &Replica,
    ) -> Result<(), DbError>;

    /// A decision the service owns and takes at once on this view, if any (routing:
    /// resolve when every assignment at work is approved). It runs in the same
    /// transaction, as the system, at the instant of the change that called for it.
    fn follow_up(&self, _after: &lc::Report) -> Option<(Command, Actor)> {
        None
    }
}

/// Serialises every change of these reports across this service's replicas: one
/// transaction-scoped advisory lock per report on Postgres (it exists before the view's row
/// does), taken in ascending key order in one statement, so two transactions locking
/// overlapping sets cannot deadlock; SQLite write transactions are serial already.
pub(crate) async fn lock_reports(txn: &DatabaseTransaction, ids: &[ReportId]) -> Result<(), ReplicaError> {
    if txn.get_database_backend() != DbBackend::Postgres || ids.is_empty() {
        return Ok(());
    }
    let keys: std::collections::BTreeSet<i64> = ids.iter().map(|id| lock_key(*id)).collect();
    // One round trip; the statements run in this order. The keys are numbers of ours.
    let sql: String = keys.iter().map(|key| format!("SELECT pg_advisory_xact_lock({key});")).collect();
    txn.execute_unprepared(&sql).await?;
    Ok(())
}

/// The advisory-lock key of a report.
pub(crate) fn lock_key(id: ReportId) -> i64 {
    let (hi, lo) = id.0.as_u64_pair();
    (hi ^ lo) as i64
}

/// Takes the hook's follow-up decisions on `replica` until there are none.
pub(crate) async fn follow_up(
    txn: &DatabaseTransaction,
    mut replica: Replica,
    cal: &WorkingCalendar,
    hook: &dyn Hook,
    now: DateTime<Utc>,
) -> Result<Replica, ReplicaError> {
    // Bounded: a decision that keeps calling for another is a bug, not a loop to run forever.
    for _ in 0..4 {
        let Some((command, actor)) = hook.follow_up(&replica.state) else {
            return Ok(replica);
        };
        replica = decide(txn, replica, command, &actor, now, cal, hook).await?.replica;
    }
    Ok(replica)
}

/// A hook that keeps nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoIndex;

#[async_trait]
impl Hook for NoIndex {
    async fn changed(&self, _: &DatabaseTransaction, _: Option<&lc::Report>, _: &Replica) -> Result<(), DbError> {
        Ok(())
    }
}

#[derive(sea_orm::DeriveIden)]
enum ReportReplicas {
    Table,
    ReportId,
    InstanceId,
    Status,
    CategoryId,
    Lifecycle,
    View,
    Version,
    UpdatedAt,
}

fn decode_row(row: &sea_orm::QueryResult) -> Result<Replica, ReplicaError> {
    let id: uuid::Uuid = row.try_get("", "report_id")?;
    let lifecycle: String = row.try_get("", "lifecycle")?;
    let view: Vec<u8> = row.try_get("", "view")?;
    let version: i64 = row.try_get("", "version")?;
    let state = serde_json::from_str(&lifecycle).map_err(|e| ReplicaError::Decode(format!("replica {id}: {e}")))?;
    let view = v1::Report::decode(view.as_slice()).map_err(|e| ReplicaError::Decode(format!("replica {id}: {e}")))?;
    Ok(Replica { state, view, version })
}

async fn select(conn: &impl ConnectionTrait, id: ReportId, lock: bool) -> Result<Option<Replica>, ReplicaError> {
    let mut query = Query::select();
    query
        .columns([ReportReplicas::ReportId, ReportReplicas::Lifecycle, ReportReplicas::View, ReportReplicas::Version])
        .from(ReportReplicas::Table)
        .and_where(Expr::col(ReportReplicas::ReportId).eq(id.0));
    // SQLite has no row locks; its write transactions hold the database lock from BEGIN.
    if lock && conn.get_database_backend() == DbBackend::Postgres {
        query.lock_exclusive();
    }
    let row = conn.query_one(&query).await?;
    row.as_ref().map(decode_row).transpose()
}

/// The replica of a report, if this service has one.
pub async fn load(conn: &impl ConnectionTrait, id: ReportId) -> Result<Option<Replica>, ReplicaError> {
    select(conn, id, false).await
}

/// The replica of a report, locked for the rest of the transaction (`FOR UPDATE` on
/// Postgres; SQLite write transactions are serial already).
pub async fn lock(txn: &DatabaseTransaction, id: ReportId) -> Result<Option<Replica>, ReplicaError> {
    select(txn, id, true).await
}

/// Replicas by id, in one query; missing ids are left out.
pub async fn load_many(conn: &impl ConnectionTrait, ids: &[ReportId]) -> Result<Vec<Replica>, ReplicaError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let query = Query::select()
        .columns([ReportReplicas::ReportId, ReportReplicas::Lifecycle, ReportReplicas::View, ReportReplicas::Version])
        .from(ReportReplicas::Table)
        .and_where(Expr::col(ReportReplicas::ReportId).is_in(ids.iter().map(|i| i.0)))
        .to_owned();
    conn.query_all(&query).await?.iter().map(decode_row).collect()
}

/// Stores a replica (insert or replace) and returns it with its new version.
pub async fn save(conn: &impl ConnectionTrait, replica: Replica) -> Result<Replica, ReplicaError> {
    let version = replica.version + 1;
    let lifecycle = serde_json::to_string(&replica.state)
        .map_err(|e| ReplicaError::Decode(format!("replica {}: {e}", replica.id())))?;
    let insert = Query::insert()
        .into_table(ReportReplicas::Table)
        .columns([
            ReportReplicas::ReportId,
            ReportReplicas::InstanceId,
            ReportReplicas::Status,
            ReportReplicas::CategoryId,
            ReportReplicas::Lifecycle,
            ReportReplicas::View,
            ReportReplicas::Version,
            ReportReplicas::UpdatedAt,
        ])
        .values([
            replica.id().0.into(),
            replica.state.instance.to_string().into(),
            replica.state.status.as_str().into(),
            replica.category_id().map(str::to_owned).into(),
            lifecycle.into(),
            replica.view.encode_to_vec().into(),
            version.into(),
            crate::db::outbox::now_micros().into(),
        ])
        .map_err(|e| DbErr::Custom(e.to_string()))?
        .on_conflict(
            OnConflict::column(ReportReplicas::ReportId)
                .update_columns([
                    ReportReplicas::Status,
                    ReportReplicas::CategoryId,
                    ReportReplicas::Lifecycle,
                    ReportReplicas::View,
                    ReportReplicas::Version,
                    ReportReplicas::UpdatedAt,
                ])
                .to_owned(),
        )
        .to_owned();
    conn.execute(&insert).await?;
    Ok(Replica { version, ..replica })
}

/// Where a consumer keeps the replicas it replays onto.
#[async_trait]
pub trait ReplicaStore: Send + Sync + 'static {
    /// The replica of a report, locked for the rest of the transaction.
    async fn lock(&self, txn: &DatabaseTransaction, id: ReportId) -> Result<Option<Replica>, ReplicaError>;

    /// The replicas of these reports (missing ones left out), locked for the rest of the
    /// transaction. The default locks them one by one.
    async fn lock_many(&self, txn: &DatabaseTransaction, ids: &[ReportId]) -> Result<Vec<Replica>, ReplicaError> {
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            found.extend(self.lock(txn, *id).await?);
        }
        Ok(found)
    }

    /// Stores it; returns it as saved.
    async fn save(&self, txn: &DatabaseTransaction, replica: Replica) -> Result<Replica, ReplicaError>;
}

/// The `report_replicas` table.
#[derive(Debug, Default, Clone, Copy)]
pub struct TableStore;

#[async_trait]
impl ReplicaStore for TableStore {
    async fn lock(&self, txn: &DatabaseTransaction, id: ReportId) -> Result<Option<Replica>, ReplicaError> {
        lock(txn, id).await
    }

    async fn lock_many(&self, txn: &DatabaseTransaction, ids: &[ReportId]) -> Result<Vec<Replica>, ReplicaError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = Query::select();
        query
            .columns([
                ReportReplicas::ReportId,
                ReportReplicas::Lifecycle,
                ReportReplicas::View,
                ReportReplicas::Version,
            ])
            .from(ReportReplicas::Table)
            .and_where(Expr::col(ReportReplicas::ReportId).is_in(ids.iter().map(|i| i.0)));
        if txn.get_database_backend() == DbBackend::Postgres {
            query.lock_exclusive();
        }
        txn.query_all(&query).await?.iter().map(decode_row).collect()
    }

    async fn save(&self, txn: &DatabaseTransaction, replica: Replica) -> Result<Replica, ReplicaError> {
        save(txn, replica).await
    }
}

/// A command of this service, applied to a locked replica.
#[derive(Debug, Clone)]
pub struct Executed {
    /// The state before.
    pub before: lc::Report,
    /// The saved replica after.
    pub replica: Replica,
    /// The events, already in the outbox.
    pub events: Vec<lc::Event>,
}

/// Applies a command of this service to a replica locked in `txn`, saves it, enqueues its
/// events in the outbox, runs `hook` and takes the hook's follow-up decisions. The caller
/// commits, then wakes its relay. A refused transition returns the domain's error and
/// writes nothing.
pub async fn execute(
    txn: &DatabaseTransaction,
    replica: Replica,
    command: Command,
    actor: &Actor,
    now: DateTime<Utc>,
    cal: &WorkingCalendar,
    hook: &dyn Hook,
) -> Result<Executed, ReplicaError> {
    let mut executed = decide(txn, replica, command, actor, now, cal, hook).await?;
    executed.replica = follow_up(txn, executed.replica, cal, hook, now).await?;
    Ok(executed)
}

async fn decide(
    txn: &DatabaseTransaction,
    replica: Replica,
    command: Command,
    actor: &Actor,
    now: DateTime<Utc>,
    cal: &WorkingCalendar,
    hook: &dyn Hook,
) -> Result<Executed, ReplicaError> {
    let transition = replica.state.apply(command, actor, now, cal)?;
    let before = replica.state.clone();
    let saved = save(txn, Replica { state: transition.report, ..replica }).await?;
    outbox::enqueue(txn, &crate::events::messages(&transition.events, &saved.state, None)).await?;
    hook.changed(txn, Some(&before), &saved).await?;
    Ok(Executed { before, replica: saved, events: transition.events })
}
