//! The transitions: each checks role, unit, state and input, then builds the new
//! state and its events. A refused transition leaves the report untouched (the
//! caller keeps the old value; nothing here mutates its input).

use chrono::{DateTime, Utc};

use super::command::{Action, Command, Directive, EscalationReason, NewAssignment};
use super::error::LifecycleError;
use super::event::{DispatchedAssignment, Event, EventKind};
use super::{
    Answer, Assignment, AssignmentStatus, Escalation, Explanation, HandlingResult, NewReport, Report, ReportStatus,
};
use crate::actor::{Actor, Role};
use crate::calendar::WorkingCalendar;
use crate::deadline::{Deadline, Rule, Stage};
use crate::ids::AssignmentId;

/// The outcome of a transition: the new state and what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The report after the transition.
    pub report: Report,
    /// The events to publish, in order.
    pub events: Vec<Event>,
}

fn require_text(action: Action, field: &'static str, value: &str) -> Result<(), LifecycleError> {
    if value.trim().is_empty() { Err(LifecycleError::MissingField { action, field }) } else { Ok(()) }
}

impl Report {
    /// A report arrives (R5: at any hour): it starts `Received`, with the R7.2 check
    /// deadline. Channels and the hotline desk submit on the reporter's behalf, so
    /// the system, a reporter or an IOC operator may create one.
    pub fn receive(
        new: NewReport,
        actor: &Actor,
        now: DateTime<Utc>,
        cal: &WorkingCalendar,
    ) -> Result<Transition, LifecycleError> {
        if !matches!(actor.role, Role::System | Role::Reporter | Role::IocOperator) {
            return Err(LifecycleError::MayNotSubmit(actor.role));
        }
        let check = Deadline::compute(cal, Stage::Check, now)?;
        let report = Report {
            id: new.id,
            instance: new.instance,
            status: ReportStatus::Received,
            received_at: now,
            reporter_ref: new.reporter_ref,
            confidential: new.confidential,
            open_deadlines: vec![check],
            at_ioc_since: now,
            awaiting_redispatch: false,
            assignments: Vec::new(),
            refusal_reason: None,
            escalation: None,
            directive: None,
            answer: None,
            rating: None,
            reopen_count: 0,
        };
        let event = report.event(actor, now, EventKind::ReportReceived { check_due: check.due_at });
        Ok(Transition { report, events: vec![event] })
    }

    fn event(&self, actor: &Actor, now: DateTime<Utc>, kind: EventKind) -> Event {
        Event { report_id: self.id, instance: self.instance.clone(), occurred_at: now, actor: actor.clone(), kind }
    }

    /// Applies a command by `actor` at `now`: the new state and its events, or why not.
    pub fn apply(
        &self,
        command: Command,
        actor: &Actor,
        now: DateTime<Utc>,
        cal: &WorkingCalendar,
    ) -> Result<Transition, LifecycleError> {
        let action = command.action();
        if actor.role != action.role() {
            return Err(LifecycleError::WrongRole { action, role: actor.role, allowed: action.role() });
        }
        // The unit responsible: the agency for its assignment, the instance for the IOC.
        match command.assignment() {
            // An unknown assignment is reported by the step, after the report's state.
            Some(id) => {
                if let Some(a) = self.assignment(id)
                    && actor.unit != a.agency
                {
                    return Err(LifecycleError::NotYourUnit {
                        action,
                        actor_unit: actor.unit.clone(),
                        required: a.agency.clone(),
                    });
                }
            }
            None if actor.role == Role::IocOperator && actor.unit != self.instance => {
                return Err(LifecycleError::NotYourUnit {
                    action,
                    actor_unit: actor.unit.clone(),
                    required: self.instance.clone(),
                });
            }
            None => {}
        }
        let mut next = self.clone();
        let mut events = Vec::new();
        let mut step = Step { report: &mut next, events: &mut events, actor, now, cal, action };
        step.run(command)?;
        Ok(Transition { report: next, events })
    }
}

/// One transition in progress, on a copy of the report.
struct Step<'a> {
    report: &'a mut Report,
    events: &'a mut Vec<Event>,
    actor: &'a Actor,
    now: DateTime<Utc>,
    cal: &'a WorkingCalendar,
    action: Action,
}

