//! The Markdown table of several runs: each submit run with its database baseline (same
//! label, same rate) and the ratio between them — throughput for `max`, p99 for a fixed rate;
//! workflow runs in a second table of their own.

use std::fmt::Write as _;

use anyhow::Context;

use crate::args::TableArgs;
use crate::flow_summary::{FlowCpu, WorkflowSummary};
use crate::summary::{Percentiles, Summary, ms};

/// Reads the JSON summaries and prints the tables: the submit table unless every file is a
/// workflow run, then the workflow table if any is.
pub fn run(args: &TableArgs) -> anyhow::Result<()> {
    let mut summaries = Vec::new();
    let mut workflows = Vec::new();
    for file in &args.files {
        let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let not_a_summary = || format!("{} is not a paht-load --json summary", file.display());
        let value: serde_json::Value = serde_json::from_str(text.trim()).with_context(not_a_summary)?;
        if value.get("target").and_then(|t| t.as_str()) == Some("workflow") {
            workflows.push(serde_json::from_value::<WorkflowSummary>(value).with_context(not_a_summary)?);
        } else {
            summaries.push(serde_json::from_value::<Summary>(value).with_context(not_a_summary)?);
        }
    }
    if !summaries.is_empty() || workflows.is_empty() {
        print!("{}", render(&summaries));
    }
    if !workflows.is_empty() {
        if !summaries.is_empty() {
            println!();
        }
        print!("{}", render_workflows(&workflows));
    }
    Ok(())
}

fn rate_key(rate: Option<f64>) -> f64 {
    rate.unwrap_or(f64::INFINITY)
}

fn rate_text(rate: Option<f64>) -> String {
    rate.map_or_else(|| "max".to_owned(), |r| format!("{r}/s"))
}

