//! The `report_replicas` table.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, blob, string_len, string_len_null, text, timestamp_with_time_zone, uuid};

/// The migration that creates `report_replicas`; a service that keeps replicas lists it
/// after the platform's migrations.
pub fn migration() -> Box<dyn MigrationTrait> {
    Box::new(CreateReportReplicas)
}

struct CreateReportReplicas;

impl MigrationName for CreateReportReplicas {
    fn name(&self) -> &str {
        "platform_m0002_create_report_replicas"
    }
}

#[derive(DeriveIden)]
enum ReportReplicas {
    Table,
    ReportId,
    InstanceId,
    Status,
    CategoryId,
    Lifecycle,
    View,
    Version,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for CreateReportReplicas {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ReportReplicas::Table)
                    .if_not_exists()
                    .col(uuid(ReportReplicas::ReportId).primary_key())
                    .col(string_len(ReportReplicas::InstanceId, 64))
                    .col(string_len(ReportReplicas::Status, 32))
                    .col(string_len_null(ReportReplicas::CategoryId, 64))
                    .col(text(ReportReplicas::Lifecycle))
                    .col(blob(ReportReplicas::View))
                    .col(big_integer(ReportReplicas::Version))
                    .col(timestamp_with_time_zone(ReportReplicas::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("report_replicas_status")
                    .table(ReportReplicas::Table)
                    .col(ReportReplicas::InstanceId)
                    .col(ReportReplicas::Status)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ReportReplicas::Table).to_owned()).await
    }
}

/// The migration that creates `held_facts`: facts that arrived before something they were
/// decided after, kept durably until their turn (part of the platform's migrations, since
/// every service that follows reports holds facts).
pub fn held_migration() -> Box<dyn MigrationTrait> {
    Box::new(CreateHeldFacts)
}

struct CreateHeldFacts;

impl MigrationName for CreateHeldFacts {
    fn name(&self) -> &str {
        "platform_m0003_create_held_facts"
    }
}

#[derive(DeriveIden)]
enum HeldFacts {
    Table,
    EventId,
    ReportId,
    Producer,
    Sequence,
    Missing,
    Envelope,
    HeldAt,
}

#[async_trait::async_trait]
impl MigrationTrait for CreateHeldFacts {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(HeldFacts::Table)
                    .if_not_exists()
                    .col(uuid(HeldFacts::EventId).primary_key())
                    .col(uuid(HeldFacts::ReportId))
                    .col(string_len(HeldFacts::Producer, 160))
                    .col(big_integer(HeldFacts::Sequence))
                    .col(string_len(HeldFacts::Missing, 200))
                    .col(blob(HeldFacts::Envelope))
                    .col(timestamp_with_time_zone(HeldFacts::HeldAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("held_facts_report")
                    .table(HeldFacts::Table)
                    .col(HeldFacts::ReportId)
                    .col(HeldFacts::Sequence)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(HeldFacts::Table).to_owned()).await
    }
}
