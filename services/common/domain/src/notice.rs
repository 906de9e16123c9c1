//! What the system owes a reporter or an officer after a fact, and the words it says it in.
//!
//! The regulation makes news a duty: the reporter is told that the report arrived with its
//! tracking code (R3.1, R3.2), why it was refused (R7.3a), that an agency needs more time and until
//! when (R8.2a), what the provincial office decided (R8.2c), the answer — public or private — with
//! the invitation to rate it (R10.3a/b, R11.1), and that a reopened report went back to the agencies
//! (R11.3); staff are reminded before and after deadlines (R13.1, R14.4). [`owed`] says which notice
//! a fact owes and to whom; a [`Template`] (Vietnamese by default, editable by the system operator,
//! checked when saved) turns the values of one notice into its subject and text. The notifier
//! service stores one message per notice with the fact that caused it and delivers it through
//! the channel the report came from; nothing here does I/O.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::lifecycle::{Delivery, Directive, EventKind};

/// A kind of notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// The report arrived: its tracking code and when the IOC checks it (R3.1, R3.2, R7.2).
    Receipt,
    /// The report was refused, with the reason (R7.3a).
    Refusal,
    /// An agency needs more time: why, and the new expected date (R8.2a).
    Explanation,
    /// The provincial office sent the report to agencies (R8.2c).
    Directed,
    /// The provincial office closed the report, with its notice (R8.2c).
    Closing,
    /// The published answer and the rating invitation (R10.3a, R11.1).
    Answer,
    /// The answer for the reporter alone, with the rating invitation (R10.3b, R11.1).
    PrivateAnswer,
    /// The answer was given by telephone: the rating invitation alone (R10.3b, R11.1).
    RatingInvitation,
    /// The reopened report went back to the agencies (R11.3).
    Reopened,
    /// Staff: a deadline is near (R13.1, R14.4).
    DueSoon,
    /// Staff: a deadline was missed (R13.1, R14.4).
    Missed,
}

/// Who a notice is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// The reporter, through the channel the report came from (R3.1).
    Reporter,
    /// The officers to remind, by e-mail.
    Staff,
}

impl NoticeKind {
    /// Every kind, in a fixed order.
    pub const ALL: [NoticeKind; 11] = [
        NoticeKind::Receipt,
        NoticeKind::Refusal,
        NoticeKind::Explanation,
        NoticeKind::Directed,
        NoticeKind::Closing,
        NoticeKind::Answer,
        NoticeKind::PrivateAnswer,
        NoticeKind::RatingInvitation,
        NoticeKind::Reopened,
        NoticeKind::DueSoon,
        NoticeKind::Missed,
    ];

