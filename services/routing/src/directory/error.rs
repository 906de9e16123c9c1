//! Why a directory could not be loaded or changed.

use paht_domain::actor::Role;

use super::model::UnitKind;

/// Where a directory error was found: a file name (`vinh-long/units.toml`) when loading, or
/// the administrator operation that was refused.
pub type Origin = String;

/// Why a directory could not be loaded or changed. Each variant names where (file or
/// operation) and which entry, and says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    /// The file is not TOML or has unexpected fields or values.
    #[error("{origin}: {message}")]
    Syntax {
        /// Where.
        origin: Origin,
        /// The parser's message, with the line.
        message: String,
    },
    /// An id does not have the expected shape.
    #[error("{origin}: {what} id {id:?} is not valid: use {expected}")]
    BadId {
        /// Where.
        origin: Origin,
        /// `unit`, `category` or `person`.
        what: &'static str,
        /// The id as written.
        id: String,
        /// What a valid id looks like.
        expected: &'static str,
    },
    /// A name is blank.
    #[error("{origin}: {what} {id}: the name {field} is blank; write the official name")]
    BlankName {
        /// Where.
        origin: Origin,
        /// `unit`, `category` or `person`.
        what: &'static str,
        /// The entry.
        id: String,
        /// Which name field.
        field: &'static str,
    },
    /// Two units have the same id.
    #[error("{origin}: unit {id} appears twice; each unit id must be unique across the unit files")]
    DuplicateUnit {
        /// Where (the second occurrence).
        origin: Origin,
        /// The id.
        id: String,
    },
    /// A unit's parent is not in the directory.
    #[error("{origin}: unit {id} has parent {parent}, which is not in the directory; add that unit or fix the id")]
    UnknownParent {
        /// Where.
        origin: Origin,
        /// The unit.
        id: String,
        /// The missing parent.
        parent: String,
    },
    /// Parents form a loop.
    #[error("{origin}: the parents of units {} form a cycle; every chain of parents must end at the province", cycle.join(" → "))]
    Cycle {
        /// Where the first unit of the cycle is.
        origin: Origin,
        /// The units of the cycle, each followed by its parent.
        cycle: Vec<String>,
    },
    /// The tree does not have exactly one root.
    #[error("the directory must have exactly one unit without parent (the province); found {}", if roots.is_empty() { "none".to_owned() } else { roots.join(", ") })]
    RootCount {
        /// The units without a parent.
        roots: Vec<String>,
    },
    /// A unit of a kind that must carry an official code has none.
    #[error("{origin}: unit {id} is a {kind} and needs its official code from the national list")]
    MissingCode {
        /// Where.
        origin: Origin,
        /// The unit.
        id: String,
        /// Its kind.
        kind: UnitKind,
    },
    /// An official code has the wrong shape for the unit's kind.
    #[error("{origin}: unit {id}: code {code:?} is not valid for a {kind}: use {expected}")]
    BadCode {
        /// Where.
        origin: Origin,
        /// The unit.
        id: String,
        /// The code as written.
        code: String,
        /// The unit's kind.
        kind: UnitKind,
        /// What a valid code looks like.
        expected: String,
    },
    /// Two units carry the same official code.
    #[error(
        "{origin}: unit {id} has official code {code}, already used by unit {other}; an official code names one unit"
    )]
    DuplicateCode {
        /// Where (the second occurrence).
        origin: Origin,
        /// The unit.
        id: String,
        /// The code.
        code: String,
        /// The unit that has it first.
        other: String,
    },
    /// Two categories have the same id.
    #[error("{origin}: category {id} already exists; category ids are never reused, also after retirement")]
    DuplicateCategory {
        /// Where.
        origin: Origin,
        /// The id.
        id: String,
    },
    /// A category names no agency kind, or a kind that does not handle reports.
    #[error("{origin}: category {id}: default_agency_kinds must list at least one handling-agency kind, without repeats{}", kind.map(|k| format!("; {k} is not one")).unwrap_or_default())]
    BadAgencyKinds {
        /// Where.
        origin: Origin,
        /// The category.
        id: String,
        /// The offending kind, if one is.
        kind: Option<UnitKind>,
    },
    /// Two people have the same id.
    #[error("{origin}: person {id} appears twice; each person id must be unique")]
    DuplicatePerson {
        /// Where.
        origin: Origin,
        /// The id.
        id: String,
    },
    /// A person acts for a unit that is not in the directory.
    #[error("{origin}: person {id} acts for unit {unit}, which is not in the directory; fix the unit id")]
    UnknownUnitOfPerson {
        /// Where.
        origin: Origin,
        /// The person.
        id: String,
        /// The missing unit.
        unit: String,
    },
    /// A person's role does not fit their unit, or is not a staff role at all.
    #[error(
        "{origin}: person {id} cannot be {role} for {unit} (a {kind}): officers and leaders belong to handling agencies, IOC operators to an IOC instance, the provincial office role to the provincial office; reporter and system are not staff"
    )]
    RoleNotForUnit {
        /// Where.
        origin: Origin,
        /// The person.
        id: String,
        /// The role.
        role: Role,
        /// The unit.
        unit: String,
        /// The unit's kind.
        kind: UnitKind,
    },
    /// A focal point who is not an officer.
    #[error(
        "{origin}: person {id} is a focal point but acts as {role}; only an officer can be an agency's focal point"
    )]
    FocalPointNotOfficer {
        /// Where.
        origin: Origin,
        /// The person.
        id: String,
        /// Their role.
        role: Role,
    },
    /// The category is not in the directory.
    #[error("category {id} does not exist; pick one from the directory's list")]
    UnknownCategory {
        /// The id asked for.
        id: String,
    },
    /// The category is retired.
    #[error("category {id} is retired: it stays on old reports but takes no new ones and cannot be changed")]
    CategoryRetired {
        /// The category.
        id: String,
    },
    /// The unit is not in the directory.
    #[error("unit {id} does not exist in the directory")]
    UnknownUnit {
        /// The id asked for.
        id: String,
    },
    /// The unit is retired.
    #[error("unit {id} is retired: its staff can no longer be changed")]
    UnitRetired {
        /// The unit.
        id: String,
    },
    /// The person is not in the directory.
    #[error("person {id} does not exist in the directory")]
    UnknownPerson {
        /// The id asked for.
        id: String,
    },
    /// A staff change names a person of another unit.
    #[error("person {person} acts for {actual}, not for {unit}; change their staff through their own unit")]
    PersonNotInUnit {
        /// The person.
        person: String,
        /// The unit being changed.
        unit: String,
        /// The unit the person acts for.
        actual: String,
    },
}
