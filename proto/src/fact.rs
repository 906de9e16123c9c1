//! Facts off the wire: an envelope decoded back into the domain fact its owner stated.
//!
//! Every service keeps its own view of a report and folds the other services' facts
//! into it as stated (`paht_domain::lifecycle::Report::fold`): the ids, instants,
//! deadlines and actor all come from the envelope, nothing is recomputed. [`fact`] is
//! the inverse of `convert::payload` + `convert::envelope` for every fact of the
//! lifecycle (a test sends whole lifecycles through encode → decode and finds the same
//! facts); reminders and duplicate links change no view and decode to `None`.

use chrono::{DateTime, Utc};
use paht_domain::actor::{Actor, Role};
use paht_domain::deadline::{Deadline, Rule, Stage};
use paht_domain::ids::{AssignmentId, ReportId, UnitId};
use paht_domain::lifecycle::{
    self as lc, DispatchedAssignment, Event, EventKind, NewAssignment, Producer, Seen, Stamp,
};
use thiserror::Error;
use uuid::Uuid;

use crate::convert::{from_date, from_timestamp};
use crate::v1;
use crate::v1::event_envelope::Payload;

/// Why an envelope cannot be decoded into a fact: it is malformed, so retrying will not help.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FactError {
    /// A field is missing or malformed.
    #[error("event {field}: {problem}")]
    Malformed {
        /// The envelope field, e.g. `payload.report.received_at`.
        field: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
}

fn malformed(field: &'static str, problem: &'static str) -> FactError {
    FactError::Malformed { field, problem }
}

/// A domain role from the protocol's; `None` for an unset or unknown value.
pub fn role_from(value: i32) -> Option<Role> {
    Some(match v1::Role::try_from(value).ok()? {
        v1::Role::Reporter => Role::Reporter,
        v1::Role::IocOperator => Role::IocOperator,
        v1::Role::Officer => Role::Officer,
        v1::Role::Leader => Role::Leader,
        v1::Role::ProvincialOffice => Role::ProvincialOffice,
        v1::Role::SystemOperator => Role::SystemOperator,
        v1::Role::Inspector => Role::Inspector,
        v1::Role::System => Role::System,
        v1::Role::Unspecified => return None,
    })
}

/// A domain escalation reason from the protocol's.
pub fn escalation_reason_from(value: i32) -> Option<lc::EscalationReason> {
    use lc::EscalationReason as E;
    Some(match v1::EscalationReason::try_from(value).ok()? {
        v1::EscalationReason::UnclearCompetence => E::UnclearCompetence,
        v1::EscalationReason::Duplicate => E::Duplicate,
        v1::EscalationReason::Untrue => E::Untrue,
        v1::EscalationReason::Unverifiable => E::Unverifiable,
        v1::EscalationReason::AgenciesDisagree => E::AgenciesDisagree,
        v1::EscalationReason::IncompleteHandling => E::IncompleteHandling,
        v1::EscalationReason::Unspecified => return None,
    })
}

/// A domain rating from the protocol's.
pub fn rating_from(value: i32) -> Option<lc::Rating> {
    Some(match v1::RatingValue::try_from(value).ok()? {
        v1::RatingValue::Satisfied => lc::Rating::Satisfied,
        v1::RatingValue::Normal => lc::Rating::Normal,
        v1::RatingValue::Unsatisfied => lc::Rating::Unsatisfied,
        v1::RatingValue::Unspecified => return None,
    })
}

/// A domain actor from the protocol's.
pub fn actor_from(actor: &v1::Actor) -> Option<Actor> {
    Some(Actor { subject: actor.subject.clone(), role: role_from(actor.role)?, unit: UnitId::new(&actor.unit_id) })
}

fn uuid(field: &'static str, value: &str) -> Result<Uuid, FactError> {
    Uuid::parse_str(value).map_err(|_| malformed(field, "not a UUID"))
}

fn assignment_id(field: &'static str, value: &str) -> Result<AssignmentId, FactError> {
    uuid(field, value).map(AssignmentId::from_uuid)
}

