//! The deadline sweeper: one replica at a time (a cache lease) marks the rows whose reminder
//! or deadline has come and writes their events to the outbox, in one transaction per batch.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use paht_domain::actor::{Actor, Role};
use paht_domain::deadline::Stage;
use paht_domain::ids::UnitId;
use paht_platform::bus::Message;
use paht_platform::cache::Cache;
use paht_platform::db::{Db, DbError, RelayNotifier, outbox};
use paht_proto::convert;
use paht_proto::v1;
use paht_proto::v1::event_envelope::Payload;
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType, Query, SimpleExpr};
use sea_orm::{ColumnTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use super::entity::{Column, Entity, Model};
use super::store::{deadline_of, parse_stage};
use super::{Recipients, SweepStats, SweeperConfig, WINDOW_STAGES, micros};

/// The cache lease that elects the one sweeping replica.
pub const LEASE_NAME: &str = "routing.deadline-sweeper";

/// The subject of the system actor of deadline events (R4.2: every action says who).
pub const SUBJECT: &str = "deadline-sweeper";

/// The two events the sweeper writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    DueSoon,
    Missed,
}

impl Kind {
    /// The mark the event sets.
    fn mark(self) -> Column {
        match self {
            Kind::DueSoon => Column::DueSoonSentAt,
            Kind::Missed => Column::MissedSentAt,
        }
    }

    /// The open, unmarked rows whose event is due at `now`.
    fn due(self, now: DateTime<Utc>) -> SimpleExpr {
        let open = Column::ClosedAt.is_null().and(self.mark().is_null());
        match self {
            // Not yet missed (`now <= due_at`, the domain's `is_missed` is `now > due_at`).
            Kind::DueSoon => open.and(Column::DueSoonAt.lte(now)).and(Column::DueAt.gte(now)),
            Kind::Missed => {
                open.and(Column::DueAt.lt(now)).and(Column::Stage.is_not_in(WINDOW_STAGES.map(Stage::as_str)))
            }
        }
    }

    /// The scan order, which the partial indexes serve.
    fn order(self) -> Column {
        match self {
            Kind::DueSoon => Column::DueSoonAt,
            Kind::Missed => Column::DueAt,
        }
    }

    fn payload(self, deadline: v1::Deadline, row: &Model, remind_subjects: Vec<String>) -> Payload {
        let assignment_id = row.assignment_id.map(|a| a.to_string()).unwrap_or_default();
        let responsible_unit_id = row.responsible_unit_id.clone();
        match self {
            Kind::DueSoon => Payload::DeadlineDueSoon(v1::DeadlineDueSoon {
                deadline: Some(deadline),
                assignment_id,
                responsible_unit_id,
                remind_subjects,
            }),
            Kind::Missed => Payload::DeadlineMissed(v1::DeadlineMissed {
                deadline: Some(deadline),
                assignment_id,
                responsible_unit_id,
                remind_subjects,
            }),
        }
    }
}

/// Reminds responsible units before their deadlines and reports the deadlines they miss
/// (R13.1, R14.4), exactly once each; see the [module docs](super).
pub struct Sweeper {
    db: Db,
    cache: Arc<dyn Cache>,
    recipients: Arc<dyn Recipients>,
    config: SweeperConfig,
    actor: Actor,
    notifier: Option<RelayNotifier>,
    holder: String,
}

impl Sweeper {
    /// A sweeper over `db`'s `deadlines` (migrated by [`migration`](super::migration)), electing
    /// itself through `cache`, reminding whom `recipients` name, acting as the system of
    /// `instance`, waking the relay through `notifier` after each batch. Not running until
    /// [`spawn`](Self::spawn).
    pub fn new(
        db: Db,
        cache: Arc<dyn Cache>,
        recipients: Arc<dyn Recipients>,
        config: SweeperConfig,
        instance: UnitId,
        notifier: Option<RelayNotifier>,
    ) -> Self {
        if config.lease_ttl_secs <= config.interval_secs {
            tracing::warn!(
                lease_ttl_secs = config.lease_ttl_secs,
                interval_secs = config.interval_secs,
                "the sweeper's lease expires between rounds; replicas will take turns (still exactly once)"
            );
        }
        Sweeper {
            db,
            cache,
            recipients,
            config,
            actor: Actor::new(SUBJECT, Role::System, instance),
            notifier,
            holder: format!("{SUBJECT}-{}", Uuid::new_v4().simple()),
        }
    }

