//! The PAHT processing service: each agency's inbox ordered by deadline; return, explain,
//! result and the leader's approval (articles 8, 9).
//!
//! Processing keeps its own replica of every report's lifecycle (`paht_platform::replica`):
//! the other services' facts reach it through [`consumer`], its own actions run through
//! [`ProcessingService`], and after every change the [`AssignmentIndex`] hook brings the
//! `assignments` index in step, in the same transaction.
//!
//! - [`ProcessingMigrator`]: the platform's tables, `report_replicas`, then `assignments`.
//! - [`store`]: the `assignments` index and the inbox query.
//! - [`Processing`]: the API as a Rust trait; a caller holds a [`ProcessingClient`], the
//!   service itself in one process or a [`ProcessingGrpcClient`] across processes.
//! - [`ProcessingService`]: implements [`Processing`], and the tonic service as a thin adapter
//!   over it; build it with [`build`].
//! - [`consumer`], [`QUEUE`], [`subscription`]: the replica consumer and its subscription.

pub mod api;
mod error;
mod hook;
mod migration;
mod registration;
mod service;
pub mod store;

use std::sync::Arc;

use paht_domain::calendar::WorkingCalendar;
use paht_platform::bus::{Handler, Subscription};
use paht_platform::db::Db;
use paht_platform::replica::{self, ReplicaConsumer};

pub use api::{Processing, ProcessingClient, ProcessingGrpcClient};
pub use error::ProcessingError;
pub use hook::AssignmentIndex;
pub use migration::ProcessingMigrator;
pub use registration::REGISTRATION;
pub use service::{Clock, MAX_RESULT_ATTACHMENTS, ProcessingParts, ProcessingService};

/// The consumer name of processing (its inbox marks) and the name of its queue.
pub const CONSUMER: &str = "processing";
/// The queue processing consumes the other services' lifecycle events from.
pub const QUEUE: &str = "processing.replica";
/// The subscription of processing's replica consumer: every lifecycle fact another service decides.
pub fn subscription() -> Subscription {
    replica::subscription(QUEUE, paht_domain::lifecycle::Service::Processing)
}

/// The bus handler that keeps processing's replicas (and the `assignments` index) in step with
/// the other services' facts; subscribe it with [`subscription`].
pub fn consumer(db: Db, calendar: Arc<WorkingCalendar>) -> Arc<dyn Handler> {
    Arc::new(ReplicaConsumer::new(CONSUMER, db, calendar, Arc::new(AssignmentIndex)))
}

/// Migrates the service's database and returns the service, ready to mount behind
/// `paht_platform::auth::interceptor`.
pub async fn build(parts: ProcessingParts) -> Result<ProcessingService, ProcessingError> {
    parts.db.migrate::<ProcessingMigrator>().await?;
    Ok(ProcessingService::new(parts))
}

#[cfg(test)]
mod tests {
    use paht_platform::db::DbConfig;
    use sea_orm::EntityTrait;

    use super::*;

    // Processing binds every lifecycle fact of the other services, none of its own.
    #[test]
    fn subscription_binds_the_other_services_facts() {
        let sub = subscription();
        assert_eq!(sub.queue, QUEUE);
        let own = ["assignment.returned", "assignment.explained", "assignment.resolved", "assignment.approved"];
        for own in own.into_iter().chain(["assignment.sent_back"]) {
            assert!(!sub.bindings.iter().any(|b| b == own), "{own} is processing's own");
        }
        // Routing decides the resolution now: processing folds it like every other fact.
        for other in [
            "report.received",
            "report.accepted",
            "report.dispatched",
            "directive.issued",
            "report.resolved",
            "report.reopened",
        ] {
            assert!(sub.bindings.iter().any(|b| b == other), "{other} is not bound");
        }
        assert!(sub.bindings.iter().all(|k| paht_proto::ROUTING_KEYS.contains(&k.as_str())));
    }

    #[tokio::test]
    async fn build_migrates_and_can_run_again() {
        let db = Db::connect("sqlite::memory:", "processing", &DbConfig::default()).await.unwrap();
        for _ in 0..2 {
            let parts = ProcessingParts {
                db: db.clone(),
                calendar: Arc::new(WorkingCalendar::vietnam()),
                instance: paht_domain::ids::UnitId::new("IOC-86"),
                notifier: None,
            };
            build(parts).await.unwrap();
        }
        let rows = store::assignment::Entity::find().all(db.conn()).await.unwrap();
        assert!(rows.is_empty());
    }
}
