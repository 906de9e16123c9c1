//! Suite mode end to end: `paht serve --services intake` as its own process against the
//! machine's Postgres, RabbitMQ and Redis, driven over gRPC as channels and operators do.

mod common;

use std::time::Duration;

use common::*;
use paht_domain::actor::Role;
use paht_platform::auth::{AuthConfig, TokenIssuer};
use paht_platform::bus::{Bus, Delivery, HandleError, Handler, Subscription};
use paht_proto::v1;
use sea_orm::ConnectionTrait;
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tonic_types::StatusExt;

async fn count(db: &sea_orm::DatabaseConnection, table: &str) -> i64 {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            format!("SELECT COUNT(*) AS n FROM intake.{table}"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

// R6, R7.2, R7.3a: a submission lands in Postgres (report + sealed reporter + outbox) and its
// events reach a RabbitMQ queue bound to `report.#`; the check's event follows. Health and
// readiness answer; personal data is in no log and not in the public view (R6.2, R20).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_reaches_postgres_and_rabbitmq() {
    let suite = Suite::new().await;
    let stop = CancellationToken::new();
    let bus = suite.bus().await;
    let observer = observe(&bus, "e2e-observer", &stop).await;
    // Intake asks routing's directory, in another process, whether the category exists (R13.5).
    let routing = suite.serve_services("routing", "routing", &[]);
    let server = suite.serve_services("intake", "intake", &[("PAHT_PEERS__ROUTING", &routing.grpc)]);
    let mut client = server.client().await;
    let issuer = suite.issuer();
    let channel = token(&issuer, Role::System, INSTANCE);
    let operator = token(&issuer, Role::IocOperator, INSTANCE);

    let mut receipts = Vec::new();
    for i in 0..3 {
        let receipt = client.submit_report(authed(&channel, submission(&format!("e2e-{i}")))).await.unwrap();
        receipts.push(receipt.into_inner());
    }
    let accept = v1::AcceptReportRequest { report_id: receipts[0].report_id.clone(), category_id: "giao-thong".into() };
    client.accept_report(authed(&operator, accept)).await.unwrap();

    let seen = observer.wait_for(Duration::from_secs(20), |s| s.len() >= 4).await;
    let by_report = keys_by_report(&seen);
    assert_eq!(by_report[&receipts[0].report_id], ["report.received", "report.accepted"]);
    for receipt in &receipts[1..] {
        assert_eq!(by_report[&receipt.report_id], ["report.received"]);
    }
    let db = suite.db.connect().await;
    assert_eq!(count(&db, "reports").await, 3);
    assert_eq!(count(&db, "reporters").await, 3);
    let pending = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT COUNT(*) AS n FROM intake.outbox WHERE published_at IS NULL".to_owned(),
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(pending, 0, "every event marked published");

    // Public view by tracking code, anonymous: no personal data.
    let public = v1::GetReportByTrackingCodeRequest { tracking_code: receipts[1].tracking_code.clone() };
    let view = client.get_report_by_tracking_code(public).await.unwrap().into_inner();
    assert_no_personal_data("the public view", &format!("{view:?}"));
    // The staff view carries no identity either.
    let staff = v1::GetReportRequest { report_id: receipts[1].report_id.clone() };
    let report = client.get_report(authed(&operator, staff)).await.unwrap().into_inner();
    assert_no_personal_data("the staff view", &format!("{report:?}"));

    let health = http_get(&format!("{}/readyz", server.http)).await;
    assert!(health.starts_with("200"), "{health}");
    let metrics = http_get(&format!("{}/metrics", server.http)).await;
    assert!(metrics.contains("paht_outbox_published_total{service=\"intake\"} 4"), "{metrics}");

    let logs = server.stop();
    assert!(logs.contains("report received"), "the logs are captured");
    assert_no_personal_data("the server's logs", &logs);
    stop.cancel();
    bus.close().await;
    suite.cleanup().await;
}

// Same idempotency key twice → one report; every article-6 violation → INVALID_ARGUMENT naming
// the field, nothing stored (R6.1, R7.3a).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_and_invalid_input() {
    let suite = Suite::new().await;
    let server = suite.serve("intake");
    let mut client = server.client().await;
    let channel = token(&suite.issuer(), Role::System, INSTANCE);

    let first = client.submit_report(authed(&channel, submission("same-key"))).await.unwrap().into_inner();
    let again = client.submit_report(authed(&channel, submission("same-key"))).await.unwrap().into_inner();
    assert_eq!(first.report_id, again.report_id);
    assert_eq!(first.tracking_code, again.tracking_code);

    let mut bad = submission("bad");
    bad.content = "ngắn".into();
    bad.event_time = None;
    bad.location = None;
    bad.reporter.as_mut().unwrap().phone = "12345".into();
    bad.reporter.as_mut().unwrap().name = String::new();
    let status = client.submit_report(authed(&channel, bad)).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let details = status.get_error_details();
    let fields: Vec<String> =
        details.bad_request().expect("field violations").field_violations.iter().map(|v| v.field.clone()).collect();
    for field in ["content", "event_time", "location", "reporter.phone", "reporter.name"] {
        assert!(fields.iter().any(|f| f == field), "{field} not named in {fields:?}");
    }
    assert_no_personal_data("the error", status.message());

    let db = suite.db.connect().await;
    assert_eq!(count(&db, "reports").await, 1);
    assert_eq!(count(&db, "outbox").await, 1);
    server.stop();
    suite.cleanup().await;
}

