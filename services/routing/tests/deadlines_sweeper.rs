//! The sweeper as it runs: one replica at a time holds the lease, and whatever happens — a
//! sweeper killed in the middle of its batches and restarted, two sweepers racing over the
//! same rows — each deadline is reported exactly once (R13.1, R14.4).

mod common_deadlines;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use common_deadlines::*;
use paht_domain::deadline::Stage;
use paht_domain::ids::UnitId;
use paht_platform::bus::{Bus, BusError, DeadLetter, Handler, Message, Subscription};
use paht_platform::cache::{Cache, MemoryCache};
use paht_platform::db::{Db, OutboxRelay, RelayConfig};
use paht_proto::v1;
use paht_routing::deadlines::{LEASE_NAME, StaticRecipients, SweepStats, Sweeper, SweeperConfig, entity};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use tokio_util::sync::CancellationToken;

/// 1,000 reports waiting for their check and 1,000 with an agency, all long overdue.
const RECEIVED: u128 = 1000;
const DISPATCHED: u128 = 1000;
const DEADLINES: usize = (RECEIVED + DISPATCHED) as usize;

/// Open window rows (return, explanation) left.
async fn open_windows(db: &Db) -> u64 {
    entity::Entity::find()
        .filter(entity::Column::ClosedAt.is_null())
        .filter(entity::Column::Stage.is_in([Stage::Return.as_str(), Stage::Explanation.as_str()]))
        .count(db.conn())
        .await
        .unwrap()
}

/// Every one of the 2,000 deadlines was reported missed exactly once, and nothing else.
async fn assert_each_missed_once(db: &Db) {
    let counts = counts(db).await;
    assert_eq!(counts.len(), DEADLINES, "one event per (report, assignment, stage)");
    for ((key, _, assignment, stage), n) in &counts {
        assert_eq!(*n, 1, "{key} for {assignment} {stage} written {n} times");
        assert_eq!(key, "deadline.missed");
        let stage = v1::DeadlineStage::try_from(*stage).unwrap();
        match stage {
            v1::DeadlineStage::Check => assert!(assignment.is_empty()),
            v1::DeadlineStage::Handling => assert_eq!(assignment, &aid(1).0.to_string()),
            other => panic!("a {other:?} deadline reported missed"),
        }
    }
    assert_eq!(outbox_len(db).await, DEADLINES);
    let unmarked = entity::Entity::find()
        .filter(entity::Column::MissedSentAt.is_null())
        .filter(entity::Column::ClosedAt.is_null())
        .count(db.conn())
        .await
        .unwrap();
    assert_eq!(unmarked, 0);
    assert_eq!(open_windows(db).await, 0, "every lapsed window closed");
}

/// Rows marked missed, and deadline events in the outbox: always equal, whenever looked at.
/// Both counts in one statement, so they come from one snapshot: a killed sweeper's COMMIT may
/// still land on the server after its task is gone, and two separate reads could straddle it.
async fn marks_and_events(db: &Db) -> (u64, usize) {
    let both = sea_orm::Statement::from_string(
        db.conn().get_database_backend(),
        "SELECT (SELECT COUNT(*) FROM deadlines WHERE missed_sent_at IS NOT NULL) AS marked, \
         (SELECT COUNT(*) FROM outbox) AS events",
    );
    let row = db.conn().query_one_raw(both).await.unwrap().unwrap();
    let (marked, events): (i64, i64) = (row.try_get("", "marked").unwrap(), row.try_get("", "events").unwrap());
    (marked as u64, events as usize)
}

