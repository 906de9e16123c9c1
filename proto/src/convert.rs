//! One mapping between the domain and the protocol, used by every service: enums,
//! times, deadlines, assignments, and domain events into event envelopes.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use paht_domain::actor::{Actor, Role};
use paht_domain::deadline::{Deadline, Stage};
use paht_domain::lifecycle::{self as lc, Event, EventKind};
use uuid::Uuid;

use crate::v1;
use crate::v1::event_envelope::Payload;

/// A UTC instant as a protobuf timestamp.
pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: t.timestamp(), nanos: t.timestamp_subsec_nanos() as i32 }
}

/// A protobuf timestamp as a UTC instant; `None` when out of range.
pub fn from_timestamp(t: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    u32::try_from(t.nanos).ok().and_then(|n| Utc.timestamp_opt(t.seconds, n).single())
}

/// A calendar date (Asia/Ho_Chi_Minh) as the protocol's `Date`.
pub fn date(d: NaiveDate) -> v1::Date {
    v1::Date { year: d.year(), month: d.month() as i32, day: d.day() as i32 }
}

/// The protocol's `Date` as a calendar date; `None` if it does not exist.
pub fn from_date(d: &v1::Date) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(d.year, u32::try_from(d.month).ok()?, u32::try_from(d.day).ok()?)
}

/// A domain role as the protocol's.
pub fn role(r: Role) -> v1::Role {
    match r {
        Role::Reporter => v1::Role::Reporter,
        Role::IocOperator => v1::Role::IocOperator,
        Role::Officer => v1::Role::Officer,
        Role::Leader => v1::Role::Leader,
        Role::ProvincialOffice => v1::Role::ProvincialOffice,
        Role::SystemOperator => v1::Role::SystemOperator,
        Role::Inspector => v1::Role::Inspector,
        Role::System => v1::Role::System,
    }
}

/// An actor as the protocol's.
pub fn actor(a: &Actor) -> v1::Actor {
    v1::Actor { subject: a.subject.clone(), role: role(a.role) as i32, unit_id: a.unit.to_string() }
}

/// A report status as the protocol's.
pub fn report_status(s: lc::ReportStatus) -> v1::ReportStatus {
    use lc::ReportStatus as S;
    match s {
        S::Received => v1::ReportStatus::Received,
        S::Refused => v1::ReportStatus::Refused,
        S::Accepted => v1::ReportStatus::Accepted,
        S::Dispatched => v1::ReportStatus::Dispatched,
        S::Escalated => v1::ReportStatus::Escalated,
        S::Closed => v1::ReportStatus::Closed,
        S::Resolved => v1::ReportStatus::Resolved,
        S::Published => v1::ReportStatus::Published,
        S::AnsweredPrivately => v1::ReportStatus::AnsweredPrivately,
        S::Withheld => v1::ReportStatus::Withheld,
        S::Rated => v1::ReportStatus::Rated,
        S::Reopened => v1::ReportStatus::Reopened,
    }
}

/// An assignment status as the protocol's.
pub fn assignment_status(s: lc::AssignmentStatus) -> v1::AssignmentStatus {
    use lc::AssignmentStatus as S;
    match s {
        S::Assigned => v1::AssignmentStatus::Assigned,
        S::Explained => v1::AssignmentStatus::Explained,
        S::Returned => v1::AssignmentStatus::Returned,
        S::ResultSubmitted => v1::AssignmentStatus::ResultSubmitted,
        S::Approved => v1::AssignmentStatus::Approved,
        S::SentBack => v1::AssignmentStatus::SentBack,
        S::Cancelled => v1::AssignmentStatus::Cancelled,
    }
}

/// A deadline stage as the protocol's.
pub fn stage(s: Stage) -> v1::DeadlineStage {
    match s {
        Stage::Check => v1::DeadlineStage::Check,
        Stage::Return => v1::DeadlineStage::Return,
        Stage::Explanation => v1::DeadlineStage::Explanation,
        Stage::Handling => v1::DeadlineStage::Handling,
        Stage::Escalation => v1::DeadlineStage::Escalation,
        Stage::Approval => v1::DeadlineStage::Approval,
        Stage::Answer => v1::DeadlineStage::Answer,
    }
}

