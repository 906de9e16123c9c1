//! Replicas on SQLite and Postgres: own commands, folded facts, redeliveries, facts held for their turn.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{TimeDelta, TimeZone, Utc};
use paht_domain::actor::{Actor, Role};
use paht_domain::ids::{AssignmentId, UnitId};
use paht_domain::lifecycle::{NewAssignment, NewReport, ReportStatus};
use paht_proto::convert;
use sea_orm_migration::{MigrationTrait, MigratorTrait};
use uuid::Uuid;

use super::*;
use crate::db::{Db, DbConfig, platform_migrations};
use crate::replica::consumer::Outcome;
use crate::testing::{Backend, FreshDb};

struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut all = platform_migrations();
        all.push(migration());
        all
    }
}

/// Counts hook calls, and records whether the last one saw a new replica.
#[derive(Default)]
struct Counting {
    calls: AtomicUsize,
    created: AtomicUsize,
}

#[async_trait]
impl Hook for Counting {
    async fn changed(&self, _: &DatabaseTransaction, before: Option<&lc::Report>, _: &Replica) -> Result<(), DbError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if before.is_none() {
            self.created.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }
}

fn ioc() -> Actor {
    Actor { subject: "op-1".into(), role: Role::IocOperator, unit: UnitId::new("IOC-86") }
}

/// The envelopes intake would publish for a report received and accepted with `category`.
fn intake_events(cal: &WorkingCalendar, category: &str) -> (lc::Report, Vec<v1::EventEnvelope>) {
    let now = Utc.with_ymd_and_hms(2027, 3, 1, 2, 0, 0).unwrap();
    let new = NewReport {
        id: ReportId::from_uuid(Uuid::now_v7()),
        instance: UnitId::new("IOC-86"),
        reporter_ref: None,
        confidential: false,
    };
    let system = Actor { subject: "web".into(), role: Role::System, unit: UnitId::new("IOC-86") };
    let received = lc::Report::receive(new, &system, now, cal).unwrap();
    let mut view =
        v1::Report { content: "Rác thải ùn ứ".into(), category_id: "moi-truong".into(), ..Default::default() };
    convert::fill_lifecycle(&mut view, &received.report, received.report.received_at);
    let mut envelopes = vec![convert::envelope(
        Uuid::now_v7(),
        &received.events[0],
        convert::payload(&received.events[0], &received.report, Some(view)),
    )];
    let accepted = received.report.apply(Command::Accept, &ioc(), now + TimeDelta::minutes(20), cal).unwrap();
    let mut payload = convert::payload(&accepted.events[0], &accepted.report, None);
    if let v1::event_envelope::Payload::ReportAccepted(a) = &mut payload {
        a.category_id = category.into();
    }
    envelopes.push(convert::envelope(Uuid::now_v7(), &accepted.events[0], payload));
    (accepted.report, envelopes)
}

/// Runs `test` on a fresh, migrated SQLite file, then on a fresh, migrated Postgres database.
async fn on_each_backend<F, Fut>(test: F)
where
    F: Fn(Db) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for backend in [Backend::Sqlite, Backend::Postgres] {
        // Not while a test of this binary restarts the server.
        let _shared = crate::db::tests::PG_GATE.read().await;
        let fresh = FreshDb::create(backend, "replica").await;
        let db = fresh.connect("routing", &DbConfig::default()).await;
        fresh
            .around(async {
                db.migrate::<Migrator>().await.unwrap();
                test(db.clone()).await;
                db.close().await.unwrap();
            })
            .await;
    }
}

