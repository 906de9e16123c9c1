//! A fresh database per test, deliveries to a service's handler and what its outbox holds.

use std::future::Future;
use std::path::PathBuf;

use paht_platform::bus::{Delivery, HandleError, Handler};
use paht_platform::db::{Db, DbConfig};
use paht_platform::testing::{Backend, FreshDb};
use paht_proto::v1;
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Alias, Expr, Query};

/// What a test's harness is built from.
pub struct TestDb {
    /// A pool on a fresh database for the service's schema.
    pub db: Db,
    /// The database's URL (for a second pool: another replica of the service).
    pub url: String,
    /// The test's own temporary directory.
    pub dir: PathBuf,
}

/// Runs `test` on the harness `build` makes from a fresh database of `backend`, the pool
/// opened for `schema` with `config`; the database is removed afterwards even if the test
/// panics.
pub async fn run<H, B, BFut, F, Fut>(backend: Backend, schema: &str, config: &DbConfig, build: B, test: F)
where
    B: FnOnce(TestDb) -> BFut,
    BFut: Future<Output = H>,
    F: FnOnce(H) -> Fut,
    Fut: Future<Output = ()>,
{
    let fresh = FreshDb::create(backend, schema).await;
    let db = fresh.connect(schema, config).await;
    let t = TestDb { db: db.clone(), url: fresh.url().to_owned(), dir: fresh.dir().to_owned() };
    fresh
        .around(async move {
            test(build(t).await).await;
            let _ = db.close().await;
        })
        .await;
}

/// Delivers an envelope to `handler`, encoded as the bus carries it, on its first attempt.
pub async fn deliver(handler: &dyn Handler, envelope: &v1::EventEnvelope) -> Result<(), HandleError> {
    let message = paht_platform::events::message(envelope);
    handler.handle(&Delivery { message, attempt: 1 }).await
}

/// Delivers every envelope, each of which must apply.
pub async fn deliver_all(handler: &dyn Handler, envelopes: &[v1::EventEnvelope]) {
    for envelope in envelopes {
        deliver(handler, envelope).await.expect("the envelope applies");
    }
}

/// The outbox, decoded: (routing key, envelope), in insertion order.
pub async fn outbox(db: &Db) -> Vec<(String, v1::EventEnvelope)> {
    paht_platform::events::in_outbox(db.conn()).await.expect("read the outbox")
}

/// The routing keys of the outbox, in insertion order.
pub async fn outbox_keys(db: &Db) -> Vec<String> {
    let select = Query::select()
        .column(Alias::new("routing_key"))
        .from(Alias::new("outbox"))
        .order_by(Alias::new("id"), sea_orm::Order::Asc)
        .to_owned();
    let rows = db.conn().query_all(&select).await.expect("read the outbox");
    rows.iter().map(|r| r.try_get::<String>("", "routing_key").expect("a routing key")).collect()
}

/// How many rows `table` holds.
pub async fn count(db: &Db, table: &str) -> i64 {
    let select = Query::select().expr_as(Expr::cust("COUNT(*)"), Alias::new("n")).from(Alias::new(table)).to_owned();
    let row = db.conn().query_one(&select).await.expect("count the rows").expect("a row");
    row.try_get::<i64>("", "n").expect("a count")
}
