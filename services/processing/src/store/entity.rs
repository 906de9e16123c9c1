//! The `assignments` index as a sea-orm entity (see `migration.rs` for the DDL).

/// `assignments`: one row per assignment of every replica, kept in step by the index hook.
pub mod assignment {
    use sea_orm::entity::prelude::*;

    /// An assignment row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "assignments")]
    pub struct Model {
        /// The assignment id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub assignment_id: Uuid,
        /// The report it belongs to (the replica's id).
        pub report_id: Uuid,
        /// The handling agency.
        pub agency_unit_id: String,
        /// Whether the agency leads.
        pub lead: bool,
        /// The domain's `AssignmentStatus` name.
        pub status: String,
        /// The earliest deadline running on the assignment; `None` when none runs.
        pub due_at: Option<DateTimeUtc>,
        /// The handling deadline (R8.2a), moved by an explanation.
        pub handling_due_at: DateTimeUtc,
        /// When it was (last) assigned.
        pub assigned_at: DateTimeUtc,
        /// When the row last changed.
        pub updated_at: DateTimeUtc,
    }

    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
