//! Deadlines of each stage, as the regulation sets them, in working time.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::{CalendarError, WorkingCalendar};

/// A stage of the process that has a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// R7.2: the IOC checks and dispatches within 1 working hour of arrival.
    Check,
    /// R8.2b: an agency returns a report outside its competence within 1 working day.
    Return,
    /// R8.2a: an agency that needs more time explains within 2 working days.
    Explanation,
    /// R8.2a: an agency handles within 5 working days from the next working day
    /// (or by the expected date of its explanation).
    Handling,
    /// R8.2c: the provincial IOC reports an unclear case to the office within 1 working day.
    Escalation,
    /// R9.2: the leader approves or sends back within 1 working day of the result.
    Approval,
    /// R10.2: the IOC publishes the answer within 4 working hours of approval.
    Answer,
}

/// How a stage's deadline is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// N working hours from the start.
    WorkingHours(u32),
    /// N working days counted from the next working day; ends at closing time.
    WorkingDays(u32),
    /// By a date someone gave (an explanation's expected completion date).
    ByDate(NaiveDate),
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::WorkingHours(n) => write!(f, "{n} working hour(s)"),
            Rule::WorkingDays(n) => write!(f, "{n} working day(s) from the next working day"),
            Rule::ByDate(d) => write!(f, "by {d}"),
        }
    }
}

impl Stage {
    /// Every stage.
    pub const ALL: [Stage; 7] = [
        Stage::Check,
        Stage::Return,
        Stage::Explanation,
        Stage::Handling,
        Stage::Escalation,
        Stage::Approval,
        Stage::Answer,
    ];

    /// The stages whose deadline is a window for an optional act (R8.2b return, R8.2a
    /// explanation): once it ends the act is no longer expected, so it is never missed.
    pub const WINDOWS: [Stage; 2] = [Stage::Return, Stage::Explanation];

    /// Whether the stage is a window ([`Stage::WINDOWS`]).
    pub fn is_window(self) -> bool {
        Stage::WINDOWS.contains(&self)
    }

    /// The regulation's rule for the stage.
    pub fn rule(self) -> Rule {
        match self {
            Stage::Check => Rule::WorkingHours(1),
            Stage::Return | Stage::Escalation | Stage::Approval => Rule::WorkingDays(1),
            Stage::Explanation => Rule::WorkingDays(2),
            Stage::Handling => Rule::WorkingDays(5),
            Stage::Answer => Rule::WorkingHours(4),
        }
    }

    /// The requirement id that sets the stage's deadline.
    pub fn requirement(self) -> &'static str {
        match self {
            Stage::Check => "R7.2",
            Stage::Return => "R8.2b",
            Stage::Explanation | Stage::Handling => "R8.2a",
            Stage::Escalation => "R8.2c",
            Stage::Approval => "R9.2",
            Stage::Answer => "R10.2",
        }
    }

    /// The stage's name in events, queues and configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Check => "check",
            Stage::Return => "return",
            Stage::Explanation => "explanation",
            Stage::Handling => "handling",
            Stage::Escalation => "escalation",
            Stage::Approval => "approval",
            Stage::Answer => "answer",
        }
    }
}

/// A computed deadline: which stage, from when, by when, under which rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    /// The stage the deadline belongs to.
    pub stage: Stage,
    /// When the stage started.
    pub started_at: DateTime<Utc>,
    /// When it is due.
    pub due_at: DateTime<Utc>,
    /// How `due_at` was counted.
    pub rule: Rule,
}

impl Deadline {
    /// The deadline of `stage` started at `start`, by the regulation's rule.
    pub fn compute(cal: &WorkingCalendar, stage: Stage, start: DateTime<Utc>) -> Result<Self, CalendarError> {
        Deadline::with_rule(cal, stage, start, stage.rule())
    }

    /// The deadline of `stage` started at `start` under an explicit rule.
    pub fn with_rule(
        cal: &WorkingCalendar,
        stage: Stage,
        start: DateTime<Utc>,
        rule: Rule,
    ) -> Result<Self, CalendarError> {
        let due_at = match rule {
            Rule::WorkingHours(n) => cal.add_working_hours(start, n)?,
            Rule::WorkingDays(n) => cal.add_working_days(start, n)?,
            Rule::ByDate(date) => cal.end_of_date(date)?,
        };
        Ok(Deadline { stage, started_at: start, due_at, rule })
    }

    /// Whether the deadline has passed at `now`.
    pub fn is_missed(&self, now: DateTime<Utc>) -> bool {
        now > self.due_at
    }
}
