//! Outbox messages of events: the domain's transitions and the protocol envelopes the
//! domain does not produce (deadline reminders, duplicate links).

use bytes::Bytes;
use paht_domain::lifecycle::{self as lc, Event};
use paht_proto::{convert, v1};
use prost::Message as _;
use uuid::Uuid;

use crate::bus::Message;
use crate::db::DbError;

/// The outbox messages of a transition's events: envelope encoded with prost, a fresh v7
/// event id, the routing key of its payload and the current trace context. `after` is the
/// report after the transition; `received` the full report for `report.received`.
pub fn messages(events: &[Event], after: &lc::Report, received: Option<&v1::Report>) -> Vec<Message> {
    let headers = crate::telemetry::trace_headers(&tracing::Span::current());
    events
        .iter()
        .map(|event| {
            let payload = convert::payload(event, after, received.cloned());
            let id = Uuid::now_v7();
            let envelope = convert::envelope(id, event, payload);
            Message {
                id,
                routing_key: routing_key_of(&envelope).to_owned(),
                payload: Bytes::from(envelope.encode_to_vec()),
                headers: headers.clone(),
            }
        })
        .collect()
}

/// The outbox message of an envelope built by hand; its `event_id` must be a UUID (a
/// malformed one is replaced by a fresh v7 id, written back into the payload).
pub fn message(envelope: &v1::EventEnvelope) -> Message {
    let mut envelope = envelope.clone();
    let id = Uuid::parse_str(&envelope.event_id).unwrap_or_else(|_| {
        let id = Uuid::now_v7();
        envelope.event_id = id.to_string();
        id
    });
    Message {
        id,
        routing_key: routing_key_of(&envelope).to_owned(),
        payload: Bytes::from(envelope.encode_to_vec()),
        headers: crate::telemetry::trace_headers(&tracing::Span::current()),
    }
}

fn routing_key_of(envelope: &v1::EventEnvelope) -> &'static str {
    envelope.payload.as_ref().map(paht_proto::routing_key).unwrap_or("unknown")
}

/// The events in the outbox, oldest first, decoded: (routing key, envelope). For operators
/// inspecting what a service emitted and for tests; a payload that is not an envelope is
/// reported as [`DbError::Query`] with the row's id.
pub async fn in_outbox(conn: &impl sea_orm::ConnectionTrait) -> Result<Vec<(String, v1::EventEnvelope)>, DbError> {
    use sea_orm::sea_query::{Alias, Query};
    let select = Query::select()
        .columns([Alias::new("id"), Alias::new("routing_key"), Alias::new("payload")])
        .from(Alias::new("outbox"))
        .order_by(Alias::new("id"), sea_orm::Order::Asc)
        .to_owned();
    let rows = conn.query_all(&select).await?;
    rows.iter()
        .map(|r| {
            let id: i64 = r.try_get("", "id")?;
            let key: String = r.try_get("", "routing_key")?;
            let payload: Vec<u8> = r.try_get("", "payload")?;
            let envelope = v1::EventEnvelope::decode(payload.as_slice())
                .map_err(|e| sea_orm::DbErr::Custom(format!("outbox row {id} is not an EventEnvelope: {e}")))?;
            Ok((key, envelope))
        })
        .collect()
}
