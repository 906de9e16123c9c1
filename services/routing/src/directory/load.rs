//! Reading the directory's TOML files and checking them as a whole: ids, names, official
//! codes, the tree (parents exist, one root, no cycle), categories and people.

use std::collections::{BTreeMap, BTreeSet};

use paht_domain::actor::Role;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::error::{DirectoryError, Origin};
use super::model::{
    Category, CategoryId, Person, PersonId, UNIT_ID_EXPECTED, Unit, UnitId, UnitKind, is_code, role_fits,
};

/// A data file: its name (for error messages) and its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceFile<'a> {
    /// The file's name, e.g. `vinh-long/units.toml`.
    pub name: &'a str,
    /// The file's TOML text.
    pub text: &'a str,
}

impl<'a> SourceFile<'a> {
    /// Names a text.
    pub const fn new(name: &'a str, text: &'a str) -> Self {
        SourceFile { name, text }
    }
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnitFile {
    #[serde(default)]
    unit: Vec<RawUnit>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUnit {
    id: String,
    code: Option<String>,
    name: String,
    kind: UnitKind,
    parent: Option<String>,
    #[serde(default = "yes")]
    active: bool,
    former_province: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoryFile {
    #[serde(default)]
    category: Vec<RawCategory>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCategory {
    id: String,
    name_vi: String,
    name_en: String,
    #[serde(default = "yes")]
    active: bool,
    default_agency_kinds: Vec<UnitKind>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PeopleFile {
    #[serde(default)]
    person: Vec<RawPerson>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPerson {
    id: String,
    name: String,
    unit: String,
    role: Role,
    #[serde(default)]
    focal_point: bool,
}

fn read<T: DeserializeOwned>(file: SourceFile<'_>) -> Result<T, DirectoryError> {
    toml::from_str(file.text)
        .map_err(|e| DirectoryError::Syntax { origin: file.name.to_owned(), message: e.to_string() })
}

pub(super) fn non_blank(
    text: &str,
    origin: &str,
    what: &'static str,
    id: &str,
    field: &'static str,
) -> Result<(), DirectoryError> {
    if text.trim().is_empty() {
        return Err(DirectoryError::BlankName { origin: origin.to_owned(), what, id: id.to_owned(), field });
    }
    Ok(())
}

/// Reads the units of every unit file, each with the file it came from.
pub(super) fn read_units(files: &[SourceFile<'_>]) -> Result<Vec<(Unit, Origin)>, DirectoryError> {
    let mut units = Vec::new();
    for &file in files {
        let parsed: UnitFile = read(file)?;
        for raw in parsed.unit {
            let origin = file.name.to_owned();
            if !is_code(&raw.id) {
                return Err(DirectoryError::BadId { origin, what: "unit", id: raw.id, expected: UNIT_ID_EXPECTED });
            }
            non_blank(&raw.name, &origin, "unit", &raw.id, "name")?;
            let unit = Unit {
                id: UnitId::new(raw.id),
                code: raw.code,
                name: raw.name,
                kind: raw.kind,
                parent: raw.parent.map(UnitId::new),
                active: raw.active,
                former_province: raw.former_province,
            };
            units.push((unit, origin));
        }
    }
    Ok(units)
}

/// Reads the categories file.
pub(super) fn read_categories(file: SourceFile<'_>) -> Result<Vec<Category>, DirectoryError> {
    let parsed: CategoryFile = read(file)?;
    let mut categories: Vec<Category> = Vec::with_capacity(parsed.category.len());
    for raw in parsed.category {
        let category = category(file.name, &raw.id, raw.name_vi, raw.name_en, raw.default_agency_kinds)?;
        if categories.iter().any(|c| c.id == category.id) {
            return Err(DirectoryError::DuplicateCategory { origin: file.name.to_owned(), id: raw.id });
        }
        categories.push(Category { active: raw.active, ..category });
    }
    Ok(categories)
}

/// Builds an active category from raw input, checking id, names and agency kinds.
pub(super) fn category(
    origin: &str,
    id: &str,
    name_vi: String,
    name_en: String,
    kinds: Vec<UnitKind>,
) -> Result<Category, DirectoryError> {
    let Some(category_id) = CategoryId::parse(id) else {
        return Err(DirectoryError::BadId {
            origin: origin.to_owned(),
            what: "category",
            id: id.to_owned(),
            expected: CategoryId::EXPECTED,
        });
    };
    non_blank(&name_vi, origin, "category", id, "name_vi")?;
    non_blank(&name_en, origin, "category", id, "name_en")?;
    let bad_kinds = |kind| DirectoryError::BadAgencyKinds { origin: origin.to_owned(), id: id.to_owned(), kind };
    if kinds.is_empty() {
        return Err(bad_kinds(None));
    }
    let mut seen = BTreeSet::new();
    for &kind in &kinds {
        if !kind.is_agency() || !seen.insert(kind) {
            return Err(bad_kinds(Some(kind)));
        }
    }
    Ok(Category { id: category_id, name_vi, name_en, active: true, default_agency_kinds: kinds })
}

/// Reads the people file.
pub(super) fn read_people(file: SourceFile<'_>) -> Result<Vec<(Person, Origin)>, DirectoryError> {
    let parsed: PeopleFile = read(file)?;
    let mut people = Vec::with_capacity(parsed.person.len());
    for raw in parsed.person {
        let origin = file.name.to_owned();
        let Some(id) = PersonId::parse(&raw.id) else {
            return Err(DirectoryError::BadId { origin, what: "person", id: raw.id, expected: PersonId::EXPECTED });
        };
        non_blank(&raw.name, &origin, "person", &raw.id, "name")?;
        let person =
            Person { id, name: raw.name, unit: UnitId::new(raw.unit), role: raw.role, focal_point: raw.focal_point };
        people.push((person, origin));
    }
    Ok(people)
}

/// The unit tree once checked.
pub(super) struct Tree {
    pub root: UnitId,
    pub units: BTreeMap<UnitId, Unit>,
    pub by_code: BTreeMap<String, UnitId>,
}

/// Checks official codes, unique ids and codes, that every parent exists, that parents
/// form no cycle and that exactly one unit is the root.
pub(super) fn check_tree(units: Vec<(Unit, Origin)>) -> Result<Tree, DirectoryError> {
    let mut by_id: BTreeMap<UnitId, Unit> = BTreeMap::new();
    let mut origins: BTreeMap<UnitId, Origin> = BTreeMap::new();
    let mut by_code: BTreeMap<String, UnitId> = BTreeMap::new();
    for (unit, origin) in units {
        check_code(&unit, &origin)?;
        if by_id.contains_key(&unit.id) {
            return Err(DirectoryError::DuplicateUnit { origin, id: unit.id.0 });
        }
        if let Some(code) = &unit.code {
            if let Some(other) = by_code.get(code) {
                return Err(DirectoryError::DuplicateCode {
                    origin,
                    id: unit.id.0,
                    code: code.clone(),
                    other: other.0.clone(),
                });
            }
            by_code.insert(code.clone(), unit.id.clone());
        }
        origins.insert(unit.id.clone(), origin);
        by_id.insert(unit.id.clone(), unit);
    }
    for unit in by_id.values() {
        if let Some(parent) = &unit.parent
            && !by_id.contains_key(parent)
        {
            return Err(DirectoryError::UnknownParent {
                origin: origins[&unit.id].clone(),
                id: unit.id.0.clone(),
                parent: parent.0.clone(),
            });
        }
    }
    check_acyclic(&by_id, &origins)?;
    let roots: Vec<&UnitId> = by_id.values().filter(|u| u.parent.is_none()).map(|u| &u.id).collect();
    let [root] = roots.as_slice() else {
        return Err(DirectoryError::RootCount { roots: roots.iter().map(|r| r.0.clone()).collect() });
    };
    Ok(Tree { root: (*root).clone(), units: by_id, by_code })
}

fn check_code(unit: &Unit, origin: &str) -> Result<(), DirectoryError> {
    let digits = unit.kind.official_code_digits();
    let Some(code) = &unit.code else {
        return match digits {
            Some(_) => {
                Err(DirectoryError::MissingCode { origin: origin.to_owned(), id: unit.id.0.clone(), kind: unit.kind })
            }
            None => Ok(()),
        };
    };
    let (valid, expected) = match digits {
        Some(n) => (code.len() == n && code.bytes().all(|b| b.is_ascii_digit()), format!("exactly {n} digits")),
        None => (is_code(code), UNIT_ID_EXPECTED.to_owned()),
    };
    if valid {
        Ok(())
    } else {
        Err(DirectoryError::BadCode {
            origin: origin.to_owned(),
            id: unit.id.0.clone(),
            code: code.clone(),
            kind: unit.kind,
            expected,
        })
    }
}

/// Walks up from every unit; a walk that meets its own path is a cycle. Units already
/// known to reach the root are not walked again, so the whole check is linear.
fn check_acyclic(units: &BTreeMap<UnitId, Unit>, origins: &BTreeMap<UnitId, Origin>) -> Result<(), DirectoryError> {
    let mut reaches_root: BTreeSet<&UnitId> = BTreeSet::new();
    for start in units.keys() {
        let mut path: Vec<&UnitId> = Vec::new();
        let mut current = Some(start);
        while let Some(id) = current {
            if reaches_root.contains(id) {
                break;
            }
            if let Some(at) = path.iter().position(|p| *p == id) {
                let cycle: Vec<String> = path[at..].iter().chain([&id]).map(|u| u.0.clone()).collect();
                return Err(DirectoryError::Cycle { origin: origins[id].clone(), cycle });
            }
            path.push(id);
            current = units[id].parent.as_ref();
        }
        reaches_root.extend(path);
    }
    Ok(())
}

/// Checks people against the tree: unique ids, known units, roles that fit the unit,
/// focal points that are officers.
pub(super) fn check_people(
    people: Vec<(Person, Origin)>,
    units: &BTreeMap<UnitId, Unit>,
) -> Result<BTreeMap<PersonId, Person>, DirectoryError> {
    let mut by_id = BTreeMap::new();
    for (person, origin) in people {
        let Some(unit) = units.get(&person.unit) else {
            return Err(DirectoryError::UnknownUnitOfPerson { origin, id: person.id.to_string(), unit: person.unit.0 });
        };
        if role_fits(person.role, unit.kind) != Some(true) {
            return Err(DirectoryError::RoleNotForUnit {
                origin,
                id: person.id.to_string(),
                role: person.role,
                unit: unit.id.0.clone(),
                kind: unit.kind,
            });
        }
        if person.focal_point && person.role != Role::Officer {
            return Err(DirectoryError::FocalPointNotOfficer { origin, id: person.id.to_string(), role: person.role });
        }
        if by_id.contains_key(&person.id) {
            return Err(DirectoryError::DuplicatePerson { origin, id: person.id.to_string() });
        }
        by_id.insert(person.id.clone(), person);
    }
    Ok(by_id)
}
