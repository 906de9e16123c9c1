//! Publication's own rows on SQLite and Postgres: the follow-up queue (R11.2) — one item per
//! rated answer, closed once, paged by deadline — and the index by tracking code.

use chrono::{DateTime, TimeDelta, Utc};
use paht_platform::db::{Db, DbConfig};
use paht_publication::PublicationMigrator;
use paht_publication::store::{self, Cursor, follow_up};
use paht_testing::{Backend, vn};
use uuid::Uuid;

async fn migrated(t: paht_testing::TestDb) -> Db {
    t.db.migrate::<PublicationMigrator>().await.unwrap();
    t.db
}

fn item(n: u128, round: i32, due: DateTime<Utc>, lead: &str) -> follow_up::Model {
    follow_up::Model {
        id: Uuid::from_u128(1000 + n * 10 + round as u128),
        report_id: Uuid::from_u128(n),
        tracking_code: format!("CODE-{n}"),
        round,
        rating: "unsatisfied".into(),
        feedback: Some("Chưa xử lý xong".into()),
        lead_agency_unit_id: lead.into(),
        agency_unit_ids: lead.into(),
        opened_at: due - TimeDelta::days(2),
        due_at: due,
        closed_at: None,
        closed_by: None,
        note: None,
    }
}

async fn queue(backend: Backend) {
    paht_testing::run(backend, "publication", &DbConfig::default(), migrated, queue_on).await;
}

async fn queue_on(db: Db) {
    {
        let conn = db.conn();
        let t = vn("2027-05-05T17:00:00+07:00");
        // One item per report and answer round: a repeat is not added (R11.2).
        assert!(store::open_follow_up(conn, item(1, 0, t, "AG1")).await.unwrap());
        assert!(!store::open_follow_up(conn, Model { id: Uuid::from_u128(99), ..item(1, 0, t, "AG1") }).await.unwrap());
        assert!(store::open_follow_up(conn, item(1, 1, t + TimeDelta::days(7), "AG1")).await.unwrap());
        for n in 2..=6 {
            let lead = if n % 2 == 0 { "AG2" } else { "AG1" };
            assert!(store::open_follow_up(conn, item(n, 0, t + TimeDelta::hours(n as i64), lead)).await.unwrap());
        }
        assert_eq!(store::follow_up_of(conn, Uuid::from_u128(1), 1).await.unwrap().unwrap().round, 1);

        // Pages of two, nearest deadline first, every item once.
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let (rows, more) = store::follow_ups(conn, false, None, after, 2).await.unwrap();
            assert!(rows.len() <= 2);
            seen.extend(rows.iter().map(|r| (r.due_at, r.id)));
            match rows.last() {
                Some(last) if more => after = Some(Cursor::parse(&Cursor::after(last).token()).unwrap()),
                _ => break,
            }
        }
        assert_eq!(seen.len(), 7);
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
        // An agency sees the items of the answers it led.
        let (ag2, _) = store::follow_ups(conn, false, Some("AG2"), None, 50).await.unwrap();
        assert_eq!(ag2.iter().map(|r| r.report_id.as_u128()).collect::<Vec<_>>(), [2, 4, 6]);

        // Closed once; then only listed with the closed ones.
        let id = Uuid::from_u128(1010);
        let at = vn("2027-05-04T08:00:00+07:00");
        assert!(store::close_follow_up(conn, id, "ioc_operator IOC-86 op", "Đã gọi lại", at).await.unwrap());
        assert!(!store::close_follow_up(conn, id, "ioc_operator IOC-86 other", "again", at).await.unwrap());
        let closed = store::follow_up(conn, id).await.unwrap().unwrap();
        assert_eq!((closed.closed_at, closed.note.as_deref()), (Some(at), Some("Đã gọi lại")));
        assert_eq!(closed.closed_by.as_deref(), Some("ioc_operator IOC-86 op"));
        let (open, _) = store::follow_ups(conn, false, None, None, 50).await.unwrap();
        assert_eq!(open.len(), 6);
        let (all, _) = store::follow_ups(conn, true, None, None, 50).await.unwrap();
        assert_eq!(all.len(), 7);
    }
}

use follow_up::Model;

// R11.2 on SQLite (embedded mode).
#[tokio::test]
async fn the_follow_up_queue_on_sqlite_r11_2() {
    queue(Backend::Sqlite).await;
}

// R11.2 on Postgres (suite mode).
#[tokio::test]
async fn the_follow_up_queue_on_postgres_r11_2() {
    queue(Backend::Postgres).await;
}

#[test]
fn page_tokens_round_trip_and_refuse_garbage() {
    let c = Cursor { due_at: vn("2027-05-05T17:00:00+07:00"), id: Uuid::from_u128(7) };
    assert_eq!(Cursor::parse(&c.token()), Some(c));
    for bad in ["", "f1", "f1.x.y", "p1.1.00000000000000000000000000000007", "f1.1.2.3"] {
        assert_eq!(Cursor::parse(bad), None, "{bad}");
    }
}

/// A report as publication's replica holds it, received on Monday 8 March 2027.
fn replica(n: u128, code: &str) -> paht_platform::replica::Replica {
    use paht_domain::actor::{Actor, Role};
    use paht_domain::ids::{ReportId, UnitId};
    use paht_domain::lifecycle::{NewReport, Report};
    let cal = paht_domain::calendar::WorkingCalendar::vietnam();
    let new = NewReport {
        id: ReportId::from_uuid(Uuid::from_u128(n)),
        instance: UnitId::new("IOC-86"),
        reporter_ref: None,
        confidential: false,
    };
    let actor = Actor::new("zalo", Role::System, UnitId::new("IOC-86"));
    let state = Report::receive(new, &actor, vn("2027-03-08T09:00:00+07:00"), &cal).unwrap().report;
    let view =
        paht_proto::v1::Report { tracking_code: code.into(), category_id: "ha-tang".into(), ..Default::default() };
    paht_platform::replica::Replica { state, view, version: 1 }
}

async fn index_on(db: Db) {
    let conn = db.conn();
    let t = vn("2027-03-08T09:00:00+07:00");
    store::index_report(conn, &replica(1, "AB12-CD34"), t).await.unwrap();
    store::index_report(conn, &replica(2, "EF56-GH78"), t).await.unwrap();
    let row = store::by_tracking_code(conn, "AB12-CD34").await.unwrap().unwrap();
    assert_eq!((row.report_id, row.status.as_str(), row.public), (Uuid::from_u128(1), "received", false));
    assert_eq!(row.category_id.as_deref(), Some("ha-tang"));
    // A change upserts the same row.
    let mut changed = replica(1, "AB12-CD34");
    changed.view.category_id = "moi-truong".into();
    store::index_report(conn, &changed, t + TimeDelta::hours(1)).await.unwrap();
    let row = store::by_tracking_code(conn, "AB12-CD34").await.unwrap().unwrap();
    assert_eq!((row.category_id.as_deref(), row.updated_at), (Some("moi-truong"), t + TimeDelta::hours(1)));
    assert_eq!(store::by_tracking_code(conn, "ZZ99-ZZ99").await.unwrap(), None);
}

// The index finds a report by its tracking code, the reporter's only handle (R3.2, R11.1).
#[tokio::test]
async fn the_index_finds_reports_by_tracking_code_on_both_backends() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        paht_testing::run(backend, "publication", &DbConfig::default(), migrated, index_on).await;
    }
}
