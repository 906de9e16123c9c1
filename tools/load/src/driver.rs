//! The submit run: `concurrency` clients over `connections` HTTP/2 connections, either on a
//! fixed schedule (open loop) or each sending again as soon as it has its answer (closed loop).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use paht_proto::v1::intake_service_client::IntakeServiceClient;
use tokio::time::{Instant, sleep_until};
use tonic::Code;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Channel, Endpoint};

use crate::args::{Rate, SubmitArgs};
use crate::schedule::Schedule;
use crate::summary::{CpuUse, PerSecond, Percentiles, Summary, Tally};
use crate::{cpu, metrics, workload};

/// How long after the end a late open-loop client may still send what was due; slots not
/// sent by then are reported as missed instead of stretching the run.
pub(crate) const LATE_SEND_GRACE: Duration = Duration::from_secs(2);

/// How long to keep trying to connect to a server that is still starting.
const CONNECT_PATIENCE: Duration = Duration::from_secs(30);

/// The canonical name of a gRPC code, as grpcurl and the server logs write it.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// One connected client and what every request carries.
#[derive(Clone)]
struct Client {
    grpc: IntakeServiceClient<Channel>,
    authorization: MetadataValue<Ascii>,
    timeout: Duration,
}

impl Client {
    /// Sends one report; the error is the gRPC code name and the status message.
    async fn submit(&mut self, report: paht_proto::v1::SubmitReportRequest) -> Result<(), (&'static str, String)> {
        let mut request = tonic::Request::new(report);
        request.metadata_mut().insert("authorization", self.authorization.clone());
        request.set_timeout(self.timeout);
        match tokio::time::timeout(self.timeout, self.grpc.submit_report(request)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(status)) => Err((code_name(status.code()), status.message().to_owned())),
            Err(_) => Err(("DEADLINE_EXCEEDED", "no answer within the client timeout".to_owned())),
        }
    }
}

/// A worker's tally plus the first message seen for each error code.
struct WorkerResult {
    tally: Tally,
    first_errors: Vec<(String, String)>,
    warmup_errors: u64,
}

/// When the run starts, starts measuring and ends.
pub(crate) struct Window {
    pub start: Instant,
    pub measure_start: Instant,
    pub end: Instant,
}

impl Window {
    /// Whole seconds into the measured window.
    pub fn second_of(&self, at: Instant) -> usize {
        at.saturating_duration_since(self.measure_start).as_secs() as usize
    }
}

