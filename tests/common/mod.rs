//! End-to-end harness: runs `paht` as its users do — `paht serve --services intake` as its
//! own process against this machine's Postgres, RabbitMQ and Redis (a fresh database, a
//! fresh exchange prefix and cache prefix per test), or `paht up` — and talks to it over
//! gRPC. Everything the server logs is captured to a file for the personal-data checks.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{TimeDelta, Utc};
use paht_domain::actor::Role;
use paht_domain::ids::UnitId;
use paht_platform::auth::{AuthConfig, TokenIssuer};
use paht_platform::bus::rabbitmq::{RabbitBus, RabbitConfig};
use paht_platform::bus::{Bus, Delivery, HandleError, Handler, Subscription};
use paht_proto::v1;
use paht_proto::v1::intake_service_client::IntakeServiceClient;
use paht_testing::{Backend, FreshDb};
use prost::Message as _;
use sea_orm::{Database, DatabaseConnection};
use tokio_util::sync::CancellationToken;
use tonic::Request;
use tonic::transport::Channel;
use uuid::Uuid;

pub const INSTANCE: &str = "IOC-86";
/// The suite's rating key (`[publication] rating_key`): a test derives the secret a reporter
/// receives with the answer from it, as the notifier does.
pub const RATING_KEY: &str = "e2e-rating-key-of-at-least-thirty-two-bytes";
pub const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// The reporter's personal data in every test submission: must never reach a log or the
/// public view.
pub const NAME: &str = "Trần Thị Bích Ngọc";
pub const PHONE: &str = "0987654321";
pub const PHONE_DIGITS: &str = "987654321";
pub const EMAIL: &str = "ngoc.tran.e2e@example.vn";
pub const HOME: &str = "47 Lê Văn Tám, khóm 2, phường Thanh Đức";

/// A fresh database on the test Postgres (`PAHT_TEST_POSTGRES_URL`), dropped by
/// [`TestDb::drop_now`].
pub struct TestDb {
    fresh: FreshDb,
    pub url: String,
}

impl TestDb {
    pub async fn create() -> TestDb {
        let fresh = FreshDb::create(Backend::Postgres, "e2e").await;
        TestDb { url: fresh.url().to_owned(), fresh }
    }

    pub async fn connect(&self) -> DatabaseConnection {
        Database::connect(&self.url).await.unwrap()
    }

    pub async fn drop_now(self) {
        self.fresh.remove().await;
    }
}

/// Settings one suite test shares between its server processes and itself.
pub struct Suite {
    pub dir: PathBuf,
    pub db: TestDb,
    pub prefix: String,
    pub auth: AuthConfig,
    pub config_file: PathBuf,
}

impl Suite {
    /// A fresh database, exchange prefix and cache prefix, and a config file for them.
    pub async fn new() -> Suite {
        let id = Uuid::new_v4().simple().to_string();
        let dir = std::env::temp_dir().join(format!("paht-e2e-{id}"));
        std::fs::create_dir_all(&dir).unwrap();
        let db = TestDb::create().await;
        let prefix = format!("e2e{}.", &id[..12]);
        let auth = AuthConfig::ephemeral();
        let key = &auth.keys[0];
        let vault_key = paht_intake::vault::VaultKey::generate("k1");
        let config = format!(
            r#"
instance_id = "{INSTANCE}"
data_dir = "{data}"
grpc_addr = "127.0.0.1:0"
http_addr = "127.0.0.1:0"
[database]
url = "{url}"
[bus]
backend = "rabbitmq"
[bus.rabbitmq]
url = "{AMQP_URL}"
prefix = "{prefix}"
[cache]
backend = "redis"
[cache.redis]
prefix = "{prefix}"
[auth]
keys = [{{ kid = "{kid}", secret = "{secret}" }}]
active_kid = "{kid}"
[telemetry]
log_format = "json"
log_filter = "info,paht=debug,paht_intake=debug,paht_platform=debug"
[intake]
phone_pepper = "e2e-pepper-at-least-16-bytes"
[intake.vault]
keys = [{{ id = "k1", key_base64 = "{vault}" }}]
active = "k1"
# The streams of these tests come from one sender; the limits have their own tests.
[intake.limits]
per_sender = {{ max = 0, window_secs = 1 }}
per_address = {{ max = 0, window_secs = 1 }}
uploads_per_address = {{ max = 0, window_secs = 1 }}
[intake.blobs.backend]
kind = "local"
root = "{blobs}"
[publication]
rating_key = "{RATING_KEY}"
# Small batches and a short lease, so a test can kill the sweeper mid-run and see a successor.
[routing.sweeper]
interval_secs = 1
lease_ttl_secs = 3
batch = 4
"#,
            data = dir.join("data").display(),
            url = db.url,
            kid = key.kid,
            secret = key.secret,
            vault = vault_key.key_base64,
            blobs = dir.join("blobs").display(),
        );
        let config_file = dir.join("paht.toml");
        std::fs::write(&config_file, config).unwrap();
        Suite { dir, db, prefix, auth, config_file }
    }

