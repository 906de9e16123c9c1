//! The intake service end to end over its gRPC trait, on SQLite and on Postgres.

mod common;

use common::{Harness, INSTANCE, NAME, PHONE, PHONE_E164, valid_request};
use paht_domain::actor::Role;
use paht_intake::store;
use paht_proto::v1;
use paht_proto::v1::intake_service_server::IntakeService as _;
use sea_orm::EntityTrait;
use tonic::Code;
use tonic_types::StatusExt;

async fn submit(h: &Harness, key: &str) -> v1::SubmitReportResponse {
    h.svc.submit_report(h.system(valid_request(key))).await.unwrap().into_inner()
}

// R4.6, R6.1c, R6.2, R7.2: a valid report is stored with a tracking code and its check deadline,
// the reporter only sealed, and `report.received` in the outbox of the same transaction.
async fn submit_stores_report_sealed_reporter_and_event(h: Harness) {
    let receipt = submit(&h, "k-1").await;
    assert!(receipt.tracking_code.parse::<paht_domain::tracking::TrackingCode>().is_ok());
    let deadline = receipt.check_deadline.expect("R7.2 check deadline");
    assert_eq!(deadline.stage, v1::DeadlineStage::Check as i32);
    assert!(deadline.due_at.unwrap().seconds > receipt.received_at.unwrap().seconds);

    let id: uuid::Uuid = receipt.report_id.parse().unwrap();
    let row = store::report::Entity::find_by_id(id).one(h.db.conn()).await.unwrap().unwrap();
    assert_eq!(row.status, "received");
    assert_eq!(row.instance_id, INSTANCE);
    assert_eq!(row.channel, "web_portal");
    let reporter = store::reporter::Entity::find_by_id(id).one(h.db.conn()).await.unwrap().unwrap();
    for secret in [NAME, PHONE, PHONE_E164, "912345678"] {
        assert!(!reporter.sealed.contains(secret), "sealed text leaks {secret}");
        assert!(!row.lifecycle.contains(secret) && !row.content.contains(secret));
    }
    assert_eq!(reporter.display_name, None, "the name is not shown unless asked");
    assert_eq!(h.outbox_keys().await, vec!["report.received"]);
}

// Idempotency: the same key twice gives one report and the same receipt.
async fn same_idempotency_key_gives_one_report(h: Harness) {
    let first = submit(&h, "retry-42").await;
    let second = submit(&h, "retry-42").await;
    assert_eq!(first.report_id, second.report_id);
    assert_eq!(first.tracking_code, second.tracking_code);
    assert_eq!(h.count("reports").await, 1);
    assert_eq!(h.outbox_keys().await.len(), 1);
    let other = submit(&h, "another").await;
    assert_ne!(other.report_id, first.report_id);
}

// Issue 10: keys are scoped to the caller (subject and channel), and a key names one request: the
// same key with another body is refused and changes nothing; from another relay it is another key.
async fn an_idempotency_key_is_the_callers_and_names_one_request(h: Harness) {
    let first = h.svc.submit_report(h.system(valid_request("k-1"))).await.unwrap().into_inner();
    let mut other_body = valid_request("k-1");
    other_body.content = "Một nội dung hoàn toàn khác về cây đổ chắn ngang đường Lê Lợi, cần xử lý gấp.".into();
    let status = h.svc.submit_report(h.system(other_body.clone())).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(paht_testing::fields(&status), vec!["idempotency_key"]);
    assert!(!status.message().contains(&first.report_id) && !status.message().contains(&first.tracking_code));
    assert_eq!(h.count("reports").await, 1);
    // Another relay account, same channel, same key, garbage body: its own request, refused on
    // its own merits, and never the first report's receipt.
    let mut garbage = valid_request("k-1");
    garbage.content = String::new();
    let status = h.svc.submit_report(h.as_subject("relay-2", Role::System, garbage)).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(paht_testing::fields(&status).contains(&"content".to_owned()), "{status:?}");
    // …and with a valid body, a report of its own.
    let theirs = h.svc.submit_report(h.as_subject("relay-2", Role::System, other_body)).await.unwrap().into_inner();
    assert_ne!(theirs.report_id, first.report_id);
    // The first caller's retry of its own request still gets its receipt.
    let again = h.svc.submit_report(h.system(valid_request("k-1"))).await.unwrap().into_inner();
    assert_eq!((again.report_id, again.tracking_code), (first.report_id, first.tracking_code));
    assert_eq!(h.count("reports").await, 2);
}

