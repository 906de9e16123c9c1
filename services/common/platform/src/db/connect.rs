//! Opening a service's database: its own Postgres schema, or its own SQLite file.

use std::str::FromStr;
use std::time::Duration;

use sea_orm::sqlx::postgres::PgConnectOptions;
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend, Statement,
    TransactionOptions, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;
use serde::Deserialize;

use super::DbError;

/// Pool and driver settings; the defaults suit embedded mode (an SQLite file on a laptop).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DbConfig {
    /// Most connections the pool opens (`PAHT_DB_MAX_CONNECTIONS`, default 5). Forced to 1 for
    /// `sqlite::memory:`. A Postgres relay holds one for each batch it publishes.
    pub max_connections: u32,
    /// Connections kept open even when idle (default 0; 1 for `sqlite::memory:`).
    pub min_connections: u32,
    /// How long to wait for a connection, from the pool or a new one (default 5 s); a query
    /// fails after that instead of hanging while the database is down.
    pub connect_timeout_secs: u64,
    /// An idle connection is closed after this long (default 600 s).
    pub idle_timeout_secs: u64,
    /// Every connection is replaced after this long, so server-side state cannot pile up (default 1800 s).
    pub max_lifetime_secs: u64,
    /// SQLite only: how long a writer waits for the file's write lock before `SQLITE_BUSY` (default 5000 ms).
    pub busy_timeout_ms: u64,
    /// Log every SQL statement through the `log` facade at info level (default false); statements carry no bound values.
    pub log_statements: bool,
}

impl Default for DbConfig {
    fn default() -> Self {
        DbConfig {
            max_connections: 5,
            min_connections: 0,
            connect_timeout_secs: 5,
            idle_timeout_secs: 600,
            max_lifetime_secs: 1800,
            busy_timeout_ms: 5000,
            log_statements: false,
        }
    }
}

/// A service's database: a connection pool bound to the service's schema (Postgres) or file (SQLite).
///
/// Cheap to clone: clones share the pool.
#[derive(Debug, Clone)]
pub struct Db {
    conn: DatabaseConnection,
    schema: String,
}

impl Db {
    /// Opens a pool on `url` (`postgres://…` or `sqlite:…`) for the service whose data lives in `schema`.
    ///
    /// Postgres: the schema is created if missing and every pooled connection starts with
    /// `search_path` set to it alone (a startup parameter, so it survives `RESET ALL`), so
    /// unqualified names — the service's tables and `seaql_migrations` — live there and nowhere
    /// else. SQLite: the schema name is only checked (the file is the service's own); the file
    /// and its directory are created if missing, and every connection runs in WAL mode with
    /// `synchronous=FULL`, foreign keys on and a busy timeout. `sqlite::memory:` is for tests:
    /// each connection would get its own database, so the pool is capped at one connection.
    #[tracing::instrument(name = "db_connect", skip(url, config), fields(backend))]
    pub async fn connect(url: &str, schema: &str, config: &DbConfig) -> Result<Db, DbError> {
        check_schema(schema)?;
        let mut options = ConnectOptions::new(url);
        options
            .max_connections(config.max_connections.max(1))
            .min_connections(config.min_connections)
            .connect_timeout(Duration::from_secs(config.connect_timeout_secs))
            .idle_timeout(Duration::from_secs(config.idle_timeout_secs))
            .max_lifetime(Duration::from_secs(config.max_lifetime_secs))
            .sqlx_logging(config.log_statements);

        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // Parsed here first so a malformed URL is reported without echoing its password.
            PgConnectOptions::from_str(url).map_err(|e| DbError::InvalidUrl(e.to_string()))?;
            let search_path = schema.to_owned();
            let application_name = format!("paht-{schema}");
            options.map_sqlx_postgres_opts(move |pg| {
                pg.options([("search_path", search_path.as_str())]).application_name(&application_name)
            });
            DbBackend::Postgres
        } else if url.starts_with("sqlite:") {
            configure_sqlite(url, config, &mut options)?;
            DbBackend::Sqlite
        } else {
            let scheme = url.split(':').next().unwrap_or_default();
            return Err(DbError::InvalidUrl(format!("unsupported scheme `{scheme}`")));
        };
        let backend_name = backend.as_str();
        tracing::Span::current().record("backend", backend_name);

