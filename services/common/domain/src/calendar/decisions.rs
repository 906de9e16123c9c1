//! The government's yearly decisions on days off, as data.
//!
//! Each year the government (formerly MOLISA, since 2025 the Ministry of Home
//! Affairs) announces which days public servants take off for Tết and the other
//! holidays, often swapping a weekday for a make-up Saturday. These cannot be
//! computed, so they ship as `data/holiday-decisions.toml` and an administrator can
//! add or correct a year with a file of the same format, without a new release.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::CalendarError;

/// The decisions shipped with this release.
pub const SHIPPED_DECISIONS: &str = include_str!("../../data/holiday-decisions.toml");

/// A group of statutory holidays that one decision covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HolidayGroup {
    /// New Year's Day, 1 January.
    NewYear,
    /// Lunar New Year (Tết Nguyên đán).
    Tet,
    /// Hùng Kings' Commemoration, 10th day of the 3rd lunar month.
    HungKings,
    /// Reunification Day 30 April and International Labour Day 1 May, decided together.
    ReunificationLabour,
    /// National Day 2 September and its adjacent day.
    NationalDay,
    /// Any other day off decided by law or by the government.
    Other,
}

impl HolidayGroup {
    /// Every group, in calendar order.
    pub const ALL: [HolidayGroup; 6] = [
        HolidayGroup::NewYear,
        HolidayGroup::Tet,
        HolidayGroup::HungKings,
        HolidayGroup::ReunificationLabour,
        HolidayGroup::NationalDay,
        HolidayGroup::Other,
    ];
}

/// A named date in a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedDate {
    /// The date, ISO 8601 (`2025-01-25`).
    pub date: NaiveDate,
    /// What the day is, in Vietnamese ("Tết Nguyên đán", "Làm bù cho ngày 27/01/2025").
    pub name: String,
}

/// One decision: the days off and make-up working days of one holiday group in one year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// The year the holiday belongs to (a New Year break may start in December before).
    pub year: i32,
    /// Which holiday the decision settles; the rules no longer apply to this group and year.
    pub holiday: HolidayGroup,
    /// The document that decided it (number, issuer, date).
    pub source: String,
    /// Free text about the decision.
    #[serde(default)]
    pub note: Option<String>,
    /// Every day off of the break, including the statutory days and weekend days.
    #[serde(default)]
    pub days_off: Vec<NamedDate>,
    /// Normally free days (Saturdays) declared working days to make up for a swap.
    #[serde(default)]
    pub working_days: Vec<NamedDate>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionFile {
    #[serde(default)]
    decision: Vec<Decision>,
}

/// A set of decisions keyed by (year, holiday group); a later source replaces an earlier one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decisions {
    by_key: BTreeMap<(i32, HolidayGroup), Decision>,
}

impl Decisions {
    /// Parses a decisions file, checking that no date is both off and working and that
    /// no (year, group) appears twice in it.
    pub fn parse(text: &str) -> Result<Self, CalendarError> {
        let file: DecisionFile = toml::from_str(text).map_err(|e| CalendarError::InvalidDecisions(e.to_string()))?;
        let mut by_key = BTreeMap::new();
        for d in file.decision {
            for w in &d.working_days {
                if d.days_off.iter().any(|o| o.date == w.date) {
                    return Err(CalendarError::InvalidDecisions(format!(
                        "{} {:?}: {} is both a day off and a working day",
                        d.year, d.holiday, w.date
                    )));
                }
            }
            let key = (d.year, d.holiday);
            match by_key.get_mut(&key) {
                None => {
                    by_key.insert(key, d);
                }
                // Several separate decisions may add "other" days in one year.
                Some(existing) if key.1 == HolidayGroup::Other => {
                    let existing: &mut Decision = existing;
                    existing.source = format!("{}; {}", existing.source, d.source);
                    existing.days_off.extend(d.days_off);
                    existing.working_days.extend(d.working_days);
                }
                Some(_) => {
                    return Err(CalendarError::InvalidDecisions(format!(
                        "{} {:?} is decided twice in one file",
                        key.0, key.1
                    )));
                }
            }
        }
        Ok(Decisions { by_key })
    }

    /// The decisions that ship with this release.
    pub fn shipped() -> Self {
        Decisions::parse(SHIPPED_DECISIONS).expect("shipped holiday decisions are valid")
    }

    /// Adds `other` on top of these: its (year, group) entries replace ours.
    pub fn overlay(mut self, other: Decisions) -> Self {
        self.by_key.extend(other.by_key);
        self
    }

    /// The decision for a year and group, if there is one.
    pub fn get(&self, year: i32, group: HolidayGroup) -> Option<&Decision> {
        self.by_key.get(&(year, group))
    }

    /// Every decision, ordered by year then group.
    pub fn iter(&self) -> impl Iterator<Item = &Decision> {
        self.by_key.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
[[decision]]
year = 2030
holiday = "national_day"
source = "test"
days_off = [ { date = "2030-09-02", name = "Quốc khánh" }, { date = "2030-09-03", name = "Quốc khánh" } ]
working_days = []
"#;

    #[test]
    fn shipped_data_parses() {
        let d = Decisions::shipped();
        assert!(d.iter().count() > 10, "the shipped file carries many years of decisions");
        for dec in d.iter() {
            assert!(!dec.source.trim().is_empty(), "{} {:?} names no source", dec.year, dec.holiday);
        }
    }

    #[test]
    fn overlay_replaces_the_same_year_and_group() {
        let base = Decisions::parse(SAMPLE).unwrap();
        let admin = Decisions::parse(&SAMPLE.replace("2030-09-03", "2030-09-01")).unwrap();
        let merged = base.overlay(admin);
        let dec = merged.get(2030, HolidayGroup::NationalDay).unwrap();
        assert_eq!(dec.days_off[1].date, NaiveDate::from_ymd_opt(2030, 9, 1).unwrap());
    }

    #[test]
    fn a_day_both_off_and_working_is_refused() {
        let bad = SAMPLE.replace("working_days = []", r#"working_days = [ { date = "2030-09-02", name = "x" } ]"#);
        assert!(matches!(Decisions::parse(&bad), Err(CalendarError::InvalidDecisions(_))));
    }

    #[test]
    fn unknown_fields_and_groups_are_refused() {
        assert!(Decisions::parse(&SAMPLE.replace("national_day", "harvest")).is_err());
        assert!(Decisions::parse(&SAMPLE.replace("source", "sauce")).is_err());
    }
}
