//! The workflow driver against mock services whose "replicas" catch up `lag` after the step
//! they follow, as routing, processing and publication do when fed by events.

use std::collections::HashMap;
use std::sync::Mutex;

use paht_domain::privacy;
use paht_proto::v1::intake_service_server::{IntakeService, IntakeServiceServer};
use paht_proto::v1::processing_service_server::{ProcessingService, ProcessingServiceServer};
use paht_proto::v1::publication_service_server::{PublicationService, PublicationServiceServer};
use paht_proto::v1::routing_service_server::{RoutingService, RoutingServiceServer};
use tonic::{Request, Response};

use super::*;

type Answer<T> = Result<Response<T>, Status>;

/// The instance's rating key in these tests.
const KEY: &str = "the rating key of the load test, 32 bytes or more";

#[derive(Default)]
struct Report {
    tracking_code: String,
    reporter_name: String,
    reporter_address: String,
    confidential: bool,
    accepted_at: Option<Instant>,
    dispatched_at: Option<Instant>,
    /// The officer's result text.
    result: Option<String>,
    approved_at: Option<Instant>,
    /// Published (`Some(true)`) or sent privately (`Some(false)`).
    published: Option<bool>,
    rating: Option<v1::RatingValue>,
}

/// The four services over one shared state.
struct Mock {
    /// How long after a step the next service sees it.
    lag: Duration,
    reports: Mutex<HashMap<String, Report>>,
    /// Assignment id → report id.
    assignments: Mutex<HashMap<String, String>>,
    next: AtomicU64,
    /// The key publication checks the rating secrets with.
    key: RatingKey,
}

impl Mock {
    fn new(lag: Duration) -> Arc<Mock> {
        Arc::new(Mock {
            lag,
            reports: Mutex::new(HashMap::new()),
            assignments: Mutex::new(HashMap::new()),
            next: AtomicU64::new(0),
            key: RatingKey::new(KEY).unwrap(),
        })
    }

    /// How many reports were rated with each value.
    fn ratings(&self) -> HashMap<v1::RatingValue, u64> {
        let mut counts = HashMap::new();
        for report in self.reports.lock().unwrap().values() {
            if let Some(value) = report.rating {
                *counts.entry(value).or_default() += 1;
            }
        }
        counts
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
        let req = request.into_inner();
        assert!(req.content.chars().count() > 15);
        let reporter = req.reporter.unwrap_or_default();
        let id = uuid::Uuid::new_v4().to_string();
        let tracking_code = format!("PA-{:06}", self.0.next.fetch_add(1, Ordering::Relaxed));
        let report = Report {
            tracking_code: tracking_code.clone(),
            reporter_name: reporter.name,
            reporter_address: reporter.address,
            confidential: reporter.confidential,
            ..Report::default()
        };
        self.0.reports.lock().unwrap().insert(id.clone(), report);
        Ok(Response::new(v1::SubmitReportResponse { report_id: id, tracking_code, ..Default::default() }))
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
        report.result = Some(req.text);
        Ok(Response::new(v1::SubmitResultResponse::default()))
    }
    async fn approve_result(&self, request: Request<v1::ApproveResultRequest>) -> Answer<v1::ApproveResultResponse> {
        authorised(&request, "leader")?;
        let report_id = self.0.assignments.lock().unwrap().get(&request.get_ref().assignment_id).cloned();
        let report_id = report_id.ok_or_else(|| Status::not_found("assignment"))?;
        let mut reports = self.0.reports.lock().unwrap();
        let report = reports.get_mut(&report_id).expect("assignments point at reports");
        if report.result.is_none() {
            return Err(Status::failed_precondition("no result to approve"));
        }
        report.approved_at = Some(Instant::now());
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

#[derive(Clone)]
struct Publication(Arc<Mock>);

impl Publication {
    /// The report to answer once routing's resolution has reached publication: NOT_FOUND while
    /// publication does not know it, FAILED_PRECONDITION while it has not seen it resolved.
    fn resolved<'a>(&self, reports: &'a mut HashMap<String, Report>, id: &str) -> Result<&'a mut Report, Status> {
        let report = reports.get_mut(id).ok_or_else(|| Status::not_found("report"))?;
        if !caught_up(report.approved_at, self.0.lag / 2) {
            return Err(Status::not_found("no replica yet"));
        }
        if !caught_up(report.approved_at, self.0.lag) {
            return Err(Status::failed_precondition("report is dispatched: it has no answer before it is resolved"));
        }
        if report.published.is_some() {
            return Err(Status::internal("answered twice"));
        }
        Ok(report)
    }
}

