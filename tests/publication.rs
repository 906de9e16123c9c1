//! The answer's whole way in suite mode: intake, routing, processing and publication each as its
//! own `paht serve` process against this machine's Postgres, RabbitMQ and Redis, driven over gRPC
//! as operators, officers, leaders and the reporter do.
//!
//! Business time starts on Thursday 29 April 2027, 11:10 in Vĩnh Long (PAHT_CLOCK_START): the
//! report is resolved a few seconds later, so its 4-working-hour answer deadline (R10.2) runs
//! through the rest of the morning (to 11:30), the whole afternoon (13:30–17:00), over Friday
//! 30 April and Saturday 1 May (holidays), Sunday and Monday 3 May (the day off in lieu), and
//! ends on Tuesday 4 May a little after 07:10 — the value a civil servant computes by hand.

mod common;

use chrono::{DateTime, TimeDelta, Utc};
use common::*;
use paht_domain::actor::Role;
use paht_domain::ids::ReportId;
use paht_proto::convert::{from_timestamp, timestamp};
use paht_proto::v1;
use paht_proto::v1::intake_service_client::IntakeServiceClient;
use paht_proto::v1::processing_service_client::ProcessingServiceClient;
use paht_proto::v1::publication_service_client::PublicationServiceClient;
use paht_proto::v1::routing_service_client::RoutingServiceClient;
use paht_publication::RatingKey;
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt;

const START: &str = "2027-04-29T11:10:00+07:00";
const AGENCY: &str = "SO-XD-86";

