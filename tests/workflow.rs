//! One report's whole way through the agencies, in suite mode: intake, routing and
//! processing each as its own `paht serve` process against this machine's Postgres,
//! RabbitMQ and Redis, driven over gRPC as operators, officers and leaders do.
//!
//! Business time starts on Wednesday 28 April 2027, 09:00 in Vĩnh Long (PAHT_CLOCK_START),
//! so every deadline below is the one a civil servant computes by hand for that week:
//! office hours 07:00–11:30 and 13:30–17:00, Friday 30 April and Saturday 1 May are
//! holidays, Monday 3 May is the day off in lieu of 1 May, and the weekend lies between.

mod common;

use std::time::Duration;

use chrono::{DateTime, FixedOffset, TimeDelta, Utc};
use common::*;
use paht_domain::actor::Role;
use paht_proto::convert::{from_timestamp, timestamp};
use paht_proto::v1;
use paht_proto::v1::intake_service_client::IntakeServiceClient;
use paht_proto::v1::processing_service_client::ProcessingServiceClient;
use paht_proto::v1::routing_service_client::RoutingServiceClient;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use tonic::{Code, Status};
use uuid::Uuid;

const START: &str = "2027-04-28T09:00:00+07:00";
const LEAD: &str = "SO-XD-86"; // Sở Xây dựng: roads and drains
const CO: &str = "UBND-29551"; // phường Long Châu
const NEXT: &str = "CTN-VINHLONG"; // the water company of the former Vĩnh Long province

fn local(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

fn ict() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).unwrap()
}

fn due(deadline: &Option<v1::Deadline>) -> DateTime<Utc> {
    from_timestamp(deadline.as_ref().expect("a deadline").due_at.as_ref().unwrap()).unwrap()
}

fn started(deadline: &Option<v1::Deadline>) -> DateTime<Utc> {
    from_timestamp(deadline.as_ref().expect("a deadline").started_at.as_ref().unwrap()).unwrap()
}

struct Clients {
    intake: IntakeServiceClient<Channel>,
    routing: RoutingServiceClient<Channel>,
    processing: ProcessingServiceClient<Channel>,
}

struct People {
    operator: String,
    lead_officer: String,
    lead_leader: String,
    co_officer: String,
    next_officer: String,
    next_leader: String,
}

async fn assignment(c: &mut Clients, token: &str, id: &str) -> v1::Assignment {
    let req = v1::GetAssignmentRequest { assignment_id: id.into() };
    c.processing.get_assignment(authed(token, req)).await.unwrap().into_inner().assignment.unwrap()
}

/// Waits until processing knows the assignment (report.dispatched reached it).
async fn arrived(c: &Clients, token: &str, id: &str) -> v1::Assignment {
    let mut processing = c.processing.clone();
    eventually_every(100, "assignment reaches processing", || {
        let req = v1::GetAssignmentRequest { assignment_id: id.into() };
        let mut p = processing.clone();
        async move { p.get_assignment(authed(token, req)).await }
    })
    .await;
    let req = v1::GetAssignmentRequest { assignment_id: id.into() };
    processing.get_assignment(authed(token, req)).await.unwrap().into_inner().assignment.unwrap()
}