    /// Its stable name (templates, metrics, the message table).
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Receipt => "receipt",
            NoticeKind::Refusal => "refusal",
            NoticeKind::Explanation => "explanation",
            NoticeKind::Directed => "directed",
            NoticeKind::Closing => "closing",
            NoticeKind::Answer => "answer",
            NoticeKind::PrivateAnswer => "private_answer",
            NoticeKind::RatingInvitation => "rating_invitation",
            NoticeKind::Reopened => "reopened",
            NoticeKind::DueSoon => "due_soon",
            NoticeKind::Missed => "missed",
        }
    }

    /// Who it is for.
    pub fn audience(self) -> Audience {
        match self {
            NoticeKind::DueSoon | NoticeKind::Missed => Audience::Staff,
            _ => Audience::Reporter,
        }
    }

    /// The values its template may use; those in [`NoticeKind::required`] must appear.
    pub fn placeholders(self) -> &'static [&'static str] {
        match self {
            NoticeKind::Receipt => &["tracking_code", "received_at", "check_due", "lookup_url"],
            NoticeKind::Refusal => &["tracking_code", "reason"],
            NoticeKind::Explanation => &["tracking_code", "agency", "reason", "expected_date"],
            NoticeKind::Directed => &["tracking_code", "agencies", "note"],
            NoticeKind::Closing => &["tracking_code", "notice"],
            NoticeKind::Answer => &["tracking_code", "answer", "rating_secret", "rating_url"],
            NoticeKind::PrivateAnswer => &["tracking_code", "answer", "rating_secret", "rating_url"],
            NoticeKind::RatingInvitation => &["tracking_code", "rating_secret", "rating_url"],
            NoticeKind::Reopened => &["tracking_code", "agencies"],
            NoticeKind::DueSoon | NoticeKind::Missed => &["tracking_code", "stage", "due_at", "unit", "report_url"],
        }
    }

    /// The values its text must carry: what the regulation says the person must learn.
    pub fn required(self) -> &'static [&'static str] {
        match self {
            NoticeKind::Receipt => &["tracking_code"],
            NoticeKind::Refusal => &["reason"],
            NoticeKind::Explanation => &["expected_date"],
            NoticeKind::Directed => &["tracking_code"],
            NoticeKind::Closing => &["notice"],
            NoticeKind::Answer | NoticeKind::PrivateAnswer => &["answer", "rating_secret"],
            NoticeKind::RatingInvitation => &["rating_secret"],
            NoticeKind::Reopened => &["tracking_code"],
            NoticeKind::DueSoon | NoticeKind::Missed => &["tracking_code", "stage", "due_at"],
        }
    }

    /// The shipped template, in Vietnamese with a short English line where it is cheap.
    pub fn default_template(self) -> Template {
        let (subject, body) = match self {
            NoticeKind::Receipt => (
                "Đã tiếp nhận phản ánh {tracking_code}",
                "Phản ánh của bạn đã được tiếp nhận lúc {received_at}, mã số {tracking_code}.\n\
                 Trung tâm Giám sát, điều hành thông minh sẽ kiểm tra trước {check_due}.\n\
                 Tra cứu: {lookup_url}\n\n\
                 Your report was received; its tracking code is {tracking_code}.",
            ),
            NoticeKind::Refusal => (
                "Phản ánh {tracking_code} chưa được tiếp nhận xử lý",
                "Phản ánh {tracking_code} chưa đủ điều kiện để xử lý:\n{reason}\n\n\
                 Bạn có thể gửi lại phản ánh với đầy đủ thông tin.",
            ),
            NoticeKind::Explanation => (
                "Phản ánh {tracking_code}: cơ quan cần thêm thời gian",
                "{agency} cần thêm thời gian để xử lý phản ánh {tracking_code}:\n{reason}\n\n\
                 Thời gian dự kiến hoàn thành: {expected_date}.",
            ),
            NoticeKind::Directed => (
                "Phản ánh {tracking_code} đã được chuyển xử lý theo chỉ đạo",
                "Theo chỉ đạo của Văn phòng UBND tỉnh, phản ánh {tracking_code} đã được chuyển đến: {agencies}.\n{note}",
            ),
            NoticeKind::Closing => (
                "Phản ánh {tracking_code} đã kết thúc theo chỉ đạo",
                "Theo chỉ đạo của Văn phòng UBND tỉnh, phản ánh {tracking_code} được kết thúc:\n{notice}",
            ),
            NoticeKind::Answer => (
                "Kết quả xử lý phản ánh {tracking_code}",
                "{answer}\n\n\
                 Mời bạn đánh giá kết quả (Hài lòng / Bình thường / Không hài lòng) tại {rating_url} \
                 với mã đánh giá {rating_secret}. Nếu chưa đồng ý, bạn có thể phản ánh lại bằng mã này.\n\n\
                 Rate the answer at {rating_url} with the code {rating_secret}.",
            ),
            NoticeKind::PrivateAnswer => (
                "Kết quả xử lý phản ánh {tracking_code} (gửi riêng)",
                "Theo đề nghị giữ bí mật của bạn, kết quả chỉ gửi riêng cho bạn:\n\n{answer}\n\n\
                 Mời bạn đánh giá kết quả tại {rating_url} với mã đánh giá {rating_secret}.",
            ),
            NoticeKind::RatingInvitation => (
                "Mời đánh giá kết quả xử lý phản ánh {tracking_code}",
                "Kết quả xử lý phản ánh {tracking_code} đã được thông báo cho bạn qua điện thoại.\n\
                 Mời bạn đánh giá tại {rating_url} với mã đánh giá {rating_secret}.",
            ),
            NoticeKind::Reopened => (
                "Phản ánh {tracking_code} đã được chuyển xử lý lại",
                "Ý kiến của bạn đã được tiếp nhận; phản ánh {tracking_code} đã được chuyển lại {agencies} để xử lý.",
            ),
            NoticeKind::DueSoon => (
                "[Sắp đến hạn] {stage} — phản ánh {tracking_code}",
                "Phản ánh {tracking_code} ({unit}): hạn {stage} là {due_at}.\nXem: {report_url}",
            ),
            NoticeKind::Missed => (
                "[Quá hạn] {stage} — phản ánh {tracking_code}",
                "Phản ánh {tracking_code} ({unit}) đã quá hạn {stage} ({due_at}).\nXem: {report_url}",
            ),
        };
        Template::parse(self, subject, body).expect("the shipped templates are valid")
    }
}

