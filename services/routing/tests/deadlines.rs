//! The deadlines table follows the lifecycle, and the sweeper reminds before and reports after
//! each deadline exactly when the regulation says (R13.1, R14.4), on SQLite and Postgres.

mod common_deadlines;

use chrono::NaiveDate;
use common_deadlines::*;
use paht_domain::deadline::{Rule, Stage};
use paht_domain::lifecycle::{Command, Directive, EscalationReason};
use paht_platform::db::Db;
use paht_proto::convert;
use paht_proto::v1;
use paht_routing::deadlines::{LeadTime, SUBJECT, SweepStats, SweeperConfig};

fn submit(n: u128) -> Command {
    Command::SubmitResult {
        assignment: aid(n), text: "Đã vá ổ gà trước số nhà 25".into(), attachments: vec![]
    }
}

fn stats(due_soon: u64, missed: u64, closed: u64) -> SweepStats {
    SweepStats { due_soon, missed, closed }
}

/// R7.2, R8.2a, R8.2b, R9.2, R9.3a, R10.2: `sync` inserts a row per running deadline with the
/// unit responsible for it, closes it when the stage is done, reopens the handling period a
/// send-back restores, and is idempotent.
async fn sync_follows_the_lifecycle(db: Db) {
    let mut w = World::received(1, vn("2027-03-08T09:00:00"));
    w.sync(&db).await;
    let first = rows(&db, w.id()).await;
    assert_eq!(first.len(), 1);
    let check = &first[0];
    assert_eq!(check.stage, "check");
    assert_eq!((check.assignment_id, check.assignment_key.as_str()), (None, ""));
    assert_eq!(check.responsible_unit_id, IOC, "the IOC checks (R7.2)");
    assert_eq!(check.instance_id, IOC);
    assert_eq!(check.started_at, vn("2027-03-08T09:00:00"));
    assert_eq!(check.due_at, vn("2027-03-08T10:00:00"), "1 working hour (R7.2)");
    assert_eq!(check.due_soon_at, vn("2027-03-08T09:45:00"), "75% of the span");
    assert_eq!(serde_json::from_str::<Rule>(&check.rule).unwrap(), Rule::WorkingHours(1));
    assert!(check.closed_at.is_none() && check.due_soon_sent_at.is_none() && check.missed_sent_at.is_none());

    // Idempotent: syncing the same state again changes nothing.
    w.sync(&db).await;
    w.sync(&db).await;
    assert_eq!(rows(&db, w.id()).await, first);

    // Dispatch to two agencies: the check is done, each agency gets its three deadlines.
    w.dispatch(vn("2027-03-08T09:20:00"), &[AG1, AG2]);
    w.sync(&db).await;
    assert!(row(&db, w.id(), None, Stage::Check).await[0].closed_at.is_some());
    for (n, agency) in [(1, AG1), (2, AG2)] {
        for stage in [Stage::Return, Stage::Explanation, Stage::Handling] {
            let r = row(&db, w.id(), Some(n), stage).await;
            assert_eq!(r.len(), 1, "{stage:?} of {agency}");
            assert_eq!(r[0].responsible_unit_id, agency);
            assert_eq!(r[0].assignment_id, Some(aid(n).0));
            assert_eq!(r[0].due_at, w.open(Some(n), stage).due_at);
            assert!(r[0].closed_at.is_none());
        }
    }
    assert_eq!(open_count(&db).await, 6);

    // AG1 submits: its windows and handling end, the leader's approval runs (R9.2).
    w.apply(&officer(AG1), vn("2027-03-09T10:00:00"), submit(1));
    w.sync(&db).await;
    for stage in [Stage::Return, Stage::Explanation, Stage::Handling] {
        assert!(row(&db, w.id(), Some(1), stage).await[0].closed_at.is_some(), "{stage:?} closed");
    }
    let approval = row(&db, w.id(), Some(1), Stage::Approval).await;
    assert_eq!(approval.len(), 1);
    assert_eq!(approval[0].due_at, vn("2027-03-10T17:00:00"), "1 working day from the next (R9.2)");
    assert_eq!(open_count(&db).await, 4);

    // The leader sends it back (R9.3a): approval ends, the same handling period runs again.
    let handling = row(&db, w.id(), Some(1), Stage::Handling).await[0].clone();
    w.apply(
        &leader(AG1),
        vn("2027-03-09T14:00:00"),
        Command::SendBack { assignment: aid(1), reason: "Thiếu ảnh".into() },
    );
    w.sync(&db).await;
    assert!(row(&db, w.id(), Some(1), Stage::Approval).await[0].closed_at.is_some());
    let reopened = row(&db, w.id(), Some(1), Stage::Handling).await;
    assert_eq!(reopened.len(), 1, "the same deadline, not a new one");
    assert_eq!(reopened[0].id, handling.id);
    assert!(reopened[0].closed_at.is_none());

    // Both agencies finish; the report is resolved and the IOC's answer runs (R10.2).
    w.apply(&officer(AG1), vn("2027-03-10T09:00:00"), submit(1));
    w.apply(&officer(AG2), vn("2027-03-10T09:00:00"), submit(2));
    w.sync(&db).await;
    assert_eq!(row(&db, w.id(), Some(1), Stage::Approval).await.len(), 2, "a second approval period");
    w.apply(&leader(AG1), vn("2027-03-10T10:00:00"), Command::Approve { assignment: aid(1) });
    w.apply(&leader(AG2), vn("2027-03-10T10:00:00"), Command::Approve { assignment: aid(2) });
    w.sync(&db).await;
    let answer = row(&db, w.id(), None, Stage::Answer).await;
    assert_eq!(answer.len(), 1);
    assert_eq!(answer[0].responsible_unit_id, IOC);
    assert_eq!(answer[0].due_at, vn("2027-03-10T16:00:00"), "4 working hours (R10.2)");
    assert_eq!(open_count(&db).await, 1);

    w.apply(&ioc(), vn("2027-03-10T11:00:00"), Command::EditAnswer { text: "Đã vá xong.".into() });
    w.apply(&ioc(), vn("2027-03-10T11:05:00"), Command::Publish);
    w.sync(&db).await;
    assert_eq!(open_count(&db).await, 0);
    assert_eq!(rows(&db, w.id()).await.len(), 11);

    // Nothing runs any more: a sweep long after reminds and reports nothing.
    let sweeper = sweeper(&db, SweeperConfig::default());
    assert!(sweeper.sweep_once(vn("2027-12-31T00:00:00")).await.unwrap().is_empty());
    assert_eq!(outbox_len(&db).await, 0);
}

