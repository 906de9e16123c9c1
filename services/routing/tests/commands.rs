//! Routing's lifecycle commands end to end over its gRPC trait: replicas fed through the
//! consumer with real envelopes, then dispatch (R7.3b), re-dispatch (R8.2b), escalation and
//! directives (R8.2c, R4.4), on Postgres and on SQLite.

mod common;

use common::*;
use paht_domain::actor::{Actor, Role};
use paht_domain::ids::{AssignmentId, UnitId};
use paht_domain::lifecycle::{AssignmentStatus, Command, ReportStatus};
use paht_proto::v1;
use paht_proto::v1::event_envelope::Payload;
use paht_proto::v1::routing_service_server::RoutingService as _;
use tonic::Code;

fn assignment_id(a: &v1::Assignment) -> AssignmentId {
    AssignmentId::from_uuid(a.id.parse().unwrap())
}

fn due(d: &Option<v1::Deadline>) -> chrono::DateTime<chrono::Utc> {
    paht_proto::convert::from_timestamp(d.as_ref().unwrap().due_at.as_ref().unwrap()).unwrap()
}

// R7.3b, R8.2a, R8.2b, R4.3: dispatched on Friday 5 March 2027 at 10:00 to a lead agency and a
// co-handler; each gets 1 working day to return it (Monday 8 March, close of office 17:00), 2 to
// explain (Tuesday 9 March) and 5 working days counted from the next working day to handle it
// (Monday 8 → Friday 12 March, 17:00), all in the outbox and the deadline table.
async fn dispatch_to_a_lead_and_a_co_handler_r7_3b_r8_2a(h: Harness) {
    let story = accepted_report(&h, &Spec::new("Ổ gà lớn giữa đường", "giao-thong"), "2027-03-05").await;
    h.at("2027-03-05T10:00:00+07:00");
    let response = h.svc.dispatch(h.ioc(dispatch_to(story.id(), &[AG1, AG2]))).await.unwrap().into_inner();
    let report = response.report.unwrap();
    assert_eq!(report.status, v1::ReportStatus::Dispatched as i32);
    assert_eq!(response.assignments.len(), 2);
    let (lead, co) = (&response.assignments[0], &response.assignments[1]);
    assert_eq!((lead.agency_unit_id.as_str(), lead.lead), (AG1, true));
    assert_eq!((co.agency_unit_id.as_str(), co.lead), (AG2, false));
    for a in &response.assignments {
        assert_eq!(a.status, v1::AssignmentStatus::Assigned as i32);
        assert_eq!(due(&a.handling_deadline), vn("2027-03-12T17:00:00+07:00"), "R8.2a: 5 working days");
        assert_eq!(due(&a.stage_deadline), vn("2027-03-08T17:00:00+07:00"), "R8.2b: return within 1 working day");
    }

    let replica = h.replica(story.id()).await;
    assert_eq!(replica.state.status, ReportStatus::Dispatched);
    assert_eq!(replica.state.assignments.len(), 2);
    assert_eq!(h.case(story.id()).await.status, "dispatched");

    let outbox = h.outbox().await;
    assert_eq!(outbox.len(), 1);
    let (key, envelope) = &outbox[0];
    assert_eq!(key, "report.dispatched");
    assert_eq!(envelope.report_id, story.id().to_string());
    assert_eq!(envelope.actor.as_ref().unwrap().role, v1::Role::IocOperator as i32);
    let Some(Payload::ReportDispatched(dispatched)) = &envelope.payload else { panic!("{envelope:?}") };
    assert!(!dispatched.redispatch);
    assert_eq!(
        dispatched.assignments.iter().map(|a| a.id.clone()).collect::<Vec<_>>(),
        vec![lead.id.clone(), co.id.clone()]
    );

    // The sweeper's rows: return, explanation and handling for each agency; the check is done.
    let open = h.open_deadlines(story.id()).await;
    let mut expected = Vec::new();
    for a in [lead, co] {
        let id = Some(a.id.parse().unwrap());
        expected.push((id, "explanation".to_owned(), vn("2027-03-09T17:00:00+07:00")));
        expected.push((id, "handling".to_owned(), vn("2027-03-12T17:00:00+07:00")));
        expected.push((id, "return".to_owned(), vn("2027-03-08T17:00:00+07:00")));
    }
    expected.sort();
    assert_eq!(open, expected);
    assert!(h.deadlines().await.iter().any(|d| d.stage == "check" && d.closed_at.is_some()), "R7.2 check closed");
}