impl fmt::Display for NoticeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The notices a lifecycle fact owes the reporter (staff reminders come from the sweeper's
/// `deadline.*` events, outside the lifecycle). Facts that tell the reporter nothing owe none.
pub fn owed(kind: &EventKind) -> Vec<NoticeKind> {
    match kind {
        EventKind::ReportReceived { .. } => vec![NoticeKind::Receipt],
        EventKind::ReportRefused { .. } => vec![NoticeKind::Refusal],
        EventKind::AssignmentExplained { .. } => vec![NoticeKind::Explanation],
        EventKind::DirectiveIssued { directive: Directive::Dispatch { .. } } => vec![NoticeKind::Directed],
        EventKind::ReportClosed { .. } => vec![NoticeKind::Closing],
        EventKind::ReportPublished => vec![NoticeKind::Answer],
        EventKind::ReportAnsweredPrivately { delivery: Delivery::Phone, .. } => vec![NoticeKind::RatingInvitation],
        EventKind::ReportAnsweredPrivately { .. } => vec![NoticeKind::PrivateAnswer],
        EventKind::ReportReopened { .. } => vec![NoticeKind::Reopened],
        // The closing directive's notice travels with report.closed; the rest is staff's business.
        EventKind::DirectiveIssued { directive: Directive::Close { .. } }
        | EventKind::ReportAccepted
        | EventKind::ReportDispatched { .. }
        | EventKind::AssignmentReturned { .. }
        | EventKind::AssignmentResultSubmitted { .. }
        | EventKind::AssignmentApproved { .. }
        | EventKind::AssignmentSentBack { .. }
        | EventKind::ReportEscalated { .. }
        | EventKind::ReportResolved { .. }
        | EventKind::AnswerEdited { .. }
        | EventKind::ReportWithheld { .. }
        | EventKind::ReportRated { .. } => Vec::new(),
    }
}

/// The longest template subject, in characters.
pub const MAX_SUBJECT_CHARS: usize = 200;
/// The longest template body, in characters.
pub const MAX_BODY_CHARS: usize = 4_000;

/// Why a template cannot be saved; each names where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `{name}` is not a value of this notice.
    #[error("{part}: {{{name}}} is not a value of the {kind} notice; it may use {allowed}")]
    UnknownPlaceholder {
        /// The notice.
        kind: NoticeKind,
        /// `subject` or `body`.
        part: &'static str,
        /// The name used.
        name: String,
        /// The names it may use.
        allowed: String,
    },
    /// A value the person must learn is missing.
    #[error("the {kind} notice must carry {{{name}}} in its subject or body")]
    MissingPlaceholder {
        /// The notice.
        kind: NoticeKind,
        /// The missing name.
        name: &'static str,
    },
    /// A `{` without its `}` or the other way round (write `{{` and `}}` for the braces themselves).
    #[error("{part}: unbalanced brace at character {at}; write {{{{ or }}}} for a brace itself")]
    Unbalanced {
        /// `subject` or `body`.
        part: &'static str,
        /// Where, in characters.
        at: usize,
    },
    /// Empty, too long, or with control characters.
    #[error("{part}: {problem}")]
    BadText {
        /// `subject` or `body`.
        part: &'static str,
        /// What is wrong.
        problem: String,
    },
}