// R7.2, R7.3b, R8.2a, R8.2b, R9.2, R9.3a, R9.3b, R10.2: submit → accept → dispatch to two agencies → one
// returns → redispatch → explain with a new date → result → send back → result → approve; when every
// assignment is approved, report.resolved goes out; each deadline is the one computed by hand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_goes_through_two_agencies_a_return_an_explanation_and_a_send_back() {
    let suite = Suite::new().await;
    let bus = suite.bus().await;
    let stop = CancellationToken::new();
    let observer = observe_all(&bus, "e2e-workflow-observer", &stop).await;
    let env = [("PAHT_CLOCK_START", START)];
    let routing = suite.serve_services("routing", "routing", &env);
    let intake = suite.serve_services(
        "intake",
        "intake",
        &[("PAHT_CLOCK_START", START), ("PAHT_PEERS__ROUTING", &routing.grpc)],
    );
    let processing = suite.serve_services("processing", "processing", &env);
    let mut c = Clients {
        intake: intake.client().await,
        routing: RoutingServiceClient::connect(routing.grpc.clone()).await.unwrap(),
        processing: ProcessingServiceClient::connect(processing.grpc.clone()).await.unwrap(),
    };
    let issuer = suite.issuer();
    let p = People {
        operator: token(&issuer, Role::IocOperator, INSTANCE),
        lead_officer: token(&issuer, Role::Officer, LEAD),
        lead_leader: token(&issuer, Role::Leader, LEAD),
        co_officer: token(&issuer, Role::Officer, CO),
        next_officer: token(&issuer, Role::Officer, NEXT),
        next_leader: token(&issuer, Role::Leader, NEXT),
    };
    let channel = token(&issuer, Role::System, INSTANCE);

    // Submitted at 09:00 on Wednesday: checked within 1 working hour (R7.2).
    let mut request = submission("workflow-1");
    request.event_time = Some(timestamp(local(START) - TimeDelta::hours(3)));
    let receipt = c.intake.submit_report(authed(&channel, request)).await.unwrap().into_inner();
    let report_id = receipt.report_id.clone();
    let received_at = from_timestamp(receipt.received_at.as_ref().unwrap()).unwrap();
    assert!(received_at >= local(START) && received_at < local(START) + TimeDelta::minutes(2), "{received_at}");
    assert_eq!(due(&receipt.check_deadline) - received_at, TimeDelta::hours(1), "R7.2: one working hour, same morning");

    let accept = v1::AcceptReportRequest { report_id: report_id.clone(), category_id: "ha-tang".into() };
    c.intake.accept_report(authed(&p.operator, accept)).await.unwrap();

    // Dispatched to two agencies, a lead and a co-handler (R7.3b), as soon as routing knows the acceptance.
    let targets = vec![
        v1::DispatchTarget { agency_unit_id: LEAD.into(), lead: true },
        v1::DispatchTarget { agency_unit_id: CO.into(), lead: false },
    ];
    let routing_client = c.routing.clone();
    let dispatched = eventually_every(100, "dispatch", || {
        let req = v1::DispatchRequest { report_id: report_id.clone(), targets: targets.clone(), note: "Khẩn".into() };
        let token = p.operator.clone();
        let mut r = routing_client.clone();
        async move { r.dispatch(authed(&token, req)).await }
    })
    .await
    .into_inner();
    assert_eq!(dispatched.report.as_ref().unwrap().status, v1::ReportStatus::Dispatched as i32);
    assert_eq!(dispatched.report.as_ref().unwrap().category_id, "ha-tang", "routing knows the confirmed category");
    let by_agency = |agency: &str| dispatched.assignments.iter().find(|a| a.agency_unit_id == agency).unwrap().clone();
    let (lead, co) = (by_agency(LEAD), by_agency(CO));
    assert!(lead.lead && !co.lead);
    for a in [&lead, &co] {
        // R8.2a: 5 working days counted from the next working day — Thu 29/4, then (30/4, 1/5, the weekend
        // and the day in lieu on 3/5 off) Tue 4/5, Wed 5/5, Thu 6/5, Fri 7/5 — closing time on Friday.
        assert_eq!(due(&a.handling_deadline), local("2027-05-07T17:00:00+07:00"), "R8.2a handling");
        // R8.2b: a return is due within 1 working day: Thursday's closing time.
        assert_eq!(due(&a.stage_deadline), local("2027-04-29T17:00:00+07:00"), "R8.2b return window");
        // Issue 10, R8.2a: the explanation window is shown too — 2 working days: Thu 29/4, Tue 4/5.
        let stages: Vec<i32> = a.open_deadlines.iter().map(|d| d.stage).collect();
        let (r, e, h) = (v1::DeadlineStage::Return, v1::DeadlineStage::Explanation, v1::DeadlineStage::Handling);
        assert_eq!(stages, [r as i32, e as i32, h as i32], "every open deadline with its stage");
        assert_eq!(due(&a.open_deadlines.get(1).cloned()), local("2027-05-04T17:00:00+07:00"), "R8.2a window");
        assert_eq!(a.stage_deadline.as_ref().unwrap().stage, r as i32, "the return window is the next to meet");
    }

    // Processing has them once report.dispatched reaches it; each agency sees its own inbox, by deadline.
    let at_lead = arrived(&c, &p.lead_officer, &lead.id).await;
    assert_eq!(at_lead.instructions, "Khẩn", "the operator's note reaches the agency");
    assert_eq!(at_lead.handling_deadline, lead.handling_deadline, "processing computed the same deadline");
    arrived(&c, &p.co_officer, &co.id).await;
    let inbox = v1::ListInboxRequest::default();
    let items = c.processing.list_inbox(authed(&p.lead_officer, inbox)).await.unwrap().into_inner().items;
    assert_eq!(
        items.iter().map(|i| i.assignment.as_ref().unwrap().id.clone()).collect::<Vec<_>>(),
        vec![lead.id.clone()]
    );
    assert!(items[0].report.as_ref().unwrap().content.contains("Cống thoát nước"));

    forbidden_actions_change_nothing(&mut c, &p, &lead, &co).await;

    // The ward returns its share as outside its competence (R8.2b) …
    let ret = v1::ReturnAssignmentRequest {
        assignment_id: co.id.clone(),
        reason: "Thuộc thẩm quyền công ty cấp nước".into(),
    };
    let returned = c.processing.return_assignment(authed(&p.co_officer, ret)).await.unwrap().into_inner();
    assert_eq!(returned.assignment.unwrap().status, v1::AssignmentStatus::Returned as i32);

    // … and the IOC dispatches that share again, to the water company, once routing knows the return.
    let redispatched = eventually_every(100, "redispatch", || {
        let req = v1::RedispatchRequest {
            report_id: report_id.clone(),
            replaces_assignment_id: co.id.clone(),
            targets: vec![v1::DispatchTarget { agency_unit_id: NEXT.into(), lead: false }],
            note: "Chuyển công ty cấp nước".into(),
        };
        let token = p.operator.clone();
        let mut r = routing_client.clone();
        async move { r.redispatch(authed(&token, req)).await }
    })
    .await
    .into_inner();
    let next = redispatched.assignments.iter().find(|a| a.agency_unit_id == NEXT).unwrap().clone();
    assert_eq!(due(&next.handling_deadline), local("2027-05-07T17:00:00+07:00"), "R8.2a for the new agency");
    arrived(&c, &p.next_officer, &next.id).await;

    // The lead explains that it needs until Wednesday 12 May (R8.2a): that date's closing time becomes
    // its handling deadline.
    let explain = v1::ExplainAssignmentRequest {
        assignment_id: lead.id.clone(),
        explanation: Some(v1::Explanation {
            reason: "Cần khảo sát hiện trạng cống và phối hợp công ty cấp nước".into(),
            expected_completion_date: Some(v1::Date { year: 2027, month: 5, day: 12 }),
            explained_at: None,
        }),
    };
    let explained = c.processing.explain_assignment(authed(&p.lead_officer, explain)).await.unwrap().into_inner();
    let explained = explained.assignment.unwrap();
    assert_eq!(explained.status, v1::AssignmentStatus::Explained as i32);
    assert_eq!(due(&explained.handling_deadline), local("2027-05-12T17:00:00+07:00"), "R8.2a expected date");
    // After the explanation the stage to meet is handling, by the explained date (issue 10).
    assert_eq!(explained.stage_deadline.as_ref().unwrap().stage, v1::DeadlineStage::Handling as i32);
    assert_eq!(explained.open_deadlines, vec![explained.handling_deadline.clone().unwrap()]);

    // Result, sent back by the leader (R9.3a), result again, approved (R9.3b).
    let submit = |text: &str| v1::SubmitResultRequest {
        assignment_id: lead.id.clone(),
        text: text.into(),
        attachment_ids: vec![],
    };
    let first = c.processing.submit_result(authed(&p.lead_officer, submit("Đã nạo vét cống"))).await.unwrap();
    let first = first.into_inner().assignment.unwrap();
    assert_eq!(first.status, v1::AssignmentStatus::ResultSubmitted as i32);
    // R9.2: the leader decides within 1 working day: Thursday's closing time.
    assert_eq!(due(&first.stage_deadline), local("2027-04-29T17:00:00+07:00"), "R9.2 approval");
    let back =
        v1::SendBackResultRequest { assignment_id: lead.id.clone(), reason: "Thiếu ảnh sau khi nạo vét".into() };
    let back = c.processing.send_back_result(authed(&p.lead_leader, back)).await.unwrap().into_inner();
    let back = back.assignment.unwrap();
    assert_eq!(back.status, v1::AssignmentStatus::SentBack as i32);
    assert_eq!(back.send_back_reason, "Thiếu ảnh sau khi nạo vét");
    assert_eq!(
        due(&back.stage_deadline),
        local("2027-05-12T17:00:00+07:00"),
        "back to the explained handling deadline"
    );
    c.processing.submit_result(authed(&p.lead_officer, submit("Đã nạo vét cống, ảnh kèm theo"))).await.unwrap();
    let approve = v1::ApproveResultRequest { assignment_id: lead.id.clone(), note: String::new() };
    let approved = c.processing.approve_result(authed(&p.lead_leader, approve)).await.unwrap().into_inner();
    assert_eq!(approved.assignment.unwrap().status, v1::AssignmentStatus::Approved as i32);

    // One agency approved is not the report resolved: the water company is still at work.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!observer.snapshot().iter().any(|s| s.routing_key == "report.resolved"));

    let result = v1::SubmitResultRequest {
        assignment_id: next.id.clone(),
        text: "Đã sửa đường ống".into(),
        attachment_ids: vec![],
    };
    c.processing.submit_result(authed(&p.next_officer, result)).await.unwrap();
    let approve = v1::ApproveResultRequest { assignment_id: next.id.clone(), note: "Đạt".into() };
    let last = c.processing.approve_result(authed(&p.next_leader, approve)).await.unwrap().into_inner();
    assert_eq!(last.assignment.unwrap().status, v1::AssignmentStatus::Approved as i32);

    // Every assignment at work approved → report.resolved, with the answer due 4 working hours later (R10.2).
    let seen = observer
        .wait_for(Duration::from_secs(30), |seen| seen.iter().any(|s| s.routing_key == "report.resolved"))
        .await;
    let resolved = observer
        .envelopes()
        .into_iter()
        .find(|e| matches!(e.payload, Some(v1::event_envelope::Payload::ReportResolved(_))));
    let resolved = resolved.unwrap_or_else(|| panic!("no report.resolved among {:?}", keys_by_report(&seen)));
    let Some(v1::event_envelope::Payload::ReportResolved(payload)) = &resolved.payload else { unreachable!() };
    let mut ids = payload.assignment_ids.clone();
    ids.sort();
    let mut expected = vec![lead.id.clone(), next.id.clone()];
    expected.sort();
    assert_eq!(ids, expected);
    let answer_from = started(&payload.answer_deadline);
    let answer_due = due(&payload.answer_deadline);
    // Approved in the morning of Wednesday 28/4 (between 07:30 and 11:00): 4 working hours run past the
    // lunch break (11:30–13:30) into the afternoon, so the answer is due 6 hours after the approval.
    let approved_local = answer_from.with_timezone(&ict());
    assert_eq!(approved_local.date_naive(), chrono::NaiveDate::from_ymd_opt(2027, 4, 28).unwrap());
    assert!((9..11).contains(&chrono::Timelike::hour(&approved_local)), "{approved_local}");
    assert_eq!(answer_due - answer_from, TimeDelta::hours(6), "R10.2: 4 working hours + the 2-hour lunch break");

    // Issue 10: the report read from intake shows when it was resolved and when the answer is due.
    let report = eventually_every(100, "intake follows the resolution", || {
        let mut client = c.intake.clone();
        let req = v1::GetReportRequest { report_id: report_id.clone() };
        let token = p.operator.clone();
        async move {
            let report = client.get_report(authed(&token, req)).await?.into_inner().report.unwrap();
            if report.status == v1::ReportStatus::Resolved as i32 {
                Ok(report)
            } else {
                Err(Status::failed_precondition("not resolved yet"))
            }
        }
    })
    .await;
    assert_eq!(report.resolved_at.as_ref().map(|t| from_timestamp(t).unwrap()), Some(answer_from));
    assert_eq!(report.answer_deadline, payload.answer_deadline, "the answer deadline as routing stated it");
    assert_eq!(report.open_deadlines, vec![payload.answer_deadline.clone().unwrap()], "the IOC's one deadline");

    // The reporter's identity never reached routing, processing or the logs.
    stop.cancel();
    for (name, server) in [("routing", routing), ("processing", processing), ("intake", intake)] {
        let logs = server.stop();
        assert_no_personal_data(name, &logs);
    }
    suite.cleanup().await;
}

