//! The gRPC `RoutingService`: dispatch (R7.3b), re-dispatch after a return (R8.2b) or a reopen
//! (R11.3), escalation (R8.2c, R4.4) and the provincial office's directives, agency and
//! duplicate suggestions, duplicate links, and the directory (units, categories R13.5/R14.6,
//! focal officers R14.3/R18.1).
//!
//! Each command runs on the service's replica of the report in one transaction (replica,
//! outbox, `cases`, `deadlines`) through `paht_platform::replica::execute`; the domain checks
//! role, unit and state, the handlers check the request and the directory. Spans carry report
//! ids only.

mod admin;
mod commands;
mod duplicates;
mod mapping;
mod suggest;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use paht_domain::actor::Role;
use paht_domain::calendar::WorkingCalendar;
use paht_domain::ids::{ReportId, UnitId};
use paht_platform::auth::{AuthContext, caller};
use paht_platform::bus::Handler;
use paht_platform::cache::Cache;
use paht_platform::db::{Db, RelayNotifier};
use paht_platform::replica::{self, Replica};
use paht_proto::v1;
use paht_proto::v1::routing_service_server::RoutingService as RoutingApi;
use sea_orm::DatabaseTransaction;
use tonic::{Request, Response, Status};

use crate::config::RoutingConfig;
use crate::deadlines::Sweeper;
use crate::directory::Directory;
use crate::error::RoutingError;
use crate::hook::CaseIndex;
use crate::rules::RoutingRules;
use crate::store::DirectoryStore;

pub use mapping::unit_kind;

/// Who dispatches, re-dispatches, escalates and links duplicates: the operators of the
/// report's IOC instance (R7.3b, R8.2b, R8.2c).
const OPERATORS: &[Role] = &[Role::IocOperator];
/// Who directs escalated cases (R8.2c, R4.4).
const DIRECTORS: &[Role] = &[Role::ProvincialOffice];
/// Who asks for agency and duplicate suggestions: the operators of the report's instance, and
/// the provincial office, which directs escalated cases to agencies or closes duplicates.
const ADVISED: &[Role] = &[Role::IocOperator, Role::ProvincialOffice];
/// Who reads the directory: every staff role.
const DIRECTORY_READERS: &[Role] = &Role::STAFF;
/// Who changes the directory: the system operator (R14.3, R14.6).
const DIRECTORY_ADMINS: &[Role] = &[Role::SystemOperator];

/// The clock the service stamps its actions with.
pub use paht_platform::clock::Clock;

/// Everything the routing service needs, built by the process that hosts it.
pub struct RoutingParts {
    /// The service's database (migrated with [`crate::RoutingMigrator`] by [`crate::build`]).
    pub db: Db,
    /// Shared cache: the deadline sweeper's lease.
    pub cache: Arc<dyn Cache>,
    /// The instance's working calendar, for every deadline (R4.3).
    pub calendar: Arc<WorkingCalendar>,
    /// The IOC instance this service runs for (the sweeper acts as its system).
    pub instance: UnitId,
    /// Wakes the outbox relay after a commit; `None` when the relay only polls.
    pub notifier: Option<RelayNotifier>,
    /// The shipped directory, the baseline the administrators' changes are laid over.
    pub directory: Directory,
    /// The routing rules, checked against `directory`.
    pub rules: RoutingRules,
    /// `[routing]`: suggestions, duplicates, sweeper.
    pub config: RoutingConfig,
}

/// The routing gRPC service.
pub struct RoutingService {
    db: Db,
    cache: Arc<dyn Cache>,
    calendar: Arc<WorkingCalendar>,
    instance: UnitId,
    notifier: Option<RelayNotifier>,
    directory: DirectoryStore,
    rules: RoutingRules,
    config: RoutingConfig,
    index: CaseIndex,
    clock: Clock,
}

impl std::fmt::Debug for RoutingService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoutingService").field("instance", &self.instance).finish_non_exhaustive()
    }
}

fn record_report(id: ReportId) {
    tracing::Span::current().record("report_id", tracing::field::display(id));
}

/// The caller must act for the report's IOC instance (an operator of another instance may
/// not act on it).
fn require_instance(auth: &AuthContext, replica: &Replica) -> Result<(), RoutingError> {
    if auth.role() == Role::IocOperator && auth.unit() != &replica.state.instance {
        return Err(RoutingError::Forbidden(format!(
            "report {} belongs to IOC instance {}; the caller acts for unit {}",
            replica.id(),
            replica.state.instance,
            auth.unit()
        )));
    }
    Ok(())
}

