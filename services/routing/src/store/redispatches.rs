//! Which returned assignment each re-dispatch replaced (R8.2b): a returned assignment is
//! replaced once.

use chrono::{DateTime, Utc};
use paht_domain::ids::{AssignmentId, ReportId};
use paht_platform::db::DbError;
use sea_orm::{ActiveValue, ConnectionTrait, EntityTrait};

use super::entity::redispatch;

/// The re-dispatch that replaced `assignment`, if one did.
pub async fn find(conn: &impl ConnectionTrait, assignment: AssignmentId) -> Result<Option<redispatch::Model>, DbError> {
    Ok(redispatch::Entity::find_by_id(assignment.0).one(conn).await?)
}

/// Records that `replaced` was replaced by `new` on `report`.
pub async fn record(
    conn: &impl ConnectionTrait,
    replaced: AssignmentId,
    report: ReportId,
    new: &[AssignmentId],
    by: &str,
    at: DateTime<Utc>,
) -> Result<(), DbError> {
    let ids: Vec<String> = new.iter().map(|a| a.to_string()).collect();
    let row = redispatch::ActiveModel {
        replaced_assignment_id: ActiveValue::Set(replaced.0),
        report_id: ActiveValue::Set(report.0),
        assignment_ids: ActiveValue::Set(serde_json::to_string(&ids).unwrap_or_else(|_| String::from("[]"))),
        redispatched_at: ActiveValue::Set(at),
        redispatched_by: ActiveValue::Set(by.to_owned()),
    };
    redispatch::Entity::insert(row).exec_without_returning(conn).await?;
    Ok(())
}
