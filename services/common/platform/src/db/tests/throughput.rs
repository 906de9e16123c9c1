//! Relay throughput on Postgres with an instant bus, by hand, in release:
//! `CARGO_TARGET_DIR=/work/target-db cargo test --release -- --ignored relay_throughput --nocapture`

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::{TestBus, eventually, messages, migrated, with_pg};
use crate::db::{OutboxRelay, RelayConfig, outbox};

const ROWS: usize = 20_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a measurement, run by hand in release"]
async fn relay_throughput_postgres() {
    with_pg(|db| async move {
        migrated(&db).await;

        // 1. Drain: 20,000 rows already committed, relay started afterwards.
        let sent = messages(ROWS);
        for chunk in sent.chunks(1_000) {
            let txn = db.begin_write().await.unwrap();
            outbox::enqueue(&txn, chunk).await.unwrap();
            txn.commit().await.unwrap();
        }
        let bus = Arc::new(TestBus::default());
        let relay = OutboxRelay::new(db.clone(), bus.clone(), RelayConfig::default());
        let stats = relay.stats();
        let shutdown = CancellationToken::new();
        let start = Instant::now();
        let task = relay.spawn(shutdown.clone());
        eventually(Duration::from_secs(120), "drained", || async { stats.snapshot().published == ROWS as u64 }).await;
        let drain = start.elapsed();
        assert_eq!(outbox::pending_count(db.conn()).await.unwrap(), 0);
        shutdown.cancel();
        task.await.unwrap();

        // 2. End to end: 4 writers enqueue 20,000 more in transactions of 10 rows, notifying the
        //    running relay after each commit; timed until the last one is marked published.
        let bus = Arc::new(TestBus::default());
        let relay = OutboxRelay::new(db.clone(), bus.clone(), RelayConfig::default());
        let (notifier, stats) = (relay.notifier(), relay.stats());
        let shutdown = CancellationToken::new();
        let task = relay.spawn(shutdown.clone());
        let sent = messages(ROWS);
        let start = Instant::now();
        let writers: Vec<_> = sent
            .chunks(ROWS / 4)
            .map(|part| {
                let (db, notifier, part) = (db.clone(), notifier.clone(), part.to_vec());
                tokio::spawn(async move {
                    for txn_rows in part.chunks(10) {
                        let txn = db.begin_write().await.unwrap();
                        outbox::enqueue(&txn, txn_rows).await.unwrap();
                        txn.commit().await.unwrap();
                        notifier.notify();
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
        let enqueued = start.elapsed();
        eventually(Duration::from_secs(120), "all published", || async { stats.snapshot().published == ROWS as u64 })
            .await;
        let end_to_end = start.elapsed();
        assert_eq!(outbox::pending_count(db.conn()).await.unwrap(), 0);
        shutdown.cancel();
        task.await.unwrap();

        let rate = |d: Duration| ROWS as f64 / d.as_secs_f64();
        eprintln!("relay drain of {ROWS} pre-enqueued rows: {drain:?} = {:.0} rows/s", rate(drain));
        eprintln!(
            "end to end, 4 writers x 10-row transactions: enqueued in {enqueued:?} ({:.0} rows/s), all published \
             after {end_to_end:?} = {:.0} rows/s; lag p50 {:?}, p99 {:?}, batches {}",
            rate(enqueued),
            rate(end_to_end),
            stats.lag_quantile(0.5).unwrap(),
            stats.lag_quantile(0.99).unwrap(),
            stats.snapshot().batches,
        );
    })
    .await;
}
