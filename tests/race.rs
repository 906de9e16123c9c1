//! Owners deciding at the same moment, in suite mode: intake, routing and processing each
//! as its own `paht serve` process against this machine's Postgres, RabbitMQ and Redis.
//! On many reports at once, routing dispatches a further agency (or escalates) while
//! processing approves the last result; once the bus has delivered every fact, every
//! service's view of every report agrees (`paht replicas check`, as a library).

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use paht::ops::replicas;
use paht_domain::actor::Role;
use paht_proto::v1;
use paht_proto::v1::processing_service_client::ProcessingServiceClient;
use paht_proto::v1::routing_service_client::RoutingServiceClient;
use tokio::sync::Barrier;
use tokio_util::sync::CancellationToken;
use tonic::{Code, Status};

/// Reports raced: half re-dispatch-while-approving, half escalate-while-approving.
const REPORTS: usize = 40;
const LEAD: &str = "SO-XD-86"; // Sở Xây dựng
const CO: &str = "UBND-29551"; // phường Long Châu, which returns its share
const MORE: &str = "CTN-VINHLONG"; // the water company, the further agency

/// Whether a raced call won (Ok) or was refused because the other decision came first.
fn won(what: &str, result: Result<(), Status>) -> bool {
    match result {
        Ok(()) => true,
        Err(status) if status.code() == Code::FailedPrecondition => false,
        Err(status) => panic!("{what}: {status:?}"),
    }
}

#[derive(Clone)]
struct Tokens {
    channel: String,
    operator: String,
    officer: String,
    leader: String,
    co_officer: String,
}

#[derive(Clone)]
struct Clients {
    intake: v1::intake_service_client::IntakeServiceClient<tonic::transport::Channel>,
    routing: RoutingServiceClient<tonic::transport::Channel>,
    processing: ProcessingServiceClient<tonic::transport::Channel>,
}

/// Submits, accepts, dispatches and submits the lead agency's result; waits at the barrier;
/// then races the approval of that last result against routing's decision:
///
/// - `escalate` false: the report went to the lead and a co-handler, the co-handler returned
///   its share, and routing (having folded the return) re-dispatches it to a further agency
///   while processing approves the lead's result;
/// - `escalate` true: the lead alone, and routing escalates while the approval is in flight.
///
/// Returns (report id, escalate, approval won, routing's decision won).
async fn one(n: usize, c: Clients, t: Tokens, start: Arc<Barrier>, escalate: bool) -> (String, bool, bool, bool) {
    let mut targets = vec![v1::DispatchTarget { agency_unit_id: LEAD.into(), lead: true }];
    if !escalate {
        targets.push(v1::DispatchTarget { agency_unit_id: CO.into(), lead: false });
    }
    let mut intake = c.intake.clone();
    let receipt =
        intake.submit_report(authed(&t.channel, submission(&format!("race-{n}")))).await.unwrap().into_inner();
    let report_id = receipt.report_id;
    let accept = v1::AcceptReportRequest { report_id: report_id.clone(), category_id: "ha-tang".into() };
    intake.accept_report(authed(&t.operator, accept)).await.unwrap();
    let dispatched = eventually_every(50, "dispatch", || {
        let req = v1::DispatchRequest { report_id: report_id.clone(), targets: targets.clone(), note: String::new() };
        let mut routing = c.routing.clone();
        let token = t.operator.clone();
        async move { routing.dispatch(authed(&token, req)).await }
    })
    .await
    .into_inner();
    let share = |agency: &str| dispatched.assignments.iter().find(|a| a.agency_unit_id == agency).map(|a| a.id.clone());
    let assignment = share(LEAD).unwrap();
    let returned = share(CO);
    if let Some(returned) = &returned {
        eventually_every(50, "return", || {
            let req = v1::ReturnAssignmentRequest {
                assignment_id: returned.clone(),
                reason: "Không thuộc thẩm quyền".into(),
            };
            let mut processing = c.processing.clone();
            let token = t.co_officer.clone();
            async move { processing.return_assignment(authed(&token, req)).await }
        })
        .await;
    }
    eventually_every(50, "result", || {
        let req = v1::SubmitResultRequest {
            assignment_id: assignment.clone(),
            text: "Đã xử lý".into(),
            attachment_ids: vec![],
        };
        let mut processing = c.processing.clone();
        let token = t.officer.clone();
        async move { processing.submit_result(authed(&token, req)).await }
    })
    .await;
    if let Some(returned) = &returned {
        // Routing has folded the return once a re-dispatch naming no agency is refused for
        // that alone (before, it is refused as "not returned").
        eventually_every(50, "routing folds the return", || {
            let req = v1::RedispatchRequest {
                report_id: report_id.clone(),
                replaces_assignment_id: returned.clone(),
                targets: vec![],
                note: String::new(),
            };
            let mut routing = c.routing.clone();
            let token = t.operator.clone();
            async move {
                match routing.redispatch(authed(&token, req)).await {
                    Err(status) if status.code() == Code::InvalidArgument => Ok(()),
                    Ok(_) => panic!("a re-dispatch to no agency was accepted"),
                    Err(status) => Err(status),
                }
            }
        })
        .await;
    }

    start.wait().await;
    let mut processing = c.processing.clone();
    let approve = async {
        let req = v1::ApproveResultRequest { assignment_id: assignment.clone(), note: String::new() };
        processing.approve_result(authed(&t.leader, req)).await.map(|_| ())
    };
    let mut routing = c.routing.clone();
    let other = async {
        if escalate {
            let req = v1::EscalateRequest {
                report_id: report_id.clone(),
                reason: v1::EscalationReason::UnclearCompetence as i32,
                note: "Cần Văn phòng UBND tỉnh cho ý kiến".into(),
                duplicate_of: String::new(),
            };
            routing.escalate(authed(&t.operator, req)).await.map(|_| ())
        } else {
            let req = v1::RedispatchRequest {
                report_id: report_id.clone(),
                replaces_assignment_id: returned.clone().unwrap(),
                targets: vec![v1::DispatchTarget { agency_unit_id: MORE.into(), lead: false }],
                note: String::new(),
            };
            routing.redispatch(authed(&t.operator, req)).await.map(|_| ())
        }
    };
    let (approved, other) = tokio::join!(approve, other);
    let what = if escalate { "escalate" } else { "redispatch" };
    (report_id, escalate, won("approve", approved), won(what, other))
}

