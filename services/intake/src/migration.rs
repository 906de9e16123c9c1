//! Intake's tables, after the platform's `outbox` and `inbox`: reports, their reporters
//! (sealed, apart from the report: R6.2, R20.1), attachments and the audit log of every
//! read of personal data (R20.2). Built with the schema builder so the same migration runs
//! on Postgres (suite mode) and SQLite (embedded mode).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    boolean, double_null, string, string_len, string_len_null, string_null, text, text_null, timestamp_with_time_zone,
    uuid, uuid_null,
};

/// The intake service's migrator: the platform's migrations, then intake's own.
pub struct IntakeMigrator;

impl MigratorTrait for IntakeMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut all = paht_platform::db::platform_migrations();
        all.push(Box::new(CreateIntakeTables));
        all.push(Box::new(ScopeIdempotencyKeys));
        all.push(Box::new(RecordUploaders));
        all
    }
}

/// Records who uploaded each attachment (issue 10): `attachments.uploaded_by`, the uploader's
/// token subject — only that caller may list the upload in a report — and an index on
/// (report_id, uploaded_at) for the sweep of uploads no report claimed. Uploads stored before
/// have no uploader: no one can claim them, and the sweep removes them.
struct RecordUploaders;

impl MigrationName for RecordUploaders {
    fn name(&self) -> &str {
        "intake_m0003_record_uploaders"
    }
}

