//! `paht`: the one binary of the PAHT suite. For now it carries the administrator's
//! calendar commands and a walk-through of a report's lifecycle; the services are
//! mounted here as they are built.

mod calendar_cmd;
mod demo;
mod settings;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use paht_domain::actor::Role;
use paht_domain::ids::UnitId;
use paht_platform::auth::TokenIssuer;

/// PAHT — the field-report system of a province (phản ánh hiện trường).
#[derive(Debug, Parser)]
#[command(name = "paht", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole system on this machine (today: a walk-through of one report).
    Up,
    /// Mint a bearer token for a role and unit (for operators, integrations and tests).
    Token {
        /// The configuration file (`[auth]` keys); without keys, embedded mode's local key.
        #[arg(long, env = "PAHT_CONFIG")]
        config: Option<PathBuf>,
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
        None | Some(Command::Up) => demo::run(&mut std::io::stdout().lock()),
        Some(Command::Token { config, subject, role, unit, instance, ttl_secs }) => {
            let (_, settings) = settings::load(config.as_deref())?;
            let issuer = TokenIssuer::new(&settings::auth(&settings)?)?;
            let instance = instance.unwrap_or(settings.instance_id);
            let ttl = ttl_secs.map(std::time::Duration::from_secs);
            println!("{}", issuer.mint(&subject, role, &UnitId::new(unit), &instance, ttl)?);
            Ok(())
        }
        Some(Command::Calendar { config, decisions, command }) => {
            let calendar = calendar_cmd::load(config.as_deref(), decisions.as_deref())?;
            calendar_cmd::run(&calendar, command, &mut std::io::stdout().lock())
        }
    }
}
