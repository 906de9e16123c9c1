//! `validate_report` as a whole: every rule reachable with the right field path, every
//! violation returned at once, blank optional fields treated as absent (R6.1a–c, R7.3a).

use chrono::{DateTime, Duration, FixedOffset, TimeZone, Utc};

use super::*;

pub(super) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 9, 15, 3, 0, 0).unwrap()
}

pub(super) fn vn(at: DateTime<Utc>) -> DateTime<FixedOffset> {
    at.with_timezone(&FixedOffset::east_opt(7 * 3600).unwrap())
}

/// A complete, valid report from the citizen app.
pub(super) fn valid_draft() -> ReportDraft {
    ReportDraft {
        content: "Ổ gà lớn giữa đường Phạm Thái Bường trước nhà số 45, sâu khoảng 20cm, tối qua có 2 xe máy bị té."
            .into(),
        title: Some("Ổ gà nguy hiểm trước nhà số 45".into()),
        category_code: Some("giao-thong".into()),
        event_time: Some(vn(now() - Duration::hours(14))),
        location: LocationDraft {
            latitude: Some(10.2537),
            longitude: Some(105.9722),
            address: Some("45 Phạm Thái Bường, phường 4, Vĩnh Long".into()),
            unit_code: Some("29254".into()),
        },
        reporter: ReporterDraft {
            name: "Nguyễn Văn An".into(),
            address: "12/3 ấp Phước Yên, xã Phú Quới, Vĩnh Long".into(),
            phone: "0912 345 678".into(),
            email: Some("an.nguyen@gmail.com".into()),
            confidential: true,
        },
        attachments: vec![
            AttachmentDraft {
                file_name: "IMG_0001.JPG".into(),
                content_type: "image/jpeg".into(),
                size_bytes: 3_200_000,
            },
            AttachmentDraft {
                file_name: "VID_0002.mp4".into(),
                content_type: "video/mp4".into(),
                size_bytes: 48_000_000,
            },
        ],
    }
}

fn attachment(name: &str, content_type: &str, size: u64) -> AttachmentDraft {
    AttachmentDraft { file_name: name.into(), content_type: content_type.into(), size_bytes: size }
}

// Proves R6.1a, R6.1b, R6.1c.
#[test]
fn a_complete_report_becomes_valid_types_r6_1a_r6_1b_r6_1c() {
    let report = validate_report(&valid_draft(), &SubmissionRules::default(), now()).unwrap();
    assert!(report.content.language().is_vietnamese());
    assert_eq!(report.title.unwrap().as_str(), "Ổ gà nguy hiểm trước nhà số 45");
    assert_eq!(report.category_code.unwrap().as_str(), "giao-thong");
    assert_eq!(report.event_time.source(), EventTimeSource::Reported);
    assert_eq!(report.place.coordinates().unwrap().latitude(), 10.2537);
    assert_eq!(report.place.unit_code().unwrap().as_str(), "29254");
    assert_eq!(report.reporter.phone.as_e164(), "+84912345678");
    assert_eq!(report.reporter.email.unwrap().as_str(), "an.nguyen@gmail.com");
    assert!(report.reporter.confidential);
    let kinds: Vec<_> = report.attachments.iter().map(AttachmentMeta::kind).collect();
    assert_eq!(kinds, [AttachmentKind::Image, AttachmentKind::Video]);
}

// Proves R6.1b.
#[test]
fn blank_optional_fields_count_as_absent_r6_1b() {
    let mut draft = valid_draft();
    draft.title = Some("  ".into());
    draft.category_code = Some(String::new());
    draft.reporter.email = Some(" ".into());
    draft.location.unit_code = Some("".into());
    draft.attachments.clear();
    let report = validate_report(&draft, &SubmissionRules::default(), now()).unwrap();
    assert!(report.title.is_none());
    assert!(report.category_code.is_none());
    assert!(report.reporter.email.is_none());
    assert!(report.place.unit_code().is_none());
    assert!(report.attachments.is_empty());
}

type Mutation = fn(&mut ReportDraft);

