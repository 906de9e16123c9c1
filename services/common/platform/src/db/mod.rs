//! The database layer every service shares: connecting (Postgres schema per service, or an
//! SQLite file), the platform's migrations, the transactional outbox, the consumer inbox and
//! the relay that moves outbox rows to the bus.
//!
//! How a service uses it:
//! 1. [`Db::connect`] with its URL and schema, then [`Db::migrate`] with its own `Migrator`,
//!    whose `migrations()` starts with [`platform_migrations`].
//! 2. In the transaction that changes its state, [`outbox::enqueue`] the events; after the
//!    commit, [`RelayNotifier::notify`] so the relay publishes at once.
//! 3. One [`OutboxRelay`] per process publishes them (several replicas are safe on Postgres,
//!    only one per file on SQLite).
//! 4. A consumer calls [`inbox::first_delivery`] in the transaction that applies an event and
//!    skips the effect when it returns `false`.

mod connect;
pub mod inbox;
mod migration;
pub mod outbox;
mod relay;
mod stats;

#[cfg(test)]
pub(crate) mod tests;

#[cfg(test)]
mod transient_tests {
    use super::*;

    #[test]
    fn connection_loss_is_transient_and_constraints_are_not() {
        assert!(is_transient(&DbErr::Conn(sea_orm::RuntimeErr::Internal("gone".into()))));
        let io = sea_orm::sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert!(is_transient(&DbErr::Query(sea_orm::RuntimeErr::SqlxError(std::sync::Arc::new(io)))));
        assert!(!is_transient(&DbErr::RecordNotFound("x".into())));
        assert!(!DbError::InvalidSchema("X".into()).is_transient());
    }
}

pub use connect::{Db, DbConfig};
pub use migration::{PlatformMigrator, platform_migrations};
pub use relay::{OutboxRelay, RelayConfig, RelayNotifier};
pub use stats::{RelayStats, RelayStatsSnapshot};

use sea_orm::DbErr;
use thiserror::Error;
use uuid::Uuid;

/// What can go wrong in the database layer.
#[derive(Debug, Error)]
pub enum DbError {
    /// The URL is neither `postgres://…` nor `sqlite:…`, or cannot be parsed.
    #[error("invalid database URL: {0} (expected `postgres://user@host:port/db` or `sqlite://path/file.db`)")]
    InvalidUrl(String),
    /// The schema name is not a plain lowercase SQL identifier.
    #[error("invalid schema name `{0}`: use 1 to 63 lowercase ASCII letters, digits or `_`, not starting with a digit")]
    InvalidSchema(String),
    /// The directory of an SQLite file could not be created.
    #[error("cannot create the directory `{path}` for the SQLite file: {source}")]
    CreateDir {
        /// The directory.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The database could not be reached when opening the pool.
    #[error("cannot connect to the {backend} database (is it running and reachable?): {source}")]
    Connect {
        /// `postgres` or `sqlite`.
        backend: &'static str,
        /// The driver's error.
        #[source]
        source: DbErr,
    },
    /// A migration failed; the schema is left as the failed migration found it.
    #[error("database migration failed: {0}")]
    Migration(#[source] DbErr),
    /// An event's headers could not be encoded as JSON.
    #[error("cannot encode the headers of event {event_id} as JSON: {source}")]
    Headers {
        /// The event.
        event_id: Uuid,
        /// The encoder's error.
        #[source]
        source: serde_json::Error,
    },
    /// A query failed (connection lost, constraint violated, …).
    #[error("database query failed: {0}")]
    Query(#[from] DbErr),
}

impl DbError {
    /// Whether retrying later may succeed: the database is unreachable, restarting, or busy,
    /// or the transaction lost a serialization race. Callers answer UNAVAILABLE then, so that
    /// a client retries (with its idempotency key), instead of INTERNAL.
    pub fn is_transient(&self) -> bool {
        match self {
            DbError::Connect { .. } => true,
            DbError::Query(err) | DbError::Migration(err) => is_transient(err),
            _ => false,
        }
    }
}

/// Whether a driver error is one that retrying later may cure (see [`DbError::is_transient`]).
pub fn is_transient(err: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    use sea_orm::sqlx::Error as Sqlx;
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => match e.as_ref() {
            Sqlx::Io(_) | Sqlx::PoolTimedOut | Sqlx::PoolClosed | Sqlx::WorkerCrashed | Sqlx::Tls(_) => true,
            Sqlx::Database(db) => db.code().is_some_and(|code| {
                // Postgres SQLSTATEs (always five characters): connection exceptions (08…),
                // shutdown and start-up (57P01–57P03), serialization failure and deadlock.
                // SQLite's numeric (extended) codes: busy and locked (primary code 5, 6).
                code.starts_with("08")
                    || matches!(&*code, "57P01" | "57P02" | "57P03" | "40001" | "40P01")
                    || (code.len() < 5 && code.parse::<u32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6)))
            }),
            _ => false,
        },
        _ => false,
    }
}
