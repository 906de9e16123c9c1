//! Nothing accepted is lost, and nothing is done twice, across a RabbitMQ outage and an
//! immediate Postgres stop in the middle of a stream of submissions. The services recover
//! without a restart. (This binary stops shared services; its one test runs alone.)

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use common::*;
use paht_domain::actor::Role;
use paht_platform::bus::{Bus, Delivery, HandleError, Handler, Subscription};
use paht_platform::db::{Db, DbConfig, PlatformMigrator, inbox};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use tokio_util::sync::CancellationToken;

/// A consumer whose effect (a row naming the report) is written in the same transaction as
/// its inbox entry, as every service's consumers do: once per event id, whatever the
/// redeliveries, even when a commit's outcome is lost with the database.
struct InboxConsumer {
    db: Db,
    deliveries: Mutex<u64>,
}

impl InboxConsumer {
    /// Every effect's report id, in order (duplicates would show here).
    async fn effects(&self) -> Vec<String> {
        let rows = self
            .db
            .conn()
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT report_id FROM e2e_consumer.effects ORDER BY id".to_owned(),
            ))
            .await
            .unwrap_or_default();
        rows.iter().map(|r| r.try_get::<String>("", "report_id").unwrap()).collect()
    }
}

#[async_trait]
impl Handler for InboxConsumer {
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandleError> {
        *self.deliveries.lock().unwrap() += 1;
        let seen = decode(delivery)?;
        let retry = |e: &dyn std::fmt::Display| HandleError::Retry(e.to_string());
        let txn = self.db.begin_write().await.map_err(|e| retry(&e))?;
        if inbox::first_delivery(&txn, "e2e-loss", seen.event_id).await.map_err(|e| retry(&e))? {
            let effect = Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO e2e_consumer.effects (event_id, report_id) VALUES ($1, $2)",
                [seen.event_id.into(), seen.report_id.into()],
            );
            txn.execute_raw(effect).await.map_err(|e| retry(&e))?;
            txn.commit().await.map_err(|e| retry(&e))?;
        } else {
            txn.rollback().await.map_err(|e| retry(&e))?;
        }
        Ok(())
    }
}

fn run(program: &str, args: &[&str]) {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn pg_version() -> String {
    let entries = std::fs::read_dir("/etc/postgresql").expect("a Debian PostgreSQL cluster");
    entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).max().unwrap()
}

/// Waits until Postgres accepts connections again.
async fn wait_for_postgres() {
    let deadline = Instant::now() + Duration::from_secs(60);
    while sea_orm::Database::connect(paht_testing::postgres_url()).await.is_err() {
        assert!(Instant::now() < deadline, "Postgres did not come back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outages_lose_nothing_and_double_nothing() {
    let suite = Suite::new().await;
    let stop = CancellationToken::new();
    let consumer_db = Db::connect(&suite.db.url, "e2e_consumer", &DbConfig::default()).await.unwrap();
    consumer_db.migrate::<PlatformMigrator>().await.unwrap();
    consumer_db
        .conn()
        .execute_unprepared(
            "CREATE TABLE e2e_consumer.effects (id BIGSERIAL PRIMARY KEY, event_id UUID NOT NULL, report_id TEXT NOT NULL)",
        )
        .await
        .unwrap();
    let consumer = Arc::new(InboxConsumer { db: consumer_db, deliveries: Mutex::new(0) });
    let bus = suite.bus().await;
    let mut subscription = Subscription::new("e2e-loss", &["report.received"]);
    subscription.retry_delays = vec![Duration::from_millis(500), Duration::from_secs(2)];
    subscription.max_attempts = 30;
    bus.subscribe(subscription, consumer.clone(), stop.clone()).await.unwrap();
    let server = suite.serve("intake");
    let channel = token(&suite.issuer(), Role::System, INSTANCE);

    // Four clients submit until told to stop; a receipt means the report was accepted.
    let accepted = Arc::new(Mutex::new(Vec::<String>::new()));
    let failures = Arc::new(Mutex::new(BTreeMap::<String, u32>::new()));
    let streaming = CancellationToken::new();
    let mut clients = Vec::new();
    for c in 0..4 {
        let (mut client, channel) = (server.client().await, channel.clone());
        let (accepted, failures, streaming) = (accepted.clone(), failures.clone(), streaming.clone());
        clients.push(tokio::spawn(async move {
            let mut n = 0;
            while !streaming.is_cancelled() {
                n += 1;
                let request = authed(&channel, submission(&format!("loss-{c}-{n}")));
                match tokio::time::timeout(Duration::from_secs(10), client.submit_report(request)).await {
                    Ok(Ok(receipt)) => accepted.lock().unwrap().push(receipt.into_inner().report_id),
                    Ok(Err(status)) => {
                        *failures.lock().unwrap().entry(format!("{:?}", status.code())).or_default() += 1
                    }
                    Err(_) => *failures.lock().unwrap().entry("timeout".into()).or_default() += 1,
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }

    tokio::time::sleep(Duration::from_secs(2)).await;
    run("rabbitmqctl", &["stop_app"]);
    let during_outage = accepted.lock().unwrap().len();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(accepted.lock().unwrap().len() > during_outage, "intake keeps accepting while the broker is down");
    run("rabbitmqctl", &["start_app"]);
    run("rabbitmqctl", &["await_startup"]);
    tokio::time::sleep(Duration::from_secs(2)).await;

    let version = pg_version();
    run("pg_ctlcluster", &["--skip-systemctl-redirect", &version, "main", "stop", "-m", "immediate"]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    run("pg_ctlcluster", &["--skip-systemctl-redirect", &version, "main", "start"]);
    wait_for_postgres().await;
    // The server recovers by itself: submissions succeed again.
    let recovered = accepted.lock().unwrap().len();
    let deadline = Instant::now() + Duration::from_secs(60);
    while accepted.lock().unwrap().len() < recovered + 20 {
        assert!(Instant::now() < deadline, "intake did not recover after Postgres came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    streaming.cancel();
    for client in clients {
        client.await.unwrap();
    }

    let accepted: BTreeSet<String> = accepted.lock().unwrap().iter().cloned().collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let effects: BTreeSet<String> = consumer.effects().await.into_iter().collect();
        if accepted.is_subset(&effects) || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let effects = consumer.effects().await;
    let distinct: BTreeSet<String> = effects.iter().cloned().collect();
    let missing: Vec<&String> = accepted.difference(&distinct).collect();
    assert!(missing.is_empty(), "{} accepted reports never arrived, e.g. {:?}", missing.len(), missing.first());
    assert_eq!(effects.len(), distinct.len(), "an event took effect twice");
    let deliveries = *consumer.deliveries.lock().unwrap();
    eprintln!(
        "loss test: {} accepted, {} effects, {} deliveries, failures while down: {:?}",
        accepted.len(),
        effects.len(),
        deliveries,
        failures.lock().unwrap()
    );
    let logs = server.stop();
    assert_no_personal_data("the server's logs", &logs);
    stop.cancel();
    bus.close().await;
    suite.cleanup().await;
}