// R6.1c, R7.3a: every violation at once, naming the request fields; nothing stored.
async fn invalid_submission_names_fields_and_stores_nothing(h: Harness) {
    let mut req = valid_request("bad");
    req.content = "ngắn".into();
    req.reporter.as_mut().unwrap().phone = "12".into();
    let status = h.svc.submit_report(h.system(req)).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let details = status.get_error_details();
    let fields: Vec<&str> =
        details.bad_request().expect("BadRequest details").field_violations.iter().map(|v| v.field.as_str()).collect();
    assert!(fields.contains(&"content"), "{fields:?}");
    assert!(fields.contains(&"reporter.phone"), "{fields:?}");
    assert!(!status.message().contains(PHONE), "no personal data in errors");
    assert_eq!(h.count("reports").await, 0);
    assert_eq!(h.count("reporters").await, 0);
    assert_eq!(h.count("outbox").await, 0);
}

// R7.3a: the operator of the instance accepts; the event follows in the outbox.
async fn accept_emits_report_accepted(h: Harness) {
    let receipt = submit(&h, "a").await;
    let req = v1::AcceptReportRequest { report_id: receipt.report_id.clone(), category_id: "moi-truong".into() };
    let report = h.svc.accept_report(h.operator(req)).await.unwrap().into_inner().report.unwrap();
    assert_eq!(report.status, v1::ReportStatus::Accepted as i32);
    assert_eq!(report.category_id, "moi-truong");
    assert_eq!(h.outbox_keys().await, vec!["report.received", "report.accepted"]);
    // Accepting twice is a state error, not a second event.
    let again = v1::AcceptReportRequest { report_id: receipt.report_id, category_id: String::new() };
    let status = h.svc.accept_report(h.operator(again)).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(h.outbox_keys().await.len(), 2);
}

// R7.3a: a refusal needs a clear reason; with one, `report.refused` is emitted.
async fn refuse_needs_a_reason(h: Harness) {
    let receipt = submit(&h, "r").await;
    let req = v1::RefuseReportRequest { report_id: receipt.report_id.clone(), reason: "  ".into() };
    let status = h.svc.refuse_report(h.operator(req)).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let req = v1::RefuseReportRequest { report_id: receipt.report_id.clone(), reason: "Thiếu thời gian".into() };
    let report = h.svc.refuse_report(h.operator(req)).await.unwrap().into_inner().report.unwrap();
    assert_eq!(report.status, v1::ReportStatus::Refused as i32);
    assert_eq!(h.outbox_keys().await, vec!["report.received", "report.refused"]);
}

// R7.3a: only the IOC that received the report checks it.
async fn operator_of_another_instance_is_denied(h: Harness) {
    let receipt = submit(&h, "x").await;
    let req = v1::AcceptReportRequest { report_id: receipt.report_id, category_id: String::new() };
    let status = h.svc.accept_report(h.as_role(Role::IocOperator, "IOC-OTHER", req)).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let req = v1::AcceptReportRequest { report_id: uuid::Uuid::nil().to_string(), category_id: String::new() };
    let status = h.svc.accept_report(h.as_role(Role::Officer, "AG", req)).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(h.outbox_keys().await.len(), 1);
}

// R6.2: the public view by tracking code carries no personal data; bad codes are refused.
async fn public_view_has_no_personal_data(h: Harness) {
    let receipt = submit(&h, "p").await;
    let sloppy = receipt.tracking_code.to_lowercase().replace('-', "");
    let req = v1::GetReportByTrackingCodeRequest { tracking_code: sloppy };
    let view = h.svc.get_report_by_tracking_code(tonic::Request::new(req)).await.unwrap().into_inner().report.unwrap();
    assert_eq!(view.tracking_code, receipt.tracking_code);
    assert_eq!(view.status, v1::ReportStatus::Received as i32);
    assert_eq!(view.reporter_display_name, "");
    let text = format!("{view:?}");
    assert!(!text.contains(NAME) && !text.contains("912345678"), "public view leaks: {text}");
    let bad = v1::GetReportByTrackingCodeRequest { tracking_code: "ABCD".into() };
    let status = h.svc.get_report_by_tracking_code(tonic::Request::new(bad)).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    // The staff view has no reporter either.
    let staff = h.svc.get_report(h.operator(v1::GetReportRequest { report_id: receipt.report_id })).await.unwrap();
    assert!(!format!("{:?}", staff.get_ref()).contains(NAME));
}

