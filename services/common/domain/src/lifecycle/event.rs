//! The facts a transition produces. The platform stores them in the outbox in the
//! same transaction as the new state and publishes them under [`EventKind::routing_key`].
//!
//! A fact states everything another service needs to fold it into its own view of the
//! report (ids, instants, deadlines, actor): nobody recomputes an owner's decision.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::command::{Directive, EscalationReason, Rating};
use super::fact::{Service, Stamp};
use crate::actor::Actor;
use crate::deadline::Deadline;
use crate::ids::{AssignmentId, ReportId, UnitId};

/// An assignment as dispatched, with its deadlines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchedAssignment {
    /// The assignment.
    pub id: AssignmentId,
    /// The agency.
    pub agency: UnitId,
    /// Whether it leads.
    pub lead: bool,
    /// The dispatcher's instructions to the agency (R7.3b), if any.
    pub instructions: Option<String>,
    /// R8.2a: handled by.
    pub handling: Deadline,
    /// R8.2b: returned (if not competent) by.
    pub return_window: Deadline,
    /// R8.2a: explained (if it needs time) by.
    pub explanation_window: Deadline,
}

/// One fact about a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The report.
    pub report_id: ReportId,
    /// The IOC instance that owns the report.
    pub instance: UnitId,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// Who did it.
    pub actor: Actor,
    /// What happened.
    pub kind: EventKind,
    /// Who produced it, its place in the producer's sequence for this report, and what
    /// the producer had seen of the others' when it decided.
    pub stamp: Stamp,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    /// A report arrived (R5); the IOC must check it by `check_due` (R7.2).
    ReportReceived {
        /// R7.2 deadline.
        check: Deadline,
        /// Whether the reporter asked for confidentiality (R6.2).
        confidential: bool,
    },
    /// The IOC found it complete (R7.3a).
    ReportAccepted,
    /// The IOC refused it (R7.3a); the reason goes to the reporter.
    ReportRefused {
        /// Why.
        reason: String,
    },
    /// Dispatched to agencies (R7.3b, R8.2b re-dispatch, directive).
    ReportDispatched {
        /// The new assignments.
        assignments: Vec<DispatchedAssignment>,
        /// The returned assignments this dispatch answers (R8.2b): every return the
        /// dispatcher had seen and not yet answered.
        answers_returns: Vec<AssignmentId>,
    },
    /// An agency returned it (R8.2b).
    AssignmentReturned {
        /// Which assignment.
        assignment: AssignmentId,
        /// The agency.
        agency: UnitId,
        /// Why.
        reason: String,
        /// R7.2, R8.2b: by when the IOC must forward it again.
        check: Deadline,
    },
    /// An agency explained and gave an expected date (R8.2a), to be told to the reporter.
    AssignmentExplained {
        /// Which assignment.
        assignment: AssignmentId,
        /// The agency.
        agency: UnitId,
        /// Why it needs time.
        reason: String,
        /// The expected completion date.
        expected_completion: NaiveDate,
        /// The new handling deadline.
        handling: Deadline,
    },
    /// The officer submitted a result (routing key `assignment.resolved`).
    AssignmentResultSubmitted {
        /// Which assignment.
        assignment: AssignmentId,
        /// The agency.
        agency: UnitId,
        /// What was done.
        text: String,
        /// Ids of attached files.
        attachments: Vec<String>,
        /// R9.2 deadline for the leader.
        approval: Deadline,
    },
    /// The leader approved (R9.3b).
    AssignmentApproved {
        /// Which assignment.
        assignment: AssignmentId,
        /// The agency.
        agency: UnitId,
    },
    /// The leader sent the result back (R9.3a).
    AssignmentSentBack {
        /// Which assignment.
        assignment: AssignmentId,
        /// The agency.
        agency: UnitId,
        /// Why.
        reason: String,
    },
    /// Escalated to the provincial office (R8.2c, R4.4).
    ReportEscalated {
        /// Why.
        reason: EscalationReason,
        /// The IOC's summary.
        note: String,
        /// The earlier report, for duplicates.
        duplicate_of: Option<ReportId>,
        /// R8.2c deadline for escalating, counted from when the case reached the IOC.
        deadline: Deadline,
    },
    /// The provincial office directed.
    DirectiveIssued {
        /// The direction.
        directive: Directive,
    },
    /// Closed by directive; the notice goes to the reporter (R8.2c).
    ReportClosed {
        /// What the reporter is told.
        notice: String,
        /// The earlier report whose answer applies, for duplicates.
        duplicate_of: Option<ReportId>,
        /// The assignments the closing cancels: every one the agencies held.
        cancelled: Vec<AssignmentId>,
    },
    /// Every assignment approved: the report is complete; answer due (R10.2).
    ReportResolved {
        /// The approved assignments the answer is made of.
        assignments: Vec<AssignmentId>,
        /// R10.2 deadline.
        answer: Deadline,
    },
    /// The IOC edited the answer (R10.3a).
    AnswerEdited {
        /// The answer text.
        text: String,
    },
    /// The answer was published (R10.3a).
    ReportPublished,
    /// The answer went to the reporter alone (R10.3b).
    ReportAnsweredPrivately {
        /// How it reaches the reporter.
        delivery: super::command::Delivery,
        /// The operator's note on the delivery (staff only).
        note: Option<String>,
    },
    /// The answer is withheld from publication (R10.3c).
    ReportWithheld {
        /// The legal basis.
        legal_basis: String,
    },
    /// The reporter rated the answer (R11.1).
    ReportRated {
        /// The rating.
        rating: Rating,
        /// Feedback text, if any.
        feedback: Option<String>,
    },
    /// The reporter wrote again; back to the agencies (R11.3).
    ReportReopened {
        /// The reporter's message.
        feedback: String,
        /// The assignments at work again, with fresh deadlines.
        assignments: Vec<DispatchedAssignment>,
    },
}