#[derive(DeriveIden)]
enum AttachmentsUploader {
    #[sea_orm(iden = "attachments")]
    Table,
    ReportId,
    UploadedBy,
    UploadedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for RecordUploaders {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AttachmentsUploader::Table)
                    .add_column(string_len_null(AttachmentsUploader::UploadedBy, 200))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("attachments_unclaimed_idx")
                    .table(AttachmentsUploader::Table)
                    .col(AttachmentsUploader::ReportId)
                    .col(AttachmentsUploader::UploadedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name("attachments_unclaimed_idx").table(AttachmentsUploader::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AttachmentsUploader::Table)
                    .drop_column(AttachmentsUploader::UploadedBy)
                    .to_owned(),
            )
            .await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

/// Scopes idempotency keys to the caller (issue 10): `reports.idempotency_subject` (the token's
/// subject) and `reports.request_hash` (a keyed hash of the request, so the same key with another
/// request is told apart), and the unique index on (channel, subject, key) instead of
/// (channel, key). Reports stored before keep their key without a subject: a retry of one of
/// them is a new request.
struct ScopeIdempotencyKeys;

impl MigrationName for ScopeIdempotencyKeys {
    fn name(&self) -> &str {
        "intake_m0002_scope_idempotency_keys"
    }
}

#[derive(DeriveIden)]
enum ReportsScope {
    #[sea_orm(iden = "reports")]
    Table,
    Channel,
    IdempotencyKey,
    IdempotencySubject,
    RequestHash,
}

#[async_trait::async_trait]
impl MigrationTrait for ScopeIdempotencyKeys {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        for column in [ReportsScope::IdempotencySubject, ReportsScope::RequestHash] {
            manager
                .alter_table(
                    Table::alter().table(ReportsScope::Table).add_column(string_len_null(column, 200)).to_owned(),
                )
                .await?;
        }
        manager.drop_index(Index::drop().name("reports_idempotency_idx").table(ReportsScope::Table).to_owned()).await?;
        manager
            .create_index(
                Index::create()
                    .name("reports_idempotency_scope_idx")
                    .table(ReportsScope::Table)
                    .col(ReportsScope::Channel)
                    .col(ReportsScope::IdempotencySubject)
                    .col(ReportsScope::IdempotencyKey)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name("reports_idempotency_scope_idx").table(ReportsScope::Table).to_owned())
            .await?;
        for column in [ReportsScope::RequestHash, ReportsScope::IdempotencySubject] {
            manager.alter_table(Table::alter().table(ReportsScope::Table).drop_column(column).to_owned()).await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("reports_idempotency_idx")
                    .table(ReportsScope::Table)
                    .col(ReportsScope::Channel)
                    .col(ReportsScope::IdempotencyKey)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

/// Creates `reports`, `reporters`, `attachments` and `audit_log`.
struct CreateIntakeTables;

impl MigrationName for CreateIntakeTables {
    // Prefixed like the platform's, so names never clash in `seaql_migrations`.
    fn name(&self) -> &str {
        "intake_m0001_create_tables"
    }
}

#[derive(DeriveIden)]
enum Reports {
    Table,
    Id,
    TrackingCode,
    InstanceId,
    Channel,
    CategoryId,
    Content,
    EventTime,
    EventTimeAssumed,
    Latitude,
    Longitude,
    Address,
    UnitCode,
    Status,
    CheckDueAt,
    ReceivedAt,
    Lifecycle,
    IdempotencyKey,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Reporters {
    Table,
    ReportId,
    Sealed,
    PhoneHash,
    ShowNamePublicly,
    DisplayName,
}

#[derive(DeriveIden)]
enum Attachments {
    Table,
    Id,
    ReportId,
    BlobKey,
    ContentType,
    Kind,
    SizeBytes,
    Sha256,
    FileName,
    UploadedAt,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    At,
    Subject,
    Role,
    Unit,
    Action,
    ReportId,
    Purpose,
}

#[async_trait::async_trait]
impl MigrationTrait for CreateIntakeTables {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Reports::Table)
                    .if_not_exists()
                    .col(uuid(Reports::Id).primary_key())
                    .col(string_len(Reports::TrackingCode, 16).unique_key())
                    .col(string_len(Reports::InstanceId, 64))
                    .col(string_len(Reports::Channel, 32))
                    .col(string_len_null(Reports::CategoryId, 64))
                    .col(text(Reports::Content))
                    .col(timestamp_with_time_zone(Reports::EventTime))
                    .col(boolean(Reports::EventTimeAssumed))
                    .col(double_null(Reports::Latitude))
                    .col(double_null(Reports::Longitude))
                    .col(text_null(Reports::Address))
                    .col(string_len_null(Reports::UnitCode, 64))
                    .col(string_len(Reports::Status, 32))
                    .col(timestamp_with_time_zone(Reports::CheckDueAt))
                    .col(timestamp_with_time_zone(Reports::ReceivedAt))
                    // The domain state as JSON; text because nothing queries inside it.
                    .col(text(Reports::Lifecycle))
                    .col(string_len_null(Reports::IdempotencyKey, 200))
                    .col(timestamp_with_time_zone(Reports::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // NULL keys are distinct on both backends, so reports without a key never clash.
        manager
            .create_index(
                Index::create()
                    .name("reports_idempotency_idx")
                    .table(Reports::Table)
                    .col(Reports::Channel)
                    .col(Reports::IdempotencyKey)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        // The check queue: by status, oldest check deadline first (R7.2, R7.3a).
        manager
            .create_index(
                Index::create()
                    .name("reports_check_queue_idx")
                    .table(Reports::Table)
                    .col(Reports::InstanceId)
                    .col(Reports::Status)
                    .col(Reports::CheckDueAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Reporters::Table)
                    .if_not_exists()
                    .col(uuid(Reporters::ReportId).primary_key())
                    .col(text(Reporters::Sealed))
                    .col(string_len(Reporters::PhoneHash, 64))
                    .col(boolean(Reporters::ShowNamePublicly))
                    .col(string_null(Reporters::DisplayName))
                    .foreign_key(
                        ForeignKey::create()
                            .name("reporters_report_fk")
                            .from(Reporters::Table, Reporters::ReportId)
                            .to(Reports::Table, Reports::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Finding a reporter's other reports by phone without decrypting every row.
        manager
            .create_index(
                Index::create()
                    .name("reporters_phone_hash_idx")
                    .table(Reporters::Table)
                    .col(Reporters::PhoneHash)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Attachments::Table)
                    .if_not_exists()
                    .col(uuid(Attachments::Id).primary_key())
                    // NULL between the upload and the submission that refers to it.
                    .col(uuid_null(Attachments::ReportId))
                    .col(string(Attachments::BlobKey))
                    .col(string_len(Attachments::ContentType, 128))
                    .col(string_len(Attachments::Kind, 16))
                    .col(ColumnDef::new(Attachments::SizeBytes).big_integer().not_null())
                    .col(string_len(Attachments::Sha256, 64))
                    .col(string(Attachments::FileName))
                    .col(timestamp_with_time_zone(Attachments::UploadedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("attachments_report_idx")
                    .table(Attachments::Table)
                    .col(Attachments::ReportId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .if_not_exists()
                    .col(uuid(AuditLog::Id).primary_key())
                    .col(timestamp_with_time_zone(AuditLog::At))
                    .col(string(AuditLog::Subject))
                    .col(string_len(AuditLog::Role, 32))
                    .col(string_len(AuditLog::Unit, 64))
                    .col(string_len(AuditLog::Action, 64))
                    .col(uuid(AuditLog::ReportId))
                    .col(text(AuditLog::Purpose))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("audit_log_report_idx")
                    .table(AuditLog::Table)
                    .col(AuditLog::ReportId)
                    .col(AuditLog::At)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditLog::Table.into_iden(),
            Attachments::Table.into_iden(),
            Reporters::Table.into_iden(),
            Reports::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).if_exists().to_owned()).await?;
        }
        Ok(())
    }

    // All four tables or none, on SQLite too.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
