use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait};
use tokio_util::sync::CancellationToken;

use super::{TestBus, eventually, messages, migrated, on_both, outbox_rows, with_pg};
use crate::db::outbox::entity::{Column, Entity};
use crate::db::{OutboxRelay, RelayConfig, outbox};

fn fast() -> RelayConfig {
    RelayConfig { poll_interval_ms: 20, backoff_initial_ms: 10, backoff_max_ms: 50, ..RelayConfig::default() }
}

#[tokio::test]
async fn every_row_is_published_once_in_order_and_marked() {
    on_both(|db| async move {
        migrated(&db).await;
        let sent = messages(1_234);
        for chunk in sent.chunks(300) {
            let txn = db.begin_write().await.unwrap();
            outbox::enqueue(&txn, chunk).await.unwrap();
            txn.commit().await.unwrap();
        }
        let bus = Arc::new(TestBus::default());
        let relay = OutboxRelay::new(db.clone(), bus.clone(), fast());
        let stats = relay.stats();
        let shutdown = CancellationToken::new();
        let task = relay.spawn(shutdown.clone());

        eventually(Duration::from_secs(20), "all rows published", || async {
            outbox::pending_count(db.conn()).await.unwrap() == 0
        })
        .await;
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), task).await.expect("stops when asked").unwrap();

        assert_eq!(bus.ids(), sent.iter().map(|m| m.id).collect::<Vec<_>>(), "each once, in order");
        assert_eq!(bus.calls.load(Ordering::SeqCst), 3, "batches of 500, 500 and 234");
        let published = bus.published.lock().unwrap().clone();
        assert_eq!(published, sent, "routing keys, payloads and headers go out unchanged");
        let rows = outbox_rows(&db).await;
        assert!(rows.iter().all(|(_, published, attempts)| *published && *attempts == 1), "all marked");
        let snapshot = stats.snapshot();
        assert_eq!((snapshot.published, snapshot.batches, snapshot.last_batch_size), (1_234, 3, 234));
        assert_eq!((snapshot.publish_failures, snapshot.db_errors, snapshot.consecutive_failures), (0, 0, 0));
        assert!(stats.lag_quantile(0.99).is_some());
    })
    .await;
}

#[tokio::test]
async fn failed_publishes_are_retried_and_recorded_without_loss() {
    on_both(|db| async move {
        migrated(&db).await;
        let sent = messages(10);
        outbox::enqueue(db.conn(), &sent).await.unwrap();
        let bus = Arc::new(TestBus::failing(3));
        let relay = OutboxRelay::new(db.clone(), bus.clone(), fast());
        let stats = relay.stats();
        let shutdown = CancellationToken::new();
        let task = relay.spawn(shutdown.clone());

        eventually(Duration::from_secs(10), "rows published after the failures", || async {
            outbox::pending_count(db.conn()).await.unwrap() == 0
        })
        .await;
        shutdown.cancel();
        task.await.unwrap();

        assert_eq!(bus.calls.load(Ordering::SeqCst), 4, "three failures, then success");
        assert_eq!(bus.ids(), sent.iter().map(|m| m.id).collect::<Vec<_>>(), "each published once, in order");
        let rows = Entity::find().order_by_asc(Column::Id).all(db.conn()).await.unwrap();
        for row in rows {
            assert!(row.published_at.is_some());
            assert_eq!(row.attempts, 4, "every attempt counted");
            assert!(row.last_error.as_deref().unwrap_or_default().contains("test broker is down"));
        }
        let snapshot = stats.snapshot();
        assert_eq!((snapshot.publish_failures, snapshot.consecutive_failures, snapshot.published), (3, 0, 10));
    })
    .await;
}

