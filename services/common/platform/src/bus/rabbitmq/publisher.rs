//! Publishing with confirms over one reusable connection and a small pool of confirm channels.

use std::str::FromStr;
use std::sync::{Arc, Mutex as StdMutex, PoisonError};

use bytes::Bytes;
use futures::future::join_all;
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::protocol::{AMQPErrorKind, AMQPHardError, AMQPSoftError};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::uri::{AMQPScheme, AMQPUri};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ErrorKind, ExchangeKind};
use tokio::sync::Mutex;
use tokio::time::timeout;
use tracing::{debug, warn};
use uuid::Uuid;

use super::config::RabbitConfig;
use super::wire::Topology;
use crate::bus::BusError;

/// Idle confirm channels kept for reuse; more are opened under load and closed afterwards.
const MAX_IDLE_CHANNELS: usize = 8;

/// One message ready for the wire.
#[derive(Debug, Clone)]
pub(super) struct Outgoing {
    /// Reported in a `Nacked` error.
    pub id: Uuid,
    pub exchange: ShortString,
    pub routing_key: ShortString,
    pub properties: BasicProperties,
    pub payload: Bytes,
}

/// Publishes batches with confirms; reconnects lazily after the connection is lost.
pub(super) struct Publisher {
    config: Arc<RabbitConfig>,
    uri: AMQPUri,
    topology: Topology,
    link: Mutex<Option<Arc<Link>>>,
}

/// A connection and the confirm channels idle on it.
pub(super) struct Link {
    pub connection: Connection,
    idle: StdMutex<Vec<Channel>>,
}

impl Publisher {
    /// Connects at once, so a wrong URL or credentials show at start-up rather than at the first event.
    pub async fn connect(config: Arc<RabbitConfig>) -> Result<Self, BusError> {
        let uri = parse_uri(&config.url)?;
        let topology = Topology::new(config.prefix.clone());
        let publisher = Publisher { config, uri, topology, link: Mutex::new(None) };
        publisher.link().await?;
        Ok(publisher)
    }

    /// Publishes every message, then waits for all their confirms together.
    pub async fn publish(&self, batch: &[Outgoing]) -> Result<(), BusError> {
        if batch.is_empty() {
            return Ok(());
        }
        // A publish can hang while the broker shuts down or blocks publishers (resource alarm).
        match timeout(self.config.publish_timeout, self.publish_on_a_channel(batch)).await {
            Ok(result) => result,
            Err(_) => {
                // The connection may be wedged: start afresh next time. If another call holds the
                // lock it is reconnecting already, and waiting for it would break our deadline.
                if let Ok(mut current) = self.link.try_lock()
                    && let Some(old) = current.take()
                {
                    old.close_in_background();
                }
                Err(BusError::ConfirmTimeout(self.config.publish_timeout))
            }
        }
    }

    async fn publish_on_a_channel(&self, batch: &[Outgoing]) -> Result<(), BusError> {
        let link = self.link().await?;
        let channel = link.take_channel().await?;
        let result = send_and_confirm(&channel, batch).await;
        match &result {
            Ok(()) => link.give_back(channel),
            Err(error) => {
                debug!(%error, "discarding the publishing channel");
                close_channel_in_background(channel);
                if !link.connection.status().connected() {
                    self.forget_link(&link).await;
                }
            }
        }
        result
    }

    /// The current connection, opened (with the exchanges declared) if there is none.
    pub async fn link(&self) -> Result<Arc<Link>, BusError> {
        let mut current = self.link.lock().await;
        if let Some(link) = current.as_ref() {
            if link.connection.status().connected() {
                return Ok(link.clone());
            }
            debug!("publishing connection lost; reconnecting");
        }
        if let Some(old) = current.take() {
            old.close_in_background();
        }
        let link = Arc::new(Link {
            connection: open_connection(&self.uri, &self.config, &self.topology, "publisher").await?,
            idle: StdMutex::new(Vec::new()),
        });
        *current = Some(link.clone());
        Ok(link)
    }

