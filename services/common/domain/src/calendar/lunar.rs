//! The Vietnamese lunisolar calendar (âm lịch), computed astronomically.
//!
//! Several statutory days off in Vietnam (Tết Nguyên đán, Giỗ Tổ Hùng Vương)
//! are fixed in the lunar calendar, so every working-time deadline of PAHT
//! depends on this module. We compute the calendar instead of shipping a
//! table so that it has no expiry date and so that the time zone is an
//! explicit parameter.
//!
//! # Method
//!
//! This is the method published by Hồ Ngọc Đức ("Thuật toán tính âm lịch"),
//! which the usual Vietnamese perpetual calendars follow. It rests on the
//! low-precision formulas of Jean Meeus, *Astronomical Algorithms*:
//!
//! * the instant of each new moon (the truncated periodic series for the
//!   mean lunation number `k`, corrected by an approximation of ΔT);
//! * the longitude of the sun (mean longitude plus the equation of the
//!   centre), used only to know which 30° sector (which "major solar term",
//!   *trung khí*) the sun is in at local midnight.
//!
//! The rules of the calendar (the same as the Chinese calendar since 1645)
//! are then:
//!
//! 1. A lunar month starts on the local civil day that contains a new moon.
//! 2. Month 11 is the month that contains the December solstice (sun at
//!    270°).
//! 3. If there are 13 new moons between two consecutive month-11 starts (a
//!    *tuế*, 13 months instead of 12), the first month after month 11 that
//!    contains no major solar term (no multiple of 30° of solar longitude) is
//!    a leap month (*tháng nhuận*) and repeats the number of the month
//!    before it.
//!
//! "Local" is the crux: Vietnam has used UTC+7 since 1967 (North) / 1975
//! (South) while China uses UTC+8, so a new moon or a solar term that
//! falls between 16:00 and 17:00 UTC lands on different civil days and the
//! two calendars occasionally differ — by a day (Tết 2007, 2030, 2053) or
//! by a whole month (Tết 1985). That is why every computation takes
//! `utc_offset_hours`, and why the plain functions use
//! [`VIETNAM_UTC_OFFSET_HOURS`]. Dates before 1967 in the North and 1975 in
//! the South were reckoned at UTC+8; use the `_at` variants with `8.0` to
//! reproduce the calendars people used then.
//!
//! # Range and accuracy
//!
//! Promised for Gregorian years 1900–2199. The tests check Tết and Giỗ Tổ
//! Hùng Vương for every year 1990–2100 against an independent published
//! table, and walk every day of 1900–2199 for consistency and round trips.
//!
//! During development the month starts were also compared, for 1900–2200,
//! with a calendar built by the same rules on a full VSOP87/ELP ephemeris
//! (PyEphem). Every leap month agrees at UTC+7 and UTC+8. Eight month
//! starts out of about 3,700 differ by one day at UTC+7. In each of them the
//! true new moon falls less than two and a half minutes before local
//! midnight, which the truncated series put just after it: 1944-06,
//! 2072-12 and 2077-11 (the only two inside 1990–2100, neither a Tết nor a
//! Giỗ Tổ month), 2130-05, 2150-05, 2159-05, 2175-01 (Tết 2175) and 2199-01
//! (Tết 2199). Two more differ at UTC+8 (2097-08, 2133-09). This is the behaviour of the published method,
//! which Vietnamese perpetual calendars reproduce, and the uncertainty of
//! ΔT so far ahead is of the same order. Anything outside 1900–2199 is still
//! computed, but further from what an almanac would print.

use chrono::{Datelike, NaiveDate};

/// The UTC offset, in hours, of Vietnam's legal time (UTC+7, no daylight
/// saving time). Lunar months start on the Vietnamese civil day of the new
/// moon, so this offset is what makes the calendar Vietnamese.
pub const VIETNAM_UTC_OFFSET_HOURS: f64 = 7.0;

/// A date in the Vietnamese lunisolar calendar.
///
/// `year` is the lunar year, numbered after the Gregorian year in which its
/// Tết (month 1, day 1) falls: the last days of lunar year 2024 (Giáp Thìn)
/// fall in January 2025. `month` is 1–12, `day` is 1–30, and `leap` marks
/// the intercalary month (*tháng nhuận*) that repeats the number of the
/// month before it.
///
/// The derived ordering is field by field (year, month, day, leap), which
/// is chronological except around a leap month: every day of leap month 4
/// sorts between the same-numbered day of month 4 and the next day.
/// Compare the results of [`lunar_to_solar`] to order dates in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LunarDate {
    /// Lunar year, named after the Gregorian year of its Tết.
    pub year: i32,
    /// Month number, 1–12 (a leap month repeats the previous number).
    pub month: u32,
    /// Day of the month, 1–29 or 1–30.
    pub day: u32,
    /// Whether this is the leap (intercalary) month of that number.
    pub leap: bool,
}

/// Converts a Gregorian date to the Vietnamese lunar calendar (UTC+7).
#[must_use]
pub fn solar_to_lunar(date: NaiveDate) -> LunarDate {
    solar_to_lunar_at(date, VIETNAM_UTC_OFFSET_HOURS)
}

