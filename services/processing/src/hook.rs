//! The replica hook of processing: after every change of a replica (an own command or a
//! replayed event), in the same transaction, the `assignments` index is brought in step.

use async_trait::async_trait;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use paht_domain::lifecycle as lc;
use paht_platform::db::DbError;
use paht_platform::replica::{Hook, Replica};
use sea_orm::DatabaseTransaction;

use crate::store;

/// Keeps `assignments` in step with the replicas: each assignment of the new state is upserted.
#[derive(Debug, Clone, Copy, Default)]
pub struct AssignmentIndex;

/// The wall clock at microsecond precision (what Postgres keeps).
pub(crate) fn now_micros() -> DateTime<Utc> {
    let now = Utc::now();
    now.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(now)
}

#[async_trait]
impl Hook for AssignmentIndex {
    async fn changed(
        &self,
        txn: &DatabaseTransaction,
        before: Option<&lc::Report>,
        after: &Replica,
    ) -> Result<(), DbError> {
        store::index_report(txn, before, &after.state, now_micros()).await?;
        Ok(())
    }
}