/// A deadline as the protocol's, with its basis in words ("R7.2: 1 working hour(s)").
pub fn deadline(d: &Deadline) -> v1::Deadline {
    v1::Deadline {
        stage: stage(d.stage) as i32,
        started_at: Some(timestamp(d.started_at)),
        due_at: Some(timestamp(d.due_at)),
        basis: format!("{}: {}", d.stage.requirement(), d.rule),
    }
}

/// A rating as the protocol's value.
pub fn rating(r: lc::Rating) -> v1::RatingValue {
    match r {
        lc::Rating::Satisfied => v1::RatingValue::Satisfied,
        lc::Rating::Normal => v1::RatingValue::Normal,
        lc::Rating::Unsatisfied => v1::RatingValue::Unsatisfied,
    }
}

/// An escalation reason as the protocol's.
pub fn escalation_reason(r: lc::EscalationReason) -> v1::EscalationReason {
    use lc::EscalationReason as E;
    match r {
        E::UnclearCompetence => v1::EscalationReason::UnclearCompetence,
        E::Duplicate => v1::EscalationReason::Duplicate,
        E::Untrue => v1::EscalationReason::Untrue,
        E::Unverifiable => v1::EscalationReason::Unverifiable,
        E::AgenciesDisagree => v1::EscalationReason::AgenciesDisagree,
        E::IncompleteHandling => v1::EscalationReason::IncompleteHandling,
    }
}

/// An assignment as the protocol's, as of `now`: the deadlines running then, and the one to
/// meet next as its stage deadline (see [`lc::Assignment::stage_deadline`]).
pub fn assignment(a: &lc::Assignment, report_id: &str, now: DateTime<Utc>) -> v1::Assignment {
    v1::Assignment {
        id: a.id.to_string(),
        report_id: report_id.to_string(),
        agency_unit_id: a.agency.to_string(),
        lead: a.lead,
        status: assignment_status(a.status) as i32,
        handling_deadline: Some(deadline(&a.handling)),
        stage_deadline: a.stage_deadline(now).map(deadline),
        explanation: a.explanation.as_ref().map(|e| v1::Explanation {
            reason: e.reason.clone(),
            expected_completion_date: Some(date(e.expected_completion)),
            explained_at: Some(timestamp(e.at)),
        }),
        result: a.result.as_ref().map(|r| v1::HandlingResult {
            text: r.text.clone(),
            attachments: attachment_refs(&r.attachments),
            officer: Some(actor(&r.officer)),
            submitted_at: Some(timestamp(r.at)),
        }),
        return_reason: a.return_reason.clone().unwrap_or_default(),
        send_back_reason: a.send_back_reason.clone().unwrap_or_default(),
        assigned_at: Some(timestamp(a.assigned_at)),
        instructions: a.instructions.clone().unwrap_or_default(),
        open_deadlines: a.running_deadlines(now).map(deadline).collect(),
    }
}

/// The protocol's name of a private delivery (R10.3b).
pub fn delivery(d: lc::Delivery) -> v1::PrivateDelivery {
    match d {
        lc::Delivery::Phone => v1::PrivateDelivery::Phone,
        lc::Delivery::Sms => v1::PrivateDelivery::Sms,
        lc::Delivery::Email => v1::PrivateDelivery::Email,
        lc::Delivery::ChannelMessage => v1::PrivateDelivery::ChannelMessage,
    }
}

/// A private delivery named in a message; `None` for unset or unknown values.
pub fn delivery_from(value: i32) -> Option<lc::Delivery> {
    match v1::PrivateDelivery::try_from(value).ok()? {
        v1::PrivateDelivery::Phone => Some(lc::Delivery::Phone),
        v1::PrivateDelivery::Sms => Some(lc::Delivery::Sms),
        v1::PrivateDelivery::Email => Some(lc::Delivery::Email),
        v1::PrivateDelivery::ChannelMessage => Some(lc::Delivery::ChannelMessage),
        v1::PrivateDelivery::Unspecified => None,
    }
}

fn answer(report: &lc::Report, visibility: v1::AnswerVisibility, decided: DateTime<Utc>) -> Option<v1::Answer> {
    report.answer.as_ref().map(|a| v1::Answer {
        text: a.text.clone(),
        visibility: visibility as i32,
        edited_by: Some(actor(&a.edited_by)),
        edited_at: Some(timestamp(a.edited_at)),
        decided_at: Some(timestamp(decided)),
    })
}

