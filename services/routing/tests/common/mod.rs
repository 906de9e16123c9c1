//! Test harness: a routing service over a fresh Postgres database (or SQLite file), its replica
//! consumer fed with the envelopes intake and processing would publish (built with the real
//! domain and encoded like on the bus), a settable clock, and requests passed through the real
//! authentication interceptor.

#![allow(dead_code)]

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, FixedOffset, Utc};
use futures::FutureExt;
use paht_domain::actor::{Actor, Role};
use paht_domain::calendar::WorkingCalendar;
use paht_domain::ids::{AssignmentId, ReportId, UnitId};
use paht_domain::lifecycle::{self as lc, Command, NewReport};
use paht_platform::auth::{AuthConfig, Authenticator, TokenIssuer, interceptor};
use paht_platform::bus::{Delivery, HandleError, Handler};
use paht_platform::cache::MemoryCache;
use paht_platform::db::{Db, DbConfig};
use paht_platform::replica::{self, Replica};
use paht_proto::convert;
use paht_proto::v1;
use paht_routing::deadlines::entity as deadline;
use paht_routing::directory::Directory;
use paht_routing::rules::RoutingRules;
use paht_routing::store::{case, redispatch};
use paht_routing::{RoutingConfig, RoutingParts, RoutingService};
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder};
use tonic::{Request, Status};
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

/// Which database a test runs on.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

type Intercept = Arc<dyn Fn(Request<()>) -> Result<Request<()>, Status> + Send + Sync>;

