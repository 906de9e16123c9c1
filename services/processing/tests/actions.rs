//! The agency's actions end to end over the gRPC trait — return (R8.2b), explain (R8.2a),
//! submit (R9.2), send back (R9.3a), approve (R9.3b) — with their events in the outbox, and the
//! refusals that change nothing. Replicas are fed through the consumer with the envelopes
//! intake and routing publish; on Postgres (a fresh database per test) and on SQLite.

mod common;

use common::{AG1, AG2, Harness, Story, dispatched_report, fields, vn};
use paht_domain::actor::Role;
use paht_domain::ids::AssignmentId;
use paht_domain::lifecycle::{AssignmentStatus, ReportStatus};
use paht_proto::convert;
use paht_proto::v1;
use paht_proto::v1::event_envelope::Payload;
use paht_proto::v1::processing_service_server::ProcessingService as _;
use tonic::Code;
use uuid::Uuid;

fn ts(t: Option<&prost_types::Timestamp>) -> chrono::DateTime<chrono::Utc> {
    convert::from_timestamp(t.expect("a timestamp")).unwrap()
}

fn due(d: Option<&v1::Deadline>) -> chrono::DateTime<chrono::Utc> {
    ts(d.expect("a deadline").due_at.as_ref())
}

fn return_req(id: AssignmentId, reason: &str) -> v1::ReturnAssignmentRequest {
    v1::ReturnAssignmentRequest { assignment_id: id.to_string(), reason: reason.into() }
}

fn explain_req(id: AssignmentId, reason: &str, date: (i32, i32, i32)) -> v1::ExplainAssignmentRequest {
    v1::ExplainAssignmentRequest {
        assignment_id: id.to_string(),
        explanation: Some(v1::Explanation {
            reason: reason.into(),
            expected_completion_date: Some(v1::Date { year: date.0, month: date.1, day: date.2 }),
            explained_at: None,
        }),
    }
}

fn submit_req(id: AssignmentId, text: &str, attachments: &[String]) -> v1::SubmitResultRequest {
    v1::SubmitResultRequest { assignment_id: id.to_string(), text: text.into(), attachment_ids: attachments.to_vec() }
}

fn approve_req(id: AssignmentId) -> v1::ApproveResultRequest {
    v1::ApproveResultRequest { assignment_id: id.to_string(), note: "Đạt yêu cầu".into() }
}

fn send_back_req(id: AssignmentId, reason: &str) -> v1::SendBackResultRequest {
    v1::SendBackResultRequest { assignment_id: id.to_string(), reason: reason.into() }
}

/// Drops a successful response: the refusal tests only look at errors.
fn ok<T>(_: T) {}

fn inbox(agency: &str) -> v1::ListInboxRequest {
    v1::ListInboxRequest { agency_unit_id: agency.into(), statuses: vec![], page: None }
}

// R8.2b: the officer returns an assignment outside the agency's competence: it is RETURNED,
// `assignment.returned` goes out through the outbox, the index and the inbox follow, and the
// report is back on the IOC's desk.
async fn return_goes_back_to_the_ioc_r8_2b(h: Harness) {
    let (report, a) = dispatched_report(&h, "Cột điện nghiêng", "2027-03-08", &[AG1]).await;
    assert!(h.outbox_keys().await.is_empty(), "replayed facts publish nothing");
    h.at("2027-03-08T10:00:00+07:00");
    let reason = "Thuộc thẩm quyền của Điện lực, không phải Sở Xây dựng";
    let out = h.svc.return_assignment(h.officer(AG1, return_req(a[0], reason))).await.unwrap().into_inner();
    let assignment = out.assignment.unwrap();
    assert_eq!(assignment.status, v1::AssignmentStatus::Returned as i32);
    assert_eq!(assignment.return_reason, reason);
    assert_eq!(assignment.stage_deadline, None, "no deadline runs on a returned assignment");

    let outbox = h.outbox().await;
    assert_eq!(outbox.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), vec!["assignment.returned"]);
    let envelope = &outbox[0].1;
    assert_eq!(envelope.report_id, report.to_string());
    assert_eq!(ts(envelope.occurred_at.as_ref()), vn("2027-03-08T10:00:00+07:00"));
    let actor = envelope.actor.as_ref().unwrap();
    assert_eq!((actor.role, actor.unit_id.as_str()), (v1::Role::Officer as i32, AG1));
    let Some(Payload::AssignmentReturned(returned)) = &envelope.payload else { panic!("{envelope:?}") };
    assert_eq!((returned.assignment_id.as_str(), returned.agency_unit_id.as_str()), (a[0].to_string().as_str(), AG1));
    assert_eq!(returned.reason, reason);

    let row = h.row(a[0]).await;
    assert_eq!((row.status.as_str(), row.due_at), ("returned", None));
    let replica = h.replica(report).await;
    assert_eq!(replica.state.status, ReportStatus::Accepted);
    assert!(replica.state.awaiting_redispatch);
    let page = h.svc.list_inbox(h.officer(AG1, inbox(""))).await.unwrap().into_inner();
    assert!(page.items.is_empty());
}

