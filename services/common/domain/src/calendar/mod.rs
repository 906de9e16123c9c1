//! The working-time calendar: every PAHT deadline counts working time.
//!
//! An instance's calendar knows its time zone (Asia/Ho_Chi_Minh), its office hours
//! (changeable from a date), the statutory holidays computed by rule (lunar ones at
//! UTC+7) and the government's yearly decisions (days off, make-up Saturdays). On
//! top of that it does the arithmetic the regulation needs:
//! - `t + N working hours` (R7.2: 1 hour to check; R10.2: 4 hours to answer);
//! - `N working days counted from the next working day` (R8.2a and, by the Civil
//!   Code 2015 art. 147 rule that the first day of a period in days is not counted,
//!   every other "within N working days": R8.2b, R8.2c, R9.2) — the period ends when
//!   office hours close on the N-th working day after the day of `t`;
//! - the working time elapsed between two instants ("late by …").
//!
//! Outside office hours the clock waits: a report that arrives at 23:00 on a Friday
//! starts counting when the office opens on the next working day.

mod config;
mod decisions;
mod holidays;
pub mod lunar;
mod office_hours;

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use thiserror::Error;

pub use config::{CalendarConfig, OfficeHoursConfig};
pub use decisions::{Decision, Decisions, HolidayGroup, NamedDate, SHIPPED_DECISIONS};
pub use holidays::{StatutoryDay, statutory_days};
pub use office_hours::{OfficeHours, OfficeHoursSchedule, Span};

/// The first year the calendar covers.
pub const FIRST_YEAR: i32 = 1990;
/// The last year the calendar covers.
pub const LAST_YEAR: i32 = 2100;

/// How far arithmetic may run looking for office time before it gives up; a
/// calendar with no working day in a year is misconfigured, not slow.
const MAX_SCAN_DAYS: u32 = 400;

/// What can go wrong with a calendar or its arithmetic.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CalendarError {
    /// The office hours given are not usable.
    #[error("invalid office hours: {0}")]
    InvalidOfficeHours(String),
    /// A decisions file could not be read.
    #[error("invalid holiday decisions: {0}")]
    InvalidDecisions(String),
    /// The time zone name is not a known IANA zone.
    #[error("unknown time zone {0:?}; use an IANA name such as Asia/Ho_Chi_Minh")]
    UnknownTimeZone(String),
    /// The date lies outside the years the calendar covers.
    #[error("{0} is outside the calendar's years {FIRST_YEAR}–{LAST_YEAR}")]
    OutOfRange(NaiveDate),
    /// No working time was found within a year of the date: the calendar is misconfigured.
    #[error("no working time within {MAX_SCAN_DAYS} days after {0}")]
    NoWorkingTime(NaiveDate),
    /// A count of zero working days or hours was asked for.
    #[error("a deadline needs at least one working day or hour")]
    ZeroPeriod,
}

/// An office span of one day as a UTC interval `[open, close)`.
type Interval = (DateTime<Utc>, DateTime<Utc>);

/// What a date is, where it differs from its weekday's normal state.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Exception {
    Off(String),
    Working(String),
}

/// A day of the calendar that is not an ordinary working or rest day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecialDay {
    /// The date.
    pub date: NaiveDate,
    /// Its name ("Tết Nguyên đán", "Nghỉ bù Quốc khánh", "Làm bù cho ngày …").
    pub name: String,
}

/// The working calendar of one IOC instance.
#[derive(Debug, Clone)]
pub struct WorkingCalendar {
    tz: Tz,
    hours: OfficeHoursSchedule,
    exceptions: BTreeMap<NaiveDate, Exception>,
}

impl WorkingCalendar {
    /// The default Vietnamese public-sector calendar: Asia/Ho_Chi_Minh, default
    /// office hours and the decisions shipped with this release.
    pub fn vietnam() -> Self {
        WorkingCalendar::new(chrono_tz::Asia::Ho_Chi_Minh, OfficeHoursSchedule::default(), &Decisions::shipped())
    }

