//! The routing service — dispatch (R7.3b), re-dispatch after a return (R8.2b) or a reopen
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
use paht_platform::auth::{AuthContext, Caller};
use paht_platform::bus::Handler;
use paht_platform::cache::Cache;
use paht_platform::db::{Db, RelayNotifier};
use paht_platform::replica::{self, Replica};
use paht_proto::v1;
use sea_orm::DatabaseTransaction;

use crate::api::Routing;
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

/// The business logic of every RPC; the tonic service is the adapter `paht_platform::service_api!`
/// writes over it (see [`crate::api`]).
#[async_trait::async_trait]
impl Routing for RoutingService {
    #[tracing::instrument(name = "suggest_agencies", skip_all, fields(report_id))]
    async fn suggest_agencies(
        &self,
        caller: &Caller,
        request: v1::SuggestAgenciesRequest,
    ) -> Result<v1::SuggestAgenciesResponse, RoutingError> {
        caller.require_role(ADVISED)?;
        self.suggest_agencies_for(caller, &request).await
    }

    #[tracing::instrument(name = "dispatch", skip_all, fields(report_id))]
    async fn dispatch(
        &self,
        caller: &Caller,
        request: v1::DispatchRequest,
    ) -> Result<v1::DispatchResponse, RoutingError> {
        caller.require_role(OPERATORS)?;
        self.dispatch_report(caller, &request).await
    }

    #[tracing::instrument(name = "redispatch", skip_all, fields(report_id))]
    async fn redispatch(
        &self,
        caller: &Caller,
        request: v1::RedispatchRequest,
    ) -> Result<v1::RedispatchResponse, RoutingError> {
        caller.require_role(OPERATORS)?;
        self.redispatch_report(caller, &request).await
    }

    #[tracing::instrument(name = "escalate", skip_all, fields(report_id))]
    async fn escalate(
        &self,
        caller: &Caller,
        request: v1::EscalateRequest,
    ) -> Result<v1::EscalateResponse, RoutingError> {
        caller.require_role(OPERATORS)?;
        self.escalate_report(caller, &request).await
    }

    #[tracing::instrument(name = "issue_directive", skip_all, fields(report_id))]
    async fn issue_directive(
        &self,
        caller: &Caller,
        request: v1::IssueDirectiveRequest,
    ) -> Result<v1::IssueDirectiveResponse, RoutingError> {
        caller.require_role(DIRECTORS)?;
        self.direct_report(caller, &request).await
    }

    #[tracing::instrument(name = "suggest_duplicates", skip_all, fields(report_id))]
    async fn suggest_duplicates(
        &self,
        caller: &Caller,
        request: v1::SuggestDuplicatesRequest,
    ) -> Result<v1::SuggestDuplicatesResponse, RoutingError> {
        caller.require_role(ADVISED)?;
        self.suggest_duplicates_for(caller, &request).await
    }

    #[tracing::instrument(name = "link_duplicate", skip_all, fields(report_id))]
    async fn link_duplicate(
        &self,
        caller: &Caller,
        request: v1::LinkDuplicateRequest,
    ) -> Result<v1::LinkDuplicateResponse, RoutingError> {
        caller.require_role(OPERATORS)?;
        self.link(caller, &request).await
    }

    #[tracing::instrument(name = "list_units", skip_all)]
    async fn list_units(
        &self,
        caller: &Caller,
        request: v1::ListUnitsRequest,
    ) -> Result<v1::ListUnitsResponse, RoutingError> {
        caller.require_role(DIRECTORY_READERS)?;
        self.units(&request).await
    }

    #[tracing::instrument(name = "list_categories", skip_all)]
    async fn list_categories(
        &self,
        caller: &Caller,
        request: v1::ListCategoriesRequest,
    ) -> Result<v1::ListCategoriesResponse, RoutingError> {
        caller.require_role(DIRECTORY_READERS)?;
        self.categories(&request).await
    }

    #[tracing::instrument(name = "upsert_category", skip_all)]
    async fn upsert_category(
        &self,
        caller: &Caller,
        request: v1::UpsertCategoryRequest,
    ) -> Result<v1::UpsertCategoryResponse, RoutingError> {
        caller.require_role(DIRECTORY_ADMINS)?;
        self.upsert(caller, &request).await
    }

    #[tracing::instrument(name = "retire_category", skip_all)]
    async fn retire_category(
        &self,
        caller: &Caller,
        request: v1::RetireCategoryRequest,
    ) -> Result<v1::RetireCategoryResponse, RoutingError> {
        caller.require_role(DIRECTORY_ADMINS)?;
        self.retire(caller, &request).await
    }

    #[tracing::instrument(name = "list_focal_points", skip_all)]
    async fn list_focal_points(
        &self,
        caller: &Caller,
        request: v1::ListFocalPointsRequest,
    ) -> Result<v1::ListFocalPointsResponse, RoutingError> {
        caller.require_role(DIRECTORY_READERS)?;
        self.focal_points(&request).await
    }

    #[tracing::instrument(name = "set_focal_points", skip_all)]
    async fn set_focal_points(
        &self,
        caller: &Caller,
        request: v1::SetFocalPointsRequest,
    ) -> Result<v1::SetFocalPointsResponse, RoutingError> {
        caller.require_role(DIRECTORY_ADMINS)?;
        self.set_focal(caller, &request).await
    }
}
