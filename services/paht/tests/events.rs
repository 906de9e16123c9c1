//! Parked events in embedded mode, as an operator meets them: an event routing cannot apply is
//! parked, survives a restart of `paht up`, is listed by `paht events parked` and, once the
//! cause is repaired, replayed by `paht events replay ID` and gone from the parking store.
//!
//! How the event parks, without any test hook in the binary: while `paht up` runs, routing's
//! replica of a demo report is damaged on disk (its lifecycle column no longer reads), and a
//! new fact about that report is committed to intake's outbox (a copy of its
//! `report.received` under a fresh event id). Intake's relay publishes it, routing cannot read
//! the replica and rejects it: parked. Repairing the row (as restoring it from a backup would)
//! makes the replay succeed.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use prost::Message as _;
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};
use uuid::Uuid;

/// A child process killed when the test ends, even by a failed assertion.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Instance {
    dir: PathBuf,
    data: PathBuf,
    config: PathBuf,
}

impl Instance {
    fn new() -> Instance {
        let dir = std::env::temp_dir().join(format!("paht-e2e-events-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("paht.toml");
        std::fs::write(&config, "grpc_addr = \"127.0.0.1:0\"\nhttp_addr = \"127.0.0.1:0\"\n").unwrap();
        Instance { data: dir.join("data"), dir, config }
    }

    /// Starts `paht up` and waits for its banner; returns the child and its HTTP address.
    fn up(&self, run: &str, demo: bool) -> (KillOnDrop, String) {
        let log = self.dir.join(format!("{run}.out"));
        let mut args = vec!["up", "--data-dir", self.data.to_str().unwrap(), "--config", self.config.to_str().unwrap()];
        if !demo {
            args.push("--no-demo");
        }
        let mut child = KillOnDrop(
            Command::new(env!("CARGO_BIN_EXE_paht"))
                .args(&args)
                .env_remove("PAHT_CONFIG")
                .stdout(std::fs::File::create(&log).unwrap())
                .stderr(std::fs::File::create(self.dir.join(format!("{run}.err"))).unwrap())
                .spawn()
                .unwrap(),
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        let banner = loop {
            let text = std::fs::read_to_string(&log).unwrap();
            if text.contains("Ctrl-C stops") {
                break text;
            }
            assert!(child.0.try_wait().unwrap().is_none(), "paht up ({run}) exited early");
            assert!(Instant::now() < deadline, "no banner within 60 s ({run})");
            std::thread::sleep(Duration::from_millis(50));
        };
        let http = banner
            .lines()
            .find_map(|l| l.trim().strip_prefix("HTTP  http://"))
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("no HTTP address in the banner:\n{banner}"))
            .to_string();
        (child, http)
    }

    fn events(&self, http: &str, args: &[&str]) -> Output {
        let place = ["--data-dir", self.data.to_str().unwrap(), "--config", self.config.to_str().unwrap()];
        Command::new(env!("CARGO_BIN_EXE_paht"))
            .arg("events")
            .args(args)
            .args(place)
            .args(["--http-addr", http])
            .env_remove("PAHT_CONFIG")
            .output()
            .unwrap()
    }

    /// The lines of `paht events parked` (comments left out).
    fn parked(&self, http: &str) -> Vec<String> {
        let out = self.events(http, &["parked"]);
        assert!(out.status.success(), "paht events parked: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().lines().filter(|l| !l.starts_with('#')).map(str::to_string).collect()
    }

    /// Polls `paht events parked` until `done` holds for its lines.
    fn parked_until(&self, http: &str, what: &str, done: impl Fn(&[String]) -> bool) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let lines = self.parked(http);
            if done(&lines) {
                return lines;
            }
            assert!(Instant::now() < deadline, "{what} within 30 s; parked: {lines:?}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn db_url(&self, service: &str) -> String {
        format!("sqlite://{}", self.data.join(format!("{service}.db")).display())
    }
}

fn stop(mut child: KillOnDrop) {
    Command::new("kill").args(["-TERM", &child.0.id().to_string()]).status().unwrap();
    let status = child.0.wait().unwrap();
    assert!(status.success(), "paht up exit {status}");
}

async fn sql(url: &str, statement: &str, values: Vec<Value>) -> Vec<sea_orm::QueryResult> {
    let db = sea_orm::Database::connect(url).await.unwrap();
    let rows = db.query_all_raw(Statement::from_sql_and_values(DbBackend::Sqlite, statement, values)).await.unwrap();
    db.close().await.unwrap();
    rows
}

/// Leaves in intake's outbox a new fact about a demo report (a copy of its `report.received`
/// under a fresh event id) and damages routing's replica of that report. Returns the new
/// event id and the replica's lifecycle as it was.
async fn plant_unappliable_fact(instance: &Instance) -> (Uuid, Uuid, String) {
    let intake = instance.db_url("intake");
    let rows = sql(
        &intake,
        "SELECT id, payload FROM outbox WHERE routing_key = 'report.received' ORDER BY id LIMIT 1",
        vec![],
    )
    .await;
    let row = rows.first().expect("a demo report.received in intake's outbox");
    let outbox_id: i64 = row.try_get("", "id").unwrap();
    let mut envelope = paht_proto::v1::EventEnvelope::decode(row.try_get::<Vec<u8>>("", "payload").unwrap().as_slice())
        .expect("an event envelope");
    let report = Uuid::parse_str(&envelope.report_id).unwrap();
    let event_id = Uuid::new_v4();
    envelope.event_id = event_id.to_string();
    sql(
        &intake,
        "INSERT INTO outbox (event_id, routing_key, payload, headers, created_at, attempts) \
         SELECT ?, routing_key, ?, headers, created_at, 0 FROM outbox WHERE id = ?",
        vec![event_id.into(), envelope.encode_to_vec().into(), outbox_id.into()],
    )
    .await;

    let routing = instance.db_url("routing");
    let rows = sql(&routing, "SELECT lifecycle FROM report_replicas WHERE report_id = ?", vec![report.into()]).await;
    let lifecycle: String =
        rows.first().expect("routing's replica of the demo report").try_get("", "lifecycle").unwrap();
    sql(&routing, "UPDATE report_replicas SET lifecycle = 'damaged' WHERE report_id = ?", vec![report.into()]).await;
    (event_id, report, lifecycle)
}

/// A raw HTTP request without a token, for the refusal.
fn status_without_token(http: &str, method: &str, path: &str) -> String {
    let mut stream = std::net::TcpStream::connect(http).unwrap();
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: {http}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer.lines().next().unwrap_or_default().to_string()
}

fn remove(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_parked_event_survives_a_restart_and_is_replayed_by_the_command() {
    let instance = Instance::new();
    let (child, http) = instance.up("first", true);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    // Published by intake's relay, rejected by routing, parked durably.
    let (event_id, report, lifecycle) = rt.block_on(plant_unappliable_fact(&instance));
    let id = event_id.to_string();
    let lines = instance.parked_until(&http, "the fact parked", |lines| lines.iter().any(|l| l.starts_with(&id)));
    assert_eq!(lines.len(), 1, "only routing parks it (processing applies it): {lines:?}");
    let columns: Vec<&str> = lines[0].split('\t').collect();
    assert_eq!(&columns[..4], [id.as_str(), "routing.replica", "report.received", "1"], "{lines:?}");
    assert!(columns[5].contains(&format!("replica {report}")), "the reason: {lines:?}");
    assert!(status_without_token(&http, "GET", "/ops/parked").contains(" 401 "), "listing needs a token");
    assert!(
        status_without_token(&http, "POST", &format!("/ops/parked/{id}/replay")).contains(" 401 "),
        "replaying needs a token"
    );
    let early = instance.events(&http, &["replay", &Uuid::new_v4().to_string()]);
    assert!(!early.status.success(), "an unknown id is an error");
    stop(child);

    // With no process running, the listing reads the store itself.
    assert_eq!(instance.parked(&http), lines, "listed from bus.db while stopped");
    let offline = instance.events(&http, &["replay", &id]);
    assert!(!offline.status.success(), "a replay needs the running process");

    // Repaired, restarted: still parked, then replayed and gone.
    rt.block_on(sql(
        &instance.db_url("routing"),
        "UPDATE report_replicas SET lifecycle = ? WHERE report_id = ?",
        vec![lifecycle.into(), report.into()],
    ));
    let (child, http) = instance.up("second", false);
    assert_eq!(instance.parked(&http), lines, "the parked event survived the restart");
    let out = instance.events(&http, &["replay", &id]);
    assert!(out.status.success(), "paht events replay: {}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("replayed: 1"), "{}", String::from_utf8_lossy(&out.stdout));
    instance.parked_until(&http, "the replayed fact processed", |lines| lines.is_empty());
    stop(child);

    let applied = rt.block_on(sql(
        &instance.db_url("routing"),
        "SELECT COUNT(*) AS n FROM inbox WHERE consumer = 'routing' AND event_id = ?",
        vec![event_id.into()],
    ));
    assert_eq!(applied[0].try_get::<i64>("", "n").unwrap(), 1, "routing processed the replayed fact");
    let left = rt.block_on(sql(
        &format!("sqlite://{}", instance.data.join("bus.db").display()),
        "SELECT COUNT(*) AS n FROM bus_parked",
        vec![],
    ));
    assert_eq!(left[0].try_get::<i64>("", "n").unwrap(), 0, "the parking store is empty");
    remove(&instance.dir);
}
