//! What was wrong with a submission, in words the reporter can act on (R7.3a).
//!
//! Every parser of this module fails with [`Violations`], whose entries carry a
//! field path relative to the value parsed; composite parsers re-base the paths
//! with [`Violations::prefixed`], so `PhoneNumber::parse` says `""` and
//! `validate_report` says `"reporter.phone"`.

use std::fmt;

use serde::Serialize;

/// The language a message is rendered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Vietnamese, the language of the regulation and of every reporter (R6.1a).
    #[default]
    Vi,
    /// English, for operators' logs and API clients.
    En,
}

/// Why a field was refused; stable machine-readable identifiers for API clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationCode {
    /// A mandatory value is missing or blank.
    Required,
    /// Text shorter than the configured minimum.
    TooShort,
    /// Text longer than the configured maximum.
    TooLong,
    /// The text is not written in Vietnamese (R6.1a).
    NotVietnamese,
    /// The event time lies in the future beyond the tolerated clock skew.
    InFuture,
    /// The event time is older than the configured maximum age.
    TooOld,
    /// Coordinates are not numbers or not on Earth.
    InvalidCoordinates,
    /// Coordinates lie outside Vietnam.
    OutOfVietnam,
    /// Not a Vietnamese phone number.
    InvalidPhone,
    /// Not a usable e-mail address.
    InvalidEmail,
    /// A code or name does not have the expected shape.
    InvalidFormat,
    /// The attachment's media type is not accepted.
    UnsupportedType,
    /// The file name's extension contradicts the declared media type.
    TypeMismatch,
    /// The attachment has no bytes.
    EmptyFile,
    /// The attachment is larger than its kind allows.
    TooLarge,
    /// More items than allowed.
    TooMany,
    /// Fewer items than required.
    TooFew,
}

impl ViolationCode {
    /// The identifier used in JSON and gRPC field violations.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Required => "required",
            Self::TooShort => "too_short",
            Self::TooLong => "too_long",
            Self::NotVietnamese => "not_vietnamese",
            Self::InFuture => "in_future",
            Self::TooOld => "too_old",
            Self::InvalidCoordinates => "invalid_coordinates",
            Self::OutOfVietnam => "out_of_vietnam",
            Self::InvalidPhone => "invalid_phone",
            Self::InvalidEmail => "invalid_email",
            Self::InvalidFormat => "invalid_format",
            Self::UnsupportedType => "unsupported_type",
            Self::TypeMismatch => "type_mismatch",
            Self::EmptyFile => "empty_file",
            Self::TooLarge => "too_large",
            Self::TooMany => "too_many",
            Self::TooFew => "too_few",
        }
    }
}

impl fmt::Display for ViolationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One refused field, with the reason in both languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Path of the field in the draft, e.g. `reporter.phone` or `attachments[2].size_bytes`;
    /// empty when the parsed value itself is the field.
    pub field: String,
    /// Machine-readable reason.
    pub code: ViolationCode,
    /// What is wrong and what to do, in Vietnamese; sent to the reporter.
    pub message_vi: String,
    /// The same message in English.
    pub message_en: String,
}

impl Violation {
    /// A violation of `field` (relative path, may be empty).
    pub fn new(
        field: impl Into<String>,
        code: ViolationCode,
        message_vi: impl Into<String>,
        message_en: impl Into<String>,
    ) -> Self {
        Self { field: field.into(), code, message_vi: message_vi.into(), message_en: message_en.into() }
    }

    /// The message in the requested language.
    pub fn message(&self, lang: Lang) -> &str {
        match lang {
            Lang::Vi => &self.message_vi,
            Lang::En => &self.message_en,
        }
    }

    /// The same violation with its path placed under `prefix`.
    pub fn prefixed(mut self, prefix: &str) -> Self {
        self.field = join_path(prefix, &self.field);
        self
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{} ({})", self.message_en, self.code)
        } else {
            write!(f, "{}: {} ({})", self.field, self.message_en, self.code)
        }
    }
}

