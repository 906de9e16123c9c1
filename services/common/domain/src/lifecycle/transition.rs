//! The decisions: each checks role, unit, state and input, then states its facts. The
//! new state is the fold of those facts (`fold.rs`), exactly as every other service
//! folds them. A refused command leaves the report untouched (the caller keeps the old
//! value; nothing here mutates its input).

use chrono::{DateTime, Utc};

use super::command::{Action, Command, Directive, EscalationReason, NewAssignment};
use super::error::{LifecycleError, TextProblem};
use super::event::{DispatchedAssignment, Event, EventKind};
use super::fact::Producer;
use super::{AssignmentStatus, NewReport, Report, ReportStatus};
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

/// The longest reason, note, notice, legal basis or feedback, in characters.
pub const MAX_NOTE_CHARS: usize = 2_000;
/// The longest result or answer text, in characters.
pub const MAX_TEXT_CHARS: usize = 20_000;

/// A command's text must be there, bounded, and free of control characters (line breaks and
/// tabs aside) and of bidi controls, which would hide or reorder what staff and citizens read.
fn require_text(action: Action, field: &'static str, value: &str) -> Result<(), LifecycleError> {
    if value.trim().is_empty() {
        return Err(LifecycleError::MissingField { action, field });
    }
    let max = if field == "text" { MAX_TEXT_CHARS } else { MAX_NOTE_CHARS };
    let problem = if value.chars().count() > max {
        Some(TextProblem::TooLong { max })
    } else if value.chars().any(|c| crate::validation::is_forbidden_in_text(c, true)) {
        Some(TextProblem::ControlCharacter)
    } else {
        None
    };
    match problem {
        Some(problem) => Err(LifecycleError::BadText { action, field, problem }),
        None => Ok(()),
    }
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
        let kind = EventKind::ReportReceived { check, confidential: new.confidential };
        let producer = Producer { instance: new.instance.clone(), service: kind.producer() };
        let event = Event {
            report_id: new.id,
            instance: new.instance,
            occurred_at: now,
            actor: actor.clone(),
            stamp: super::Progress::default().next_stamp(producer),
            kind,
        };
        let mut report = Report::genesis(&event).expect("a received fact starts a view");
        // Only the owner knows who sent it; it is not part of any fact (no personal data).
        report.reporter_ref = new.reporter_ref;
        Ok(Transition { report, events: vec![event] })
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
        let mut step = Step { report: self.clone(), events: Vec::new(), actor, now, cal, action };
        step.run(command)?;
        Ok(Transition { report: step.report, events: step.events })
    }

    /// Whether routing must resolve the report now (R10.2): the agencies hold it and
    /// every assignment at work is approved, with no return waiting for re-dispatch.
    pub fn due_for_resolution(&self) -> bool {
        self.status.is_with_agencies() && self.all_approved()
    }

    /// Routing's decision to take at once on this view, if any: resolve, as the system.
    pub fn resolution(&self) -> Option<(Command, Actor)> {
        self.due_for_resolution()
            .then(|| (Command::Resolve, Actor::new("routing", Role::System, self.instance.clone())))
    }
}

impl Transition {
    /// This transition followed by routing's resolution when it leaves the report due for
    /// one (what routing decides as soon as it folds the last approval).
    pub fn with_resolution(mut self, now: DateTime<Utc>, cal: &WorkingCalendar) -> Result<Transition, LifecycleError> {
        if let Some((command, actor)) = self.report.resolution() {
            let resolved = self.report.apply(command, &actor, now, cal)?;
            self.events.extend(resolved.events);
            self.report = resolved.report;
        }
        Ok(self)
    }
}

/// One decision in progress: each stated fact is folded into a copy of the report at
/// once, so later checks of the same command see it.
struct Step<'a> {
    report: Report,
    events: Vec<Event>,
    actor: &'a Actor,
    now: DateTime<Utc>,
    cal: &'a WorkingCalendar,
    action: Action,
}

