//! Every refused action leaves the replica, the `cases` index, the deadlines and the outbox as
//! they were: wrong role, another instance's operator, wrong state (R4.2, R7.3b, R8.2b, R8.2c).

mod common;

use common::*;
use paht_domain::actor::Role;
use paht_proto::v1;
use paht_proto::v1::routing_service_server::RoutingService as _;
use tonic::{Code, Status};

fn escalate(report: &Story, reason: v1::EscalationReason, note: &str) -> v1::EscalateRequest {
    v1::EscalateRequest {
        report_id: report.id().to_string(),
        reason: reason as i32,
        note: note.into(),
        duplicate_of: String::new(),
    }
}

fn close(report: &Story, escalation_id: &str) -> v1::IssueDirectiveRequest {
    v1::IssueDirectiveRequest {
        report_id: report.id().to_string(),
        escalation_id: escalation_id.into(),
        directive: Some(v1::Directive {
            action: Some(v1::directive::Action::Close(v1::CloseDirective { notice: "Đóng".into() })),
            ..Default::default()
        }),
    }
}

fn code_of<T: std::fmt::Debug>(result: Result<tonic::Response<T>, Status>) -> Code {
    result.expect_err("the action is refused").code()
}

// R7.3b, R8.2b: only an operator of the report's own IOC dispatches and re-dispatches, and only
// an accepted report; nothing changes when refused.
async fn dispatch_is_refused_to_others_and_in_the_wrong_state_r7_3b(h: Harness) {
    let (received, envelope) =
        Story::received(&h, &Spec::new("Mất điện cả khu phố", "dien"), "2027-03-05T08:00:00+07:00");
    h.deliver(&envelope).await.unwrap();
    let accepted = accepted_report(&h, &Spec::new("Cống thoát nước bị nghẹt", "ha-tang"), "2027-03-05").await;
    let reports = [received.id(), accepted.id()];
    let before = h.snapshot(&reports).await;

    let request = dispatch_to(accepted.id(), &[AG1]);
    for (role, unit) in [
        (Role::Officer, AG1),
        (Role::Leader, AG1),
        (Role::ProvincialOffice, OFFICE),
        (Role::SystemOperator, "SO-NV-86"),
        (Role::Inspector, "SO-NV-86"),
        (Role::Reporter, INSTANCE),
        (Role::IocOperator, OTHER_INSTANCE),
    ] {
        let code = code_of(h.svc.dispatch(h.as_role(role, unit, request.clone())).await);
        assert_eq!(code, Code::PermissionDenied, "{role} of {unit}");
    }
    let redispatch = v1::RedispatchRequest {
        report_id: accepted.id().to_string(),
        replaces_assignment_id: uuid::Uuid::now_v7().to_string(),
        targets: request.targets.clone(),
        note: String::new(),
    };
    let code = code_of(h.svc.redispatch(h.as_role(Role::IocOperator, OTHER_INSTANCE, redispatch.clone())).await);
    assert_eq!(code, Code::PermissionDenied);
    assert_eq!(code_of(h.svc.redispatch(h.as_role(Role::Officer, AG1, redispatch)).await), Code::PermissionDenied);
    // Not yet checked: nothing to dispatch (R7.3a comes first).
    let code = code_of(h.svc.dispatch(h.ioc(dispatch_to(received.id(), &[AG1]))).await);
    assert_eq!(code, Code::FailedPrecondition);
    let missing = dispatch_to(paht_domain::ids::ReportId::from_uuid(uuid::Uuid::now_v7()), &[AG1]);
    assert_eq!(code_of(h.svc.dispatch(h.ioc(missing)).await), Code::NotFound);
    assert_eq!(h.snapshot(&reports).await, before, "nothing changed");

    // Once dispatched, dispatching again is a state error, not a second dispatch.
    h.svc.dispatch(h.ioc(request.clone())).await.unwrap();
    let before = h.snapshot(&reports).await;
    assert_eq!(code_of(h.svc.dispatch(h.ioc(dispatch_to(accepted.id(), &[AG2]))).await), Code::FailedPrecondition);
    assert_eq!(h.snapshot(&reports).await, before, "nothing changed");
}