impl RoutingService {
    /// A service over ready parts (the database already migrated), on the business clock
    /// (`paht_platform::clock`).
    pub fn new(parts: RoutingParts) -> Self {
        RoutingService {
            directory: DirectoryStore::new(parts.db.clone(), parts.directory),
            index: CaseIndex::new(parts.config.sweeper.lead),
            db: parts.db,
            cache: parts.cache,
            calendar: parts.calendar,
            instance: parts.instance,
            notifier: parts.notifier,
            rules: parts.rules,
            config: parts.config,
            clock: Arc::new(paht_platform::clock::now),
        }
    }

    /// The same service stamping its actions with `clock` (tests, replays of a past day).
    pub fn with_clock(mut self, clock: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The service's database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The directory with the administrators' changes; also the sweeper's [`Recipients`](crate::deadlines::Recipients).
    pub fn directory(&self) -> &DirectoryStore {
        &self.directory
    }

    /// The replica hook of this service (`cases` and `deadlines`), for [`crate::consumer`].
    pub fn index(&self) -> CaseIndex {
        self.index
    }

    /// The bus handler of this service's replicas: [`crate::consumer`] over the service's
    /// database, calendar and hook. Subscribe it with [`crate::subscription`].
    pub fn consumer(&self) -> Arc<dyn Handler> {
        crate::consumer(self.db.clone(), Arc::clone(&self.calendar), self.index)
    }

    /// The deadline sweeper of this service (R13.1, R14.4): `[routing.sweeper]`, the shared
    /// cache's lease, the directory's focal officers as recipients, the relay's notifier. Start
    /// it with [`Sweeper::spawn`] in every replica; one at a time works.
    pub fn sweeper(&self) -> Sweeper {
        Sweeper::new(
            self.db.clone(),
            Arc::clone(&self.cache),
            Arc::new(self.directory.clone()),
            self.config.sweeper,
            self.instance.clone(),
            self.notifier.clone(),
        )
    }

    /// Now, at microsecond precision (what Postgres keeps).
    fn now(&self) -> DateTime<Utc> {
        paht_platform::clock::micros((self.clock)())
    }

    fn notify(&self) {
        if let Some(n) = &self.notifier {
            n.notify();
        }
    }

    /// Opens a write transaction and locks the replica of `report_id` (NOT_FOUND without one).
    async fn lock(&self, field: &str, report_id: &str) -> Result<(DatabaseTransaction, Replica), RoutingError> {
        let id = RoutingError::parse_id::<ReportId>(field, report_id)?;
        record_report(id);
        let txn = self.db.begin_write().await?;
        let replica = replica::lock(&txn, id).await?.ok_or_else(|| RoutingError::NotFound(format!("report {id}")))?;
        Ok((txn, replica))
    }

    /// Commits and wakes the relay.
    async fn commit(&self, txn: DatabaseTransaction) -> Result<(), RoutingError> {
        txn.commit().await?;
        self.notify();
        Ok(())
    }
}

#[tonic::async_trait]
impl RoutingApi for RoutingService {
    #[tracing::instrument(name = "suggest_agencies", skip_all, fields(report_id))]
    async fn suggest_agencies(
        &self,
        request: Request<v1::SuggestAgenciesRequest>,
    ) -> Result<Response<v1::SuggestAgenciesResponse>, Status> {
        let auth = caller(&request)?;
        auth.require_role(ADVISED)?;
        Ok(Response::new(self.suggest_agencies_for(auth, request.get_ref()).await?))
    }

    #[tracing::instrument(name = "dispatch", skip_all, fields(report_id))]
    async fn dispatch(&self, request: Request<v1::DispatchRequest>) -> Result<Response<v1::DispatchResponse>, Status> {
        let auth = caller(&request)?;
        auth.require_role(OPERATORS)?;
        Ok(Response::new(self.dispatch_report(auth, request.get_ref()).await?))
    }

    #[tracing::instrument(name = "redispatch", skip_all, fields(report_id))]
    async fn redispatch(
        &self,
        request: Request<v1::RedispatchRequest>,
    ) -> Result<Response<v1::RedispatchResponse>, Status> {
        let auth = caller(&request)?;
        auth.require_role(OPERATORS)?;
        Ok(Response::new(self.redispatch_report(auth, request.get_ref()).await?))
    }

