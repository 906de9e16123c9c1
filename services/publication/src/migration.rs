//! Publication's tables: the platform's `outbox` and `inbox`, the shared `report_replicas`, then
//! `publications` (one row per report: its tracking code, where its answer stands, whether it is
//! public) and `follow_ups` (the "unsatisfied" ratings the IOC checks, R11.2). Built with the
//! schema builder so the same migration runs on Postgres and SQLite.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    boolean, integer, string_len, string_len_null, text, text_null, timestamp_with_time_zone,
    timestamp_with_time_zone_null, uuid,
};

/// The publication service's migrator: the platform's migrations, the replica table, then its own.
pub struct PublicationMigrator;

impl MigratorTrait for PublicationMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut all = paht_platform::db::platform_migrations();
        all.push(paht_platform::replica::migration());
        all.push(Box::new(CreateTables));
        all
    }
}

struct CreateTables;

impl MigrationName for CreateTables {
    fn name(&self) -> &str {
        "publication_m0001_create_publications_and_follow_ups"
    }
}

#[derive(DeriveIden)]
pub(crate) enum Publications {
    Table,
    ReportId,
    TrackingCode,
    Status,
    CategoryId,
    Public,
    DecidedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
pub(crate) enum FollowUps {
    Table,
    Id,
    ReportId,
    TrackingCode,
    Round,
    Rating,
    Feedback,
    LeadAgencyUnitId,
    AgencyUnitIds,
    OpenedAt,
    DueAt,
    ClosedAt,
    ClosedBy,
    Note,
}

#[async_trait::async_trait]
impl MigrationTrait for CreateTables {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Publications::Table)
                    .if_not_exists()
                    .col(uuid(Publications::ReportId).primary_key())
                    .col(string_len(Publications::TrackingCode, 32).unique_key())
                    // The domain's ReportStatus name.
                    .col(string_len(Publications::Status, 32))
                    .col(string_len_null(Publications::CategoryId, 64))
                    // Whether the answer is published now (R10.3a): never for a private or withheld one.
                    .col(boolean(Publications::Public))
                    .col(timestamp_with_time_zone_null(Publications::DecidedAt))
                    .col(timestamp_with_time_zone(Publications::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // The public list of answers, newest first (the portal's, issue 12).
        manager
            .create_index(
                Index::create()
                    .name("publications_public_idx")
                    .table(Publications::Table)
                    .col(Publications::Public)
                    .col(Publications::DecidedAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(FollowUps::Table)
                    .if_not_exists()
                    .col(uuid(FollowUps::Id).primary_key())
                    .col(uuid(FollowUps::ReportId))
                    .col(string_len(FollowUps::TrackingCode, 32))
                    // The answer round rated (the report's reopen count then): one item per rating.
                    .col(integer(FollowUps::Round))
                    .col(string_len(FollowUps::Rating, 16))
                    .col(text_null(FollowUps::Feedback))
                    .col(string_len(FollowUps::LeadAgencyUnitId, 64))
                    // Every agency whose result was in the answer, comma-separated.
                    .col(text(FollowUps::AgencyUnitIds))
                    .col(timestamp_with_time_zone(FollowUps::OpenedAt))
                    .col(timestamp_with_time_zone(FollowUps::DueAt))
                    .col(timestamp_with_time_zone_null(FollowUps::ClosedAt))
                    .col(string_len_null(FollowUps::ClosedBy, 200))
                    .col(text_null(FollowUps::Note))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("follow_ups_report_round_idx")
                    .table(FollowUps::Table)
                    .col(FollowUps::ReportId)
                    .col(FollowUps::Round)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        // The queue: open items, nearest deadline first.
        manager
            .create_index(
                Index::create()
                    .name("follow_ups_queue_idx")
                    .table(FollowUps::Table)
                    .col(FollowUps::ClosedAt)
                    .col(FollowUps::DueAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(FollowUps::Table).if_exists().to_owned()).await?;
        manager.drop_table(Table::drop().table(Publications::Table).if_exists().to_owned()).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
