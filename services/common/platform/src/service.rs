//! A service in one place. Each service crate exports one [`Registration`] value: its name,
//! its configuration section and how to check it, its migrations, and how to host it in a
//! process (given the shared parts in a [`Host`]: its database, the bus, the cache, the
//! calendar, the authenticator). The runtime keeps a list of registrations and mounts any of
//! them without knowing which service it is; adding a service adds one line to that list.
//!
//! What every service gets without asking: its own database (SQLite file or Postgres schema,
//! migrated by [`Registration::migrate`] before [`Registration::host`] runs), an outbox relay
//! publishing what it commits (notified through [`Host::notifier`]), its gRPC service mounted
//! with health reporting, and orderly shutdown of the tasks it returns.

use std::path::Path;
use std::sync::Arc;

use futures::future::BoxFuture;
use paht_domain::calendar::WorkingCalendar;
use paht_domain::ids::UnitId;
use serde::de::DeserializeOwned;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;

use crate::auth::Authenticator;
use crate::bus::{Bus, BusError, Handler, Subscription};
use crate::cache::Cache;
use crate::config::{Config, ConfigError, ConfigSource};
use crate::db::{Db, DbError, RelayNotifier};
use crate::secrets::{SecretError, local_secret};

/// Why a service could not be started.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// Its configuration section is wrong or incomplete.
    #[error("[{section}]: {message}")]
    Config {
        /// The section (`intake`, `routing` …).
        section: &'static str,
        /// What is wrong, naming the key.
        message: String,
    },
    /// Reading its section failed.
    #[error(transparent)]
    Source(#[from] ConfigError),
    /// Its database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The bus refused its subscription.
    #[error(transparent)]
    Bus(#[from] BusError),
    /// A local secret could not be read or created.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The service's own start-up failed.
    #[error("starting {service}: {message}")]
    Start {
        /// The service.
        service: &'static str,
        /// Why, as the service's error says it.
        message: String,
    },
}

/// A service as the runtime knows it. Built as a `const` in the service's crate.
pub struct Registration {
    /// The name on the command line (`paht serve --services routing`), of its database schema
    /// (or SQLite file) and of its bus queue.
    pub name: &'static str,
    /// One line for `paht services`.
    pub summary: &'static str,
    /// The gRPC service it serves (`paht.v1.RoutingService`), for health checks and routing.
    pub grpc_service: &'static str,
    /// Where it keeps its view of every report, for `paht replicas check`.
    pub views: Views,
    /// Its section of the configuration file, if it reads one.
    pub config_section: Option<&'static str>,
    /// Reads its section strictly (unknown keys and bad values fail) without starting anything:
    /// `paht config check FILE`.
    pub check_config: fn(&ConfigSource) -> Result<(), HostError>,
    /// Runs its migrations on its database (start-up does it too).
    pub migrate: fn(Db) -> BoxFuture<'static, Result<(), DbError>>,
    /// Builds the service over its migrated database and starts its background work.
    pub host: fn(Host) -> BoxFuture<'static, Result<Mounted, HostError>>,
}

/// A service's table of report views: one row per report with an id column, `status`,
/// `category_id` and `lifecycle` (the domain's report as JSON), folded from the owners' facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Views {
    /// The table.
    pub table: &'static str,
    /// Its report id column.
    pub id_column: &'static str,
}

impl Views {
    /// The platform's `report_replicas` table (`paht_platform::replica`).
    pub const REPLICAS: Views = Views { table: "report_replicas", id_column: "report_id" };
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration").field("name", &self.name).field("grpc_service", &self.grpc_service).finish()
    }
}

impl Registration {
    /// Reads the service's section as `T`, the default when the file has none. For
    /// [`Registration::check_config`] implementations.
    pub fn section<T: DeserializeOwned + Default>(
        source: &ConfigSource,
        section: &'static str,
    ) -> Result<T, HostError> {
        source.section(section).map_err(|e| HostError::Config { section, message: e.to_string() })
    }
}

/// What a hosted service is given: the process's shared parts and its own database.
pub struct Host {
    /// The layered configuration (file and `PAHT_*` environment), for the service's section.
    pub source: ConfigSource,
    /// The platform's settings.
    pub config: Arc<Config>,
    /// Whether this is embedded mode (SQLite files, in-process bus, local secrets).
    pub embedded: bool,
    /// The service's own database, migrated.
    pub db: Db,
    /// The bus the process publishes to and consumes from.
    pub bus: Arc<dyn Bus>,
    /// The cache (rate limits, leases).
    pub cache: Arc<dyn Cache>,
    /// The working calendar, decisions overlay included.
    pub calendar: Arc<WorkingCalendar>,
    /// Checks tokens; wrap the gRPC service in [`crate::auth::AuthGuard`] with it.
    pub authenticator: Arc<Authenticator>,
    /// Tells the service's outbox relay that rows were committed.
    pub notifier: RelayNotifier,
    /// Cancelled when the process shuts down its background work.
    pub background: CancellationToken,
    /// The other services' APIs: in-process when hosted here, else at their `[peers]` address.
    pub peers: crate::peers::Peers,
}

