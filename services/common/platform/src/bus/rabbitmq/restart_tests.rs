//! The broker stops and starts while events flow.
//!
//! This test stops the (shared) broker's application for a few seconds. Run it alone with
//! `cargo test broker_restart`; within this crate's test binary it takes the broker lock for
//! writing, so no other broker test of ours runs while the broker is down.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::RabbitBus;
use super::fault_tests::rabbitmqctl;
use super::tests::{BROKER, Scratch, test_config};
use crate::bus::inproc::tests::{Recorder, event, subscription};
use crate::bus::{Bus, Message};

/// How long we let `publish` take before calling it a hang.
const NO_HANG: Duration = Duration::from_secs(6);

#[tokio::test]
async fn broker_restart_loses_nothing_and_needs_no_consumer_restart() {
    let _exclusive = BROKER.write().await;
    let config = super::RabbitConfig { publish_timeout: Duration::from_secs(2), ..test_config() };
    let bus = Arc::new(RabbitBus::connect(config.clone()).await.unwrap());
    let handler = Recorder::accepting();
    let shutdown = CancellationToken::new();
    let sub = subscription("reporting", &["report.#"], 5, &[100]);
    let _scratch = Scratch::new(&config, &[&sub]);
    let consumer = bus.subscribe(sub.clone(), handler.clone(), shutdown.clone()).await.unwrap();

    // The outbox relay's loop: publish a batch, and on failure publish the same batch again.
    let stop = Arc::new(AtomicBool::new(false));
    let confirmed: Arc<Mutex<Vec<Uuid>>> = Arc::default();
    let failures: Arc<Mutex<Vec<String>>> = Arc::default();
    let relay = tokio::spawn({
        let (bus, stop, confirmed, failures) = (bus.clone(), stop.clone(), confirmed.clone(), failures.clone());
        async move {
            let mut slowest = Duration::ZERO;
            while !stop.load(Ordering::SeqCst) {
                let batch: Vec<Message> = (0..20).map(|_| event("report.received")).collect();
                loop {
                    let started = Instant::now();
                    let outcome = tokio::time::timeout(NO_HANG, bus.publish(&batch)).await;
                    slowest = slowest.max(started.elapsed());
                    match outcome {
                        Ok(Ok(())) => break,
                        Ok(Err(error)) => failures.lock().await.push(error.to_string()),
                        Err(_) => panic!("publish hung for more than {NO_HANG:?} during the outage"),
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                confirmed.lock().await.extend(batch.iter().map(|m| m.id));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            slowest
        }
    });

    tokio::time::sleep(Duration::from_secs(1)).await;
    let before_outage = confirmed.lock().await.len();
    let outage = Instant::now();
    rabbitmqctl(&["stop_app"]).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    rabbitmqctl(&["start_app"]).await;
    let outage = outage.elapsed();
    // Publishing again after the restart proves the publisher recovered.
    let recovered_at = confirmed.lock().await.len();
    let deadline = Instant::now() + Duration::from_secs(30);
    while confirmed.lock().await.len() < recovered_at + 200 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::SeqCst);
    let slowest = relay.await.expect("the relay loop never hung");

    let confirmed: Vec<Uuid> = confirmed.lock().await.clone();
    let failures = failures.lock().await.clone();
    println!(
        "outage {outage:?}; {before_outage} confirmed before, {} in all; {} failed publishes, slowest call {slowest:?}",
        confirmed.len(),
        failures.len()
    );
    assert!(before_outage > 0, "nothing was published before the outage");
    assert!(confirmed.len() >= recovered_at + 200, "the publisher did not recover");
    assert!(!failures.is_empty(), "the outage went unnoticed by the publisher");

    // Every confirmed event reaches the consumer (at least once), which was never restarted.
    let arrived = handler
        .wait_until(Duration::from_secs(60), |seen| {
            let seen: HashSet<Uuid> = seen.iter().map(|s| s.id).collect();
            confirmed.iter().all(|id| seen.contains(id))
        })
        .await;
    let seen: HashSet<Uuid> = handler.seen().iter().map(|s| s.id).collect();
    let missing = confirmed.iter().filter(|id| !seen.contains(id)).count();
    assert!(arrived, "{missing} confirmed events never reached the consumer");
    assert!(!consumer.is_finished(), "the consumer task gave up");

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), consumer).await.unwrap().unwrap();
    bus.close().await;
}