/// Converts a Gregorian date to the lunar calendar reckoned at the given
/// UTC offset (7.0 for Vietnam, 8.0 for China).
///
/// # Panics
///
/// If `utc_offset_hours` is not a real time-zone offset (finite, within
/// −12…+14 hours).
#[must_use]
pub fn solar_to_lunar_at(date: NaiveDate, utc_offset_hours: f64) -> LunarDate {
    check_offset(utc_offset_hours);
    let day = jdn_of(date);
    // The year whose month 11 started on or before `day`: the solstice month
    // starts in late November or December, so it is this year's or last
    // year's.
    let mut year = date.year();
    if day < month11_start(year, utc_offset_hours).1 {
        year -= 1;
    }
    let tue = Tue::new(year, utc_offset_hours);
    // starts[0] <= day < starts[months] by the choice of `year`, so exactly
    // one month contains the day.
    let offset = (0..tue.months).rev().find(|&i| tue.starts[i] <= day).unwrap_or(0);
    let (lunar_year, month, leap) = tue.label(offset);
    LunarDate {
        year: lunar_year,
        month,
        // A lunar month is at most 30 days long, so this always fits.
        day: u32::try_from(day - tue.starts[offset] + 1).unwrap_or(1),
        leap,
    }
}

/// Converts a Vietnamese lunar date (UTC+7) to the Gregorian calendar.
///
/// Returns `None` if that lunar date does not exist: month or day out of
/// range, day 30 of a 29-day month, or a leap month the year does not have.
#[must_use]
pub fn lunar_to_solar(date: LunarDate) -> Option<NaiveDate> {
    lunar_to_solar_at(date, VIETNAM_UTC_OFFSET_HOURS)
}

/// Converts a lunar date reckoned at the given UTC offset to the Gregorian
/// calendar; `None` if that lunar date does not exist (see
/// [`lunar_to_solar`]) or falls outside chrono's range.
///
/// # Panics
///
/// If `utc_offset_hours` is not a real time-zone offset (finite, within
/// −12…+14 hours).
#[must_use]
pub fn lunar_to_solar_at(date: LunarDate, utc_offset_hours: f64) -> Option<NaiveDate> {
    check_offset(utc_offset_hours);
    if !(1..=12).contains(&date.month) || !(1..=30).contains(&date.day) {
        return None;
    }
    // Months 11 and 12 of lunar year Y open the tuế that starts in Y; the
    // other months close the tuế that started in Y − 1.
    let tue_year = if date.month >= 11 { date.year } else { date.year.checked_sub(1)? };
    let tue = Tue::new(tue_year, utc_offset_hours);
    let offset = (0..tue.months).find(|&i| tue.label(i) == (date.year, date.month, date.leap))?;
    let length = tue.starts[offset + 1] - tue.starts[offset];
    if i64::from(date.day) > length {
        return None;
    }
    date_of_jdn(tue.starts[offset] + i64::from(date.day) - 1)
}

/// The number (1–12) of the leap month of a Vietnamese lunar year, or
/// `None` in the common years of 12 months.
///
/// Deadlines rarely need this, but it tells callers when a lunar holiday
/// could be ambiguous (see [`hung_kings_day`]).
#[must_use]
pub fn leap_month(lunar_year: i32) -> Option<u32> {
    leap_month_at(lunar_year, VIETNAM_UTC_OFFSET_HOURS)
}

/// [`leap_month`] reckoned at the given UTC offset.
///
/// # Panics
///
/// If `utc_offset_hours` is not a real time-zone offset (finite, within
/// −12…+14 hours).
#[must_use]
pub fn leap_month_at(lunar_year: i32, utc_offset_hours: f64) -> Option<u32> {
    check_offset(utc_offset_hours);
    // A lunar year straddles two tuế: months 1–10 end the one that started
    // the year before, months 11–12 begin the next one. Either may hold the
    // year's leap month.
    [lunar_year.checked_sub(1)?, lunar_year].into_iter().find_map(|tue_year| {
        let tue = Tue::new(tue_year, utc_offset_hours);
        let (year, month, _) = tue.label(tue.leap?);
        (year == lunar_year).then_some(month)
    })
}

/// Tết Nguyên đán: the first day of the first lunar month of the lunar year
/// that begins in Gregorian year `year`, in Vietnam (UTC+7).
///
/// # Panics
///
/// Only if `year` is so far out of range that chrono cannot represent the
/// date.
#[must_use]
pub fn tet(year: i32) -> NaiveDate {
    let first = LunarDate { year, month: 1, day: 1, leap: false };
    lunar_to_solar(first).expect("every lunar year has a first day of month 1")
}

/// The last day of a Vietnamese lunar year, Tết eve ("30 Tết"): the day
/// before [`tet`]`(lunar_year + 1)`.
///
/// When month 12 has only 29 days this is the 29th (as on 28 January 2025,
/// the eve of Tết Ất Tỵ); deadline rules and day-off decisions that speak of
/// "30 Tết" mean this day, not a nonexistent 30th.
///
/// # Panics
///
/// Only if the year is so far out of range that chrono cannot represent the
/// date.
#[must_use]
pub fn last_day_of_lunar_year(lunar_year: i32) -> NaiveDate {
    let next_year = lunar_year.checked_add(1).expect("lunar year out of range");
    tet(next_year).pred_opt().expect("the day before Tết is representable")
}