impl Host {
    /// The IOC instance this process serves.
    pub fn instance(&self) -> UnitId {
        UnitId::new(self.config.instance_id.clone())
    }

    /// The data directory (embedded mode's files, local secrets, blobs).
    pub fn data_dir(&self) -> &Path {
        &self.config.data_dir
    }

    /// Embedded mode's secret `name` in the data directory, created with `generate` once. Suite
    /// mode never generates secrets: every replica must share the configured ones.
    pub fn local_secret(&self, name: &str, generate: impl FnOnce() -> String) -> Result<String, HostError> {
        Ok(local_secret(self.data_dir(), name, generate)?)
    }

    /// Subscribes `handler` until the process stops its background work.
    pub async fn subscribe(
        &self,
        subscription: Subscription,
        handler: Arc<dyn Handler>,
    ) -> Result<JoinHandle<()>, HostError> {
        Ok(self.bus.subscribe(subscription, handler, self.background.clone()).await?)
    }
}

type Mount = Box<dyn FnOnce(Routes) -> Routes + Send>;

/// A started service: its gRPC service to mount and its background tasks.
pub struct Mounted {
    mount: Mount,
    tasks: Vec<JoinHandle<()>>,
    clients: Clients,
}

/// The in-process clients of the services a process hosts, by type: each registration offers
/// its API's client (`Arc<dyn Trait>`, e.g. `ProcessingClient`) with [`Mounted::with_client`],
/// and whatever runs in the same process (the demo data, the gateway) takes it with
/// [`Clients::get`] instead of calling its own process over loopback gRPC.
#[derive(Clone, Default)]
pub struct Clients {
    by_type: std::collections::HashMap<std::any::TypeId, (&'static str, Arc<dyn std::any::Any + Send + Sync>)>,
}

impl Clients {
    /// Offers `client`; a second client of the same type replaces the first.
    pub fn insert<C: std::any::Any + Send + Sync + Clone>(&mut self, client: C) {
        self.by_type.insert(std::any::TypeId::of::<C>(), (std::any::type_name::<C>(), Arc::new(client)));
    }

    /// The client of type `C` (e.g. `IntakeClient`), if a hosted service offered one.
    pub fn get<C: std::any::Any + Send + Sync + Clone>(&self) -> Option<C> {
        self.by_type.get(&std::any::TypeId::of::<C>()).and_then(|(_, c)| c.downcast_ref::<C>()).cloned()
    }

    /// Adds every client of `other`.
    pub fn extend(&mut self, other: Clients) {
        self.by_type.extend(other.by_type);
    }

    /// How many clients are offered.
    pub fn len(&self) -> usize {
        self.by_type.len()
    }

    /// Whether no client is offered.
    pub fn is_empty(&self) -> bool {
        self.by_type.is_empty()
    }
}

impl std::fmt::Debug for Clients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.by_type.values().map(|(name, _)| *name).collect();
        names.sort_unstable();
        f.debug_tuple("Clients").field(&names).finish()
    }
}

impl Mounted {
    /// The gRPC service (already behind its authentication guard).
    pub fn new<S>(service: S) -> Self
    where
        S: tonic::codegen::Service<
                tonic::codegen::http::Request<tonic::body::Body>,
                Response = tonic::codegen::http::Response<tonic::body::Body>,
                Error = std::convert::Infallible,
            > + tonic::server::NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        Mounted {
            mount: Box::new(move |routes: Routes| routes.add_service(service)),
            tasks: Vec::new(),
            clients: Clients::default(),
        }
    }

    /// Offers the service's in-process client (`Arc<dyn Trait>` of its API) to the rest of
    /// the process; see [`Clients`].
    pub fn with_client<C: std::any::Any + Send + Sync + Clone>(mut self, client: C) -> Self {
        self.clients.insert(client);
        self
    }

    /// The in-process clients this service offers.
    pub fn clients(&self) -> &Clients {
        &self.clients
    }

    /// A background task the runtime waits for at shutdown (it must end when
    /// [`Host::background`] is cancelled).
    pub fn with_task(mut self, task: JoinHandle<()>) -> Self {
        self.tasks.push(task);
        self
    }

    /// Adds the service to `routes`; returns them and the background tasks.
    pub fn mount(self, routes: Routes) -> (Routes, Vec<JoinHandle<()>>) {
        ((self.mount)(routes), self.tasks)
    }
}

/// Finds services by name in a registry.
pub fn find<'r>(registry: &'r [&'r Registration], name: &str) -> Result<&'r Registration, String> {
    registry.iter().copied().find(|r| r.name == name.trim()).ok_or_else(|| {
        let names: Vec<&str> = registry.iter().map(|r| r.name).collect();
        format!("unknown service {name:?}; one of {}", names.join(", "))
    })
}