/// Joins a parent path and a child path: `a` + `b` = `a.b`, `a` + `[2].b` = `a[2].b`.
fn join_path(prefix: &str, field: &str) -> String {
    match (prefix.is_empty(), field.is_empty()) {
        (true, _) => field.to_owned(),
        (false, true) => prefix.to_owned(),
        (false, false) if field.starts_with('[') => format!("{prefix}{field}"),
        (false, false) => format!("{prefix}.{field}"),
    }
}

/// Every reason a submission was refused, all at once so the reporter fixes them in one go.
///
/// Never empty when returned as an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{}", summary(.0))]
pub struct Violations(pub Vec<Violation>);

fn summary(list: &[Violation]) -> String {
    let items: Vec<String> = list.iter().map(ToString::to_string).collect();
    format!("submission refused, {} problem(s): {}", list.len(), items.join("; "))
}

impl Violations {
    /// A list holding exactly one violation.
    pub fn one(violation: Violation) -> Self {
        Self(vec![violation])
    }

    /// The violations, in the order of the draft's fields.
    pub fn as_slice(&self) -> &[Violation] {
        &self.0
    }

    /// Number of violations.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when nothing was refused (never the case for a returned error).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The same violations with every path placed under `prefix`.
    pub fn prefixed(self, prefix: &str) -> Self {
        Self(self.0.into_iter().map(|v| v.prefixed(prefix)).collect())
    }

    /// All messages in one language, one per line led by "- "; the reply to a reporter by e-mail,
    /// SMS or chat. Messages name their field in words, so paths are left out.
    pub fn to_text(&self, lang: Lang) -> String {
        self.0.iter().map(|v| format!("- {}", v.message(lang))).collect::<Vec<_>>().join("\n")
    }

    /// True if some violation has this field path and code; handy for callers and tests.
    pub fn contains(&self, field: &str, code: ViolationCode) -> bool {
        self.0.iter().any(|v| v.field == field && v.code == code)
    }
}

impl From<Violation> for Violations {
    fn from(violation: Violation) -> Self {
        Self::one(violation)
    }
}

impl IntoIterator for Violations {
    type Item = Violation;
    type IntoIter = std::vec::IntoIter<Violation>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// Gathers the outcome of several independent parsers so that all failures are reported.
#[derive(Debug, Default)]
pub(crate) struct Collector {
    found: Vec<Violation>,
}

impl Collector {
    /// Keeps the value, or records its violations under `prefix` and yields `None`.
    pub(crate) fn take<T>(&mut self, prefix: &str, result: Result<T, Violations>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(violations) => {
                self.found.extend(violations.prefixed(prefix));
                None
            }
        }
    }

    /// Records one violation.
    pub(crate) fn push(&mut self, violation: Violation) {
        self.found.push(violation);
    }

    /// `Ok(())` if nothing was recorded.
    pub(crate) fn finish(self) -> Result<(), Violations> {
        if self.found.is_empty() { Ok(()) } else { Err(Violations(self.found)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Proves R7.3a.
    #[test]
    fn paths_join_with_dots_and_indexes_r7_3a() {
        assert_eq!(join_path("reporter", "phone"), "reporter.phone");
        assert_eq!(join_path("attachments", "[2].size_bytes"), "attachments[2].size_bytes");
        assert_eq!(join_path("content", ""), "content");
        assert_eq!(join_path("", "content"), "content");
    }

    // Proves R7.3a.
    #[test]
    fn message_follows_the_language_r7_3a() {
        let v = Violation::new("content", ViolationCode::Required, "Thiếu nội dung.", "Content missing.");
        assert_eq!(v.message(Lang::Vi), "Thiếu nội dung.");
        assert_eq!(v.message(Lang::En), "Content missing.");
        assert_eq!(v.to_string(), "content: Content missing. (required)");
    }
}
