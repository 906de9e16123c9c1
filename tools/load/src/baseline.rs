//! The database alone: single-row INSERT transactions at the submit run's concurrency, so a
//! submit figure reads as a fraction of what the database can do on the same machine.
//!
//! Postgres is driven by pgbench (the reference tool: prepared statements, one connection per
//! client, per-transaction logs with latency from the scheduled start under `-R`) rather than by
//! a client library in this binary; its logs are read into the same histograms and summary as a
//! submit run. SQLite (embedded mode) is driven by the sqlite3 shell with the platform's
//! settings (WAL, synchronous=FULL); it has one writer, so it runs one client.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::args::{BaselineArgs, Rate};
use crate::summary::{PerSecond, Percentiles, Summary, Tally};

/// The table every baseline inserts into.
const TABLE: &str = "load_baseline";

/// Runs the baseline the URL names.
pub fn run(args: &BaselineArgs) -> anyhow::Result<Summary> {
    let url = args.database_url.as_str();
    if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
        sqlite(args, Path::new(path))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        postgres(args)
    } else {
        bail!("`{url}` is neither postgres://… nor sqlite:PATH")
    }
}

fn output_of(command: &mut Command, what: &str) -> anyhow::Result<String> {
    let out = command.output().with_context(|| format!("cannot start {what}: is it installed and on PATH?"))?;
    if !out.status.success() {
        bail!("{what} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn scratch_dir() -> anyhow::Result<PathBuf> {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    let dir = std::env::temp_dir().join(format!("paht-load-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// The statement of one transaction: one row with `row_bytes` of text.
fn insert_sql(row_bytes: u32, random_text: &str) -> String {
    format!("INSERT INTO {TABLE} (payload) VALUES ({random_text});")
        .replace("{n}", &row_bytes.div_ceil(32).max(1).to_string())
}

/// One transaction of a pgbench log: `client_id transaction_no time script_no time_epoch
/// time_us [schedule_lag] [retries]`. `time` is the latency in microseconds, counted from the
/// scheduled start under `-R`; it is a word (`failed`, `skipped`) for a transaction that did not commit.
#[derive(Clone, Copy, Debug, PartialEq)]
struct LoggedTransaction {
    /// Latency in microseconds; `None` for a failed or skipped transaction.
    latency_us: Option<u64>,
    /// When it finished, in microseconds since the epoch.
    done_us: u64,
    /// Time spent waiting behind the schedule (`-R` only).
    lag_us: u64,
}

fn parse_log_line(line: &str) -> Option<LoggedTransaction> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 6 {
        return None;
    }
    let epoch: u64 = f[4].parse().ok()?;
    let micros: u64 = f[5].parse().ok()?;
    Some(LoggedTransaction {
        latency_us: f[2].parse().ok(),
        done_us: epoch * 1_000_000 + micros,
        lag_us: f.get(6).and_then(|v| v.parse().ok()).unwrap_or(0),
    })
}

/// Tallies logged transactions whose (scheduled) start falls in the measured window, which
/// begins `warmup` after the first transaction started and lasts `duration`.
fn tally_log(transactions: &[LoggedTransaction], warmup: Duration, duration: Duration) -> Tally {
    let start_of = |t: &LoggedTransaction| t.done_us.saturating_sub(t.latency_us.unwrap_or(0));
    let mut tally = Tally::default();
    let Some(first) = transactions.iter().map(start_of).min() else { return tally };
    let measure_start = first + warmup.as_micros() as u64;
    let end = measure_start + duration.as_micros() as u64;
    for t in transactions {
        if !(measure_start..end).contains(&start_of(t)) {
            continue;
        }
        let second = (t.done_us.saturating_sub(measure_start) / 1_000_000) as usize;
        let latency = Duration::from_micros(t.latency_us.unwrap_or(0));
        let service = latency.saturating_sub(Duration::from_micros(t.lag_us));
        let error = if t.latency_us.is_some() { None } else { Some("FAILED") };
        tally.record(latency, service, second, error);
    }
    tally
}

fn postgres(args: &BaselineArgs) -> anyhow::Result<Summary> {
    let url = &args.database_url;
    let psql = |sql: &str| {
        output_of(
            Command::new(&args.psql).args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql, url]),
            "psql",
        )
    };
    psql(&format!(
        "CREATE TABLE IF NOT EXISTS {TABLE} (id bigserial PRIMARY KEY, payload text NOT NULL, \
         created_at timestamptz NOT NULL DEFAULT now())"
    ))?;
    let settings = psql(
        "SELECT 'fsync=' || current_setting('fsync') || ' synchronous_commit=' || current_setting('synchronous_commit') \
         || ' wal_sync_method=' || current_setting('wal_sync_method')",
    )?;

    let dir = scratch_dir()?;
    let script = dir.join("insert.sql");
    std::fs::write(&script, insert_sql(args.row_bytes, "repeat(md5(random()::text), {n})") + "\n")?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get() as u32).min(args.concurrency);
    let seconds = (args.warmup + args.duration).as_secs_f64().ceil() as u64;
    let mut pgbench = Command::new(&args.pgbench);
    pgbench
        .args(["-n", "-M", "prepared", "-l"])
        .arg(format!("--log-prefix={}", dir.join("log").display()))
        .arg(format!("--file={}", script.display()))
        .args(["-c", &args.concurrency.to_string(), "-j", &threads.to_string(), "-T", &seconds.to_string()]);
    if let Rate::PerSecond(rate) = args.rate {
        pgbench.args(["-R", &format!("{rate}")]);
    }
    pgbench.arg(url);
    let report = output_of(&mut pgbench, "pgbench")?;

    let mut transactions = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("log.")) {
            let text = std::fs::read_to_string(&path)?;
            transactions.extend(text.lines().filter_map(parse_log_line));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    if transactions.is_empty() {
        bail!("pgbench wrote no transaction log; its report was:\n{report}");
    }
    let tally = tally_log(&transactions, args.warmup, args.duration);
    let mut notes = vec![format!("pgbench {threads} thread(s), prepared statements; server {}", settings.trim())];
    if matches!(args.rate, Rate::PerSecond(_)) {
        notes.push("pgbench -R schedules transactions as a Poisson process at that mean rate".into());
    }
    Ok(summary(args, "baseline-postgres", args.concurrency, &tally, notes))
}

