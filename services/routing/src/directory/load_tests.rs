//! The loader: each error case names its file and entry (R13.5, R18.1: the directory is
//! data an administrator edits, so a bad edit must say exactly what is wrong).

use paht_domain::actor::Role;
use proptest::prelude::*;

use super::model::UNIT_ID_EXPECTED;
use super::*;

const UNITS: &str = r#"
[[unit]]
id = "UBND-86"
code = "86"
name = "UBND tỉnh Vĩnh Long"
kind = "province"

[[unit]]
id = "IOC-86"
name = "Trung tâm IOC"
kind = "ioc_instance"
parent = "UBND-86"

[[unit]]
id = "UBND-29551"
code = "29551"
name = "UBND phường Long Châu"
kind = "ward"
parent = "UBND-86"
"#;

const CATEGORIES: &str = r#"
[[category]]
id = "giao-thong"
name_vi = "Giao thông"
name_en = "Roads and traffic"
default_agency_kinds = ["ward", "commune"]
"#;

const PEOPLE: &str = r#"
[[person]]
id = "p-leader"
name = "Người Mẫu"
unit = "UBND-29551"
role = "leader"
"#;

fn parse_with(units: &str, categories: &str, people: &str) -> Result<Directory, DirectoryError> {
    Directory::parse(
        &[SourceFile::new("units.toml", units)],
        SourceFile::new("categories.toml", categories),
        SourceFile::new("people.toml", people),
    )
}

/// The fixture with `extra` appended to one of its files.
fn units_plus(extra: &str) -> Result<Directory, DirectoryError> {
    parse_with(&format!("{UNITS}{extra}"), CATEGORIES, PEOPLE)
}
fn categories_plus(extra: &str) -> Result<Directory, DirectoryError> {
    parse_with(UNITS, &format!("{CATEGORIES}{extra}"), PEOPLE)
}
fn people_plus(extra: &str) -> Result<Directory, DirectoryError> {
    parse_with(UNITS, CATEGORIES, &format!("{PEOPLE}{extra}"))
}

fn unit(id: &str, code: Option<&str>, kind: &str, parent: Option<&str>) -> String {
    let code = code.map(|c| format!("code = \"{c}\"\n")).unwrap_or_default();
    let parent = parent.map(|p| format!("parent = \"{p}\"\n")).unwrap_or_default();
    format!("\n[[unit]]\nid = \"{id}\"\n{code}name = \"Đơn vị {id}\"\nkind = \"{kind}\"\n{parent}")
}

fn person(id: &str, unit: &str, role: &str, focal: bool) -> String {
    format!(
        "\n[[person]]\nid = \"{id}\"\nname = \"Tên {id}\"\nunit = \"{unit}\"\nrole = \"{role}\"\nfocal_point = {focal}\n"
    )
}

fn err(result: Result<Directory, DirectoryError>) -> DirectoryError {
    result.expect_err("the input must be refused")
}

fn o(file: &str) -> String {
    file.to_owned()
}

#[test]
fn the_fixture_loads_and_answers_queries() {
    let d = parse_with(UNITS, CATEGORIES, PEOPLE).unwrap();
    assert_eq!(d.version(), 1);
    assert_eq!(d.root().id, UnitId::new("UBND-86"));
    assert_eq!(d.by_code("29551").unwrap().name, "UBND phường Long Châu");
    assert_eq!(d.children(&UnitId::new("UBND-86")).len(), 2);
    assert_eq!(d.agencies_in(&UnitId::new("UBND-86"), UnitKind::Ward).len(), 1);
    assert!(d.agencies_in(&UnitId::new("IOC-86"), UnitKind::Ward).is_empty());
    assert_eq!(d.leaders_of(&UnitId::new("UBND-29551"))[0].id.as_str(), "p-leader");
    assert!(d.category("giao-thong").unwrap().active, "active defaults to true");
}