#[tokio::test]
async fn a_notify_wakes_the_relay_before_the_poll_interval() {
    on_both(|db| async move {
        migrated(&db).await;
        let bus = Arc::new(TestBus::default());
        let config = RelayConfig { poll_interval_ms: 60_000, ..fast() };
        let relay = OutboxRelay::new(db.clone(), bus.clone(), config);
        let (notifier, stats) = (relay.notifier(), relay.stats());
        let shutdown = CancellationToken::new();
        let task = relay.spawn(shutdown.clone());
        // Let the first (empty) pass finish so the relay is asleep for a minute.
        tokio::time::sleep(Duration::from_millis(300)).await;

        let quiet = messages(1);
        outbox::enqueue(db.conn(), &quiet).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(bus.ids().is_empty(), "without a notify the relay sleeps on");

        let woken = messages(1);
        let txn = db.begin_write().await.unwrap();
        outbox::enqueue(&txn, &woken).await.unwrap();
        txn.commit().await.unwrap();
        notifier.notify();
        eventually(Duration::from_secs(2), "published right after the notify", || async { bus.ids().len() == 2 }).await;
        assert_eq!(bus.ids(), vec![quiet[0].id, woken[0].id]);
        assert!(stats.snapshot().last_batch_lag >= Duration::from_millis(300), "the quiet row waited");
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(2), task).await.expect("stops while sleeping").unwrap();
    })
    .await;
}

#[tokio::test]
async fn two_postgres_relays_never_publish_a_row_twice() {
    with_pg(|db| async move {
        migrated(&db).await;
        let sent = messages(2_000);
        let txn = db.conn().begin().await.unwrap();
        outbox::enqueue(&txn, &sent).await.unwrap();
        txn.commit().await.unwrap();

        // One shared, slow bus: each publish holds its batch's row locks for 10 ms, so the two
        // relays really do run side by side.
        let bus = Arc::new(TestBus::slow(Duration::from_millis(10)));
        let config = RelayConfig { batch_size: 100, ..fast() };
        let shutdown = CancellationToken::new();
        let (one, two) = (
            OutboxRelay::new(db.clone(), bus.clone(), config.clone()),
            OutboxRelay::new(db.clone(), bus.clone(), config),
        );
        let (stats_one, stats_two) = (one.stats(), two.stats());
        let tasks = [one.spawn(shutdown.clone()), two.spawn(shutdown.clone())];

        eventually(Duration::from_secs(30), "all 2,000 rows published", || async {
            outbox::pending_count(db.conn()).await.unwrap() == 0
        })
        .await;
        shutdown.cancel();
        for task in tasks {
            task.await.unwrap();
        }

        let ids = bus.ids();
        let distinct: HashSet<_> = ids.iter().collect();
        assert_eq!(ids.len() - distinct.len(), 0, "no row published by both relays");
        assert_eq!(distinct, sent.iter().map(|m| &m.id).collect::<HashSet<_>>(), "every row published");
        assert!(bus.max_in_flight.load(Ordering::SeqCst) >= 2, "the relays did publish concurrently");
        let (a, b) = (stats_one.snapshot().published, stats_two.snapshot().published);
        assert_eq!(a + b, 2_000);
        assert!(a > 0 && b > 0, "both relays took a share: {a} + {b}");
        assert!(outbox_rows(&db).await.iter().all(|(_, published, attempts)| *published && *attempts == 1));
    })
    .await;
}

#[tokio::test]
async fn the_relay_purges_published_rows_past_retention() {
    on_both(|db| async move {
        migrated(&db).await;
        let sent = messages(4);
        outbox::enqueue(db.conn(), &sent).await.unwrap();
        Entity::update_many()
            .col_expr(Column::PublishedAt, sea_orm::sea_query::Expr::value(Utc::now() - TimeDelta::days(8)))
            .filter(Column::EventId.is_in([sent[0].id, sent[1].id]))
            .exec(db.conn())
            .await
            .unwrap();
        let bus = Arc::new(TestBus::default());
        let relay = OutboxRelay::new(db.clone(), bus.clone(), fast());
        let stats = relay.stats();
        let shutdown = CancellationToken::new();
        let task = relay.spawn(shutdown.clone());
        eventually(Duration::from_secs(5), "old rows purged and the rest published", || async {
            stats.snapshot().purged == 2 && outbox::pending_count(db.conn()).await.unwrap() == 0
        })
        .await;
        shutdown.cancel();
        task.await.unwrap();
        let left: Vec<_> = outbox_rows(&db).await.into_iter().map(|(id, _, _)| id).collect();
        assert_eq!(left, vec![sent[2].id, sent[3].id], "recently published rows are kept");
        assert_eq!(bus.ids(), left, "rows already published are not published again");
    })
    .await;
}