/// One row per rule: how to break it, the path and code it must produce.
const RULES: &[(&str, Mutation, &str, ViolationCode)] = &[
    ("R6.1b content missing", |d| d.content = " \n ".into(), "content", ViolationCode::Required),
    ("R6.1b content too short", |d| d.content = "Ổ gà to".into(), "content", ViolationCode::TooShort),
    (
        "R6.1b content too long",
        |d| d.content = "Đường bị ngập nước sau mưa lớn. ".repeat(200),
        "content",
        ViolationCode::TooLong,
    ),
    (
        "R6.1a content in English",
        |d| d.content = "The road in front of my house has a big pothole, please fix it.".into(),
        "content",
        ViolationCode::NotVietnamese,
    ),
    (
        "R6.1a content without words",
        |d| d.content = "123456789 0912 345 678 !!!".into(),
        "content",
        ViolationCode::NotVietnamese,
    ),
    ("R6.1b title too long", |d| d.title = Some("Ổ gà ".repeat(60)), "title", ViolationCode::TooLong),
    (
        "R6.1b category code malformed",
        |d| d.category_code = Some("giao thông".into()),
        "category_code",
        ViolationCode::InvalidFormat,
    ),
    ("R6.1b event time missing", |d| d.event_time = None, "event_time", ViolationCode::Required),
    (
        "R6.1b event time in future",
        |d| d.event_time = Some(vn(now() + Duration::hours(2))),
        "event_time",
        ViolationCode::InFuture,
    ),
    (
        "R6.1b event time too old",
        |d| d.event_time = Some(vn(now() - Duration::days(400))),
        "event_time",
        ViolationCode::TooOld,
    ),
    ("R6.1b place missing", |d| d.location = LocationDraft::default(), "location", ViolationCode::Required),
    (
        "R6.1b unit code alone",
        |d| d.location = LocationDraft { unit_code: Some("29254".into()), ..LocationDraft::default() },
        "location",
        ViolationCode::Required,
    ),
    (
        "R6.1b latitude without longitude",
        |d| d.location.longitude = None,
        "location.longitude",
        ViolationCode::Required,
    ),
    (
        "R6.1b coordinates not numbers",
        |d| d.location.latitude = Some(f64::NAN),
        "location",
        ViolationCode::InvalidCoordinates,
    ),
    (
        "R6.1b coordinates in Bangkok",
        |d| {
            d.location.latitude = Some(13.7563);
            d.location.longitude = Some(100.5018);
        },
        "location",
        ViolationCode::OutOfVietnam,
    ),
    (
        "R6.1b place address too short",
        |d| d.location.address = Some("Ấp 3".into()),
        "location.address",
        ViolationCode::TooShort,
    ),
    (
        "R6.1b unit code malformed",
        |d| d.location.unit_code = Some("xã Phú Quới".into()),
        "location.unit_code",
        ViolationCode::InvalidFormat,
    ),
    ("R6.1c name missing", |d| d.reporter.name = "   ".into(), "reporter.name", ViolationCode::Required),
    ("R6.1c name too short", |d| d.reporter.name = "A".into(), "reporter.name", ViolationCode::TooShort),
    ("R6.1c name too long", |d| d.reporter.name = "Nguyễn ".repeat(40), "reporter.name", ViolationCode::TooLong),
    (
        "R6.1c name without letters",
        |d| d.reporter.name = "0912345678".into(),
        "reporter.name",
        ViolationCode::InvalidFormat,
    ),
    ("R6.1c address missing", |d| d.reporter.address = String::new(), "reporter.address", ViolationCode::Required),
    (
        "R6.1c address too long",
        |d| d.reporter.address = "ấp Phước Yên ".repeat(40),
        "reporter.address",
        ViolationCode::TooLong,
    ),
    ("R6.1c phone missing", |d| d.reporter.phone = String::new(), "reporter.phone", ViolationCode::Required),
    ("R6.1c phone invalid", |d| d.reporter.phone = "0912 345".into(), "reporter.phone", ViolationCode::InvalidPhone),
    (
        "R6.1c email invalid",
        |d| d.reporter.email = Some("an.nguyen.gmail.com".into()),
        "reporter.email",
        ViolationCode::InvalidEmail,
    ),
    (
        "R6.1b attachment type",
        |d| d.attachments[0].content_type = "image/gif".into(),
        "attachments[0].content_type",
        ViolationCode::UnsupportedType,
    ),
    (
        "R6.1b attachment name mismatch",
        |d| d.attachments[1].file_name = "setup.exe".into(),
        "attachments[1].file_name",
        ViolationCode::TypeMismatch,
    ),
    (
        "R6.1b attachment empty",
        |d| d.attachments[0].size_bytes = 0,
        "attachments[0].size_bytes",
        ViolationCode::EmptyFile,
    ),
    (
        "R6.1b attachment too large",
        |d| d.attachments[1].size_bytes = 300 * MIB,
        "attachments[1].size_bytes",
        ViolationCode::TooLarge,
    ),
    (
        "R6.1b too many attachments",
        |d| d.attachments = vec![attachment("a.jpg", "image/jpeg", 1000); 11],
        "attachments",
        ViolationCode::TooMany,
    ),
];

// Proves R7.3a.
#[test]
fn each_rule_reports_its_field_and_code_r7_3a() {
    let rules = SubmissionRules::default();
    for (name, mutate, field, code) in RULES {
        let mut draft = valid_draft();
        mutate(&mut draft);
        let err = validate_report(&draft, &rules, now()).expect_err(name);
        assert_eq!(err.len(), 1, "{name}: {err}");
        assert!(err.contains(field, *code), "{name}: {err}");
        let v = &err.as_slice()[0];
        assert!(!v.message_vi.is_ascii(), "{name}: Vietnamese message lacks marks: {}", v.message_vi);
        assert!(v.message_en.is_ascii() || v.message_en.contains('→'), "{name}: {}", v.message_en);
    }
}

