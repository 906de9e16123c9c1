//! Administrator operations on the shipped directory: categories (R13.5) and staff (R18.1).

use paht_domain::actor::Role;

use super::*;

fn shipped() -> Directory {
    Directory::shipped()
}

fn unit(id: &str) -> UnitId {
    UnitId::new(id)
}

fn pid(id: &str) -> PersonId {
    PersonId::parse(id).unwrap()
}

fn ids(people: Vec<&Person>) -> Vec<&str> {
    people.into_iter().map(|p| p.id.as_str()).collect()
}

fn new_person(id: &str, unit_id: &str, role: Role, focal_point: bool) -> Person {
    Person { id: pid(id), name: format!("Người {id}"), unit: unit(unit_id), role, focal_point }
}

// R13.5: an administrator adds a field; it is offered for new reports at once.
#[test]
fn add_category() {
    let before = shipped();
    let after = before
        .add_category("cay-xanh", " Cây xanh đô thị ", "Urban trees", &[UnitKind::Ward, UnitKind::PublicUtility])
        .unwrap();
    assert_eq!(after.version(), before.version() + 1);
    let added = after.category_for_new_report("cay-xanh").unwrap();
    assert_eq!(added.name_vi, "Cây xanh đô thị", "names are trimmed");
    assert!(added.active);
    assert_eq!(after.categories().last().unwrap().id.as_str(), "cay-xanh", "added at the end of the list");
    assert!(before.category("cay-xanh").is_none(), "the old version is unchanged");
}

// R13.5: ids are never reused, shapes and names are checked.
#[test]
fn add_category_refusals() {
    let d = shipped();
    let retired = d.retire_category("vien-thong").unwrap();
    let cases = [
        (d.add_category("giao-thong", "Giao thông", "Traffic", &[UnitKind::Ward]), "giao-thong exists"),
        (retired.add_category("vien-thong", "Viễn thông", "Telecoms", &[UnitKind::Department]), "retired id"),
        (d.add_category("Cây xanh", "Cây xanh", "Trees", &[UnitKind::Ward]), "bad id"),
        (d.add_category("cay-xanh", "", "Trees", &[UnitKind::Ward]), "blank name"),
        (d.add_category("cay-xanh", "Cây xanh", "Trees", &[]), "no agency kind"),
        (d.add_category("cay-xanh", "Cây xanh", "Trees", &[UnitKind::Province]), "not an agency kind"),
    ];
    let expected = [
        DirectoryError::DuplicateCategory { origin: "category change".into(), id: "giao-thong".into() },
        DirectoryError::DuplicateCategory { origin: "category change".into(), id: "vien-thong".into() },
        DirectoryError::BadId {
            origin: "category change".into(),
            what: "category",
            id: "Cây xanh".into(),
            expected: CategoryId::EXPECTED,
        },
        DirectoryError::BlankName {
            origin: "category change".into(),
            what: "category",
            id: "cay-xanh".into(),
            field: "name_vi",
        },
        DirectoryError::BadAgencyKinds { origin: "category change".into(), id: "cay-xanh".into(), kind: None },
        DirectoryError::BadAgencyKinds {
            origin: "category change".into(),
            id: "cay-xanh".into(),
            kind: Some(UnitKind::Province),
        },
    ];
    for ((result, why), expected) in cases.into_iter().zip(expected) {
        assert_eq!(result.unwrap_err(), expected, "{why}");
    }
}

// R13.5: renaming keeps the id, so reports filed under it keep their field.
#[test]
fn rename_category() {
    let d = shipped().rename_category("moi-truong", "Môi trường, vệ sinh", "Environment").unwrap();
    let c = d.category("moi-truong").unwrap();
    assert_eq!((c.name_vi.as_str(), c.name_en.as_str()), ("Môi trường, vệ sinh", "Environment"));
    assert_eq!(
        shipped().rename_category("khong-co", "X", "X").unwrap_err(),
        DirectoryError::UnknownCategory { id: "khong-co".into() }
    );
    assert!(matches!(
        shipped().rename_category("moi-truong", "Môi trường", " ").unwrap_err(),
        DirectoryError::BlankName { field: "name_en", .. }
    ));
}

// R13.5: a retired field stays for history but takes no new report and no further change.
#[test]
fn retire_category() {
    let before = shipped();
    let after = before.retire_category("giao-thong").unwrap();
    let retired = DirectoryError::CategoryRetired { id: "giao-thong".into() };
    assert_eq!(after.category_for_new_report("giao-thong").unwrap_err(), retired);
    assert!(!after.category("giao-thong").unwrap().active, "still there for old reports");
    assert!(after.active_categories().all(|c| c.id.as_str() != "giao-thong"));
    assert_eq!(after.categories().len(), before.categories().len());
    assert_eq!(after.retire_category("giao-thong").unwrap_err(), retired);
    assert_eq!(after.rename_category("giao-thong", "A", "B").unwrap_err(), retired);
    assert!(before.category_for_new_report("giao-thong").is_ok(), "the old version is unchanged");
}