// R8.2a: an explanation moves the handling deadline to the end of office hours (17:00 in
// Asia/Ho_Chi_Minh, UTC+7) of the expected date when it is a working day, and to the end of
// that day when it is not; only the handling deadline then runs.
async fn explain_moves_the_handling_deadline_r8_2a(h: Harness) {
    let (report, a) = dispatched_report(&h, "Cống thoát nước bị vỡ", "2027-03-08", &[AG1, AG2]).await;
    // Dispatched Monday: handled by Monday 15 March, 17:00 (5 working days from the next one).
    assert_eq!(h.row(a[0]).await.handling_due_at, vn("2027-03-15T17:00:00+07:00"));
    h.at("2027-03-09T09:00:00+07:00");
    let reason = "Cần khảo sát hiện trường và phối hợp với UBND phường";
    let out = h.svc.explain_assignment(h.officer(AG1, explain_req(a[0], reason, (2027, 3, 19)))).await.unwrap();
    let assignment = out.into_inner().assignment.unwrap();
    assert_eq!(assignment.status, v1::AssignmentStatus::Explained as i32);
    // Friday 19 March 2027 is a working day; office hours close at 17:00 local = 10:00 UTC.
    let friday_close = chrono::DateTime::parse_from_rfc3339("2027-03-19T10:00:00Z").unwrap().to_utc();
    assert_eq!(due(assignment.handling_deadline.as_ref()), friday_close);
    assert_eq!(due(assignment.stage_deadline.as_ref()), friday_close);
    assert_eq!(assignment.handling_deadline.as_ref().unwrap().stage, v1::DeadlineStage::Handling as i32);
    let explanation = assignment.explanation.unwrap();
    assert_eq!(explanation.reason, reason);
    assert_eq!(explanation.expected_completion_date, Some(v1::Date { year: 2027, month: 3, day: 19 }));
    assert_eq!(ts(explanation.explained_at.as_ref()), vn("2027-03-09T09:00:00+07:00"));
    let row = h.row(a[0]).await;
    assert_eq!((row.status.as_str(), row.handling_due_at, row.due_at), ("explained", friday_close, Some(friday_close)));

    // Saturday 20 March is not a working day: the end of that calendar day, 23:59:59 local.
    let out = h.svc.explain_assignment(h.officer(AG2, explain_req(a[1], reason, (2027, 3, 20)))).await.unwrap();
    let saturday_end = chrono::DateTime::parse_from_rfc3339("2027-03-20T16:59:59Z").unwrap().to_utc();
    assert_eq!(due(out.into_inner().assignment.unwrap().handling_deadline.as_ref()), saturday_end);
    assert_eq!(h.row(a[1]).await.handling_due_at, saturday_end);

    let outbox = h.outbox().await;
    assert_eq!(outbox.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), vec!["assignment.explained"; 2]);
    let Some(Payload::AssignmentExplained(explained)) = &outbox[0].1.payload else { panic!() };
    assert_eq!(explained.assignment_id, a[0].to_string());
    assert_eq!(explained.explanation.as_ref().unwrap().expected_completion_date.as_ref().unwrap().day, 19);
    let state = h.replica(report).await.state;
    assert_eq!(state.assignment(a[0]).unwrap().handling.due_at, friday_close);
}

