//! How the bus looks on the broker: exchange and queue names, message properties and headers.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable, ShortString};
use uuid::Uuid;

use crate::bus::{BusError, DeadLetter, Message};

/// Which attempt the next delivery is (absent on a first delivery).
pub(super) const ATTEMPT: &str = "x-paht-attempt";
/// The routing key the event was published with; retries and parking travel through the
/// default exchange, whose routing key is a queue name, so the original is kept here.
pub(super) const ROUTING_KEY: &str = "x-paht-routing-key";
/// Why a parked message was parked (the handler's last error).
pub(super) const REASON: &str = "x-paht-reason";
/// How many attempts a parked message had.
pub(super) const ATTEMPTS: &str = "x-paht-attempts";
/// When a message was parked, RFC 3339.
pub(super) const PARKED_AT: &str = "x-paht-parked-at";

/// Header names we own; a producer may not set them.
const RESERVED_PREFIX: &str = "x-paht-";
const CONTENT_TYPE: &str = "application/x-protobuf";
const PERSISTENT: u8 = 2;

/// The broker-side names of the bus, all starting with the configured prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    prefix: String,
}

impl Topology {
    /// Names under `prefix` (e.g. `paht.`).
    pub fn new(prefix: impl Into<String>) -> Self {
        Topology { prefix: prefix.into() }
    }

    /// The prefix every name starts with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The durable topic exchange events are published to: `{prefix}events`.
    pub fn events_exchange(&self) -> String {
        format!("{}events", self.prefix)
    }

    /// The fanout exchange that receives events no queue is bound for: `{prefix}unrouted`.
    pub fn unrouted_exchange(&self) -> String {
        format!("{}unrouted", self.prefix)
    }

    /// The durable queue that keeps events no queue was bound for: `{prefix}unrouted`.
    pub fn unrouted_queue(&self) -> String {
        format!("{}unrouted", self.prefix)
    }

    /// A consumer's main queue: `{prefix}{queue}`.
    pub fn queue(&self, queue: &str) -> String {
        format!("{}{queue}", self.prefix)
    }

    /// Where a message waits `delay` before going back to the main queue:
    /// `{prefix}{queue}.retry.{milliseconds}`.
    pub fn retry_queue(&self, queue: &str, delay: Duration) -> String {
        format!("{}{queue}.retry.{}", self.prefix, delay.as_millis())
    }

    /// A consumer's parking queue, for messages that could not be processed: `{prefix}{queue}.dead`.
    pub fn parking_queue(&self, queue: &str) -> String {
        format!("{}{queue}.dead", self.prefix)
    }
}

/// A name the protocol limits to 255 bytes; longer ones are a configuration error, not a panic.
pub(super) fn short(value: impl Into<String>, what: &str) -> Result<ShortString, BusError> {
    let value = value.into();
    ShortString::try_new(value.clone())
        .map_err(|_| BusError::Config(format!("{what} {value:?} is longer than the 255 bytes AMQP allows")))
}

/// Properties of an event as published by a producer.
pub(super) fn event_properties(message: &Message) -> Result<BasicProperties, BusError> {
    let mut headers = FieldTable::default();
    for (name, value) in &message.headers {
        if name.starts_with(RESERVED_PREFIX) {
            return Err(BusError::Config(format!(
                "message {}: header {name:?} is reserved (names starting with {RESERVED_PREFIX} belong to the bus)",
                message.id
            )));
        }
        headers.insert(short(name.clone(), "header name")?, AMQPValue::LongString(value.as_str().into()));
    }
    Ok(BasicProperties::default()
        .with_message_id(message.id.to_string().into())
        .with_content_type(CONTENT_TYPE.into())
        .with_delivery_mode(PERSISTENT)
        .with_timestamp(Utc::now().timestamp().max(0).unsigned_abs())
        .with_headers(headers))
}

/// A message taken from a queue, with the attempt it is on.
#[derive(Debug)]
pub(super) struct Incoming {
    pub message: Message,
    pub attempt: u32,
}

/// Reads a delivery back into a [`Message`]; `Err` says why it is not one of ours.
pub(super) fn decode(routing_key: &str, properties: &BasicProperties, data: &[u8]) -> Result<Incoming, String> {
    let id = properties.message_id().as_ref().ok_or("the message has no message_id")?;
    let id = Uuid::parse_str(id.as_str()).map_err(|e| format!("message_id {:?} is not a UUID: {e}", id.as_str()))?;
    let headers = properties.headers().clone().unwrap_or_default();
    Ok(Incoming {
        message: Message {
            id,
            routing_key: header_string(&headers, ROUTING_KEY).unwrap_or_else(|| routing_key.to_string()),
            payload: Bytes::copy_from_slice(data),
            headers: user_headers(&headers),
        },
        attempt: header_u32(&headers, ATTEMPT).unwrap_or(1).max(1),
    })
}

