//! What a workflow run measured: the tally its workers fill, and the summary printed as text
//! or JSON (`paht-load table` lays several side by side).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::summary::{PerSecond, Percentiles, histogram, ms};

/// The steps of one flow, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    /// IntakeService.SubmitReport, as the channel (system role).
    Submit,
    /// IntakeService.AcceptReport, as the IOC operator.
    Accept,
    /// RoutingService.Dispatch to one agency, as the IOC operator; waits for routing's replica.
    Dispatch,
    /// ProcessingService.SubmitResult, as an officer of the agency; waits for processing's replica.
    SubmitResult,
    /// ProcessingService.ApproveResult, as a leader of the agency.
    Approve,
    /// PublicationService.PublishAnswer, as the IOC operator, for a reporter who did not ask for
    /// confidentiality; waits for routing's `report.resolved` to reach publication.
    Publish,
    /// PublicationService.AnswerPrivately, as the IOC operator, instead of publishing for a
    /// reporter who asked for confidentiality (R10.3b); waits as PublishAnswer does.
    AnswerPrivately,
    /// PublicationService.RateReport, anonymous: the reporter, proved by the rating secret.
    Rate,
}

impl Step {
    /// How many steps there are (a flow makes one of PublishAnswer and AnswerPrivately).
    pub const COUNT: usize = 8;

    /// Every step, in the order a flow makes them.
    pub const ALL: [Step; Step::COUNT] = [
        Step::Submit,
        Step::Accept,
        Step::Dispatch,
        Step::SubmitResult,
        Step::Approve,
        Step::Publish,
        Step::AnswerPrivately,
        Step::Rate,
    ];

    /// The steps of a flow that ends at the leader's approval.
    pub const TO_APPROVAL: &[Step] = &[Step::Submit, Step::Accept, Step::Dispatch, Step::SubmitResult, Step::Approve];

