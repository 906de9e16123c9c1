//! Robustness (issue 10): every RPC of every service in `paht_proto::FILE_DESCRIPTOR_SET`, found
//! through the descriptors (nothing here lists the RPCs), gets malformed and hostile requests —
//! the empty message; each field in turn set to hostile values by type (empty, huge, control
//! characters, bidi and combining marks, ids that exist nowhere or of the wrong kind, SQL and
//! path traversal, extreme numbers, NaN and infinities, unknown enum values, 0/1/10 000 repeated
//! items, nested messages to a bounded depth, out-of-range timestamps); raw byte garbage as the
//! body (random bytes, truncated messages, lying length prefixes, bad wire types, bad frames);
//! for client-streaming RPCs whole streams (empty, header missing, twice, garbage mid-stream);
//! each with the tokens of every role, no token, and garbage `authorization` metadata.
//!
//! The whole system runs in this process in embedded mode (SQLite files under a temporary data
//! directory, the demo reports seeded as `paht up` does, and more cases taken through the real
//! RPCs so that every action has a target in the state it needs), and every answer is judged: a
//! deliberate status (never UNKNOWN; never INTERNAL, except tonic's own decoder refusing bytes it
//! cannot parse), error metadata under 8 KiB, and after every refusal nothing changed in any
//! database (every row of every table of every SQLite file, nothing excluded, and the other files
//! of the data directory). At the end the server must be healthy: gRPC health SERVING for every
//! hosted service and a normal submission accepted. The summary is printed (`--nocapture`;
//! `PAHT_ROBUST_TRACE=1` prints every request and its answer); the test fails listing every
//! unclean case.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::{Duration, Instant};

