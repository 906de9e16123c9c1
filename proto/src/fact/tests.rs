//! Facts through the wire decode to the facts stated, and a view folding them ends in the
//! producer's state (a different calendar on the replica's side changes nothing).

use chrono::{NaiveDate, TimeDelta, TimeZone, Utc};
use paht_domain::actor::{Actor, Role};
use paht_domain::calendar::WorkingCalendar;
use paht_domain::ids::{AssignmentId, ReportId, UnitId};
use paht_domain::lifecycle::{self as lc, Command, NewAssignment, NewReport, ReportStatus};
use prost::Message as _;
use uuid::Uuid;

use super::*;
use crate::convert;

struct World {
    cal: WorkingCalendar,
    producer: lc::Report,
    replica: Option<lc::Report>,
    now: DateTime<Utc>,
    wire: Vec<v1::EventEnvelope>,
}

fn actor(role: Role, unit: &str) -> Actor {
    Actor { subject: format!("{unit}-{}", role.as_str()), role, unit: UnitId::new(unit) }
}

const IOC: &str = "IOC-86";

impl World {
    fn new() -> World {
        let cal = WorkingCalendar::vietnam();
        let now = Utc.with_ymd_and_hms(2027, 3, 1, 2, 0, 0).unwrap();
        let id = ReportId::from_uuid(Uuid::now_v7());
        let new = NewReport { id, instance: UnitId::new(IOC), reporter_ref: None, confidential: false };
        let t = lc::Report::receive(new, &actor(Role::System, IOC), now, &cal).unwrap();
        let mut view = v1::Report { content: "Đèn đường hỏng".into(), ..Default::default() };
        convert::fill_lifecycle(&mut view, &t.report, t.report.received_at);
        let mut world = World { cal, producer: t.report.clone(), replica: None, now, wire: Vec::new() };
        world.send(&t.events, Some(view));
        world
    }

    /// Encodes the producer's events as they travel, decodes them and folds them.
    fn send(&mut self, events: &[lc::Event], received: Option<v1::Report>) {
        for event in events {
            let payload = convert::payload(event, &self.producer, received.clone());
            let envelope = convert::envelope(Uuid::now_v7(), event, payload);
            let decoded = v1::EventEnvelope::decode(envelope.encode_to_vec().as_slice()).unwrap();
            self.wire.push(decoded.clone());
            let fact = fact(&decoded).unwrap().expect("a lifecycle fact");
            assert_eq!(&fact, event, "the fact off the wire is the fact stated");
            match self.replica.as_mut() {
                None => self.replica = lc::Report::genesis(&fact),
                Some(view) => {
                    assert_eq!(view.seen.admit(&fact.stamp), lc::Admission::Fold);
                    view.fold(&fact);
                }
            }
        }
    }

    fn run(&mut self, command: Command, who: &Actor) {
        self.now += TimeDelta::minutes(37);
        let t = self.producer.apply(command, who, self.now, &self.cal).unwrap();
        self.producer = t.report;
        self.send(&t.events, None);
        if let Some((command, routing)) = self.producer.resolution() {
            let t = self.producer.apply(command, &routing, self.now, &self.cal).unwrap();
            self.producer = t.report;
            self.send(&t.events, None);
        }
        assert_eq!(self.replica.as_ref(), Some(&self.producer), "replica diverged");
    }
}

fn new_assignment(agency: &str, lead: bool) -> NewAssignment {
    NewAssignment { id: AssignmentId::from_uuid(Uuid::now_v7()), agency: UnitId::new(agency), lead, instructions: None }
}

#[test]
fn received_state_equals_the_producers() {
    let world = World::new();
    // Only intake knows who sent it.
    let producer = lc::Report { reporter_ref: None, ..world.producer.clone() };
    assert_eq!(world.replica.as_ref(), Some(&producer));
}