#[test]
fn syntax_errors_name_the_file() {
    for (units, needle) in [
        ("[[unit]]\nid = ", ""),
        ("[[unit]]\nid = \"X\"\nname = \"X\"\nkind = \"province\"\ncolour = \"red\"\n", "colour"),
        ("[[unit]]\nid = \"X\"\nname = \"X\"\nkind = \"hamlet\"\n", "hamlet"),
    ] {
        match err(parse_with(units, CATEGORIES, PEOPLE)) {
            DirectoryError::Syntax { origin, message } => {
                assert_eq!(origin, "units.toml");
                assert!(message.contains(needle), "{message}");
            }
            other => panic!("expected a syntax error, got {other:?}"),
        }
    }
    let e = err(parse_with(
        UNITS,
        CATEGORIES,
        "[[person]]\nid = \"p\"\nname = \"P\"\nunit = \"IOC-86\"\nrole = \"chief\"\n",
    ));
    assert!(matches!(e, DirectoryError::Syntax { ref origin, .. } if origin == "people.toml"), "{e:?}");
}

#[test]
fn unit_errors() {
    let cases: Vec<(String, DirectoryError)> = vec![
        (
            unit("UBND 1", None, "department", Some("UBND-86")),
            DirectoryError::BadId {
                origin: o("units.toml"),
                what: "unit",
                id: o("UBND 1"),
                expected: UNIT_ID_EXPECTED,
            },
        ),
        (
            "\n[[unit]]\nid = \"SO-XD\"\nname = \"  \"\nkind = \"department\"\nparent = \"UBND-86\"\n".to_owned(),
            DirectoryError::BlankName { origin: o("units.toml"), what: "unit", id: o("SO-XD"), field: "name" },
        ),
        (
            unit("IOC-86", None, "ioc_instance", Some("UBND-86")),
            DirectoryError::DuplicateUnit { origin: o("units.toml"), id: o("IOC-86") },
        ),
        (
            unit("SO-XD", None, "department", Some("SO-NONE")),
            DirectoryError::UnknownParent { origin: o("units.toml"), id: o("SO-XD"), parent: o("SO-NONE") },
        ),
        (
            unit("UBND-2", Some("87"), "province", None),
            DirectoryError::RootCount { roots: vec![o("UBND-2"), o("UBND-86")] },
        ),
        (
            unit("UBND-29557", None, "ward", Some("UBND-86")),
            DirectoryError::MissingCode { origin: o("units.toml"), id: o("UBND-29557"), kind: UnitKind::Ward },
        ),
        (
            unit("UBND-2955", Some("2955"), "commune", Some("UBND-86")),
            DirectoryError::BadCode {
                origin: o("units.toml"),
                id: o("UBND-2955"),
                code: o("2955"),
                kind: UnitKind::Commune,
                expected: o("exactly 5 digits"),
            },
        ),
        (
            unit("UBND-2955A", Some("2955A"), "ward", Some("UBND-86")),
            DirectoryError::BadCode {
                origin: o("units.toml"),
                id: o("UBND-2955A"),
                code: o("2955A"),
                kind: UnitKind::Ward,
                expected: o("exactly 5 digits"),
            },
        ),
        (
            unit("SO-XD", Some("mã sở"), "department", Some("UBND-86")),
            DirectoryError::BadCode {
                origin: o("units.toml"),
                id: o("SO-XD"),
                code: o("mã sở"),
                kind: UnitKind::Department,
                expected: o(UNIT_ID_EXPECTED),
            },
        ),
        (
            unit("UBND-X", Some("29551"), "ward", Some("UBND-86")),
            DirectoryError::DuplicateCode {
                origin: o("units.toml"),
                id: o("UBND-X"),
                code: o("29551"),
                other: o("UBND-29551"),
            },
        ),
    ];
    for (extra, expected) in cases {
        assert_eq!(err(units_plus(&extra)), expected, "for {extra}");
    }
}

#[test]
fn a_province_code_has_two_digits() {
    let units = UNITS.replace("code = \"86\"", "code = \"086\"");
    assert!(matches!(
        err(parse_with(&units, CATEGORIES, PEOPLE)),
        DirectoryError::BadCode { kind: UnitKind::Province, .. }
    ));
}

