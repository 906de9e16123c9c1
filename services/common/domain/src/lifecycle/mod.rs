//! The report lifecycle as a pure state machine (architecture brief, "Lifecycle").
//!
//! A report is received, checked (refused or accepted), dispatched to one or more
//! agencies, each of which returns it, explains and extends, or writes a result that
//! its leader approves or sends back; unclear cases go to the provincial office for
//! a directive; when every assignment at work is approved the report is resolved,
//! the IOC answers (publicly, privately or not at all), the reporter rates, and may
//! reopen it. Every transition takes the state, the actor, the time and the
//! calendar, and returns the new state and its events, or says why not.

mod command;
mod draft;
mod error;
mod event;
mod fact;
mod fold;
mod transition;

#[cfg(test)]
mod tests;

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

pub use command::{Action, Command, Delivery, Directive, EscalationReason, NewAssignment, Rating};
pub use error::{LifecycleError, TextProblem};
pub use event::{DispatchedAssignment, Event, EventKind, FACTS};
pub use fact::{Admission, Producer, Progress, Seen, Service, Stamp, UnknownService};
pub use transition::{MAX_NOTE_CHARS, MAX_TEXT_CHARS, Transition};

use crate::actor::Actor;
use crate::deadline::Deadline;
use crate::ids::{AssignmentId, ReportId, UnitId};

/// Where a report stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportStatus {
    /// Arrived, waiting for the IOC's check (R7.2).
    Received,
    /// Refused as incomplete (R7.3a). Final.
    Refused,
    /// Checked complete; waiting to be dispatched, or back after every agency returned it.
    Accepted,
    /// With one or more agencies.
    Dispatched,
    /// With the provincial office, waiting for a directive (R8.2c, R4.4).
    Escalated,
    /// Closed by directive, reporter told (R8.2c). Final.
    Closed,
    /// Every assignment approved; the IOC prepares the answer (R10).
    Resolved,
    /// The answer is public (R10.3a).
    Published,
    /// The answer went to the reporter alone (R10.3b).
    AnsweredPrivately,
    /// Not published, answered as the law requires (R10.3c). Final.
    Withheld,
    /// The reporter rated the answer (R11.1).
    Rated,
    /// The reporter wrote again; with the agencies again (R11.3).
    Reopened,
}

impl ReportStatus {
    /// Every status.
    pub const ALL: [ReportStatus; 12] = [
        ReportStatus::Received,
        ReportStatus::Refused,
        ReportStatus::Accepted,
        ReportStatus::Dispatched,
        ReportStatus::Escalated,
        ReportStatus::Closed,
        ReportStatus::Resolved,
        ReportStatus::Published,
        ReportStatus::AnsweredPrivately,
        ReportStatus::Withheld,
        ReportStatus::Rated,
        ReportStatus::Reopened,
    ];

    /// The status's name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportStatus::Received => "received",
            ReportStatus::Refused => "refused",
            ReportStatus::Accepted => "accepted",
            ReportStatus::Dispatched => "dispatched",
            ReportStatus::Escalated => "escalated",
            ReportStatus::Closed => "closed",
            ReportStatus::Resolved => "resolved",
            ReportStatus::Published => "published",
            ReportStatus::AnsweredPrivately => "answered_privately",
            ReportStatus::Withheld => "withheld",
            ReportStatus::Rated => "rated",
            ReportStatus::Reopened => "reopened",
        }
    }

    /// Whether the agencies are at work on the report in this status.
    pub fn is_with_agencies(self) -> bool {
        matches!(self, ReportStatus::Dispatched | ReportStatus::Reopened)
    }
}

impl fmt::Display for ReportStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where one agency's share stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssignmentStatus {
    /// With the agency, not yet explained or handled.
    Assigned,
    /// The agency explained and gave an expected date (R8.2a).
    Explained,
    /// Returned as outside the agency's competence (R8.2b). Final for this agency.
    Returned,
    /// The officer's result waits for the leader (R9).
    ResultSubmitted,
    /// The leader approved (R9.3b).
    Approved,
    /// The leader sent the result back to be redone (R9.3a).
    SentBack,
    /// Cancelled by a directive that closed the report.
    Cancelled,
}

