//! What a run measured: the tally workers fill, and the summary printed as text or JSON.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Highest latency a histogram holds, in microseconds; longer ones are recorded as this.
const MAX_MICROS: u64 = 120_000_000;

/// A latency histogram in microseconds, three significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("static histogram bounds are valid")
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

/// The counts and latencies of one worker (or of the whole run, once merged).
#[derive(Clone, Debug)]
pub struct Tally {
    /// From the time each request was due (open loop) or sent (closed loop) to its answer.
    pub latency: Histogram<u64>,
    /// From the time each request was actually sent to its answer.
    pub service: Histogram<u64>,
    /// Measured requests sent.
    pub sent: u64,
    /// Measured requests answered OK.
    pub accepted: u64,
    /// Measured requests that failed, by gRPC code name.
    pub errors: BTreeMap<String, u64>,
    /// Accepted requests per second of the measured window, by the second they completed in.
    pub per_second: Vec<u64>,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            latency: histogram(),
            service: histogram(),
            sent: 0,
            accepted: 0,
            errors: BTreeMap::new(),
            per_second: Vec::new(),
        }
    }
}

impl Tally {
    /// One answered request: `latency` from its due time, `service` from its send, completed
    /// `second` whole seconds into the measured window; `error` is the gRPC code name if it failed.
    pub fn record(&mut self, latency: Duration, service: Duration, second: usize, error: Option<&str>) {
        self.sent += 1;
        // Failures keep their latency too: a timeout is the slowest answer there is.
        self.latency.saturating_record(micros(latency));
        self.service.saturating_record(micros(service));
        match error {
            None => {
                self.accepted += 1;
                if self.per_second.len() <= second {
                    self.per_second.resize(second + 1, 0);
                }
                self.per_second[second] += 1;
            }
            Some(code) => *self.errors.entry(code.to_owned()).or_default() += 1,
        }
    }

    /// Adds another worker's tally to this one.
    pub fn merge(&mut self, other: &Tally) {
        self.latency.add(&other.latency).expect("histograms with the same bounds merge");
        self.service.add(&other.service).expect("histograms with the same bounds merge");
        self.sent += other.sent;
        self.accepted += other.accepted;
        for (code, n) in &other.errors {
            *self.errors.entry(code.clone()).or_default() += n;
        }
        if self.per_second.len() < other.per_second.len() {
            self.per_second.resize(other.per_second.len(), 0);
        }
        for (mine, theirs) in self.per_second.iter_mut().zip(&other.per_second) {
            *mine += theirs;
        }
    }
}

/// Latency percentiles in milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

impl Percentiles {
    /// The percentiles of a microsecond histogram; `None` when it is empty.
    pub fn of(h: &Histogram<u64>) -> Option<Percentiles> {
        if h.is_empty() {
            return None;
        }
        let ms = |micros: u64| micros as f64 / 1000.0;
        Some(Percentiles {
            p50: ms(h.value_at_quantile(0.50)),
            p95: ms(h.value_at_quantile(0.95)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
            mean: h.mean() / 1000.0,
        })
    }
}

/// Accepted requests per whole second of the measured window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PerSecond {
    pub min: u64,
    pub median: u64,
    pub max: u64,
}

impl PerSecond {
    /// Over the first `seconds` whole seconds (the last, partial one is left out).
    pub fn of(counts: &[u64], seconds: usize) -> Option<PerSecond> {
        if seconds == 0 {
            return None;
        }
        let mut window: Vec<u64> = (0..seconds).map(|i| counts.get(i).copied().unwrap_or(0)).collect();
        window.sort_unstable();
        Some(PerSecond { min: window[0], median: window[window.len() / 2], max: window[window.len() - 1] })
    }
}

/// CPU time processes used over the measured window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CpuUse {
    /// Which processes: `pid 4242`, or command names.
    pub processes: String,
    pub seconds: f64,
    /// Milliseconds of CPU per accepted request.
    pub ms_per_report: Option<f64>,
}

