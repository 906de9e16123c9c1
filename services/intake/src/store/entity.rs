//! The intake tables as sea-orm entities (see `migration.rs` for the DDL).

/// `reports`: one row per report, without personal data.
pub mod report {
    use sea_orm::entity::prelude::*;

    /// A report row.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "reports")]
    pub struct Model {
        /// Report id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The public tracking code, as displayed (`7K3Q-9XM2-H`).
        #[sea_orm(unique)]
        pub tracking_code: String,
        /// The IOC instance that owns it.
        pub instance_id: String,
        /// The channel, as the proto enum name without prefix, lowercase (`web_portal`).
        pub channel: String,
        /// The field it is filed under.
        pub category_id: Option<String>,
        /// The report text.
        #[sea_orm(column_type = "Text")]
        pub content: String,
        /// When the event happened.
        pub event_time: DateTimeUtc,
        /// Whether the time of receipt stands in for a missing event time.
        pub event_time_assumed: bool,
        /// Degrees north.
        pub latitude: Option<f64>,
        /// Degrees east.
        pub longitude: Option<f64>,
        /// The written place.
        #[sea_orm(column_type = "Text", nullable)]
        pub address: Option<String>,
        /// Administrative unit code of the place.
        pub unit_code: Option<String>,
        /// The lifecycle status (`received`, …), copied out of `lifecycle` for queries.
        pub status: String,
        /// The R7.2 check deadline, the order of the check queue.
        pub check_due_at: DateTimeUtc,
        /// When it arrived.
        pub received_at: DateTimeUtc,
        /// The domain `lifecycle::Report` as JSON.
        #[sea_orm(column_type = "Text")]
        pub lifecycle: String,
        /// The channel's idempotency key, if it sent one.
        pub idempotency_key: Option<String>,
        /// Whose key it is: the subject of the token that sent it (keys are scoped to the caller).
        pub idempotency_subject: Option<String>,
        /// A keyed hash of the request sent with the key, telling a retry from another request.
        pub request_hash: Option<String>,
        /// Last change.
        pub updated_at: DateTimeUtc,
    }

    /// No navigable relations are needed; joins are explicit.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `reporters`: the sealed identity behind a report (R6.2, R20.1).
pub mod reporter {
    use sea_orm::entity::prelude::*;

    /// A reporter row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "reporters")]
    pub struct Model {
        /// The report this reporter sent.
        #[sea_orm(primary_key, auto_increment = false)]
        pub report_id: Uuid,
        /// The identity sealed by the vault, bound to the report id (compact form).
        #[sea_orm(column_type = "Text")]
        pub sealed: String,
        /// Keyed hash of the phone number, to find a reporter's reports without decrypting.
        pub phone_hash: String,
        /// Whether the reporter chose to show their name publicly.
        pub show_name_publicly: bool,
        /// The name shown publicly; set only when `show_name_publicly`.
        pub display_name: Option<String>,
    }

    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `attachments`: metadata of uploaded files.
pub mod attachment {
    use sea_orm::entity::prelude::*;

    /// An attachment row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "attachments")]
    pub struct Model {
        /// Attachment id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The report it belongs to, once submitted.
        pub report_id: Option<Uuid>,
        /// Key of the bytes in the blob store.
        pub blob_key: String,
        /// Sniffed MIME type.
        pub content_type: String,
        /// `image`, `video` or `document`.
        pub kind: String,
        /// Size in bytes.
        pub size_bytes: i64,
        /// SHA-256, lowercase hex.
        pub sha256: String,
        /// Original file name.
        pub file_name: String,
        /// When it was uploaded.
        pub uploaded_at: DateTimeUtc,
        /// Who uploaded it (the token's subject); only that caller may list it in a report.
        pub uploaded_by: Option<String>,
    }

    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `audit_log`: every read of personal data (R20.2).
pub mod audit {
    use sea_orm::entity::prelude::*;

    /// An audit row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_log")]
    pub struct Model {
        /// Entry id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// When.
        pub at: DateTimeUtc,
        /// Who (token subject).
        pub subject: String,
        /// In which role.
        pub role: String,
        /// For which unit.
        pub unit: String,
        /// What was done, e.g. `reporter.read`.
        pub action: String,
        /// The report concerned.
        pub report_id: Uuid,
        /// Why, as stated by the caller.
        #[sea_orm(column_type = "Text")]
        pub purpose: String,
    }

    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
