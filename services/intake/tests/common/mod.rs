//! Test harness: an intake service over a fresh SQLite file or a fresh Postgres schema,
//! tokens minted with an ephemeral key, and requests passed through the real interceptor.

#![allow(dead_code)]

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::{TimeDelta, Utc};
use futures::FutureExt;
use paht_domain::actor::Role;
use paht_domain::calendar::WorkingCalendar;
use paht_domain::ids::UnitId;
use paht_domain::validation::SubmissionRules;
use paht_intake::blob::{BlobBackend, BlobConfig, BlobStore};
use paht_intake::vault::{Vault, VaultConfig, VaultKey};
use paht_intake::{IntakeParts, IntakeService, Limit, RateLimits};
use paht_platform::auth::{AuthConfig, Authenticator, TokenIssuer, interceptor};
use paht_platform::cache::MemoryCache;
use paht_platform::db::{Db, DbConfig};
use paht_proto::v1;
use paht_proto::v1::intake_service_client::IntakeServiceClient;
use paht_proto::v1::intake_service_server::IntakeServiceServer;
use paht_proto::v1::upload_attachment_request::Part;
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Alias, Query};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::transport::server::TcpIncoming;
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

type Intercept = Arc<dyn Fn(Request<()>) -> Result<Request<()>, Status> + Send + Sync>;

/// Small limits for the tests of R19, R21.2: 2 reports per sender, 3 per address, 2 uploads per
/// address, per hour.
pub const TEST_LIMITS: RateLimits = RateLimits {
    per_sender: Limit { max: 2, window_secs: 3600 },
    per_address: Limit { max: 3, window_secs: 3600 },
    uploads_per_address: Limit { max: 2, window_secs: 3600 },
};

/// The service under test and what tests need around it.
pub struct Harness {
    pub svc: Arc<IntakeService>,
    pub db: Db,
    issuer: TokenIssuer,
    intercept: Intercept,
    blob_root: PathBuf,
    servers: Mutex<Vec<tokio::task::AbortHandle>>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        for server in self.servers.get_mut().unwrap().drain(..) {
            server.abort();
        }
    }
}

impl Harness {
    /// A request as `role` of `unit`, passed through the authentication interceptor.
    pub fn as_role<T>(&self, role: Role, unit: &str, message: T) -> Request<T> {
        self.intercepted(self.with_token("tester", role, unit, message)).expect("a valid token passes")
    }

    /// A request as account `subject` in `role`, passed through the authentication interceptor.
    pub fn as_subject<T>(&self, subject: &str, role: Role, message: T) -> Request<T> {
        self.intercepted(self.with_token(subject, role, INSTANCE, message)).expect("a valid token passes")
    }

    /// A request carrying a bearer token, as a client sends it (for [`Harness::client`]).
    pub fn with_token<T>(&self, subject: &str, role: Role, unit: &str, message: T) -> Request<T> {
        let token = self.issuer.mint(subject, role, &UnitId::new(unit), INSTANCE, None).unwrap();
        let mut request = Request::new(message);
        request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
        request
    }

    /// A gRPC client of the service under test, served on a local port behind the real
    /// interceptor (for streaming calls and the peer address).
    pub async fn client(&self) -> IntakeServiceClient<Channel> {
        let incoming = TcpIncoming::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = incoming.local_addr().unwrap();
        let intercept = Arc::clone(&self.intercept);
        let service =
            InterceptedService::new(IntakeServiceServer::from_arc(Arc::clone(&self.svc)), move |r| intercept(r));
        let server = tonic::transport::Server::builder().add_service(service).serve_with_incoming(incoming);
        self.servers.lock().unwrap().push(tokio::spawn(server).abort_handle());
        IntakeServiceClient::connect(format!("http://{addr}")).await.unwrap()
    }

    /// The files in the blob store (staging files included).
    pub fn blob_files(&self) -> Vec<PathBuf> {
        fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
            let Ok(entries) = std::fs::read_dir(dir) else { return };
            for entry in entries.map(Result::unwrap) {
                if entry.file_type().unwrap().is_dir() { walk(&entry.path(), out) } else { out.push(entry.path()) }
            }
        }
        let mut out = Vec::new();
        walk(&self.blob_root, &mut out);
        out
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
        origin: None,
    }
}