impl Step<'_> {
    fn emit(&mut self, kind: EventKind) {
        let event = self.report.event(self.actor, self.now, kind);
        self.events.push(event);
    }

    fn require_status(&self, allowed: &[ReportStatus]) -> Result<(), LifecycleError> {
        if allowed.contains(&self.report.status) {
            Ok(())
        } else {
            Err(LifecycleError::WrongState { action: self.action, status: self.report.status })
        }
    }

    fn assignment_mut(
        &mut self,
        id: AssignmentId,
        allowed: &[AssignmentStatus],
    ) -> Result<&mut Assignment, LifecycleError> {
        let action = self.action;
        let a = self.report.assignments.iter_mut().find(|a| a.id == id).ok_or(LifecycleError::UnknownAssignment(id))?;
        if allowed.contains(&a.status) {
            Ok(a)
        } else {
            Err(LifecycleError::WrongAssignmentState { action, assignment: id, status: a.status })
        }
    }

    fn deadline(&self, stage: Stage) -> Result<Deadline, LifecycleError> {
        Ok(Deadline::compute(self.cal, stage, self.now)?)
    }

    fn run(&mut self, command: Command) -> Result<(), LifecycleError> {
        use ReportStatus as S;
        let with_agencies = [S::Dispatched, S::Reopened];
        match command {
            Command::Accept => {
                self.require_status(&[S::Received])?;
                self.report.status = S::Accepted;
                self.emit(EventKind::ReportAccepted);
            }
            Command::Refuse { reason } => {
                self.require_status(&[S::Received])?;
                require_text(self.action, "reason", &reason)?;
                self.report.status = S::Refused;
                self.report.open_deadlines.clear();
                self.report.refusal_reason = Some(reason.clone());
                self.emit(EventKind::ReportRefused { reason });
            }
            Command::Dispatch { assignments } => {
                self.require_status(&[S::Accepted, S::Dispatched, S::Reopened])?;
                self.dispatch(assignments)?;
            }
            Command::Return { assignment, reason } => {
                self.require_status(&with_agencies)?;
                require_text(self.action, "reason", &reason)?;
                let a = self.assignment_mut(assignment, &[AssignmentStatus::Assigned])?;
                a.status = AssignmentStatus::Returned;
                a.open_deadlines.clear();
                a.return_reason = Some(reason.clone());
                let agency = a.agency.clone();
                // Back on the IOC's desk: it must forward the report again (R8.2b).
                self.report.awaiting_redispatch = true;
                self.report.at_ioc_since = self.now;
                let check = self.deadline(Stage::Check)?;
                self.report.open_deadlines.retain(|d| d.stage != Stage::Check);
                self.report.open_deadlines.push(check);
                if self.report.active_assignments().next().is_none() {
                    self.report.status = S::Accepted;
                }
                self.emit(EventKind::AssignmentReturned { assignment, agency, reason });
            }
            Command::Explain { assignment, reason, expected_completion } => {
                self.require_status(&with_agencies)?;
                require_text(self.action, "reason", &reason)?;
                let today = self.cal.local_date(self.now);
                if expected_completion <= today {
                    return Err(LifecycleError::ExpectedDateNotInFuture { expected: expected_completion, today });
                }
                let handling =
                    Deadline::with_rule(self.cal, Stage::Handling, self.now, Rule::ByDate(expected_completion))?;
                let now = self.now;
                let a = self.assignment_mut(assignment, &[AssignmentStatus::Assigned])?;
                if a.explanation.is_some() {
                    return Err(LifecycleError::AlreadyExplained(assignment));
                }
                a.status = AssignmentStatus::Explained;
                a.explanation = Some(Explanation { reason: reason.clone(), expected_completion, at: now });
                a.handling = handling;
                a.open_deadlines = vec![handling];
                let agency = a.agency.clone();
                self.emit(EventKind::AssignmentExplained {
                    assignment,
                    agency,
                    reason,
                    expected_completion,
                    handling_due: handling.due_at,
                });
            }
            Command::SubmitResult { assignment, text, attachments } => {
                self.require_status(&with_agencies)?;
                require_text(self.action, "text", &text)?;
                let approval = self.deadline(Stage::Approval)?;
                let (officer, now) = (self.actor.clone(), self.now);
                let a = self.assignment_mut(
                    assignment,
                    &[AssignmentStatus::Assigned, AssignmentStatus::Explained, AssignmentStatus::SentBack],
                )?;
                a.status = AssignmentStatus::ResultSubmitted;
                a.result = Some(HandlingResult { text, attachments, officer, at: now });
                a.open_deadlines = vec![approval];
                let agency = a.agency.clone();
                self.emit(EventKind::AssignmentResultSubmitted { assignment, agency, approval_due: approval.due_at });
            }
            Command::Approve { assignment } => {
                self.require_status(&with_agencies)?;
                let (leader, now) = (self.actor.clone(), self.now);
                let a = self.assignment_mut(assignment, &[AssignmentStatus::ResultSubmitted])?;
                a.status = AssignmentStatus::Approved;
                a.approval = Some((leader, now));
                a.open_deadlines.clear();
                let agency = a.agency.clone();
                self.emit(EventKind::AssignmentApproved { assignment, agency });
                if self.report.all_approved() {
                    let answer = self.deadline(Stage::Answer)?;
                    self.report.status = S::Resolved;
                    self.report.open_deadlines = vec![answer];
                    self.emit(EventKind::ReportResolved { answer_due: answer.due_at });
                }
            }
            Command::SendBack { assignment, reason } => {
                self.require_status(&with_agencies)?;
                require_text(self.action, "reason", &reason)?;
                let a = self.assignment_mut(assignment, &[AssignmentStatus::ResultSubmitted])?;
                a.status = AssignmentStatus::SentBack;
                a.send_back_reason = Some(reason.clone());
                a.open_deadlines = vec![a.handling];
                let agency = a.agency.clone();
                self.emit(EventKind::AssignmentSentBack { assignment, agency, reason });
            }
            Command::Escalate { reason, note, duplicate_of } => {
                self.require_status(&[S::Accepted, S::Dispatched, S::Reopened])?;
                require_text(self.action, "note", &note)?;
                if reason == EscalationReason::Duplicate && duplicate_of.is_none_or(|d| d == self.report.id) {
                    return Err(LifecycleError::DuplicateOfRequired);
                }
                if reason.needs_assignments() && self.report.active_assignments().next().is_none() {
                    return Err(LifecycleError::NoAgencyAtWork);
                }
                let deadline = Deadline::compute(self.cal, Stage::Escalation, self.report.at_ioc_since)?;
                self.report.status = S::Escalated;
                self.report.open_deadlines.retain(|d| d.stage != Stage::Check);
                self.report.escalation =
                    Some(Escalation { reason, note: note.clone(), duplicate_of, at: self.now, deadline });
                self.emit(EventKind::ReportEscalated { reason, note, duplicate_of, escalation_due: deadline.due_at });
            }
            Command::Direct(directive) => {
                self.require_status(&[S::Escalated])?;
                self.direct(directive)?;
            }
            Command::EditAnswer { text } => {
                self.require_status(&[S::Resolved])?;
                require_text(self.action, "text", &text)?;
                self.report.answer = Some(Answer { text, edited_by: self.actor.clone(), edited_at: self.now });
                self.emit(EventKind::AnswerEdited);
            }
            Command::Publish => {
                self.require_status(&[S::Resolved])?;
                if self.report.answer.is_none() {
                    return Err(LifecycleError::NoAnswer);
                }
                if self.report.confidential {
                    return Err(LifecycleError::ConfidentialReporter);
                }
                self.report.status = S::Published;
                self.report.open_deadlines.clear();
                self.emit(EventKind::ReportPublished);
            }
            Command::AnswerPrivately => {
                self.require_status(&[S::Resolved])?;
                if self.report.answer.is_none() {
                    return Err(LifecycleError::NoAnswer);
                }
                self.report.status = S::AnsweredPrivately;
                self.report.open_deadlines.clear();
                self.emit(EventKind::ReportAnsweredPrivately);
            }
            Command::Withhold { legal_basis } => {
                self.require_status(&[S::Resolved])?;
                require_text(self.action, "legal_basis", &legal_basis)?;
                self.report.status = S::Withheld;
                self.report.open_deadlines.clear();
                self.emit(EventKind::ReportWithheld { legal_basis });
            }
            Command::Rate { rating, feedback } => {
                self.require_status(&[S::Published, S::AnsweredPrivately])?;
                if self.report.reporter_ref.as_ref().is_some_and(|r| *r != self.actor.subject) {
                    return Err(LifecycleError::NotTheReporter);
                }
                let feedback = feedback.filter(|f| !f.trim().is_empty());
                self.report.status = S::Rated;
                self.report.rating = Some((rating, feedback.clone()));
                self.emit(EventKind::ReportRated { rating, feedback });
            }
            Command::Reopen { feedback } => {
                self.require_status(&[S::Published, S::AnsweredPrivately, S::Rated])?;
                require_text(self.action, "feedback", &feedback)?;
                let reopened = self.reassign_approved()?;
                self.report.status = S::Reopened;
                self.report.reopen_count += 1;
                self.report.answer = None;
                self.report.rating = None;
                self.emit(EventKind::ReportReopened { feedback, assignments: reopened });
            }
        }
        Ok(())
    }

    /// New assignments with fresh deadlines; checks agencies, ids and the single lead.
    fn dispatch(&mut self, new: Vec<NewAssignment>) -> Result<(), LifecycleError> {
        if new.is_empty() {
            return Err(LifecycleError::NoAgencies);
        }
        for (i, n) in new.iter().enumerate() {
            if self.report.assignments.iter().any(|a| a.id == n.id) || new[..i].iter().any(|o| o.id == n.id) {
                return Err(LifecycleError::DuplicateAssignmentId(n.id));
            }
            let at_work = self.report.active_assignments().any(|a| a.agency == n.agency);
            if at_work || new[..i].iter().any(|o| o.agency == n.agency) {
                return Err(LifecycleError::AlreadyAssigned(n.agency.clone()));
            }
        }
        let leads = self.report.active_assignments().filter(|a| a.lead).count() + new.iter().filter(|n| n.lead).count();
        if leads != 1 {
            return Err(LifecycleError::LeadCount(leads));
        }
        let mut dispatched = Vec::with_capacity(new.len());
        for n in new {
            let mut a = self.fresh_assignment(n.id, n.agency, n.lead)?;
            a.instructions = n.instructions.filter(|i| !i.trim().is_empty());
            dispatched.push(summary(&a));
            self.report.assignments.push(a);
        }
        if self.report.status == ReportStatus::Accepted || self.report.status == ReportStatus::Escalated {
            self.report.status = ReportStatus::Dispatched;
        }
        self.report.awaiting_redispatch = false;
        self.report.open_deadlines.retain(|d| d.stage != Stage::Check);
        self.emit(EventKind::ReportDispatched { assignments: dispatched });
        Ok(())
    }

    fn fresh_assignment(
        &self,
        id: AssignmentId,
        agency: crate::ids::UnitId,
        lead: bool,
    ) -> Result<Assignment, LifecycleError> {
        let handling = self.deadline(Stage::Handling)?;
        let open = vec![self.deadline(Stage::Return)?, self.deadline(Stage::Explanation)?, handling];
        Ok(Assignment {
            id,
            agency,
            lead,
            instructions: None,
            status: AssignmentStatus::Assigned,
            assigned_at: self.now,
            handling,
            open_deadlines: open,
            explanation: None,
            result: None,
            return_reason: None,
            send_back_reason: None,
            approval: None,
        })
    }

    fn direct(&mut self, directive: Directive) -> Result<(), LifecycleError> {
        match &directive {
            Directive::Dispatch { assignments, note } => {
                require_text(self.action, "note", note)?;
                if assignments.is_empty() {
                    if self.report.active_assignments().next().is_none() {
                        return Err(LifecycleError::NoAgencies);
                    }
                    self.report.status = ReportStatus::Dispatched;
                    self.emit(EventKind::DirectiveIssued { directive: directive.clone() });
                } else {
                    self.emit(EventKind::DirectiveIssued { directive: directive.clone() });
                    // The office's instructions go to each agency it names.
                    let instructed = assignments
                        .iter()
                        .cloned()
                        .map(|a| NewAssignment { instructions: a.instructions.or_else(|| Some(note.clone())), ..a })
                        .collect();
                    self.dispatch(instructed)?;
                }
            }
            Directive::Close { notice } => {
                require_text(self.action, "notice", notice)?;
                for a in self.report.assignments.iter_mut().filter(|a| a.status.is_active()) {
                    a.status = AssignmentStatus::Cancelled;
                    a.open_deadlines.clear();
                }
                self.report.status = ReportStatus::Closed;
                self.report.open_deadlines.clear();
                let duplicate_of = self.report.escalation.as_ref().and_then(|e| e.duplicate_of);
                self.emit(EventKind::DirectiveIssued { directive: directive.clone() });
                self.emit(EventKind::ReportClosed { notice: notice.clone(), duplicate_of });
            }
        }
        self.report.directive = Some(directive);
        Ok(())
    }

    /// R11.3: every approved assignment goes back to its agency with fresh deadlines.
    fn reassign_approved(&mut self) -> Result<Vec<DispatchedAssignment>, LifecycleError> {
        let approved: Vec<(AssignmentId, crate::ids::UnitId, bool)> = self
            .report
            .assignments
            .iter()
            .filter(|a| a.status == AssignmentStatus::Approved)
            .map(|a| (a.id, a.agency.clone(), a.lead))
            .collect();
        let mut out = Vec::with_capacity(approved.len());
        for (id, agency, lead) in approved {
            let fresh = self.fresh_assignment(id, agency, lead)?;
            out.push(summary(&fresh));
            let slot = self.report.assignments.iter_mut().find(|a| a.id == id).expect("assignment listed above");
            // Keep the earlier result for the record; the new round starts clean otherwise.
            let previous = slot.result.take();
            let instructions = slot.instructions.take();
            *slot = Assignment { result: previous, instructions, ..fresh };
        }
        self.report.open_deadlines.clear();
        Ok(out)
    }
}

fn summary(a: &Assignment) -> DispatchedAssignment {
    let due = |stage| a.open_deadlines.iter().find(|d| d.stage == stage).map(|d| d.due_at).unwrap_or(a.handling.due_at);
    DispatchedAssignment {
        id: a.id,
        agency: a.agency.clone(),
        lead: a.lead,
        handling_due: a.handling.due_at,
        return_due: due(Stage::Return),
        explanation_due: due(Stage::Explanation),
    }
}
