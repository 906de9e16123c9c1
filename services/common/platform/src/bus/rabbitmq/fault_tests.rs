//! Faults around the broker: connections closed under us, a broker that stops answering.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::tests::{Scratch, shared_broker, test_config};
use super::{RabbitBus, RabbitConfig};
use crate::bus::inproc::tests::{Recorder, event, subscription};
use crate::bus::{Bus, BusError, Message};

#[tokio::test]
async fn a_consumer_survives_the_broker_closing_its_connection() {
    let _broker = shared_broker().await;
    let config = test_config();
    let bus = RabbitBus::connect(config.clone()).await.unwrap();
    let handler = Recorder::accepting();
    let shutdown = CancellationToken::new();
    let sub = subscription("reporting", &["report.#"], 5, &[50]);
    let _scratch = Scratch::new(&config, &[&sub]);
    let task = bus.subscribe(sub.clone(), handler.clone(), shutdown.clone()).await.unwrap();
    bus.publish(&[event("report.received")]).await.unwrap();
    assert!(handler.wait_until(Duration::from_secs(10), |seen| seen.len() == 1).await);

    // Only our own connections: the broker is shared.
    let closed = close_connections_named(&config.connection_name).await;
    assert!(closed >= 2, "closed {closed} connections");
    // The publisher reconnects on its next call; the consumer by itself.
    let after: Vec<Message> = (0..20).map(|_| event("report.received")).collect();
    let mut published = false;
    for _ in 0..50 {
        if bus.publish(&after).await.is_ok() {
            published = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(published, "the publisher did not reconnect");
    let arrived = handler
        .wait_until(Duration::from_secs(20), |seen| after.iter().all(|m| seen.iter().any(|s| s.id == m.id)))
        .await;
    assert!(arrived, "the consumer did not come back");
    assert!(!task.is_finished());
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), task).await.unwrap().unwrap();
    bus.close().await;
}

#[tokio::test]
async fn a_publish_to_a_hanging_broker_times_out_and_the_next_one_reconnects() {
    let _broker = shared_broker().await;
    let proxy = FreezableProxy::start();
    let config = RabbitConfig {
        url: format!("amqp://guest:guest@127.0.0.1:{}/%2f", proxy.port),
        publish_timeout: Duration::from_secs(1),
        connect_timeout: Duration::from_secs(1),
        ..test_config()
    };
    // Cleaned up directly, not through the proxy, which may be frozen if the test fails.
    let _scratch = Scratch::new(&RabbitConfig { url: RabbitConfig::default().url, ..config.clone() }, &[]);
    let bus = RabbitBus::connect(config.clone()).await.unwrap();
    bus.publish(&[event("report.received")]).await.unwrap();

    proxy.freeze(true);
    let started = Instant::now();
    let result = bus.publish(&[event("report.received")]).await;
    assert!(matches!(result, Err(BusError::ConfirmTimeout(_))), "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    let started = Instant::now();
    assert!(matches!(RabbitBus::connect(config.clone()).await, Err(BusError::Unavailable(_))));
    assert!(started.elapsed() < Duration::from_secs(3), "connecting took {:?}", started.elapsed());

    proxy.freeze(false);
    bus.publish(&[event("report.received")]).await.expect("the next publish reconnects");
    bus.close().await;
}

/// A TCP proxy to the broker that can stop passing bytes while keeping the sockets open, as a
/// broker that hangs (shutting down, or blocking publishers) does.
struct FreezableProxy {
    port: u16,
    frozen: Arc<AtomicBool>,
}

impl FreezableProxy {
    fn start() -> Self {
        use std::io::{Read, Write};
        use std::net::{Shutdown, TcpListener, TcpStream};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let frozen = Arc::new(AtomicBool::new(false));
        let flag = frozen.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(broker) = TcpStream::connect("127.0.0.1:5672") else { continue };
                let (Ok(client_in), Ok(broker_in)) = (client.try_clone(), broker.try_clone()) else { continue };
                for (mut from, mut to) in [(client_in, broker), (broker_in, client)] {
                    let frozen = flag.clone();
                    std::thread::spawn(move || {
                        let mut buffer = [0_u8; 16 * 1024];
                        loop {
                            while frozen.load(Ordering::SeqCst) {
                                std::thread::sleep(Duration::from_millis(10));
                            }
                            let n = match from.read(&mut buffer) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            // A read may have been waiting when the freeze began: hold its bytes.
                            while frozen.load(Ordering::SeqCst) {
                                std::thread::sleep(Duration::from_millis(10));
                            }
                            if to.write_all(&buffer[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        FreezableProxy { port, frozen }
    }

    fn freeze(&self, frozen: bool) {
        self.frozen.store(frozen, Ordering::SeqCst);
    }
}

/// Closes the broker's connections whose client-given name starts with `name`.
async fn close_connections_named(name: &str) -> usize {
    let list = rabbitmqctl(&["list_connections", "pid", "client_properties"]).await;
    let mut closed = 0;
    for line in list.lines().filter(|line| line.contains(name)) {
        let Some(pid) = line.split_whitespace().next() else { continue };
        rabbitmqctl(&["close_connection", pid, "test: simulated connection loss"]).await;
        closed += 1;
    }
    closed
}

/// Runs `rabbitmqctl` (needs root) and returns its standard output.
pub(super) async fn rabbitmqctl(args: &[&str]) -> String {
    let args: Vec<String> = args.iter().map(|a| (*a).to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let output = std::process::Command::new("rabbitmqctl").args(&args).output().expect("rabbitmqctl runs");
        assert!(output.status.success(), "rabbitmqctl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    })
    .await
    .unwrap()
}
