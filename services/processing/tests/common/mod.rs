//! Test harness: a processing service over a fresh Postgres database (or SQLite file), its
//! replica consumer fed with the envelopes intake and routing would publish, a settable clock,
//! and requests passed through the real authentication interceptor.

#![allow(dead_code)]

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, FixedOffset, Utc};
use futures::FutureExt;
use paht_domain::actor::{Actor, Role};
use paht_domain::calendar::WorkingCalendar;
use paht_domain::ids::{AssignmentId, ReportId, UnitId};
use paht_domain::lifecycle::{self as lc, Command, NewAssignment, NewReport};
use paht_platform::auth::{AuthConfig, Authenticator, TokenIssuer, interceptor};
use paht_platform::bus::{Delivery, HandleError, Handler};
use paht_platform::db::{Db, DbConfig};
use paht_platform::replica::{self, Replica};
use paht_processing::store::assignment;
use paht_processing::{ProcessingParts, ProcessingService};
use paht_proto::convert;
use paht_proto::v1;
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder};
use tonic::{Request, Status};
use uuid::Uuid;

/// The IOC instance of the service under test.
pub const INSTANCE: &str = "IOC-86";
/// Two handling agencies.
pub const AG1: &str = "SO-XD-86";
pub const AG2: &str = "UBND-29551";

/// Which database a test runs on.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

type Intercept = Arc<dyn Fn(Request<()>) -> Result<Request<()>, Status> + Send + Sync>;

/// An instant written in Vietnamese local time, e.g. `2027-03-08T09:00:00+07:00`.
pub fn vn(s: &str) -> DateTime<Utc> {
    DateTime::<FixedOffset>::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The service under test and what tests need around it.
pub struct Harness {
    pub svc: Arc<ProcessingService>,
    pub db: Db,
    pub consumer: Arc<dyn Handler>,
    pub cal: Arc<WorkingCalendar>,
    clock: Arc<Mutex<DateTime<Utc>>>,
    issuer: TokenIssuer,
    intercept: Intercept,
}

impl Harness {
    /// Sets the service's clock.
    pub fn at(&self, now: &str) {
        *self.clock.lock().unwrap() = vn(now);
    }

    /// A request as `role` of `unit`, passed through the authentication interceptor.
    pub fn as_role<T>(&self, role: Role, unit: &str, message: T) -> Request<T> {
        let token =
            self.issuer.mint(&format!("{}-1", role.as_str()), role, &UnitId::new(unit), INSTANCE, None).unwrap();
        let mut request = Request::new(message);
        request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
        let (metadata, extensions, message) = request.into_parts();
        let checked = (self.intercept)(Request::from_parts(metadata, extensions, ())).expect("a valid token passes");
        let (metadata, extensions, ()) = checked.into_parts();
        Request::from_parts(metadata, extensions, message)
    }

    pub fn officer<T>(&self, agency: &str, message: T) -> Request<T> {
        self.as_role(Role::Officer, agency, message)
    }

    pub fn leader<T>(&self, agency: &str, message: T) -> Request<T> {
        self.as_role(Role::Leader, agency, message)
    }

    pub fn ioc<T>(&self, message: T) -> Request<T> {
        self.as_role(Role::IocOperator, INSTANCE, message)
    }

    /// Delivers an envelope to the replica consumer, as the bus would.
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

    /// Every row of the `assignments` index, by id.
    pub async fn index(&self) -> Vec<assignment::Model> {
        assignment::Entity::find().order_by_asc(assignment::Column::AssignmentId).all(self.db.conn()).await.unwrap()
    }

    /// The index row of an assignment.
    pub async fn row(&self, id: AssignmentId) -> assignment::Model {
        assignment::Entity::find_by_id(id.0).one(self.db.conn()).await.unwrap().expect("an index row")
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
    /// index, the outbox.
    pub async fn snapshot(&self, reports: &[ReportId]) -> Snapshot {
        let mut replicas = Vec::new();
        for id in reports {
            replicas.push(self.replica(*id).await);
        }
        Snapshot { replicas, index: self.index().await, outbox: self.outbox_keys().await }
    }
}

/// The state a refused action leaves untouched.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    pub replicas: Vec<Replica>,
    pub index: Vec<assignment::Model>,
    pub outbox: Vec<String>,
}

/// The fields named by an INVALID_ARGUMENT status.
pub fn fields(status: &Status) -> Vec<String> {
    use tonic_types::StatusExt;
    let details = status.get_error_details();
    details.bad_request().map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect()).unwrap_or_default()
}

