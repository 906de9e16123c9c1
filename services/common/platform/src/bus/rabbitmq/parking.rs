//! Listing and replaying parked messages, without the management plugin.
//!
//! Both read the parking queue with `basic.get` in manual-ack mode: a message taken that way
//! stays on the broker, unacknowledged, until we ack it (gone) or nack it with requeue (back in
//! its place). Caveats: while a listing or replay runs, the messages it holds are invisible to
//! another listing, and their `redelivered` flag is set; nothing is ever lost, because a channel
//! that closes for any reason requeues what it held.

use std::time::Duration;

use lapin::options::{BasicAckOptions, BasicGetOptions, BasicNackOptions, QueueDeclareOptions};
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::types::{DeliveryTag, FieldTable, ShortString};
use lapin::{Channel, ErrorKind};
use tokio::time::timeout;
use uuid::Uuid;

use super::config::RabbitConfig;
use super::publisher::{Outgoing, Publisher, amqp_error};
use super::wire::{self, Topology, short};
use crate::bus::{BusError, DeadLetter};

/// How many parked messages a replay moves per confirmed batch.
const REPLAY_BATCH: usize = 200;

/// Up to `limit` parked messages of `queue`, oldest first, left in place.
pub(super) async fn dead_letters(
    publisher: &Publisher,
    config: &RabbitConfig,
    topology: &Topology,
    queue: &str,
    limit: usize,
) -> Result<Vec<DeadLetter>, BusError> {
    let parking = short(topology.parking_queue(queue), "queue")?;
    let channel = admin_channel(publisher, config).await?;
    let listing = async {
        ensure_exists(&channel, &parking, queue).await?;
        let mut letters = Vec::new();
        let mut last_tag = None;
        while letters.len() < limit {
            let got =
                channel.basic_get(parking.clone(), BasicGetOptions { no_ack: false }).await.map_err(amqp_error)?;
            let Some(got) = got else { break };
            let delivery = got.delivery;
            last_tag = Some(delivery.delivery_tag);
            letters.push(wire::decode_dead_letter(
                queue,
                delivery.routing_key.as_str(),
                &delivery.properties,
                &delivery.data,
            ));
        }
        if let Some(tag) = last_tag {
            // Put every one back where it was, in one frame.
            let requeue = BasicNackOptions { multiple: true, requeue: true };
            channel.basic_nack(tag, requeue).await.map_err(amqp_error)?;
        }
        Ok(letters)
    };
    let result = within(config, listing).await;
    close(channel).await;
    result
}

/// Moves parked messages of `queue` (all, or those with the given ids) back to its main queue
/// with a fresh attempt count. Each batch is published and confirmed before it is acked on the
/// parking queue, so a failure part-way leaves every message in one queue or the other (a crash
/// between the confirm and the ack leaves it in both: consumers deduplicate on the event id).
pub(super) async fn replay(
    publisher: &Publisher,
    config: &RabbitConfig,
    topology: &Topology,
    queue: &str,
    ids: Option<&[Uuid]>,
) -> Result<usize, BusError> {
    let parking = short(topology.parking_queue(queue), "queue")?;
    let main = short(topology.queue(queue), "queue")?;
    let channel = admin_channel(publisher, config).await?;
    let result = replay_on(&channel, publisher, config, &parking, &main, queue, ids).await;
    // Closing requeues whatever is still held: the skipped messages, or all of a failed batch.
    close(channel).await;
    result
}

