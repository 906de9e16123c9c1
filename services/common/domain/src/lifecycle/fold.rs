//! How each fact folds into a view of the report, in any state it can arrive in.
//!
//! Folding never fails and never consults a calendar: ids, instants, deadlines and the
//! actor come from the fact as its owner stated them. The owner's own state is the fold
//! of its own facts too ([`Report::apply`](super::Report::apply)), so every view that
//! folded the same facts is equal.
//!
//! Facts of different producers that were decided without knowing of each other
//! (routing dispatches, escalates or closes while an agency acts on its assignment)
//! commute: each writes only what its owner decides, and what depends on several owners
//! (the report's status while agencies work, whether a return waits for re-dispatch,
//! the report-level deadlines) is derived afresh after every fold ([`Report::settle`]).

use super::event::{DispatchedAssignment, Event, EventKind};
use super::{Answer, Assignment, AssignmentStatus, Escalation, Explanation, HandlingResult, Report, ReportStatus};

impl Report {
    /// The view a `report.received` fact starts; `None` for any other fact.
    pub fn genesis(event: &Event) -> Option<Report> {
        let EventKind::ReportReceived { check, confidential } = &event.kind else {
            return None;
        };
        let mut report = Report {
            id: event.report_id,
            instance: event.instance.clone(),
            status: ReportStatus::Received,
            received_at: event.occurred_at,
            reporter_ref: None,
            confidential: *confidential,
            open_deadlines: Vec::new(),
            at_ioc_since: event.occurred_at,
            awaiting_redispatch: false,
            assignments: Vec::new(),
            refusal_reason: None,
            escalation: None,
            directive: None,
            answer: None,
            visibility: None,
            rating: None,
            reopen_count: 0,
            check_deadline: Some(*check),
            answer_deadline: None,
            answered_returns: Vec::new(),
            seen: Default::default(),
        };
        report.seen.advance(&event.stamp.producer, event.stamp.seq);
        report.settle();
        Some(report)
    }

    /// Folds one fact as stated. A fact about an assignment this view does not know
    /// (it cannot arrive before its dispatch when admitted in order) changes nothing
    /// but the progress.
    pub fn fold(&mut self, event: &Event) {
        let at = event.occurred_at;
        match &event.kind {
            // A second arrival of the same report changes nothing.
            EventKind::ReportReceived { .. } => {}
            EventKind::ReportAccepted => {
                if self.status == ReportStatus::Received {
                    self.status = ReportStatus::Accepted;
                }
            }
            EventKind::ReportRefused { reason } => {
                self.status = ReportStatus::Refused;
                self.refusal_reason = Some(reason.clone());
            }
            EventKind::ReportDispatched { assignments, answers_returns } => {
                for d in assignments {
                    if self.assignment(d.id).is_none() {
                        self.assignments.push(assigned(d, at));
                    }
                }
                for id in answers_returns {
                    if !self.answered_returns.contains(id) {
                        self.answered_returns.push(*id);
                    }
                }
                if matches!(self.status, ReportStatus::Accepted | ReportStatus::Escalated) {
                    self.status = ReportStatus::Dispatched;
                }
            }
            EventKind::AssignmentReturned { assignment, reason, check, .. } => {
                if let Some(a) = self.assignment_mut(*assignment) {
                    a.return_reason = Some(reason.clone());
                    a.return_check = Some(*check);
                    if a.status != AssignmentStatus::Cancelled {
                        a.status = AssignmentStatus::Returned;
                        a.open_deadlines.clear();
                    }
                }
                self.at_ioc_since = self.at_ioc_since.max(at);
            }
            EventKind::AssignmentExplained { assignment, reason, expected_completion, handling, .. } => {
                if let Some(a) = self.assignment_mut(*assignment) {
                    a.explanation =
                        Some(Explanation { reason: reason.clone(), expected_completion: *expected_completion, at });
                    a.handling = *handling;
                    if a.status != AssignmentStatus::Cancelled {
                        a.status = AssignmentStatus::Explained;
                        a.open_deadlines = vec![*handling];
                    }
                }
            }
            EventKind::AssignmentResultSubmitted { assignment, text, attachments, approval, .. } => {
                let officer = event.actor.clone();
                if let Some(a) = self.assignment_mut(*assignment) {
                    a.result =
                        Some(HandlingResult { text: text.clone(), attachments: attachments.clone(), officer, at });
                    if a.status != AssignmentStatus::Cancelled {
                        a.status = AssignmentStatus::ResultSubmitted;
                        a.open_deadlines = vec![*approval];
                    }
                }
            }
            EventKind::AssignmentApproved { assignment, .. } => {
                let leader = event.actor.clone();
                if let Some(a) = self.assignment_mut(*assignment) {
                    a.approval = Some((leader, at));
                    if a.status != AssignmentStatus::Cancelled {
                        a.status = AssignmentStatus::Approved;
                        a.open_deadlines.clear();
                    }
                }
            }
            EventKind::AssignmentSentBack { assignment, reason, .. } => {
                if let Some(a) = self.assignment_mut(*assignment) {
                    a.send_back_reason = Some(reason.clone());
                    if a.status != AssignmentStatus::Cancelled {
                        a.status = AssignmentStatus::SentBack;
                        a.open_deadlines = vec![a.handling];
                    }
                }
            }
            EventKind::ReportEscalated { reason, note, duplicate_of, deadline } => {
                self.status = ReportStatus::Escalated;
                self.escalation = Some(Escalation {
                    reason: *reason,
                    note: note.clone(),
                    duplicate_of: *duplicate_of,
                    at,
                    deadline: *deadline,
                });
            }
            EventKind::DirectiveIssued { directive } => {
                if matches!(directive, super::Directive::Dispatch { .. }) && self.status == ReportStatus::Escalated {
                    self.status = ReportStatus::Dispatched;
                }
                self.directive = Some(directive.clone());
            }
            EventKind::ReportClosed { cancelled, .. } => {
                for a in self.assignments.iter_mut().filter(|a| cancelled.contains(&a.id)) {
                    a.status = AssignmentStatus::Cancelled;
                    a.open_deadlines.clear();
                }
                self.status = ReportStatus::Closed;
            }
            EventKind::ReportResolved { answer, .. } => {
                self.status = ReportStatus::Resolved;
                self.answer_deadline = Some(*answer);
            }
            EventKind::AnswerEdited { text } => {
                self.answer = Some(Answer {
                    text: text.clone(),
                    edited_by: event.actor.clone(),
                    edited_at: at,
                    decided_at: None,
                });
            }
            EventKind::ReportPublished => {
                self.status = ReportStatus::Published;
                self.decide_answer(super::Visibility::Published, at);
            }
            EventKind::ReportAnsweredPrivately { .. } => {
                self.status = ReportStatus::AnsweredPrivately;
                self.decide_answer(super::Visibility::Private, at);
            }
            EventKind::ReportWithheld { .. } => {
                self.status = ReportStatus::Withheld;
                self.decide_answer(super::Visibility::Withheld, at);
            }
            EventKind::ReportRated { rating, feedback } => {
                self.status = ReportStatus::Rated;
                self.rating = Some((*rating, feedback.clone()));
            }
            EventKind::ReportReopened { assignments, .. } => {
                for d in assignments {
                    if let Some(slot) = self.assignment_mut(d.id) {
                        // Keep the earlier result and the instructions for the record;
                        // the new round starts clean otherwise.
                        let result = slot.result.take();
                        let instructions = slot.instructions.take().or_else(|| d.instructions.clone());
                        *slot = Assignment { result, instructions, ..assigned(d, at) };
                    }
                }
                self.status = ReportStatus::Reopened;
                self.reopen_count += 1;
                self.answer = None;
                self.visibility = None;
                self.rating = None;
                self.answer_deadline = None;
            }
        }
        self.seen.advance(&event.stamp.producer, event.stamp.seq);
        self.settle();
    }

