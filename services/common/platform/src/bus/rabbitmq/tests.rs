//! Tests against the real broker at 127.0.0.1:5672 (guest/guest), each under its own prefix.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use lapin::options::{BasicGetOptions, ExchangeDeleteOptions, QueueDeleteOptions};
use lapin::{Channel, Connection, ConnectionProperties};
use tokio::sync::{RwLock, RwLockReadGuard};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{RabbitBus, RabbitConfig};
use crate::bus::inproc::tests::{Recorder, event, subscription};
use crate::bus::{Bus, BusError, HandleError, Message, Subscription};

/// The broker-restart test takes this for writing, every other broker test for reading, so a
/// plain `cargo test` never stops the broker under another test of this crate.
pub(super) static BROKER: RwLock<()> = RwLock::const_new(());

pub(super) async fn shared_broker() -> RwLockReadGuard<'static, ()> {
    BROKER.read().await
}

/// Settings with a unique prefix and test-sized timeouts.
pub(super) fn test_config() -> RabbitConfig {
    let prefix = format!("test.{}.", Uuid::new_v4().simple());
    RabbitConfig {
        connection_name: format!("{prefix}paht"),
        prefix,
        publish_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(5),
        reconnect_min_delay: Duration::from_millis(100),
        reconnect_max_delay: Duration::from_secs(1),
        shutdown_grace: Duration::from_secs(2),
        ..RabbitConfig::default()
    }
}

/// A plain lapin channel for looking at queues behind the bus's back.
pub(super) async fn raw_channel(config: &RabbitConfig) -> (Connection, Channel) {
    let connection = Connection::connect(&config.url, ConnectionProperties::default()).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    (connection, channel)
}

/// Takes every message of a queue (removing them).
pub(super) async fn drain(channel: &Channel, queue: &str) -> Vec<lapin::message::Delivery> {
    let mut taken = Vec::new();
    while let Some(got) = channel.basic_get(queue.into(), BasicGetOptions { no_ack: true }).await.unwrap() {
        taken.push(got.delivery);
    }
    taken
}

/// Deletes a test's exchanges and queues when dropped, also when the test panics. `Drop`
/// cannot await, so a helper thread with its own runtime does the work.
pub(super) struct Scratch {
    config: RabbitConfig,
    queues: Vec<String>,
}

impl Scratch {
    /// What the bus declares under the config's prefix, plus the subscriptions' queues.
    pub(super) fn new(config: &RabbitConfig, subscriptions: &[&Subscription]) -> Self {
        let names = super::Topology::new(config.prefix.clone());
        let mut queues = vec![names.unrouted_queue()];
        for sub in subscriptions {
            queues.push(names.queue(&sub.queue));
            queues.push(names.parking_queue(&sub.queue));
            queues.extend(sub.retry_delays.iter().map(|d| names.retry_queue(&sub.queue, *d)));
        }
        Scratch { config: config.clone(), queues }
    }

    /// Deletes this queue too.
    pub(super) fn add_queue(&mut self, queue: String) {
        self.queues.push(queue);
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let (config, queues) = (self.config.clone(), std::mem::take(&mut self.queues));
        let cleaning = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            let cleaning = async {
                let Ok(connection) = Connection::connect(&config.url, ConnectionProperties::default()).await else {
                    return;
                };
                let Ok(channel) = connection.create_channel().await else { return };
                for queue in queues {
                    let _ = channel.queue_delete(queue.as_str().into(), QueueDeleteOptions::default()).await;
                }
                let names = super::Topology::new(config.prefix.clone());
                for exchange in [names.events_exchange(), names.unrouted_exchange()] {
                    let _ = channel.exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default()).await;
                }
                let _ = connection.close(200, "clean".into()).await;
            };
            let _ = runtime.block_on(async { tokio::time::timeout(Duration::from_secs(10), cleaning).await });
        });
        let _ = cleaning.join();
    }
}

fn once_each(messages: &[Message]) -> HashMap<Uuid, usize> {
    messages.iter().map(|m| (m.id, 1)).collect()
}

