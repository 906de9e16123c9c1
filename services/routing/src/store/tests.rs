//! The stores on SQLite: the directory with the administrators' changes across two stores on one
//! database (R18.1), and the `cases` index behind duplicate searches (R8.2c).

use std::sync::Arc;

use chrono::{TimeDelta, TimeZone, Utc};
use paht_domain::actor::{Actor, Role};
use paht_domain::calendar::WorkingCalendar;
use paht_domain::deadline::Stage;
use paht_domain::ids::{ReportId, UnitId};
use paht_domain::lifecycle::{Command, EscalationReason, NewReport, Report};
use paht_platform::db::{Db, DbConfig};
use paht_platform::replica::Replica;
use paht_proto::v1;
use uuid::Uuid;

use super::cases::{self, BoundingBox, Window};
use super::directory::{self, FocalPoint};
use super::*;
use crate::deadlines::Recipients;
use crate::directory::{Directory, UnitKind};
use crate::migration::RoutingMigrator;

async fn sqlite() -> (Db, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("paht-routing-store-{}", Uuid::new_v4().simple()));
    let db =
        Db::connect(&format!("sqlite://{}/routing.db", dir.display()), "routing", &DbConfig::default()).await.unwrap();
    db.migrate::<RoutingMigrator>().await.unwrap();
    (db, dir)
}

fn unit(id: &str) -> UnitId {
    UnitId::new(id)
}

fn officer(unit_id: &str, subject: &str) -> FocalPoint {
    FocalPoint {
        unit: unit(unit_id),
        subject: subject.into(),
        name: format!("Cán bộ {subject}"),
        role: Role::Officer,
        phone: String::new(),
        email: String::new(),
    }
}

