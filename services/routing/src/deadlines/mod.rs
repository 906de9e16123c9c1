//! Deadlines of every open stage, and the sweeper that reminds and reports them (R13.1, R14.4).
//!
//! # The `deadlines` table
//! One row per deadline that ran (or runs) on a report: the stage, when it started, when it
//! is due, the rule it was counted by, the unit responsible for meeting it, and three marks —
//! `due_soon_sent_at`, `missed_sent_at` and `closed_at`. A row's identity is
//! `(report, assignment or "", stage, started_at)`: the same deadline seen again (a replay, a
//! second sync) is the same row, a deadline started anew (a re-check after a return, a new
//! handling period after an explanation or a reopen) is a new row.
//!
//! [`sync`] keeps the table in step with the report's lifecycle: the routing service calls it
//! in the transaction that changes a report's replica (its own commands and replayed events
//! alike). It inserts a row for every deadline in [`Report::open_deadlines`] not yet stored,
//! and closes every stored open row whose deadline no longer runs (the stage was done, the
//! deadline was moved by an explanation, the report was returned, closed, resolved …). A
//! deadline that runs again under the same identity — the handling period restored when a
//! leader sends a result back (R9.3a) — has its row reopened, keeping its marks, so each
//! deadline is reminded and reported at most once however often it stops and restarts.
//! Only what the domain lists as running gets a row: the R8.2c escalation deadline, for one,
//! is recorded on the escalation when the IOC escalates (met or not by then), never running.
//!
//! # The sweeper
//! [`Sweeper`] runs in one replica at a time — the holder of the cache lease
//! [`LEASE_NAME`] — every [`SweeperConfig::interval_secs`]. Each round, for the open rows:
//! - the reminder instant `due_soon_at` has come and the deadline has not passed
//!   (`due_soon_at <= now <= due_at`): one `deadline.due_soon` event (R13.1, R14.4: remind
//!   *before* the deadline);
//! - the deadline has passed (`due_at < now`, the domain's [`Deadline::is_missed`]): one
//!   `deadline.missed` event (R13.1, R14.4: remind *after* it; R14.8: overdue lists) — except
//!   for the **window stages** below. A missed row stays open (the stage is still overdue)
//!   until [`sync`] sees the stage done.
//!
//! **Window stages never miss.** The return window (R8.2b: an agency that finds a report
//! outside its competence returns it within 1 working day) and the explanation window (R8.2a:
//! an agency that needs more time explains within 2 working days) are *options*, not duties:
//! an agency that neither returns nor explains simply handles the report within the handling
//! deadline, which keeps running and is swept on its own. So a window gets its reminder
//! before it ends ("return or explain now, or not at all"), and when it ends the sweeper
//! closes its row without any event; the sweep round counts it in [`SweepStats::closed`].
//!
//! A reminder instant that passes while the sweeper is down is not made up for once the
//! deadline itself has passed: the missed event says more.
//!
//! # Exactly once
//! Each batch marks its rows and writes their events to the outbox in **one transaction**:
//! `UPDATE deadlines SET missed_sent_at = now WHERE id IN (…) AND missed_sent_at IS NULL AND
//! closed_at IS NULL RETURNING …`, then [`outbox::enqueue`](paht_platform::db::outbox::enqueue)
//! of one event per row the update returned, then commit. A crash or kill anywhere before the
//! commit leaves neither mark nor event; after it, both. Two sweepers racing (a lease lost by
//! a paused process, or tests calling [`Sweeper::sweep_once`] side by side) cannot both mark a
//! row: on Postgres the claim takes the row locks with `FOR UPDATE SKIP LOCKED` (a row being
//! claimed by one is skipped by the other, and re-checked once committed), on SQLite the write
//! transaction (`BEGIN IMMEDIATE`) serialises them. The sweeper never waits on a row lock, so it
//! cannot deadlock with the routing service's transactions.
//!
//! # Reminder instant
//! [`LeadTime`]: by default when 75% of the stage's span (wall-clock, `due_at − started_at`)
//! has elapsed, but at least [`LeadTime::min_lead_secs`] before the deadline, and never before
//! the stage started.
//!
//! [`Report::open_deadlines`]: paht_domain::lifecycle::Report::open_deadlines
//! [`Deadline::is_missed`]: paht_domain::deadline::Deadline::is_missed

mod migration;
mod store;
mod sweeper;

use std::collections::HashMap;
use std::ops::AddAssign;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use paht_domain::deadline::Stage;
use paht_platform::db::DbError;
use serde::{Deserialize, Serialize};

pub use migration::migration;
pub use store::{entity, sync};
pub use sweeper::{LEASE_NAME, SUBJECT, Sweeper};

