//! The workflow driver against mock services whose "replicas" catch up `lag` after the step
//! they follow, as routing and processing do when fed by events.

use std::collections::HashMap;
use std::sync::Mutex;

use paht_proto::v1::intake_service_server::{IntakeService, IntakeServiceServer};
use paht_proto::v1::processing_service_server::{ProcessingService, ProcessingServiceServer};
use paht_proto::v1::routing_service_server::{RoutingService, RoutingServiceServer};
use tonic::{Request, Response};

use super::*;

type Answer<T> = Result<Response<T>, Status>;

#[derive(Default)]
struct Report {
    accepted_at: Option<Instant>,
    dispatched_at: Option<Instant>,
    result_submitted: bool,
}

/// The three services over one shared state.
struct Mock {
    /// How long after a step the next service sees it.
    lag: Duration,
    reports: Mutex<HashMap<String, Report>>,
    /// Assignment id → report id.
    assignments: Mutex<HashMap<String, String>>,
    next: AtomicU64,
}

impl Mock {
    fn new(lag: Duration) -> Arc<Mock> {
        Arc::new(Mock {
            lag,
            reports: Mutex::new(HashMap::new()),
            assignments: Mutex::new(HashMap::new()),
            next: AtomicU64::new(0),
        })
    }
}

fn authorised<T>(request: &Request<T>, token: &str) -> Result<(), Status> {
    let header = request.metadata().get("authorization").and_then(|v| v.to_str().ok());
    if header == Some(&format!("Bearer {token}")) { Ok(()) } else { Err(Status::permission_denied("wrong role")) }
}

/// Whether a replica fed `lag` after `at` knows of it by now.
fn caught_up(at: Option<Instant>, lag: Duration) -> bool {
    at.is_some_and(|at| at.elapsed() >= lag)
}

#[derive(Clone)]
struct Intake(Arc<Mock>);
#[derive(Clone)]
struct Routing(Arc<Mock>);
#[derive(Clone)]
struct Processing(Arc<Mock>);