/// The report's answer as it stands: its text, how and when it was given (unset while a draft).
pub fn answer_of(report: &lc::Report) -> Option<v1::Answer> {
    let visibility = match report.visibility {
        None => v1::AnswerVisibility::Unspecified,
        Some(lc::Visibility::Published) => v1::AnswerVisibility::Published,
        Some(lc::Visibility::Private) => v1::AnswerVisibility::Private,
        Some(lc::Visibility::Withheld) => v1::AnswerVisibility::Withheld,
    };
    answer(report, visibility, report.received_at).map(|mut a| {
        a.decided_at = report.answer.as_ref().and_then(|a| a.decided_at).map(timestamp);
        a
    })
}

/// Copies the lifecycle part of a report (status, deadlines, assignments, answer,
/// rating, refusal, escalation) into a protocol report whose content the owning
/// service has filled, as of `now` (the deadlines still running then).
pub fn fill_lifecycle(out: &mut v1::Report, report: &lc::Report, now: DateTime<Utc>) {
    let id = report.id.to_string();
    out.id.clone_from(&id);
    out.instance_id = report.instance.to_string();
    out.status = report_status(report.status) as i32;
    out.received_at = Some(timestamp(report.received_at));
    out.check_deadline = report.open_deadlines.iter().find(|d| d.stage == Stage::Check).map(deadline);
    out.open_deadlines = report.open_deadlines.iter().map(deadline).collect();
    out.resolved_at = report.answer_deadline.map(|d| timestamp(d.started_at));
    out.answer_deadline = report.answer_deadline.as_ref().map(deadline);
    out.assignments = report.assignments.iter().map(|a| assignment(a, &id, now)).collect();
    out.answer = answer_of(report);
    out.rating = report.rating.as_ref().map(|(r, feedback)| v1::Rating {
        value: rating(*r) as i32,
        feedback: feedback.clone().unwrap_or_default(),
        rated_at: None,
    });
    out.reporter_confidential = report.confidential;
    out.refusal_reason = report.refusal_reason.clone().unwrap_or_default();
    out.escalations = report.escalation.iter().map(|e| escalation(e, &id)).collect();
    out.duplicate_of =
        report.escalation.as_ref().and_then(|e| e.duplicate_of).map(|d| d.to_string()).unwrap_or_default();
}

/// The id of a report's escalation: the domain keeps one escalation at a time, named by
/// the report and the instant it was escalated.
pub fn escalation_id(report_id: &str, escalated_at: DateTime<Utc>) -> String {
    format!("{report_id}@{}", escalated_at.timestamp_micros())
}

fn escalation(e: &lc::Escalation, report_id: &str) -> v1::Escalation {
    v1::Escalation {
        id: escalation_id(report_id, e.at),
        reason: escalation_reason(e.reason) as i32,
        note: e.note.clone(),
        duplicate_of: e.duplicate_of.map(|d| d.to_string()).unwrap_or_default(),
        escalated_at: Some(timestamp(e.at)),
        deadline: Some(deadline(&e.deadline)),
    }
}