        let conn =
            Database::connect(options).await.map_err(|source| DbError::Connect { backend: backend_name, source })?;
        let db = Db { conn, schema: schema.to_owned() };
        if backend == DbBackend::Postgres {
            db.create_schema().await?;
        }
        tracing::info!(schema, "database connected");
        Ok(db)
    }

    /// The sea-orm connection (a pool) for queries and transactions.
    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// Which database this is, for the few statements that differ.
    pub fn backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    /// The service's schema (Postgres); on SQLite only a name.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock at `BEGIN`
    /// (`BEGIN IMMEDIATE`), so concurrent writers wait for the busy timeout instead of failing
    /// with `SQLITE_BUSY` when a read-then-write transaction tries to upgrade; on Postgres it is
    /// a plain `BEGIN`.
    pub async fn begin_write(&self) -> Result<DatabaseTransaction, DbError> {
        let mut options = TransactionOptions::default();
        if self.backend() == DbBackend::Sqlite {
            options.sqlite_transaction_mode = Some(sea_orm::SqliteTransactionMode::Immediate);
        }
        Ok(self.conn.begin_with_options(options).await?)
    }

    /// Applies the pending migrations of `M` (the service's migrator, which lists
    /// [`platform_migrations`](super::platform_migrations) first). Running it again does nothing.
    ///
    /// On Postgres it runs in one transaction holding an advisory lock named after the schema,
    /// so replicas starting together migrate one after the other, and a failure leaves nothing
    /// half applied. Migrations that cannot run in a transaction (`CREATE INDEX CONCURRENTLY`)
    /// do not belong here.
    #[tracing::instrument(name = "db_migrate", skip(self), fields(schema = %self.schema))]
    pub async fn migrate<M: MigratorTrait>(&self) -> Result<(), DbError> {
        match self.backend() {
            DbBackend::Postgres => {
                let txn = self.conn.begin().await.map_err(DbError::Migration)?;
                txn.execute_unprepared("SELECT pg_advisory_xact_lock(hashtext('paht.migrate.' || current_schema()))")
                    .await
                    .map_err(DbError::Migration)?;
                M::up(&txn, None).await.map_err(DbError::Migration)?;
                txn.commit().await.map_err(DbError::Migration)?;
            }
            _ => M::up(&self.conn, None).await.map_err(DbError::Migration)?,
        }
        tracing::info!("database migrated");
        Ok(())
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(self) -> Result<(), DbError> {
        Ok(self.conn.close().await?)
    }

    /// `CREATE SCHEMA IF NOT EXISTS` can still fail when two replicas run it at the same
    /// moment (both pass the check, one loses on the catalog's unique index); the loser only
    /// needs to see that the schema now exists.
    async fn create_schema(&self) -> Result<(), DbError> {
        let created = self.conn.execute_unprepared(&format!("CREATE SCHEMA IF NOT EXISTS \"{}\"", self.schema)).await;
        if let Err(err) = created {
            let exists = self
                .conn
                .query_one_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT 1 AS one FROM pg_namespace WHERE nspname = $1",
                    [self.schema.clone().into()],
                ))
                .await?
                .is_some();
            if !exists {
                return Err(DbError::Query(err));
            }
        }
        Ok(())
    }
}

/// Per-connection PRAGMAs go through the driver's connect options, so a connection the pool
/// opens later (after one was dropped) gets them too.
fn configure_sqlite(url: &str, config: &DbConfig, options: &mut ConnectOptions) -> Result<(), DbError> {
    let parsed = SqliteConnectOptions::from_str(url).map_err(|e| DbError::InvalidUrl(e.to_string()))?;
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    if in_memory {
        // The database lives as long as its connection: keep exactly one, forever.
        options.max_connections(1).min_connections(1).idle_timeout(None).max_lifetime(None);
    } else if let Some(dir) = parsed.get_filename().parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| DbError::CreateDir { path: dir.to_path_buf(), source })?;
    }
    let busy_timeout = Duration::from_millis(config.busy_timeout_ms);
    options.map_sqlx_sqlite_opts(move |sqlite| {
        let sqlite = sqlite
            .busy_timeout(busy_timeout)
            .foreign_keys(true)
            .synchronous(SqliteSynchronous::Full)
            .create_if_missing(true);
        if in_memory { sqlite } else { sqlite.journal_mode(SqliteJournalMode::Wal) }
    });
    Ok(())
}

/// Schema names are spliced into SQL (`CREATE SCHEMA`, `search_path`), so only plain
/// identifiers that need no quoting and fit Postgres' 63-byte limit are accepted.
fn check_schema(schema: &str) -> Result<(), DbError> {
    let valid = !schema.is_empty()
        && schema.len() <= 63
        && !schema.starts_with(|c: char| c.is_ascii_digit())
        && schema.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !schema.starts_with("pg_");
    if valid { Ok(()) } else { Err(DbError::InvalidSchema(schema.to_owned())) }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn schema_names_are_checked() {
        for ok in ["intake", "t_0123abcd", "_x", "a1"] {
            assert!(check_schema(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1abc", "Intake", "a-b", "a\"b", "pg_catalog", &"x".repeat(64)] {
            assert!(matches!(check_schema(bad), Err(DbError::InvalidSchema(_))), "{bad}");
        }
    }

    #[test]
    fn defaults_suit_embedded_mode() {
        let config: DbConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(config, DbConfig::default());
        assert_eq!(config.max_connections, 5);
        let config: DbConfig = serde_json::from_str(r#"{"max_connections": 20}"#).unwrap();
        assert_eq!(config.max_connections, 20);
        assert_eq!(config.busy_timeout_ms, 5000);
    }

    #[tokio::test]
    async fn unsupported_urls_are_refused() {
        let err = Db::connect("mysql://u:secret@h/db", "x", &DbConfig::default()).await.unwrap_err();
        assert!(matches!(err, DbError::InvalidUrl(_)));
        assert!(!err.to_string().contains("secret"), "the password must not leak: {err}");
    }
}
