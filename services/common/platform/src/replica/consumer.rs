//! Folding other services' facts into this service's views.

use std::collections::HashMap;
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

use super::{Hook, Replica, ReplicaError, ReplicaStore, TableStore, follow_up, held, lock_key, lock_reports};
use crate::bus::{Delivery, HandleError, Handler, Subscription};
use crate::db::{Db, inbox};

/// How many facts that arrived together a consumer folds in one transaction.
pub const BATCH: u16 = 16;

/// The subscription of a service's consumer: every lifecycle fact whose owner is another
/// service (`lc::FACTS`); its own facts are in its views already. Facts already waiting
/// are folded up to [`BATCH`] at a time.
pub fn subscription(queue: &str, service: Service) -> Subscription {
    let keys: Vec<&str> = lc::FACTS.iter().filter(|(_, owner)| *owner != service).map(|(key, _)| *key).collect();
    Subscription { batch: BATCH, ..Subscription::new(queue, &keys) }
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
        let outcomes = self.apply_batch(&[(event_id, envelope)]).await?;
        Ok(outcomes.into_iter().next().unwrap_or(Outcome::Skipped))
    }

    /// Applies envelopes that arrived together in one transaction, each as [`apply`] would,
    /// and returns their outcomes in the given order. The reports are locked in key order
    /// first, and the facts of one report fold in the order given (their sequence numbers
    /// hold back any that arrived too early). An error rolls back the whole batch.
    ///
    /// [`apply`]: ReplicaConsumer::apply
    pub async fn apply_batch(&self, items: &[(Uuid, &v1::EventEnvelope)]) -> Result<Vec<Outcome>, ConsumeError> {
        let mut outcomes = vec![Outcome::Skipped; items.len()];
        let mut facts = Vec::with_capacity(items.len());
        for (index, (event_id, envelope)) in items.iter().enumerate() {
            if let Some(fact) = paht_proto::fact::fact(envelope).map_err(|e| ConsumeError::Malformed(e.to_string()))? {
                facts.push((index, *event_id, *envelope, fact));
            }
        }
        if facts.is_empty() {
            return Ok(outcomes);
        }
        // Each report's facts stay in their order; reports in lock order.
        facts.sort_by_key(|(index, _, _, fact)| (lock_key(fact.report_id), *index));
        let mut reports: Vec<ReportId> = Vec::new();
        for (_, _, _, fact) in &facts {
            if !reports.contains(&fact.report_id) {
                reports.push(fact.report_id);
            }
        }

        let txn = self.db.begin_write().await.map_err(ReplicaError::from)?;
        // One report at a time, even before its view exists (a fact and its predecessor racing).
        lock_reports(&txn, &reports).await?;
        let event_ids: Vec<Uuid> = facts.iter().map(|(_, event_id, _, _)| *event_id).collect();
        let mut first = inbox::first_deliveries(&txn, &self.name, &event_ids).await.map_err(ReplicaError::from)?;
        if first.is_empty() {
            txn.rollback().await.map_err(ReplicaError::from)?;
            return Ok(outcomes);
        }
        let mut views: HashMap<ReportId, Option<Replica>> = reports.iter().map(|id| (*id, None)).collect();
        for replica in self.store.lock_many(&txn, &reports).await? {
            views.insert(replica.id(), Some(replica));
        }
        let mut holding = held::reports_holding(&txn, &reports).await?;
        for (index, event_id, envelope, fact) in &facts {
            // A repeat of an applied event, or the same event twice in this batch.
            if !first.remove(event_id) {
                continue;
            }
            let current = views.get_mut(&fact.report_id).and_then(Option::take);
            let (outcome, replica) = match self.fold(&txn, current, envelope, fact).await? {
                Folded::Changed(replica) => (Outcome::Applied, Some(replica)),
                Folded::Unchanged(replica) => (Outcome::Skipped, replica),
                Folded::Wait(replica, missing) => {
                    held::hold(&txn, *event_id, fact.report_id, envelope, &missing).await?;
                    holding.insert(fact.report_id);
                    tracing::debug!(missing = %format!("{}#{}", missing.producer, missing.seq), "fact held for its turn");
                    (Outcome::Held, replica)
                }
            };
            let replica = match replica {
                Some(mut replica) if outcome == Outcome::Applied => {
                    if holding.contains(&fact.report_id) && !self.release_held(&txn, &mut replica).await? {
                        holding.remove(&fact.report_id);
                    }
                    Some(follow_up(&txn, replica, &self.calendar, self.hook.as_ref(), fact.occurred_at).await?)
                }
                other => other,
            };
            views.insert(fact.report_id, replica);
            outcomes[*index] = outcome;
        }
        txn.commit().await.map_err(ReplicaError::from)?;
        Ok(outcomes)
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

    /// Folds every held fact of the report that has become foldable, until none is;
    /// returns whether any fact stays held.
    async fn release_held(&self, txn: &DatabaseTransaction, replica: &mut Replica) -> Result<bool, ConsumeError> {
        loop {
            let mut progressed = false;
            let mut waiting_left = false;
            for waiting in held::of_report(txn, replica.id()).await? {
                let Some(fact) = paht_proto::fact::fact(&waiting.envelope).ok().flatten() else {
                    held::release(txn, waiting.event_id).await?;
                    continue;
                };
                match self.fold(txn, Some(replica.clone()), &waiting.envelope, &fact).await? {
                    Folded::Changed(r) => {
                        *replica = r;
                        progressed = true;
                        held::release(txn, waiting.event_id).await?;
                    }
                    Folded::Unchanged(_) => held::release(txn, waiting.event_id).await?,
                    Folded::Wait(..) => waiting_left = true,
                }
            }
            if !progressed {
                return Ok(waiting_left);
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

/// What a failed fold means for its delivery.
fn handle_error(error: ConsumeError, attempt: u32) -> HandleError {
    match error {
        ConsumeError::Malformed(e) | ConsumeError::Replica(ReplicaError::Decode(e)) => HandleError::Reject(e),
        e => {
            tracing::warn!(error = %e, attempt, "fact not folded; will retry");
            HandleError::Retry(e.to_string())
        }
    }
}

/// The envelope of a delivery and the event id it is deduplicated by.
fn decode(delivery: &Delivery) -> Result<(Uuid, v1::EventEnvelope), HandleError> {
    let envelope = v1::EventEnvelope::decode(delivery.message.payload.as_ref())
        .map_err(|e| HandleError::Reject(format!("not an EventEnvelope: {e}")))?;
    let event_id = Uuid::parse_str(&envelope.event_id).unwrap_or(delivery.message.id);
    Ok((event_id, envelope))
}

#[async_trait]
impl Handler for ReplicaConsumer {
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandleError> {
        let (event_id, envelope) = decode(delivery)?;
        let report = report_of(&envelope).map(|r| r.to_string()).unwrap_or_default();
        let span = tracing::info_span!("fold_fact", consumer = %self.name, report_id = %report,
            routing_key = %delivery.message.routing_key);
        match self.apply(event_id, &envelope).instrument(span).await {
            Ok(_) => Ok(()),
            Err(e) => Err(handle_error(e, delivery.attempt)),
        }
    }

    /// One transaction for the whole batch; if it fails, each delivery on its own, so one
    /// bad fact never holds back the others.
    async fn handle_batch(&self, deliveries: &[Delivery]) -> Vec<Result<(), HandleError>> {
        let decoded: Vec<Result<(Uuid, v1::EventEnvelope), HandleError>> = deliveries.iter().map(decode).collect();
        let items: Vec<(Uuid, &v1::EventEnvelope)> =
            decoded.iter().filter_map(|d| d.as_ref().ok()).map(|(id, envelope)| (*id, envelope)).collect();
        let span = tracing::info_span!("fold_facts", consumer = %self.name, facts = items.len());
        match self.apply_batch(&items).instrument(span).await {
            Ok(_) => decoded.into_iter().map(|d| d.map(|_| ())).collect(),
            Err(e) => {
                tracing::debug!(error = %e, facts = items.len(), "batch not folded; folding its facts one by one");
                let mut outcomes = Vec::with_capacity(deliveries.len());
                for (delivery, decoded) in deliveries.iter().zip(decoded) {
                    outcomes.push(match decoded {
                        Ok(_) => self.handle(delivery).await,
                        Err(e) => Err(e),
                    });
                }
                outcomes
            }
        }
    }
}