fn local(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

fn time(t: &Option<prost_types::Timestamp>) -> DateTime<Utc> {
    from_timestamp(t.as_ref().expect("a time")).unwrap()
}

#[derive(Clone)]
struct Clients {
    intake: IntakeServiceClient<Channel>,
    routing: RoutingServiceClient<Channel>,
    processing: ProcessingServiceClient<Channel>,
    publication: PublicationServiceClient<Channel>,
}

impl Clients {
    /// Clients of intake and routing, and of the processes serving processing and publication.
    async fn connect(intake: &Server, routing: &Server, processing: &str, publication: &str) -> Clients {
        Clients {
            intake: intake.client().await,
            routing: RoutingServiceClient::connect(routing.grpc.clone()).await.unwrap(),
            processing: ProcessingServiceClient::connect(processing.to_owned()).await.unwrap(),
            publication: PublicationServiceClient::connect(publication.to_owned()).await.unwrap(),
        }
    }
}

struct People {
    channel: String,
    operator: String,
    officer: String,
    leader: String,
}

impl People {
    /// Tokens of the channel, the IOC operator and the agency's officer and leader.
    fn of(suite: &Suite) -> People {
        let issuer = suite.issuer();
        People {
            channel: token(&issuer, Role::System, INSTANCE),
            operator: token(&issuer, Role::IocOperator, INSTANCE),
            officer: token(&issuer, Role::Officer, AGENCY),
            leader: token(&issuer, Role::Leader, AGENCY),
        }
    }
}

/// Submits, accepts, dispatches to [`AGENCY`] and returns the report id, its tracking code and
/// the assignment id.
async fn dispatched(c: &Clients, p: &People, key: &str, confidential: bool) -> (String, String, String) {
    let mut request = submission(key);
    request.event_time = Some(timestamp(local(START) - TimeDelta::hours(2)));
    request.reporter.as_mut().unwrap().confidential = confidential;
    let receipt = c.intake.clone().submit_report(authed(&p.channel, request)).await.unwrap().into_inner();
    let accept = v1::AcceptReportRequest { report_id: receipt.report_id.clone(), category_id: "ha-tang".into() };
    c.intake.clone().accept_report(authed(&p.operator, accept)).await.unwrap();
    let targets = vec![v1::DispatchTarget { agency_unit_id: AGENCY.into(), lead: true }];
    let dispatched = eventually_every(100, "dispatch", || {
        let req =
            v1::DispatchRequest { report_id: receipt.report_id.clone(), targets: targets.clone(), note: String::new() };
        let (mut r, token) = (c.routing.clone(), p.operator.clone());
        async move { r.dispatch(authed(&token, req)).await }
    })
    .await
    .into_inner();
    (receipt.report_id, receipt.tracking_code, dispatched.assignments[0].id.clone())
}

/// The officer's result and the leader's approval, once processing has the assignment.
async fn handled(c: &Clients, p: &People, assignment: &str, text: &str) {
    eventually_every(100, "result", || {
        let req =
            v1::SubmitResultRequest { assignment_id: assignment.into(), text: text.into(), attachment_ids: vec![] };
        let (mut x, token) = (c.processing.clone(), p.officer.clone());
        async move { x.submit_result(authed(&token, req)).await }
    })
    .await;
    let req = v1::ApproveResultRequest { assignment_id: assignment.into(), note: String::new() };
    c.processing.clone().approve_result(authed(&p.leader, req)).await.unwrap();
}

/// The answer as publication shows it, once routing's resolution reached it.
async fn resolved_answer(c: &Clients, p: &People, report_id: &str) -> v1::AnswerDraft {
    eventually_every(100, "resolution reaches publication", || {
        let req = v1::GetAnswerRequest { report_id: report_id.into() };
        let (mut x, token) = (c.publication.clone(), p.operator.clone());
        async move {
            let draft = x.get_answer(authed(&token, req)).await?.into_inner().draft.unwrap();
            if draft.status == v1::ReportStatus::Resolved as i32 {
                Ok(draft)
            } else {
                Err(tonic::Status::failed_precondition(format!("status {}", draft.status)))
            }
        }
    })
    .await
}

fn kinds(status: &tonic::Status) -> Vec<String> {
    let details = status.get_error_details();
    let mut kinds: Vec<String> = details
        .precondition_failure()
        .map(|p| p.violations.iter().map(|v| v.r#type.clone()).collect())
        .unwrap_or_default();
    kinds.sort();
    kinds
}

fn rate(code: &str, value: v1::RatingValue, feedback: &str, secret: &str) -> v1::RateReportRequest {
    v1::RateReportRequest {
        tracking_code: code.into(),
        value: value as i32,
        feedback: feedback.into(),
        rating_secret: secret.into(),
    }
}

// R10.2, R10.3a, R11.1, R11.2, R11.3, R6.2: resolved → the guard refuses the draft that carries the
// reporter's phone and name → the mended answer publishes → unsatisfied rating opens a follow-up →
// reopen → the agency handles again → approve → publish → satisfied; every refusal changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_is_published_rated_reopened_handled_again_and_rated_again() {
    let suite = Suite::new().await;
    let bus = suite.bus().await;
    let stop = tokio_util::sync::CancellationToken::new();
    let observer = observe_all(&bus, "e2e-publication-observer", &stop).await;
    let env = [("PAHT_CLOCK_START", START)];
    let routing = suite.serve_services("routing", "routing", &env);
    let intake = suite.serve_services(
        "intake",
        "intake",
        &[("PAHT_CLOCK_START", START), ("PAHT_PEERS__ROUTING", &routing.grpc)],
    );
    let processing = suite.serve_services("processing", "processing", &env);
    let publication = suite.serve_services(
        "publication",
        "publication",
        &[("PAHT_CLOCK_START", START), ("PAHT_PEERS__INTAKE", &intake.grpc), ("PAHT_PEERS__ROUTING", &routing.grpc)],
    );
    let c = Clients::connect(&intake, &routing, &processing.grpc, &publication.grpc).await;
    let mut publ = c.publication.clone();
    let p = People::of(&suite);
    let key = RatingKey::new(RATING_KEY).unwrap();

    let (report_id, code, assignment) = dispatched(&c, &p, "publication-1", false).await;
    let id: ReportId = report_id.parse().unwrap();
    // The officer's result names the reporter and her phone: the draft answer carries both.
    handled(&c, &p, &assignment, "Đã liên hệ bà Tran Thi Bich Ngoc (0987.654.321), nạo vét xong đoạn cống bị tắc.")
        .await;
    let draft = resolved_answer(&c, &p, &report_id).await;
    assert!(!draft.edited);
    let text = draft.answer.as_ref().unwrap().text.clone();
    assert!(text.starts_with("Kết quả xử lý phản ánh:") && text.contains("Sở Xây dựng"), "{text}");
    let mut found: Vec<&str> = draft.findings.iter().map(|f| f.kind.as_str()).collect();
    found.sort();
    assert_eq!(found, ["phone", "reporter_name"], "{:?}", draft.findings);
    assert!(!draft.audit_id.is_empty(), "the guard's read of the reporter is audited (R20.2)");

    // R10.2: 4 working hours from the resolution, by hand: the rest of Thursday's morning
    // (to 11:30) and its afternoon (3.5 h), then Tuesday 4 May from 07:00 after the long weekend.
    let deadline = draft.answer_deadline.as_ref().unwrap();
    let resolved_at = time(&deadline.started_at);
    assert!(resolved_at >= local(START) && resolved_at < local("2027-04-29T11:20:00+07:00"), "{resolved_at}");
    let left_on_tuesday =
        TimeDelta::hours(4) - (local("2027-04-29T11:30:00+07:00") - resolved_at) - TimeDelta::minutes(210);
    assert_eq!(time(&deadline.due_at), local("2027-05-04T07:00:00+07:00") + left_on_tuesday);
    assert_eq!(deadline.stage, v1::DeadlineStage::Answer as i32);

    // The draft is refused as it stands (R10.3a, R6.2): FAILED_PRECONDITION, each finding with its span.
    let status = publ
        .publish_answer(authed(&p.operator, v1::PublishAnswerRequest { report_id: report_id.clone() }))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(kinds(&status), ["phone", "reporter_name"]);
    let subject = status.get_error_details().precondition_failure().unwrap().violations[0].subject.clone();
    assert!(subject.starts_with("text["), "{subject}");
    // The refusal changed nothing: still the unedited draft, still resolved.
    let after = resolved_answer(&c, &p, &report_id).await;
    assert!(!after.edited && after.answer.as_ref().unwrap().text == text);

    // Every spelling of her phone, her e-mail, a citizen ID: all found; nothing published.
    let bad = format!(
        "Đã gọi +84 987 654 321, 0987-654-321, (0987) 654 321 và 84987654321; thư gửi {EMAIL}; CCCD 079123456789; nhà {HOME}."
    );
    let edited = publ
        .edit_answer(authed(&p.operator, v1::EditAnswerRequest { report_id: report_id.clone(), text: bad }))
        .await
        .unwrap()
        .into_inner();
    let mut found: Vec<&str> = edited.findings.iter().map(|f| f.kind.as_str()).collect();
    found.sort();
    let expected = ["citizen_id", "email", "phone", "phone", "phone", "phone", "reporter_address"];
    assert_eq!(found, expected, "{:?}", edited.findings);
    let status = publ
        .publish_answer(authed(&p.operator, v1::PublishAnswerRequest { report_id: report_id.clone() }))
        .await
        .unwrap_err();
    assert_eq!(kinds(&status), expected);
    let lookup = v1::GetPublishedAnswerRequest { tracking_code: code.clone() };
    assert_eq!(publ.get_published_answer(lookup.clone()).await.unwrap_err().code(), Code::NotFound);

    // The mended text publishes; the public sees it, never the reporter.
    let mended = "Sở Xây dựng đã nạo vét xong đoạn cống bị tắc trên đường Lý Thường Kiệt ngày 29/4/2027.";
    let edit = v1::EditAnswerRequest { report_id: report_id.clone(), text: mended.into() };
    assert!(publ.edit_answer(authed(&p.operator, edit)).await.unwrap().into_inner().findings.is_empty());
    let published = publ
        .publish_answer(authed(&p.operator, v1::PublishAnswerRequest { report_id: report_id.clone() }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(published.answer.as_ref().unwrap().visibility, v1::AnswerVisibility::Published as i32);
    let public = publ.get_published_answer(lookup.clone()).await.unwrap().into_inner().published_answer.unwrap();
    assert_eq!(
        (public.answer_text.as_str(), public.agency_unit_ids.as_slice()),
        (mended, [AGENCY.to_owned()].as_slice())
    );
    assert!(public.reporter_display_name.is_empty());
    assert_no_personal_data("the published answer", &format!("{public:?}"));

    // R11.1: not without the secret, not with another answer's, not twice.
    let status = publ.rate_report(rate(&code, v1::RatingValue::Satisfied, "", "")).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    for wrong in [key.secret(id, 1), RatingKey::new("another-key-of-at-least-thirty-two-bytes").unwrap().secret(id, 0)]
    {
        let status = publ.rate_report(rate(&code, v1::RatingValue::Satisfied, "", &wrong)).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    }
    let secret = key.secret(id, 0);
    let rated = publ
        .rate_report(rate(&code, v1::RatingValue::Unsatisfied, "Cống vẫn tắc ở đầu hẻm.", &secret.to_lowercase()))
        .await
        .unwrap()
        .into_inner();
    assert!(!rated.follow_up_id.is_empty(), "R11.2: every unsatisfied rating is checked");
    let again = publ.rate_report(rate(&code, v1::RatingValue::Satisfied, "", &secret)).await.unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");

    // R11.2: the follow-up waits in the IOC's queue with its deadline (2 working days from the next
    // working day: Tuesday 4 and Wednesday 5 May), and closes once with a note.
    let list = v1::ListFollowUpsRequest { include_closed: false, page: None };
    let queue = publ.list_follow_ups(authed(&p.operator, list.clone())).await.unwrap().into_inner().follow_ups;
    assert_eq!(queue.len(), 1);
    assert_eq!((queue[0].id.as_str(), queue[0].tracking_code.as_str()), (rated.follow_up_id.as_str(), code.as_str()));
    assert_eq!(time(&queue[0].due_at), local("2027-05-05T17:00:00+07:00"));
    assert_eq!(queue[0].rating.as_ref().unwrap().feedback, "Cống vẫn tắc ở đầu hẻm.");
    let close = v1::CloseFollowUpRequest {
        follow_up_id: rated.follow_up_id.clone(),
        note: "Đã gọi lại, hẹn kiểm tra.".into(),
    };
    let closed =
        publ.close_follow_up(authed(&p.operator, close.clone())).await.unwrap().into_inner().follow_up.unwrap();
    assert!(closed.closed_at.is_some());
    assert_eq!(publ.close_follow_up(authed(&p.operator, close)).await.unwrap_err().code(), Code::FailedPrecondition);
    assert!(publ.list_follow_ups(authed(&p.operator, list)).await.unwrap().into_inner().follow_ups.is_empty());
    // Both are facts for reporting and the agencies (R11.2), published once each.
    let seen = observer
        .wait_for(std::time::Duration::from_secs(20), |seen| {
            seen.iter().any(|s| s.routing_key == "follow_up.closed" && s.report_id == report_id)
        })
        .await;
    for key in ["follow_up.opened", "follow_up.closed"] {
        let n = seen.iter().filter(|s| s.routing_key == key && s.report_id == report_id).count();
        assert_eq!(n, 1, "{key}: {seen:?}");
    }

    // R11.3: only the reporter reopens — not with another secret, not without a reason.
    let reopen = |secret: &str, reason: &str| v1::ReopenReportRequest {
        tracking_code: code.clone(),
        rating_secret: secret.into(),
        reason: reason.into(),
    };
    let status = publ.reopen_report(reopen(&key.secret(id, 1), "Vẫn tắc")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(publ.reopen_report(reopen(&secret, " ")).await.unwrap_err().code(), Code::InvalidArgument);
    let reopened =
        publ.reopen_report(reopen(&secret, "Cống vẫn tắc ở đầu hẻm, đề nghị xử lý lại.")).await.unwrap().into_inner();
    assert_eq!(reopened.status, v1::ReportStatus::Reopened as i32);
    assert_eq!(publ.get_published_answer(lookup.clone()).await.unwrap_err().code(), Code::NotFound);

    // Back with the agency, fresh deadlines: 5 working days from Tuesday 4 May → Monday 10 May.
    let token = p.officer.clone();
    let back = eventually_every(100, "the reopen reaches processing", || {
        let (mut x, token) = (c.processing.clone(), token.clone());
        let req = v1::GetAssignmentRequest { assignment_id: assignment.clone() };
        async move {
            let a = x.get_assignment(authed(&token, req)).await?.into_inner().assignment.unwrap();
            if a.status == v1::AssignmentStatus::Assigned as i32 {
                Ok(a)
            } else {
                Err(tonic::Status::not_found("not yet"))
            }
        }
    })
    .await;
    assert_eq!(time(&back.handling_deadline.as_ref().unwrap().due_at), local("2027-05-10T17:00:00+07:00"));

    // The whole path again: result, approval, resolution, a new answer with a new secret.
    handled(&c, &p, &assignment, "Đã nạo vét thêm đoạn đầu hẻm, nước thoát bình thường.").await;
    let second = resolved_answer(&c, &p, &report_id).await;
    assert!(!second.edited && second.answer.as_ref().unwrap().text.contains("đầu hẻm"));
    assert_eq!(
        publ.rate_report(rate(&code, v1::RatingValue::Satisfied, "", &secret)).await.unwrap_err().code(),
        Code::FailedPrecondition
    );
    publ.publish_answer(authed(&p.operator, v1::PublishAnswerRequest { report_id: report_id.clone() })).await.unwrap();
    let status = publ.rate_report(rate(&code, v1::RatingValue::Satisfied, "", &secret)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "the first answer's secret does not rate the second");
    let rated = publ
        .rate_report(rate(&code, v1::RatingValue::Satisfied, "Cảm ơn.", &key.secret(id, 1)))
        .await
        .unwrap()
        .into_inner();
    assert!(rated.follow_up_id.is_empty());
    let public = publ.get_published_answer(lookup).await.unwrap().into_inner().published_answer.unwrap();
    let rating = public.rating.unwrap();
    assert_eq!(rating.value, v1::RatingValue::Satisfied as i32);
    assert!(rating.feedback.is_empty(), "the reporter's feedback is for the IOC, never public");

    // Intake's public lookup follows: the second answer, rated.
    let by_code = v1::GetReportByTrackingCodeRequest { tracking_code: code.clone() };
    let view = eventually_every(100, "intake follows the rating", || {
        let (mut x, req) = (c.intake.clone(), by_code.clone());
        async move {
            let view = x.get_report_by_tracking_code(req).await?.into_inner().report.unwrap();
            if view.status == v1::ReportStatus::Rated as i32 {
                Ok(view)
            } else {
                Err(tonic::Status::not_found("not yet"))
            }
        }
    })
    .await;
    assert!(view.published_answer.contains("đầu hẻm"), "{view:?}");

    stop.cancel();
    let logs = publication.stop();
    assert_no_personal_data("publication's log", &logs);
    for server in [processing, intake, routing] {
        server.stop();
    }
    suite.cleanup().await;
}

// R10.3b, R6.2: a confidential reporter's answer is given privately; it is never public — not by
// publication, not by intake's lookup — and the reporter still rates it with the secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confidential_report_is_answered_privately_and_never_shown() {
    let suite = Suite::new().await;
    let env = [("PAHT_CLOCK_START", START)];
    let routing = suite.serve_services("routing", "routing", &env);
    let intake = suite.serve_services(
        "intake",
        "intake",
        &[("PAHT_CLOCK_START", START), ("PAHT_PEERS__ROUTING", &routing.grpc)],
    );
    // One process for processing and publication: both mode mixes work.
    let both = suite.serve_services(
        "work",
        "processing,publication",
        &[("PAHT_CLOCK_START", START), ("PAHT_PEERS__INTAKE", &intake.grpc), ("PAHT_PEERS__ROUTING", &routing.grpc)],
    );
    let c = Clients::connect(&intake, &routing, &both.grpc, &both.grpc).await;
    let mut publ = c.publication.clone();
    let p = People::of(&suite);
    let (report_id, code, assignment) = dispatched(&c, &p, "publication-private", true).await;
    handled(&c, &p, &assignment, "Đã xử lý theo phản ánh.").await;
    let draft = resolved_answer(&c, &p, &report_id).await;
    assert!(draft.reporter_confidential && draft.findings.is_empty() && draft.audit_id.is_empty());

    let publish = v1::PublishAnswerRequest { report_id: report_id.clone() };
    assert_eq!(publ.publish_answer(authed(&p.operator, publish)).await.unwrap_err().code(), Code::FailedPrecondition);
    let unset = v1::AnswerPrivatelyRequest { report_id: report_id.clone(), delivery: 0, note: String::new() };
    assert_eq!(publ.answer_privately(authed(&p.operator, unset)).await.unwrap_err().code(), Code::InvalidArgument);
    // Only the IOC answers.
    let private = v1::AnswerPrivatelyRequest {
        report_id: report_id.clone(),
        delivery: v1::PrivateDelivery::Email as i32,
        note: "Gửi riêng qua thư điện tử.".into(),
    };
    let status = publ.answer_privately(authed(&p.leader, private.clone())).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let sent = publ.answer_privately(authed(&p.operator, private)).await.unwrap().into_inner();
    assert_eq!(sent.answer.unwrap().visibility, v1::AnswerVisibility::Private as i32);

    let lookup = v1::GetPublishedAnswerRequest { tracking_code: code.clone() };
    assert_eq!(publ.get_published_answer(lookup.clone()).await.unwrap_err().code(), Code::NotFound);
    // The reporter rates it; it stays private after the rating.
    let secret = RatingKey::new(RATING_KEY).unwrap().secret(report_id.parse().unwrap(), 0);
    publ.rate_report(rate(&code, v1::RatingValue::Normal, "", &secret)).await.unwrap();
    assert_eq!(publ.get_published_answer(lookup).await.unwrap_err().code(), Code::NotFound);
    let by_code = v1::GetReportByTrackingCodeRequest { tracking_code: code.clone() };
    let view = eventually_every(100, "intake follows the rating", || {
        let (mut x, req) = (c.intake.clone(), by_code.clone());
        async move {
            let view = x.get_report_by_tracking_code(req).await?.into_inner().report.unwrap();
            if view.status == v1::ReportStatus::Rated as i32 {
                Ok(view)
            } else {
                Err(tonic::Status::not_found("not yet"))
            }
        }
    })
    .await;
    assert!(view.published_answer.is_empty() && view.rating.is_none(), "{view:?}");

    for server in [both, intake, routing] {
        server.stop();
    }
    suite.cleanup().await;
}