    /// The RPC's name.
    pub fn name(self) -> &'static str {
        match self {
            Step::Submit => "SubmitReport",
            Step::Accept => "AcceptReport",
            Step::Dispatch => "Dispatch",
            Step::SubmitResult => "SubmitResult",
            Step::Approve => "ApproveResult",
            Step::Publish => "PublishAnswer",
            Step::AnswerPrivately => "AnswerPrivately",
            Step::Rate => "RateReport",
        }
    }

    /// Whether the step follows another service's step, so it may have to wait for its event.
    pub fn waits_for_events(self) -> bool {
        matches!(self, Step::Dispatch | Step::SubmitResult | Step::Publish | Step::AnswerPrivately)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A step that went through.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepDone {
    pub step: Step,
    /// From the send of the attempt that succeeded to its answer (retries excluded).
    pub latency: Duration,
    /// Attempts refused before it, while the other service caught up.
    pub retries: u32,
    /// From the first attempt's send to the successful attempt's send: the refused attempts
    /// and the back-off between them.
    pub wait: Duration,
}

/// The step a flow stopped at.
#[derive(Clone, Debug, PartialEq)]
pub struct StepFailed {
    pub step: Step,
    /// The gRPC code name of the last attempt.
    pub code: &'static str,
    pub retries: u32,
}

/// One measured flow.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowRecord {
    /// The steps that went through, in order.
    pub done: Vec<StepDone>,
    /// The step it stopped at, if it did not complete.
    pub failed: Option<StepFailed>,
    /// From the flow's due time (open loop) or its start (closed loop) to its last step's answer.
    pub end_to_end: Duration,
    /// From its actual start to its last answer.
    pub service: Duration,
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn histograms() -> [Histogram<u64>; Step::COUNT] {
    std::array::from_fn(|_| histogram())
}

/// The counts and latencies of one worker, or of the whole run once merged.
#[derive(Clone, Debug)]
pub struct FlowTally {
    /// Measured flows started.
    pub started: u64,
    /// Measured flows that went through every step.
    pub completed: u64,
    /// End to end of completed flows: from the due time (open loop) or the start (closed loop).
    pub end_to_end: Histogram<u64>,
    /// End to end of completed flows, from the actual start.
    pub service: Histogram<u64>,
    /// Flows completed in each second of the measured window, whenever they started (a flow
    /// takes long enough that those started in the warm-up end in the first seconds).
    pub per_second: Vec<u64>,
    /// Latency of each step's successful attempt, by [`Step`] order.
    pub steps: [Histogram<u64>; Step::COUNT],
    /// Time each step waited for the other service, over every flow that got through it.
    pub waits: [Histogram<u64>; Step::COUNT],
    /// Time each step waited, over the flows that had to wait.
    pub waited_only: [Histogram<u64>; Step::COUNT],
    /// Retries of each step, those of failed steps included.
    pub retries: [u64; Step::COUNT],
    /// Failed flows by step, then gRPC code name.
    pub errors: BTreeMap<Step, BTreeMap<String, u64>>,
}

impl Default for FlowTally {
    fn default() -> Self {
        FlowTally {
            started: 0,
            completed: 0,
            end_to_end: histogram(),
            service: histogram(),
            per_second: Vec::new(),
            steps: histograms(),
            waits: histograms(),
            waited_only: histograms(),
            retries: [0; Step::COUNT],
            errors: BTreeMap::new(),
        }
    }
}

impl FlowTally {
    /// Counts a flow, measured or not, that completed `second` whole seconds into the
    /// measured window.
    pub fn completed_in(&mut self, second: usize) {
        if self.per_second.len() <= second {
            self.per_second.resize(second + 1, 0);
        }
        self.per_second[second] += 1;
    }

    /// Adds one measured flow.
    pub fn record(&mut self, flow: &FlowRecord) {
        self.started += 1;
        for done in &flow.done {
            let i = done.step.index();
            self.steps[i].saturating_record(micros(done.latency).max(1));
            self.waits[i].saturating_record(micros(done.wait));
            if done.retries > 0 {
                self.waited_only[i].saturating_record(micros(done.wait).max(1));
            }
            self.retries[i] += u64::from(done.retries);
        }
        match &flow.failed {
            Some(failed) => {
                self.retries[failed.step.index()] += u64::from(failed.retries);
                *self.errors.entry(failed.step).or_default().entry(failed.code.to_owned()).or_default() += 1;
            }
            None => {
                self.completed += 1;
                self.end_to_end.saturating_record(micros(flow.end_to_end).max(1));
                self.service.saturating_record(micros(flow.service).max(1));
            }
        }
    }

    /// Adds another worker's tally to this one.
    pub fn merge(&mut self, other: &FlowTally) {
        let add = |mine: &mut Histogram<u64>, theirs: &Histogram<u64>| {
            mine.add(theirs).expect("histograms with the same bounds merge");
        };
        self.started += other.started;
        self.completed += other.completed;
        add(&mut self.end_to_end, &other.end_to_end);
        add(&mut self.service, &other.service);
        for i in 0..Step::COUNT {
            add(&mut self.steps[i], &other.steps[i]);
            add(&mut self.waits[i], &other.waits[i]);
            add(&mut self.waited_only[i], &other.waited_only[i]);
            self.retries[i] += other.retries[i];
        }
        for (step, codes) in &other.errors {
            let mine = self.errors.entry(*step).or_default();
            for (code, n) in codes {
                *mine.entry(code.clone()).or_default() += n;
            }
        }
        if self.per_second.len() < other.per_second.len() {
            self.per_second.resize(other.per_second.len(), 0);
        }
        for (mine, theirs) in self.per_second.iter_mut().zip(&other.per_second) {
            *mine += theirs;
        }
    }

    /// Failed flows, all steps and codes together.
    pub fn failed(&self) -> u64 {
        self.errors.values().flat_map(|codes| codes.values()).sum()
    }
}

/// One step's latency.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepLatency {
    /// The RPC's name (`SubmitReport` …).
    pub step: String,
    /// Flows that got through it.
    pub ok: u64,
    /// Latency of the successful attempt, retries excluded.
    pub latency_ms: Option<Percentiles>,
}

