//! The replica hook of routing: after every change of a replica (an own command or a replayed
//! event), in the same transaction, the `cases` index and the `deadlines` table are brought in
//! step.

use async_trait::async_trait;
use paht_domain::lifecycle as lc;
use paht_platform::db::DbError;
use paht_platform::replica::{Hook, Replica};
use sea_orm::DatabaseTransaction;

use crate::deadlines::{self, LeadTime};
use crate::store::cases;

/// Keeps `cases` (duplicates, queues) and `deadlines` (the sweeper's rows) in step with the
/// replicas.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CaseIndex {
    lead: LeadTime,
}

impl CaseIndex {
    /// The hook, with reminders of new deadlines going out as `lead` says.
    pub fn new(lead: LeadTime) -> Self {
        CaseIndex { lead }
    }
}

#[async_trait]
impl Hook for CaseIndex {
    async fn changed(&self, txn: &DatabaseTransaction, _: Option<&lc::Report>, after: &Replica) -> Result<(), DbError> {
        cases::index(txn, after, paht_platform::clock::wall()).await?;
        deadlines::sync(txn, &after.state, &self.lead).await
    }

    /// Routing decides when a report is resolved (R10.2): as soon as its view has every
    /// assignment at work approved. It also decides every dispatch, so none can race it.
    fn follow_up(&self, after: &lc::Report) -> Option<(lc::Command, paht_domain::actor::Actor)> {
        after.resolution()
    }
}