use chrono::{Datelike, TimeDelta, Utc};
use paht::runtime;
use paht_domain::actor::Role;
use paht_platform::config::ConfigSource;
use paht_proto::v1;
use paht_proto::v1::intake_service_client::IntakeServiceClient;
use paht_proto::v1::processing_service_client::ProcessingServiceClient;
use paht_proto::v1::routing_service_client::RoutingServiceClient;
use paht_testing::Tokens;
use prost::Message as _;
use prost::bytes::Bytes;
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor, Value,
};
use sea_orm::{ConnectOptions, ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tonic::codegen::Body as _;
use tonic::codegen::Service as _;
use tonic::codegen::http;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// tonic's default limit on a received message, which the server keeps (4 MiB).
const MAX_MESSAGE: usize = 4 * 1024 * 1024;
/// The most `grpc-message` plus `grpc-status-details-bin` may take on the wire.
const MAX_ERROR_METADATA: usize = 8 * 1024;
const MIB: usize = 1024 * 1024;
/// How deep nested messages are descended into (request → message → message → field).
const MAX_DEPTH: usize = 4;
/// "Too many" repeated items.
const MANY: usize = 10_000;
/// The longest an answer may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// The INTERNAL messages of tonic's own decoder (and of its unary server when the body holds no
/// message): the one INTERNAL a request of unparsable bytes may get.
const DECODER_MESSAGES: &[&str] = &[
    "failed to decode Protobuf message",
    "Unexpected EOF decoding stream.",
    "protocol error: received message with compressed-flag but no grpc-encoding was specified",
    "protocol error: received message with invalid compression flag",
    "Missing request message.",
];

/// A 1×1 transparent PNG: a real attachment the upload accepts.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0a, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00,
    0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// Vietnamese text that passes the submission rules, for every free-text field.
const SENTENCE: &str =
    "Cống thoát nước trên đường Lý Thường Kiệt bị tắc, nước ngập sâu sau mỗi cơn mưa gây khó khăn cho người đi đường.";

/// The agency the officer and leader tokens act for (it leads a demo report).
const OUR_AGENCY: &str = "SO-XD-86";
/// Another agency of the demo data.
const OTHER_AGENCY: &str = "UBND-28756";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_answers_hostile_requests_deliberately_and_changes_nothing() {
    let started = Instant::now();
    let dir = std::env::temp_dir().join(format!("paht-e2e-robust-{}", uuid::Uuid::new_v4().simple()));
    let data = dir.join("data");
    // Rate limits off: thousands of requests come from one sender, and a limit would answer most
    // of them before the checks under test (the limits have their own tests). The deadline
    // sweeper runs at start-up and then not for a day: it writes on the clock, not on requests,
    // and a reminder falling due mid-run would look like a refusal that changed state.
    let toml = format!(
        r#"
data_dir = "{data}"
grpc_addr = "127.0.0.1:0"
http_addr = "127.0.0.1:0"
[intake.limits]
per_sender = {{ max = 0, window_secs = 1 }}
per_address = {{ max = 0, window_secs = 1 }}
uploads_per_address = {{ max = 0, window_secs = 1 }}
[routing.sweeper]
interval_secs = 86400
lease_ttl_secs = 172800
"#,
        data = data.display()
    );
    let source = ConfigSource::from_toml(&toml);
    let config = source.platform().unwrap();
    let running = runtime::start(source, config, runtime::REGISTRY, CancellationToken::new()).await.unwrap();
    let seeded = runtime::demo_data::seed(running.clients(), running.auth(), running.instance(), running.data_dir())
        .await
        .unwrap();
    let tokens = Tokens::new(running.auth(), running.instance());
    let instance = running.instance().to_owned();
    // The client takes large response header blocks (by default it refuses a few tens of KiB and
    // drops the connection), so that an oversized error is measured rather than lost.
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", running.grpc_addr()))
        .unwrap()
        .http2_max_header_list_size(64 * 1024 * 1024)
        .connect()
        .await
        .unwrap();

    // More cases through the real RPCs, so that every action has a target in the state it needs:
    // reports waiting for the check, accepted, dispatched to our agency (assigned, with a result
    // waiting for the leader, returned) and escalated.
    let system = tokens.mint("robust-channel", Role::System, &instance);
    let mut intake = IntakeServiceClient::new(channel.clone());
    let escalations = seed_cases(&channel, &tokens, &instance).await;

    // Every RPC of every service, from the descriptors.
    let pool = DescriptorPool::decode(paht_proto::FILE_DESCRIPTOR_SET).unwrap();
    let services: Vec<String> = pool.services().map(|s| s.full_name().to_owned()).collect();
    let methods: Vec<MethodDescriptor> = pool.services().flat_map(|s| s.methods().collect::<Vec<_>>()).collect();
    assert!(!methods.is_empty(), "the descriptor set has no RPC");
    let hosted: Vec<String> = runtime::REGISTRY.iter().map(|r| r.grpc_service.to_owned()).collect();
    for name in &hosted {
        assert!(services.contains(name), "hosted service {name} is not in the descriptor set");
    }

    let mut run = Run {
        channel: channel.clone(),
        stores: Stores::open(&data).await,
        hosted: hosted.clone(),
        trace: std::env::var("PAHT_ROBUST_TRACE").is_ok_and(|v| v == "1"),
        baseline: Snapshot::default(),
        ctx: Ctx::default(),
        rng: Rng(0x9e37_79b9_7f4a_7c15),
        tally: Tally::default(),
        unclean: Vec::new(),
        accepted: BTreeMap::new(),
        notes: Vec::new(),
    };
    run.ctx.escalations = escalations;
    run.settle().await;
    // The detector itself: nothing changes while nobody calls, and one accepted submission shows.
    assert_eq!(run.changed().await, None, "the system changed with nobody calling");
    intake.submit_report(common::authed(&system, common::submission("robust-detector"))).await.unwrap();
    let seen = run.changed().await.expect("a submission changes intake.db");
    assert!(seen.contains("intake.db/reports: 1 added"), "{seen}");
    run.settle().await;
    assert!(run.ctx.ours.len() >= 7 && !run.ctx.escalations.is_empty(), "the cases were seeded");

    let auths = Auths::new(&tokens, running.auth(), &instance);
    let mut covered: BTreeMap<String, usize> = BTreeMap::new();

    // Phase 1: the role that gets furthest with a plausible request, per method (every role's
    // answer is judged like any other).
    let mut primaries = Vec::new();
    for method in &methods {
        let before = run.tally.tried;
        let mut primary = None;
        for auth in &auths.roles {
            let body = frame(&plausible(&method.input(), &mut run.ctx, 0, 0).encode_to_vec());
            let code = run.send(method, "plausible request", auth, Class::Normal, vec![body], &[]).await;
            if primary.is_none() && !matches!(code, Some(Code::PermissionDenied | Code::Unauthenticated)) {
                primary = Some(auth.clone());
            }
        }
        primaries.push(primary.unwrap_or_else(|| auths.roles[0].clone()));
        *covered.entry(method.parent_service().full_name().to_owned()).or_default() += run.tally.tried - before;
    }

    // Phase 2: the value corpus, raw garbage, an oversized request and (client streaming) whole
    // streams, with the role found above; a sample also with the other roles and broken credentials.
    for (method, primary) in methods.iter().zip(&primaries) {
        let before = run.tally.tried;
        let specs = field_specs(method, &run.ctx, &mut run.rng);
        for (i, spec) in specs.iter().enumerate() {
            let frames = run.materialize(method, spec);
            run.send(method, &spec.label, primary, Class::Normal, frames, &[]).await;
            if i % 9 == 4 {
                let other = &auths.roles[(i / 9) % auths.roles.len()];
                if other.label != primary.label {
                    let frames = run.materialize(method, spec);
                    run.send(method, &spec.label, other, Class::Normal, frames, &[]).await;
                }
            }
            if i % 13 == 6 {
                let broken = &auths.broken[(i / 13) % auths.broken.len()];
                let frames = run.materialize(method, spec);
                run.send(method, &spec.label, broken, Class::Normal, frames, &[]).await;
            }
        }
        for case in garbage_cases(method, &mut run.ctx, &mut run.rng) {
            run.send(method, &case.label, primary, case.class, case.frames, &case.headers).await;
        }
        run.send(method, "a 4 MiB unknown field (over the limit)", primary, Class::Oversized, vec![oversized()], &[])
            .await;
        if method.is_client_streaming() {
            for case in stream_cases(method, &mut run.ctx, &mut run.rng) {
                run.send(method, &case.label, primary, case.class, case.frames, &case.headers).await;
            }
        }
        run.check_health(method.full_name()).await;
        *covered.entry(method.parent_service().full_name().to_owned()).or_default() += run.tally.tried - before;
    }

    // Phase 3: every credential on the empty and on the plausible request. The 1-second token
    // minted at the start is past its lifetime and the server's 30 s leeway by now.
    if let Some(wait) = (auths.minted + Duration::from_secs(33)).checked_duration_since(Instant::now()) {
        tokio::time::sleep(wait).await;
    }
    for method in &methods {
        let before = run.tally.tried;
        for auth in auths.roles.iter().chain(&auths.broken) {
            let empty = frame(&DynamicMessage::new(method.input()).encode_to_vec());
            run.send(method, "empty message", auth, Class::Normal, vec![empty], &[]).await;
            let body = frame(&plausible(&method.input(), &mut run.ctx, 0, 0).encode_to_vec());
            run.send(method, "plausible request", auth, Class::Normal, vec![body], &[]).await;
        }
        *covered.entry(method.parent_service().full_name().to_owned()).or_default() += run.tally.tried - before;
    }

    // The server is healthy: health SERVING for every hosted service, and a normal call succeeds.
    run.check_health("the end").await;
    let mut health = HealthClient::new(channel.clone());
    let mut unhealthy = Vec::new();
    for service in hosted.iter().map(String::as_str).chain([""]) {
        let status = health.check(HealthCheckRequest { service: service.to_owned() }).await;
        if status.as_ref().map(|r| r.get_ref().status).ok() != Some(tonic_health::ServingStatus::Serving as i32) {
            unhealthy.push(format!("health of {service:?}: {status:?}"));
        }
    }
    let final_call = async {
        let receipt = intake
            .submit_report(common::authed(&system, common::submission("robust-final")))
            .await
            .map_err(|s| format!("a normal SubmitReport after the corpus: {s:?}"))?
            .into_inner();
        let operator = tokens.mint("robust-operator", Role::IocOperator, &instance);
        let read = v1::GetReportRequest { report_id: receipt.report_id.clone() };
        let report = intake
            .get_report(common::authed(&operator, read))
            .await
            .map_err(|s| format!("GetReport of the new report: {s:?}"))?
            .into_inner();
        if report.report.map(|r| r.id) != Some(receipt.report_id) {
            return Err("GetReport returned another report".to_owned());
        }
        Ok::<(), String>(())
    };
    if let Err(e) = final_call.await {
        unhealthy.push(e);
    }

    // The summary, then the verdict.
    let mut summary = String::new();
    let _ = writeln!(summary, "\nrobustness summary ({} s)", started.elapsed().as_secs());
    let _ = writeln!(
        summary,
        "  services in the descriptor set: {} ({} hosted), methods: {}, demo reports: {}",
        services.len(),
        hosted.len(),
        methods.len(),
        seeded.reports.len()
    );
    for service in &services {
        let state = if hosted.contains(service) { "hosted" } else { "not hosted" };
        let _ = writeln!(summary, "    {service} ({state}): {} requests", covered.get(service).copied().unwrap_or(0));
    }
    let _ = writeln!(summary, "  requests tried: {}", run.tally.tried);
    for (code, n) in &run.tally.by_code {
        let _ = writeln!(summary, "    {code:<22}{n:>6}");
    }
    let _ = writeln!(summary, "  of the INTERNAL, tonic's own decoder refusing garbage:");
    for (message, n) in &run.tally.decoder {
        let _ = writeln!(summary, "    {message:<90}{n:>6}");
    }
    let _ = writeln!(summary, "  refusals checked for state changes: {}", run.tally.refusals);
    let _ = writeln!(summary, "  accepted (OK), by method, with a few of the cases:");
    for (method, cases) in &run.accepted {
        let shown: Vec<&str> = cases.iter().take(4).map(String::as_str).collect();
        let _ = writeln!(summary, "    {method}: {} — {}", cases.len(), shown.join(" | "));
    }
    for note in &run.notes {
        let _ = writeln!(summary, "  note: {note}");
    }
    let _ = writeln!(summary, "  unclean: {}", run.unclean.len() + unhealthy.len());
    println!("{summary}");
    for service in &services {
        assert!(covered.get(service).copied().unwrap_or(0) > 0, "service {service} not covered");
    }

    let unclean = std::mem::take(&mut run.unclean);
    drop(run);
    running.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    if !unclean.is_empty() || !unhealthy.is_empty() {
        let mut report = format!("{} unclean answers:\n", unclean.len());
        for u in &unclean {
            let _ = writeln!(
                report,
                "- {} [{}] with {}: {} — {} {:?}",
                u.method,
                u.case,
                u.auth,
                u.problem,
                u.code,
                cut(&u.message, 300)
            );
        }
        for u in &unhealthy {
            let _ = writeln!(report, "- server not healthy at the end: {u}");
        }
        panic!("{report}");
    }
}

/// Submits 10 reports and takes them through the real RPCs: 2 wait for the check, 1 is accepted,
/// 1 escalated, and 6 dispatched to our agency (3 assigned, 2 with a result waiting for the
/// leader, 1 returned). Returns the escalations (report, escalation id).
async fn seed_cases(channel: &Channel, tokens: &Tokens, instance: &str) -> Vec<(String, String)> {
    let system = tokens.mint("robust-channel", Role::System, instance);
    let operator = tokens.mint("robust-operator", Role::IocOperator, instance);
    let officer = tokens.mint("robust-officer", Role::Officer, OUR_AGENCY);
    let mut intake = IntakeServiceClient::new(channel.clone());
    let routing = RoutingServiceClient::new(channel.clone());
    let processing = ProcessingServiceClient::new(channel.clone());
    let mut escalations = Vec::new();
    for i in 0..10 {
        let receipt = intake
            .submit_report(common::authed(&system, common::submission(&format!("robust-seed-{i}"))))
            .await
            .unwrap()
            .into_inner();
        let report_id = receipt.report_id;
        if i >= 8 {
            continue;
        }
        let accept = v1::AcceptReportRequest { report_id: report_id.clone(), category_id: "giao-thong".into() };
        intake.accept_report(common::authed(&operator, accept)).await.unwrap();
        if i == 7 {
            continue;
        }
        if i == 6 {
            let escalated = common::eventually_every(50, "escalate", || {
                let request = v1::EscalateRequest {
                    report_id: report_id.clone(),
                    reason: v1::EscalationReason::UnclearCompetence as i32,
                    note: SENTENCE.into(),
                    duplicate_of: String::new(),
                };
                let (mut routing, token) = (routing.clone(), operator.clone());
                async move { routing.escalate(common::authed(&token, request)).await }
            })
            .await
            .into_inner();
            escalations.push((report_id.clone(), escalated.escalation.unwrap().id));
            continue;
        }
        let dispatched = common::eventually_every(50, "dispatch", || {
            let request = v1::DispatchRequest {
                report_id: report_id.clone(),
                targets: vec![v1::DispatchTarget { agency_unit_id: OUR_AGENCY.into(), lead: true }],
                note: SENTENCE.into(),
            };
            let (mut routing, token) = (routing.clone(), operator.clone());
            async move { routing.dispatch(common::authed(&token, request)).await }
        })
        .await
        .into_inner();
        let assignment = dispatched.assignments[0].id.clone();
        match i {
            1 | 2 => {
                common::eventually_every(50, "submit a result", || {
                    let request = v1::SubmitResultRequest {
                        assignment_id: assignment.clone(),
                        text: SENTENCE.into(),
                        attachment_ids: vec![],
                    };
                    let (mut processing, token) = (processing.clone(), officer.clone());
                    async move { processing.submit_result(common::authed(&token, request)).await }
                })
                .await;
            }
            3 => {
                common::eventually_every(50, "return", || {
                    let request =
                        v1::ReturnAssignmentRequest { assignment_id: assignment.clone(), reason: SENTENCE.into() };
                    let (mut processing, token) = (processing.clone(), officer.clone());
                    async move { processing.return_assignment(common::authed(&token, request)).await }
                })
                .await;
            }
            _ => {}
        }
    }
    escalations
}

// ---------------------------------------------------------------------------------------------
// Requests from the descriptors.

/// What the request is made of, which decides the statuses it may get.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Class {
    /// A well-formed protobuf message (however hostile its values).
    Normal,
    /// Bytes the decoder cannot parse: its own INTERNAL is the one allowed.
    Garbage,
    /// Over the server's message limit: RESOURCE_EXHAUSTED.
    Oversized,
}

