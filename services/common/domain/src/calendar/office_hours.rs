//! Office hours: the spans of a working day and the days of the week that work.
//!
//! Provinces change their hours from time to time (summer/winter hours, a new
//! decision of the People's Committee), so hours are a schedule of entries, each
//! effective from a date, and deadlines computed for a day use the hours in force
//! on that day.

use chrono::{NaiveDate, NaiveTime, TimeDelta, Weekday};
use serde::{Deserialize, Serialize};

use super::CalendarError;

/// One continuous stretch of office time within a day, in local wall-clock time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    /// When the office opens for this span.
    pub start: NaiveTime,
    /// When the span closes; after `start`.
    pub end: NaiveTime,
}

impl Span {
    /// Builds a span from `HH:MM` bounds; `end` must come after `start`.
    pub fn new(start: NaiveTime, end: NaiveTime) -> Result<Self, CalendarError> {
        if end <= start {
            return Err(CalendarError::InvalidOfficeHours(format!("span {start}–{end} ends before it starts")));
        }
        Ok(Span { start, end })
    }

    /// The length of the span.
    pub fn length(&self) -> TimeDelta {
        self.end - self.start
    }
}

/// The office hours of one regime: which weekdays work and their spans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfficeHours {
    /// Working spans of a working day, sorted and not overlapping (morning, afternoon).
    spans: Vec<Span>,
    /// Weekdays that are normally working days (Monday–Friday for public servants,
    /// the 40-hour week of Decision 188/1999/QĐ-TTg).
    working_weekdays: Vec<Weekday>,
}

impl OfficeHours {
    /// Checks and builds office hours: at least one span, spans sorted and disjoint,
    /// at least one working weekday.
    pub fn new(mut spans: Vec<Span>, working_weekdays: Vec<Weekday>) -> Result<Self, CalendarError> {
        if spans.is_empty() {
            return Err(CalendarError::InvalidOfficeHours("no office-hour span".into()));
        }
        if working_weekdays.is_empty() {
            return Err(CalendarError::InvalidOfficeHours("no working weekday".into()));
        }
        spans.sort_by_key(|s| s.start);
        for pair in spans.windows(2) {
            if pair[1].start < pair[0].end {
                return Err(CalendarError::InvalidOfficeHours(format!(
                    "spans {}–{} and {}–{} overlap",
                    pair[0].start, pair[0].end, pair[1].start, pair[1].end
                )));
            }
        }
        let mut working_weekdays = working_weekdays;
        working_weekdays.sort_by_key(|d| d.num_days_from_monday());
        working_weekdays.dedup();
        Ok(OfficeHours { spans, working_weekdays })
    }

    /// Vietnamese public-sector default: Monday–Friday, 07:00–11:30 and 13:30–17:00.
    pub fn vietnam_default() -> Self {
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).expect("valid constant time");
        OfficeHours {
            spans: vec![Span { start: t(7, 0), end: t(11, 30) }, Span { start: t(13, 30), end: t(17, 0) }],
            working_weekdays: vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri],
        }
    }

    /// The spans of a working day, in order.
    pub fn spans(&self) -> &[Span] {
        &self.spans
    }

    /// Whether this weekday is normally a working day.
    pub fn is_working_weekday(&self, day: Weekday) -> bool {
        self.working_weekdays.contains(&day)
    }

    /// Total office time of one working day.
    pub fn day_length(&self) -> TimeDelta {
        self.spans.iter().map(Span::length).sum()
    }

    /// When the last span of the day closes.
    pub fn closing_time(&self) -> NaiveTime {
        self.spans.last().expect("at least one span").end
    }
}

/// Office hours over time: each entry applies from its date until the next entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfficeHoursSchedule {
    /// Sorted by date; the first entry also covers every earlier date.
    entries: Vec<(NaiveDate, OfficeHours)>,
}

impl OfficeHoursSchedule {
    /// A schedule with one regime in force for all dates.
    pub fn constant(hours: OfficeHours) -> Self {
        OfficeHoursSchedule { entries: vec![(NaiveDate::MIN, hours)] }
    }

    /// Adds (or replaces) the regime in force from `from` on.
    pub fn with_change(mut self, from: NaiveDate, hours: OfficeHours) -> Self {
        self.entries.retain(|(d, _)| *d != from);
        self.entries.push((from, hours));
        self.entries.sort_by_key(|(d, _)| *d);
        self
    }

    /// The hours in force on `date`.
    pub fn on(&self, date: NaiveDate) -> &OfficeHours {
        let idx = self.entries.partition_point(|(from, _)| *from <= date);
        &self.entries[idx.saturating_sub(1)].1
    }
}

impl Default for OfficeHoursSchedule {
    fn default() -> Self {
        OfficeHoursSchedule::constant(OfficeHours::vietnam_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn default_day_is_eight_hours() {
        assert_eq!(OfficeHours::vietnam_default().day_length(), TimeDelta::hours(8));
        assert_eq!(OfficeHours::vietnam_default().closing_time(), t(17, 0));
    }

    #[test]
    fn overlapping_or_empty_spans_are_refused() {
        let a = Span::new(t(7, 0), t(12, 0)).unwrap();
        let b = Span::new(t(11, 0), t(17, 0)).unwrap();
        assert!(OfficeHours::new(vec![a, b], vec![Weekday::Mon]).is_err());
        assert!(OfficeHours::new(vec![], vec![Weekday::Mon]).is_err());
        assert!(OfficeHours::new(vec![a], vec![]).is_err());
        assert!(Span::new(t(12, 0), t(7, 0)).is_err());
    }

    #[test]
    fn schedule_picks_the_regime_in_force() {
        let summer = OfficeHours::new(
            vec![Span::new(t(7, 30), t(11, 30)).unwrap(), Span::new(t(13, 0), t(17, 0)).unwrap()],
            vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri],
        )
        .unwrap();
        let from = NaiveDate::from_ymd_opt(2027, 5, 1).unwrap();
        let s = OfficeHoursSchedule::default().with_change(from, summer.clone());
        assert_eq!(s.on(from.pred_opt().unwrap()), &OfficeHours::vietnam_default());
        assert_eq!(s.on(from), &summer);
        assert_eq!(s.on(NaiveDate::from_ymd_opt(2030, 1, 1).unwrap()), &summer);
        assert_eq!(s.on(NaiveDate::from_ymd_opt(1990, 1, 1).unwrap()), &OfficeHours::vietnam_default());
    }
}
