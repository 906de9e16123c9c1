//! Replaying another service's events onto a local copy of a report's lifecycle.
//!
//! Every service that acts on reports after the check keeps its own copy of the pure
//! lifecycle state (`paht_domain::lifecycle::Report`). The facts other services publish
//! reach it as events; [`replay`] turns each envelope back into the domain command its
//! producer applied, with the same actor and the same instant, so applying it with the
//! same calendar yields the same state the producer has. Facts that follow from an
//! earlier command (`report.resolved` after the last approval, `report.closed` after a
//! closing directive) replay as [`Replay::Nothing`].

use chrono::{DateTime, Utc};
use paht_domain::actor::{Actor, Role};
use paht_domain::calendar::WorkingCalendar;
use paht_domain::ids::{AssignmentId, ReportId, UnitId};
use paht_domain::lifecycle::{self as lc, Command, LifecycleError, NewAssignment, Transition};
use thiserror::Error;
use uuid::Uuid;

use crate::convert::{from_date, from_timestamp};
use crate::v1;
use crate::v1::event_envelope::Payload;

/// Why an envelope cannot be replayed: it is malformed, so retrying will not help.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReplayError {
    /// A field is missing or malformed.
    #[error("event {field}: {problem}")]
    Malformed {
        /// The envelope field, e.g. `payload.report.received_at`.
        field: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
}

fn malformed(field: &'static str, problem: &'static str) -> ReplayError {
    ReplayError::Malformed { field, problem }
}