// R9.2: a submitted result waits for the leader for 1 working day, counted from the next
// working day: Thursday's result is due Friday 17:00, Friday's is due Monday 17:00.
// R4.5: the result is recorded on the system in full — text, files, officer, time — and goes
// out as `assignment.resolved` in the same transaction.
async fn submit_starts_the_approval_day_r9_2(h: Harness) {
    let (_, a) = dispatched_report(&h, "Vỉa hè bị lấn chiếm", "2027-03-08", &[AG1, AG2]).await;
    let files = [Uuid::now_v7().to_string(), Uuid::now_v7().to_string()];
    h.at("2027-03-11T10:00:00+07:00");
    let out = h.svc.submit_result(h.officer(AG1, submit_req(a[0], "Đã giải tỏa vỉa hè", &files))).await.unwrap();
    let assignment = out.into_inner().assignment.unwrap();
    assert_eq!(assignment.status, v1::AssignmentStatus::ResultSubmitted as i32);
    let stage = assignment.stage_deadline.as_ref().unwrap();
    assert_eq!(stage.stage, v1::DeadlineStage::Approval as i32);
    assert_eq!(due(Some(stage)), vn("2027-03-12T17:00:00+07:00"));
    let result = assignment.result.unwrap();
    assert_eq!(result.text, "Đã giải tỏa vỉa hè");
    assert_eq!(result.attachments.iter().map(|f| f.id.clone()).collect::<Vec<_>>(), files.to_vec());
    let officer = result.officer.unwrap();
    assert_eq!((officer.role, officer.unit_id.as_str()), (v1::Role::Officer as i32, AG1));
    assert_eq!(ts(result.submitted_at.as_ref()), vn("2027-03-11T10:00:00+07:00"));
    assert_eq!(h.row(a[0]).await.due_at, Some(vn("2027-03-12T17:00:00+07:00")));

    h.at("2027-03-12T15:00:00+07:00");
    let out = h.svc.submit_result(h.officer(AG2, submit_req(a[1], "Đã xử lý", &[]))).await.unwrap();
    let assignment = out.into_inner().assignment.unwrap();
    assert_eq!(due(assignment.stage_deadline.as_ref()), vn("2027-03-15T17:00:00+07:00"));

    let outbox = h.outbox().await;
    assert_eq!(outbox.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), vec!["assignment.resolved"; 2]);
    let Some(Payload::AssignmentResultSubmitted(submitted)) = &outbox[0].1.payload else { panic!() };
    assert_eq!(due(submitted.approval_deadline.as_ref()), vn("2027-03-12T17:00:00+07:00"));
}

// R9.3a, R9.3b: with two agencies, a result sent back is redone and approved; the report is
// resolved — and `report.resolved` goes out — only once BOTH agencies' results are approved.
async fn resolved_only_when_every_agency_is_approved_r9_3(h: Harness) {
    let (report, a) = dispatched_report(&h, "Sạt lở bờ kênh", "2027-03-08", &[AG1, AG2]).await;
    h.at("2027-03-09T09:00:00+07:00");
    h.svc.submit_result(h.officer(AG1, submit_req(a[0], "Đã gia cố tạm", &[]))).await.unwrap();
    h.at("2027-03-09T10:00:00+07:00");
    let sent = h.svc.send_back_result(h.leader(AG1, send_back_req(a[0], "Thiếu ảnh hiện trường"))).await.unwrap();
    let sent = sent.into_inner().assignment.unwrap();
    assert_eq!(sent.status, v1::AssignmentStatus::SentBack as i32);
    assert_eq!(sent.send_back_reason, "Thiếu ảnh hiện trường");
    // Back to the handling deadline (R8.2a) while the officer redoes it.
    assert_eq!(due(sent.stage_deadline.as_ref()), vn("2027-03-15T17:00:00+07:00"));
    assert_eq!(h.row(a[0]).await.status, "sent_back");
    let page = h.svc.list_inbox(h.officer(AG1, inbox(""))).await.unwrap().into_inner();
    assert_eq!(page.items.len(), 1, "a sent-back result is in the inbox");

    h.at("2027-03-10T09:00:00+07:00");
    let photo = Uuid::now_v7().to_string();
    h.svc.submit_result(h.officer(AG1, submit_req(a[0], "Đã gia cố, kèm ảnh", &[photo]))).await.unwrap();
    h.at("2027-03-10T10:00:00+07:00");
    let approved = h.svc.approve_result(h.leader(AG1, approve_req(a[0]))).await.unwrap().into_inner();
    assert_eq!(approved.assignment.unwrap().status, v1::AssignmentStatus::Approved as i32);
    assert_eq!(h.replica(report).await.state.status, ReportStatus::Dispatched, "AG2 is still at work");
    assert!(!h.outbox_keys().await.contains(&"report.resolved".to_owned()));

    h.at("2027-03-11T09:00:00+07:00");
    h.svc.submit_result(h.officer(AG2, submit_req(a[1], "Đã nạo vét", &[]))).await.unwrap();
    h.at("2027-03-11T14:00:00+07:00");
    h.svc.approve_result(h.leader(AG2, approve_req(a[1]))).await.unwrap();

    assert_eq!(
        h.outbox_keys().await,
        vec![
            "assignment.resolved",
            "assignment.sent_back",
            "assignment.resolved",
            "assignment.approved",
            "assignment.resolved",
            "assignment.approved",
        ],
        "processing decides each assignment; routing decides when the report is resolved"
    );
    let state = h.replica(report).await.state;
    assert_eq!(state.status, ReportStatus::Dispatched, "resolved when routing's fact arrives");
    assert!(state.assignments.iter().all(|x| x.status == AssignmentStatus::Approved));
    for row in h.index().await {
        assert_eq!((row.status.as_str(), row.due_at), ("approved", None));
    }
    for agency in [AG1, AG2] {
        assert!(h.svc.list_inbox(h.officer(agency, inbox(""))).await.unwrap().into_inner().items.is_empty());
    }
}

