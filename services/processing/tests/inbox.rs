//! The agency inbox and the reads, end to end over the gRPC trait: replicas fed through the
//! consumer with the envelopes intake and routing publish, on Postgres (a fresh database per
//! test) and on SQLite.

mod common;

use common::{AG1, AG2, Harness, INSTANCE, Story, dispatched_report, fields, vn};
use paht_domain::actor::{Actor, Role};
use paht_domain::ids::{AssignmentId, UnitId};
use paht_domain::lifecycle::{self as lc, Command};
use paht_proto::convert;
use paht_proto::v1;
use paht_proto::v1::processing_service_server::ProcessingService as _;
use tonic::Code;

fn list(agency: &str, statuses: &[v1::AssignmentStatus], size: u32, token: &str) -> v1::ListInboxRequest {
    v1::ListInboxRequest {
        agency_unit_id: agency.into(),
        statuses: statuses.iter().map(|s| *s as i32).collect(),
        page: Some(v1::PageRequest { page_size: size, page_token: token.into() }),
    }
}

fn ids(page: &v1::ListInboxResponse) -> Vec<String> {
    page.items.iter().map(|i| i.assignment.as_ref().unwrap().id.clone()).collect()
}

fn due(item: &v1::InboxItem) -> chrono::DateTime<chrono::Utc> {
    let stage = item.assignment.as_ref().unwrap().stage_deadline.as_ref().unwrap();
    convert::from_timestamp(stage.due_at.as_ref().unwrap()).unwrap()
}

fn explain(id: AssignmentId, date: (i32, i32, i32)) -> v1::ExplainAssignmentRequest {
    v1::ExplainAssignmentRequest {
        assignment_id: id.to_string(),
        explanation: Some(v1::Explanation {
            reason: "Cần phối hợp với điện lực để di dời cột".into(),
            expected_completion_date: Some(v1::Date { year: date.0, month: date.1, day: date.2 }),
            explained_at: None,
        }),
    }
}

// R13.1, R8.2b, R8.2a: an agency's inbox lists its open assignments nearest deadline first —
// not in arrival order — and an explanation that moves the deadline moves the entry; pages
// follow one another without gaps or repeats.
async fn inbox_orders_by_deadline_and_pages_r13_1(h: Harness) {
    // Dispatched Wed, Mon, Tue (delivered in that order): due to return by Thu, Tue, Wed (R8.2b).
    let (r3, a3) = dispatched_report(&h, "Cây đổ chắn đường", "2027-03-10", &[AG1, AG2]).await;
    let (r1, a1) = dispatched_report(&h, "Ổ gà lớn trước số nhà 25", "2027-03-08", &[AG1]).await;
    let (r2, a2) = dispatched_report(&h, "Đèn đường không sáng", "2027-03-09", &[AG1]).await;

    let page = h.svc.list_inbox(h.officer(AG1, list("", &[], 0, ""))).await.unwrap().into_inner();
    assert_eq!(ids(&page), vec![a1[0].to_string(), a2[0].to_string(), a3[0].to_string()]);
    assert_eq!(page.next_page_token, "");
    let dues: Vec<_> = page.items.iter().map(due).collect();
    assert_eq!(
        dues,
        vec![vn("2027-03-09T17:00:00+07:00"), vn("2027-03-10T17:00:00+07:00"), vn("2027-03-11T17:00:00+07:00")]
    );
    // Each entry carries its report as staff see it.
    let first = &page.items[0];
    let report = first.report.as_ref().unwrap();
    assert_eq!(report.id, r1.to_string());
    assert_eq!(report.content, "Ổ gà lớn trước số nhà 25");
    assert_eq!(report.status, v1::ReportStatus::Dispatched as i32);
    assert_eq!(report.instance_id, INSTANCE);
    assert_eq!(first.assignment.as_ref().unwrap().status, v1::AssignmentStatus::Assigned as i32);

    // R8.2a: AG1 explains report 1 on Tuesday, expecting to finish Friday 26 March: it moves last.
    h.at("2027-03-09T09:00:00+07:00");
    h.svc.explain_assignment(h.officer(AG1, explain(a1[0], (2027, 3, 26)))).await.unwrap();

    let first = h.svc.list_inbox(h.officer(AG1, list("", &[], 2, ""))).await.unwrap().into_inner();
    assert_eq!(ids(&first), vec![a2[0].to_string(), a3[0].to_string()]);
    assert!(!first.next_page_token.is_empty());
    let second = h.svc.list_inbox(h.officer(AG1, list("", &[], 2, &first.next_page_token))).await.unwrap().into_inner();
    assert_eq!(ids(&second), vec![a1[0].to_string()]);
    assert_eq!(due(&second.items[0]), vn("2027-03-26T17:00:00+07:00"));
    assert_eq!(second.next_page_token, "");

    // Only the requested statuses.
    let explained = list("", &[v1::AssignmentStatus::Explained], 0, "");
    let page = h.svc.list_inbox(h.leader(AG1, explained)).await.unwrap().into_inner();
    assert_eq!(ids(&page), vec![a1[0].to_string()]);

    // AG2 sees only its share of report 3.
    let page = h.svc.list_inbox(h.officer(AG2, list("", &[], 0, ""))).await.unwrap().into_inner();
    assert_eq!(ids(&page), vec![a3[1].to_string()]);
    assert_eq!(page.items[0].report.as_ref().unwrap().id, r3.to_string());
    assert_eq!(page.items[0].report.as_ref().unwrap().assignments.len(), 2);
    let _ = r2;
}