/// The stages whose deadline is a window for an optional act (R8.2b return, R8.2a
/// explanation): reminded before they end, never reported missed (see the module docs).
pub const WINDOW_STAGES: [Stage; 2] = Stage::WINDOWS;

/// When a deadline's reminder (`deadline.due_soon`) goes out.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LeadTime {
    /// The share of the stage's span (`due_at − started_at`) elapsed when the reminder goes
    /// out, between 0 and 1 (default 0.75).
    pub fraction: f64,
    /// The reminder goes out at least this long before the deadline (default 900 s = 15 min),
    /// so a long weekend inside a span does not leave the reminder minutes before the end.
    pub min_lead_secs: u64,
}

impl Default for LeadTime {
    fn default() -> Self {
        LeadTime { fraction: 0.75, min_lead_secs: 15 * 60 }
    }
}

impl LeadTime {
    /// The reminder instant of a deadline that started at `started_at` and is due at
    /// `due_at`: `started_at + fraction·(due_at − started_at)`, moved earlier to leave at least
    /// the minimum lead, never before `started_at`; at microsecond precision.
    pub fn due_soon_at(&self, started_at: DateTime<Utc>, due_at: DateTime<Utc>) -> DateTime<Utc> {
        if due_at <= started_at {
            return micros(due_at);
        }
        let fraction = if self.fraction.is_finite() { self.fraction.clamp(0.0, 1.0) } else { 0.75 };
        let span = (due_at - started_at).num_microseconds().unwrap_or(i64::MAX);
        let at_fraction = started_at + TimeDelta::microseconds((span as f64 * fraction) as i64);
        let min_lead = TimeDelta::seconds(i64::try_from(self.min_lead_secs).unwrap_or(i64::MAX).min(i64::MAX / 1000));
        let latest = due_at.checked_sub_signed(min_lead).unwrap_or(started_at);
        micros(at_fraction.min(latest).max(started_at))
    }
}

/// `[routing.sweeper]`: how often and how much the deadline sweeper works.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SweeperConfig {
    /// Seconds between rounds (default 15); a round that found a full batch goes on at once.
    pub interval_secs: u64,
    /// Seconds the lease lasts without renewal (default 30; keep it above `interval_secs`,
    /// the lease is renewed every round and every batch).
    pub lease_ttl_secs: u64,
    /// Most rows of each kind (reminders, misses, lapsed windows) handled per transaction
    /// (default 500).
    pub batch: u32,
    /// `[routing.sweeper.lead]`: when reminders go out.
    pub lead: LeadTime,
}

impl Default for SweeperConfig {
    fn default() -> Self {
        SweeperConfig { interval_secs: 15, lease_ttl_secs: 30, batch: 500, lead: LeadTime::default() }
    }
}

impl SweeperConfig {
    /// The pause between rounds (at least 1 s).
    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.interval_secs.max(1))
    }

    /// The lease's time to live (at least 1 s).
    pub fn lease_ttl(&self) -> Duration {
        Duration::from_secs(self.lease_ttl_secs.max(1))
    }
}

/// What one sweep did, for logs and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepStats {
    /// `deadline.due_soon` events written.
    pub due_soon: u64,
    /// `deadline.missed` events written.
    pub missed: u64,
    /// Window-stage rows closed because their window ended (no event).
    pub closed: u64,
}

impl SweepStats {
    /// Whether the sweep did nothing.
    pub fn is_empty(&self) -> bool {
        *self == SweepStats::default()
    }
}

impl AddAssign for SweepStats {
    fn add_assign(&mut self, other: SweepStats) {
        self.due_soon += other.due_soon;
        self.missed += other.missed;
        self.closed += other.closed;
    }
}

/// Who is reminded of a deadline: the account subjects of the officers and leaders
/// concerned (R13.1, R14.4). The routing service answers from the directory's focal points
/// and leaders (R14.3, R18.1: a change of focal officer counts from the next event on).
#[async_trait]
pub trait Recipients: Send + Sync + 'static {
    /// The account subjects to remind of `unit_id`'s deadline of `stage`; may be empty.
    async fn concerned(&self, unit_id: &str, stage: Stage) -> Result<Vec<String>, DbError>;
}

/// A fixed table of recipients: per unit, optionally per stage of that unit. For tests, and
/// for embedded mode when no directory answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaticRecipients {
    by_unit: HashMap<String, Vec<String>>,
    by_stage: HashMap<(String, Stage), Vec<String>>,
}

impl StaticRecipients {
    /// Nobody to remind, until entries are added.
    pub fn new() -> Self {
        StaticRecipients::default()
    }

    /// Reminds `subjects` of every deadline of `unit`.
    pub fn with_unit(mut self, unit: impl Into<String>, subjects: &[&str]) -> Self {
        self.by_unit.insert(unit.into(), subjects.iter().map(|s| (*s).to_owned()).collect());
        self
    }