/// Every forbidden action is refused with the right status and changes nothing.
async fn forbidden_actions_change_nothing(c: &mut Clients, p: &People, lead: &v1::Assignment, co: &v1::Assignment) {
    let before = (assignment(c, &p.lead_officer, &lead.id).await, assignment(c, &p.co_officer, &co.id).await);
    let cases: Vec<(&str, Status, Code)> = vec![
        (
            "an officer cannot approve (wrong role)",
            c.processing
                .approve_result(authed(
                    &p.lead_officer,
                    v1::ApproveResultRequest { assignment_id: lead.id.clone(), note: String::new() },
                ))
                .await
                .unwrap_err(),
            Code::PermissionDenied,
        ),
        (
            "the ward's officer cannot return the lead's share (wrong unit)",
            c.processing
                .return_assignment(authed(
                    &p.co_officer,
                    v1::ReturnAssignmentRequest { assignment_id: lead.id.clone(), reason: "x".into() },
                ))
                .await
                .unwrap_err(),
            Code::PermissionDenied,
        ),
        (
            "the leader cannot approve before a result (wrong state)",
            c.processing
                .approve_result(authed(
                    &p.lead_leader,
                    v1::ApproveResultRequest { assignment_id: lead.id.clone(), note: String::new() },
                ))
                .await
                .unwrap_err(),
            Code::FailedPrecondition,
        ),
        (
            "a return needs a reason",
            c.processing
                .return_assignment(authed(
                    &p.lead_officer,
                    v1::ReturnAssignmentRequest { assignment_id: lead.id.clone(), reason: " ".into() },
                ))
                .await
                .unwrap_err(),
            Code::InvalidArgument,
        ),
        (
            "an officer cannot dispatch (wrong role)",
            c.routing
                .dispatch(authed(
                    &p.lead_officer,
                    v1::DispatchRequest {
                        report_id: lead.report_id.clone(),
                        targets: vec![v1::DispatchTarget { agency_unit_id: NEXT.into(), lead: false }],
                        note: String::new(),
                    },
                ))
                .await
                .unwrap_err(),
            Code::PermissionDenied,
        ),
        (
            "a dispatched report is not dispatched again (wrong state; re-dispatch after a return)",
            c.routing
                .dispatch(authed(
                    &p.operator,
                    v1::DispatchRequest {
                        report_id: lead.report_id.clone(),
                        targets: vec![v1::DispatchTarget { agency_unit_id: LEAD.into(), lead: false }],
                        note: String::new(),
                    },
                ))
                .await
                .unwrap_err(),
            Code::FailedPrecondition,
        ),
        (
            "no such assignment",
            c.processing
                .get_assignment(authed(
                    &p.lead_officer,
                    v1::GetAssignmentRequest { assignment_id: uuid::Uuid::now_v7().to_string() },
                ))
                .await
                .unwrap_err(),
            Code::NotFound,
        ),
    ];
    for (what, status, code) in cases {
        assert_eq!(status.code(), code, "{what}: {status:?}");
    }
    let after = (assignment(c, &p.lead_officer, &lead.id).await, assignment(c, &p.co_officer, &co.id).await);
    assert_eq!(before, after, "refused actions changed nothing");
}

