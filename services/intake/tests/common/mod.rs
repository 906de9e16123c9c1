//! Test harness: an intake service over a fresh SQLite file or a fresh Postgres database,
//! tokens minted with an ephemeral key, and requests passed through the real interceptor.

#![allow(dead_code)]

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::{TimeDelta, Utc};
use paht_domain::actor::Role;
use paht_domain::calendar::WorkingCalendar;
use paht_domain::ids::UnitId;
use paht_domain::validation::SubmissionRules;
use paht_intake::blob::{BlobBackend, BlobConfig, BlobStore};
use paht_intake::vault::{Vault, VaultConfig, VaultKey};
use paht_intake::{IntakeParts, IntakeService, Limit, RateLimits};
use paht_platform::cache::MemoryCache;
use paht_platform::db::{Db, DbConfig};
use paht_proto::v1;
use paht_proto::v1::intake_service_client::IntakeServiceClient;
use paht_proto::v1::intake_service_server::IntakeServiceServer;
use paht_proto::v1::upload_attachment_request::Part;
#[allow(unused_imports)] // not every test binary uses each of them
pub use paht_testing::{Backend, fields};
use paht_testing::{TestDb, Tokens};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Status};

/// The IOC instance of the service under test.
pub const INSTANCE: &str = "IOC-HCM";
/// The reporter's personal data, which must never appear outside the vault.
pub const NAME: &str = "Nguyễn Văn An";
pub const PHONE: &str = "0912345678";
pub const PHONE_E164: &str = "+84912345678";

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
    /// The real routing service, owner of the directory intake checks categories in.
    pub routing: Arc<paht_routing::RoutingService>,
    pub db: Db,
    pub tokens: Tokens,
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
        self.tokens.as_subject("tester", role, unit, message)
    }

    /// A request as account `subject` in `role`, passed through the authentication interceptor.
    pub fn as_subject<T>(&self, subject: &str, role: Role, message: T) -> Request<T> {
        self.tokens.as_subject(subject, role, INSTANCE, message)
    }

    /// A request carrying a bearer token, as a client sends it (for [`Harness::client`]).
    pub fn with_token<T>(&self, subject: &str, role: Role, unit: &str, message: T) -> Request<T> {
        self.tokens.with_token(subject, role, unit, message)
    }

    /// An API caller (`paht_platform::auth::Caller`) as account `subject` in `role` of `unit`,
    /// carrying its token (for the `Intake` trait's clients).
    pub fn caller(&self, subject: &str, role: Role, unit: &str) -> paht_platform::auth::Caller {
        self.tokens.caller(subject, role, unit)
    }

    /// The verifier of this harness's tokens (for serving the service behind `AuthGuard`).
    pub fn authenticator(&self) -> Arc<paht_platform::auth::Authenticator> {
        self.tokens.authenticator()
    }

    /// A gRPC client of the service under test, served on a local port behind the real
    /// interceptor (for streaming calls and the peer address).
    pub async fn client(&self) -> IntakeServiceClient<Channel> {
        let incoming = TcpIncoming::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = incoming.local_addr().unwrap();
        let intercept = self.tokens.interceptor();
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
        self.tokens.intercepted(request)
    }

    pub fn operator<T>(&self, message: T) -> Request<T> {
        self.as_role(Role::IocOperator, INSTANCE, message)
    }

    pub fn system<T>(&self, message: T) -> Request<T> {
        self.as_role(Role::System, INSTANCE, message)
    }

    /// Routing keys of the outbox rows, in insertion order.
    pub async fn outbox_keys(&self) -> Vec<String> {
        paht_testing::outbox_keys(&self.db).await
    }

    /// How many rows a table holds.
    pub async fn count(&self, table: &str) -> i64 {
        paht_testing::count(&self.db, table).await
    }
}

/// A complete, valid submission (article 6).
pub fn valid_request(key: &str) -> v1::SubmitReportRequest {
    // One event time per test process: a retry sends the very same request, as a real client does.
    static EVENT_TIME: std::sync::OnceLock<chrono::DateTime<Utc>> = std::sync::OnceLock::new();
    let event_time = *EVENT_TIME.get_or_init(|| Utc::now() - TimeDelta::hours(2));
    v1::SubmitReportRequest {
        idempotency_key: key.into(),
        channel: v1::Channel::WebPortal as i32,
        category_id: String::new(),
        content: "Đường Nguyễn Trãi có ổ gà lớn trước số nhà 25, rất nguy hiểm cho người đi xe máy vào ban đêm.".into(),
        event_time: Some(paht_proto::convert::timestamp(event_time)),
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

async fn harness(t: TestDb, limits: RateLimits) -> Harness {
    let (db, blob_root) = (t.db, t.dir.join("blobs"));
    let vault = Vault::new(&VaultConfig { keys: vec![VaultKey::generate("k1")], active: "k1".into() }).unwrap();
    let blobs = BlobStore::new(&BlobConfig {
        backend: BlobBackend::Local { root: blob_root.display().to_string() },
        ..BlobConfig::default()
    })
    .unwrap();
    // Routing (the directory's owner) on its own SQLite file beside the test's database.
    let routing_db = Db::connect(
        &format!("sqlite://{}?mode=rwc", t.dir.join("routing.db").display()),
        "routing",
        &DbConfig::default(),
    )
    .await
    .unwrap();
    routing_db.migrate::<paht_routing::RoutingMigrator>().await.unwrap();
    let directory = paht_routing::directory::Directory::shipped();
    let rules = paht_routing::rules::RoutingRules::shipped(&directory).unwrap();
    let routing = Arc::new(paht_routing::RoutingService::new(paht_routing::RoutingParts {
        db: routing_db,
        cache: Arc::new(MemoryCache::new()),
        calendar: Arc::new(WorkingCalendar::vietnam()),
        instance: UnitId::new(INSTANCE),
        notifier: None,
        directory,
        rules,
        config: paht_routing::RoutingConfig::default(),
    }));
    let routing_client: paht_routing::RoutingClient = routing.clone();
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
        uploads: paht_intake::UploadsConfig::default(),
        notifier: None,
        routing: paht_platform::peers::Peer::fixed("routing", routing_client),
    })
    .await
    .unwrap();
    Harness {
        svc: Arc::new(svc),
        routing,
        db,
        tokens: Tokens::ephemeral(INSTANCE),
        blob_root,
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
    paht_testing::run(backend, "intake", &DbConfig::default(), |t| harness(t, limits), test).await
}

/// Declares `name::sqlite` and `name::postgres` running the scenario `name`; with
/// `limits = EXPR;` first, the service enforces those rate limits.
#[macro_export]
macro_rules! on_both {
    (limits = $limits:expr; $($name:ident),* $(,)?) => {
        paht_testing::on_both!(run = $crate::common::run_with, args = ($limits); $($name),*);
    };
    ($($name:ident),* $(,)?) => {
        paht_testing::on_both!(run = $crate::common::run; $($name),*);
    };
}
