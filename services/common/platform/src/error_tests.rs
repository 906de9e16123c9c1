use std::time::Duration;

use paht_domain::ids::{AssignmentId, ReportId, UnitId};
use paht_domain::lifecycle::{Action, LifecycleError, ReportStatus};
use tonic::{Code, Status};
use tonic_types::StatusExt;

use super::*;

fn violations(status: &Status) -> Vec<String> {
    let details = status.get_error_details();
    details.bad_request().map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect()).unwrap_or_default()
}

#[test]
fn invalid_names_every_field_in_grpc_and_http() {
    let err = ApiError::Invalid(vec![
        ("targets[0].agency_unit_id".into(), "unknown agency".into()),
        ("note".into(), "blank".into()),
    ]);
    assert_eq!(err.http_status(), 400);
    let body = err.http_body();
    assert_eq!(body["error"]["code"], "INVALID_ARGUMENT");
    assert_eq!(body["error"]["fields"][1]["field"], "note");
    assert_eq!(body["error"]["fields"][0]["message"], "unknown agency");
    let status = Status::from(err);
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violations(&status), vec!["targets[0].agency_unit_id", "note"]);
}

// Issue 10: 100,000 refused ids make one readable error — at most MAX_VIOLATIONS fields and a
// count of the rest, message and details far under 8 KiB (grpcio refuses metadata over 16 KiB).
#[test]
fn a_refusal_of_many_fields_stays_readable() {
    let many: Vec<Violation> = (0..100_000)
        .map(|i| {
            (format!("attachment_ids[{i}]"), format!("no uploaded attachment {i} is free to use {}", "x".repeat(500)))
        })
        .collect();
    let err = ApiError::Invalid(many);
    assert!(err.to_string().len() < 2048, "the log line is bounded too");
    let body = err.http_body().to_string();
    assert!(body.len() < 8 * 1024, "HTTP body of {} bytes", body.len());
    let status = Status::from(err);
    let header_bytes = {
        let mut headers = tonic::codegen::http::HeaderMap::new();
        status.add_header(&mut headers).unwrap();
        headers.iter().map(|(k, v)| k.as_str().len() + v.len()).sum::<usize>()
    };
    assert!(header_bytes < 8 * 1024, "grpc-message and details take {header_bytes} bytes");
    let fields = violations(&status);
    // Long descriptions: fewer than MAX_VIOLATIONS fit the byte budget, the rest are counted.
    assert!(fields.len() > 2 && fields.len() <= MAX_VIOLATIONS + 1, "{}", fields.len());
    assert_eq!(fields[0], "attachment_ids[0]");
    let more = 100_000 - (fields.len() - 1);
    let details = status.get_error_details();
    let last = details.bad_request().unwrap().field_violations.last().unwrap().clone();
    assert_eq!(last.field, "");
    assert!(last.description.contains(&format!("and {more} more")), "{}", last.description);
    assert!(status.message().ends_with(&format!("and {more} more")), "{}", status.message());

    // Short ones: exactly MAX_VIOLATIONS, then the count of the rest.
    let short: Vec<Violation> = (0..40).map(|i| (format!("items[{i}]"), "required".to_owned())).collect();
    let status = Status::from(ApiError::Invalid(short));
    let fields = violations(&status);
    assert_eq!(fields.len(), MAX_VIOLATIONS + 1);
    assert!(status.message().ends_with(&format!("and {} more", 40 - MAX_VIOLATIONS)), "{}", status.message());
}