    /// Drops `link` if it is still the current one (another call may have reconnected already).
    async fn forget_link(&self, link: &Arc<Link>) {
        let mut current = self.link.lock().await;
        if current.as_ref().is_some_and(|known| Arc::ptr_eq(known, link))
            && let Some(old) = current.take()
        {
            old.close_in_background();
        }
    }

    /// Closes the channels and the connection; a later publish reconnects.
    pub async fn close(&self) {
        let Some(link) = self.link.lock().await.take() else { return };
        let channels = std::mem::take(&mut *link.idle.lock().unwrap_or_else(PoisonError::into_inner));
        for channel in channels {
            let _ = timeout(self.config.connect_timeout, channel.close(200, "bye".into())).await;
        }
        let _ = timeout(self.config.connect_timeout, link.connection.close(200, "bye".into())).await;
    }

    /// The parsed broker URL, for consumers' own connections.
    pub fn uri(&self) -> &AMQPUri {
        &self.uri
    }
}

impl Link {
    async fn take_channel(&self) -> Result<Channel, BusError> {
        let reusable = {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            std::iter::from_fn(|| idle.pop()).find(|channel| channel.status().connected())
        };
        if let Some(channel) = reusable {
            return Ok(channel);
        }
        let channel = self.connection.create_channel().await.map_err(amqp_error)?;
        // Without confirm mode a "confirm" would only mean the bytes left our socket.
        channel.confirm_select(ConfirmSelectOptions::default()).await.map_err(amqp_error)?;
        Ok(channel)
    }

    fn give_back(&self, channel: Channel) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE_CHANNELS {
            idle.push(channel);
        } else {
            drop(idle);
            close_channel_in_background(channel);
        }
    }

    fn close_in_background(self: Arc<Self>) {
        if self.connection.status().connected() {
            tokio::spawn(async move {
                let _ =
                    timeout(std::time::Duration::from_secs(5), self.connection.close(200, "reconnecting".into())).await;
            });
        }
    }
}

/// Sends the whole batch (in order, without waiting), then awaits every confirm at once.
async fn send_and_confirm(channel: &Channel, batch: &[Outgoing]) -> Result<(), BusError> {
    let mut pending = Vec::with_capacity(batch.len());
    for message in batch {
        let confirm = channel
            .basic_publish(
                message.exchange.clone(),
                message.routing_key.clone(),
                // Mandatory: a message no queue takes comes back (basic.return) instead of vanishing.
                BasicPublishOptions { mandatory: true, immediate: false },
                &message.payload,
                message.properties.clone(),
            )
            .await
            .map_err(amqp_error)?;
        pending.push((message.id, confirm));
    }
    let confirmations = join_all(pending.into_iter().map(|(id, confirm)| async move { (id, confirm.await) })).await;
    let mut first_failure = None;
    for (id, confirmation) in confirmations {
        let failure = match confirmation {
            Ok(Confirmation::Ack(None)) => continue,
            Ok(Confirmation::Ack(Some(returned))) => BusError::Broker(format!(
                "message {id} was returned unroutable ({} {}); is the alternate exchange's queue missing?",
                returned.reply_code, returned.reply_text
            )),
            Ok(Confirmation::Nack(_)) => BusError::Nacked(id),
            Ok(Confirmation::NotRequested) => {
                BusError::Broker("publisher confirms are not enabled on the channel".to_string())
            }
            Err(error) => amqp_error(error),
        };
        warn!(message_id = %id, error = %failure, "publish not confirmed");
        first_failure.get_or_insert(failure);
    }
    first_failure.map_or(Ok(()), Err)
}

fn close_channel_in_background(channel: Channel) {
    if channel.status().connected() {
        tokio::spawn(async move {
            let _ = timeout(std::time::Duration::from_secs(5), channel.close(200, "discarded".into())).await;
        });
    }
}

/// Parses and checks the broker URL.
pub(super) fn parse_uri(url: &str) -> Result<AMQPUri, BusError> {
    let uri = AMQPUri::from_str(url)
        .map_err(|e| BusError::Config(format!("invalid AMQP URL {:?}: {e}", super::config::redact_password(url))))?;
    if uri.scheme == AMQPScheme::AMQPS {
        return Err(BusError::Config(
            "amqps:// is not supported by this build (lapin is built without a TLS feature)".to_string(),
        ));
    }
    Ok(uri)
}

