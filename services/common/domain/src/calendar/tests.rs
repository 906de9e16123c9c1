//! Calendar tests: dates a civil servant would compute by hand.

use chrono::{DateTime, FixedOffset, NaiveDate, TimeDelta, Utc, Weekday};
use proptest::prelude::*;

use super::*;

/// A calendar with no decisions: every holiday by the Labour Code's rules.
fn rules_only() -> WorkingCalendar {
    WorkingCalendar::new(chrono_tz::Asia::Ho_Chi_Minh, OfficeHoursSchedule::default(), &Decisions::default())
}

fn vn(s: &str) -> DateTime<Utc> {
    DateTime::<FixedOffset>::parse_from_rfc3339(s).expect("test time").with_timezone(&Utc)
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn is_off(cal: &WorkingCalendar, date: NaiveDate) -> bool {
    !cal.is_working_day(date).unwrap()
}

// ---- R7.2: one working hour to check a report ----

#[test]
fn r7_2_one_working_hour_inside_office_hours() {
    let cal = rules_only();
    // Wednesday 10 March 2027, 10:00 → 11:00 the same morning.
    assert_eq!(cal.add_working_hours(vn("2027-03-10T10:00:00+07:00"), 1), Ok(vn("2027-03-10T11:00:00+07:00")));
}

#[test]
fn r7_2_one_working_hour_across_the_lunch_break() {
    let cal = rules_only();
    // 11:00 leaves 30 minutes of the morning; the other 30 run from 13:30.
    assert_eq!(cal.add_working_hours(vn("2027-03-10T11:00:00+07:00"), 1), Ok(vn("2027-03-10T14:00:00+07:00")));
    // Arriving during lunch, the clock waits for 13:30.
    assert_eq!(cal.add_working_hours(vn("2027-03-10T12:15:00+07:00"), 1), Ok(vn("2027-03-10T14:30:00+07:00")));
}

#[test]
fn r7_2_period_ending_at_closing_time_ends_then() {
    let cal = rules_only();
    assert_eq!(cal.add_working_hours(vn("2027-03-10T16:00:00+07:00"), 1), Ok(vn("2027-03-10T17:00:00+07:00")));
    assert_eq!(cal.add_working_hours(vn("2027-03-10T10:30:00+07:00"), 1), Ok(vn("2027-03-10T11:30:00+07:00")));
}

#[test]
fn r5_r7_2_report_at_night_or_on_a_weekend_waits_for_the_office() {
    let cal = rules_only();
    // Friday 16:30 → 30 minutes Friday, 30 minutes Monday morning.
    assert_eq!(cal.add_working_hours(vn("2027-03-12T16:30:00+07:00"), 1), Ok(vn("2027-03-15T07:30:00+07:00")));
    // Friday 23:00 and Sunday noon → Monday 08:00.
    assert_eq!(cal.add_working_hours(vn("2027-03-12T23:00:00+07:00"), 1), Ok(vn("2027-03-15T08:00:00+07:00")));
    assert_eq!(cal.add_working_hours(vn("2027-03-14T12:00:00+07:00"), 1), Ok(vn("2027-03-15T08:00:00+07:00")));
    // Before opening on a working day.
    assert_eq!(cal.add_working_hours(vn("2027-03-15T05:00:00+07:00"), 1), Ok(vn("2027-03-15T08:00:00+07:00")));
}

#[test]
fn r10_2_four_working_hours_to_answer() {
    let cal = rules_only();
    // Approved Thursday 15:00: 2 hours Thursday, 2 hours Friday morning.
    assert_eq!(cal.add_working_hours(vn("2027-03-11T15:00:00+07:00"), 4), Ok(vn("2027-03-12T09:00:00+07:00")));
    // Approved Friday 10:00: 1.5 h morning, 2.5 h afternoon → 16:00.
    assert_eq!(cal.add_working_hours(vn("2027-03-12T10:00:00+07:00"), 4), Ok(vn("2027-03-12T16:00:00+07:00")));
}

// ---- R8.2a: five working days counted from the next working day ----

#[test]
fn r8_2a_five_working_days_from_the_next_working_day() {
    let cal = rules_only();
    // Received Monday 8 March 2027 at 09:00: Tue 9 (1) … Mon 15 (5), closing 17:00.
    assert_eq!(cal.add_working_days(vn("2027-03-08T09:00:00+07:00"), 5), Ok(vn("2027-03-15T17:00:00+07:00")));
    // Received late Monday evening: the same, the day of receipt never counts.
    assert_eq!(cal.add_working_days(vn("2027-03-08T22:00:00+07:00"), 5), Ok(vn("2027-03-15T17:00:00+07:00")));
    // Received on Saturday: Mon 15 is day 1, Fri 19 day 5.
    assert_eq!(cal.add_working_days(vn("2027-03-13T09:00:00+07:00"), 5), Ok(vn("2027-03-19T17:00:00+07:00")));
}

#[test]
fn r8_2a_handling_across_30_4_and_1_5_by_rule() {
    let cal = rules_only();
    // 2027: 30/4 is a Friday, 1/5 a Saturday → compensatory Monday 3/5.
    assert!(is_off(&cal, d(2027, 4, 30)));
    assert!(is_off(&cal, d(2027, 5, 3)));
    // Received Friday 23/4/2027: Mon 26 (1), Tue 27 (2), Wed 28 (3), Thu 29 (4), Tue 4/5 (5).
    assert_eq!(cal.add_working_days(vn("2027-04-23T10:00:00+07:00"), 5), Ok(vn("2027-05-04T17:00:00+07:00")));
}

#[test]
fn r8_2b_r8_2c_r9_2_one_working_day_ends_at_next_working_days_close() {
    let cal = rules_only();
    // Received Thursday 11/3/2027 10:00 → end of Friday 12/3.
    assert_eq!(cal.add_working_days(vn("2027-03-11T10:00:00+07:00"), 1), Ok(vn("2027-03-12T17:00:00+07:00")));
    // Received Friday → end of Monday.
    assert_eq!(cal.add_working_days(vn("2027-03-12T16:59:00+07:00"), 1), Ok(vn("2027-03-15T17:00:00+07:00")));
}

#[test]
fn r8_2a_explanation_two_working_days() {
    let cal = rules_only();
    // Received Thursday 11/3/2027 → Fri 12 (1), Mon 15 (2).
    assert_eq!(cal.add_working_days(vn("2027-03-11T10:00:00+07:00"), 2), Ok(vn("2027-03-15T17:00:00+07:00")));
}

// ---- Statutory holidays by rule ----

#[test]
fn new_year_and_national_day_by_rule() {
    let cal = rules_only();
    assert!(is_off(&cal, d(2027, 1, 1)));
    // 2/9/2027 is a Thursday: the adjacent day is Friday 3/9.
    assert!(is_off(&cal, d(2027, 9, 2)));
    assert!(is_off(&cal, d(2027, 9, 3)));
    assert!(!is_off(&cal, d(2027, 9, 1)));
    // Under the 2012 code (2020) 2/9 was one day: 2/9/2020 Wednesday only.
    assert!(is_off(&cal, d(2020, 9, 2)));
    assert!(!is_off(&cal, d(2020, 9, 1)) && !is_off(&cal, d(2020, 9, 3)));
}

#[test]
fn tet_by_rule_is_eve_plus_four_days_with_compensation() {
    let cal = rules_only();
    // Tết 2027 (Đinh Mùi) is Saturday 6/2/2027. Eve Fri 5/2; 6, 7 (weekend), 8, 9.
    // Sat 6 and Sun 7 are compensated on Wed 10 and Thu 11.
    for day in [5, 8, 9, 10, 11] {
        assert!(is_off(&cal, d(2027, 2, day)), "2027-02-{day:02} should be off");
    }
    assert!(!is_off(&cal, d(2027, 2, 4)));
    assert!(!is_off(&cal, d(2027, 2, 12)));
    // A report arriving Thursday 4/2 at 16:30: 30 minutes, then the break, then Fri 12/2.
    assert_eq!(cal.add_working_hours(vn("2027-02-04T16:30:00+07:00"), 1), Ok(vn("2027-02-12T07:30:00+07:00")));
    // Five working days from Thursday 4/2: Fri 12, Mon 15, Tue 16, Wed 17, Thu 18.
    assert_eq!(cal.add_working_days(vn("2027-02-04T16:30:00+07:00"), 5), Ok(vn("2027-02-18T17:00:00+07:00")));
}

#[test]
fn hung_kings_day_is_a_holiday_from_2007() {
    let cal = rules_only();
    // Giỗ Tổ 2026: 10/3 Bính Ngọ = Sunday 26/4/2026 → compensated Monday 27/4.
    assert!(is_off(&cal, d(2026, 4, 26)));
    assert!(is_off(&cal, d(2026, 4, 27)));
    let names: Vec<String> = cal.days_off(2026).into_iter().map(|s| s.name).collect();
    assert!(names.iter().any(|n| n == "Nghỉ bù Giỗ Tổ Hùng Vương"), "{names:?}");
    assert!(cal.days_off(2005).iter().all(|s| !s.name.contains("Hùng")));
}

// ---- Decisions shipped as data ----

#[test]
fn r8_2a_friday_night_before_the_2025_reunification_break() {
    let cal = WorkingCalendar::vietnam();
    // 2025: 30/4 (Wed) – 4/5 (Sun) off, Friday 2/5 swapped for Saturday 26/4.
    assert!(!is_off(&cal, d(2025, 4, 26)), "make-up Saturday works");
    for day in [(4, 30), (5, 1), (5, 2), (5, 3), (5, 4)] {
        assert!(is_off(&cal, d(2025, day.0, day.1)), "{day:?}");
    }
    // A report at 23:00 on Friday 25/4: checked by Saturday 26/4 08:00 (R7.2) …
    assert_eq!(cal.add_working_hours(vn("2025-04-25T23:00:00+07:00"), 1), Ok(vn("2025-04-26T08:00:00+07:00")));
    // … and handled by: Sat 26 (1), Mon 28 (2), Tue 29 (3), Mon 5/5 (4), Tue 6/5 (5).
    assert_eq!(cal.add_working_days(vn("2025-04-25T23:00:00+07:00"), 5), Ok(vn("2025-05-06T17:00:00+07:00")));
}

#[test]
fn r7_2_friday_night_before_tet_2025() {
    let cal = WorkingCalendar::vietnam();
    // Tết Ất Tỵ: public servants off Saturday 25/1 – Sunday 2/2/2025.
    for day in 25..=31 {
        assert!(is_off(&cal, d(2025, 1, day)), "2025-01-{day}");
    }
    assert!(is_off(&cal, d(2025, 2, 1)) && is_off(&cal, d(2025, 2, 2)));
    assert_eq!(cal.add_working_hours(vn("2025-01-24T23:00:00+07:00"), 1), Ok(vn("2025-02-03T08:00:00+07:00")));
    assert_eq!(cal.add_working_days(vn("2025-01-24T23:00:00+07:00"), 5), Ok(vn("2025-02-07T17:00:00+07:00")));
}

// ---- Elapsed working time ("late by …") ----

#[test]
fn elapsed_working_time_skips_nights_lunch_and_weekends() {
    let cal = rules_only();
    let friday_10 = vn("2027-03-12T10:00:00+07:00");
    assert_eq!(cal.working_time_between(friday_10, vn("2027-03-15T10:00:00+07:00")), Ok(TimeDelta::hours(8)));
    assert_eq!(cal.working_time_between(friday_10, vn("2027-03-12T14:00:00+07:00")), Ok(TimeDelta::minutes(120)));
    assert_eq!(cal.working_time_between(friday_10, friday_10 - TimeDelta::hours(1)), Ok(TimeDelta::zero()));
}

#[test]
fn r8_2a_expected_date_is_its_close_of_office_or_the_end_of_a_day_off() {
    let cal = rules_only();
    assert_eq!(cal.end_of_date(d(2027, 3, 15)), Ok(vn("2027-03-15T17:00:00+07:00")));
    // Sunday, and Friday 5/2/2027 in the Tết break: the end of that day, never earlier.
    assert_eq!(cal.end_of_date(d(2027, 3, 14)), Ok(vn("2027-03-14T23:59:59+07:00")));
    assert_eq!(cal.end_of_date(d(2027, 2, 5)), Ok(vn("2027-02-05T23:59:59+07:00")));
}

#[test]
fn changed_office_hours_apply_from_their_date() {
    let t = |h, m| chrono::NaiveTime::from_hms_opt(h, m, 0).unwrap();
    let summer = OfficeHours::new(
        vec![Span::new(t(7, 30), t(11, 30)).unwrap(), Span::new(t(13, 0), t(17, 0)).unwrap()],
        vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri],
    )
    .unwrap();
    let hours = OfficeHoursSchedule::default().with_change(d(2027, 3, 15), summer);
    let cal = WorkingCalendar::new(chrono_tz::Asia::Ho_Chi_Minh, hours, &Decisions::default());
    // Before the change the office opens at 07:00, after it at 07:30.
    assert_eq!(cal.add_working_hours(vn("2027-03-12T05:00:00+07:00"), 1), Ok(vn("2027-03-12T08:00:00+07:00")));
    assert_eq!(cal.add_working_hours(vn("2027-03-15T05:00:00+07:00"), 1), Ok(vn("2027-03-15T08:30:00+07:00")));
}