impl EventKind {
    /// The AMQP routing key, `<entity>.<fact>`.
    pub fn routing_key(&self) -> &'static str {
        match self {
            EventKind::ReportReceived { .. } => "report.received",
            EventKind::ReportAccepted => "report.accepted",
            EventKind::ReportRefused { .. } => "report.refused",
            EventKind::ReportDispatched { .. } => "report.dispatched",
            EventKind::AssignmentReturned { .. } => "assignment.returned",
            EventKind::AssignmentExplained { .. } => "assignment.explained",
            EventKind::AssignmentResultSubmitted { .. } => "assignment.resolved",
            EventKind::AssignmentApproved { .. } => "assignment.approved",
            EventKind::AssignmentSentBack { .. } => "assignment.sent_back",
            EventKind::ReportEscalated { .. } => "report.escalated",
            EventKind::DirectiveIssued { .. } => "directive.issued",
            EventKind::ReportClosed { .. } => "report.closed",
            EventKind::ReportResolved { .. } => "report.resolved",
            EventKind::AnswerEdited { .. } => "report.answer_edited",
            EventKind::ReportPublished => "report.published",
            EventKind::ReportAnsweredPrivately { .. } => "report.answered_privately",
            EventKind::ReportWithheld { .. } => "report.withheld",
            EventKind::ReportRated { .. } => "report.rated",
            EventKind::ReportReopened { .. } => "report.reopened",
        }
    }
}

impl EventKind {
    /// The one service that decides this fact (architecture, "One owner per decision").
    pub fn producer(&self) -> Service {
        match self {
            EventKind::ReportReceived { .. } | EventKind::ReportAccepted | EventKind::ReportRefused { .. } => {
                Service::Intake
            }
            EventKind::ReportDispatched { .. }
            | EventKind::ReportEscalated { .. }
            | EventKind::DirectiveIssued { .. }
            | EventKind::ReportClosed { .. }
            | EventKind::ReportResolved { .. } => Service::Routing,
            EventKind::AssignmentReturned { .. }
            | EventKind::AssignmentExplained { .. }
            | EventKind::AssignmentResultSubmitted { .. }
            | EventKind::AssignmentApproved { .. }
            | EventKind::AssignmentSentBack { .. } => Service::Processing,
            EventKind::AnswerEdited { .. }
            | EventKind::ReportPublished
            | EventKind::ReportAnsweredPrivately { .. }
            | EventKind::ReportWithheld { .. }
            | EventKind::ReportRated { .. }
            | EventKind::ReportReopened { .. } => Service::Publication,
        }
    }
}

/// Every lifecycle fact by routing key, with the one service that decides it: what a
/// service subscribes to is every fact but its own.
pub const FACTS: [(&str, Service); 19] = [
    ("report.received", Service::Intake),
    ("report.accepted", Service::Intake),
    ("report.refused", Service::Intake),
    ("report.dispatched", Service::Routing),
    ("report.escalated", Service::Routing),
    ("directive.issued", Service::Routing),
    ("report.closed", Service::Routing),
    ("report.resolved", Service::Routing),
    ("assignment.returned", Service::Processing),
    ("assignment.explained", Service::Processing),
    ("assignment.resolved", Service::Processing),
    ("assignment.approved", Service::Processing),
    ("assignment.sent_back", Service::Processing),
    ("report.answer_edited", Service::Publication),
    ("report.published", Service::Publication),
    ("report.answered_privately", Service::Publication),
    ("report.withheld", Service::Publication),
    ("report.rated", Service::Publication),
    ("report.reopened", Service::Publication),
];