// R8.2c, R4.4: only the instance's operators escalate, with a note, a reason, and agencies at
// work for the R4.4 reasons; only the provincial office directs, and only an escalated report.
async fn escalation_and_directives_are_refused_to_others_r8_2c(h: Harness) {
    let (received, envelope) =
        Story::received(&h, &Spec::new("Lấn chiếm vỉa hè", "trat-tu-do-thi"), "2027-03-05T08:00:00+07:00");
    h.deliver(&envelope).await.unwrap();
    let story = accepted_report(&h, &Spec::new("Sạt lở bờ sông", "ha-tang"), "2027-03-05").await;
    let reports = [received.id(), story.id()];
    let before = h.snapshot(&reports).await;

    let unclear = escalate(&story, v1::EscalationReason::UnclearCompetence, "Chưa rõ thẩm quyền");
    for (role, unit) in [(Role::Officer, AG1), (Role::ProvincialOffice, OFFICE), (Role::IocOperator, OTHER_INSTANCE)] {
        assert_eq!(code_of(h.svc.escalate(h.as_role(role, unit, unclear.clone())).await), Code::PermissionDenied);
    }
    let code =
        code_of(h.svc.escalate(h.ioc(escalate(&received, v1::EscalationReason::Untrue, "Không đúng sự thật"))).await);
    assert_eq!(code, Code::FailedPrecondition, "R7.3a: a report is checked before it is escalated");
    let status = h.svc.escalate(h.ioc(escalate(&story, v1::EscalationReason::Untrue, " "))).await.unwrap_err();
    assert_eq!((status.code(), fields(&status)), (Code::InvalidArgument, vec!["note".to_owned()]));
    let status =
        h.svc.escalate(h.ioc(escalate(&story, v1::EscalationReason::Unspecified, "Ghi chú"))).await.unwrap_err();
    assert_eq!((status.code(), fields(&status)), (Code::InvalidArgument, vec!["reason".to_owned()]));
    let mut stray = escalate(&story, v1::EscalationReason::Untrue, "Ghi chú");
    stray.duplicate_of = received.id().to_string();
    let status = h.svc.escalate(h.ioc(stray)).await.unwrap_err();
    assert_eq!((status.code(), fields(&status)), (Code::InvalidArgument, vec!["duplicate_of".to_owned()]));
    let disagree = escalate(&story, v1::EscalationReason::AgenciesDisagree, "Các đơn vị không thống nhất");
    assert_eq!(code_of(h.svc.escalate(h.ioc(disagree)).await), Code::FailedPrecondition, "R4.4 needs agencies at work");
    // Nothing escalated yet: nothing to direct.
    let not_escalated = close(&story, &format!("{}@1", story.id()));
    assert_eq!(code_of(h.svc.issue_directive(h.office(not_escalated)).await), Code::FailedPrecondition);
    assert_eq!(h.snapshot(&reports).await, before, "nothing changed");

    let escalation = h.svc.escalate(h.ioc(unclear)).await.unwrap().into_inner().escalation.unwrap();
    let before = h.snapshot(&reports).await;
    let directive = close(&story, &escalation.id);
    for (role, unit) in [
        (Role::IocOperator, INSTANCE),
        (Role::Officer, AG1),
        (Role::SystemOperator, "SO-NV-86"),
        // The provincial office role, but not acting for the provincial office.
        (Role::ProvincialOffice, AG1),
    ] {
        let code = code_of(h.svc.issue_directive(h.as_role(role, unit, directive.clone())).await);
        assert_eq!(code, Code::PermissionDenied, "{role} of {unit}");
    }
    // Escalated already: the operator cannot dispatch or escalate it meanwhile.
    assert_eq!(code_of(h.svc.dispatch(h.ioc(dispatch_to(story.id(), &[AG1]))).await), Code::FailedPrecondition);
    let again = escalate(&story, v1::EscalationReason::Untrue, "Lại");
    assert_eq!(code_of(h.svc.escalate(h.ioc(again)).await), Code::FailedPrecondition);
    // A dispatch directive to the IOC names the field.
    let mut to_ioc = directive.clone();
    to_ioc.directive.as_mut().unwrap().action = Some(v1::directive::Action::Dispatch(v1::DispatchDirective {
        agency_unit_ids: vec![INSTANCE.into()],
        ..Default::default()
    }));
    to_ioc.directive.as_mut().unwrap().instructions = "Giao IOC".into();
    let status = h.svc.issue_directive(h.office(to_ioc)).await.unwrap_err();
    assert_eq!(
        (status.code(), fields(&status)),
        (Code::InvalidArgument, vec!["directive.dispatch.agency_unit_ids[0]".to_owned()])
    );
    let mut no_note = directive.clone();
    no_note.directive.as_mut().unwrap().action = Some(v1::directive::Action::Dispatch(v1::DispatchDirective {
        agency_unit_ids: vec![AG1.into()],
        ..Default::default()
    }));
    let status = h.svc.issue_directive(h.office(no_note)).await.unwrap_err();
    assert_eq!((status.code(), fields(&status)), (Code::InvalidArgument, vec!["directive.instructions".to_owned()]));
    assert_eq!(h.snapshot(&reports).await, before, "nothing changed");
}