/// The protocol payload of a domain event, from what the event states; `report` is the
/// report after the transition (the content of results and answers, escalation ids) and
/// `received` the full (personal-data-free) report for `report.received`, which only the
/// intake service can build.
pub fn payload(event: &Event, report: &lc::Report, received: Option<v1::Report>) -> Payload {
    let id = report.id.to_string();
    let ids = |list: &[paht_domain::ids::AssignmentId]| list.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    match &event.kind {
        EventKind::ReportReceived { .. } => Payload::ReportReceived(v1::ReportReceived { report: received }),
        EventKind::ReportAccepted => Payload::ReportAccepted(v1::ReportAccepted { category_id: String::new() }),
        EventKind::ReportRefused { reason } => Payload::ReportRefused(v1::ReportRefused { reason: reason.clone() }),
        EventKind::ReportDispatched { assignments, answers_returns } => {
            Payload::ReportDispatched(v1::ReportDispatched {
                assignments: assignments.iter().map(|d| dispatched(d, &id, event.occurred_at)).collect(),
                redispatch: report.assignments.len() > assignments.len(),
                answers_returned_assignment_ids: ids(answers_returns),
            })
        }
        EventKind::AssignmentReturned { assignment, agency, reason, check } => {
            Payload::AssignmentReturned(v1::AssignmentReturned {
                assignment_id: assignment.to_string(),
                agency_unit_id: agency.to_string(),
                reason: reason.clone(),
                check_deadline: Some(deadline(check)),
            })
        }
        EventKind::AssignmentExplained { assignment: a, agency, reason, expected_completion, handling } => {
            Payload::AssignmentExplained(v1::AssignmentExplained {
                assignment_id: a.to_string(),
                agency_unit_id: agency.to_string(),
                explanation: Some(v1::Explanation {
                    reason: reason.clone(),
                    expected_completion_date: Some(date(*expected_completion)),
                    explained_at: Some(timestamp(event.occurred_at)),
                }),
                handling_deadline: Some(deadline(handling)),
            })
        }
        EventKind::AssignmentResultSubmitted { assignment: a, agency, text, attachments, approval } => {
            Payload::AssignmentResultSubmitted(v1::AssignmentResultSubmitted {
                assignment_id: a.to_string(),
                agency_unit_id: agency.to_string(),
                result: Some(v1::HandlingResult {
                    text: text.clone(),
                    attachments: attachment_refs(attachments),
                    officer: Some(actor(&event.actor)),
                    submitted_at: Some(timestamp(event.occurred_at)),
                }),
                approval_deadline: Some(deadline(approval)),
            })
        }
        EventKind::AssignmentApproved { assignment: a, agency } => {
            Payload::AssignmentApproved(v1::AssignmentApproved {
                assignment_id: a.to_string(),
                agency_unit_id: agency.to_string(),
            })
        }
        EventKind::AssignmentSentBack { assignment: a, agency, reason } => {
            Payload::AssignmentSentBack(v1::AssignmentSentBack {
                assignment_id: a.to_string(),
                agency_unit_id: agency.to_string(),
                reason: reason.clone(),
            })
        }
        EventKind::ReportEscalated { reason, note, duplicate_of, deadline: due } => {
            Payload::ReportEscalated(v1::ReportEscalated {
                escalation: Some(v1::Escalation {
                    id: escalation_id(&id, event.occurred_at),
                    reason: escalation_reason(*reason) as i32,
                    note: note.clone(),
                    duplicate_of: duplicate_of.map(|d| d.to_string()).unwrap_or_default(),
                    escalated_at: Some(timestamp(event.occurred_at)),
                    deadline: Some(deadline(due)),
                }),
            })
        }
        EventKind::DirectiveIssued { directive } => Payload::DirectiveIssued(v1::DirectiveIssued {
            directive: Some(v1::Directive {
                id: event_scoped_id(event),
                escalation_id: report.escalation.as_ref().map(|e| escalation_id(&id, e.at)).unwrap_or_default(),
                action: Some(match directive {
                    lc::Directive::Dispatch { assignments, .. } => {
                        v1::directive::Action::Dispatch(v1::DispatchDirective {
                            agency_unit_ids: assignments.iter().map(|a| a.agency.to_string()).collect(),
                            lead_agency_unit_id: assignments
                                .iter()
                                .find(|a| a.lead)
                                .map(|a| a.agency.to_string())
                                .unwrap_or_default(),
                            assignment_ids: assignments.iter().map(|a| a.id.to_string()).collect(),
                        })
                    }
                    lc::Directive::Close { notice } => {
                        v1::directive::Action::Close(v1::CloseDirective { notice: notice.clone() })
                    }
                }),
                instructions: match directive {
                    lc::Directive::Dispatch { note, .. } => note.clone(),
                    lc::Directive::Close { notice } => notice.clone(),
                },
                issued_by: Some(actor(&event.actor)),
                issued_at: Some(timestamp(event.occurred_at)),
            }),
        }),
        EventKind::ReportClosed { notice, duplicate_of, cancelled } => Payload::ReportClosed(v1::ReportClosed {
            notice: notice.clone(),
            directive_id: event_scoped_id(event),
            cancelled_assignment_ids: ids(cancelled),
            duplicate_of: duplicate_of.map(|d| d.to_string()).unwrap_or_default(),
        }),
        EventKind::ReportResolved { assignments, answer } => Payload::ReportResolved(v1::ReportResolved {
            assignment_ids: ids(assignments),
            answer_deadline: Some(deadline(answer)),
        }),
        EventKind::AnswerEdited { text } => Payload::AnswerEdited(v1::AnswerEdited {
            answer: Some(v1::Answer {
                text: text.clone(),
                visibility: v1::AnswerVisibility::Unspecified as i32,
                edited_by: Some(actor(&event.actor)),
                edited_at: Some(timestamp(event.occurred_at)),
                decided_at: None,
            }),
        }),
        EventKind::ReportPublished => Payload::ReportPublished(v1::ReportPublished {
            answer: answer(report, v1::AnswerVisibility::Published, event.occurred_at),
        }),
        EventKind::ReportAnsweredPrivately { delivery: d, note } => {
            Payload::ReportAnsweredPrivately(v1::ReportAnsweredPrivately {
                answer: answer(report, v1::AnswerVisibility::Private, event.occurred_at),
                delivery: delivery(*d) as i32,
                note: note.clone().unwrap_or_default(),
            })
        }
        EventKind::ReportWithheld { legal_basis } => {
            Payload::ReportWithheld(v1::ReportWithheld { reason: legal_basis.clone() })
        }
        EventKind::ReportRated { rating: r, feedback } => Payload::ReportRated(v1::ReportRated {
            rating: Some(v1::Rating {
                value: rating(*r) as i32,
                feedback: feedback.clone().unwrap_or_default(),
                rated_at: Some(timestamp(event.occurred_at)),
            }),
        }),
        EventKind::ReportReopened { feedback, assignments } => Payload::ReportReopened(v1::ReportReopened {
            reason: feedback.clone(),
            agency_unit_ids: assignments.iter().map(|a| a.agency.to_string()).collect(),
            assignments: assignments.iter().map(|d| dispatched(d, &id, event.occurred_at)).collect(),
        }),
    }
}

