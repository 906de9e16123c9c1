//! `paht replicas check` on real stores: the demo reports run through the real services
//! in one process (embedded SQLite files, and the suite's Postgres schemas), every view
//! agrees; then one view is changed by hand and the check names that report and field.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use chrono::TimeDelta;
use paht::ops::replicas::{self, Difference, Outcome};
use paht::runtime;
use paht_domain::lifecycle as lc;
use paht_platform::auth::AuthConfig;
use paht_platform::config::{Config, ConfigSource};
use paht_platform::db::{Db, DbConfig};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, Database};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("paht-replicas-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs every service in this process on `toml`'s storage, submits and works the demo
/// reports, and stops once the views agree.
async fn seed(toml: &str) -> Config {
    let source = ConfigSource::from_toml(toml);
    let config = source.platform().unwrap();
    let running = runtime::start(source, config.clone(), runtime::REGISTRY, CancellationToken::new()).await.unwrap();
    runtime::demo_data::seed(running.clients(), running.auth(), running.instance(), running.data_dir()).await.unwrap();
    let outcome = replicas::check_config(&config, Duration::from_secs(20)).await.unwrap();
    assert!(outcome.is_clean(), "{}", lines(&outcome));
    running.shutdown().await.unwrap();
    config
}

fn lines(outcome: &Outcome) -> String {
    let mut out: Vec<String> = outcome.divergences.iter().map(ToString::to_string).collect();
    out.push(outcome.summary());
    out.join("\n")
}

async fn service_db(config: &Config, service: &str) -> Db {
    let (url, schema) = config.database.for_service(&config.data_dir, service);
    Db::connect(&url, &schema, &DbConfig::default()).await.unwrap()
}

/// A report routing's view has with an agency at work, and that assignment's id.
async fn dispatched_report(routing: &Db) -> (Uuid, lc::Report) {
    let query = Query::select()
        .columns([Alias::new("report_id"), Alias::new("lifecycle")])
        .from(Alias::new("report_replicas"))
        .and_where(Expr::col(Alias::new("status")).eq("dispatched"))
        .to_owned();
    let row = routing.conn().query_all(&query).await.unwrap().into_iter().next().expect("a dispatched demo report");
    let id: Uuid = row.try_get("", "report_id").unwrap();
    let lifecycle: String = row.try_get("", "lifecycle").unwrap();
    (id, serde_json::from_str(&lifecycle).unwrap())
}

/// Builds the demo stores on `toml`, checks them, breaks three views by hand and checks
/// that each break is named: a deadline in routing's lifecycle, intake's status column,
/// and a view processing no longer has.
async fn equal_then_broken(toml: &str) -> Config {
    let config = seed(toml).await;
    let clean = replicas::check_config(&config, Duration::ZERO).await.unwrap();
    assert!(clean.is_clean(), "{}", lines(&clean));
    assert_eq!(clean.compared, 6, "the six demo reports");
    assert!(clean.held.iter().all(|(_, n)| *n == 0), "{:?}", clean.held);

    // Routing's handling deadline of one assignment moves by an hour.
    let routing = service_db(&config, "routing").await;
    let (report, mut state) = dispatched_report(&routing).await;
    let assignment = state.assignments[0].id;
    state.assignments[0].handling.due_at += TimeDelta::hours(1);
    let update = Query::update()
        .table(Alias::new("report_replicas"))
        .value(Alias::new("lifecycle"), serde_json::to_string(&state).unwrap())
        .and_where(Expr::col(Alias::new("report_id")).eq(report))
        .to_owned();
    assert_eq!(routing.conn().execute(&update).await.unwrap().rows_affected(), 1);
    routing.close().await.unwrap();

    // Intake's status column of another report says closed, its lifecycle does not.
    let intake = service_db(&config, "intake").await;
    let other = Query::select()
        .column(Alias::new("id"))
        .from(Alias::new("reports"))
        .and_where(Expr::col(Alias::new("id")).ne(report))
        .to_owned();
    let rows = intake.conn().query_all(&other).await.unwrap();
    let closed: Uuid = rows[0].try_get("", "id").unwrap();
    let missing: Uuid = rows[1].try_get("", "id").unwrap();
    let update = Query::update()
        .table(Alias::new("reports"))
        .value(Alias::new("status"), "closed")
        .and_where(Expr::col(Alias::new("id")).eq(closed))
        .to_owned();
    assert_eq!(intake.conn().execute(&update).await.unwrap().rows_affected(), 1);
    intake.close().await.unwrap();

    // Processing loses its view of a third.
    let processing = service_db(&config, "processing").await;
    let delete = Query::delete()
        .from_table(Alias::new("report_replicas"))
        .and_where(Expr::col(Alias::new("report_id")).eq(missing))
        .to_owned();
    assert_eq!(processing.conn().execute(&delete).await.unwrap().rows_affected(), 1);
    processing.close().await.unwrap();

    let broken = replicas::check_config(&config, Duration::ZERO).await.unwrap();
    let text = lines(&broken);
    assert_eq!(broken.compared, 6, "{text}");
    assert_eq!(broken.divergences.len(), 3, "{text}");
    assert!(text.ends_with("6 reports compared, 3 divergences"), "{text}");
    let of = |id: Uuid| broken.divergences.iter().find(|d| d.report == id).unwrap_or_else(|| panic!("{id}: {text}"));
    let deadline = of(report);
    assert_eq!(deadline.fields(), [format!("assignments[{assignment}].handling")], "{text}");
    let Difference::Field { values, .. } = &deadline.differences[0] else { panic!("{text}") };
    // intake, routing, processing, publication (the registry's order).
    assert_eq!(values.len(), 4);
    assert_ne!(values[1].1, values[0].1, "routing differs: {text}");
    assert_eq!(values[2].1, values[0].1, "intake and processing agree: {text}");
    assert_eq!(values[3].1, values[0].1, "intake and publication agree: {text}");
    assert_eq!(of(closed).fields(), ["status column"], "{text}");
    assert!(of(closed).to_string().contains("intake status column closed"), "{text}");
    assert_eq!(of(missing).differences, [Difference::Missing("processing")], "{text}");
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_stores_agree_and_a_view_changed_by_hand_is_named() {
    let dir = temp_dir();
    let data = dir.join("data");
    let toml = format!("data_dir = \"{}\"\ngrpc_addr = \"127.0.0.1:0\"\nhttp_addr = \"127.0.0.1:0\"\n", data.display());
    equal_then_broken(&toml).await;

    // The operator's command on the files `paht up` leaves: one line per divergence, the
    // summary, exit status 1; no personal data (the demo reporters' names and texts).
    let out = Command::new(env!("CARGO_BIN_EXE_paht"))
        .args(["replicas", "check", "--data-dir"])
        .arg(&data)
        .env_remove("PAHT_CONFIG")
        .env_remove("PAHT_DATA_DIR")
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let printed: Vec<&str> = stdout.lines().collect();
    assert_eq!(printed.len(), 4, "{stdout}");
    assert!(printed[..3].iter().all(|l| l.starts_with("report ")), "{stdout}");
    assert_eq!(printed[3], "6 reports compared, 3 divergences");
    assert!(stdout.is_ascii(), "ids, states and instants only: {stdout}");

    let empty = temp_dir();
    let out = Command::new(env!("CARGO_BIN_EXE_paht"))
        .args(["replicas", "check", "--data-dir"])
        .arg(&empty)
        .env_remove("PAHT_CONFIG")
        .env_remove("PAHT_DATA_DIR")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no intake database"), "{out:?}");
    assert!(!empty.join("intake.db").exists(), "the check creates no store");
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(empty);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suite_stores_agree_and_a_view_changed_by_hand_is_named() {
    let admin_url = std::env::var("PAHT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("paht_replicas_{}", Uuid::new_v4().simple());
    let admin = Database::connect(&admin_url).await.expect("Postgres");
    admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
    let (base, _) = admin_url.rsplit_once('/').unwrap();
    let url = format!("{base}/{name}");
    let dir = temp_dir();
    let auth = AuthConfig::ephemeral();
    let vault = paht_intake::vault::VaultKey::generate("k1");
    let toml = format!(
        r#"
data_dir = "{data}"
grpc_addr = "127.0.0.1:0"
http_addr = "127.0.0.1:0"
[database]
url = "{url}"
[auth]
keys = [{{ kid = "{kid}", secret = "{secret}" }}]
active_kid = "{kid}"
[intake]
phone_pepper = "replicas-pepper-16-bytes"
[intake.vault]
keys = [{{ id = "k1", key_base64 = "{vault}" }}]
active = "k1"
[publication]
rating_key = "replicas-rating-key-of-thirty-two-bytes"
"#,
        data = dir.join("data").display(),
        kid = auth.keys[0].kid,
        secret = auth.keys[0].secret,
        vault = vault.key_base64,
    );
    equal_then_broken(&toml).await;
    let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
    let _ = std::fs::remove_dir_all(dir);
}
