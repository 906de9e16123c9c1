//! Behaviour of the in-process bus, and a recording handler the RabbitMQ tests share.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{InProcBus, UNROUTED_KEPT};
use crate::bus::{Bus, BusError, Delivery, HandleError, Handler, Message, Subscription};

/// What a test handler does with a delivery.
pub(crate) type Behaviour = Box<dyn Fn(&Delivery) -> Result<(), HandleError> + Send + Sync>;

/// One call of a [`Recorder`].
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub id: Uuid,
    pub message: Message,
    pub attempt: u32,
    pub at: Instant,
    pub ok: bool,
}

/// A handler that records every call and answers as told.
pub(crate) struct Recorder {
    behaviour: Behaviour,
    hold: Duration,
    seen: Mutex<Vec<Seen>>,
    running: AtomicUsize,
    max_running: AtomicUsize,
    changed: Notify,
}

impl Recorder {
    pub(crate) fn new(behaviour: Behaviour) -> Arc<Self> {
        Recorder::holding(Duration::ZERO, behaviour)
    }

    /// A recorder whose every call takes `hold`.
    pub(crate) fn holding(hold: Duration, behaviour: Behaviour) -> Arc<Self> {
        Arc::new(Recorder {
            behaviour,
            hold,
            seen: Mutex::new(Vec::new()),
            running: AtomicUsize::new(0),
            max_running: AtomicUsize::new(0),
            changed: Notify::new(),
        })
    }

    pub(crate) fn accepting() -> Arc<Self> {
        Recorder::new(Box::new(|_| Ok(())))
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// How many times each id was handled successfully.
    pub(crate) fn successes(&self) -> HashMap<Uuid, usize> {
        let mut counts = HashMap::new();
        for seen in self.seen().iter().filter(|s| s.ok) {
            *counts.entry(seen.id).or_insert(0) += 1;
        }
        counts
    }

    pub(crate) fn max_running(&self) -> usize {
        self.max_running.load(Ordering::SeqCst)
    }

    /// Waits until `done` holds for the calls seen so far; false after `within`.
    pub(crate) async fn wait_until(&self, within: Duration, done: impl Fn(&[Seen]) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let changed = self.changed.notified();
            if done(&self.seen.lock().unwrap()) {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return done(&self.seen.lock().unwrap());
            }
        }
    }
}

#[async_trait]
impl Handler for Recorder {
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandleError> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_running.fetch_max(now, Ordering::SeqCst);
        if !self.hold.is_zero() {
            tokio::time::sleep(self.hold).await;
        }
        let outcome = (self.behaviour)(delivery);
        self.running.fetch_sub(1, Ordering::SeqCst);
        self.seen.lock().unwrap().push(Seen {
            id: delivery.message.id,
            message: delivery.message.clone(),
            attempt: delivery.attempt,
            at: Instant::now(),
            ok: outcome.is_ok(),
        });
        self.changed.notify_waiters();
        outcome
    }
}

/// An event with a fresh id, a small payload and a trace header.
pub(crate) fn event(routing_key: &str) -> Message {
    let id = Uuid::now_v7();
    Message {
        id,
        routing_key: routing_key.to_string(),
        payload: Bytes::from(id.as_bytes().to_vec()),
        headers: BTreeMap::from([("traceparent".to_string(), format!("00-{}-0000000000000001-01", id.simple()))]),
    }
}

/// A subscription with test-sized back-off.
pub(crate) fn subscription(queue: &str, bindings: &[&str], max_attempts: u32, delays_ms: &[u64]) -> Subscription {
    Subscription {
        max_attempts,
        retry_delays: delays_ms.iter().map(|ms| Duration::from_millis(*ms)).collect(),
        ..Subscription::new(queue, bindings)
    }
}

fn fail_until(attempt: u32) -> Behaviour {
    Box::new(move |d| if d.attempt < attempt { Err(HandleError::Retry(format!("try {}", d.attempt))) } else { Ok(()) })
}