    /// Builds a calendar for the years [`FIRST_YEAR`]–[`LAST_YEAR`]: decided groups
    /// from `decisions`, every other group by rule.
    pub fn new(tz: Tz, hours: OfficeHoursSchedule, decisions: &Decisions) -> Self {
        let mut off: BTreeMap<NaiveDate, String> = BTreeMap::new();
        let mut working: BTreeMap<NaiveDate, String> = BTreeMap::new();
        // Computed once: the lunar ones cost an astronomical calculation each.
        let by_year: Vec<(i32, Vec<StatutoryDay>)> = (FIRST_YEAR..=LAST_YEAR).map(|y| (y, statutory_days(y))).collect();
        let statutory: std::collections::BTreeSet<NaiveDate> =
            by_year.iter().flat_map(|(_, days)| days.iter().map(|d| d.date)).collect();
        for decision in decisions.iter() {
            // Decisions list the weekend days inside a break too; those are rest days
            // anyway, so only statutory days among them are named as days off.
            let plain_rest_day =
                |date: NaiveDate| !hours.on(date).is_working_weekday(date.weekday()) && !statutory.contains(&date);
            for day in decision.days_off.iter().filter(|d| !plain_rest_day(d.date)) {
                off.entry(day.date).or_insert_with(|| day.name.clone());
            }
            for day in &decision.working_days {
                working.insert(day.date, day.name.clone());
            }
        }
        for (year, days) in &by_year {
            holidays::apply_rules(days, &hours, |g| decisions.get(*year, g).is_some(), &working, &mut off);
        }
        let mut exceptions: BTreeMap<NaiveDate, Exception> =
            off.into_iter().map(|(date, name)| (date, Exception::Off(name))).collect();
        for (date, name) in working {
            exceptions.insert(date, Exception::Working(name));
        }
        WorkingCalendar { tz, hours, exceptions }
    }

    /// Builds a calendar from a time-zone name, checking it.
    pub fn with_time_zone(
        time_zone: &str,
        hours: OfficeHoursSchedule,
        decisions: &Decisions,
    ) -> Result<Self, CalendarError> {
        let tz: Tz = time_zone.parse().map_err(|_| CalendarError::UnknownTimeZone(time_zone.to_string()))?;
        Ok(WorkingCalendar::new(tz, hours, decisions))
    }