/// R8.2c: a report closed by the provincial office's directive has no deadline left.
async fn a_closed_report_has_no_running_deadline(db: Db) {
    let mut w = World::received(2, vn("2027-03-08T09:00:00"));
    w.dispatch(vn("2027-03-08T09:20:00"), &[AG1]);
    w.sync(&db).await;
    assert_eq!(open_count(&db).await, 3);
    w.apply(
        &ioc(),
        vn("2027-03-08T10:00:00"),
        Command::Escalate {
            reason: EscalationReason::Untrue,
            note: "Nội dung không đúng sự thật".into(),
            duplicate_of: None,
        },
    );
    w.apply(
        &office(),
        vn("2027-03-08T15:00:00"),
        Command::Direct(Directive::Close { notice: "Đóng theo chỉ đạo".into() }),
    );
    w.sync(&db).await;
    assert_eq!(open_count(&db).await, 0);
    let sweeper = sweeper(&db, SweeperConfig::default());
    assert!(sweeper.sweep_once(vn("2027-12-31T00:00:00")).await.unwrap().is_empty());
    assert_eq!(outbox_len(&db).await, 0);
}

/// R7.2, R13.1, R14.4: the check deadline is reminded once when 75% of its hour has gone, and
/// reported missed once when it has passed — not at the instant it falls due.
async fn due_soon_then_missed_at_the_right_instants(db: Db) {
    let w = World::received(3, vn("2027-03-08T09:00:00"));
    w.sync(&db).await;
    let sweeper = sweeper(&db, SweeperConfig::default());

    assert!(sweeper.sweep_once(vn("2027-03-08T09:44:59")).await.unwrap().is_empty());
    assert_eq!(sweeper.sweep_once(vn("2027-03-08T09:45:00")).await.unwrap(), stats(1, 0, 0));
    assert!(sweeper.sweep_once(vn("2027-03-08T09:50:00")).await.unwrap().is_empty(), "reminded once");
    assert!(sweeper.sweep_once(vn("2027-03-08T10:00:00")).await.unwrap().is_empty(), "due, not yet missed");
    assert_eq!(sweeper.sweep_once(vn("2027-03-08T10:00:01")).await.unwrap(), stats(0, 1, 0));
    assert!(sweeper.sweep_once(vn("2027-03-08T10:00:01")).await.unwrap().is_empty(), "reported once");
    assert!(sweeper.sweep_once(vn("2027-04-30T00:00:00")).await.unwrap().is_empty());

    let events = outbox(&db).await;
    let keys: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["deadline.due_soon", "deadline.missed"]);
    for ((_, envelope), at) in events.iter().zip([vn("2027-03-08T09:45:00"), vn("2027-03-08T10:00:01")]) {
        assert_eq!(envelope.report_id, w.id().to_string());
        assert_eq!(envelope.instance_id, IOC);
        assert_eq!(envelope.occurred_at, Some(convert::timestamp(at)));
        let event_id = uuid::Uuid::parse_str(&envelope.event_id).unwrap();
        assert_eq!(event_id.get_version_num(), 7, "a fresh v7 event id");
        let actor = envelope.actor.clone().unwrap();
        assert_eq!((actor.subject.as_str(), actor.role(), actor.unit_id.as_str()), (SUBJECT, v1::Role::System, IOC));
        let (deadline, assignment, unit, subjects) = deadline_payload(envelope);
        assert_eq!(deadline, convert::deadline(&w.open(None, Stage::Check)));
        assert_eq!(deadline.basis, "R7.2: 1 working hour(s)");
        assert_eq!((assignment.as_str(), unit.as_str()), ("", IOC));
        assert_eq!(subjects, ["operator-1"]);
    }
    let check = &rows(&db, w.id()).await[0];
    assert_eq!(check.due_soon_sent_at, Some(vn("2027-03-08T09:45:00")));
    assert_eq!(check.missed_sent_at, Some(vn("2027-03-08T10:00:01")));
    assert!(check.closed_at.is_none(), "still overdue until the IOC acts");
}

