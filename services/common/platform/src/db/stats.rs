//! The relay's counters and lag histogram: lock-free, dependency-free, cheap enough to update
//! on every batch and read from a metrics endpoint or the load tool.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Sub-buckets per power of two: lag quantiles are exact to within 25 %.
const SUB_BITS: u32 = 2;
const SUB: u64 = 1 << SUB_BITS;
/// Powers of two covered: up to 2^41 µs, about 25 days.
const OCTAVES: u64 = 41;
const BUCKETS: usize = (SUB * OCTAVES) as usize;

/// What the relay has done since it started; shared by the relay task and its readers.
#[derive(Debug)]
pub struct RelayStats {
    published: AtomicU64,
    batches: AtomicU64,
    publish_failures: AtomicU64,
    db_errors: AtomicU64,
    consecutive_failures: AtomicU64,
    last_batch_size: AtomicU64,
    last_batch_lag_us: AtomicU64,
    purged: AtomicU64,
    /// Per-row lag (enqueued → marked published), in µs, log-linear buckets.
    lag: [AtomicU64; BUCKETS],
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RelayStatsSnapshot {
    /// Events published and marked published.
    pub published: u64,
    /// Batches published.
    pub batches: u64,
    /// Batches the bus failed to publish (retried later).
    pub publish_failures: u64,
    /// Database errors (connection lost, …) the relay backed off from.
    pub db_errors: u64,
    /// Failures since the last success; non-zero means the relay is backing off now.
    pub consecutive_failures: u64,
    /// Rows in the last published batch.
    pub last_batch_size: u64,
    /// Time from enqueue of the oldest row of the last batch to its marking as published.
    pub last_batch_lag: Duration,
    /// Published rows deleted by the retention clean-up.
    pub purged: u64,
}

impl Default for RelayStats {
    fn default() -> Self {
        RelayStats {
            published: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            publish_failures: AtomicU64::new(0),
            db_errors: AtomicU64::new(0),
            consecutive_failures: AtomicU64::new(0),
            last_batch_size: AtomicU64::new(0),
            last_batch_lag_us: AtomicU64::new(0),
            purged: AtomicU64::new(0),
            lag: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl RelayStats {
    /// The counters now.
    pub fn snapshot(&self) -> RelayStatsSnapshot {
        RelayStatsSnapshot {
            published: self.published.load(Ordering::Relaxed),
            batches: self.batches.load(Ordering::Relaxed),
            publish_failures: self.publish_failures.load(Ordering::Relaxed),
            db_errors: self.db_errors.load(Ordering::Relaxed),
            consecutive_failures: self.consecutive_failures.load(Ordering::Relaxed),
            last_batch_size: self.last_batch_size.load(Ordering::Relaxed),
            last_batch_lag: Duration::from_micros(self.last_batch_lag_us.load(Ordering::Relaxed)),
            purged: self.purged.load(Ordering::Relaxed),
        }
    }

    /// The per-row lag below which a fraction `q` (0.0–1.0) of rows were published, rounded up
    /// to the histogram's bucket; `None` before any row was published.
    pub fn lag_quantile(&self, q: f64) -> Option<Duration> {
        let counts: Vec<u64> = self.lag.iter().map(|b| b.load(Ordering::Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (index, count) in counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(Duration::from_micros(bucket_upper(index)));
            }
        }
        Some(Duration::from_micros(bucket_upper(BUCKETS - 1)))
    }

    /// Empties the lag histogram, e.g. between two phases of a load test.
    pub fn reset_lag(&self) {
        for bucket in &self.lag {
            bucket.store(0, Ordering::Relaxed);
        }
    }

    pub(crate) fn record_batch(&self, lags: impl IntoIterator<Item = Duration>) {
        let (mut rows, mut oldest) = (0, Duration::ZERO);
        for lag in lags {
            rows += 1;
            oldest = oldest.max(lag);
            let micros = u64::try_from(lag.as_micros()).unwrap_or(u64::MAX);
            self.lag[bucket_of(micros)].fetch_add(1, Ordering::Relaxed);
        }
        self.published.fetch_add(rows, Ordering::Relaxed);
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.last_batch_size.store(rows, Ordering::Relaxed);
        self.last_batch_lag_us.store(u64::try_from(oldest.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
        self.consecutive_failures.store(0, Ordering::Relaxed);
    }

    pub(crate) fn record_success(&self) {
        self.consecutive_failures.store(0, Ordering::Relaxed);
    }

    pub(crate) fn record_publish_failure(&self) {
        self.publish_failures.fetch_add(1, Ordering::Relaxed);
        self.consecutive_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_db_error(&self) {
        self.db_errors.fetch_add(1, Ordering::Relaxed);
        self.consecutive_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_purged(&self, rows: u64) {
        self.purged.fetch_add(rows, Ordering::Relaxed);
    }
}

/// Values below `SUB` get a bucket each; above, each power of two is split in `SUB` equal parts.
fn bucket_of(micros: u64) -> usize {
    if micros < SUB {
        return micros as usize;
    }
    let octave = u64::from(micros.ilog2()); // ≥ SUB_BITS
    let sub = (micros >> (octave - u64::from(SUB_BITS))) & (SUB - 1);
    let index = SUB * (octave - u64::from(SUB_BITS) + 1) + sub;
    (index as usize).min(BUCKETS - 1)
}

/// The exclusive upper bound, in µs, of a bucket.
fn bucket_upper(index: usize) -> u64 {
    let index = index as u64;
    if index < SUB {
        return index + 1;
    }
    let shift = index / SUB - 1;
    let sub = index % SUB;
    (SUB + sub + 1) << shift
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn buckets_bound_their_values() {
        for micros in [0, 1, 3, 4, 5, 7, 8, 9, 100, 1_000, 65_535, 1_000_000, 123_456_789] {
            let index = bucket_of(micros);
            assert!(micros < bucket_upper(index), "{micros} below the upper bound of bucket {index}");
            if index > 0 {
                assert!(micros >= bucket_upper(index - 1), "{micros} above the bound of bucket {}", index - 1);
            }
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn quantiles_come_from_recorded_lags() {
        let stats = RelayStats::default();
        assert_eq!(stats.lag_quantile(0.5), None);
        let lags = (1..=100).map(Duration::from_millis);
        stats.record_batch(lags);
        let snapshot = stats.snapshot();
        assert_eq!((snapshot.published, snapshot.batches, snapshot.last_batch_size), (100, 1, 100));
        assert_eq!(snapshot.last_batch_lag, Duration::from_millis(100));
        let p50 = stats.lag_quantile(0.5).unwrap();
        assert!(p50 >= Duration::from_millis(50) && p50 <= Duration::from_millis(63), "{p50:?}");
        let p100 = stats.lag_quantile(1.0).unwrap();
        assert!(p100 >= Duration::from_millis(100) && p100 <= Duration::from_millis(125), "{p100:?}");
        stats.reset_lag();
        assert_eq!(stats.lag_quantile(0.5), None);
    }
}
