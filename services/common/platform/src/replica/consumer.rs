//! Folding other services' facts into this service's views.

use std::sync::Arc;

use async_trait::async_trait;
use paht_domain::calendar::WorkingCalendar;
use paht_domain::ids::ReportId;
use paht_domain::lifecycle::{self as lc, Admission, Service};
use paht_proto::v1;
use paht_proto::v1::event_envelope::Payload;
use prost::Message as _;
use sea_orm::DatabaseTransaction;
use tracing::Instrument as _;
use uuid::Uuid;

use super::{Hook, Replica, ReplicaError, ReplicaStore, TableStore, follow_up, held, lock_report};
use crate::bus::{Delivery, HandleError, Handler, Subscription};
use crate::db::{Db, inbox};

/// The subscription of a service's consumer: every lifecycle fact whose owner is another
/// service (`lc::FACTS`); its own facts are in its views already.
pub fn subscription(queue: &str, service: Service) -> Subscription {
    let keys: Vec<&str> = lc::FACTS.iter().filter(|(_, owner)| *owner != service).map(|(key, _)| *key).collect();
    Subscription::new(queue, &keys)
}

/// A bus handler that folds the other services' facts into a service's views.
pub struct ReplicaConsumer {
    name: String,
    db: Db,
    calendar: Arc<WorkingCalendar>,
    hook: Arc<dyn Hook>,
    store: Arc<dyn ReplicaStore>,
}

impl std::fmt::Debug for ReplicaConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplicaConsumer").field("name", &self.name).finish_non_exhaustive()
    }
}

/// What applying one delivery did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The view changed (or was created), with every held fact that became foldable.
    Applied,
    /// The fact was seen before (inbox or sequence), or has no effect on a view.
    Skipped,
    /// The fact waits, durably, for one it was decided after.
    Held,
}

impl ReplicaConsumer {
    /// A consumer named `name` (its inbox key) over `db`; `calendar` serves the service's
    /// own follow-up decisions (the facts themselves are folded as stated), `hook` keeps
    /// its indexes.
    pub fn new(name: impl Into<String>, db: Db, calendar: Arc<WorkingCalendar>, hook: Arc<dyn Hook>) -> Self {
        ReplicaConsumer { name: name.into(), db, calendar, hook, store: Arc::new(TableStore) }
    }

    /// The same consumer keeping the lifecycle in the service's own table instead of
    /// `report_replicas` (the intake service keeps it on its `reports` rows).
    pub fn with_store(mut self, store: Arc<dyn ReplicaStore>) -> Self {
        self.store = store;
        self
    }

    /// Applies one envelope in one transaction: inbox mark, then fold (with every held
    /// fact it lets through and the service's follow-up decisions) or hold.
    pub async fn apply(&self, event_id: Uuid, envelope: &v1::EventEnvelope) -> Result<Outcome, ConsumeError> {
        let Some(fact) = paht_proto::fact::fact(envelope).map_err(|e| ConsumeError::Malformed(e.to_string()))? else {
            return Ok(Outcome::Skipped);
        };
        let txn = self.db.begin_write().await.map_err(ReplicaError::from)?;
        // One report at a time, even before its view exists (a fact and its predecessor racing).
        lock_report(&txn, fact.report_id).await?;
        if !inbox::first_delivery(&txn, &self.name, event_id).await.map_err(ReplicaError::from)? {
            txn.rollback().await.map_err(ReplicaError::from)?;
            return Ok(Outcome::Skipped);
        }
        let current = self.store.lock(&txn, fact.report_id).await?;
        let (outcome, replica) = match self.fold(&txn, current, envelope, &fact).await? {
            Folded::Changed(replica) => (Outcome::Applied, Some(replica)),
            Folded::Unchanged(replica) => (Outcome::Skipped, replica),
            Folded::Wait(replica, missing) => {
                held::hold(&txn, event_id, fact.report_id, envelope, &missing).await?;
                tracing::debug!(missing = %format!("{}#{}", missing.producer, missing.seq), "fact held for its turn");
                (Outcome::Held, replica)
            }
        };
        if outcome == Outcome::Applied
            && let Some(replica) = replica
        {
            let replica = self.release_held(&txn, replica).await?;
            follow_up(&txn, replica, &self.calendar, self.hook.as_ref(), fact.occurred_at).await?;
        }
        txn.commit().await.map_err(ReplicaError::from)?;
        Ok(outcome)
    }