#[tonic::async_trait]
impl IntakeService for Intake {
    async fn submit_report(&self, request: Request<v1::SubmitReportRequest>) -> Answer<v1::SubmitReportResponse> {
        authorised(&request, "sys")?;
        assert!(request.get_ref().content.chars().count() > 15);
        let id = format!("r{}", self.0.next.fetch_add(1, Ordering::Relaxed));
        self.0.reports.lock().unwrap().insert(id.clone(), Report::default());
        Ok(Response::new(v1::SubmitReportResponse { report_id: id, ..Default::default() }))
    }
    async fn accept_report(&self, request: Request<v1::AcceptReportRequest>) -> Answer<v1::AcceptReportResponse> {
        authorised(&request, "op")?;
        let mut reports = self.0.reports.lock().unwrap();
        let report = reports.get_mut(&request.get_ref().report_id).ok_or_else(|| Status::not_found("report"))?;
        report.accepted_at = Some(Instant::now());
        Ok(Response::new(v1::AcceptReportResponse::default()))
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
    async fn refuse_report(&self, _: Request<v1::RefuseReportRequest>) -> Answer<v1::RefuseReportResponse> {
        Err(Status::unimplemented(""))
    }
    async fn get_reporter(&self, _: Request<v1::GetReporterRequest>) -> Answer<v1::GetReporterResponse> {
        Err(Status::unimplemented(""))
    }
}

#[tonic::async_trait]
impl RoutingService for Routing {
    /// NOT_FOUND while the report is unknown here, FAILED_PRECONDITION while it is not yet accepted.
    async fn dispatch(&self, request: Request<v1::DispatchRequest>) -> Answer<v1::DispatchResponse> {
        authorised(&request, "op")?;
        let req = request.into_inner();
        let mut reports = self.0.reports.lock().unwrap();
        let report = reports.get_mut(&req.report_id).ok_or_else(|| Status::not_found("report"))?;
        let half = self.0.lag / 2;
        if !caught_up(report.accepted_at, half) {
            return Err(Status::not_found("no replica yet"));
        }
        if !caught_up(report.accepted_at, self.0.lag) {
            return Err(Status::failed_precondition("report is received; only an accepted report is dispatched"));
        }
        if report.dispatched_at.is_some() {
            return Err(Status::internal("dispatched twice"));
        }
        report.dispatched_at = Some(Instant::now());
        let [target] = req.targets.as_slice() else { return Err(Status::invalid_argument("one target")) };
        assert!(target.lead);
        let id = format!("a-{}", req.report_id);
        self.0.assignments.lock().unwrap().insert(id.clone(), req.report_id.clone());
        let assignment = v1::Assignment {
            id,
            report_id: req.report_id,
            agency_unit_id: target.agency_unit_id.clone(),
            lead: true,
            ..Default::default()
        };
        Ok(Response::new(v1::DispatchResponse { report: None, assignments: vec![assignment] }))
    }
    async fn suggest_agencies(&self, _: Request<v1::SuggestAgenciesRequest>) -> Answer<v1::SuggestAgenciesResponse> {
        Err(Status::unimplemented(""))
    }
    async fn redispatch(&self, _: Request<v1::RedispatchRequest>) -> Answer<v1::RedispatchResponse> {
        Err(Status::unimplemented(""))
    }
    async fn escalate(&self, _: Request<v1::EscalateRequest>) -> Answer<v1::EscalateResponse> {
        Err(Status::unimplemented(""))
    }
    async fn issue_directive(&self, _: Request<v1::IssueDirectiveRequest>) -> Answer<v1::IssueDirectiveResponse> {
        Err(Status::unimplemented(""))
    }
    async fn suggest_duplicates(
        &self,
        _: Request<v1::SuggestDuplicatesRequest>,
    ) -> Answer<v1::SuggestDuplicatesResponse> {
        Err(Status::unimplemented(""))
    }
    async fn link_duplicate(&self, _: Request<v1::LinkDuplicateRequest>) -> Answer<v1::LinkDuplicateResponse> {
        Err(Status::unimplemented(""))
    }
    async fn list_units(&self, _: Request<v1::ListUnitsRequest>) -> Answer<v1::ListUnitsResponse> {
        Err(Status::unimplemented(""))
    }
    async fn list_categories(&self, _: Request<v1::ListCategoriesRequest>) -> Answer<v1::ListCategoriesResponse> {
        Err(Status::unimplemented(""))
    }
    async fn upsert_category(&self, _: Request<v1::UpsertCategoryRequest>) -> Answer<v1::UpsertCategoryResponse> {
        Err(Status::unimplemented(""))
    }
    async fn retire_category(&self, _: Request<v1::RetireCategoryRequest>) -> Answer<v1::RetireCategoryResponse> {
        Err(Status::unimplemented(""))
    }
    async fn list_focal_points(&self, _: Request<v1::ListFocalPointsRequest>) -> Answer<v1::ListFocalPointsResponse> {
        Err(Status::unimplemented(""))
    }
    async fn set_focal_points(&self, _: Request<v1::SetFocalPointsRequest>) -> Answer<v1::SetFocalPointsResponse> {
        Err(Status::unimplemented(""))
    }
}

#[tonic::async_trait]
impl ProcessingService for Processing {
    /// NOT_FOUND until the dispatch has reached processing.
    async fn submit_result(&self, request: Request<v1::SubmitResultRequest>) -> Answer<v1::SubmitResultResponse> {
        authorised(&request, "officer")?;
        let req = request.into_inner();
        assert!(!req.text.is_empty());
        let report_id = self.0.assignments.lock().unwrap().get(&req.assignment_id).cloned();
        let report_id = report_id.ok_or_else(|| Status::not_found("assignment"))?;
        let mut reports = self.0.reports.lock().unwrap();
        let report = reports.get_mut(&report_id).expect("assignments point at reports");
        if !caught_up(report.dispatched_at, self.0.lag) {
            return Err(Status::not_found("assignment not indexed yet"));
        }
        report.result_submitted = true;
        Ok(Response::new(v1::SubmitResultResponse::default()))
    }
    async fn approve_result(&self, request: Request<v1::ApproveResultRequest>) -> Answer<v1::ApproveResultResponse> {
        authorised(&request, "leader")?;
        let report_id = self.0.assignments.lock().unwrap().get(&request.get_ref().assignment_id).cloned();
        let report_id = report_id.ok_or_else(|| Status::not_found("assignment"))?;
        if !self.0.reports.lock().unwrap()[&report_id].result_submitted {
            return Err(Status::failed_precondition("no result to approve"));
        }
        Ok(Response::new(v1::ApproveResultResponse::default()))
    }
    async fn list_inbox(&self, _: Request<v1::ListInboxRequest>) -> Answer<v1::ListInboxResponse> {
        Err(Status::unimplemented(""))
    }
    async fn return_assignment(&self, _: Request<v1::ReturnAssignmentRequest>) -> Answer<v1::ReturnAssignmentResponse> {
        Err(Status::unimplemented(""))
    }
    async fn explain_assignment(
        &self,
        _: Request<v1::ExplainAssignmentRequest>,
    ) -> Answer<v1::ExplainAssignmentResponse> {
        Err(Status::unimplemented(""))
    }
    async fn send_back_result(&self, _: Request<v1::SendBackResultRequest>) -> Answer<v1::SendBackResultResponse> {
        Err(Status::unimplemented(""))
    }
    async fn get_assignment(&self, _: Request<v1::GetAssignmentRequest>) -> Answer<v1::GetAssignmentResponse> {
        Err(Status::unimplemented(""))
    }
}

async fn listen() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

fn incoming(listener: tokio::net::TcpListener) -> tonic::transport::server::TcpIncoming {
    tonic::transport::server::TcpIncoming::from(listener)
}

/// Every service on one port, as embedded mode serves them.
async fn one_server(mock: Arc<Mock>) -> String {
    let (listener, url) = listen().await;
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(IntakeServiceServer::new(Intake(mock.clone())))
            .add_service(RoutingServiceServer::new(Routing(mock.clone())))
            .add_service(ProcessingServiceServer::new(Processing(mock)))
            .serve_with_incoming(incoming(listener)),
    );
    url
}