/// An instant written in Vietnamese local time, e.g. `2027-03-05T10:00:00+07:00`.
pub fn vn(s: &str) -> DateTime<Utc> {
    DateTime::<FixedOffset>::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The service under test and what tests need around it.
pub struct Harness {
    pub svc: Arc<RoutingService>,
    pub db: Db,
    pub consumer: Arc<dyn Handler>,
    pub cal: Arc<WorkingCalendar>,
    url: String,
    clock: Arc<Mutex<DateTime<Utc>>>,
    issuer: TokenIssuer,
    intercept: Intercept,
}

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
    /// Sets the service's clock (Vietnamese local time).
    pub fn at(&self, now: &str) {
        *self.clock.lock().unwrap() = vn(now);
    }

    /// A second instance of the service on the same database, with its own connection pool
    /// and directory cache: another replica of the service (R18.1).
    pub async fn second(&self) -> RoutingService {
        let db = Db::connect(&self.url, "routing", &DbConfig::default()).await.expect("a second pool");
        let shared = Arc::clone(&self.clock);
        paht_routing::build(parts(db, Arc::clone(&self.cal))).await.unwrap().with_clock(move || *shared.lock().unwrap())
    }

    /// A request as account `subject` in `role` for `unit`, through the authentication interceptor.
    pub fn as_subject<T>(&self, subject: &str, role: Role, unit: &str, message: T) -> Request<T> {
        let token = self.issuer.mint(subject, role, &UnitId::new(unit), INSTANCE, None).unwrap();
        let mut request = Request::new(message);
        request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
        let (metadata, extensions, message) = request.into_parts();
        let checked = (self.intercept)(Request::from_parts(metadata, extensions, ())).expect("a valid token passes");
        let (metadata, extensions, ()) = checked.into_parts();
        Request::from_parts(metadata, extensions, message)
    }

    /// A request as `role` of `unit`.
    pub fn as_role<T>(&self, role: Role, unit: &str, message: T) -> Request<T> {
        self.as_subject(&format!("{}-1", role.as_str()), role, unit, message)
    }

    /// A request as an IOC operator of the instance.
    pub fn ioc<T>(&self, message: T) -> Request<T> {
        self.as_role(Role::IocOperator, INSTANCE, message)
    }

    /// A request as the provincial office.
    pub fn office<T>(&self, message: T) -> Request<T> {
        self.as_role(Role::ProvincialOffice, OFFICE, message)
    }

    /// A request as the system operator (directory administrator).
    pub fn admin<T>(&self, message: T) -> Request<T> {
        self.as_role(Role::SystemOperator, "SO-NV-86", message)
    }

    /// Delivers an envelope to the replica consumer, encoded as the bus carries it.
    pub async fn deliver(&self, envelope: &v1::EventEnvelope) -> Result<(), HandleError> {
        let message = paht_platform::events::message(envelope);
        self.consumer.handle(&Delivery { message, attempt: 1 }).await
    }

    /// Delivers every envelope, each of which must apply.
    pub async fn deliver_all(&self, envelopes: &[v1::EventEnvelope]) {
        for envelope in envelopes {
            self.deliver(envelope).await.unwrap();
        }
    }

    /// The replica of a report.
    pub async fn replica(&self, id: ReportId) -> Replica {
        replica::load(self.db.conn(), id).await.unwrap().expect("a replica")
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

    /// The outbox, decoded: (routing key, envelope), in insertion order.
    pub async fn outbox(&self) -> Vec<(String, v1::EventEnvelope)> {
        paht_platform::events::in_outbox(self.db.conn()).await.unwrap()
    }

    /// The routing keys of the outbox, in insertion order.
    pub async fn outbox_keys(&self) -> Vec<String> {
        self.outbox().await.into_iter().map(|(k, _)| k).collect()
    }

    /// How many rows a table holds.
    pub async fn count(&self, table: &str) -> i64 {
        let select =
            Query::select().expr_as(Expr::cust("COUNT(*)"), Alias::new("n")).from(Alias::new(table)).to_owned();
        let row = self.db.conn().query_one(&select).await.unwrap().unwrap();
        row.try_get::<i64>("", "n").unwrap()
    }

    /// Everything a refused action must leave as it was: the replicas of `reports`, the
    /// `cases` index, the deadlines, the re-dispatches, the outbox.
    pub async fn snapshot(&self, reports: &[ReportId]) -> Snapshot {
        let mut replicas = Vec::new();
        for id in reports {
            replicas.push(self.replica(*id).await);
        }
        Snapshot {
            replicas,
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

/// The fields named by an INVALID_ARGUMENT status.
pub fn fields(status: &Status) -> Vec<String> {
    use tonic_types::StatusExt;
    let details = status.get_error_details();
    details.bad_request().map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect()).unwrap_or_default()
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
    Actor::new("op-1", Role::IocOperator, UnitId::new(INSTANCE))
}

/// A report's life as the other services see it: intake receives and accepts it, processing's
/// agencies return it. Each step returns the envelope its producer would publish.
pub struct Story {
    pub report: lc::Report,
    cal: Arc<WorkingCalendar>,
}

impl Story {
    /// `report.received` from intake, at `at`.
    pub fn received(h: &Harness, spec: &Spec, at: &str) -> (Story, v1::EventEnvelope) {
        let new = NewReport {
            id: ReportId::from_uuid(Uuid::now_v7()),
            instance: UnitId::new(INSTANCE),
            reporter_ref: None,
            confidential: false,
        };
        let system = Actor::new("web", Role::System, UnitId::new(INSTANCE));
        let t = lc::Report::receive(new, &system, vn(at), &h.cal).unwrap();
        let mut view = v1::Report {
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
        convert::fill_lifecycle(&mut view, &t.report);
        let event = &t.events[0];
        let envelope = convert::envelope(Uuid::now_v7(), event, convert::payload(event, &t.report, Some(view)));
        (Story { report: t.report, cal: Arc::clone(&h.cal) }, envelope)
    }

    /// Applies a command of another service and returns its envelopes.
    pub fn step(&mut self, actor: &Actor, command: Command, at: &str) -> Vec<v1::EventEnvelope> {
        // Routing resolves the report as soon as every assignment at work is approved.
        let t = self.report.apply(command, actor, vn(at), &self.cal).and_then(|t| t.with_resolution(vn(at), &self.cal));
        let t = t.unwrap();
        self.report = t.report;
        t.events.iter().map(|e| convert::envelope(Uuid::now_v7(), e, convert::payload(e, &self.report, None))).collect()
    }

    /// `report.accepted` from intake (the category as submitted).
    pub fn accepted(&mut self, at: &str) -> v1::EventEnvelope {
        self.step(&ioc_actor(), Command::Accept, at).remove(0)
    }

    /// Catches up with what routing did to the report (its own commands).
    pub async fn sync(&mut self, h: &Harness) {
        self.report = h.replica(self.id()).await.state;
    }

    /// `assignment.returned` from processing: the agency's officer returns its assignment (R8.2b).
    pub fn returned(&mut self, assignment: AssignmentId, at: &str) -> v1::EventEnvelope {
        let agency = self.report.assignment(assignment).expect("an assignment of the report").agency.clone();
        let officer = Actor::new("officer-1", Role::Officer, agency);
        let reason = "Không thuộc thẩm quyền của đơn vị".to_owned();
        self.step(&officer, Command::Return { assignment, reason }, at).remove(0)
    }

    pub fn id(&self) -> ReportId {
        self.report.id
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

async fn harness(db: Db, url: String) -> Harness {
    let auth = AuthConfig::ephemeral();
    let issuer = TokenIssuer::new(&auth).unwrap();
    let check = interceptor(Arc::new(Authenticator::new(&auth).unwrap()));
    let cal = Arc::new(WorkingCalendar::vietnam());
    let clock = Arc::new(Mutex::new(vn("2027-03-05T10:00:00+07:00")));
    let shared = Arc::clone(&clock);
    let svc = paht_routing::build(parts(db.clone(), Arc::clone(&cal)))
        .await
        .unwrap()
        .with_clock(move || *shared.lock().unwrap());
    Harness { consumer: svc.consumer(), svc: Arc::new(svc), db, cal, url, clock, issuer, intercept: Arc::new(check) }
}

/// The server's URL with another database name.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let (server, _) = base.rsplit_once('/').expect("a database URL ends with /<database>");
    match query {
        Some(q) => format!("{server}/{database}?{q}"),
        None => format!("{server}/{database}"),
    }
}

/// Runs `test` on a fresh database of `backend` (`paht_routing_<uuid>` on the test Postgres, or
/// an SQLite file), removed afterwards even if the test panics.
pub async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(Harness) -> Fut,
    Fut: Future<Output = ()>,
{
    let name = format!("paht_routing_{}", Uuid::new_v4().simple());
    let dir = std::env::temp_dir().join(&name);
    let admin_url = std::env::var("PAHT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let (db, url, admin) = match backend {
        Backend::Sqlite => {
            let url = format!("sqlite://{}/routing.db", dir.display());
            let db = Db::connect(&url, "routing", &DbConfig::default()).await.expect("open the test SQLite file");
            (db, url, None)
        }
        Backend::Postgres => {
            let admin = Db::connect(&admin_url, "public", &DbConfig { max_connections: 1, ..DbConfig::default() })
                .await
                .expect("connect to the test Postgres");
            admin.conn().execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.unwrap();
            let url = with_database(&admin_url, &name);
            let db = Db::connect(&url, "routing", &DbConfig::default()).await.expect("open the test database");
            (db, url, Some(admin))
        }
    };
    let h = harness(db.clone(), url).await;
    let outcome = AssertUnwindSafe(test(h)).catch_unwind().await;
    let _ = db.close().await;
    if let Some(admin) = admin {
        admin.conn().execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await.unwrap();
        let _ = admin.close().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Declares `name::postgres` and `name::sqlite` running the scenario `name`.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn postgres() {
                $crate::common::run($crate::common::Backend::Postgres, super::$name).await
            }
            #[tokio::test]
            async fn sqlite() {
                $crate::common::run($crate::common::Backend::Sqlite, super::$name).await
            }
        }
    )*};
}