async fn replay_on(
    channel: &Channel,
    publisher: &Publisher,
    config: &RabbitConfig,
    parking: &ShortString,
    main: &ShortString,
    queue: &str,
    ids: Option<&[Uuid]>,
) -> Result<usize, BusError> {
    within(config, async {
        ensure_exists(channel, parking, queue).await?;
        ensure_exists(channel, main, queue).await
    })
    .await?;

    let mut replayed = 0;
    let mut last_skipped: Option<DeliveryTag> = None;
    loop {
        let mut batch: Vec<(DeliveryTag, Outgoing)> = Vec::new();
        let mut exhausted = false;
        // Skipped messages stay unacked until the end, so basic.get does not hand them out again.
        while batch.len() < REPLAY_BATCH {
            let get = channel.basic_get(parking.clone(), BasicGetOptions { no_ack: false });
            let got = within(config, async { get.await.map_err(amqp_error) }).await?;
            let Some(got) = got else {
                exhausted = true;
                break;
            };
            let delivery = got.delivery;
            let id = delivery
                .properties
                .message_id()
                .as_ref()
                .and_then(|id| Uuid::parse_str(id.as_str()).ok())
                .unwrap_or_default();
            if ids.is_none_or(|ids| ids.contains(&id)) {
                let properties = wire::replayed_properties(&delivery.properties, delivery.routing_key.as_str());
                let outgoing = Outgoing {
                    id,
                    exchange: "".into(),
                    routing_key: main.clone(),
                    properties,
                    payload: delivery.data.into(),
                };
                batch.push((delivery.delivery_tag, outgoing));
            } else {
                last_skipped = Some(delivery.delivery_tag);
            }
        }
        if !batch.is_empty() {
            let outgoing: Vec<Outgoing> = batch.iter().map(|(_, message)| message.clone()).collect();
            publisher.publish(&outgoing).await?;
            within(config, async {
                for (tag, _) in &batch {
                    channel.basic_ack(*tag, BasicAckOptions { multiple: false }).await.map_err(amqp_error)?;
                }
                Ok(())
            })
            .await?;
            replayed += batch.len();
        }
        if exhausted {
            break;
        }
    }
    if let Some(tag) = last_skipped {
        // Every replayed message is acked by now, so this requeues exactly the skipped ones.
        let requeue = BasicNackOptions { multiple: true, requeue: true };
        within(config, async { channel.basic_nack(tag, requeue).await.map_err(amqp_error) }).await?;
    }
    Ok(replayed)
}

/// A fresh channel per operation: a failed passive declare closes the channel it ran on.
async fn admin_channel(publisher: &Publisher, config: &RabbitConfig) -> Result<Channel, BusError> {
    let open = async { publisher.link().await?.connection.create_channel().await.map_err(amqp_error) };
    within(config, open).await
}

/// Bounds one step: a broker that hangs (shutting down, out of resources) must yield an error.
async fn within<T>(config: &RabbitConfig, step: impl Future<Output = Result<T, BusError>>) -> Result<T, BusError> {
    timeout(admin_deadline(config), step).await.unwrap_or_else(|_| Err(too_slow(config)))
}

async fn ensure_exists(channel: &Channel, name: &ShortString, queue: &str) -> Result<(), BusError> {
    let passive = QueueDeclareOptions { passive: true, ..QueueDeclareOptions::default() };
    match channel.queue_declare(name.clone(), passive, FieldTable::default()).await {
        Ok(_) => Ok(()),
        Err(error) => match error.kind() {
            ErrorKind::ProtocolError(amqp) if amqp.kind() == &AMQPErrorKind::Soft(AMQPSoftError::NOTFOUND) => {
                Err(BusError::Config(format!(
                    "queue {queue:?} is unknown: no consumer ever subscribed it ({name} is missing)"
                )))
            }
            _ => Err(amqp_error(error)),
        },
    }
}

fn admin_deadline(config: &RabbitConfig) -> Duration {
    config.publish_timeout.max(Duration::from_secs(1))
}

fn too_slow(config: &RabbitConfig) -> BusError {
    BusError::Unavailable(format!("the broker did not answer within {:?}", admin_deadline(config)))
}

async fn close(channel: Channel) {
    if channel.status().connected() {
        let _ = timeout(Duration::from_secs(5), channel.close(200, "done".into())).await;
    }
}
