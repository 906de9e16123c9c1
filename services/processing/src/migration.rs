//! Processing's tables: the platform's `outbox` and `inbox`, the shared `report_replicas`, then
//! `assignments`, the index of every assignment of every replica that the agency inbox reads.
//! Built with the schema builder so the same migration runs on Postgres and SQLite.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{boolean, string_len, timestamp_with_time_zone, timestamp_with_time_zone_null, uuid};

/// The processing service's migrator: the platform's migrations, the replica table, then
/// processing's own.
pub struct ProcessingMigrator;

impl MigratorTrait for ProcessingMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut all = paht_platform::db::platform_migrations();
        all.push(paht_platform::replica::migration());
        all.push(Box::new(CreateAssignments));
        all
    }
}

/// Creates `assignments` and its inbox index.
struct CreateAssignments;

impl MigrationName for CreateAssignments {
    // Prefixed like the platform's, so names never clash in `seaql_migrations`.
    fn name(&self) -> &str {
        "processing_m0001_create_assignments"
    }
}

#[derive(DeriveIden)]
pub(crate) enum Assignments {
    Table,
    AssignmentId,
    ReportId,
    AgencyUnitId,
    Lead,
    Status,
    DueAt,
    HandlingDueAt,
    AssignedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for CreateAssignments {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Assignments::Table)
                    .if_not_exists()
                    .col(uuid(Assignments::AssignmentId).primary_key())
                    .col(uuid(Assignments::ReportId))
                    .col(string_len(Assignments::AgencyUnitId, 64))
                    .col(boolean(Assignments::Lead))
                    // The domain's AssignmentStatus name (`assigned`, `result_submitted`, …).
                    .col(string_len(Assignments::Status, 32))
                    // The earliest deadline running on the assignment; NULL when none runs.
                    .col(timestamp_with_time_zone_null(Assignments::DueAt))
                    .col(timestamp_with_time_zone(Assignments::HandlingDueAt))
                    .col(timestamp_with_time_zone(Assignments::AssignedAt))
                    .col(timestamp_with_time_zone(Assignments::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // The inbox: one agency's assignments in some statuses, nearest deadline first (R13.1).
        manager
            .create_index(
                Index::create()
                    .name("assignments_inbox_idx")
                    .table(Assignments::Table)
                    .col(Assignments::AgencyUnitId)
                    .col(Assignments::Status)
                    .col(Assignments::DueAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("assignments_report_idx")
                    .table(Assignments::Table)
                    .col(Assignments::ReportId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Assignments::Table).if_exists().to_owned()).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