// R6.2, R14.5, R20.2: reading the reporter needs a purpose and a competent role, and writes
// exactly one audit row.
async fn get_reporter_is_audited(h: Harness) {
    let receipt = submit(&h, "g").await;
    let no_purpose = v1::GetReporterRequest { report_id: receipt.report_id.clone(), purpose: String::new() };
    assert_eq!(h.svc.get_reporter(h.operator(no_purpose)).await.unwrap_err().code(), Code::InvalidArgument);
    let req = || v1::GetReporterRequest { report_id: receipt.report_id.clone(), purpose: "xác minh".into() };
    let denied = h.svc.get_reporter(h.as_role(Role::Inspector, "SNV", req())).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert_eq!(h.count("audit_log").await, 0);
    let out = h.svc.get_reporter(h.operator(req())).await.unwrap().into_inner();
    let reporter = out.reporter.unwrap();
    assert_eq!(reporter.name, NAME);
    assert_eq!(reporter.phone, PHONE_E164);
    assert_eq!(h.count("audit_log").await, 1);
    let audit_id: uuid::Uuid = out.audit_id.parse().unwrap();
    let entry = store::audit::Entity::find_by_id(audit_id).one(h.db.conn()).await.unwrap().unwrap();
    assert_eq!(entry.purpose, "xác minh");
    assert_eq!(entry.role, "ioc_operator");
}

// R3.1, issue 10: the channel's address to answer through is sealed with the identity — never in
// clear in any table — and given back only by the audited read; an over-long one is refused.
async fn the_channel_address_is_sealed_and_returned_by_the_audited_read_r3_1(h: Harness) {
    const ZALO: &str = "zalo-user-5830019928472";
    let mut req = valid_request("zalo");
    req.channel = v1::Channel::Zalo as i32;
    req.reporter.as_mut().unwrap().channel_address = ZALO.into();
    let receipt = h.svc.submit_report(h.system(req)).await.unwrap().into_inner();
    let id: uuid::Uuid = receipt.report_id.parse().unwrap();
    let sealed = store::find_reporter(h.db.conn(), id).await.unwrap().unwrap();
    assert!(!sealed.sealed.contains(ZALO));
    let row = store::find_report(h.db.conn(), id).await.unwrap().unwrap();
    assert!(!format!("{row:?}").contains(ZALO), "not in the report row");
    let events = paht_testing::outbox(&h.db).await;
    assert!(events.iter().all(|(_, e)| !format!("{e:?}").contains(ZALO)), "not in events");
    let read = v1::GetReporterRequest { report_id: receipt.report_id.clone(), purpose: "trả lời qua Zalo".into() };
    let out = h.svc.get_reporter(h.operator(read)).await.unwrap().into_inner();
    assert_eq!(out.reporter.unwrap().channel_address, ZALO);
    assert_eq!(h.count("audit_log").await, 1);
    let mut long = valid_request("long");
    long.reporter.as_mut().unwrap().channel_address = "z".repeat(1000);
    let status = h.svc.submit_report(h.system(long)).await.unwrap_err();
    assert_eq!(paht_testing::fields(&status), vec!["reporter.channel_address"]);
    assert_eq!(h.count("reports").await, 1);
}

// R7.2, R7.3a: the check queue lists waiting reports, oldest deadline first, in pages.
async fn check_queue_pages_in_deadline_order(h: Harness) {
    let mut ids = Vec::new();
    for key in ["q1", "q2", "q3"] {
        ids.push(submit(&h, key).await.report_id);
    }
    let refuse = v1::RefuseReportRequest { report_id: ids[1].clone(), reason: "Thiếu địa điểm".into() };
    h.svc.refuse_report(h.operator(refuse)).await.unwrap();
    let page = |token: &str| v1::ListCheckQueueRequest {
        instance_id: String::new(),
        page: Some(v1::PageRequest { page_size: 1, page_token: token.into() }),
    };
    let first = h.svc.list_check_queue(h.operator(page(""))).await.unwrap().into_inner();
    assert_eq!(first.reports.len(), 1);
    assert!(!first.next_page_token.is_empty());
    let second = h.svc.list_check_queue(h.operator(page(&first.next_page_token))).await.unwrap().into_inner();
    assert_eq!(second.next_page_token, "");
    let listed: Vec<String> = first.reports.iter().chain(&second.reports).map(|r| r.id.clone()).collect();
    assert_eq!(listed, vec![ids[0].clone(), ids[2].clone()]);
    let other = v1::ListCheckQueueRequest { instance_id: "IOC-OTHER".into(), page: None };
    assert_eq!(h.svc.list_check_queue(h.operator(other)).await.unwrap_err().code(), Code::PermissionDenied);
}