/// The result of one run, printed by [`Summary::text`] or serialised as JSON.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct Summary {
    pub label: Option<String>,
    /// `submit`, `baseline-postgres` or `baseline-sqlite`.
    pub target: String,
    /// `open` (fixed rate) or `closed` (as fast as possible).
    pub mode: String,
    /// The requested rate per second (open loop).
    pub rate: Option<f64>,
    pub concurrency: u32,
    pub connections: Option<u32>,
    /// The measured window, in seconds.
    pub duration_secs: f64,
    pub sent: u64,
    pub accepted: u64,
    pub errors: BTreeMap<String, u64>,
    /// Due requests never sent because the generator was still behind schedule at the end.
    pub missed: u64,
    /// Accepted requests per second of the measured window.
    pub throughput: f64,
    pub per_second: Option<PerSecond>,
    /// From the due time (open loop) or the send (closed loop).
    pub latency_ms: Option<Percentiles>,
    /// From the actual send.
    pub service_ms: Option<Percentiles>,
    /// The server process.
    pub server_cpu: Option<CpuUse>,
    /// The other processes named by `--cpu-of` (database, broker, cache), whoever they served.
    pub services_cpu: Option<CpuUse>,
    /// This load generator.
    pub generator_cpu: Option<CpuUse>,
    /// The server's outbox-to-broker lag, seconds by quantile label, as its /metrics said.
    pub outbox_lag_secs: Option<BTreeMap<String, f64>>,
    pub notes: Vec<String>,
}

impl Default for Summary {
    fn default() -> Self {
        Summary {
            label: None,
            target: String::new(),
            mode: String::new(),
            rate: None,
            concurrency: 0,
            connections: None,
            duration_secs: 0.0,
            sent: 0,
            accepted: 0,
            errors: BTreeMap::new(),
            missed: 0,
            throughput: 0.0,
            per_second: None,
            latency_ms: None,
            service_ms: None,
            server_cpu: None,
            services_cpu: None,
            generator_cpu: None,
            outbox_lag_secs: None,
            notes: Vec::new(),
        }
    }
}

/// Milliseconds with about three significant digits.
pub fn ms(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.2}")
    } else if v < 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

impl fmt::Display for Percentiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "p50 {} ms  p95 {} ms  p99 {} ms  p99.9 {} ms  max {} ms",
            ms(self.p50),
            ms(self.p95),
            ms(self.p99),
            ms(self.p999),
            ms(self.max)
        )
    }
}