/// R8.2a, R8.2b, R13.1: the return and explanation windows are reminded before they end, then
/// closed without a "missed" — not returning or not explaining is a valid outcome — while the
/// handling deadline is reminded and reported missed.
async fn window_stages_are_reminded_but_never_missed(db: Db) {
    let mut w = World::received(4, vn("2027-03-08T09:00:00"));
    w.dispatch(vn("2027-03-08T09:20:00"), &[AG1]);
    w.sync(&db).await;
    let (ret, exp, hand) =
        (w.open(Some(1), Stage::Return), w.open(Some(1), Stage::Explanation), w.open(Some(1), Stage::Handling));
    let lead = LeadTime::default();
    let soon = |d: paht_domain::deadline::Deadline| lead.due_soon_at(d.started_at, d.due_at);
    assert!(soon(ret) < ret.due_at && ret.due_at < soon(exp) && exp.due_at < soon(hand));
    let sweeper = sweeper(&db, SweeperConfig::default());

    assert_eq!(sweeper.sweep_once(soon(ret)).await.unwrap(), stats(1, 0, 0), "return window reminded (R8.2b)");
    assert_eq!(sweeper.sweep_once(ret.due_at).await.unwrap(), stats(0, 0, 0));
    assert_eq!(sweeper.sweep_once(ret.due_at + sec()).await.unwrap(), stats(0, 0, 1), "return window closed");
    assert_eq!(sweeper.sweep_once(soon(exp)).await.unwrap(), stats(1, 0, 0), "explanation window reminded (R8.2a)");
    assert_eq!(sweeper.sweep_once(exp.due_at + sec()).await.unwrap(), stats(0, 0, 1), "explanation window closed");
    assert_eq!(sweeper.sweep_once(soon(hand)).await.unwrap(), stats(1, 0, 0), "handling reminded");
    assert_eq!(sweeper.sweep_once(hand.due_at + sec()).await.unwrap(), stats(0, 1, 0), "handling missed (R8.2a)");
    assert!(sweeper.sweep_once(vn("2027-12-31T00:00:00")).await.unwrap().is_empty());

    let facts: Vec<(String, v1::DeadlineStage)> = facts(&db).await.into_iter().map(|f| (f.key, f.stage)).collect();
    assert_eq!(
        facts,
        [
            ("deadline.due_soon".to_owned(), v1::DeadlineStage::Return),
            ("deadline.due_soon".to_owned(), v1::DeadlineStage::Explanation),
            ("deadline.due_soon".to_owned(), v1::DeadlineStage::Handling),
            ("deadline.missed".to_owned(), v1::DeadlineStage::Handling),
        ]
    );
    for (_, envelope) in outbox(&db).await {
        let (_, assignment, unit, subjects) = deadline_payload(&envelope);
        assert_eq!((assignment, unit), (aid(1).0.to_string(), AG1.to_owned()));
        assert_eq!(subjects, ["officer@SO-XD-86", "leader@SO-XD-86"]);
    }

    // The windows stay closed when the report is synced again (the domain still lists them).
    w.sync(&db).await;
    for stage in [Stage::Return, Stage::Explanation] {
        let r = row(&db, w.id(), Some(1), stage).await;
        assert_eq!(r.len(), 1);
        assert!(r[0].closed_at.is_some() && r[0].missed_sent_at.is_none(), "{stage:?}");
    }
    assert!(sweeper.sweep_once(vn("2027-12-31T00:00:00")).await.unwrap().is_empty());
    assert_eq!(outbox_len(&db).await, 4);
}