/// `connections` HTTP/2 connections to `url`, waiting for a server that is still starting.
pub(crate) async fn connect(url: &str, connections: u32) -> anyhow::Result<Vec<Channel>> {
    let endpoint = Endpoint::from_shared(url.to_owned())
        .with_context(|| format!("`{url}` is not an endpoint URL"))?
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(5));
    let give_up = Instant::now() + CONNECT_PATIENCE;
    let mut channels = Vec::new();
    while channels.len() < connections as usize {
        match endpoint.connect().await {
            Ok(channel) => channels.push(channel),
            Err(e) if Instant::now() < give_up => {
                eprintln!("paht-load: waiting for {url}: {e}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(e).with_context(|| format!("cannot connect to {url}")),
        }
    }
    Ok(channels)
}

/// Runs the submit load and summarises it.
pub async fn run(args: &SubmitArgs) -> anyhow::Result<Summary> {
    let token = args.token.as_deref().context(
        "no token: pass --token or set PAHT_TOKEN (mint one with `paht token --subject load --role system --unit IOC-86`)",
    )?;
    let authorization: MetadataValue<Ascii> =
        format!("Bearer {}", token.trim()).parse().context("the token holds characters a header cannot carry")?;
    if let Some(pid) = args.server_pid {
        cpu::cpu_time(pid)?;
    }
    let channels = connect(&args.endpoint, args.connections).await?;

    // A short head start so that every worker is spawned before the first slot is due.
    let start = Instant::now() + Duration::from_millis(50);
    let window =
        Arc::new(Window { start, measure_start: start + args.warmup, end: start + args.warmup + args.duration });
    let next = Arc::new(AtomicU64::new(0));
    let schedule = match args.rate {
        Rate::PerSecond(rate) => Some(Schedule::new(rate, args.warmup, args.duration)),
        Rate::Max => None,
    };

    let mut workers = Vec::new();
    for i in 0..args.concurrency as usize {
        let client = Client {
            grpc: IntakeServiceClient::new(channels[i % channels.len()].clone()),
            authorization: authorization.clone(),
            timeout: args.timeout,
        };
        let (window, next) = (window.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            match schedule {
                Some(schedule) => open_loop(client, schedule, &window, &next).await,
                None => closed_loop(client, &window, &next).await,
            }
        }));
    }

    // CPU over the measured window, read on time while the workers run; this process's own
    // too, since on two cores the generator competes with the database and the broker.
    sleep_until(window.measure_start).await;
    let own = std::process::id();
    let (own_before, server_before) =
        (cpu::cpu_time(own).ok(), args.server_pid.and_then(|pid| cpu::cpu_time(pid).ok()));
    let others_before = cpu::cpu_by_name(&args.cpu_of);
    sleep_until(window.end).await;
    let (own_after, server_after) = (cpu::cpu_time(own).ok(), args.server_pid.and_then(|pid| cpu::cpu_time(pid).ok()));
    let others_used = cpu::used_between(&others_before, &cpu::cpu_by_name(&args.cpu_of));
    let server_used = server_before.zip(server_after).map(|(b, a)| a.saturating_sub(b));

    let mut tally = Tally::default();
    let mut first_errors = std::collections::BTreeMap::new();
    let mut warmup_errors = 0;
    for worker in workers {
        let result = worker.await.context("a load worker panicked")?;
        tally.merge(&result.tally);
        warmup_errors += result.warmup_errors;
        for (code, message) in result.first_errors {
            first_errors.entry(code).or_insert(message);
        }
    }

    let mut notes = Vec::new();
    for (code, message) in &first_errors {
        notes.push(format!("first {code}: {message}"));
    }
    if warmup_errors > 0 {
        notes.push(format!("{warmup_errors} requests failed during the warm-up (not counted)"));
    }
    let missed = schedule.map(|s| s.measured().saturating_sub(tally.sent)).unwrap_or(0);
    if missed > 0 {
        notes.push(format!(
            "{missed} due requests were never sent: all {} clients were busy until {}s after the end",
            args.concurrency,
            LATE_SEND_GRACE.as_secs()
        ));
    }
    let per_report = |used: Duration, processes: String| {
        let seconds = used.as_secs_f64();
        CpuUse {
            processes,
            seconds,
            ms_per_report: (tally.accepted > 0).then(|| seconds * 1000.0 / tally.accepted as f64),
        }
    };
    let server_cpu = server_used.zip(args.server_pid).map(|(used, pid)| per_report(used, format!("pid {pid}")));
    if args.server_pid.is_some() && server_cpu.is_none() {
        notes.push("the server's CPU could not be read at the end: did it exit?".to_owned());
    }
    let services_cpu = (!args.cpu_of.is_empty()).then(|| per_report(others_used, args.cpu_of.join(", ")));
    let generator_cpu = own_before.zip(own_after).map(|(b, a)| per_report(a.saturating_sub(b), "paht-load".to_owned()));
    let outbox_lag_secs = match &args.metrics_url {
        Some(url) => match metrics::fetch(url, Duration::from_secs(5)).await {
            Ok(page) => {
                let lag = metrics::samples(&page, metrics::OUTBOX_LAG);
                if lag.is_empty() {
                    notes.push(format!("{url} has no {} series", metrics::OUTBOX_LAG));
                    None
                } else {
                    Some(lag)
                }
            }
            Err(e) => {
                notes.push(format!("outbox lag not read: {e:#}"));
                None
            }
        },
        None => None,
    };

    let seconds = args.duration.as_secs_f64();
    Ok(Summary {
        label: args.label.clone(),
        target: "submit".into(),
        mode: if schedule.is_some() { "open" } else { "closed" }.into(),
        rate: match args.rate {
            Rate::PerSecond(r) => Some(r),
            Rate::Max => None,
        },
        concurrency: args.concurrency,
        connections: Some(args.connections),
        duration_secs: seconds,
        sent: tally.sent,
        accepted: tally.accepted,
        errors: tally.errors.clone(),
        missed,
        throughput: tally.accepted as f64 / seconds,
        per_second: PerSecond::of(&tally.per_second, args.duration.as_secs() as usize),
        latency_ms: Percentiles::of(&tally.latency),
        service_ms: Percentiles::of(&tally.service),
        server_cpu,
        services_cpu,
        generator_cpu,
        outbox_lag_secs,
        notes,
    })
}

