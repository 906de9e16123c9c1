//! Reads and writes of the intake tables over any sea-orm connection or transaction, with
//! the query builder only, so the same code runs on Postgres and SQLite. Callers own the
//! transaction: a state change and its outbox rows commit together.

pub mod entity;

use chrono::{DateTime, Utc};
use paht_domain::lifecycle::{self as lc, ReportStatus};
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

use paht_platform::replica::ReplicaError;

use crate::error::IntakeError;
pub use entity::{attachment, audit, report, reporter};

/// Whether a database error is a unique-constraint violation (a concurrent retry with the
/// same idempotency key, or a tracking-code collision), which the caller handles by retrying.
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_)))
}

/// Inserts a new report and its reporter row; run it in the transaction that also writes
/// the `report.received` event. Returns the raw error so a unique violation can be retried.
pub async fn insert_report(
    conn: &impl ConnectionTrait,
    report: report::Model,
    reporter: reporter::Model,
) -> Result<(), DbErr> {
    report::Entity::insert(report.into_active_model()).exec_without_returning(conn).await?;
    reporter::Entity::insert(reporter.into_active_model()).exec_without_returning(conn).await?;
    Ok(())
}

/// The report with this id.
pub async fn find_report(conn: &impl ConnectionTrait, id: Uuid) -> Result<Option<report::Model>, IntakeError> {
    Ok(report::Entity::find_by_id(id).one(conn).await?)
}

/// The report with this tracking code (in its displayed form).
pub async fn find_by_tracking_code(
    conn: &impl ConnectionTrait,
    code: &str,
) -> Result<Option<report::Model>, IntakeError> {
    Ok(report::Entity::find().filter(report::Column::TrackingCode.eq(code)).one(conn).await?)
}

/// The report this caller (`subject`) already submitted on `channel` with this idempotency key.
pub async fn find_by_idempotency_key(
    conn: &impl ConnectionTrait,
    channel: &str,
    subject: &str,
    key: &str,
) -> Result<Option<report::Model>, IntakeError> {
    Ok(report::Entity::find()
        .filter(report::Column::Channel.eq(channel))
        .filter(report::Column::IdempotencySubject.eq(subject))
        .filter(report::Column::IdempotencyKey.eq(key))
        .one(conn)
        .await?)
}

/// The reporter row of a report.
pub async fn find_reporter(
    conn: &impl ConnectionTrait,
    report_id: Uuid,
) -> Result<Option<reporter::Model>, IntakeError> {
    Ok(reporter::Entity::find_by_id(report_id).one(conn).await?)
}

/// The lifecycle state stored in a row.
pub fn lifecycle_of(row: &report::Model) -> Result<lc::Report, ReplicaError> {
    serde_json::from_str(&row.lifecycle).map_err(|e| ReplicaError::Decode(format!("report {}: {e}", row.id)))
}

/// Saves a new lifecycle state (and status) of a report; `category_id` replaces the
/// category when the operator corrected it at the check.
pub async fn update_lifecycle(
    conn: &impl ConnectionTrait,
    row: report::Model,
    state: &lc::Report,
    category_id: Option<String>,
    now: DateTime<Utc>,
) -> Result<report::Model, ReplicaError> {
    let lifecycle = serde_json::to_string(state).map_err(|e| ReplicaError::Decode(e.to_string()))?;
    let mut active = row.into_active_model();
    active.lifecycle = ActiveValue::Set(lifecycle);
    active.status = ActiveValue::Set(state.status.as_str().to_owned());
    active.updated_at = ActiveValue::Set(now);
    if let Some(category) = category_id {
        active.category_id = ActiveValue::Set(Some(category));
    }
    Ok(active.update(conn).await?)
}