// R8.2a, R8.2b, R9.3: every forbidden action — wrong role, another agency's officer, the
// wrong state, missing input — is refused and leaves the replica, the index and the outbox
// exactly as they were.
async fn refused_actions_change_nothing(h: Harness) {
    let (report, a) = dispatched_report(&h, "Biển báo bị che khuất", "2027-03-08", &[AG1, AG2]).await;
    h.at("2027-03-09T09:00:00+07:00");
    let before = h.snapshot(&[report]).await;
    let (svc, x) = (&h.svc, a[0]);
    let expect = |result: Result<(), tonic::Status>, code: Code, field: Option<&str>, what: &str| {
        let status = result.expect_err(what);
        assert_eq!(status.code(), code, "{what}: {status:?}");
        if let Some(field) = field {
            assert_eq!(fields(&status), vec![field], "{what}");
        }
    };
    // Wrong role.
    let r = svc.submit_result(h.leader(AG1, submit_req(x, "Xong", &[]))).await.map(ok);
    expect(r, Code::PermissionDenied, None, "a leader submits");
    let r = svc.approve_result(h.officer(AG1, approve_req(x))).await.map(ok);
    expect(r, Code::PermissionDenied, None, "an officer approves");
    let r = svc.return_assignment(h.as_role(Role::IocOperator, common::INSTANCE, return_req(x, "r"))).await.map(ok);
    expect(r, Code::PermissionDenied, None, "the IOC returns");
    let r = svc.return_assignment(h.as_role(Role::Inspector, "SO-NV-86", return_req(x, "r"))).await.map(ok);
    expect(r, Code::PermissionDenied, None, "an inspector returns");
    // Another agency.
    let r = svc.return_assignment(h.officer(AG2, return_req(x, "Không thuộc thẩm quyền"))).await.map(ok);
    expect(r, Code::PermissionDenied, None, "AG2 returns AG1's assignment");
    let r = svc.explain_assignment(h.officer(AG2, explain_req(x, "Cần thời gian", (2027, 3, 19)))).await.map(ok);
    expect(r, Code::PermissionDenied, None, "AG2 explains AG1's assignment");
    // Wrong state.
    let r = svc.approve_result(h.leader(AG1, approve_req(x))).await.map(ok);
    expect(r, Code::FailedPrecondition, None, "approve before a result");
    let r = svc.send_back_result(h.leader(AG1, send_back_req(x, "Làm lại"))).await.map(ok);
    expect(r, Code::FailedPrecondition, None, "send back before a result");
    // Input.
    let r = svc.return_assignment(h.officer(AG1, return_req(x, "   "))).await.map(ok);
    expect(r, Code::InvalidArgument, Some("reason"), "return without a reason");
    let r = svc.explain_assignment(h.officer(AG1, explain_req(x, "", (2027, 3, 19)))).await.map(ok);
    expect(r, Code::InvalidArgument, Some("explanation.reason"), "explain without a reason");
    let r = svc.explain_assignment(h.officer(AG1, explain_req(x, "Cần thời gian", (2027, 3, 9)))).await.map(ok);
    expect(r, Code::InvalidArgument, Some("explanation.expected_completion_date"), "expected today");
    let r = svc.explain_assignment(h.officer(AG1, explain_req(x, "Cần thời gian", (2027, 2, 30)))).await.map(ok);
    expect(r, Code::InvalidArgument, Some("explanation.expected_completion_date"), "no such date");
    let no_explanation = v1::ExplainAssignmentRequest { assignment_id: x.to_string(), explanation: None };
    let r = svc.explain_assignment(h.officer(AG1, no_explanation)).await.map(ok);
    expect(r, Code::InvalidArgument, Some("explanation"), "no explanation");
    let r = svc.submit_result(h.officer(AG1, submit_req(x, " ", &[]))).await.map(ok);
    expect(r, Code::InvalidArgument, Some("text"), "an empty result");
    let bad_files = [Uuid::now_v7().to_string(), "anh-1.jpg".to_owned()];
    let r = svc.submit_result(h.officer(AG1, submit_req(x, "Xong", &bad_files))).await.map(ok);
    expect(r, Code::InvalidArgument, Some("attachment_ids[1]"), "a file id that is not a UUID");
    let r = svc
        .return_assignment(
            h.officer(AG1, v1::ReturnAssignmentRequest { assignment_id: "42".into(), reason: "r".into() }),
        )
        .await
        .map(ok);
    expect(r, Code::InvalidArgument, Some("assignment_id"), "a malformed id");
    let r = svc.approve_result(h.leader(AG1, approve_req(AssignmentId::from_uuid(Uuid::now_v7())))).await.map(ok);
    expect(r, Code::NotFound, None, "an unknown assignment");
    let r = svc.approve_result(tonic::Request::new(approve_req(x))).await.map(ok);
    expect(r, Code::Unauthenticated, None, "no token");
    assert_eq!(h.snapshot(&[report]).await, before, "refusals changed something");

    // With a result waiting for the leader.
    svc.submit_result(h.officer(AG1, submit_req(x, "Đã lắp biển mới", &[]))).await.unwrap();
    let before = h.snapshot(&[report]).await;
    let r = svc.approve_result(h.leader(AG2, approve_req(x))).await.map(ok);
    expect(r, Code::PermissionDenied, None, "AG2's leader approves AG1's result");
    let r = svc.send_back_result(h.leader(AG1, send_back_req(x, ""))).await.map(ok);
    expect(r, Code::InvalidArgument, Some("reason"), "send back without a reason");
    let r = svc.submit_result(h.officer(AG1, submit_req(x, "Lần nữa", &[]))).await.map(ok);
    expect(r, Code::FailedPrecondition, None, "submit twice");
    let r = svc.return_assignment(h.officer(AG1, return_req(x, "Không thuộc thẩm quyền"))).await.map(ok);
    expect(r, Code::FailedPrecondition, None, "return after a result");
    let r = svc.explain_assignment(h.officer(AG1, explain_req(x, "Cần thời gian", (2027, 3, 19)))).await.map(ok);
    expect(r, Code::FailedPrecondition, None, "explain after a result");
    assert_eq!(h.snapshot(&[report]).await, before, "refusals changed something");
}