    /// This sweeper's lease holder id (random, one per sweeper).
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Runs the sweeper on a task until `shutdown` is cancelled, then releases the lease. Each
    /// round it takes or renews the lease and, holding it, sweeps one batch of each kind; a
    /// full batch goes on at once (renewing the lease each time), otherwise it waits
    /// [`SweeperConfig::interval`]. Errors are logged and retried the next round.
    pub fn spawn(self, shutdown: CancellationToken) -> JoinHandle<()> {
        let span = tracing::info_span!("deadline_sweeper", schema = %self.db.schema());
        tokio::spawn(self.run(shutdown).instrument(span))
    }

    async fn run(self, shutdown: CancellationToken) {
        let (ttl, interval) = (self.config.lease_ttl(), self.config.interval());
        tracing::info!(holder = %self.holder, ?interval, ?ttl, batch = self.config.batch, "deadline sweeper started");
        let mut holding = false;
        while !shutdown.is_cancelled() {
            holding = self.hold_lease(holding).await;
            let mut more = false;
            if holding {
                match self.step(paht_platform::clock::now()).await {
                    Ok((stats, full)) => {
                        more = full;
                        if !stats.is_empty() {
                            tracing::info!(
                                due_soon = stats.due_soon,
                                missed = stats.missed,
                                closed = stats.closed,
                                "deadlines swept"
                            );
                        }
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, transient = err.is_transient(), "deadline sweep failed; retrying next round");
                    }
                }
            }
            if more {
                continue;
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(interval) => {}
            }
        }
        if holding {
            match self.cache.release_lease(LEASE_NAME, &self.holder).await {
                Ok(_) => tracing::info!("deadline sweeper stopped; lease released"),
                Err(err) => tracing::warn!(error = %err, "deadline sweeper stopped; releasing the lease failed"),
            }
        } else {
            tracing::info!("deadline sweeper stopped");
        }
    }

    /// Renews the lease if held, else tries to take it; whether it is held now.
    async fn hold_lease(&self, holding: bool) -> bool {
        let ttl = self.config.lease_ttl();
        let outcome = if holding {
            self.cache.renew_lease(LEASE_NAME, &self.holder, ttl).await
        } else {
            self.cache.acquire_lease(LEASE_NAME, &self.holder, ttl).await
        };
        match outcome {
            Ok(held) => {
                if held != holding {
                    if held {
                        tracing::info!(holder = %self.holder, "took the deadline sweeper lease");
                    } else {
                        tracing::warn!(holder = %self.holder, "lost the deadline sweeper lease");
                    }
                }
                held
            }
            Err(err) => {
                // Without the cache nobody can be sure to hold it: stand down until it is back.
                tracing::warn!(error = %err, "cannot reach the cache for the sweeper lease; not sweeping");
                false
            }
        }
    }

    /// Sweeps everything due at `now`, batch after batch, ignoring the lease (tests, tools).
    /// Safe to run beside the running sweeper or another `sweep_once`: each row's events are
    /// still written once.
    pub async fn sweep_once(&self, now: DateTime<Utc>) -> Result<SweepStats, DbError> {
        let mut total = SweepStats::default();
        loop {
            let (stats, more) = self.step(now).await?;
            total += stats;
            if !more {
                return Ok(total);
            }
        }
    }

    /// One batch of each kind; whether any batch was full (more may be waiting).
    async fn step(&self, now: DateTime<Utc>) -> Result<(SweepStats, bool), DbError> {
        let now = micros(now);
        let batch = u64::from(Ord::max(self.config.batch, 1));
        let closed = self.close_lapsed_windows(now, batch).await?;
        let (missed_found, missed) = self.emit(Kind::Missed, now, batch).await?;
        let (due_soon_found, due_soon) = self.emit(Kind::DueSoon, now, batch).await?;
        // A full batch of candidates may hide more; but when another sweeper holds every one
        // of them (nothing marked here), it is on the job and this one stands back.
        let more =
            closed == batch || (missed_found == batch && missed > 0) || (due_soon_found == batch && due_soon > 0);
        Ok((SweepStats { due_soon, missed, closed }, more))
    }

    /// The select of `ids` still matching `condition`, locking them on Postgres and skipping
    /// rows another transaction holds: the sweeper never waits on a row lock.
    fn claim(&self, condition: SimpleExpr, limit: Option<u64>) -> sea_orm::sea_query::SelectStatement {
        let mut select = Query::select();
        select.column(Column::Id).from(Entity).and_where(condition);
        if let Some(limit) = limit {
            select.limit(limit);
        }
        if self.db.backend() == DbBackend::Postgres {
            select.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        select.to_owned()
    }

    /// Closes, without any event, up to `batch` window rows whose window has ended.
    async fn close_lapsed_windows(&self, now: DateTime<Utc>, batch: u64) -> Result<u64, DbError> {
        let lapsed = Column::ClosedAt
            .is_null()
            .and(Column::MissedSentAt.is_null())
            .and(Column::DueAt.lt(now))
            .and(Column::Stage.is_in(WINDOW_STAGES.map(Stage::as_str)));
        let claimed = self.claim(lapsed.clone(), Some(batch));
        let txn = self.db.begin_write().await?;
        let closed = Entity::update_many()
            .col_expr(Column::ClosedAt, Expr::value(now))
            .filter(Column::Id.in_subquery(claimed))
            .filter(lapsed)
            .exec(&txn)
            .await?
            .rows_affected;
        txn.commit().await?;
        Ok(closed)
    }

    /// Writes the events of `kind` for up to `batch` rows due at `now`: how many rows were due
    /// (up to `batch`), and how many this sweeper marked (the others were marked by another).
    async fn emit(&self, kind: Kind, now: DateTime<Utc>, batch: u64) -> Result<(u64, u64), DbError> {
        let candidates = Entity::find()
            .filter(kind.due(now))
            .order_by_asc(kind.order())
            .order_by_asc(Column::Id)
            .limit(batch)
            .all(self.db.conn())
            .await?;
        if candidates.is_empty() {
            return Ok((0, 0));
        }
        // Before the transaction: the directory may live in this very database (one SQLite
        // connection in tests), and the write lock should be held only for the writes.
        let mut subjects: HashMap<(String, Stage), Vec<String>> = HashMap::new();
        for row in &candidates {
            let Some(stage) = parse_stage(&row.stage) else { continue };
            if let Entry::Vacant(slot) = subjects.entry((row.responsible_unit_id.clone(), stage)) {
                let concerned = self.recipients.concerned(&slot.key().0, stage).await?;
                slot.insert(concerned);
            }
        }

        // Only rows whose stage is known can have an event (all of them, unless the table was
        // edited by hand); the others are left alone, not marked.
        let ids: Vec<Uuid> =
            candidates.iter().filter(|row| parse_stage(&row.stage).is_some()).map(|row| row.id).collect();
        let txn = self.db.begin_write().await?;
        let claimable = Column::Id.is_in(ids).and(kind.due(now));
        let claimed = self.claim(claimable.clone(), None);
        // Marks only rows still due and not marked by anyone else; RETURNING says which.
        let mut marked = Entity::update_many()
            .col_expr(kind.mark(), Expr::value(now))
            .filter(Column::Id.in_subquery(claimed))
            .filter(claimable)
            .exec_with_returning(&txn)
            .await?;
        marked.sort_by_key(|row| (kind_time(kind, row), row.id));
        let messages: Vec<Message> = marked
            .iter()
            .filter_map(|row| {
                let stage = parse_stage(&row.stage)?;
                let remind = subjects.get(&(row.responsible_unit_id.clone(), stage)).cloned().unwrap_or_default();
                Some(self.message(kind, row, stage, remind, now))
            })
            .collect();
        outbox::enqueue(&txn, &messages).await?;
        txn.commit().await?;
        if !messages.is_empty()
            && let Some(notifier) = &self.notifier
        {
            notifier.notify();
        }
        for row in &marked {
            tracing::debug!(report_id = %row.report_id, stage = %row.stage, kind = ?kind, "deadline event written");
        }
        Ok((candidates.len() as u64, marked.len() as u64))
    }

    /// The outbox message of one row's event.
    fn message(&self, kind: Kind, row: &Model, stage: Stage, remind: Vec<String>, now: DateTime<Utc>) -> Message {
        let deadline = convert::deadline(&deadline_of(row, stage));
        let envelope = v1::EventEnvelope {
            event_id: Uuid::now_v7().to_string(),
            report_id: row.report_id.to_string(),
            instance_id: row.instance_id.clone(),
            occurred_at: Some(convert::timestamp(now)),
            actor: Some(convert::actor(&self.actor)),
            // Outside the lifecycle: no view folds it, so it has no place in a sequence.
            producer: String::new(),
            sequence: 0,
            after: Vec::new(),
            payload: Some(kind.payload(deadline, row, remind)),
        };
        paht_platform::events::message(&envelope)
    }
}

fn kind_time(kind: Kind, row: &Model) -> DateTime<Utc> {
    match kind {
        Kind::DueSoon => row.due_soon_at,
        Kind::Missed => row.due_at,
    }
}
