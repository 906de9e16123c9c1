//! Properties over generated input (R6.1a, R6.1b, R6.1c, R7.3a): parsing is stable, never
//! panics on hostile input, and does not depend on surrounding whitespace.

use proptest::prelude::*;

use super::report_tests::{now, valid_draft};
use super::vietnamese::compose;
use super::*;

/// Valid mobile prefixes (after the 0) and landline area codes, to build valid numbers.
const MOBILE_PREFIXES: &[&str] = &[
    "32", "33", "34", "35", "36", "37", "38", "39", "52", "55", "56", "58", "59", "70", "76", "77", "78", "79", "81",
    "82", "83", "84", "85", "86", "87", "88", "89", "90", "91", "92", "93", "94", "96", "97", "98", "99",
];
const AREA_CODES: &[&str] = &["24", "28", "270", "275", "294", "292", "236", "203"];

/// A valid national number without the trunk 0.
fn national_number() -> impl Strategy<Value = String> {
    prop_oneof![
        (prop::sample::select(MOBILE_PREFIXES), "[0-9]{7}").prop_map(|(p, rest)| format!("{p}{rest}")),
        (prop::sample::select(AREA_CODES), "[0-9]{8}").prop_map(|(a, rest)| format!("{a}{}", &rest[..10 - a.len()])),
    ]
}

/// The same number the way people write it: prefixes and separators vary.
fn written(national: &str, style: u8, separator: char) -> String {
    let mut spaced = String::new();
    for (i, c) in national.chars().enumerate() {
        if i > 0 && i % 3 == 0 {
            spaced.push(separator);
        }
        spaced.push(c);
    }
    match style % 5 {
        0 => format!("0{spaced}"),
        1 => format!("+84 {spaced}"),
        2 => format!("84{national}"),
        3 => format!("(+84) {spaced}"),
        _ => format!("0084{separator}{spaced}"),
    }
}

fn whitespace() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(vec![' ', '\t', '\n', '\u{00A0}', '\u{3000}']), 0..4)
        .prop_map(|v| v.into_iter().collect())
}

proptest! {
    // Proves R6.1c.
    #[test]
    fn phone_parse_accepts_every_writing_and_is_idempotent_r6_1c(
        national in national_number(),
        style in any::<u8>(),
        separator in prop::sample::select(vec![' ', '.', '-']),
    ) {
        let raw = written(&national, style, separator);
        let phone = PhoneNumber::parse(&raw).map_err(|e| TestCaseError::fail(format!("{raw}: {e}")))?;
        prop_assert_eq!(phone.as_e164(), format!("+84{national}"));
        prop_assert_eq!(&PhoneNumber::parse(phone.as_e164()).unwrap(), &phone);
        prop_assert_eq!(&PhoneNumber::parse(&phone.national()).unwrap(), &phone);
    }

    // Proves R6.1c.
    #[test]
    fn phone_parse_gives_e164_or_one_reason_r6_1c(raw in "\\PC{0,40}") {
        match PhoneNumber::parse(&raw) {
            Ok(phone) => {
                let e164 = phone.as_e164();
                prop_assert!(e164.starts_with("+84") && matches!(e164.len(), 12 | 13), "{}", e164);
                prop_assert!(e164[1..].bytes().all(|b| b.is_ascii_digit()));
            }
            Err(e) => {
                prop_assert_eq!(e.len(), 1);
                prop_assert!(matches!(e.as_slice()[0].code, ViolationCode::Required | ViolationCode::InvalidPhone));
            }
        }
    }

    // Proves R6.1a.
    #[test]
    fn language_check_never_panics_and_shares_are_proportions_r6_1a(text in "\\PC{0,300}") {
        let v = assess_language(&text);
        prop_assert!((0.0..=1.0).contains(&v.syllable_share()));
        prop_assert!((0.0..=1.0).contains(&v.marked_share()));
        prop_assert!((0.0..=1.0).contains(&v.foreign_script_share));
    }

    // Proves R6.1a.
    #[test]
    fn compose_is_idempotent_r6_1a(text in "[aeiouyăâêôơưAEIOU\u{300}\u{301}\u{303}\u{309}\u{323}\u{302}\u{306}\u{31b} d]{0,30}") {
        let once = compose(&text);
        prop_assert_eq!(compose(&once), once);
    }

    // Proves R7.3a.
    #[test]
    fn validate_never_panics_on_arbitrary_input_r7_3a(
        content in "\\PC{0,200}",
        title in proptest::option::of("\\PC{0,50}"),
        code in proptest::option::of("\\PC{0,20}"),
        lat in proptest::option::of(any::<f64>()),
        lon in proptest::option::of(any::<f64>()),
        address in proptest::option::of("\\PC{0,60}"),
        name in "\\PC{0,40}",
        phone in "\\PC{0,20}",
        email in proptest::option::of("\\PC{0,30}"),
        file_name in "\\PC{0,30}",
        content_type in "\\PC{0,20}",
        size in any::<u64>(),
        minutes in any::<i32>(),
    ) {
        let draft = ReportDraft {
            content,
            title,
            category_code: code,
            event_time: Some(report_tests::vn(now()) + chrono::Duration::minutes(i64::from(minutes))),
            location: LocationDraft { latitude: lat, longitude: lon, address: address.clone(), unit_code: address },
            reporter: ReporterDraft { name, address: String::new(), phone, email, confidential: false },
            attachments: vec![AttachmentDraft { file_name, content_type, size_bytes: size }],
        };
        match validate_report(&draft, &SubmissionRules::default(), now()) {
            // An empty reporter address always fails, so every outcome is a refusal that says why.
            Ok(_) => prop_assert!(false, "an empty reporter address was accepted"),
            Err(e) => {
                prop_assert!(!e.is_empty());
                prop_assert!(e.contains("reporter.address", ViolationCode::Required));
                for v in e.as_slice() {
                    prop_assert!(!v.message_vi.is_empty() && !v.message_en.is_empty());
                }
            }
        }
    }

    // Proves R6.1b, R6.1c.
    #[test]
    fn a_valid_draft_stays_valid_under_whitespace_padding_r6_1b_r6_1c(
        pads in prop::collection::vec(whitespace(), 16),
    ) {
        let pad = |i: usize, s: &str| format!("{}{s}{}", pads[i], pads[i + 8]);
        let original = valid_draft();
        let mut padded = original.clone();
        padded.content = pad(0, &original.content);
        padded.title = original.title.as_deref().map(|t| pad(1, t));
        padded.category_code = original.category_code.as_deref().map(|c| pad(2, c));
        padded.location.address = original.location.address.as_deref().map(|a| pad(3, a));
        padded.reporter.name = pad(4, &original.reporter.name);
        padded.reporter.address = pad(5, &original.reporter.address);
        padded.reporter.phone = pad(6, &original.reporter.phone);
        padded.reporter.email = original.reporter.email.as_deref().map(|e| pad(7, e));
        let rules = SubmissionRules::default();
        let expected = validate_report(&original, &rules, now()).unwrap();
        let got = validate_report(&padded, &rules, now());
        prop_assert_eq!(got, Ok(expected));
    }
}
