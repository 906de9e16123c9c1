//! The directory over gRPC: units, categories (R13.5, R14.6) and focal officers (R14.3, R18.1),
//! changed by the system operator and in effect at once for every replica of the service.

mod common;

use common::*;
use paht_domain::actor::Role;
use paht_domain::deadline::Stage;
use paht_proto::v1;
use paht_proto::v1::routing_service_server::RoutingService as _;
use paht_routing::deadlines::Recipients;
use tonic::Code;

fn units_request(parent: &str, kinds: &[v1::UnitKind], size: u32, token: &str) -> v1::ListUnitsRequest {
    v1::ListUnitsRequest {
        parent_id: parent.into(),
        kinds: kinds.iter().map(|k| *k as i32).collect(),
        page: Some(v1::PageRequest { page_size: size, page_token: token.into() }),
    }
}

fn category(id: &str, code: &str, name: &str) -> v1::UpsertCategoryRequest {
    v1::UpsertCategoryRequest {
        category: Some(v1::Category { id: id.into(), code: code.into(), name: name.into(), retired: false }),
    }
}

fn focal(subject: &str, name: &str, role: v1::Role) -> v1::FocalPoint {
    v1::FocalPoint { subject: subject.into(), name: name.into(), role: role as i32, ..Default::default() }
}