/// One piece of a template: literal text or a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum Piece {
    Text(String),
    Value(String),
}

/// A checked template: a subject (one line) and a body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    kind: NoticeKind,
    subject: Vec<Piece>,
    body: Vec<Piece>,
    source: (String, String),
}

/// The values of one notice, by placeholder name.
pub type Values = BTreeMap<&'static str, String>;

/// A notice's text, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The subject line (e-mail subject; dropped by channels without one).
    pub subject: String,
    /// The text.
    pub body: String,
}

fn pieces(kind: NoticeKind, part: &'static str, text: &str) -> Result<Vec<Piece>, TemplateError> {
    let allowed = kind.placeholders();
    let mut out = Vec::new();
    let mut literal = String::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '{' if chars.get(i + 1) == Some(&'{') => {
                literal.push('{');
                i += 2;
            }
            '}' if chars.get(i + 1) == Some(&'}') => {
                literal.push('}');
                i += 2;
            }
            '{' => {
                let end = chars[i + 1..].iter().position(|c| *c == '}' || *c == '{');
                let Some(len) = end.filter(|len| chars[i + 1 + len] == '}') else {
                    return Err(TemplateError::Unbalanced { part, at: i });
                };
                let name: String = chars[i + 1..i + 1 + len].iter().collect();
                if !allowed.contains(&name.as_str()) {
                    return Err(TemplateError::UnknownPlaceholder {
                        kind,
                        part,
                        name,
                        allowed: allowed.iter().map(|a| format!("{{{a}}}")).collect::<Vec<_>>().join(", "),
                    });
                }
                if !literal.is_empty() {
                    out.push(Piece::Text(std::mem::take(&mut literal)));
                }
                out.push(Piece::Value(name));
                i += len + 2;
            }
            '}' => return Err(TemplateError::Unbalanced { part, at: i }),
            c => {
                literal.push(c);
                i += 1;
            }
        }
    }
    if !literal.is_empty() {
        out.push(Piece::Text(literal));
    }
    Ok(out)
}

fn check_text(part: &'static str, text: &str, max: usize, multiline: bool) -> Result<(), TemplateError> {
    let bad = |problem: String| Err(TemplateError::BadText { part, problem });
    let chars = text.chars().count();
    if text.trim().is_empty() {
        return bad("required".into());
    }
    if chars > max {
        return bad(format!("at most {max} characters, {chars} given"));
    }
    if text.chars().any(|c| crate::validation::is_forbidden_in_text(c, multiline)) {
        return bad("control or bidirectional-override characters are not allowed".into());
    }
    Ok(())
}

impl Template {
    /// Checks a template for `kind`: a one-line subject and a body within bounds, braces
    /// balanced, only the notice's values, and every value it must carry.
    pub fn parse(kind: NoticeKind, subject: &str, body: &str) -> Result<Template, TemplateError> {
        check_text("subject", subject, MAX_SUBJECT_CHARS, false)?;
        check_text("body", body, MAX_BODY_CHARS, true)?;
        let template = Template {
            kind,
            subject: pieces(kind, "subject", subject)?,
            body: pieces(kind, "body", body)?,
            source: (subject.to_owned(), body.to_owned()),
        };
        for name in kind.required() {
            let used = |p: &Piece| matches!(p, Piece::Value(v) if v == name);
            if !template.subject.iter().chain(&template.body).any(used) {
                return Err(TemplateError::MissingPlaceholder { kind, name });
            }
        }
        Ok(template)
    }

    /// The notice it is for.
    pub fn kind(&self) -> NoticeKind {
        self.kind
    }

    /// The subject and body as written (for the operator's editor).
    pub fn source(&self) -> (&str, &str) {
        (&self.source.0, &self.source.1)
    }

    /// The text of one notice. A value not given renders empty; line breaks in values become
    /// spaces in the subject.
    pub fn render(&self, values: &Values) -> Rendered {
        let fill = |pieces: &[Piece]| {
            pieces
                .iter()
                .map(|p| match p {
                    Piece::Text(t) => t.as_str(),
                    Piece::Value(v) => values.get(v.as_str()).map_or("", String::as_str),
                })
                .collect::<String>()
        };
        let subject = fill(&self.subject).split_whitespace().collect::<Vec<_>>().join(" ");
        Rendered { subject, body: fill(&self.body) }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone, Utc};