/// Opens a connection and declares the exchanges every publisher and consumer relies on.
pub(super) async fn open_connection(
    uri: &AMQPUri,
    config: &RabbitConfig,
    topology: &Topology,
    purpose: &str,
) -> Result<Connection, BusError> {
    let properties =
        ConnectionProperties::default().with_connection_name(format!("{}/{purpose}", config.connection_name).into());
    let open = async {
        let connection = Connection::connect_uri(uri.clone(), properties).await.map_err(amqp_error)?;
        let channel = connection.create_channel().await.map_err(amqp_error)?;
        declare_exchanges(&channel, topology).await?;
        let _ = channel.close(200, "declared".into()).await;
        Ok::<_, BusError>(connection)
    };
    timeout(config.connect_timeout, open).await.unwrap_or_else(|_| {
        Err(BusError::Unavailable(format!("no connection to the broker within {:?}", config.connect_timeout)))
    })
}

/// `{prefix}events` (topic) with `{prefix}unrouted` (fanout, bound to the queue of the same
/// name) as its alternate exchange: an event no consumer queue is bound for yet is kept there.
async fn declare_exchanges(channel: &Channel, topology: &Topology) -> Result<(), BusError> {
    let durable = ExchangeDeclareOptions { durable: true, ..ExchangeDeclareOptions::default() };
    let unrouted = super::wire::short(topology.unrouted_exchange(), "exchange")?;
    let events = super::wire::short(topology.events_exchange(), "exchange")?;
    channel
        .exchange_declare(unrouted.clone(), ExchangeKind::Fanout, durable, FieldTable::default())
        .await
        .map_err(amqp_error)?;
    let queue = super::wire::short(topology.unrouted_queue(), "queue")?;
    channel
        .queue_declare(
            queue.clone(),
            QueueDeclareOptions { durable: true, ..QueueDeclareOptions::default() },
            FieldTable::default(),
        )
        .await
        .map_err(amqp_error)?;
    channel
        .queue_bind(queue, unrouted.clone(), "".into(), QueueBindOptions::default(), FieldTable::default())
        .await
        .map_err(amqp_error)?;
    let mut arguments = FieldTable::default();
    arguments.insert("alternate-exchange".into(), AMQPValue::LongString(unrouted.as_str().into()));
    channel.exchange_declare(events, ExchangeKind::Topic, durable, arguments).await.map_err(amqp_error)
}

/// Sorts lapin's errors into what a caller can act on.
pub(super) fn amqp_error(error: lapin::Error) -> BusError {
    match error.kind() {
        ErrorKind::ProtocolError(amqp) => match amqp.kind() {
            AMQPErrorKind::Soft(AMQPSoftError::PRECONDITIONFAILED) => BusError::Config(format!(
                "the broker refused a declaration ({error}); an exchange or queue exists with other \
                 arguments: delete it or use another prefix"
            )),
            AMQPErrorKind::Soft(AMQPSoftError::ACCESSREFUSED) | AMQPErrorKind::Hard(AMQPHardError::INVALIDPATH) => {
                BusError::Config(format!("the broker refused access ({error}); check the URL's user and vhost"))
            }
            AMQPErrorKind::Hard(
                AMQPHardError::CONNECTIONFORCED | AMQPHardError::RESOURCEERROR | AMQPHardError::INTERNALERROR,
            ) => BusError::Unavailable(error.to_string()),
            _ => BusError::Broker(error.to_string()),
        },
        ErrorKind::IOError(_)
        | ErrorKind::MissingHeartbeatError
        | ErrorKind::InvalidConnectionState(_)
        | ErrorKind::InvalidChannelState(..)
        | ErrorKind::InvalidChannel(_)
        | ErrorKind::RuntimeShutdownError(_) => BusError::Unavailable(error.to_string()),
        _ => BusError::Broker(error.to_string()),
    }
}
