//! `paht`: the one binary of the PAHT suite — embedded mode (`paht up`), one service per
//! process (`paht serve --services NAME`), migrations, and the administrator's commands.

mod demo;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use paht::runtime;
use paht::{calendar_cmd, settings};
use paht_domain::actor::Role;
use paht_domain::ids::UnitId;
use paht_platform::auth::TokenIssuer;
use paht_platform::config::Config;
use paht_platform::server::shutdown_on_signals;
use paht_platform::service::Registration;
use paht_platform::telemetry;

/// PAHT — the field-report system of a province (phản ánh hiện trường).
#[derive(Debug, Parser)]
#[command(name = "paht", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

/// Where the process listens and keeps its data; flags win over `PAHT_*` and the file.
#[derive(Debug, Args, Default)]
struct Place {
    /// The configuration file (see deploy/config/paht.sample.toml).
    #[arg(long, env = "PAHT_CONFIG")]
    config: Option<PathBuf>,
    /// gRPC listen address [default 127.0.0.1:50051; env PAHT_GRPC_ADDR].
    #[arg(long)]
    grpc_addr: Option<SocketAddr>,
    /// HTTP listen address (/healthz, /readyz, /metrics) [default 127.0.0.1:8080; env PAHT_HTTP_ADDR].
    #[arg(long)]
    http_addr: Option<SocketAddr>,
    /// Data directory of embedded mode [default ./data; env PAHT_DATA_DIR].
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

impl Place {
    fn load(&self) -> anyhow::Result<(paht_platform::config::ConfigSource, Config)> {
        let (source, mut config) = settings::load(self.config.as_deref())?;
        if let Some(addr) = self.grpc_addr {
            config.grpc_addr = addr;
        }
        if let Some(addr) = self.http_addr {
            config.http_addr = addr;
        }
        if let Some(dir) = &self.data_dir {
            config.data_dir.clone_from(dir);
        }
        Ok((source, config))
    }
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Read FILE as every service would (platform settings and each service's section, strictly:
    /// unknown keys and bad values fail) without starting anything; prints the sections read.
    Check {
        /// The configuration file.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole system on this machine: every service in one process, SQLite under
    /// the data directory, in-process bus, in-memory cache, demo data (embedded mode).
    Up {
        #[command(flatten)]
        place: Place,
        /// Do not submit the demo reports.
        #[arg(long)]
        no_demo: bool,
    },
    /// Run the named services in this process (suite mode: one service per process).
    Serve {
        #[command(flatten)]
        place: Place,
        /// Services to run, comma-separated (`paht services` lists them).
        #[arg(long, value_delimiter = ',', required = true, value_parser = runtime::service)]
        services: Vec<&'static Registration>,
    },
    /// Create or update the services' database tables, then exit (start-up does it too).
    Migrate {
        /// The configuration file.
        #[arg(long, env = "PAHT_CONFIG")]
        config: Option<PathBuf>,
        /// Services to migrate, comma-separated; all by default.
        #[arg(long, value_delimiter = ',', value_parser = runtime::service)]
        services: Vec<&'static Registration>,
    },
    /// List the services this binary hosts: name, gRPC service, configuration section.
    Services,
    /// Configuration files.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// A walk-through of one report's whole lifecycle, printed with its deadlines (no server).
    Demo,
    /// Mint a bearer token for a role and unit (for operators, integrations and tests).
    Token {
        /// The configuration file (`[auth]` keys); without keys, embedded mode's local key.
        #[arg(long, env = "PAHT_CONFIG")]
        config: Option<PathBuf>,
        /// Data directory of embedded mode, whose local key signs [env PAHT_DATA_DIR].
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Who the token is for (an account id).
        #[arg(long)]
        subject: String,
        /// The role: reporter, ioc_operator, officer, leader, provincial_office,
        /// system_operator, inspector or system.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// The unit the holder acts for (a unit id of the directory).
        #[arg(long)]
        unit: String,
        /// The IOC instance; the configured one by default.
        #[arg(long)]
        instance: Option<String>,
        /// Lifetime in seconds; the configured default otherwise.
        #[arg(long)]
        ttl_secs: Option<u64>,
    },
    /// Operators' checks of the services' views of every report.
    Replicas {
        #[command(subcommand)]
        command: ReplicasCommand,
    },
    /// Check the working-time calendar that every deadline counts.
    Calendar {
        /// The instance's configuration file; its `[calendar]` section sets the time
        /// zone and office hours.
        #[arg(long, global = true, env = "PAHT_CONFIG")]
        config: Option<PathBuf>,
        /// A holiday-decisions file (same format as the shipped one) whose years
        /// replace or add to the shipped decisions.
        #[arg(long, global = true, env = "PAHT_CALENDAR_DECISIONS")]
        decisions: Option<PathBuf>,
        #[command(subcommand)]
        command: calendar_cmd::CalendarCommand,
    },
    /// Parked events (those a consumer could not process): list them, replay them.
    Events {
        #[command(subcommand)]
        command: paht::ops::events::EventsCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ReplicasCommand {
    /// Compare intake's, routing's and processing's views report by report; print one line
    /// per divergent report (ids, states and instants only) and a summary; exit 1 if any.
    Check {
        /// The configuration file: the suite's Postgres, or embedded mode's data directory.
        #[arg(long, env = "PAHT_CONFIG")]
        config: Option<PathBuf>,
        /// Data directory of embedded mode (the SQLite files `paht up` leaves) [env PAHT_DATA_DIR].
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// While views differ, check again for up to this many seconds (the services may
        /// still be folding the latest facts).
        #[arg(long, default_value_t = 0)]
        wait: u64,
    },
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::ALL.into_iter().find(|r| r.as_str() == text).ok_or_else(|| {
        let names: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        format!("unknown role {text:?}; one of {}", names.join(", "))
    })
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        None => up(Place::default(), false),
        Some(Command::Up { place, no_demo }) => up(place, no_demo),
        Some(Command::Serve { place, services }) => serve(place, services),
        Some(Command::Migrate { config, services }) => {
            let (_, config) = settings::load(config.as_deref())?;
            let _telemetry = telemetry::init(&config.telemetry, "paht-migrate")?;
            let services = if services.is_empty() { runtime::REGISTRY.to_vec() } else { services };
            tokio_runtime()?.block_on(runtime::migrate(&config, &services))?;
            let names: Vec<&str> = services.iter().map(|s| s.name).collect();
            println!("migrated: {}", names.join(", "));
            Ok(())
        }
        Some(Command::Services) => {
            let mut out = std::io::stdout().lock();
            for r in runtime::REGISTRY {
                writeln!(out, "{}\t{}\t[{}]\t{}", r.name, r.grpc_service, r.config_section.unwrap_or("-"), r.summary)?;
            }
            Ok(())
        }
        Some(Command::Config { command: ConfigCommand::Check { file } }) => {
            let sections = runtime::check_config(&file)?;
            println!("{}: ok ({})", file.display(), sections.join(", "));
            Ok(())
        }
        Some(Command::Demo) => demo::run(&mut std::io::stdout().lock()),
        Some(Command::Token { config, data_dir, subject, role, unit, instance, ttl_secs }) => {
            let (_, mut settings) = settings::load(config.as_deref())?;
            if let Some(dir) = data_dir {
                settings.data_dir = dir;
            }
            let issuer = TokenIssuer::new(&settings::auth(&settings)?)?;
            let instance = instance.unwrap_or(settings.instance_id);
            let ttl = ttl_secs.map(std::time::Duration::from_secs);
            println!("{}", issuer.mint(&subject, role, &UnitId::new(unit), &instance, ttl)?);
            Ok(())
        }
        Some(Command::Replicas { command: ReplicasCommand::Check { config, data_dir, wait } }) => {
            let (_, mut settings) = settings::load(config.as_deref())?;
            if let Some(dir) = data_dir {
                settings.data_dir = dir;
            }
            let wait = std::time::Duration::from_secs(wait);
            let outcome = tokio_runtime()?.block_on(paht::ops::replicas::check_config(&settings, wait))?;
            for divergence in &outcome.divergences {
                println!("{divergence}");
            }
            for (service, held) in outcome.held.iter().filter(|(_, n)| *n > 0) {
                println!("{service} holds {held} facts waiting for earlier ones");
            }
            println!("{}", outcome.summary());
            if !outcome.is_clean() {
                std::process::exit(1);
            }
            Ok(())
        }
        Some(Command::Calendar { config, decisions, command }) => {
            let calendar = calendar_cmd::load(config.as_deref(), decisions.as_deref())?;
            calendar_cmd::run(&calendar, command, &mut std::io::stdout().lock())
        }
        Some(Command::Events { command }) => paht::ops::events::run(command, &mut std::io::stdout().lock()),
    }
}

fn tokio_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")
}

/// Embedded mode: every service, demo data, a banner saying where to look.
fn up(place: Place, no_demo: bool) -> anyhow::Result<()> {
    let (source, config) = place.load()?;
    // Logs go to stderr so that the banner on stdout stays readable.
    let _telemetry = telemetry::init_with_writer(&config.telemetry, "paht", std::io::stderr)?;
    tokio_runtime()?.block_on(async move {
        let running = runtime::start(source, config, runtime::REGISTRY, shutdown_on_signals()).await?;
        let seeded = if no_demo {
            None
        } else {
            Some(
                runtime::demo_data::seed(running.clients(), running.auth(), running.instance(), running.data_dir())
                    .await
                    .context("submitting the demo reports")?,
            )
        };
        print!("{}", banner(&running, seeded.as_ref()));
        running.wait().await
    })
}

/// Suite mode: the named services, logs as JSON on stdout.
fn serve(place: Place, services: Vec<&'static Registration>) -> anyhow::Result<()> {
    let (source, config) = place.load()?;
    let names: Vec<&str> = services.iter().map(|s| s.name).collect();
    let _telemetry = telemetry::init(&config.telemetry, &format!("paht-{}", names.join("-")))?;
    tokio_runtime()?.block_on(async move {
        let running = runtime::start(source, config, &services, shutdown_on_signals()).await?;
        running.wait().await
    })
}

fn banner(running: &runtime::Running, seeded: Option<&runtime::demo_data::Seeded>) -> String {
    use std::fmt::Write as _;
    let grpc = running.grpc_addr();
    let http = running.http_addr();
    let mode = if running.is_embedded() { "embedded mode" } else { "suite storage" };
    let mut out = String::new();
    let _ = writeln!(out, "\nPAHT is running ({mode}) — instance {}", running.instance());
    let _ = writeln!(out, "  gRPC  {grpc}   (health + reflection; service paht.v1.IntakeService)");
    let _ = writeln!(out, "  HTTP  http://{http}/   (/healthz, /readyz, /metrics)");
    let _ = writeln!(out, "  Data  {}", running.data_dir().display());
    if let Some(seeded) = seeded {
        let _ = writeln!(out, "\nDemo reports (tracking code, status):");
        for (code, status) in &seeded.reports {
            let _ = writeln!(out, "  {code}  {}", status.as_str_name());
        }
    }
    let data_dir = running.data_dir().display();
    let example = seeded.and_then(|s| s.reports.first()).map_or("ABCD-EFGH", |(code, _)| code.as_str());
    let _ = writeln!(
        out,
        "\nTry it (grpcurl, or any gRPC client with reflection):\n  \
         grpcurl -plaintext -d '{{\"tracking_code\":\"{example}\"}}' {grpc} paht.v1.IntakeService/GetReportByTrackingCode\n  \
         TOKEN=$(cargo run -q --release -p paht -- token --data-dir {data_dir} --subject op1 --role ioc_operator --unit {inst})\n  \
         grpcurl -plaintext -H \"authorization: Bearer $TOKEN\" -d '{{}}' {grpc} paht.v1.IntakeService/ListCheckQueue\n  \
         curl http://{http}/metrics\n  \
         cargo run -q --release -p paht -- events parked --data-dir {data_dir} --http-addr {http}\n\nCtrl-C stops (accepted reports are kept).",
        inst = running.instance()
    );
    out
}
