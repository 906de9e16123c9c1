//! Free-text fields: the report's content and title, names, addresses and codes.
//!
//! Text is normalised before it is measured: Vietnamese typed with combining marks is
//! composed, invisible and control characters are dropped, runs of spaces collapse.
//! Lengths are counted in characters (letters), never in bytes: a Vietnamese letter
//! takes up to 3 bytes in UTF-8 and a limit in bytes would punish writing with marks.

use std::fmt;

use serde::Serialize;

use super::language::{LanguageDecision, LanguageVerdict, assess_language};
use super::rules::SubmissionRules;
use super::vietnamese::compose;
use super::violation::{Violation, ViolationCode, Violations};

/// Characters that render as nothing or reorder text (zero-width, BOM, bidi controls);
/// they hide content from operators and are removed.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{00AD}')
}

/// Whether `c` must not stand in a text staff or citizens read as it was typed (a reason, a
/// note, an audit purpose): a control character — line breaks and tabs aside when `multiline` —
/// or a bidi control, which reorders what is shown.
pub fn is_forbidden_in_text(c: char, multiline: bool) -> bool {
    let bidi = matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    bidi || (c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')))
}

/// One line of text: composed, invisible characters removed, whitespace collapsed, trimmed.
pub(crate) fn normalize_line(raw: &str) -> String {
    let composed = compose(raw);
    let mut out = String::with_capacity(composed.len());
    for word in composed.split(|c: char| c.is_whitespace() || c.is_control()).filter(|w| !w.is_empty()) {
        let word: String = word.chars().filter(|c| !is_invisible(*c)).collect();
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&word);
    }
    out
}

/// Several paragraphs: each line normalised, at most one empty line between paragraphs.
pub(crate) fn normalize_paragraphs(raw: &str) -> String {
    let unified = raw.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = String::with_capacity(unified.len());
    let mut blank_pending = false;
    for line in unified.split('\n').map(normalize_line) {
        if line.is_empty() {
            blank_pending = !out.is_empty();
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_pending { "\n\n" } else { "\n" });
        }
        blank_pending = false;
        out.push_str(&line);
    }
    out
}

/// Counts characters; the unit every length limit is expressed in.
pub(crate) fn char_len(text: &str) -> usize {
    text.chars().count()
}

/// Checks the length of already normalised text against `min..=max`.
/// `what_vi`/`what_en` name the field in messages; `hint_vi`/`hint_en` say what to do if too short.
fn check_length(text: &str, min: usize, max: usize, what: (&str, &str), hint_short: (&str, &str)) -> Option<Violation> {
    let (what_vi, what_en) = what;
    let len = char_len(text);
    if text.is_empty() {
        return Some(Violation::new(
            "",
            ViolationCode::Required,
            format!("Chưa có {what_vi}: {}", hint_short.0),
            format!("{what_en} is missing: {}", hint_short.1),
        ));
    }
    if len < min {
        return Some(Violation::new(
            "",
            ViolationCode::TooShort,
            format!("{what_vi} quá ngắn ({len} ký tự), cần ít nhất {min} ký tự: {}", hint_short.0),
            format!("{what_en} is too short ({len} characters), at least {min} are needed: {}", hint_short.1),
        ));
    }
    if len > max {
        return Some(Violation::new(
            "",
            ViolationCode::TooLong,
            format!("{what_vi} quá dài ({len} ký tự), tối đa {max} ký tự: hãy rút gọn."),
            format!("{what_en} is too long ({len} characters), at most {max} are allowed: please shorten it."),
        ));
    }
    None
}

/// The description of what happened (R6.1b), in Vietnamese (R6.1a), within the length limits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportContent {
    text: String,
    #[serde(skip)]
    language: LanguageVerdict,
}

impl ReportContent {
    /// Normalises and checks the content: present, long enough to be clear, not too long,
    /// and Vietnamese. A text that is too short is not language-checked: a few words are
    /// too little to judge, and the reporter must rewrite it anyway.
    pub fn parse(raw: &str, rules: &SubmissionRules) -> Result<Self, Violations> {
        let text = normalize_paragraphs(raw);
        let mut found = Vec::new();
        if let Some(v) = check_length(
            &text,
            rules.content_min_chars,
            rules.content_max_chars,
            ("Nội dung phản ánh", "The report's content"),
            (
                "hãy mô tả rõ sự việc (việc gì, ở đâu, ảnh hưởng thế nào).",
                "describe clearly what happened, where, and whom it affects.",
            ),
        ) {
            let stop = matches!(v.code, ViolationCode::Required | ViolationCode::TooShort);
            found.push(v);
            if stop {
                return Err(Violations(found));
            }
        }
        let language = assess_language(&text);
        if !language.is_vietnamese() {
            found.push(not_vietnamese(&language));
        }
        if found.is_empty() { Ok(Self { text, language }) } else { Err(Violations(found)) }
    }

