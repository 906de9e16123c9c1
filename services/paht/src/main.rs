//! `paht`: the one binary of the PAHT suite. For now it carries the administrator's
//! calendar commands and a walk-through of a report's lifecycle; the services are
//! mounted here as they are built.

mod calendar_cmd;
mod demo;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

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

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        None | Some(Command::Up) => demo::run(&mut std::io::stdout().lock()),
        Some(Command::Calendar { config, decisions, command }) => {
            let calendar = calendar_cmd::load(config.as_deref(), decisions.as_deref())?;
            calendar_cmd::run(&calendar, command, &mut std::io::stdout().lock())
        }
    }
}