impl Summary {
    /// The human-readable report.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let how = match self.rate {
            Some(rate) => format!("open loop at {rate}/s"),
            None => "closed loop, as fast as possible".to_owned(),
        };
        let connections = self.connections.map(|c| format!(" on {c} connections")).unwrap_or_default();
        let label = self.label.as_deref().map(|l| format!("[{l}] ")).unwrap_or_default();
        let _ = writeln!(
            out,
            "{label}{} · {how} · {} client{}{connections} · {:.1} s measured",
            self.target,
            self.concurrency,
            if self.concurrency == 1 { "" } else { "s" },
            self.duration_secs
        );
        let _ = writeln!(out, "  sent        {}   accepted {}   missed {}", self.sent, self.accepted, self.missed);
        let errors = if self.errors.is_empty() {
            "none".to_owned()
        } else {
            self.errors.iter().map(|(code, n)| format!("{code} {n}")).collect::<Vec<_>>().join(", ")
        };
        let _ = writeln!(out, "  errors      {errors}");
        let spread = self
            .per_second
            .as_ref()
            .map(|p| format!(" (per second: min {}, median {}, max {})", p.min, p.median, p.max))
            .unwrap_or_default();
        let _ = writeln!(out, "  throughput  {:.1} accepted/s{spread}", self.throughput);
        if let Some(p) = &self.latency_ms {
            let from = if self.rate.is_some() { "from the due time" } else { "from the send" };
            let _ = writeln!(out, "  latency     {p}  ({from})");
        }
        if let (Some(p), Some(_)) = (&self.service_ms, self.rate) {
            let _ = writeln!(out, "  service     {p}  (from the send)");
        }
        let cpus =
            [("server CPU", &self.server_cpu), ("other CPU ", &self.services_cpu), ("load CPU  ", &self.generator_cpu)];
        for (what, cpu) in cpus {
            if let Some(cpu) = cpu {
                let per = cpu.ms_per_report.map(|m| format!(", {} ms per accepted report", ms(m))).unwrap_or_default();
                let _ = writeln!(out, "  {what}  {:.2} s{per}  ({})", cpu.seconds, cpu.processes);
            }
        }
        if let Some(lag) = &self.outbox_lag_secs {
            let parts: Vec<String> = lag.iter().map(|(q, v)| format!("{q} {} ms", ms(v * 1000.0))).collect();
            let _ = writeln!(out, "  outbox lag  {}  (server metric)", parts.join("  "));
        }
        for note in &self.notes {
            let _ = writeln!(out, "  note: {note}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally_of(latencies_ms: &[u64]) -> Tally {
        let mut t = Tally::default();
        for (i, &l) in latencies_ms.iter().enumerate() {
            t.record(Duration::from_millis(l), Duration::from_millis(l), i / 10, None);
        }
        t
    }

    #[test]
    fn percentiles_of_a_known_distribution() {
        // 1..=1000 ms: p50 = 500, p99 = 990, p99.9 = 999, max = 1000 (within 0.1 %).
        let t = tally_of(&(1..=1000).collect::<Vec<_>>());
        let p = Percentiles::of(&t.latency).unwrap();
        let close = |a: f64, b: f64| (a - b).abs() <= b * 0.001 + 0.001;
        assert!(close(p.p50, 500.0), "{p:?}");
        assert!(close(p.p95, 950.0), "{p:?}");
        assert!(close(p.p99, 990.0), "{p:?}");
        assert!(close(p.p999, 999.0), "{p:?}");
        assert!(close(p.max, 1000.0), "{p:?}");
        assert!(close(p.mean, 500.5), "{p:?}");
        assert_eq!(Percentiles::of(&histogram()), None);
    }

    #[test]
    fn merge_adds_counts_errors_and_seconds() {
        let mut a = tally_of(&[1, 2, 3]);
        a.record(Duration::from_secs(10), Duration::from_secs(10), 0, Some("DEADLINE_EXCEEDED"));
        let mut b = tally_of(&[4; 25]);
        b.record(Duration::from_millis(1), Duration::from_millis(1), 0, Some("UNAVAILABLE"));
        b.record(Duration::from_millis(1), Duration::from_millis(1), 0, Some("UNAVAILABLE"));
        a.merge(&b);
        assert_eq!(a.sent, 31);
        assert_eq!(a.accepted, 28);
        assert_eq!(a.errors.get("UNAVAILABLE"), Some(&2));
        assert_eq!(a.errors.get("DEADLINE_EXCEEDED"), Some(&1));
        assert_eq!(a.per_second, vec![13, 10, 5]);
        assert_eq!(a.latency.len(), 31);
    }

    #[test]
    fn per_second_leaves_out_the_partial_second() {
        let p = PerSecond::of(&[500, 498, 503, 120], 3).unwrap();
        assert_eq!(p, PerSecond { min: 498, median: 500, max: 503 });
        // A second without any completion counts as zero: a stall must show.
        assert_eq!(PerSecond::of(&[500, 500], 3).unwrap().min, 0);
        assert_eq!(PerSecond::of(&[], 0), None);
    }

    #[test]
    fn milliseconds_keep_three_digits() {
        assert_eq!(ms(0.4567), "0.46");
        assert_eq!(ms(12.345), "12.3");
        assert_eq!(ms(1234.5), "1234");
    }

    #[test]
    fn text_report_names_everything_measured() {
        let mut t = tally_of(&[2, 3, 4, 40]);
        t.record(Duration::from_secs(10), Duration::from_secs(10), 0, Some("DEADLINE_EXCEEDED"));
        let summary = Summary {
            label: Some("suite-500".into()),
            target: "submit".into(),
            mode: "open".into(),
            rate: Some(500.0),
            concurrency: 32,
            connections: Some(4),
            duration_secs: 60.0,
            sent: t.sent,
            accepted: t.accepted,
            errors: t.errors.clone(),
            missed: 0,
            throughput: 499.9,
            per_second: PerSecond::of(&t.per_second, 1),
            latency_ms: Percentiles::of(&t.latency),
            service_ms: Percentiles::of(&t.service),
            server_cpu: Some(CpuUse { processes: "pid 42".into(), seconds: 12.5, ms_per_report: Some(0.42) }),
            services_cpu: None,
            generator_cpu: None,
            outbox_lag_secs: Some(BTreeMap::from([("0.99".to_owned(), 0.081)])),
            notes: vec![],
        };
        let text = summary.text();
        for expected in [
            "[suite-500] submit · open loop at 500/s · 32 clients on 4 connections · 60.0 s measured",
            "sent        5   accepted 4   missed 0",
            "errors      DEADLINE_EXCEEDED 1",
            "throughput  499.9 accepted/s (per second: min 4, median 4, max 4)",
            "latency     p50 4.00 ms  p95 100",
            "ms  (from the due time)",
            "server CPU  12.50 s, 0.42 ms per accepted report  (pid 42)",
            "outbox lag  0.99 81.0 ms",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        let json: serde_json::Value = serde_json::to_value(&summary).unwrap();
        assert_eq!(json["latency_ms"]["p50"], 4.001);
        assert_eq!(json["errors"]["DEADLINE_EXCEEDED"], 1);
    }
}
