//! Command-line arguments: the submit run (the default) and the database baseline.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Load generator for the PAHT intake service.
///
/// Without a subcommand it submits reports (`paht-load --rate 500 --duration 60s`); `baseline`
/// measures the database alone at the same concurrency, so a run can be read as a ratio.
#[derive(Debug, Parser)]
#[command(name = "paht-load", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// `baseline`; none submits reports.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of the submit run.
    #[command(flatten)]
    pub submit: SubmitArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Submit reports to IntakeService.SubmitReport (the default).
    Submit(SubmitArgs),
    /// The raw database baseline: single-row INSERT transactions at the same concurrency,
    /// through pgbench (Postgres) or the sqlite3 shell (SQLite).
    Baseline(BaselineArgs),
    /// A Markdown table of `--json` summaries: each submit run beside the baseline of the same
    /// label and rate; workflow runs in a table of their own.
    Table(TableArgs),
    /// The mixed workflow: each flow submits a report, accepts it, dispatches it to one agency,
    /// submits the agency's result and approves it, publishes the answer (or, for a reporter who
    /// asked for confidentiality, answers privately) and rates it as the reporter, across intake,
    /// routing, processing and publication.
    Workflow(Box<WorkflowArgs>),
}

/// How fast to send.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rate {
    /// Closed loop: every client sends its next request when the previous one answered.
    Max,
    /// Open loop: requests are due on a fixed schedule, this many per second.
    PerSecond(f64),
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("max") {
            return Ok(Rate::Max);
        }
        let digits = s.strip_suffix("/s").unwrap_or(s).replace('_', "");
        match digits.parse::<f64>() {
            Ok(n) if n.is_finite() && n > 0.0 => Ok(Rate::PerSecond(n)),
            _ => Err(format!("`{s}` is not a rate: give reports per second (e.g. 500) or `max`")),
        }
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rate::Max => f.write_str("max"),
            Rate::PerSecond(n) => write!(f, "{n}"),
        }
    }
}

/// Where each workflow flow ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Through {
    /// At the leader's ApproveResult: intake, routing and processing only (a server without
    /// publication).
    Approve,
    /// On through publication: PublishAnswer (AnswerPrivately for a confidential reporter), then
    /// RateReport as the reporter.
    Rate,
}

/// Parses `60s`, `1.5s`, `500ms`, `2m`, `1h` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let value: f64 = number.parse().map_err(|_| format!("`{s}` is not a duration: write e.g. 60s, 500ms or 2m"))?;
    let seconds = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => return Err(format!("unknown unit `{other}` in `{s}`: use ms, s, m or h")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("`{s}` is out of range"))
}

/// Options of the submit run.
#[derive(Clone, Debug, Args)]
pub struct SubmitArgs {
    /// The gRPC endpoint of the server.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    pub endpoint: String,
    /// Bearer token (`paht token --subject load --role system --unit IOC-86`).
    #[arg(long, env = "PAHT_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Reports per second (open loop, latency from each request's due time), or `max` (closed loop).
    #[arg(long, default_value = "max")]
    pub rate: Rate,
    /// Clients: the limit of requests in flight.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub concurrency: u32,
    /// HTTP/2 connections the clients share (round robin).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1_000))]
    pub connections: u32,
    /// How long to measure, after the warm-up.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,
    /// How long to send before measuring; those requests are not counted.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Deadline of one request; a request still open then counts as DEADLINE_EXCEEDED.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// The server's Prometheus text endpoint, read at the end for the outbox relay lag
    /// (e.g. http://127.0.0.1:8080/metrics); optional, and a failure only warns.
    #[arg(long)]
    pub metrics_url: Option<String>,
    /// The server's process id: its CPU time over the measured window is reported per report.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Command names of other processes whose CPU over the measured window is reported too,
    /// comma-separated (e.g. `postgres,beam.smp,redis-server`: the database, broker and cache).
    #[arg(long, value_delimiter = ',')]
    pub cpu_of: Vec<String>,
    /// A name for this run, repeated in the output (`scripts/load` uses the mode).
    #[arg(long)]
    pub label: Option<String>,
    /// Print one JSON object instead of the text report.
    #[arg(long)]
    pub json: bool,
}