    fn decide_answer(&mut self, visibility: super::Visibility, at: chrono::DateTime<chrono::Utc>) {
        self.visibility = Some(visibility);
        if let Some(answer) = self.answer.as_mut() {
            answer.decided_at = Some(at);
        }
    }

    fn assignment_mut(&mut self, id: crate::ids::AssignmentId) -> Option<&mut Assignment> {
        self.assignments.iter_mut().find(|a| a.id == id)
    }

    /// Derives what depends on several owners' facts: whether a return waits for
    /// re-dispatch, when the case last reached the IOC, the status while agencies work
    /// (none left at work: back to `accepted`), and the report-level deadlines.
    fn settle(&mut self) {
        let unanswered =
            |a: &&Assignment| a.status == AssignmentStatus::Returned && !self.answered_returns.contains(&a.id);
        self.awaiting_redispatch = self.assignments.iter().any(|a| unanswered(&a));
        let pending_check =
            self.assignments.iter().filter(unanswered).filter_map(|a| a.return_check).max_by_key(|d| d.started_at);
        if matches!(self.status, ReportStatus::Accepted | ReportStatus::Dispatched | ReportStatus::Reopened) {
            let at_work = self.active_assignments().next().is_some();
            self.status = match (at_work, self.reopen_count > 0) {
                (false, _) => ReportStatus::Accepted,
                (true, false) => ReportStatus::Dispatched,
                (true, true) => ReportStatus::Reopened,
            };
        }
        self.open_deadlines = match self.status {
            ReportStatus::Received | ReportStatus::Accepted if self.assignments.is_empty() => {
                self.check_deadline.into_iter().collect()
            }
            ReportStatus::Accepted | ReportStatus::Dispatched | ReportStatus::Reopened => {
                pending_check.into_iter().collect()
            }
            ReportStatus::Resolved => self.answer_deadline.into_iter().collect(),
            _ => Vec::new(),
        };
    }
}

/// A fresh assignment as dispatched (or given back by a reopen), with its stated deadlines.
fn assigned(d: &DispatchedAssignment, at: chrono::DateTime<chrono::Utc>) -> Assignment {
    Assignment {
        id: d.id,
        agency: d.agency.clone(),
        lead: d.lead,
        instructions: d.instructions.clone(),
        status: AssignmentStatus::Assigned,
        assigned_at: at,
        handling: d.handling,
        open_deadlines: vec![d.return_window, d.explanation_window, d.handling],
        explanation: None,
        result: None,
        return_reason: None,
        send_back_reason: None,
        approval: None,
        return_check: None,
    }
}