// Issue 9: concurrent owners' decisions on many reports converge in every service's view.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatching_or_escalating_while_approving_leaves_every_view_equal() {
    let began = Instant::now();
    let suite = Suite::new().await;
    let bus = suite.bus().await;
    let stop = CancellationToken::new();
    let observer = observe_all(&bus, "e2e-race-observer", &stop).await;
    let routing = suite.serve_services("routing", "routing", &[]);
    let intake = suite.serve_services("intake", "intake", &[("PAHT_PEERS__ROUTING", &routing.grpc)]);
    let processing = suite.serve_services("processing", "processing", &[]);
    // Publication folds every fact too; its views are compared with the others.
    let publication = suite.serve_services(
        "publication",
        "publication",
        &[("PAHT_PEERS__INTAKE", &intake.grpc), ("PAHT_PEERS__ROUTING", &routing.grpc)],
    );
    let c = Clients {
        intake: intake.client().await,
        routing: RoutingServiceClient::connect(routing.grpc.clone()).await.unwrap(),
        processing: ProcessingServiceClient::connect(processing.grpc.clone()).await.unwrap(),
    };
    let issuer = suite.issuer();
    let t = Tokens {
        channel: token(&issuer, Role::System, INSTANCE),
        operator: token(&issuer, Role::IocOperator, INSTANCE),
        officer: token(&issuer, Role::Officer, LEAD),
        leader: token(&issuer, Role::Leader, LEAD),
        co_officer: token(&issuer, Role::Officer, CO),
    };

    let start = Arc::new(Barrier::new(REPORTS));
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..REPORTS {
        tasks.spawn(one(n, c.clone(), t.clone(), start.clone(), n % 2 == 1));
    }
    let mut outcomes = BTreeMap::new();
    while let Some(done) = tasks.join_next().await {
        let (report, escalate, approved, other) = done.unwrap();
        outcomes.insert(report, (escalate, approved, other));
    }
    assert_eq!(outcomes.len(), REPORTS);
    // A re-dispatch answers a return; the approval does not complete the report while a
    // return waits, so neither refuses the other. An escalation that processing has folded
    // before the leader approves refuses the approval, and one that routing decides after
    // folding the approval (the report resolved) is refused.
    for (report, (escalate, approved, other)) in &outcomes {
        assert!(*escalate || (*approved && *other), "{report}: approval {approved}, re-dispatch {other}");
        assert!(*approved || *other, "{report}: both refused");
    }

    let (_, config) = paht::settings::load(Some(&suite.config_file)).unwrap();
    let outcome = replicas::check_config(&config, Duration::from_secs(30)).await.unwrap();
    let mut text: Vec<String> = outcome.divergences.iter().map(ToString::to_string).collect();
    text.push(outcome.summary());
    for d in &outcome.divergences {
        let history: Vec<String> = observer
            .envelopes()
            .iter()
            .filter(|e| e.report_id == d.report.to_string())
            .map(|e| {
                let key = e.payload.as_ref().map_or("?", |p| p.routing_key());
                format!("{key} {}#{}", e.producer, e.sequence)
            })
            .collect();
        text.push(format!("history of {}: {}", d.report, history.join(", ")));
    }
    let text = text.join("\n");
    assert_eq!(outcome.compared, REPORTS, "{text}");
    assert!(outcome.is_clean(), "{text}");
    assert!(outcome.held.iter().all(|(_, n)| *n == 0), "{:?}", outcome.held);
    let escalated = outcomes.values().filter(|(e, _, o)| *e && *o).count();
    let approved = outcomes.values().filter(|(e, a, _)| *e && *a).count();
    eprintln!(
        "race: {REPORTS} reports; of {} escalations raced with an approval, {escalated} escalated and {approved} \
         approved; {} in {:?}",
        REPORTS / 2,
        outcome.summary(),
        began.elapsed()
    );

    stop.cancel();
    drop((intake, routing, processing, publication));
    suite.cleanup().await;
}