/// Giỗ Tổ Hùng Vương (Hùng Kings' Commemoration Day): the 10th day of the
/// 3rd lunar month of the lunar year that begins in `year`, in Vietnam.
///
/// In a year with a leap 3rd month (1993, 2031, 2050, 2061, 2080 at
/// UTC+7), this is the 10th of the regular month 3, not of the leap month
/// that follows it. The Labour Code names the day only as "10/3 âm lịch";
/// Vietnamese custom keeps yearly anniversaries (giỗ) in the regular month
/// and, when a month is doubled, in the first of the two (as the Buddhist
/// newspaper Giác Ngộ advises for death anniversaries), and published
/// holiday tables (the `holidays` library's Vietnamese dates, for 2031)
/// agree. There has been no such year since Giỗ Tổ became a day off (2007),
/// so no government decision settles it yet; 2031 is the next one.
///
/// # Panics
///
/// Only if `year` is so far out of range that chrono cannot represent the
/// date.
#[must_use]
pub fn hung_kings_day(year: i32) -> NaiveDate {
    let day = LunarDate { year, month: 3, day: 10, leap: false };
    lunar_to_solar(day).expect("every lunar year has a regular month 3 with a 10th day")
}

// ---------------------------------------------------------------------------
// Calendar structure
// ---------------------------------------------------------------------------

/// One *tuế*: the lunar months from the month 11 that contains the December
/// solstice of Gregorian year `year` up to (excluding) the next month 11.
///
/// Leap months are decided per tuế (rule 3 in the module docs), so both
/// conversions build the whole tuế and then label its months.
struct Tue {
    /// Gregorian year of the solstice that opens this tuế; its first two
    /// regular months (11 and 12) belong to lunar year `year`, the rest to
    /// `year + 1`.
    year: i32,
    /// Julian day numbers of the first day of each month; `starts[months]`
    /// is the start of the next tuế's month 11.
    starts: [i64; 14],
    /// 12 or 13.
    months: usize,
    /// Index in `starts` of the leap month, if the tuế has 13 months.
    leap: Option<usize>,
}

impl Tue {
    fn new(year: i32, tz: f64) -> Self {
        let (k, _) = month11_start(year, tz);
        // Next year's month 11 can only be 12 or 13 lunations later; asking
        // for it (rather than counting days) keeps the two tuế consistent.
        let (next_k, _) = month11_start(year.saturating_add(1), tz);
        let months = usize::try_from(next_k - k).unwrap_or(12).clamp(12, 13);
        let mut starts = [0_i64; 14];
        for (i, start) in (0_i64..).zip(starts.iter_mut()) {
            *start = new_moon_day(k + i, tz);
        }
        let leap = (months == 13)
            .then(|| {
                // The first month after month 11 whose start and end lie in
                // the same 30° sector of solar longitude contains no major
                // solar term. 12 major terms over 13 months guarantee one.
                (1..months).find(|&i| sun_sector(starts[i], tz) == sun_sector(starts[i + 1], tz))
            })
            .flatten();
        Self { year, starts, months, leap }
    }

    /// The (lunar year, month number, is leap) of the month at `index`.
    fn label(&self, index: usize) -> (i32, u32, bool) {
        // Position among the regular months: a leap month and every month
        // after it are shifted back by one.
        let regular = match self.leap {
            Some(leap) if index >= leap => index - 1,
            _ => index,
        };
        // Regular index 0 is month 11, 1 is month 12, 2 is month 1, ...
        let month = u32::try_from((regular + 10) % 12 + 1).unwrap_or(1);
        let year = if regular < 2 { self.year } else { self.year.saturating_add(1) };
        (year, month, self.leap == Some(index))
    }
}

/// The lunation number and Julian day number of the start of month 11 (the
/// month containing the December solstice) of Gregorian year `year`.
fn month11_start(year: i32, tz: f64) -> (i64, i64) {
    let dec31 = jdn_from_civil(i64::from(year), 12, 31);
    // The lunation whose mean new moon is the last one before 31 December.
    // The true new moon may still be a day later, which the check below
    // handles like any other post-solstice new moon.
    let k = ((dec31 as f64 - NEW_MOON_EPOCH_JD) / SYNODIC_MONTH).floor() as i64;
    let day = new_moon_day(k, tz);
    // Sector 9 is 270°–300°: if the sun has already passed the solstice
    // when this month starts, the solstice belongs to the previous month.
    if sun_sector(day, tz) >= 9 { (k - 1, new_moon_day(k - 1, tz)) } else { (k, day) }
}

// ---------------------------------------------------------------------------
// Astronomy (Meeus, low precision, as in Hồ Ngọc Đức's method)
// ---------------------------------------------------------------------------

/// Mean length of a synodic month, in days.
const SYNODIC_MONTH: f64 = 29.530_588_853;