/// How long one step waited for the other service to catch up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Propagation {
    /// The RPC's name (`Dispatch`, `SubmitResult`).
    pub step: String,
    /// Flows that got through the step.
    pub flows: u64,
    /// Of them, the flows that had to retry at least once.
    pub waited: u64,
    /// Retries made, those of flows that gave up included.
    pub retries: u64,
    /// The wait over every flow that got through (none waited: 0).
    pub wait_ms: Option<Percentiles>,
    /// The wait over the flows that waited.
    pub waited_ms: Option<Percentiles>,
}

/// CPU time processes used over the measured window, per completed flow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlowCpu {
    /// Which processes: `pid 4242`, or command names.
    pub processes: String,
    pub seconds: f64,
    /// Milliseconds of CPU per completed flow.
    pub ms_per_flow: Option<f64>,
}

impl FlowCpu {
    /// `used` over a window in which `completed` flows ended.
    pub fn of(processes: String, used: Duration, completed: u64) -> FlowCpu {
        let seconds = used.as_secs_f64();
        FlowCpu { processes, seconds, ms_per_flow: (completed > 0).then(|| seconds * 1000.0 / completed as f64) }
    }
}

/// The result of one workflow run.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct WorkflowSummary {
    pub label: Option<String>,
    /// Always `workflow` (tells the table this from a submit summary).
    pub target: String,
    /// `open` (fixed rate) or `closed` (as fast as possible).
    pub mode: String,
    /// The requested flows per second (open loop).
    pub rate: Option<f64>,
    /// Flows in flight at most.
    pub concurrency: u32,
    /// Connections to each distinct endpoint.
    pub connections: u32,
    /// Endpoints of intake, routing and processing, then publication's when the flows went
    /// through it.
    pub endpoints: Vec<String>,
    /// The agency every report went to.
    pub agency: String,
    /// The measured window, in seconds.
    pub duration_secs: f64,
    /// Measured flows started.
    pub started: u64,
    pub completed: u64,
    pub failed: u64,
    /// Due flows never started because every worker was still busy at the end.
    pub missed: u64,
    /// Failed flows by the step they stopped at, then gRPC code name.
    pub errors: BTreeMap<String, BTreeMap<String, u64>>,
    /// Measured flows completed, per second of the measured window.
    pub throughput: f64,
    /// Flows completed in each whole second of the measured window, whenever they started.
    pub per_second: Option<PerSecond>,
    /// From the due time (open loop) or the start (closed loop) to the last step's answer
    /// (RateReport's, or ApproveResult's for flows that end at the approval).
    pub end_to_end_ms: Option<Percentiles>,
    /// From the actual start to the last step's answer.
    pub end_to_end_service_ms: Option<Percentiles>,
    /// Each RPC the flows make, in flow order.
    pub steps: Vec<StepLatency>,
    /// The steps that wait for another service's event.
    pub propagation: Vec<Propagation>,
    pub server_cpu: Option<FlowCpu>,
    pub services_cpu: Option<FlowCpu>,
    pub generator_cpu: Option<FlowCpu>,
    /// The server's outbox-to-broker lag as its /metrics said: seconds by service, then by
    /// quantile label.
    pub outbox_lag_secs: Option<BTreeMap<String, BTreeMap<String, f64>>>,
    pub notes: Vec<String>,
}

impl Default for WorkflowSummary {
    fn default() -> Self {
        WorkflowSummary {
            label: None,
            target: "workflow".into(),
            mode: String::new(),
            rate: None,
            concurrency: 0,
            connections: 0,
            endpoints: Default::default(),
            agency: String::new(),
            duration_secs: 0.0,
            started: 0,
            completed: 0,
            failed: 0,
            missed: 0,
            errors: BTreeMap::new(),
            throughput: 0.0,
            per_second: None,
            end_to_end_ms: None,
            end_to_end_service_ms: None,
            steps: Vec::new(),
            propagation: Vec::new(),
            server_cpu: None,
            services_cpu: None,
            generator_cpu: None,
            outbox_lag_secs: None,
            notes: Vec::new(),
        }
    }
}

