//! Routing's tables as sea-orm entities (see `migration.rs` for the DDL and indexes).

/// `cases`: one row per report replica, kept in step by the [`CaseIndex`](crate::CaseIndex) hook.
pub mod case {
    use sea_orm::entity::prelude::*;

    /// A report as routing indexes it.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "cases")]
    pub struct Model {
        /// The report.
        #[sea_orm(primary_key, auto_increment = false)]
        pub report_id: Uuid,
        /// Its public tracking code.
        pub tracking_code: String,
        /// The IOC instance that owns it.
        pub instance_id: String,
        /// The domain's `ReportStatus` name.
        pub status: String,
        /// The category it is filed under, when known.
        pub category_id: Option<String>,
        /// When it arrived.
        pub received_at: DateTimeUtc,
        /// Latitude of the event, when the reporter gave coordinates.
        pub latitude: Option<f64>,
        /// Longitude of the event.
        pub longitude: Option<f64>,
        /// Administrative code of the commune or ward of the event, when known.
        pub unit_code: Option<String>,
        /// The duplicates fingerprint of its content (`paht_domain::duplicates::Fingerprint` as JSON).
        #[sea_orm(column_type = "Text")]
        pub fingerprint: String,
        /// The earlier report it was linked to as a duplicate (R8.2c).
        pub duplicate_of: Option<Uuid>,
        /// When it was linked.
        pub duplicate_linked_at: Option<DateTimeUtc>,
        /// Whether an agency returned it and the IOC has not re-dispatched it yet (R8.2b).
        pub awaiting_redispatch: bool,
        /// When the row last changed.
        pub updated_at: DateTimeUtc,
    }

    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `directory_categories`: a category added or changed at run time (R13.5, R14.6).
pub mod category {
    use sea_orm::entity::prelude::*;

    /// A complete category, replacing the shipped one of the same id.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "directory_categories")]
    pub struct Model {
        /// The category's slug.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// Vietnamese name.
        #[sea_orm(column_type = "Text")]
        pub name_vi: String,
        /// English name.
        #[sea_orm(column_type = "Text")]
        pub name_en: String,
        /// False once retired.
        pub active: bool,
        /// The unit kinds that usually handle it, as a JSON array of names.
        #[sea_orm(column_type = "Text")]
        pub default_agency_kinds: String,
        /// Creation order among the categories that are not shipped.
        pub position: i64,
        /// When it last changed.
        pub updated_at: DateTimeUtc,
        /// Who changed it last (account subject).
        pub updated_by: String,
    }

    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `directory_focal_units`: a unit whose focal officers an administrator set (R18.1).
pub mod focal_unit {
    use sea_orm::entity::prelude::*;

    /// A unit with administrator-set focal officers.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "directory_focal_units")]
    pub struct Model {
        /// The unit.
        #[sea_orm(primary_key, auto_increment = false)]
        pub unit_id: String,
        /// When its list was last set.
        pub updated_at: DateTimeUtc,
        /// Who set it (account subject).
        pub updated_by: String,
    }

    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `directory_focal_points`: one focal officer of a unit (R14.3, R18.1).
pub mod focal_point {
    use sea_orm::entity::prelude::*;

    /// A focal officer.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "directory_focal_points")]
    pub struct Model {
        /// The unit.
        #[sea_orm(primary_key, auto_increment = false)]
        pub unit_id: String,
        /// The officer's account subject.
        #[sea_orm(primary_key, auto_increment = false)]
        pub subject: String,
        /// Position in the unit's list.
        pub position: i32,
        /// Display name.
        #[sea_orm(column_type = "Text")]
        pub name: String,
        /// `officer` or `leader`.
        pub role: String,
        /// Work phone in +84 form, or empty.
        pub phone: String,
        /// Work e-mail, or empty.
        pub email: String,
    }

    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `redispatches`: the returned assignment a re-dispatch replaced (R8.2b).
pub mod redispatch {
    use sea_orm::entity::prelude::*;

    /// One replacement.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "redispatches")]
    pub struct Model {
        /// The returned assignment.
        #[sea_orm(primary_key, auto_increment = false)]
        pub replaced_assignment_id: Uuid,
        /// Its report.
        pub report_id: Uuid,
        /// The new assignments, as a JSON array of ids.
        #[sea_orm(column_type = "Text")]
        pub assignment_ids: String,
        /// When.
        pub redispatched_at: DateTimeUtc,
        /// Who (account subject).
        pub redispatched_by: String,
    }

    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
