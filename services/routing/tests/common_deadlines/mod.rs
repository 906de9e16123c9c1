//! Test harness of the deadline sweeper: a fresh SQLite file or a fresh Postgres database per
//! test, migrated with the platform's tables and `deadlines`; reports moved through the real
//! domain lifecycle; the outbox decoded back into envelopes.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, LazyLock};

use chrono::{DateTime, TimeDelta, Utc};
use paht_domain::actor::{Actor, Role};
use paht_domain::calendar::WorkingCalendar;
use paht_domain::deadline::{Deadline, Stage};
use paht_domain::ids::{AssignmentId, ReportId, UnitId};
use paht_domain::lifecycle::{Command, NewAssignment, NewReport, Report};
use paht_platform::cache::{Cache, MemoryCache};
use paht_platform::db::{Db, DbConfig, platform_migrations};
use paht_proto::v1;
use paht_proto::v1::event_envelope::Payload;
use paht_routing::deadlines::{self, LeadTime, StaticRecipients, Sweeper, SweeperConfig, entity};
use paht_testing::TestDb;
#[allow(unused_imports)] // not every test binary uses each of them
pub use paht_testing::{Backend, outbox};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use sea_orm_migration::{MigrationTrait, MigratorTrait};
use uuid::Uuid;

/// The IOC instance of the tests.
pub const IOC: &str = "IOC-86";
/// Two handling agencies.
pub const AG1: &str = "SO-XD-86";
pub const AG2: &str = "UBND-29551";

/// The migrator of the tests: the platform's tables, then `deadlines`.
pub struct TestMigrator;

impl MigratorTrait for TestMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut all = platform_migrations();
        all.push(deadlines::migration());
        all
    }
}

/// The migrated database of a test.
async fn migrated(t: TestDb) -> Db {
    t.db.migrate::<TestMigrator>().await.expect("migrate");
    t.db
}

/// Runs `test` on a fresh, migrated database of `backend` (`paht_routing_<uuid>` on the test
/// Postgres, or an SQLite file) in a task of its own, removed afterwards even if the test panics.
pub async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let config = DbConfig { max_connections: 10, ..DbConfig::default() };
    paht_testing::run(backend, "routing", &config, migrated, |db| async move {
        if let Err(err) = tokio::spawn(test(db)).await {
            std::panic::resume_unwind(err.into_panic());
        }
    })
    .await
}

/// Declares `name::sqlite` and `name::postgres` running the scenario `name(db)`.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        paht_testing::on_both!(
            run = $crate::common_deadlines::run,
            tokio = (flavor = "multi_thread", worker_threads = 4);
            $($name),*
        );
    };
}

/// An instant written in Vietnam's time, e.g. `vn("2027-03-08T09:00:00")`.
pub fn vn(local: &str) -> DateTime<Utc> {
    paht_testing::vn(&format!("{local}+07:00"))
}

pub fn ioc() -> Actor {
    Actor::new("operator-1", Role::IocOperator, UnitId::new(IOC))
}
pub fn officer(agency: &str) -> Actor {
    Actor::new(format!("officer@{agency}"), Role::Officer, UnitId::new(agency))
}
pub fn leader(agency: &str) -> Actor {
    Actor::new(format!("leader@{agency}"), Role::Leader, UnitId::new(agency))
}
pub fn office() -> Actor {
    Actor::new("office-1", Role::ProvincialOffice, UnitId::new("VP-UBND-86"))
}

pub fn aid(n: u128) -> AssignmentId {
    AssignmentId::from_uuid(Uuid::from_u128(n))
}

/// The Vietnamese calendar, built once (it computes a century of holidays).
pub fn calendar() -> &'static WorkingCalendar {
    static CAL: LazyLock<WorkingCalendar> = LazyLock::new(WorkingCalendar::vietnam);
    &CAL
}

/// One report moved through the domain lifecycle, synced into `deadlines` after every step.
pub struct World {
    pub cal: &'static WorkingCalendar,
    pub report: Report,
    pub lead: LeadTime,
}