/// `p50 1.20 ms  p99 3.40 ms`, or a dash.
fn p50_p99(p: Option<&Percentiles>) -> String {
    p.map_or_else(|| "—".to_owned(), |p| format!("p50 {} ms  p99 {} ms", ms(p.p50), ms(p.p99)))
}

impl WorkflowSummary {
    /// Fills the figures of a summary from the run's merged tally; `steps` are those the flows
    /// make.
    pub fn figures(&mut self, tally: &FlowTally, seconds: usize, steps: &[Step]) {
        self.started = tally.started;
        self.completed = tally.completed;
        self.failed = tally.failed();
        self.errors = tally.errors.iter().map(|(step, codes)| (step.name().to_owned(), codes.clone())).collect();
        self.throughput = if self.duration_secs > 0.0 { tally.completed as f64 / self.duration_secs } else { 0.0 };
        self.per_second = PerSecond::of(&tally.per_second, seconds);
        self.end_to_end_ms = Percentiles::of(&tally.end_to_end);
        self.end_to_end_service_ms = Percentiles::of(&tally.service);
        self.steps = steps
            .iter()
            .map(|&s| StepLatency {
                step: s.name().to_owned(),
                ok: tally.steps[s.index()].len(),
                latency_ms: Percentiles::of(&tally.steps[s.index()]),
            })
            .collect();
        self.propagation = steps
            .iter()
            .filter(|s| s.waits_for_events())
            .map(|&s| Propagation {
                step: s.name().to_owned(),
                flows: tally.waits[s.index()].len(),
                waited: tally.waited_only[s.index()].len(),
                retries: tally.retries[s.index()],
                wait_ms: Percentiles::of(&tally.waits[s.index()]),
                waited_ms: Percentiles::of(&tally.waited_only[s.index()]),
            })
            .collect();
    }