    use super::*;
    use crate::deadline::{Deadline, Stage};
    use crate::ids::{AssignmentId, UnitId};
    use crate::lifecycle::{DispatchedAssignment, NewAssignment};

    fn values(pairs: &[(&'static str, &str)]) -> Values {
        pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
    }

    fn deadline(stage: Stage) -> Deadline {
        let t = Utc.with_ymd_and_hms(2027, 3, 8, 2, 0, 0).unwrap();
        Deadline { stage, started_at: t, due_at: t, rule: stage.rule() }
    }

    // R3.1, R7.3a, R8.2a, R8.2c, R10.3a, R10.3b, R11.3: each fact that tells the reporter something
    // owes exactly the notice the article names; the rest owe none.
    #[test]
    fn every_fact_owes_the_notice_its_article_names_r3_1_r7_3a_r8_2a_r8_2c_r10_3_r11_3() {
        let a = AssignmentId::from_uuid(uuid::Uuid::from_u128(1));
        let agency = UnitId::new("AG");
        let dispatched = DispatchedAssignment {
            id: a,
            agency: agency.clone(),
            lead: true,
            instructions: None,
            handling: deadline(Stage::Handling),
            return_window: deadline(Stage::Return),
            explanation_window: deadline(Stage::Explanation),
        };
        let cases: Vec<(EventKind, Vec<NoticeKind>)> = vec![
            (
                EventKind::ReportReceived { check: deadline(Stage::Check), confidential: false },
                vec![NoticeKind::Receipt],
            ),
            (EventKind::ReportRefused { reason: "r".into() }, vec![NoticeKind::Refusal]),
            (
                EventKind::AssignmentExplained {
                    assignment: a,
                    agency: agency.clone(),
                    reason: "r".into(),
                    expected_completion: NaiveDate::from_ymd_opt(2027, 3, 20).unwrap(),
                    handling: deadline(Stage::Handling),
                },
                vec![NoticeKind::Explanation],
            ),
            (
                EventKind::DirectiveIssued {
                    directive: Directive::Dispatch {
                        assignments: vec![NewAssignment {
                            id: a,
                            agency: agency.clone(),
                            lead: true,
                            instructions: None,
                        }],
                        note: "n".into(),
                    },
                },
                vec![NoticeKind::Directed],
            ),
            (EventKind::DirectiveIssued { directive: Directive::Close { notice: "n".into() } }, vec![]),
            (
                EventKind::ReportClosed { notice: "n".into(), duplicate_of: None, cancelled: vec![] },
                vec![NoticeKind::Closing],
            ),
            (EventKind::ReportPublished, vec![NoticeKind::Answer]),
            (
                EventKind::ReportAnsweredPrivately { delivery: Delivery::Email, note: None },
                vec![NoticeKind::PrivateAnswer],
            ),
            (
                EventKind::ReportAnsweredPrivately { delivery: Delivery::ChannelMessage, note: None },
                vec![NoticeKind::PrivateAnswer],
            ),
            (
                EventKind::ReportAnsweredPrivately { delivery: Delivery::Sms, note: None },
                vec![NoticeKind::PrivateAnswer],
            ),
            (
                EventKind::ReportAnsweredPrivately { delivery: Delivery::Phone, note: None },
                vec![NoticeKind::RatingInvitation],
            ),
            (
                EventKind::ReportReopened { feedback: "f".into(), assignments: vec![dispatched.clone()] },
                vec![NoticeKind::Reopened],
            ),
            (EventKind::ReportAccepted, vec![]),
            (EventKind::ReportDispatched { assignments: vec![dispatched], answers_returns: vec![] }, vec![]),
            (EventKind::ReportWithheld { legal_basis: "b".into() }, vec![]),
            (EventKind::AnswerEdited { text: "t".into() }, vec![]),
        ];
        for (event, expected) in cases {
            assert_eq!(owed(&event), expected, "{event:?}");
            assert!(owed(&event).iter().all(|k| k.audience() == Audience::Reporter));
        }
    }

    #[test]
    fn every_shipped_template_is_valid_and_carries_what_it_must() {
        for kind in NoticeKind::ALL {
            let t = kind.default_template();
            let (subject, body) = t.source();
            assert_eq!(Template::parse(kind, subject, body).as_ref(), Ok(&t));
            let all: Values = kind.placeholders().iter().map(|p| (*p, format!("<{p}>"))).collect();
            let out = t.render(&all);
            for name in kind.required() {
                assert!(
                    out.subject.contains(&format!("<{name}>")) || out.body.contains(&format!("<{name}>")),
                    "{kind}: {name}"
                );
            }
            assert!(!out.subject.contains('{') && !out.body.contains('{'), "{kind}: {out:?}");
            assert!(!out.subject.contains('\n'));
        }
        let names: std::collections::BTreeSet<_> = NoticeKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), NoticeKind::ALL.len());
        assert_eq!(NoticeKind::DueSoon.audience(), Audience::Staff);
        assert_eq!(NoticeKind::Missed.audience(), Audience::Staff);
    }