#[tokio::test]
async fn publish_returns_once_every_bound_consumer_processed_and_routes_by_topic() {
    let bus = InProcBus::new();
    let shutdown = CancellationToken::new();
    let reports = Recorder::accepting();
    let assignments = Recorder::accepting();
    let reporting = subscription("reporting", &["report.#"], 5, &[10]);
    bus.subscribe(reporting, reports.clone(), shutdown.clone()).await.unwrap();
    let routing = subscription("routing", &["assignment.*"], 5, &[10]);
    bus.subscribe(routing, assignments.clone(), shutdown.clone()).await.unwrap();

    let report_events: Vec<Message> =
        (0..1000).map(|i| event(if i % 2 == 0 { "report.received" } else { "report.published.late" })).collect();
    let assignment_events: Vec<Message> = (0..10).map(|_| event("assignment.returned")).collect();
    let unrouted_events: Vec<Message> = (0..5).map(|_| event("deadline.missed")).collect();
    let mut all = report_events.clone();
    all.extend(assignment_events.iter().cloned());
    all.extend(unrouted_events.iter().cloned());
    bus.publish(&all).await.unwrap();

    // No waiting: publish itself returned only after the handlers ran.
    let expected: HashMap<Uuid, usize> = report_events.iter().map(|m| (m.id, 1)).collect();
    assert_eq!(reports.successes(), expected);
    let expected: HashMap<Uuid, usize> = assignment_events.iter().map(|m| (m.id, 1)).collect();
    assert_eq!(assignments.successes(), expected);
    let published: HashMap<Uuid, &Message> = all.iter().map(|m| (m.id, m)).collect();
    for seen in reports.seen().iter().chain(assignments.seen().iter()) {
        assert_eq!((&seen.message, seen.attempt), (published[&seen.id], 1), "delivered as published");
    }
    assert_eq!(bus.unrouted(), unrouted_events);
    shutdown.cancel();
}

#[tokio::test]
async fn a_retried_message_is_processed_on_its_third_attempt_after_the_back_off() {
    let bus = InProcBus::new();
    let handler = Recorder::new(fail_until(3));
    let shutdown = CancellationToken::new();
    bus.subscribe(subscription("routing", &["report.*"], 5, &[50, 120]), handler.clone(), shutdown.clone())
        .await
        .unwrap();

    let message = event("report.received");
    bus.publish(std::slice::from_ref(&message)).await.unwrap();

    let seen = handler.seen();
    assert_eq!(
        seen.iter().map(|s| (s.id, s.attempt, s.ok)).collect::<Vec<_>>(),
        [(message.id, 1, false), (message.id, 2, false), (message.id, 3, true)]
    );
    assert!(seen[1].at - seen[0].at >= Duration::from_millis(50));
    assert!(seen[2].at - seen[1].at >= Duration::from_millis(120));
    assert!(bus.dead_letters("routing", 10).await.unwrap().is_empty());
    shutdown.cancel();
}

#[tokio::test]
async fn an_always_failing_message_is_parked_then_replayed_with_a_fresh_attempt_count() {
    let bus = InProcBus::new();
    let failing = Arc::new(AtomicBool::new(true));
    let switch = failing.clone();
    let handler = Recorder::new(Box::new(move |_| {
        if switch.load(Ordering::SeqCst) { Err(HandleError::Retry("database down".into())) } else { Ok(()) }
    }));
    let shutdown = CancellationToken::new();
    bus.subscribe(subscription("routing", &["report.#"], 3, &[20]), handler.clone(), shutdown.clone()).await.unwrap();

    let message = event("report.received");
    bus.publish(std::slice::from_ref(&message)).await.unwrap();

    let parked = bus.dead_letters("routing", 10).await.unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].message, message);
    assert_eq!(
        (parked[0].queue.as_str(), parked[0].reason.as_str(), parked[0].attempts),
        ("routing", "database down", 3)
    );
    assert_eq!(handler.seen().len(), 3);

    failing.store(false, Ordering::SeqCst);
    assert_eq!(bus.replay_dead_letters("routing", None).await.unwrap(), 1);
    let replayed = handler.wait_until(Duration::from_secs(5), |seen| seen.iter().any(|s| s.ok)).await;
    assert!(replayed, "the replayed message was not handled");
    let last = handler.seen().pop().unwrap();
    assert_eq!((last.id, last.attempt, last.ok), (message.id, 1, true));
    assert!(bus.dead_letters("routing", 10).await.unwrap().is_empty());
    shutdown.cancel();
}

