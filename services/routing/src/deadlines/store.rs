//! The `deadlines` rows: the entity, the identity of a deadline, and [`sync`].

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use paht_domain::deadline::{Deadline, Rule, Stage};
use paht_domain::ids::AssignmentId;
use paht_domain::lifecycle::Report;
use paht_platform::db::DbError;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::{LeadTime, micros};

/// The `deadlines` table as sea-orm sees it (see the migration for the DDL and indexes).
/// Read it for overdue and backlog lists; write it only through [`sync`] and the sweeper.
pub mod entity {
    use sea_orm::entity::prelude::*;

    /// One deadline that ran, or runs, on a report.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "deadlines")]
    pub struct Model {
        /// The row's id (v7).
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The report.
        pub report_id: Uuid,
        /// The report's IOC instance.
        pub instance_id: String,
        /// The assignment the stage belongs to; `None` for the report's own stages.
        pub assignment_id: Option<Uuid>,
        /// The assignment id as text, or "" for the report's own stages (the identity's key).
        pub assignment_key: String,
        /// The stage's name ([`Stage::as_str`](paht_domain::deadline::Stage::as_str)).
        pub stage: String,
        /// The domain's `Rule` as JSON.
        #[sea_orm(column_type = "Text")]
        pub rule: String,
        /// When the stage started.
        pub started_at: DateTimeUtc,
        /// When it is due.
        pub due_at: DateTimeUtc,
        /// When its reminder goes out.
        pub due_soon_at: DateTimeUtc,
        /// The unit responsible: the agency for assignment stages, the instance otherwise.
        pub responsible_unit_id: String,
        /// When `deadline.due_soon` was written to the outbox.
        pub due_soon_sent_at: Option<DateTimeUtc>,
        /// When `deadline.missed` was written to the outbox.
        pub missed_sent_at: Option<DateTimeUtc>,
        /// When the deadline stopped running (stage done, moved, window ended …).
        pub closed_at: Option<DateTimeUtc>,
    }