/// R13.1, R14.4: sweeper tasks killed in the middle of their batches (as a crash or `kill -9`
/// would: the task is aborted at whatever await it is in, its transaction dropped) and a fresh
/// one started in their place (taking the lease over once the last one's expires) write one
/// `deadline.missed` per deadline — none lost, none twice. After every kill, the marks and the
/// events agree.
async fn killed_sweepers_and_their_successor_report_each_deadline_once(db: Db) {
    populate(&db, 10_000, RECEIVED, DISPATCHED).await;
    let config = SweeperConfig { interval_secs: 1, lease_ttl_secs: 2, batch: 20, ..SweeperConfig::default() };

    // Three processes killed one after the other, each a little further in.
    let mut cache: Arc<dyn Cache> = Arc::new(MemoryCache::new());
    let mut holders = Vec::new();
    for kill in 1..=3 {
        cache = Arc::new(MemoryCache::new());
        let sweeper = sweeper_with(&db, cache.clone(), Arc::new(recipients()), config);
        holders.push(sweeper.holder().to_owned());
        let task = sweeper.spawn(CancellationToken::new());
        let target = 50 * kill + 7 * (kill - 1);
        wait_until(60, "the first batches", || async { outbox_len(&db).await >= target }).await;
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
        let (marked, events) = marks_and_events(&db).await;
        assert_eq!(marked as usize, events, "kill {kill}: a mark without its event or an event without its mark");
        assert!(events < DEADLINES, "kill {kill} came in the middle of the work ({events} written)");
    }
    // The last one killed never released its lease: it blocks others until it expires.
    assert!(!cache.acquire_lease(LEASE_NAME, "someone-else", Duration::from_secs(1)).await.unwrap());

    let successor = sweeper_with(&db, cache.clone(), Arc::new(recipients()), config);
    assert!(!holders.contains(&successor.holder().to_owned()), "a fresh holder id per sweeper");
    let holder = successor.holder().to_owned();
    let shutdown = CancellationToken::new();
    let running = successor.spawn(shutdown.clone());
    wait_until(60, "every deadline reported", || async {
        outbox_len(&db).await >= DEADLINES && open_windows(&db).await == 0
    })
    .await;
    // One more round finds nothing more to do.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    shutdown.cancel();
    running.await.unwrap();
    assert_each_missed_once(&db).await;
    // Shut down cleanly, it released the lease.
    assert!(cache.acquire_lease(LEASE_NAME, "someone-else", Duration::from_secs(1)).await.unwrap());
    assert!(!cache.release_lease(LEASE_NAME, &holder).await.unwrap());
}

/// R13.1, R14.4: four sweepers running `sweep_once` over and over on the same 2,000 overdue
/// deadlines at the same time, without the lease, in small batches: each deadline is still
/// reported once, and together they report all of them.
async fn racing_sweepers_report_each_deadline_once(db: Db) {
    populate(&db, 20_000, RECEIVED, DISPATCHED).await;
    let config = SweeperConfig { batch: 20, ..SweeperConfig::default() };
    let now = Utc::now();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (sweeper, db) = (sweeper(&db, config), db.clone());
        tasks.push(tokio::spawn(async move {
            let mut total = SweepStats::default();
            // A sweep that finds its rows taken by another stands back; go again until no row
            // is left to mark.
            loop {
                total += sweeper.sweep_once(now).await.unwrap();
                let due = entity::Entity::find()
                    .filter(entity::Column::ClosedAt.is_null())
                    .filter(entity::Column::MissedSentAt.is_null())
                    .count(db.conn())
                    .await
                    .unwrap();
                if due == 0 {
                    return total;
                }
            }
        }));
    }
    let mut total = SweepStats::default();
    let mut each = Vec::new();
    for task in tasks {
        let stats = task.await.unwrap();
        each.push(stats);
        total += stats;
    }
    assert_eq!(total, SweepStats { due_soon: 0, missed: DEADLINES as u64, closed: 2 * DISPATCHED as u64 }, "{each:?}");
    assert!(each.iter().filter(|s| s.missed > 0).count() >= 2, "the sweepers did race: {each:?}");
    assert!(sweeper(&db, config).sweep_once(now).await.unwrap().is_empty());
    assert_each_missed_once(&db).await;
}

/// The subjects of each deadline event in the outbox, in order.
async fn subjects(db: &Db) -> Vec<Vec<String>> {
    outbox(db).await.iter().map(|(_, envelope)| deadline_payload(envelope).3).collect()
}

