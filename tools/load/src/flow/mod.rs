//! The workflow run: each flow takes one report from the channel to the reporter's rating
//! across four services — SubmitReport and AcceptReport on intake, Dispatch on routing,
//! SubmitResult and ApproveResult on processing, PublishAnswer (AnswerPrivately when the
//! reporter asked for confidentiality) and RateReport on publication. With `--through approve`
//! it ends at the approval, for servers without publication.
//!
//! Routing, processing and publication learn of the steps before theirs from events (their
//! replicas), so Dispatch, SubmitResult and the answer may be refused until the event has
//! arrived (publication needs routing's `report.resolved`); those refusals are retried
//! ([`RetryPolicy`]) and counted as propagation wait, apart from the RPC latencies. RateReport
//! follows the answer on the same service and is not retried. Fixed rates are an open loop
//! (flow `i` is due at `i / rate`, end-to-end latency from the due time); `max` is a closed loop
//! of `concurrency` flows.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use paht_domain::ids::ReportId;
use paht_proto::v1;
use paht_proto::v1::intake_service_client::IntakeServiceClient;
use paht_proto::v1::processing_service_client::ProcessingServiceClient;
use paht_proto::v1::publication_service_client::PublicationServiceClient;
use paht_proto::v1::routing_service_client::RoutingServiceClient;
use paht_publication::RatingKey;
use tokio::time::{Instant, sleep_until};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::args::{Rate, Through, WorkflowArgs};
use crate::cpu::Snapshot;
use crate::driver::{LATE_SEND_GRACE, Window, code_name, connect};
use crate::flow_summary::{FlowCpu, FlowRecord, FlowTally, Step, StepDone, StepFailed, WorkflowSummary};
use crate::retry::RetryPolicy;
use crate::schedule::Schedule;
use crate::{metrics, workload};

/// The result text the officer submits. Publication drafts the answer from it, and its
/// personal-data guard refuses an answer that names the reporter, their address, a phone
/// number, an e-mail address or an identity number: keep it free of those.
const RESULT_TEXT: &str = "Đã kiểm tra hiện trường và xử lý xong theo thẩm quyền; kết quả đã báo cáo lãnh đạo.";

/// The operator's note to the agency.
const DISPATCH_NOTE: &str = "Đề nghị kiểm tra, xử lý và báo cáo kết quả.";

/// The operator's note on a private answer (the reporter asked for confidentiality).
const PRIVATE_NOTE: &str = "Đã gọi điện thông báo kết quả xử lý cho người phản ánh theo yêu cầu giữ bí mật.";

/// The reporters' feedback with their rating.
const FEEDBACK_SATISFIED: &str = "Cảm ơn cơ quan chức năng đã xử lý nhanh chóng.";
const FEEDBACK_NORMAL: &str = "Đã được xử lý nhưng còn chậm so với mong đợi.";
const FEEDBACK_UNSATISFIED: &str = "Hiện trường vẫn chưa được khắc phục triệt để, đề nghị kiểm tra lại.";

/// The reporter's rating of flow `n`, the same for the same flow number: 70 % satisfied (one in
/// three of them with feedback), 20 % normal, 10 % unsatisfied (each opens a follow-up item for
/// the IOC, R11.2), both with feedback.
fn rating(n: u64) -> (v1::RatingValue, &'static str) {
    match n % 10 {
        0..=6 => (v1::RatingValue::Satisfied, if n.is_multiple_of(3) { FEEDBACK_SATISFIED } else { "" }),
        7 | 8 => (v1::RatingValue::Normal, FEEDBACK_NORMAL),
        _ => (v1::RatingValue::Unsatisfied, FEEDBACK_UNSATISFIED),
    }
}

/// The bearer header of each role a flow acts in.
struct Tokens {
    channel: MetadataValue<Ascii>,
    operator: MetadataValue<Ascii>,
    officer: MetadataValue<Ascii>,
    leader: MetadataValue<Ascii>,
}

fn bearer(token: Option<&str>, flag: &str, mint: &str) -> anyhow::Result<MetadataValue<Ascii>> {
    let token =
        token.with_context(|| format!("no {flag}: pass it or its environment variable (mint it with `{mint}`)"))?;
    format!("Bearer {}", token.trim())
        .parse()
        .with_context(|| format!("the {flag} holds characters a header cannot carry"))
}