// R13.1, R12.2, R16.2: officers and leaders read their own agency's inbox only; the IOC, the
// provincial office, inspectors and the system read any agency's; nobody else does.
async fn inbox_readers_r13_1(h: Harness) {
    let (_, a) = dispatched_report(&h, "Rác thải ùn ứ", "2027-03-08", &[AG1]).await;
    let expected = vec![a[0].to_string()];
    for role in [Role::IocOperator, Role::ProvincialOffice, Role::Inspector, Role::System] {
        let page = h.svc.list_inbox(h.as_role(role, "ANY-UNIT", list(AG1, &[], 0, ""))).await.unwrap().into_inner();
        assert_eq!(ids(&page), expected, "{role}");
    }
    let page = h.svc.list_inbox(h.officer(AG1, list(AG1, &[], 0, ""))).await.unwrap().into_inner();
    assert_eq!(ids(&page), expected);
    for (role, unit) in [(Role::Officer, AG2), (Role::Leader, AG2)] {
        let status = h.svc.list_inbox(h.as_role(role, unit, list(AG1, &[], 0, ""))).await.unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied, "{role}");
    }
    for role in [Role::SystemOperator, Role::Reporter] {
        let status = h.svc.list_inbox(h.as_role(role, AG1, list(AG1, &[], 0, ""))).await.unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied, "{role}");
    }
    // An empty agency is the caller's own unit: the IOC's own inbox is empty.
    let page = h.svc.list_inbox(h.ioc(list("", &[], 0, ""))).await.unwrap().into_inner();
    assert!(page.items.is_empty());
    // No token, no call.
    let status = h.svc.list_inbox(tonic::Request::new(list(AG1, &[], 0, ""))).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
}

// Malformed paging and statuses name their field.
async fn inbox_refuses_bad_tokens_and_statuses(h: Harness) {
    let status = h.svc.list_inbox(h.officer(AG1, list("", &[], 0, "not-a-token"))).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(fields(&status), vec!["page.page_token"]);
    let status = h
        .svc
        .list_inbox(
            h.officer(AG1, list("", &[v1::AssignmentStatus::Assigned, v1::AssignmentStatus::Unspecified], 0, "")),
        )
        .await
        .unwrap_err();
    assert_eq!(fields(&status), vec!["statuses[1]"]);
}