// R7.3b: one agency alone leads even if the operator did not flag it.
async fn a_lone_agency_leads_r7_3b(h: Harness) {
    let story = accepted_report(&h, &Spec::new("Cây đổ chắn ngang đường", "giao-thong"), "2027-03-05").await;
    let mut request = dispatch_to(story.id(), &[AG2]);
    request.targets[0].lead = false;
    let response = h.svc.dispatch(h.ioc(request)).await.unwrap().into_inner();
    assert_eq!(response.assignments.len(), 1);
    assert!(response.assignments[0].lead);
}

// R7.3b, R4.3: only handling agencies of the directory are dispatched to; the IOC, the province,
// the provincial office and unknown units are refused with the field named, and nothing changes.
async fn targets_must_be_handling_agencies_r7_3b(h: Harness) {
    let story = accepted_report(&h, &Spec::new("Đèn đường không sáng", "giao-thong"), "2027-03-05").await;
    let before = h.snapshot(&[story.id()]).await;
    for (agencies, expected) in [
        (vec!["IOC-86"], vec!["targets[0].agency_unit_id"]),
        (vec!["NO-SUCH-UNIT"], vec!["targets[0].agency_unit_id"]),
        (vec![AG1, "UBND-86", OFFICE], vec!["targets[1].agency_unit_id", "targets[2].agency_unit_id"]),
        (vec![AG1, AG1], vec!["targets[1].agency_unit_id"]),
        (vec![""], vec!["targets[0].agency_unit_id"]),
        (vec![], vec!["targets"]),
    ] {
        let status = h.svc.dispatch(h.ioc(dispatch_to(story.id(), &agencies))).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{agencies:?}: {status:?}");
        assert_eq!(fields(&status), expected, "{agencies:?}");
    }
    // Two leads, or none among several: the lead rule of the domain, on `targets`.
    let mut two_leads = dispatch_to(story.id(), &[AG1, AG2]);
    two_leads.targets[1].lead = true;
    let status = h.svc.dispatch(h.ioc(two_leads)).await.unwrap_err();
    assert_eq!((status.code(), fields(&status)), (Code::InvalidArgument, vec!["targets".to_owned()]));
    let mut no_lead = dispatch_to(story.id(), &[AG1, AG2]);
    no_lead.targets[0].lead = false;
    let status = h.svc.dispatch(h.ioc(no_lead)).await.unwrap_err();
    assert_eq!((status.code(), fields(&status)), (Code::InvalidArgument, vec!["targets".to_owned()]));
    assert_eq!(h.snapshot(&[story.id()]).await, before, "nothing changed");
}

