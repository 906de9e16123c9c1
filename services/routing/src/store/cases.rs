//! The `cases` index: one row per report replica, for duplicate searches (R8.2c) and the
//! IOC's queues (to dispatch, to re-dispatch after a return, escalated).

use chrono::{DateTime, Utc};
use paht_domain::duplicates::{Candidate, Fingerprint};
use paht_domain::ids::ReportId;
use paht_domain::validation::Coordinates;
use paht_platform::db::DbError;
use paht_platform::replica::Replica;
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use super::entity::case;

/// The fingerprint of a report's content, as stored.
pub fn fingerprint_json(content: &str) -> String {
    // A struct of strings and an integer: serialising it cannot fail.
    serde_json::to_string(&Fingerprint::of(content)).unwrap_or_else(|_| String::from("{}"))
}

/// Brings the row of `replica` in step with it, in the caller's transaction: inserted with the
/// content's fingerprint and place the first time, then status, category and the re-dispatch
/// flag on every change. A duplicate link is kept; a duplicate escalation (R8.2c) sets it when
/// none was linked.
pub async fn index(conn: &impl ConnectionTrait, replica: &Replica, now: DateTime<Utc>) -> Result<(), DbError> {
    let id = replica.id().0;
    let state = &replica.state;
    let escalated_duplicate = state.escalation.as_ref().and_then(|e| e.duplicate_of).map(|d| d.0);
    let category = replica.category_id().map(str::to_owned);
    match case::Entity::find_by_id(id).one(conn).await? {
        None => {
            let view = &replica.view;
            let location = view.location.clone().unwrap_or_default();
            let unit_code = Some(location.unit_code.trim().to_owned()).filter(|c| !c.is_empty());
            let row = case::ActiveModel {
                report_id: ActiveValue::Set(id),
                tracking_code: ActiveValue::Set(view.tracking_code.clone()),
                instance_id: ActiveValue::Set(state.instance.to_string()),
                status: ActiveValue::Set(state.status.as_str().to_owned()),
                category_id: ActiveValue::Set(category),
                received_at: ActiveValue::Set(state.received_at),
                latitude: ActiveValue::Set(location.latitude),
                longitude: ActiveValue::Set(location.longitude),
                unit_code: ActiveValue::Set(unit_code),
                fingerprint: ActiveValue::Set(fingerprint_json(&view.content)),
                duplicate_of: ActiveValue::Set(escalated_duplicate),
                duplicate_linked_at: ActiveValue::Set(escalated_duplicate.map(|_| now)),
                awaiting_redispatch: ActiveValue::Set(state.awaiting_redispatch),
                updated_at: ActiveValue::Set(now),
            };
            case::Entity::insert(row).exec_without_returning(conn).await?;
        }
        Some(row) => {
            let link = row.duplicate_of.is_none() && escalated_duplicate.is_some();
            let mut active: case::ActiveModel = row.into();
            active.status = ActiveValue::Set(state.status.as_str().to_owned());
            active.category_id = ActiveValue::Set(category);
            active.awaiting_redispatch = ActiveValue::Set(state.awaiting_redispatch);
            active.updated_at = ActiveValue::Set(now);
            if link {
                active.duplicate_of = ActiveValue::Set(escalated_duplicate);
                active.duplicate_linked_at = ActiveValue::Set(Some(now));
            }
            active.update(conn).await?;
        }
    }
    Ok(())
}

/// The row of a report.
pub async fn find(conn: &impl ConnectionTrait, id: ReportId) -> Result<Option<case::Model>, DbError> {
    Ok(case::Entity::find_by_id(id.0).one(conn).await?)
}

