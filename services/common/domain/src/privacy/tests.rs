//! The guard's cases (R6.2, R10.3a, R20.2): what it must flag, what it must leave alone.

use proptest::prelude::*;

use super::*;

const NAME: &str = "Nguyễn Văn An";
const ADDRESS: &str = "Số 25 Nguyễn Trãi, phường Bến Thành";

fn reporter() -> Reporter<'static> {
    Reporter { name: Some(NAME), name_public: false, address: Some(ADDRESS) }
}

/// The kinds found in `text`, with the text of each span.
fn found(text: &str) -> Vec<(FindingKind, &str)> {
    scan(text, &reporter()).into_iter().map(|f| (f.kind, &text[f.span])).collect()
}

// R6.2, R10.3a: every spelling the issue names is refused, with its exact span.
#[test]
fn personal_data_in_an_answer_is_found_with_its_span_r6_2() {
    use FindingKind::*;
    let cases: &[(&str, &[(FindingKind, &str)])] = &[
        ("Liên hệ 0912345678 để biết thêm.", &[(Phone, "0912345678")]),
        ("Liên hệ 0912 345 678.", &[(Phone, "0912 345 678")]),
        ("Liên hệ 0912.345.678.", &[(Phone, "0912.345.678")]),
        ("Liên hệ 0912-345-678.", &[(Phone, "0912-345-678")]),
        ("Liên hệ +84 912 345 678.", &[(Phone, "+84 912 345 678")]),
        ("Liên hệ +84912345678.", &[(Phone, "+84912345678")]),
        ("Liên hệ 84912345678.", &[(Phone, "84912345678")]),
        ("Gọi (0270) 3822 111 giờ hành chính.", &[(Phone, "0270) 3822 111")]),
        ("ĐT:0387654321", &[(Phone, "0387654321")]),
        ("ĐT0387654321", &[(Phone, "0387654321")]),
        ("Thư gửi an.nguyen+pa@example.com.vn nhé.", &[(Email, "an.nguyen+pa@example.com.vn")]),
        ("Email: AN@EXAMPLE.ORG.", &[(Email, "AN@EXAMPLE.ORG")]),
        ("CCCD 079203001234 của ông.", &[(CitizenId, "079203001234")]),
        ("Số định danh 001 099 012 345.", &[(CitizenId, "001 099 012 345")]),
        ("Ông Nguyễn Văn An phản ánh", &[(ReporterName, "Nguyễn Văn An")]),
        ("Ong Nguyen Van An phan anh", &[(ReporterName, "Nguyen Van An")]),
        ("ÔNG NGUYỄN VĂN AN", &[(ReporterName, "NGUYỄN VĂN AN")]),
        ("ông nguyễn an", &[(ReporterName, "nguyễn an")]),
        // Typed with combining marks (NFD): the span is the original bytes.
        ("Ông Nguye\u{0302}\u{0303}n Va\u{0306}n An", &[(ReporterName, "Nguye\u{0302}\u{0303}n Va\u{0306}n An")]),
        ("Nhà ở 25 Nguyễn Trãi bị ngập.", &[(ReporterAddress, "25 Nguyễn Trãi")]),
        ("Nhà số 25 nguyen trai bị ngập.", &[(ReporterAddress, "số 25 nguyen trai")]),
        (
            "Ông Nguyễn Văn An (0912345678, an@example.com)",
            &[(ReporterName, "Nguyễn Văn An"), (Phone, "0912345678"), (Email, "an@example.com")],
        ),
        ("Hai số: 0912345678 - 0987654321", &[(Phone, "0912345678"), (Phone, "0987654321")]),
        ("Hai số: 0912345678 0987654321", &[(Phone, "0912345678"), (Phone, "0987654321")]),
        ("Số 0912 345 678 0270 3822 111", &[(Phone, "0912 345 678"), (Phone, "0270 3822 111")]),
    ];
    for (text, expected) in cases {
        assert_eq!(found(text), expected.to_vec(), "{text:?}");
    }
}

