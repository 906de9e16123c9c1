//! What people ask the lifecycle to do.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::actor::Role;
use crate::ids::{AssignmentId, ReportId, UnitId};

/// An agency to dispatch a report to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAssignment {
    /// The id the new assignment will have (minted by the caller).
    pub id: AssignmentId,
    /// The handling agency.
    pub agency: UnitId,
    /// Whether this agency leads (chủ trì); the others co-handle (phối hợp).
    pub lead: bool,
    /// The dispatcher's instructions to the agency, if any.
    #[serde(default)]
    pub instructions: Option<String>,
}

/// Why the IOC escalates a report to the provincial office.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationReason {
    /// R8.2c: which agency is competent is unclear.
    UnclearCompetence,
    /// R8.2c: already handled in an earlier report.
    Duplicate,
    /// R8.2c: the content is not true.
    Untrue,
    /// R8.2c: the content cannot be verified.
    Unverifiable,
    /// R4.4: the agencies cannot agree on one handling plan.
    AgenciesDisagree,
    /// R4.4: the agencies handled it incompletely.
    IncompleteHandling,
}

impl EscalationReason {
    /// Whether the reason is about agencies already at work (R4.4), so it needs assignments.
    pub fn needs_assignments(self) -> bool {
        matches!(self, EscalationReason::AgenciesDisagree | EscalationReason::IncompleteHandling)
    }
}

/// The provincial office's direction on an escalated report (R8.2c, R4.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Directive {
    /// Handle it: dispatch to these agencies (possibly none, keeping those at work).
    Dispatch {
        /// Agencies to add.
        assignments: Vec<NewAssignment>,
        /// The office's instruction.
        note: String,
    },
    /// Close it; the notice goes to the reporter.
    Close {
        /// What the reporter is told.
        notice: String,
    },
}

/// How a private answer reaches the reporter (R10.3b).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// By telephone: the operator calls and notes it.
    Phone,
    /// By SMS to the reporter's phone.
    Sms,
    /// By e-mail, to the address the reporter gave.
    Email,
    /// By a private message on the channel the report came from (Zalo, Facebook, the app).
    ChannelMessage,
}

/// The reporter's rating of an answer (R11.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rating {
    /// Hài lòng.
    Satisfied,
    /// Bình thường.
    Normal,
    /// Không hài lòng — every one of these is checked (R11.2).
    Unsatisfied,
}

impl Rating {
    /// Its stable name (`satisfied`, `normal`, `unsatisfied`), as serde writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Rating::Satisfied => "satisfied",
            Rating::Normal => "normal",
            Rating::Unsatisfied => "unsatisfied",
        }
    }
}

/// A request to move a report along its lifecycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// R7.3a: the operator finds the report complete.
    Accept,
    /// R7.3a: the operator refuses an incomplete report, with a reason for the reporter.
    Refuse {
        /// Why, in words the reporter understands.
        reason: String,
    },
    /// R7.3b, R8.2b: dispatch (or re-dispatch) to one or more agencies.
    Dispatch {
        /// The agencies.
        assignments: Vec<NewAssignment>,
    },
    /// R8.2b: the agency returns the report as outside its competence.
    Return {
        /// Which assignment.
        assignment: AssignmentId,
        /// Why it is not this agency's.
        reason: String,
    },
    /// R8.2a: the agency needs time and says by when.
    Explain {
        /// Which assignment.
        assignment: AssignmentId,
        /// Why it needs time (verification, on-site work, coordination).
        reason: String,
        /// The expected completion date, told to the reporter.
        expected_completion: NaiveDate,
    },
    /// R8: the officer writes the result.
    SubmitResult {
        /// Which assignment.
        assignment: AssignmentId,
        /// What was done.
        text: String,
        /// Ids of attached files.
        attachments: Vec<String>,
    },
    /// R9.3b: the leader approves the result.
    Approve {
        /// Which assignment.
        assignment: AssignmentId,
    },
    /// R9.3a: the leader sends the result back to be redone.
    SendBack {
        /// Which assignment.
        assignment: AssignmentId,
        /// What is wrong with it.
        reason: String,
    },
    /// R8.2c, R4.4: the provincial IOC asks the provincial office for direction.
    Escalate {
        /// Why.
        reason: EscalationReason,
        /// The IOC's summary.
        note: String,
        /// The earlier report, for [`EscalationReason::Duplicate`].
        duplicate_of: Option<ReportId>,
    },
    /// R8.2c, R4.4: the provincial office directs.
    Direct(Directive),
    /// R10.2: every assignment at work is approved; the report is complete. Decided by
    /// routing (the system), which also decides every dispatch, so none can race it.
    Resolve,
    /// R10.3a: the IOC checks and edits the answer.
    EditAnswer {
        /// The answer text.
        text: String,
    },
    /// R10.3a: publish the answer.
    Publish,
    /// R10.3b: answer the reporter alone (confidentiality asked).
    AnswerPrivately {
        /// How it reaches them.
        delivery: Delivery,
        /// The operator's note on the delivery (staff only).
        note: Option<String>,
    },
    /// R10.3c: do not publish (state secrets); answered as the law requires.
    Withhold {
        /// The legal basis for withholding.
        legal_basis: String,
    },
    /// R11.1: the reporter rates the answer.
    Rate {
        /// The rating.
        rating: Rating,
        /// Optional feedback text.
        feedback: Option<String>,
    },
    /// R11.3: the reporter disagrees and writes again; the report goes back to the agencies
    /// whose results were approved, with fresh deadlines.
    Reopen {
        /// The reporter's new message.
        feedback: String,
    },
}