/// The report id an envelope is about.
pub fn report_id(envelope: &v1::EventEnvelope) -> Result<ReportId, FactError> {
    uuid("report_id", &envelope.report_id).map(ReportId::from_uuid)
}

/// A domain deadline stage from the protocol's.
pub fn stage_from(value: i32) -> Option<Stage> {
    Some(match v1::DeadlineStage::try_from(value).ok()? {
        v1::DeadlineStage::Check => Stage::Check,
        v1::DeadlineStage::Return => Stage::Return,
        v1::DeadlineStage::Explanation => Stage::Explanation,
        v1::DeadlineStage::Handling => Stage::Handling,
        v1::DeadlineStage::Escalation => Stage::Escalation,
        v1::DeadlineStage::Approval => Stage::Approval,
        v1::DeadlineStage::Answer => Stage::Answer,
        v1::DeadlineStage::Unspecified => return None,
    })
}

/// A stated deadline: stage and instants from the wire, the rule its stage has (or `rule`).
fn deadline(field: &'static str, d: Option<&v1::Deadline>, rule: Option<Rule>) -> Result<Deadline, FactError> {
    let d = d.ok_or_else(|| malformed(field, "missing"))?;
    let stage = stage_from(d.stage).ok_or_else(|| malformed(field, "stage unset or unknown"))?;
    let started_at = d.started_at.as_ref().and_then(from_timestamp).ok_or_else(|| malformed(field, "no start"))?;
    let due_at = d.due_at.as_ref().and_then(from_timestamp).ok_or_else(|| malformed(field, "no due instant"))?;
    Ok(Deadline { stage, started_at, due_at, rule: rule.unwrap_or(stage.rule()) })
}

fn assignment_ids(field: &'static str, ids: &[String]) -> Result<Vec<AssignmentId>, FactError> {
    ids.iter().map(|id| assignment_id(field, id)).collect()
}

fn optional_report(field: &'static str, value: &str) -> Result<Option<ReportId>, FactError> {
    Some(value).filter(|d| !d.is_empty()).map(|d| uuid(field, d).map(ReportId::from_uuid)).transpose()
}

/// An assignment as a dispatch or a reopen states it, with its three deadlines.
fn dispatched(a: &v1::Assignment) -> Result<DispatchedAssignment, FactError> {
    let stage = |s: Stage| a.open_deadlines.iter().find(|d| stage_from(d.stage) == Some(s));
    Ok(DispatchedAssignment {
        id: assignment_id("payload.assignments.id", &a.id)?,
        agency: UnitId::new(&a.agency_unit_id),
        lead: a.lead,
        instructions: Some(a.instructions.clone()).filter(|i| !i.is_empty()),
        handling: deadline("payload.assignments.handling_deadline", a.handling_deadline.as_ref(), None)?,
        return_window: deadline("payload.assignments.open_deadlines", stage(Stage::Return), None)?,
        explanation_window: deadline("payload.assignments.open_deadlines", stage(Stage::Explanation), None)?,
    })
}

fn service(field: &'static str, value: &str) -> Result<lc::Service, FactError> {
    value.parse().map_err(|_| malformed(field, "not a service that owns decisions"))
}

fn stamp(envelope: &v1::EventEnvelope) -> Result<Stamp, FactError> {
    if envelope.sequence == 0 {
        return Err(malformed("sequence", "a lifecycle fact is numbered from 1"));
    }
    let producer =
        Producer { instance: UnitId::new(&envelope.instance_id), service: service("producer", &envelope.producer)? };
    let after = envelope
        .after
        .iter()
        .map(|p| {
            Ok(Seen {
                producer: Producer {
                    instance: UnitId::new(&p.instance_id),
                    service: service("after.producer", &p.producer)?,
                },
                seq: p.sequence,
            })
        })
        .collect::<Result<_, FactError>>()?;
    Ok(Stamp { producer, seq: envelope.sequence, after })
}