#[test]
fn errors_are_specific() {
    let cal = rules_only();
    assert_eq!(cal.add_working_days(vn("2027-03-12T10:00:00+07:00"), 0), Err(CalendarError::ZeroPeriod));
    assert!(matches!(cal.is_working_day(d(2101, 1, 3)), Err(CalendarError::OutOfRange(_))));
    assert!(matches!(
        WorkingCalendar::with_time_zone("Mars/Olympus", OfficeHoursSchedule::default(), &Decisions::default()),
        Err(CalendarError::UnknownTimeZone(_))
    ));
}

fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    // 1995-01-01 … 2099-06-01, any minute.
    (788_918_400i64..4_084_300_800i64).prop_map(|s| DateTime::from_timestamp(s - s % 60, 0).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Adding working time and measuring it back gives the same amount.
    #[test]
    fn added_working_time_measures_back(t in instant(), minutes in 1i64..(8 * 60 * 12)) {
        let cal = WorkingCalendar::vietnam();
        let end = cal.add_working_time(t, TimeDelta::minutes(minutes)).unwrap();
        prop_assert_eq!(cal.working_time_between(t, end).unwrap(), TimeDelta::minutes(minutes));
    }

    /// A later start never gives an earlier deadline, and a day deadline is always a
    /// close of office on a working day after the start day.
    #[test]
    fn day_deadlines_are_monotonic_and_at_closing_time(t in instant(), gap in 0i64..200_000, days in 1u32..8) {
        let cal = WorkingCalendar::vietnam();
        let a = cal.add_working_days(t, days).unwrap();
        let b = cal.add_working_days(t + TimeDelta::seconds(gap), days).unwrap();
        prop_assert!(a <= b);
        let local = a.with_timezone(&cal.time_zone());
        prop_assert!(cal.is_working_day(local.date_naive()).unwrap());
        prop_assert_eq!(local.time(), chrono::NaiveTime::from_hms_opt(17, 0, 0).unwrap());
        prop_assert!(local.date_naive() > cal.local_date(t));
    }
}