/// A report's life as the other services see it: intake receives and accepts it, routing
/// dispatches it. Each step returns the envelope its producer would publish.
pub struct Story {
    pub report: lc::Report,
    cal: Arc<WorkingCalendar>,
}

fn ioc_actor() -> Actor {
    Actor::new("op-1", Role::IocOperator, UnitId::new(INSTANCE))
}

impl Story {
    /// `report.received` from intake, at `at`, with content `content`.
    pub fn received(h: &Harness, content: &str, at: &str) -> (Story, v1::EventEnvelope) {
        let new = NewReport {
            id: ReportId::from_uuid(Uuid::now_v7()),
            instance: UnitId::new(INSTANCE),
            reporter_ref: None,
            confidential: false,
        };
        let system = Actor::new("web", Role::System, UnitId::new(INSTANCE));
        let t = lc::Report::receive(new, &system, vn(at), &h.cal).unwrap();
        let mut view = v1::Report {
            content: content.into(),
            category_id: "giao-thong".into(),
            channel: v1::Channel::WebPortal as i32,
            tracking_code: "7K3Q-9XM2-H".into(),
            location: Some(v1::Location { address: "25 Nguyễn Trãi".into(), ..Default::default() }),
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

    /// `report.accepted` from intake.
    pub fn accepted(&mut self, at: &str) -> v1::EventEnvelope {
        self.step(&ioc_actor(), Command::Accept, at).remove(0)
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
        let envelope = self.step(&ioc_actor(), Command::Dispatch { assignments }, at).remove(0);
        (ids, envelope)
    }

    pub fn id(&self) -> ReportId {
        self.report.id
    }

    /// Catches up with processing's own facts, as the other services' replicas do by
    /// replaying them.
    pub async fn sync(&mut self, h: &Harness) {
        self.report = h.replica(self.id()).await.state;
    }
}

/// An IOC operator of the instance.
pub fn ioc() -> Actor {
    ioc_actor()
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

async fn harness(db: Db) -> Harness {
    let auth = AuthConfig::ephemeral();
    let issuer = TokenIssuer::new(&auth).unwrap();
    let check = interceptor(Arc::new(Authenticator::new(&auth).unwrap()));
    let cal = Arc::new(WorkingCalendar::vietnam());
    let clock = Arc::new(Mutex::new(vn("2027-03-08T09:00:00+07:00")));
    let svc = paht_processing::build(ProcessingParts {
        db: db.clone(),
        calendar: Arc::clone(&cal),
        instance: UnitId::new(INSTANCE),
        notifier: None,
    })
    .await
    .unwrap();
    let shared = Arc::clone(&clock);
    let svc = svc.with_clock(move || *shared.lock().unwrap());
    Harness {
        svc: Arc::new(svc),
        consumer: paht_processing::consumer(db.clone(), Arc::clone(&cal)),
        db,
        cal,
        clock,
        issuer,
        intercept: Arc::new(check),
    }
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

/// Runs `test` on a fresh database of `backend`, removed afterwards even if the test panics.
pub async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(Harness) -> Fut,
    Fut: Future<Output = ()>,
{
    let name = format!("paht_processing_{}", Uuid::new_v4().simple());
    let dir = std::env::temp_dir().join(&name);
    let admin_url = std::env::var("PAHT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let (db, admin) = match backend {
        Backend::Sqlite => {
            let url = format!("sqlite://{}/processing.db", dir.display());
            (Db::connect(&url, "processing", &DbConfig::default()).await.expect("open the test SQLite file"), None)
        }
        Backend::Postgres => {
            let admin = Db::connect(&admin_url, "public", &DbConfig { max_connections: 1, ..DbConfig::default() })
                .await
                .expect("connect to the test Postgres");
            admin.conn().execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.unwrap();
            let url = with_database(&admin_url, &name);
            (Db::connect(&url, "processing", &DbConfig::default()).await.expect("open the test database"), Some(admin))
        }
    };
    let h = harness(db.clone()).await;
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