#[tokio::test]
async fn a_thousand_events_in_one_call_reach_their_consumer_exactly_once() {
    let _broker = shared_broker().await;
    let config = test_config();
    let bus = RabbitBus::connect(config.clone()).await.unwrap();
    let shutdown = CancellationToken::new();
    let reports = Recorder::accepting();
    let assignments = Recorder::accepting();
    let reporting = subscription("reporting", &["report.#"], 5, &[50]);
    let routing = subscription("routing", &["assignment.*"], 5, &[50]);
    let _scratch = Scratch::new(&config, &[&reporting, &routing]);
    let reporting_task = bus.subscribe(reporting.clone(), reports.clone(), shutdown.clone()).await.unwrap();
    bus.subscribe(routing.clone(), assignments.clone(), shutdown.clone()).await.unwrap();

    let report_events: Vec<Message> =
        (0..1000).map(|i| event(if i % 2 == 0 { "report.received" } else { "report.published.late" })).collect();
    let assignment_events: Vec<Message> = (0..10).map(|_| event("assignment.returned")).collect();
    let unrouted_events: Vec<Message> = (0..5).map(|_| event("deadline.missed")).collect();
    let mut all = report_events.clone();
    all.extend(assignment_events.iter().cloned());
    all.extend(unrouted_events.iter().cloned());
    bus.publish(&all).await.unwrap();

    assert!(reports.wait_until(Duration::from_secs(30), |seen| seen.len() >= 1000).await, "not all reports arrived");
    assert!(assignments.wait_until(Duration::from_secs(10), |seen| seen.len() >= 10).await);
    // Give a duplicate time to show up.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(reports.successes(), once_each(&report_events));
    assert_eq!(assignments.successes(), once_each(&assignment_events));
    let published: HashMap<Uuid, &Message> = all.iter().map(|m| (m.id, m)).collect();
    for seen in reports.seen().iter().chain(assignments.seen().iter()) {
        assert_eq!(&seen.message, published[&seen.id], "delivered as published, headers included");
        assert_eq!(seen.attempt, 1);
    }

    let (connection, channel) = raw_channel(&config).await;
    let unrouted = drain(&channel, &bus.topology().unrouted_queue()).await;
    let kept: BTreeSet<String> =
        unrouted.iter().map(|d| d.properties.message_id().as_ref().unwrap().to_string()).collect();
    assert_eq!(kept, unrouted_events.iter().map(|m| m.id.to_string()).collect::<BTreeSet<_>>());
    let _ = connection.close(200, "ok".into()).await;

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), reporting_task).await.unwrap().unwrap();
    bus.close().await;
}

#[tokio::test]
async fn a_retried_message_is_processed_on_its_third_attempt_after_the_back_off() {
    let _broker = shared_broker().await;
    let config = test_config();
    let bus = RabbitBus::connect(config.clone()).await.unwrap();
    let handler = Recorder::new(Box::new(|d| {
        if d.attempt < 3 { Err(HandleError::Retry(format!("try {}", d.attempt))) } else { Ok(()) }
    }));
    let shutdown = CancellationToken::new();
    let sub = subscription("routing", &["report.*"], 5, &[80, 200]);
    let _scratch = Scratch::new(&config, &[&sub]);
    bus.subscribe(sub.clone(), handler.clone(), shutdown.clone()).await.unwrap();

    let message = event("report.received");
    bus.publish(std::slice::from_ref(&message)).await.unwrap();
    assert!(handler.wait_until(Duration::from_secs(10), |seen| seen.iter().any(|s| s.ok)).await);

    let seen = handler.seen();
    assert_eq!(
        seen.iter().map(|s| (s.id, s.attempt, s.ok)).collect::<Vec<_>>(),
        [(message.id, 1, false), (message.id, 2, false), (message.id, 3, true)]
    );
    assert!(seen.iter().all(|s| s.message == message), "routing key and headers survive the retry queues");
    let (first_gap, second_gap) = (seen[1].at - seen[0].at, seen[2].at - seen[1].at);
    assert!(first_gap >= Duration::from_millis(80), "{first_gap:?}");
    assert!(second_gap >= Duration::from_millis(200), "{second_gap:?}");
    assert!(bus.dead_letters("routing", 10).await.unwrap().is_empty());

    shutdown.cancel();
    bus.close().await;
}