/// A 1x1 grey PNG, CRCs included.
pub const PNG: &str = "89504e470d0a1a0a0000000d49484452000000010000000108000000003a7e9b550000000a49444154789c6360\
                       00000002000148afa4710000000049454e44ae426082";
/// A 1x1 grey baseline JPEG.
pub const JPEG: &str = "ffd8ffe000104a46494600010100000100010000ffdb004300100b0c0e0c0a100e0d0e1211101318281a181616\
                        183123251d283a333d3c3933383740485c4e404457453738506d51575f626768673e4d71797064785c656763\
                        ffc0000b080001000101011100ffc40014000100000000000000000000000000000000ffc400141001000000\
                        00000000000000000000000000ffda0008010100003f003fffd9";

/// The PNG fixture's bytes.
pub fn png() -> Vec<u8> {
    hex::decode(PNG).unwrap()
}

/// The JPEG fixture's bytes.
pub fn jpeg() -> Vec<u8> {
    hex::decode(JPEG).unwrap()
}

/// An upload's header message.
pub fn header(file_name: &str, content_type: &str, size_bytes: usize, sha256: &str) -> v1::UploadAttachmentRequest {
    header_from(file_name, content_type, size_bytes, sha256, None)
}

/// An upload's header message naming the origin, as a channel adapter fills it.
pub fn header_from(
    file_name: &str,
    content_type: &str,
    size_bytes: usize,
    sha256: &str,
    origin: Option<v1::ChannelOrigin>,
) -> v1::UploadAttachmentRequest {
    v1::UploadAttachmentRequest {
        part: Some(Part::Header(v1::AttachmentUploadHeader {
            file_name: file_name.into(),
            content_type: content_type.into(),
            size_bytes: size_bytes as u64,
            sha256: sha256.into(),
            origin,
        })),
    }
}

/// An upload's chunk message.
pub fn chunk(bytes: &[u8]) -> v1::UploadAttachmentRequest {
    v1::UploadAttachmentRequest { part: Some(Part::Chunk(bytes.to_vec())) }
}

/// A whole upload: `header`, then `data` in chunks of `size` bytes.
pub fn upload_of(header: v1::UploadAttachmentRequest, data: &[u8], size: usize) -> Vec<v1::UploadAttachmentRequest> {
    std::iter::once(header).chain(data.chunks(size).map(chunk)).collect()
}

/// Streams `messages` to UploadAttachment as account "tester" in `role`.
pub async fn upload(
    h: &Harness,
    client: &mut IntakeServiceClient<Channel>,
    role: Role,
    messages: Vec<v1::UploadAttachmentRequest>,
) -> Result<v1::Attachment, Status> {
    let request = h.with_token("tester", role, INSTANCE, futures::stream::iter(messages));
    Ok(client.upload_attachment(request).await?.into_inner().attachment.expect("an attachment"))
}

/// The fields named by an INVALID_ARGUMENT status.
pub fn fields(status: &Status) -> Vec<String> {
    use tonic_types::StatusExt;
    let details = status.get_error_details();
    details.bad_request().map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect()).unwrap_or_default()
}

async fn harness(db: Db, blob_root: &std::path::Path, limits: RateLimits) -> Harness {
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
        limits,
        notifier: None,
    })
    .await
    .unwrap();
    Harness {
        svc: Arc::new(svc),
        db,
        issuer,
        intercept: Arc::new(check),
        blob_root: blob_root.to_path_buf(),
        servers: Mutex::new(Vec::new()),
    }
}

/// Runs `test` on a fresh database of `backend` without rate limits, removed afterwards even if
/// the test panics.
pub async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(Harness) -> Fut,
    Fut: Future<Output = ()>,
{
    run_with(backend, RateLimits::OFF, test).await
}

/// Runs `test` like [`run`], with the service enforcing `limits`.
pub async fn run_with<F, Fut>(backend: Backend, limits: RateLimits, test: F)
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
    let h = harness(db.clone(), &dir.join("blobs"), limits).await;
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

/// Declares `name::sqlite` and `name::postgres` running the scenario `name`; with
/// `limits = EXPR;` first, the service enforces those rate limits.
#[macro_export]
macro_rules! on_both {
    (limits = $limits:expr; $($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                $crate::common::run_with($crate::common::Backend::Sqlite, $limits, super::$name).await
            }
            #[tokio::test]
            async fn postgres() {
                $crate::common::run_with($crate::common::Backend::Postgres, $limits, super::$name).await
            }
        }
    )*};
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