fn note_error(result: &mut WorkerResult, code: &str, message: String) {
    if !result.first_errors.iter().any(|(c, _)| c == code) {
        result.first_errors.push((code.to_owned(), message));
    }
}

impl WorkerResult {
    /// Records one answer: tallied when inside the measured window, errors noted either way.
    /// `latency` is what the run reports (from the due time, or from the send in a closed loop).
    fn answer(
        &mut self,
        outcome: Result<(), (&str, String)>,
        measured: bool,
        latency: Duration,
        service: Duration,
        second: usize,
    ) {
        let code = outcome.as_ref().err().map(|(code, _)| *code);
        if measured {
            self.tally.record(latency, service, second, code);
        } else if code.is_some() {
            self.warmup_errors += 1;
        }
        if let Err((code, message)) = outcome {
            note_error(self, code, message);
        }
    }
}

/// Takes the next due slot until the schedule ends; latency counts from the due time.
async fn open_loop(mut client: Client, schedule: Schedule, window: &Window, next: &AtomicU64) -> WorkerResult {
    let mut result = WorkerResult { tally: Tally::default(), first_errors: Vec::new(), warmup_errors: 0 };
    let late_limit = window.end + LATE_SEND_GRACE;
    loop {
        let slot = next.fetch_add(1, Ordering::Relaxed);
        if slot >= schedule.total() || Instant::now() >= late_limit {
            break;
        }
        let due = window.start + schedule.due(slot);
        let report = workload::request(slot, SystemTime::now());
        sleep_until(due).await;
        let sent = Instant::now();
        let outcome = client.submit(report).await;
        let done = Instant::now();
        result.answer(outcome, schedule.is_measured(slot), done - due, done - sent, window.second_of(done));
    }
    result
}

