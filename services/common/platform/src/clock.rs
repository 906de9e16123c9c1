//! The business clock: the instant a report arrives or an action is taken, from which every
//! deadline is counted.
//!
//! It is the system clock, unless the process was told to start its business time at another
//! instant ([`start_at`], from `PAHT_CLOCK_START` in the runtime): a training or demonstration
//! instance can then show how deadlines run across a holiday, and the end-to-end tests assert
//! deadlines computed by hand for a known week. Time still advances at the normal rate from
//! there. Infrastructure timestamps (outbox, inbox, tokens, relay lag) always use the system
//! clock.

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

static OFFSET: OnceLock<TimeDelta> = OnceLock::new();

/// Starts business time at `start` (now, on the system clock, becomes `start`). Only the
/// first call counts; returns whether it was the first.
pub fn start_at(start: DateTime<Utc>) -> bool {
    OFFSET.set(start - Utc::now()).is_ok()
}

/// Whether business time is shifted from the system clock.
pub fn is_shifted() -> bool {
    OFFSET.get().is_some_and(|o| !o.is_zero())
}

/// A source of business time a service stamps its actions with: [`now`] in service, a fixed
/// or stepped instant in tests.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Business now, at the microsecond precision both databases keep (a value read back is equal).
pub fn now() -> DateTime<Utc> {
    micros(Utc::now() + OFFSET.get().copied().unwrap_or_default())
}

/// The system clock at microsecond precision, for infrastructure timestamps (`updated_at`,
/// outbox and inbox marks), never shifted.
pub fn wall() -> DateTime<Utc> {
    micros(Utc::now())
}

/// `t` at the microsecond precision both databases keep, so a value read back is equal.
pub fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn business_time_starts_where_told_and_runs_on() {
        let start = Utc.with_ymd_and_hms(2027, 4, 28, 9, 0, 0).unwrap();
        assert!(start_at(start));
        assert!(!start_at(Utc::now()), "only the first start counts");
        let a = now();
        assert!(a >= start && a - start < TimeDelta::seconds(5), "{a}");
        assert!(now() >= a);
        assert!(is_shifted());
        assert_eq!(a.timestamp_subsec_nanos() % 1000, 0);
    }
}