/// The kind of a command, without its data: used in errors and permission tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// See [`Command::Accept`].
    Accept,
    /// See [`Command::Refuse`].
    Refuse,
    /// See [`Command::Dispatch`].
    Dispatch,
    /// See [`Command::Return`].
    Return,
    /// See [`Command::Explain`].
    Explain,
    /// See [`Command::SubmitResult`].
    SubmitResult,
    /// See [`Command::Approve`].
    Approve,
    /// See [`Command::SendBack`].
    SendBack,
    /// See [`Command::Escalate`].
    Escalate,
    /// See [`Command::Direct`].
    Direct,
    /// See [`Command::Resolve`].
    Resolve,
    /// See [`Command::EditAnswer`].
    EditAnswer,
    /// See [`Command::Publish`].
    Publish,
    /// See [`Command::AnswerPrivately`].
    AnswerPrivately,
    /// See [`Command::Withhold`].
    Withhold,
    /// See [`Command::Rate`].
    Rate,
    /// See [`Command::Reopen`].
    Reopen,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 17] = [
        Action::Accept,
        Action::Refuse,
        Action::Dispatch,
        Action::Return,
        Action::Explain,
        Action::SubmitResult,
        Action::Approve,
        Action::SendBack,
        Action::Escalate,
        Action::Direct,
        Action::Resolve,
        Action::EditAnswer,
        Action::Publish,
        Action::AnswerPrivately,
        Action::Withhold,
        Action::Rate,
        Action::Reopen,
    ];

    /// The one role allowed to take this action.
    pub fn role(self) -> Role {
        match self {
            Action::Accept
            | Action::Refuse
            | Action::Dispatch
            | Action::Escalate
            | Action::EditAnswer
            | Action::Publish
            | Action::AnswerPrivately
            | Action::Withhold => Role::IocOperator,
            Action::Return | Action::Explain | Action::SubmitResult => Role::Officer,
            Action::Approve | Action::SendBack => Role::Leader,
            Action::Direct => Role::ProvincialOffice,
            Action::Resolve => Role::System,
            // R11.3: the reporter disagrees and writes again; the system forwards it at once.
            Action::Rate | Action::Reopen => Role::Reporter,
        }
    }

    /// The action's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Accept => "accept",
            Action::Refuse => "refuse",
            Action::Dispatch => "dispatch",
            Action::Return => "return",
            Action::Explain => "explain",
            Action::SubmitResult => "submit_result",
            Action::Approve => "approve",
            Action::SendBack => "send_back",
            Action::Escalate => "escalate",
            Action::Direct => "direct",
            Action::Resolve => "resolve",
            Action::EditAnswer => "edit_answer",
            Action::Publish => "publish",
            Action::AnswerPrivately => "answer_privately",
            Action::Withhold => "withhold",
            Action::Rate => "rate",
            Action::Reopen => "reopen",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Command {
    /// The kind of this command.
    pub fn action(&self) -> Action {
        match self {
            Command::Accept => Action::Accept,
            Command::Refuse { .. } => Action::Refuse,
            Command::Dispatch { .. } => Action::Dispatch,
            Command::Return { .. } => Action::Return,
            Command::Explain { .. } => Action::Explain,
            Command::SubmitResult { .. } => Action::SubmitResult,
            Command::Approve { .. } => Action::Approve,
            Command::SendBack { .. } => Action::SendBack,
            Command::Escalate { .. } => Action::Escalate,
            Command::Direct(_) => Action::Direct,
            Command::Resolve => Action::Resolve,
            Command::EditAnswer { .. } => Action::EditAnswer,
            Command::Publish => Action::Publish,
            Command::AnswerPrivately { .. } => Action::AnswerPrivately,
            Command::Withhold { .. } => Action::Withhold,
            Command::Rate { .. } => Action::Rate,
            Command::Reopen { .. } => Action::Reopen,
        }
    }

    /// The assignment the command acts on, for the agency's actions.
    pub fn assignment(&self) -> Option<AssignmentId> {
        match self {
            Command::Return { assignment, .. }
            | Command::Explain { assignment, .. }
            | Command::SubmitResult { assignment, .. }
            | Command::Approve { assignment }
            | Command::SendBack { assignment, .. } => Some(*assignment),
            _ => None,
        }
    }
}