#[tonic::async_trait]
impl PublicationService for Publication {
    async fn get_answer(&self, _: Request<v1::GetAnswerRequest>) -> Answer<v1::GetAnswerResponse> {
        Err(Status::unimplemented(""))
    }
    async fn edit_answer(&self, _: Request<v1::EditAnswerRequest>) -> Answer<v1::EditAnswerResponse> {
        Err(Status::unimplemented(""))
    }
    /// The answer drafted from the result, through the personal-data guard as the real service
    /// runs it; a confidential reporter's answer is not published (R10.3b).
    async fn publish_answer(&self, request: Request<v1::PublishAnswerRequest>) -> Answer<v1::PublishAnswerResponse> {
        authorised(&request, "op")?;
        let mut reports = self.0.reports.lock().unwrap();
        let report = self.resolved(&mut reports, &request.get_ref().report_id)?;
        if report.confidential {
            return Err(Status::failed_precondition("the reporter asked for confidentiality: answer privately"));
        }
        let reporter = privacy::Reporter {
            name: Some(&report.reporter_name),
            name_public: false,
            address: Some(&report.reporter_address),
        };
        let findings = privacy::scan(report.result.as_deref().unwrap_or_default(), &reporter);
        if !findings.is_empty() {
            let details = tonic::codegen::Bytes::from(format!("{findings:?}"));
            return Err(Status::with_details(Code::FailedPrecondition, "the answer carries personal data", details));
        }
        report.published = Some(true);
        Ok(Response::new(v1::PublishAnswerResponse::default()))
    }
    /// Only a confidential reporter is answered privately here: the tool publishes the others.
    async fn answer_privately(
        &self,
        request: Request<v1::AnswerPrivatelyRequest>,
    ) -> Answer<v1::AnswerPrivatelyResponse> {
        authorised(&request, "op")?;
        let req = request.into_inner();
        if v1::PrivateDelivery::try_from(req.delivery).unwrap_or_default() == v1::PrivateDelivery::Unspecified {
            return Err(Status::invalid_argument("delivery"));
        }
        let mut reports = self.0.reports.lock().unwrap();
        let report = self.resolved(&mut reports, &req.report_id)?;
        if !report.confidential {
            return Err(Status::internal("a reporter who did not ask for confidentiality was answered privately"));
        }
        report.published = Some(false);
        Ok(Response::new(v1::AnswerPrivatelyResponse::default()))
    }
    async fn withhold_answer(&self, _: Request<v1::WithholdAnswerRequest>) -> Answer<v1::WithholdAnswerResponse> {
        Err(Status::unimplemented(""))
    }
    /// Anonymous; the secret checked as the real service checks it, and one rating per answer.
    async fn rate_report(&self, request: Request<v1::RateReportRequest>) -> Answer<v1::RateReportResponse> {
        if request.metadata().get("authorization").is_some() {
            return Err(Status::invalid_argument("the reporter has no token"));
        }
        let req = request.into_inner();
        let value = v1::RatingValue::try_from(req.value).unwrap_or_default();
        if value == v1::RatingValue::Unspecified || req.feedback.chars().count() > 2_000 {
            return Err(Status::invalid_argument("value or feedback"));
        }
        let mut reports = self.0.reports.lock().unwrap();
        let (id, report) = reports
            .iter_mut()
            .find(|(_, r)| r.tracking_code == req.tracking_code)
            .ok_or_else(|| Status::not_found("tracking code"))?;
        if report.published.is_none() {
            return Err(Status::failed_precondition("no answer to rate"));
        }
        if !self.0.key.verify(id.parse().unwrap(), 0, &req.rating_secret) {
            return Err(Status::unauthenticated("the rating secret does not match this answer"));
        }
        if report.rating.is_some() {
            return Err(Status::failed_precondition("already rated"));
        }
        report.rating = Some(value);
        Ok(Response::new(v1::RateReportResponse::default()))
    }
    async fn reopen_report(&self, _: Request<v1::ReopenReportRequest>) -> Answer<v1::ReopenReportResponse> {
        Err(Status::unimplemented(""))
    }
    async fn get_published_answer(
        &self,
        _: Request<v1::GetPublishedAnswerRequest>,
    ) -> Answer<v1::GetPublishedAnswerResponse> {
        Err(Status::unimplemented(""))
    }
    async fn list_follow_ups(&self, _: Request<v1::ListFollowUpsRequest>) -> Answer<v1::ListFollowUpsResponse> {
        Err(Status::unimplemented(""))
    }
    async fn close_follow_up(&self, _: Request<v1::CloseFollowUpRequest>) -> Answer<v1::CloseFollowUpResponse> {
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
            .add_service(ProcessingServiceServer::new(Processing(mock.clone())))
            .add_service(PublicationServiceServer::new(Publication(mock)))
            .serve_with_incoming(incoming(listener)),
    );
    url
}

