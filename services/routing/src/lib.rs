//! The PAHT routing service: owns the directory (the unit tree, categories, officers and
//! focal points), suggests agencies for a report by rules, dispatches, redispatches returned
//! assignments, escalates, and suggests earlier duplicates (R7.3b, R8.2b, R8.2c, R4.4, R13.5,
//! R18.1).
//!
//! Routing keeps its own replica of every report's lifecycle (`paht_platform::replica`): the
//! other services' facts reach it through [`consumer`], its own commands run through
//! [`RoutingService`], and after every change the [`CaseIndex`] hook brings the `cases` index
//! and the `deadlines` table in step, in the same transaction.
//!
//! - [`directory`], [`rules`]: the shipped directory of Vĩnh Long and its routing rules (pure).
//! - [`store`]: the directory with the administrators' changes, `cases`, `redispatches`.
//! - [`RoutingMigrator`]: the platform's tables, `report_replicas`, routing's, `deadlines`.
//! - [`Routing`]: the API as a Rust trait; a caller holds a [`RoutingClient`], the service
//!   itself in one process or a [`RoutingGrpcClient`] across processes.
//! - [`RoutingService`]: implements [`Routing`], and the tonic service as a thin adapter over
//!   it; build it with [`build`].
//! - [`consumer`], [`QUEUE`], [`subscription`]: the replica consumer.
//! - [`deadlines`]: the deadline sweeper; [`RoutingService::sweeper`] builds it.

pub mod api;
mod config;
pub mod deadlines;
pub mod directory;
mod error;
mod hook;
mod migration;
mod registration;
pub mod rules;
mod service;
pub mod store;

use std::sync::Arc;

use paht_domain::calendar::WorkingCalendar;
use paht_platform::bus::{Handler, Subscription};
use paht_platform::db::Db;
use paht_platform::replica::{self, ReplicaConsumer};

pub use api::{Routing, RoutingClient, RoutingGrpcClient};
pub use config::RoutingConfig;
pub use error::RoutingError;
pub use hook::CaseIndex;
pub use migration::RoutingMigrator;
pub use registration::REGISTRATION;
pub use service::{Clock, RoutingParts, RoutingService, unit_kind};

/// The consumer name of routing (its inbox marks).
pub const CONSUMER: &str = "routing";
/// The queue routing consumes the other services' lifecycle events from.
pub const QUEUE: &str = "routing.replica";
/// The subscription of routing's replica consumer: every lifecycle fact another service decides.
pub fn subscription() -> Subscription {
    replica::subscription(QUEUE, paht_domain::lifecycle::Service::Routing)
}

/// The bus handler that keeps routing's replicas (with `cases` and `deadlines`) in step with
/// the other services' facts; subscribe it with [`subscription`]. `hook` is
/// [`RoutingService::index`] of the hosted service (or `CaseIndex::new(config.sweeper.lead)`).
pub fn consumer(db: Db, calendar: Arc<WorkingCalendar>, hook: CaseIndex) -> Arc<dyn Handler> {
    Arc::new(ReplicaConsumer::new(CONSUMER, db, calendar, Arc::new(hook)))
}

/// Migrates the service's database and returns the service, ready to mount behind
/// `paht_platform::auth::interceptor`.
pub async fn build(parts: RoutingParts) -> Result<RoutingService, RoutingError> {
    parts.db.migrate::<RoutingMigrator>().await?;
    Ok(RoutingService::new(parts))
}