/// Attachment references by id, as a result lists them.
fn attachment_refs(ids: &[String]) -> Vec<v1::Attachment> {
    ids.iter().map(|id| v1::Attachment { id: id.clone(), ..Default::default() }).collect()
}

/// An assignment as a dispatch (or a reopen) states it.
fn dispatched(d: &lc::DispatchedAssignment, report_id: &str, at: DateTime<Utc>) -> v1::Assignment {
    let open = [d.return_window, d.explanation_window, d.handling];
    v1::Assignment {
        id: d.id.to_string(),
        report_id: report_id.to_string(),
        agency_unit_id: d.agency.to_string(),
        lead: d.lead,
        status: v1::AssignmentStatus::Assigned as i32,
        handling_deadline: Some(deadline(&d.handling)),
        stage_deadline: open.iter().min_by_key(|x| x.due_at).map(deadline),
        assigned_at: Some(timestamp(at)),
        instructions: d.instructions.clone().unwrap_or_default(),
        open_deadlines: open.iter().map(deadline).collect(),
        ..Default::default()
    }
}

/// Directives have no id of their own in the domain; the event that issued them names them.
fn event_scoped_id(event: &Event) -> String {
    format!("{}@{}", event.report_id, event.occurred_at.timestamp_micros())
}

/// The envelope of a domain event, ready to encode and publish.
pub fn envelope(event_id: Uuid, event: &Event, payload: Payload) -> v1::EventEnvelope {
    v1::EventEnvelope {
        event_id: event_id.to_string(),
        report_id: event.report_id.to_string(),
        instance_id: event.stamp.producer.instance.to_string(),
        occurred_at: Some(timestamp(event.occurred_at)),
        actor: Some(actor(&event.actor)),
        producer: event.stamp.producer.service.as_str().to_string(),
        sequence: event.stamp.seq,
        after: event
            .stamp
            .after
            .iter()
            .map(|s| v1::FactPosition {
                instance_id: s.producer.instance.to_string(),
                producer: s.producer.service.as_str().to_string(),
                sequence: s.seq,
            })
            .collect(),
        payload: Some(payload),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip() {
        let t = Utc.with_ymd_and_hms(2027, 2, 4, 16, 0, 0).unwrap() + chrono::TimeDelta::microseconds(123);
        assert_eq!(from_timestamp(&timestamp(t)), Some(t));
        assert_eq!(
            from_date(&date(NaiveDate::from_ymd_opt(2027, 2, 29 - 1).unwrap())),
            NaiveDate::from_ymd_opt(2027, 2, 28)
        );
        assert_eq!(from_date(&v1::Date { year: 2027, month: 2, day: 29 }), None);
    }

    #[test]
    fn every_domain_status_has_a_protocol_status_of_the_same_name() {
        for s in lc::ReportStatus::ALL {
            let name = report_status(s).as_str_name().trim_start_matches("REPORT_STATUS_").to_lowercase();
            assert_eq!(name, s.as_str());
        }
        for s in lc::AssignmentStatus::ALL {
            let name = assignment_status(s).as_str_name().trim_start_matches("ASSIGNMENT_STATUS_").to_lowercase();
            assert_eq!(name, s.as_str());
        }
        for s in Stage::ALL {
            assert_eq!(stage(s).as_str_name().trim_start_matches("DEADLINE_STAGE_").to_lowercase(), s.as_str());
        }
        for r in Role::ALL {
            assert_eq!(role(r).as_str_name().trim_start_matches("ROLE_").to_lowercase(), r.as_str());
        }
    }

    #[test]
    fn every_domain_event_maps_to_a_payload_with_the_same_routing_key() {
        use paht_domain::calendar::WorkingCalendar;
        use paht_domain::ids::{AssignmentId, ReportId, UnitId};
        use paht_domain::lifecycle::{Command, Directive, EscalationReason, NewAssignment, NewReport, Report};

        let cal = WorkingCalendar::vietnam();
        let t0 = Utc.with_ymd_and_hms(2027, 3, 8, 2, 0, 0).unwrap();
        let ioc = Actor::new("op", Role::IocOperator, UnitId::new("IOC"));
        let officer = Actor::new("o", Role::Officer, UnitId::new("AG"));
        let leader = Actor::new("l", Role::Leader, UnitId::new("AG"));
        let office = Actor::new("vp", Role::ProvincialOffice, UnitId::new("VP"));
        let citizen = Actor::new("c", Role::Reporter, UnitId::new("-"));
        let a1 = AssignmentId::from_uuid(Uuid::from_u128(1));
        let a2 = AssignmentId::from_uuid(Uuid::from_u128(2));
        let start = |n: u128| {
            let new = NewReport {
                id: ReportId::from_uuid(Uuid::from_u128(n)),
                instance: UnitId::new("IOC"),
                reporter_ref: None,
                confidential: false,
            };
            Report::receive(new, &Actor::new("s", Role::System, UnitId::new("IOC")), t0, &cal).unwrap()
        };
        let dispatch = |id, agency: &str| Command::Dispatch {
            assignments: vec![NewAssignment { id, agency: UnitId::new(agency), lead: true, instructions: None }],
        };
        let result = |id| Command::SubmitResult { assignment: id, text: "x".into(), attachments: vec![] };
        let paths: Vec<(u128, Vec<(Actor, Command)>)> = vec![
            (
                1,
                vec![
                    (ioc.clone(), Command::Accept),
                    (ioc.clone(), dispatch(a1, "OTHER")),
                    (
                        Actor::new("o", Role::Officer, UnitId::new("OTHER")),
                        Command::Return { assignment: a1, reason: "r".into() },
                    ),
                    (ioc.clone(), dispatch(a2, "AG")),
                    (
                        officer.clone(),
                        Command::Explain {
                            assignment: a2,
                            reason: "r".into(),
                            expected_completion: NaiveDate::from_ymd_opt(2027, 3, 30).unwrap(),
                        },
                    ),
                    (officer.clone(), result(a2)),
                    (leader.clone(), Command::SendBack { assignment: a2, reason: "r".into() }),
                    (officer.clone(), result(a2)),
                    (leader.clone(), Command::Approve { assignment: a2 }),
                    (ioc.clone(), Command::EditAnswer { text: "a".into() }),
                    (ioc.clone(), Command::Publish),
                    (citizen.clone(), Command::Rate { rating: lc::Rating::Normal, feedback: None }),
                    (citizen.clone(), Command::Reopen { feedback: "f".into() }),
                ],
            ),
            (2, vec![(ioc.clone(), Command::Refuse { reason: "r".into() })]),
            (
                3,
                vec![
                    (ioc.clone(), Command::Accept),
                    (
                        ioc.clone(),
                        Command::Escalate { reason: EscalationReason::Untrue, note: "n".into(), duplicate_of: None },
                    ),
                    (office.clone(), Command::Direct(Directive::Close { notice: "n".into() })),
                ],
            ),
            (
                4,
                vec![
                    (ioc.clone(), Command::Accept),
                    (ioc.clone(), dispatch(a1, "AG")),
                    (officer.clone(), result(a1)),
                    (leader.clone(), Command::Approve { assignment: a1 }),
                    (ioc.clone(), Command::EditAnswer { text: "a".into() }),
                    (
                        ioc.clone(),
                        Command::AnswerPrivately { delivery: lc::Delivery::ChannelMessage, note: Some("n".into()) },
                    ),
                ],
            ),
            (
                5,
                vec![
                    (ioc.clone(), Command::Accept),
                    (ioc.clone(), dispatch(a1, "AG")),
                    (officer.clone(), result(a1)),
                    (leader.clone(), Command::Approve { assignment: a1 }),
                    (ioc.clone(), Command::Withhold { legal_basis: "b".into() }),
                ],
            ),
        ];
        let mut seen = std::collections::BTreeSet::new();
        for (n, steps) in paths {
            let first = start(n);
            let mut report = first.report;
            let mut events = first.events.into_iter().map(|e| (e, None)).collect::<Vec<_>>();
            let mut now = t0;
            for (who, cmd) in steps {
                now += chrono::TimeDelta::minutes(30);
                let t = report.apply(cmd, &who, now, &cal).unwrap();
                report = t.report;
                events.extend(t.events.into_iter().map(|e| (e, Some(report.clone()))));
                if let Some((command, routing)) = report.resolution() {
                    let t = report.apply(command, &routing, now, &cal).unwrap();
                    report = t.report;
                    events.extend(t.events.into_iter().map(|e| (e, Some(report.clone()))));
                }
            }
            for (event, after) in events {
                let p = payload(&event, after.as_ref().unwrap_or(&report), None);
                assert_eq!(crate::routing_key(&p), event.kind.routing_key(), "{:?}", event.kind);
                seen.insert(event.kind.routing_key());
                assert!(
                    lc::FACTS.contains(&(event.kind.routing_key(), event.kind.producer())),
                    "{} is in the table of facts with its producer",
                    event.kind.routing_key()
                );
                let env = envelope(Uuid::from_u128(9), &event, p);
                assert_eq!(env.report_id, event.report_id.to_string());
            }
        }
        assert_eq!(seen.len(), 19, "every domain event kind was exercised: {seen:?}");
    }

    // Issue 10, R7.2, R8.2a, R8.2b, R9.2, R10.2: every deadline running is shown with its stage —
    // the explanation window included — the stage deadline is the next one to meet as of the
    // read (an ended window never shows), and the resolution time and answer deadline appear.
    #[test]
    fn every_running_deadline_is_shown_and_the_stage_deadline_is_the_next_to_meet() {
        use chrono::TimeDelta;
        use paht_domain::calendar::WorkingCalendar;
        use paht_domain::ids::{AssignmentId, ReportId, UnitId};
        use paht_domain::lifecycle::{Command, NewAssignment, NewReport, Report};

        let cal = WorkingCalendar::vietnam();
        let t0 = Utc.with_ymd_and_hms(2027, 3, 8, 2, 0, 0).unwrap(); // Monday 09:00 in Vietnam
        let ioc = Actor::new("op", Role::IocOperator, UnitId::new("IOC"));
        let officer = Actor::new("o", Role::Officer, UnitId::new("AG"));
        let leader = Actor::new("l", Role::Leader, UnitId::new("AG"));
        let a1 = AssignmentId::from_uuid(Uuid::from_u128(1));
        let new = NewReport {
            id: ReportId::from_uuid(Uuid::from_u128(7)),
            instance: UnitId::new("IOC"),
            reporter_ref: None,
            confidential: false,
        };
        let mut report =
            Report::receive(new, &Actor::new("s", Role::System, UnitId::new("IOC")), t0, &cal).unwrap().report;
        let view = |report: &Report, now| {
            let mut out = v1::Report::default();
            fill_lifecycle(&mut out, report, now);
            out
        };
        let stages =
            |ds: &[v1::Deadline]| ds.iter().map(|d| v1::DeadlineStage::try_from(d.stage).unwrap()).collect::<Vec<_>>();
        let stage_of =
            |a: &v1::Assignment| a.stage_deadline.as_ref().map(|d| v1::DeadlineStage::try_from(d.stage).unwrap());
        let due = |d: &v1::Deadline| from_timestamp(d.due_at.as_ref().unwrap()).unwrap();
        use v1::DeadlineStage as S;

        let received = view(&report, t0);
        assert_eq!(stages(&received.open_deadlines), [S::Check]);
        assert!(received.resolved_at.is_none() && received.answer_deadline.is_none());

        let step = |report: &mut Report, who: &Actor, command, at| {
            *report = report.apply(command, who, at, &cal).unwrap().report;
            if let Some((command, routing)) = report.resolution() {
                *report = report.apply(command, &routing, at, &cal).unwrap().report;
            }
        };
        let at = |minutes| t0 + TimeDelta::minutes(minutes);
        step(&mut report, &ioc, Command::Accept, at(10));
        let assign = NewAssignment { id: a1, agency: UnitId::new("AG"), lead: true, instructions: None };
        step(&mut report, &ioc, Command::Dispatch { assignments: vec![assign] }, at(20));

        let dispatched = view(&report, at(21));
        assert!(dispatched.open_deadlines.is_empty(), "the IOC has nothing left to meet");
        let a = &dispatched.assignments[0];
        assert_eq!(stages(&a.open_deadlines), [S::Return, S::Explanation, S::Handling]);
        assert_eq!(stage_of(a), Some(S::Return));
        let (return_due, explanation_due, handling_due) =
            (due(&a.open_deadlines[0]), due(&a.open_deadlines[1]), due(&a.open_deadlines[2]));
        assert!(return_due < explanation_due && explanation_due < handling_due);
        assert_eq!(a.open_deadlines[1].basis, "R8.2a: 2 working day(s) from the next working day");

        // The return window ends: the explanation window is next; then handling, overdue or not.
        let a = &view(&report, return_due + TimeDelta::seconds(1)).assignments[0];
        assert_eq!((stages(&a.open_deadlines), stage_of(a)), (vec![S::Explanation, S::Handling], Some(S::Explanation)));
        let a = &view(&report, explanation_due + TimeDelta::seconds(1)).assignments[0];
        assert_eq!((stages(&a.open_deadlines), stage_of(a)), (vec![S::Handling], Some(S::Handling)));
        let a = &view(&report, handling_due + TimeDelta::days(3)).assignments[0];
        assert_eq!(stage_of(a), Some(S::Handling), "an overdue handling deadline stays shown");

        // An explanation moves handling to the expected date; it is the stage deadline at once.
        let expected = NaiveDate::from_ymd_opt(2027, 3, 26).unwrap();
        let explain = Command::Explain { assignment: a1, reason: "r".into(), expected_completion: expected };
        step(&mut report, &officer, explain, at(60));
        let a = &view(&report, at(61)).assignments[0];
        assert_eq!((stages(&a.open_deadlines), stage_of(a)), (vec![S::Handling], Some(S::Handling)));
        assert!(due(a.stage_deadline.as_ref().unwrap()) > handling_due);

        let result = || Command::SubmitResult { assignment: a1, text: "x".into(), attachments: vec![] };
        step(&mut report, &officer, result(), at(120));
        let a = &view(&report, at(121)).assignments[0];
        assert_eq!((stages(&a.open_deadlines), stage_of(a)), (vec![S::Approval], Some(S::Approval)));
        step(&mut report, &leader, Command::SendBack { assignment: a1, reason: "r".into() }, at(130));
        let a = &view(&report, at(131)).assignments[0];
        assert_eq!((stages(&a.open_deadlines), stage_of(a)), (vec![S::Handling], Some(S::Handling)));
        step(&mut report, &officer, result(), at(140));
        step(&mut report, &leader, Command::Approve { assignment: a1 }, at(150));

        let resolved = view(&report, at(151));
        let a = &resolved.assignments[0];
        assert!(a.open_deadlines.is_empty() && a.stage_deadline.is_none());
        assert_eq!(resolved.resolved_at, Some(timestamp(at(150))));
        let answer = resolved.answer_deadline.clone().unwrap();
        assert_eq!((S::try_from(answer.stage).unwrap(), answer.started_at), (S::Answer, Some(timestamp(at(150)))));
        assert_eq!(stages(&resolved.open_deadlines), [S::Answer]);
        assert_eq!(resolved.open_deadlines[0], answer);
    }
}