// R13.1, R14.4, R8.2a: the deadline sweeper, killed mid-run and started again (twice), reports each
// missed handling deadline exactly once. Business time first runs on 28 April 2027 while the reports
// are dispatched; routing then restarts on 20 May 2027, after every handling deadline (7 May).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_sweeper_reports_each_missed_deadline_once() {
    const REPORTS: usize = 24;
    let suite = Suite::new().await;
    let bus = suite.bus().await;
    let stop = CancellationToken::new();
    let observer = observe_all(&bus, "e2e-sweeper-observer", &stop).await;
    let env = [("PAHT_CLOCK_START", START)];
    let intake = suite.serve_services("intake", "intake", &env);
    let routing = suite.serve_services("routing-1", "routing", &env);
    let mut intake_client = intake.client().await;
    let routing_client = RoutingServiceClient::connect(routing.grpc.clone()).await.unwrap();
    let issuer = suite.issuer();
    let operator = token(&issuer, Role::IocOperator, INSTANCE);
    let channel = token(&issuer, Role::System, INSTANCE);
    let mut assignments = Vec::new();
    for n in 0..REPORTS {
        let mut request = submission(&format!("sweep-{n}"));
        request.event_time = Some(timestamp(local(START) - TimeDelta::hours(3)));
        let receipt = intake_client.submit_report(authed(&channel, request)).await.unwrap().into_inner();
        let accept = v1::AcceptReportRequest { report_id: receipt.report_id.clone(), category_id: String::new() };
        intake_client.accept_report(authed(&operator, accept)).await.unwrap();
        let dispatched = eventually_every(100, "dispatch", || {
            let req = v1::DispatchRequest {
                report_id: receipt.report_id.clone(),
                targets: vec![v1::DispatchTarget { agency_unit_id: LEAD.into(), lead: true }],
                note: String::new(),
            };
            let token = operator.clone();
            let mut r = routing_client.clone();
            async move { r.dispatch(authed(&token, req)).await }
        })
        .await
        .into_inner();
        assignments.push(dispatched.assignments[0].id.clone());
    }
    // On 28 April nothing is missed yet.
    routing.stop();
    assert!(!observer.snapshot().iter().any(|s| s.routing_key == "deadline.missed"));

    // Three weeks later: every handling deadline has passed. Kill the sweeper twice while it works.
    let later = [("PAHT_CLOCK_START", "2027-05-20T09:00:00+07:00")];
    let missed = |seen: &[Seen]| {
        let mut ids: Vec<Uuid> =
            seen.iter().filter(|s| s.routing_key == "deadline.missed").map(|s| s.event_id).collect();
        ids.sort();
        ids.dedup();
        ids.len()
    };
    for run in ["routing-2", "routing-3"] {
        let before = missed(&observer.snapshot());
        let routing = suite.serve_services(run, "routing", &later);
        observer.wait_for(Duration::from_secs(20), |seen| missed(seen) > before || missed(seen) >= REPORTS).await;
        routing.kill();
    }
    let routing = suite.serve_services("routing-4", "routing", &later);
    observer.wait_for(Duration::from_secs(60), |seen| missed(seen) >= REPORTS).await;
    tokio::time::sleep(Duration::from_secs(3)).await; // a duplicate would arrive within a few sweeps

    // Exactly one missed event per (assignment, stage), whatever the broker redelivered.
    let mut per_stage: std::collections::BTreeMap<(String, i32), std::collections::BTreeSet<String>> =
        Default::default();
    for envelope in observer.envelopes() {
        if let Some(v1::event_envelope::Payload::DeadlineMissed(m)) = &envelope.payload {
            let stage = m.deadline.as_ref().unwrap().stage;
            per_stage.entry((m.assignment_id.clone(), stage)).or_default().insert(envelope.event_id.clone());
            assert_eq!(m.responsible_unit_id, LEAD);
            assert_eq!(due(&m.deadline), local("2027-05-07T17:00:00+07:00"), "R8.2a handling deadline");
        }
    }
    assert_eq!(per_stage.len(), REPORTS, "one missed stage per dispatched report: {per_stage:?}");
    for ((assignment, stage), ids) in &per_stage {
        assert_eq!(
            stage,
            &(v1::DeadlineStage::Handling as i32),
            "only handling is missed; return and explanation are windows"
        );
        assert!(assignments.contains(assignment));
        assert_eq!(ids.len(), 1, "{assignment}: {ids:?}");
    }
    stop.cancel();
    routing.stop();
    intake.stop();
    suite.cleanup().await;
}