/// One request not built from a field value: raw frames and any extra metadata.
struct RawCase {
    label: String,
    class: Class,
    frames: Vec<Vec<u8>>,
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
}

impl RawCase {
    fn new(label: &str, class: Class, frames: Vec<Vec<u8>>) -> RawCase {
        RawCase { label: label.to_owned(), class, frames, headers: Vec::new() }
    }

    fn with_header(mut self, name: &'static str, value: &'static str) -> RawCase {
        self.headers.push((http::HeaderName::from_static(name), http::HeaderValue::from_static(value)));
        self
    }
}

/// How one field of a request is changed.
#[derive(Clone)]
enum Mutation {
    Set(Value),
    Clear,
    /// The field (a list) holds this many plausible items.
    Plausible(usize),
}

/// One field of the request (a path into nested messages) set to one hostile value, on the empty
/// request or on a plausible one.
struct FieldSpec {
    path: Vec<FieldDescriptor>,
    mutation: Mutation,
    on_plausible: bool,
    label: String,
}

/// The ids that exist, and a turn so that successive requests name different ones.
#[derive(Default)]
struct Ctx {
    reports: Vec<String>,
    codes: Vec<String>,
    /// Every assignment.
    assignments: Vec<String>,
    /// (assignment, report) of the agency the officer and leader tokens act for.
    ours: Vec<(String, String)>,
    /// (report, escalation) of the escalated reports.
    escalations: Vec<(String, String)>,
    turn: usize,
    keys: usize,
    /// The case the request being built is about: its ids name one report throughout.
    case: Case,
}

#[derive(Default, Clone)]
struct Case {
    report: String,
    other_report: String,
    assignment: String,
    escalation: String,
}

impl Ctx {
    fn next(&mut self, pick: fn(&Ctx) -> &Vec<String>) -> String {
        self.turn += 1;
        let list = pick(self);
        if list.is_empty() { String::new() } else { list[self.turn % list.len()].clone() }
    }

    fn first(&self, pick: fn(&Ctx) -> &Vec<String>) -> String {
        pick(self).first().cloned().unwrap_or_default()
    }

    /// Picks the next case for a request of type `desc`: an escalation when it names one, one of
    /// our agency's assignments when it names an assignment, else a report.
    fn pick_case(&mut self, desc: &MessageDescriptor) {
        self.turn += 1;
        let turn = self.turn;
        let names: Vec<String> = desc.fields().map(|f| f.name().to_owned()).collect();
        let nth =
            |list: &Vec<String>, k: usize| if list.is_empty() { String::new() } else { list[k % list.len()].clone() };
        let mut case = Case {
            report: nth(&self.reports, turn),
            other_report: nth(&self.reports, turn + 1),
            assignment: self.ours.get(turn % self.ours.len().max(1)).map(|(a, _)| a.clone()).unwrap_or_default(),
            escalation: String::new(),
        };
        if names.iter().any(|n| n == "escalation_id") && !self.escalations.is_empty() {
            let (report, escalation) = self.escalations[turn % self.escalations.len()].clone();
            case.report = report;
            case.escalation = escalation;
        } else if names.iter().any(|n| n.ends_with("assignment_id")) && !self.ours.is_empty() {
            let (assignment, report) = self.ours[turn % self.ours.len()].clone();
            case.report = report;
            case.assignment = assignment;
        }
        if case.escalation.is_empty() {
            case.escalation = format!("{}@0", case.report);
        }
        self.case = case;
    }
}

/// A deterministic generator of garbage (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| (self.next() >> 32) as u8).collect()
    }
}

/// A gRPC frame: uncompressed, with the message's true length.
fn frame(message: &[u8]) -> Vec<u8> {
    frame_with(0, u32::try_from(message.len()).unwrap(), message)
}

fn frame_with(flag: u8, length: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 5);
    out.push(flag);
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(body);
    out
}

fn varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn tag(number: u32, wire_type: u8, out: &mut Vec<u8>) {
    varint((u64::from(number) << 3) | u64::from(wire_type), out);
}

/// The empty request with one unknown length-delimited field over the server's limit.
fn oversized() -> Vec<u8> {
    let mut message = Vec::new();
    tag(2002, 2, &mut message);
    let len = MAX_MESSAGE + 1024;
    varint(len as u64, &mut message);
    message.resize(message.len() + len, b'x');
    frame(&message)
}

/// A request that passes the obvious checks: ids that exist, Vietnamese text, a recent time, a
/// place in Vĩnh Long — by the fields' names, the same for every RPC. `choice` picks the member
/// of the request's oneof.
fn plausible(desc: &MessageDescriptor, ctx: &mut Ctx, depth: usize, choice: usize) -> DynamicMessage {
    match desc.full_name() {
        // The one request whose plausible form is a known-good value: a valid submission, with a
        // key of its own so that it is a new submission each time.
        "paht.v1.SubmitReportRequest" => {
            ctx.keys += 1;
            let typed = common::submission(&format!("robust-{}", ctx.keys));
            return DynamicMessage::decode(desc.clone(), typed.encode_to_vec().as_slice()).unwrap();
        }
        "google.protobuf.Timestamp" => {
            let ts = paht_proto::convert::timestamp(Utc::now() - TimeDelta::hours(2));
            return DynamicMessage::decode(desc.clone(), ts.encode_to_vec().as_slice()).unwrap();
        }
        _ => {}
    }
    if depth == 0 {
        ctx.pick_case(desc);
    }
    let mut message = DynamicMessage::new(desc.clone());
    for field in desc.fields() {
        if let Some(oneof) = field.containing_oneof().filter(|o| !o.is_synthetic()) {
            let members: Vec<FieldDescriptor> = oneof.fields().collect();
            if members[choice % members.len()].number() != field.number() {
                continue;
            }
        }
        if field.is_map() {
            continue;
        }
        if field.is_list() {
            // Attachments must be unclaimed uploads: a plausible request names none.
            if field.name().contains("attachment") {
                continue;
            }
            if let Some(item) = plausible_value(&field, ctx, depth) {
                message.set_field(&field, Value::List(vec![item]));
            }
        } else if let Some(value) = plausible_value(&field, ctx, depth) {
            message.set_field(&field, value);
        }
    }
    message
}

fn plausible_value(field: &FieldDescriptor, ctx: &mut Ctx, depth: usize) -> Option<Value> {
    let name = field.name();
    let number = match name {
        "latitude" => 10.2537,
        "longitude" => 105.9722,
        "year" => f64::from(Utc::now().year() + 1),
        "month" => 6.0,
        "day" => 15.0,
        "quarter" => 2.0,
        "size_bytes" => PNG.len() as f64,
        "limit" => 5.0,
        "page_size" => 10.0,
        _ => 1.0,
    };
    Some(match field.kind() {
        Kind::String => Value::String(plausible_string(field.parent_message().full_name(), name, ctx)),
        Kind::Bytes => Value::Bytes(Bytes::from_static(PNG)),
        Kind::Bool => Value::Bool(name == "lead"),
        Kind::Enum(e) => Value::EnumNumber(e.values().map(|v| v.number()).find(|n| *n != 0).unwrap_or(0)),
        Kind::Message(m) if depth < MAX_DEPTH => Value::Message(plausible(&m, ctx, depth + 1, 0)),
        Kind::Message(_) => return None,
        kind => number_value(&kind, number as i128, number),
    })
}

fn plausible_string(message: &str, name: &str, ctx: &mut Ctx) -> String {
    match (message, name) {
        // Only for ESCALATION_REASON_DUPLICATE, which the plausible escalation is not.
        ("paht.v1.EscalateRequest", "duplicate_of") => return String::new(),
        // Categories are unique by code.
        ("paht.v1.Category", "code") => {
            ctx.keys += 1;
            return format!("robust-{}", ctx.keys);
        }
        _ => {}
    }
    match name {
        "idempotency_key" => {
            ctx.keys += 1;
            format!("robust-{}", ctx.keys)
        }
        "escalation_id" => ctx.case.escalation.clone(),
        "tracking_code" => ctx.next(|c| &c.codes),
        "instance_id" | "instance_ids" => "IOC-86".into(),
        "category_id" | "category_ids" => "giao-thong".into(),
        "parent_id" => "UBND-86".into(),
        "phone" => "0912345678".into(),
        "email" => "robust@example.vn".into(),
        "name" => "Nguyễn Văn An".into(),
        "subject" => "sample-sxd-officer".into(),
        "address" => "Đường Lý Thường Kiệt, phường Long Châu, tỉnh Vĩnh Long".into(),
        "file_name" => "anh.png".into(),
        "content_type" => "image/png".into(),
        "sender_id" => "zalo-robust".into(),
        "client_address" => "203.0.113.7".into(),
        "code" => "robust".into(),
        "sha256" | "page_token" | "unit_code" | "channel_address" | "id" => String::new(),
        "duplicate_of" => ctx.case.other_report.clone(),
        n if n.ends_with("report_id") => ctx.case.report.clone(),
        n if n.ends_with("assignment_id") || n == "assignment_ids" => ctx.case.assignment.clone(),
        n if n.contains("unit_id") => OUR_AGENCY.into(),
        _ => SENTENCE.into(),
    }
}