/// Reads a message of a parking queue.
pub(super) fn decode_dead_letter(
    queue: &str,
    routing_key: &str,
    properties: &BasicProperties,
    data: &[u8],
) -> DeadLetter {
    let headers = properties.headers().clone().unwrap_or_default();
    let id = properties.message_id().as_ref().and_then(|id| Uuid::parse_str(id.as_str()).ok()).unwrap_or_default();
    DeadLetter {
        message: Message {
            id,
            routing_key: header_string(&headers, ROUTING_KEY).unwrap_or_else(|| routing_key.to_string()),
            payload: Bytes::copy_from_slice(data),
            headers: user_headers(&headers),
        },
        queue: queue.to_string(),
        reason: header_string(&headers, REASON).unwrap_or_else(|| "unknown".to_string()),
        attempts: header_u32(&headers, ATTEMPTS).unwrap_or(0),
        parked_at: header_string(&headers, PARKED_AT)
            .and_then(|at| DateTime::parse_from_rfc3339(&at).ok())
            .map_or(DateTime::<Utc>::UNIX_EPOCH, |at| at.with_timezone(&Utc)),
    }
}

/// Properties for sending a delivery on to a retry queue for attempt `next_attempt`.
pub(super) fn retry_properties(properties: &BasicProperties, routing_key: &str, next_attempt: u32) -> BasicProperties {
    rewrite(
        properties,
        &[ATTEMPT],
        vec![
            (ATTEMPT, AMQPValue::LongLongInt(i64::from(next_attempt))),
            (ROUTING_KEY, AMQPValue::LongString(original_routing_key(properties, routing_key).into())),
        ],
    )
}

/// Properties for parking a delivery after `attempts` attempts.
pub(super) fn parked_properties(
    properties: &BasicProperties,
    routing_key: &str,
    reason: &str,
    attempts: u32,
    at: DateTime<Utc>,
) -> BasicProperties {
    rewrite(
        properties,
        &[ATTEMPT, REASON, ATTEMPTS, PARKED_AT],
        vec![
            (ROUTING_KEY, AMQPValue::LongString(original_routing_key(properties, routing_key).into())),
            (REASON, AMQPValue::LongString(reason.into())),
            (ATTEMPTS, AMQPValue::LongLongInt(i64::from(attempts))),
            (PARKED_AT, AMQPValue::LongString(at.to_rfc3339().into())),
        ],
    )
}

/// Properties for replaying a parked message: parking headers gone, attempts counted afresh.
pub(super) fn replayed_properties(properties: &BasicProperties, routing_key: &str) -> BasicProperties {
    rewrite(
        properties,
        &[ATTEMPT, REASON, ATTEMPTS, PARKED_AT],
        vec![(ROUTING_KEY, AMQPValue::LongString(original_routing_key(properties, routing_key).into()))],
    )
}

fn original_routing_key(properties: &BasicProperties, routing_key: &str) -> String {
    properties.headers().as_ref().and_then(|h| header_string(h, ROUTING_KEY)).unwrap_or_else(|| routing_key.to_string())
}

/// Copies the properties with the `remove` headers and the broker's dead-lettering history
/// (`x-death`, which our own attempt header replaces) taken out, and `set` put in.
fn rewrite(properties: &BasicProperties, remove: &[&str], set: Vec<(&str, AMQPValue)>) -> BasicProperties {
    let mut headers: BTreeMap<ShortString, AMQPValue> = properties
        .headers()
        .as_ref()
        .map(|h| {
            h.inner()
                .iter()
                .filter(|(name, _)| !remove.contains(&name.as_str()) && !is_death_header(name.as_str()))
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect()
        })
        .unwrap_or_default();
    for (name, value) in set {
        headers.insert(name.into(), value);
    }
    properties.clone().with_headers(FieldTable::from(headers))
}

fn is_death_header(name: &str) -> bool {
    name == "x-death" || name.starts_with("x-first-death-") || name.starts_with("x-last-death-")
}

