//! One subscription's consumer task: declare, consume, retry or park, reconnect.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use futures::{FutureExt, StreamExt};
use lapin::message::Delivery as AmqpDelivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicQosOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Connection};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{sleep, timeout};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, error, info, info_span, warn};
use uuid::Uuid;

use super::config::RabbitConfig;
use super::publisher::{Outgoing, Publisher, amqp_error, open_connection};
use super::wire::{self, Topology, short};
use crate::bus::{BusError, Delivery, HandleError, Handler, Subscription};

/// Everything a subscription's task needs, shared by its delivery tasks.
pub(super) struct Worker {
    config: Arc<RabbitConfig>,
    topology: Topology,
    subscription: Subscription,
    handler: Arc<dyn Handler>,
    publisher: Arc<Publisher>,
    main: ShortString,
    parking: ShortString,
    bindings: Vec<ShortString>,
    /// One queue per distinct back-off delay; a zero delay goes straight back to the main queue.
    retries: Vec<(Duration, ShortString)>,
}

/// A live connection consuming the main queue.
struct Session {
    connection: Connection,
    channel: Channel,
    consumer: lapin::Consumer,
}

/// Why a session ended.
enum End {
    Shutdown,
    Lost(BusError),
}

/// Declares the subscription's queues, starts consuming and returns the task that keeps doing
/// so (reconnecting as needed) until `shutdown`.
pub(super) async fn start(
    config: Arc<RabbitConfig>,
    publisher: Arc<Publisher>,
    subscription: Subscription,
    handler: Arc<dyn Handler>,
    shutdown: CancellationToken,
) -> Result<JoinHandle<()>, BusError> {
    let worker = Arc::new(Worker::new(config, publisher, subscription, handler)?);
    // The first session is opened here so that "subscribe returned Ok" means the queue exists
    // and is bound: events published from now on are kept for this consumer.
    let session = worker.open_session().await?;
    Ok(tokio::spawn(worker.run(session, shutdown)))
}

impl Worker {
    fn new(
        config: Arc<RabbitConfig>,
        publisher: Arc<Publisher>,
        subscription: Subscription,
        handler: Arc<dyn Handler>,
    ) -> Result<Self, BusError> {
        let queue = &subscription.queue;
        if subscription.prefetch == 0 {
            return Err(BusError::Config(format!("subscription {queue:?}: prefetch must be at least 1")));
        }
        if subscription.max_attempts == 0 {
            return Err(BusError::Config(format!("subscription {queue:?}: max_attempts must be at least 1")));
        }
        let topology = Topology::new(config.prefix.clone());
        let mut retries: Vec<(Duration, ShortString)> = Vec::new();
        if subscription.max_attempts > 1 {
            for delay in subscription.retry_delays.iter().filter(|d| !d.is_zero()) {
                if !retries.iter().any(|(known, _)| known.as_millis() == delay.as_millis()) {
                    retries.push((*delay, short(topology.retry_queue(queue, *delay), "queue")?));
                }
            }
        }
        Ok(Worker {
            main: short(topology.queue(queue), "queue")?,
            parking: short(topology.parking_queue(queue), "queue")?,
            bindings: subscription.bindings.iter().map(|b| short(b.clone(), "binding")).collect::<Result<_, _>>()?,
            retries,
            config,
            topology,
            subscription,
            handler,
            publisher,
        })
    }