/// R13.1, R14.4: of two sweepers sharing the lease, only the holder sweeps; when it shuts down
/// it releases the lease and the other takes over. (Each sweeper names itself through its
/// recipients, so the outbox tells which one wrote each event.)
async fn only_the_lease_holder_sweeps(db: Db) {
    let cache: Arc<dyn Cache> = Arc::new(MemoryCache::new());
    let config = SweeperConfig { interval_secs: 1, lease_ttl_secs: 3, ..SweeperConfig::default() };
    let named = |name: &str| Arc::new(StaticRecipients::new().with_unit(IOC, &[name]));
    let (stop_a, stop_b) = (CancellationToken::new(), CancellationToken::new());
    let a = sweeper_with(&db, cache.clone(), named("A"), config).spawn(stop_a.clone());
    let b = sweeper_with(&db, cache.clone(), named("B"), config).spawn(stop_b.clone());

    populate(&db, 30_000, 20, 0).await;
    wait_until(30, "the first reports", || async { outbox_len(&db).await >= 20 }).await;
    let first = subjects(&db).await;
    let winner = first[0].clone();
    assert!(first.iter().all(|s| *s == winner), "one sweeper only: {first:?}");

    populate(&db, 31_000, 20, 0).await;
    wait_until(30, "the next reports", || async { outbox_len(&db).await >= 40 }).await;
    assert!(subjects(&db).await.iter().all(|s| *s == winner), "still the holder only");

    // The holder shuts down and releases the lease; the other takes over at its next round.
    let (stop_winner, stop_other, winner_task, other_task) =
        if winner == ["A"] { (stop_a, stop_b, a, b) } else { (stop_b, stop_a, b, a) };
    stop_winner.cancel();
    winner_task.await.unwrap();
    populate(&db, 32_000, 20, 0).await;
    wait_until(30, "the reports after the hand-over", || async { outbox_len(&db).await >= 60 }).await;
    let all = subjects(&db).await;
    assert!(all[40..].iter().all(|s| *s != winner), "the other sweeper took over: {:?}", &all[40..]);
    stop_other.cancel();
    other_task.await.unwrap();
    assert_eq!(counts(&db).await.len(), 60);
    assert!(counts(&db).await.values().all(|n| *n == 1));
}

/// A bus that records what the relay publishes.
#[derive(Default)]
struct RecordingBus(Mutex<Vec<Message>>);

#[async_trait::async_trait]
impl Bus for RecordingBus {
    async fn publish(&self, messages: &[Message]) -> Result<(), BusError> {
        self.0.lock().unwrap().extend_from_slice(messages);
        Ok(())
    }
    async fn subscribe(
        &self,
        _: Subscription,
        _: Arc<dyn Handler>,
        _: CancellationToken,
    ) -> Result<tokio::task::JoinHandle<()>, BusError> {
        Err(BusError::Config("publishing only".into()))
    }
    async fn dead_letters(&self, _: &str, _: usize) -> Result<Vec<DeadLetter>, BusError> {
        Ok(Vec::new())
    }
    async fn replay_dead_letters(&self, _: &str, _: Option<&[uuid::Uuid]>) -> Result<usize, BusError> {
        Ok(0)
    }
}

/// R13.1: the sweeper wakes the outbox relay after a batch, so reminders go out at once, not at
/// the relay's next poll (here ten minutes away).
async fn the_relay_is_woken_after_a_batch(db: Db) {
    let bus = Arc::new(RecordingBus::default());
    let relay =
        OutboxRelay::new(db.clone(), bus.clone(), RelayConfig { poll_interval_ms: 600_000, ..RelayConfig::default() });
    let notifier = relay.notifier();
    let shutdown = CancellationToken::new();
    let relay = relay.spawn(shutdown.clone());
    // Let the relay make its first (empty) pass and go to sleep.
    tokio::time::sleep(Duration::from_millis(300)).await;

    populate(&db, 40_000, 3, 0).await;
    let sweeper = Sweeper::new(
        db.clone(),
        Arc::new(MemoryCache::new()),
        Arc::new(recipients()),
        SweeperConfig::default(),
        UnitId::new(IOC),
        Some(notifier),
    );
    assert_eq!(sweeper.sweep_once(Utc::now()).await.unwrap().missed, 3);
    wait_until(10, "the relay to publish", || async { bus.0.lock().unwrap().len() == 3 }).await;
    let published = bus.0.lock().unwrap().clone();
    assert!(published.iter().all(|m| m.routing_key == "deadline.missed"));
    shutdown.cancel();
    relay.await.unwrap();
}

on_both!(
    the_relay_is_woken_after_a_batch,
    killed_sweepers_and_their_successor_report_each_deadline_once,
    racing_sweepers_report_each_deadline_once,
    only_the_lease_holder_sweeps,
);