/// One page of the check queue of `instance`: reports received or accepted (waiting for
/// dispatch), oldest check deadline first (R7.2, R7.3a). Returns the rows and whether more follow.
pub async fn check_queue(
    conn: &impl ConnectionTrait,
    instance: &str,
    offset: u64,
    limit: u64,
) -> Result<(Vec<report::Model>, bool), IntakeError> {
    let waiting = [ReportStatus::Received.as_str(), ReportStatus::Accepted.as_str()];
    let mut rows = report::Entity::find()
        .filter(report::Column::InstanceId.eq(instance))
        .filter(report::Column::Status.is_in(waiting))
        .order_by_asc(report::Column::CheckDueAt)
        // Ties (same arrival second) keep a stable order across pages.
        .order_by_asc(report::Column::Id)
        .offset(offset)
        .limit(limit + 1)
        .all(conn)
        .await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    Ok((rows, more))
}

/// Writes one audit entry (R20.2); run it in the transaction of the read it records.
pub async fn insert_audit(conn: &impl ConnectionTrait, entry: audit::Model) -> Result<(), IntakeError> {
    audit::Entity::insert(entry.into_active_model()).exec_without_returning(conn).await?;
    Ok(())
}

/// The attachment with this id, if `uploader` uploaded it and no report claimed it yet.
pub async fn find_unclaimed_attachment(
    conn: &impl ConnectionTrait,
    id: Uuid,
    uploader: &str,
) -> Result<Option<attachment::Model>, IntakeError> {
    Ok(attachment::Entity::find_by_id(id)
        .filter(attachment::Column::ReportId.is_null())
        .filter(attachment::Column::UploadedBy.eq(uploader))
        .one(conn)
        .await?)
}

/// Up to `limit` uploads no report claimed, uploaded before `before`, oldest first.
pub async fn stale_uploads(
    conn: &impl ConnectionTrait,
    before: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<attachment::Model>, IntakeError> {
    Ok(attachment::Entity::find()
        .filter(attachment::Column::ReportId.is_null())
        .filter(attachment::Column::UploadedAt.lt(before))
        .order_by_asc(attachment::Column::UploadedAt)
        .limit(limit)
        .all(conn)
        .await?)
}

/// Deletes the row of upload `id` if it is still unclaimed; whether it did (then the caller
/// owns the removal of its bytes: a submission can no longer claim it).
pub async fn delete_unclaimed_attachment(conn: &impl ConnectionTrait, id: Uuid) -> Result<bool, IntakeError> {
    let deleted = attachment::Entity::delete_many()
        .filter(attachment::Column::Id.eq(id))
        .filter(attachment::Column::ReportId.is_null())
        .exec(conn)
        .await?;
    Ok(deleted.rows_affected == 1)
}

/// Records an uploaded attachment, not yet claimed by any report.
pub async fn insert_attachment(conn: &impl ConnectionTrait, row: attachment::Model) -> Result<(), IntakeError> {
    attachment::Entity::insert(row.into_active_model()).exec_without_returning(conn).await?;
    Ok(())
}

/// Gives the uploaded attachments to the report that refers to them, only those no report has
/// claimed yet; returns how many were linked. Fewer than `ids.len()` means another report took one
/// in the meantime (or an id is listed twice), and the caller rolls back.
pub async fn link_attachments(
    conn: &impl ConnectionTrait,
    ids: &[Uuid],
    report_id: Uuid,
    uploader: &str,
) -> Result<u64, DbErr> {
    if ids.is_empty() {
        return Ok(0);
    }
    let result = attachment::Entity::update_many()
        .col_expr(attachment::Column::ReportId, sea_orm::sea_query::Expr::value(report_id))
        .filter(attachment::Column::Id.is_in(ids.iter().copied()))
        .filter(attachment::Column::ReportId.is_null())
        .filter(attachment::Column::UploadedBy.eq(uploader))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}

/// The attachments of a report, in upload order.
pub async fn attachments_of(
    conn: &impl ConnectionTrait,
    report_id: Uuid,
) -> Result<Vec<attachment::Model>, IntakeError> {
    Ok(attachment::Entity::find()
        .filter(attachment::Column::ReportId.eq(report_id))
        .order_by_asc(attachment::Column::UploadedAt)
        .all(conn)
        .await?)
}