    #[tracing::instrument(name = "escalate", skip_all, fields(report_id))]
    async fn escalate(&self, request: Request<v1::EscalateRequest>) -> Result<Response<v1::EscalateResponse>, Status> {
        let auth = caller(&request)?;
        auth.require_role(OPERATORS)?;
        Ok(Response::new(self.escalate_report(auth, request.get_ref()).await?))
    }

    #[tracing::instrument(name = "issue_directive", skip_all, fields(report_id))]
    async fn issue_directive(
        &self,
        request: Request<v1::IssueDirectiveRequest>,
    ) -> Result<Response<v1::IssueDirectiveResponse>, Status> {
        let auth = caller(&request)?;
        auth.require_role(DIRECTORS)?;
        Ok(Response::new(self.direct_report(auth, request.get_ref()).await?))
    }

    #[tracing::instrument(name = "suggest_duplicates", skip_all, fields(report_id))]
    async fn suggest_duplicates(
        &self,
        request: Request<v1::SuggestDuplicatesRequest>,
    ) -> Result<Response<v1::SuggestDuplicatesResponse>, Status> {
        let auth = caller(&request)?;
        auth.require_role(ADVISED)?;
        Ok(Response::new(self.suggest_duplicates_for(auth, request.get_ref()).await?))
    }

    #[tracing::instrument(name = "link_duplicate", skip_all, fields(report_id))]
    async fn link_duplicate(
        &self,
        request: Request<v1::LinkDuplicateRequest>,
    ) -> Result<Response<v1::LinkDuplicateResponse>, Status> {
        let auth = caller(&request)?;
        auth.require_role(OPERATORS)?;
        Ok(Response::new(self.link(auth, request.get_ref()).await?))
    }

    #[tracing::instrument(name = "list_units", skip_all)]
    async fn list_units(
        &self,
        request: Request<v1::ListUnitsRequest>,
    ) -> Result<Response<v1::ListUnitsResponse>, Status> {
        caller(&request)?.require_role(DIRECTORY_READERS)?;
        Ok(Response::new(self.units(request.get_ref()).await?))
    }

    #[tracing::instrument(name = "list_categories", skip_all)]
    async fn list_categories(
        &self,
        request: Request<v1::ListCategoriesRequest>,
    ) -> Result<Response<v1::ListCategoriesResponse>, Status> {
        caller(&request)?.require_role(DIRECTORY_READERS)?;
        Ok(Response::new(self.categories(request.get_ref()).await?))
    }

    #[tracing::instrument(name = "upsert_category", skip_all)]
    async fn upsert_category(
        &self,
        request: Request<v1::UpsertCategoryRequest>,
    ) -> Result<Response<v1::UpsertCategoryResponse>, Status> {
        let auth = caller(&request)?;
        auth.require_role(DIRECTORY_ADMINS)?;
        Ok(Response::new(self.upsert(auth, request.get_ref()).await?))
    }

    #[tracing::instrument(name = "retire_category", skip_all)]
    async fn retire_category(
        &self,
        request: Request<v1::RetireCategoryRequest>,
    ) -> Result<Response<v1::RetireCategoryResponse>, Status> {
        let auth = caller(&request)?;
        auth.require_role(DIRECTORY_ADMINS)?;
        Ok(Response::new(self.retire(auth, request.get_ref()).await?))
    }

    #[tracing::instrument(name = "list_focal_points", skip_all)]
    async fn list_focal_points(
        &self,
        request: Request<v1::ListFocalPointsRequest>,
    ) -> Result<Response<v1::ListFocalPointsResponse>, Status> {
        caller(&request)?.require_role(DIRECTORY_READERS)?;
        Ok(Response::new(self.focal_points(request.get_ref()).await?))
    }

    #[tracing::instrument(name = "set_focal_points", skip_all)]
    async fn set_focal_points(
        &self,
        request: Request<v1::SetFocalPointsRequest>,
    ) -> Result<Response<v1::SetFocalPointsResponse>, Status> {
        let auth = caller(&request)?;
        auth.require_role(DIRECTORY_ADMINS)?;
        Ok(Response::new(self.set_focal(auth, request.get_ref()).await?))
    }
}
