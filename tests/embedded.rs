//! Embedded mode end to end: `paht up` as a user runs it (banner, demo data, clean stop on
//! SIGTERM), and the runtime in-process with a consumer on its in-process bus.

mod common;

use std::time::Duration;

use common::*;
use paht::runtime;
use paht_domain::actor::Role;
use paht_platform::auth::TokenIssuer;
use paht_platform::config::ConfigSource;
use paht_proto::v1;
use paht_proto::v1::intake_service_client::IntakeServiceClient;
use sea_orm::ConnectionTrait;
use tokio_util::sync::CancellationToken;

fn temp_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("paht-e2e-up-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// The README's run command: starts, seeds the demo reports, prints where to look, and stops
// cleanly on SIGTERM; a second start finds the same reports (nothing lost, nothing doubled).
#[test]
fn paht_up_serves_demo_data_and_stops_cleanly() {
    let dir = temp_dir();
    let config = dir.join("paht.toml");
    std::fs::write(&config, "grpc_addr = \"127.0.0.1:0\"\nhttp_addr = \"127.0.0.1:0\"\n").unwrap();
    let data = dir.join("data");
    let mut codes = Vec::new();
    for run in ["first", "second"] {
        let log = dir.join(format!("{run}.out"));
        let mut child = KillOnDrop(
            std::process::Command::new(env!("CARGO_BIN_EXE_paht"))
                .args(["up", "--data-dir", data.to_str().unwrap(), "--config", config.to_str().unwrap()])
                .stdout(std::fs::File::create(&log).unwrap())
                .stderr(std::fs::File::create(dir.join(format!("{run}.err"))).unwrap())
                .spawn()
                .unwrap(),
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let banner = loop {
            let text = std::fs::read_to_string(&log).unwrap();
            if text.contains("Ctrl-C stops") {
                break text;
            }
            assert!(child.0.try_wait().unwrap().is_none(), "paht up exited early");
            assert!(std::time::Instant::now() < deadline, "no banner within 60 s");
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(banner.contains("embedded mode") && banner.contains("gRPC") && banner.contains("/metrics"));
        let run_codes: Vec<String> = banner
            .lines()
            .filter(|l| l.contains("REPORT_STATUS_"))
            .map(|l| l.split_whitespace().next().unwrap().to_string())
            .collect();
        assert_eq!(run_codes.len(), 6, "{banner}");
        // Dispatched with a result waiting, published and rated, answered privately, refused, waiting for the check — and
        // after the restart intake has followed them (the statuses come from its lookup).
        for status in ["DISPATCHED", "RATED", "ANSWERED_PRIVATELY", "REFUSED", "RECEIVED"] {
            assert!(banner.contains(&format!("REPORT_STATUS_{status}")), "{run} run, no {status}:\n{banner}");
        }
        codes.push(run_codes);
        std::process::Command::new("kill").args(["-TERM", &child.0.id().to_string()]).status().unwrap();
        let status = child.0.wait().unwrap();
        assert!(status.success(), "exit {status}");
    }
    assert_eq!(codes[0], codes[1], "a restart finds the same demo reports");
    for service in ["intake", "routing", "processing", "publication"] {
        assert!(data.join(format!("{service}.db")).is_file(), "{service}.db");
    }
    let _ = std::fs::remove_dir_all(dir);
}

// Submit over gRPC → the report in the SQLite file and its event through the in-process bus
// to a consumer bound to `report.#` (R6, R7.2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_events_flow_through_the_inprocess_bus() {
    let dir = temp_dir();
    let toml = format!(
        "data_dir = \"{}\"\ngrpc_addr = \"127.0.0.1:0\"\nhttp_addr = \"127.0.0.1:0\"\n",
        dir.join("data").display()
    );
    let source = ConfigSource::from_toml(&toml);
    let config = source.platform().unwrap();
    let running = runtime::start(source, config, runtime::REGISTRY, CancellationToken::new()).await.unwrap();
    let stop = CancellationToken::new();
    let observer = observe(running.bus().as_ref(), "observer", &stop).await;

    let issuer = TokenIssuer::new(running.auth()).unwrap();
    let channel = token(&issuer, Role::System, running.instance());
    let mut client = IntakeServiceClient::connect(format!("http://{}", running.grpc_addr())).await.unwrap();
    let receipt = client.submit_report(authed(&channel, submission("embedded-1"))).await.unwrap().into_inner();
    let operator = token(&issuer, Role::IocOperator, running.instance());
    let refuse =
        v1::RefuseReportRequest { report_id: receipt.report_id.clone(), reason: "Thiếu vị trí cụ thể".into() };
    client.refuse_report(authed(&operator, refuse)).await.unwrap();

    let seen = observer.wait_for(Duration::from_secs(10), |s| s.len() >= 2).await;
    assert_eq!(keys_by_report(&seen)[&receipt.report_id], ["report.received", "report.refused"]);

    let url = format!("sqlite://{}", dir.join("data/intake.db").display());
    let db = sea_orm::Database::connect(&url).await.unwrap();
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "SELECT COUNT(*) AS n, MIN(status) AS status FROM reports".to_owned(),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<i64>("", "n").unwrap(), 1, "the report is in intake.db");
    assert_eq!(row.try_get::<String>("", "status").unwrap(), "refused");
    db.close().await.unwrap();

    stop.cancel();
    running.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

/// A child process killed when the test ends, even by a failed assertion.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
