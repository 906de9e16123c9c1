use chrono::{TimeDelta, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait};

use super::{count, messages, migrated, on_both, outbox_rows};
use crate::db::outbox::entity::{Column, Entity};
use crate::db::{DbError, outbox};

#[tokio::test]
async fn a_rolled_back_enqueue_leaves_nothing() {
    on_both(|db| async move {
        migrated(&db).await;
        let txn = db.begin_write().await.unwrap();
        outbox::enqueue(&txn, &messages(3)).await.unwrap();
        assert_eq!(outbox::pending_count(&txn).await.unwrap(), 3, "visible inside the transaction");
        txn.rollback().await.unwrap();
        assert_eq!(outbox::pending_count(db.conn()).await.unwrap(), 0);
        assert!(outbox_rows(&db).await.is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_committed_enqueue_keeps_every_field_in_order() {
    on_both(|db| async move {
        migrated(&db).await;
        let sent = messages(5);
        let txn = db.conn().begin().await.unwrap();
        outbox::enqueue(&txn, &sent[..2]).await.unwrap();
        outbox::enqueue(&txn, &sent[2..]).await.unwrap();
        outbox::enqueue(&txn, &[]).await.unwrap();
        txn.commit().await.unwrap();

        let rows = Entity::find().order_by_asc(Column::Id).all(db.conn()).await.unwrap();
        assert_eq!(rows.len(), 5);
        assert!(rows.windows(2).all(|w| w[0].id < w[1].id), "ids grow");
        for (row, message) in rows.iter().zip(&sent) {
            assert_eq!(row.event_id, message.id);
            assert_eq!(row.routing_key, message.routing_key);
            assert_eq!(row.payload, message.payload.to_vec());
            let headers: std::collections::BTreeMap<String, String> = serde_json::from_str(&row.headers).unwrap();
            assert_eq!(headers, message.headers);
            assert_eq!((row.published_at, row.attempts, row.last_error.as_deref()), (None, 0, None));
            let age = Utc::now() - row.created_at;
            assert!(age >= TimeDelta::zero() && age < TimeDelta::seconds(30), "created just now: {age}");
        }
        assert_eq!(outbox::pending_count(db.conn()).await.unwrap(), 5);
    })
    .await;
}

#[tokio::test]
async fn a_duplicate_event_id_is_refused() {
    on_both(|db| async move {
        migrated(&db).await;
        let sent = messages(1);
        outbox::enqueue(db.conn(), &sent).await.unwrap();
        let err = outbox::enqueue(db.conn(), &sent).await.unwrap_err();
        assert!(matches!(err, DbError::Query(_)), "{err}");
        assert_eq!(outbox::pending_count(db.conn()).await.unwrap(), 1);
    })
    .await;
}

#[tokio::test]
async fn large_enqueues_are_split_into_several_statements() {
    on_both(|db| async move {
        migrated(&db).await;
        let sent = messages(2_500);
        let txn = db.begin_write().await.unwrap();
        outbox::enqueue(&txn, &sent).await.unwrap();
        txn.commit().await.unwrap();
        let ids: Vec<_> = outbox_rows(&db).await.into_iter().map(|(id, _, _)| id).collect();
        assert_eq!(ids, sent.iter().map(|m| m.id).collect::<Vec<_>>());
    })
    .await;
}

#[tokio::test]
async fn purge_deletes_only_old_published_rows() {
    on_both(|db| async move {
        migrated(&db).await;
        let sent = messages(6);
        outbox::enqueue(db.conn(), &sent).await.unwrap();
        let now = Utc::now();
        // Rows 0-1: published 8 days ago; 2-3: published now; 4-5: pending.
        for (i, at) in [(0, now - TimeDelta::days(8)), (1, now - TimeDelta::days(8)), (2, now), (3, now)] {
            Entity::update_many()
                .col_expr(Column::PublishedAt, sea_orm::sea_query::Expr::value(at))
                .filter(Column::EventId.eq(sent[i].id))
                .exec(db.conn())
                .await
                .unwrap();
        }
        assert_eq!(outbox::purge_published(db.conn(), now - TimeDelta::days(7), 1).await.unwrap(), 1, "bounded");
        assert_eq!(outbox::purge_published(db.conn(), now - TimeDelta::days(7), 100).await.unwrap(), 1);
        let left: Vec<_> = outbox_rows(&db).await.into_iter().map(|(id, _, _)| id).collect();
        assert_eq!(left, sent[2..].iter().map(|m| m.id).collect::<Vec<_>>());
        assert_eq!(count(&db, "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL").await, 2);
    })
    .await;
}