// R13.1: a long inbox comes in pages of the default size (50), capped at 200, in deadline order.
async fn inbox_default_page_size_r13_1(h: Harness) {
    let mut expected = Vec::new();
    for i in 0..53 {
        let (mut story, received) = Story::received(&h, &format!("Phản ánh số {i}"), "2027-03-08T08:00:00+07:00");
        let accepted = story.accepted("2027-03-08T08:20:00+07:00");
        // Dispatched Monday to Friday: each is due to return the next working day (R8.2b).
        let day = 8 + (i % 5);
        let (ids, dispatched) = story.dispatched(&[AG1], &format!("2027-03-{day:02}T09:00:00+07:00"));
        h.deliver_all(&[received, accepted, dispatched]).await;
        expected.push((day, ids[0].to_string()));
    }
    expected.sort();
    let expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();
    let first = h.svc.list_inbox(h.officer(AG1, list("", &[], 0, ""))).await.unwrap().into_inner();
    assert_eq!(first.items.len(), 50);
    let rest = h.svc.list_inbox(h.officer(AG1, list("", &[], 500, &first.next_page_token))).await.unwrap().into_inner();
    assert_eq!(rest.items.len(), 3);
    assert_eq!(rest.next_page_token, "");
    // Same deadline: ties go by id, which for v7 ids minted in order is the order of minting.
    let listed: Vec<String> = ids(&first).into_iter().chain(ids(&rest)).collect();
    assert_eq!(listed, expected);
    let all = h.svc.list_inbox(h.officer(AG1, list("", &[], 500, ""))).await.unwrap().into_inner();
    assert_eq!(all.items.len(), 53, "the cap (200) is above 53");
}

// GetAssignment: the agency's own officers and leaders, the IOC, the provincial office and
// inspectors read an assignment with its report; others are refused.
async fn get_assignment_readers(h: Harness) {
    let (report, a) = dispatched_report(&h, "Nước ngập sau mưa", "2027-03-08", &[AG1, AG2]).await;
    let get = |id: String| v1::GetAssignmentRequest { assignment_id: id };
    for (role, unit) in [
        (Role::Officer, AG1),
        (Role::Leader, AG1),
        (Role::IocOperator, INSTANCE),
        (Role::ProvincialOffice, "VP-UBND-86"),
        (Role::Inspector, "SO-NV-86"),
    ] {
        let out = h.svc.get_assignment(h.as_role(role, unit, get(a[0].to_string()))).await.unwrap().into_inner();
        let assignment = out.assignment.unwrap();
        assert_eq!(assignment.id, a[0].to_string(), "{role}");
        assert_eq!(assignment.agency_unit_id, AG1);
        assert!(assignment.lead);
        assert_eq!(assignment.report_id, report.to_string());
        assert_eq!(out.report.unwrap().content, "Nước ngập sau mưa");
    }
    for (role, unit) in
        [(Role::Officer, AG2), (Role::Leader, AG2), (Role::SystemOperator, "TTTT"), (Role::Reporter, "-")]
    {
        let status = h.svc.get_assignment(h.as_role(role, unit, get(a[0].to_string()))).await.unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied, "{role} of {unit}");
    }
    let status = h.svc.get_assignment(h.ioc(get("nope".into()))).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(fields(&status), vec!["assignment_id"]);
    let status = h.svc.get_assignment(h.ioc(get(uuid::Uuid::now_v7().to_string()))).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
}