#[tokio::test]
async fn an_always_failing_message_is_parked_listed_and_replayed_with_a_fresh_attempt_count() {
    let _broker = shared_broker().await;
    let config = test_config();
    let bus = RabbitBus::connect(config.clone()).await.unwrap();
    let failing = Arc::new(AtomicBool::new(true));
    let switch = failing.clone();
    let handler = Recorder::new(Box::new(move |_| {
        if switch.load(Ordering::SeqCst) { Err(HandleError::Retry("database down".into())) } else { Ok(()) }
    }));
    let shutdown = CancellationToken::new();
    let sub = subscription("routing", &["report.#"], 3, &[30]);
    let _scratch = Scratch::new(&config, &[&sub]);
    bus.subscribe(sub.clone(), handler.clone(), shutdown.clone()).await.unwrap();

    let message = event("report.received");
    let before = chrono::Utc::now();
    bus.publish(std::slice::from_ref(&message)).await.unwrap();
    let parked = wait_for_parked(&bus, "routing", 1).await;
    assert_eq!(parked[0].message, message);
    assert_eq!(
        (parked[0].queue.as_str(), parked[0].reason.as_str(), parked[0].attempts),
        ("routing", "database down", 3)
    );
    assert!(parked[0].parked_at >= before - chrono::Duration::seconds(1));
    assert_eq!(handler.seen().len(), 3, "three attempts, then parked");
    // Listing leaves them in place.
    assert_eq!(bus.dead_letters("routing", 10).await.unwrap(), parked);

    failing.store(false, Ordering::SeqCst);
    assert_eq!(bus.replay_dead_letters("routing", None).await.unwrap(), 1);
    assert!(handler.wait_until(Duration::from_secs(10), |seen| seen.iter().any(|s| s.ok)).await);
    let last = handler.seen().pop().unwrap();
    assert_eq!((last.message, last.attempt, last.ok), (message, 1, true));
    assert!(bus.dead_letters("routing", 10).await.unwrap().is_empty());

    shutdown.cancel();
    bus.close().await;
}

#[tokio::test]
async fn a_rejected_message_is_parked_at_once_and_replay_can_pick_by_id() {
    let _broker = shared_broker().await;
    let config = test_config();
    let bus = RabbitBus::connect(config.clone()).await.unwrap();
    let handler = Recorder::new(Box::new(|_| Err(HandleError::Reject("cannot decode".into()))));
    let shutdown = CancellationToken::new();
    let sub = subscription("routing", &["report.#"], 5, &[30]);
    let _scratch = Scratch::new(&config, &[&sub]);
    let task = bus.subscribe(sub.clone(), handler.clone(), shutdown.clone()).await.unwrap();

    let messages: Vec<Message> = (0..3).map(|_| event("report.refused")).collect();
    bus.publish(&messages).await.unwrap();
    let parked = wait_for_parked(&bus, "routing", 3).await;
    // Handled concurrently (prefetch), so parked in the order the handlers finished.
    let parked_ids: BTreeSet<Uuid> = parked.iter().map(|d| d.message.id).collect();
    assert_eq!(parked_ids, messages.iter().map(|m| m.id).collect::<BTreeSet<_>>());
    assert!(parked.iter().all(|d| d.attempts == 1 && d.reason == "cannot decode"));
    assert_eq!(handler.seen().len(), 3, "a reject is never retried");
    assert_eq!(bus.dead_letters("routing", 2).await.unwrap(), parked[..2], "limit is honoured, oldest first");

    // Stop consuming so the replayed message stays visible in the main queue.
    shutdown.cancel();
    task.await.unwrap();
    assert_eq!(bus.replay_dead_letters("routing", Some(&[messages[1].id])).await.unwrap(), 1);
    let left: Vec<Uuid> = bus.dead_letters("routing", 10).await.unwrap().iter().map(|d| d.message.id).collect();
    let others: Vec<Uuid> = parked.iter().map(|d| d.message.id).filter(|id| *id != messages[1].id).collect();
    assert_eq!(left, others, "the others stay parked, in order");
    let (connection, channel) = raw_channel(&config).await;
    let main = drain(&channel, &bus.topology().queue("routing")).await;
    assert_eq!(main.len(), 1);
    assert_eq!(main[0].properties.message_id().as_ref().unwrap().as_str(), messages[1].id.to_string());
    let _ = connection.close(200, "ok".into()).await;

    bus.close().await;
}

