//! The index and the inbox query on SQLite (the Postgres runs are in `tests/`).

use chrono::{DateTime, FixedOffset, TimeDelta, Utc};
use paht_domain::actor::{Actor, Role};
use paht_domain::calendar::WorkingCalendar;
use paht_domain::ids::{AssignmentId, ReportId, UnitId};
use paht_domain::lifecycle::{Command, NewAssignment, NewReport, Report};
use paht_platform::db::{Db, DbConfig};
use sea_orm::{EntityTrait, IntoActiveModel};

use super::*;

fn vn(s: &str) -> DateTime<Utc> {
    DateTime::<FixedOffset>::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn db() -> Db {
    let db = Db::connect("sqlite::memory:", "processing", &DbConfig::default()).await.unwrap();
    db.migrate::<crate::ProcessingMigrator>().await.unwrap();
    db
}

fn aid(n: u128) -> AssignmentId {
    AssignmentId::from_uuid(Uuid::from_u128(n))
}

/// A report dispatched on Monday 8 March 2027 to AG1 (lead, assignment 1) and AG2 (assignment 2).
fn dispatched() -> (Report, WorkingCalendar) {
    let cal = WorkingCalendar::vietnam();
    let ioc = Actor::new("op", Role::IocOperator, UnitId::new("IOC"));
    let new = NewReport {
        id: ReportId::from_uuid(Uuid::from_u128(100)),
        instance: UnitId::new("IOC"),
        reporter_ref: None,
        confidential: false,
    };
    let t0 = vn("2027-03-08T09:00:00+07:00");
    let report = Report::receive(new, &Actor::new("s", Role::System, UnitId::new("IOC")), t0, &cal).unwrap().report;
    let report = report.apply(Command::Accept, &ioc, t0, &cal).unwrap().report;
    let dispatch = Command::Dispatch {
        assignments: vec![
            NewAssignment { id: aid(1), agency: UnitId::new("AG1"), lead: true, instructions: None },
            NewAssignment { id: aid(2), agency: UnitId::new("AG2"), lead: false, instructions: None },
        ],
    };
    let report = report.apply(dispatch, &ioc, t0 + TimeDelta::minutes(10), &cal).unwrap().report;
    (report, cal)
}

// R8.2b, R8.2a: a fresh assignment is due first by its return window (1 working day).
#[test]
fn due_at_is_the_earliest_running_deadline_r8_2b() {
    let (report, cal) = dispatched();
    let a = report.assignment(aid(1)).unwrap();
    assert_eq!(due_at(a), Some(vn("2027-03-09T17:00:00+07:00")));
    assert_eq!(a.handling.due_at, vn("2027-03-15T17:00:00+07:00"));
    let leader = Actor::new("l", Role::Leader, UnitId::new("AG1"));
    let officer = Actor::new("o", Role::Officer, UnitId::new("AG1"));
    let t = vn("2027-03-09T10:00:00+07:00");
    let submit = Command::SubmitResult { assignment: aid(1), text: "Đã xử lý".into(), attachments: vec![] };
    let report = report.apply(submit, &officer, t, &cal).unwrap().report;
    // R9.2: the leader's day runs now.
    assert_eq!(due_at(report.assignment(aid(1)).unwrap()), Some(vn("2027-03-10T17:00:00+07:00")));
    let report = report.apply(Command::Approve { assignment: aid(1) }, &leader, t, &cal).unwrap().report;
    assert_eq!(due_at(report.assignment(aid(1)).unwrap()), None, "nothing runs on an approved assignment");
}

#[tokio::test]
async fn index_follows_the_replica_and_heals() {
    let db = db().await;
    let conn = db.conn();
    let (report, cal) = dispatched();
    let t1 = vn("2027-03-08T10:00:00+07:00");
    index_report(conn, None, &report, t1).await.unwrap();
    let row = find_assignment(conn, Uuid::from_u128(1)).await.unwrap().unwrap();
    assert_eq!(row, row_of(&report, report.assignment(aid(1)).unwrap(), t1));
    assert_eq!(row.status, "assigned");
    assert_eq!(row.report_id, Uuid::from_u128(100));
    assert!(row.lead);

    // AG1 returns its assignment: its row changes, AG2's keeps its time.
    let officer = Actor::new("o", Role::Officer, UnitId::new("AG1"));
    let t2 = vn("2027-03-08T11:00:00+07:00");
    let ret = Command::Return { assignment: aid(1), reason: "Không thuộc thẩm quyền".into() };
    let after = report.apply(ret, &officer, t2, &cal).unwrap().report;
    // A lost row of AG2 comes back on the next change.
    Entity::delete_by_id(Uuid::from_u128(2)).exec(conn).await.unwrap();
    index_report(conn, Some(&report), &after, t2).await.unwrap();
    let row1 = find_assignment(conn, Uuid::from_u128(1)).await.unwrap().unwrap();
    assert_eq!((row1.status.as_str(), row1.due_at, row1.updated_at), ("returned", None, t2));
    let row2 = find_assignment(conn, Uuid::from_u128(2)).await.unwrap().unwrap();
    assert_eq!(row2.status, "assigned");
    // Unchanged assignment: inserted as it was, not touched otherwise.
    index_report(conn, Some(&after), &after, vn("2027-03-08T12:00:00+07:00")).await.unwrap();
    assert_eq!(find_assignment(conn, Uuid::from_u128(2)).await.unwrap().unwrap(), row2);
    assert_eq!(Entity::find().all(conn).await.unwrap().len(), 2);
}

fn model(n: u128, agency: &str, status: &str, due: Option<&str>) -> Model {
    let t = vn("2027-03-08T09:00:00+07:00");
    Model {
        assignment_id: Uuid::from_u128(n),
        report_id: Uuid::from_u128(1000 + n),
        agency_unit_id: agency.into(),
        lead: true,
        status: status.into(),
        due_at: due.map(vn),
        handling_due_at: t,
        assigned_at: t,
        updated_at: t,
    }
}

/// The ids of every page of AG1's inbox in `statuses`, following the page tokens.
async fn all_pages(conn: &impl ConnectionTrait, statuses: &[AssignmentStatus], size: u64) -> Vec<u128> {
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let (rows, more) = inbox(conn, "AG1", statuses, after, size).await.unwrap();
        seen.extend(rows.iter().map(|r| r.assignment_id.as_u128()));
        if !more {
            return seen;
        }
        assert_eq!(rows.len() as u64, size);
        // Through the token, as a client would.
        after = Some(Cursor::parse(&Cursor::after(rows.last().unwrap()).token()).unwrap());
    }
}

