//! Routing's tables, after the platform's `outbox`/`inbox` and `report_replicas`, and before
//! the deadline sweeper's `deadlines`:
//!
//! - `directory_version`: one row whose `version` goes up with every administrator change of
//!   the directory; every replica of the service compares it with the version it cached, so a
//!   change takes effect at once everywhere (R18.1);
//! - `directory_categories`: categories added or changed at run time (R13.5, R14.6), each row a
//!   complete category that replaces the shipped one of the same id;
//! - `directory_focal_units` and `directory_focal_points`: the units whose focal officers an
//!   administrator set, and those officers (R14.3, R18.1); a marked unit with no rows has none;
//! - `cases`: one row per report replica, kept by the [`CaseIndex`](crate::CaseIndex) hook, for
//!   duplicate searches and the IOC's queues;
//! - `redispatches`: which returned assignment a re-dispatch replaced (R8.2b), so each returned
//!   assignment is replaced once.
//!
//! Built with the schema builder so the same migration runs on Postgres and SQLite.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, boolean, double_null, integer, string_len, string_len_null, text, timestamp_with_time_zone,
    timestamp_with_time_zone_null, uuid, uuid_null,
};

/// The routing service's migrator: the platform's tables, `report_replicas`, routing's own
/// tables, then the deadline sweeper's `deadlines`.
pub struct RoutingMigrator;

impl MigratorTrait for RoutingMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut all = paht_platform::db::platform_migrations();
        all.push(paht_platform::replica::migration());
        all.push(Box::new(CreateRoutingTables));
        all.push(crate::deadlines::migration());
        all
    }
}

/// Creates the directory tables, `cases` and `redispatches`.
struct CreateRoutingTables;

impl MigrationName for CreateRoutingTables {
    // Prefixed like the platform's, so names never clash in `seaql_migrations`.
    fn name(&self) -> &str {
        "routing_m0001_create_tables"
    }
}

