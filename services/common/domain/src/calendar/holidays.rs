//! Statutory holidays by rule, for years (or holiday groups) without a decision.
//!
//! Labour Code 2019 art. 112(1): 1/1; Lunar New Year, 5 days; Hùng Kings' day
//! (10/3 lunar); 30/4; 1/5; 2/9 and one adjacent day. Art. 111(3): a holiday on a
//! weekly rest day is compensated on the next working day. Earlier codes had fewer
//! days, and a deadline computed for an old report must use the law of its time:
//! - Labour Code 1994 (applied here from 1990): Tết 4 days, 2/9 one day;
//! - Law 84/2007/QH11 added Hùng Kings' day from 2007;
//! - Labour Code 2012 (in force 1 May 2013, first Tết in 2014): Tết 5 days;
//! - Labour Code 2019 (in force 1 January 2021): 2/9 plus an adjacent day.
//!
//! Where the law leaves the choice of days to the government (which 5 days of Tết,
//! which day next to 2/9), the rule here picks what the government chose in most
//! years; the yearly decisions (see [`super::decisions`]) replace the rule whenever
//! a decision for that year and holiday exists.

use std::collections::BTreeMap;

use chrono::{Datelike, Days, NaiveDate, Weekday};

use super::decisions::HolidayGroup;
use super::lunar;
use super::office_hours::OfficeHoursSchedule;

/// One statutory day, before compensation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatutoryDay {
    /// The holiday group it belongs to.
    pub group: HolidayGroup,
    /// The date.
    pub date: NaiveDate,
    /// Its Vietnamese name.
    pub name: &'static str,
}

fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).expect("valid fixed holiday date")
}

/// The statutory holidays of `year` under the law in force that year, in date order.
pub fn statutory_days(year: i32) -> Vec<StatutoryDay> {
    let mut days =
        vec![StatutoryDay { group: HolidayGroup::NewYear, date: ymd(year, 1, 1), name: "Tết Dương lịch" }];

    // Tết: the eve (last day of the old lunar year) and the first days of the new one.
    let tet = lunar::tet(year);
    let tet_days = if year >= 2014 { 5 } else { 4 };
    let eve = tet.pred_opt().expect("Tết is never the first representable date");
    for i in 0..tet_days {
        let date = eve + Days::new(i);
        days.push(StatutoryDay { group: HolidayGroup::Tet, date, name: "Tết Nguyên đán" });
    }

    if year >= 2007 {
        days.push(StatutoryDay {
            group: HolidayGroup::HungKings,
            date: lunar::hung_kings_day(year),
            name: "Giỗ Tổ Hùng Vương",
        });
    }
    days.push(StatutoryDay {
        group: HolidayGroup::ReunificationLabour,
        date: ymd(year, 4, 30),
        name: "Ngày Chiến thắng",
    });
    days.push(StatutoryDay {
        group: HolidayGroup::ReunificationLabour,
        date: ymd(year, 5, 1),
        name: "Quốc tế Lao động",
    });
    let national = ymd(year, 9, 2);
    days.push(StatutoryDay { group: HolidayGroup::NationalDay, date: national, name: "Quốc khánh" });
    if year >= 2021 {
        days.push(StatutoryDay {
            group: HolidayGroup::NationalDay,
            date: national_day_adjacent(national),
            name: "Quốc khánh",
        });
    }
    days.sort_by_key(|d| d.date);
    days
}

/// The day next to 2/9 that joins the nearest weekend (the government's choice in
/// 2021–2025: Thu→Fri 3/9, Fri→Thu 1/9, Sat→Fri 1/9, Mon→Tue 3/9, Tue→Mon 1/9);
/// for a Wednesday the day before, for a Sunday the Monday after.
fn national_day_adjacent(national: NaiveDate) -> NaiveDate {
    let before = national.pred_opt().expect("2/9 has a day before");
    let after = national.succ_opt().expect("2/9 has a day after");
    match national.weekday() {
        Weekday::Mon | Weekday::Thu | Weekday::Sun => after,
        Weekday::Tue | Weekday::Wed | Weekday::Fri | Weekday::Sat => before,
    }
}

