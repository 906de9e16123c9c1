//! Tests of the database layer against the real Postgres (`PAHT_TEST_POSTGRES_URL`, see
//! [`crate::testing`]; each test in a fresh database, dropped at the end) and against SQLite
//! files in a temporary directory.

mod inbox_tests;
mod migration_tests;
mod outbox_tests;
mod relay_tests;
mod restart_tests;
mod throughput;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use sea_orm::{ConnectionTrait, Statement};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{Db, DbConfig, PlatformMigrator};
use crate::bus::{Bus, BusError, DeadLetter, Handler, Message, Subscription};
use crate::testing::{Backend, FreshDb};

/// The test Postgres server (`PAHT_TEST_POSTGRES_URL`).
pub(super) fn pg_url() -> String {
    crate::testing::postgres_url()
}

fn test_config() -> DbConfig {
    DbConfig { max_connections: 8, connect_timeout_secs: 3, ..DbConfig::default() }
}

/// Runs `test` with a fresh, unmigrated Postgres database and drops it afterwards, even
/// when the test panics.
pub(super) async fn with_pg<F, Fut>(test: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()>,
{
    with_pg_url(|db, _| test(db)).await;
}

/// [`with_pg`], also giving the test its database's URL.
pub(super) async fn with_pg_url<F, Fut>(test: F)
where
    F: FnOnce(Db, String) -> Fut,
    Fut: Future<Output = ()>,
{
    let _shared = PG_GATE.read().await;
    run_fresh(Backend::Postgres, &test_config(), test).await;
}

/// Tests that restart the server take this exclusively, so the other Postgres tests of this
/// binary neither fail because of it nor disturb its counts.
pub(crate) static PG_GATE: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// [`with_pg`] with the pool configured by `config`, while no other Postgres test of this
/// binary runs.
pub(super) async fn with_pg_alone<F, Fut>(config: &DbConfig, test: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()>,
{
    let _exclusive = PG_GATE.write().await;
    run_fresh(Backend::Postgres, config, |db, _| test(db)).await;
}

/// Runs `test` with a fresh SQLite file in its own temporary directory (in a sub-directory
/// that does not exist yet: `connect` must create it), removed afterwards.
pub(super) async fn with_sqlite<F, Fut>(test: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()>,
{
    run_fresh(Backend::Sqlite, &test_config(), |db, _| test(db)).await;
}

/// Runs `test` on a fresh database of `backend`, removed afterwards even if the test panics.
async fn run_fresh<F, Fut>(backend: Backend, config: &DbConfig, test: F)
where
    F: FnOnce(Db, String) -> Fut,
    Fut: Future<Output = ()>,
{
    let fresh = FreshDb::create(backend, "db").await;
    let db = fresh.connect("service", config).await;
    let url = fresh.url().to_owned();
    fresh
        .around(async move {
            test(db.clone(), url).await;
            let _ = db.close().await;
        })
        .await;
}

/// Runs `test` on Postgres, then on SQLite.
pub(super) async fn on_both<F, Fut>(test: F)
where
    F: Fn(Db) -> Fut,
    Fut: Future<Output = ()>,
{
    with_pg(&test).await;
    with_sqlite(&test).await;
}

pub(super) async fn migrated(db: &Db) {
    db.migrate::<PlatformMigrator>().await.expect("migrate");
}

/// `n` distinct events with a header and a payload naming their position.
pub(super) fn messages(n: usize) -> Vec<Message> {
    (0..n)
        .map(|i| Message {
            id: Uuid::now_v7(),
            routing_key: "report.received".to_owned(),
            payload: Bytes::from(format!("event {i}")),
            headers: BTreeMap::from([("traceparent".to_owned(), format!("00-{:032x}-{:016x}-01", i + 1, i + 1))]),
        })
        .collect()
}

/// Runs one query returning a single integer column named `n`.
pub(super) async fn count(db: &Db, pg_sql: &str) -> i64 {
    // `$1`-style placeholders are not used here, so one text fits both backends.
    let row = db
        .conn()
        .query_one_raw(Statement::from_string(db.backend(), pg_sql.to_owned()))
        .await
        .expect("count query")
        .expect("a row");
    row.try_get::<i64>("", "n").expect("column n")
}

/// Waits until `check` holds, polling; panics with `what` after `limit`.
pub(super) async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < limit, "timed out after {limit:?} waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A bus that records what it is asked to publish, can fail its first calls, and can be slow.
#[derive(Default)]
pub(super) struct TestBus {
    /// Every message of every successful publish, in call order.
    pub published: Mutex<Vec<Message>>,
    /// Calls that still fail before publishes succeed.
    pub failures_left: AtomicU32,
    /// Calls made, failed or not.
    pub calls: AtomicUsize,
    /// Calls running now, and the most ever at once.
    in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    /// How long each publish takes.
    pub delay: Duration,
}

impl TestBus {
    pub(super) fn failing(times: u32) -> Self {
        TestBus { failures_left: AtomicU32::new(times), ..TestBus::default() }
    }

    pub(super) fn slow(delay: Duration) -> Self {
        TestBus { delay, ..TestBus::default() }
    }

    pub(super) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    pub(super) fn ids(&self) -> Vec<Uuid> {
        self.published.lock().unwrap().iter().map(|m| m.id).collect()
    }
}

#[async_trait]
impl Bus for TestBus {
    async fn publish(&self, messages: &[Message]) -> Result<(), BusError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        let fail = self.failures_left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
        if !fail {
            self.published.lock().unwrap().extend_from_slice(messages);
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        if fail { Err(BusError::Unavailable("test broker is down".to_owned())) } else { Ok(()) }
    }

    async fn subscribe(
        &self,
        _subscription: Subscription,
        _handler: Arc<dyn Handler>,
        _shutdown: CancellationToken,
    ) -> Result<JoinHandle<()>, BusError> {
        Err(BusError::Config("the test bus only publishes".to_owned()))
    }

    async fn dead_letters(&self, _queue: &str, _limit: usize) -> Result<Vec<DeadLetter>, BusError> {
        Ok(Vec::new())
    }

    async fn replay_dead_letters(&self, _queue: &str, _ids: Option<&[Uuid]>) -> Result<usize, BusError> {
        Ok(0)
    }
}

/// The outbox's event ids in id order, with whether each is published and its attempts.
pub(super) async fn outbox_rows(db: &Db) -> Vec<(Uuid, bool, i32)> {
    use sea_orm::{EntityTrait, QueryOrder};

    use super::outbox::entity::{Column, Entity};
    Entity::find()
        .order_by_asc(Column::Id)
        .all(db.conn())
        .await
        .expect("read the outbox")
        .into_iter()
        .map(|row| (row.event_id, row.published_at.is_some(), row.attempts))
        .collect()
}