// R18.1, R13.5: a change written through one store is read by another store on the same
// database at its next read, although it had cached the version before.
#[tokio::test]
async fn a_change_through_one_store_is_seen_by_another_r18_1() {
    let (db, dir) = sqlite().await;
    let one = DirectoryStore::new(db.clone(), Directory::shipped());
    let two = DirectoryStore::new(db.clone(), Directory::shipped());
    let before = two.current().await.unwrap();
    assert_eq!(before.version(), 0);
    assert_eq!(before.directory().categories(), Directory::shipped().categories());
    assert!(Arc::ptr_eq(&before, &two.current().await.unwrap()), "unchanged: the cached snapshot");

    let now = Utc::now();
    let txn = db.begin_write().await.unwrap();
    let snapshot = one.begin_change(&txn, now).await.unwrap();
    assert_eq!(snapshot.version(), 1);
    let added = snapshot.directory().add_category("cay-xanh", "Cây xanh", "Trees", &[UnitKind::Ward]).unwrap();
    directory::save_category(&txn, added.category("cay-xanh").unwrap(), "admin", now).await.unwrap();
    let renamed = snapshot.directory().rename_category("giao-thong", "Giao thông vận tải", "Transport").unwrap();
    directory::save_category(&txn, renamed.category("giao-thong").unwrap(), "admin", now).await.unwrap();
    directory::replace_focal_points(&txn, &unit("SO-XD-86"), &[officer("SO-XD-86", "cb-1")], "admin", now)
        .await
        .unwrap();
    txn.commit().await.unwrap();

    let after = two.current().await.unwrap();
    assert_eq!(after.version(), 1);
    let categories = after.directory().categories();
    assert_eq!(categories.len(), Directory::shipped().categories().len() + 1);
    assert_eq!(categories[0].name_vi, "Giao thông vận tải", "a shipped category changes in place");
    assert_eq!(categories.last().unwrap().id.as_str(), "cay-xanh", "a new one comes last");
    assert_eq!(after.focal_points(&unit("SO-XD-86")), vec![officer("SO-XD-86", "cb-1")]);
    assert!(after.focal_points_set(&unit("SO-XD-86")));
    assert_eq!(two.concerned("SO-XD-86", Stage::Handling).await.unwrap(), vec!["cb-1"]);
    // Other units keep their shipped focal officers.
    assert_eq!(after.focal_points(&unit("UBND-29551"))[0].subject, "sample-longchau-focal");

    // A second change keeps the first one's rows and adds its own, in creation order.
    let txn = db.begin_write().await.unwrap();
    let snapshot = two.begin_change(&txn, now).await.unwrap();
    let added = snapshot.directory().add_category("chieu-sang", "Chiếu sáng", "Lighting", &[UnitKind::Ward]).unwrap();
    directory::save_category(&txn, added.category("chieu-sang").unwrap(), "admin", now).await.unwrap();
    txn.commit().await.unwrap();
    let latest = one.current().await.unwrap();
    assert_eq!(latest.version(), 2);
    let ids: Vec<&str> = latest.directory().categories().iter().rev().take(2).map(|c| c.id.as_str()).collect();
    assert_eq!(ids, vec!["chieu-sang", "cay-xanh"]);
    db.close().await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

// R13.1, R14.4, R18.1: reminders go to the focal officers; without any, to the unit's officers
// and leaders (its operators for an IOC); the leaders always hear of their approval deadline.
#[tokio::test]
async fn reminders_go_to_focal_officers_else_the_units_staff() {
    let (db, dir) = sqlite().await;
    let store = DirectoryStore::new(db.clone(), Directory::shipped());
    assert_eq!(store.concerned("SO-XD-86", Stage::Handling).await.unwrap(), vec!["sample-sxd-focal"]);
    assert_eq!(
        store.concerned("SO-XD-86", Stage::Approval).await.unwrap(),
        vec!["sample-sxd-focal", "sample-sxd-leader"]
    );
    assert_eq!(
        store.concerned("SO-NV-86", Stage::Handling).await.unwrap(),
        Vec::<String>::new(),
        "an inspector is not reminded"
    );
    assert_eq!(store.concerned("IOC-86", Stage::Check).await.unwrap(), vec!["sample-ioc-operator-1"]);
    assert!(store.concerned("NOWHERE", Stage::Check).await.unwrap().is_empty());

    let txn = db.begin_write().await.unwrap();
    store.begin_change(&txn, Utc::now()).await.unwrap();
    directory::replace_focal_points(&txn, &unit("SO-XD-86"), &[], "admin", Utc::now()).await.unwrap();
    txn.commit().await.unwrap();
    assert!(store.current().await.unwrap().focal_points(&unit("SO-XD-86")).is_empty());
    assert_eq!(
        store.concerned("SO-XD-86", Stage::Handling).await.unwrap(),
        vec!["sample-sxd-focal", "sample-sxd-leader", "sample-sxd-officer"]
    );
    db.close().await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

fn replica_of(content: &str, at: chrono::DateTime<Utc>, place: Option<(f64, f64)>) -> Replica {
    let cal = WorkingCalendar::vietnam();
    let new = NewReport {
        id: ReportId::from_uuid(Uuid::now_v7()),
        instance: unit("IOC-86"),
        reporter_ref: None,
        confidential: false,
    };
    let system = Actor::new("web", Role::System, unit("IOC-86"));
    let state = Report::receive(new, &system, at, &cal).unwrap().report;
    let view = v1::Report {
        content: content.into(),
        tracking_code: "ABCD-EFGH-J".into(),
        category_id: "giao-thong".into(),
        location: Some(v1::Location {
            latitude: place.map(|p| p.0),
            longitude: place.map(|p| p.1),
            address: String::new(),
            unit_code: " 28756 ".into(),
        }),
        ..Default::default()
    };
    Replica { state, view, version: 1 }
}

// R8.2c: the index keeps the fingerprint and place of each report; a duplicate link survives
// later changes; a duplicate escalation records its earlier report.
#[tokio::test]
async fn the_case_index_follows_the_replica_and_keeps_links_r8_2c() {
    let (db, dir) = sqlite().await;
    let t0 = Utc.with_ymd_and_hms(2027, 3, 5, 1, 0, 0).unwrap();
    let earlier = replica_of("Ổ gà lớn", t0, Some((10.24, 106.37)));
    let mut report = replica_of("Ổ gà lớn đường Nguyễn Huệ", t0 + TimeDelta::hours(1), None);
    cases::index(db.conn(), &earlier, t0).await.unwrap();
    cases::index(db.conn(), &report, t0).await.unwrap();
    let row = cases::find(db.conn(), report.id()).await.unwrap().unwrap();
    assert_eq!((row.status.as_str(), row.unit_code.as_deref(), row.latitude), ("received", Some("28756"), None));
    assert!(cases::candidate(&row).unwrap().fingerprint.unigrams().contains(&"nguyen".to_owned()));

    cases::link(db.conn(), report.id(), earlier.id(), t0).await.unwrap();
    let cal = WorkingCalendar::vietnam();
    let ioc = Actor::new("op", Role::IocOperator, unit("IOC-86"));
    report.state = report.state.apply(Command::Accept, &ioc, t0 + TimeDelta::hours(2), &cal).unwrap().report;
    cases::index(db.conn(), &report, t0).await.unwrap();
    let row = cases::find(db.conn(), report.id()).await.unwrap().unwrap();
    assert_eq!((row.status.as_str(), row.duplicate_of), ("accepted", Some(earlier.id().0)), "the link is kept");

    // A duplicate escalation names the earlier report of a report not linked yet.
    let mut other = replica_of("Ổ gà", t0 + TimeDelta::hours(3), None);
    cases::index(db.conn(), &other, t0).await.unwrap();
    let accepted = other.state.apply(Command::Accept, &ioc, t0 + TimeDelta::hours(3), &cal).unwrap().report;
    let escalate = Command::Escalate {
        reason: EscalationReason::Duplicate,
        note: "Trùng".into(),
        duplicate_of: Some(earlier.id()),
    };
    other.state = accepted.apply(escalate, &ioc, t0 + TimeDelta::hours(4), &cal).unwrap().report;
    cases::index(db.conn(), &other, t0).await.unwrap();
    let row = cases::find(db.conn(), other.id()).await.unwrap().unwrap();
    assert_eq!((row.status.as_str(), row.duplicate_of), ("escalated", Some(earlier.id().0)));
    db.close().await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

// R8.2c: the window holds the instance's reports received before the report, since the start of
// the look-back, inside the box or without coordinates.
#[tokio::test]
async fn the_window_selects_earlier_nearby_reports_r8_2c() {
    let (db, dir) = sqlite().await;
    let t0 = Utc.with_ymd_and_hms(2027, 3, 5, 1, 0, 0).unwrap();
    let here = (10.2415, 106.3759);
    let query = replica_of("q", t0, Some(here));
    let near = replica_of("near", t0 - TimeDelta::days(1), Some((here.0 + 0.002, here.1)));
    let far = replica_of("far", t0 - TimeDelta::days(1), Some((here.0 + 0.05, here.1)));
    let unplaced = replica_of("unplaced", t0 - TimeDelta::days(2), None);
    let old = replica_of("old", t0 - TimeDelta::days(40), Some(here));
    let later = replica_of("later", t0 + TimeDelta::hours(1), Some(here));
    for r in [&query, &near, &far, &unplaced, &old, &later] {
        cases::index(db.conn(), r, t0).await.unwrap();
    }
    let center = paht_domain::validation::Coordinates::new(here.0, here.1).unwrap();
    let window = Window {
        instance: "IOC-86".into(),
        report: query.id().0,
        from: t0 - TimeDelta::days(30),
        until: t0,
        area: Some(BoundingBox::around(&center, 500.0)),
        limit: 100,
    };
    let ids: Vec<Uuid> = cases::window(db.conn(), &window).await.unwrap().iter().map(|r| r.report_id).collect();
    assert_eq!(ids, vec![near.id().0, unplaced.id().0], "most recent first");
    let other_instance = Window { instance: "IOC-LOCAL-1".into(), ..window.clone() };
    assert!(cases::window(db.conn(), &other_instance).await.unwrap().is_empty());
    let everywhere = Window { area: None, ..window };
    assert_eq!(cases::window(db.conn(), &everywhere).await.unwrap().len(), 3);
    db.close().await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_box_holds_the_radius() {
    let center = paht_domain::validation::Coordinates::new(10.2415, 106.3759).unwrap();
    let b = BoundingBox::around(&center, 500.0);
    for (lat, lon) in [(b.lat_min, center.longitude()), (center.latitude(), b.lon_max)] {
        let edge = paht_domain::validation::Coordinates::new(lat, lon).unwrap();
        let d = paht_domain::duplicates::distance_m(&center, &edge);
        assert!((500.0..520.0).contains(&d), "{d}");
    }
}
