//! Routing rules over the shipped directory of Vĩnh Long (R7.3b, R13.5).

use super::*;

fn shipped() -> (Directory, RoutingRules) {
    let directory = Directory::shipped();
    let rules = RoutingRules::shipped(&directory).expect("the shipped rules resolve");
    (directory, rules)
}

fn ids(suggestions: &[AgencySuggestion]) -> Vec<&str> {
    suggestions.iter().map(|s| s.agency.as_str()).collect()
}

fn place(id: &str) -> UnitId {
    UnitId::new(id)
}

// R7.3b: a pothole in phường Long Châu goes to its People's Committee first, then the
// department and the police, each with a reason.
#[test]
fn traffic_in_a_ward_offers_the_ward_then_the_departments() {
    let (directory, rules) = shipped();
    let out = rules.suggest(&directory, "giao-thong", Some(&place("UBND-29551"))).unwrap();
    assert_eq!(out[0].agency.as_str(), "UBND-29551", "ward kind is second in the list: 80 > 70");
    assert_eq!(out[0].score, 80);
    assert!(out[0].reason.contains("phường Long Châu"));
    assert_eq!(ids(&out[1..]), ["SO-XD-86", "CA-86"]);
    assert!(out.windows(2).all(|w| w[0].score >= w[1].score));
}

// R7.3b: water goes to the company that serves the former province of the place.
#[test]
fn water_goes_to_the_company_of_the_former_province() {
    let (directory, rules) = shipped();
    for (ward, company) in [("UBND-28756", "CTN-BENTRE"), ("UBND-29242", "CTN-TRAVINH"), ("UBND-29551", "CTN-VINHLONG")]
    {
        let out = rules.suggest(&directory, "nuoc", Some(&place(ward))).unwrap();
        assert_eq!(out[0].agency.as_str(), company, "{ward}");
        let companies = ids(&out).into_iter().filter(|id| id.starts_with("CTN-")).count();
        assert_eq!(companies, 1, "only the company of {ward}'s area: {out:?}");
    }
    // Without a known place no company can be chosen; the department remains.
    let out = rules.suggest(&directory, "nuoc", None).unwrap();
    assert_eq!(ids(&out), ["SO-XD-86"]);
}

// A place that is not a commune or ward (or unknown) brings no local authority.
#[test]
fn unknown_or_non_local_places_add_no_local_authority() {
    let (directory, rules) = shipped();
    let province_wide = rules.suggest(&directory, "moi-truong", Some(&place("UBND-86"))).unwrap();
    assert_eq!(ids(&province_wide), ["SO-NNMT-86"]);
    let unknown = rules.suggest(&directory, "moi-truong", Some(&place("UBND-99999"))).unwrap();
    assert_eq!(ids(&unknown), ["SO-NNMT-86"]);
}

// R13.5: a retired category takes no new report, so nothing is suggested for it.
#[test]
fn a_retired_category_is_refused() {
    let (directory, _) = shipped();
    let retired = directory.retire_category("vien-thong").unwrap();
    let rules = RoutingRules::shipped(&retired).expect("rules still resolve: the category is kept");
    assert!(matches!(rules.suggest(&retired, "vien-thong", None), Err(SuggestError::Category(_))));
    assert!(rules.suggest(&retired, "khong-co", None).is_err());
}

// Every active category gets at least one suggestion for an event in a ward or a commune.
#[test]
fn every_active_category_has_a_suggestion() {
    let (directory, rules) = shipped();
    for category in directory.active_categories() {
        for local in ["UBND-29551", "UBND-29242"] {
            let out = rules.suggest(&directory, category.id.as_str(), Some(&place(local))).unwrap();
            assert!(!out.is_empty(), "{} has no agency", category.id);
        }
    }
}

#[test]
fn each_mistake_in_a_rules_file_is_named() {
    let directory = Directory::shipped();
    let rule = |body: &str| format!("[[rule]]\n{body}\n");
    let ok = "category = \"dien\"\nagency = \"PC-VINHLONG\"\nweight = 90\nreason = \"x\"";
    let cases: Vec<(String, RulesError)> = vec![
        (rule(&ok.replace("dien", "khong-co")), RulesError::UnknownCategory { rule: 1, category: "khong-co".into() }),
        (rule(&ok.replace("PC-VINHLONG", "IOC-86")), RulesError::NotAnAgency { rule: 1, agency: "IOC-86".into() }),
        (rule(&ok.replace("PC-VINHLONG", "NOPE")), RulesError::NotAnAgency { rule: 1, agency: "NOPE".into() }),
        (rule(&ok.replace("90", "101")), RulesError::Weight { rule: 1, weight: 101 }),
        (rule(&ok.replace("\"x\"", "\"  \"")), RulesError::NoReason { rule: 1 }),
        (
            rule(&format!("{ok}\nformer_province = \"Cần Thơ\"")),
            RulesError::UnknownFormerProvince { rule: 1, former_province: "Cần Thơ".into() },
        ),
        (
            format!("{}{}", rule(ok), rule(ok)),
            RulesError::Duplicate { rule: 2, category: "dien".into(), agency: "PC-VINHLONG".into() },
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(RoutingRules::parse(&text, &directory).unwrap_err(), expected, "{text}");
    }
    assert!(matches!(RoutingRules::parse("[[rule]]\nagency = 1", &directory), Err(RulesError::Syntax(_))));
    assert!(matches!(RoutingRules::parse(&rule(&format!("{ok}\nextra = 1")), &directory), Err(RulesError::Syntax(_))));
    assert_eq!(RoutingRules::parse(&rule(ok), &directory).unwrap().rules().len(), 1);
}
