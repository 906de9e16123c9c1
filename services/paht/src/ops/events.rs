//! Parked events: where the in-process bus keeps them, and the operator's commands
//! `paht events parked` and `paht events replay`.
//!
//! Where the commands go:
//! - RabbitMQ configured (`[bus] backend = "rabbitmq"`, suite mode): straight to the broker,
//!   whose durable parking queues hold the events whatever process parked them.
//! - In-process bus (embedded mode, `paht up`): to the running process's `/ops/parked`
//!   endpoints on its HTTP address (`--http-addr`, or the configured one), with a
//!   `system_operator` token minted from the process's keys (see [`super::http`]), because
//!   only that process can hand a replayed event to its consumers. When nothing listens
//!   there, `parked` reads the parking store (`bus.db`) directly; `replay` asks for the
//!   process to be started.
//!
//! Embedded mode's parking store is its own SQLite file, `bus.db` in the data directory (a
//! `bus` schema when the in-process bus runs over the suite's Postgres): the parked messages
//! belong to the bus, not to one service — a message parks once per consuming queue — and a
//! file of its own keeps the services' databases and migrations as they are, as a broker's
//! parking queues live apart from the services' databases.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use paht_domain::actor::Role;
use paht_domain::ids::UnitId;
use paht_platform::auth::TokenIssuer;
use paht_platform::bus::inproc::{InProcBus, ParkedStore};
use paht_platform::bus::rabbitmq::RabbitBus;
use paht_platform::bus::{Bus, BusError, DeadLetter};
use paht_platform::config::{BusBackend, Config};
use paht_platform::db::Db;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

use crate::settings;

/// The parking store's database name: `bus.db` in the data directory, or schema `bus`.
pub const STORE_NAME: &str = "bus";

/// How many parked events a listing returns unless told.
pub const DEFAULT_LIMIT: usize = 100;

/// The most a listing returns.
pub const MAX_LIMIT: usize = 10_000;

/// Longest reason shown; the rest is cut.
const REASON_SHOWN: usize = 300;

/// Opens (and migrates) the parking store of the configuration's in-process bus.
pub async fn open_store(config: &Config) -> anyhow::Result<ParkedStore> {
    let (url, schema) = config.database.for_service(&config.data_dir, STORE_NAME);
    let db = Db::connect(&url, &schema, &config.database.pool).await.context("connecting the bus's parking store")?;
    ParkedStore::open(db).await.context("creating the bus's parking store")
}

/// The in-process bus of a process, parking durably in [`open_store`].
pub async fn inproc_bus(config: &Config) -> anyhow::Result<InProcBus> {
    Ok(InProcBus::with_parked_store(open_store(config).await?))
}

/// A parked event as the operator sees it: which event, where, why — never its payload
/// (which carries the report and its reporter).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParkedEvent {
    /// The event id.
    pub id: Uuid,
    /// The consumer (queue) that could not process it.
    pub queue: String,
    /// The event kind (routing key), e.g. `report.received`.
    pub event: String,
    /// Attempts made before it was parked.
    pub attempts: u32,
    /// When it was parked.
    pub parked_at: DateTime<Utc>,
    /// The last error, on one line and cut to a few hundred characters.
    pub reason: String,
}

impl ParkedEvent {
    fn of(letter: &DeadLetter) -> Self {
        let mut reason: String = letter.reason.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        if let Some((cut, _)) = reason.char_indices().nth(REASON_SHOWN) {
            reason.truncate(cut);
            reason.push('…');
        }
        ParkedEvent {
            id: letter.message.id,
            queue: letter.queue.clone(),
            event: letter.message.routing_key.clone(),
            attempts: letter.attempts,
            parked_at: letter.parked_at,
            reason,
        }
    }
}

/// The answer to a replay.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Replayed {
    /// How many parked events went back to their consumer.
    pub replayed: usize,
}

/// An endpoint's error answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Problem {
    /// What went wrong.
    pub error: String,
}

/// Every consuming service's queue.
pub const QUEUES: [&str; 4] =
    [paht_intake::follow::QUEUE, paht_routing::QUEUE, paht_processing::QUEUE, paht_publication::QUEUE];

/// The queues to look in: `queue`, or every service's.
fn queues(queue: Option<&str>) -> Vec<String> {
    match queue {
        Some(queue) => vec![queue.to_string()],
        None => QUEUES.iter().map(|q| (*q).to_string()).collect(),
    }
}