#[test]
fn each_kind_maps_to_the_code_and_http_status_a_client_acts_on() {
    let cases: Vec<(ApiError, Code, u16)> = vec![
        (ApiError::NotFound("report x".into()), Code::NotFound, 404),
        (ApiError::Forbidden("no".into()), Code::PermissionDenied, 403),
        (ApiError::Unauthenticated("token expired".into()), Code::Unauthenticated, 401),
        (ApiError::FailedPrecondition("later".into()), Code::FailedPrecondition, 409),
        (ApiError::Unavailable("db down at 10.0.0.5".into()), Code::Unavailable, 503),
        (ApiError::Corrupt("case x without replica".into()), Code::Internal, 500),
        (ApiError::Internal("boom".into()), Code::Internal, 500),
        (
            ApiError::Lifecycle(LifecycleError::WrongState {
                action: Action::Dispatch,
                status: ReportStatus::Received,
            }),
            Code::FailedPrecondition,
            409,
        ),
        (ApiError::Lifecycle(LifecycleError::NotTheReporter), Code::PermissionDenied, 403),
        (ApiError::Lifecycle(LifecycleError::NoAgencies), Code::InvalidArgument, 400),
    ];
    for (err, code, http) in cases {
        assert_eq!((err.code(), err.http_status()), (code, http), "{err:?}");
        assert_eq!(Status::from(err).code(), code);
    }
}

#[test]
fn failures_of_the_service_say_nothing_internal() {
    for err in [ApiError::Corrupt("row 7 of /srv/db".into()), ApiError::Internal("panic at x.rs".into())] {
        assert_eq!(err.http_body()["error"]["message"], "internal error");
        let status = Status::from(err);
        assert_eq!((status.code(), status.message()), (Code::Internal, "internal error"));
    }
    let status = Status::from(ApiError::Unavailable("connection refused 10.0.0.5:5432".into()));
    assert!(!status.message().contains("10.0.0.5"), "{}", status.message());
}

// R7.3a: a refusal without a reason is INVALID_ARGUMENT naming `reason`.
#[test]
fn a_missing_field_refusal_names_the_field_r7_3a() {
    let err = ApiError::Lifecycle(LifecycleError::MissingField { action: Action::Refuse, field: "reason" });
    assert_eq!(err.http_body()["error"]["fields"][0]["field"], "reason");
    let status = Status::from(err);
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violations(&status), vec!["reason"]);
}

// R19, R21.2: a refusal by a limit says when to retry and which limit, in gRPC details and HTTP.
#[test]
fn rate_limited_carries_retry_info_r19() {
    let err = ApiError::RateLimited {
        subject: "per_sender".into(),
        message: "too many reports from this sender for now; try again in 90 s".into(),
        retry_after: Duration::from_secs(90),
    };
    assert_eq!((err.http_status(), err.http_body()["error"]["retry_after_secs"].as_u64()), (429, Some(90)));
    let status = Status::from(err);
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(status.message(), "too many reports from this sender for now; try again in 90 s");
    let details = status.get_error_details();
    assert_eq!(details.retry_info().unwrap().retry_delay, Some(Duration::from_secs(90)));
    assert_eq!(details.quota_failure().unwrap().violations[0].subject, "per_sender");
}

