//! The sweep of uploads no report claimed: an upload whose report never came is removed — its
//! row, then its bytes — once the configured time has passed since the upload
//! (`[intake.uploads] unclaimed_ttl_secs`). Every replica sweeps: the row goes with one
//! conditional delete (still unclaimed), so a submission claiming the upload at the same moment
//! either wins (the upload stays, with its report) or finds it gone and stores nothing; and two
//! replicas never both remove one upload. A crash between the two deletes leaves bytes without
//! a row, which no one can refer to again.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::IntakeService;
use crate::error::IntakeError;
use crate::store;

impl IntakeService {
    /// One round: removes up to `sweep_batch` uploads unclaimed since before `now` minus the
    /// configured time; how many this replica removed.
    pub async fn sweep_unclaimed_uploads(&self, now: DateTime<Utc>) -> Result<u64, IntakeError> {
        let config = self.parts.uploads;
        let ttl = TimeDelta::seconds(i64::try_from(config.unclaimed_ttl_secs.max(60)).unwrap_or(i64::MAX / 2));
        let conn = self.parts.db.conn();
        let stale = store::stale_uploads(conn, now - ttl, u64::from(config.sweep_batch.max(1))).await?;
        let mut removed = 0;
        for upload in stale {
            if !store::delete_unclaimed_attachment(conn, upload.id).await? {
                continue; // claimed just now, or removed by another replica
            }
            removed += 1;
            if let Err(e) = self.parts.blobs.delete(upload.id).await {
                tracing::warn!(attachment_id = %upload.id, error = %e, "the bytes of a swept upload stay behind");
            }
        }
        if removed > 0 {
            tracing::info!(removed, "unclaimed uploads removed");
        }
        Ok(removed)
    }

    /// Sweeps every `sweep_interval_secs` until `stop`; a full round goes on at once.
    pub fn spawn_upload_sweeper(self: &Arc<Self>, stop: CancellationToken) -> JoinHandle<()> {
        let service = Arc::clone(self);
        let interval = Duration::from_secs(self.parts.uploads.sweep_interval_secs.max(1));
        let batch = u64::from(self.parts.uploads.sweep_batch.max(1));
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(interval) => {}
                }
                loop {
                    match service.sweep_unclaimed_uploads(paht_platform::clock::now()).await {
                        Ok(removed) if removed >= batch && !stop.is_cancelled() => continue,
                        Ok(_) => break,
                        Err(e) => {
                            tracing::warn!(error = %e, "sweeping unclaimed uploads");
                            break;
                        }
                    }
                }
            }
        })
    }
}
