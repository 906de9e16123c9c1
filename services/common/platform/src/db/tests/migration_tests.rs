use sea_orm::{ConnectionTrait, Statement};

use super::{count, migrated, with_pg, with_sqlite};
use crate::db::{Db, DbConfig, PlatformMigrator};

/// How many of the platform's tables (and the migration table) exist in `schema`.
async fn tables_in(db: &Db, schema: &str) -> i64 {
    count(
        db,
        &format!(
            "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = '{schema}' \
             AND table_name IN ('outbox', 'inbox', 'held_facts', 'seaql_migrations')"
        ),
    )
    .await
}

#[tokio::test]
async fn postgres_migrations_run_twice_in_the_service_schema_only() {
    with_pg(|db| async move {
        let schema = db.schema().to_owned();
        let search_path = db
            .conn()
            .query_one_raw(Statement::from_string(db.backend(), "SELECT current_schema() AS s".to_owned()))
            .await
            .unwrap()
            .unwrap()
            .try_get::<String>("", "s")
            .unwrap();
        assert_eq!(search_path, schema, "connections start in the service's schema");
        let public_before = tables_in(&db, "public").await;

        migrated(&db).await;
        migrated(&db).await;

        assert_eq!(tables_in(&db, &schema).await, 4, "outbox, inbox, held_facts and seaql_migrations in {schema}");
        assert_eq!(tables_in(&db, "public").await, public_before, "nothing created in public");
        assert_eq!(count(&db, "SELECT count(*) AS n FROM seaql_migrations").await, 2, "each recorded once");
        let indexes = count(
            &db,
            &format!(
                "SELECT count(*) AS n FROM pg_indexes WHERE schemaname = '{schema}' \
                 AND indexname IN ('outbox_pending_idx', 'outbox_published_at_idx', 'inbox_processed_at_idx')"
            ),
        )
        .await;
        assert_eq!(indexes, 3);
        let partial = count(
            &db,
            &format!(
                "SELECT count(*) AS n FROM pg_indexes WHERE schemaname = '{schema}' \
                 AND indexname = 'outbox_pending_idx' AND indexdef LIKE '%WHERE (published_at IS NULL)%'"
            ),
        )
        .await;
        assert_eq!(partial, 1, "the pending index is partial");
    })
    .await;
}

#[tokio::test]
async fn concurrent_migrations_of_one_schema_serialise() {
    super::with_pg_url(|db, url| async move {
        // Three "replicas" starting together, each with its own pool.
        let mut replicas = Vec::new();
        for _ in 0..3 {
            replicas.push(Db::connect(&url, db.schema(), &DbConfig::default()).await.unwrap());
        }
        let runs = replicas.iter().map(|replica| replica.migrate::<PlatformMigrator>());
        for result in futures::future::join_all(runs).await {
            result.expect("every replica migrates without error");
        }
        assert_eq!(count(&db, "SELECT count(*) AS n FROM seaql_migrations").await, 2);
        for replica in replicas {
            replica.close().await.unwrap();
        }
    })
    .await;
}

#[tokio::test]
async fn sqlite_migrations_run_twice_and_pragmas_are_set() {
    with_sqlite(|db| async move {
        migrated(&db).await;
        migrated(&db).await;
        let tables = count(
            &db,
            "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' \
             AND name IN ('outbox', 'inbox', 'held_facts', 'seaql_migrations')",
        )
        .await;
        assert_eq!(tables, 4);
        assert_eq!(count(&db, "SELECT count(*) AS n FROM seaql_migrations").await, 2);
        let pragma = |name: &'static str| {
            let db = db.clone();
            async move {
                let row = db
                    .conn()
                    .query_one_raw(Statement::from_string(db.backend(), format!("PRAGMA {name}")))
                    .await
                    .unwrap()
                    .unwrap();
                row.try_get_by_index::<sea_orm::prelude::Json>(0)
                    .map(|v| v.to_string())
                    .or_else(|_| row.try_get_by_index::<String>(0))
                    .or_else(|_| row.try_get_by_index::<i64>(0).map(|v| v.to_string()))
                    .unwrap()
            }
        };
        assert_eq!(pragma("journal_mode").await, "wal");
        assert_eq!(pragma("foreign_keys").await, "1");
        assert_eq!(pragma("synchronous").await, "2", "FULL");
        assert_eq!(pragma("busy_timeout").await, "5000");
    })
    .await;
}

#[tokio::test]
async fn in_memory_sqlite_keeps_one_database() {
    let db = Db::connect("sqlite::memory:", "service", &DbConfig::default()).await.unwrap();
    db.migrate::<PlatformMigrator>().await.unwrap();
    // Several concurrent queries must all see the migrated tables: one connection, one database.
    let checks = (0..4).map(|_| count(&db, "SELECT count(*) AS n FROM outbox"));
    assert_eq!(futures::future::join_all(checks).await, vec![0; 4]);
    db.close().await.unwrap();
}

#[tokio::test]
async fn bad_schema_names_are_refused_before_connecting() {
    let err = Db::connect(&super::pg_url(), "Robert'); DROP TABLE x; --", &DbConfig::default()).await.unwrap_err();
    assert!(matches!(err, crate::db::DbError::InvalidSchema(_)), "{err}");
}