impl AssignmentStatus {
    /// Every status.
    pub const ALL: [AssignmentStatus; 7] = [
        AssignmentStatus::Assigned,
        AssignmentStatus::Explained,
        AssignmentStatus::Returned,
        AssignmentStatus::ResultSubmitted,
        AssignmentStatus::Approved,
        AssignmentStatus::SentBack,
        AssignmentStatus::Cancelled,
    ];

    /// The status's name.
    pub fn as_str(self) -> &'static str {
        match self {
            AssignmentStatus::Assigned => "assigned",
            AssignmentStatus::Explained => "explained",
            AssignmentStatus::Returned => "returned",
            AssignmentStatus::ResultSubmitted => "result_submitted",
            AssignmentStatus::Approved => "approved",
            AssignmentStatus::SentBack => "sent_back",
            AssignmentStatus::Cancelled => "cancelled",
        }
    }

    /// Whether the agency still holds this share (not returned, not cancelled).
    pub fn is_active(self) -> bool {
        !matches!(self, AssignmentStatus::Returned | AssignmentStatus::Cancelled)
    }
}

impl fmt::Display for AssignmentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An agency's explanation (R8.2a).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    /// Why it needs time.
    pub reason: String,
    /// When it expects to finish.
    pub expected_completion: NaiveDate,
    /// When it explained.
    pub at: DateTime<Utc>,
}

/// An officer's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandlingResult {
    /// What was done.
    pub text: String,
    /// Ids of attached files.
    pub attachments: Vec<String>,
    /// Who wrote it.
    pub officer: Actor,
    /// When.
    pub at: DateTime<Utc>,
}

/// One agency's share of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// Its id.
    pub id: AssignmentId,
    /// The agency.
    pub agency: UnitId,
    /// Whether it leads.
    pub lead: bool,
    /// The dispatcher's instructions to the agency (R7.3b), if any.
    #[serde(default)]
    pub instructions: Option<String>,
    /// Where it stands.
    pub status: AssignmentStatus,
    /// When it was (last) assigned.
    pub assigned_at: DateTime<Utc>,
    /// The handling deadline (R8.2a), moved by an explanation.
    pub handling: Deadline,
    /// The deadlines running now (return and explanation windows, handling, approval).
    pub open_deadlines: Vec<Deadline>,
    /// The explanation of this round, if any.
    pub explanation: Option<Explanation>,
    /// The latest result.
    pub result: Option<HandlingResult>,
    /// Why it was returned.
    pub return_reason: Option<String>,
    /// Why the leader last sent it back.
    pub send_back_reason: Option<String>,
    /// The leader who approved, and when.
    pub approval: Option<(Actor, DateTime<Utc>)>,
    /// After a return: by when the IOC must forward the report again (R7.2, R8.2b).
    #[serde(default)]
    pub return_check: Option<Deadline>,
}

impl Assignment {
    /// The deadlines still running at `now`, in the order they were set: a window (return,
    /// explanation) ends when its time is up — the act it allows is no longer expected, and
    /// the sweeper closes it without a miss — while handling and approval run until they are
    /// met, overdue or not.
    pub fn running_deadlines(&self, now: DateTime<Utc>) -> impl Iterator<Item = &Deadline> {
        self.open_deadlines.iter().filter(move |d| !(d.stage.is_window() && d.due_at <= now))
    }

    /// The deadline the agency has to meet next at `now`: the earliest one still running —
    /// the return window, then the explanation window while they run, else handling; the
    /// leader's approval while a result waits; none once approved, returned or cancelled.
    pub fn stage_deadline(&self, now: DateTime<Utc>) -> Option<&Deadline> {
        self.running_deadlines(now).min_by_key(|d| d.due_at)
    }
}

/// The IOC's escalation to the provincial office.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalation {
    /// Why.
    pub reason: EscalationReason,
    /// The IOC's summary.
    pub note: String,
    /// The earlier report, for duplicates.
    pub duplicate_of: Option<ReportId>,
    /// When it was escalated.
    pub at: DateTime<Utc>,
    /// The R8.2c deadline it had, counted from when the case reached the IOC.
    pub deadline: Deadline,
}

/// The answer to the reporter (R10).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// The edited text.
    pub text: String,
    /// Who edited it last.
    pub edited_by: Actor,
    /// When.
    pub edited_at: DateTime<Utc>,
    /// When it was published, sent privately or withheld; `None` while a draft.
    #[serde(default)]
    pub decided_at: Option<DateTime<Utc>>,
}