#[test]
fn a_duplicate_across_files_names_the_second_file() {
    let e = Directory::parse(
        &[
            SourceFile::new("units.toml", UNITS),
            SourceFile::new("communes.toml", &unit("UBND-29551", Some("29552"), "ward", Some("UBND-86"))),
        ],
        SourceFile::new("categories.toml", CATEGORIES),
        SourceFile::new("people.toml", PEOPLE),
    );
    assert_eq!(err(e), DirectoryError::DuplicateUnit { origin: o("communes.toml"), id: o("UBND-29551") });
}

#[test]
fn a_cycle_is_named_unit_by_unit() {
    let extra = unit("A", None, "department", Some("B"))
        + &unit("B", None, "department", Some("C"))
        + &unit("C", None, "department", Some("A"));
    let e = err(units_plus(&extra));
    assert_eq!(e, DirectoryError::Cycle { origin: o("units.toml"), cycle: vec![o("A"), o("B"), o("C"), o("A")] });
    assert!(e.to_string().contains("A → B → C → A"), "{e}");
    // A unit that is its own parent.
    let e = err(units_plus(&unit("SELF", None, "department", Some("SELF"))));
    assert_eq!(e, DirectoryError::Cycle { origin: o("units.toml"), cycle: vec![o("SELF"), o("SELF")] });
}

#[test]
fn a_tree_without_root_is_a_cycle_first() {
    let units = unit("A", Some("86"), "province", Some("B")) + &unit("B", None, "ioc_instance", Some("A"));
    assert!(matches!(err(parse_with(&units, "", "")), DirectoryError::Cycle { .. }));
    assert_eq!(err(parse_with("", "", "")), DirectoryError::RootCount { roots: vec![] });
}

#[test]
fn category_errors() {
    let cat = |id: &str, vi: &str, kinds: &str| {
        format!(
            "\n[[category]]\nid = \"{id}\"\nname_vi = \"{vi}\"\nname_en = \"English\"\ndefault_agency_kinds = [{kinds}]\n"
        )
    };
    let origin = o("categories.toml");
    let cases = [
        (
            cat("Giao Thong", "x", "\"ward\""),
            DirectoryError::BadId {
                origin: origin.clone(),
                what: "category",
                id: o("Giao Thong"),
                expected: CategoryId::EXPECTED,
            },
        ),
        (
            cat("dien", " ", "\"ward\""),
            DirectoryError::BlankName { origin: origin.clone(), what: "category", id: o("dien"), field: "name_vi" },
        ),
        (
            cat("giao-thong", "Lại", "\"ward\""),
            DirectoryError::DuplicateCategory { origin: origin.clone(), id: o("giao-thong") },
        ),
        (cat("dien", "Điện", ""), DirectoryError::BadAgencyKinds { origin: origin.clone(), id: o("dien"), kind: None }),
        (
            cat("dien", "Điện", "\"public_utility\", \"ioc_instance\""),
            DirectoryError::BadAgencyKinds { origin: origin.clone(), id: o("dien"), kind: Some(UnitKind::IocInstance) },
        ),
        (
            cat("dien", "Điện", "\"public_utility\", \"public_utility\""),
            DirectoryError::BadAgencyKinds {
                origin: origin.clone(),
                id: o("dien"),
                kind: Some(UnitKind::PublicUtility),
            },
        ),
    ];
    for (extra, expected) in cases {
        assert_eq!(err(categories_plus(&extra)), expected, "for {extra}");
    }
}

