//! Test support shared by every crate's tests (feature `testing`, and this crate's own unit
//! tests): the one test Postgres, named by [`POSTGRES_URL_VAR`], and a fresh database per test
//! on it or in an SQLite file, removed when the test ends. The rest of the harness (tokens,
//! clock, deliveries, outbox) lives in the `paht-testing` crate, which re-exports this module;
//! it is here because this crate's own tests cannot depend on `paht-testing` without a cycle.
//!
//! There is no skipping: when the test Postgres does not answer, the Postgres tests fail
//! (`scripts/test` starts it first).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::FutureExt;
use sea_orm::{ConnectOptions, ConnectionTrait, Database};
use uuid::Uuid;

use crate::db::{Db, DbConfig};

/// The environment variable naming the test Postgres server: a URL whose database the tests
/// may connect to and create other databases from.
pub const POSTGRES_URL_VAR: &str = "PAHT_TEST_POSTGRES_URL";

/// The test Postgres when [`POSTGRES_URL_VAR`] is unset: the local server.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The URL of the test Postgres server ([`POSTGRES_URL_VAR`], else [`DEFAULT_POSTGRES_URL`]).
pub fn postgres_url() -> String {
    std::env::var(POSTGRES_URL_VAR).unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

/// `url` with its database name replaced by `database` (a query string is kept).
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let (server, _) = base.rsplit_once('/').expect("a database URL ends with /<database>");
    match query {
        Some(q) => format!("{server}/{database}?{q}"),
        None => format!("{server}/{database}"),
    }
}

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, empty database for one test: `paht_<label>_<uuid>` on the test Postgres, or the
/// SQLite file `<dir>/data/<label>.db` (the `data` folder not created yet: [`Db::connect`]
/// makes it). Either way the test gets its own temporary directory, [`FreshDb::dir`].
/// [`FreshDb::remove`] (or [`FreshDb::around`]) drops the database and the directory.
pub struct FreshDb {
    backend: Backend,
    url: String,
    dir: PathBuf,
    /// The server's URL and the database's name, on Postgres.
    postgres: Option<(String, String)>,
}

impl FreshDb {
    /// Creates the database; panics when the test Postgres does not answer.
    pub async fn create(backend: Backend, label: &str) -> FreshDb {
        let id = Uuid::new_v4().simple();
        let dir = std::env::temp_dir().join(format!("paht-{label}-test-{id}"));
        std::fs::create_dir_all(&dir).expect("create the test directory");
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}/data/{label}.db", dir.display());
                FreshDb { backend, url, dir, postgres: None }
            }
            Backend::Postgres => {
                let server = postgres_url();
                let name = format!("paht_{}_{id}", label.replace('-', "_"));
                let admin = admin(&server).await.expect("connect to the test Postgres");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("create the test database");
                let _ = admin.close().await;
                FreshDb { backend, url: with_database(&server, &name), dir, postgres: Some((server, name)) }
            }
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The database's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The test's own temporary directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A pool on the database for the service whose data lives in `schema`.
    pub async fn connect(&self, schema: &str, config: &DbConfig) -> Db {
        Db::connect(&self.url, schema, config).await.expect("connect to the test database")
    }

    /// Drops the database (retried for a few seconds: a test may leave the server restarting)
    /// and removes the directory; panics when the database could not be dropped.
    pub async fn remove(self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        let Some((server, name)) = self.postgres else { return };
        let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
        for _ in 0..20 {
            if let Ok(admin) = admin(&server).await {
                let dropped = admin.execute_unprepared(&drop).await.is_ok();
                let _ = admin.close().await;
                if dropped {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("could not drop the test database {name}");
    }

    /// Runs `test`, then removes the database even if `test` panicked, and passes the
    /// panic on.
    pub async fn around<Fut: Future<Output = ()>>(self, test: Fut) {
        let outcome = AssertUnwindSafe(test).catch_unwind().await;
        if let Err(panic) = outcome {
            let _ = AssertUnwindSafe(self.remove()).catch_unwind().await;
            std::panic::resume_unwind(panic);
        }
        self.remove().await;
    }
}

/// One connection to the server, for creating and dropping databases.
async fn admin(server: &str) -> Result<sea_orm::DatabaseConnection, sea_orm::DbErr> {
    let mut options = ConnectOptions::new(server.to_owned());
    options.max_connections(1).connect_timeout(Duration::from_secs(5)).sqlx_logging(false);
    Database::connect(options).await
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn another_database_on_the_same_server_keeps_the_query() {
        assert_eq!(with_database("postgres://u@h:5432/postgres", "t1"), "postgres://u@h:5432/t1");
        assert_eq!(with_database("postgres://u@h/postgres?sslmode=disable", "t1"), "postgres://u@h/t1?sslmode=disable");
    }
}