#[derive(DeriveIden)]
pub(crate) enum DirectoryVersion {
    Table,
    Id,
    Version,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum DirectoryCategories {
    Table,
    Id,
    NameVi,
    NameEn,
    Active,
    DefaultAgencyKinds,
    Position,
    UpdatedAt,
    UpdatedBy,
}

#[derive(DeriveIden)]
enum DirectoryFocalUnits {
    Table,
    UnitId,
    UpdatedAt,
    UpdatedBy,
}

#[derive(DeriveIden)]
enum DirectoryFocalPoints {
    Table,
    UnitId,
    Subject,
    Position,
    Name,
    Role,
    Phone,
    Email,
}

#[derive(DeriveIden)]
enum Cases {
    Table,
    ReportId,
    TrackingCode,
    InstanceId,
    Status,
    CategoryId,
    ReceivedAt,
    Latitude,
    Longitude,
    UnitCode,
    Fingerprint,
    DuplicateOf,
    DuplicateLinkedAt,
    AwaitingRedispatch,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Redispatches {
    Table,
    ReplacedAssignmentId,
    ReportId,
    AssignmentIds,
    RedispatchedAt,
    RedispatchedBy,
}

#[async_trait::async_trait]
impl MigrationTrait for CreateRoutingTables {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DirectoryVersion::Table)
                    .if_not_exists()
                    .col(integer(DirectoryVersion::Id).primary_key())
                    .col(big_integer(DirectoryVersion::Version))
                    .col(timestamp_with_time_zone_null(DirectoryVersion::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // The one row every administrator change locks and bumps; 0 = the shipped directory.
        let seed = Query::insert()
            .into_table(DirectoryVersion::Table)
            .columns([DirectoryVersion::Id, DirectoryVersion::Version])
            .values_panic([1.into(), 0i64.into()])
            .on_conflict(OnConflict::column(DirectoryVersion::Id).do_nothing().to_owned())
            .to_owned();
        manager.exec_stmt(seed).await?;

        manager
            .create_table(
                Table::create()
                    .table(DirectoryCategories::Table)
                    .if_not_exists()
                    .col(string_len(DirectoryCategories::Id, 64).primary_key())
                    .col(text(DirectoryCategories::NameVi))
                    .col(text(DirectoryCategories::NameEn))
                    .col(boolean(DirectoryCategories::Active))
                    // The unit kinds as a JSON array of their names.
                    .col(text(DirectoryCategories::DefaultAgencyKinds))
                    // Order of creation of categories that are not shipped ones.
                    .col(big_integer(DirectoryCategories::Position))
                    .col(timestamp_with_time_zone(DirectoryCategories::UpdatedAt))
                    .col(string_len(DirectoryCategories::UpdatedBy, 128))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(DirectoryFocalUnits::Table)
                    .if_not_exists()
                    .col(string_len(DirectoryFocalUnits::UnitId, 64).primary_key())
                    .col(timestamp_with_time_zone(DirectoryFocalUnits::UpdatedAt))
                    .col(string_len(DirectoryFocalUnits::UpdatedBy, 128))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DirectoryFocalPoints::Table)
                    .if_not_exists()
                    .col(string_len(DirectoryFocalPoints::UnitId, 64))
                    .col(string_len(DirectoryFocalPoints::Subject, 64))
                    .col(integer(DirectoryFocalPoints::Position))
                    .col(text(DirectoryFocalPoints::Name))
                    .col(string_len(DirectoryFocalPoints::Role, 32))
                    .col(string_len(DirectoryFocalPoints::Phone, 32))
                    .col(string_len(DirectoryFocalPoints::Email, 254))
                    .primary_key(Index::create().col(DirectoryFocalPoints::UnitId).col(DirectoryFocalPoints::Subject))
                    .foreign_key(
                        ForeignKey::create()
                            .name("directory_focal_points_unit_fk")
                            .from(DirectoryFocalPoints::Table, DirectoryFocalPoints::UnitId)
                            .to(DirectoryFocalUnits::Table, DirectoryFocalUnits::UnitId)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Cases::Table)
                    .if_not_exists()
                    .col(uuid(Cases::ReportId).primary_key())
                    .col(string_len(Cases::TrackingCode, 32))
                    .col(string_len(Cases::InstanceId, 64))
                    .col(string_len(Cases::Status, 32))
                    .col(string_len_null(Cases::CategoryId, 64))
                    .col(timestamp_with_time_zone(Cases::ReceivedAt))
                    .col(double_null(Cases::Latitude))
                    .col(double_null(Cases::Longitude))
                    .col(string_len_null(Cases::UnitCode, 64))
                    // The duplicates fingerprint of the content, as JSON (R8.2c).
                    .col(text(Cases::Fingerprint))
                    .col(uuid_null(Cases::DuplicateOf))
                    .col(timestamp_with_time_zone_null(Cases::DuplicateLinkedAt))
                    .col(boolean(Cases::AwaitingRedispatch))
                    .col(timestamp_with_time_zone(Cases::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // Duplicate searches: the instance's reports of a time window (R8.2c).
        manager
            .create_index(
                Index::create()
                    .name("cases_window_idx")
                    .table(Cases::Table)
                    .col(Cases::InstanceId)
                    .col(Cases::ReceivedAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        // The IOC's queues: reports to dispatch, returned ones to re-dispatch, escalated ones.
        manager
            .create_index(
                Index::create()
                    .name("cases_queue_idx")
                    .table(Cases::Table)
                    .col(Cases::InstanceId)
                    .col(Cases::Status)
                    .col(Cases::AwaitingRedispatch)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("cases_duplicate_of_idx")
                    .table(Cases::Table)
                    .col(Cases::DuplicateOf)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Redispatches::Table)
                    .if_not_exists()
                    .col(uuid(Redispatches::ReplacedAssignmentId).primary_key())
                    .col(uuid(Redispatches::ReportId))
                    // The new assignments' ids, as a JSON array.
                    .col(text(Redispatches::AssignmentIds))
                    .col(timestamp_with_time_zone(Redispatches::RedispatchedAt))
                    .col(string_len(Redispatches::RedispatchedBy, 128))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Redispatches::Table.into_iden(),
            Cases::Table.into_iden(),
            DirectoryFocalPoints::Table.into_iden(),
            DirectoryFocalUnits::Table.into_iden(),
            DirectoryCategories::Table.into_iden(),
            DirectoryVersion::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).if_exists().to_owned()).await?;
        }
        Ok(())
    }

    // Every table or none, on SQLite too.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