// R8.2b: the agency returns the report; the IOC forwards it to another agency, replacing the
// returned assignment once; the new assignment has fresh deadlines from the re-dispatch.
async fn redispatch_after_a_return_r8_2b(h: Harness) {
    let mut story = accepted_report(&h, &Spec::new("Nước ngập sâu sau mưa", "ha-tang"), "2027-03-05").await;
    let first = h.svc.dispatch(h.ioc(dispatch_to(story.id(), &[AG1]))).await.unwrap().into_inner();
    let returned = assignment_id(&first.assignments[0]);
    story.sync(&h).await;
    h.deliver(&story.returned(returned, "2027-03-05T14:00:00+07:00")).await.unwrap();
    let replica = h.replica(story.id()).await;
    assert_eq!(replica.state.status, ReportStatus::Accepted, "every agency returned it: back with the IOC");
    assert!(h.case(story.id()).await.awaiting_redispatch, "the IOC's re-dispatch queue");

    // A plain dispatch is refused: the returned assignment must be named.
    let status = h.svc.dispatch(h.ioc(dispatch_to(story.id(), &[AG2]))).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");

    h.at("2027-03-08T09:00:00+07:00");
    let request = v1::RedispatchRequest {
        report_id: story.id().to_string(),
        replaces_assignment_id: returned.to_string(),
        targets: vec![v1::DispatchTarget { agency_unit_id: AG2.into(), lead: false }],
        note: "Chuyển đơn vị có thẩm quyền".into(),
    };
    let response = h.svc.redispatch(h.ioc(request.clone())).await.unwrap().into_inner();
    let report = response.report.unwrap();
    assert_eq!(report.status, v1::ReportStatus::Dispatched as i32);
    assert_eq!(response.assignments.len(), 1);
    let new = &response.assignments[0];
    assert_eq!((new.agency_unit_id.as_str(), new.lead), (AG2, true), "the replacement leads");
    // Monday 8 March 09:00: handling from Tuesday 9 → Monday 15 March 17:00; return by Tuesday 9.
    assert_eq!(due(&new.handling_deadline), vn("2027-03-15T17:00:00+07:00"));
    assert_eq!(due(&new.stage_deadline), vn("2027-03-09T17:00:00+07:00"));
    let replica = h.replica(story.id()).await;
    assert_eq!(replica.state.assignment(returned).unwrap().status, AssignmentStatus::Returned);
    assert!(!replica.state.awaiting_redispatch);
    assert!(!h.case(story.id()).await.awaiting_redispatch);
    let redispatches = h.redispatches().await;
    assert_eq!(redispatches.len(), 1);
    assert_eq!(redispatches[0].replaced_assignment_id, returned.0);
    let (key, envelope) = h.outbox().await.pop().unwrap();
    assert_eq!(key, "report.dispatched");
    let Some(Payload::ReportDispatched(dispatched)) = envelope.payload else { panic!() };
    assert!(dispatched.redispatch);

    // The same returned assignment cannot be replaced twice; an assignment at work cannot be
    // replaced; a reference to no assignment of the report or no id at all is invalid.
    let before = h.snapshot(&[story.id()]).await;
    let mut again = request.clone();
    again.targets[0].agency_unit_id = AG3.into();
    let status = h.svc.redispatch(h.ioc(again.clone())).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    again.replaces_assignment_id = new.id.clone();
    let status = h.svc.redispatch(h.ioc(again.clone())).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    again.replaces_assignment_id = uuid::Uuid::now_v7().to_string();
    let status = h.svc.redispatch(h.ioc(again.clone())).await.unwrap_err();
    assert_eq!((status.code(), fields(&status)), (Code::InvalidArgument, vec!["replaces_assignment_id".to_owned()]));
    again.replaces_assignment_id = String::new();
    let status = h.svc.redispatch(h.ioc(again)).await.unwrap_err();
    assert_eq!((status.code(), fields(&status)), (Code::InvalidArgument, vec!["replaces_assignment_id".to_owned()]));
    assert_eq!(h.snapshot(&[story.id()]).await, before, "nothing changed");
}

// R11.3: the reporter disagreed and the IOC reopened the report; it is re-dispatched to one
// more agency without naming a returned assignment, beside the lead back at work.
async fn redispatch_after_a_reopen_r11_3(h: Harness) {
    let mut story = accepted_report(&h, &Spec::new("Nước sinh hoạt bị đục", "nuoc"), "2027-03-05").await;
    let first = h.svc.dispatch(h.ioc(dispatch_to(story.id(), &[AG1]))).await.unwrap().into_inner();
    let assignment = assignment_id(&first.assignments[0]);
    story.sync(&h).await;
    let officer = Actor::new("officer-1", Role::Officer, UnitId::new(AG1));
    let leader = Actor::new("leader-1", Role::Leader, UnitId::new(AG1));
    let result =
        Command::SubmitResult { assignment, text: "Đã súc xả đường ống".into(), attachments: vec![] };
    let mut envelopes = story.step(&officer, result, "2027-03-08T09:00:00+07:00");
    envelopes.extend(story.step(&leader, Command::Approve { assignment }, "2027-03-08T10:00:00+07:00"));
    envelopes.extend(story.step(
        &ioc_actor(),
        Command::EditAnswer { text: "Đã xử lý".into() },
        "2027-03-08T11:00:00+07:00",
    ));
    envelopes.extend(story.step(&ioc_actor(), Command::Publish, "2027-03-08T11:10:00+07:00"));
    let reopen = Command::Reopen { feedback: "Nước vẫn còn đục".into() };
    // The reporter writes again (R11.3): publication states the reopen as the reporter's.
    let reporter = Actor::new("reporter", Role::Reporter, UnitId::new(INSTANCE));
    envelopes.extend(story.step(&reporter, reopen, "2027-03-09T08:00:00+07:00"));
    h.deliver_all(&envelopes).await;
    assert_eq!(h.replica(story.id()).await.state, story.report, "routing replayed every fact");
    assert_eq!(h.case(story.id()).await.status, "reopened");

    h.at("2027-03-09T09:00:00+07:00");
    let request = v1::RedispatchRequest {
        report_id: story.id().to_string(),
        replaces_assignment_id: String::new(),
        targets: vec![v1::DispatchTarget { agency_unit_id: "CTN-BENTRE".into(), lead: false }],
        note: String::new(),
    };
    let response = h.svc.redispatch(h.ioc(request)).await.unwrap().into_inner();
    assert_eq!(response.report.unwrap().status, v1::ReportStatus::Reopened as i32);
    assert_eq!(response.assignments.len(), 1);
    assert!(!response.assignments[0].lead, "the lead back at work keeps leading");
    assert!(h.redispatches().await.is_empty(), "no returned assignment was replaced");
    let state = h.replica(story.id()).await.state;
    assert_eq!(state.active_assignments().count(), 2);
}