impl Step<'_> {
    fn emit(&mut self, kind: EventKind) {
        let producer = Producer { instance: self.report.instance.clone(), service: kind.producer() };
        let event = Event {
            report_id: self.report.id,
            instance: self.report.instance.clone(),
            occurred_at: self.now,
            actor: self.actor.clone(),
            stamp: self.report.seen.next_stamp(producer),
            kind,
        };
        self.report.fold(&event);
        self.events.push(event);
    }

    fn require_status(&self, allowed: &[ReportStatus]) -> Result<(), LifecycleError> {
        if allowed.contains(&self.report.status) {
            Ok(())
        } else {
            Err(LifecycleError::WrongState { action: self.action, status: self.report.status })
        }
    }

    /// The assignment `id` (its agency) if it is in one of the `allowed` states.
    fn require_assignment(
        &self,
        id: AssignmentId,
        allowed: &[AssignmentStatus],
    ) -> Result<&super::Assignment, LifecycleError> {
        let a = self.report.assignment(id).ok_or(LifecycleError::UnknownAssignment(id))?;
        if allowed.contains(&a.status) {
            Ok(a)
        } else {
            Err(LifecycleError::WrongAssignmentState { action: self.action, assignment: id, status: a.status })
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
                self.emit(EventKind::ReportAccepted);
            }
            Command::Refuse { reason } => {
                self.require_status(&[S::Received])?;
                require_text(self.action, "reason", &reason)?;
                self.emit(EventKind::ReportRefused { reason });
            }
            Command::Dispatch { assignments } => {
                self.require_status(&[S::Accepted, S::Dispatched, S::Reopened])?;
                self.dispatch(assignments)?;
            }
            Command::Return { assignment, reason } => {
                self.require_status(&with_agencies)?;
                require_text(self.action, "reason", &reason)?;
                let agency = self.require_assignment(assignment, &[AssignmentStatus::Assigned])?.agency.clone();
                // Back on the IOC's desk: it must forward the report again (R8.2b).
                let check = self.deadline(Stage::Check)?;
                self.emit(EventKind::AssignmentReturned { assignment, agency, reason, check });
            }
            Command::Explain { assignment, reason, expected_completion } => {
                self.require_status(&with_agencies)?;
                require_text(self.action, "reason", &reason)?;
                let today = self.cal.local_date(self.now);
                if expected_completion <= today {
                    return Err(LifecycleError::ExpectedDateNotInFuture { expected: expected_completion, today });
                }
                let handling =
                    Deadline::with_rule(self.cal, Stage::Handling, self.now, Rule::ByDate(expected_completion))
                        .map_err(|e| match e {
                            crate::calendar::CalendarError::OutOfRange(_) => {
                                LifecycleError::ExpectedDateBeyondCalendar {
                                    expected: expected_completion,
                                    last: crate::calendar::LAST_YEAR,
                                }
                            }
                            other => other.into(),
                        })?;
                let a = self.require_assignment(assignment, &[AssignmentStatus::Assigned])?;
                if a.explanation.is_some() {
                    return Err(LifecycleError::AlreadyExplained(assignment));
                }
                let agency = a.agency.clone();
                self.emit(EventKind::AssignmentExplained { assignment, agency, reason, expected_completion, handling });
            }
            Command::SubmitResult { assignment, text, attachments } => {
                self.require_status(&with_agencies)?;
                require_text(self.action, "text", &text)?;
                let approval = self.deadline(Stage::Approval)?;
                let allowed = [AssignmentStatus::Assigned, AssignmentStatus::Explained, AssignmentStatus::SentBack];
                let agency = self.require_assignment(assignment, &allowed)?.agency.clone();
                self.emit(EventKind::AssignmentResultSubmitted { assignment, agency, text, attachments, approval });
            }
            Command::Approve { assignment } => {
                self.require_status(&with_agencies)?;
                let agency = self.require_assignment(assignment, &[AssignmentStatus::ResultSubmitted])?.agency.clone();
                self.emit(EventKind::AssignmentApproved { assignment, agency });
            }
            Command::SendBack { assignment, reason } => {
                self.require_status(&with_agencies)?;
                require_text(self.action, "reason", &reason)?;
                let agency = self.require_assignment(assignment, &[AssignmentStatus::ResultSubmitted])?.agency.clone();
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
                self.emit(EventKind::ReportEscalated { reason, note, duplicate_of, deadline });
            }
            Command::Direct(directive) => {
                self.require_status(&[S::Escalated])?;
                self.direct(directive)?;
            }
            Command::Resolve => {
                self.require_status(&with_agencies)?;
                if !self.report.all_approved() {
                    return Err(LifecycleError::NotAllApproved);
                }
                let answer = self.deadline(Stage::Answer)?;
                let assignments = self
                    .report
                    .assignments
                    .iter()
                    .filter(|a| a.status == AssignmentStatus::Approved)
                    .map(|a| a.id)
                    .collect();
                self.emit(EventKind::ReportResolved { assignments, answer });
            }
            Command::EditAnswer { text } => {
                self.require_status(&[S::Resolved])?;
                require_text(self.action, "text", &text)?;
                self.emit(EventKind::AnswerEdited { text });
            }
            Command::Publish => {
                self.require_status(&[S::Resolved])?;
                if self.report.answer.is_none() {
                    return Err(LifecycleError::NoAnswer);
                }
                if self.report.confidential {
                    return Err(LifecycleError::ConfidentialReporter);
                }
                self.emit(EventKind::ReportPublished);
            }
            Command::AnswerPrivately { delivery, note } => {
                self.require_status(&[S::Resolved])?;
                if self.report.answer.is_none() {
                    return Err(LifecycleError::NoAnswer);
                }
                let note = note.filter(|n| !n.trim().is_empty());
                if let Some(note) = &note {
                    require_text(self.action, "note", note)?;
                }
                self.emit(EventKind::ReportAnsweredPrivately { delivery, note });
            }
            Command::Withhold { legal_basis } => {
                self.require_status(&[S::Resolved])?;
                require_text(self.action, "legal_basis", &legal_basis)?;
                self.emit(EventKind::ReportWithheld { legal_basis });
            }
            Command::Rate { rating, feedback } => {
                self.require_status(&[S::Published, S::AnsweredPrivately])?;
                if self.report.reporter_ref.as_ref().is_some_and(|r| *r != self.actor.subject) {
                    return Err(LifecycleError::NotTheReporter);
                }
                let feedback = feedback.filter(|f| !f.trim().is_empty());
                self.emit(EventKind::ReportRated { rating, feedback });
            }
            Command::Reopen { feedback } => {
                self.require_status(&[S::Published, S::AnsweredPrivately, S::Rated])?;
                if self.report.reporter_ref.as_ref().is_some_and(|r| *r != self.actor.subject) {
                    return Err(LifecycleError::NotTheReporter);
                }
                require_text(self.action, "feedback", &feedback)?;
                // R11.3: every approved assignment goes back to its agency with fresh deadlines.
                let approved: Vec<_> = self
                    .report
                    .assignments
                    .iter()
                    .filter(|a| a.status == AssignmentStatus::Approved)
                    .map(|a| NewAssignment { id: a.id, agency: a.agency.clone(), lead: a.lead, instructions: None })
                    .collect();
                let assignments = approved.into_iter().map(|n| self.fresh(n)).collect::<Result<_, _>>()?;
                self.emit(EventKind::ReportReopened { feedback, assignments });
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
        let assignments = new.into_iter().map(|n| self.fresh(n)).collect::<Result<_, _>>()?;
        // Every return seen and not yet answered is answered by this dispatch (R8.2b).
        let answers_returns = self
            .report
            .assignments
            .iter()
            .filter(|a| a.status == AssignmentStatus::Returned && !self.report.answered_returns.contains(&a.id))
            .map(|a| a.id)
            .collect();
        self.emit(EventKind::ReportDispatched { assignments, answers_returns });
        Ok(())
    }

    /// An assignment as dispatched now, with the deadlines of its stages.
    fn fresh(&self, n: NewAssignment) -> Result<DispatchedAssignment, LifecycleError> {
        Ok(DispatchedAssignment {
            id: n.id,
            agency: n.agency,
            lead: n.lead,
            instructions: n.instructions.filter(|i| !i.trim().is_empty()),
            handling: self.deadline(Stage::Handling)?,
            return_window: self.deadline(Stage::Return)?,
            explanation_window: self.deadline(Stage::Explanation)?,
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
                    self.emit(EventKind::DirectiveIssued { directive: directive.clone() });
                } else {
                    // The office's instructions go to each agency it names.
                    let instructed: Vec<NewAssignment> = assignments
                        .iter()
                        .cloned()
                        .map(|a| NewAssignment { instructions: a.instructions.or_else(|| Some(note.clone())), ..a })
                        .collect();
                    // A refused dispatch refuses the whole directive: nothing is stated. Each
                    // agency's instructions travel with the dispatch, not the directive.
                    let stated = Directive::Dispatch {
                        assignments: assignments
                            .iter()
                            .map(|a| NewAssignment { instructions: None, ..a.clone() })
                            .collect(),
                        note: note.clone(),
                    };
                    self.emit(EventKind::DirectiveIssued { directive: stated });
                    self.dispatch(instructed)?;
                }
            }
            Directive::Close { notice } => {
                require_text(self.action, "notice", notice)?;
                let cancelled = self.report.active_assignments().map(|a| a.id).collect();
                let duplicate_of = self.report.escalation.as_ref().and_then(|e| e.duplicate_of);
                self.emit(EventKind::DirectiveIssued { directive: directive.clone() });
                self.emit(EventKind::ReportClosed { notice: notice.clone(), duplicate_of, cancelled });
            }
        }
        Ok(())
    }
}