/// `int` or `float` as a value of a numeric field's kind (wrapping, as the wire would).
fn number_value(kind: &Kind, int: i128, float: f64) -> Value {
    match kind {
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(int as i32),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(int as i64),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(int as u32),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(int as u64),
        Kind::Double => Value::F64(float),
        Kind::Float => Value::F32(float as f32),
        other => panic!("not a number: {other:?}"),
    }
}

/// Every field path of `desc` down to [`MAX_DEPTH`], into message fields (lists: their first item).
fn field_paths(desc: &MessageDescriptor, prefix: &[FieldDescriptor], out: &mut Vec<Vec<FieldDescriptor>>) {
    for field in desc.fields() {
        let mut path = prefix.to_vec();
        path.push(field.clone());
        out.push(path.clone());
        if let Kind::Message(child) = field.kind()
            && !field.is_map()
            && path.len() < MAX_DEPTH
            && child.full_name() != desc.full_name()
            && !prefix.iter().any(|f| f.parent_message().full_name() == child.full_name())
        {
            field_paths(&child, &path, out);
        }
    }
}

fn path_name(path: &[FieldDescriptor]) -> String {
    path.iter()
        .map(|f| if f.is_list() { format!("{}[0]", f.name()) } else { f.name().to_owned() })
        .collect::<Vec<_>>()
        .join(".")
}

/// Hostile strings; `full` adds the ones only worth sending on a plausible request.
fn hostile_strings(name: &str, ctx: &Ctx, full: bool) -> Vec<(String, String)> {
    let mut huge = String::with_capacity(MIB + SENTENCE.len());
    while huge.len() < MIB {
        huge.push_str(SENTENCE);
        huge.push(' ');
    }
    let mut out: Vec<(&str, String)> = vec![
        ("1 MiB of Vietnamese", huge),
        ("control characters and NUL", "a\0b\u{1}c\u{7}\u{8}\u{1b}[2J\u{7f}\r\n\u{85}z".into()),
        (
            "bidi overrides and combining marks",
            "\u{202e}gnp.exe\u{202c} a\u{0301}\u{0323}\u{200b}\u{200d}\u{feff}\u{fffd}".into(),
        ),
        ("a UUID that exists nowhere", "7b0c9d1e-4f2a-4c3b-9d8e-1a2b3c4d5e6f".into()),
        ("SQL", "' OR '1'='1'; DROP TABLE reports; --".into()),
    ];
    if full {
        out.extend([
            ("empty", String::new()),
            ("blanks", " \t\u{3000}\u{a0} ".into()),
            ("300 characters", "a".repeat(300)),
            ("NUL alone", "\0".into()),
            ("10 000 combining marks", format!("a{}", "\u{0301}".repeat(10_000))),
            ("emoji and astral planes", "😀🇻🇳𝕏\u{10ffff}".into()),
            ("the nil UUID", "00000000-0000-0000-0000-000000000000".into()),
            ("not a UUID", "not-a-uuid".into()),
            ("path traversal", "../../../../etc/passwd".into()),
            ("format and template strings", "%s%n%x ${jndi:ldap://x/a} {{7*7}} %00".into()),
        ]);
    }
    let id_like = name.ends_with("id")
        || name.ends_with("ids")
        || name.ends_with("_of")
        || name.ends_with("code")
        || name.ends_with("key");
    if id_like {
        let report = ctx.first(|c| &c.reports);
        out.extend([
            ("an existing report id", report.clone()),
            ("an existing assignment id", ctx.first(|c| &c.assignments)),
            ("an existing tracking code", ctx.first(|c| &c.codes)),
            ("another agency's unit id", OTHER_AGENCY.to_owned()),
        ]);
        if full {
            out.extend([
                ("a report id in blanks", format!("  {report}\t")),
                ("a report id in upper case", report.to_uppercase()),
                ("a report id with a NUL", format!("{report}\0")),
            ]);
        }
    }
    out.into_iter().map(|(l, v)| (l.to_owned(), v)).collect()
}

/// Hostile values of one (non-list) field, by its type.
fn hostile_values(field: &FieldDescriptor, ctx: &Ctx, full: bool, rng: &mut Rng) -> Vec<(String, Mutation)> {
    let set = |l: &str, v: Value| (l.to_owned(), Mutation::Set(v));
    let kind = field.kind();
    let ints: Vec<(&str, i128)> = match kind {
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            vec![("0", 0), ("-1", -1), ("i32::MIN", i32::MIN.into()), ("i32::MAX", i32::MAX.into())]
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            vec![("0", 0), ("-1", -1), ("i64::MIN", i64::MIN.into()), ("i64::MAX", i64::MAX.into())]
        }
        Kind::Uint32 | Kind::Fixed32 => vec![("0", 0), ("u32::MAX", u32::MAX.into())],
        Kind::Uint64 | Kind::Fixed64 => vec![("0", 0), ("2^63", 1 << 63), ("u64::MAX", u64::MAX.into())],
        _ => Vec::new(),
    };
    match kind {
        Kind::String => {
            hostile_strings(field.name(), ctx, full).into_iter().map(|(l, v)| set(&l, Value::String(v))).collect()
        }
        Kind::Bytes => {
            let mut out = vec![set("1 MiB + 1 of garbage", Value::Bytes(rng.bytes(MIB + 1).into()))];
            out.push(set("a PNG signature then garbage", Value::Bytes([&PNG[..16], &rng.bytes(64)].concat().into())));
            if full {
                out.push(set("empty", Value::Bytes(Bytes::new())));
                out.push(set("16 bytes of garbage", Value::Bytes(rng.bytes(16).into())));
                out.push(set("1000 NULs", Value::Bytes(vec![0; 1000].into())));
            }
            out
        }
        Kind::Bool => vec![set("true", Value::Bool(true)), set("false", Value::Bool(false))],
        Kind::Enum(e) => {
            let mut out = vec![set("unknown value 999", Value::EnumNumber(999)), set("-1", Value::EnumNumber(-1))];
            if full {
                out.push(set("i32::MAX", Value::EnumNumber(i32::MAX)));
                for value in e.values() {
                    out.push(set(value.name(), Value::EnumNumber(value.number())));
                }
            }
            out
        }
        Kind::Double | Kind::Float => {
            let floats = [
                ("NaN", f64::NAN),
                ("+inf", f64::INFINITY),
                ("-inf", f64::NEG_INFINITY),
                ("1e308", 1e308),
                ("-1e308", -1e308),
                ("-0.0", -0.0),
                ("5e-324", 5e-324),
            ];
            let take = if full { floats.len() } else { 3 };
            floats.iter().take(take).map(|(l, f)| set(l, number_value(&kind, 0, *f))).collect()
        }
        Kind::Message(m) => {
            let mut out = vec![
                ("unset".to_owned(), Mutation::Clear),
                set("empty message", Value::Message(DynamicMessage::new(m.clone()))),
            ];
            if full {
                out.extend(special_messages(&m).into_iter().map(|(l, v)| set(&l, Value::Message(v))));
            }
            out
        }
        _ => {
            let take = if full { ints.len() } else { 2.min(ints.len()) };
            ints.iter().take(take).map(|(l, i)| set(l, number_value(&kind, *i, 0.0))).collect()
        }
    }
}

/// Out-of-range values of the well-known and shared messages (timestamps, dates).
fn special_messages(desc: &MessageDescriptor) -> Vec<(String, DynamicMessage)> {
    let ints: Vec<(&str, Vec<(&str, i64)>)> = match desc.full_name() {
        "google.protobuf.Timestamp" => vec![
            ("seconds i64::MAX, nanos -1", vec![("seconds", i64::MAX), ("nanos", -1)]),
            ("seconds i64::MIN", vec![("seconds", i64::MIN)]),
            ("the year 10000", vec![("seconds", 253_402_300_800)]),
            ("before the year 1", vec![("seconds", -62_135_596_801)]),
            ("nanos 10^9", vec![("nanos", 1_000_000_000)]),
            ("ten years ahead", vec![("seconds", (Utc::now() + TimeDelta::days(3650)).timestamp())]),
        ],
        "paht.v1.Date" => vec![
            ("30 February", vec![("year", 2027), ("month", 2), ("day", 30)]),
            ("month 13", vec![("year", 2027), ("month", 13), ("day", 1)]),
            ("2101-01-03, past the working calendar (1990-2100)", vec![("year", 2101), ("month", 1), ("day", 3)]),
            ("the year 10000", vec![("year", 10_000), ("month", 1), ("day", 1)]),
            ("the year -1", vec![("year", -1), ("month", 1), ("day", 1)]),
            ("yesterday", {
                let d = Utc::now().date_naive() - TimeDelta::days(1);
                vec![("year", d.year().into()), ("month", d.month().into()), ("day", d.day().into())]
            }),
        ],
        _ => Vec::new(),
    };
    ints.into_iter()
        .map(|(label, fields)| {
            let mut message = DynamicMessage::new(desc.clone());
            for (name, value) in fields {
                let field = desc.get_field_by_name(name).unwrap();
                message.set_field(&field, number_value(&field.kind(), value.into(), 0.0));
            }
            (label.to_owned(), message)
        })
        .collect()
}