/// Who may read the answer given (R10.3): everyone, the reporter alone, or nobody outside the
/// authorities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Published through the channels of article 3 and the portal (R10.3a).
    Published,
    /// Sent to the reporter alone (R10.3b).
    Private,
    /// Not published: state secrets (R10.3c).
    Withheld,
}

/// What a new report needs to start its lifecycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewReport {
    /// Its id.
    pub id: ReportId,
    /// The IOC instance that receives it.
    pub instance: UnitId,
    /// The reporter's reference (the subject a reporter token carries), if known.
    pub reporter_ref: Option<String>,
    /// Whether the reporter asked for confidentiality (R6.2, R10.3b).
    pub confidential: bool,
}

/// A report's lifecycle state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Its id.
    pub id: ReportId,
    /// The IOC instance that owns it.
    pub instance: UnitId,
    /// Where it stands.
    pub status: ReportStatus,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// The reporter's reference, checked when rating.
    pub reporter_ref: Option<String>,
    /// Whether the reporter asked for confidentiality.
    pub confidential: bool,
    /// Report-level deadlines running now (check, answer).
    pub open_deadlines: Vec<Deadline>,
    /// When the case last came to the IOC's desk (arrival or a return), for R8.2c.
    pub at_ioc_since: DateTime<Utc>,
    /// Whether an agency returned it and the IOC has not yet dispatched again (R8.2b).
    pub awaiting_redispatch: bool,
    /// Every agency's share, in dispatch order.
    pub assignments: Vec<Assignment>,
    /// Why it was refused.
    pub refusal_reason: Option<String>,
    /// The latest escalation.
    pub escalation: Option<Escalation>,
    /// The latest directive.
    pub directive: Option<Directive>,
    /// The answer being prepared or given.
    pub answer: Option<Answer>,
    /// How the current answer was given, once decided; it stays through the rating, so a
    /// private answer never becomes public (R10.3b).
    #[serde(default)]
    pub visibility: Option<Visibility>,
    /// The rating of the current answer.
    pub rating: Option<(Rating, Option<String>)>,
    /// How many times it was reopened (R11.3).
    pub reopen_count: u32,
    /// The R7.2 check deadline it got on arrival.
    #[serde(default)]
    pub check_deadline: Option<Deadline>,
    /// The R10.2 answer deadline it got when resolved; it counts from the resolution, so its
    /// `started_at` is when the report was (last) resolved.
    #[serde(default)]
    pub answer_deadline: Option<Deadline>,
    /// The returned assignments a later dispatch answered (R8.2b).
    #[serde(default)]
    pub answered_returns: Vec<AssignmentId>,
    /// How far this view has folded each producer's facts.
    #[serde(default)]
    pub seen: Progress,
}

impl Report {
    /// The assignment with this id.
    pub fn assignment(&self, id: AssignmentId) -> Option<&Assignment> {
        self.assignments.iter().find(|a| a.id == id)
    }

    /// The assignments the agencies still hold.
    pub fn active_assignments(&self) -> impl Iterator<Item = &Assignment> {
        self.assignments.iter().filter(|a| a.status.is_active())
    }

    /// Whether the current answer may be shown to anyone (R10.3a): published, and not since
    /// reopened.
    pub fn answer_is_public(&self) -> bool {
        self.visibility == Some(Visibility::Published)
            && matches!(self.status, ReportStatus::Published | ReportStatus::Rated)
            && self.answer.is_some()
    }

    /// Whether the report is complete: agencies hold it, every one of them has an
    /// approved result, and no return waits for re-dispatch.
    pub fn all_approved(&self) -> bool {
        let mut active = self.active_assignments().peekable();
        active.peek().is_some() && !self.awaiting_redispatch && active.all(|a| a.status == AssignmentStatus::Approved)
    }

    /// Every deadline running now, with the assignment it belongs to (None: the IOC's).
    pub fn open_deadlines(&self) -> Vec<(Option<AssignmentId>, Deadline)> {
        let report = self.open_deadlines.iter().map(|d| (None, *d));
        let agencies = self.assignments.iter().flat_map(|a| a.open_deadlines.iter().map(move |d| (Some(a.id), *d)));
        report.chain(agencies).collect()
    }
}