/// R13.1: a sweeper that was down while reminders fell due sends no stale reminder: only what
/// still matters, the missed handling deadline.
async fn a_late_sweeper_sends_no_stale_reminders(db: Db) {
    let mut w = World::received(5, vn("2027-03-08T09:00:00"));
    w.dispatch(vn("2027-03-08T09:20:00"), &[AG1]);
    w.sync(&db).await;
    let hand = w.open(Some(1), Stage::Handling);
    let sweeper = sweeper(&db, SweeperConfig::default());
    assert_eq!(sweeper.sweep_once(hand.due_at + sec()).await.unwrap(), stats(0, 1, 2));
    let keys: Vec<String> = facts(&db).await.into_iter().map(|f| f.key).collect();
    assert_eq!(keys, ["deadline.missed"]);
}

/// R8.2a: an explanation moves the handling deadline to the expected date: the old deadline's
/// row is closed and never reported, the new one is reminded and reported on its own date,
/// with its rule ("by <date>").
async fn an_explanation_moves_the_handling_deadline(db: Db) {
    let mut w = World::received(6, vn("2027-03-08T09:00:00"));
    w.dispatch(vn("2027-03-08T09:20:00"), &[AG1]);
    w.sync(&db).await;
    let old = w.open(Some(1), Stage::Handling);
    let expected = NaiveDate::from_ymd_opt(2027, 3, 26).unwrap();
    w.apply(
        &officer(AG1),
        vn("2027-03-09T10:00:00"),
        Command::Explain {
            assignment: aid(1),
            reason: "Cần phối hợp với điện lực".into(),
            expected_completion: expected,
        },
    );
    w.sync(&db).await;
    let new = w.open(Some(1), Stage::Handling);
    assert_eq!(new.due_at, vn("2027-03-26T17:00:00"));
    let handling = row(&db, w.id(), Some(1), Stage::Handling).await;
    assert_eq!(handling.len(), 2, "the moved deadline is a new row");
    assert!(handling[0].closed_at.is_some() && handling[0].due_at == old.due_at);
    assert!(handling[1].closed_at.is_none() && handling[1].due_at == new.due_at);
    assert_eq!(serde_json::from_str::<Rule>(&handling[1].rule).unwrap(), Rule::ByDate(expected));
    for stage in [Stage::Return, Stage::Explanation] {
        assert!(row(&db, w.id(), Some(1), stage).await[0].closed_at.is_some(), "{stage:?} done by explaining");
    }

    let sweeper = sweeper(&db, SweeperConfig::default());
    assert!(sweeper.sweep_once(old.due_at + sec()).await.unwrap().is_empty(), "the old deadline no longer counts");
    let soon = LeadTime::default().due_soon_at(new.started_at, new.due_at);
    assert!(soon > old.due_at);
    assert_eq!(sweeper.sweep_once(soon).await.unwrap(), stats(1, 0, 0));
    assert!(sweeper.sweep_once(new.due_at).await.unwrap().is_empty());
    assert_eq!(sweeper.sweep_once(new.due_at + sec()).await.unwrap(), stats(0, 1, 0));

    let events = outbox(&db).await;
    assert_eq!(events.len(), 2);
    for (_, envelope) in &events {
        let (deadline, ..) = deadline_payload(envelope);
        assert_eq!(deadline, convert::deadline(&new));
        assert_eq!(deadline.basis, "R8.2a: by 2027-03-26");
    }
}

