//! The outbox relay: publishes pending outbox rows to the bus in id order and marks them
//! published once the bus has confirmed them.
//!
//! Delivery is at least once. A crash (or lost connection) between the bus's confirm and the
//! `UPDATE` publishes the rows again, so consumers deduplicate with the inbox. A failed publish
//! leaves the rows pending, records the attempt and retries after an exponential back-off;
//! nothing is skipped, since every pass starts again from the oldest pending row.
//!
//! Replicas: on Postgres several relays may run against one schema. Each claims its batch with
//! `SELECT … FOR UPDATE SKIP LOCKED` in a transaction held across the publish, so two relays
//! never publish the same row at the same time (order across replicas is then only roughly
//! kept; consumers must not rely on it). SQLite has no row locks: run **one relay per SQLite
//! file** — two would publish the same rows.

use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::sea_query::{Expr, LockBehavior, LockType};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde::Deserialize;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::outbox::entity::{Column, Entity, Model};
use super::outbox::{now_micros, purge_published};
use super::{Db, RelayStats};
use crate::bus::{Bus, Message};

/// Most published rows one clean-up round deletes; more rounds follow at once, between batches.
const PURGE_PER_ROUND: u64 = 10_000;

/// How the relay paces itself; the defaults suit both modes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RelayConfig {
    /// Most rows published by one `Bus::publish` call (default 500).
    pub batch_size: u32,
    /// How often to look for rows when nobody calls [`RelayNotifier::notify`] (default 100 ms);
    /// it bounds the latency of events whose writer does not notify, or written by another replica.
    pub poll_interval_ms: u64,
    /// First wait after a failure (default 100 ms); doubled after each further failure.
    pub backoff_initial_ms: u64,
    /// Longest wait between retries while the broker or the database is down (default 5000 ms).
    pub backoff_max_ms: u64,
    /// A publish without every confirm after this long counts as failed and is retried (default 30 s).
    pub publish_timeout_secs: u64,
    /// Published rows are kept this long for inspection, then deleted (default 168 h = 7 days).
    pub retention_hours: u64,
    /// How often the clean-up of old published rows runs (default 600 s).
    pub cleanup_interval_secs: u64,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            batch_size: 500,
            poll_interval_ms: 100,
            backoff_initial_ms: 100,
            backoff_max_ms: 5000,
            publish_timeout_secs: 30,
            retention_hours: 7 * 24,
            cleanup_interval_secs: 600,
        }
    }
}

/// Wakes the relay right after a commit that enqueued events, so they do not wait for the
/// next poll. Cheap to clone; a notify while the relay is busy is remembered, not lost.
#[derive(Debug, Clone, Default)]
pub struct RelayNotifier(Arc<Notify>);

impl RelayNotifier {
    /// Asks the relay to look for pending rows now.
    pub fn notify(&self) {
        self.0.notify_one();
    }
}

/// Publishes a service's outbox to the bus until shut down.
pub struct OutboxRelay {
    db: Db,
    bus: Arc<dyn Bus>,
    config: RelayConfig,
    notifier: RelayNotifier,
    stats: Arc<RelayStats>,
}

/// Why a pass over the outbox did not complete.
enum PassError {
    Db(DbErr),
    Publish(String),
}

impl From<DbErr> for PassError {
    fn from(err: DbErr) -> Self {
        PassError::Db(err)
    }
}

impl OutboxRelay {
    /// A relay for `db`'s outbox, publishing through `bus`; not running until [`spawn`](Self::spawn).
    pub fn new(db: Db, bus: Arc<dyn Bus>, config: RelayConfig) -> Self {
        OutboxRelay { db, bus, config, notifier: RelayNotifier::default(), stats: Arc::default() }
    }

    /// The handle the service calls after each commit that enqueued events.
    pub fn notifier(&self) -> RelayNotifier {
        self.notifier.clone()
    }

    /// The relay's counters, readable while it runs.
    pub fn stats(&self) -> Arc<RelayStats> {
        self.stats.clone()
    }

    /// Runs the relay on a task until `shutdown` is cancelled; the batch in flight is finished
    /// first. The task never ends on its own: errors are logged and retried.
    pub fn spawn(self, shutdown: CancellationToken) -> JoinHandle<()> {
        let span = tracing::info_span!("outbox_relay", schema = %self.db.schema());
        tokio::spawn(self.run(shutdown).instrument(span))
    }

