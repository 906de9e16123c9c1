//! Hosting services in a process.
//!
//! [`start`] connects what the configuration names — SQLite files or Postgres schemas,
//! the in-process bus or RabbitMQ, the memory cache or Redis — mounts each requested
//! service on one gRPC server (with health and reflection) and runs its outbox relay, and
//! serves `/healthz`, `/readyz` and `/metrics` over HTTP.
//!
//! Shutdown keeps accepted work: [`Running::wait`] first stops the gRPC server (no new
//! calls; calls in flight finish and commit), then stops the relays (the batch in flight is
//! confirmed and marked), then closes the databases. Events committed but not yet published
//! stay in the outbox and go out at the next start.

pub mod demo_data;
mod http;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use paht_domain::calendar::WorkingCalendar;
use paht_platform::auth::{AuthConfig, Authenticator};
use paht_platform::bus::Bus;
use paht_platform::bus::rabbitmq::RabbitBus;
use paht_platform::cache::{self, Cache};
use paht_platform::config::{BusBackend, Config, ConfigSource};
use paht_platform::db::{Db, OutboxRelay, RelayConfig, RelayStats};
use paht_platform::server::GrpcServer;
use paht_platform::service::{Clients, Host, Mounted, Registration};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::settings;

/// Every service this binary can host, in start order. A new service is its crate and one line
/// here (plus its kustomize instantiation in `k8s/`).
pub static REGISTRY: &[&Registration] = &[
    &paht_intake::REGISTRATION,
    &paht_routing::REGISTRATION,
    &paht_processing::REGISTRATION,
    &paht_publication::REGISTRATION,
];

/// A service of [`REGISTRY`] by name (`paht serve --services NAME`).
pub fn service(name: &str) -> Result<&'static Registration, String> {
    paht_platform::service::find(REGISTRY, name)
}

/// Reads `file` as every service would, strictly, without starting anything: the platform's
/// settings, every registered service's section, and no top-level table nobody reads. Returns
/// the sections read.
pub fn check_config(file: &std::path::Path) -> anyhow::Result<Vec<&'static str>> {
    let source = ConfigSource::file_only(file)?;
    source.platform().with_context(|| format!("{}: platform settings", file.display()))?;
    let mut read = vec!["platform"];
    for registration in REGISTRY {
        (registration.check_config)(&source).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        read.extend(registration.config_section);
    }
    let sections: Vec<&str> = REGISTRY.iter().filter_map(|r| r.config_section).collect();
    let unknown: Vec<String> = source
        .top_level_keys()?
        .into_iter()
        .filter(|k| !Config::KEYS.contains(&k.as_str()) && !sections.contains(&k.as_str()))
        .collect();
    if !unknown.is_empty() {
        bail!(
            "{}: unknown top-level keys {}; the platform reads {} and the services [{}]",
            file.display(),
            unknown.join(", "),
            Config::KEYS.join(", "),
            sections.join("], [")
        );
    }
    Ok(read)
}

/// What every hosted service shares in one process.
pub(crate) struct Shared {
    pub source: ConfigSource,
    pub config: Arc<Config>,
    pub bus: Arc<dyn Bus>,
    pub cache: Arc<dyn Cache>,
    pub calendar: Arc<WorkingCalendar>,
    pub authenticator: Arc<Authenticator>,
    pub relay: RelayConfig,
    pub peers: paht_platform::peers::Peers,
}

/// One hosted service's running parts, for metrics and shutdown.
pub(crate) struct Hosted {
    pub name: &'static str,
    pub db: Db,
    pub relay_stats: Arc<RelayStats>,
}