#[tokio::test]
async fn replayed_facts_build_the_producers_state_once_per_event() {
    on_each_backend(|db| async move {
        let cal = Arc::new(WorkingCalendar::vietnam());
        let hook = Arc::new(Counting::default());
        let consumer = ReplicaConsumer::new("routing", db.clone(), cal.clone(), hook.clone());
        let (producer, envelopes) = intake_events(&cal, "ve-sinh-moi-truong");
        for envelope in &envelopes {
            let id = Uuid::parse_str(&envelope.event_id).unwrap();
            assert_eq!(consumer.apply(id, envelope).await.unwrap(), Outcome::Applied);
            // The bus delivers at least once: the second delivery does nothing.
            assert_eq!(consumer.apply(id, envelope).await.unwrap(), Outcome::Skipped);
        }
        let replica = load(db.conn(), producer.id).await.unwrap().unwrap();
        assert_eq!(replica.state, producer);
        assert_eq!(replica.version, 2);
        assert_eq!(replica.category_id(), Some("ve-sinh-moi-truong"), "the category confirmed at the check");
        assert_eq!(replica.report().status, v1::ReportStatus::Accepted as i32);
        assert_eq!(replica.report().content, "Rác thải ùn ứ");
        assert_eq!((hook.calls.load(Ordering::SeqCst), hook.created.load(Ordering::SeqCst)), (2, 1));
    })
    .await;
}