impl Tokens {
    fn of(args: &WorkflowArgs) -> anyhow::Result<Tokens> {
        let (instance, agency) = (&args.instance, &args.agency);
        Ok(Tokens {
            channel: bearer(
                args.channel_token.as_deref(),
                "--channel-token (PAHT_TOKEN)",
                &format!("paht token --subject load --role system --unit {instance}"),
            )?,
            operator: bearer(
                args.operator_token.as_deref(),
                "--operator-token (PAHT_OPERATOR_TOKEN)",
                &format!("paht token --subject load-operator --role ioc_operator --unit {instance}"),
            )?,
            officer: bearer(
                args.officer_token.as_deref(),
                "--officer-token (PAHT_OFFICER_TOKEN)",
                &format!("paht token --subject load-officer --role officer --unit {agency}"),
            )?,
            leader: bearer(
                args.leader_token.as_deref(),
                "--leader-token (PAHT_LEADER_TOKEN)",
                &format!("paht token --subject load-leader --role leader --unit {agency}"),
            )?,
        })
    }
}

/// The instance's rating key, needed when the flows go on to the rating.
fn rating_key(args: &WorkflowArgs) -> anyhow::Result<Option<RatingKey>> {
    if args.through == Through::Approve {
        return Ok(None);
    }
    let key = args.rating_key.as_deref().context(
        "no --rating-key (PAHT_LOAD_RATING_KEY): pass the instance's rating key — the file `rating-key` in \
         the data directory of `paht up`, or `[publication] rating_key` of the configuration — or end the \
         flows at the approval with `--through approve`",
    )?;
    Ok(Some(RatingKey::new(key).context("the --rating-key (PAHT_LOAD_RATING_KEY) cannot be used")?))
}

/// What every flow shares.
struct Setup {
    tokens: Tokens,
    agency: String,
    category: String,
    timeout: Duration,
    policy: RetryPolicy,
    /// Where the flows end.
    through: Through,
    /// Derives the reporter's rating secret (`--through rate`).
    rating_key: Option<RatingKey>,
}

impl Setup {
    fn request<T>(&self, message: T, token: &MetadataValue<Ascii>) -> tonic::Request<T> {
        let mut request = self.anonymous(message);
        request.metadata_mut().insert("authorization", token.clone());
        request
    }

    /// A call without a token: the reporter's, proved by the rating secret.
    fn anonymous<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(self.timeout);
        request
    }
}

/// One worker's clients of the services.
#[derive(Clone)]
struct Clients {
    intake: IntakeServiceClient<Channel>,
    routing: RoutingServiceClient<Channel>,
    processing: ProcessingServiceClient<Channel>,
    /// Publication's, when the flows go through it.
    publication: Option<PublicationServiceClient<Channel>>,
}

/// A step that did not go through: what the flow records, and the server's message.
struct StepError {
    failed: StepFailed,
    message: String,
}

/// An attempt the server refused.
struct Refusal {
    code: Code,
    message: String,
    /// Whether the status carries error details: the server's own description of what to
    /// change in the request (e.g. the personal-data guard's findings on PublishAnswer).
    detailed: bool,
}

/// One attempt, bounded by the client timeout.
async fn attempt<T>(
    timeout: Duration,
    call: impl Future<Output = Result<tonic::Response<T>, Status>>,
) -> Result<T, Refusal> {
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(response)) => Ok(response.into_inner()),
        Ok(Err(status)) => Err(Refusal {
            code: status.code(),
            message: status.message().to_owned(),
            detailed: !status.details().is_empty(),
        }),
        Err(_) => Err(Refusal {
            code: Code::DeadlineExceeded,
            message: "no answer within the client timeout".to_owned(),
            detailed: false,
        }),
    }
}

/// Makes one step, retrying as `policy` says; `send` builds and sends a fresh attempt. A
/// refusal with error details is never retried: it says what is wrong with the request (the
/// guard's FAILED_PRECONDITION on an answer with personal data), and no event will change that.
async fn step<T, F, Fut>(
    step: Step,
    policy: &RetryPolicy,
    timeout: Duration,
    mut send: F,
) -> Result<(T, StepDone), StepError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<tonic::Response<T>, Status>>,
{
    let first = Instant::now();
    let mut retries = 0;
    loop {
        let sent = Instant::now();
        let outcome = attempt(timeout, send()).await;
        let answered = Instant::now();
        match outcome {
            Ok(answer) => {
                return Ok((answer, StepDone { step, latency: answered - sent, retries, wait: sent - first }));
            }
            Err(Refusal { code, message, detailed }) => {
                match if detailed { None } else { policy.next(code, retries, answered - first) } {
                    Some(delay) => {
                        retries += 1;
                        tokio::time::sleep(delay).await;
                    }
                    None => {
                        return Err(StepError { failed: StepFailed { step, code: code_name(code), retries }, message });
                    }
                }
            }
        }
    }
}

