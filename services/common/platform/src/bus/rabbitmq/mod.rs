//! The bus on RabbitMQ (suite mode).
//!
//! # Topology (every name starts with [`RabbitConfig::prefix`], `paht.` by default)
//!
//! ```text
//!  publish ──▶ {prefix}events (topic, durable) ──binding patterns──▶ {prefix}{queue}   (one per subscription)
//!                   │ alternate-exchange                                  │ Retry: publish to ▼, then ack
//!                   ▼                                                     │
//!             {prefix}unrouted (fanout) ──▶ {prefix}unrouted (queue)      ├─▶ {prefix}{queue}.retry.{ms}
//!                                                                         │     x-message-ttl = ms, dead-letters
//!                                                                         │     back to {prefix}{queue} through
//!                                                                         │     the default exchange
//!                                                                         └─▶ {prefix}{queue}.dead  (parking)
//! ```
//!
//! - Events are persistent, carry `message_id` = event id, the message's headers and
//!   `content_type: application/x-protobuf`, and are published `mandatory` on channels in
//!   confirm mode. A batch is sent whole and its confirms awaited together; a nack, a
//!   `basic.return` or a timeout fails the call, and the outbox relay publishes the batch again.
//! - An event that matches no binding is not lost: the exchange's alternate exchange puts it in
//!   `{prefix}unrouted`, from which an operator can shovel it once the consumer exists. (A
//!   `basic.return` therefore only happens if that queue was deleted, and is a failure.)
//! - Retries: one retry queue per distinct back-off delay of the subscription, with a queue-wide
//!   TTL that dead-letters back to the main queue. A queue-wide TTL keeps each retry queue in
//!   expiry order (per-message expirations in one queue would make a 1 s retry wait behind a
//!   30 s one). Attempts are counted in the `x-paht-attempt` header rather than `x-death`, which
//!   the broker keeps per queue and so would need summing across the retry queues. Retries and
//!   parking are published on the bus's publishing connection, not the consuming one, so broker
//!   flow control on publishers never stalls deliveries.
//! - After `max_attempts`, or at once on [`HandleError::Reject`](crate::bus::HandleError), the
//!   message goes to `{prefix}{queue}.dead` with `x-paht-reason`, `x-paht-attempts` and
//!   `x-paht-parked-at` headers. The original is acked only after the broker confirmed the copy,
//!   so a crash in between delivers it twice, never zero times.
//! - Recovery is ours rather than lapin's `enable_auto_recover`: a consumer whose connection
//!   breaks drains its running handlers, closes the connection, waits with exponential back-off,
//!   reconnects, redeclares everything and consumes again, for as long as it is not shut down.
//!   One code path serves the first connection and every later one; it never gives up (lapin's
//!   recovery stops after a bounded number of attempts), and no ack meant for a dead channel can
//!   reach a new one (lapin fixed such a bug as late as 4.12.3). Unacked messages of the broken
//!   connection are redelivered by the broker. The publisher reconnects on its next call.

mod config;
mod consumer;
mod parking;
mod publisher;
mod wire;

#[cfg(test)]
mod fault_tests;
#[cfg(test)]
mod restart_tests;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use async_trait::async_trait;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info_span};
use uuid::Uuid;

pub use config::RabbitConfig;
pub use wire::Topology;

use self::publisher::{Outgoing, Publisher};
use crate::bus::{Bus, BusError, DeadLetter, Handler, Message, Subscription};

/// The bus on RabbitMQ: publisher confirms, durable queues, retries with back-off, parking.
pub struct RabbitBus {
    config: Arc<RabbitConfig>,
    topology: Topology,
    publisher: Arc<Publisher>,
}

impl RabbitBus {
    /// Connects to the broker and declares the events and unrouted exchanges.
    pub async fn connect(config: RabbitConfig) -> Result<RabbitBus, BusError> {
        let config = Arc::new(config);
        let topology = Topology::new(config.prefix.clone());
        let publisher = Arc::new(Publisher::connect(config.clone()).await?);
        Ok(RabbitBus { config, topology, publisher })
    }

    /// The settings this bus runs with.
    pub fn config(&self) -> &RabbitConfig {
        &self.config
    }

    /// The exchange and queue names this bus uses.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Closes the publishing channels and connection. Consumers stop through their shutdown
    /// token; a publish after `close` opens a new connection.
    pub async fn close(&self) {
        self.publisher.close().await;
    }
}

impl std::fmt::Debug for RabbitBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RabbitBus").field("config", &self.config).finish_non_exhaustive()
    }
}

#[async_trait]
impl Bus for RabbitBus {
    async fn publish(&self, messages: &[Message]) -> Result<(), BusError> {
        let exchange = wire::short(self.topology.events_exchange(), "exchange")?;
        let batch = messages
            .iter()
            .map(|message| {
                Ok(Outgoing {
                    id: message.id,
                    exchange: exchange.clone(),
                    routing_key: wire::short(message.routing_key.clone(), "routing key")?,
                    properties: wire::event_properties(message)?,
                    payload: message.payload.clone(),
                })
            })
            .collect::<Result<Vec<_>, BusError>>()?;
        // Ids and routing keys only: payloads may hold personal data.
        let span = info_span!(
            "bus.publish",
            count = messages.len(),
            first_id = messages.first().map(|m| m.id.to_string()),
            first_routing_key = messages.first().map(|m| m.routing_key.as_str()),
        );
        self.publisher.publish(&batch).instrument(span).await
    }

    async fn subscribe(
        &self,
        subscription: Subscription,
        handler: Arc<dyn Handler>,
        shutdown: CancellationToken,
    ) -> Result<JoinHandle<()>, BusError> {
        consumer::start(self.config.clone(), self.publisher.clone(), subscription, handler, shutdown).await
    }

    async fn dead_letters(&self, queue: &str, limit: usize) -> Result<Vec<DeadLetter>, BusError> {
        let span = info_span!("bus.dead_letters", queue, limit);
        parking::dead_letters(&self.publisher, &self.config, &self.topology, queue, limit).instrument(span).await
    }

    async fn replay_dead_letters(&self, queue: &str, ids: Option<&[Uuid]>) -> Result<usize, BusError> {
        let span = info_span!("bus.replay_dead_letters", queue, selected = ids.map(<[Uuid]>::len));
        parking::replay(&self.publisher, &self.config, &self.topology, queue, ids).instrument(span).await
    }
}