impl World {
    /// A report `n` received at `at` (sync not yet called).
    pub fn received(n: u128, at: DateTime<Utc>) -> World {
        let cal = calendar();
        let new = NewReport {
            id: ReportId::from_uuid(Uuid::from_u128(0x1000_0000 + n)),
            instance: UnitId::new(IOC),
            reporter_ref: Some("citizen-1".into()),
            confidential: false,
        };
        let system = Actor::new("channel", Role::System, UnitId::new(IOC));
        let report = Report::receive(new, &system, at, cal).unwrap().report;
        World { cal, report, lead: LeadTime::default() }
    }

    /// Applies `command` by `actor` at `at`.
    pub fn apply(&mut self, actor: &Actor, at: DateTime<Utc>, command: Command) -> &mut Self {
        let t = self
            .report
            .apply(command.clone(), actor, at, self.cal)
            // Routing resolves the report as soon as every assignment at work is approved.
            .and_then(|t| t.with_resolution(at, self.cal))
            .unwrap_or_else(|e| panic!("{command:?} by {actor:?}: {e}"));
        self.report = t.report;
        self
    }

    /// Accepts the report and dispatches it to `agencies` (the first leads), assignment ids 1, 2 …
    pub fn dispatch(&mut self, at: DateTime<Utc>, agencies: &[&str]) -> &mut Self {
        self.apply(&ioc(), at, Command::Accept);
        let assignments = agencies
            .iter()
            .enumerate()
            .map(|(i, a)| NewAssignment {
                id: aid(i as u128 + 1),
                agency: UnitId::new(*a),
                lead: i == 0,
                instructions: None,
            })
            .collect();
        self.apply(&ioc(), at, Command::Dispatch { assignments })
    }

    /// The open deadline of `stage` (of assignment `n`, or the report's own for `None`).
    pub fn open(&self, assignment: Option<u128>, stage: Stage) -> Deadline {
        self.report
            .open_deadlines()
            .into_iter()
            .find(|(a, d)| *a == assignment.map(aid) && d.stage == stage)
            .map(|(_, d)| d)
            .unwrap_or_else(|| panic!("no open {stage:?} deadline for {assignment:?}"))
    }

    /// Syncs the report into `deadlines` in its own write transaction.
    pub async fn sync(&self, db: &Db) {
        sync(db, &self.report, &self.lead).await;
    }

    pub fn id(&self) -> Uuid {
        self.report.id.0
    }
}

/// `deadlines::sync` of `report` in its own write transaction.
pub async fn sync(db: &Db, report: &Report, lead: &LeadTime) {
    let txn = db.begin_write().await.unwrap();
    deadlines::sync(&txn, report, lead).await.unwrap();
    txn.commit().await.unwrap();
}

/// The rows of `report`, in start order.
pub async fn rows(db: &Db, report: Uuid) -> Vec<entity::Model> {
    entity::Entity::find()
        .filter(entity::Column::ReportId.eq(report))
        .order_by_asc(entity::Column::StartedAt)
        .order_by_asc(entity::Column::Stage)
        .all(db.conn())
        .await
        .unwrap()
}

/// The row of `stage` (of assignment `n` or the report's own) that started at `started_at`.
pub async fn row(db: &Db, report: Uuid, assignment: Option<u128>, stage: Stage) -> Vec<entity::Model> {
    let key = assignment.map(|n| aid(n).0.to_string()).unwrap_or_default();
    rows(db, report).await.into_iter().filter(|r| r.assignment_key == key && r.stage == stage.as_str()).collect()
}

/// How many rows of `deadlines` are open.
pub async fn open_count(db: &Db) -> usize {
    entity::Entity::find().filter(entity::Column::ClosedAt.is_null()).all(db.conn()).await.unwrap().len()
}

/// The recipients of the tests: two people per agency, one operator for the IOC.
pub fn recipients() -> StaticRecipients {
    StaticRecipients::new()
        .with_unit(AG1, &["officer@SO-XD-86", "leader@SO-XD-86"])
        .with_unit(AG2, &["officer@UBND-29551"])
        .with_unit(IOC, &["operator-1"])
        .with_stage(AG1, Stage::Approval, &["leader@SO-XD-86"])
}