/// Records that `report` duplicates `earlier` (R8.2c).
pub async fn link(
    conn: &impl ConnectionTrait,
    report: ReportId,
    earlier: ReportId,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    case::Entity::update_many()
        .col_expr(case::Column::DuplicateOf, sea_orm::sea_query::Expr::value(Some(earlier.0)))
        .col_expr(case::Column::DuplicateLinkedAt, sea_orm::sea_query::Expr::value(Some(now)))
        .col_expr(case::Column::UpdatedAt, sea_orm::sea_query::Expr::value(now))
        .filter(case::Column::ReportId.eq(report.0))
        .exec(conn)
        .await?;
    Ok(())
}

/// A latitude/longitude box around a point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundingBox {
    /// Southern edge.
    pub lat_min: f64,
    /// Northern edge.
    pub lat_max: f64,
    /// Western edge.
    pub lon_min: f64,
    /// Eastern edge.
    pub lon_max: f64,
}

impl BoundingBox {
    /// The box that holds every point within `radius_m` of `center` (a little more: degrees of
    /// longitude shrink towards the poles, Vietnam lies between 8° and 24° N).
    pub fn around(center: &Coordinates, radius_m: f64) -> BoundingBox {
        const METRES_PER_DEGREE: f64 = 111_000.0;
        let radius = radius_m.max(0.0) * 1.01;
        let dlat = radius / METRES_PER_DEGREE;
        let dlon = radius / (METRES_PER_DEGREE * center.latitude().to_radians().cos().max(0.01));
        BoundingBox {
            lat_min: center.latitude() - dlat,
            lat_max: center.latitude() + dlat,
            lon_min: center.longitude() - dlon,
            lon_max: center.longitude() + dlon,
        }
    }
}

/// Which earlier reports a duplicate search looks at.
#[derive(Debug, Clone)]
pub struct Window {
    /// The IOC instance whose reports are searched.
    pub instance: String,
    /// The report whose duplicates are sought (left out).
    pub report: Uuid,
    /// Received at or after this instant…
    pub from: DateTime<Utc>,
    /// …and strictly before this one.
    pub until: DateTime<Utc>,
    /// With coordinates: only reports in this box, or without coordinates.
    pub area: Option<BoundingBox>,
    /// At most this many, the most recent first.
    pub limit: u64,
}

/// The reports of the window: received before the report, of its instance, not refused (an
/// incomplete report is no case), near it when both have coordinates.
pub async fn window(conn: &impl ConnectionTrait, w: &Window) -> Result<Vec<case::Model>, DbError> {
    let mut query = case::Entity::find()
        .filter(case::Column::InstanceId.eq(w.instance.as_str()))
        .filter(case::Column::ReceivedAt.gte(w.from))
        .filter(case::Column::ReceivedAt.lt(w.until))
        .filter(case::Column::ReportId.ne(w.report))
        .filter(case::Column::Status.ne("refused"));
    if let Some(area) = w.area {
        query = query.filter(
            Condition::any().add(case::Column::Latitude.is_null()).add(case::Column::Longitude.is_null()).add(
                Condition::all()
                    .add(case::Column::Latitude.between(area.lat_min, area.lat_max))
                    .add(case::Column::Longitude.between(area.lon_min, area.lon_max)),
            ),
        );
    }
    Ok(query.order_by_desc(case::Column::ReceivedAt).limit(w.limit).all(conn).await?)
}

/// A row's coordinates, when it has valid ones.
pub fn coordinates(row: &case::Model) -> Option<Coordinates> {
    Coordinates::new(row.latitude?, row.longitude?).ok()
}

/// A row as a duplicate candidate; `None` (and a warning) when its fingerprint is unreadable.
pub fn candidate(row: &case::Model) -> Option<Candidate> {
    match serde_json::from_str::<Fingerprint>(&row.fingerprint) {
        Ok(fingerprint) => Some(Candidate {
            report_id: ReportId::from_uuid(row.report_id),
            fingerprint,
            coordinates: coordinates(row),
            received_at: row.received_at,
        }),
        Err(err) => {
            tracing::warn!(report_id = %row.report_id, error = %err, "unreadable fingerprint; not a candidate");
            None
        }
    }
}
