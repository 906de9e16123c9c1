//! Why a transition was refused. Each variant says what was wrong and what to do.

use chrono::NaiveDate;
use thiserror::Error;

use super::command::Action;
use super::{AssignmentStatus, ReportStatus};
use crate::actor::Role;
use crate::calendar::CalendarError;
use crate::ids::{AssignmentId, UnitId};

/// A refused transition. Nothing changes when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LifecycleError {
    /// The report is not in a state where the action makes sense.
    #[error("cannot {action} a report that is {status}")]
    WrongState {
        /// The action tried.
        action: Action,
        /// The report's status.
        status: ReportStatus,
    },
    /// The assignment is not in a state where the action makes sense.
    #[error("cannot {action} assignment {assignment} while it is {status}")]
    WrongAssignmentState {
        /// The action tried.
        action: Action,
        /// The assignment.
        assignment: AssignmentId,
        /// Its status.
        status: AssignmentStatus,
    },
    /// The actor's role may not take the action.
    #[error("the {role} role may not {action}; only {allowed} may")]
    WrongRole {
        /// The action tried.
        action: Action,
        /// The actor's role.
        role: Role,
        /// The role that may.
        allowed: Role,
    },
    /// The actor acts for another unit than the one responsible.
    #[error("{action} belongs to unit {required}, not to {actor_unit}")]
    NotYourUnit {
        /// The action tried.
        action: Action,
        /// The actor's unit.
        actor_unit: UnitId,
        /// The unit responsible.
        required: UnitId,
    },
    /// This role does not submit reports (channels, reporters and the IOC desk do).
    #[error("the {0} role may not submit a report")]
    MayNotSubmit(Role),
    /// Only the reporter who sent the report may rate or reopen it.
    #[error("only the reporter who sent this report may rate or reopen it")]
    NotTheReporter,
    /// The report has no such assignment.
    #[error("the report has no assignment {0}")]
    UnknownAssignment(AssignmentId),
    /// A required text is empty.
    #[error("{action}: {field} must not be empty")]
    MissingField {
        /// The action tried.
        action: Action,
        /// The empty field.
        field: &'static str,
    },
    /// A text is too long or holds control or direction-changing characters.
    #[error("{action}: {field} {problem}")]
    BadText {
        /// The action tried.
        action: Action,
        /// The text's field.
        field: &'static str,
        /// What is wrong with it.
        problem: TextProblem,
    },
    /// A dispatch names no agency.
    #[error("dispatch needs at least one agency")]
    NoAgencies,
    /// The same agency is named twice, or is already at work on the report.
    #[error("agency {0} is already assigned to this report")]
    AlreadyAssigned(UnitId),
    /// An assignment id is reused.
    #[error("assignment id {0} is already used")]
    DuplicateAssignmentId(AssignmentId),
    /// After a dispatch there must be exactly one lead agency at work.
    #[error("exactly one lead agency must be at work after dispatch, there would be {0}")]
    LeadCount(usize),
    /// An explanation's expected date must lie after today.
    #[error("expected completion date {expected} must be after today ({today})")]
    ExpectedDateNotInFuture {
        /// The date given.
        expected: NaiveDate,
        /// Today in the instance's time zone.
        today: NaiveDate,
    },
    /// An explanation's expected date lies past the years the working calendar covers.
    #[error("expected completion date {expected} lies past the calendar's last year ({last}); give a nearer date")]
    ExpectedDateBeyondCalendar {
        /// The date given.
        expected: NaiveDate,
        /// The calendar's last year.
        last: i32,
    },
    /// An explanation was already given for this assignment in this round.
    #[error("assignment {0} has already been explained")]
    AlreadyExplained(AssignmentId),
    /// A duplicate escalation must name the earlier report, and not this one.
    #[error("a duplicate must name an earlier report other than itself")]
    DuplicateOfRequired,
    /// R4.4 reasons are about agencies at work; there are none.
    #[error("no agency is at work on this report, so it cannot be escalated for disagreement or incomplete handling")]
    NoAgencyAtWork,
    /// Publishing needs an edited answer first.
    #[error("the answer has not been written yet (edit it first)")]
    NoAnswer,
    /// R10.3b: the reporter asked for confidentiality; answer privately instead.
    #[error("the reporter asked for confidentiality: answer privately, do not publish")]
    ConfidentialReporter,
    /// Resolving needs every assignment at work approved and no return waiting.
    #[error("not every assignment at work is approved yet")]
    NotAllApproved,
    /// The calendar could not compute a deadline.
    #[error("deadline: {0}")]
    Calendar(#[from] CalendarError),
}

/// What is wrong with a command's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextProblem {
    /// Longer than the most characters allowed.
    TooLong {
        /// The most characters allowed.
        max: usize,
    },
    /// Holds a control character (other than line breaks and tabs) or a bidi control.
    ControlCharacter,
}

impl std::fmt::Display for TextProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TextProblem::TooLong { max } => write!(f, "is longer than {max} characters; shorten it"),
            TextProblem::ControlCharacter => f.write_str("holds control or direction-changing characters; remove them"),
        }
    }
}