/// A sweeper over `db` with its own memory cache and the test recipients.
pub fn sweeper(db: &Db, config: SweeperConfig) -> Sweeper {
    sweeper_with(db, Arc::new(MemoryCache::new()), Arc::new(recipients()), config)
}

/// A sweeper over `db` with the given cache and recipients.
pub fn sweeper_with(
    db: &Db,
    cache: Arc<dyn Cache>,
    recipients: Arc<dyn deadlines::Recipients>,
    config: SweeperConfig,
) -> Sweeper {
    Sweeper::new(db.clone(), cache, recipients, config, UnitId::new(IOC), None)
}

/// How many rows the outbox holds.
pub async fn outbox_len(db: &Db) -> usize {
    paht_testing::count(db, "outbox").await as usize
}

/// What a deadline event is about, decoded from its envelope.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Fact {
    pub key: String,
    pub report_id: String,
    pub assignment_id: String,
    pub stage: v1::DeadlineStage,
    pub due_at: DateTime<Utc>,
}

/// The deadline fields of an envelope: (deadline, assignment, responsible unit, subjects).
pub fn deadline_payload(envelope: &v1::EventEnvelope) -> (v1::Deadline, String, String, Vec<String>) {
    match envelope.payload.clone().expect("a payload") {
        Payload::DeadlineDueSoon(p) => {
            (p.deadline.expect("a deadline"), p.assignment_id, p.responsible_unit_id, p.remind_subjects)
        }
        Payload::DeadlineMissed(p) => {
            (p.deadline.expect("a deadline"), p.assignment_id, p.responsible_unit_id, p.remind_subjects)
        }
        other => panic!("not a deadline event: {other:?}"),
    }
}

/// The outbox's deadline events as facts.
pub async fn facts(db: &Db) -> Vec<Fact> {
    outbox(db)
        .await
        .into_iter()
        .map(|(key, envelope)| {
            let (deadline, assignment_id, _, _) = deadline_payload(&envelope);
            Fact {
                key,
                report_id: envelope.report_id.clone(),
                assignment_id,
                stage: deadline.stage(),
                due_at: paht_proto::convert::from_timestamp(&deadline.due_at.unwrap()).unwrap(),
            }
        })
        .collect()
}

/// How many events of each (routing key, report, assignment, stage) the outbox holds.
pub async fn counts(db: &Db) -> BTreeMap<(String, String, String, i32), usize> {
    let mut counts = BTreeMap::new();
    for fact in facts(db).await {
        *counts.entry((fact.key, fact.report_id, fact.assignment_id, fact.stage as i32)).or_insert(0) += 1;
    }
    counts
}

/// One second.
pub fn sec() -> TimeDelta {
    TimeDelta::seconds(1)
}

/// Inserts the rows of `received` reports waiting for their check and `dispatched` reports with
/// one agency (return and explanation windows, handling), all received on Monday 3 March 2025
/// and long overdue: `received + dispatched` deadlines to report missed, `2·dispatched` windows
/// to close. Report numbers start at `first`.
pub async fn populate(db: &Db, first: u128, received: u128, dispatched: u128) {
    let at = vn("2025-03-03T09:00:00");
    let mut reports = Vec::new();
    for i in 0..received {
        reports.push(World::received(first + i, at).report);
    }
    for i in 0..dispatched {
        let mut w = World::received(first + received + i, at);
        w.dispatch(vn("2025-03-03T09:10:00"), &[AG1]);
        reports.push(w.report);
    }
    let lead = LeadTime::default();
    for chunk in reports.chunks(200) {
        let txn = db.begin_write().await.unwrap();
        for report in chunk {
            deadlines::sync(&txn, report, &lead).await.unwrap();
        }
        txn.commit().await.unwrap();
    }
}

/// Waits until `done` holds, checking every few milliseconds, failing after `secs` seconds.
pub async fn wait_until<F, Fut>(secs: u64, what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !done().await {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}