// R13.1: nearest deadline first, ties by id, no deadline last; pages never skip or repeat.
#[tokio::test]
async fn inbox_pages_by_deadline_r13_1() {
    let db = db().await;
    let conn = db.conn();
    let rows = [
        model(5, "AG1", "assigned", Some("2027-03-10T17:00:00+07:00")),
        model(3, "AG1", "explained", Some("2027-03-09T17:00:00+07:00")),
        model(4, "AG1", "result_submitted", Some("2027-03-09T17:00:00+07:00")),
        model(1, "AG1", "approved", None),
        model(2, "AG1", "approved", None),
        model(6, "AG1", "sent_back", Some("2027-03-08T17:00:00.250+07:00")),
        model(7, "AG2", "assigned", Some("2027-03-08T10:00:00+07:00")),
        model(8, "AG1", "returned", None),
    ];
    Entity::insert_many(rows.into_iter().map(IntoActiveModel::into_active_model))
        .exec_without_returning(conn)
        .await
        .unwrap();

    // Every page size gives the same order: deadline, then id for the tie of 3 and 4.
    for size in [1, 2, 3, 50] {
        assert_eq!(all_pages(conn, &OPEN_STATUSES, size).await, vec![6, 3, 4, 5], "pages of {size}");
    }
    let statuses = [AssignmentStatus::Approved, AssignmentStatus::Assigned, AssignmentStatus::Explained];
    for size in [1, 3] {
        assert_eq!(all_pages(conn, &statuses, size).await, vec![3, 5, 1, 2], "pages of {size}");
    }
    let (rows, _) = inbox(conn, "AG9", &OPEN_STATUSES, None, 50).await.unwrap();
    assert!(rows.is_empty());
}

#[test]
fn page_tokens_round_trip_and_refuse_garbage() {
    let with = Cursor { due_at: Some(vn("2027-03-08T17:00:00.123456+07:00")), assignment_id: Uuid::from_u128(7) };
    let without = Cursor { due_at: None, assignment_id: Uuid::from_u128(8) };
    for cursor in [with, without] {
        let token = cursor.token();
        assert!(token.chars().all(|c| c.is_ascii_hexdigit()), "{token}");
        assert_eq!(Cursor::parse(&token), Some(cursor));
    }
    for garbage in ["", "zz", "abc", "70313a2d3a", "3130", &with.token()[..10]] {
        assert_eq!(Cursor::parse(garbage), None, "{garbage}");
    }
}