fn summary(args: &BaselineArgs, target: &str, concurrency: u32, tally: &Tally, notes: Vec<String>) -> Summary {
    let seconds = args.duration.as_secs_f64();
    Summary {
        label: args.label.clone(),
        target: target.into(),
        mode: if matches!(args.rate, Rate::Max) { "closed" } else { "open" }.into(),
        rate: match args.rate {
            Rate::PerSecond(r) => Some(r),
            Rate::Max => None,
        },
        concurrency,
        connections: None,
        duration_secs: seconds,
        sent: tally.sent,
        accepted: tally.accepted,
        errors: tally.errors.clone(),
        missed: 0,
        throughput: tally.accepted as f64 / seconds,
        per_second: PerSecond::of(&tally.per_second, args.duration.as_secs() as usize),
        latency_ms: Percentiles::of(&tally.latency),
        service_ms: Percentiles::of(&tally.service),
        notes,
        ..Summary::default()
    }
}

/// A sqlite3 shell kept open for the whole run, fed statements on standard input. Kept open
/// because the last connection to close deletes the WAL file, and appending to a new WAL file
/// costs far more per fsync than rewriting a recycled one, as the server's pooled connections do.
struct SqliteShell {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: std::io::BufReader<std::process::ChildStdout>,
}

/// The line the shell prints when it has run everything sent before it.
const MARK: &str = "paht-load-mark";

