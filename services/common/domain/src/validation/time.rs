//! When the event happened (R6.1b): not in the future, not absurdly old.
//!
//! The time is compared with `now`, the moment the report was received, which the caller
//! passes in: the check is pure and tests choose their own clock.

use chrono::{DateTime, Duration, FixedOffset, Utc};
use serde::Serialize;

use super::rules::SubmissionRules;
use super::violation::{Violation, ViolationCode, Violations};

/// Where the event time came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventTimeSource {
    /// The reporter gave it.
    Reported,
    /// The channel could not ask for it and the rules allowed that; the time of receipt
    /// stands in for it, and operators see that it was assumed.
    AssumedReceived,
}

/// A plausible time of the event, kept with the reporter's UTC offset for display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EventTime {
    at: DateTime<FixedOffset>,
    source: EventTimeSource,
}

/// Vietnam's offset (UTC+7, no daylight saving), used when the time of receipt stands in.
fn vietnam_offset() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).expect("UTC+7 is within ±24 h")
}

impl EventTime {
    /// Checks the reported time against `now`, or stands in `now` when the rules allow a
    /// missing time.
    pub fn parse(
        reported: Option<DateTime<FixedOffset>>,
        rules: &SubmissionRules,
        now: DateTime<Utc>,
    ) -> Result<Self, Violations> {
        let Some(at) = reported else {
            if rules.event_time_required {
                return Err(Violation::new(
                    "",
                    ViolationCode::Required,
                    "Chưa có thời gian xảy ra sự việc: hãy ghi ngày và giờ (ước chừng cũng được).",
                    "The time of the event is missing: give the date and hour (an estimate will do).",
                )
                .into());
            }
            return Ok(Self { at: now.with_timezone(&vietnam_offset()), source: EventTimeSource::AssumedReceived });
        };
        let utc = at.with_timezone(&Utc);
        let tolerance = Duration::seconds(i64::from(rules.future_tolerance_secs));
        // Checked arithmetic: an absurd configured limit means "no limit", never a panic.
        if now.checked_add_signed(tolerance).is_some_and(|latest| utc > latest) {
            let shown = at.format("%H:%M %d/%m/%Y");
            return Err(Violation::new(
                "",
                ViolationCode::InFuture,
                format!("Thời gian xảy ra sự việc ({shown}) ở tương lai: hãy kiểm tra lại ngày giờ, và đồng hồ của điện thoại."),
                format!("The time of the event ({shown}) is in the future: check the date and hour, and the phone's clock."),
            )
            .into());
        }
        let max_age = Duration::days(i64::from(rules.max_event_age_days));
        if now.checked_sub_signed(max_age).is_some_and(|earliest| utc < earliest) {
            let shown = at.format("%d/%m/%Y");
            let days = rules.max_event_age_days;
            return Err(Violation::new(
                "",
                ViolationCode::TooOld,
                format!("Thời gian xảy ra sự việc ({shown}) đã quá {days} ngày: chỉ tiếp nhận phản ánh về sự việc trong {days} ngày gần đây; nếu sự việc vẫn còn, hãy ghi thời gian bạn thấy nó gần nhất."),
                format!("The time of the event ({shown}) is more than {days} days ago: only events of the last {days} days are accepted; if the problem persists, give the time you last saw it."),
            )
            .into());
        }
        Ok(Self { at, source: EventTimeSource::Reported })
    }

    /// The time of the event, in the offset it was given in.
    pub fn at(&self) -> DateTime<FixedOffset> {
        self.at
    }

    /// Whether the reporter gave it or it was assumed.
    pub fn source(&self) -> EventTimeSource {
        self.source
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 9, 15, 3, 0, 0).unwrap()
    }

    fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<FixedOffset> {
        vietnam_offset().with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    // Proves R6.1b.
    #[test]
    fn event_time_window_r6_1b() {
        let rules = SubmissionRules::default();
        // now = 10:00 on 15/09/2025 in Vietnam.
        let cases = [
            (local(2025, 9, 15, 9, 30), None),
            (local(2025, 9, 15, 10, 9), None),
            (local(2025, 9, 15, 10, 11), Some(ViolationCode::InFuture)),
            (local(2025, 9, 16, 10, 0), Some(ViolationCode::InFuture)),
            (local(2025, 6, 18, 10, 0), None),
            (local(2025, 6, 16, 9, 0), Some(ViolationCode::TooOld)),
            (local(1970, 1, 1, 7, 0), Some(ViolationCode::TooOld)),
        ];
        for (at, expected) in cases {
            let got = EventTime::parse(Some(at), &rules, now()).err().map(|e| e.0[0].code);
            assert_eq!(got, expected, "{at}");
        }
    }

    // Proves R6.1b.
    #[test]
    fn a_local_time_sent_as_utc_is_caught_r6_1b() {
        // 09:30 in Vietnam labelled as UTC is 16:30 in Vietnam: six and a half hours ahead.
        let wrong = FixedOffset::east_opt(0).unwrap().with_ymd_and_hms(2025, 9, 15, 9, 30, 0).unwrap();
        let err = EventTime::parse(Some(wrong), &SubmissionRules::default(), now()).unwrap_err();
        assert_eq!(err.0[0].code, ViolationCode::InFuture);
        assert!(err.0[0].message_vi.contains("09:30 15/09/2025"));
    }

    // Proves R6.1b.
    #[test]
    fn missing_time_is_required_unless_the_channel_cannot_ask_r6_1b() {
        let strict = SubmissionRules::default();
        let err = EventTime::parse(None, &strict, now()).unwrap_err();
        assert_eq!(err.0[0].code, ViolationCode::Required);

        let lenient = SubmissionRules { event_time_required: false, ..strict };
        let assumed = EventTime::parse(None, &lenient, now()).unwrap();
        assert_eq!(assumed.source(), EventTimeSource::AssumedReceived);
        assert_eq!(assumed.at(), now());
        assert_eq!(assumed.at().offset().local_minus_utc(), 7 * 3600);
    }
}