    /// Folds one fact into the view (or starts the view with `report.received`).
    async fn fold(
        &self,
        txn: &DatabaseTransaction,
        current: Option<Replica>,
        envelope: &v1::EventEnvelope,
        fact: &lc::Event,
    ) -> Result<Folded, ConsumeError> {
        let Some(mut replica) = current else {
            let (Some(state), Some(Payload::ReportReceived(received))) = (lc::Report::genesis(fact), &envelope.payload)
            else {
                // Decided after the report arrived: wait for that (intake's first fact). A fact
                // that claims no predecessor at all waits too: only report.received starts a view.
                let intake = lc::Producer { instance: fact.instance.clone(), service: Service::Intake };
                return Ok(Folded::Wait(None, lc::Seen { producer: intake, seq: 1 }));
            };
            let view = received.report.clone().unwrap_or_default();
            let saved = self.store.save(txn, Replica { state, view, version: 0 }).await?;
            self.hook.changed(txn, None, &saved).await.map_err(ReplicaError::from)?;
            return Ok(Folded::Changed(saved));
        };
        match replica.state.seen.admit(&fact.stamp) {
            Admission::Duplicate => Ok(Folded::Unchanged(Some(replica))),
            Admission::Wait { missing } => Ok(Folded::Wait(Some(replica), missing)),
            Admission::Fold => {
                let before = replica.state.clone();
                replica.state.fold(fact);
                if let Some(Payload::ReportAccepted(accepted)) = &envelope.payload
                    && !accepted.category_id.is_empty()
                {
                    replica.view.category_id.clone_from(&accepted.category_id);
                }
                let saved = self.store.save(txn, replica).await?;
                self.hook.changed(txn, Some(&before), &saved).await.map_err(ReplicaError::from)?;
                Ok(Folded::Changed(saved))
            }
        }
    }

    /// Folds every held fact of the report that has become foldable, until none is.
    async fn release_held(&self, txn: &DatabaseTransaction, mut replica: Replica) -> Result<Replica, ConsumeError> {
        loop {
            let mut progressed = false;
            for waiting in held::of_report(txn, replica.id()).await? {
                let Some(fact) = paht_proto::fact::fact(&waiting.envelope).ok().flatten() else {
                    held::release(txn, waiting.event_id).await?;
                    continue;
                };
                match self.fold(txn, Some(replica.clone()), &waiting.envelope, &fact).await? {
                    Folded::Changed(r) => {
                        replica = r;
                        progressed = true;
                        held::release(txn, waiting.event_id).await?;
                    }
                    Folded::Unchanged(_) => held::release(txn, waiting.event_id).await?,
                    Folded::Wait(..) => {}
                }
            }
            if !progressed {
                return Ok(replica);
            }
        }
    }
}

enum Folded {
    Changed(Replica),
    Unchanged(Option<Replica>),
    Wait(Option<Replica>, lc::Seen),
}

/// Why a delivery was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ConsumeError {
    /// The envelope is malformed; retrying will not help.
    #[error("malformed event: {0}")]
    Malformed(String),
    /// The view could not be read or written.
    #[error(transparent)]
    Replica(#[from] ReplicaError),
}

/// The report an envelope is about, for logs.
fn report_of(envelope: &v1::EventEnvelope) -> Option<ReportId> {
    paht_proto::fact::report_id(envelope).ok()
}

#[async_trait]
impl Handler for ReplicaConsumer {
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandleError> {
        let envelope = v1::EventEnvelope::decode(delivery.message.payload.as_ref())
            .map_err(|e| HandleError::Reject(format!("not an EventEnvelope: {e}")))?;
        let event_id = Uuid::parse_str(&envelope.event_id).unwrap_or(delivery.message.id);
        let report = report_of(&envelope).map(|r| r.to_string()).unwrap_or_default();
        let span = tracing::info_span!("fold_fact", consumer = %self.name, report_id = %report,
            routing_key = %delivery.message.routing_key);
        match self.apply(event_id, &envelope).instrument(span).await {
            Ok(_) => Ok(()),
            Err(ConsumeError::Malformed(e)) => Err(HandleError::Reject(e)),
            Err(ConsumeError::Replica(ReplicaError::Decode(e))) => Err(HandleError::Reject(e)),
            Err(e) => {
                tracing::warn!(error = %e, attempt = delivery.attempt, "fact not folded; will retry");
                Err(HandleError::Retry(e.to_string()))
            }
        }
    }
}