impl SqliteShell {
    fn open(program: &str, path: &Path) -> anyhow::Result<SqliteShell> {
        use std::process::Stdio;
        let mut child = Command::new(program)
            .args(["-batch", "-bail"])
            .arg(path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot start sqlite3: is it installed and on PATH?")?;
        let stdin = child.stdin.take().context("sqlite3 has no stdin")?;
        let stdout = std::io::BufReader::new(child.stdout.take().context("sqlite3 has no stdout")?);
        Ok(SqliteShell { child, stdin, stdout })
    }

    /// Runs `sql` and waits until the shell has finished it.
    fn run(&mut self, sql: &str) -> anyhow::Result<()> {
        use std::io::{BufRead as _, Write as _};
        write!(self.stdin, "{sql}\nSELECT '{MARK}';\n").context("sqlite3 stopped (see its error above)")?;
        self.stdin.flush()?;
        let mut line = String::new();
        loop {
            line.clear();
            if self.stdout.read_line(&mut line)? == 0 {
                bail!("sqlite3 stopped (see its error above)");
            }
            if line.trim_end() == MARK {
                return Ok(());
            }
        }
    }

    fn close(mut self) -> anyhow::Result<()> {
        drop(self.stdin);
        let status = self.child.wait()?;
        if !status.success() {
            bail!("sqlite3 failed ({status})");
        }
        Ok(())
    }
}

/// SQLite: batches of autocommit inserts in one sqlite3 shell until the time is up. Only
/// throughput and the mean are known (the shell does not time single statements), at one writer.
fn sqlite(args: &BaselineArgs, path: &Path) -> anyhow::Result<Summary> {
    const BATCH: u64 = 50;
    if matches!(args.rate, Rate::PerSecond(_)) {
        bail!("the SQLite baseline runs as fast as possible only: pass --rate max");
    }
    let mut shell = SqliteShell::open(&args.sqlite3, path)?;
    shell.run(&format!(
        "PRAGMA journal_mode=WAL;\nPRAGMA synchronous=FULL;\nPRAGMA busy_timeout=5000;\n\
         CREATE TABLE IF NOT EXISTS {TABLE} (id INTEGER PRIMARY KEY, payload TEXT NOT NULL, \
         created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP);"
    ))?;
    let insert = insert_sql(args.row_bytes, "hex(randomblob({n} * 16))");
    let batch = format!("{insert}\n").repeat(BATCH as usize);

    let started = Instant::now();
    while started.elapsed() < args.warmup {
        shell.run(&batch)?;
    }
    let measuring = Instant::now();
    let mut tally = Tally::default();
    while measuring.elapsed() < args.duration {
        shell.run(&batch)?;
        let second = measuring.elapsed().as_secs() as usize;
        if tally.per_second.len() <= second {
            tally.per_second.resize(second + 1, 0);
        }
        tally.per_second[second] += BATCH;
        tally.sent += BATCH;
        tally.accepted += BATCH;
    }
    let elapsed = measuring.elapsed();
    shell.close()?;
    let mut s = summary(args, "baseline-sqlite", 1, &tally, Vec::new());
    s.duration_secs = elapsed.as_secs_f64();
    s.throughput = tally.accepted as f64 / s.duration_secs;
    s.notes.push(format!(
        "sqlite3 shell, WAL, synchronous=FULL, one writer; mean {:.3} ms per transaction, no percentiles",
        elapsed.as_secs_f64() * 1000.0 / tally.accepted.max(1) as f64
    ));
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_parse_with_and_without_schedule_lag() {
        assert_eq!(
            parse_log_line("3 17 1523 0 1712345678 250000"),
            Some(LoggedTransaction { latency_us: Some(1523), done_us: 1_712_345_678_250_000, lag_us: 0 })
        );
        assert_eq!(parse_log_line("0 5 2100 0 1712345678 1 400").unwrap().lag_us, 400);
        assert_eq!(parse_log_line("0 5 failed 0 1712345678 1").unwrap().latency_us, None);
        assert_eq!(parse_log_line("not a log line"), None);
    }

    #[test]
    fn only_the_measured_window_counts() {
        // One transaction every 10 ms for 3 s, each taking 2 ms, the last one failed.
        let t0 = 1_700_000_000_000_000u64;
        let mut log: Vec<LoggedTransaction> = (0..300)
            .map(|i| LoggedTransaction { latency_us: Some(2_000), done_us: t0 + i * 10_000 + 2_000, lag_us: 500 })
            .collect();
        log.last_mut().unwrap().latency_us = None;
        let tally = tally_log(&log, Duration::from_secs(1), Duration::from_secs(1));
        assert_eq!(tally.sent, 100);
        assert_eq!(tally.accepted, 100);
        assert_eq!(tally.per_second, vec![100]);
        let p = Percentiles::of(&tally.latency).unwrap();
        assert!((p.p50 - 2.0).abs() < 0.01, "{p:?}");
        assert!((Percentiles::of(&tally.service).unwrap().p50 - 1.5).abs() < 0.01);

        let all = tally_log(&log, Duration::ZERO, Duration::from_secs(10));
        assert_eq!((all.sent, all.accepted, all.errors.get("FAILED")), (300, 299, Some(&1)));
    }

    #[test]
    fn rows_have_the_requested_size() {
        assert_eq!(
            insert_sql(512, "repeat(md5(random()::text), {n})"),
            "INSERT INTO load_baseline (payload) VALUES (repeat(md5(random()::text), 16));"
        );
        assert!(insert_sql(1, "x{n}").contains("x1"));
    }

    #[test]
    fn unknown_urls_are_refused() {
        let args = crate::args::BaselineArgs {
            database_url: "mysql://x".into(),
            rate: Rate::Max,
            concurrency: 1,
            duration: Duration::from_secs(1),
            warmup: Duration::ZERO,
            row_bytes: 32,
            pgbench: "pgbench".into(),
            psql: "psql".into(),
            sqlite3: "sqlite3".into(),
            label: None,
            json: false,
        };
        assert!(run(&args).unwrap_err().to_string().contains("neither"));
    }
}