// Suggestions are for the report's own IOC and the provincial office; the directory is written
// by the system operator only and read by staff.
async fn suggestions_and_directory_writes_are_refused_to_others(h: Harness) {
    let story = accepted_report(&h, &Spec::new("Đèn đường hỏng", "giao-thong").in_unit(WARD_CODE), "2027-03-05").await;
    let before = h.snapshot(&[story.id()]).await;
    let agencies = v1::SuggestAgenciesRequest { report_id: story.id().to_string(), limit: 0 };
    let duplicates = v1::SuggestDuplicatesRequest { report_id: story.id().to_string(), limit: 0 };
    for (role, unit) in [(Role::Officer, AG1), (Role::Reporter, INSTANCE), (Role::IocOperator, OTHER_INSTANCE)] {
        assert_eq!(
            code_of(h.svc.suggest_agencies(h.as_role(role, unit, agencies.clone())).await),
            Code::PermissionDenied
        );
        let code = code_of(h.svc.suggest_duplicates(h.as_role(role, unit, duplicates.clone())).await);
        assert_eq!(code, Code::PermissionDenied, "{role} of {unit}");
    }
    let upsert = v1::UpsertCategoryRequest {
        category: Some(v1::Category { code: "moi".into(), name: "Mới".into(), ..Default::default() }),
    };
    let focal = v1::SetFocalPointsRequest { unit_id: AG1.into(), focal_points: vec![] };
    for (role, unit) in [(Role::IocOperator, INSTANCE), (Role::Leader, AG1), (Role::Inspector, "SO-NV-86")] {
        assert_eq!(code_of(h.svc.upsert_category(h.as_role(role, unit, upsert.clone())).await), Code::PermissionDenied);
        let code = code_of(h.svc.set_focal_points(h.as_role(role, unit, focal.clone())).await);
        assert_eq!(code, Code::PermissionDenied);
    }
    let reporter = h.as_role(Role::Reporter, INSTANCE, v1::ListFocalPointsRequest { unit_id: AG1.into() });
    assert_eq!(code_of(h.svc.list_focal_points(reporter).await), Code::PermissionDenied);
    let reporter = h.as_role(Role::Reporter, INSTANCE, v1::ListCategoriesRequest::default());
    assert_eq!(code_of(h.svc.list_categories(reporter).await), Code::PermissionDenied);
    assert_eq!(h.snapshot(&[story.id()]).await, before);
    assert_eq!(h.count("directory_categories").await, 0);
    assert_eq!(h.count("directory_focal_units").await, 0);
}

on_both!(
    dispatch_is_refused_to_others_and_in_the_wrong_state_r7_3b,
    escalation_and_directives_are_refused_to_others_r8_2c,
    suggestions_and_directory_writes_are_refused_to_others,
);
