//! The open-loop schedule: request `i` is due at `i / rate` seconds after the start, whatever
//! the server does. Latency is measured from that due time, so a stalled server shows up as
//! latency of every request it delayed (no coordinated omission), not as a lower send rate.

use std::time::Duration;

/// Due times of a fixed-rate run of `warmup + duration`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Schedule {
    rate: f64,
    first_measured: u64,
    total: u64,
}

impl Schedule {
    /// The schedule of `rate` requests per second over `warmup` then `duration`.
    pub fn new(rate: f64, warmup: Duration, duration: Duration) -> Schedule {
        assert!(rate.is_finite() && rate > 0.0, "the rate must be positive");
        // Slot i is due at i/rate: the first slot at or after the warm-up is measured, and
        // slots due before the end are sent. The epsilon keeps 0.1 s × 10/s from rounding to 0.999….
        let slots_before = |t: Duration| (t.as_secs_f64() * rate - 1e-9).ceil().max(0.0) as u64;
        Schedule { rate, first_measured: slots_before(warmup), total: slots_before(warmup + duration) }
    }

    /// When slot `slot` is due, counted from the start of the run.
    pub fn due(&self, slot: u64) -> Duration {
        Duration::from_secs_f64(slot as f64 / self.rate)
    }

    /// Every slot of the run, warm-up included.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Whether a slot is measured (due after the warm-up).
    pub fn is_measured(&self, slot: u64) -> bool {
        (self.first_measured..self.total).contains(&slot)
    }

    /// How many slots are measured.
    pub fn measured(&self) -> u64 {
        self.total - self.first_measured
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn slots_are_evenly_spaced() {
        let s = Schedule::new(200.0, secs(0.0), secs(1.0));
        assert_eq!(s.due(0), Duration::ZERO);
        assert_eq!(s.due(1), Duration::from_millis(5));
        assert_eq!(s.due(200), Duration::from_secs(1));
        assert_eq!(s.total(), 200);
    }

    #[test]
    fn warmup_slots_are_sent_but_not_measured() {
        let s = Schedule::new(100.0, secs(5.0), secs(60.0));
        assert_eq!(s.total(), 6_500);
        assert_eq!(s.measured(), 6_000);
        assert!(!s.is_measured(499));
        assert!(s.is_measured(500));
        assert_eq!(s.due(500), Duration::from_secs(5));
        assert!(s.is_measured(6_499));
        assert!(!s.is_measured(6_500));
    }

    #[test]
    fn fractional_rates_and_durations() {
        // 2.5/s over 2 s: due at 0, 0.4, 0.8, 1.2, 1.6.
        let s = Schedule::new(2.5, secs(0.0), secs(2.0));
        assert_eq!(s.total(), 5);
        assert_eq!(s.due(4), Duration::from_millis(1600));
        // 10/s over 0.1 s is exactly one slot, not two by rounding.
        assert_eq!(Schedule::new(10.0, secs(0.0), secs(0.1)).total(), 1);
    }

    #[test]
    fn large_runs_keep_microsecond_precision() {
        let s = Schedule::new(1000.0, secs(5.0), secs(3600.0));
        assert_eq!(s.measured(), 3_600_000);
        let due = s.due(3_604_999);
        assert!(due.abs_diff(Duration::from_micros(3_604_999_000)) < Duration::from_micros(1), "{due:?}");
    }
}