// R8.2b: a co-handler returns while the lead keeps working; the replacement co-handles (the
// lead is still at work) and the report stays dispatched.
async fn a_returned_co_handler_is_replaced_beside_the_lead_r8_2b(h: Harness) {
    let mut story = accepted_report(&h, &Spec::new("Rác thải đổ trộm ven sông", "moi-truong"), "2027-03-05").await;
    let first = h.svc.dispatch(h.ioc(dispatch_to(story.id(), &[AG3, AG1]))).await.unwrap().into_inner();
    let co = assignment_id(&first.assignments[1]);
    story.sync(&h).await;
    h.deliver(&story.returned(co, "2027-03-05T15:00:00+07:00")).await.unwrap();
    assert_eq!(h.replica(story.id()).await.state.status, ReportStatus::Dispatched);
    let request = v1::RedispatchRequest {
        report_id: story.id().to_string(),
        replaces_assignment_id: co.to_string(),
        targets: vec![v1::DispatchTarget { agency_unit_id: WARD.into(), lead: false }],
        note: String::new(),
    };
    let response = h.svc.redispatch(h.ioc(request)).await.unwrap().into_inner();
    assert!(!response.assignments[0].lead, "the lead is still at work");
    let state = h.replica(story.id()).await.state;
    assert_eq!(state.active_assignments().filter(|a| a.lead).count(), 1);
}

// R8.2c: an unclear case goes to the provincial office, due 1 working day after it reached the
// IOC; the office directs it to two agencies with fresh assignment ids.
async fn escalate_then_directive_dispatch_r8_2c(h: Harness) {
    let story = accepted_report(&h, &Spec::new("Sạt lở bờ kênh", "ha-tang"), "2027-03-05").await;
    let request = v1::EscalateRequest {
        report_id: story.id().to_string(),
        reason: v1::EscalationReason::UnclearCompetence as i32,
        note: "Chưa rõ đơn vị có thẩm quyền".into(),
        duplicate_of: String::new(),
    };
    let response = h.svc.escalate(h.ioc(request)).await.unwrap().into_inner();
    let escalation = response.escalation.unwrap();
    assert_eq!(response.report.unwrap().status, v1::ReportStatus::Escalated as i32);
    assert_eq!(due(&escalation.deadline), vn("2027-03-08T17:00:00+07:00"), "R8.2c: 1 working day");
    assert_eq!(h.case(story.id()).await.status, "escalated");

    h.at("2027-03-08T08:30:00+07:00");
    let directive = v1::IssueDirectiveRequest {
        report_id: story.id().to_string(),
        escalation_id: escalation.id.clone(),
        directive: Some(v1::Directive {
            action: Some(v1::directive::Action::Dispatch(v1::DispatchDirective {
                agency_unit_ids: vec![AG3.into(), WARD.into()],
                lead_agency_unit_id: AG3.into(),
                assignment_ids: vec![],
            })),
            instructions: "Sở Nông nghiệp và Môi trường chủ trì, phường phối hợp".into(),
            ..Default::default()
        }),
    };
    let response = h.svc.issue_directive(h.office(directive.clone())).await.unwrap().into_inner();
    let issued = response.directive.unwrap();
    assert_eq!(issued.escalation_id, escalation.id);
    assert_eq!(issued.issued_by.unwrap().role, v1::Role::ProvincialOffice as i32);
    let Some(v1::directive::Action::Dispatch(d)) = issued.action else { panic!("a dispatch directive") };
    assert_eq!(d.agency_unit_ids, vec![AG3, WARD]);
    assert_eq!(d.lead_agency_unit_id, AG3);
    assert_eq!(d.assignment_ids.len(), 2);
    let report = response.report.unwrap();
    assert_eq!(report.status, v1::ReportStatus::Dispatched as i32);
    let ids: Vec<&str> = report.assignments.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, d.assignment_ids.iter().map(String::as_str).collect::<Vec<_>>(), "fresh ids, as announced");
    // Monday 8 March 08:30: 5 working days from Tuesday 9 → Monday 15 March, 17:00 (R8.2a).
    assert!(report.assignments.iter().all(|a| due(&a.handling_deadline) == vn("2027-03-15T17:00:00+07:00")));
    assert_eq!(h.outbox_keys().await, vec!["report.escalated", "directive.issued", "report.dispatched"]);

    // Answered: the same escalation cannot be directed again.
    let status = h.svc.issue_directive(h.office(directive)).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
}