#[tokio::test]
async fn a_rejected_message_is_parked_at_once_and_replay_can_pick_by_id() {
    let bus = InProcBus::new();
    let handler = Recorder::new(Box::new(|_| Err(HandleError::Reject("cannot decode".into()))));
    let shutdown = CancellationToken::new();
    let task = bus
        .subscribe(subscription("routing", &["report.#"], 5, &[10]), handler.clone(), shutdown.clone())
        .await
        .unwrap();

    let (first, second) = (event("report.received"), event("report.refused"));
    bus.publish(&[first.clone(), second.clone()]).await.unwrap();
    assert_eq!(handler.seen().len(), 2, "a reject is never retried");
    let parked = bus.dead_letters("routing", 10).await.unwrap();
    // Handled concurrently (prefetch), so parked in the order the handlers finished.
    let mut parked_ids: Vec<(Uuid, u32)> = parked.iter().map(|d| (d.message.id, d.attempts)).collect();
    parked_ids.sort();
    assert_eq!(parked_ids, [(first.id, 1), (second.id, 1)]);
    assert_eq!(bus.dead_letters("routing", 1).await.unwrap(), parked[..1], "limit is honoured, oldest first");

    shutdown.cancel();
    task.await.unwrap();
    // Replaying to a stopped consumer keeps the message in its backlog.
    assert_eq!(bus.replay_dead_letters("routing", Some(&[second.id])).await.unwrap(), 1);
    assert_eq!(
        bus.dead_letters("routing", 10).await.unwrap().iter().map(|d| d.message.id).collect::<Vec<_>>(),
        [first.id]
    );
    assert_eq!(bus.backlog("routing"), 1);
}

#[tokio::test]
async fn messages_for_a_queue_without_a_running_consumer_wait_for_it() {
    let bus = InProcBus::new();
    let shutdown = CancellationToken::new();
    let first = Recorder::accepting();
    let task =
        bus.subscribe(subscription("reporting", &["report.#"], 5, &[10]), first, shutdown.clone()).await.unwrap();
    shutdown.cancel();
    task.await.unwrap();

    let messages: Vec<Message> = (0..3).map(|_| event("report.rated")).collect();
    // Returns at once: nobody consumes, the queue keeps them.
    tokio::time::timeout(Duration::from_secs(1), bus.publish(&messages)).await.unwrap().unwrap();
    assert_eq!(bus.backlog("reporting"), 3);
    assert!(bus.unrouted().is_empty());

    let again = Recorder::accepting();
    let shutdown = CancellationToken::new();
    // One at a time, so the order of handling is the order of the backlog.
    let one_by_one = Subscription { prefetch: 1, ..subscription("reporting", &["report.#"], 5, &[10]) };
    bus.subscribe(one_by_one, again.clone(), shutdown.clone()).await.unwrap();
    assert!(again.wait_until(Duration::from_secs(5), |seen| seen.len() == 3).await);
    assert_eq!(
        again.seen().iter().map(|s| s.id).collect::<Vec<_>>(),
        messages.iter().map(|m| m.id).collect::<Vec<_>>()
    );
    shutdown.cancel();
}

#[tokio::test]
async fn prefetch_bounds_how_many_deliveries_run_at_once() {
    for (prefetch, expected) in [(4_u16, 4_usize), (1, 1)] {
        let bus = InProcBus::new();
        let handler = Recorder::holding(Duration::from_millis(20), Box::new(|_| Ok(())));
        let shutdown = CancellationToken::new();
        let sub = Subscription { prefetch, ..subscription("reporting", &["#"], 5, &[10]) };
        bus.subscribe(sub, handler.clone(), shutdown.clone()).await.unwrap();
        let messages: Vec<Message> = (0..20).map(|_| event("report.received")).collect();
        bus.publish(&messages).await.unwrap();
        assert_eq!(handler.successes().len(), 20);
        assert_eq!(handler.max_running(), expected, "prefetch {prefetch}");
        if prefetch == 1 {
            let order: Vec<Uuid> = handler.seen().iter().map(|s| s.id).collect();
            assert_eq!(order, messages.iter().map(|m| m.id).collect::<Vec<_>>(), "one at a time keeps the order");
        }
        shutdown.cancel();
    }
}