#[test]
fn a_replica_follows_dispatch_return_redispatch_explain_send_back_and_approval() {
    let mut w = World::new();
    let ioc = actor(Role::IocOperator, IOC);
    w.run(Command::Accept, &ioc);
    let (mut a, b) = (new_assignment("SO-XD-86", true), new_assignment("UBND-29551", false));
    a.instructions = Some("Khẩn, báo cáo trước 17 giờ".into());
    w.run(Command::Dispatch { assignments: vec![a.clone(), b.clone()] }, &ioc);
    w.run(
        Command::Return { assignment: b.id, reason: "Không thuộc thẩm quyền".into() },
        &actor(Role::Officer, "UBND-29551"),
    );
    let c = new_assignment("PC-VINHLONG", false);
    w.run(Command::Dispatch { assignments: vec![c.clone()] }, &ioc);
    let officer = actor(Role::Officer, "SO-XD-86");
    let expected = NaiveDate::from_ymd_opt(2027, 3, 19).unwrap();
    w.run(
        Command::Explain { assignment: a.id, reason: "Cần xác minh".into(), expected_completion: expected },
        &officer,
    );
    w.run(Command::SubmitResult { assignment: a.id, text: "Đã sửa".into(), attachments: vec![] }, &officer);
    w.run(Command::SendBack { assignment: a.id, reason: "Thiếu ảnh".into() }, &actor(Role::Leader, "SO-XD-86"));
    w.run(Command::SubmitResult { assignment: a.id, text: "Đã sửa, có ảnh".into(), attachments: vec![] }, &officer);
    w.run(Command::Approve { assignment: a.id }, &actor(Role::Leader, "SO-XD-86"));
    let power = actor(Role::Officer, "PC-VINHLONG");
    w.run(Command::SubmitResult { assignment: c.id, text: "Đã thay bóng".into(), attachments: vec![] }, &power);
    w.run(Command::Approve { assignment: c.id }, &actor(Role::Leader, "PC-VINHLONG"));
    assert_eq!(w.producer.status, ReportStatus::Resolved);
    assert!(w.wire.iter().any(|e| matches!(e.payload, Some(Payload::ReportResolved(_)))));
}

#[test]
fn a_replica_follows_escalation_and_a_dispatching_directive() {
    let mut w = World::new();
    let ioc = actor(Role::IocOperator, IOC);
    w.run(Command::Accept, &ioc);
    w.run(
        Command::Escalate {
            reason: lc::EscalationReason::UnclearCompetence,
            note: "Chưa rõ".into(),
            duplicate_of: None,
        },
        &ioc,
    );
    let office = actor(Role::ProvincialOffice, "VP-UBND-86");
    let directive = lc::Directive::Dispatch {
        assignments: vec![new_assignment("SO-NNMT-86", true), new_assignment("UBND-29551", false)],
        note: "Sở Nông nghiệp và Môi trường chủ trì".into(),
    };
    w.run(Command::Direct(directive), &office);
    assert_eq!(w.producer.status, ReportStatus::Dispatched);
    assert_eq!(w.replica.as_ref().unwrap().assignments.len(), 2);
}

#[test]
fn a_replica_follows_a_closing_directive_on_a_duplicate() {
    let mut w = World::new();
    let ioc = actor(Role::IocOperator, IOC);
    w.run(Command::Accept, &ioc);
    let earlier = ReportId::from_uuid(Uuid::now_v7());
    w.run(
        Command::Escalate {
            reason: lc::EscalationReason::Duplicate,
            note: "Trùng".into(),
            duplicate_of: Some(earlier),
        },
        &ioc,
    );
    w.run(
        Command::Direct(lc::Directive::Close { notice: "Đã xử lý ở phản ánh trước".into() }),
        &actor(Role::ProvincialOffice, "VP-UBND-86"),
    );
    assert_eq!(w.producer.status, ReportStatus::Closed);
}

#[test]
fn malformed_envelopes_name_the_field() {
    let mut envelope = v1::EventEnvelope { payload: None, ..Default::default() };
    assert_eq!(fact(&envelope), Err(FactError::Malformed { field: "payload", problem: "missing" }));
    envelope.payload = Some(Payload::AssignmentApproved(v1::AssignmentApproved {
        assignment_id: "not-a-uuid".into(),
        agency_unit_id: "SO-XD-86".into(),
    }));
    assert_eq!(fact(&envelope), Err(FactError::Malformed { field: "payload.assignment_id", problem: "not a UUID" }));
    envelope.payload = Some(Payload::AssignmentApproved(v1::AssignmentApproved {
        assignment_id: Uuid::now_v7().to_string(),
        agency_unit_id: "SO-XD-86".into(),
    }));
    assert_eq!(fact(&envelope), Err(FactError::Malformed { field: "actor", problem: "missing or without a role" }));
    envelope.actor = Some(convert::actor(&actor(Role::Leader, "SO-XD-86")));
    envelope.occurred_at = Some(convert::timestamp(Utc::now()));
    assert_eq!(
        fact(&envelope),
        Err(FactError::Malformed { field: "sequence", problem: "a lifecycle fact is numbered from 1" })
    );
    envelope.sequence = 3;
    envelope.producer = "routing".into();
    assert_eq!(fact(&envelope), Err(FactError::Malformed { field: "producer", problem: "not the owner of this fact" }));
    envelope.producer = "billing".into();
    assert_eq!(
        fact(&envelope),
        Err(FactError::Malformed { field: "producer", problem: "not a service that owns decisions" })
    );
}

#[test]
fn reminders_and_links_are_no_facts_of_the_lifecycle() {
    let envelope =
        v1::EventEnvelope { payload: Some(Payload::DeadlineMissed(Default::default())), ..Default::default() };
    assert_eq!(fact(&envelope), Ok(None));
}