/// The headers a handler sees: the producer's, not the bus's bookkeeping.
fn user_headers(headers: &FieldTable) -> BTreeMap<String, String> {
    headers
        .inner()
        .iter()
        .filter(|(name, _)| !name.as_str().starts_with(RESERVED_PREFIX) && !is_death_header(name.as_str()))
        .filter_map(|(name, value)| Some((name.to_string(), value_string(value)?)))
        .collect()
}

fn header_string(headers: &FieldTable, name: &str) -> Option<String> {
    headers.inner().get(name).and_then(value_string)
}

fn header_u32(headers: &FieldTable, name: &str) -> Option<u32> {
    let value = headers.inner().get(name)?;
    let number = match value {
        AMQPValue::ShortShortInt(v) => i64::from(*v),
        AMQPValue::ShortShortUInt(v) => i64::from(*v),
        AMQPValue::ShortInt(v) => i64::from(*v),
        AMQPValue::ShortUInt(v) => i64::from(*v),
        AMQPValue::LongInt(v) => i64::from(*v),
        AMQPValue::LongUInt(v) => i64::from(*v),
        AMQPValue::LongLongInt(v) => *v,
        other => value_string(other)?.trim().parse().ok()?,
    };
    u32::try_from(number).ok()
}

fn value_string(value: &AMQPValue) -> Option<String> {
    Some(match value {
        AMQPValue::LongString(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        AMQPValue::ShortString(s) => s.to_string(),
        AMQPValue::Boolean(v) => v.to_string(),
        AMQPValue::ShortShortInt(v) => v.to_string(),
        AMQPValue::ShortShortUInt(v) => v.to_string(),
        AMQPValue::ShortInt(v) => v.to_string(),
        AMQPValue::ShortUInt(v) => v.to_string(),
        AMQPValue::LongInt(v) => v.to_string(),
        AMQPValue::LongUInt(v) => v.to_string(),
        AMQPValue::LongLongInt(v) => v.to_string(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> Message {
        Message {
            id: Uuid::now_v7(),
            routing_key: "report.received".into(),
            payload: Bytes::from_static(b"\x08\x01"),
            headers: BTreeMap::from([("traceparent".to_string(), "00-abc-def-01".to_string())]),
        }
    }

    #[test]
    fn an_event_survives_retry_park_and_replay_with_its_routing_key_and_headers() {
        let original = message();
        let published = event_properties(&original).unwrap();
        assert_eq!(published.delivery_mode(), &Some(2));
        let first = decode("report.received", &published, &original.payload).unwrap();
        assert_eq!((first.message.clone(), first.attempt), (original.clone(), 1));

        // Through a retry queue, the routing key becomes the queue's name.
        let retried = retry_properties(&published, "report.received", 2);
        let second = decode("paht.routing", &retried, &original.payload).unwrap();
        assert_eq!((second.message.clone(), second.attempt), (original.clone(), 2));

        let at = Utc::now();
        let parked = parked_properties(&retried, "paht.routing", "db down", 5, at);
        let letter = decode_dead_letter("routing", "paht.routing.dead", &parked, &original.payload);
        assert_eq!(letter.message, original);
        assert_eq!((letter.reason.as_str(), letter.attempts), ("db down", 5));
        assert_eq!(letter.parked_at.timestamp_micros(), at.timestamp_micros());

        let replayed = replayed_properties(&parked, "paht.routing.dead");
        let third = decode("paht.routing", &replayed, &original.payload).unwrap();
        assert_eq!((third.message, third.attempt), (original, 1));
    }

    #[test]
    fn foreign_messages_and_reserved_headers_are_refused() {
        assert!(decode("k", &BasicProperties::default(), b"").unwrap_err().contains("no message_id"));
        let bad_id = BasicProperties::default().with_message_id("42".into());
        assert!(decode("k", &bad_id, b"").unwrap_err().contains("not a UUID"));
        let mut sneaky = message();
        sneaky.headers.insert(ATTEMPT.to_string(), "9".to_string());
        assert!(matches!(event_properties(&sneaky), Err(BusError::Config(_))));
        assert!(matches!(short("q".repeat(256), "queue"), Err(BusError::Config(_))));
    }

    #[test]
    fn names_share_the_prefix() {
        let names = Topology::new("t.");
        assert_eq!(names.events_exchange(), "t.events");
        assert_eq!(names.retry_queue("routing", Duration::from_millis(1500)), "t.routing.retry.1500");
        assert_eq!(names.parking_queue("routing"), "t.routing.dead");
    }
}