/// R9.2, R9.3a: a late approval is reported missed to the leader; the send-back restores the
/// handling deadline, which is then reminded and reported like any other.
async fn a_send_back_restores_the_handling_deadline(db: Db) {
    let mut w = World::received(7, vn("2027-03-08T09:00:00"));
    w.dispatch(vn("2027-03-08T09:20:00"), &[AG1]);
    let hand = w.open(Some(1), Stage::Handling);
    w.apply(&officer(AG1), vn("2027-03-09T10:00:00"), submit(1));
    w.sync(&db).await;
    let approval = w.open(Some(1), Stage::Approval);
    let sweeper = sweeper(&db, SweeperConfig::default());
    assert_eq!(sweeper.sweep_once(approval.due_at + sec()).await.unwrap(), stats(0, 1, 0), "approval missed (R9.2)");
    let (deadline, _, unit, subjects) = deadline_payload(&outbox(&db).await[0].1);
    assert_eq!(deadline.stage(), v1::DeadlineStage::Approval);
    assert_eq!(deadline.basis, "R9.2: 1 working day(s) from the next working day");
    assert_eq!((unit.as_str(), subjects), (AG1, vec!["leader@SO-XD-86".to_owned()]));

    w.apply(
        &leader(AG1),
        vn("2027-03-11T10:00:00"),
        Command::SendBack { assignment: aid(1), reason: "Thiếu ảnh".into() },
    );
    w.sync(&db).await;
    let soon = LeadTime::default().due_soon_at(hand.started_at, hand.due_at);
    assert_eq!(sweeper.sweep_once(soon).await.unwrap(), stats(1, 0, 0));
    assert_eq!(sweeper.sweep_once(hand.due_at + sec()).await.unwrap(), stats(0, 1, 0));
    let facts: Vec<(String, v1::DeadlineStage)> = facts(&db).await.into_iter().map(|f| (f.key, f.stage)).collect();
    assert_eq!(
        facts,
        [
            ("deadline.missed".to_owned(), v1::DeadlineStage::Approval),
            ("deadline.due_soon".to_owned(), v1::DeadlineStage::Handling),
            ("deadline.missed".to_owned(), v1::DeadlineStage::Handling),
        ]
    );
}

/// R13.1, R14.4: sweeping is idempotent — a second sweep at the same or a later instant writes
/// nothing already written — across many reports in several batches.
async fn sweeping_twice_emits_nothing_new(db: Db) {
    // 30 waiting reports (check) and 30 dispatched ones, in batches of 7.
    populate(&db, 100, 30, 30).await;
    let sweeper = sweeper(&db, SweeperConfig { batch: 7, ..SweeperConfig::default() });
    let now = vn("2026-01-01T00:00:00");
    assert_eq!(sweeper.sweep_once(now).await.unwrap(), stats(0, 60, 60));
    assert!(sweeper.sweep_once(now).await.unwrap().is_empty());
    assert!(sweeper.sweep_once(now + chrono::TimeDelta::days(30)).await.unwrap().is_empty());
    let counts = counts(&db).await;
    assert_eq!(counts.len(), 60);
    assert!(counts.values().all(|n| *n == 1));
    assert_eq!(outbox_len(&db).await, 60);
}

on_both!(
    sync_follows_the_lifecycle,
    a_closed_report_has_no_running_deadline,
    due_soon_then_missed_at_the_right_instants,
    window_stages_are_reminded_but_never_missed,
    a_late_sweeper_sends_no_stale_reminders,
    an_explanation_moves_the_handling_deadline,
    a_send_back_restores_the_handling_deadline,
    sweeping_twice_emits_nothing_new,
);