/// What an event means for a replica.
#[derive(Debug, Clone, PartialEq)]
pub enum Replay {
    /// `report.received`: start a replica from the report as received (no personal data).
    Received {
        /// The report's content as received, with its check deadline.
        view: Box<v1::Report>,
    },
    /// A command the producer applied: apply it with the same actor and time.
    Apply {
        /// The command.
        command: Command,
        /// Who gave it.
        actor: Actor,
        /// When.
        at: DateTime<Utc>,
        /// The category confirmed at the check (`report.accepted` only).
        category_id: Option<String>,
    },
    /// A fact with no effect on the lifecycle, or one an earlier command already had.
    Nothing,
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

fn uuid(field: &'static str, value: &str) -> Result<Uuid, ReplayError> {
    Uuid::parse_str(value).map_err(|_| malformed(field, "not a UUID"))
}

fn assignment_id(field: &'static str, value: &str) -> Result<AssignmentId, ReplayError> {
    uuid(field, value).map(AssignmentId::from_uuid)
}

/// The report id an envelope is about.
pub fn report_id(envelope: &v1::EventEnvelope) -> Result<ReportId, ReplayError> {
    uuid("report_id", &envelope.report_id).map(ReportId::from_uuid)
}

/// What `envelope` means for a replica of its report.
pub fn replay(envelope: &v1::EventEnvelope) -> Result<Replay, ReplayError> {
    let payload = envelope.payload.as_ref().ok_or_else(|| malformed("payload", "missing"))?;
    if let Payload::ReportReceived(received) = payload {
        let view = received.report.clone().ok_or_else(|| malformed("payload.report", "missing"))?;
        return Ok(Replay::Received { view: Box::new(view) });
    }
    let mut category_id = None;
    let command = match payload {
        Payload::ReportReceived(_) => unreachable!("handled above"),
        Payload::ReportAccepted(accepted) => {
            category_id = Some(accepted.category_id.clone()).filter(|c| !c.is_empty());
            Command::Accept
        }
        Payload::ReportRefused(refused) => Command::Refuse { reason: refused.reason.clone() },
        Payload::ReportDispatched(dispatched) => Command::Dispatch {
            assignments: dispatched
                .assignments
                .iter()
                .map(|a| {
                    Ok(NewAssignment {
                        id: assignment_id("payload.assignments.id", &a.id)?,
                        agency: UnitId::new(&a.agency_unit_id),
                        lead: a.lead,
                        instructions: Some(a.instructions.clone()).filter(|i| !i.is_empty()),
                    })
                })
                .collect::<Result<_, ReplayError>>()?,
        },
        Payload::AssignmentReturned(r) => Command::Return {
            assignment: assignment_id("payload.assignment_id", &r.assignment_id)?,
            reason: r.reason.clone(),
        },
        Payload::AssignmentExplained(e) => {
            let explanation = e.explanation.as_ref().ok_or_else(|| malformed("payload.explanation", "missing"))?;
            Command::Explain {
                assignment: assignment_id("payload.assignment_id", &e.assignment_id)?,
                reason: explanation.reason.clone(),
                expected_completion: explanation
                    .expected_completion_date
                    .as_ref()
                    .and_then(from_date)
                    .ok_or_else(|| malformed("payload.explanation.expected_completion_date", "missing or invalid"))?,
            }
        }
        Payload::AssignmentResultSubmitted(s) => {
            let result = s.result.as_ref().ok_or_else(|| malformed("payload.result", "missing"))?;
            Command::SubmitResult {
                assignment: assignment_id("payload.assignment_id", &s.assignment_id)?,
                text: result.text.clone(),
                attachments: result.attachments.iter().map(|a| a.id.clone()).collect(),
            }
        }
        Payload::AssignmentApproved(a) => {
            Command::Approve { assignment: assignment_id("payload.assignment_id", &a.assignment_id)? }
        }
        Payload::AssignmentSentBack(s) => Command::SendBack {
            assignment: assignment_id("payload.assignment_id", &s.assignment_id)?,
            reason: s.reason.clone(),
        },
        Payload::ReportEscalated(e) => {
            let escalation = e.escalation.as_ref().ok_or_else(|| malformed("payload.escalation", "missing"))?;
            let duplicate_of = Some(escalation.duplicate_of.as_str())
                .filter(|d| !d.is_empty())
                .map(|d| uuid("payload.escalation.duplicate_of", d).map(ReportId::from_uuid))
                .transpose()?;
            Command::Escalate {
                reason: escalation_reason_from(escalation.reason)
                    .ok_or_else(|| malformed("payload.escalation.reason", "unset or unknown"))?,
                note: escalation.note.clone(),
                duplicate_of,
            }
        }
        Payload::DirectiveIssued(d) => {
            let directive = d.directive.as_ref().ok_or_else(|| malformed("payload.directive", "missing"))?;
            Command::Direct(match directive.action.as_ref() {
                Some(v1::directive::Action::Dispatch(dispatch)) => {
                    if dispatch.assignment_ids.len() != dispatch.agency_unit_ids.len() {
                        return Err(malformed("payload.directive.dispatch.assignment_ids", "not one per agency"));
                    }
                    let lead = |agency: &str| {
                        if dispatch.lead_agency_unit_id.is_empty() {
                            dispatch.agency_unit_ids.len() == 1
                        } else {
                            dispatch.lead_agency_unit_id == agency
                        }
                    };
                    lc::Directive::Dispatch {
                        assignments: dispatch
                            .agency_unit_ids
                            .iter()
                            .zip(&dispatch.assignment_ids)
                            .map(|(agency, id)| {
                                Ok(NewAssignment {
                                    id: assignment_id("payload.directive.dispatch.assignment_ids", id)?,
                                    agency: UnitId::new(agency),
                                    lead: lead(agency),
                                    // As issued: the domain gives them the directive's instructions.
                                    instructions: None,
                                })
                            })
                            .collect::<Result<_, ReplayError>>()?,
                        note: directive.instructions.clone(),
                    }
                }
                Some(v1::directive::Action::Close(close)) => lc::Directive::Close { notice: close.notice.clone() },
                None => return Err(malformed("payload.directive.action", "missing")),
            })
        }
        Payload::AnswerEdited(e) => Command::EditAnswer {
            text: e.answer.as_ref().map(|a| a.text.clone()).ok_or_else(|| malformed("payload.answer", "missing"))?,
        },
        Payload::ReportPublished(_) => Command::Publish,
        Payload::ReportAnsweredPrivately(_) => Command::AnswerPrivately,
        Payload::ReportWithheld(w) => Command::Withhold { legal_basis: w.reason.clone() },
        Payload::ReportRated(r) => {
            let rating = r.rating.as_ref().ok_or_else(|| malformed("payload.rating", "missing"))?;
            Command::Rate {
                rating: rating_from(rating.value)
                    .ok_or_else(|| malformed("payload.rating.value", "unset or unknown"))?,
                feedback: Some(rating.feedback.clone()).filter(|f| !f.is_empty()),
            }
        }
        Payload::ReportReopened(r) => Command::Reopen { feedback: r.reason.clone() },
        Payload::ReportClosed(_)
        | Payload::ReportResolved(_)
        | Payload::ReportLinkedAsDuplicate(_)
        | Payload::DeadlineDueSoon(_)
        | Payload::DeadlineMissed(_) => return Ok(Replay::Nothing),
    };
    let actor =
        envelope.actor.as_ref().and_then(actor_from).ok_or_else(|| malformed("actor", "missing or without a role"))?;
    let at =
        envelope.occurred_at.as_ref().and_then(from_timestamp).ok_or_else(|| malformed("occurred_at", "missing"))?;
    Ok(Replay::Apply { command, actor, at, category_id })
}

/// The lifecycle state of a report just received, as its producer built it: the same
/// fields `Report::receive` sets, from the received view and the same calendar.
pub fn received_state(view: &v1::Report, cal: &WorkingCalendar) -> Result<lc::Report, ReplayError> {
    let id = uuid("payload.report.id", &view.id).map(ReportId::from_uuid)?;
    let received_at = view
        .received_at
        .as_ref()
        .and_then(from_timestamp)
        .ok_or_else(|| malformed("payload.report.received_at", "missing"))?;
    let new = lc::NewReport {
        id,
        instance: UnitId::new(&view.instance_id),
        reporter_ref: None,
        confidential: view.reporter_confidential,
    };
    let system = Actor { subject: "replica".into(), role: Role::System, unit: UnitId::new(&view.instance_id) };
    lc::Report::receive(new, &system, received_at, cal)
        .map(|t| t.report)
        .map_err(|_| malformed("payload.report.received_at", "outside the calendar's range"))
}

/// Applies a replayed command to a replica. A dispatch whose assignments the replica
/// already has (a directive's dispatch arrives as `directive.issued` and again as
/// `report.dispatched`) changes nothing: `Ok(None)`.
pub fn apply(
    report: &lc::Report,
    command: Command,
    actor: &Actor,
    at: DateTime<Utc>,
    cal: &WorkingCalendar,
) -> Result<Option<Transition>, LifecycleError> {
    if let Command::Dispatch { assignments } = &command
        && !assignments.is_empty()
        && assignments.iter().all(|a| report.assignment(a.id).is_some())
    {
        return Ok(None);
    }
    report.apply(command, actor, at, cal).map(Some)
}

#[cfg(test)]
mod tests;
