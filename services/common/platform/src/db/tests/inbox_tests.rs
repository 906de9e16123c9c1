use chrono::{TimeDelta, Utc};
use uuid::Uuid;

use super::{count, migrated, on_both};
use crate::db::inbox;

#[tokio::test]
async fn the_first_delivery_is_seen_once_per_consumer() {
    on_both(|db| async move {
        migrated(&db).await;
        let event = Uuid::now_v7();
        assert!(inbox::first_delivery(db.conn(), "routing", event).await.unwrap());
        assert!(!inbox::first_delivery(db.conn(), "routing", event).await.unwrap(), "a redelivery");
        assert!(inbox::first_delivery(db.conn(), "reporting", event).await.unwrap(), "consumers are independent");
        assert!(inbox::first_delivery(db.conn(), "routing", Uuid::now_v7()).await.unwrap(), "another event");
        assert_eq!(count(&db, "SELECT count(*) AS n FROM inbox").await, 3);
    })
    .await;
}

#[tokio::test]
async fn a_rolled_back_mark_disappears() {
    on_both(|db| async move {
        migrated(&db).await;
        let event = Uuid::now_v7();
        let txn = db.begin_write().await.unwrap();
        assert!(inbox::first_delivery(&txn, "routing", event).await.unwrap());
        assert!(!inbox::first_delivery(&txn, "routing", event).await.unwrap(), "seen within the transaction");
        txn.rollback().await.unwrap();
        // The effect did not commit, so the redelivery must be processed.
        let txn = db.begin_write().await.unwrap();
        assert!(inbox::first_delivery(&txn, "routing", event).await.unwrap());
        txn.commit().await.unwrap();
        assert!(!inbox::first_delivery(db.conn(), "routing", event).await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn concurrent_deliveries_of_one_event_apply_it_once() {
    on_both(|db| async move {
        migrated(&db).await;
        let event = Uuid::now_v7();
        let attempts = (0..4).map(|_| {
            let db = db.clone();
            async move {
                let txn = db.begin_write().await.unwrap();
                let first = inbox::first_delivery(&txn, "routing", event).await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                txn.commit().await.unwrap();
                first
            }
        });
        let firsts = futures::future::join_all(attempts).await;
        assert_eq!(firsts.iter().filter(|f| **f).count(), 1, "{firsts:?}");
    })
    .await;
}

#[tokio::test]
async fn purge_forgets_old_marks_only() {
    on_both(|db| async move {
        migrated(&db).await;
        let (old, recent) = (Uuid::now_v7(), Uuid::now_v7());
        assert!(inbox::first_delivery(db.conn(), "routing", old).await.unwrap());
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let cutoff = Utc::now();
        assert!(inbox::first_delivery(db.conn(), "routing", recent).await.unwrap());
        assert_eq!(inbox::purge_processed(db.conn(), cutoff).await.unwrap(), 1);
        assert!(inbox::first_delivery(db.conn(), "routing", old).await.unwrap(), "forgotten");
        assert!(!inbox::first_delivery(db.conn(), "routing", recent).await.unwrap(), "kept");
        assert_eq!(inbox::purge_processed(db.conn(), Utc::now() - TimeDelta::days(1)).await.unwrap(), 0);
    })
    .await;
}
