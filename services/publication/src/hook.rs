//! The replica hook of publication: after every change of a replica (an own command or another
//! service's fact), in the same transaction, the `publications` row is brought in step.

use async_trait::async_trait;
use paht_domain::lifecycle as lc;
use paht_platform::db::DbError;
use paht_platform::replica::{Hook, Replica};
use sea_orm::DatabaseTransaction;

use crate::store;

/// Keeps `publications` in step with the replicas.
#[derive(Debug, Clone, Copy, Default)]
pub struct PublicationIndex;

#[async_trait]
impl Hook for PublicationIndex {
    async fn changed(
        &self,
        txn: &DatabaseTransaction,
        _before: Option<&lc::Report>,
        after: &Replica,
    ) -> Result<(), DbError> {
        store::index_report(txn, after, paht_platform::clock::wall()).await?;
        Ok(())
    }
}