    /// The human-readable report.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let how = match self.rate {
            Some(rate) => format!("open loop at {rate} flows/s"),
            None => "closed loop, as fast as possible".to_owned(),
        };
        let label = self.label.as_deref().map(|l| format!("[{l}] ")).unwrap_or_default();
        let _ = writeln!(
            out,
            "{label}workflow · {how} · {} flow{} in flight · {} connection{} per endpoint · {:.1} s measured",
            self.concurrency,
            if self.concurrency == 1 { "" } else { "s" },
            self.connections,
            if self.connections == 1 { "" } else { "s" },
            self.duration_secs
        );
        let services = ["intake", "routing", "processing", "publication"];
        let named: Vec<(&str, &String)> = services.into_iter().zip(&self.endpoints).collect();
        let endpoints = match named.first() {
            Some((_, first)) if named.iter().all(|(_, url)| url == first) => {
                let names: Vec<&str> = named.iter().map(|(name, _)| *name).collect();
                format!("{} at {first}", names.join(", "))
            }
            _ => named.iter().map(|(name, url)| format!("{name} {url}")).collect::<Vec<_>>().join(", "),
        };
        let _ = writeln!(out, "  services    {endpoints} · dispatched to {}", self.agency);
        let _ = writeln!(
            out,
            "  flows       started {}   completed {}   failed {}   missed {}",
            self.started, self.completed, self.failed, self.missed
        );
        let errors = if self.errors.is_empty() {
            "none".to_owned()
        } else {
            // In flow order, not alphabetical.
            let mut parts = Vec::new();
            for step in Step::ALL {
                if let Some(codes) = self.errors.get(step.name()) {
                    parts.extend(codes.iter().map(|(code, n)| format!("{} {code} {n}", step.name())));
                }
            }
            parts.join(", ")
        };
        let _ = writeln!(out, "  errors      {errors}");
        let spread = self
            .per_second
            .as_ref()
            .map(|p| format!(" (per second: min {}, median {}, max {})", p.min, p.median, p.max))
            .unwrap_or_default();
        let _ = writeln!(out, "  throughput  {:.1} completed flows/s{spread}", self.throughput);
        if let Some(p) = &self.end_to_end_ms {
            let from = if self.rate.is_some() { "from the due time" } else { "from the start" };
            let _ = writeln!(out, "  end to end  {p}  ({from})");
        }
        if let (Some(p), Some(_)) = (&self.end_to_end_service_ms, self.rate) {
            let _ = writeln!(out, "  flow time   {p}  (from the start)");
        }
        for step in &self.steps {
            let latency = step.latency_ms.as_ref().map_or_else(|| "—".to_owned(), ToString::to_string);
            let _ = writeln!(out, "  {:<15} {latency}  ({} ok)", step.step, step.ok);
        }
        for wait in &self.propagation {
            let share = if wait.flows > 0 { 100.0 * wait.waited as f64 / wait.flows as f64 } else { 0.0 };
            let _ = writeln!(
                out,
                "  wait {:<15} {} over all; {} over the {} of {} flows that waited ({share:.1} %), {} retries",
                wait.step,
                p50_p99(wait.wait_ms.as_ref()),
                p50_p99(wait.waited_ms.as_ref()),
                wait.waited,
                wait.flows,
                wait.retries
            );
        }
        let cpus =
            [("server CPU", &self.server_cpu), ("other CPU ", &self.services_cpu), ("load CPU  ", &self.generator_cpu)];
        for (what, cpu) in cpus {
            if let Some(cpu) = cpu {
                let per = cpu.ms_per_flow.map(|m| format!(", {} ms per completed flow", ms(m))).unwrap_or_default();
                let _ = writeln!(out, "  {what}  {:.2} s{per}  ({})", cpu.seconds, cpu.processes);
            }
        }
        if let Some(lag) = &self.outbox_lag_secs {
            let services: Vec<String> = lag
                .iter()
                .map(|(service, quantiles)| {
                    let parts: Vec<String> =
                        quantiles.iter().map(|(q, v)| format!("{q} {} ms", ms(v * 1000.0))).collect();
                    format!("{service} {}", parts.join("  ")).trim().to_owned()
                })
                .collect();
            let _ = writeln!(out, "  outbox lag  {}  (server metric)", services.join(" · "));
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

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn done(step: Step, latency: u64, retries: u32, wait: u64) -> StepDone {
        StepDone { step, latency: ms(latency), retries, wait: ms(wait) }
    }

    /// A completed flow, published: each step `latency` ms; dispatch waited `dispatch_wait` ms in
    /// 3 retries, the publication 1 ms in one.
    fn complete(latency: u64, dispatch_wait: u64) -> FlowRecord {
        let mut flow = complete_privately(latency, dispatch_wait);
        flow.done[5].step = Step::Publish;
        flow
    }

    /// A completed flow whose reporter asked for confidentiality: answered privately.
    fn complete_privately(latency: u64, dispatch_wait: u64) -> FlowRecord {
        let retries = if dispatch_wait > 0 { 3 } else { 0 };
        FlowRecord {
            done: vec![
                done(Step::Submit, latency, 0, 0),
                done(Step::Accept, latency, 0, 0),
                done(Step::Dispatch, latency, retries, dispatch_wait),
                done(Step::SubmitResult, latency, 0, 0),
                done(Step::Approve, latency, 0, 0),
                done(Step::AnswerPrivately, latency, 1, 1),
                done(Step::Rate, latency, 0, 0),
            ],
            failed: None,
            end_to_end: ms(7 * latency + dispatch_wait + 1),
            service: ms(7 * latency + dispatch_wait + 1),
        }
    }

    fn failed_at(step: Step, code: &'static str, retries: u32) -> FlowRecord {
        let before = Step::ALL
            .iter()
            .take_while(|s| **s != step)
            .filter(|s| **s != Step::AnswerPrivately)
            .map(|&s| done(s, 1, 0, 0))
            .collect();
        FlowRecord {
            done: before,
            failed: Some(StepFailed { step, code, retries }),
            end_to_end: ms(10),
            service: ms(10),
        }
    }

    #[test]
    fn completed_and_failed_flows_are_told_apart() {
        let mut t = FlowTally::default();
        t.record(&complete(2, 0));
        t.record(&complete(4, 20));
        t.record(&failed_at(Step::SubmitResult, "NOT_FOUND", 7));
        t.record(&failed_at(Step::Submit, "UNAUTHENTICATED", 0));
        assert_eq!((t.started, t.completed, t.failed()), (4, 2, 2));
        // Only completed flows count end to end.
        assert_eq!(t.end_to_end.len(), 2);
        // Completions per second are counted apart, warm-up flows included.
        assert!(t.per_second.is_empty());
        t.completed_in(1);
        t.completed_in(1);
        t.completed_in(3);
        assert_eq!(t.per_second, vec![0, 2, 0, 1]);
        // A step counts for every flow that got through it, failed flows included.
        assert_eq!(t.steps[Step::Submit.index()].len(), 3);
        assert_eq!(t.steps[Step::Dispatch.index()].len(), 3);
        assert_eq!(t.steps[Step::SubmitResult.index()].len(), 2);
        // Retries of the step that gave up count too; the wait only for steps that went through.
        assert_eq!(t.retries[Step::Dispatch.index()], 3);
        assert_eq!(t.retries[Step::SubmitResult.index()], 7);
        assert_eq!(t.waits[Step::Dispatch.index()].len(), 3);
        assert_eq!(t.waited_only[Step::Dispatch.index()].len(), 1);
        assert_eq!(t.errors[&Step::SubmitResult]["NOT_FOUND"], 1);
        assert_eq!(t.errors[&Step::Submit]["UNAUTHENTICATED"], 1);
    }

    #[test]
    fn merge_adds_everything() {
        let mut a = FlowTally::default();
        a.record(&complete(2, 0));
        a.completed_in(0);
        a.record(&failed_at(Step::Dispatch, "FAILED_PRECONDITION", 5));
        let mut b = FlowTally::default();
        b.record(&complete(3, 8));
        b.completed_in(2);
        b.record(&failed_at(Step::Dispatch, "FAILED_PRECONDITION", 4));
        b.record(&failed_at(Step::Approve, "PERMISSION_DENIED", 0));
        a.merge(&b);
        assert_eq!((a.started, a.completed, a.failed()), (5, 2, 3));
        assert_eq!(a.per_second, vec![1, 0, 1]);
        assert_eq!(a.errors[&Step::Dispatch]["FAILED_PRECONDITION"], 2);
        assert_eq!(a.retries[Step::Dispatch.index()], 5 + 3 + 4);
        assert_eq!(a.steps[Step::Approve.index()].len(), 2);
    }

    #[test]
    fn zero_waits_count_as_zero() {
        let mut t = FlowTally::default();
        for _ in 0..9 {
            t.record(&complete(2, 0));
        }
        t.record(&complete(2, 40));
        let all = Percentiles::of(&t.waits[Step::Dispatch.index()]).unwrap();
        assert_eq!(all.p50, 0.0);
        assert!((all.max - 40.0).abs() < 0.1, "{all:?}");
        let waited = Percentiles::of(&t.waited_only[Step::Dispatch.index()]).unwrap();
        assert!((waited.p50 - 40.0).abs() < 0.1, "{waited:?}");
        assert_eq!(Percentiles::of(&t.waited_only[Step::SubmitResult.index()]), None);
    }

    fn sample() -> WorkflowSummary {
        let mut t = FlowTally::default();
        for i in 0..100u64 {
            // Dispatch waited in every other flow: 10 ms, 12 ms, …; one in ten answered privately.
            let (latency, wait) = (1 + i % 4, if i % 2 == 0 { 10 + i / 5 } else { 0 });
            t.record(&if i % 10 == 3 { complete_privately(latency, wait) } else { complete(latency, wait) });
            t.completed_in((i / 50) as usize);
        }
        t.record(&failed_at(Step::SubmitResult, "NOT_FOUND", 12));
        t.record(&failed_at(Step::Submit, "UNAVAILABLE", 0));
        t.record(&failed_at(Step::Rate, "UNAUTHENTICATED", 0));
        let mut s = WorkflowSummary {
            label: Some("suite-50".into()),
            mode: "open".into(),
            rate: Some(50.0),
            concurrency: 32,
            connections: 4,
            endpoints: vec!["http://h:1".into(); 4],
            agency: "SO-XD-86".into(),
            duration_secs: 2.0,
            server_cpu: Some(FlowCpu::of("pid 42".into(), ms(1_500), 100)),
            outbox_lag_secs: Some(BTreeMap::from([
                ("intake".to_owned(), BTreeMap::from([("0.99".to_owned(), 0.012)])),
                ("routing".to_owned(), BTreeMap::from([("0.5".to_owned(), 0.001), ("0.99".to_owned(), 0.03)])),
            ])),
            ..WorkflowSummary::default()
        };
        s.figures(&t, 2, &Step::ALL);
        s
    }

    #[test]
    fn summary_figures_come_from_the_tally() {
        let s = sample();
        assert_eq!((s.started, s.completed, s.failed), (103, 100, 3));
        assert_eq!(s.throughput, 50.0);
        assert_eq!(s.per_second, Some(PerSecond { min: 50, median: 50, max: 50 }));
        let names: Vec<&str> = s.steps.iter().map(|s| s.step.as_str()).collect();
        assert_eq!(
            names,
            [
                "SubmitReport",
                "AcceptReport",
                "Dispatch",
                "SubmitResult",
                "ApproveResult",
                "PublishAnswer",
                "AnswerPrivately",
                "RateReport"
            ]
        );
        let ok: Vec<u64> = s.steps.iter().map(|s| s.ok).collect();
        // The flow that failed at RateReport got through the publication.
        assert_eq!(ok, [102, 102, 102, 101, 101, 91, 10, 100]);
        let p = s.steps[2].latency_ms.as_ref().unwrap();
        assert!((p.max - 4.0).abs() < 0.01 && (p.p50 - 2.0).abs() < 0.01, "{p:?}");
        let dispatch = &s.propagation[0];
        assert_eq!(
            (dispatch.step.as_str(), dispatch.flows, dispatch.waited, dispatch.retries),
            ("Dispatch", 102, 50, 150)
        );
        assert_eq!(dispatch.wait_ms.as_ref().unwrap().p50, 0.0);
        let waited = dispatch.waited_ms.as_ref().unwrap();
        assert!((waited.p50 - 19.0).abs() < 0.1 && (waited.max - 29.0).abs() < 0.1, "{waited:?}");
        assert_eq!((s.propagation[1].step.as_str(), s.propagation[1].retries), ("SubmitResult", 12));
        let waits: Vec<(&str, u64, u64)> =
            s.propagation[2..].iter().map(|p| (p.step.as_str(), p.flows, p.waited)).collect();
        // The flow that failed at RateReport went through PublishAnswer at once.
        assert_eq!(waits, [("PublishAnswer", 91, 90), ("AnswerPrivately", 10, 10)]);
        assert_eq!(s.errors["SubmitResult"]["NOT_FOUND"], 1);
        assert_eq!(s.errors["RateReport"]["UNAUTHENTICATED"], 1);
        assert_eq!(s.server_cpu.as_ref().unwrap().ms_per_flow, Some(15.0));
        assert_eq!(FlowCpu::of("x".into(), ms(10), 0).ms_per_flow, None);
    }

    #[test]
    fn text_names_every_step_wait_and_error() {
        let text = sample().text();
        for expected in [
            "[suite-50] workflow · open loop at 50 flows/s · 32 flows in flight · 4 connections per endpoint · 2.0 s measured",
            "services    intake, routing, processing, publication at http://h:1 · dispatched to SO-XD-86",
            "flows       started 103   completed 100   failed 3   missed 0",
            // Flow order: SubmitReport before SubmitResult before RateReport.
            "errors      SubmitReport UNAVAILABLE 1, SubmitResult NOT_FOUND 1, RateReport UNAUTHENTICATED 1",
            "throughput  50.0 completed flows/s (per second: min 50, median 50, max 50)",
            "  end to end  p50 ",
            "(from the due time)",
            "  flow time   p50 ",
            "  SubmitReport    p50 ",
            "  ApproveResult   p50 2.00 ms  p95 4.00 ms  p99 4.00 ms  p99.9 4.00 ms  max 4.00 ms  (101 ok)",
            "  PublishAnswer   p50 ",
            "(91 ok)",
            "  AnswerPrivately p50 ",
            "(10 ok)",
            "  RateReport      p50 ",
            "  wait Dispatch        p50 0.00 ms  p99 29.0 ms over all; p50 19.0 ms  p99 29.0 ms over the 50 of 102 flows that waited (49.0 %), 150 retries",
            "  wait SubmitResult    p50 0.00 ms  p99 0.00 ms over all; — over the 0 of 101 flows that waited (0.0 %), 12 retries",
            "  wait PublishAnswer   p50 1.00 ms  p99 1.00 ms over all; p50 1.00 ms  p99 1.00 ms over the 90 of 91 flows that waited (98.9 %), 90 retries",
            "  wait AnswerPrivately p50 1.00 ms  p99 1.00 ms over all; p50 1.00 ms  p99 1.00 ms over the 10 of 10 flows that waited (100.0 %), 10 retries",
            "server CPU  1.50 s, 15.0 ms per completed flow  (pid 42)",
            "outbox lag  intake 0.99 12.0 ms · routing 0.5 1.00 ms  0.99 30.0 ms  (server metric)",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        let json = serde_json::to_value(sample()).unwrap();
        assert_eq!(json["target"], "workflow");
        assert_eq!(json["errors"]["SubmitResult"]["NOT_FOUND"], 1);
        assert_eq!(json["propagation"][0]["waited"], 50);
        let back: WorkflowSummary = serde_json::from_value(json).unwrap();
        assert_eq!(back.steps, sample().steps);
    }

    #[test]
    fn separate_endpoints_are_named_each() {
        let mut s = sample();
        s.endpoints = vec!["http://a:1".into(), "http://b:2".into(), "http://c:3".into(), "http://d:4".into()];
        s.rate = None;
        let text = s.text();
        assert!(
            text.contains("intake http://a:1, routing http://b:2, processing http://c:3, publication http://d:4"),
            "{text}"
        );
        assert!(text.contains("closed loop, as fast as possible"), "{text}");
        assert!(text.contains("(from the start)") && !text.contains("flow time"), "{text}");
        // A run that ends at the approval names the three services it used.
        s.endpoints.truncate(3);
        s.endpoints[2] = "http://a:1".into();
        s.endpoints[1] = "http://a:1".into();
        assert!(s.text().contains("intake, routing, processing at http://a:1 ·"), "{}", s.text());
    }

    #[test]
    fn a_run_to_the_approval_lists_its_five_steps() {
        let mut t = FlowTally::default();
        let mut flow = complete(2, 0);
        flow.done.truncate(5);
        t.record(&flow);
        let mut s = WorkflowSummary { duration_secs: 1.0, ..WorkflowSummary::default() };
        s.figures(&t, 1, Step::TO_APPROVAL);
        let names: Vec<&str> = s.steps.iter().map(|s| s.step.as_str()).collect();
        assert_eq!(names, ["SubmitReport", "AcceptReport", "Dispatch", "SubmitResult", "ApproveResult"]);
        let waits: Vec<&str> = s.propagation.iter().map(|p| p.step.as_str()).collect();
        assert_eq!(waits, ["Dispatch", "SubmitResult"]);
        assert!(!s.text().contains("PublishAnswer"), "{}", s.text());
    }

    #[test]
    fn summaries_of_earlier_runs_still_read() {
        // Written before publication: three endpoints, five steps.
        let json = r#"{"target":"workflow","mode":"open","rate":50.0,"endpoints":["http://h:1","http://h:1","http://h:1"],
            "steps":[{"step":"SubmitReport","ok":3,"latency_ms":null}],"propagation":[]}"#;
        let s: WorkflowSummary = serde_json::from_str(json).unwrap();
        assert_eq!(s.endpoints.len(), 3);
        assert!(s.text().contains("intake, routing, processing at http://h:1"), "{}", s.text());
    }
}