// R14, R20: a missing or forged token → UNAUTHENTICATED; a wrong role or unit →
// PERMISSION_DENIED; nothing changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_roles_are_enforced() {
    let suite = Suite::new().await;
    let server = suite.serve("intake");
    let mut client = server.client().await;
    let issuer = suite.issuer();

    let status = client.submit_report(submission("no-token")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let forged = TokenIssuer::new(&AuthConfig::ephemeral()).unwrap();
    let status =
        client.submit_report(authed(&token(&forged, Role::System, INSTANCE), submission("f"))).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let status = client
        .submit_report(authed(&format!("{}x", token(&issuer, Role::System, INSTANCE)), submission("g")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);

    let receipt = client
        .submit_report(authed(&token(&issuer, Role::System, INSTANCE), submission("ok")))
        .await
        .unwrap()
        .into_inner();
    let accept = || v1::AcceptReportRequest { report_id: receipt.report_id.clone(), category_id: String::new() };
    // An agency officer may not check reports; another IOC's operator may not check ours.
    let status = client.accept_report(authed(&token(&issuer, Role::Officer, "SO-GTVT"), accept())).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let status =
        client.accept_report(authed(&token(&issuer, Role::IocOperator, "IOC-OTHER"), accept())).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    // A reporter may not read the check queue nor anyone's identity.
    let queue = v1::ListCheckQueueRequest::default();
    let status = client.list_check_queue(authed(&token(&issuer, Role::Reporter, INSTANCE), queue)).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);

    let db = suite.db.connect().await;
    assert_eq!(count(&db, "reports").await, 1);
    assert_eq!(count(&db, "outbox").await, 1, "no refused call wrote an event");
    server.stop();
    suite.cleanup().await;
}

/// Fails every delivery until told otherwise, counting attempts.
#[derive(Default)]
struct Flaky {
    heal: std::sync::atomic::AtomicBool,
    attempts: std::sync::atomic::AtomicU32,
    done: std::sync::Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl Handler for Flaky {
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandleError> {
        use std::sync::atomic::Ordering;
        self.attempts.fetch_add(1, Ordering::SeqCst);
        if !self.heal.load(Ordering::SeqCst) {
            return Err(HandleError::Retry("downstream unavailable".into()));
        }
        self.done.lock().unwrap().push(decode(delivery)?.report_id);
        Ok(())
    }
}

// A consumer that always fails gets the event its bounded number of times, then it is parked
// in the dead-letter queue, listable; replayed once the consumer is healthy, it is processed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_event_is_parked_and_replayed() {
    use std::sync::atomic::Ordering;
    let suite = Suite::new().await;
    let stop = CancellationToken::new();
    let bus = suite.bus().await;
    let flaky = std::sync::Arc::new(Flaky::default());
    let mut subscription = Subscription::new("e2e-flaky", &["report.received"]);
    subscription.max_attempts = 3;
    subscription.retry_delays = vec![Duration::from_millis(200)];
    bus.subscribe(subscription, flaky.clone(), stop.clone()).await.unwrap();
    let server = suite.serve("intake");
    let mut client = server.client().await;
    let receipt = client
        .submit_report(authed(&token(&suite.issuer(), Role::System, INSTANCE), submission("dlq")))
        .await
        .unwrap()
        .into_inner();

    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let parked = loop {
        let parked = bus.dead_letters("e2e-flaky", 10).await.unwrap();
        if !parked.is_empty() || std::time::Instant::now() > deadline {
            break parked;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(parked.len(), 1, "parked after the bounded retries");
    assert_eq!(parked[0].attempts, 3);
    assert_eq!(flaky.attempts.load(Ordering::SeqCst), 3);

    flaky.heal.store(true, Ordering::SeqCst);
    assert_eq!(bus.replay_dead_letters("e2e-flaky", None).await.unwrap(), 1);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while flaky.done.lock().unwrap().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(*flaky.done.lock().unwrap(), vec![receipt.report_id]);
    assert!(bus.dead_letters("e2e-flaky", 10).await.unwrap().is_empty());
    server.stop();
    stop.cancel();
    bus.close().await;
    suite.cleanup().await;
}

/// A plain HTTP GET over a TCP socket: the status line and body.
async fn http_get(url: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response.split(' ').nth(1).unwrap_or("").to_string();
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_string();
    format!("{status} {body}")
}