    /// The relay's loop, for a caller that drives the future itself (see [`spawn`](Self::spawn)).
    pub async fn run(self, shutdown: CancellationToken) {
        let poll = Duration::from_millis(self.config.poll_interval_ms);
        let batch_size = self.config.batch_size.max(1) as usize;
        let cleanup_every = Duration::from_secs(self.config.cleanup_interval_secs.max(1));
        let mut backoff = Backoff::new(self.config.backoff_initial_ms, self.config.backoff_max_ms);
        let mut next_cleanup = Instant::now();
        tracing::info!(batch_size, ?poll, "outbox relay started");
        while !shutdown.is_cancelled() {
            if Instant::now() >= next_cleanup {
                let more = self.cleanup().await;
                next_cleanup = if more { Instant::now() } else { Instant::now() + cleanup_every };
            }
            match self.pass(batch_size).await {
                Ok(published) => {
                    if backoff.reset() {
                        tracing::info!("outbox relay recovered");
                    }
                    self.stats.record_success();
                    // A full batch means more are probably waiting: go again at once.
                    if published >= batch_size {
                        continue;
                    }
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = self.notifier.0.notified() => {}
                        _ = tokio::time::sleep(poll) => {}
                    }
                }
                Err(err) => {
                    let delay = backoff.next();
                    match err {
                        PassError::Db(err) => {
                            self.stats.record_db_error();
                            tracing::warn!(error = %err, retry_in = ?delay, "outbox relay: database error");
                        }
                        PassError::Publish(err) => {
                            self.stats.record_publish_failure();
                            tracing::warn!(error = %err, retry_in = ?delay, "outbox relay: publish failed");
                        }
                    }
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
        tracing::info!("outbox relay stopped");
    }

    /// Publishes one batch of the oldest pending rows; returns how many were published.
    async fn pass(&self, batch_size: usize) -> Result<usize, PassError> {
        let conn = self.db.conn();
        match self.db.backend() {
            DbBackend::Postgres => {
                // The row locks taken here last until commit, i.e. across the publish: that is
                // what keeps other replicas off these rows.
                let txn = conn.begin().await?;
                // Without fresh statistics the planner guesses "few pending rows" and picks a
                // bitmap scan plus a sort of the *whole* backlog (27 ms per batch at 20,000
                // pending, and growing with it); the ordered scan of the partial index reads only
                // the batch (0.6 ms). `SET LOCAL` keeps the hint to this transaction.
                txn.execute_unprepared("SET LOCAL enable_bitmapscan = off; SET LOCAL enable_seqscan = off").await?;
                let rows = pending(batch_size)
                    .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
                    .all(&txn)
                    .await?;
                let published = self.publish_and_mark(&txn, rows).await;
                // Commit even after a failed publish: it records the attempt and releases the locks.
                txn.commit().await?;
                published
            }
            // One relay per file: no claim needed, and no transaction held across the publish,
            // which would hold SQLite's single write lock from everyone else.
            _ => {
                let rows = pending(batch_size).all(conn).await?;
                self.publish_and_mark(conn, rows).await
            }
        }
    }

    async fn publish_and_mark(&self, conn: &impl ConnectionTrait, rows: Vec<Model>) -> Result<usize, PassError> {
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
            return Ok(0);
        };
        // Event ids, never payloads, in the span.
        let span = tracing::debug_span!(
            "outbox_batch",
            rows = rows.len(),
            first_event_id = %first.event_id,
            last_event_id = %last.event_id,
        );
        self.publish_batch(conn, rows).instrument(span).await
    }

    async fn publish_batch(&self, conn: &impl ConnectionTrait, rows: Vec<Model>) -> Result<usize, PassError> {
        let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
        let created: Vec<DateTime<Utc>> = rows.iter().map(|row| row.created_at).collect();
        let messages: Vec<Message> = rows.into_iter().map(to_message).collect();
        let timeout = Duration::from_secs(self.config.publish_timeout_secs.max(1));
        let outcome = match tokio::time::timeout(timeout, self.bus.publish(&messages)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(err.to_string()),
            Err(_) => Err(format!("no confirm for the whole batch within {timeout:?}")),
        };
        let now = now_micros();
        let attempted = count_attempt(&ids);
        match outcome {
            Ok(()) => {
                attempted.col_expr(Column::PublishedAt, Expr::value(now)).exec(conn).await?;
                let lags = created.iter().map(|at| (now - *at).to_std().unwrap_or_default());
                self.stats.record_batch(lags);
                tracing::debug!("batch published");
                Ok(ids.len())
            }
            Err(err) => {
                let recorded = truncate(&err, 1000);
                attempted.col_expr(Column::LastError, Expr::value(recorded)).exec(conn).await?;
                Err(PassError::Publish(err))
            }
        }
    }

    /// Deletes published rows older than the retention, a bounded number per round so that a
    /// large backlog of old rows never holds up publishing; `true` if more remain. A failure
    /// waits for the next round.
    async fn cleanup(&self) -> bool {
        let hours = i64::try_from(self.config.retention_hours).unwrap_or(i64::MAX).min(100 * 365 * 24);
        let before = Utc::now() - TimeDelta::hours(hours);
        match purge_published(self.db.conn(), before, PURGE_PER_ROUND).await {
            Ok(0) => false,
            Ok(rows) => {
                self.stats.record_purged(rows);
                tracing::info!(rows, "purged published outbox rows past retention");
                rows == PURGE_PER_ROUND
            }
            Err(err) => {
                tracing::warn!(error = %err, "outbox clean-up failed; retrying at the next round");
                false
            }
        }
    }
}

/// The oldest pending rows, in publish order.
fn pending(batch_size: usize) -> sea_orm::Select<Entity> {
    Entity::find().filter(Column::PublishedAt.is_null()).order_by_asc(Column::Id).limit(batch_size as u64)
}

/// Counts one more attempt on the rows `ids`.
///
/// No `published_at IS NULL` filter: the rows are ours (locked on Postgres, the only relay on
/// SQLite), and with it the planner scans every pending row instead of looking up the ids.
fn count_attempt(ids: &[i64]) -> sea_orm::UpdateMany<Entity> {
    // Imported here only: `ExprTrait` would shadow `Ord::max` on integers in the rest of the file.
    use sea_orm::sea_query::ExprTrait as _;
    Entity::update_many()
        .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
        .filter(Column::Id.is_in(ids.iter().copied()))
}

fn to_message(row: Model) -> Message {
    // Headers carry trace context only: losing them must not hold back the event itself.
    let headers = serde_json::from_str::<BTreeMap<String, String>>(&row.headers).unwrap_or_else(|err| {
        tracing::warn!(event_id = %row.event_id, error = %err, "unreadable outbox headers; publishing without them");
        BTreeMap::new()
    });
    Message { id: row.event_id, routing_key: row.routing_key, payload: Bytes::from(row.payload), headers }
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Exponential back-off with jitter, so replicas that failed together do not retry in lockstep.
struct Backoff {
    initial: Duration,
    max: Duration,
    current: Option<Duration>,
}

impl Backoff {
    fn new(initial_ms: u64, max_ms: u64) -> Self {
        let initial = Duration::from_millis(initial_ms.max(1));
        Backoff { initial, max: Duration::from_millis(max_ms).max(initial), current: None }
    }

    /// The next delay: between half and all of the current step.
    fn next(&mut self) -> Duration {
        let step = self.current.map_or(self.initial, |d| (d * 2).min(self.max));
        self.current = Some(step);
        // A fresh `RandomState` is randomly keyed: enough randomness for jitter, no dependency.
        let random = std::collections::hash_map::RandomState::new().hash_one(Instant::now());
        step / 2 + step.mul_f64((random % 1000) as f64 / 2000.0)
    }

    /// Back to the initial step; `true` if it had been backing off.
    fn reset(&mut self) -> bool {
        self.current.take().is_some()
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn backoff_grows_to_its_cap_and_resets() {
        let mut backoff = Backoff::new(100, 5000);
        let first = backoff.next();
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100), "{first:?}");
        let delays: Vec<Duration> = (0..10).map(|_| backoff.next()).collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(5000)));
        assert!(delays.last().unwrap() >= &Duration::from_millis(2500));
        assert!(backoff.reset());
        assert!(!backoff.reset());
        assert!(backoff.next() <= Duration::from_millis(100));
    }

    #[test]
    fn long_errors_are_truncated_on_a_char_boundary() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("ảbcdef", 3), "ảbc…");
    }

    #[test]
    fn config_defaults() {
        let config: RelayConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(config, RelayConfig::default());
        assert_eq!((config.batch_size, config.poll_interval_ms, config.backoff_max_ms), (500, 100, 5000));
        assert_eq!(config.retention_hours, 168);
    }
}