    /// Consumes until `shutdown`, opening a new session with back-off whenever one is lost.
    async fn run(self: Arc<Self>, mut session: Session, shutdown: CancellationToken) {
        let queue = self.subscription.queue.clone();
        loop {
            let end = self.clone().consume(&mut session, &shutdown).await;
            close(session, &self.config).await;
            match end {
                End::Shutdown => {
                    info!(%queue, "consumer stopped");
                    return;
                }
                End::Lost(error) => warn!(%queue, %error, "consumer lost its connection; reconnecting"),
            }
            let mut delay = self.config.reconnect_min_delay;
            session = loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = sleep(delay) => {}
                }
                match self.open_session().await {
                    Ok(session) => break session,
                    Err(error) => {
                        warn!(%queue, %error, retry_in = ?delay, "consumer cannot reconnect yet");
                        delay = (delay * 2).min(self.config.reconnect_max_delay);
                    }
                }
            };
            info!(%queue, "consumer reconnected");
        }
    }

    /// Connects and (re)declares the queues, bindings and prefetch, then starts consuming.
    async fn open_session(&self) -> Result<Session, BusError> {
        let purpose = format!("consumer {}", self.subscription.queue);
        let connection = open_connection(self.publisher.uri(), &self.config, &self.topology, &purpose).await?;
        match timeout(self.config.connect_timeout, self.declare_and_consume(&connection)).await {
            Ok(Ok((channel, consumer))) => Ok(Session { connection, channel, consumer }),
            Ok(Err(error)) => {
                let _ = timeout(self.config.connect_timeout, connection.close(200, "setup failed".into())).await;
                Err(error)
            }
            Err(_) => {
                let _ = timeout(self.config.connect_timeout, connection.close(200, "setup timed out".into())).await;
                Err(BusError::Unavailable(format!("queue setup took longer than {:?}", self.config.connect_timeout)))
            }
        }
    }

    async fn declare_and_consume(&self, connection: &Connection) -> Result<(Channel, lapin::Consumer), BusError> {
        let channel = connection.create_channel().await.map_err(amqp_error)?;
        let durable = QueueDeclareOptions { durable: true, ..QueueDeclareOptions::default() };
        channel.queue_declare(self.main.clone(), durable, FieldTable::default()).await.map_err(amqp_error)?;
        let events = short(self.topology.events_exchange(), "exchange")?;
        for binding in &self.bindings {
            channel
                .queue_bind(
                    self.main.clone(),
                    events.clone(),
                    binding.clone(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .map_err(amqp_error)?;
        }
        channel.queue_declare(self.parking.clone(), durable, FieldTable::default()).await.map_err(amqp_error)?;
        for (delay, name) in &self.retries {
            // A queue-wide TTL (not a per-message expiration) keeps the retry queue FIFO in expiry
            // order, so no message waits behind a longer-delayed one.
            let mut arguments = FieldTable::default();
            let ttl = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
            arguments.insert("x-message-ttl".into(), AMQPValue::LongLongInt(ttl));
            arguments.insert("x-dead-letter-exchange".into(), AMQPValue::LongString("".into()));
            arguments.insert("x-dead-letter-routing-key".into(), AMQPValue::LongString(self.main.as_str().into()));
            channel.queue_declare(name.clone(), durable, arguments).await.map_err(amqp_error)?;
        }
        channel.basic_qos(self.subscription.prefetch, BasicQosOptions::default()).await.map_err(amqp_error)?;
        let consumer = channel
            .basic_consume(self.main.clone(), "".into(), BasicConsumeOptions::default(), FieldTable::default())
            .await
            .map_err(amqp_error)?;
        Ok((channel, consumer))
    }

    /// Hands deliveries to the handler, up to `prefetch` at once, until shutdown or a broken
    /// session. Deliveries that are already waiting go together, up to the subscription's
    /// `batch`; a batch never waits for more.
    async fn consume(self: Arc<Self>, session: &mut Session, shutdown: &CancellationToken) -> End {
        let mut in_flight: JoinSet<Result<(), BusError>> = JoinSet::new();
        let most = usize::from(self.subscription.batch.max(1));
        let end = loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break End::Shutdown,
                Some(joined) = in_flight.join_next() => match joined {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => break End::Lost(error),
                    Err(error) => break End::Lost(BusError::Broker(format!("delivery task failed: {error}"))),
                },
                next = session.consumer.next() => match next {
                    Some(Ok(delivery)) => {
                        let mut batch = vec![delivery];
                        let mut lost = None;
                        while batch.len() < most {
                            match session.consumer.next().now_or_never() {
                                Some(Some(Ok(delivery))) => batch.push(delivery),
                                Some(Some(Err(error))) => { lost = Some(amqp_error(error)); break; }
                                Some(None) => {
                                    lost = Some(BusError::Unavailable("the broker cancelled the consumer".to_string()));
                                    break;
                                }
                                None => break,
                            }
                        }
                        in_flight.spawn(self.clone().process(batch));
                        if let Some(error) = lost {
                            break End::Lost(error);
                        }
                    }
                    Some(Err(error)) => break End::Lost(amqp_error(error)),
                    None => break End::Lost(BusError::Unavailable("the broker cancelled the consumer".to_string())),
                },
            }
        };
        if matches!(end, End::Shutdown) {
            // No new deliveries; what the broker already sent and we did not start is requeued
            // when the channel closes.
            let tag = session.consumer.tag();
            let _ =
                timeout(self.config.connect_timeout, session.channel.basic_cancel(tag, BasicCancelOptions::default()))
                    .await;
        }
        let drained =
            timeout(self.config.shutdown_grace, async { while in_flight.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            warn!(queue = %self.subscription.queue, "handlers still running after the grace period; their messages will be redelivered");
            in_flight.abort_all();
        }
        end
    }

    /// Runs the handler on deliveries that arrived together; acks each only once it is
    /// processed or safely moved (retry queue, parking).
    async fn process(self: Arc<Self>, batch: Vec<AmqpDelivery>) -> Result<(), BusError> {
        let mut accepted = Vec::with_capacity(batch.len());
        for delivery in batch {
            let AmqpDelivery { routing_key, properties, data, acker, .. } = delivery;
            match wire::decode(routing_key.as_str(), &properties, &data) {
                Ok(incoming) => accepted.push((incoming, routing_key, properties, acker)),
                Err(reason) => {
                    error!(queue = %self.subscription.queue, %routing_key, %reason, "parking a message that is not ours");
                    self.park(Uuid::nil(), routing_key.as_str(), &properties, data.into(), &reason, 1).await?;
                    ack(&acker).await?;
                }
            }
        }
        if accepted.is_empty() {
            return Ok(());
        }
        let deliveries: Vec<Delivery> = accepted
            .iter()
            .map(|(incoming, ..)| Delivery { message: incoming.message.clone(), attempt: incoming.attempt })
            .collect();
        let span = info_span!("bus.handle", queue = %self.subscription.queue, deliveries = deliveries.len(),
            first_message_id = %deliveries[0].message.id);
        let outcomes = async {
            let outcomes = if let [one] = deliveries.as_slice() {
                AssertUnwindSafe(self.handler.handle(one)).catch_unwind().await.map(|outcome| vec![outcome])
            } else {
                AssertUnwindSafe(self.handler.handle_batch(&deliveries)).catch_unwind().await
            };
            let panicked = Err(HandleError::Retry("the handler panicked".to_string()));
            let mut outcomes = outcomes.unwrap_or_else(|_| vec![panicked; deliveries.len()]);
            // A handler owes one outcome per delivery; a missing one is retried, never acked.
            outcomes.resize(deliveries.len(), Err(HandleError::Retry("the handler gave no outcome".to_string())));
            outcomes
        }
        .instrument(span)
        .await;
        for ((incoming, routing_key, properties, acker), outcome) in accepted.into_iter().zip(outcomes) {
            let id = incoming.message.id;
            let attempt = incoming.attempt;
            let span = info_span!("bus.settle", queue = %self.subscription.queue, message_id = %id,
                routing_key = %incoming.message.routing_key, attempt);
            let payload = incoming.message.payload;
            async {
                match outcome {
                    Ok(()) => debug!("handled"),
                    Err(HandleError::Retry(reason)) if attempt < self.subscription.max_attempts => {
                        let delay = self.delay_after(attempt);
                        info!(%reason, retry_in = ?delay, "handler asked for a retry");
                        self.retry(id, routing_key.as_str(), &properties, payload, attempt + 1, delay).await?;
                    }
                    Err(HandleError::Retry(reason) | HandleError::Reject(reason)) => {
                        warn!(%reason, "parking the message");
                        self.park(id, routing_key.as_str(), &properties, payload, &reason, attempt).await?;
                    }
                }
                ack(&acker).await
            }
            .instrument(span)
            .await?;
        }
        Ok(())
    }

    /// The back-off after a failed `attempt`: `retry_delays[attempt - 1]`, the last one repeating.
    fn delay_after(&self, attempt: u32) -> Duration {
        let delays = &self.subscription.retry_delays;
        let index =
            usize::try_from(attempt.saturating_sub(1)).unwrap_or(usize::MAX).min(delays.len().saturating_sub(1));
        delays.get(index).copied().unwrap_or_default()
    }

    async fn retry(
        &self,
        id: Uuid,
        routing_key: &str,
        properties: &BasicProperties,
        payload: Bytes,
        next_attempt: u32,
        delay: Duration,
    ) -> Result<(), BusError> {
        let target = self
            .retries
            .iter()
            .find(|(known, _)| known.as_millis() == delay.as_millis())
            .map_or_else(|| self.main.clone(), |(_, name)| name.clone());
        let properties = wire::retry_properties(properties, routing_key, next_attempt);
        self.publisher.publish(&[Outgoing { id, exchange: "".into(), routing_key: target, properties, payload }]).await
    }

    async fn park(
        &self,
        id: Uuid,
        routing_key: &str,
        properties: &BasicProperties,
        payload: Bytes,
        reason: &str,
        attempts: u32,
    ) -> Result<(), BusError> {
        let properties = wire::parked_properties(properties, routing_key, reason, attempts, Utc::now());
        let parking = self.parking.clone();
        self.publisher.publish(&[Outgoing { id, exchange: "".into(), routing_key: parking, properties, payload }]).await
    }
}

async fn ack(acker: &lapin::Acker) -> Result<(), BusError> {
    match acker.ack(BasicAckOptions::default()).await.map_err(amqp_error)? {
        true => Ok(()),
        false => {
            Err(BusError::Unavailable("the channel closed before the ack; the message will be redelivered".into()))
        }
    }
}

async fn close(session: Session, config: &RabbitConfig) {
    if session.channel.status().connected() {
        let _ = timeout(config.connect_timeout, session.channel.close(200, "bye".into())).await;
    }
    if session.connection.status().connected() {
        let _ = timeout(config.connect_timeout, session.connection.close(200, "bye".into())).await;
    }
}