#[test]
fn people_errors() {
    let origin = o("people.toml");
    let role_error = |id: &str, role, unit: &str, kind| DirectoryError::RoleNotForUnit {
        origin: origin.clone(),
        id: o(id),
        role,
        unit: o(unit),
        kind,
    };
    let cases = [
        (
            person("p 2", "IOC-86", "ioc_operator", false),
            DirectoryError::BadId {
                origin: origin.clone(),
                what: "person",
                id: o("p 2"),
                expected: PersonId::EXPECTED,
            },
        ),
        (
            person("p-leader", "UBND-29551", "officer", false),
            DirectoryError::DuplicatePerson { origin: origin.clone(), id: o("p-leader") },
        ),
        (
            person("p2", "UBND-00000", "officer", false),
            DirectoryError::UnknownUnitOfPerson { origin: origin.clone(), id: o("p2"), unit: o("UBND-00000") },
        ),
        (person("p2", "IOC-86", "leader", false), role_error("p2", Role::Leader, "IOC-86", UnitKind::IocInstance)),
        (
            person("p2", "UBND-29551", "ioc_operator", false),
            role_error("p2", Role::IocOperator, "UBND-29551", UnitKind::Ward),
        ),
        (person("p2", "UBND-29551", "reporter", false), role_error("p2", Role::Reporter, "UBND-29551", UnitKind::Ward)),
        (person("p2", "IOC-86", "system", false), role_error("p2", Role::System, "IOC-86", UnitKind::IocInstance)),
        (
            person("p2", "UBND-29551", "leader", true),
            DirectoryError::FocalPointNotOfficer { origin: origin.clone(), id: o("p2"), role: Role::Leader },
        ),
    ];
    for (extra, expected) in cases {
        assert_eq!(err(people_plus(&extra)), expected, "for {extra}");
    }
}

#[test]
fn error_messages_say_where_and_what_to_do() {
    let e = err(units_plus(&unit("SO-XD", None, "department", Some("SO-NONE"))));
    assert_eq!(
        e.to_string(),
        "units.toml: unit SO-XD has parent SO-NONE, which is not in the directory; add that unit or fix the id"
    );
}

#[test]
fn category_ids_are_slugs() {
    for ok in ["giao-thong", "moi-truong", "y-te", "a", "dien-2"] {
        assert!(CategoryId::parse(ok).is_some(), "{ok}");
    }
    for bad in ["", "-a", "a-", "Giao-thong", "giao_thong", "giao thông", &"a".repeat(65)] {
        assert!(CategoryId::parse(bad).is_none(), "{bad}");
    }
}

/// Units `U0..Un` where `U0` is the root and `Ui`'s parent is `U(parents[i-1] % i)`.
fn tree(parents: &[usize]) -> String {
    let mut text = unit("U0", Some("86"), "province", None);
    for (i, p) in parents.iter().enumerate() {
        let i = i + 1;
        text += &unit(&format!("U{i}"), Some(&format!("{i:05}")), "commune", Some(&format!("U{}", p % i)));
    }
    text
}

proptest! {
    /// Any tree loads; every unit lies within the root; children partition the non-root units.
    #[test]
    fn any_tree_loads(parents in prop::collection::vec(any::<usize>(), 0..40)) {
        let d = parse_with(&tree(&parents), "", "").unwrap();
        let root = d.root().id.clone();
        prop_assert!(d.units().all(|u| d.is_within(&u.id, &root)));
        let children: usize = d.units().map(|u| d.children(&u.id).len()).sum();
        prop_assert_eq!(children, parents.len());
        prop_assert_eq!(d.agencies_in(&root, UnitKind::Commune).len(), parents.len());
    }

    /// Pointing any unit's parent at itself or one of its descendants is reported as a cycle.
    #[test]
    fn any_back_edge_is_a_cycle(parents in prop::collection::vec(any::<usize>(), 1..40), pick in any::<usize>()) {
        let d = parse_with(&tree(&parents), "", "").unwrap();
        let n = parents.len();
        let moved = UnitId::new(format!("U{}", 1 + pick % n));
        let below: Vec<UnitId> = d.units().filter(|u| d.is_within(&u.id, &moved)).map(|u| u.id.clone()).collect();
        let new_parent = &below[pick % below.len()];
        let text = rewrite_parent(&tree(&parents), moved.as_str(), new_parent.as_str());
        let is_cycle = matches!(parse_with(&text, "", ""), Err(DirectoryError::Cycle { .. }));
        prop_assert!(is_cycle);
    }
}

/// Sets the parent of unit `id` in a text made by [`tree`].
fn rewrite_parent(text: &str, id: &str, parent: &str) -> String {
    text.split("\n[[unit]]\n")
        .map(|entry| {
            if entry.starts_with(&format!("id = \"{id}\"\n")) {
                let kept: Vec<&str> = entry.lines().filter(|l| !l.starts_with("parent")).collect();
                format!("{}\nparent = \"{parent}\"\n", kept.join("\n"))
            } else {
                entry.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n[[unit]]\n")
}
