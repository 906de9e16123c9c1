//! A service under test fed through its replica consumer.

use std::sync::Arc;

use paht_domain::actor::Role;
use paht_domain::calendar::WorkingCalendar;
use paht_domain::ids::ReportId;
use paht_platform::bus::{HandleError, Handler};
use paht_platform::db::Db;
use paht_platform::replica::{self, Replica};
use paht_proto::v1;
use tonic::{Request, Status};

use crate::auth::Tokens;
use crate::clock::{TestClock, vn};

/// A service `S` over a fresh database, with its replica consumer, calendar, settable clock
/// and tokens for its instance.
pub struct Harness<S> {
    pub svc: Arc<S>,
    pub db: Db,
    /// The database's URL (for another replica of the service).
    pub url: String,
    pub consumer: Arc<dyn Handler>,
    pub cal: Arc<WorkingCalendar>,
    pub clock: TestClock,
    pub tokens: Tokens,
}

impl<S> Harness<S> {
    /// Sets the service's clock, e.g. `h.at("2027-03-05T10:00:00+07:00")`.
    pub fn at(&self, now: &str) {
        self.clock.set(vn(now));
    }

    /// A request as account `subject` in `role` for `unit`, through the authentication interceptor.
    pub fn as_subject<T>(&self, subject: &str, role: Role, unit: &str, message: T) -> Request<T> {
        self.tokens.as_subject(subject, role, unit, message)
    }

    /// A request as `role` of `unit` (account `<role>-1`).
    pub fn as_role<T>(&self, role: Role, unit: &str, message: T) -> Request<T> {
        self.as_subject(&format!("{}-1", role.as_str()), role, unit, message)
    }

    /// A request as an IOC operator of the instance.
    pub fn ioc<T>(&self, message: T) -> Request<T> {
        let instance = self.tokens.instance().to_owned();
        self.as_role(Role::IocOperator, &instance, message)
    }

    /// Delivers an envelope to the replica consumer, encoded as the bus carries it.
    pub async fn deliver(&self, envelope: &v1::EventEnvelope) -> Result<(), HandleError> {
        crate::deliver(self.consumer.as_ref(), envelope).await
    }

    /// Delivers every envelope, each of which must apply.
    pub async fn deliver_all(&self, envelopes: &[v1::EventEnvelope]) {
        crate::deliver_all(self.consumer.as_ref(), envelopes).await
    }

    /// The replica of a report.
    pub async fn replica(&self, id: ReportId) -> Replica {
        replica::load(self.db.conn(), id).await.expect("read the replica").expect("a replica")
    }

    /// The replicas of `reports`, in that order.
    pub async fn replicas(&self, reports: &[ReportId]) -> Vec<Replica> {
        let mut replicas = Vec::new();
        for id in reports {
            replicas.push(self.replica(*id).await);
        }
        replicas
    }

    /// The outbox, decoded: (routing key, envelope), in insertion order.
    pub async fn outbox(&self) -> Vec<(String, v1::EventEnvelope)> {
        crate::outbox(&self.db).await
    }

    /// The routing keys of the outbox, in insertion order.
    pub async fn outbox_keys(&self) -> Vec<String> {
        crate::outbox_keys(&self.db).await
    }

    /// How many rows a table holds.
    pub async fn count(&self, table: &str) -> i64 {
        crate::count(&self.db, table).await
    }
}

/// The fields named by an INVALID_ARGUMENT status.
pub fn fields(status: &Status) -> Vec<String> {
    use tonic_types::StatusExt;
    let details = status.get_error_details();
    details.bad_request().map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect()).unwrap_or_default()
}