/// The value corpus of one method: every field path, each hostile value of its type, on the
/// plausible request (every value) and on the empty one (a sample).
fn field_specs(method: &MethodDescriptor, ctx: &Ctx, rng: &mut Rng) -> Vec<FieldSpec> {
    let input = method.input();
    let mut paths = Vec::new();
    field_paths(&input, &[], &mut paths);
    let mut specs = vec![
        FieldSpec { path: Vec::new(), mutation: Mutation::Clear, on_plausible: false, label: "empty message".into() },
        FieldSpec {
            path: Vec::new(),
            mutation: Mutation::Clear,
            on_plausible: true,
            label: "plausible request".into(),
        },
    ];
    for path in paths {
        let field = path.last().unwrap().clone();
        let name = path_name(&path);
        for on_plausible in [true, false] {
            let base = if on_plausible { "plausible" } else { "empty" };
            let mutations = if field.is_list() {
                let mut out = vec![
                    ("0 items".to_owned(), Mutation::Set(Value::List(Vec::new()))),
                    ("1 item".to_owned(), Mutation::Plausible(1)),
                    (format!("{MANY} items"), Mutation::Plausible(MANY)),
                ];
                if on_plausible {
                    for (label, mutation) in hostile_values(&field, ctx, false, rng) {
                        if let Mutation::Set(value) = mutation {
                            out.push((format!("[{label}]"), Mutation::Set(Value::List(vec![value]))));
                        }
                    }
                    if field.kind() == Kind::String {
                        let distinct =
                            (0..MANY).map(|i| Value::String(format!("00000000-0000-4000-8000-{i:012}"))).collect();
                        out.push((format!("{MANY} distinct ids of nothing"), Mutation::Set(Value::List(distinct))));
                    }
                }
                out
            } else {
                hostile_values(&field, ctx, on_plausible, rng)
            };
            for (label, mutation) in mutations {
                specs.push(FieldSpec {
                    path: path.clone(),
                    mutation,
                    on_plausible,
                    label: format!("{base}, {name} = {label}"),
                });
            }
        }
    }
    specs
}

/// Sets `path` of `message` (creating the messages on the way; lists: their first item).
fn apply(message: &mut DynamicMessage, path: &[FieldDescriptor], mutation: &Mutation, ctx: &mut Ctx) {
    let (field, rest) = path.split_first().unwrap();
    if rest.is_empty() {
        match mutation {
            Mutation::Clear => message.clear_field(field),
            Mutation::Set(value) => message.set_field(field, value.clone()),
            Mutation::Plausible(n) => {
                let items: Vec<Value> = (0..*n).filter_map(|_| plausible_value(field, ctx, 1)).collect();
                message.set_field(field, Value::List(items));
            }
        }
        return;
    }
    let Kind::Message(child) = field.kind() else { unreachable!("a path goes through messages") };
    let slot = message.get_field_mut(field);
    let child_message = match slot {
        Value::List(items) => {
            if items.is_empty() {
                items.push(Value::Message(DynamicMessage::new(child)));
            }
            &mut items[0]
        }
        other => other,
    };
    let Value::Message(inner) = child_message else { unreachable!("a message field holds a message") };
    apply(inner, rest, mutation, ctx);
}

/// Which member of the request's oneof a path starts in (0 when none).
fn oneof_choice(path: &[FieldDescriptor]) -> usize {
    path.first()
        .and_then(|f| {
            let oneof = f.containing_oneof().filter(|o| !o.is_synthetic())?;
            oneof.fields().position(|m| m.number() == f.number())
        })
        .unwrap_or(0)
}

/// How many members the request's (first, real) oneof has.
fn oneof_members(desc: &MessageDescriptor) -> usize {
    desc.oneofs().find(|o| !o.is_synthetic()).map_or(1, |o| o.fields().len())
}

/// Raw bytes the decoder cannot parse, per method.
fn garbage_cases(method: &MethodDescriptor, ctx: &mut Ctx, rng: &mut Rng) -> Vec<RawCase> {
    let input = method.input();
    let valid = plausible(&input, ctx, 0, 0).encode_to_vec();
    let mut cases = vec![
        RawCase::new("64 random bytes", Class::Garbage, vec![frame(&rng.bytes(64))]),
        RawCase::new("4 KiB of random bytes", Class::Garbage, vec![frame(&rng.bytes(4096))]),
    ];
    if valid.len() >= 2 {
        cases.push(RawCase::new(
            "a plausible request cut in half",
            Class::Garbage,
            vec![frame(&valid[..valid.len() / 2])],
        ));
        cases.push(RawCase::new(
            "a plausible request without its last byte",
            Class::Garbage,
            vec![frame(&valid[..valid.len() - 1])],
        ));
    }
    let mut lying = Vec::new();
    tag(1, 2, &mut lying);
    varint(0x7fff_ffff, &mut lying);
    lying.extend_from_slice(b"abc");
    cases.push(RawCase::new("a field whose length prefix claims 2 GiB", Class::Garbage, vec![frame(&lying)]));
    if let Some(first) = input.fields().next() {
        let length_delimited = matches!(first.kind(), Kind::String | Kind::Bytes | Kind::Message(_)) || first.is_list();
        let mut wrong = Vec::new();
        if length_delimited {
            tag(first.number(), 5, &mut wrong);
            wrong.extend_from_slice(&[1, 2, 3, 4]);
        } else {
            tag(first.number(), 2, &mut wrong);
            varint(3, &mut wrong);
            wrong.extend_from_slice(b"abc");
        }
        cases.push(RawCase::new("the first field with the wrong wire type", Class::Garbage, vec![frame(&wrong)]));
    }
    if let Some(string) = input.fields().find(|f| f.kind() == Kind::String) {
        let mut bad = Vec::new();
        tag(string.number(), 2, &mut bad);
        varint(3, &mut bad);
        bad.extend_from_slice(&[0xff, 0xfe, 0xc0]);
        cases.push(RawCase::new("invalid UTF-8 in a string field", Class::Garbage, vec![frame(&bad)]));
    }
    let mut groups = Vec::new();
    for _ in 0..1000 {
        tag(2047, 3, &mut groups);
    }
    cases.push(RawCase::new("1000 nested groups", Class::Garbage, vec![frame(&groups)]));
    let mut long_varint = Vec::new();
    tag(2000, 0, &mut long_varint);
    long_varint.extend_from_slice(&[0xff; 11]);
    cases.push(RawCase::new("a varint of 11 bytes", Class::Garbage, vec![frame(&long_varint)]));
    cases.push(RawCase::new("field number 0", Class::Garbage, vec![frame(&[0, 0])]));
    let mut end_group = Vec::new();
    tag(2001, 4, &mut end_group);
    cases.push(RawCase::new("an end-group without a start", Class::Garbage, vec![frame(&end_group)]));
    cases.push(RawCase::new(
        "a frame header claiming more than is sent",
        Class::Garbage,
        vec![frame_with(0, 100, &valid[..valid.len().min(10)])],
    ));
    cases.push(RawCase::new("a frame header and no body", Class::Garbage, vec![frame_with(0, 50, &[])]));
    cases.push(RawCase::new("3 bytes of a frame header", Class::Garbage, vec![vec![0, 0, 0]]));
    cases.push(RawCase::new("a frame claiming 4 GiB", Class::Garbage, vec![frame_with(0, u32::MAX, &[0; 10])]));
    let len = u32::try_from(valid.len()).unwrap();
    cases.push(RawCase::new(
        "the compressed flag without grpc-encoding",
        Class::Garbage,
        vec![frame_with(1, len, &valid)],
    ));
    cases.push(RawCase::new("compression flag 7", Class::Garbage, vec![frame_with(7, len, &valid)]));
    cases.push(
        RawCase::new("gzip announced, garbage inside", Class::Garbage, vec![frame_with(1, 32, &rng.bytes(32))])
            .with_header("grpc-encoding", "gzip"),
    );
    cases.push(
        RawCase::new("an unknown grpc-encoding", Class::Garbage, vec![frame_with(1, len, &valid)])
            .with_header("grpc-encoding", "br0tli"),
    );
    if !method.is_client_streaming() {
        cases.push(RawCase::new("no message at all", Class::Garbage, Vec::new()));
        cases.push(RawCase::new("two messages for a unary call", Class::Garbage, vec![frame(&valid), frame(&valid)]));
    }
    cases.push(RawCase::new("a message and a torn frame after it", Class::Garbage, vec![frame(&valid), vec![0, 0, 0]]));
    cases.push(
        RawCase::new("content-type text/plain", Class::Garbage, vec![frame(&valid)])
            .with_header("content-type", "text/plain"),
    );
    cases.push(
        RawCase::new(
            "a grpc-timeout of garbage",
            Class::Normal,
            vec![frame(&plausible(&input, ctx, 0, 0).encode_to_vec())],
        )
        .with_header("grpc-timeout", "soon"),
    );
    let mut unknown = plausible(&input, ctx, 0, 0).encode_to_vec();
    for (number, wire_type) in [(1000, 0), (1001, 1), (1002, 2), (1003, 5)] {
        tag(number, wire_type, &mut unknown);
        match wire_type {
            0 => varint(u64::MAX, &mut unknown),
            1 => unknown.extend_from_slice(&[0xff; 8]),
            2 => {
                varint(4, &mut unknown);
                unknown.extend_from_slice(b"\0\xff\0\xff");
            }
            _ => unknown.extend_from_slice(&[0xff; 4]),
        }
    }
    cases.push(RawCase::new("a plausible request with unknown fields", Class::Normal, vec![frame(&unknown)]));
    cases
}