// R8.2c: a duplicate is escalated naming the earlier report, and the office closes it with a
// notice to the reporter; its open deadlines end.
async fn escalate_duplicate_then_directive_close_r8_2c(h: Harness) {
    let earlier = accepted_report(&h, &Spec::new("Ổ gà trước trường học", "giao-thong"), "2027-03-01").await;
    let story = accepted_report(&h, &Spec::new("Ổ gà trước cổng trường", "giao-thong"), "2027-03-05").await;
    let mut request = v1::EscalateRequest {
        report_id: story.id().to_string(),
        reason: v1::EscalationReason::Duplicate as i32,
        note: "Trùng phản ánh trước".into(),
        duplicate_of: String::new(),
    };
    let status = h.svc.escalate(h.ioc(request.clone())).await.unwrap_err();
    assert_eq!((status.code(), fields(&status)), (Code::InvalidArgument, vec!["duplicate_of".to_owned()]));
    request.duplicate_of = story.id().to_string();
    let status = h.svc.escalate(h.ioc(request.clone())).await.unwrap_err();
    assert_eq!((status.code(), fields(&status)), (Code::InvalidArgument, vec!["duplicate_of".to_owned()]));
    request.duplicate_of = earlier.id().to_string();
    let response = h.svc.escalate(h.ioc(request)).await.unwrap().into_inner();
    let escalation = response.escalation.unwrap();
    assert_eq!(escalation.duplicate_of, earlier.id().to_string());
    assert_eq!(h.case(story.id()).await.duplicate_of, Some(earlier.id().0));

    // A malformed escalation id is invalid; a stale one is not the current escalation.
    let mut directive = v1::IssueDirectiveRequest {
        report_id: story.id().to_string(),
        escalation_id: "whatever".into(),
        directive: Some(v1::Directive {
            action: Some(v1::directive::Action::Close(v1::CloseDirective {
                notice: "Phản ánh trùng, đã được xử lý tại phản ánh trước".into(),
            })),
            ..Default::default()
        }),
    };
    let status = h.svc.issue_directive(h.office(directive.clone())).await.unwrap_err();
    assert_eq!((status.code(), fields(&status)), (Code::InvalidArgument, vec!["escalation_id".to_owned()]));
    directive.escalation_id = format!("{}@1", story.id());
    let status = h.svc.issue_directive(h.office(directive.clone())).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    // A close without a notice names the field.
    directive.escalation_id = escalation.id.clone();
    let mut blank = directive.clone();
    blank.directive.as_mut().unwrap().action =
        Some(v1::directive::Action::Close(v1::CloseDirective { notice: " ".into() }));
    let status = h.svc.issue_directive(h.office(blank)).await.unwrap_err();
    assert_eq!((status.code(), fields(&status)), (Code::InvalidArgument, vec!["directive.close.notice".to_owned()]));

    let response = h.svc.issue_directive(h.office(directive)).await.unwrap().into_inner();
    assert_eq!(response.report.as_ref().unwrap().status, v1::ReportStatus::Closed as i32);
    assert!(matches!(response.directive.unwrap().action, Some(v1::directive::Action::Close(_))));
    assert_eq!(h.outbox_keys().await, vec!["report.escalated", "directive.issued", "report.closed"]);
    let (_, closed) = h.outbox().await.pop().unwrap();
    let Some(Payload::ReportClosed(closed)) = closed.payload else { panic!() };
    assert!(closed.notice.contains("trùng"));
    assert_eq!(h.replica(story.id()).await.state.status, ReportStatus::Closed);
    assert_eq!(h.case(story.id()).await.status, "closed");
    assert!(h.open_deadlines(story.id()).await.is_empty(), "a closed report has no deadline running");
}