/// The steps of flow `n`, each pushed to `done` as it goes through.
async fn steps(clients: &Clients, setup: &Setup, n: u64, done: &mut Vec<StepDone>) -> Result<(), StepError> {
    let never = RetryPolicy::NEVER;
    let report = workload::request(n, SystemTime::now());
    let (submitted, d) = step(Step::Submit, &never, setup.timeout, || {
        let (mut c, r) = (clients.intake.clone(), setup.request(report.clone(), &setup.tokens.channel));
        async move { c.submit_report(r).await }
    })
    .await?;
    done.push(d);
    let report_id = submitted.report_id;
    let tracking_code = submitted.tracking_code;

    let accept = v1::AcceptReportRequest { report_id: report_id.clone(), category_id: setup.category.clone() };
    let (_, d) = step(Step::Accept, &never, setup.timeout, || {
        let (mut c, r) = (clients.intake.clone(), setup.request(accept.clone(), &setup.tokens.operator));
        async move { c.accept_report(r).await }
    })
    .await?;
    done.push(d);

    let dispatch = v1::DispatchRequest {
        report_id: report_id.clone(),
        targets: vec![v1::DispatchTarget { agency_unit_id: setup.agency.clone(), lead: true }],
        note: DISPATCH_NOTE.to_owned(),
    };
    let (dispatched, d) = step(Step::Dispatch, &setup.policy, setup.timeout, || {
        let (mut c, r) = (clients.routing.clone(), setup.request(dispatch.clone(), &setup.tokens.operator));
        async move { c.dispatch(r).await }
    })
    .await?;
    done.push(d);
    let Some(assignment) = dispatched.assignments.into_iter().find(|a| a.agency_unit_id == setup.agency) else {
        return Err(StepError {
            failed: StepFailed { step: Step::Dispatch, code: "NO_ASSIGNMENT", retries: d.retries },
            message: format!("the dispatch answered no assignment for {}", setup.agency),
        });
    };

    let result = v1::SubmitResultRequest {
        assignment_id: assignment.id.clone(),
        text: RESULT_TEXT.to_owned(),
        attachment_ids: vec![],
    };
    let (_, d) = step(Step::SubmitResult, &setup.policy, setup.timeout, || {
        let (mut c, r) = (clients.processing.clone(), setup.request(result.clone(), &setup.tokens.officer));
        async move { c.submit_result(r).await }
    })
    .await?;
    done.push(d);

    let approve = v1::ApproveResultRequest { assignment_id: assignment.id, note: String::new() };
    let (_, d) = step(Step::Approve, &never, setup.timeout, || {
        let (mut c, r) = (clients.processing.clone(), setup.request(approve.clone(), &setup.tokens.leader));
        async move { c.approve_result(r).await }
    })
    .await?;
    done.push(d);
    if setup.through == Through::Approve {
        return Ok(());
    }

    // The answer, drafted by publication from the approved result, once routing's resolution
    // has reached it: published, or sent privately to a reporter who asked for confidentiality
    // (R10.3b; publication refuses to publish theirs).
    let publication = clients.publication.as_ref().expect("publication is connected when the flows go through it");
    let confidential = report.reporter.as_ref().is_some_and(|r| r.confidential);
    let d = if confidential {
        let private = v1::AnswerPrivatelyRequest {
            report_id: report_id.clone(),
            delivery: v1::PrivateDelivery::Phone as i32,
            note: PRIVATE_NOTE.to_owned(),
        };
        step(Step::AnswerPrivately, &setup.policy, setup.timeout, || {
            let (mut c, r) = (publication.clone(), setup.request(private.clone(), &setup.tokens.operator));
            async move { c.answer_privately(r).await }
        })
        .await?
        .1
    } else {
        let publish = v1::PublishAnswerRequest { report_id: report_id.clone() };
        step(Step::Publish, &setup.policy, setup.timeout, || {
            let (mut c, r) = (publication.clone(), setup.request(publish.clone(), &setup.tokens.operator));
            async move { c.publish_answer(r).await }
        })
        .await?
        .1
    };
    done.push(d);

    // The reporter's rating, anonymous, with the secret the answer brought them: derived from
    // the instance's key for the first answer (round 0) as publication derives it.
    let id: ReportId = report_id.parse().map_err(|e| StepError {
        failed: StepFailed { step: Step::Rate, code: "BAD_REPORT_ID", retries: 0 },
        message: format!("the receipt's report_id {report_id:?} is not a report id: {e}"),
    })?;
    let key = setup.rating_key.as_ref().expect("the rating key is read when the flows go through the rating");
    let (value, feedback) = rating(n);
    let rate = v1::RateReportRequest {
        tracking_code,
        value: value as i32,
        feedback: feedback.to_owned(),
        rating_secret: key.secret(id, 0),
    };
    let (_, d) = step(Step::Rate, &never, setup.timeout, || {
        let (mut c, r) = (publication.clone(), setup.anonymous(rate.clone()));
        async move { c.rate_report(r).await }
    })
    .await?;
    done.push(d);
    Ok(())
}