    /// The calendar's time zone.
    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    /// The local date of an instant.
    pub fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.tz).date_naive()
    }

    fn check_range(date: NaiveDate) -> Result<(), CalendarError> {
        if (FIRST_YEAR..=LAST_YEAR).contains(&date.year()) { Ok(()) } else { Err(CalendarError::OutOfRange(date)) }
    }

    /// Whether public servants work on `date`.
    pub fn is_working_day(&self, date: NaiveDate) -> Result<bool, CalendarError> {
        Self::check_range(date)?;
        Ok(match self.exceptions.get(&date) {
            Some(Exception::Off(_)) => false,
            Some(Exception::Working(_)) => true,
            None => self.hours.on(date).is_working_weekday(date.weekday()),
        })
    }

    /// Every named day off in `year` (holidays, Tết break, compensatory days), sorted.
    pub fn days_off(&self, year: i32) -> Vec<SpecialDay> {
        self.special_days(year, |e| matches!(e, Exception::Off(_)))
    }

    /// Every make-up working day (normally a Saturday) in `year`, sorted.
    pub fn make_up_working_days(&self, year: i32) -> Vec<SpecialDay> {
        self.special_days(year, |e| matches!(e, Exception::Working(_)))
    }

    fn special_days(&self, year: i32, keep: impl Fn(&Exception) -> bool) -> Vec<SpecialDay> {
        let (Some(from), Some(to)) = (NaiveDate::from_ymd_opt(year, 1, 1), NaiveDate::from_ymd_opt(year, 12, 31))
        else {
            return Vec::new();
        };
        self.exceptions
            .range(from..=to)
            .filter(|(_, e)| keep(e))
            .map(|(date, e)| SpecialDay {
                date: *date,
                name: match e {
                    Exception::Off(n) | Exception::Working(n) => n.clone(),
                },
            })
            .collect()
    }

    fn to_utc(&self, local: NaiveDateTime) -> DateTime<Utc> {
        // Vietnam has no daylight saving; for other zones take the earlier of an
        // ambiguous time and skip forward over a gap.
        let mut l = local;
        loop {
            if let Some(t) = self.tz.from_local_datetime(&l).earliest() {
                return t.with_timezone(&Utc);
            }
            l += TimeDelta::minutes(15);
        }
    }

    /// The office spans of `date` as UTC intervals; empty on a day off.
    fn office_intervals(&self, date: NaiveDate) -> Result<Vec<Interval>, CalendarError> {
        if !self.is_working_day(date)? {
            return Ok(Vec::new());
        }
        Ok(self
            .hours
            .on(date)
            .spans()
            .iter()
            .map(|s| (self.to_utc(date.and_time(s.start)), self.to_utc(date.and_time(s.end))))
            .collect())
    }

    /// `t` plus `amount` of office time. Outside office hours the clock waits; a
    /// period that ends exactly when a span closes ends then, not at the next opening.
    pub fn add_working_time(&self, t: DateTime<Utc>, amount: TimeDelta) -> Result<DateTime<Utc>, CalendarError> {
        if amount <= TimeDelta::zero() {
            return Err(CalendarError::ZeroPeriod);
        }
        let mut remaining = amount;
        let start_date = self.local_date(t);
        let mut date = start_date;
        for _ in 0..MAX_SCAN_DAYS {
            for (open, close) in self.office_intervals(date)? {
                let from = open.max(t);
                if from >= close {
                    continue;
                }
                let available = close - from;
                if remaining <= available {
                    return Ok(from + remaining);
                }
                remaining -= available;
            }
            date = date.succ_opt().ok_or(CalendarError::OutOfRange(date))?;
        }
        Err(CalendarError::NoWorkingTime(start_date))
    }

    /// `t` plus `hours` working hours.
    pub fn add_working_hours(&self, t: DateTime<Utc>, hours: u32) -> Result<DateTime<Utc>, CalendarError> {
        self.add_working_time(t, TimeDelta::hours(i64::from(hours)))
    }

    /// The end of `days` working days counted from the next working day after the
    /// day of `t`: the close of office hours on the `days`-th working day after it.
    pub fn add_working_days(&self, t: DateTime<Utc>, days: u32) -> Result<DateTime<Utc>, CalendarError> {
        if days == 0 {
            return Err(CalendarError::ZeroPeriod);
        }
        let start_date = self.local_date(t);
        let mut date = start_date;
        let mut counted = 0;
        let limit = MAX_SCAN_DAYS + days * 2;
        for _ in 0..limit {
            date = date.succ_opt().ok_or(CalendarError::OutOfRange(date))?;
            if self.is_working_day(date)? {
                counted += 1;
                if counted == days {
                    return Ok(self.close_of_office(date));
                }
            }
        }
        Err(CalendarError::NoWorkingTime(start_date))
    }

    fn close_of_office(&self, date: NaiveDate) -> DateTime<Utc> {
        self.to_utc(date.and_time(self.hours.on(date).closing_time()))
    }

    /// The deadline meant by "complete by <date>" (an explanation's expected date,
    /// R8.2a): the close of office on that date if it is a working day, otherwise the
    /// end of that calendar day — never earlier than the date the agency named.
    pub fn end_of_date(&self, date: NaiveDate) -> Result<DateTime<Utc>, CalendarError> {
        if self.is_working_day(date)? {
            return Ok(self.close_of_office(date));
        }
        let last_second = NaiveTime::from_hms_opt(23, 59, 59).expect("valid constant time");
        Ok(self.to_utc(date.and_time(last_second)))
    }

    /// Office time elapsed from `from` to `to` (zero if `to` is not after `from`):
    /// how late a stage finished, in working time.
    pub fn working_time_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<TimeDelta, CalendarError> {
        if to <= from {
            return Ok(TimeDelta::zero());
        }
        let mut total = TimeDelta::zero();
        let last = self.local_date(to);
        let mut date = self.local_date(from);
        while date <= last {
            for (open, close) in self.office_intervals(date)? {
                let (a, b) = (open.max(from), close.min(to));
                if b > a {
                    total += b - a;
                }
            }
            date = date.succ_opt().ok_or(CalendarError::OutOfRange(date))?;
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests;