/// Sends, waits for the answer, sends again, until the end; latency counts from the send.
async fn closed_loop(mut client: Client, window: &Window, next: &AtomicU64) -> WorkerResult {
    let mut result = WorkerResult { tally: Tally::default(), first_errors: Vec::new(), warmup_errors: 0 };
    sleep_until(window.start).await;
    loop {
        let report = workload::request(next.fetch_add(1, Ordering::Relaxed), SystemTime::now());
        let sent = Instant::now();
        if sent >= window.end {
            break;
        }
        let outcome = client.submit(report).await;
        let done = Instant::now();
        result.answer(outcome, sent >= window.measure_start, done - sent, done - sent, window.second_of(done));
    }
    result
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use paht_proto::v1;
    use paht_proto::v1::intake_service_server::{IntakeService, IntakeServiceServer};
    use tonic::{Request, Response, Status};

    use super::*;

    /// Answers after 2 ms; every tenth submission is refused as rate-limited.
    #[derive(Default)]
    struct Mock {
        calls: AtomicU64,
    }

    type Answer<T> = Result<Response<T>, Status>;

    #[tonic::async_trait]
    impl IntakeService for Mock {
        async fn submit_report(&self, request: Request<v1::SubmitReportRequest>) -> Answer<v1::SubmitReportResponse> {
            if request.metadata().get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer secret") {
                return Err(Status::unauthenticated("no token"));
            }
            assert!(request.get_ref().content.chars().count() > 15);
            tokio::time::sleep(Duration::from_millis(2)).await;
            if self.calls.fetch_add(1, Ordering::Relaxed) % 10 == 9 {
                return Err(Status::resource_exhausted("slow down"));
            }
            Ok(Response::new(v1::SubmitReportResponse::default()))
        }
        async fn upload_attachment(
            &self,
            _: Request<tonic::Streaming<v1::UploadAttachmentRequest>>,
        ) -> Answer<v1::UploadAttachmentResponse> {
            Err(Status::unimplemented(""))
        }
        async fn get_report_by_tracking_code(
            &self,
            _: Request<v1::GetReportByTrackingCodeRequest>,
        ) -> Answer<v1::GetReportByTrackingCodeResponse> {
            Err(Status::unimplemented(""))
        }
        async fn get_report(&self, _: Request<v1::GetReportRequest>) -> Answer<v1::GetReportResponse> {
            Err(Status::unimplemented(""))
        }
        async fn list_check_queue(&self, _: Request<v1::ListCheckQueueRequest>) -> Answer<v1::ListCheckQueueResponse> {
            Err(Status::unimplemented(""))
        }
        async fn accept_report(&self, _: Request<v1::AcceptReportRequest>) -> Answer<v1::AcceptReportResponse> {
            Err(Status::unimplemented(""))
        }
        async fn refuse_report(&self, _: Request<v1::RefuseReportRequest>) -> Answer<v1::RefuseReportResponse> {
            Err(Status::unimplemented(""))
        }
        async fn get_reporter(&self, _: Request<v1::GetReporterRequest>) -> Answer<v1::GetReporterResponse> {
            Err(Status::unimplemented(""))
        }
    }

    async fn mock_server() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(IntakeServiceServer::new(Mock::default()))
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
        );
        format!("http://{addr}")
    }

    fn args(endpoint: String, rate: Rate) -> SubmitArgs {
        SubmitArgs {
            endpoint,
            token: Some("secret".into()),
            rate,
            concurrency: 8,
            connections: 2,
            duration: Duration::from_secs(1),
            warmup: Duration::from_millis(300),
            timeout: Duration::from_secs(5),
            metrics_url: None,
            server_pid: Some(std::process::id()),
            cpu_of: vec![],
            label: None,
            json: false,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn open_loop_sends_exactly_the_schedule() {
        let summary = run(&args(mock_server().await, Rate::PerSecond(200.0))).await.unwrap();
        // 200/s over 1 s measured: 200 requests whatever the warm-up sent, 1 in 10 refused.
        assert_eq!(summary.sent, 200, "{}", summary.text());
        assert_eq!(summary.missed, 0);
        let refused = summary.errors.get("RESOURCE_EXHAUSTED").copied().unwrap_or(0);
        assert!((15..=25).contains(&refused), "{}", summary.text());
        assert_eq!(summary.accepted + refused, 200);
        let latency = summary.latency_ms.unwrap();
        assert!(latency.p50 >= 2.0 && latency.p50 < 100.0, "{latency:?}");
        assert!(summary.server_cpu.is_some());
        assert!(summary.notes.iter().any(|n| n.starts_with("first RESOURCE_EXHAUSTED: slow down")));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn closed_loop_keeps_every_client_busy() {
        let summary = run(&args(mock_server().await, Rate::Max)).await.unwrap();
        // 8 clients, about 2 ms each: a few thousand per second, far above an open-loop run.
        assert!(summary.sent > 500, "{}", summary.text());
        assert_eq!(summary.mode, "closed");
        assert!(summary.latency_ms.unwrap().p50 >= 2.0);
    }

    #[tokio::test]
    async fn a_bad_token_shows_as_unauthenticated() {
        let mut a = args(mock_server().await, Rate::PerSecond(50.0));
        a.token = Some("wrong".into());
        a.server_pid = None;
        a.warmup = Duration::ZERO;
        a.duration = Duration::from_millis(200);
        let summary = run(&a).await.unwrap();
        assert_eq!(summary.accepted, 0);
        assert_eq!(summary.errors.get("UNAUTHENTICATED"), Some(&10));
        assert!(summary.text().contains("errors      UNAUTHENTICATED 10"));
    }

    #[test]
    fn code_names_are_the_canonical_ones() {
        assert_eq!(code_name(Code::DeadlineExceeded), "DEADLINE_EXCEEDED");
        assert_eq!(code_name(Code::ResourceExhausted), "RESOURCE_EXHAUSTED");
        assert_eq!(code_name(Code::Unauthenticated), "UNAUTHENTICATED");
    }
}