    /// The normalised text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The evidence on which the text was accepted as Vietnamese.
    pub fn language(&self) -> &LanguageVerdict {
        &self.language
    }
}

fn not_vietnamese(verdict: &LanguageVerdict) -> Violation {
    let (vi, en) = match verdict.decision {
        LanguageDecision::Undetermined => (
            "Nội dung phản ánh không có câu chữ tiếng Việt (chỉ có số, ký hiệu hoặc chữ viết tắt): hãy mô tả sự việc bằng tiếng Việt.",
            "The content has no Vietnamese sentence (only numbers, symbols or abbreviations): describe the event in Vietnamese.",
        ),
        _ => (
            "Nội dung phản ánh phải viết bằng tiếng Việt (có dấu hoặc không dấu); phản ánh bằng ngôn ngữ khác không được tiếp nhận.",
            "The content must be written in Vietnamese (with or without diacritics); reports in other languages cannot be accepted.",
        ),
    };
    Violation::new("", ViolationCode::NotVietnamese, vi, en)
}

/// Generates a single-line text newtype with a length check and an optional letter check.
macro_rules! line_text {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The normalised text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

line_text!(
    /// An optional short headline of the report.
    ReportTitle
);
line_text!(
    /// The reporter's name, a person's or an organisation's (R6.1c).
    ReporterName
);
line_text!(
    /// A postal address: where the reporter lives (R6.1c) or where the event happened (R6.1b).
    Address
);

/// Refuses text that has no letter at all ("...", "12345"): it cannot be a name or an address.
fn require_letters(text: &str, what: (&str, &str)) -> Option<Violation> {
    (!text.chars().any(char::is_alphabetic)).then(|| {
        Violation::new(
            "",
            ViolationCode::InvalidFormat,
            format!("{} phải có chữ, không chỉ gồm số hoặc ký hiệu.", what.0),
            format!("{} must contain letters, not only digits or symbols.", what.1),
        )
    })
}

impl ReportTitle {
    /// Normalises a title; blank titles are the caller's business (the title is optional).
    pub fn parse(raw: &str, rules: &SubmissionRules) -> Result<Self, Violations> {
        let text = normalize_line(raw);
        match check_length(
            &text,
            1,
            rules.title_max_chars,
            ("Tiêu đề", "The title"),
            ("hãy nhập tiêu đề hoặc bỏ trống.", "enter a title or leave it out."),
        ) {
            Some(v) => Err(v.into()),
            None => Ok(Self(text)),
        }
    }
}

impl ReporterName {
    /// Normalises and checks a name: present, within bounds, with letters.
    pub fn parse(raw: &str, rules: &SubmissionRules) -> Result<Self, Violations> {
        let text = normalize_line(raw);
        check_length(
            &text,
            rules.name_min_chars,
            rules.name_max_chars,
            ("Họ tên người phản ánh", "The reporter's name"),
            (
                "hãy ghi họ tên đầy đủ của cá nhân hoặc tên tổ chức.",
                "give the full name of the person or organisation.",
            ),
        )
        .or_else(|| require_letters(&text, ("Họ tên", "The name")))
        .map_or(Ok(Self(text)), |v| Err(v.into()))
    }
}

impl Address {
    /// Normalises and checks an address: present, within bounds, with letters.
    pub fn parse(raw: &str, rules: &SubmissionRules) -> Result<Self, Violations> {
        let text = normalize_line(raw);
        check_length(
            &text,
            rules.address_min_chars,
            rules.address_max_chars,
            ("Địa chỉ", "The address"),
            (
                "hãy ghi số nhà, đường hoặc ấp/khu phố, xã/phường.",
                "give the house number, street or hamlet, and commune or ward.",
            ),
        )
        .or_else(|| require_letters(&text, ("Địa chỉ", "The address")))
        .map_or(Ok(Self(text)), |v| Err(v.into()))
    }
}

/// A short identifier from a configured list (category code, administrative unit code),
/// checked for shape only: 1 to 64 of `A–Z a–z 0–9 . _ -`. Whether the code exists is
/// decided against the directory, outside this pure module.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Code(String);

/// Longest accepted code; official unit codes have 5 digits, category codes are short slugs.
pub const CODE_MAX_CHARS: usize = 64;

impl Code {
    /// Trims and checks the shape of a code.
    pub fn parse(raw: &str) -> Result<Self, Violations> {
        let code = raw.trim();
        if code.is_empty() {
            return Err(Violation::new("", ViolationCode::Required, "Mã bị bỏ trống.", "The code is blank.").into());
        }
        let shaped = code.len() <= CODE_MAX_CHARS
            && code.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if shaped {
            Ok(Self(code.to_owned()))
        } else {
            Err(Violation::new(
                "",
                ViolationCode::InvalidFormat,
                format!("Mã không hợp lệ: chỉ gồm chữ cái không dấu, chữ số, dấu chấm, gạch dưới, gạch ngang, tối đa {CODE_MAX_CHARS} ký tự; hãy chọn từ danh sách."),
                format!("Invalid code: only ASCII letters, digits, '.', '_' and '-', at most {CODE_MAX_CHARS} characters; pick one from the list."),
            )
            .into())
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> SubmissionRules {
        SubmissionRules::default()
    }

    // Proves R6.1c.
    #[test]
    fn lines_are_composed_collapsed_and_cleaned_r6_1c() {
        assert_eq!(normalize_line("  Nguyễn\u{200B}  Văn\tA \u{202E} "), "Nguyễn Văn A");
        assert_eq!(normalize_line("Le\u{0302} Thi\u{0323}"), "Lê Thị");
    }

    // Proves R6.1b.
    #[test]
    fn paragraphs_keep_one_blank_line_r6_1b() {
        let raw = "  Dòng một  \r\n\r\n\r\n  dòng   hai\n";
        assert_eq!(normalize_paragraphs(raw), "Dòng một\n\ndòng hai");
    }

    // Proves R6.1b.
    #[test]
    fn content_length_is_counted_in_letters_r6_1b() {
        // 15 letters with marks are 15 characters, although they take more bytes.
        let r = rules();
        let text = "Cống bị nghẹt ở"; // 15 characters
        assert_eq!(char_len(text), 15);
        assert!(ReportContent::parse(text, &r).is_ok());
        let err = ReportContent::parse("Cống bị nghẹt", &r).unwrap_err();
        assert_eq!(err.0[0].code, ViolationCode::TooShort);
        assert!(err.0[0].message_vi.contains("13 ký tự"));
    }

    // Proves R6.1a, R6.1b.
    #[test]
    fn too_long_content_is_still_language_checked_r6_1a_r6_1b() {
        let r = SubmissionRules { content_max_chars: 20, ..rules() };
        let err = ReportContent::parse("The road in front of my house has a big pothole", &r).unwrap_err();
        let codes: Vec<_> = err.0.iter().map(|v| v.code).collect();
        assert_eq!(codes, [ViolationCode::TooLong, ViolationCode::NotVietnamese]);
    }

    // Proves R6.1c.
    #[test]
    fn names_and_addresses_need_letters_r6_1c() {
        let r = rules();
        assert_eq!(ReporterName::parse("0912345678", &r).unwrap_err().0[0].code, ViolationCode::InvalidFormat);
        assert_eq!(ReporterName::parse("  Trần   Thị Bé ", &r).unwrap().as_str(), "Trần Thị Bé");
        assert_eq!(Address::parse("123/45", &r).unwrap_err().0[0].code, ViolationCode::InvalidFormat);
        assert_eq!(ReporterName::parse("A", &r).unwrap_err().0[0].code, ViolationCode::TooShort);
    }

    // Proves R6.1b.
    #[test]
    fn codes_have_a_narrow_shape_r6_1b() {
        assert_eq!(Code::parse(" 29254 ").unwrap().as_str(), "29254");
        assert_eq!(Code::parse("moi-truong.rac_thai").unwrap().as_str(), "moi-truong.rac_thai");
        assert_eq!(Code::parse("môi trường").unwrap_err().0[0].code, ViolationCode::InvalidFormat);
        assert_eq!(Code::parse("  ").unwrap_err().0[0].code, ViolationCode::Required);
    }
}