#[tokio::test]
async fn shutdown_during_a_back_off_keeps_the_message_with_its_attempt_count() {
    let bus = InProcBus::new();
    let failing = Recorder::new(fail_until(99));
    let shutdown = CancellationToken::new();
    let task = bus
        .subscribe(subscription("routing", &["report.#"], 5, &[60_000]), failing.clone(), shutdown.clone())
        .await
        .unwrap();
    let message = event("report.received");
    let publishing = tokio::spawn({
        let bus = bus.clone();
        let message = message.clone();
        async move { bus.publish(&[message]).await }
    });
    assert!(failing.wait_until(Duration::from_secs(5), |seen| seen.len() == 1).await);
    shutdown.cancel();
    task.await.unwrap();
    // The publisher stops waiting: the message is kept for the next consumer.
    tokio::time::timeout(Duration::from_secs(1), publishing).await.unwrap().unwrap().unwrap();
    assert_eq!(bus.backlog("routing"), 1);

    let next = Recorder::accepting();
    let shutdown = CancellationToken::new();
    bus.subscribe(subscription("routing", &["report.#"], 5, &[10]), next.clone(), shutdown.clone()).await.unwrap();
    assert!(next.wait_until(Duration::from_secs(5), |seen| !seen.is_empty()).await);
    let seen = next.seen();
    assert_eq!((seen[0].id, seen[0].attempt), (message.id, 2));
    shutdown.cancel();
}

#[tokio::test]
async fn a_panicking_handler_counts_as_a_failed_attempt() {
    let bus = InProcBus::new();
    struct Panics;
    #[async_trait]
    impl Handler for Panics {
        async fn handle(&self, _: &Delivery) -> Result<(), HandleError> {
            panic!("bug in the handler")
        }
    }
    let shutdown = CancellationToken::new();
    bus.subscribe(subscription("routing", &["#"], 2, &[5]), Arc::new(Panics), shutdown.clone()).await.unwrap();
    bus.publish(&[event("report.received")]).await.unwrap();
    let parked = bus.dead_letters("routing", 10).await.unwrap();
    assert_eq!((parked[0].reason.as_str(), parked[0].attempts), ("the handler panicked", 2));
    shutdown.cancel();
}

#[tokio::test]
async fn unknown_queues_and_impossible_subscriptions_are_configuration_errors() {
    let bus = InProcBus::new();
    assert!(matches!(bus.dead_letters("nobody", 10).await, Err(BusError::Config(_))));
    assert!(matches!(bus.replay_dead_letters("nobody", None).await, Err(BusError::Config(_))));
    let token = CancellationToken::new();
    let zero_prefetch = Subscription { prefetch: 0, ..Subscription::new("q", &["#"]) };
    assert!(matches!(
        bus.subscribe(zero_prefetch, Recorder::accepting(), token.clone()).await,
        Err(BusError::Config(_))
    ));
    let zero_attempts = Subscription { max_attempts: 0, ..Subscription::new("q", &["#"]) };
    assert!(matches!(bus.subscribe(zero_attempts, Recorder::accepting(), token).await, Err(BusError::Config(_))));
}

#[test]
fn the_last_delay_repeats() {
    let delays = [Duration::from_secs(1), Duration::from_secs(5)];
    let after: Vec<Duration> = (1..=4).map(|attempt| super::delay_after(&delays, attempt)).collect();
    assert_eq!(after, [Duration::from_secs(1), Duration::from_secs(5), Duration::from_secs(5), Duration::from_secs(5)]);
    assert_eq!(super::delay_after(&[], 3), Duration::ZERO);
}

#[tokio::test]
async fn unrouted_messages_are_bounded() {
    let bus = InProcBus::new();
    let messages: Vec<Message> = (0..UNROUTED_KEPT + 5).map(|_| event("report.received")).collect();
    bus.publish(&messages).await.unwrap();
    let kept = bus.unrouted();
    assert_eq!(kept.len(), UNROUTED_KEPT);
    assert_eq!(kept[0].id, messages[5].id, "the oldest are dropped first");
    assert_eq!(kept.last().unwrap().id, messages.last().unwrap().id);
}