/// A worker's tally, the first message seen for each step and code, and the failures of
/// flows that were not measured.
#[derive(Default)]
struct WorkerResult {
    tally: FlowTally,
    first_errors: Vec<(String, String)>,
    warmup_failures: u64,
}

impl WorkerResult {
    /// Runs flow `n`; `from` is its due time (open loop) or its start (closed loop).
    async fn flow(&mut self, clients: &Clients, setup: &Setup, window: &Window, n: u64, from: Instant, measured: bool) {
        let started = Instant::now();
        let mut done = Vec::with_capacity(Step::ALL.len());
        let outcome = steps(clients, setup, n, &mut done).await;
        let ended = Instant::now();
        let (failed, message) = match outcome {
            Ok(()) => (None, None),
            Err(e) => (Some(e.failed), Some(e.message)),
        };
        if let (Some(failed), Some(message)) = (&failed, message) {
            let key = format!("{} {}", failed.step.name(), failed.code);
            if !self.first_errors.iter().any(|(k, _)| *k == key) {
                self.first_errors.push((key, message));
            }
            if !measured {
                self.warmup_failures += 1;
            }
        }
        if failed.is_none() && ended >= window.measure_start {
            self.tally.completed_in(window.second_of(ended));
        }
        if measured {
            self.tally.record(&FlowRecord { done, failed, end_to_end: ended - from, service: ended - started });
        }
    }
}

/// Takes the next due flow until the schedule ends.
async fn open_loop(
    clients: Clients,
    setup: &Setup,
    schedule: Schedule,
    window: &Window,
    next: &AtomicU64,
) -> WorkerResult {
    let mut result = WorkerResult::default();
    let late_limit = window.end + LATE_SEND_GRACE;
    loop {
        let slot = next.fetch_add(1, Ordering::Relaxed);
        if slot >= schedule.total() || Instant::now() >= late_limit {
            break;
        }
        let due = window.start + schedule.due(slot);
        sleep_until(due).await;
        result.flow(&clients, setup, window, slot, due, schedule.is_measured(slot)).await;
    }
    result
}

/// Starts a flow, runs it to the end, starts the next, until the end of the window.
async fn closed_loop(clients: Clients, setup: &Setup, window: &Window, next: &AtomicU64) -> WorkerResult {
    let mut result = WorkerResult::default();
    sleep_until(window.start).await;
    loop {
        let start = Instant::now();
        if start >= window.end {
            break;
        }
        let n = next.fetch_add(1, Ordering::Relaxed);
        result.flow(&clients, setup, window, n, start, start >= window.measure_start).await;
    }
    result
}

/// Connects to each distinct endpoint once and hands out clients round robin.
async fn clients(args: &WorkflowArgs) -> anyhow::Result<Vec<Clients>> {
    let endpoints = args.endpoints();
    let mut channels: HashMap<&str, Vec<Channel>> = HashMap::new();
    for &url in &endpoints {
        if !channels.contains_key(url) {
            channels.insert(url, connect(url, args.connections).await?);
        }
    }
    let pick = |url: &str, i: usize| {
        let list = &channels[url];
        list[i % list.len()].clone()
    };
    Ok((0..args.concurrency as usize)
        .map(|i| Clients {
            intake: IntakeServiceClient::new(pick(endpoints[0], i)),
            routing: RoutingServiceClient::new(pick(endpoints[1], i)),
            processing: ProcessingServiceClient::new(pick(endpoints[2], i)),
            publication: endpoints.get(3).map(|url| PublicationServiceClient::new(pick(url, i))),
        })
        .collect())
}

