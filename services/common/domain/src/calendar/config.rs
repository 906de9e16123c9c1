//! The calendar as an instance configures it (the `[calendar]` section of a
//! service's configuration): time zone and office hours, changeable from a date.

use chrono::{NaiveDate, NaiveTime, Weekday};
use serde::Deserialize;

use super::{CalendarError, Decisions, OfficeHours, OfficeHoursSchedule, Span, WorkingCalendar};

/// An instance's calendar settings. Every field has the Vietnamese public-sector default.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CalendarConfig {
    /// IANA time zone of the instance.
    pub time_zone: String,
    /// Office-hour regimes; each applies from its `from` date (the first also before it).
    /// Empty: Monday–Friday 07:00–11:30 and 13:30–17:00.
    pub office_hours: Vec<OfficeHoursConfig>,
}

impl Default for CalendarConfig {
    fn default() -> Self {
        CalendarConfig { time_zone: "Asia/Ho_Chi_Minh".into(), office_hours: Vec::new() }
    }
}

/// One office-hours regime as written in configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfficeHoursConfig {
    /// The first date the regime applies; omit for the first regime.
    #[serde(default)]
    pub from: Option<NaiveDate>,
    /// Spans as `HH:MM-HH:MM`, e.g. `["07:00-11:30", "13:30-17:00"]`.
    pub spans: Vec<String>,
    /// Working weekdays as `mon` … `sun`; Monday to Friday if omitted.
    #[serde(default = "weekdays_mon_fri")]
    pub weekdays: Vec<String>,
}

fn weekdays_mon_fri() -> Vec<String> {
    ["mon", "tue", "wed", "thu", "fri"].map(String::from).to_vec()
}

fn parse_span(text: &str) -> Result<Span, CalendarError> {
    let bad = || CalendarError::InvalidOfficeHours(format!("span {text:?} is not HH:MM-HH:MM"));
    let (start, end) = text.split_once('-').ok_or_else(bad)?;
    let time = |t: &str| NaiveTime::parse_from_str(t.trim(), "%H:%M").map_err(|_| bad());
    Span::new(time(start)?, time(end)?)
}

fn parse_weekday(text: &str) -> Result<Weekday, CalendarError> {
    text.parse::<Weekday>()
        .map_err(|_| CalendarError::InvalidOfficeHours(format!("weekday {text:?} is not one of mon … sun")))
}

impl CalendarConfig {
    /// The office-hours schedule this configuration describes.
    pub fn schedule(&self) -> Result<OfficeHoursSchedule, CalendarError> {
        let mut schedule = OfficeHoursSchedule::default();
        for (i, regime) in self.office_hours.iter().enumerate() {
            let spans = regime.spans.iter().map(|s| parse_span(s)).collect::<Result<Vec<_>, _>>()?;
            let weekdays = regime.weekdays.iter().map(|d| parse_weekday(d)).collect::<Result<Vec<_>, _>>()?;
            let hours = OfficeHours::new(spans, weekdays)?;
            schedule = match (i, regime.from) {
                (0, None) => OfficeHoursSchedule::constant(hours),
                (0, Some(from)) => schedule.with_change(from, hours),
                (_, Some(from)) => schedule.with_change(from, hours),
                (_, None) => {
                    return Err(CalendarError::InvalidOfficeHours(format!(
                        "office-hours regime {} needs a `from` date (only the first may omit it)",
                        i + 1
                    )));
                }
            };
        }
        Ok(schedule)
    }

    /// Builds the instance's calendar with these settings and `decisions`.
    pub fn build(&self, decisions: &Decisions) -> Result<WorkingCalendar, CalendarError> {
        WorkingCalendar::with_time_zone(&self.time_zone, self.schedule()?, decisions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> CalendarConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn empty_config_is_the_vietnamese_default() {
        let cfg = parse("");
        assert_eq!(cfg, CalendarConfig::default());
        assert_eq!(cfg.schedule().unwrap(), OfficeHoursSchedule::default());
    }

    #[test]
    fn new_hours_apply_from_their_date() {
        let cfg = parse(
            r#"
            [[office_hours]]
            spans = ["07:00-11:30", "13:30-17:00"]
            [[office_hours]]
            from = "2027-05-01"
            spans = ["07:30-11:30", "13:00-17:00"]
            weekdays = ["mon", "tue", "wed", "thu", "fri", "sat"]
            "#,
        );
        let schedule = cfg.schedule().unwrap();
        let may = NaiveDate::from_ymd_opt(2027, 5, 1).unwrap();
        assert!(schedule.on(may).is_working_weekday(Weekday::Sat));
        assert!(!schedule.on(may.pred_opt().unwrap()).is_working_weekday(Weekday::Sat));
        assert_eq!(schedule.on(may).spans()[0].start, NaiveTime::from_hms_opt(7, 30, 0).unwrap());
    }

    #[test]
    fn mistakes_are_named() {
        let bad_span = parse("[[office_hours]]\nspans = [\"7h-11h\"]");
        assert!(matches!(bad_span.schedule(), Err(CalendarError::InvalidOfficeHours(m)) if m.contains("7h-11h")));
        let bad_day = parse("[[office_hours]]\nspans = [\"07:00-11:00\"]\nweekdays = [\"funday\"]");
        assert!(matches!(bad_day.schedule(), Err(CalendarError::InvalidOfficeHours(m)) if m.contains("funday")));
        let no_from = parse("[[office_hours]]\nspans = [\"07:00-11:00\"]\n[[office_hours]]\nspans = [\"08:00-12:00\"]");
        assert!(no_from.schedule().is_err());
        assert!(toml::from_str::<CalendarConfig>("timezone = \"x\"").is_err(), "unknown keys are refused");
        let bad_tz = parse("time_zone = \"Mars/Olympus\"");
        assert!(matches!(bad_tz.build(&Decisions::default()), Err(CalendarError::UnknownTimeZone(_))));
    }
}