// The bus delivers at least once: a redelivered envelope (same event id) has one effect, a
// folded fact publishes nothing, and a fact that overtakes the one it follows waits for it.
async fn redelivery_has_one_effect(h: Harness) {
    let (mut story, received) = Story::received(&h, "Rò rỉ nước sạch", "2027-03-08T08:00:00+07:00");
    let accepted = story.accepted("2027-03-08T08:20:00+07:00");
    let (a, dispatched) = story.dispatched(&[AG1, AG2], "2027-03-08T08:40:00+07:00");
    // Early: the dispatch before the report exists is held (durably), and indexes nothing yet.
    h.deliver(&dispatched).await.unwrap();
    assert!(h.index().await.is_empty());
    for envelope in [&received, &accepted] {
        h.deliver(envelope).await.unwrap();
    }
    let once = h.snapshot(&[story.id()]).await;
    assert_eq!(once.replicas[0].version, 3);
    assert_eq!(once.replicas[0].state, story.report, "the replica is the producers' state");
    assert_eq!(once.index.len(), 2);
    for envelope in [&received, &accepted, &dispatched, &dispatched] {
        h.deliver(envelope).await.unwrap();
    }
    assert_eq!(h.snapshot(&[story.id()]).await, once, "redeliveries changed something");
    assert_eq!(h.count("outbox").await, 0);

    // After processing's own action, a late redelivery of the dispatch does not undo it.
    h.at("2027-03-08T10:00:00+07:00");
    h.svc.return_assignment(h.officer(AG2, return_req(a[1], "Không thuộc thẩm quyền"))).await.unwrap();
    h.deliver(&dispatched).await.unwrap();
    assert_eq!(h.row(a[1]).await.status, "returned");
    assert_eq!(h.replica(story.id()).await.version, 4);
    assert_eq!(h.outbox_keys().await, vec!["assignment.returned"]);
}

on_both!(
    return_goes_back_to_the_ioc_r8_2b,
    explain_moves_the_handling_deadline_r8_2a,
    submit_starts_the_approval_day_r9_2,
    resolved_only_when_every_agency_is_approved_r9_3,
    refused_actions_change_nothing,
    redelivery_has_one_effect,
);
