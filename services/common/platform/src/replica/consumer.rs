//! Replaying other services' events onto the replicas.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use paht_domain::calendar::WorkingCalendar;
use paht_proto::replay::{self, Replay};
use paht_proto::v1;
use prost::Message as _;
use tracing::Instrument as _;
use uuid::Uuid;

use super::{Hook, Replica, ReplicaError, ReplicaStore, TableStore};
use crate::bus::{Delivery, HandleError, Handler, Subscription};
use crate::db::{Db, inbox};

/// Pauses before applying again a fact that overtook the one it follows (about 0.3 s in all).
const EARLY_PAUSES: [Duration; 5] = [
    Duration::from_millis(10),
    Duration::from_millis(20),
    Duration::from_millis(40),
    Duration::from_millis(80),
    Duration::from_millis(160),
];

/// Events that never change a replica: nobody needs to bind them for it.
const NO_EFFECT: &[&str] = &["deadline.due_soon", "deadline.missed", "report.linked_as_duplicate"];

/// The subscription of a service's replica consumer: every lifecycle event except the
/// ones the service produces itself (`own_keys`), which its replicas already have.
pub fn subscription(queue: &str, own_keys: &[&str]) -> Subscription {
    let keys: Vec<&str> =
        paht_proto::ROUTING_KEYS.iter().copied().filter(|k| !own_keys.contains(k) && !NO_EFFECT.contains(k)).collect();
    let mut subscription = Subscription::new(queue, &keys);
    // A fact still early after the consumer's own short wait is retried soon, then ever later.
    subscription.retry_delays = vec![Duration::from_millis(500), Duration::from_secs(5), Duration::from_secs(30)];
    subscription
}

/// A bus handler that keeps a service's replicas in step with the other services' facts.
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
    /// The replica changed (or was created).
    Applied,
    /// The event was applied before (inbox), or has no effect on a replica.
    Skipped,
}

impl ReplicaConsumer {
    /// A consumer named `name` (its inbox key) over `db`, replaying with `calendar` and
    /// keeping the service's indexes with `hook`.
    pub fn new(name: impl Into<String>, db: Db, calendar: Arc<WorkingCalendar>, hook: Arc<dyn Hook>) -> Self {
        ReplicaConsumer { name: name.into(), db, calendar, hook, store: Arc::new(TableStore) }
    }

    /// The same consumer keeping the lifecycle in the service's own table instead of
    /// `report_replicas` (the intake service keeps it on its `reports` rows).
    pub fn with_store(mut self, store: Arc<dyn ReplicaStore>) -> Self {
        self.store = store;
        self
    }

    /// Applies one envelope in one transaction: inbox mark, replica, hook.
    pub async fn apply(&self, event_id: Uuid, envelope: &v1::EventEnvelope) -> Result<Outcome, ConsumeError> {
        let step = replay::replay(envelope).map_err(|e| ConsumeError::Malformed(e.to_string()))?;
        let report_id = replay::report_id(envelope).map_err(|e| ConsumeError::Malformed(e.to_string()))?;
        let txn = self.db.begin_write().await.map_err(ReplicaError::from)?;
        if !inbox::first_delivery(&txn, &self.name, event_id).await.map_err(ReplicaError::from)? {
            txn.rollback().await.map_err(ReplicaError::from)?;
            return Ok(Outcome::Skipped);
        }
        let outcome = match step {
            Replay::Nothing => Outcome::Skipped,
            Replay::Received { view } => {
                if self.store.lock(&txn, report_id).await?.is_some() {
                    Outcome::Skipped
                } else {
                    let state = replay::received_state(&view, &self.calendar)
                        .map_err(|e| ConsumeError::Malformed(e.to_string()))?;
                    let saved = self.store.save(&txn, Replica { state, view: *view, version: 0 }).await?;
                    self.hook.changed(&txn, None, &saved).await.map_err(ReplicaError::from)?;
                    Outcome::Applied
                }
            }
            Replay::Apply { command, actor, at, category_id } => {
                let Some(mut replica) = self.store.lock(&txn, report_id).await? else {
                    return Err(ConsumeError::Early(format!("report {report_id} has no replica yet")));
                };
                match replay::apply(&replica.state, command, &actor, at, &self.calendar) {
                    Ok(None) => Outcome::Skipped,
                    Ok(Some(transition)) => {
                        let before = std::mem::replace(&mut replica.state, transition.report);
                        if let Some(category) = category_id {
                            replica.view.category_id = category;
                        }
                        let saved = self.store.save(&txn, replica).await?;
                        self.hook.changed(&txn, Some(&before), &saved).await.map_err(ReplicaError::from)?;
                        Outcome::Applied
                    }
                    Err(e) => return Err(ConsumeError::Early(format!("report {report_id}: {e}"))),
                }
            }
        };
        txn.commit().await.map_err(ReplicaError::from)?;
        Ok(outcome)
    }
}

/// Why a delivery was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ConsumeError {
    /// The envelope is malformed; retrying will not help.
    #[error("malformed event: {0}")]
    Malformed(String),
    /// The event cannot apply yet (it overtook the fact it follows); retry later.
    #[error("not applicable yet: {0}")]
    Early(String),
    /// The replica could not be read or written.
    #[error(transparent)]
    Replica(#[from] ReplicaError),
}

#[async_trait]
impl Handler for ReplicaConsumer {
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandleError> {
        let envelope = v1::EventEnvelope::decode(delivery.message.payload.as_ref())
            .map_err(|e| HandleError::Reject(format!("not an EventEnvelope: {e}")))?;
        let event_id = Uuid::parse_str(&envelope.event_id).unwrap_or(delivery.message.id);
        let span = tracing::info_span!("replica_apply", consumer = %self.name, report_id = %envelope.report_id,
            routing_key = %delivery.message.routing_key);
        let mut result = self.apply(event_id, &envelope).instrument(span.clone()).await;
        // Deliveries of one queue run concurrently (up to its prefetch), so a fact can overtake the
        // one it follows by a few milliseconds: wait for it here, briefly, before handing the
        // delivery back to the bus's slower retry.
        for pause in EARLY_PAUSES {
            if !matches!(result, Err(ConsumeError::Early(_))) {
                break;
            }
            tokio::time::sleep(pause).await;
            result = self.apply(event_id, &envelope).instrument(span.clone()).await;
        }
        match result {
            Ok(_) => Ok(()),
            Err(ConsumeError::Malformed(e)) => Err(HandleError::Reject(e)),
            Err(ConsumeError::Replica(ReplicaError::Decode(e))) => Err(HandleError::Reject(e)),
            Err(e) => {
                tracing::warn!(error = %e, attempt = delivery.attempt, "event not applied; will retry");
                Err(HandleError::Retry(e.to_string()))
            }
        }
    }
}