/// Whole streams for a client-streaming method: empty, header missing or twice, a message with
/// no part, many parts, garbage in the middle.
fn stream_cases(method: &MethodDescriptor, ctx: &mut Ctx, rng: &mut Rng) -> Vec<RawCase> {
    let input = method.input();
    let members = oneof_members(&input);
    let part = |k: usize, ctx: &mut Ctx| frame(&plausible(&input, ctx, 0, k).encode_to_vec());
    let first = part(0, ctx);
    let second = part(1 % members, ctx);
    let nothing = frame(&DynamicMessage::new(input.clone()).encode_to_vec());
    let mut many = vec![first.clone()];
    many.extend(std::iter::repeat_n(second.clone(), MANY));
    vec![
        RawCase::new("an empty stream", Class::Normal, Vec::new()),
        RawCase::new("only the first part (header)", Class::Normal, vec![first.clone()]),
        RawCase::new("header then chunk (a valid upload)", Class::Normal, vec![first.clone(), second.clone()]),
        RawCase::new("the second part (chunk) first", Class::Normal, vec![second.clone(), first.clone()]),
        RawCase::new("only the second part (chunk)", Class::Normal, vec![second.clone()]),
        RawCase::new("the header twice", Class::Normal, vec![first.clone(), first.clone(), second.clone()]),
        RawCase::new("header then a message with no part", Class::Normal, vec![first.clone(), nothing.clone()]),
        RawCase::new("only a message with no part", Class::Normal, vec![nothing]),
        RawCase::new("header then 10 000 chunks", Class::Normal, many),
        RawCase::new(
            "header, chunk, then garbage",
            Class::Garbage,
            vec![first.clone(), second.clone(), frame(&rng.bytes(32))],
        ),
        RawCase::new(
            "header, then a torn frame",
            Class::Garbage,
            vec![first.clone(), frame_with(0, 100, &[1, 2, 3, 4, 5])],
        ),
        RawCase::new(
            "header, then a frame claiming 4 GiB",
            Class::Garbage,
            vec![first, frame_with(0, u32::MAX, &[0; 8])],
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// Credentials.

#[derive(Clone)]
struct Auth {
    label: String,
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
}

impl Auth {
    fn raw(label: &str, values: &[&[u8]]) -> Auth {
        let headers = values
            .iter()
            .map(|v| (http::header::AUTHORIZATION, http::HeaderValue::from_bytes(v).expect("a header value")))
            .collect();
        Auth { label: label.to_owned(), headers }
    }

    fn bearer(label: &str, token: &str) -> Auth {
        Auth::raw(label, &[format!("Bearer {token}").as_bytes()])
    }
}

/// A token of every role, and broken credentials.
struct Auths {
    roles: Vec<Auth>,
    broken: Vec<Auth>,
    /// When the short-lived token was minted.
    minted: Instant,
}

impl Auths {
    fn new(tokens: &Tokens, auth: &paht_platform::auth::AuthConfig, instance: &str) -> Auths {
        let roles = [
            ("ioc_operator", Role::IocOperator, instance),
            ("officer of SO-XD-86", Role::Officer, "SO-XD-86"),
            ("leader of SO-XD-86", Role::Leader, "SO-XD-86"),
            ("provincial_office", Role::ProvincialOffice, "VP-UBND-86"),
            ("system_operator", Role::SystemOperator, instance),
            ("system", Role::System, instance),
            ("inspector", Role::Inspector, "SO-NV-86"),
            ("reporter", Role::Reporter, instance),
        ]
        .into_iter()
        .map(|(label, role, unit)| Auth::bearer(label, &tokens.mint(&format!("robust-{label}"), role, unit)))
        .collect();
        let operator = tokens.mint("robust-operator", Role::IocOperator, instance);
        let mut tampered = operator.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        let issuer = paht_platform::auth::TokenIssuer::new(auth).unwrap();
        let short = issuer
            .mint(
                "robust-short",
                Role::IocOperator,
                &paht_domain::ids::UnitId::new(instance),
                instance,
                Some(Duration::from_secs(1)),
            )
            .unwrap();
        let minted = Instant::now();
        let strange = tokens.mint("\u{0}\u{202e}robust\r\n", Role::IocOperator, "IOC-86' OR 1=1 --");
        let broken = vec![
            Auth { label: "no token".into(), headers: Vec::new() },
            Auth::raw("\"Bearer\" alone", &[b"Bearer"]),
            Auth::raw("\"Bearer\" and blanks", &[b"Bearer    "]),
            Auth::raw("Basic credentials", &[b"Basic dXNlcjpwYXNz"]),
            Auth::raw("a lower-case scheme", &[format!("bearer {operator}").as_bytes()]),
            Auth::bearer("not a JWT", "garbage"),
            Auth::bearer("a JWT of garbage", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"),
            Auth::bearer("alg none", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4Iiwicm9sZSI6InN5c3RlbSJ9."),
            Auth::bearer("a tampered signature", &tampered),
            Auth::bearer(
                "a token of another instance",
                &tokens.mint_for_instance("IOC-99", "robust-other", Role::IocOperator, "IOC-99"),
            ),
            Auth::bearer(
                "a token of another key",
                &Tokens::ephemeral(instance).mint("robust-x", Role::System, instance),
            ),
            Auth::bearer("an expired token", &short),
            Auth::bearer("a 6 KiB token", &"A".repeat(6 * 1024)),
            Auth::raw("non-ASCII bytes", &[b"Bearer \x80\xff\xfe"]),
            Auth::raw("two authorization headers", &[format!("Bearer {operator}").as_bytes(), b"Bearer garbage"]),
            Auth::bearer("hostile subject and unit claims", &strange),
        ];
        Auths { roles, broken, minted }
    }
}

// ---------------------------------------------------------------------------------------------
// One call, byte for byte.

/// What came back, as the wire carried it.
struct Answer {
    code: Option<Code>,
    message: String,
    /// Bytes of `grpc-message` plus `grpc-status-details-bin` on the wire.
    metadata_len: usize,
    /// The response messages (without their frame headers).
    messages: Vec<Vec<u8>>,
    /// A transport or protocol failure instead of a gRPC status.
    failure: Option<String>,
}

async fn call(
    channel: &Channel,
    path: &str,
    auth: &Auth,
    extra: &[(http::HeaderName, http::HeaderValue)],
    body: Vec<u8>,
) -> Answer {
    let mut request = http::Request::builder()
        .method(http::Method::POST)
        .uri(path)
        .body(tonic::body::Body::new(axum::body::Body::from(body)))
        .unwrap();
    let headers = request.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/grpc"));
    headers.insert(http::header::TE, http::HeaderValue::from_static("trailers"));
    for (name, value) in &auth.headers {
        headers.append(name.clone(), value.clone());
    }
    for (name, value) in extra {
        headers.insert(name.clone(), value.clone());
    }
    let mut service = channel.clone();
    let exchange = async move {
        std::future::poll_fn(|cx| service.poll_ready(cx)).await.map_err(|e| format!("channel not ready: {e}"))?;
        let response = service.call(request).await.map_err(|e| format!("transport error: {e:?}"))?;
        Ok::<Answer, String>(read_answer(response).await)
    };
    let failed = |failure: String| Answer {
        code: None,
        message: String::new(),
        metadata_len: 0,
        messages: Vec::new(),
        failure: Some(failure),
    };
    match tokio::time::timeout(CALL_TIMEOUT, exchange).await {
        Err(_) => failed(format!("no answer within {} s", CALL_TIMEOUT.as_secs())),
        Ok(Err(e)) => failed(e),
        Ok(Ok(answer)) => answer,
    }
}

async fn read_answer(response: http::Response<tonic::body::Body>) -> Answer {
    let (parts, mut body) = response.into_parts();
    let mut data = Vec::new();
    let mut trailers = None;
    let mut failure = None;
    if parts.status != http::StatusCode::OK {
        failure = Some(format!("HTTP status {}", parts.status));
    }
    if !parts.headers.contains_key("grpc-status") {
        loop {
            match std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
                None => break,
                Some(Err(status)) => {
                    failure = Some(format!("the response body failed: {status:?}"));
                    break;
                }
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(bytes) => data.extend_from_slice(&bytes),
                    Err(frame) => {
                        if let Ok(map) = frame.into_trailers() {
                            trailers = Some(map);
                        }
                    }
                },
            }
        }
    }
    let map = trailers.as_ref().unwrap_or(&parts.headers);
    let metadata_len =
        ["grpc-message", "grpc-status-details-bin"].iter().map(|h| map.get(*h).map_or(0, |v| v.len())).sum();
    let status = tonic::Status::from_header_map(map);
    if status.is_none() && failure.is_none() {
        failure = Some("no grpc-status".into());
    }
    let mut messages = Vec::new();
    let mut rest = &data[..];
    while rest.len() >= 5 {
        let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        if rest.len() < 5 + len {
            break;
        }
        messages.push(rest[5..5 + len].to_vec());
        rest = &rest[5 + len..];
    }
    if !rest.is_empty() && failure.is_none() {
        failure = Some(format!("{} bytes of a torn response frame", rest.len()));
    }
    Answer {
        code: status.as_ref().map(tonic::Status::code),
        message: status.as_ref().map(|s| s.message().to_owned()).unwrap_or_default(),
        metadata_len,
        messages,
        failure,
    }
}

fn code_name(code: Option<Code>) -> &'static str {
    code.map_or("(no status)", paht_platform::error::code_name)
}

fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &text[..end], text.len())
}