    // R10.3a, R11.1: the answer carries its rating secret; values are filled as given, braces escape.
    #[test]
    fn a_template_renders_its_values_r10_3a_r11_1() {
        let t = Template::parse(
            NoticeKind::Answer,
            "Kết quả {tracking_code}",
            "{answer}\nMã đánh giá: {rating_secret} {{không đổi}}",
        )
        .unwrap();
        let out = t.render(&values(&[
            ("tracking_code", "PA-2027\nX"),
            ("answer", "Đã sửa xong."),
            ("rating_secret", "ABCD-EFGH"),
        ]));
        assert_eq!(out.subject, "Kết quả PA-2027 X");
        assert_eq!(out.body, "Đã sửa xong.\nMã đánh giá: ABCD-EFGH {không đổi}");
        // A missing value renders empty rather than failing a delivery.
        assert_eq!(t.render(&Values::new()).body, "\nMã đánh giá:  {không đổi}");
    }

    // An operator's edit is checked when saved: unknown values, missing duties, broken braces,
    // control characters and size are refused with where and why.
    #[test]
    fn an_edited_template_is_checked_when_saved() {
        let k = NoticeKind::Refusal;
        let err = Template::parse(k, "Về {tracking_code}", "Lý do: {reason} {phone}").unwrap_err();
        assert!(
            matches!(&err, TemplateError::UnknownPlaceholder { part: "body", name, .. } if name == "phone"),
            "{err}"
        );
        assert!(err.to_string().contains("{reason}"), "{err}");
        assert_eq!(
            Template::parse(k, "Về {tracking_code}", "Không có lý do").unwrap_err(),
            TemplateError::MissingPlaceholder { kind: k, name: "reason" }
        );
        assert_eq!(
            Template::parse(k, "Về {tracking_code", "{reason}").unwrap_err(),
            TemplateError::Unbalanced { part: "subject", at: 3 }
        );
        assert_eq!(
            Template::parse(k, "x}", "{reason}").unwrap_err(),
            TemplateError::Unbalanced { part: "subject", at: 1 }
        );
        assert!(matches!(
            Template::parse(k, "a\nb", "{reason}").unwrap_err(),
            TemplateError::BadText { part: "subject", .. }
        ));
        assert!(matches!(
            Template::parse(k, "s", "{reason}\u{202e}").unwrap_err(),
            TemplateError::BadText { part: "body", .. }
        ));
        assert!(matches!(
            Template::parse(k, " ", "{reason}").unwrap_err(),
            TemplateError::BadText { part: "subject", .. }
        ));
        let long = format!("{{reason}}{}", "x".repeat(MAX_BODY_CHARS));
        assert!(matches!(Template::parse(k, "s", &long).unwrap_err(), TemplateError::BadText { part: "body", .. }));
        assert!(Template::parse(k, "Phản ánh {tracking_code}", "Lý do:\n{reason}").is_ok());
    }
}
