//! Request → domain draft and row → protocol messages. Personal data only ever flows from
//! the request into the vault, never into a `Report` or a public view (R6.2).

use bytes::Bytes;
use chrono::{DateTime, FixedOffset, Utc};
use paht_domain::lifecycle::{self as lc, Event, ReportStatus};
use paht_domain::validation::{AttachmentDraft, LocationDraft, ReportDraft, ReporterDraft};
use paht_platform::bus::Message;
use paht_proto::{convert, v1};
use prost::Message as _;

use crate::store::{attachment, report};

/// The channel as stored: the proto enum name without prefix, lowercase (`web_portal`).
pub fn channel_name(channel: v1::Channel) -> String {
    channel.as_str_name().trim_start_matches("CHANNEL_").to_ascii_lowercase()
}

/// The stored channel name back as the proto enum.
pub fn channel_from_name(name: &str) -> v1::Channel {
    v1::Channel::from_str_name(&format!("CHANNEL_{}", name.to_ascii_uppercase())).unwrap_or(v1::Channel::Unspecified)
}

fn non_empty(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// The domain draft of a submission; `attachments` are the uploaded files it refers to.
/// Event times are read at Vietnam's offset, which only matters for display.
pub fn draft(req: &v1::SubmitReportRequest, attachments: &[attachment::Model]) -> ReportDraft {
    let vietnam = FixedOffset::east_opt(7 * 3600).expect("UTC+7 is a valid offset");
    let location = req.location.clone().unwrap_or_default();
    let reporter = req.reporter.clone().unwrap_or_default();
    ReportDraft {
        content: req.content.clone(),
        title: None,
        category_code: non_empty(&req.category_id),
        event_time: req.event_time.as_ref().and_then(convert::from_timestamp).map(|t| t.with_timezone(&vietnam)),
        location: LocationDraft {
            latitude: location.latitude,
            longitude: location.longitude,
            address: non_empty(&location.address),
            unit_code: non_empty(&location.unit_code),
        },
        reporter: ReporterDraft {
            name: reporter.name,
            address: reporter.address,
            phone: reporter.phone,
            email: non_empty(&reporter.email),
            confidential: reporter.confidential,
        },
        attachments: attachments
            .iter()
            .map(|a| AttachmentDraft {
                file_name: a.file_name.clone(),
                content_type: a.content_type.clone(),
                size_bytes: u64::try_from(a.size_bytes).unwrap_or(0),
            })
            .collect(),
    }
}

/// An attachment row as the protocol's.
pub fn attachment(row: &attachment::Model) -> v1::Attachment {
    let kind = match row.kind.as_str() {
        "image" => v1::AttachmentKind::Image,
        "video" => v1::AttachmentKind::Video,
        "document" => v1::AttachmentKind::Document,
        _ => v1::AttachmentKind::Unspecified,
    };
    v1::Attachment {
        id: row.id.to_string(),
        kind: kind as i32,
        content_type: row.content_type.clone(),
        size_bytes: u64::try_from(row.size_bytes).unwrap_or(0),
        sha256: row.sha256.clone(),
        file_name: row.file_name.clone(),
    }
}

fn location(row: &report::Model) -> v1::Location {
    v1::Location {
        latitude: row.latitude,
        longitude: row.longitude,
        address: row.address.clone().unwrap_or_default(),
        unit_code: row.unit_code.clone().unwrap_or_default(),
    }
}

/// The staff view of a report: content from the row, lifecycle from the domain state; no reporter.
pub fn report(row: &report::Model, state: &lc::Report, attachments: &[attachment::Model]) -> v1::Report {
    let mut out = v1::Report {
        tracking_code: row.tracking_code.clone(),
        channel: channel_from_name(&row.channel) as i32,
        category_id: row.category_id.clone().unwrap_or_default(),
        content: row.content.clone(),
        event_time: Some(convert::timestamp(row.event_time)),
        location: Some(location(row)),
        attachments: attachments.iter().map(attachment).collect(),
        ..Default::default()
    };
    convert::fill_lifecycle(&mut out, state, now_micros());
    out
}

/// What anyone with the tracking code sees (R6.2): no name unless the reporter chose to
/// show it, never a phone, address or e-mail, and an answer only once published.
pub fn public_view(row: &report::Model, state: &lc::Report, display_name: Option<String>) -> v1::PublicReportView {
    // A private answer stays private after it is rated (R10.3b); a reopened report's earlier
    // answer is no longer its answer.
    let published = state.answer_is_public();
    let notice = state.refusal_reason.clone().or_else(|| match &state.directive {
        Some(lc::Directive::Close { notice }) if state.status == ReportStatus::Closed => Some(notice.clone()),
        _ => None,
    });
    v1::PublicReportView {
        tracking_code: row.tracking_code.clone(),
        channel: channel_from_name(&row.channel) as i32,
        category_id: row.category_id.clone().unwrap_or_default(),
        content: row.content.clone(),
        location: Some(location(row)),
        status: convert::report_status(state.status) as i32,
        received_at: Some(convert::timestamp(state.received_at)),
        expected_completion_date: state
            .assignments
            .iter()
            .filter_map(|a| a.explanation.as_ref().map(|e| e.expected_completion))
            .max()
            .map(convert::date),
        published_answer: if published { state.answer.as_ref().map(|a| a.text.clone()) } else { None }
            .unwrap_or_default(),
        // The value only: the reporter's feedback is for the IOC (it may name them).
        rating: state.rating.as_ref().filter(|_| published).map(|(r, _)| v1::Rating {
            value: convert::rating(*r) as i32,
            feedback: String::new(),
            rated_at: None,
        }),
        reporter_display_name: if state.confidential { None } else { display_name }.unwrap_or_default(),
        refusal_or_closing_notice: notice.unwrap_or_default(),
    }
}

/// The outbox messages of a transition's events (see `paht_platform::events::messages`);
/// `report.accepted` carries the category the operator confirmed at the check.
pub fn messages(
    events: &[Event],
    after: &lc::Report,
    received: Option<&v1::Report>,
    category: Option<&str>,
) -> Vec<Message> {
    let mut messages = paht_platform::events::messages(events, after, received);
    if let Some(category) = category {
        for message in messages.iter_mut().filter(|m| m.routing_key == "report.accepted") {
            let Ok(mut envelope) = v1::EventEnvelope::decode(message.payload.as_ref()) else { continue };
            if let Some(v1::event_envelope::Payload::ReportAccepted(accepted)) = envelope.payload.as_mut() {
                accepted.category_id = category.to_owned();
                message.payload = Bytes::from(envelope.encode_to_vec());
            }
        }
    }
    messages
}

/// Business now (see `paht_platform::clock`), at the microsecond precision both databases keep.
pub fn now_micros() -> DateTime<Utc> {
    paht_platform::clock::now()
}