/// The fact an envelope states, or `None` for one that changes no view of the report
/// (deadline reminders, duplicate links).
pub fn fact(envelope: &v1::EventEnvelope) -> Result<Option<Event>, FactError> {
    let payload = envelope.payload.as_ref().ok_or_else(|| malformed("payload", "missing"))?;
    let kind = match payload {
        Payload::ReportReceived(received) => {
            let report = received.report.as_ref().ok_or_else(|| malformed("payload.report", "missing"))?;
            EventKind::ReportReceived {
                check: deadline("payload.report.check_deadline", report.check_deadline.as_ref(), None)?,
                confidential: report.reporter_confidential,
            }
        }
        Payload::ReportAccepted(_) => EventKind::ReportAccepted,
        Payload::ReportRefused(refused) => EventKind::ReportRefused { reason: refused.reason.clone() },
        Payload::ReportDispatched(d) => EventKind::ReportDispatched {
            assignments: d.assignments.iter().map(dispatched).collect::<Result<_, _>>()?,
            answers_returns: assignment_ids(
                "payload.answers_returned_assignment_ids",
                &d.answers_returned_assignment_ids,
            )?,
        },
        Payload::AssignmentReturned(r) => EventKind::AssignmentReturned {
            assignment: assignment_id("payload.assignment_id", &r.assignment_id)?,
            agency: UnitId::new(&r.agency_unit_id),
            reason: r.reason.clone(),
            check: deadline("payload.check_deadline", r.check_deadline.as_ref(), None)?,
        },
        Payload::AssignmentExplained(e) => {
            let explanation = e.explanation.as_ref().ok_or_else(|| malformed("payload.explanation", "missing"))?;
            let expected_completion = explanation
                .expected_completion_date
                .as_ref()
                .and_then(from_date)
                .ok_or_else(|| malformed("payload.explanation.expected_completion_date", "missing or invalid"))?;
            EventKind::AssignmentExplained {
                assignment: assignment_id("payload.assignment_id", &e.assignment_id)?,
                agency: UnitId::new(&e.agency_unit_id),
                reason: explanation.reason.clone(),
                expected_completion,
                handling: deadline(
                    "payload.handling_deadline",
                    e.handling_deadline.as_ref(),
                    Some(Rule::ByDate(expected_completion)),
                )?,
            }
        }
        Payload::AssignmentResultSubmitted(s) => {
            let result = s.result.as_ref().ok_or_else(|| malformed("payload.result", "missing"))?;
            EventKind::AssignmentResultSubmitted {
                assignment: assignment_id("payload.assignment_id", &s.assignment_id)?,
                agency: UnitId::new(&s.agency_unit_id),
                text: result.text.clone(),
                attachments: result.attachments.iter().map(|a| a.id.clone()).collect(),
                approval: deadline("payload.approval_deadline", s.approval_deadline.as_ref(), None)?,
            }
        }
        Payload::AssignmentApproved(a) => EventKind::AssignmentApproved {
            assignment: assignment_id("payload.assignment_id", &a.assignment_id)?,
            agency: UnitId::new(&a.agency_unit_id),
        },
        Payload::AssignmentSentBack(s) => EventKind::AssignmentSentBack {
            assignment: assignment_id("payload.assignment_id", &s.assignment_id)?,
            agency: UnitId::new(&s.agency_unit_id),
            reason: s.reason.clone(),
        },
        Payload::ReportEscalated(e) => {
            let escalation = e.escalation.as_ref().ok_or_else(|| malformed("payload.escalation", "missing"))?;
            EventKind::ReportEscalated {
                reason: escalation_reason_from(escalation.reason)
                    .ok_or_else(|| malformed("payload.escalation.reason", "unset or unknown"))?,
                note: escalation.note.clone(),
                duplicate_of: optional_report("payload.escalation.duplicate_of", &escalation.duplicate_of)?,
                deadline: deadline("payload.escalation.deadline", escalation.deadline.as_ref(), None)?,
            }
        }
        Payload::DirectiveIssued(d) => {
            let directive = d.directive.as_ref().ok_or_else(|| malformed("payload.directive", "missing"))?;
            EventKind::DirectiveIssued {
                directive: match directive.action.as_ref() {
                    Some(v1::directive::Action::Dispatch(dispatch)) => {
                        if dispatch.assignment_ids.len() != dispatch.agency_unit_ids.len() {
                            return Err(malformed("payload.directive.dispatch.assignment_ids", "not one per agency"));
                        }
                        lc::Directive::Dispatch {
                            assignments: dispatch
                                .agency_unit_ids
                                .iter()
                                .zip(&dispatch.assignment_ids)
                                .map(|(agency, id)| {
                                    Ok(NewAssignment {
                                        id: assignment_id("payload.directive.dispatch.assignment_ids", id)?,
                                        agency: UnitId::new(agency),
                                        lead: dispatch.lead_agency_unit_id == *agency,
                                        // Each agency's instructions travel with the dispatch that follows.
                                        instructions: None,
                                    })
                                })
                                .collect::<Result<_, FactError>>()?,
                            note: directive.instructions.clone(),
                        }
                    }
                    Some(v1::directive::Action::Close(close)) => lc::Directive::Close { notice: close.notice.clone() },
                    None => return Err(malformed("payload.directive.action", "missing")),
                },
            }
        }
        Payload::ReportClosed(c) => EventKind::ReportClosed {
            notice: c.notice.clone(),
            duplicate_of: optional_report("payload.duplicate_of", &c.duplicate_of)?,
            cancelled: assignment_ids("payload.cancelled_assignment_ids", &c.cancelled_assignment_ids)?,
        },
        Payload::ReportResolved(r) => EventKind::ReportResolved {
            assignments: assignment_ids("payload.assignment_ids", &r.assignment_ids)?,
            answer: deadline("payload.answer_deadline", r.answer_deadline.as_ref(), None)?,
        },
        Payload::AnswerEdited(e) => EventKind::AnswerEdited {
            text: e.answer.as_ref().map(|a| a.text.clone()).ok_or_else(|| malformed("payload.answer", "missing"))?,
        },
        Payload::ReportPublished(_) => EventKind::ReportPublished,
        Payload::ReportAnsweredPrivately(p) => EventKind::ReportAnsweredPrivately {
            delivery: crate::convert::delivery_from(p.delivery)
                .ok_or_else(|| malformed("payload.delivery", "unset or unknown"))?,
            note: Some(p.note.clone()).filter(|n| !n.is_empty()),
        },
        Payload::ReportWithheld(w) => EventKind::ReportWithheld { legal_basis: w.reason.clone() },
        Payload::ReportRated(r) => {
            let rating = r.rating.as_ref().ok_or_else(|| malformed("payload.rating", "missing"))?;
            EventKind::ReportRated {
                rating: rating_from(rating.value)
                    .ok_or_else(|| malformed("payload.rating.value", "unset or unknown"))?,
                feedback: Some(rating.feedback.clone()).filter(|f| !f.is_empty()),
            }
        }
        Payload::ReportReopened(r) => EventKind::ReportReopened {
            feedback: r.reason.clone(),
            assignments: r.assignments.iter().map(dispatched).collect::<Result<_, _>>()?,
        },
        Payload::ReportLinkedAsDuplicate(_)
        | Payload::DeadlineDueSoon(_)
        | Payload::DeadlineMissed(_)
        | Payload::FollowUpOpened(_)
        | Payload::FollowUpClosed(_) => {
            return Ok(None);
        }
    };
    let actor =
        envelope.actor.as_ref().and_then(actor_from).ok_or_else(|| malformed("actor", "missing or without a role"))?;
    let occurred_at: DateTime<Utc> =
        envelope.occurred_at.as_ref().and_then(from_timestamp).ok_or_else(|| malformed("occurred_at", "missing"))?;
    let stamp = stamp(envelope)?;
    if stamp.producer.service != kind.producer() {
        return Err(malformed("producer", "not the owner of this fact"));
    }
    Ok(Some(Event {
        report_id: report_id(envelope)?,
        instance: stamp.producer.instance.clone(),
        occurred_at,
        actor,
        kind,
        stamp,
    }))
}

#[cfg(test)]
mod tests;
