//! Following the report after the check: the other services' facts (dispatch, results,
//! approval, answer …) are folded into the lifecycle kept on each `reports` row, so the
//! check queue drops dispatched reports and the public lookup by tracking code shows where
//! the report stands (R5, R11).

use std::sync::Arc;

use async_trait::async_trait;
use paht_domain::calendar::WorkingCalendar;
use paht_domain::ids::ReportId;
use paht_platform::bus::{Handler, Subscription};
use paht_platform::db::{Db, DbError};
use paht_platform::replica::{self, NoIndex, Replica, ReplicaConsumer, ReplicaError, ReplicaStore};
use paht_proto::v1;
use sea_orm::{DatabaseTransaction, DbBackend, EntityTrait, QuerySelect};

use crate::store::{self, report};

/// The consumer name of intake (its inbox marks).
pub const CONSUMER: &str = "intake";
/// The queue intake follows the other services' facts from.
pub const QUEUE: &str = "intake.follow";
/// The subscription of intake's follower: every lifecycle fact another service decides.
pub fn subscription() -> Subscription {
    replica::subscription(QUEUE, paht_domain::lifecycle::Service::Intake)
}

/// The bus handler that keeps the lifecycle on intake's `reports` rows in step.
pub fn consumer(db: Db, calendar: Arc<WorkingCalendar>) -> Arc<dyn Handler> {
    Arc::new(ReplicaConsumer::new(CONSUMER, db, calendar, Arc::new(NoIndex)).with_store(Arc::new(ReportRows)))
}

/// The lifecycle column of `reports` as a replica store (the content stays in its columns).
#[derive(Debug, Default, Clone, Copy)]
pub struct ReportRows;

async fn locked(txn: &DatabaseTransaction, id: ReportId) -> Result<Option<report::Model>, ReplicaError> {
    let mut find = report::Entity::find_by_id(id.0);
    if sea_orm::ConnectionTrait::get_database_backend(txn) == DbBackend::Postgres {
        find = find.lock_exclusive();
    }
    find.one(txn).await.map_err(|e| ReplicaError::Db(DbError::Query(e)))
}

#[async_trait]
impl ReplicaStore for ReportRows {
    async fn lock(&self, txn: &DatabaseTransaction, id: ReportId) -> Result<Option<Replica>, ReplicaError> {
        let Some(row) = locked(txn, id).await? else { return Ok(None) };
        let state = store::lifecycle_of(&row)?;
        Ok(Some(Replica { state, view: v1::Report::default(), version: 0 }))
    }

    async fn save(&self, txn: &DatabaseTransaction, replica: Replica) -> Result<Replica, ReplicaError> {
        let row = locked(txn, replica.id()).await?.ok_or(ReplicaError::NotFound(replica.id()))?;
        let now = paht_platform::clock::now();
        store::update_lifecycle(txn, row, &replica.state, None, now).await?;
        Ok(Replica { version: replica.version + 1, ..replica })
    }
}
