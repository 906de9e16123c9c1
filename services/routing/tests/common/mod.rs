//! Test harness: a routing service over a fresh Postgres database (or SQLite file), its replica
//! consumer fed with the envelopes intake and processing would publish (built with the real
//! domain and encoded like on the bus), a settable clock, and requests passed through the real
//! authentication interceptor.

#![allow(dead_code)]

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use paht_domain::actor::{Actor, Role};
use paht_domain::calendar::WorkingCalendar;
use paht_domain::ids::{AssignmentId, ReportId, UnitId};
use paht_domain::lifecycle::Command;
use paht_platform::cache::MemoryCache;
use paht_platform::db::{Db, DbConfig};
use paht_platform::replica::Replica;
use paht_proto::v1;
use paht_routing::deadlines::entity as deadline;
use paht_routing::directory::Directory;
use paht_routing::rules::RoutingRules;
use paht_routing::store::{case, redispatch};
use paht_routing::{RoutingConfig, RoutingParts, RoutingService};
#[allow(unused_imports)] // not every test binary uses each of them
pub use paht_testing::{Backend, fields, vn};
use paht_testing::{TestClock, TestDb, Tokens};
use sea_orm::{EntityTrait, QueryOrder};
use tonic::Request;
use uuid::Uuid;

/// The IOC instance of the service under test (the shipped provincial IOC).
pub const INSTANCE: &str = "IOC-86";
/// Another IOC instance, whose operators may not act on IOC-86's reports.
pub const OTHER_INSTANCE: &str = "IOC-LOCAL-1";
/// The provincial office.
pub const OFFICE: &str = "VP-UBND-86";
/// Handling agencies of the shipped directory.
pub const AG1: &str = "SO-XD-86";
pub const AG2: &str = "UBND-29551";
pub const AG3: &str = "SO-NNMT-86";
/// Phường Phú Khương (former Bến Tre), code 28756.
pub const WARD: &str = "UBND-28756";
pub const WARD_CODE: &str = "28756";

/// The service under test and what tests need around it (the shared harness's replica
/// consumer, clock, tokens, outbox …, plus routing's own tables).
pub struct Harness(paht_testing::Harness<RoutingService>);

paht_testing::wraps!(Harness => paht_testing::Harness<RoutingService>);

/// The parts of a service over `db`, with the shipped directory and rules.
fn parts(db: Db, cal: Arc<WorkingCalendar>) -> RoutingParts {
    let directory = Directory::shipped();
    let rules = RoutingRules::shipped(&directory).unwrap();
    RoutingParts {
        db,
        cache: Arc::new(MemoryCache::new()),
        calendar: cal,
        instance: UnitId::new(INSTANCE),
        notifier: None,
        directory,
        rules,
        config: RoutingConfig::default(),
    }
}

impl Harness {
    /// A second instance of the service on the same database, with its own connection pool
    /// and directory cache: another replica of the service (R18.1).
    pub async fn second(&self) -> RoutingService {
        let db = Db::connect(&self.url, "routing", &DbConfig::default()).await.expect("a second pool");
        paht_routing::build(parts(db, Arc::clone(&self.cal))).await.unwrap().with_clock(self.clock.source())
    }

    /// A request as the provincial office.
    pub fn office<T>(&self, message: T) -> Request<T> {
        self.as_role(Role::ProvincialOffice, OFFICE, message)
    }

    /// A request as the system operator (directory administrator).
    pub fn admin<T>(&self, message: T) -> Request<T> {
        self.as_role(Role::SystemOperator, "SO-NV-86", message)
    }

    /// The `cases` row of a report.
    pub async fn case(&self, id: ReportId) -> case::Model {
        case::Entity::find_by_id(id.0).one(self.db.conn()).await.unwrap().expect("a case row")
    }

    /// Every `cases` row, by report id.
    pub async fn cases(&self) -> Vec<case::Model> {
        case::Entity::find().order_by_asc(case::Column::ReportId).all(self.db.conn()).await.unwrap()
    }

    /// Every `deadlines` row, by id.
    pub async fn deadlines(&self) -> Vec<deadline::Model> {
        deadline::Entity::find().order_by_asc(deadline::Column::Id).all(self.db.conn()).await.unwrap()
    }

    /// The open `deadlines` rows of a report: (assignment, stage, due).
    pub async fn open_deadlines(&self, id: ReportId) -> Vec<(Option<Uuid>, String, DateTime<Utc>)> {
        let mut open: Vec<_> = self
            .deadlines()
            .await
            .into_iter()
            .filter(|d| d.report_id == id.0 && d.closed_at.is_none())
            .map(|d| (d.assignment_id, d.stage, d.due_at))
            .collect();
        open.sort();
        open
    }

    /// Every `redispatches` row.
    pub async fn redispatches(&self) -> Vec<redispatch::Model> {
        redispatch::Entity::find()
            .order_by_asc(redispatch::Column::ReplacedAssignmentId)
            .all(self.db.conn())
            .await
            .unwrap()
    }

    /// Everything a refused action must leave as it was: the replicas of `reports`, the
    /// `cases` index, the deadlines, the re-dispatches, the outbox.
    pub async fn snapshot(&self, reports: &[ReportId]) -> Snapshot {
        Snapshot {
            replicas: self.replicas(reports).await,
            cases: self.cases().await,
            deadlines: self.deadlines().await,
            redispatches: self.redispatches().await,
            outbox: self.outbox_keys().await,
        }
    }
}

