//! The replica hook of processing: after every change of a replica (an own command or a
//! replayed event), in the same transaction, the `assignments` index is brought in step.

use async_trait::async_trait;
use paht_domain::lifecycle as lc;
use paht_platform::db::DbError;
use paht_platform::replica::{Hook, Replica};
use sea_orm::DatabaseTransaction;

use crate::store;

/// Keeps `assignments` in step with the replicas: each assignment of the new state is upserted.
#[derive(Debug, Clone, Copy, Default)]
pub struct AssignmentIndex;

#[async_trait]
impl Hook for AssignmentIndex {
    async fn changed(
        &self,
        txn: &DatabaseTransaction,
        before: Option<&lc::Report>,
        after: &Replica,
    ) -> Result<(), DbError> {
        store::index_report(txn, before, &after.state, paht_platform::clock::wall()).await?;
        Ok(())
    }
}