async fn wait_for_parked(bus: &RabbitBus, queue: &str, count: usize) -> Vec<crate::bus::DeadLetter> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let parked = bus.dead_letters(queue, 100).await.unwrap();
        if parked.len() >= count || Instant::now() > deadline {
            assert_eq!(parked.len(), count, "parked messages");
            return parked;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Records the size of every batch and settles each delivery as its routing key says:
/// `*.retry` fails its first attempt, `*.reject` is rejected, anything else succeeds.
#[derive(Default)]
struct Batching {
    batches: std::sync::Mutex<Vec<usize>>,
    settled: std::sync::Mutex<Vec<(Uuid, u32, bool)>>,
}

#[async_trait::async_trait]
impl crate::bus::Handler for Batching {
    async fn handle(&self, delivery: &crate::bus::Delivery) -> Result<(), HandleError> {
        self.handle_batch(std::slice::from_ref(delivery)).await.remove(0)
    }

    async fn handle_batch(&self, deliveries: &[crate::bus::Delivery]) -> Vec<Result<(), HandleError>> {
        self.batches.lock().unwrap().push(deliveries.len());
        deliveries
            .iter()
            .map(|d| {
                let outcome = match d.message.routing_key.as_str() {
                    "report.retry" if d.attempt == 1 => Err(HandleError::Retry("first time".into())),
                    "report.reject" => Err(HandleError::Reject("not ours".into())),
                    _ => Ok(()),
                };
                self.settled.lock().unwrap().push((d.message.id, d.attempt, outcome.is_ok()));
                outcome
            })
            .collect()
    }
}

/// Messages already waiting in the queue reach the handler together, never more than the
/// subscription's batch at once, and each one is settled on its own outcome: acknowledged,
/// retried or parked.
#[tokio::test]
async fn waiting_messages_are_handled_in_batches_and_settled_one_by_one() {
    let _broker = shared_broker().await;
    let config = test_config();
    let bus = RabbitBus::connect(config.clone()).await.unwrap();
    let sub = Subscription { batch: 8, ..subscription("routing", &["report.*"], 3, &[30]) };
    let _scratch = Scratch::new(&config, &[&sub]);
    // Declare the queue, then stop consuming so the messages wait in it.
    let first = CancellationToken::new();
    let handler = Arc::new(Batching::default());
    let task = bus.subscribe(sub.clone(), handler.clone(), first.clone()).await.unwrap();
    first.cancel();
    task.await.unwrap();
    let mut messages: Vec<Message> = (0..100).map(|_| event("report.received")).collect();
    messages[10] = event("report.retry");
    messages[55] = event("report.reject");
    bus.publish(&messages).await.unwrap();

    let shutdown = CancellationToken::new();
    bus.subscribe(sub.clone(), handler.clone(), shutdown.clone()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while handler.settled.lock().unwrap().iter().filter(|s| s.2).count() < 99 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let parked = wait_for_parked(&bus, "routing", 1).await;
    assert_eq!(parked[0].message, messages[55]);
    // Give a duplicate time to show up.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let settled = handler.settled.lock().unwrap().clone();
    let ok: HashMap<Uuid, usize> = settled.iter().filter(|s| s.2).fold(HashMap::new(), |mut m, s| {
        *m.entry(s.0).or_default() += 1;
        m
    });
    let expected: Vec<Message> =
        messages.iter().enumerate().filter(|(i, _)| *i != 55).map(|(_, m)| m.clone()).collect();
    assert_eq!(ok, once_each(&expected), "every other message handled once");
    assert!(settled.contains(&(messages[10].id, 1, false)) && settled.contains(&(messages[10].id, 2, true)));
    let batches = handler.batches.lock().unwrap().clone();
    assert!(batches.iter().all(|n| (1..=8).contains(n)), "{batches:?}");
    assert!(batches.iter().any(|n| *n > 1), "waiting messages go together: {batches:?}");

    shutdown.cancel();
    bus.close().await;
}

#[tokio::test]
async fn a_message_the_broker_returns_fails_the_publish() {
    let _broker = shared_broker().await;
    let config = test_config();
    let sub = subscription("reporting", &["report.#"], 1, &[]);
    let _scratch = Scratch::new(&config, &[&sub]);
    let bus = RabbitBus::connect(config.clone()).await.unwrap();
    // Without the unrouted queue, the alternate exchange routes nowhere and the broker returns
    // the mandatory message.
    let (connection, channel) = raw_channel(&config).await;
    channel.queue_delete(bus.topology().unrouted_queue().as_str().into(), QueueDeleteOptions::default()).await.unwrap();
    let result = bus.publish(&[event("nobody.listens")]).await;
    assert!(matches!(&result, Err(BusError::Broker(text)) if text.contains("returned")), "{result:?}");

    let shutdown = CancellationToken::new();
    let handler = Recorder::accepting();
    bus.subscribe(sub.clone(), handler.clone(), shutdown.clone()).await.unwrap();
    bus.publish(&[event("report.received")]).await.expect("a routable message still goes through");
    assert!(handler.wait_until(Duration::from_secs(10), |seen| seen.len() == 1).await);
    let _ = connection.close(200, "ok".into()).await;
    shutdown.cancel();
    bus.close().await;
}

#[tokio::test]
async fn the_broker_agrees_with_the_in_process_topic_matcher() {
    let _broker = shared_broker().await;
    let config = test_config();
    let mut scratch = Scratch::new(&config, &[]);
    let bus = RabbitBus::connect(config.clone()).await.unwrap();
    let table = crate::bus::inproc::topic::CASES;
    let patterns: BTreeSet<&str> = table.iter().map(|(p, _, _)| *p).collect();
    let keys: BTreeSet<&str> = table.iter().map(|(_, k, _)| *k).collect();
    let (connection, channel) = raw_channel(&config).await;
    let mut queues = Vec::new();
    for (i, pattern) in patterns.iter().enumerate() {
        let queue = format!("{}topic.{i}", config.prefix);
        scratch.add_queue(queue.clone());
        channel.queue_declare(queue.as_str().into(), Default::default(), Default::default()).await.unwrap();
        let exchange = bus.topology().events_exchange();
        channel
            .queue_bind(
                queue.as_str().into(),
                exchange.as_str().into(),
                (*pattern).into(),
                Default::default(),
                Default::default(),
            )
            .await
            .unwrap();
        queues.push((*pattern, queue));
    }
    let messages: Vec<Message> = keys.iter().map(|key| event(key)).collect();
    bus.publish(&messages).await.unwrap();
    for (pattern, queue) in &queues {
        let routed: BTreeSet<String> = drain(&channel, queue).await.iter().map(|d| d.routing_key.to_string()).collect();
        for (_, key, expected) in table.iter().filter(|(p, _, _)| p == pattern) {
            assert_eq!(routed.contains(*key), *expected, "broker: pattern {pattern:?} vs key {key:?}");
        }
    }
    let _ = connection.close(200, "ok".into()).await;
    bus.close().await;
}

#[tokio::test]
async fn connecting_reports_bad_urls_and_unreachable_brokers() {
    let _broker = shared_broker().await;
    let unreachable = RabbitConfig { url: "amqp://guest:guest@127.0.0.1:1/%2f".into(), ..test_config() };
    assert!(matches!(RabbitBus::connect(unreachable).await, Err(BusError::Unavailable(_))));
    let garbage = RabbitConfig { url: "not a url".into(), ..test_config() };
    assert!(matches!(RabbitBus::connect(garbage).await, Err(BusError::Config(_))));
    let tls = RabbitConfig { url: "amqps://guest:guest@127.0.0.1:5671/%2f".into(), ..test_config() };
    assert!(matches!(RabbitBus::connect(tls).await, Err(BusError::Config(_))));
    let config = test_config();
    let _scratch = Scratch::new(&config, &[]);
    let bus = RabbitBus::connect(config.clone()).await.unwrap();
    assert!(matches!(bus.dead_letters("never-subscribed", 10).await, Err(BusError::Config(_))));
    assert!(matches!(bus.replay_dead_letters("never-subscribed", None).await, Err(BusError::Config(_))));
    let zero = Subscription { prefetch: 0, ..Subscription::new("q", &["#"]) };
    assert!(matches!(
        bus.subscribe(zero, Recorder::accepting(), CancellationToken::new()).await,
        Err(BusError::Config(_))
    ));
    bus.close().await;
}

/// Publish throughput with confirms, three rounds of 10,000 messages per batch size:
/// `cargo test --release -- --ignored --nocapture publish_throughput`.
#[tokio::test]
#[ignore = "benchmark; run by hand in release mode"]
async fn publish_throughput() {
    let _broker = shared_broker().await;
    for batch_size in [100_usize, 1000] {
        let config = test_config();
        let bus = RabbitBus::connect(config.clone()).await.unwrap();
        // A bound durable queue, so every persistent message is really stored before its confirm.
        let sub = subscription("bench", &["report.#"], 1, &[]);
        let _scratch = Scratch::new(&config, &[&sub]);
        let shutdown = CancellationToken::new();
        let task = bus.subscribe(sub.clone(), Recorder::accepting(), shutdown.clone()).await.unwrap();
        shutdown.cancel();
        task.await.unwrap();
        bus.publish(&[event("report.warm_up")]).await.unwrap();
        let mut rates = Vec::new();
        for _ in 0..3 {
            let messages: Vec<Message> = (0..10_000).map(|_| event("report.received")).collect();
            let started = Instant::now();
            for batch in messages.chunks(batch_size) {
                bus.publish(batch).await.unwrap();
            }
            rates.push(10_000.0 / started.elapsed().as_secs_f64());
        }
        rates.sort_by(f64::total_cmp);
        println!(
            "publish_throughput: batches of {batch_size}: {:.0} msg/s median (rounds: {:?})",
            rates[1],
            rates.iter().map(|r| r.round()).collect::<Vec<_>>()
        );
        bus.close().await;
    }
}
