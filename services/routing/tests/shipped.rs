//! The shipped directory: tỉnh Vĩnh Long after 1 July 2025, the category list, sample people.

use std::collections::BTreeSet;

use paht_domain::actor::Role;
use paht_routing::directory::{Directory, SHIPPED_IOC, SHIPPED_UNITS, UnitId, UnitKind};

/// Communes and wards of Vĩnh Long in the official 2025 list (Decision 19/2025/QĐ-TTg, as
/// carried by vietnam-provinces 2025.10.1): 105 communes and 19 wards.
const COMMUNES: usize = 105;
const WARDS: usize = 19;

fn province() -> UnitId {
    UnitId::new("UBND-86")
}

#[test]
fn the_shipped_directory_loads() {
    let d = Directory::shipped();
    assert_eq!(d.version(), 1);
    let root = d.root();
    assert_eq!((root.id.as_str(), root.code.as_deref(), root.kind), ("UBND-86", Some("86"), UnitKind::Province));
    assert_eq!(root.name, "UBND tỉnh Vĩnh Long");
}

// R7.3b: the dispatch targets at commune level: exactly the official 124, with unique
// 5-digit codes, each a People's Committee under the province.
#[test]
fn vinh_long_has_124_communes_and_wards_with_unique_official_codes() {
    let d = Directory::shipped();
    let communes = d.agencies_in(&province(), UnitKind::Commune);
    let wards = d.agencies_in(&province(), UnitKind::Ward);
    assert_eq!((communes.len(), wards.len()), (COMMUNES, WARDS));
    assert_eq!(communes.len() + wards.len(), 124);
    let mut codes = BTreeSet::new();
    for unit in communes.iter().chain(&wards) {
        let code = unit.code.as_deref().expect("every commune and ward has its official code");
        assert!(code.len() == 5 && code.bytes().all(|b| b.is_ascii_digit()), "{code}");
        assert!(codes.insert(code), "code {code} twice");
        assert_eq!(unit.id.as_str(), format!("UBND-{code}"));
        assert_eq!(unit.parent.as_ref(), Some(&province()), "two-tier government: no district between");
        let prefix = if unit.kind == UnitKind::Ward { "UBND phường " } else { "UBND xã " };
        assert!(unit.name.starts_with(prefix), "{}", unit.name);
        assert_eq!(d.by_code(code).map(|u| &u.id), Some(&unit.id));
    }
    // The former provinces' shares, inferred from the code ranges by the generator.
    let from = |p: &str| communes.iter().chain(&wards).filter(|u| u.former_province.as_deref() == Some(p)).count();
    assert_eq!(from("Bến Tre") + from("Trà Vinh") + from("Vĩnh Long"), 124);
}

#[test]
fn every_parent_exists_and_every_unit_reaches_the_province() {
    let d = Directory::shipped();
    let roots: Vec<_> = d.units().filter(|u| u.parent.is_none()).collect();
    assert_eq!(roots.len(), 1);
    for unit in d.units() {
        if let Some(parent) = &unit.parent {
            assert!(d.unit(parent).is_some(), "{} has unknown parent {parent}", unit.id);
        }
        assert!(d.is_within(&unit.id, &province()), "{} does not reach the province", unit.id);
    }
    assert_eq!(d.children(&province()).len(), d.units().count() - 1);
}

// The ids the rest of the suite uses: the default instance id and the demo categories.
#[test]
fn ids_used_elsewhere_exist() {
    let d = Directory::shipped();
    let ioc = d.unit(&UnitId::new(SHIPPED_IOC)).expect("IOC-86");
    assert_eq!(ioc.kind, UnitKind::IocInstance);
    for id in ["giao-thong", "moi-truong"] {
        assert!(d.category_for_new_report(id).is_ok(), "{id}");
    }
    // The provincial office, which directs escalated cases (R8.2c).
    let office = d.agencies_in(&province(), UnitKind::ProvincialOffice);
    assert_eq!(office.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(), ["VP-UBND-86"]);
}

// The communes named in the demo reports' addresses exist.
#[test]
fn demo_addresses_name_real_communes() {
    let d = Directory::shipped();
    for name in [
        "UBND phường Long Châu",
        "UBND phường Phú Khương",
        "UBND phường Trà Vinh",
        "UBND phường Thanh Đức",
        "UBND xã Châu Thành",
    ] {
        assert!(d.units().any(|u| u.name == name), "{name}");
    }
}

// R13.5 (the shipped list), R7.3b (someone can receive each field's reports).
#[test]
fn categories_are_realistic_and_routable() {
    let d = Directory::shipped();
    let ids: Vec<&str> = d.categories().iter().map(|c| c.id.as_str()).collect();
    for expected in [
        "giao-thong",
        "trat-tu-do-thi",
        "moi-truong",
        "ha-tang",
        "dien",
        "nuoc",
        "an-ninh-trat-tu",
        "y-te",
        "giao-duc",
        "dat-dai",
    ] {
        assert!(ids.contains(&expected), "{expected}");
    }
    for category in d.categories() {
        assert!(category.active);
        assert!(
            category.default_agency_kinds.iter().any(|&k| !d.agencies_in(&province(), k).is_empty()),
            "no unit in the province can handle {}",
            category.id
        );
    }
}

#[test]
fn departments_utilities_and_police_are_there() {
    let d = Directory::shipped();
    let names = |kind| d.agencies_in(&province(), kind).into_iter().map(|u| u.name.clone()).collect::<Vec<_>>();
    let departments = names(UnitKind::Department);
    for expected in
        ["Sở Xây dựng tỉnh Vĩnh Long", "Sở Nông nghiệp và Môi trường tỉnh Vĩnh Long", "Thanh tra tỉnh Vĩnh Long"]
    {
        assert!(departments.iter().any(|n| n == expected), "{expected}");
    }
    let utilities = names(UnitKind::PublicUtility);
    assert!(utilities.iter().any(|n| n == "Công ty Điện lực Vĩnh Long"));
    assert_eq!(utilities.iter().filter(|n| n.contains("Cấp thoát nước")).count(), 3, "one per former province");
    assert_eq!(names(UnitKind::Police), ["Công an tỉnh Vĩnh Long"]);
}

// R18.1 / R14.3: the sample staff is clearly sample data and has leaders and focal points.
#[test]
fn sample_people_are_marked_and_useful() {
    let d = Directory::shipped();
    assert!(d.people().all(|p| p.id.as_str().starts_with("sample-") && p.name.ends_with("(mẫu)")));
    let ward = UnitId::new("UBND-29551");
    assert_eq!(d.leaders_of(&ward).len(), 1);
    assert_eq!(d.focal_points_of(&ward).len(), 1);
    assert!(d.focal_points_of(&ward).iter().all(|p| p.role == Role::Officer));
    assert!(d.people().any(|p| p.unit.as_str() == SHIPPED_IOC && p.role == Role::IocOperator));
}

#[test]
fn data_files_say_where_their_lists_come_from() {
    let [units, communes] = SHIPPED_UNITS;
    assert!(units.text.contains("45/2025/NĐ-CP") && units.text.contains("Decree 150/2025/NĐ-CP"));
    assert!(units.text.contains("Resolution 202/2025/QH15"));
    assert!(communes.text.contains("vietnam-provinces 2025.10.1"));
    assert!(communes.text.contains("Decision 19/2025/QĐ-TTg"));
}
