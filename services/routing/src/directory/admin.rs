//! Administrator operations: pure functions from one directory version to the next. The
//! old value is never changed, so a refused operation changes nothing, and serving the new
//! value makes a change effective at once (R18.1).

use std::collections::BTreeMap;

use paht_domain::actor::Role;

use super::Directory;
use super::error::DirectoryError;
use super::load;
use super::model::{Person, PersonId, UnitId, UnitKind};

/// Where category operations report their errors.
const CATEGORY_CHANGE: &str = "category change";
/// Where staff operations report their errors.
const STAFF_CHANGE: &str = "staff change";

/// One change to the staff of an agency (R18.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaffChange {
    /// A person starts acting for the unit.
    Add(Person),
    /// A person no longer acts for the unit.
    Remove(PersonId),
    /// A person of the unit takes another role (e.g. an officer becomes its leader).
    SetRole(PersonId, Role),
    /// A person of the unit becomes a focal point, or stops being one.
    SetFocalPoint(PersonId, bool),
}

impl Directory {
    /// The next version, to be changed by an operation.
    fn next_version(&self) -> Directory {
        let mut next = self.clone();
        next.version += 1;
        next
    }

    /// Index of a category that may still be changed: it exists and is active.
    fn active_category_index(&self, id: &str) -> Result<usize, DirectoryError> {
        let index = self
            .categories
            .iter()
            .position(|c| c.id.as_str() == id)
            .ok_or_else(|| DirectoryError::UnknownCategory { id: id.to_owned() })?;
        if !self.categories[index].active {
            return Err(DirectoryError::CategoryRetired { id: id.to_owned() });
        }
        Ok(index)
    }

    /// Adds an active category at the end of the list (R13.5). Its id must be new: ids of
    /// retired categories are never reused, so old reports keep their meaning.
    pub fn add_category(
        &self,
        id: &str,
        name_vi: &str,
        name_en: &str,
        default_agency_kinds: &[UnitKind],
    ) -> Result<Directory, DirectoryError> {
        let category = load::category(
            CATEGORY_CHANGE,
            id,
            name_vi.trim().to_owned(),
            name_en.trim().to_owned(),
            default_agency_kinds.to_vec(),
        )?;
        if self.category(id).is_some() {
            return Err(DirectoryError::DuplicateCategory { origin: CATEGORY_CHANGE.to_owned(), id: id.to_owned() });
        }
        let mut next = self.next_version();
        next.categories.push(category);
        Ok(next)
    }

    /// Renames an active category (R13.5); its id, and so every report filed under it, stays.
    pub fn rename_category(&self, id: &str, name_vi: &str, name_en: &str) -> Result<Directory, DirectoryError> {
        let index = self.active_category_index(id)?;
        let (name_vi, name_en) = (name_vi.trim(), name_en.trim());
        load::non_blank(name_vi, CATEGORY_CHANGE, "category", id, "name_vi")?;
        load::non_blank(name_en, CATEGORY_CHANGE, "category", id, "name_en")?;
        let mut next = self.next_version();
        next.categories[index].name_vi = name_vi.to_owned();
        next.categories[index].name_en = name_en.to_owned();
        Ok(next)
    }

    /// Retires a category (R13.5): it stays for history and on old reports, but
    /// [`Directory::category_for_new_report`] refuses it from now on.
    pub fn retire_category(&self, id: &str) -> Result<Directory, DirectoryError> {
        let index = self.active_category_index(id)?;
        let mut next = self.next_version();
        next.categories[index].active = false;
        Ok(next)
    }

    /// Changes the staff of an active unit — officers, leaders, focal points — all changes
    /// or none (R18.1). Every change must concern a person of that unit; the result must
    /// pass the loader's checks (roles fit the unit, focal points are officers).
    pub fn change_staff(&self, unit: &UnitId, changes: &[StaffChange]) -> Result<Directory, DirectoryError> {
        let target = self.unit(unit).ok_or_else(|| DirectoryError::UnknownUnit { id: unit.0.clone() })?;
        if !target.active {
            return Err(DirectoryError::UnitRetired { id: unit.0.clone() });
        }
        let mut people = self.people.clone();
        for change in changes {
            match change {
                StaffChange::Add(person) => {
                    if &person.unit != unit {
                        return Err(not_in_unit(&person.id, unit, &person.unit));
                    }
                    load::non_blank(&person.name, STAFF_CHANGE, "person", person.id.as_str(), "name")?;
                    if people.contains_key(&person.id) {
                        return Err(DirectoryError::DuplicatePerson {
                            origin: STAFF_CHANGE.to_owned(),
                            id: person.id.to_string(),
                        });
                    }
                    people.insert(person.id.clone(), person.clone());
                }
                StaffChange::Remove(id) => {
                    member(&mut people, id, unit)?;
                    people.remove(id);
                }
                StaffChange::SetRole(id, role) => member(&mut people, id, unit)?.role = *role,
                StaffChange::SetFocalPoint(id, focal) => member(&mut people, id, unit)?.focal_point = *focal,
            }
        }
        let people = people.into_values().map(|p| (p, STAFF_CHANGE.to_owned())).collect();
        let people = load::check_people(people, &self.units)?;
        let mut next = self.next_version();
        next.people = people;
        Ok(next)
    }
}

fn not_in_unit(person: &PersonId, unit: &UnitId, actual: &UnitId) -> DirectoryError {
    DirectoryError::PersonNotInUnit { person: person.to_string(), unit: unit.0.clone(), actual: actual.0.clone() }
}

/// The person `id` of `unit`, to be changed.
fn member<'p>(
    people: &'p mut BTreeMap<PersonId, Person>,
    id: &PersonId,
    unit: &UnitId,
) -> Result<&'p mut Person, DirectoryError> {
    let person = people.get_mut(id).ok_or_else(|| DirectoryError::UnknownPerson { id: id.to_string() })?;
    if &person.unit != unit {
        return Err(not_in_unit(id, unit, &person.unit));
    }
    Ok(person)
}