fn thousands(v: f64) -> String {
    let digits = format!("{:.0}", v.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn failures(s: &Summary) -> String {
    let total: u64 = s.errors.values().sum::<u64>() + s.missed;
    if total == 0 {
        return "0".to_owned();
    }
    let mut parts: Vec<String> = s.errors.iter().map(|(code, n)| format!("{code} {n}")).collect();
    if s.missed > 0 {
        parts.push(format!("not sent {}", s.missed));
    }
    format!("{total} ({})", parts.join(", "))
}

/// The table, one row per submit run, ordered by label then rate (`max` last).
pub fn render(summaries: &[Summary]) -> String {
    let mut runs: Vec<&Summary> = summaries.iter().filter(|s| s.target == "submit").collect();
    runs.sort_by(|a, b| a.label.cmp(&b.label).then(rate_key(a.rate).total_cmp(&rate_key(b.rate))));
    let baseline_of = |run: &Summary| {
        summaries.iter().find(|b| b.target.starts_with("baseline") && b.label == run.label && b.rate == run.rate)
    };
    let mut out = String::from(
        "| mode | rate | clients | accepted/s (slowest second) | failed | p50 ms | p95 ms | p99 ms | p99.9 ms | max ms \
         | server CPU ms/report | DB+broker+cache CPU ms/report | load CPU ms/report | outbox lag p99 ms | DB baseline \
         | vs baseline |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let dash = || "—".to_owned();
    for run in runs {
        let latency = run.latency_ms.as_ref();
        let cell = |f: fn(&crate::summary::Percentiles) -> f64| latency.map_or_else(dash, |p| ms(f(p)));
        let cpu = |c: &Option<crate::summary::CpuUse>| {
            c.as_ref().and_then(|c| c.ms_per_report).map_or_else(dash, |m| format!("{m:.2}"))
        };
        let lag = run.outbox_lag_secs.as_ref().and_then(|l| l.get("0.99")).map_or_else(dash, |s| ms(s * 1000.0));
        let slowest = run.per_second.as_ref().map(|p| format!(" ({})", thousands(p.min as f64))).unwrap_or_default();
        let (baseline, ratio) = match baseline_of(run) {
            None => (dash(), dash()),
            Some(b) => {
                let b_p99 = b.latency_ms.as_ref().map(|p| p.p99);
                let text = match b_p99 {
                    Some(p99) => format!("{} tx/s, p99 {} ms", thousands(b.throughput), ms(p99)),
                    None => format!("{} tx/s", thousands(b.throughput)),
                };
                let ratio = match (run.rate, latency.map(|p| p.p99), b_p99) {
                    (None, _, _) if b.throughput > 0.0 => {
                        format!("{:.1} % of throughput", 100.0 * run.throughput / b.throughput)
                    }
                    (Some(_), Some(mine), Some(theirs)) if theirs > 0.0 => format!("p99 {:.1}×", mine / theirs),
                    _ => dash(),
                };
                (text, ratio)
            }
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {}{slowest} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {lag} | {baseline} | {ratio} |",
            run.label.as_deref().unwrap_or(""),
            rate_text(run.rate),
            run.concurrency,
            thousands(run.throughput),
            failures(run),
            cell(|p| p.p50),
            cell(|p| p.p95),
            cell(|p| p.p99),
            cell(|p| p.p999),
            cell(|p| p.max),
            cpu(&run.server_cpu),
            cpu(&run.services_cpu),
            cpu(&run.generator_cpu),
        );
    }
    out
}

/// `p50 / p99` of a latency, or a dash.
fn p50_p99(p: Option<&Percentiles>) -> String {
    p.map_or_else(|| "—".to_owned(), |p| format!("{} / {}", ms(p.p50), ms(p.p99)))
}

fn per_flow(c: &Option<FlowCpu>) -> String {
    c.as_ref().and_then(|c| c.ms_per_flow).map_or_else(|| "—".to_owned(), |m| format!("{m:.2}"))
}

/// The workflow table, one row per run, ordered by label then rate (`max` last); a run whose
/// flows ended at the approval shows dashes for the publication's steps.
pub fn render_workflows(summaries: &[WorkflowSummary]) -> String {
    let mut runs: Vec<&WorkflowSummary> = summaries.iter().collect();
    runs.sort_by(|a, b| a.label.cmp(&b.label).then(rate_key(a.rate).total_cmp(&rate_key(b.rate))));
    let mut out = String::from(
        "| mode | rate (flows/s) | in flight | completed flows/s (slowest second) | failed | end to end p50 / p99 ms \
         | SubmitReport p50 / p99 ms | AcceptReport | Dispatch | SubmitResult | ApproveResult | PublishAnswer \
         | AnswerPrivately | RateReport | Dispatch wait p50 / p99 ms (flows waiting) \
         | SubmitResult wait p50 / p99 ms (flows waiting) | PublishAnswer wait p50 / p99 ms (flows waiting) \
         | AnswerPrivately wait p50 / p99 ms (flows waiting) | retries (each waiting step) \
         | server CPU ms/flow | DB+broker+cache CPU ms/flow | load CPU ms/flow | outbox lag p99 ms |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for run in runs {
        let step = |name: &str| p50_p99(run.steps.iter().find(|s| s.step == name).and_then(|s| s.latency_ms.as_ref()));
        let wait = |name: &str| match run.propagation.iter().find(|p| p.step == name) {
            Some(p) if p.flows > 0 => {
                format!("{} ({:.0} %)", p50_p99(p.wait_ms.as_ref()), 100.0 * p.waited as f64 / p.flows as f64)
            }
            _ => "—".to_owned(),
        };
        let retries: Vec<String> = run.propagation.iter().map(|p| thousands(p.retries as f64)).collect();
        let slowest = run.per_second.as_ref().map(|p| format!(" ({})", thousands(p.min as f64))).unwrap_or_default();
        let mut failed = (run.failed + run.missed).to_string();
        if run.failed + run.missed > 0 {
            let mut parts: Vec<String> = run
                .errors
                .iter()
                .flat_map(|(step, codes)| codes.iter().map(move |(code, n)| format!("{step} {code} {n}")))
                .collect();
            if run.missed > 0 {
                parts.push(format!("not started {}", run.missed));
            }
            failed = format!("{failed} ({})", parts.join(", "));
        }
        let lag = run
            .outbox_lag_secs
            .as_ref()
            .map(|by_service| {
                let parts: Vec<String> = by_service
                    .iter()
                    .filter_map(|(service, q)| q.get("0.99").map(|v| format!("{service} {}", ms(v * 1000.0))))
                    .collect();
                parts.join(" · ").trim().to_owned()
            })
            .filter(|text| !text.is_empty())
            .unwrap_or_else(|| "—".to_owned());
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.1}{slowest} | {failed} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} \
             | {} | {} | {} | {} | {lag} |",
            run.label.as_deref().unwrap_or(""),
            run.rate.map_or_else(|| "max".to_owned(), |r| r.to_string()),
            run.concurrency,
            run.throughput,
            p50_p99(run.end_to_end_ms.as_ref()),
            step("SubmitReport"),
            step("AcceptReport"),
            step("Dispatch"),
            step("SubmitResult"),
            step("ApproveResult"),
            step("PublishAnswer"),
            step("AnswerPrivately"),
            step("RateReport"),
            wait("Dispatch"),
            wait("SubmitResult"),
            wait("PublishAnswer"),
            wait("AnswerPrivately"),
            retries.join(" + "),
            per_flow(&run.server_cpu),
            per_flow(&run.services_cpu),
            per_flow(&run.generator_cpu),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::flow_summary::{Propagation, StepLatency};
    use crate::summary::{CpuUse, PerSecond};

    fn latency(p99: f64) -> Option<Percentiles> {
        Some(Percentiles { p50: 2.0, p95: 5.0, p99, p999: p99 * 2.0, max: 100.0, mean: 2.5 })
    }

    fn run(label: &str, target: &str, rate: Option<f64>, throughput: f64, p99: f64) -> Summary {
        Summary {
            label: Some(label.into()),
            target: target.into(),
            rate,
            concurrency: 32,
            throughput,
            latency_ms: latency(p99),
            ..Summary::default()
        }
    }

    #[test]
    fn runs_sit_beside_their_baselines() {
        let mut max = run("suite", "submit", None, 1234.0, 40.0);
        max.per_second = Some(PerSecond { min: 1100, median: 1230, max: 1300 });
        max.server_cpu = Some(CpuUse { processes: "pid 1".into(), seconds: 30.0, ms_per_report: Some(0.81) });
        max.outbox_lag_secs = Some(BTreeMap::from([("0.99".to_owned(), 0.15)]));
        max.errors = BTreeMap::from([("UNAVAILABLE".to_owned(), 2)]);
        let mut at_500 = run("suite", "submit", Some(500.0), 499.0, 12.0);
        at_500.missed = 1;
        let table = render(&[
            max,
            run("suite", "baseline-postgres", None, 9802.0, 12.2),
            at_500,
            run("suite", "baseline-postgres", Some(500.0), 496.0, 4.0),
            run("embedded", "submit", Some(50.0), 50.0, 8.0),
        ]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 5, "{table}");
        assert!(lines[2].starts_with("| embedded | 50/s | 32 | 50 | 0 |"), "{table}");
        assert!(lines[2].ends_with("| — | — | — | — | — | — |"), "no baseline for it: {table}");
        assert!(lines[3].starts_with("| suite | 500/s |"), "{table}");
        assert!(lines[3].contains("| 1 (not sent 1) |"), "{table}");
        assert!(lines[3].ends_with("| 496 tx/s, p99 4.00 ms | p99 3.0× |"), "{table}");
        assert!(lines[4].starts_with("| suite | max | 32 | 1,234 (1,100) | 2 (UNAVAILABLE 2) | 2.00 | 5.00 | 40.0 |"));
        assert!(lines[4].contains("| 0.81 | — | — | 150 |"), "{table}");
        assert!(lines[4].ends_with("| 9,802 tx/s, p99 12.2 ms | 12.6 % of throughput |"), "{table}");
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0.4), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(thousands(1_234_567.0), "1,234,567");
    }

    fn workflow(label: &str, rate: Option<f64>, throughput: f64) -> WorkflowSummary {
        let p = |p50: f64, p99: f64| Some(Percentiles { p50, p95: p99, p99, p999: p99, max: p99, mean: p50 });
        WorkflowSummary {
            label: Some(label.into()),
            rate,
            concurrency: 64,
            throughput,
            completed: 3000,
            per_second: Some(PerSecond { min: 97, median: 100, max: 103 }),
            end_to_end_ms: p(45.0, 120.0),
            steps: [
                "SubmitReport",
                "AcceptReport",
                "Dispatch",
                "SubmitResult",
                "ApproveResult",
                "PublishAnswer",
                "AnswerPrivately",
                "RateReport",
            ]
            .iter()
            .map(|s| StepLatency { step: (*s).into(), ok: 3000, latency_ms: p(3.0, 9.5) })
            .collect(),
            propagation: vec![
                Propagation {
                    step: "Dispatch".into(),
                    flows: 3000,
                    waited: 1500,
                    retries: 4321,
                    wait_ms: p(0.5, 30.0),
                    waited_ms: p(8.0, 31.0),
                },
                Propagation {
                    step: "SubmitResult".into(),
                    flows: 0,
                    waited: 0,
                    retries: 0,
                    wait_ms: None,
                    waited_ms: None,
                },
                Propagation {
                    step: "PublishAnswer".into(),
                    flows: 2700,
                    waited: 2700,
                    retries: 5400,
                    wait_ms: p(12.0, 40.0),
                    waited_ms: p(12.0, 40.0),
                },
                Propagation {
                    step: "AnswerPrivately".into(),
                    flows: 300,
                    waited: 150,
                    retries: 300,
                    wait_ms: p(1.0, 20.0),
                    waited_ms: p(10.0, 20.0),
                },
            ],
            server_cpu: Some(FlowCpu { processes: "pid 1".into(), seconds: 9.0, ms_per_flow: Some(3.0) }),
            outbox_lag_secs: Some(BTreeMap::from([
                ("intake".to_owned(), BTreeMap::from([("0.99".to_owned(), 0.012)])),
                ("processing".to_owned(), BTreeMap::from([("0.5".to_owned(), 0.002)])),
                ("routing".to_owned(), BTreeMap::from([("0.99".to_owned(), 0.045)])),
            ])),
            ..WorkflowSummary::default()
        }
    }

    #[test]
    fn workflow_runs_have_their_own_table() {
        let mut max = workflow("suite", None, 123.4);
        max.failed = 2;
        max.missed = 0;
        max.errors = BTreeMap::from([("Dispatch".to_owned(), BTreeMap::from([("NOT_FOUND".to_owned(), 2)]))]);
        let mut slow = workflow("suite", Some(200.0), 180.0);
        slow.missed = 20;
        // A run written before publication, or ended at the approval: five steps, two waits.
        let mut to_approval = workflow("approval", Some(50.0), 50.0);
        to_approval.steps.truncate(5);
        to_approval.propagation.truncate(2);
        let table = render_workflows(&[max, workflow("embedded", Some(50.0), 50.0), slow, to_approval]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 6, "{table}");
        assert_eq!(lines[0].matches('|').count(), 24, "{table}");
        assert!(lines.iter().all(|l| l.matches('|').count() == 24), "{table}");
        assert_eq!(
            lines[2],
            "| approval | 50 | 64 | 50.0 (97) | 0 | 45.0 / 120 | 3.00 / 9.50 | 3.00 / 9.50 | 3.00 / 9.50 \
             | 3.00 / 9.50 | 3.00 / 9.50 | — | — | — | 0.50 / 30.0 (50 %) | — | — | — | 4,321 + 0 | 3.00 | — | — \
             | intake 12.0 · routing 45.0 |"
        );
        assert_eq!(
            lines[3],
            "| embedded | 50 | 64 | 50.0 (97) | 0 | 45.0 / 120 | 3.00 / 9.50 | 3.00 / 9.50 | 3.00 / 9.50 \
             | 3.00 / 9.50 | 3.00 / 9.50 | 3.00 / 9.50 | 3.00 / 9.50 | 3.00 / 9.50 | 0.50 / 30.0 (50 %) | — \
             | 12.0 / 40.0 (100 %) | 1.00 / 20.0 (50 %) | 4,321 + 0 + 5,400 + 300 | 3.00 | — | — \
             | intake 12.0 · routing 45.0 |"
        );
        assert!(lines[4].starts_with("| suite | 200 | 64 | 180.0 (97) | 20 (not started 20) |"), "{table}");
        assert!(lines[5].starts_with("| suite | max | 64 | 123.4 (97) | 2 (Dispatch NOT_FOUND 2) |"), "{table}");
    }
}