/// What is wrong with an answer, if anything.
fn judge(method: &MethodDescriptor, class: Class, hosted: bool, answer: &Answer) -> Option<String> {
    if let Some(failure) = &answer.failure {
        return Some(format!("no deliberate gRPC status: {failure}"));
    }
    if answer.metadata_len >= MAX_ERROR_METADATA {
        return Some(format!("grpc-message and grpc-status-details-bin take {} bytes", answer.metadata_len));
    }
    let code = answer.code?;
    match code {
        Code::Unknown => Some("UNKNOWN status".into()),
        Code::Internal if class == Class::Garbage && DECODER_MESSAGES.iter().any(|m| answer.message.starts_with(m)) => {
            None
        }
        Code::Internal => Some("INTERNAL status".into()),
        _ if class == Class::Oversized && hosted && code != Code::ResourceExhausted => {
            Some("a request over the limit is not RESOURCE_EXHAUSTED".into())
        }
        Code::Ok => {
            let output = method.output();
            let decodes = answer.messages.iter().all(|m| DynamicMessage::decode(output.clone(), m.as_slice()).is_ok());
            let count_ok = method.is_server_streaming() || answer.messages.len() == 1;
            (!decodes || !count_ok)
                .then(|| format!("OK with {} undecodable or missing response messages", answer.messages.len()))
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// State: every row of every table of every SQLite file, and the other files of the data directory.

/// One SQLite file, read through one connection of its own (read-only).
struct Store {
    name: String,
    conn: DatabaseConnection,
}

struct Stores {
    data: PathBuf,
    stores: Vec<Store>,
}

/// A fingerprint of the state.
#[derive(Default, Clone, PartialEq, Eq)]
struct Snapshot {
    /// `PRAGMA data_version` per store: changes when another connection commits.
    versions: Vec<i64>,
    /// Row hashes by `file/table` and row key.
    rows: BTreeMap<String, BTreeMap<i64, u64>>,
    /// Other files of the data directory (blobs, keys) and their sizes.
    files: BTreeMap<String, u64>,
}

impl Stores {
    async fn open(data: &Path) -> Stores {
        let mut stores = Vec::new();
        let mut names: Vec<String> = std::fs::read_dir(data)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".db"))
            .collect();
        names.sort();
        assert!(names.iter().any(|n| n == "intake.db"), "the data directory holds {names:?}");
        for name in names {
            let url = format!("sqlite://{}?mode=ro", data.join(&name).display());
            let mut options = ConnectOptions::new(url);
            // One connection for good: `PRAGMA data_version` is per connection.
            options.max_connections(1).min_connections(1).idle_timeout(None).max_lifetime(None).sqlx_logging(false);
            let conn = sea_orm::Database::connect(options).await.unwrap();
            stores.push(Store { name, conn });
        }
        Stores { data: data.to_owned(), stores }
    }

    async fn versions(&self) -> Vec<i64> {
        let mut out = Vec::new();
        for store in &self.stores {
            let row = store.conn.query_one_raw(sql("PRAGMA data_version")).await.unwrap().unwrap();
            out.push(row.try_get_by_index::<i64>(0).unwrap());
        }
        out
    }

    /// Events committed but not yet handed to the bus.
    async fn pending(&self) -> i64 {
        let mut pending = 0;
        for store in &self.stores {
            let has = store
                .conn
                .query_one_raw(sql("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'outbox'"))
                .await
                .unwrap()
                .unwrap();
            if has.try_get_by_index::<i64>(0).unwrap() > 0 {
                let row = store
                    .conn
                    .query_one_raw(sql("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL"))
                    .await
                    .unwrap()
                    .unwrap();
                pending += row.try_get_by_index::<i64>(0).unwrap();
            }
        }
        pending
    }

    async fn tables(store: &Store) -> Vec<(String, Vec<String>)> {
        let rows = store
            .conn
            .query_all_raw(sql("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"))
            .await
            .unwrap();
        let mut out = Vec::new();
        for row in rows {
            let table: String = row.try_get_by_index(0).unwrap();
            let columns = store
                .conn
                .query_all_raw(sql(&format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid")))
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.try_get_by_index::<String>(0).unwrap())
                .collect();
            out.push((table, columns));
        }
        out
    }

    /// Every row of `table`, keyed by rowid, as SQLite quotes its values.
    async fn rows(store: &Store, table: &str, columns: &[String]) -> Vec<(i64, String)> {
        let values = columns.iter().map(|c| format!("quote(\"{c}\")")).collect::<Vec<_>>().join(" || '|' || ");
        let by_rowid = format!("SELECT rowid, {values} FROM \"{table}\" ORDER BY rowid");
        match store.conn.query_all_raw(sql(&by_rowid)).await {
            Ok(rows) => {
                rows.into_iter().map(|r| (r.try_get_by_index(0).unwrap(), r.try_get_by_index(1).unwrap())).collect()
            }
            // A table without rowid: its rows in value order, keyed by position.
            Err(_) => store
                .conn
                .query_all_raw(sql(&format!("SELECT {values} FROM \"{table}\" ORDER BY 1")))
                .await
                .unwrap()
                .into_iter()
                .enumerate()
                .map(|(i, r)| (i as i64, r.try_get_by_index(0).unwrap()))
                .collect(),
        }
    }

    async fn snapshot(&self) -> Snapshot {
        let versions = self.versions().await;
        let mut rows = BTreeMap::new();
        for store in &self.stores {
            for (table, columns) in Stores::tables(store).await {
                let hashed = Stores::rows(store, &table, &columns)
                    .await
                    .into_iter()
                    .map(|(key, value)| {
                        let mut hasher = DefaultHasher::new();
                        value.hash(&mut hasher);
                        (key, hasher.finish())
                    })
                    .collect();
                rows.insert(format!("{}/{table}", store.name), hashed);
            }
        }
        Snapshot { versions, rows, files: self.files() }
    }

    /// The data directory's files other than the SQLite files (blobs, keys), with their sizes.
    fn files(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        let mut todo = vec![self.data.clone()];
        while let Some(dir) = todo.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                let path = entry.path();
                let name = path.strip_prefix(&self.data).unwrap().display().to_string();
                let sqlite = [".db", ".db-wal", ".db-shm", ".db-journal"].iter().any(|s| name.ends_with(s));
                match entry.metadata() {
                    Ok(m) if m.is_dir() => todo.push(path),
                    Ok(m) if !sqlite => {
                        out.insert(name, m.len());
                    }
                    _ => {}
                }
            }
        }
        out
    }

    /// What differs between two snapshots, with a few of the rows as they are now.
    async fn describe(&self, before: &Snapshot, after: &Snapshot) -> Option<String> {
        let mut out = Vec::new();
        let empty = BTreeMap::new();
        let tables: std::collections::BTreeSet<&String> = before.rows.keys().chain(after.rows.keys()).collect();
        for table in tables {
            let old = before.rows.get(table).unwrap_or(&empty);
            let new = after.rows.get(table).unwrap_or(&empty);
            if old == new {
                continue;
            }
            let added: Vec<i64> = new.keys().filter(|k| !old.contains_key(k)).copied().collect();
            let removed: Vec<i64> = old.keys().filter(|k| !new.contains_key(k)).copied().collect();
            let changed: Vec<i64> =
                new.iter().filter(|(k, v)| old.get(k).is_some_and(|o| o != *v)).map(|(k, _)| *k).collect();
            let mut text =
                format!("{table}: {} added, {} removed, {} changed", added.len(), removed.len(), changed.len());
            if let Some((file, name)) = table.split_once('/')
                && let Some(store) = self.stores.iter().find(|s| s.name == file)
            {
                let columns = Stores::tables(store).await.into_iter().find(|(t, _)| t == name).map(|(_, c)| c);
                if let Some(columns) = columns {
                    let now = Stores::rows(store, name, &columns).await;
                    for key in added.iter().chain(&changed).take(3) {
                        if let Some((_, row)) = now.iter().find(|(k, _)| k == key) {
                            let _ = write!(text, "; row {key}: {}", cut(row, 240));
                        }
                    }
                }
            }
            out.push(text);
        }
        if before.files != after.files {
            let changed: Vec<&String> = after
                .files
                .iter()
                .filter(|(k, v)| before.files.get(*k) != Some(v))
                .map(|(k, _)| k)
                .chain(before.files.keys().filter(|k| !after.files.contains_key(*k)))
                .collect();
            out.push(format!("files: {changed:?}"));
        }
        (!out.is_empty()).then(|| out.join("; "))
    }

    async fn ids(&self, file: &str, query: &str) -> Vec<Vec<String>> {
        let Some(store) = self.stores.iter().find(|s| s.name == file) else { return Vec::new() };
        store
            .conn
            .query_all_raw(sql(query))
            .await
            .unwrap()
            .into_iter()
            .map(|r| {
                // Ids are UUIDs stored as 16-byte blobs, codes are text.
                (0..2)
                    .filter_map(|i| {
                        r.try_get_by_index::<uuid::Uuid>(i)
                            .map(|u| u.to_string())
                            .or_else(|_| r.try_get_by_index::<String>(i))
                            .ok()
                    })
                    .collect()
            })
            .collect()
    }
}