/// Up to `limit` parked events of `queue` (or of every service's queue), oldest first.
/// Looking in every queue skips those the bus does not know.
pub async fn list(bus: &dyn Bus, queue: Option<&str>, limit: usize) -> Result<Vec<ParkedEvent>, BusError> {
    let mut parked = Vec::new();
    for name in queues(queue) {
        match bus.dead_letters(&name, limit).await {
            Ok(letters) => parked.extend(letters.iter().map(ParkedEvent::of)),
            Err(BusError::Config(_)) if queue.is_none() => {}
            Err(e) => return Err(e),
        }
    }
    parked.sort_by_key(|p| p.parked_at);
    parked.truncate(limit);
    Ok(parked)
}

/// Sends the parked event `id` (or, without one, every parked event of `queue`) back to its
/// consumer; without `queue`, from every service's queue where it is parked. Returns how many.
pub async fn replay(bus: &dyn Bus, queue: Option<&str>, id: Option<Uuid>) -> Result<usize, BusError> {
    if id.is_none() && queue.is_none() {
        return Err(BusError::Config("replaying every parked event needs a queue".into()));
    }
    let ids = id.map(|id| [id]);
    let mut replayed = 0;
    for name in queues(queue) {
        match bus.replay_dead_letters(&name, ids.as_ref().map(|ids| &ids[..])).await {
            Ok(n) => replayed += n,
            Err(BusError::Config(_)) if queue.is_none() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(replayed)
}

/// `paht events …`
#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// List parked events (those a consumer could not process): id, queue, event kind,
    /// attempts, when and why; never their content.
    Parked {
        #[command(flatten)]
        target: Target,
        /// Only this consumer's queue (intake.follow, routing.replica, processing.replica, publication.replica); all
        /// by default.
        #[arg(long)]
        queue: Option<String>,
        /// At most this many, oldest first.
        #[arg(long, default_value_t = DEFAULT_LIMIT)]
        limit: usize,
    },
    /// Send a parked event back to its consumer (with fresh attempts); consumers skip what
    /// they processed already, so a replay is safe to repeat.
    Replay {
        #[command(flatten)]
        target: Target,
        /// The event id, as `paht events parked` lists it.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<Uuid>,
        /// Every parked event of `--queue`.
        #[arg(long, requires = "queue")]
        all: bool,
        /// Only from this consumer's queue; every queue where the event is parked by default.
        #[arg(long)]
        queue: Option<String>,
    },
}

/// Which process or broker the command talks to.
#[derive(Debug, Args)]
pub struct Target {
    /// The configuration file (suite mode: its `[bus]` names RabbitMQ).
    #[arg(long, env = "PAHT_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory of embedded mode [env PAHT_DATA_DIR].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The HTTP address of the running `paht up`, as its banner prints it [env PAHT_HTTP_ADDR].
    #[arg(long)]
    http_addr: Option<SocketAddr>,
}

impl Target {
    fn load(&self) -> anyhow::Result<Config> {
        let (_, mut config) = settings::load(self.config.as_deref())?;
        if let Some(dir) = &self.data_dir {
            config.data_dir.clone_from(dir);
        }
        if let Some(addr) = self.http_addr {
            config.http_addr = addr;
        }
        Ok(config)
    }
}

/// Runs an `events` command, printing to `out`.
pub fn run(command: EventsCommand, out: &mut impl Write) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    match command {
        EventsCommand::Parked { target, queue, limit } => {
            let config = target.load()?;
            let parked = runtime.block_on(parked(&config, queue.as_deref(), limit.min(MAX_LIMIT)))?;
            print_parked(&parked, out)
        }
        EventsCommand::Replay { target, id, all: _, queue } => {
            let config = target.load()?;
            let replayed = runtime.block_on(replayed(&config, queue.as_deref(), id))?;
            if replayed == 0 {
                match id {
                    Some(id) => bail!("không có sự kiện {id} bị giữ lại / no parked event {id}"),
                    None => writeln!(out, "# không có sự kiện bị giữ lại / no parked events")?,
                }
            } else {
                writeln!(out, "đã gửi lại / replayed: {replayed}")?;
            }
            Ok(())
        }
    }
}

fn print_parked(parked: &[ParkedEvent], out: &mut impl Write) -> anyhow::Result<()> {
    if parked.is_empty() {
        writeln!(out, "# không có sự kiện bị giữ lại / no parked events")?;
        return Ok(());
    }
    writeln!(
        out,
        "# mã sự kiện (id)\thàng đợi (queue)\tloại (event)\tsố lần thử (attempts)\tlúc giữ lại (parked_at)\tlý do (reason)"
    )?;
    for p in parked {
        writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}\t{}",
            p.id,
            p.queue,
            p.event,
            p.attempts,
            p.parked_at.to_rfc3339(),
            p.reason
        )?;
    }
    Ok(())
}

