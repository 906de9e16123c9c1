//! The PAHT publication service: the answer of a resolved report, its publication, private
//! delivery or withholding (article 10), the reporter's rating, its follow-up and reopening
//! (article 11).
//!
//! Publication keeps its own replica of every report's lifecycle (`paht_platform::replica`):
//! the other services' facts reach it through [`consumer`], its own decisions run through
//! [`PublicationService`], and after every change the [`PublicationIndex`] hook brings the
//! `publications` row in step, in the same transaction.
//!
//! - [`PublicationMigrator`]: the platform's tables, `report_replicas`, `publications`, `follow_ups`.
//! - [`store`]: the index and the follow-up queue.
//! - [`secret`]: the rating secret that proves the reporter (R11.1).
//! - [`Publication`]: the API as a Rust trait; a caller holds a [`PublicationClient`].
//! - [`PublicationService`]: implements [`Publication`], and the tonic service over it.

pub mod api;
mod config;
mod hook;
mod migration;
mod registration;
pub mod secret;
mod service;
pub mod store;

use std::sync::Arc;

use paht_domain::calendar::WorkingCalendar;
use paht_platform::bus::{Handler, Subscription};
use paht_platform::db::Db;
use paht_platform::replica::{self, ReplicaConsumer};

pub use api::{Publication, PublicationClient, PublicationGrpcClient};
pub use config::PublicationConfig;
pub use hook::PublicationIndex;
pub use migration::PublicationMigrator;
pub use registration::{ANONYMOUS, REGISTRATION};
pub use secret::RatingKey;
pub use service::{Clock, GUARD_PURPOSE, PublicationParts, PublicationService};

/// The consumer name of publication (its inbox marks).
pub const CONSUMER: &str = "publication";
/// The queue publication consumes the other services' lifecycle events from.
pub const QUEUE: &str = "publication.replica";

/// The subscription of publication's replica consumer: every lifecycle fact another service decides.
pub fn subscription() -> Subscription {
    replica::subscription(QUEUE, paht_domain::lifecycle::Service::Publication)
}

/// The bus handler that keeps publication's replicas (and `publications`) in step with the other
/// services' facts; subscribe it with [`subscription`].
pub fn consumer(db: Db, calendar: Arc<WorkingCalendar>) -> Arc<dyn Handler> {
    Arc::new(ReplicaConsumer::new(CONSUMER, db, calendar, Arc::new(PublicationIndex)))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Publication folds every other owner's fact and none of its own.
    #[test]
    fn subscription_binds_the_other_services_facts() {
        let sub = subscription();
        assert_eq!(sub.queue, QUEUE);
        for own in ["report.answer_edited", "report.published", "report.rated", "report.reopened"] {
            assert!(!sub.bindings.iter().any(|b| b == own), "{own} is publication's own");
        }
        for other in
            ["report.received", "report.accepted", "report.dispatched", "assignment.approved", "report.resolved"]
        {
            assert!(sub.bindings.iter().any(|b| b == other), "{other} is not bound");
        }
    }
}
