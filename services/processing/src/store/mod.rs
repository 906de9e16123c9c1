//! The `assignments` index over any sea-orm connection or transaction, with the query builder
//! only, so the same code runs on Postgres and SQLite. The replica (`report_replicas`) is the
//! truth; this index only finds assignments: by id (to find the report a command is about) and
//! by agency, status and deadline (the inbox). The hook keeps it in step in the replica's own
//! transaction.

pub mod entity;

use chrono::{DateTime, TimeZone, Utc};
use paht_domain::lifecycle::{self as lc, AssignmentStatus};
use sea_orm::sea_query::{NullOrdering, OnConflict};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

pub use entity::assignment;
use entity::assignment::{ActiveModel, Column, Entity, Model};

/// The statuses of the default inbox: the assignments an agency still has to act on.
pub const OPEN_STATUSES: [AssignmentStatus; 4] = [
    AssignmentStatus::Assigned,
    AssignmentStatus::Explained,
    AssignmentStatus::ResultSubmitted,
    AssignmentStatus::SentBack,
];

/// The deadline an assignment is due by next: the earliest one running on it; for an open
/// assignment without one, its handling deadline; `None` when none runs (approved, returned,
/// cancelled).
pub fn due_at(a: &lc::Assignment) -> Option<DateTime<Utc>> {
    a.open_deadlines
        .iter()
        .map(|d| d.due_at)
        .min()
        .or_else(|| OPEN_STATUSES.contains(&a.status).then_some(a.handling.due_at))
}

/// The index row of an assignment of `report`.
pub fn row_of(report: &lc::Report, a: &lc::Assignment, now: DateTime<Utc>) -> Model {
    Model {
        assignment_id: a.id.0,
        report_id: report.id.0,
        agency_unit_id: a.agency.to_string(),
        lead: a.lead,
        status: a.status.as_str().to_owned(),
        due_at: due_at(a),
        handling_due_at: a.handling.due_at,
        assigned_at: a.assigned_at,
        updated_at: now,
    }
}

fn active(row: Model) -> ActiveModel {
    sea_orm::IntoActiveModel::into_active_model(row)
}

/// Keeps the index in step with a replica that changed from `before` (None: new) to `after`:
/// the assignments that changed are upserted with `updated_at = now`; the others are inserted
/// only if missing, so an index that lost rows heals on the replica's next change.
pub async fn index_report(
    conn: &impl ConnectionTrait,
    before: Option<&lc::Report>,
    after: &lc::Report,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let unchanged = |a: &lc::Assignment| before.and_then(|b| b.assignment(a.id)).is_some_and(|old| old == a);
    let (same, changed): (Vec<&lc::Assignment>, Vec<&lc::Assignment>) =
        after.assignments.iter().partition(|a| unchanged(a));
    if !changed.is_empty() {
        let rows = changed.iter().map(|a| active(row_of(after, a, now)));
        Entity::insert_many(rows)
            .on_conflict(
                OnConflict::column(Column::AssignmentId)
                    .update_columns([
                        Column::ReportId,
                        Column::AgencyUnitId,
                        Column::Lead,
                        Column::Status,
                        Column::DueAt,
                        Column::HandlingDueAt,
                        Column::AssignedAt,
                        Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(conn)
            .await?;
    }
    if !same.is_empty() {
        let rows = same.iter().map(|a| active(row_of(after, a, now)));
        Entity::insert_many(rows)
            .on_conflict(OnConflict::column(Column::AssignmentId).do_nothing().to_owned())
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// The index row of an assignment.
pub async fn find_assignment(conn: &impl ConnectionTrait, id: Uuid) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(id).one(conn).await
}

/// Where a page of the inbox starts: after this (deadline, id) in inbox order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The deadline of the last row of the previous page (`None`: it had none).
    pub due_at: Option<DateTime<Utc>>,
    /// Its assignment id, which breaks ties.
    pub assignment_id: Uuid,
}

/// Version tag of the page token's layout, so a token from another layout is refused.
const TOKEN_VERSION: &str = "p1";

impl Cursor {
    /// The cursor after `row`.
    pub fn after(row: &Model) -> Self {
        Cursor { due_at: row.due_at, assignment_id: row.assignment_id }
    }

    /// The opaque page token of this cursor.
    pub fn token(&self) -> String {
        let due = self.due_at.map_or_else(|| "-".to_owned(), |d| d.timestamp_micros().to_string());
        let plain = format!("{TOKEN_VERSION}:{due}:{}", self.assignment_id.simple());
        plain.bytes().map(|b| format!("{b:02x}")).collect()
    }

    /// The cursor of a page token; `None` if it is not one.
    pub fn parse(token: &str) -> Option<Self> {
        if !token.len().is_multiple_of(2) || !token.is_ascii() {
            return None;
        }
        let bytes = (0..token.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&token[i..i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        let plain = String::from_utf8(bytes).ok()?;
        let mut parts = plain.split(':');
        let (version, due, id) = (parts.next()?, parts.next()?, parts.next()?);
        if version != TOKEN_VERSION || parts.next().is_some() {
            return None;
        }
        let due_at = match due {
            "-" => None,
            micros => Some(Utc.timestamp_micros(micros.parse().ok()?).single()?),
        };
        Some(Cursor { due_at, assignment_id: Uuid::try_parse(id).ok()? })
    }
}

/// One page of an agency's inbox: its assignments in `statuses`, nearest deadline first (those
/// without a deadline last), ties by id, starting after `after`. Returns the rows and whether
/// more follow.
pub async fn inbox(
    conn: &impl ConnectionTrait,
    agency: &str,
    statuses: &[AssignmentStatus],
    after: Option<Cursor>,
    limit: u64,
) -> Result<(Vec<Model>, bool), DbErr> {
    let mut query = Entity::find()
        .filter(Column::AgencyUnitId.eq(agency))
        .filter(Column::Status.is_in(statuses.iter().map(|s| s.as_str())));
    if let Some(cursor) = after {
        let later = match cursor.due_at {
            Some(due) => Condition::any()
                .add(Column::DueAt.gt(due))
                .add(Condition::all().add(Column::DueAt.eq(due)).add(Column::AssignmentId.gt(cursor.assignment_id)))
                .add(Column::DueAt.is_null()),
            None => Condition::all().add(Column::DueAt.is_null()).add(Column::AssignmentId.gt(cursor.assignment_id)),
        };
        query = query.filter(later);
    }
    let mut rows = query
        .order_by_with_nulls(Column::DueAt, Order::Asc, NullOrdering::Last)
        .order_by_asc(Column::AssignmentId)
        .limit(limit + 1)
        .all(conn)
        .await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    Ok((rows, more))
}

#[cfg(test)]
mod tests;