// The replica consumer builds routing's state from intake's facts: the replica, the `cases`
// row with the report's place and fingerprint, and the R7.2 check deadline.
async fn the_consumer_indexes_received_reports(h: Harness) {
    let spec = Spec::new("Đèn tín hiệu giao thông hỏng", "giao-thong").at(10.2415, 106.3759).in_unit(WARD_CODE);
    let (mut story, received) = Story::received(&h, &spec, "2027-03-05T08:00:00+07:00");
    h.deliver(&received).await.unwrap();
    h.deliver(&received).await.unwrap();
    let row = h.case(story.id()).await;
    assert_eq!((row.status.as_str(), row.tracking_code.as_str()), ("received", spec.tracking_code.as_str()));
    assert_eq!(
        (row.latitude, row.longitude, row.unit_code.as_deref()),
        (Some(10.2415), Some(106.3759), Some(WARD_CODE))
    );
    assert!(row.fingerprint.contains("\"den\"") && row.fingerprint.contains("\"giao thong\""), "{}", row.fingerprint);
    assert_eq!(h.open_deadlines(story.id()).await.len(), 1, "R7.2 check deadline");
    h.deliver(&story.accepted("2027-03-05T08:20:00+07:00")).await.unwrap();
    assert_eq!(h.case(story.id()).await.status, "accepted");
    assert_eq!(h.replica(story.id()).await.version, 2, "each event applied once");
    assert!(h.outbox_keys().await.is_empty(), "a replay publishes nothing");
}

// R13.1, R14.4, R18.1: the sweeper of the service reminds the focal officers in effect when it
// runs — those an administrator set a moment ago for one agency, the shipped ones for the other.
async fn the_sweeper_reminds_the_focal_officers_in_effect_r13_1_r18_1(h: Harness) {
    let story = accepted_report(&h, &Spec::new("Ổ gà lớn giữa đường", "giao-thong"), "2027-03-05").await;
    h.svc.dispatch(h.ioc(dispatch_to(story.id(), &[AG1, AG2]))).await.unwrap();
    let focal = v1::FocalPoint {
        subject: "cb-xd-moi".into(),
        name: "Cán bộ đầu mối mới".into(),
        role: v1::Role::Officer as i32,
        ..Default::default()
    };
    let set = v1::SetFocalPointsRequest { unit_id: AG1.into(), focal_points: vec![focal] };
    h.svc.set_focal_points(h.admin(set)).await.unwrap();

    // Friday 12 March, 16:30: half an hour before the handling deadline (R8.2a).
    let stats = h.svc.sweeper().sweep_once(vn("2027-03-12T16:30:00+07:00")).await.unwrap();
    assert_eq!(stats.due_soon, 2, "{stats:?}");
    let mut reminded: Vec<(String, Vec<String>)> = h
        .outbox()
        .await
        .into_iter()
        .filter(|(key, _)| key == "deadline.due_soon")
        .map(|(_, envelope)| {
            let Some(Payload::DeadlineDueSoon(due)) = envelope.payload else { panic!("{envelope:?}") };
            assert_eq!(due.deadline.unwrap().stage, v1::DeadlineStage::Handling as i32);
            (due.responsible_unit_id, due.remind_subjects)
        })
        .collect();
    reminded.sort();
    assert_eq!(
        reminded,
        vec![
            (AG1.to_owned(), vec!["cb-xd-moi".to_owned()]),
            (AG2.to_owned(), vec!["sample-longchau-focal".to_owned()]),
        ]
    );
}

on_both!(
    the_sweeper_reminds_the_focal_officers_in_effect_r13_1_r18_1,
    dispatch_to_a_lead_and_a_co_handler_r7_3b_r8_2a,
    a_lone_agency_leads_r7_3b,
    targets_must_be_handling_agencies_r7_3b,
    redispatch_after_a_return_r8_2b,
    redispatch_after_a_reopen_r11_3,
    a_returned_co_handler_is_replaced_beside_the_lead_r8_2b,
    escalate_then_directive_dispatch_r8_2c,
    escalate_duplicate_then_directive_close_r8_2c,
    the_consumer_indexes_received_reports,
);