// Proves R6.1b.
#[test]
fn media_can_be_required_by_the_rules_r6_1b() {
    let rules = SubmissionRules { min_media: 1, ..SubmissionRules::default() };
    let mut draft = valid_draft();
    draft.attachments = vec![attachment("cong-van.pdf", "application/pdf", 20_000)];
    let err = validate_report(&draft, &rules, now()).unwrap_err();
    assert!(err.contains("attachments", ViolationCode::TooFew), "{err}");
}

// Proves R7.3a.
#[test]
fn every_code_is_reachable_r7_3a() {
    use ViolationCode::*;
    let all = [
        Required,
        TooShort,
        TooLong,
        NotVietnamese,
        InFuture,
        TooOld,
        InvalidCoordinates,
        OutOfVietnam,
        InvalidPhone,
        InvalidEmail,
        InvalidFormat,
        UnsupportedType,
        TypeMismatch,
        EmptyFile,
        TooLarge,
        TooMany,
        TooFew,
    ];
    for code in all {
        let covered = RULES.iter().any(|(_, _, _, c)| *c == code) || code == TooFew;
        assert!(covered, "{code} has no row");
    }
}

// Proves R7.3a.
#[test]
fn a_draft_breaking_many_rules_gets_every_violation_at_once_r7_3a() {
    let draft = ReportDraft {
        content: "Pothole here, fix it now please, thank you very much".into(),
        title: Some("x".repeat(201)),
        category_code: Some("?".into()),
        event_time: Some(vn(now() + Duration::days(1))),
        location: LocationDraft {
            latitude: Some(11.5564),
            longitude: Some(104.9282),
            address: Some("   ".into()),
            unit_code: None,
        },
        reporter: ReporterDraft {
            name: String::new(),
            address: "12".into(),
            phone: "+1 415 555 2671".into(),
            email: Some("an@".into()),
            confidential: false,
        },
        attachments: vec![
            attachment("a.gif", "image/gif", 10),
            attachment("b.jpg", "image/jpeg", 0),
            attachment("c.mp4", "video/mp4", 201 * MIB),
        ],
    };
    let err = validate_report(&draft, &SubmissionRules::default(), now()).unwrap_err();
    let got: Vec<(&str, ViolationCode)> = err.as_slice().iter().map(|v| (v.field.as_str(), v.code)).collect();
    assert_eq!(
        got,
        [
            ("content", ViolationCode::NotVietnamese),
            ("title", ViolationCode::TooLong),
            ("category_code", ViolationCode::InvalidFormat),
            ("event_time", ViolationCode::InFuture),
            ("location", ViolationCode::OutOfVietnam),
            ("reporter.name", ViolationCode::Required),
            ("reporter.address", ViolationCode::TooShort),
            ("reporter.phone", ViolationCode::InvalidPhone),
            ("reporter.email", ViolationCode::InvalidEmail),
            ("attachments[0].content_type", ViolationCode::UnsupportedType),
            ("attachments[1].size_bytes", ViolationCode::EmptyFile),
            ("attachments[2].size_bytes", ViolationCode::TooLarge),
        ]
    );
    // The reply to the reporter lists every problem, one per line, in Vietnamese.
    let reply = err.to_text(Lang::Vi);
    assert_eq!(reply.lines().count(), 12);
    assert!(reply.contains("Số điện thoại không hợp lệ: chỉ nhận số điện thoại Việt Nam"));
}

// Proves R7.3a.
#[test]
fn messages_do_not_echo_personal_data_r7_3a() {
    // Refusal messages end up in logs and outgoing mail; the reporter's own phone and
    // e-mail are not repeated in them.
    let mut draft = valid_draft();
    draft.reporter.phone = "0912 345 67".into();
    draft.reporter.email = Some("an.nguyen@gmail".into());
    let err = validate_report(&draft, &SubmissionRules::default(), now()).unwrap_err();
    for v in err.as_slice() {
        for lang in [Lang::Vi, Lang::En] {
            let m = v.message(lang);
            assert!(!m.contains("34567") && !m.contains("an.nguyen"), "{m}");
        }
    }
}

// Proves R6.1b.
#[test]
fn a_channel_without_event_time_gets_the_receipt_time_r6_1b() {
    let rules = SubmissionRules { event_time_required: false, ..SubmissionRules::default() };
    let mut draft = valid_draft();
    draft.event_time = None;
    let report = validate_report(&draft, &rules, now()).unwrap();
    assert_eq!(report.event_time.source(), EventTimeSource::AssumedReceived);
    assert_eq!(report.event_time.at(), now());
}

// Proves R7.3a.
#[test]
fn violations_display_and_serialise_for_clients_r7_3a() {
    let mut draft = valid_draft();
    draft.reporter.phone = "12".into();
    let err = validate_report(&draft, &SubmissionRules::default(), now()).unwrap_err();
    assert!(err.to_string().starts_with("submission refused, 1 problem(s): reporter.phone: Phone number invalid"));
    assert_eq!(err.as_slice()[0].code.as_str(), "invalid_phone");
}