// Fail closed: no token, no call.
async fn no_token_is_unauthenticated(h: Harness) {
    let status = h.anonymous(valid_request("n")).unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    // A handler reached without the interceptor refuses too.
    let status = h.svc.submit_report(tonic::Request::new(valid_request("n"))).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    // Authenticated but in a role that does not submit.
    let status = h.svc.submit_report(h.as_role(Role::Inspector, "SNV", valid_request("n"))).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    // Issue 10: a token of another instance, even signed with the same key, is refused with the reason.
    let foreign = h.tokens.mint_for_instance("IOC-79", "relay", Role::System, "IOC-79");
    let status = h.tokens.intercepted(paht_testing::bearer(&foreign, valid_request("n"))).unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(status.message().contains("IOC-79"), "{}", status.message());
    assert_eq!(h.count("reports").await, 0);
}

// R5, R7.3b: once routing dispatches the report (and later facts arrive), intake follows it: the
// check queue drops it and the public lookup shows it dispatched; a redelivery changes nothing.
async fn intake_follows_the_report_after_the_check(h: Harness) {
    let receipt = submit(&h, "follow").await;
    let accept = v1::AcceptReportRequest { report_id: receipt.report_id.clone(), category_id: "giao-thong".into() };
    h.svc.accept_report(h.operator(accept)).await.unwrap();
    // The dispatch as routing publishes it: the domain transition on the same state, encoded.
    let id: uuid::Uuid = receipt.report_id.parse().unwrap();
    let row = store::find_report(h.db.conn(), id).await.unwrap().unwrap();
    let state = store::lifecycle_of(&row).unwrap();
    let operator = paht_domain::actor::Actor {
        subject: "op".into(),
        role: Role::IocOperator,
        unit: paht_domain::ids::UnitId::new(INSTANCE),
    };
    let dispatch = paht_domain::lifecycle::Command::Dispatch {
        assignments: vec![paht_domain::lifecycle::NewAssignment {
            id: paht_domain::ids::AssignmentId::from_uuid(uuid::Uuid::now_v7()),
            agency: paht_domain::ids::UnitId::new("SO-XD-86"),
            lead: true,
            instructions: None,
        }],
    };
    let now = paht_platform::clock::now();
    let t = state.apply(dispatch, &operator, now, &paht_domain::calendar::WorkingCalendar::vietnam()).unwrap();
    let payload = paht_proto::convert::payload(&t.events[0], &t.report, None);
    let event_id = uuid::Uuid::now_v7();
    let envelope = paht_proto::convert::envelope(event_id, &t.events[0], payload);
    let message = paht_platform::bus::Message {
        id: event_id,
        routing_key: "report.dispatched".into(),
        payload: prost::Message::encode_to_vec(&envelope).into(),
        headers: Default::default(),
    };
    let follower = paht_intake::follow::consumer(
        h.db.clone(),
        std::sync::Arc::new(paht_domain::calendar::WorkingCalendar::vietnam()),
    );
    let delivery = paht_platform::bus::Delivery { message, attempt: 1 };
    follower.handle(&delivery).await.unwrap();
    follower.handle(&delivery).await.unwrap();
    let row = store::find_report(h.db.conn(), id).await.unwrap().unwrap();
    assert_eq!(row.status, "dispatched");
    assert_eq!(store::lifecycle_of(&row).unwrap(), t.report, "the same state as routing's, once");
    let queue = h.svc.list_check_queue(h.operator(v1::ListCheckQueueRequest::default())).await.unwrap().into_inner();
    assert!(queue.reports.iter().all(|r| r.id != receipt.report_id), "a dispatched report leaves the check queue");
    let public = v1::GetReportByTrackingCodeRequest { tracking_code: receipt.tracking_code.clone() };
    let view = h.svc.get_report_by_tracking_code(tonic::Request::new(public)).await.unwrap().into_inner();
    assert_eq!(view.report.unwrap().status, v1::ReportStatus::Dispatched as i32);
}