/// Intake, routing and processing on one port: a server without publication.
async fn server_without_publication(mock: Arc<Mock>) -> String {
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

/// One port per service, as four suite processes serve them.
async fn four_servers(mock: Arc<Mock>) -> [String; 4] {
    let (a, intake) = listen().await;
    let (b, routing) = listen().await;
    let (c, processing) = listen().await;
    let (d, publication) = listen().await;
    let server = tonic::transport::Server::builder;
    tokio::spawn(server().add_service(IntakeServiceServer::new(Intake(mock.clone()))).serve_with_incoming(incoming(a)));
    tokio::spawn(
        server().add_service(RoutingServiceServer::new(Routing(mock.clone()))).serve_with_incoming(incoming(b)),
    );
    tokio::spawn(
        server().add_service(ProcessingServiceServer::new(Processing(mock.clone()))).serve_with_incoming(incoming(c)),
    );
    tokio::spawn(
        server().add_service(PublicationServiceServer::new(Publication(mock))).serve_with_incoming(incoming(d)),
    );
    [intake, routing, processing, publication]
}

fn args(target: String, rate: Rate) -> WorkflowArgs {
    WorkflowArgs {
        target,
        intake: None,
        routing: None,
        processing: None,
        publication: None,
        through: Through::Rate,
        rating_key: Some(KEY.into()),
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

/// Whether the reporter of flow `n` asked for confidentiality (so it is answered privately).
fn confidential(n: u64) -> bool {
    workload::request(n, SystemTime::now()).reporter.is_some_and(|r| r.confidential)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_waits_for_each_replica_and_keeps_it_apart_from_latency() {
    // Long enough that a flow delayed by a busy machine between two steps still meets a replica
    // that has not caught up. A flow waits three times (routing, processing, publication), over
    // 300 ms in all: 40 flows/s keep about 13 in flight, well within 32.
    let lag = Duration::from_millis(100);
    let mock = Mock::new(lag);
    let [intake, routing, processing, publication] = four_servers(mock.clone()).await;
    let mut a = args("http://127.0.0.1:1".into(), Rate::PerSecond(40.0));
    (a.intake, a.routing, a.processing, a.publication) =
        (Some(intake), Some(routing), Some(processing), Some(publication));
    a.concurrency = 32;
    let s = run(&a).await.unwrap();
    let text = s.text();
    // 40/s over 1 s measured: exactly 40 flows, all through.
    assert_eq!((s.started, s.completed, s.failed, s.missed), (40, 40, 0, 0), "{text}");
    assert!(s.errors.is_empty(), "{text}");
    assert_eq!(s.throughput, 40.0);
    // The flows measured are slots 8 to 47 (0.2 s of warm-up at 40/s); the reporters who asked
    // for confidentiality were answered privately, the others publicly.
    let schedule = Schedule::new(40.0, a.warmup, a.duration);
    let private = (0..schedule.total()).filter(|&n| schedule.is_measured(n) && confidential(n)).count() as u64;
    assert!(private > 0 && private < 40, "{private}");
    let waits: Vec<&str> = s.propagation.iter().map(|p| p.step.as_str()).collect();
    assert_eq!(waits, ["Dispatch", "SubmitResult", "PublishAnswer", "AnswerPrivately"]);
    for p in &s.propagation {
        let flows = match p.step.as_str() {
            "PublishAnswer" => 40 - private,
            "AnswerPrivately" => private,
            _ => 40,
        };
        assert_eq!(p.flows, flows, "{text}");
        // Flows reach the step before its replica caught up, so (nearly) every flow waited: a flow
        // the scheduler held back for the whole lag between two steps does not wait, and is not
        // counted as waiting.
        assert!(p.waited + 4 >= flows && p.waited <= flows, "{text}");
        assert!(p.retries >= p.waited, "{text}");
        let wait = p.wait_ms.as_ref().unwrap();
        assert!(wait.p50 >= 20.0 && wait.p50 < 500.0, "{text}");
    }
    // The RPCs themselves answer at once: the waits are not in the step latencies.
    for name in ["SubmitReport", "AcceptReport", "Dispatch", "SubmitResult", "ApproveResult", "RateReport"] {
        let step = step_of(&s, name);
        assert_eq!(step.ok, 40, "{text}");
        assert!(step.latency_ms.as_ref().unwrap().p50 < 20.0, "{name}: {text}");
    }
    assert_eq!((step_of(&s, "PublishAnswer").ok, step_of(&s, "AnswerPrivately").ok), (40 - private, private));
    for name in ["PublishAnswer", "AnswerPrivately"] {
        assert!(step_of(&s, name).latency_ms.as_ref().unwrap().p50 < 20.0, "{name}: {text}");
    }
    // End to end holds the three waits.
    assert!(s.end_to_end_ms.as_ref().unwrap().p50 >= 3.0 * 80.0, "{text}");
    assert!(s.server_cpu.is_some() && s.generator_cpu.is_some());
    assert!(text.contains("intake http://127.0.0.1:"), "{text}");
    assert!(text.contains(", publication http://127.0.0.1:"), "{text}");
    // Every flow, warm-up included, rated once, with the mix of `rating`.
    let mut expected = HashMap::new();
    for n in 0..schedule.total() {
        *expected.entry(rating(n).0).or_insert(0u64) += 1;
    }
    assert_eq!(mock.ratings(), expected, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_second_counts_the_flows_that_ended_in_it_even_if_started_in_the_warmup() {
    // Flows take over 0.9 s (three waits of 0.3 s): those ending in the first measured second
    // started in the warm-up.
    let url = one_server(Mock::new(Duration::from_millis(300))).await;
    let mut a = args(url, Rate::PerSecond(20.0));
    (a.warmup, a.duration) = (Duration::from_secs(1), Duration::from_secs(2));
    a.concurrency = 32;
    a.server_pid = None;
    let s = run(&a).await.unwrap();
    assert_eq!((s.started, s.completed), (40, 40), "{}", s.text());
    let p = s.per_second.as_ref().unwrap();
    assert!(p.min >= 15 && p.max <= 25, "{}", s.text());
    assert!(s.end_to_end_ms.as_ref().unwrap().p50 >= 900.0, "{}", s.text());
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_through_the_approval_need_no_publication() {
    let mock = Mock::new(Duration::from_millis(2));
    let url = server_without_publication(mock.clone()).await;
    let mut a = args(url, Rate::PerSecond(20.0));
    a.warmup = Duration::ZERO;
    a.duration = Duration::from_millis(500);
    (a.through, a.rating_key) = (Through::Approve, None);
    a.server_pid = None;
    let s = run(&a).await.unwrap();
    let text = s.text();
    assert_eq!((s.started, s.completed, s.failed), (10, 10, 0), "{text}");
    let names: Vec<&str> = s.steps.iter().map(|s| s.step.as_str()).collect();
    assert_eq!(names, ["SubmitReport", "AcceptReport", "Dispatch", "SubmitResult", "ApproveResult"]);
    assert_eq!(s.propagation.len(), 2, "{text}");
    assert_eq!(s.endpoints.len(), 3, "{text}");
    assert!(!text.contains("publication") && !text.contains("RateReport"), "{text}");
    assert!(mock.ratings().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_rating_key_fails_the_rating_at_once() {
    let url = one_server(Mock::new(Duration::from_millis(1))).await;
    let mut a = args(url, Rate::PerSecond(20.0));
    a.warmup = Duration::ZERO;
    a.duration = Duration::from_millis(250);
    a.rating_key = Some("another instance's key, long enough to be one".into());
    a.server_pid = None;
    let s = run(&a).await.unwrap();
    let text = s.text();
    assert_eq!((s.started, s.completed, s.failed), (5, 0, 5), "{text}");
    assert_eq!(s.errors["RateReport"]["UNAUTHENTICATED"], 5, "{text}");
    assert_eq!(step_of(&s, "PublishAnswer").ok + step_of(&s, "AnswerPrivately").ok, 5, "{text}");
    assert_eq!(step_of(&s, "RateReport").ok, 0, "{text}");
    assert!(text.contains("first RateReport UNAUTHENTICATED: the rating secret does not match"), "{text}");
}

#[tokio::test]
async fn the_rating_key_is_needed_to_go_through_the_rating() {
    let mut a = args("http://127.0.0.1:1".into(), Rate::Max);
    a.rating_key = None;
    let err = format!("{:#}", run(&a).await.expect_err("no rating key"));
    assert!(err.contains("--rating-key (PAHT_LOAD_RATING_KEY)"), "{err}");
    assert!(err.contains("`rating-key`") && err.contains("[publication] rating_key"), "{err}");
    assert!(err.contains("--through approve"), "{err}");
    a.rating_key = Some("short".into());
    let err = format!("{:#}", run(&a).await.expect_err("a short key"));
    assert!(err.contains("cannot be used") && err.contains("at least 32 bytes"), "{err}");
}

#[tokio::test]
async fn a_refusal_with_details_is_not_retried_but_a_bare_one_is() {
    let policy = RetryPolicy {
        first_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(1),
        patience: Duration::from_secs(5),
    };
    // The guard's refusal carries its findings: no event will change it.
    let attempts = AtomicU64::new(0);
    let refused = step(Step::Publish, &policy, Duration::from_secs(1), || {
        attempts.fetch_add(1, Ordering::Relaxed);
        let details = tonic::codegen::Bytes::from_static(b"findings");
        async move {
            Err::<Response<v1::PublishAnswerResponse>, _>(Status::with_details(
                Code::FailedPrecondition,
                "the answer carries personal data",
                details,
            ))
        }
    })
    .await;
    let Err(e) = refused else { panic!("refused") };
    assert_eq!((e.failed.code, e.failed.retries), ("FAILED_PRECONDITION", 0));
    assert_eq!(e.message, "the answer carries personal data");
    assert_eq!(attempts.load(Ordering::Relaxed), 1);
    // A bare FAILED_PRECONDITION is the replica not caught up yet: retried.
    let attempts = AtomicU64::new(0);
    let through = step(Step::Publish, &policy, Duration::from_secs(1), || {
        let n = attempts.fetch_add(1, Ordering::Relaxed);
        async move {
            if n < 3 {
                Err(Status::failed_precondition("report is dispatched"))
            } else {
                Ok(Response::new(v1::PublishAnswerResponse::default()))
            }
        }
    })
    .await;
    let Ok((_, done)) = through else { panic!("through after three refusals") };
    assert_eq!(done.retries, 3);
}

#[test]
fn the_answer_drafted_from_the_result_passes_the_personal_data_guard() {
    // Publication drafts the answer from the officer's result, under the agency's name
    // (paht_domain's lifecycle/draft.rs; SO-XD-86's name from routing's directory), and refuses
    // to publish it if it carries the reporter's name or address, a phone number, an e-mail or
    // an identity number.
    let draft = format!("Kết quả xử lý phản ánh:\n\n1. Sở Xây dựng tỉnh Vĩnh Long:\n{RESULT_TEXT}");
    for n in 0..500 {
        let reporter = workload::request(n, SystemTime::now()).reporter.unwrap();
        let guard =
            privacy::Reporter { name: Some(&reporter.name), name_public: false, address: Some(&reporter.address) };
        for text in [RESULT_TEXT, &draft] {
            let findings = privacy::scan(text, &guard);
            assert!(findings.is_empty(), "flow {n}: {findings:?} in {text:?}");
        }
    }
}

#[test]
fn ratings_are_a_fixed_mix_per_flow_number() {
    let mut counts = HashMap::new();
    for n in 0..1_000 {
        let (value, feedback) = rating(n);
        assert!(feedback.chars().count() <= 2_000);
        *counts.entry(value).or_insert(0) += 1;
    }
    assert_eq!(counts[&v1::RatingValue::Satisfied], 700);
    assert_eq!(counts[&v1::RatingValue::Normal], 200);
    assert_eq!(counts[&v1::RatingValue::Unsatisfied], 100);
}