// The unit tree: every active unit once, ordered by code, in pages; children of a unit and
// kinds filter it (wards and communes are commune level, the police a central agency).
async fn units_are_listed_by_code_in_pages(h: Harness) {
    let mut all: Vec<v1::Unit> = Vec::new();
    let mut token = String::new();
    loop {
        let page = h
            .svc
            .list_units(h.as_role(Role::Inspector, "SO-NV-86", units_request("", &[], 40, &token)))
            .await
            .unwrap()
            .into_inner();
        assert!(page.units.len() <= 40);
        all.extend(page.units);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let expected = paht_routing::directory::Directory::shipped().units().filter(|u| u.active).count();
    assert_eq!(all.len(), expected);
    assert!(all.windows(2).all(|w| w[0].code < w[1].code), "ordered by code, each once");
    assert!(all.iter().any(|u| u.id == "UBND-86" && u.code == "86" && u.kind == v1::UnitKind::Province as i32));

    let communes = h
        .svc
        .list_units(h.ioc(units_request("UBND-86", &[v1::UnitKind::Commune], 500, "")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(communes.units.len(), 124, "105 communes and 19 wards");
    assert!(communes.next_page_token.is_empty());
    assert!(communes.units.iter().all(|u| u.parent_id == "UBND-86" && u.code.len() == 5));
    let central = h
        .svc
        .list_units(h.ioc(units_request("", &[v1::UnitKind::CentralAgency, v1::UnitKind::Ioc], 0, "")))
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<&str> = central.units.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(ids, vec!["CA-86", "IOC-86"]);

    let status =
        h.svc.list_units(h.ioc(units_request("NOWHERE", &[v1::UnitKind::Unspecified], 0, "next?"))).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(fields(&status), vec!["parent_id", "kinds[0]", "page.page_token"]);
    let status =
        h.svc.list_units(h.as_role(Role::Reporter, INSTANCE, units_request("", &[], 0, ""))).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "the directory is for staff");
}

async fn listed(h: &Harness, include_retired: bool) -> Vec<v1::Category> {
    let request = h.ioc(v1::ListCategoriesRequest { include_retired });
    h.svc.list_categories(request).await.unwrap().into_inner().categories
}

// R13.5, R14.6: the system operator adds, renames and retires fields; a retired field stays on
// old reports (and still gets agency suggestions) but is no longer offered.
async fn categories_are_upserted_and_retired_r13_5_r14_6(h: Harness) {
    let shipped = listed(&h, false).await;
    assert_eq!(shipped.len(), 20);
    assert!(shipped.windows(2).all(|w| w[0].code < w[1].code), "ordered by code");
    assert!(shipped.iter().all(|c| c.id == c.code && !c.retired));

    let created = h.svc.upsert_category(h.admin(category("", "cay-xanh", " Cây xanh đô thị "))).await.unwrap();
    let created = created.into_inner().category.unwrap();
    assert_eq!((created.id.as_str(), created.name.as_str(), created.retired), ("cay-xanh", "Cây xanh đô thị", false));
    assert!(listed(&h, false).await.iter().any(|c| c.id == "cay-xanh"));

    let renamed = h.svc.upsert_category(h.admin(category("cay-xanh", "", "Cây xanh"))).await.unwrap();
    assert_eq!(renamed.into_inner().category.unwrap().name, "Cây xanh");
    let shipped_renamed = h.svc.upsert_category(h.admin(category("giao-thong", "giao-thong", "Giao thông vận tải")));
    assert_eq!(shipped_renamed.await.unwrap().into_inner().category.unwrap().name, "Giao thông vận tải");

    for (request, code, expected) in [
        (category("", "cay-xanh", "Lại"), Code::InvalidArgument, vec!["category.code"]),
        (category("", "Cây Xanh", "Tên"), Code::InvalidArgument, vec!["category.code"]),
        (category("", "", ""), Code::InvalidArgument, vec!["category.name", "category.code"]),
        (category("cay-xanh", "cay-xanh-2", "Tên"), Code::InvalidArgument, vec!["category.code"]),
        (category("khong-co", "", "Tên"), Code::NotFound, vec![]),
        (v1::UpsertCategoryRequest { category: None }, Code::InvalidArgument, vec!["category"]),
    ] {
        let status = h.svc.upsert_category(h.admin(request.clone())).await.unwrap_err();
        assert_eq!(status.code(), code, "{request:?}: {status:?}");
        assert_eq!(fields(&status), expected, "{request:?}");
    }

    // A report filed under the field before it is retired.
    let story = accepted_report(&h, &Spec::new("Cây xanh ngã đổ", "cay-xanh").in_unit(WARD_CODE), "2027-03-05").await;

    let retire = v1::RetireCategoryRequest { category_id: "cay-xanh".into() };
    let retired = h.svc.retire_category(h.admin(retire.clone())).await.unwrap().into_inner().category.unwrap();
    assert!(retired.retired);
    assert!(!listed(&h, false).await.iter().any(|c| c.id == "cay-xanh"), "no longer offered");
    assert!(listed(&h, true).await.iter().any(|c| c.id == "cay-xanh" && c.retired), "still known");
    let again = h.svc.retire_category(h.admin(retire)).await.unwrap().into_inner().category.unwrap();
    assert!(again.retired, "retiring twice is idempotent");
    let status = h.svc.upsert_category(h.admin(category("cay-xanh", "", "Cây xanh mới"))).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "a retired field cannot change");
    let status = h.svc.retire_category(h.admin(v1::RetireCategoryRequest { category_id: "khong-co".into() }));
    assert_eq!(status.await.unwrap_err().code(), Code::NotFound);

    let request = v1::SuggestAgenciesRequest { report_id: story.id().to_string(), limit: 0 };
    let suggestions = h.svc.suggest_agencies(h.ioc(request)).await.unwrap().into_inner().suggestions;
    assert_eq!(suggestions[0].unit.as_ref().unwrap().id, WARD, "the old report still gets its ward");

    for request in
        [h.ioc(category("", "moi", "Mới")), h.as_role(Role::ProvincialOffice, OFFICE, category("", "moi", "Mới"))]
    {
        assert_eq!(h.svc.upsert_category(request).await.unwrap_err().code(), Code::PermissionDenied);
    }
    let retire = h.ioc(v1::RetireCategoryRequest { category_id: "giao-thong".into() });
    assert_eq!(h.svc.retire_category(retire).await.unwrap_err().code(), Code::PermissionDenied);
    assert!(listed(&h, false).await.iter().any(|c| c.id == "giao-thong"));
}

// R18.1, R14.3, R13.5: a change made through one replica of the service is what every other
// replica serves on its next call — focal officers, reminder recipients and categories.
async fn directory_changes_take_effect_at_once_on_every_replica_r18_1(h: Harness) {
    let other = h.second().await;
    let list = v1::ListFocalPointsRequest { unit_id: AG1.into() };
    let shipped = other.list_focal_points(h.ioc(list.clone())).await.unwrap().into_inner().focal_points;
    assert_eq!(shipped.iter().map(|f| f.subject.as_str()).collect::<Vec<_>>(), vec!["sample-sxd-focal"]);
    assert_eq!(other.directory().concerned(AG1, Stage::Handling).await.unwrap(), vec!["sample-sxd-focal"]);

    let mut officer = focal("cb-xd-01", "Nguyễn Thị Đầu Mối", v1::Role::Officer);
    officer.phone = "0912 345 678".into();
    officer.email = "daumoi.sxd@vinhlong.gov.vn".into();
    let set = v1::SetFocalPointsRequest {
        unit_id: AG1.into(),
        focal_points: vec![officer, focal("ld-xd-01", "Trần Văn Lãnh Đạo", v1::Role::Leader)],
    };
    let now_set = h.svc.set_focal_points(h.admin(set)).await.unwrap().into_inner().focal_points;
    assert_eq!(now_set[0].phone, "+84912345678", "stored in +84 form");
    assert_eq!(now_set[0].unit_id, AG1);

    // The other replica had cached the shipped list; it serves the new one at once.
    let seen = other.list_focal_points(h.as_role(Role::Officer, AG1, list.clone())).await.unwrap().into_inner();
    assert_eq!(seen.focal_points, now_set);
    assert_eq!(other.directory().concerned(AG1, Stage::Handling).await.unwrap(), vec!["cb-xd-01", "ld-xd-01"]);
    assert_eq!(
        other.directory().concerned(AG1, Stage::Approval).await.unwrap(),
        vec!["cb-xd-01", "ld-xd-01", "sample-sxd-leader"],
        "the leaders approve (R9)"
    );

    // A category added through the other replica is offered here at once.
    other.upsert_category(h.admin(category("", "chieu-sang", "Chiếu sáng công cộng"))).await.unwrap();
    let categories = h.svc.list_categories(h.ioc(v1::ListCategoriesRequest::default())).await.unwrap().into_inner();
    assert!(categories.categories.iter().any(|c| c.id == "chieu-sang"));

    // An empty list removes every focal officer; reminders then go to the unit's officers and leaders.
    let clear = v1::SetFocalPointsRequest { unit_id: AG1.into(), focal_points: vec![] };
    assert!(other.set_focal_points(h.admin(clear)).await.unwrap().into_inner().focal_points.is_empty());
    assert!(h.svc.list_focal_points(h.ioc(list)).await.unwrap().into_inner().focal_points.is_empty());
    assert_eq!(
        h.svc.directory().concerned(AG1, Stage::Handling).await.unwrap(),
        vec!["sample-sxd-focal", "sample-sxd-leader", "sample-sxd-officer"]
    );
    let other_unit = v1::ListFocalPointsRequest { unit_id: AG3.into() };
    let untouched = h.svc.list_focal_points(h.ioc(other_unit)).await.unwrap().into_inner().focal_points;
    assert_eq!(untouched.iter().map(|f| f.subject.as_str()).collect::<Vec<_>>(), vec!["sample-snnmt-focal"]);
}

// R14.3: focal officers are checked field by field; only the system operator sets them; only
// handling agencies have them.
async fn focal_points_are_checked_r14_3(h: Harness) {
    let mut bad_unit = focal("cb-1", "Cán bộ Một", v1::Role::Officer);
    bad_unit.unit_id = AG2.into();
    let mut bad_phone = focal("cb-2", "Cán bộ Hai", v1::Role::Officer);
    bad_phone.phone = "12".into();
    let mut bad_email = focal("cb-3", "Cán bộ Ba", v1::Role::Officer);
    bad_email.email = "not an address".into();
    let request = v1::SetFocalPointsRequest {
        unit_id: AG1.into(),
        focal_points: vec![
            bad_unit,
            bad_phone,
            bad_email,
            focal("has space", "Tên", v1::Role::Officer),
            focal("cb-4", " ", v1::Role::Officer),
            focal("cb-5", "Vận hành", v1::Role::IocOperator),
            focal("cb-5", "Trùng", v1::Role::Officer),
            focal("sample-snnmt-focal", "Người đơn vị khác", v1::Role::Officer),
        ],
    };
    let before = h.snapshot(&[]).await;
    let status = h.svc.set_focal_points(h.admin(request.clone())).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        fields(&status),
        vec![
            "focal_points[0].unit_id",
            "focal_points[1].phone",
            "focal_points[2].email",
            "focal_points[3].subject",
            "focal_points[4].name",
            "focal_points[5].role",
            "focal_points[6].subject",
            "focal_points[7].subject",
        ]
    );
    let ioc = v1::SetFocalPointsRequest { unit_id: INSTANCE.into(), focal_points: vec![] };
    let status = h.svc.set_focal_points(h.admin(ioc)).await.unwrap_err();
    assert_eq!((status.code(), fields(&status)), (Code::InvalidArgument, vec!["unit_id".to_owned()]));
    let unknown = v1::SetFocalPointsRequest { unit_id: "NOWHERE".into(), focal_points: vec![] };
    assert_eq!(h.svc.set_focal_points(h.admin(unknown)).await.unwrap_err().code(), Code::NotFound);
    let valid = v1::SetFocalPointsRequest { unit_id: AG1.into(), focal_points: vec![] };
    for role in [Role::IocOperator, Role::Officer, Role::Leader, Role::ProvincialOffice] {
        let status = h.svc.set_focal_points(h.as_role(role, AG1, valid.clone())).await.unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied, "{role}");
    }
    assert_eq!(h.snapshot(&[]).await, before);
    let list = h.svc.list_focal_points(h.ioc(v1::ListFocalPointsRequest { unit_id: AG1.into() })).await.unwrap();
    assert_eq!(list.into_inner().focal_points.len(), 1, "the shipped focal officer is still in effect");
    let status = h.svc.list_focal_points(h.ioc(v1::ListFocalPointsRequest { unit_id: String::new() })).await;
    assert_eq!(fields(&status.unwrap_err()), vec!["unit_id"]);
}

on_both!(
    units_are_listed_by_code_in_pages,
    categories_are_upserted_and_retired_r13_5_r14_6,
    directory_changes_take_effect_at_once_on_every_replica_r18_1,
    focal_points_are_checked_r14_3,
);