// R11.3: a reporter who disagrees reopens the report (a fact of another service, replayed):
// the approved assignments come back into their agencies' inboxes with fresh deadlines.
async fn reopened_report_returns_to_the_inbox_r11_3(h: Harness) {
    let (mut story, received) = Story::received(&h, "Mùi hôi từ bãi rác", "2027-03-08T08:00:00+07:00");
    let accepted = story.accepted("2027-03-08T08:20:00+07:00");
    let (a, dispatched) = story.dispatched(&[AG1], "2027-03-08T08:40:00+07:00");
    h.deliver_all(&[received, accepted, dispatched]).await;
    h.at("2027-03-09T09:00:00+07:00");
    let submit = v1::SubmitResultRequest {
        assignment_id: a[0].to_string(),
        text: "Đã thu gom rác".into(),
        attachment_ids: vec![],
    };
    h.svc.submit_result(h.officer(AG1, submit)).await.unwrap();
    let approve = v1::ApproveResultRequest { assignment_id: a[0].to_string(), note: String::new() };
    h.svc.approve_result(h.leader(AG1, approve)).await.unwrap();
    assert!(h.svc.list_inbox(h.officer(AG1, list("", &[], 0, ""))).await.unwrap().into_inner().items.is_empty());

    // The IOC answers and publishes; the reporter writes again and the IOC reopens (R10.3a, R11.3).
    // Routing folds the approval and resolves the report; the IOC answers.
    story.sync(&h).await;
    let routing =
        paht_domain::actor::Actor::new("routing", paht_domain::actor::Role::System, story.report.instance.clone());
    let mut facts = story.step(&routing, Command::Resolve, "2027-03-09T09:30:00+07:00");
    let ioc = common::ioc();
    facts.extend(story.step(&ioc, Command::EditAnswer { text: "Đã thu gom".into() }, "2027-03-09T10:00:00+07:00"));
    facts.extend(story.step(&ioc, Command::Publish, "2027-03-09T10:30:00+07:00"));
    let reporter =
        paht_domain::actor::Actor::new("reporter", paht_domain::actor::Role::Reporter, story.report.instance.clone());
    facts.extend(story.step(
        &reporter,
        Command::Reopen { feedback: "Vẫn còn rác".into() },
        "2027-03-10T09:00:00+07:00",
    ));
    h.deliver_all(&facts).await;

    let page = h.svc.list_inbox(h.officer(AG1, list("", &[], 0, ""))).await.unwrap().into_inner();
    assert_eq!(ids(&page), vec![a[0].to_string()]);
    let assignment = page.items[0].assignment.as_ref().unwrap();
    assert_eq!(assignment.status, v1::AssignmentStatus::Assigned as i32);
    // Reassigned Wednesday: return by Thursday 17:00 (R8.2b), handle by Wednesday 17 March (R8.2a).
    assert_eq!(due(&page.items[0]), vn("2027-03-11T17:00:00+07:00"));
    let row = h.row(a[0]).await;
    assert_eq!((row.status.as_str(), row.handling_due_at), ("assigned", vn("2027-03-17T17:00:00+07:00")));
    assert_eq!(page.items[0].report.as_ref().unwrap().status, v1::ReportStatus::Reopened as i32);
    assert!(h.outbox_keys().await.iter().all(|k| k.starts_with("assignment.")), "processing decides assignments only");
}

// R8.2c: the provincial office closes an escalated report: its assignments are cancelled and
// leave the inbox; actions on them are refused.
async fn closing_directive_empties_the_inbox_r8_2c(h: Harness) {
    let (mut story, received) = Story::received(&h, "Tranh chấp ranh giới đất", "2027-03-08T08:00:00+07:00");
    let accepted = story.accepted("2027-03-08T08:20:00+07:00");
    let (a, dispatched) = story.dispatched(&[AG1, AG2], "2027-03-08T08:40:00+07:00");
    let escalate = Command::Escalate {
        reason: lc::EscalationReason::AgenciesDisagree,
        note: "Hai cơ quan không thống nhất phương án".into(),
        duplicate_of: None,
    };
    let mut facts = vec![received, accepted, dispatched];
    facts.extend(story.step(&common::ioc(), escalate, "2027-03-09T09:00:00+07:00"));
    let office = Actor::new("vp-1", Role::ProvincialOffice, UnitId::new("VP-UBND-86"));
    let close = Command::Direct(lc::Directive::Close { notice: "Đề nghị khởi kiện tại Tòa án".into() });
    facts.extend(story.step(&office, close, "2027-03-09T15:00:00+07:00"));
    h.deliver_all(&facts).await;
    for agency in [AG1, AG2] {
        assert!(h.svc.list_inbox(h.officer(agency, list("", &[], 0, ""))).await.unwrap().into_inner().items.is_empty());
    }
    let cancelled = list(AG1, &[v1::AssignmentStatus::Cancelled], 0, "");
    assert_eq!(ids(&h.svc.list_inbox(h.ioc(cancelled)).await.unwrap().into_inner()), vec![a[0].to_string()]);
    assert_eq!(h.row(a[1]).await.status, "cancelled");
    let submit =
        v1::SubmitResultRequest { assignment_id: a[0].to_string(), text: "Xong".into(), attachment_ids: vec![] };
    let status = h.svc.submit_result(h.officer(AG1, submit)).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(h.count("outbox").await, 0);
}

on_both!(
    reopened_report_returns_to_the_inbox_r11_3,
    closing_directive_empties_the_inbox_r8_2c,
    inbox_orders_by_deadline_and_pages_r13_1,
    inbox_readers_r13_1,
    inbox_refuses_bad_tokens_and_statuses,
    inbox_default_page_size_r13_1,
    get_assignment_readers,
);