/// One port per service, as three suite processes serve them.
async fn three_servers(mock: Arc<Mock>) -> [String; 3] {
    let (a, intake) = listen().await;
    let (b, routing) = listen().await;
    let (c, processing) = listen().await;
    let server = tonic::transport::Server::builder;
    tokio::spawn(server().add_service(IntakeServiceServer::new(Intake(mock.clone()))).serve_with_incoming(incoming(a)));
    tokio::spawn(
        server().add_service(RoutingServiceServer::new(Routing(mock.clone()))).serve_with_incoming(incoming(b)),
    );
    tokio::spawn(server().add_service(ProcessingServiceServer::new(Processing(mock))).serve_with_incoming(incoming(c)));
    [intake, routing, processing]
}

fn args(target: String, rate: Rate) -> WorkflowArgs {
    WorkflowArgs {
        target,
        intake: None,
        routing: None,
        processing: None,
        channel_token: Some("sys".into()),
        operator_token: Some("op".into()),
        officer_token: Some("officer".into()),
        leader_token: Some("leader".into()),
        instance: "IOC-86".into(),
        agency: "SO-XD-86".into(),
        category: String::new(),
        rate,
        concurrency: 16,
        connections: 2,
        duration: Duration::from_secs(1),
        warmup: Duration::from_millis(200),
        timeout: Duration::from_secs(5),
        retry_delay: Duration::from_millis(1),
        retry_max_delay: Duration::from_millis(4),
        retry_patience: Duration::from_secs(5),
        metrics_url: None,
        server_pid: Some(std::process::id()),
        cpu_of: vec![],
        label: Some("mock".into()),
        json: false,
    }
}