    /// Starts `paht serve --services intake` with this suite's config.
    pub fn serve(&self, label: &str) -> Server {
        Server::spawn(&["serve", "--services", "intake", "--config"], &self.config_file, &self.dir, label)
    }

    /// Starts `paht serve --services <services>` with this suite's config and extra environment.
    pub fn serve_services(&self, label: &str, services: &str, env: &[(&str, &str)]) -> Server {
        Server::spawn_with_env(&["serve", "--services", services, "--config"], &self.config_file, &self.dir, label, env)
    }

    /// The RabbitMQ bus as a consumer in the test sees it.
    pub async fn bus(&self) -> RabbitBus {
        let config = RabbitConfig { url: AMQP_URL.into(), prefix: self.prefix.clone(), ..RabbitConfig::default() };
        RabbitBus::connect(config).await.expect("connect to RabbitMQ")
    }

    pub fn issuer(&self) -> TokenIssuer {
        TokenIssuer::new(&self.auth).unwrap()
    }

    pub async fn cleanup(self) {
        self.db.drop_now().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A `paht` process with its output captured to a file.
pub struct Server {
    child: Child,
    pub log: PathBuf,
    pub grpc: String,
    pub http: String,
}

impl Server {
    /// Runs `paht <args> <config>`, waiting until it logs that it serves.
    pub fn spawn(args: &[&str], config: &Path, dir: &Path, label: &str) -> Server {
        Server::spawn_with_env(args, config, dir, label, &[])
    }

    /// [`Server::spawn`] with extra environment variables.
    pub fn spawn_with_env(args: &[&str], config: &Path, dir: &Path, label: &str, env: &[(&str, &str)]) -> Server {
        let log = dir.join(format!("{label}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_paht"))
            .args(args)
            .arg(config)
            .env_remove("PAHT_CONFIG")
            .env_remove("RUST_LOG")
            .env_remove("PAHT_CLOCK_START")
            .envs(env.iter().copied())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .stdin(Stdio::null())
            .spawn()
            .expect("start paht");
        let mut server = Server { child, log, grpc: String::new(), http: String::new() };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = std::fs::read_to_string(&server.log).unwrap_or_default();
            if let Some(line) = text.lines().find(|l| l.contains("\"serving\"")) {
                let value: serde_json::Value = serde_json::from_str(line).expect("JSON log line");
                server.grpc = format!("http://{}", value["fields"]["grpc_addr"].as_str().unwrap());
                server.http = format!("http://{}", value["fields"]["http_addr"].as_str().unwrap());
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("paht exited with {status} before serving:\n{text}");
            }
            assert!(Instant::now() < deadline, "paht did not start within 60 s:\n{text}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub async fn client(&self) -> IntakeServiceClient<Channel> {
        IntakeServiceClient::connect(self.grpc.clone()).await.expect("connect to paht")
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        let logs = std::fs::read_to_string(&self.log).unwrap();
        assert!(exit.success(), "paht did not stop cleanly ({exit}):\n{logs}");
        logs
    }

    /// Kills the process at once (a crash).
    pub fn kill(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::fs::read_to_string(&self.log).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Attaches a bearer token.
pub fn authed<T>(token: &str, message: T) -> Request<T> {
    paht_testing::bearer(token, message)
}

pub fn token(issuer: &TokenIssuer, role: Role, unit: &str) -> String {
    issuer.mint("e2e", role, &UnitId::new(unit), INSTANCE, None).unwrap()
}

/// A complete, valid submission with the test reporter's personal data.
pub fn submission(key: &str) -> v1::SubmitReportRequest {
    // One event time per test process: a retry sends the very same request, as a real client does
    // (the same key with another request is refused).
    static EVENT_TIME: std::sync::OnceLock<chrono::DateTime<Utc>> = std::sync::OnceLock::new();
    let event_time = *EVENT_TIME.get_or_init(|| Utc::now() - TimeDelta::hours(3));
    v1::SubmitReportRequest {
        idempotency_key: key.into(),
        channel: v1::Channel::WebPortal as i32,
        content: "Cống thoát nước trên đường Lý Thường Kiệt bị tắc, nước ngập sâu sau mỗi cơn mưa gây khó khăn cho người đi đường.".into(),
        event_time: Some(paht_proto::convert::timestamp(event_time)),
        location: Some(v1::Location {
            latitude: Some(10.2537),
            longitude: Some(105.9722),
            address: "Đường Lý Thường Kiệt, phường Long Châu, tỉnh Vĩnh Long".into(),
            unit_code: String::new(),
        }),
        reporter: Some(v1::Reporter {
            name: NAME.into(),
            address: HOME.into(),
            phone: PHONE.into(),
            email: EMAIL.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// One observed event.
#[derive(Debug, Clone)]
pub struct Seen {
    pub event_id: Uuid,
    pub routing_key: String,
    pub report_id: String,
}

/// A consumer that records every delivery (duplicates included).
#[derive(Default)]
pub struct Observer {
    pub seen: Mutex<Vec<Seen>>,
    pub envelopes: Mutex<Vec<v1::EventEnvelope>>,
}

impl Observer {
    /// Every envelope received, in order (duplicates included).
    pub fn envelopes(&self) -> Vec<v1::EventEnvelope> {
        self.envelopes.lock().unwrap().clone()
    }

    pub fn snapshot(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits until `done` holds for what was seen, or `timeout` passes.
    pub async fn wait_for(&self, timeout: Duration, done: impl Fn(&[Seen]) -> bool) -> Vec<Seen> {
        let deadline = Instant::now() + timeout;
        loop {
            let seen = self.snapshot();
            if done(&seen) || Instant::now() > deadline {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

pub fn decode(delivery: &Delivery) -> Result<Seen, HandleError> {
    let envelope =
        v1::EventEnvelope::decode(delivery.message.payload.clone()).map_err(|e| HandleError::Reject(e.to_string()))?;
    Ok(Seen {
        event_id: delivery.message.id,
        routing_key: delivery.message.routing_key.clone(),
        report_id: envelope.report_id,
    })
}

#[async_trait]
impl Handler for Observer {
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandleError> {
        let seen = decode(delivery)?;
        self.seen.lock().unwrap().push(seen);
        if let Ok(envelope) = v1::EventEnvelope::decode(delivery.message.payload.clone()) {
            self.envelopes.lock().unwrap().push(envelope);
        }
        Ok(())
    }
}

/// Subscribes an observer queue bound to `report.#` before anything is published.
pub async fn observe(bus: &dyn Bus, queue: &str, stop: &CancellationToken) -> Arc<Observer> {
    let observer = Arc::new(Observer::default());
    let mut subscription = Subscription::new(queue, &["report.#"]);
    subscription.retry_delays = vec![Duration::from_millis(100)];
    bus.subscribe(subscription, observer.clone(), stop.clone()).await.expect("subscribe");
    observer
}

/// Subscribes an observer queue bound to every event (reports, assignments, directives, deadlines,
/// follow-ups).
pub async fn observe_all(bus: &dyn Bus, queue: &str, stop: &CancellationToken) -> Arc<Observer> {
    let observer = Arc::new(Observer::default());
    let keys = ["report.#", "assignment.#", "directive.#", "deadline.#", "follow_up.#"];
    let mut subscription = Subscription::new(queue, &keys);
    subscription.retry_delays = vec![Duration::from_millis(100)];
    bus.subscribe(subscription, observer.clone(), stop.clone()).await.expect("subscribe");
    observer
}

/// Routing keys per report id.
pub fn keys_by_report(seen: &[Seen]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in seen {
        out.entry(s.report_id.clone()).or_default().push(s.routing_key.clone());
    }
    out
}

/// Asserts that none of the test reporter's personal data appears in `text`.
pub fn assert_no_personal_data(what: &str, text: &str) {
    for secret in [NAME, PHONE, PHONE_DIGITS, EMAIL, HOME, "Bích Ngọc", "Lê Văn Tám"] {
        assert!(!text.contains(secret), "{what} contains personal data {secret:?}");
    }
}

/// Retries `call` every `poll_ms` while another service has not folded the fact it needs yet
/// (events travel through the bus), as a console polling its queue would; any status but the
/// transient ones fails at once, and 30 s without success fails too.
pub async fn eventually_every<T, F, Fut>(poll_ms: u64, what: &str, mut call: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, tonic::Status>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match call().await {
            Ok(value) => return value,
            Err(status)
                if matches!(
                    status.code(),
                    tonic::Code::NotFound | tonic::Code::FailedPrecondition | tonic::Code::Unavailable
                ) =>
            {
                assert!(Instant::now() < deadline, "{what}: still {status:?} after 30 s");
                tokio::time::sleep(Duration::from_millis(poll_ms)).await;
            }
            Err(status) => panic!("{what}: {status:?}"),
        }
    }
}