/// Julian Date of new moon number 0 (1900-01-01 ≈ 13:51 UT), the origin of
/// the lunation numbers `k` used below.
const NEW_MOON_EPOCH_JD: f64 = 2_415_021.076_998_695;

/// Instant (Julian Date, UT) of new moon number `k` counted from January
/// 1900: Meeus' mean phase plus the main periodic terms and an
/// approximation of ΔT. Accurate to a few minutes over 1900–2200, which is
/// all a calendar that counts whole days needs.
fn new_moon_jd(k: i64) -> f64 {
    let k = k as f64;
    // Time in Julian centuries from 1900 (1236.85 lunations per century).
    let t = k / 1236.85;
    let t2 = t * t;
    let t3 = t2 * t;
    let rad = |degrees: f64| degrees.to_radians();
    let mean = 2_415_020.759_33 + 29.530_588_68 * k + 0.000_117_8 * t2 - 0.000_000_155 * t3
        + 0.000_33 * rad(166.56 + 132.87 * t - 0.009_173 * t2).sin();
    // Mean anomaly of the sun, of the moon, and the moon's argument of
    // latitude, all in radians.
    let m = rad(359.224_2 + 29.105_356_08 * k - 0.000_033_3 * t2 - 0.000_003_47 * t3);
    let mp = rad(306.025_3 + 385.816_918_06 * k + 0.010_730_6 * t2 + 0.000_012_36 * t3);
    let f = rad(21.296_4 + 390.670_506_46 * k - 0.001_652_8 * t2 - 0.000_002_39 * t3);
    let periodic = (0.173_4 - 0.000_393 * t) * m.sin() + 0.002_1 * (2.0 * m).sin() - 0.406_8 * mp.sin()
        + 0.016_1 * (2.0 * mp).sin()
        - 0.000_4 * (3.0 * mp).sin()
        + 0.010_4 * (2.0 * f).sin()
        - 0.005_1 * (m + mp).sin()
        - 0.007_4 * (m - mp).sin()
        + 0.000_4 * (2.0 * f + m).sin()
        - 0.000_4 * (2.0 * f - m).sin()
        - 0.000_6 * (2.0 * f + mp).sin()
        + 0.001_0 * (2.0 * f - mp).sin()
        + 0.000_5 * (2.0 * mp + m).sin();
    // ΔT = TT − UT in days: the series above give dynamical time, civil
    // days are counted in universal time.
    let delta_t = if t < -11.0 {
        0.001 + 0.000_839 * t + 0.000_226_1 * t2 - 0.000_008_45 * t3 - 0.000_000_081 * t * t3
    } else {
        -0.000_278 + 0.000_265 * t + 0.000_262 * t2
    };
    mean + periodic - delta_t
}

/// Julian day number of the local civil day that contains new moon `k`.
fn new_moon_day(k: i64, tz: f64) -> i64 {
    // +0.5: Julian Dates start at noon, civil days at midnight.
    (new_moon_jd(k) + 0.5 + tz / 24.0).floor() as i64
}

/// Geometric mean longitude of the sun corrected by its equation of
/// centre, in degrees within [0, 360), at Julian Date `jd`.
fn sun_longitude_degrees(jd: f64) -> f64 {
    // Julian centuries from J2000.0.
    let t = (jd - 2_451_545.0) / 36_525.0;
    let t2 = t * t;
    let mean_anomaly = (357.529_10 + 35_999.050_30 * t - 0.000_155_9 * t2 - 0.000_000_48 * t2 * t).to_radians();
    let mean_longitude = 280.466_45 + 36_000.769_83 * t + 0.000_303_2 * t2;
    let centre = (1.914_600 - 0.004_817 * t - 0.000_014 * t2) * mean_anomaly.sin()
        + (0.019_993 - 0.000_101 * t) * (2.0 * mean_anomaly).sin()
        + 0.000_290 * (3.0 * mean_anomaly).sin();
    (mean_longitude + centre).rem_euclid(360.0)
}

/// Which 30° sector (0 = 0°–30°, …, 9 = 270°–300°, …) the sun is in at the
/// local midnight that starts civil day `day`. Sector boundaries are the
/// major solar terms, so a month without a major term starts and ends in
/// the same sector.
fn sun_sector(day: i64, tz: f64) -> i64 {
    let local_midnight_jd = day as f64 - 0.5 - tz / 24.0;
    (sun_longitude_degrees(local_midnight_jd) / 30.0).floor() as i64
}

// ---------------------------------------------------------------------------
// Day numbers
// ---------------------------------------------------------------------------

/// Julian day number of 31 December 1 BCE, i.e. of chrono's day 0 "from the
/// common era".
const JDN_OF_CE_DAY_ZERO: i64 = 1_721_425;

/// Julian day number (days since 1 January 4713 BCE, Julian calendar) of a
/// chrono date.
fn jdn_of(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce()) + JDN_OF_CE_DAY_ZERO
}

/// The chrono date of a Julian day number, if chrono can represent it.
fn date_of_jdn(jdn: i64) -> Option<NaiveDate> {
    let days = i32::try_from(jdn - JDN_OF_CE_DAY_ZERO).ok()?;
    NaiveDate::from_num_days_from_ce_opt(days)
}

