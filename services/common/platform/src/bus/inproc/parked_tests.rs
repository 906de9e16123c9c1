//! The durable parking store, alone and under the in-process bus.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::tests::{Recorder, event, subscription};
use super::{InProcBus, ParkedStore};
use crate::bus::{Bus, DeadLetter, HandleError, Subscription};
use crate::db::{Db, DbConfig};

fn temp_file() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("paht-parked-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("bus.db")
}

async fn open(path: &Path) -> ParkedStore {
    let db = Db::connect(&format!("sqlite://{}?mode=rwc", path.display()), "bus", &DbConfig::default()).await.unwrap();
    ParkedStore::open(db).await.unwrap()
}

async fn close(store: ParkedStore) {
    store.db().clone().close().await.unwrap();
}

fn letter(queue: &str, reason: &str) -> DeadLetter {
    DeadLetter {
        message: event("report.received"),
        queue: queue.to_string(),
        reason: reason.to_string(),
        attempts: 3,
        parked_at: super::parked::parked_now(),
    }
}

/// One delivery at a time, so messages park in publish order.
fn serial(queue: &str) -> Subscription {
    Subscription { prefetch: 1, ..subscription(queue, &["report.#"], 1, &[10]) }
}

fn ids(letters: &[DeadLetter]) -> Vec<Uuid> {
    letters.iter().map(|l| l.message.id).collect()
}

#[tokio::test]
async fn the_store_lists_per_queue_oldest_first_and_survives_reopening() {
    let path = temp_file();
    let store = open(&path).await;
    let (a, b, c, other) =
        (letter("routing", "a"), letter("routing", "b"), letter("routing", "c"), letter("intake", "x"));
    let row_a = store.park(&a, None).await.unwrap();
    for l in [&b, &c, &other] {
        store.park(l, None).await.unwrap();
    }
    let listed = store.list("routing", 2, &[]).await.unwrap();
    assert_eq!(
        listed.iter().map(|r| r.letter.clone()).collect::<Vec<_>>(),
        [a.clone(), b.clone()],
        "limit, oldest first"
    );
    assert_eq!(store.list("routing", 10, &[row_a]).await.unwrap().len(), 2, "skipped rows are left out");
    assert_eq!(store.list("intake", 10, &[]).await.unwrap()[0].letter, other, "payload and headers kept as parked");
    close(store).await;

    let store = open(&path).await;
    assert_eq!(store.count().await.unwrap(), 4, "a reopened store has every row");
    let picked = store.matching("routing", Some(&[c.message.id]), &[]).await.unwrap();
    assert_eq!(picked.len(), 1);
    assert!(store.remove(picked[0].row).await.unwrap());
    assert!(!store.remove(picked[0].row).await.unwrap(), "removed once");
    // Parking a replayed message again moves it to a new row.
    let moved = store.park(&letter("routing", "again"), Some(row_a)).await.unwrap();
    let left = store.matching("routing", None, &[]).await.unwrap();
    assert_eq!(left.iter().map(|r| r.row).collect::<Vec<_>>()[1], moved);
    assert_eq!(left.len(), 2);
    assert_eq!(left[0].letter, b);
    close(store).await;
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[tokio::test]
async fn messages_parked_by_one_bus_are_listed_and_replayed_by_the_next() {
    let path = temp_file();
    let bus = InProcBus::with_parked_store(open(&path).await);
    let rejecting = Recorder::new(Box::new(|_| Err(HandleError::Reject("cannot decode".into()))));
    let stop = CancellationToken::new();
    let task = bus.subscribe(serial("routing"), rejecting.clone(), stop.clone()).await.unwrap();
    let sent = [event("report.received"), event("report.accepted"), event("report.refused")];
    // Returns only once each message is parked, that is, stored.
    bus.publish(&sent).await.unwrap();
    let parked = bus.dead_letters("routing", 10).await.unwrap();
    assert_eq!(ids(&parked), ids_of(&sent));
    assert!(parked.iter().all(|l| l.reason == "cannot decode" && l.attempts == 1));
    assert_eq!(ids(&bus.dead_letters("routing", 2).await.unwrap()), ids_of(&sent[..2]));
    stop.cancel();
    task.await.unwrap();
    drop(bus);

    // The next process: listed before any consumer subscribes, replayed once one does.
    let store = open(&path).await;
    let bus = InProcBus::with_parked_store(store.clone());
    assert_eq!(ids(&bus.dead_letters("routing", 10).await.unwrap()), ids_of(&sent));
    assert!(bus.replay_dead_letters("routing", None).await.is_err(), "no consumer of routing yet");
    let accepting = Recorder::accepting();
    let stop = CancellationToken::new();
    let task = bus.subscribe(serial("routing"), accepting.clone(), stop.clone()).await.unwrap();

    assert_eq!(bus.replay_dead_letters("routing", Some(&[sent[1].id])).await.unwrap(), 1);
    assert!(accepting.wait_until(Duration::from_secs(5), |seen| seen.len() == 1).await);
    assert_eq!(accepting.seen()[0].message, sent[1], "the message as published, on a fresh first attempt");
    assert_eq!(accepting.seen()[0].attempt, 1);
    assert!(wait_for_count(&store, 2).await, "the processed message left the store");
    assert_eq!(ids(&bus.dead_letters("routing", 10).await.unwrap()), [sent[0].id, sent[2].id]);

    assert_eq!(bus.replay_dead_letters("routing", None).await.unwrap(), 2);
    assert!(accepting.wait_until(Duration::from_secs(5), |seen| seen.len() == 3).await);
    assert!(wait_for_count(&store, 0).await, "every replayed message left the store");
    assert!(bus.dead_letters("routing", 10).await.unwrap().is_empty());
    stop.cancel();
    task.await.unwrap();
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[tokio::test]
async fn a_replayed_message_rejected_again_stays_parked_once() {
    let path = temp_file();
    let store = open(&path).await;
    let bus = InProcBus::with_parked_store(store.clone());
    let rejecting = Recorder::new(Box::new(|_| Err(HandleError::Reject("still broken".into()))));
    let stop = CancellationToken::new();
    let task = bus.subscribe(serial("routing"), rejecting.clone(), stop.clone()).await.unwrap();
    let message = event("report.received");
    bus.publish(std::slice::from_ref(&message)).await.unwrap();
    let first = bus.dead_letters("routing", 10).await.unwrap();

    assert_eq!(bus.replay_dead_letters("routing", Some(&[message.id])).await.unwrap(), 1);
    assert!(rejecting.wait_until(Duration::from_secs(5), |seen| seen.len() == 2).await);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let again = loop {
        let again = bus.dead_letters("routing", 10).await.unwrap();
        if !again.is_empty() || tokio::time::Instant::now() > deadline {
            break again;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(ids(&again), [message.id]);
    assert!(again[0].parked_at >= first[0].parked_at);
    assert_eq!(store.count().await.unwrap(), 1, "moved to a new row, not copied");
    stop.cancel();
    task.await.unwrap();
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

fn ids_of(messages: &[crate::bus::Message]) -> Vec<Uuid> {
    messages.iter().map(|m| m.id).collect()
}

async fn wait_for_count(store: &ParkedStore, count: u64) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::Instant::now() < deadline {
        if store.count().await.unwrap() == count {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}
