//! Publication's own rows over any sea-orm connection or transaction (Postgres or SQLite): the
//! `publications` index, kept in step with the replicas by the hook, and the `follow_ups` queue
//! (R11.2). The replica (`report_replicas`) is the truth about a report; the index finds it by
//! tracking code and lists what is public.

use chrono::{DateTime, TimeZone, Utc};
use paht_platform::replica::Replica;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

/// `publications`: one row per report the service has a replica of.
pub mod publication {
    use sea_orm::entity::prelude::*;

    /// A report's publication row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "publications")]
    pub struct Model {
        /// The report id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub report_id: Uuid,
        /// Its tracking code.
        pub tracking_code: String,
        /// The domain's `ReportStatus` name.
        pub status: String,
        /// Its category.
        pub category_id: Option<String>,
        /// Whether its answer is public now (R10.3a).
        pub public: bool,
        /// When the current answer was published, sent or withheld.
        pub decided_at: Option<DateTimeUtc>,
        /// When the row last changed.
        pub updated_at: DateTimeUtc,
    }

    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `follow_ups`: one row per "unsatisfied" rating (R11.2).
pub mod follow_up {
    use sea_orm::entity::prelude::*;

    /// A follow-up item.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "follow_ups")]
    pub struct Model {
        /// Its id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The report.
        pub report_id: Uuid,
        /// The report's tracking code.
        pub tracking_code: String,
        /// The answer round rated (the report's reopen count then).
        pub round: i32,
        /// The rating (`unsatisfied`).
        pub rating: String,
        /// The reporter's feedback.
        pub feedback: Option<String>,
        /// The lead agency of the answer.
        pub lead_agency_unit_id: String,
        /// Every agency whose result was in the answer, comma-separated.
        pub agency_unit_ids: String,
        /// When the rating opened it.
        pub opened_at: DateTimeUtc,
        /// By when it should be checked.
        pub due_at: DateTimeUtc,
        /// When it was closed.
        pub closed_at: Option<DateTimeUtc>,
        /// Who closed it: `role unit subject`.
        pub closed_by: Option<String>,
        /// The closing note.
        pub note: Option<String>,
    }

    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The publication row of a replica as it stands.
pub fn row_of(replica: &Replica, now: DateTime<Utc>) -> publication::Model {
    let state = &replica.state;
    publication::Model {
        report_id: state.id.0,
        tracking_code: replica.view.tracking_code.clone(),
        status: state.status.as_str().to_owned(),
        category_id: replica.category_id().map(str::to_owned),
        public: state.answer_is_public(),
        decided_at: state.answer.as_ref().and_then(|a| a.decided_at),
        updated_at: now,
    }
}

/// Upserts the publication row of `replica`.
pub async fn index_report(conn: &impl ConnectionTrait, replica: &Replica, now: DateTime<Utc>) -> Result<(), DbErr> {
    use publication::{ActiveModel, Column, Entity};
    let row: ActiveModel = sea_orm::IntoActiveModel::into_active_model(row_of(replica, now));
    Entity::insert(row)
        .on_conflict(
            OnConflict::column(Column::ReportId)
                .update_columns([
                    Column::TrackingCode,
                    Column::Status,
                    Column::CategoryId,
                    Column::Public,
                    Column::DecidedAt,
                    Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// The publication row of a tracking code (as printed: upper case).
pub async fn by_tracking_code(conn: &impl ConnectionTrait, code: &str) -> Result<Option<publication::Model>, DbErr> {
    publication::Entity::find().filter(publication::Column::TrackingCode.eq(code)).one(conn).await
}

/// Inserts a follow-up item; a second item for the same report and round is not added (the
/// rating that opens it happens once per answer), and `false` says so.
pub async fn open_follow_up(conn: &impl ConnectionTrait, item: follow_up::Model) -> Result<bool, DbErr> {
    use follow_up::{ActiveModel, Column, Entity};
    let row: ActiveModel = sea_orm::IntoActiveModel::into_active_model(item);
    let inserted = Entity::insert(row)
        .on_conflict(OnConflict::columns([Column::ReportId, Column::Round]).do_nothing().to_owned())
        .exec_without_returning(conn)
        .await?;
    Ok(inserted > 0)
}

/// A follow-up item by id.
pub async fn follow_up(conn: &impl ConnectionTrait, id: Uuid) -> Result<Option<follow_up::Model>, DbErr> {
    follow_up::Entity::find_by_id(id).one(conn).await
}

/// The follow-up item of a report's answer round.
pub async fn follow_up_of(
    conn: &impl ConnectionTrait,
    report: Uuid,
    round: i32,
) -> Result<Option<follow_up::Model>, DbErr> {
    use follow_up::{Column, Entity};
    Entity::find().filter(Column::ReportId.eq(report)).filter(Column::Round.eq(round)).one(conn).await
}

/// Closes an open item; `false` when it was already closed (nothing changes then).
pub async fn close_follow_up(
    conn: &impl ConnectionTrait,
    id: Uuid,
    by: &str,
    note: &str,
    at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    use follow_up::{Column, Entity};
    use sea_orm::sea_query::Expr;
    let result = Entity::update_many()
        .col_expr(Column::ClosedAt, Expr::value(at))
        .col_expr(Column::ClosedBy, Expr::value(by.to_owned()))
        .col_expr(Column::Note, Expr::value(note.to_owned()))
        .filter(Column::Id.eq(id))
        .filter(Column::ClosedAt.is_null())
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Where a page of follow-ups starts: after this (deadline, id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The deadline of the previous page's last item.
    pub due_at: DateTime<Utc>,
    /// Its id, which breaks ties.
    pub id: Uuid,
}

const TOKEN_VERSION: &str = "f1";

impl Cursor {
    /// The cursor after `row`.
    pub fn after(row: &follow_up::Model) -> Cursor {
        Cursor { due_at: row.due_at, id: row.id }
    }

    /// The page token: `f1.<micros>.<uuid>`.
    pub fn token(&self) -> String {
        format!("{TOKEN_VERSION}.{}.{}", self.due_at.timestamp_micros(), self.id.simple())
    }

    /// A token of [`Cursor::token`]; `None` for anything else.
    pub fn parse(token: &str) -> Option<Cursor> {
        let mut parts = token.split('.');
        let (Some(TOKEN_VERSION), Some(micros), Some(id), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let due_at = Utc.timestamp_micros(micros.parse().ok()?).single()?;
        Some(Cursor { due_at, id: Uuid::parse_str(id).ok()? })
    }
}

/// One page of follow-ups, nearest deadline first: open ones only unless `include_closed`, and only
/// those led by `lead_agency` when given; `limit` rows and whether more follow.
pub async fn follow_ups(
    conn: &impl ConnectionTrait,
    include_closed: bool,
    lead_agency: Option<&str>,
    after: Option<Cursor>,
    limit: u64,
) -> Result<(Vec<follow_up::Model>, bool), DbErr> {
    use follow_up::{Column, Entity};
    let mut query = Entity::find();
    if !include_closed {
        query = query.filter(Column::ClosedAt.is_null());
    }
    if let Some(agency) = lead_agency {
        query = query.filter(Column::LeadAgencyUnitId.eq(agency));
    }
    if let Some(c) = after {
        query = query.filter(
            Condition::any()
                .add(Column::DueAt.gt(c.due_at))
                .add(Condition::all().add(Column::DueAt.eq(c.due_at)).add(Column::Id.gt(c.id))),
        );
    }
    let mut rows = query.order_by_asc(Column::DueAt).order_by_asc(Column::Id).limit(limit + 1).all(conn).await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    Ok((rows, more))
}
