//! The `deadlines` table and the indexes of the sweeper's scans, for Postgres (suite mode)
//! and SQLite (embedded mode) alike.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    string_len, text, timestamp_with_time_zone, timestamp_with_time_zone_null, uuid, uuid_null,
};

/// The migration creating `deadlines`; the routing service's migrator lists it after the
/// platform's migrations.
pub fn migration() -> Box<dyn MigrationTrait> {
    Box::new(CreateDeadlines)
}

struct CreateDeadlines;

impl MigrationName for CreateDeadlines {
    // Prefixed like the platform's, so names never clash in `seaql_migrations`.
    fn name(&self) -> &str {
        "routing_deadlines_m0001_create_deadlines"
    }
}

#[derive(DeriveIden)]
pub(super) enum Deadlines {
    Table,
    Id,
    ReportId,
    InstanceId,
    AssignmentId,
    AssignmentKey,
    Stage,
    Rule,
    StartedAt,
    DueAt,
    DueSoonAt,
    ResponsibleUnitId,
    DueSoonSentAt,
    MissedSentAt,
    ClosedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for CreateDeadlines {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Deadlines::Table)
                    .if_not_exists()
                    .col(uuid(Deadlines::Id).primary_key())
                    .col(uuid(Deadlines::ReportId))
                    // The report's IOC instance, for the event envelope.
                    .col(string_len(Deadlines::InstanceId, 64))
                    .col(uuid_null(Deadlines::AssignmentId))
                    // The assignment id as text, or "" for the report's own stages: NULLs are
                    // distinct in unique indexes, so the identity needs a non-null column.
                    .col(string_len(Deadlines::AssignmentKey, 36))
                    .col(string_len(Deadlines::Stage, 16))
                    // The domain's `Rule` as JSON (an explanation's date moves the handling rule).
                    .col(text(Deadlines::Rule))
                    .col(timestamp_with_time_zone(Deadlines::StartedAt))
                    .col(timestamp_with_time_zone(Deadlines::DueAt))
                    .col(timestamp_with_time_zone(Deadlines::DueSoonAt))
                    .col(string_len(Deadlines::ResponsibleUnitId, 64))
                    .col(timestamp_with_time_zone_null(Deadlines::DueSoonSentAt))
                    .col(timestamp_with_time_zone_null(Deadlines::MissedSentAt))
                    .col(timestamp_with_time_zone_null(Deadlines::ClosedAt))
                    .to_owned(),
            )
            .await?;
        // A deadline's identity; also serves `sync`'s lookup of a report's rows.
        manager
            .create_index(
                Index::create()
                    .name("deadlines_identity_idx")
                    .table(Deadlines::Table)
                    .col(Deadlines::ReportId)
                    .col(Deadlines::AssignmentKey)
                    .col(Deadlines::Stage)
                    .col(Deadlines::StartedAt)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        // The reminder scan: open rows not yet reminded, by reminder instant. Partial, so it
        // holds only the rows still waiting however many are kept.
        manager
            .create_index(
                Index::create()
                    .name("deadlines_due_soon_idx")
                    .table(Deadlines::Table)
                    .col(Deadlines::DueSoonAt)
                    .col(Deadlines::Id)
                    .and_where(Expr::col(Deadlines::ClosedAt).is_null())
                    .and_where(Expr::col(Deadlines::DueSoonSentAt).is_null())
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        // The missed scan (and the lapse of windows): open rows not yet reported, by deadline.
        manager
            .create_index(
                Index::create()
                    .name("deadlines_missed_idx")
                    .table(Deadlines::Table)
                    .col(Deadlines::DueAt)
                    .col(Deadlines::Id)
                    .and_where(Expr::col(Deadlines::ClosedAt).is_null())
                    .and_where(Expr::col(Deadlines::MissedSentAt).is_null())
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        // Open deadlines per responsible unit, by deadline: the overdue and backlog lists (R14.8).
        manager
            .create_index(
                Index::create()
                    .name("deadlines_open_by_unit_idx")
                    .table(Deadlines::Table)
                    .col(Deadlines::ResponsibleUnitId)
                    .col(Deadlines::DueAt)
                    .and_where(Expr::col(Deadlines::ClosedAt).is_null())
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Deadlines::Table).if_exists().to_owned()).await
    }
}
