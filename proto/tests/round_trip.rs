//! Messages survive the wire: what a publisher encodes, a consumer decodes unchanged.

use paht_proto::routing_key;
use paht_proto::v1::{
    self, Actor, Assignment, AssignmentStatus, Attachment, AttachmentKind, Channel, Deadline, DeadlineStage,
    EventEnvelope, Location, Report, ReportDispatched, ReportReceived, ReportStatus, Role, event_envelope::Payload,
};
use prost::Message as _;
use prost_types::Timestamp;

fn at(seconds: i64) -> Option<Timestamp> {
    Some(Timestamp { seconds, nanos: 0 })
}

fn check_deadline() -> Deadline {
    Deadline {
        stage: DeadlineStage::Check as i32,
        started_at: at(1_764_252_000),
        due_at: at(1_764_255_600),
        basis: "1 working hour".to_owned(),
    }
}

fn received_report() -> Report {
    Report {
        id: "0197a5c4-8a1e-7c3b-9f00-000000000001".to_owned(),
        tracking_code: "PAHT-2025-000123".to_owned(),
        instance_id: "ioc-tinh".to_owned(),
        channel: Channel::Zalo as i32,
        category_id: "moi-truong".to_owned(),
        content: "Rác thải đổ trộm bên bờ sông, bốc mùi hôi thối.".to_owned(),
        event_time: at(1_764_240_000),
        location: Some(Location {
            latitude: Some(10.2415),
            longitude: Some(106.3759),
            address: "Ấp 3, xã Phú Túc".to_owned(),
            unit_code: "28810".to_owned(),
        }),
        attachments: vec![Attachment {
            id: "0197a5c4-8a1e-7c3b-9f00-0000000000a1".to_owned(),
            kind: AttachmentKind::Image as i32,
            content_type: "image/jpeg".to_owned(),
            size_bytes: 482_113,
            sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".to_owned(),
            file_name: "bo-song.jpg".to_owned(),
        }],
        status: ReportStatus::Received as i32,
        received_at: at(1_764_252_000),
        check_deadline: Some(check_deadline()),
        reporter_confidential: true,
        ..Default::default()
    }
}

fn envelope(payload: Payload) -> EventEnvelope {
    EventEnvelope {
        event_id: "0197a5c4-8a1e-7c3b-9f00-00000000e001".to_owned(),
        report_id: "0197a5c4-8a1e-7c3b-9f00-000000000001".to_owned(),
        instance_id: "ioc-tinh".to_owned(),
        occurred_at: at(1_764_252_000),
        actor: Some(Actor {
            subject: "system:zalo-connector".to_owned(),
            role: Role::System as i32,
            unit_id: String::new(),
        }),
        producer: "intake".to_owned(),
        sequence: 1,
        after: Vec::new(),
        payload: Some(payload),
    }
}

#[test]
fn report_received_envelope_round_trips() {
    let sent = envelope(Payload::ReportReceived(ReportReceived { report: Some(received_report()) }));
    let bytes = sent.encode_to_vec();
    let received = EventEnvelope::decode(bytes.as_slice()).expect("envelope decodes");

    assert_eq!(received, sent);
    let Some(Payload::ReportReceived(ReportReceived { report: Some(report) })) = &received.payload else {
        panic!("payload is not report.received: {:?}", received.payload);
    };
    assert_eq!(report.status(), ReportStatus::Received);
    assert_eq!(report.channel(), Channel::Zalo);
    assert_eq!(report.location.as_ref().and_then(|l| l.latitude), Some(10.2415));
    assert_eq!(report.check_deadline.as_ref().map(|d| d.stage()), Some(DeadlineStage::Check));
    assert_eq!(routing_key(received.payload.as_ref().unwrap()), "report.received");
}

#[test]
fn dispatched_envelope_with_several_assignments_round_trips() {
    let assignment = |id: &str, agency: &str, lead: bool| Assignment {
        id: id.to_owned(),
        report_id: "0197a5c4-8a1e-7c3b-9f00-000000000001".to_owned(),
        agency_unit_id: agency.to_owned(),
        lead,
        status: AssignmentStatus::Assigned as i32,
        handling_deadline: Some(Deadline {
            stage: DeadlineStage::Handling as i32,
            started_at: at(1_764_259_200),
            due_at: at(1_764_921_600),
            basis: "5 working days from next working day".to_owned(),
        }),
        assigned_at: at(1_764_259_200),
        ..Default::default()
    };
    let sent = envelope(Payload::ReportDispatched(ReportDispatched {
        assignments: vec![assignment("a-1", "so-tnmt", true), assignment("a-2", "ubnd-xa-phu-tuc", false)],
        redispatch: false,
        answers_returned_assignment_ids: Vec::new(),
    }));

    let received = EventEnvelope::decode(sent.encode_to_vec().as_slice()).expect("decodes");

    assert_eq!(received, sent);
    assert_eq!(received.payload.as_ref().unwrap().routing_key(), "report.dispatched");
}

#[test]
fn absent_coordinates_stay_absent_and_zero_coordinates_stay_zero() {
    // proto3 `optional`: "unknown" and "0.0" must not be confused after a round trip.
    let unknown = Location { address: "Chợ Bến Tre".to_owned(), ..Default::default() };
    let equator = Location { latitude: Some(0.0), longitude: Some(0.0), ..Default::default() };

    let unknown_back = Location::decode(unknown.encode_to_vec().as_slice()).unwrap();
    let equator_back = Location::decode(equator.encode_to_vec().as_slice()).unwrap();

    assert_eq!(unknown_back.latitude, None);
    assert_eq!(equator_back.latitude, Some(0.0));
}

#[test]
fn an_envelope_without_payload_decodes_as_none() {
    // A consumer must be able to tell an event from a newer producer it cannot read.
    let sent = EventEnvelope { payload: None, ..envelope(Payload::ReportAccepted(Default::default())) };
    let received = EventEnvelope::decode(sent.encode_to_vec().as_slice()).unwrap();
    assert!(received.payload.is_none());
    assert_eq!(received.event_id, sent.event_id);
}

#[test]
fn generated_servers_carry_the_fully_qualified_service_names() {
    assert_eq!(v1::intake_service_server::SERVICE_NAME, "paht.v1.IntakeService");
    assert_eq!(v1::routing_service_server::SERVICE_NAME, "paht.v1.RoutingService");
    assert_eq!(v1::processing_service_server::SERVICE_NAME, "paht.v1.ProcessingService");
    assert_eq!(v1::publication_service_server::SERVICE_NAME, "paht.v1.PublicationService");
    assert_eq!(v1::reporting_service_server::SERVICE_NAME, "paht.v1.ReportingService");
}