// R18.1: an agency changes its leader; the new value shows the new leader at once.
#[test]
fn a_change_of_leader_is_visible_at_once() {
    let ward = unit("UBND-29551");
    let before = shipped();
    assert_eq!(ids(before.leaders_of(&ward)), ["sample-longchau-leader"]);
    let after = before
        .change_staff(
            &ward,
            &[
                StaffChange::SetRole(pid("sample-longchau-leader"), Role::Officer),
                StaffChange::Add(new_person("sample-longchau-new-leader", "UBND-29551", Role::Leader, false)),
            ],
        )
        .unwrap();
    assert_eq!(ids(after.leaders_of(&ward)), ["sample-longchau-new-leader"]);
    assert!(ids(after.officers_of(&ward)).contains(&"sample-longchau-leader"));
    assert_eq!(after.version(), before.version() + 1);
    assert_eq!(ids(before.leaders_of(&ward)), ["sample-longchau-leader"], "the old version is unchanged");
}

// R18.1: an agency changes its focal officer.
#[test]
fn a_change_of_focal_point_is_visible_at_once() {
    let dept = unit("SO-XD-86");
    let after = shipped()
        .change_staff(
            &dept,
            &[
                StaffChange::SetFocalPoint(pid("sample-sxd-focal"), false),
                StaffChange::SetFocalPoint(pid("sample-sxd-officer"), true),
            ],
        )
        .unwrap();
    assert_eq!(ids(after.focal_points_of(&dept)), ["sample-sxd-officer"]);
    let after = after.change_staff(&dept, &[StaffChange::Remove(pid("sample-sxd-officer"))]).unwrap();
    assert!(after.focal_points_of(&dept).is_empty());
    assert!(after.person("sample-sxd-officer").is_none());
}

// R18.1: staff changes are all or nothing and checked like the loaded file.
#[test]
fn staff_change_refusals() {
    let d = shipped();
    let ward = unit("UBND-29551");
    let cases = [
        (d.change_staff(&unit("UBND-00000"), &[]), DirectoryError::UnknownUnit { id: "UBND-00000".into() }),
        (
            d.change_staff(&ward, &[StaffChange::Remove(pid("nobody"))]),
            DirectoryError::UnknownPerson { id: "nobody".into() },
        ),
        (
            d.change_staff(&ward, &[StaffChange::SetRole(pid("sample-sxd-leader"), Role::Officer)]),
            DirectoryError::PersonNotInUnit {
                person: "sample-sxd-leader".into(),
                unit: "UBND-29551".into(),
                actual: "SO-XD-86".into(),
            },
        ),
        (
            d.change_staff(&ward, &[StaffChange::Add(new_person("x", "SO-XD-86", Role::Officer, false))]),
            DirectoryError::PersonNotInUnit {
                person: "x".into(),
                unit: "UBND-29551".into(),
                actual: "SO-XD-86".into(),
            },
        ),
        (
            d.change_staff(
                &ward,
                &[StaffChange::Add(new_person("sample-longchau-focal", "UBND-29551", Role::Officer, false))],
            ),
            DirectoryError::DuplicatePerson { origin: "staff change".into(), id: "sample-longchau-focal".into() },
        ),
        (
            // A focal point made leader without being unflagged first.
            d.change_staff(&ward, &[StaffChange::SetRole(pid("sample-longchau-focal"), Role::Leader)]),
            DirectoryError::FocalPointNotOfficer {
                origin: "staff change".into(),
                id: "sample-longchau-focal".into(),
                role: Role::Leader,
            },
        ),
        (
            d.change_staff(&ward, &[StaffChange::SetRole(pid("sample-longchau-focal"), Role::IocOperator)]),
            DirectoryError::RoleNotForUnit {
                origin: "staff change".into(),
                id: "sample-longchau-focal".into(),
                role: Role::IocOperator,
                unit: "UBND-29551".into(),
                kind: UnitKind::Ward,
            },
        ),
    ];
    for (result, expected) in cases {
        assert_eq!(result.unwrap_err(), expected);
    }
}

#[test]
fn a_retired_unit_takes_no_staff_change() {
    let units = format!(
        "{}\n[[unit]]\nid = \"OLD\"\nname = \"UBND huyện cũ\"\nkind = \"district\"\ncode = \"855\"\nparent = \"UBND-86\"\nactive = false\n",
        include_str!("../../data/vinh-long/units.toml")
    );
    let d =
        Directory::parse(&[SourceFile::new("units.toml", &units)], SHIPPED_CATEGORIES, SourceFile::new("p.toml", ""))
            .unwrap();
    assert_eq!(d.change_staff(&unit("OLD"), &[]).unwrap_err(), DirectoryError::UnitRetired { id: "OLD".into() });
    assert!(d.agencies_in(&d.root().id, UnitKind::District).is_empty(), "retired units are not offered");
    assert_eq!(d.children(&d.root().id).iter().filter(|u| u.kind == UnitKind::District).count(), 1);
}
