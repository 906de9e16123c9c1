//! Test harness: an intake service over a fresh SQLite file or a fresh Postgres schema,
//! tokens minted with an ephemeral key, and requests passed through the real interceptor.

#![allow(dead_code)]

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use futures::FutureExt;
use paht_domain::actor::Role;
use paht_domain::calendar::WorkingCalendar;
use paht_domain::ids::UnitId;
use paht_domain::validation::SubmissionRules;
use paht_intake::blob::{BlobBackend, BlobConfig, BlobStore};
use paht_intake::vault::{Vault, VaultConfig, VaultKey};
use paht_intake::{IntakeParts, IntakeService};
use paht_platform::auth::{AuthConfig, Authenticator, TokenIssuer, interceptor};
use paht_platform::cache::MemoryCache;
use paht_platform::db::{Db, DbConfig};
use paht_proto::v1;
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Alias, Query};
use tonic::{Request, Status};
use uuid::Uuid;

/// The IOC instance of the service under test.
pub const INSTANCE: &str = "IOC-HCM";
/// The reporter's personal data, which must never appear outside the vault.
pub const NAME: &str = "Nguyễn Văn An";
pub const PHONE: &str = "0912345678";
pub const PHONE_E164: &str = "+84912345678";

/// Which database a test runs on.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

type Intercept = Box<dyn Fn(Request<()>) -> Result<Request<()>, Status> + Send + Sync>;

/// The service under test and what tests need around it.
pub struct Harness {
    pub svc: IntakeService,
    pub db: Db,
    issuer: TokenIssuer,
    intercept: Intercept,
}

impl Harness {
    /// A request as `role` of `unit`, passed through the authentication interceptor.
    pub fn as_role<T>(&self, role: Role, unit: &str, message: T) -> Request<T> {
        let token = self.issuer.mint("tester", role, &UnitId::new(unit), INSTANCE, None).unwrap();
        let mut request = Request::new(message);
        request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
        self.intercepted(request).expect("a valid token passes")
    }

    /// A request without a token, through the interceptor (which refuses it).
    pub fn anonymous<T>(&self, message: T) -> Result<Request<T>, Status> {
        self.intercepted(Request::new(message))
    }

    fn intercepted<T>(&self, request: Request<T>) -> Result<Request<T>, Status> {
        let (metadata, extensions, message) = request.into_parts();
        let checked = (self.intercept)(Request::from_parts(metadata, extensions, ()))?;
        let (metadata, extensions, ()) = checked.into_parts();
        Ok(Request::from_parts(metadata, extensions, message))
    }

    pub fn operator<T>(&self, message: T) -> Request<T> {
        self.as_role(Role::IocOperator, INSTANCE, message)
    }

    pub fn system<T>(&self, message: T) -> Request<T> {
        self.as_role(Role::System, INSTANCE, message)
    }

    /// Routing keys of the outbox rows, in insertion order.
    pub async fn outbox_keys(&self) -> Vec<String> {
        let select = Query::select()
            .column(Alias::new("routing_key"))
            .from(Alias::new("outbox"))
            .order_by(Alias::new("id"), sea_orm::Order::Asc)
            .to_owned();
        let rows = self.db.conn().query_all(&select).await.unwrap();
        rows.iter().map(|r| r.try_get::<String>("", "routing_key").unwrap()).collect()
    }

    /// How many rows a table holds.
    pub async fn count(&self, table: &str) -> i64 {
        let select = Query::select()
            .expr_as(sea_orm::sea_query::Expr::cust("COUNT(*)"), Alias::new("n"))
            .from(Alias::new(table))
            .to_owned();
        let row = self.db.conn().query_one(&select).await.unwrap().unwrap();
        row.try_get::<i64>("", "n").unwrap()
    }
}

/// A complete, valid submission (article 6).
pub fn valid_request(key: &str) -> v1::SubmitReportRequest {
    v1::SubmitReportRequest {
        idempotency_key: key.into(),
        channel: v1::Channel::WebPortal as i32,
        category_id: String::new(),
        content: "Đường Nguyễn Trãi có ổ gà lớn trước số nhà 25, rất nguy hiểm cho người đi xe máy vào ban đêm.".into(),
        event_time: Some(paht_proto::convert::timestamp(Utc::now() - TimeDelta::hours(2))),
        location: Some(v1::Location {
            latitude: Some(10.7721),
            longitude: Some(106.6983),
            address: "25 Nguyễn Trãi, phường Bến Thành".into(),
            unit_code: String::new(),
        }),
        attachment_ids: vec![],
        reporter: Some(v1::Reporter {
            name: NAME.into(),
            address: "12 Lê Lợi, phường Bến Thành".into(),
            phone: PHONE.into(),
            email: String::new(),
            confidential: false,
            show_name_publicly: false,
            channel_address: String::new(),
        }),
    }
}

async fn harness(db: Db, blob_root: &std::path::Path) -> Harness {
    let auth = AuthConfig::ephemeral();
    let issuer = TokenIssuer::new(&auth).unwrap();
    let check = interceptor(Arc::new(Authenticator::new(&auth).unwrap()));
    let vault = Vault::new(&VaultConfig { keys: vec![VaultKey::generate("k1")], active: "k1".into() }).unwrap();
    let blobs = BlobStore::new(&BlobConfig {
        backend: BlobBackend::Local { root: blob_root.display().to_string() },
        ..BlobConfig::default()
    })
    .unwrap();
    let svc = paht_intake::build(IntakeParts {
        db: db.clone(),
        cache: Arc::new(MemoryCache::new()),
        vault: Arc::new(vault),
        blobs: Arc::new(blobs),
        calendar: Arc::new(WorkingCalendar::vietnam()),
        rules: SubmissionRules::default(),
        instance: UnitId::new(INSTANCE),
        phone_pepper: b"test-pepper".to_vec(),
        limits: paht_intake::RateLimits::OFF,
        notifier: None,
    })
    .await
    .unwrap();
    Harness { svc, db, issuer, intercept: Box::new(check) }
}

/// Runs `test` on a fresh database of `backend`, removed afterwards even if the test panics.
pub async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(Harness) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = std::env::temp_dir().join(format!("paht-intake-test-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let schema = format!("t_intake_{}", Uuid::new_v4().simple());
    let db = match backend {
        Backend::Sqlite => {
            let url = format!("sqlite://{}/intake.db", dir.display());
            Db::connect(&url, "intake", &DbConfig::default()).await.expect("open the test SQLite file")
        }
        Backend::Postgres => {
            let url = std::env::var("PAHT_TEST_POSTGRES_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
            Db::connect(&url, &schema, &DbConfig::default()).await.expect("connect to the test Postgres")
        }
    };
    let h = harness(db.clone(), &dir.join("blobs")).await;
    let outcome = AssertUnwindSafe(test(h)).catch_unwind().await;
    if let Backend::Postgres = backend {
        db.conn().execute_unprepared(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).await.unwrap();
    }
    let _ = db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Declares `name::sqlite` and `name::postgres` running the scenario `name`.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                $crate::common::run($crate::common::Backend::Sqlite, super::$name).await
            }
            #[tokio::test]
            async fn postgres() {
                $crate::common::run($crate::common::Backend::Postgres, super::$name).await
            }
        }
    )*};
}