/// The state a refused action leaves untouched.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    pub replicas: Vec<Replica>,
    pub cases: Vec<case::Model>,
    pub deadlines: Vec<deadline::Model>,
    pub redispatches: Vec<redispatch::Model>,
    pub outbox: Vec<String>,
}

/// What a report says and where, as intake receives it.
#[derive(Debug, Clone)]
pub struct Spec {
    pub content: String,
    pub category: String,
    pub tracking_code: String,
    pub coordinates: Option<(f64, f64)>,
    pub unit_code: String,
}

impl Spec {
    /// A report of `category` with `content`, without a place.
    pub fn new(content: &str, category: &str) -> Spec {
        Spec {
            content: content.into(),
            category: category.into(),
            tracking_code: format!("T{}", &Uuid::new_v4().simple().to_string()[..9].to_uppercase()),
            coordinates: None,
            unit_code: String::new(),
        }
    }

    /// At these coordinates.
    pub fn at(mut self, latitude: f64, longitude: f64) -> Spec {
        self.coordinates = Some((latitude, longitude));
        self
    }

    /// In the commune or ward with this code.
    pub fn in_unit(mut self, code: &str) -> Spec {
        self.unit_code = code.into();
        self
    }
}

pub fn ioc_actor() -> Actor {
    paht_testing::ioc_actor(INSTANCE)
}

/// A report's life as the other services see it: intake receives and accepts it, processing's
/// agencies return it. Each step returns the envelope its producer would publish.
pub struct Story(paht_testing::Story);

paht_testing::wraps!(Story => mut paht_testing::Story);

impl Story {
    /// `report.received` from intake, at `at`.
    pub fn received(h: &Harness, spec: &Spec, at: &str) -> (Story, v1::EventEnvelope) {
        let view = v1::Report {
            content: spec.content.clone(),
            category_id: spec.category.clone(),
            channel: v1::Channel::WebPortal as i32,
            tracking_code: spec.tracking_code.clone(),
            location: Some(v1::Location {
                latitude: spec.coordinates.map(|c| c.0),
                longitude: spec.coordinates.map(|c| c.1),
                address: "Đường Nguyễn Đình Chiểu".into(),
                unit_code: spec.unit_code.clone(),
            }),
            ..Default::default()
        };
        let (story, envelope) = paht_testing::Story::received(&h.cal, INSTANCE, view, at);
        (Story(story), envelope)
    }

    /// Catches up with what routing did to the report (its own commands).
    pub async fn sync(&mut self, h: &Harness) {
        self.0.sync(&h.db).await;
    }

    /// `assignment.returned` from processing: the agency's officer returns its assignment (R8.2b).
    pub fn returned(&mut self, assignment: AssignmentId, at: &str) -> v1::EventEnvelope {
        let agency = self.report.assignment(assignment).expect("an assignment of the report").agency.clone();
        let officer = Actor::new("officer-1", Role::Officer, agency);
        let reason = "Không thuộc thẩm quyền của đơn vị".to_owned();
        self.step(&officer, Command::Return { assignment, reason }, at).remove(0)
    }
}

/// A report received at 08:00 on `day` (Vietnamese time) and accepted at 08:20, both delivered.
pub async fn accepted_report(h: &Harness, spec: &Spec, day: &str) -> Story {
    let (mut story, received) = Story::received(h, spec, &format!("{day}T08:00:00+07:00"));
    let accepted = story.accepted(&format!("{day}T08:20:00+07:00"));
    h.deliver_all(&[received, accepted]).await;
    story
}

/// A dispatch request to `agencies`, the first leading.
pub fn dispatch_to(report: ReportId, agencies: &[&str]) -> v1::DispatchRequest {
    v1::DispatchRequest {
        report_id: report.to_string(),
        targets: agencies
            .iter()
            .enumerate()
            .map(|(i, a)| v1::DispatchTarget { agency_unit_id: (*a).into(), lead: i == 0 })
            .collect(),
        note: "Đề nghị kiểm tra, xử lý".into(),
    }
}

async fn harness(t: TestDb) -> Harness {
    let cal = Arc::new(WorkingCalendar::vietnam());
    let clock = TestClock::new(vn("2027-03-05T10:00:00+07:00"));
    let svc = paht_routing::build(parts(t.db.clone(), Arc::clone(&cal))).await.unwrap().with_clock(clock.source());
    Harness(paht_testing::Harness {
        consumer: svc.consumer(),
        svc: Arc::new(svc),
        db: t.db,
        url: t.url,
        cal,
        clock,
        tokens: Tokens::ephemeral(INSTANCE),
    })
}

/// Runs `test` on a fresh database of `backend` (`paht_routing_<uuid>` on the test Postgres, or
/// an SQLite file), removed afterwards even if the test panics.
pub async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(Harness) -> Fut,
    Fut: Future<Output = ()>,
{
    paht_testing::run(backend, "routing", &DbConfig::default(), harness, test).await
}

/// Declares `name::postgres` and `name::sqlite` running the scenario `name`.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        paht_testing::on_both!(run = $crate::common::run; $($name),*);
    };
}
