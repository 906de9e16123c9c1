//! The bus's types and trait, shared by both implementations and by the outbox relay.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use thiserror::Error;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// One event on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The event id (AMQP `message_id`); consumers deduplicate on it.
    pub id: Uuid,
    /// The routing key, `<entity>.<fact>` (e.g. `report.received`).
    pub routing_key: String,
    /// The encoded `paht.v1.EventEnvelope`.
    pub payload: Bytes,
    /// Headers carried alongside: W3C `traceparent`/`tracestate`, never personal data.
    pub headers: BTreeMap<String, String>,
}

/// A message handed to a consumer.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The message.
    pub message: Message,
    /// Which attempt this is, starting at 1.
    pub attempt: u32,
}

/// Why a handler did not process a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HandleError {
    /// A transient failure (database down, timeout): retried with back-off, and
    /// parked once the attempts are used up.
    #[error("retryable: {0}")]
    Retry(String),
    /// The message can never be processed (undecodable, invalid): parked at once.
    #[error("rejected: {0}")]
    Reject(String),
}

/// Processes deliveries of one subscription. Must be idempotent: the bus delivers
/// at least once (use the inbox, keyed by event id).
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    /// Handles one delivery; `Ok` acknowledges it.
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandleError>;

    /// Handles deliveries that arrived together (at most the subscription's `batch`), one
    /// outcome per delivery in the same order. The default handles them one by one; a handler
    /// that can do better (one database transaction for all) overrides it.
    async fn handle_batch(&self, deliveries: &[Delivery]) -> Vec<Result<(), HandleError>> {
        let mut outcomes = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            outcomes.push(self.handle(delivery).await);
        }
        outcomes
    }
}

/// A consuming service's queue and how it is consumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The consumer's name (the service, e.g. `routing`); names its queue.
    pub queue: String,
    /// Routing-key patterns bound to the queue (`report.#`, `assignment.*`).
    pub bindings: Vec<String>,
    /// How many unacknowledged deliveries a consumer holds at once.
    pub prefetch: u16,
    /// At most how many deliveries that are already waiting go to the handler in one
    /// `handle_batch` call (1: one at a time). A batch never waits for more to arrive.
    pub batch: u16,
    /// Attempts before a message is parked (1 = no retry).
    pub max_attempts: u32,
    /// Back-off before each retry; the last value repeats. `[1s, 5s, 30s]` by default.
    pub retry_delays: Vec<Duration>,
}

impl Subscription {
    /// A subscription with the default prefetch (64), no batching, attempts (5) and back-off
    /// (1 s, 5 s, 30 s).
    pub fn new(queue: impl Into<String>, bindings: &[&str]) -> Self {
        Subscription {
            queue: queue.into(),
            bindings: bindings.iter().map(|b| (*b).to_string()).collect(),
            prefetch: 64,
            batch: 1,
            max_attempts: 5,
            retry_delays: vec![Duration::from_secs(1), Duration::from_secs(5), Duration::from_secs(30)],
        }
    }
}

/// A parked message, for an operator to inspect and replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The message as it was published.
    pub message: Message,
    /// The consumer that could not process it.
    pub queue: String,
    /// The last error.
    pub reason: String,
    /// How many attempts were made.
    pub attempts: u32,
    /// When it was parked.
    pub parked_at: DateTime<Utc>,
}

/// What can go wrong on the bus.
#[derive(Debug, Error)]
pub enum BusError {
    /// The broker cannot be reached or the connection broke.
    #[error("broker unavailable: {0}")]
    Unavailable(String),
    /// The broker refused (nacked) a message.
    #[error("broker refused message {0}")]
    Nacked(Uuid),
    /// A confirm did not arrive in time.
    #[error("no publisher confirm within {0:?}")]
    ConfirmTimeout(Duration),
    /// The bus is misconfigured (bad URL, bad binding).
    #[error("bus configuration: {0}")]
    Config(String),
    /// Any other broker error.
    #[error("broker error: {0}")]
    Broker(String),
}

/// The bus as services see it.
#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Publishes the messages (persistent) and returns once every one is confirmed;
    /// an error means some may not have been, and the caller publishes them again.
    async fn publish(&self, messages: &[Message]) -> Result<(), BusError>;

    /// Declares the subscription's queue and bindings and consumes it until
    /// `shutdown` is cancelled, recovering from broker restarts by itself.
    async fn subscribe(
        &self,
        subscription: Subscription,
        handler: Arc<dyn Handler>,
        shutdown: CancellationToken,
    ) -> Result<JoinHandle<()>, BusError>;

    /// Up to `limit` parked messages of a consumer, oldest first, left in place.
    async fn dead_letters(&self, queue: &str, limit: usize) -> Result<Vec<DeadLetter>, BusError>;

    /// Sends parked messages (all, or those with the given ids) back to their
    /// consumer with a fresh attempt count; returns how many were replayed.
    async fn replay_dead_letters(&self, queue: &str, ids: Option<&[Uuid]>) -> Result<usize, BusError>;
}