async fn parked(config: &Config, queue: Option<&str>, limit: usize) -> anyhow::Result<Vec<ParkedEvent>> {
    if config.bus.backend == BusBackend::Rabbitmq {
        let bus = rabbit(config).await?;
        let listed = list(bus.as_ref(), queue, limit).await;
        bus.close().await;
        return Ok(listed?);
    }
    let mut path = format!("/ops/parked?limit={limit}");
    if let Some(queue) = queue {
        path.push_str(&format!("&queue={queue}"));
    }
    match request(config, "GET", &path).await? {
        Some(body) => serde_json::from_str(&body).context("reading the process's answer"),
        None => {
            // Nothing runs there: read the store as the last process left it.
            if settings::is_embedded(config) && !config.data_dir.join(format!("{STORE_NAME}.db")).is_file() {
                return Ok(Vec::new());
            }
            let store = open_store(config).await?;
            let listed = list(&InProcBus::with_parked_store(store.clone()), queue, limit).await;
            let _ = store.db().clone().close().await;
            Ok(listed?)
        }
    }
}

async fn replayed(config: &Config, queue: Option<&str>, id: Option<Uuid>) -> anyhow::Result<usize> {
    if config.bus.backend == BusBackend::Rabbitmq {
        let bus = rabbit(config).await?;
        let replayed = replay(bus.as_ref(), queue, id).await;
        bus.close().await;
        return Ok(replayed?);
    }
    let mut path = match id {
        Some(id) => format!("/ops/parked/{id}/replay"),
        None => "/ops/parked/replay".to_string(),
    };
    if let Some(queue) = queue {
        path.push_str(&format!("?queue={queue}"));
    }
    match request(config, "POST", &path).await? {
        Some(body) => Ok(serde_json::from_str::<Replayed>(&body).context("reading the process's answer")?.replayed),
        None => bail!(
            "không có tiến trình PAHT nào tại {addr} / nothing listens at {addr}: start `paht up` (replayed events \
             go to its consumers), then replay; pass --http-addr if it listens elsewhere",
            addr = config.http_addr
        ),
    }
}

async fn rabbit(config: &Config) -> anyhow::Result<Arc<RabbitBus>> {
    Ok(Arc::new(RabbitBus::connect(config.bus.rabbitmq.clone()).await.context("connecting RabbitMQ")?))
}

/// One request to the process's `/ops` endpoint with a fresh `system_operator` token; the
/// body of a 2xx answer, `None` when nothing listens, an error otherwise.
async fn request(config: &Config, method: &str, path: &str) -> anyhow::Result<Option<String>> {
    let issuer = TokenIssuer::new(&settings::auth(config)?)?;
    let instance = &config.instance_id;
    let token = issuer.mint("paht-events", Role::SystemOperator, &UnitId::new(instance), instance, Some(MINTED_TTL))?;
    let addr = config.http_addr;
    let exchange = async {
        let mut stream = match tokio::net::TcpStream::connect(addr).await {
            Ok(stream) => stream,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("connecting to {addr}")),
        };
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Length: 0\r\n\
             Connection: close\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        Ok(Some(answer))
    };
    let answer = tokio::time::timeout(Duration::from_secs(30), exchange)
        .await
        .with_context(|| format!("no answer from {addr} within 30 s"))??;
    let Some(answer) = answer else { return Ok(None) };
    let (status, body) = parse_response(&answer).with_context(|| format!("the answer of {addr} is not HTTP"))?;
    if !(200..300).contains(&status) {
        let error = serde_json::from_str::<Problem>(&body).map(|p| p.error).unwrap_or(body);
        bail!("{addr} answered {status}: {error}");
    }
    Ok(Some(body))
}

/// Lifetime of the token a command mints for itself.
const MINTED_TTL: Duration = Duration::from_secs(60);

/// The status and body of an HTTP/1.1 answer (the endpoints send a `Content-Length`, never
/// chunks).
fn parse_response(answer: &[u8]) -> Option<(u16, String)> {
    let text = std::str::from_utf8(answer).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_is_shown_on_one_line_and_cut() {
        let letter = DeadLetter {
            message: paht_platform::bus::Message {
                id: Uuid::nil(),
                routing_key: "report.received".into(),
                payload: "Nguyễn Văn A, 0912345678".into(),
                headers: Default::default(),
            },
            queue: "routing".into(),
            reason: format!("line one\nline two {}", "x".repeat(500)),
            attempts: 1,
            parked_at: Utc::now(),
        };
        let shown = ParkedEvent::of(&letter);
        assert!(shown.reason.starts_with("line one line two"));
        assert_eq!(shown.reason.chars().count(), REASON_SHOWN + 1);
        let mut out = Vec::new();
        print_parked(&[shown], &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("0912345678"), "never the payload");
        assert_eq!(text.lines().count(), 2);
    }

    #[test]
    fn answers_are_parsed() {
        let answer = b"HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(parse_response(answer), Some((404, "{}".to_string())));
        assert_eq!(parse_response(b"garbage"), None);
    }
}