fn step_of<'a>(s: &'a WorkflowSummary, name: &str) -> &'a crate::flow_summary::StepLatency {
    s.steps.iter().find(|x| x.step == name).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_waits_for_each_replica_and_keeps_it_apart_from_latency() {
    // Long enough that a flow delayed by a busy machine between two steps still meets a replica
    // that has not caught up; short enough that 40 flows/s stay within 16 in flight.
    let lag = Duration::from_millis(100);
    let [intake, routing, processing] = three_servers(Mock::new(lag)).await;
    let mut a = args("http://127.0.0.1:1".into(), Rate::PerSecond(40.0));
    (a.intake, a.routing, a.processing) = (Some(intake), Some(routing), Some(processing));
    let s = run(&a).await.unwrap();
    let text = s.text();
    // 40/s over 1 s measured: exactly 40 flows, all through.
    assert_eq!((s.started, s.completed, s.failed, s.missed), (40, 40, 0, 0), "{text}");
    assert!(s.errors.is_empty(), "{text}");
    assert_eq!(s.throughput, 40.0);
    for p in &s.propagation {
        // Flows reach the step before its replica caught up, so (nearly) every flow waited: a flow
        // the scheduler held back for the whole lag between two steps does not wait, and is not
        // counted as waiting.
        assert_eq!(p.flows, 40, "{text}");
        assert!(p.waited >= 36 && p.waited <= 40, "{text}");
        assert!(p.retries >= p.waited, "{text}");
        let wait = p.wait_ms.as_ref().unwrap();
        assert!(wait.p50 >= 20.0 && wait.p50 < 500.0, "{text}");
    }
    // The RPCs themselves answer at once: the waits are not in the step latencies.
    for name in ["SubmitReport", "AcceptReport", "Dispatch", "SubmitResult", "ApproveResult"] {
        let step = step_of(&s, name);
        assert_eq!(step.ok, 40, "{text}");
        assert!(step.latency_ms.as_ref().unwrap().p50 < 20.0, "{name}: {text}");
    }
    // End to end holds both waits.
    assert!(s.end_to_end_ms.as_ref().unwrap().p50 >= 2.0 * 80.0, "{text}");
    assert!(s.server_cpu.is_some() && s.generator_cpu.is_some());
    assert!(text.contains("intake http://127.0.0.1:"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_second_counts_the_flows_that_ended_in_it_even_if_started_in_the_warmup() {
    // Flows take over 0.8 s: those ending in the first measured second started in the warm-up.
    let url = one_server(Mock::new(Duration::from_millis(400))).await;
    let mut a = args(url, Rate::PerSecond(20.0));
    (a.warmup, a.duration) = (Duration::from_secs(1), Duration::from_secs(2));
    a.server_pid = None;
    let s = run(&a).await.unwrap();
    assert_eq!((s.started, s.completed), (40, 40), "{}", s.text());
    let p = s.per_second.as_ref().unwrap();
    assert!(p.min >= 15 && p.max <= 25, "{}", s.text());
    assert!(s.end_to_end_ms.as_ref().unwrap().p50 >= 800.0, "{}", s.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_loop_on_one_endpoint() {
    let url = one_server(Mock::new(Duration::from_millis(2))).await;
    let mut a = args(url, Rate::Max);
    a.concurrency = 4;
    a.duration = Duration::from_millis(500);
    let s = run(&a).await.unwrap();
    assert_eq!(s.mode, "closed");
    assert!(s.completed > 20, "{}", s.text());
    assert_eq!(s.failed, 0, "{}", s.text());
    // Flows still running at the end are counted as started, not as completed or failed.
    assert!(s.started >= s.completed && s.started <= s.completed + 4, "{}", s.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_never_catches_up_fails_the_flow_after_the_patience() {
    let url = one_server(Mock::new(Duration::from_secs(3600))).await;
    let mut a = args(url, Rate::PerSecond(20.0));
    a.warmup = Duration::ZERO;
    a.duration = Duration::from_millis(300);
    a.retry_patience = Duration::from_millis(40);
    a.server_pid = None;
    let s = run(&a).await.unwrap();
    let text = s.text();
    assert_eq!((s.started, s.completed, s.failed), (6, 0, 6), "{text}");
    assert_eq!(s.errors["Dispatch"]["NOT_FOUND"], 6, "{text}");
    assert!(s.propagation[0].retries >= 6 * 5, "{text}");
    assert_eq!(s.propagation[0].flows, 0);
    assert_eq!(step_of(&s, "AcceptReport").ok, 6);
    assert!(text.contains("first Dispatch NOT_FOUND: no replica yet"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_that_is_no_propagation_is_not_retried() {
    let url = one_server(Mock::new(Duration::from_millis(1))).await;
    let mut a = args(url, Rate::PerSecond(20.0));
    a.warmup = Duration::ZERO;
    a.duration = Duration::from_millis(250);
    a.officer_token = Some("someone-else".into());
    a.server_pid = None;
    let s = run(&a).await.unwrap();
    assert_eq!(s.errors["SubmitResult"]["PERMISSION_DENIED"], 5, "{}", s.text());
    assert_eq!(s.propagation[1].retries, 0, "{}", s.text());
    assert_eq!(step_of(&s, "Dispatch").ok, 5);
}

#[tokio::test]
async fn a_missing_token_names_the_command_that_mints_it() {
    let mut a = args("http://127.0.0.1:1".into(), Rate::Max);
    a.officer_token = None;
    a.agency = "UBND-29551".into();
    let err = format!("{:#}", run(&a).await.expect_err("no officer token"));
    assert!(err.contains("--officer-token (PAHT_OFFICER_TOKEN)"), "{err}");
    assert!(err.contains("paht token --subject load-officer --role officer --unit UBND-29551"), "{err}");
}
