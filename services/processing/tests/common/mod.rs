//! Test harness: a processing service over a fresh Postgres database (or SQLite file), its
//! replica consumer fed with the envelopes intake and routing would publish, a settable clock,
//! and requests passed through the real authentication interceptor.

#![allow(dead_code)]

use std::future::Future;
use std::sync::Arc;

use paht_domain::actor::{Actor, Role};
use paht_domain::calendar::WorkingCalendar;
use paht_domain::ids::{AssignmentId, ReportId, UnitId};
use paht_domain::lifecycle::{Command, NewAssignment};
use paht_platform::db::DbConfig;
use paht_platform::replica::Replica;
use paht_processing::store::assignment;
use paht_processing::{ProcessingParts, ProcessingService};
use paht_proto::v1;
#[allow(unused_imports)] // not every test binary uses each of them
pub use paht_testing::{Backend, fields, vn};
use paht_testing::{TestClock, TestDb, Tokens};
use sea_orm::{EntityTrait, QueryOrder};
use tonic::Request;
use uuid::Uuid;

/// The IOC instance of the service under test.
pub const INSTANCE: &str = "IOC-86";
/// Two handling agencies.
pub const AG1: &str = "SO-XD-86";
pub const AG2: &str = "UBND-29551";

/// The service under test and what tests need around it (the shared harness's replica
/// consumer, clock, tokens, outbox …, plus processing's own index).
pub struct Harness(paht_testing::Harness<ProcessingService>);

paht_testing::wraps!(Harness => paht_testing::Harness<ProcessingService>);

impl Harness {
    pub fn officer<T>(&self, agency: &str, message: T) -> Request<T> {
        self.as_role(Role::Officer, agency, message)
    }

    pub fn leader<T>(&self, agency: &str, message: T) -> Request<T> {
        self.as_role(Role::Leader, agency, message)
    }

    /// Every row of the `assignments` index, by id.
    pub async fn index(&self) -> Vec<assignment::Model> {
        assignment::Entity::find().order_by_asc(assignment::Column::AssignmentId).all(self.db.conn()).await.unwrap()
    }

    /// The index row of an assignment.
    pub async fn row(&self, id: AssignmentId) -> assignment::Model {
        assignment::Entity::find_by_id(id.0).one(self.db.conn()).await.unwrap().expect("an index row")
    }

    /// Everything a refused action must leave as it was: the replicas of `reports`, the
    /// index, the outbox.
    pub async fn snapshot(&self, reports: &[ReportId]) -> Snapshot {
        Snapshot { replicas: self.replicas(reports).await, index: self.index().await, outbox: self.outbox_keys().await }
    }
}

/// The state a refused action leaves untouched.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    pub replicas: Vec<Replica>,
    pub index: Vec<assignment::Model>,
    pub outbox: Vec<String>,
}

/// A report's life as the other services see it: intake receives and accepts it, routing
/// dispatches it. Each step returns the envelope its producer would publish.
pub struct Story(paht_testing::Story);

paht_testing::wraps!(Story => mut paht_testing::Story);

impl Story {
    /// `report.received` from intake, at `at`, with content `content`.
    pub fn received(h: &Harness, content: &str, at: &str) -> (Story, v1::EventEnvelope) {
        let view = v1::Report {
            content: content.into(),
            category_id: "giao-thong".into(),
            channel: v1::Channel::WebPortal as i32,
            tracking_code: "7K3Q-9XM2-H".into(),
            location: Some(v1::Location { address: "25 Nguyễn Trãi".into(), ..Default::default() }),
            ..Default::default()
        };
        let (story, envelope) = paht_testing::Story::received(&h.cal, INSTANCE, view, at);
        (Story(story), envelope)
    }

    /// `report.dispatched` from routing to `agencies` (the first leads); the new assignment ids.
    pub fn dispatched(&mut self, agencies: &[&str], at: &str) -> (Vec<AssignmentId>, v1::EventEnvelope) {
        let ids: Vec<AssignmentId> = agencies.iter().map(|_| AssignmentId::from_uuid(Uuid::now_v7())).collect();
        let assignments = agencies
            .iter()
            .zip(&ids)
            .enumerate()
            .map(|(i, (agency, id))| NewAssignment {
                id: *id,
                agency: UnitId::new(*agency),
                lead: i == 0,
                instructions: None,
            })
            .collect();
        let envelope = self.step(&ioc(), Command::Dispatch { assignments }, at).remove(0);
        (ids, envelope)
    }

    /// Catches up with processing's own facts, as the other services' replicas do by
    /// replaying them.
    pub async fn sync(&mut self, h: &Harness) {
        self.0.sync(&h.db).await;
    }
}

/// An IOC operator of the instance.
pub fn ioc() -> Actor {
    paht_testing::ioc_actor(INSTANCE)
}

/// A report received at `at` (Vietnamese time), accepted 20 minutes later and dispatched
/// 40 minutes later to `agencies`, all delivered to processing; its assignment ids.
pub async fn dispatched_report(
    h: &Harness,
    content: &str,
    day: &str,
    agencies: &[&str],
) -> (ReportId, Vec<AssignmentId>) {
    let (mut story, received) = Story::received(h, content, &format!("{day}T08:00:00+07:00"));
    let accepted = story.accepted(&format!("{day}T08:20:00+07:00"));
    let (ids, dispatched) = story.dispatched(agencies, &format!("{day}T08:40:00+07:00"));
    h.deliver_all(&[received, accepted, dispatched]).await;
    (story.id(), ids)
}

async fn harness(t: TestDb) -> Harness {
    let cal = Arc::new(WorkingCalendar::vietnam());
    let clock = TestClock::new(vn("2027-03-08T09:00:00+07:00"));
    let svc = paht_processing::build(ProcessingParts {
        db: t.db.clone(),
        calendar: Arc::clone(&cal),
        instance: UnitId::new(INSTANCE),
        notifier: None,
    })
    .await
    .unwrap()
    .with_clock(clock.source());
    Harness(paht_testing::Harness {
        svc: Arc::new(svc),
        consumer: paht_processing::consumer(t.db.clone(), Arc::clone(&cal)),
        db: t.db,
        url: t.url,
        cal,
        clock,
        tokens: Tokens::ephemeral(INSTANCE),
    })
}

/// Runs `test` on a fresh database of `backend`, removed afterwards even if the test panics.
pub async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(Harness) -> Fut,
    Fut: Future<Output = ()>,
{
    paht_testing::run(backend, "processing", &DbConfig::default(), harness, test).await
}

/// Declares `name::postgres` and `name::sqlite` running the scenario `name`.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        paht_testing::on_both!(run = $crate::common::run; $($name),*);
    };
}