fn sql(text: &str) -> Statement {
    Statement::from_string(DbBackend::Sqlite, text.to_owned())
}

// ---------------------------------------------------------------------------------------------
// The run: sends, judges, and checks that refusals change nothing.

#[derive(Default)]
struct Tally {
    tried: usize,
    refusals: usize,
    by_code: BTreeMap<&'static str, usize>,
    /// INTERNAL answers of tonic's own decoder to garbage, by message.
    decoder: BTreeMap<&'static str, usize>,
}

struct Unclean {
    method: String,
    case: String,
    auth: String,
    code: &'static str,
    message: String,
    problem: String,
}

struct Run {
    channel: Channel,
    stores: Stores,
    hosted: Vec<String>,
    /// `PAHT_ROBUST_TRACE=1`: print every request and its answer.
    trace: bool,
    baseline: Snapshot,
    ctx: Ctx,
    rng: Rng,
    tally: Tally,
    unclean: Vec<Unclean>,
    /// Cases answered OK, by method.
    accepted: BTreeMap<String, Vec<String>>,
    notes: Vec<String>,
}

impl Run {
    /// Sends one request, judges the answer, and after a refusal checks that nothing changed.
    async fn send(
        &mut self,
        method: &MethodDescriptor,
        label: &str,
        auth: &Auth,
        class: Class,
        frames: Vec<Vec<u8>>,
        headers: &[(http::HeaderName, http::HeaderValue)],
    ) -> Option<Code> {
        let path = format!("/{}/{}", method.parent_service().full_name(), method.name());
        let sent = Instant::now();
        let answer = call(&self.channel, &path, auth, headers, frames.concat()).await;
        let took = sent.elapsed();
        self.tally.tried += 1;
        *self.tally.by_code.entry(code_name(answer.code)).or_default() += 1;
        if self.trace {
            println!(
                "{} | {label} | {} | {} {:?}{} | {} ms",
                method.full_name(),
                auth.label,
                code_name(answer.code),
                cut(&answer.message, 160),
                answer.failure.as_deref().map(|f| format!(" | {f}")).unwrap_or_default(),
                took.as_millis()
            );
        }
        let hosted = self.hosted.iter().any(|h| h == method.parent_service().full_name());
        let unclean = |problem: String, answer: &Answer| Unclean {
            method: method.full_name().to_owned(),
            case: label.to_owned(),
            auth: auth.label.clone(),
            code: code_name(answer.code),
            message: answer.message.clone(),
            problem,
        };
        if answer.code == Some(Code::Internal)
            && class == Class::Garbage
            && let Some(own) = DECODER_MESSAGES.iter().find(|m| answer.message.starts_with(**m))
        {
            *self.tally.decoder.entry(own).or_default() += 1;
        }
        if let Some(problem) = judge(method, class, hosted, &answer) {
            self.unclean.push(unclean(problem, &answer));
        }
        if answer.code == Some(Code::Ok) {
            self.accepted.entry(method.full_name().to_owned()).or_default().push(format!("{label} ({})", auth.label));
            self.settle().await;
        } else {
            self.tally.refusals += 1;
            if let Some(change) = self.changed().await {
                self.unclean.push(unclean(format!("state changed after the refusal: {change}"), &answer));
                self.settle().await;
            }
        }
        answer.code
    }

    /// Whether anything changed since the baseline (and if so, the new baseline).
    async fn changed(&mut self) -> Option<String> {
        let versions = self.stores.versions().await;
        if versions == self.baseline.versions && self.stores.files() == self.baseline.files {
            return None;
        }
        let now = self.stores.snapshot().await;
        let change = self.stores.describe(&self.baseline, &now).await;
        self.baseline = now;
        change
    }

    /// Waits until what an accepted request set off has settled — every outbox empty, no commit
    /// for a while — then takes the new baseline and the ids that now exist.
    async fn settle(&mut self) {
        // Nothing committed (a read): nothing can follow from it.
        if self.stores.versions().await == self.baseline.versions && self.stores.pending().await == 0 {
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut last = self.stores.versions().await;
        let mut quiet = 0;
        while quiet < 3 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let versions = self.stores.versions().await;
            if versions == last && self.stores.pending().await == 0 {
                quiet += 1;
            } else {
                quiet = 0;
                last = versions;
            }
            if Instant::now() > deadline {
                self.notes.push("the system did not settle within 60 s after an accepted request".into());
                break;
            }
        }
        if last != self.baseline.versions || self.stores.files() != self.baseline.files {
            self.baseline = self.stores.snapshot().await;
            self.refresh_pools().await;
        }
    }

    async fn refresh_pools(&mut self) {
        let reports = self.stores.ids("intake.db", "SELECT id, tracking_code FROM reports ORDER BY rowid").await;
        self.ctx.reports = reports.iter().filter_map(|r| r.first().cloned()).collect();
        self.ctx.codes = reports.iter().filter_map(|r| r.get(1).cloned()).collect();
        let assignments =
            self.stores.ids("processing.db", "SELECT assignment_id FROM assignments ORDER BY rowid").await;
        self.ctx.assignments = assignments.iter().filter_map(|r| r.first().cloned()).collect();
        let ours = format!(
            "SELECT assignment_id, report_id FROM assignments WHERE agency_unit_id = '{OUR_AGENCY}' ORDER BY rowid"
        );
        self.ctx.ours = self
            .stores
            .ids("processing.db", &ours)
            .await
            .into_iter()
            .filter(|r| r.len() == 2)
            .map(|r| (r[0].clone(), r[1].clone()))
            .collect();
    }

    /// The frames of one field case: the changed request (for a client stream, with the other
    /// part of the upload before or after it).
    fn materialize(&mut self, method: &MethodDescriptor, spec: &FieldSpec) -> Vec<Vec<u8>> {
        let input = method.input();
        let choice = oneof_choice(&spec.path);
        let mut message = if spec.on_plausible {
            plausible(&input, &mut self.ctx, 0, choice)
        } else {
            DynamicMessage::new(input.clone())
        };
        if !spec.path.is_empty() {
            apply(&mut message, &spec.path, &spec.mutation, &mut self.ctx);
        }
        let changed = frame(&message.encode_to_vec());
        let members = oneof_members(&input);
        if !method.is_client_streaming() || !spec.on_plausible || members < 2 {
            return vec![changed];
        }
        if choice == 0 {
            vec![changed, frame(&plausible(&input, &mut self.ctx, 0, 1).encode_to_vec())]
        } else {
            vec![frame(&plausible(&input, &mut self.ctx, 0, 0).encode_to_vec()), changed]
        }
    }

    async fn check_health(&mut self, after: &str) {
        let mut health = HealthClient::new(self.channel.clone());
        let status = health.check(HealthCheckRequest { service: String::new() }).await;
        if status.as_ref().map(|r| r.get_ref().status).ok() != Some(tonic_health::ServingStatus::Serving as i32) {
            self.unclean.push(Unclean {
                method: "grpc.health.v1.Health/Check".into(),
                case: format!("after {after}"),
                auth: "none".into(),
                code: "(health)",
                message: format!("{status:?}"),
                problem: "the server is not healthy".into(),
            });
        }
    }
}