/// What the rules add to the calendar for one year, given its `statutory` days: those of the groups
/// that no decision settles, and a compensatory day (art. 111(3)) for each of them
/// that falls on a weekly rest day or on another holiday.
///
/// `off` holds the days off known so far (from decisions); rule days are added to it.
/// `is_decided` says whether a group of this year is settled by a decision.
/// `working_override` holds decided make-up working days, which are not free for compensation.
pub fn apply_rules(
    statutory: &[StatutoryDay],
    hours: &OfficeHoursSchedule,
    is_decided: impl Fn(HolidayGroup) -> bool,
    working_override: &BTreeMap<NaiveDate, String>,
    off: &mut BTreeMap<NaiveDate, String>,
) {
    let mut needs_compensation = Vec::new();
    for day in statutory.iter().filter(|d| !is_decided(d.group)) {
        let rest_day = !hours.on(day.date).is_working_weekday(day.date.weekday());
        let clash = off.contains_key(&day.date);
        if rest_day || clash {
            needs_compensation.push(day);
        }
        off.entry(day.date).or_insert_with(|| day.name.to_string());
    }
    for day in needs_compensation {
        let mut d = day.date;
        loop {
            d = d.succ_opt().expect("compensation stays within representable dates");
            let working_weekday = hours.on(d).is_working_weekday(d.weekday()) || working_override.contains_key(&d);
            if working_weekday && !off.contains_key(&d) {
                off.insert(d, format!("Nghỉ bù {}", day.name));
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule_year(year: i32) -> BTreeMap<NaiveDate, String> {
        let mut off = BTreeMap::new();
        apply_rules(&statutory_days(year), &OfficeHoursSchedule::default(), |_| false, &BTreeMap::new(), &mut off);
        off
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        ymd(y, m, day)
    }

    #[test]
    fn labour_code_2019_has_eleven_statutory_days() {
        // Labour Code 2019 art. 112(1): 1 + 5 + 1 + 1 + 1 + 2 = 11 days.
        for year in 2021..=2100 {
            assert_eq!(statutory_days(year).len(), 11, "{year}");
        }
        assert_eq!(statutory_days(2020).len(), 10, "2/9 had one day under the 2012 code");
        assert_eq!(statutory_days(2013).len(), 9, "Tết 2013 still had 4 days");
        assert_eq!(statutory_days(2006).len(), 8, "no Hùng Kings' day before 2007");
    }

    #[test]
    fn saturday_new_year_is_compensated_on_monday() {
        // 1/1/2028 is a Saturday: the compensatory day is Monday 3/1/2028.
        let off = rule_year(2028);
        assert_eq!(off.get(&d(2028, 1, 3)).map(String::as_str), Some("Nghỉ bù Tết Dương lịch"));
    }

    #[test]
    fn weekend_30_4_and_1_5_are_compensated_on_consecutive_days() {
        // 2033: 30/4 is a Saturday and 1/5 a Sunday: Monday 2/5 and Tuesday 3/5 off.
        let off = rule_year(2033);
        assert!(off.contains_key(&d(2033, 5, 2)));
        assert!(off.contains_key(&d(2033, 5, 3)));
        assert!(!off.contains_key(&d(2033, 5, 4)));
    }

    #[test]
    fn national_day_adjacent_day_joins_the_weekend() {
        assert_eq!(national_day_adjacent(d(2021, 9, 2)), d(2021, 9, 3)); // Thu → Fri
        assert_eq!(national_day_adjacent(d(2022, 9, 2)), d(2022, 9, 1)); // Fri → Thu
        assert_eq!(national_day_adjacent(d(2024, 9, 2)), d(2024, 9, 3)); // Mon → Tue
        assert_eq!(national_day_adjacent(d(2025, 9, 2)), d(2025, 9, 1)); // Tue → Mon
    }

    #[test]
    fn decided_groups_are_left_to_the_decision() {
        let mut off = BTreeMap::new();
        apply_rules(
            &statutory_days(2028),
            &OfficeHoursSchedule::default(),
            |g| g == HolidayGroup::NewYear,
            &BTreeMap::new(),
            &mut off,
        );
        assert!(!off.contains_key(&d(2028, 1, 1)));
        assert!(!off.contains_key(&d(2028, 1, 3)));
        assert!(off.contains_key(&d(2028, 4, 30)));
    }
}
