//! The relay rides out a Postgres restart and lost connections. The restart test restarts the
//! machine's shared server (other Postgres tests of this binary wait for it); run it alone with
//! `cargo test postgres_restart -- --nocapture` (a few seconds).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{TestBus, eventually, messages, migrated, with_pg, with_pg_alone};
use crate::bus::Message;
use crate::db::outbox::entity::{Column, Entity};
use crate::db::{Db, DbConfig, OutboxRelay, RelayConfig, outbox};

/// The Postgres version whose `main` cluster serves 127.0.0.1:5432 (`/etc/postgresql/<version>`).
fn cluster_version() -> String {
    std::fs::read_dir("/etc/postgresql")
        .expect("a Debian Postgres install (/etc/postgresql)")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .max()
        .expect("a cluster version")
}

/// Enqueues one event, retrying through errors until it is known to be committed: after a
/// failed commit the row may or may not exist, so its event id is looked up before retrying.
async fn enqueue_surely(db: &Db, message: &Message) -> u32 {
    let mut errors = 0;
    loop {
        let attempt = async {
            let txn = db.begin_write().await?;
            outbox::enqueue(&txn, std::slice::from_ref(message)).await?;
            txn.commit().await?;
            Ok::<_, crate::db::DbError>(())
        };
        if attempt.await.is_ok() {
            return errors;
        }
        errors += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let exists = Entity::find().filter(Column::EventId.eq(message.id)).count(db.conn()).await;
        if matches!(exists, Ok(1)) {
            return errors;
        }
    }
}

async fn postmaster_start(db: &Db) -> String {
    use sea_orm::{ConnectionTrait, Statement};
    let sql = "SELECT pg_postmaster_start_time()::text AS t";
    let row = db.conn().query_one_raw(Statement::from_string(db.backend(), sql.to_owned())).await.unwrap().unwrap();
    row.try_get::<String>("", "t").unwrap()
}

#[tokio::test]
async fn postgres_restart_loses_nothing_and_the_relay_recovers() {
    // A 1 s acquire timeout, shorter than the restart, so the outage reaches the relay as
    // errors instead of being waited out inside the pool.
    let config = DbConfig { connect_timeout_secs: 1, max_connections: 4, ..DbConfig::default() };
    with_pg_alone(&config, |db| async move {
        migrated(&db).await;
        let bus = Arc::new(TestBus::default());
        let config = RelayConfig {
            poll_interval_ms: 20,
            backoff_initial_ms: 50,
            backoff_max_ms: 1000,
            ..RelayConfig::default()
        };
        let relay = OutboxRelay::new(db.clone(), bus.clone(), config);
        let (notifier, stats) = (relay.notifier(), relay.stats());
        let shutdown = CancellationToken::new();
        let task = relay.spawn(shutdown.clone());

        // The writer: one event every 5 ms until stopped, each retried until committed.
        let stop = Arc::new(AtomicBool::new(false));
        let committed = Arc::new(Mutex::new(Vec::<Uuid>::new()));
        let writer = tokio::spawn({
            let (db, stop, committed, notifier) = (db.clone(), stop.clone(), committed.clone(), notifier.clone());
            async move {
                let mut errors = 0;
                while !stop.load(Ordering::SeqCst) {
                    let message = messages(1).remove(0);
                    errors += enqueue_surely(&db, &message).await;
                    committed.lock().unwrap().push(message.id);
                    notifier.notify();
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                errors
            }
        });

        tokio::time::sleep(Duration::from_millis(700)).await;
        let started_before = postmaster_start(&db).await;
        let before_restart = committed.lock().unwrap().len();
        let restart_began = std::time::Instant::now();
        let version = cluster_version();
        let status = tokio::task::spawn_blocking(move || {
            std::process::Command::new("pg_ctlcluster")
                .args(["--skip-systemctl-redirect", &version, "main", "restart"])
                .status()
        })
        .await
        .unwrap()
        .expect("run pg_ctlcluster");
        assert!(status.success(), "pg_ctlcluster restart failed: {status}");
        let restart_took = restart_began.elapsed();
        let after_restart = committed.lock().unwrap().len();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        stop.store(true, Ordering::SeqCst);
        let writer_errors = writer.await.unwrap();
        let committed = committed.lock().unwrap().clone();
        assert!(committed.len() > after_restart, "the writer went on after the restart");

        eventually(Duration::from_secs(30), "every enqueued row published", || async {
            outbox::pending_count(db.conn()).await.is_ok_and(|n| n == 0)
        })
        .await;
        assert!(!task.is_finished(), "the same relay task is still running");
        assert_ne!(postmaster_start(&db).await, started_before, "the server did restart");
        shutdown.cancel();
        task.await.unwrap();

        let published: HashSet<Uuid> = bus.ids().into_iter().collect();
        let in_outbox: HashSet<Uuid> =
            Entity::find().all(db.conn()).await.unwrap().into_iter().map(|r| r.event_id).collect();
        let missing: Vec<_> = committed.iter().filter(|id| !published.contains(id)).collect();
        assert!(missing.is_empty(), "{} committed events never published", missing.len());
        assert_eq!(in_outbox.len(), committed.len(), "exactly the committed events are in the outbox");
        assert!(in_outbox.iter().all(|id| published.contains(id)));
        let snapshot = stats.snapshot();
        eprintln!(
            "restart took {restart_took:?}: {} events ({before_restart} before the restart, {after_restart} when it \
             returned), writer errors {writer_errors}, relay db errors {}, bus publishes {} (re-sends {})",
            committed.len(),
            snapshot.db_errors,
            bus.ids().len(),
            bus.ids().len() - published.len(),
        );
    })
    .await;
}

#[tokio::test]
async fn a_connection_killed_mid_batch_is_survived_by_resending() {
    with_pg(|db| async move {
        migrated(&db).await;
        let sent = messages(50);
        outbox::enqueue(db.conn(), &sent).await.unwrap();
        let bus = Arc::new(TestBus::slow(Duration::from_millis(500)));
        let config =
            RelayConfig { poll_interval_ms: 20, backoff_initial_ms: 10, backoff_max_ms: 100, ..RelayConfig::default() };
        let relay = OutboxRelay::new(db.clone(), bus.clone(), config);
        let stats = relay.stats();
        let shutdown = CancellationToken::new();
        let task = relay.spawn(shutdown.clone());

        // While the batch is at the bus, its transaction's connection is killed (only this
        // test's connections are on its fresh database).
        eventually(Duration::from_secs(5), "the batch is being published", || async { bus.in_flight() == 1 }).await;
        let kill = format!(
            "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = 'paht-{}' \
             AND pid <> pg_backend_pid() AND state = 'idle in transaction'",
            db.schema()
        );
        assert_eq!(super::count(&db, &kill).await, 1, "the relay's transaction was found and killed");

        eventually(Duration::from_secs(10), "rows published again and marked", || async {
            outbox::pending_count(db.conn()).await.is_ok_and(|n| n == 0)
        })
        .await;
        shutdown.cancel();
        task.await.unwrap();
        let snapshot = stats.snapshot();
        assert!(snapshot.db_errors >= 1, "the lost connection was seen: {snapshot:?}");
        let ids = bus.ids();
        let expected: Vec<Uuid> = sent.iter().map(|m| m.id).collect();
        assert_eq!(ids.len(), 2 * sent.len(), "confirmed but not marked, so sent again (at least once)");
        assert_eq!(&ids[..sent.len()], expected.as_slice());
        assert_eq!(&ids[sent.len()..], expected.as_slice());
    })
    .await;
}
