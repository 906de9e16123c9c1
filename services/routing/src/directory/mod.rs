//! The directory as data: the unit tree (province, IOC instances, the provincial office,
//! handling agencies with their official codes), the categories reports are filed under
//! (R13.5) and the people who act for each unit — officers, leaders, focal points (R18.1).
//!
//! Pure: the files are parsed from strings (the shipped ones are embedded), checked as a
//! whole, and every administrator operation returns a new [`Directory`] value or a typed
//! error, leaving the old one untouched. The service swaps the value it serves, so a change
//! takes effect at once.
//!
//! Shipped data: tỉnh Vĩnh Long after 1 July 2025 (`data/vinh-long/`), the category list
//! (`data/categories.toml`) and sample people (`data/people.toml`); each file says where
//! its lists come from.

mod admin;
mod error;
mod load;
mod model;

#[cfg(test)]
mod admin_tests;
#[cfg(test)]
mod load_tests;

use std::collections::BTreeMap;

use paht_domain::actor::Role;

pub use admin::StaffChange;
pub use error::{DirectoryError, Origin};
pub use load::SourceFile;
pub use model::{Category, CategoryId, Person, PersonId, Unit, UnitId, UnitKind};

/// The shipped unit files of tỉnh Vĩnh Long: the hand-written provincial units, then the
/// generated communes and wards.
pub const SHIPPED_UNITS: [SourceFile<'static>; 2] = [
    SourceFile::new("vinh-long/units.toml", include_str!("../../data/vinh-long/units.toml")),
    SourceFile::new("vinh-long/communes.toml", include_str!("../../data/vinh-long/communes.toml")),
];

/// The shipped category list.
pub const SHIPPED_CATEGORIES: SourceFile<'static> =
    SourceFile::new("categories.toml", include_str!("../../data/categories.toml"));

/// The shipped sample people (fake names, for demos and tests).
pub const SHIPPED_PEOPLE: SourceFile<'static> = SourceFile::new("people.toml", include_str!("../../data/people.toml"));

/// The id of the shipped provincial IOC instance, the suite's default instance id.
pub const SHIPPED_IOC: &str = "IOC-86";

/// One checked version of the directory. Built only by [`Directory::parse`] or by an
/// administrator operation, so every value satisfies the checks of the loader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directory {
    version: u64,
    root: UnitId,
    units: BTreeMap<UnitId, Unit>,
    by_code: BTreeMap<String, UnitId>,
    categories: Vec<Category>,
    people: BTreeMap<PersonId, Person>,
}

impl Directory {
    /// The shipped directory (Vĩnh Long, the category list, sample people), version 1.
    pub fn shipped() -> Directory {
        match Directory::parse(&SHIPPED_UNITS, SHIPPED_CATEGORIES, SHIPPED_PEOPLE) {
            Ok(directory) => directory,
            // The shipped files are checked by this crate's tests; failing here is a build defect.
            Err(e) => panic!("the shipped directory data is invalid: {e}"),
        }
    }

    /// Parses and checks a directory: several unit files (one tree across them), the
    /// category file and the people file. The result is version 1.
    pub fn parse(
        units: &[SourceFile<'_>],
        categories: SourceFile<'_>,
        people: SourceFile<'_>,
    ) -> Result<Directory, DirectoryError> {
        let tree = load::check_tree(load::read_units(units)?)?;
        let categories = load::read_categories(categories)?;
        let people = load::check_people(load::read_people(people)?, &tree.units)?;
        Ok(Directory { version: 1, root: tree.root, units: tree.units, by_code: tree.by_code, categories, people })
    }

    /// The version: 1 when loaded, one more after each administrator operation.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The root of the unit tree (the province).
    pub fn root(&self) -> &Unit {
        &self.units[&self.root]
    }

    /// A unit by id.
    pub fn unit(&self, id: &UnitId) -> Option<&Unit> {
        self.units.get(id)
    }

    /// Every unit, active or retired, in id order.
    pub fn units(&self) -> impl Iterator<Item = &Unit> {
        self.units.values()
    }

    /// A unit by its official administrative code (e.g. a commune's 5-digit code).
    pub fn by_code(&self, code: &str) -> Option<&Unit> {
        self.by_code.get(code).map(|id| &self.units[id])
    }

    /// The direct children of a unit, active or retired, in id order.
    pub fn children(&self, parent: &UnitId) -> Vec<&Unit> {
        self.units.values().filter(|u| u.parent.as_ref() == Some(parent)).collect()
    }

    /// True when `unit` is `area` or lies below it in the tree.
    pub fn is_within(&self, unit: &UnitId, area: &UnitId) -> bool {
        let mut current = Some(unit);
        while let Some(id) = current {
            if id == area {
                return true;
            }
            current = self.units.get(id).and_then(|u| u.parent.as_ref());
        }
        false
    }

    /// The active units of `kind` in `area` (the area itself or below it), in id order:
    /// e.g. the communes of the province, the public utilities under a local IOC.
    pub fn agencies_in(&self, area: &UnitId, kind: UnitKind) -> Vec<&Unit> {
        self.units.values().filter(|u| u.active && u.kind == kind && self.is_within(&u.id, area)).collect()
    }

    /// Every category, active or retired, in the administrator's order.
    pub fn categories(&self) -> &[Category] {
        &self.categories
    }

    /// The categories offered for new reports.
    pub fn active_categories(&self) -> impl Iterator<Item = &Category> {
        self.categories.iter().filter(|c| c.active)
    }

    /// A category by id, active or retired (old reports keep showing theirs).
    pub fn category(&self, id: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.id.as_str() == id)
    }

    /// The category a new report may be filed under: it must exist and be active (R13.5).
    pub fn category_for_new_report(&self, id: &str) -> Result<&Category, DirectoryError> {
        match self.category(id) {
            None => Err(DirectoryError::UnknownCategory { id: id.to_owned() }),
            Some(c) if !c.active => Err(DirectoryError::CategoryRetired { id: id.to_owned() }),
            Some(c) => Ok(c),
        }
    }

    /// A person by id.
    pub fn person(&self, id: &str) -> Option<&Person> {
        PersonId::parse(id).and_then(|id| self.people.get(&id))
    }

    /// Every person, in id order.
    pub fn people(&self) -> impl Iterator<Item = &Person> {
        self.people.values()
    }

    /// The people who act for a unit, in id order.
    pub fn people_of(&self, unit: &UnitId) -> Vec<&Person> {
        self.people.values().filter(|p| &p.unit == unit).collect()
    }

    /// The leaders of a unit, who approve its results (R9).
    pub fn leaders_of(&self, unit: &UnitId) -> Vec<&Person> {
        self.people.values().filter(|p| &p.unit == unit && p.role == Role::Leader).collect()
    }

    /// The officers of a unit, focal points included.
    pub fn officers_of(&self, unit: &UnitId) -> Vec<&Person> {
        self.people.values().filter(|p| &p.unit == unit && p.role == Role::Officer).collect()
    }

    /// The focal officers of a unit, who receive its assignments (R14.3, R18.1).
    pub fn focal_points_of(&self, unit: &UnitId) -> Vec<&Person> {
        self.people.values().filter(|p| &p.unit == unit && p.focal_point).collect()
    }

    /// The same directory with another category list, as `version`: the routing service
    /// lays the administrators' changes read from its database over the shipped directory.
    /// The categories must have been checked by the administrator operations (they were
    /// when stored).
    pub(crate) fn with_categories(&self, categories: Vec<Category>, version: u64) -> Directory {
        Directory { version, categories, ..self.clone() }
    }
}