/// Options of the workflow run.
///
/// Each role's token comes as the submit run's does: minted beforehand with `paht token` and
/// passed by flag or environment (see `--help` of each).
#[derive(Clone, Debug, Args)]
pub struct WorkflowArgs {
    /// The gRPC endpoint of every service (embedded mode and a `paht serve --services
    /// intake,routing,processing,publication` process serve all of them on one port).
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    pub target: String,
    /// IntakeService's endpoint, when not `--target`.
    #[arg(long)]
    pub intake: Option<String>,
    /// RoutingService's endpoint, when not `--target`.
    #[arg(long)]
    pub routing: Option<String>,
    /// ProcessingService's endpoint, when not `--target`.
    #[arg(long)]
    pub processing: Option<String>,
    /// PublicationService's endpoint, when not `--target` (unused with `--through approve`).
    #[arg(long)]
    pub publication: Option<String>,
    /// Where each flow ends: `rate` goes on past the approval through PublishAnswer (or
    /// AnswerPrivately) and RateReport; `approve` ends at ApproveResult, for servers without
    /// publication.
    #[arg(long, value_enum, default_value = "rate")]
    pub through: Through,
    /// The instance's rating key, from which the reporter's rating secret of each answer is
    /// derived (`--through rate`): the file `rating-key` of the data directory (`paht up`), or
    /// `[publication] rating_key` of the configuration (suite).
    #[arg(long, env = "PAHT_LOAD_RATING_KEY", hide_env_values = true)]
    pub rating_key: Option<String>,
    /// Token of the channel that submits (`paht token --subject load --role system --unit IOC-86`).
    #[arg(long, env = "PAHT_TOKEN", hide_env_values = true)]
    pub channel_token: Option<String>,
    /// Token of the IOC operator who accepts and dispatches
    /// (`paht token --subject load-op --role ioc_operator --unit IOC-86`).
    #[arg(long, env = "PAHT_OPERATOR_TOKEN", hide_env_values = true)]
    pub operator_token: Option<String>,
    /// Token of an officer of the agency, who submits the result
    /// (`paht token --subject load-officer --role officer --unit SO-XD-86`).
    #[arg(long, env = "PAHT_OFFICER_TOKEN", hide_env_values = true)]
    pub officer_token: Option<String>,
    /// Token of a leader of the agency, who approves the result
    /// (`paht token --subject load-leader --role leader --unit SO-XD-86`).
    #[arg(long, env = "PAHT_LEADER_TOKEN", hide_env_values = true)]
    pub leader_token: Option<String>,
    /// The IOC instance the operator acts for (the operator token's unit; named in hints).
    #[arg(long, default_value = "IOC-86")]
    pub instance: String,
    /// The agency every report is dispatched to, as lead (the officer and leader tokens' unit).
    #[arg(long, default_value = "SO-XD-86")]
    pub agency: String,
    /// The category the operator confirms at the check; empty keeps the reporter's (none).
    #[arg(long, default_value = "")]
    pub category: String,
    /// Flows started per second (open loop, latency from each flow's due time), or `max`
    /// (closed loop: each of `--concurrency` flows starts the next when it ends).
    #[arg(long, default_value = "max")]
    pub rate: Rate,
    /// Flows in flight at most.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub concurrency: u32,
    /// HTTP/2 connections to each distinct endpoint, shared by the flows (round robin).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1_000))]
    pub connections: u32,
    /// How long to measure, after the warm-up.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,
    /// How long to run flows before measuring; flows started then are not counted.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Deadline of one RPC; an RPC still open then counts as DEADLINE_EXCEEDED.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// First back-off before retrying a step the other service's replica is not ready for
    /// (FAILED_PRECONDITION or NOT_FOUND); doubles on each retry.
    #[arg(long, default_value = "2ms", value_parser = parse_duration)]
    pub retry_delay: Duration,
    /// Longest back-off between two retries.
    #[arg(long, default_value = "50ms", value_parser = parse_duration)]
    pub retry_max_delay: Duration,
    /// How long a step may wait for the other service to catch up before the flow fails with
    /// the last code.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub retry_patience: Duration,
    /// The server's Prometheus text endpoint, read at the end for the outbox relay lag; optional.
    #[arg(long)]
    pub metrics_url: Option<String>,
    /// The server's process id: its CPU time over the measured window is reported per flow.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Command names of other processes whose CPU over the measured window is reported too,
    /// comma-separated (e.g. `postgres,beam.smp,redis-server`).
    #[arg(long, value_delimiter = ',')]
    pub cpu_of: Vec<String>,
    /// A name for this run, repeated in the output.
    #[arg(long)]
    pub label: Option<String>,
    /// Print one JSON object instead of the text report.
    #[arg(long)]
    pub json: bool,
}