/// A started process: its addresses, its bus, and the handles to stop it.
pub struct Running {
    grpc_addr: SocketAddr,
    http_addr: SocketAddr,
    data_dir: PathBuf,
    embedded: bool,
    auth: AuthConfig,
    instance: String,
    bus: Arc<dyn Bus>,
    rabbit: Option<Arc<RabbitBus>>,
    stop: CancellationToken,
    background: CancellationToken,
    relays_stop: CancellationToken,
    server: JoinHandle<anyhow::Result<()>>,
    http: JoinHandle<anyhow::Result<()>>,
    relays: Vec<JoinHandle<()>>,
    tasks: Vec<JoinHandle<()>>,
    hosted: Arc<Vec<Hosted>>,
    clients: Clients,
}

impl Running {
    /// The in-process clients of the hosted services (`IntakeClient`, `RoutingClient`, …):
    /// what runs in this process calls the services through them, not over loopback gRPC.
    pub fn clients(&self) -> &Clients {
        &self.clients
    }

    /// Where gRPC is served.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// Where `/healthz`, `/readyz` and `/metrics` are served.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The data directory (SQLite files, blobs and local keys in embedded mode).
    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    /// Whether the databases are embedded mode's SQLite files.
    pub fn is_embedded(&self) -> bool {
        self.embedded
    }

    /// The IOC instance served.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The token keys the server accepts (to mint demo and test tokens).
    pub fn auth(&self) -> &AuthConfig {
        &self.auth
    }

    /// The bus the services publish to (consumers in the same process subscribe here).
    pub fn bus(&self) -> Arc<dyn Bus> {
        self.bus.clone()
    }

    /// Cancelling this token stops the process as a signal would.
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Stops the process now and waits until it has stopped.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.stop.cancel();
        self.wait().await
    }

    /// Waits until the stop token is cancelled (a signal, or [`Running::shutdown`]), then
    /// shuts down in order: gRPC and HTTP servers, relays (so that nothing is published once
    /// consumers stop: what is not confirmed stays in the outbox for the next start), then
    /// consumers and other background work, bus, databases.
    pub async fn wait(self) -> anyhow::Result<()> {
        let served = self.server.await.context("gRPC server task")?;
        self.stop.cancel();
        let http = self.http.await.context("HTTP server task")?;
        tracing::info!("servers stopped; finishing background work");
        self.relays_stop.cancel();
        for relay in self.relays {
            if tokio::time::timeout(Duration::from_secs(30), relay).await.is_err() {
                tracing::warn!("an outbox relay did not stop within 30 s");
            }
        }
        self.background.cancel();
        for task in self.tasks {
            if tokio::time::timeout(Duration::from_secs(30), task).await.is_err() {
                tracing::warn!("a background task did not stop within 30 s");
            }
        }
        if let Some(rabbit) = &self.rabbit {
            rabbit.close().await;
        }
        if let Ok(hosted) = Arc::try_unwrap(self.hosted) {
            for service in hosted {
                if let Err(e) = service.db.close().await {
                    tracing::warn!(service = service.name, error = %e, "closing the database");
                }
            }
        }
        tracing::info!("stopped");
        served.and(http)
    }
}

/// The working calendar of the configuration, with the decisions file of
/// `PAHT_CALENDAR_DECISIONS` laid over the shipped decisions.
pub fn calendar(config: &Config) -> anyhow::Result<WorkingCalendar> {
    let decisions = std::env::var_os("PAHT_CALENDAR_DECISIONS").map(PathBuf::from);
    crate::calendar_cmd::build(&config.calendar, decisions.as_deref())
}

/// Shifts business time when `PAHT_CLOCK_START` (RFC 3339) is set: a training or
/// demonstration instance, or an end-to-end test of deadlines across a known holiday.
fn start_business_clock() -> anyhow::Result<()> {
    let Ok(text) = std::env::var("PAHT_CLOCK_START") else { return Ok(()) };
    let start = chrono::DateTime::parse_from_rfc3339(text.trim())
        .with_context(|| format!("PAHT_CLOCK_START={text:?} is not an RFC 3339 instant"))?;
    if paht_platform::clock::start_at(start.to_utc()) {
        tracing::warn!(start = %start, "business time is shifted (PAHT_CLOCK_START): deadlines count from this instant");
    }
    Ok(())
}