/// Runs the workflow load and summarises it.
pub async fn run(args: &WorkflowArgs) -> anyhow::Result<WorkflowSummary> {
    let setup = Arc::new(Setup {
        tokens: Tokens::of(args)?,
        agency: args.agency.clone(),
        category: args.category.clone(),
        timeout: args.timeout,
        policy: RetryPolicy {
            first_delay: args.retry_delay,
            max_delay: args.retry_max_delay,
            patience: args.retry_patience,
        },
        through: args.through,
        rating_key: rating_key(args)?,
    });
    if let Some(pid) = args.server_pid {
        crate::cpu::cpu_time(pid)?;
    }
    let all_clients = clients(args).await?;

    let start = Instant::now() + Duration::from_millis(50);
    let window =
        Arc::new(Window { start, measure_start: start + args.warmup, end: start + args.warmup + args.duration });
    let next = Arc::new(AtomicU64::new(0));
    let schedule = match args.rate {
        Rate::PerSecond(rate) => Some(Schedule::new(rate, args.warmup, args.duration)),
        Rate::Max => None,
    };
    let mut workers = Vec::new();
    for clients in all_clients {
        let (setup, window, next) = (setup.clone(), window.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            match schedule {
                Some(schedule) => open_loop(clients, &setup, schedule, &window, &next).await,
                None => closed_loop(clients, &setup, &window, &next).await,
            }
        }));
    }

    sleep_until(window.measure_start).await;
    let before = Snapshot::take(args.server_pid, &args.cpu_of);
    sleep_until(window.end).await;
    let used = before.until(&Snapshot::take(args.server_pid, &args.cpu_of));

    let mut tally = FlowTally::default();
    let mut first_errors = BTreeMap::new();
    let mut warmup_failures = 0;
    for worker in workers {
        let result = worker.await.context("a workflow worker panicked")?;
        tally.merge(&result.tally);
        warmup_failures += result.warmup_failures;
        for (key, message) in result.first_errors {
            first_errors.entry(key).or_insert(message);
        }
    }

    let mut notes: Vec<String> = first_errors.iter().map(|(key, message)| format!("first {key}: {message}")).collect();
    if warmup_failures > 0 {
        notes.push(format!("{warmup_failures} flows failed during the warm-up (not counted)"));
    }
    let missed = schedule.map(|s| s.measured().saturating_sub(tally.started)).unwrap_or(0);
    if missed > 0 {
        notes.push(format!(
            "{missed} due flows were never started: all {} were in flight until {}s after the end",
            args.concurrency,
            LATE_SEND_GRACE.as_secs()
        ));
    }
    let server_cpu =
        used.server.zip(args.server_pid).map(|(u, pid)| FlowCpu::of(format!("pid {pid}"), u, tally.completed));
    if args.server_pid.is_some() && server_cpu.is_none() {
        notes.push("the server's CPU could not be read at the end: did it exit?".to_owned());
    }
    let services_cpu =
        (!args.cpu_of.is_empty()).then(|| FlowCpu::of(args.cpu_of.join(", "), used.others, tally.completed));
    let generator_cpu = used.own.map(|u| FlowCpu::of("paht-load".to_owned(), u, tally.completed));
    let outbox_lag_secs = match &args.metrics_url {
        Some(url) => match metrics::fetch(url, Duration::from_secs(5)).await {
            Ok(page) => {
                let lag = metrics::samples_by(&page, metrics::OUTBOX_LAG, "service");
                if lag.is_empty() {
                    notes.push(format!("{url} has no {} series", metrics::OUTBOX_LAG));
                }
                Some(lag).filter(|lag| !lag.is_empty())
            }
            Err(e) => {
                notes.push(format!("outbox lag not read: {e:#}"));
                None
            }
        },
        None => None,
    };

    let mut summary = WorkflowSummary {
        label: args.label.clone(),
        mode: if schedule.is_some() { "open" } else { "closed" }.into(),
        rate: match args.rate {
            Rate::PerSecond(r) => Some(r),
            Rate::Max => None,
        },
        concurrency: args.concurrency,
        connections: args.connections,
        endpoints: args.endpoints().into_iter().map(str::to_owned).collect(),
        agency: args.agency.clone(),
        duration_secs: args.duration.as_secs_f64(),
        missed,
        server_cpu,
        services_cpu,
        generator_cpu,
        outbox_lag_secs,
        notes,
        ..WorkflowSummary::default()
    };
    let steps = match args.through {
        Through::Approve => Step::TO_APPROVAL,
        Through::Rate => &Step::ALL,
    };
    summary.figures(&tally, args.duration.as_secs() as usize, steps);
    Ok(summary)
}

#[cfg(test)]
mod tests;