/// Julian day number of a proleptic Gregorian date, by plain arithmetic so
/// that years outside chrono's range cannot make the calendar panic.
fn jdn_from_civil(year: i64, month: i64, day: i64) -> i64 {
    // Count years from March so that the leap day ends the year.
    let before_march = i64::from(month <= 2);
    let y = year + 4800 - before_march;
    let m = month + 12 * before_march - 3;
    day + (153 * m + 2) / 5 + 365 * y + y.div_euclid(4) - y.div_euclid(100) + y.div_euclid(400) - 32_045
}

/// Rejects offsets that no time zone uses; garbage here would silently
/// produce a garbage calendar.
fn check_offset(utc_offset_hours: f64) {
    assert!(
        utc_offset_hours.is_finite() && (-12.0..=14.0).contains(&utc_offset_hours),
        "UTC offset {utc_offset_hours} h is not a time-zone offset"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use proptest::prelude::*;

    fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).expect("valid test date")
    }

    fn lunar(year: i32, month: u32, day: u32, leap: bool) -> LunarDate {
        LunarDate { year, month, day, leap }
    }

    /// Tết Nguyên đán, 1990–2100, as (month, day), one entry per year.
    ///
    /// Independent published table: the `holidays` Python library
    /// (github.com/vacanza/holidays, file `holidays/calendars/chinese.py`,
    /// commit 0d3079bdc9eedeba4a3d3b3203731a8ed01b4b03): its
    /// `LUNAR_NEW_YEAR_DATES` table of Chinese New Year dates, with the
    /// Vietnamese corrections of `VIETNAMESE_CALENDAR_LUNAR_NEW_YEAR_DATES`
    /// applied (in this range 2007, 2030 and 2053). That table is data, not
    /// an implementation of this algorithm, so agreement is a real check.
    #[rustfmt::skip]
    const TET_1990_2100: [(u32, u32); 111] = [
        (1, 27), (2, 15), (2, 4), (1, 23), (2, 10), (1, 31), (2, 19), (2, 7), (1, 28), (2, 16), // 1990–1999
        (2, 5), (1, 24), (2, 12), (2, 1), (1, 22), (2, 9), (1, 29), (2, 17), (2, 7), (1, 26), // 2000–2009
        (2, 14), (2, 3), (1, 23), (2, 10), (1, 31), (2, 19), (2, 8), (1, 28), (2, 16), (2, 5), // 2010–2019
        (1, 25), (2, 12), (2, 1), (1, 22), (2, 10), (1, 29), (2, 17), (2, 6), (1, 26), (2, 13), // 2020–2029
        (2, 2), (1, 23), (2, 11), (1, 31), (2, 19), (2, 8), (1, 28), (2, 15), (2, 4), (1, 24), // 2030–2039
        (2, 12), (2, 1), (1, 22), (2, 10), (1, 30), (2, 17), (2, 6), (1, 26), (2, 14), (2, 2), // 2040–2049
        (1, 23), (2, 11), (2, 1), (2, 18), (2, 8), (1, 28), (2, 15), (2, 4), (1, 24), (2, 12), // 2050–2059
        (2, 2), (1, 21), (2, 9), (1, 29), (2, 17), (2, 5), (1, 26), (2, 14), (2, 3), (1, 23), // 2060–2069
        (2, 11), (1, 31), (2, 19), (2, 7), (1, 27), (2, 15), (2, 5), (1, 24), (2, 12), (2, 2), // 2070–2079
        (1, 22), (2, 9), (1, 29), (2, 17), (2, 6), (1, 26), (2, 14), (2, 3), (1, 24), (2, 10), // 2080–2089
        (1, 30), (2, 18), (2, 7), (1, 27), (2, 15), (2, 5), (1, 25), (2, 12), (2, 1), (1, 21), // 2090–2099
        (2, 9), // 2100–2100
    ];

    /// Giỗ Tổ Hùng Vương, 1990–2100, as (month, day), from the same
    /// library (`HUNG_KINGS_DATES` with the Vietnamese corrections of
    /// `VIETNAMESE_CALENDAR_HUNG_KINGS_DATES`).
    #[rustfmt::skip]
    const HUNG_KINGS_1990_2100: [(u32, u32); 111] = [
        (4, 5), (4, 24), (4, 12), (4, 1), (4, 20), (4, 9), (4, 27), (4, 16), (4, 6), (4, 25), // 1990–1999
        (4, 14), (4, 3), (4, 22), (4, 11), (4, 28), (4, 18), (4, 7), (4, 26), (4, 15), (4, 4), // 2000–2009
        (4, 23), (4, 12), (3, 31), (4, 19), (4, 9), (4, 28), (4, 16), (4, 6), (4, 25), (4, 14), // 2010–2019
        (4, 2), (4, 21), (4, 10), (4, 29), (4, 18), (4, 7), (4, 26), (4, 16), (4, 4), (4, 23), // 2020–2029
        (4, 12), (4, 1), (4, 19), (4, 9), (4, 28), (4, 17), (4, 6), (4, 24), (4, 13), (4, 3), // 2030–2039
        (4, 20), (4, 10), (4, 29), (4, 19), (4, 7), (4, 26), (4, 15), (4, 4), (4, 22), (4, 11), // 2040–2049
        (4, 1), (4, 20), (4, 9), (4, 28), (4, 17), (4, 6), (4, 24), (4, 13), (4, 2), (4, 21), // 2050–2059
        (4, 10), (3, 31), (4, 19), (4, 8), (4, 26), (4, 15), (4, 4), (4, 23), (4, 11), (4, 1), // 2060–2069
        (4, 20), (4, 9), (4, 27), (4, 16), (4, 5), (4, 24), (4, 13), (4, 2), (4, 21), (4, 11), // 2070–2079
        (3, 30), (4, 18), (4, 7), (4, 26), (4, 14), (4, 3), (4, 22), (4, 12), (4, 1), (4, 20), // 2080–2089
        (4, 9), (4, 28), (4, 16), (4, 5), (4, 24), (4, 13), (4, 2), (4, 21), (4, 11), (4, 29), // 2090–2099
        (4, 18), // 2100–2100
    ];

    #[test]
    fn tet_matches_published_table_1990_2100() {
        for (year, &(month, day)) in (1990..).zip(TET_1990_2100.iter()) {
            assert_eq!(tet(year), ymd(year, month, day), "Tết {year}");
            assert_eq!(solar_to_lunar(ymd(year, month, day)), lunar(year, 1, 1, false));
        }
    }

    #[test]
    fn hung_kings_day_matches_published_table_1990_2100() {
        for (year, &(month, day)) in (1990..).zip(HUNG_KINGS_1990_2100.iter()) {
            assert_eq!(hung_kings_day(year), ymd(year, month, day), "Giỗ Tổ {year}");
        }
    }

    #[test]
    fn hung_kings_day_matches_government_announcements() {
        // Days off announced by the Ministry of Labour / Home Affairs and the
        // Government portal (see data/holiday-decisions.toml for sources).
        for (year, month, day) in [
            (2015, 4, 28),
            (2016, 4, 16),
            (2017, 4, 6),
            (2019, 4, 14),
            (2021, 4, 21),
            (2022, 4, 10),
            (2023, 4, 29),
            (2024, 4, 18),
            (2025, 4, 7),
            (2026, 4, 26),
        ] {
            assert_eq!(hung_kings_day(year), ymd(year, month, day), "Giỗ Tổ {year}");
        }
    }

    #[test]
    fn hung_kings_day_in_a_leap_third_month_year_uses_the_regular_month() {
        // 2031 has a leap 3rd month; the commemoration is the 10th of the
        // regular month, a lunar month before the leap one.
        assert_eq!(leap_month(2031), Some(3));
        let regular = hung_kings_day(2031);
        assert_eq!(regular, ymd(2031, 4, 1));
        let in_leap = lunar_to_solar(lunar(2031, 3, 10, true)).expect("leap 3/2031 exists");
        assert_eq!(in_leap, ymd(2031, 4, 30));
        assert!(regular < in_leap);
        assert_eq!(solar_to_lunar(in_leap), lunar(2031, 3, 10, true));
    }

    #[test]
    fn leap_months() {
        for (year, leap) in [
            (2012, Some(4)),
            (2014, Some(9)),
            (2017, Some(6)),
            (2020, Some(4)),
            (2023, Some(2)),
            (2025, Some(6)),
            (2028, Some(5)),
            (2031, Some(3)),
            // Leap 11th month, after month 11 and before month 12.
            (2033, Some(11)),
            (2019, None),
            (2024, None),
            (2026, None),
        ] {
            assert_eq!(leap_month(year), leap, "leap month of {year}");
        }
        // 2025: the leap 6th month ran from 25/7 to 22/8/2025 (29 days), as
        // Vietnamese almanacs and press published it.
        assert_eq!(lunar_to_solar(lunar(2025, 6, 1, true)), Some(ymd(2025, 7, 25)));
        assert_eq!(lunar_to_solar(lunar(2025, 6, 29, true)), Some(ymd(2025, 8, 22)));
        assert_eq!(lunar_to_solar(lunar(2025, 6, 30, true)), None);
        assert_eq!(solar_to_lunar(ymd(2025, 8, 23)), lunar(2025, 7, 1, false));
        // 2020: leap 4th month starting 23/5/2020; 2023: two 2nd months.
        assert_eq!(solar_to_lunar(ymd(2020, 5, 23)), lunar(2020, 4, 1, true));
        assert_eq!(solar_to_lunar(ymd(2023, 3, 22)), lunar(2023, 2, 1, true));
        assert_eq!(solar_to_lunar(ymd(2023, 2, 20)), lunar(2023, 2, 1, false));
        // The leap 11th month of 2033 belongs to lunar year 2033.
        assert_eq!(solar_to_lunar(ymd(2033, 12, 22)), lunar(2033, 11, 1, true));
        assert_eq!(solar_to_lunar(ymd(2034, 2, 19)), lunar(2034, 1, 1, false));
    }

    #[test]
    fn leap_month_is_rejected_in_a_year_without_it() {
        assert_eq!(lunar_to_solar(lunar(2024, 4, 1, true)), None);
        assert_eq!(lunar_to_solar(lunar(2020, 5, 1, true)), None);
        assert_eq!(lunar_to_solar(lunar(2020, 3, 1, true)), None);
    }

    #[test]
    fn out_of_range_fields_are_rejected() {
        for date in [
            lunar(2024, 0, 1, false),
            lunar(2024, 13, 1, false),
            lunar(2024, 1, 0, false),
            lunar(2024, 1, 31, false),
            lunar(i32::MIN, 1, 1, false),
            lunar(i32::MAX, 12, 1, false),
        ] {
            assert_eq!(lunar_to_solar(date), None, "{date:?}");
        }
    }

    #[test]
    fn month_12_of_29_days_makes_tet_eve_the_29th() {
        // Giáp Thìn (2024) ended on 28/1/2025, the 29th: "30 Tết" did not
        // exist that year.
        assert_eq!(last_day_of_lunar_year(2024), ymd(2025, 1, 28));
        assert_eq!(solar_to_lunar(ymd(2025, 1, 28)), lunar(2024, 12, 29, false));
        assert_eq!(lunar_to_solar(lunar(2024, 12, 30, false)), None);
        // Quý Mão (2023) had a 30th: 9/2/2024.
        assert_eq!(last_day_of_lunar_year(2023), ymd(2024, 2, 9));
        assert_eq!(solar_to_lunar(ymd(2024, 2, 9)), lunar(2023, 12, 30, false));
        // Eight Tết eves in a row fall on the 29th (lunar years 2024–2031);
        // the next 30th is the eve of Tết 2033.
        for year in 2024..=2031 {
            assert_eq!(solar_to_lunar(last_day_of_lunar_year(year)).day, 29, "{year}");
        }
        assert_eq!(solar_to_lunar(last_day_of_lunar_year(2032)).day, 30);
    }

    #[test]
    fn well_known_dates() {
        // Mid-Autumn (15/8) and Kitchen Gods' day (23/12) as printed on
        // Vietnamese calendars.
        assert_eq!(solar_to_lunar(ymd(2024, 9, 17)), lunar(2024, 8, 15, false));
        assert_eq!(solar_to_lunar(ymd(2025, 10, 6)), lunar(2025, 8, 15, false));
        assert_eq!(lunar_to_solar(lunar(2024, 12, 23, false)), Some(ymd(2025, 1, 22)));
        // The extremes of chrono's range convert without panicking (the
        // astronomy means nothing there, but a deadline must not crash).
        let _ = solar_to_lunar(NaiveDate::MIN);
        let _ = solar_to_lunar(NaiveDate::MAX);
    }

    #[test]
    fn vietnam_and_china_differ_where_documented() {
        // 1985: a whole month apart. The December 1984 solstice fell at
        // 16:23 UTC: 23:23 on 21/12 in Hanoi but 00:23 on 22/12 in Beijing,
        // the very day of a new moon. In Vietnam the solstice therefore
        // belongs to the month that began on 23/11 (month 11), so 22/12
        // starts month 12 and Tết is 21/1. In China the month starting on
        // 22/12 is month 11, the month of 23/11 has no major solar term and
        // becomes leap month 10, and Tết comes a month later. Vietnam's
        // leap month then falls in 1985 (leap 2).
        assert_eq!(tet(1985), ymd(1985, 1, 21));
        assert_eq!(tet_at(1985, 8.0), ymd(1985, 2, 20));
        assert_eq!(leap_month_at(1984, 8.0), Some(10));
        assert_eq!(leap_month(1984), None);
        assert_eq!(leap_month(1985), Some(2));
        // 2007 and 2053: Vietnam a day earlier.
        assert_eq!(tet(2007), ymd(2007, 2, 17));
        assert_eq!(tet_at(2007, 8.0), ymd(2007, 2, 18));
        assert_eq!(tet(2053), ymd(2053, 2, 18));
        assert_eq!(tet_at(2053, 8.0), ymd(2053, 2, 19));
    }

    #[test]
    fn year_2030_tet_is_one_day_earlier_in_vietnam() {
        // The new moon of 2/2/2030 falls at about 16:07 UTC: 23:07 on the
        // 2nd in Hanoi, 00:07 on the 3rd in Beijing.
        assert_eq!(tet(2030), ymd(2030, 2, 2));
        assert_eq!(tet_at(2030, 8.0), ymd(2030, 2, 3));
        // So month 12 of Kỷ Dậu has 29 days in Vietnam and 30 in China, and
        // 2/2/2030 is Tết in one country and Tết eve in the other.
        assert_eq!(last_day_of_lunar_year(2029), ymd(2030, 2, 1));
        assert_eq!(solar_to_lunar(ymd(2030, 2, 1)), lunar(2029, 12, 29, false));
        assert_eq!(solar_to_lunar_at(ymd(2030, 2, 2), 8.0), lunar(2029, 12, 30, false));
        // Every day of month 1 of 2030 is shifted by one day...
        assert_eq!(solar_to_lunar(ymd(2030, 2, 16)), lunar(2030, 1, 15, false));
        assert_eq!(solar_to_lunar_at(ymd(2030, 2, 16), 8.0), lunar(2030, 1, 14, false));
        // ...and the two calendars agree again from month 2.
        assert_eq!(lunar_to_solar(lunar(2030, 2, 1, false)), lunar_to_solar_at(lunar(2030, 2, 1, false), 8.0));
    }

    #[test]
    fn tet_differs_between_utc7_and_utc8_exactly_in_known_years() {
        let differing: Vec<i32> = (1900..=2199).filter(|&year| tet(year) != tet_at(year, 8.0)).collect();
        // 1903–2053 agree with the published Vietnamese corrections of the
        // table above; 2148 and 2153 are this algorithm's prediction.
        assert_eq!(differing, [1903, 1916, 1935, 1965, 1968, 1969, 1985, 2007, 2030, 2053, 2148, 2153]);
    }

    /// Tết at an arbitrary offset, for the comparisons above.
    fn tet_at(year: i32, offset: f64) -> NaiveDate {
        lunar_to_solar_at(lunar(year, 1, 1, false), offset).expect("Tết exists")
    }

    #[test]
    fn every_day_1900_2199_is_consistent() {
        // Walk every day: the lunar date advances by one day or starts a new
        // month on day 1; months have 29 or 30 days; lunar years have 12 or
        // 13 months; and every date converts back to itself.
        let mut date = ymd(1900, 1, 1);
        let mut previous = solar_to_lunar(date);
        // Counted from the first complete month / year of the walk.
        let mut month_length: Option<u32> = None;
        let mut months_in_year: Option<u32> = None;
        while date < ymd(2200, 1, 1) {
            date = date.succ_opt().expect("in range");
            let current = solar_to_lunar(date);
            assert_eq!(lunar_to_solar(current), Some(date), "{current:?}");
            if current.day != 1 {
                assert_eq!(current.day, previous.day + 1, "{date}");
                assert_eq!(
                    (current.year, current.month, current.leap),
                    (previous.year, previous.month, previous.leap),
                    "{date}"
                );
                month_length = month_length.map(|n| n + 1);
                previous = current;
                continue;
            }
            if let Some(length) = month_length {
                assert!((29..=30).contains(&length), "{date}: {length}");
                assert_eq!(previous.day, length, "{date}");
            }
            month_length = Some(1);
            if current.month == 1 && !current.leap {
                assert_eq!(current.year, previous.year + 1, "{date}");
                if let Some(months) = months_in_year {
                    assert!((12..=13).contains(&months), "{date}: {months}");
                }
                months_in_year = Some(1);
            } else {
                assert_eq!(current.year, previous.year, "{date}");
                let expected = if current.leap { previous.month } else { previous.month + 1 };
                assert_eq!(current.month, expected, "{date}");
                months_in_year = months_in_year.map(|n| n + 1);
            }
            previous = current;
        }
    }

    proptest! {
        #[test]
        fn solar_lunar_solar_round_trip(days in 0_i64..(300 * 365 + 72)) {
            let date = ymd(1900, 1, 1) + Duration::days(days);
            for offset in [VIETNAM_UTC_OFFSET_HOURS, 8.0] {
                let l = solar_to_lunar_at(date, offset);
                prop_assert!((1..=12).contains(&l.month));
                prop_assert!((1..=30).contains(&l.day));
                prop_assert_eq!(lunar_to_solar_at(l, offset), Some(date));
            }
        }

        #[test]
        fn lunar_solar_lunar_round_trip(
            year in 1900_i32..2200,
            month in 1_u32..=12,
            day in 1_u32..=30,
            leap in any::<bool>(),
        ) {
            let l = lunar(year, month, day, leap);
            match lunar_to_solar(l) {
                Some(date) => prop_assert_eq!(solar_to_lunar(date), l),
                // Only day 30 of a short month or a missing leap month can
                // fail.
                None => prop_assert!(
                    day == 30 || (leap && leap_month(year) != Some(month))
                ),
            }
        }
    }

    #[test]
    fn civil_day_numbers_agree_with_chrono() {
        let mut date = ymd(1600, 1, 1);
        while date < ymd(2400, 1, 1) {
            let expected = jdn_of(date);
            let actual = jdn_from_civil(i64::from(date.year()), i64::from(date.month()), i64::from(date.day()));
            assert_eq!(actual, expected, "{date}");
            assert_eq!(date_of_jdn(expected), Some(date));
            date += Duration::days(17);
        }
        // 1 January 2000 is JDN 2451545.
        assert_eq!(jdn_of(ymd(2000, 1, 1)), 2_451_545);
    }

    #[test]
    #[should_panic(expected = "not a time-zone offset")]
    fn nonsense_offset_panics() {
        let _ = solar_to_lunar_at(ymd(2025, 1, 1), f64::NAN);
    }

    #[test]
    fn derived_ordering_is_field_by_field() {
        // Documented caveat: not chronological across a leap month.
        let regular_4_2 = lunar(2020, 4, 2, false);
        let leap_4_1 = lunar(2020, 4, 1, true);
        assert!(leap_4_1 < regular_4_2);
        assert!(lunar_to_solar(leap_4_1) > lunar_to_solar(regular_4_2));
    }
}