/// Connects the bus the configuration names.
async fn connect_bus(config: &Config) -> anyhow::Result<(Arc<dyn Bus>, Option<Arc<RabbitBus>>)> {
    match config.bus.backend {
        // Parked messages go to a durable store (bus.db), listed and replayed by `paht events`.
        BusBackend::Inproc => Ok((Arc::new(crate::ops::events::inproc_bus(config).await?), None)),
        BusBackend::Rabbitmq => {
            let rabbit =
                Arc::new(RabbitBus::connect(config.bus.rabbitmq.clone()).await.context("connecting RabbitMQ")?);
            Ok((rabbit.clone(), Some(rabbit)))
        }
    }
}

/// Starts `services` (at least one) as one process; returns once they serve.
/// `stop` ends it: pass [`paht_platform::server::shutdown_on_signals`] in a binary.
pub async fn start(
    source: ConfigSource,
    config: Config,
    services: &[&'static Registration],
    stop: CancellationToken,
) -> anyhow::Result<Running> {
    if services.is_empty() {
        bail!("no service to run");
    }
    let embedded = settings::is_embedded(&config);
    start_business_clock()?;
    if !embedded && config.auth.keys.is_empty() {
        bail!("suite mode (database.url set) needs [auth] keys shared by every service; see deploy/config");
    }
    if embedded {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating the data directory {}", config.data_dir.display()))?;
    }
    let auth = settings::auth(&config)?;
    let authenticator = Arc::new(Authenticator::new(&auth, &config.instance_id)?);
    let (bus, rabbit) = connect_bus(&config).await?;
    let cache = cache::connect(&config.cache).await.context("connecting the cache")?;
    let peers = paht_platform::peers::Peers::new(&config.peers)?;
    let mut relay = config.relay.clone();
    if config.bus.backend == BusBackend::Inproc {
        // The in-process bus confirms once consumers have handled a message, retries
        // included (1 s + 5 s + 30 s by default): give it that long before retrying.
        relay.publish_timeout_secs = relay.publish_timeout_secs.max(120);
    }
    let shared = Shared {
        calendar: Arc::new(calendar(&config)?),
        source,
        config: Arc::new(config),
        bus: bus.clone(),
        cache,
        authenticator,
        relay,
        peers,
    };

    let background = CancellationToken::new();
    let mut server = GrpcServer::bind(shared.config.grpc_addr, paht_proto::FILE_DESCRIPTOR_SET).await?;
    let grpc_addr = server.local_addr();
    let health = server.health();
    let mut hosted = Vec::new();
    let mut tasks = Vec::new();
    let mut relays = Vec::new();
    let mut clients = Clients::default();
    for registration in dedup(services) {
        let (mounted, relay, db) = host(&shared, registration, &background).await?;
        clients.extend(mounted.clients().clone());
        let (mounted_server, service_tasks) = server.mount(mounted);
        server = mounted_server;
        health.set_service_status(registration.grpc_service, tonic_health::ServingStatus::Serving).await;
        tasks.extend(service_tasks);
        hosted.push(Hosted { name: registration.name, db, relay_stats: relay.stats() });
        relays.push(relay);
    }
    // Whatever a service calls on another goes in-process from now on when both are hosted here.
    shared.peers.offer(&clients);
    // Relays start once every consumer of the process has subscribed: with the in-process bus, an
    // event left in an outbox by the previous run must not be published before its queue exists.
    let relays_stop = CancellationToken::new();
    let relays: Vec<JoinHandle<()>> = relays.into_iter().map(|r| r.spawn(relays_stop.clone())).collect();
    health.set_service_status("", tonic_health::ServingStatus::Serving).await;

    let ready = Arc::new(AtomicBool::new(false));
    let hosted = Arc::new(hosted);
    let listener = tokio::net::TcpListener::bind(shared.config.http_addr)
        .await
        .with_context(|| format!("binding HTTP on {}", shared.config.http_addr))?;
    let http_addr = listener.local_addr()?;
    let router = http::router(http::State { ready: ready.clone(), hosted: hosted.clone() })
        .merge(crate::ops::http::router(bus.clone(), shared.authenticator.clone(), shared.config.instance_id.clone()));
    let http_stop = stop.clone();
    let http = tokio::spawn(async move {
        axum::serve(listener, router).with_graceful_shutdown(http_stop.cancelled_owned()).await.context("HTTP server")
    });
    let not_ready = ready.clone();
    let stopping = stop.clone();
    tokio::spawn(async move {
        stopping.cancelled().await;
        not_ready.store(false, Ordering::Relaxed);
    });
    let grpc_stop = stop.clone();
    let server = tokio::spawn(async move { server.serve(grpc_stop).await.context("gRPC server") });
    ready.store(true, Ordering::Relaxed);
    let names: Vec<&str> = services.iter().map(|s| s.name).collect();
    tracing::info!(%grpc_addr, %http_addr, services = ?names, embedded, "serving");
    Ok(Running {
        grpc_addr,
        http_addr,
        data_dir: shared.config.data_dir.clone(),
        embedded,
        instance: shared.config.instance_id.clone(),
        auth,
        bus,
        rabbit,
        stop,
        background,
        relays_stop,
        server,
        http,
        relays,
        tasks,
        hosted,
        clients,
    })
}

/// Connects, migrates and starts one service; returns what to mount, its outbox relay (not yet
/// running) and its database.
async fn host(
    shared: &Shared,
    registration: &'static Registration,
    background: &CancellationToken,
) -> anyhow::Result<(Mounted, OutboxRelay, Db)> {
    let name = registration.name;
    let db = connect_db(&shared.config, registration).await?;
    (registration.migrate)(db.clone()).await.with_context(|| format!("migrating the {name} database"))?;
    let relay = OutboxRelay::new(db.clone(), shared.bus.clone(), shared.relay.clone());
    let host = Host {
        source: shared.source.clone(),
        config: shared.config.clone(),
        embedded: settings::is_embedded(&shared.config),
        db: db.clone(),
        bus: shared.bus.clone(),
        cache: shared.cache.clone(),
        calendar: shared.calendar.clone(),
        authenticator: shared.authenticator.clone(),
        notifier: relay.notifier(),
        background: background.clone(),
        peers: shared.peers.clone(),
    };
    let mounted = (registration.host)(host).await.with_context(|| format!("starting {name}"))?;
    Ok((mounted, relay, db))
}

/// Runs the migrations of `services` and returns; start-up runs them too.
pub async fn migrate(config: &Config, services: &[&'static Registration]) -> anyhow::Result<()> {
    if settings::is_embedded(config) {
        std::fs::create_dir_all(&config.data_dir)?;
    }
    for registration in dedup(services) {
        let db = connect_db(config, registration).await?;
        (registration.migrate)(db.clone()).await?;
        db.close().await?;
        tracing::info!(service = registration.name, "migrated");
    }
    Ok(())
}

/// The database of one service: its SQLite file, or its schema of the suite's Postgres.
pub(crate) async fn connect_db(config: &Config, registration: &Registration) -> anyhow::Result<Db> {
    let name = registration.name;
    let (url, schema) = config.database.for_service(&config.data_dir, name);
    Db::connect(&url, &schema, &config.database.pool).await.with_context(|| format!("connecting the {name} database"))
}

/// `services` once each, in the registry's order.
fn dedup(services: &[&'static Registration]) -> Vec<&'static Registration> {
    REGISTRY.iter().copied().filter(|r| services.iter().any(|s| s.name == r.name)).collect()
}