impl WorkflowArgs {
    /// The endpoints of the services the flows use — intake, routing, processing, then
    /// publication unless they end at the approval: each its own flag, else `--target`.
    pub fn endpoints(&self) -> Vec<&str> {
        let mut endpoints = vec![
            self.intake.as_deref().unwrap_or(&self.target),
            self.routing.as_deref().unwrap_or(&self.target),
            self.processing.as_deref().unwrap_or(&self.target),
        ];
        if self.through == Through::Rate {
            endpoints.push(self.publication.as_deref().unwrap_or(&self.target));
        }
        endpoints
    }
}

/// Options of the table.
#[derive(Clone, Debug, Args)]
pub struct TableArgs {
    /// JSON summaries written by `--json` runs and baselines.
    #[arg(required = true)]
    pub files: Vec<std::path::PathBuf>,
}

/// Options of the baseline.
#[derive(Clone, Debug, Args)]
pub struct BaselineArgs {
    /// `postgres://user@host:port/db` (runs pgbench) or `sqlite:PATH` (runs the sqlite3 shell).
    /// Use a database of its own: the baseline creates the table `load_baseline` in it.
    #[arg(long, env = "PAHT_LOAD_BASELINE_URL")]
    pub database_url: String,
    /// Transactions per second (pgbench -R), or `max`.
    #[arg(long, default_value = "max")]
    pub rate: Rate,
    /// Clients (pgbench -c); SQLite has one writer, so it always runs one.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub concurrency: u32,
    /// How long to measure, after the warm-up.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,
    /// How long to run before measuring.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Bytes of text in each inserted row (a submitted report is about 1–2 KB over three rows).
    #[arg(long, default_value_t = 512)]
    pub row_bytes: u32,
    /// The pgbench program.
    #[arg(long, default_value = "pgbench")]
    pub pgbench: String,
    /// The psql program (creates the table and reads fsync/synchronous_commit).
    #[arg(long, default_value = "psql")]
    pub psql: String,
    /// The sqlite3 program.
    #[arg(long, default_value = "sqlite3")]
    pub sqlite3: String,
    /// A name for this run, repeated in the output.
    #[arg(long)]
    pub label: Option<String>,
    /// Print one JSON object instead of the text report.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse() {
        assert_eq!("max".parse::<Rate>(), Ok(Rate::Max));
        assert_eq!("MAX".parse::<Rate>(), Ok(Rate::Max));
        assert_eq!("500".parse::<Rate>(), Ok(Rate::PerSecond(500.0)));
        assert_eq!("1_000".parse::<Rate>(), Ok(Rate::PerSecond(1000.0)));
        assert_eq!("2.5/s".parse::<Rate>(), Ok(Rate::PerSecond(2.5)));
        for bad in ["0", "-5", "fast", "", "inf", "NaN"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("5 fortnights").is_err());
        assert!(parse_duration("s").is_err());
    }

    #[test]
    fn submit_is_the_default_command() {
        let cli = Cli::try_parse_from([
            "paht-load",
            "--rate",
            "200",
            "--concurrency",
            "8",
            "--duration",
            "10s",
            "--token",
            "t",
        ])
        .unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.submit.rate, Rate::PerSecond(200.0));
        assert_eq!(cli.submit.concurrency, 8);
        assert_eq!(cli.submit.duration, Duration::from_secs(10));
        assert_eq!(cli.submit.warmup, Duration::from_secs(5));
        assert_eq!(cli.submit.endpoint, "http://127.0.0.1:50051");
    }

    #[test]
    fn baseline_is_a_subcommand() {
        let cli = Cli::try_parse_from([
            "paht-load",
            "baseline",
            "--database-url",
            "postgres://postgres@127.0.0.1/x",
            "--concurrency",
            "16",
            "--rate",
            "max",
        ])
        .unwrap();
        let Some(Command::Baseline(b)) = cli.command else { panic!("baseline expected") };
        assert_eq!(b.concurrency, 16);
        assert_eq!(b.rate, Rate::Max);
    }

    #[test]
    fn bad_values_are_refused_with_the_reason() {
        let err = Cli::try_parse_from(["paht-load", "--rate", "lots"]).unwrap_err().to_string();
        assert!(err.contains("reports per second"), "{err}");
        assert!(Cli::try_parse_from(["paht-load", "--concurrency", "0"]).is_err());
        assert!(Cli::try_parse_from(["paht-load", "--duration", "5 fortnights"]).is_err());
    }

    #[test]
    fn workflow_defaults_send_every_service_to_the_target() {
        let cli = Cli::try_parse_from(["paht-load", "workflow", "--target", "http://10.0.0.5:50051"]).unwrap();
        let Some(Command::Workflow(w)) = cli.command else { panic!("workflow expected") };
        assert_eq!(w.endpoints(), ["http://10.0.0.5:50051"; 4]);
        assert_eq!(w.through, Through::Rate);
        assert_eq!((w.instance.as_str(), w.agency.as_str(), w.category.as_str()), ("IOC-86", "SO-XD-86", ""));
        assert_eq!((w.rate, w.concurrency, w.connections), (Rate::Max, 32, 4));
        assert_eq!(
            (w.duration, w.warmup, w.timeout),
            (Duration::from_secs(30), Duration::from_secs(5), Duration::from_secs(10))
        );
        assert_eq!(
            (w.retry_delay, w.retry_max_delay, w.retry_patience),
            (Duration::from_millis(2), Duration::from_millis(50), Duration::from_secs(10))
        );
    }

    #[test]
    fn workflow_endpoints_tokens_and_rates() {
        let cli = Cli::try_parse_from([
            "paht-load",
            "workflow",
            "--routing",
            "http://r:2",
            "--processing",
            "http://p:3",
            "--publication",
            "http://q:4",
            "--rating-key",
            "k",
            "--channel-token",
            "c",
            "--operator-token",
            "o",
            "--officer-token",
            "f",
            "--leader-token",
            "l",
            "--agency",
            "UBND-29551",
            "--rate",
            "100",
            "--concurrency",
            "64",
            "--duration",
            "20s",
            "--warmup",
            "2s",
            "--retry-delay",
            "1ms",
            "--retry-patience",
            "3s",
            "--cpu-of",
            "postgres,beam.smp",
            "--json",
        ])
        .unwrap();
        let Some(Command::Workflow(w)) = cli.command else { panic!("workflow expected") };
        assert_eq!(w.endpoints(), ["http://127.0.0.1:50051", "http://r:2", "http://p:3", "http://q:4"]);
        assert_eq!(w.rating_key.as_deref(), Some("k"));
        let tokens = [&w.channel_token, &w.operator_token, &w.officer_token, &w.leader_token];
        assert_eq!(tokens.map(|t| t.as_deref().unwrap()), ["c", "o", "f", "l"]);
        assert_eq!(w.agency, "UBND-29551");
        assert_eq!((w.rate, w.concurrency), (Rate::PerSecond(100.0), 64));
        assert_eq!((w.duration, w.warmup), (Duration::from_secs(20), Duration::from_secs(2)));
        assert_eq!((w.retry_delay, w.retry_patience), (Duration::from_millis(1), Duration::from_secs(3)));
        assert_eq!(w.cpu_of, ["postgres", "beam.smp"]);
        assert!(w.json);
    }

    #[test]
    fn workflow_through_the_approval_leaves_publication_out() {
        let cli = Cli::try_parse_from(["paht-load", "workflow", "--through", "approve", "--publication", "http://q:4"])
            .unwrap();
        let Some(Command::Workflow(w)) = cli.command else { panic!("workflow expected") };
        assert_eq!(w.through, Through::Approve);
        assert_eq!(w.endpoints(), ["http://127.0.0.1:50051"; 3]);
    }

    #[test]
    fn workflow_refuses_bad_values_and_submit_flags() {
        for bad in [
            &["paht-load", "workflow", "--rate", "0"][..],
            &["paht-load", "workflow", "--concurrency", "0"],
            &["paht-load", "workflow", "--retry-delay", "soon"],
            &["paht-load", "workflow", "--through", "publish"],
            // The submit run's flags are not the workflow's.
            &["paht-load", "workflow", "--endpoint", "http://x:1"],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }
}
