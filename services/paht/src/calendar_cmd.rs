//! `paht calendar …`: how an administrator checks the working calendar.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use chrono::{DateTime, SecondsFormat, Utc};
use clap::Subcommand;
use paht_domain::calendar::{CalendarConfig, Decisions, FIRST_YEAR, LAST_YEAR, WorkingCalendar};

/// The calendar subcommands.
#[derive(Debug, Subcommand)]
pub enum CalendarCommand {
    /// Every day off of a year (`YYYY-MM-DD<TAB>name`), then each make-up working day.
    Holidays {
        /// The year, 1990–2100.
        #[arg(long)]
        year: i32,
    },
    /// The deadline of a period started at an instant, as RFC 3339 in local time.
    Deadline {
        /// When the period starts, RFC 3339 (e.g. 2027-02-03T16:30:00+07:00).
        #[arg(long, value_parser = parse_instant)]
        from: DateTime<Utc>,
        /// N working hours from the start (R7.2, R10.2).
        #[arg(long, conflicts_with = "working_days", required_unless_present = "working_days")]
        working_hours: Option<u32>,
        /// N working days counted from the next working day (R8.2, R9.2).
        #[arg(long)]
        working_days: Option<u32>,
    },
    /// Working time elapsed between two instants, in minutes (how late a stage was).
    Elapsed {
        /// The start, RFC 3339.
        #[arg(long, value_parser = parse_instant)]
        from: DateTime<Utc>,
        /// The end, RFC 3339.
        #[arg(long, value_parser = parse_instant)]
        to: DateTime<Utc>,
    },
}

fn parse_instant(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{e}: give an RFC 3339 time with its offset, e.g. 2027-02-03T16:30:00+07:00"))
}

/// The instance calendar: the `[calendar]` section of the configuration file (time
/// zone, office hours), the shipped decisions overlaid with the administrator's file.
pub fn load(config_file: Option<&Path>, decisions_file: Option<&Path>) -> anyhow::Result<WorkingCalendar> {
    let config = match config_file {
        None => CalendarConfig::default(),
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            let mut table: toml::Table = toml::from_str(&text).with_context(|| format!("in {}", path.display()))?;
            match table.remove("calendar") {
                None => CalendarConfig::default(),
                Some(section) => section.try_into().with_context(|| format!("[calendar] in {}", path.display()))?,
            }
        }
    };
    build(&config, decisions_file)
}

/// The calendar of `config` over the shipped decisions, overlaid with the administrator's
/// decisions file when one is given (`--decisions`, `PAHT_CALENDAR_DECISIONS`).
pub fn build(config: &CalendarConfig, decisions_file: Option<&Path>) -> anyhow::Result<WorkingCalendar> {
    let mut decisions = Decisions::shipped();
    if let Some(path) = decisions_file {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let extra = Decisions::parse(&text).with_context(|| format!("in {}", path.display()))?;
        decisions = decisions.overlay(extra);
    }
    Ok(config.build(&decisions)?)
}

/// Runs one calendar subcommand, writing its answer to `out`.
pub fn run(cal: &WorkingCalendar, command: CalendarCommand, out: &mut impl Write) -> anyhow::Result<()> {
    match command {
        CalendarCommand::Holidays { year } => {
            if !(FIRST_YEAR..=LAST_YEAR).contains(&year) {
                bail!("year {year} is outside {FIRST_YEAR}–{LAST_YEAR}");
            }
            for day in cal.days_off(year) {
                writeln!(out, "{}\t{}", day.date, day.name)?;
            }
            for day in cal.make_up_working_days(year) {
                writeln!(out, "{}\tworking", day.date)?;
            }
        }
        CalendarCommand::Deadline { from, working_hours, working_days } => {
            let due = match (working_hours, working_days) {
                (Some(h), None) => cal.add_working_hours(from, h)?,
                (None, Some(d)) => cal.add_working_days(from, d)?,
                _ => bail!("give exactly one of --working-hours and --working-days"),
            };
            writeln!(out, "{}", local_rfc3339(cal, due))?;
        }
        CalendarCommand::Elapsed { from, to } => {
            writeln!(out, "{}", cal.working_time_between(from, to)?.num_minutes())?;
        }
    }
    Ok(())
}

/// An instant as RFC 3339 in the calendar's local offset (+07:00 in Vietnam).
pub fn local_rfc3339(cal: &WorkingCalendar, t: DateTime<Utc>) -> String {
    t.with_timezone(&cal.time_zone()).fixed_offset().to_rfc3339_opts(SecondsFormat::Secs, false)
}