// Issue 10: 10,000 attachment ids are refused by their count before any is looked up — one
// violation, a readable status — and nothing is stored.
async fn too_many_attachment_ids_are_refused_before_any_lookup(h: Harness) {
    let mut req = valid_request("many");
    req.attachment_ids = (0..10_000).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let status = h.svc.submit_report(h.system(req)).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(paht_testing::fields(&status), vec!["attachment_ids"]);
    assert!(status.message().len() + status.details().len() < 1024, "{} bytes", status.details().len());
    // Eleven are refused the same way; the limit is the configured ten.
    let mut req = valid_request("eleven");
    req.attachment_ids = (0..11).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let status = h.svc.submit_report(h.system(req)).await.unwrap_err();
    assert_eq!(paht_testing::fields(&status), vec!["attachment_ids"]);
    assert_eq!(h.count("reports").await, 0);
}

// Issue 10, R13.5: acceptance checks the category in routing's directory — known and not
// retired — whether the operator gives it or the report came with it; the refusal lists the
// categories that may be used, and changes nothing.
async fn acceptance_checks_the_category_in_routings_directory_r13_5(h: Harness) {
    use paht_routing::Routing as _;
    let description = |status: &tonic::Status| {
        status
            .get_details_bad_request()
            .unwrap()
            .field_violations
            .iter()
            .map(|v| v.description.clone())
            .collect::<String>()
    };
    let receipt = submit(&h, "cat").await;
    let accept =
        |category: &str| v1::AcceptReportRequest { report_id: receipt.report_id.clone(), category_id: category.into() };
    let status = h.svc.accept_report(h.operator(accept("khong-co-linh-vuc-nay"))).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(paht_testing::fields(&status), vec!["category_id"]);
    let text = description(&status);
    assert!(text.contains("is not in the directory") && text.contains("giao-thong, "), "{text}");
    assert!(status.message().len() + status.details().len() < 8 * 1024);

    let admin = h.caller("admin", Role::SystemOperator, INSTANCE);
    let retire = v1::RetireCategoryRequest { category_id: "dat-dai".into() };
    h.routing.retire_category(&admin, retire).await.unwrap();
    let status = h.svc.accept_report(h.operator(accept("dat-dai"))).await.unwrap_err();
    let text = description(&status);
    assert!(text.contains("is retired") && !text.contains("dat-dai,") && text.contains("moi-truong"), "{text}");

    // Filed by the reporter under a category retired since: the operator must choose another.
    let mut request = valid_request("cat-2");
    request.category_id = "xay-dung".into();
    let filed = h.svc.submit_report(h.system(request)).await.unwrap().into_inner();
    h.routing.retire_category(&admin, v1::RetireCategoryRequest { category_id: "xay-dung".into() }).await.unwrap();
    let keep = v1::AcceptReportRequest { report_id: filed.report_id.clone(), category_id: String::new() };
    let status = h.svc.accept_report(h.operator(keep)).await.unwrap_err();
    assert!(description(&status).contains("the report's own"), "{}", description(&status));
    assert_eq!(h.outbox_keys().await, vec!["report.received", "report.received"], "nothing was accepted");

    let report = h.svc.accept_report(h.operator(accept("moi-truong"))).await.unwrap().into_inner().report.unwrap();
    assert_eq!(report.category_id, "moi-truong");
    let other = v1::AcceptReportRequest { report_id: filed.report_id, category_id: "giao-thong".into() };
    h.svc.accept_report(h.operator(other)).await.unwrap();
}

on_both!(
    submit_stores_report_sealed_reporter_and_event,
    too_many_attachment_ids_are_refused_before_any_lookup,
    same_idempotency_key_gives_one_report,
    an_idempotency_key_is_the_callers_and_names_one_request,
    invalid_submission_names_fields_and_stores_nothing,
    accept_emits_report_accepted,
    refuse_needs_a_reason,
    operator_of_another_instance_is_denied,
    public_view_has_no_personal_data,
    get_reporter_is_audited,
    the_channel_address_is_sealed_and_returned_by_the_audited_read_r3_1,
    check_queue_pages_in_deadline_order,
    no_token_is_unauthenticated,
    intake_follows_the_report_after_the_check,
    acceptance_checks_the_category_in_routings_directory_r13_5,
);