#[test]
fn a_remote_client_reads_back_what_the_service_raised() {
    let round = |err: ApiError| ApiError::from(Status::from(err));
    match round(ApiError::Invalid(vec![("note".into(), "blank".into())])) {
        ApiError::Invalid(fields) => assert_eq!(fields, vec![("note".to_owned(), "blank".to_owned())]),
        other => panic!("{other:?}"),
    }
    assert!(matches!(round(ApiError::NotFound("report 1".into())), ApiError::NotFound(w) if w == "report 1"));
    assert!(matches!(round(ApiError::Forbidden("no".into())), ApiError::Forbidden(_)));
    assert!(matches!(round(ApiError::Unauthenticated("no".into())), ApiError::Unauthenticated(_)));
    assert!(matches!(round(ApiError::FailedPrecondition("no".into())), ApiError::FailedPrecondition(_)));
    assert!(matches!(round(ApiError::Unavailable("x".into())), ApiError::Unavailable(_)));
    assert!(matches!(round(ApiError::Corrupt("x".into())), ApiError::Internal(m) if m == "internal error"));
    let limited = round(ApiError::RateLimited {
        subject: "per_address".into(),
        message: "slow down".into(),
        retry_after: Duration::from_secs(5),
    });
    assert!(matches!(limited, ApiError::RateLimited { ref subject, retry_after, .. }
        if subject == "per_address" && retry_after == Duration::from_secs(5)));
    let large = ApiError::TooLarge("found 5000000 bytes, the limit is: 4194304 bytes".into());
    assert_eq!((large.code(), large.http_status()), (Code::ResourceExhausted, 413));
    assert!(matches!(round(large), ApiError::TooLarge(m) if m.contains("4194304")));
    // A lifecycle refusal arrives as the class of refusal it is, with its field.
    match round(ApiError::Lifecycle(LifecycleError::MissingField { action: Action::Refuse, field: "reason" })) {
        ApiError::Invalid(fields) => assert_eq!(fields[0].0, "reason"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn ids_parse_by_one_rule_blank_is_required() {
    let id = uuid::Uuid::from_u128(0x0191_2f3c_7a00_7000_8000_0000_0000_0042);
    assert_eq!(ApiError::parse_id::<ReportId>("report_id", &format!(" {id} ")).unwrap(), ReportId::from_uuid(id));
    assert_eq!(ApiError::parse_id::<AssignmentId>("a", &id.to_string()).unwrap(), AssignmentId::from_uuid(id));
    assert_eq!(ApiError::parse_id::<UnitId>("unit", " SO-XD-86 ").unwrap(), UnitId::new("SO-XD-86"));
    for (value, why) in [("", "required"), ("   ", "required"), ("nope", "must be a UUID")] {
        match ApiError::parse_id::<ReportId>("report_id", value) {
            Err(ApiError::Invalid(fields)) => assert_eq!(fields, vec![("report_id".to_owned(), why.to_owned())]),
            other => panic!("{value:?}: {other:?}"),
        }
        assert!(ApiError::parse_uuid("upload_id", value).is_err());
    }
    assert!(matches!(ApiError::parse_id::<UnitId>("unit", ""), Err(ApiError::Invalid(f)) if f[0].1 == "required"));
    assert_eq!(ApiError::parse_optional_uuid("key", " ").unwrap(), None);
}

// R10.3a: a public answer the personal-data guard refuses says where and why, in
// `google.rpc.PreconditionFailure` and in the HTTP body, bounded, and reads back the same.
#[test]
fn unmet_conditions_carry_each_span_and_reason_r10_3a() {
    let condition = |i: usize| Condition {
        kind: "phone".into(),
        subject: format!("text[{i}..{}]", i + 10),
        description: "số điện thoại / a phone number".into(),
    };
    let err = ApiError::Unmet { message: "the answer carries personal data".into(), conditions: vec![condition(3)] };
    assert_eq!((err.code(), err.http_status()), (Code::FailedPrecondition, 409));
    assert_eq!(err.http_body()["error"]["conditions"][0]["subject"], "text[3..13]");
    let status = Status::from(err);
    assert_eq!(status.code(), Code::FailedPrecondition);
    let details = status.get_error_details();
    let failure = details.precondition_failure().unwrap();
    assert_eq!(
        (failure.violations[0].r#type.as_str(), failure.violations[0].subject.as_str()),
        ("phone", "text[3..13]")
    );
    match ApiError::from(status) {
        ApiError::Unmet { conditions, .. } => assert_eq!(conditions, vec![condition(3)]),
        other => panic!("{other:?}"),
    }
    // Many findings: at most MAX_VIOLATIONS are sent.
    let many = ApiError::Unmet { message: "m".into(), conditions: (0..100).map(condition).collect() };
    let shown = many.conditions();
    assert_eq!(shown.len(), MAX_VIOLATIONS + 1);
    assert_eq!(shown[MAX_VIOLATIONS].kind, "more");
    assert!(shown[MAX_VIOLATIONS].description.ends_with(&format!("and {} more", 100 - MAX_VIOLATIONS)));
    assert!(Status::from(many).details().len() < 4096);
}