#[tokio::test]
async fn a_fact_that_overtakes_its_report_is_held_durably_and_folded_when_the_report_arrives() {
    on_each_backend(|db| async move {
        let cal = Arc::new(WorkingCalendar::vietnam());
        let consumer = ReplicaConsumer::new("processing", db.clone(), cal.clone(), Arc::new(NoIndex));
        let (producer, envelopes) = intake_events(&cal, "");
        let accepted_id = Uuid::parse_str(&envelopes[1].event_id).unwrap();
        assert_eq!(consumer.apply(accepted_id, &envelopes[1]).await.unwrap(), Outcome::Held);
        let held = held_facts(db.conn(), 10).await.unwrap();
        assert_eq!(held.len(), 1);
        assert_eq!((held[0].event_id, held[0].sequence), (accepted_id, 2));
        assert_eq!(held[0].missing, "IOC-86/intake#1", "it waits for the report's arrival");
        // A redelivery of the held fact is a repeat: it is kept once.
        assert_eq!(consumer.apply(accepted_id, &envelopes[1]).await.unwrap(), Outcome::Skipped);
        let received_id = Uuid::parse_str(&envelopes[0].event_id).unwrap();
        assert_eq!(consumer.apply(received_id, &envelopes[0]).await.unwrap(), Outcome::Applied);
        let replica = load(db.conn(), producer.id).await.unwrap().unwrap();
        assert_eq!(replica.state, producer, "the held fact was folded right after the report arrived");
        assert_eq!(replica.category_id(), Some("moi-truong"), "an empty confirmed category keeps the submitted one");
        assert!(held_facts(db.conn(), 10).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn an_own_command_saves_enqueues_and_a_refused_one_changes_nothing() {
    on_each_backend(|db| async move {
        let cal = Arc::new(WorkingCalendar::vietnam());
        let consumer = ReplicaConsumer::new("routing", db.clone(), cal.clone(), Arc::new(NoIndex));
        let (producer, envelopes) = intake_events(&cal, "");
        for envelope in &envelopes {
            consumer.apply(Uuid::parse_str(&envelope.event_id).unwrap(), envelope).await.unwrap();
        }
        let now = Utc.with_ymd_and_hms(2027, 3, 1, 3, 0, 0).unwrap();
        let dispatch = Command::Dispatch {
            assignments: vec![NewAssignment {
                id: AssignmentId::from_uuid(Uuid::now_v7()),
                agency: UnitId::new("SO-XD-86"),
                lead: true,
                instructions: None,
            }],
        };
        let hook = Counting::default();

        // An officer may not dispatch: refused, nothing written.
        let txn = db.begin_write().await.unwrap();
        let replica = lock(&txn, producer.id).await.unwrap().unwrap();
        let officer = Actor { subject: "o".into(), role: Role::Officer, unit: UnitId::new("SO-XD-86") };
        let err = execute(&txn, replica, dispatch.clone(), &officer, now, &cal, &hook).await.unwrap_err();
        assert_eq!(Status::from(err).code(), tonic::Code::PermissionDenied);
        txn.rollback().await.unwrap();
        assert_eq!(outbox::pending_count(db.conn()).await.unwrap(), 0);

        let txn = db.begin_write().await.unwrap();
        let replica = lock(&txn, producer.id).await.unwrap().unwrap();
        let done = execute(&txn, replica, dispatch, &ioc(), now, &cal, &hook).await.unwrap();
        txn.commit().await.unwrap();
        assert_eq!(done.replica.state.status, ReportStatus::Dispatched);
        assert_eq!(outbox::pending_count(db.conn()).await.unwrap(), 1);
        assert_eq!(hook.calls.load(Ordering::SeqCst), 1);
        let stored = load(db.conn(), producer.id).await.unwrap().unwrap();
        assert_eq!(stored, done.replica);
        assert_eq!(load_many(db.conn(), &[producer.id, ReportId::from_uuid(Uuid::now_v7())]).await.unwrap().len(), 1);
    })
    .await;
}

#[test]
fn a_service_binds_every_lifecycle_fact_but_its_own() {
    let s = subscription("processing.replica", lc::Service::Processing);
    assert!(s.bindings.contains(&"report.dispatched".to_owned()));
    assert!(s.bindings.contains(&"report.received".to_owned()));
    assert!(s.bindings.contains(&"report.resolved".to_owned()), "routing decides it");
    assert!(!s.bindings.contains(&"assignment.approved".to_owned()));
    assert!(!s.bindings.iter().any(|k| k.starts_with("deadline.")));
}

/// A fact and the one it follows delivered at the same moment (deliveries of one queue run
/// concurrently): both are handled without a bus retry and the view ends complete.
#[tokio::test]
async fn a_fact_racing_its_predecessor_is_folded_without_a_retry() {
    use crate::bus::{Delivery, Handler, Message};
    on_each_backend(|db| async move {
        let cal = Arc::new(WorkingCalendar::vietnam());
        let consumer = Arc::new(ReplicaConsumer::new("processing", db.clone(), cal.clone(), Arc::new(NoIndex)));
        let (producer, envelopes) = intake_events(&cal, "");
        let delivery = |envelope: &v1::EventEnvelope| Delivery {
            message: Message {
                id: Uuid::parse_str(&envelope.event_id).unwrap(),
                routing_key: String::new(),
                payload: prost::Message::encode_to_vec(envelope).into(),
                headers: Default::default(),
            },
            attempt: 1,
        };
        let (accepted, received) = (delivery(&envelopes[1]), delivery(&envelopes[0]));
        let early = {
            let consumer = consumer.clone();
            tokio::spawn(async move { consumer.handle(&accepted).await })
        };
        consumer.handle(&received).await.unwrap();
        early.await.unwrap().expect("folded or held, never handed back to the bus");
        assert_eq!(load(db.conn(), producer.id).await.unwrap().unwrap().state.status, ReportStatus::Accepted);
    })
    .await;
}

/// A replica whose calendar carries a different holiday-decisions overlay (an administrator's
/// file that only one instance has, or a rolling update) folds the owner's deadlines as the
/// facts state them instead of recomputing them with its own calendar (R8.2a, R7.2).
#[tokio::test]
async fn a_replica_with_another_decisions_overlay_keeps_the_owners_deadlines_r8_2a() {
    use paht_domain::calendar::{Decisions, OfficeHoursSchedule};
    on_each_backend(|db| async move {
        let owner = Arc::new(WorkingCalendar::vietnam());
        let overlay = Decisions::parse(
            r#"
            [[decision]]
            year = 2027
            holiday = "other"
            source = "a provincial arrangement only this replica has"
            days_off = [
              { date = "2027-03-02", name = "Nghỉ (địa phương)" },
              { date = "2027-03-03", name = "Nghỉ (địa phương)" },
            ]
            "#,
        )
        .unwrap();
        let other = Arc::new(
            WorkingCalendar::with_time_zone(
                "Asia/Ho_Chi_Minh",
                OfficeHoursSchedule::default(),
                &Decisions::shipped().overlay(overlay),
            )
            .unwrap(),
        );
        let (accepted, mut envelopes) = intake_events(&owner, "");
        let now = Utc.with_ymd_and_hms(2027, 3, 1, 3, 0, 0).unwrap();
        let assignment = AssignmentId::from_uuid(Uuid::now_v7());
        let dispatch = Command::Dispatch {
            assignments: vec![NewAssignment {
                id: assignment,
                agency: UnitId::new("SO-XD-86"),
                lead: true,
                instructions: None,
            }],
        };
        let dispatched = accepted.apply(dispatch, &ioc(), now, &owner).unwrap();
        for event in &dispatched.events {
            envelopes.push(convert::envelope(Uuid::now_v7(), event, convert::payload(event, &dispatched.report, None)));
        }
        let stated = dispatched.report.assignment(assignment).unwrap().handling.due_at;
        let recomputed = other.add_working_days(now, 5).unwrap();
        assert_ne!(stated, recomputed, "the two calendars disagree on this window, or the test proves nothing");

        let consumer = ReplicaConsumer::new("processing", db.clone(), other.clone(), Arc::new(NoIndex));
        for envelope in &envelopes {
            assert_eq!(
                consumer.apply(Uuid::parse_str(&envelope.event_id).unwrap(), envelope).await.unwrap(),
                Outcome::Applied
            );
        }
        let view = load(db.conn(), dispatched.report.id).await.unwrap().unwrap();
        assert_eq!(view.state.assignment(assignment).unwrap().handling.due_at, stated);
        assert_eq!(view.state.check_deadline, dispatched.report.check_deadline);
        assert_eq!(view.state, dispatched.report, "the whole view is the owner's, deadlines included");
    })
    .await;
}

/// Facts that arrive together fold in one transaction as they would one by one: several
/// reports, a report's facts out of order (the early one held, then released by its
/// predecessor in the same batch), and a repeat inside the batch and of the whole batch.
#[tokio::test]
async fn facts_of_several_reports_arriving_together_fold_in_one_batch() {
    on_each_backend(|db| async move {
        let cal = Arc::new(WorkingCalendar::vietnam());
        let hook = Arc::new(Counting::default());
        let consumer = ReplicaConsumer::new("routing", db.clone(), cal.clone(), hook.clone());
        let (a, a_events) = intake_events(&cal, "");
        let (b, b_events) = intake_events(&cal, "giao-thong");
        let id = |e: &v1::EventEnvelope| Uuid::parse_str(&e.event_id).unwrap();
        let batch: Vec<(Uuid, &v1::EventEnvelope)> =
            [&b_events[1], &a_events[0], &a_events[1], &a_events[0], &b_events[0]]
                .into_iter()
                .map(|e| (id(e), e))
                .collect();
        let outcomes = consumer.apply_batch(&batch).await.unwrap();
        assert_eq!(
            outcomes,
            [Outcome::Held, Outcome::Applied, Outcome::Applied, Outcome::Skipped, Outcome::Applied],
            "b's acceptance waits for b's arrival later in the batch; a's repeat is skipped"
        );
        for (producer, category) in [(&a, "moi-truong"), (&b, "giao-thong")] {
            let replica = load(db.conn(), producer.id).await.unwrap().unwrap();
            assert_eq!(&replica.state, producer);
            assert_eq!(replica.category_id(), Some(category));
        }
        assert!(held_facts(db.conn(), 10).await.unwrap().is_empty(), "the held fact was released in the batch");
        assert_eq!(hook.created.load(Ordering::SeqCst), 2);
        let calls = hook.calls.load(Ordering::SeqCst);
        // The bus redelivers the whole batch: nothing changes.
        let again = consumer.apply_batch(&batch).await.unwrap();
        assert!(again.iter().all(|o| *o == Outcome::Skipped), "{again:?}");
        assert_eq!(hook.calls.load(Ordering::SeqCst), calls);
    })
    .await;
}