// What is not personal data stays publishable: amounts, dates, decisions, hotlines, the
// given name alone, a street without the reporter's house number.
#[test]
fn ordinary_answers_pass_the_guard() {
    for text in [
        "UBND phường đã sửa ổ gà trên đường Nguyễn Trãi ngày 08/03/2027, kinh phí 25.000.000 đồng.",
        "Theo Quyết định số 1234/QĐ-UBND ngày 2027-03-08, tổng vốn 1.500.000.000 đồng.",
        "Mọi thắc mắc xin gọi tổng đài 1022 hoặc 1900 1234.",
        "An toàn giao thông được bảo đảm; ông An đã được thông báo.",
        "Đoạn đường Nguyễn Trãi đã được thảm lại.",
        "Email không có: a@b, @example.com, an@localhost.",
        "Mã hồ sơ H86.27-250308-0001.",
        "",
    ] {
        assert_eq!(found(text), vec![], "{text:?}");
    }
}

// R6.2: a reporter who chose to show their name may be named; their phone still may not.
#[test]
fn a_name_the_reporter_chose_to_show_is_allowed() {
    let shown = Reporter { name_public: true, ..reporter() };
    let text = "Ông Nguyễn Văn An, 0912345678";
    let kinds: Vec<FindingKind> = scan(text, &shown).into_iter().map(|f| f.kind).collect();
    assert_eq!(kinds, [FindingKind::Phone]);
    assert!(scan("Ông Nguyễn Văn An", &Reporter::default()).is_empty(), "no reporter, no name to find");
}

// Every kind explains itself in both languages and has a stable name.
#[test]
fn every_finding_kind_has_its_reasons() {
    use FindingKind::*;
    for kind in [ReporterName, Phone, Email, CitizenId, ReporterAddress] {
        assert!(!kind.reason_vi().is_empty() && !kind.reason_en().is_empty() && !kind.as_str().is_empty());
    }
}

/// A Vietnamese mobile number in one of the spellings people write.
fn spelled_phone() -> impl Strategy<Value = String> {
    let prefix = prop::sample::select(vec!['3', '5', '7', '8', '9']);
    (prefix, prop::collection::vec(0u8..10, 8), 0usize..6).prop_map(|(p, rest, style)| {
        let d: String = rest.iter().map(|n| char::from(b'0' + n)).collect();
        let (a, b, c) = (&d[..2], &d[2..5], &d[5..]);
        match style {
            0 => format!("0{p}{d}"),
            1 => format!("0{p}{a} {b} {c}"),
            2 => format!("0{p}{a}.{b}.{c}"),
            3 => format!("0{p}{a}-{b}-{c}"),
            4 => format!("+84 {p}{a} {b} {c}"),
            _ => format!("+84{p}{d}"),
        }
    })
}

proptest! {
    // R6.2: any mobile number in any of these spellings, anywhere in a sentence, is found whole.
    #[test]
    fn any_spelled_phone_is_found(phone in spelled_phone(), before in "[a-zA-Zà-ỹ ,:]{0,20}", after in "[a-zA-Zà-ỹ ,.]{0,20}") {
        let text = format!("{before} {phone} {after}");
        let findings = scan(&text, &Reporter::default());
        prop_assert!(findings.iter().any(|f| f.kind == FindingKind::Phone && text[f.span.clone()] == phone), "{text:?}: {findings:?}");
    }

    // Spans are always on character boundaries, ordered and disjoint, whatever the text.
    #[test]
    fn spans_are_ordered_disjoint_and_on_boundaries(text in "\\PC{0,120}") {
        let findings = scan(&text, &reporter());
        for pair in findings.windows(2) {
            prop_assert!(pair[0].span.end <= pair[1].span.start);
        }
        for f in &findings {
            prop_assert!(text.is_char_boundary(f.span.start) && text.is_char_boundary(f.span.end) && f.span.start < f.span.end);
        }
    }

    // Text without digits, '@' or the reporter's words is never refused.
    #[test]
    fn letters_alone_are_never_refused(text in "[a-zA-Zà-ỹ ,.!?]{0,200}") {
        let someone = Reporter { name: Some("Phạm Thị Xuân"), name_public: false, address: Some("12 Lê Lợi") };
        let findings = scan(&text, &someone);
        prop_assert!(findings.iter().all(|f| f.kind == FindingKind::ReporterName), "{text:?}: {findings:?}");
    }
}