    /// Reminds `subjects` of `unit`'s deadlines of `stage`, instead of the unit's entry.
    pub fn with_stage(mut self, unit: impl Into<String>, stage: Stage, subjects: &[&str]) -> Self {
        self.by_stage.insert((unit.into(), stage), subjects.iter().map(|s| (*s).to_owned()).collect());
        self
    }
}

impl From<HashMap<String, Vec<String>>> for StaticRecipients {
    fn from(by_unit: HashMap<String, Vec<String>>) -> Self {
        StaticRecipients { by_unit, by_stage: HashMap::new() }
    }
}

#[async_trait]
impl Recipients for StaticRecipients {
    async fn concerned(&self, unit_id: &str, stage: Stage) -> Result<Vec<String>, DbError> {
        let subjects = self.by_stage.get(&(unit_id.to_owned(), stage)).or_else(|| self.by_unit.get(unit_id));
        Ok(subjects.cloned().unwrap_or_default())
    }
}

use paht_platform::clock::micros;

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 3, 8, h, m, 0).unwrap()
    }

    #[test]
    fn reminder_at_three_quarters_of_the_span() {
        let lead = LeadTime::default();
        // 02:00 → 10:00 (8 h): 75% is 08:00, 2 h before the deadline, more than the minimum lead.
        assert_eq!(lead.due_soon_at(at(2, 0), at(10, 0)), at(8, 0));
    }

    #[test]
    fn reminder_keeps_the_minimum_lead() {
        let lead = LeadTime { fraction: 0.75, min_lead_secs: 30 * 60 };
        // 1 h span: 75% would leave 15 min; the floor moves it to 30 min before.
        assert_eq!(lead.due_soon_at(at(2, 0), at(3, 0)), at(2, 30));
        // A span shorter than the lead: remind at the start, never before it.
        assert_eq!(lead.due_soon_at(at(2, 0), at(2, 10)), at(2, 0));
        // A degenerate span: at the deadline.
        assert_eq!(lead.due_soon_at(at(2, 0), at(2, 0)), at(2, 0));
    }

    #[test]
    fn odd_fractions_are_clamped() {
        let early = LeadTime { fraction: -1.0, min_lead_secs: 0 };
        assert_eq!(early.due_soon_at(at(2, 0), at(3, 0)), at(2, 0));
        let late = LeadTime { fraction: 7.0, min_lead_secs: 0 };
        assert_eq!(late.due_soon_at(at(2, 0), at(3, 0)), at(3, 0));
        let nan = LeadTime { fraction: f64::NAN, min_lead_secs: 0 };
        assert_eq!(nan.due_soon_at(at(2, 0), at(3, 0)), at(2, 45));
    }

    #[test]
    fn config_section_reads_with_defaults() {
        let config: SweeperConfig = toml::from_str("").unwrap();
        assert_eq!(config, SweeperConfig::default());
        assert_eq!(
            (config.interval(), config.lease_ttl(), config.batch),
            (Duration::from_secs(15), Duration::from_secs(30), 500)
        );
        let config: SweeperConfig = toml::from_str(
            r#"
            interval_secs = 5
            batch = 50
            [lead]
            fraction = 0.5
            "#,
        )
        .unwrap();
        assert_eq!(config.interval_secs, 5);
        assert_eq!(config.lease_ttl_secs, 30);
        assert_eq!(config.batch, 50);
        assert_eq!(config.lead, LeadTime { fraction: 0.5, min_lead_secs: 900 });
        assert!(toml::from_str::<SweeperConfig>("interval = 5").is_err(), "unknown keys are refused");
    }

    #[test]
    fn stats_add_up() {
        let mut total = SweepStats::default();
        assert!(total.is_empty());
        total += SweepStats { due_soon: 1, missed: 2, closed: 3 };
        total += SweepStats { due_soon: 1, missed: 0, closed: 1 };
        assert_eq!(total, SweepStats { due_soon: 2, missed: 2, closed: 4 });
    }

    #[tokio::test]
    async fn static_recipients_prefer_the_stage_entry() {
        let recipients = StaticRecipients::new().with_unit("AG1", &["officer-1", "leader-1"]).with_stage(
            "AG1",
            Stage::Approval,
            &["leader-1"],
        );
        assert_eq!(recipients.concerned("AG1", Stage::Handling).await.unwrap(), ["officer-1", "leader-1"]);
        assert_eq!(recipients.concerned("AG1", Stage::Approval).await.unwrap(), ["leader-1"]);
        assert!(recipients.concerned("AG2", Stage::Handling).await.unwrap().is_empty());
    }
}