    /// No relations: the table stands alone.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use entity::{ActiveModel, Column, Entity, Model};

/// A deadline's identity: `(assignment key, stage, started_at)` within its report.
type Identity = (String, Stage, DateTime<Utc>);

fn assignment_key(assignment: Option<AssignmentId>) -> String {
    assignment.map(|a| a.0.to_string()).unwrap_or_default()
}

/// The stage named `name`, if it is one.
pub(super) fn parse_stage(name: &str) -> Option<Stage> {
    Stage::ALL.into_iter().find(|s| s.as_str() == name)
}

/// The domain deadline a row stands for: its stage, start, due time and rule (the stored one;
/// the stage's own rule if the stored one cannot be read).
pub(super) fn deadline_of(row: &Model, stage: Stage) -> Deadline {
    let rule = serde_json::from_str::<Rule>(&row.rule).unwrap_or_else(|err| {
        tracing::warn!(deadline_id = %row.id, error = %err, "unreadable deadline rule; using the stage's own");
        stage.rule()
    });
    Deadline { stage, started_at: row.started_at, due_at: row.due_at, rule }
}

fn rule_json(rule: &Rule) -> String {
    // A plain enum of integers and dates: serialising it cannot fail.
    serde_json::to_string(rule).unwrap_or_else(|_| String::from("null"))
}

/// Keeps `report`'s rows in step with its lifecycle, in the caller's transaction: inserts a
/// row for each deadline in [`Report::open_deadlines`] not stored yet (responsible unit: the
/// assignment's agency, or the report's instance for its own stages; reminder instant from
/// `lead`), reopens a closed row whose deadline runs again (the handling period restored by a
/// send-back, R9.3a; window rows ended by the sweeper stay closed), and closes every open row
/// whose deadline no longer runs (`closed_at` is the wall clock's now: it records when this
/// table learnt it, not when the stage ended). Idempotent: calling it again with the same
/// report changes nothing.
///
/// The routing service calls it after every change of a report's replica — its own commands
/// and replayed events — in the transaction that saves the replica.
#[tracing::instrument(name = "deadlines_sync", skip_all, fields(report_id = %report.id))]
pub async fn sync(txn: &impl ConnectionTrait, report: &Report, lead: &LeadTime) -> Result<(), DbError> {
    let stored: HashMap<Identity, Model> = Entity::find()
        .filter(Column::ReportId.eq(report.id.0))
        .all(txn)
        .await?
        .into_iter()
        .filter_map(|row| {
            let stage = parse_stage(&row.stage)?;
            Some(((row.assignment_key.clone(), stage, row.started_at), row))
        })
        .collect();

    let mut running: HashMap<Identity, (Option<AssignmentId>, Deadline)> = HashMap::new();
    for (assignment, deadline) in report.open_deadlines() {
        let started_at = micros(deadline.started_at);
        running.insert((assignment_key(assignment), deadline.stage, started_at), (assignment, deadline));
    }

    for (identity, (assignment, deadline)) in &running {
        let due_at = micros(deadline.due_at);
        let due_soon_at = lead.due_soon_at(identity.2, due_at);
        match stored.get(identity) {
            None => {
                let responsible = match assignment {
                    Some(id) => match report.assignment(*id) {
                        Some(a) => a.agency.to_string(),
                        None => continue,
                    },
                    None => report.instance.to_string(),
                };
                let row = ActiveModel {
                    id: ActiveValue::Set(Uuid::now_v7()),
                    report_id: ActiveValue::Set(report.id.0),
                    instance_id: ActiveValue::Set(report.instance.to_string()),
                    assignment_id: ActiveValue::Set(assignment.map(|a| a.0)),
                    assignment_key: ActiveValue::Set(identity.0.clone()),
                    stage: ActiveValue::Set(deadline.stage.as_str().to_owned()),
                    rule: ActiveValue::Set(rule_json(&deadline.rule)),
                    started_at: ActiveValue::Set(identity.2),
                    due_at: ActiveValue::Set(due_at),
                    due_soon_at: ActiveValue::Set(due_soon_at),
                    responsible_unit_id: ActiveValue::Set(responsible),
                    due_soon_sent_at: ActiveValue::Set(None),
                    missed_sent_at: ActiveValue::Set(None),
                    closed_at: ActiveValue::Set(None),
                };
                // The identity is unique: a concurrent sync of the same report (without the
                // replica lock) inserts it once.
                Entity::insert(row)
                    .on_conflict_do_nothing_on([
                        Column::ReportId,
                        Column::AssignmentKey,
                        Column::Stage,
                        Column::StartedAt,
                    ])
                    .exec_without_returning(txn)
                    .await?;
            }
            Some(row) => {
                let mut update = Entity::update_many().filter(Column::Id.eq(row.id));
                let mut changed = false;
                // The same deadline recomputed differently (a replay under an edited calendar):
                // keep the row, with the new times.
                if row.due_at != due_at || row.due_soon_at != due_soon_at {
                    update = update
                        .col_expr(Column::DueAt, Expr::value(due_at))
                        .col_expr(Column::DueSoonAt, Expr::value(due_soon_at))
                        .col_expr(Column::Rule, Expr::value(rule_json(&deadline.rule)));
                    changed = true;
                }
                if row.closed_at.is_some() && !deadline.stage.is_window() {
                    update = update.col_expr(Column::ClosedAt, Expr::value(Option::<DateTime<Utc>>::None));
                    changed = true;
                }
                if changed {
                    update.exec(txn).await?;
                }
            }
        }
    }

    let ended: Vec<Uuid> = stored
        .iter()
        .filter(|(identity, row)| row.closed_at.is_none() && !running.contains_key(*identity))
        .map(|(_, row)| row.id)
        .collect();
    if !ended.is_empty() {
        Entity::update_many()
            .col_expr(Column::ClosedAt, Expr::value(micros(Utc::now())))
            .filter(Column::Id.is_in(ended))
            .filter(Column::ClosedAt.is_null())
            .exec(txn)
            .await?;
    }
    Ok(())
}
