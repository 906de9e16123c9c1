//! Submission validation: an untrusted report draft from any channel becomes a
//! [`ValidReport`] made of types that can only hold valid values, or is refused with every
//! reason at once (R6.1a, R6.1b, R6.1c, R7.3a).
//!
//! Pure: no I/O, no clock; the time of receipt is passed in as `now`. Past this edge nothing
//! re-checks a report: holding a [`PhoneNumber`] means holding a callable Vietnamese number.
//!
//! Limits live in [`SubmissionRules`], whose defaults are documented field by field.

mod attachment;
mod email;
mod language;
mod location;
mod phone;
mod rules;
mod text;
mod time;
pub(crate) mod vietnamese;
mod violation;

#[cfg(test)]
mod language_samples;
#[cfg(test)]
mod properties;
#[cfg(test)]
mod report_tests;

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};

pub use attachment::{AttachmentDraft, AttachmentKind, AttachmentMeta, FILE_NAME_MAX_CHARS, parse_attachments};
pub use email::Email;
pub use language::{
    DetectedLanguage, FOREIGN_SCRIPT_MAX, LanguageDecision, LanguageVerdict, MARKED_EVIDENCE, SHORT_TEXT_WORDS,
    SYLLABLES_LIKELY, SYLLABLES_SHORT, SYLLABLES_SURE, SYLLABLES_WITH_EVIDENCE, WHATLANG_VIE_EVIDENCE, assess_language,
};
pub use location::{Coordinates, LocationDraft, Place, RawCoordinates, in_vietnam};
pub use phone::{PhoneKind, PhoneNumber};
pub use rules::{KindRule, MIB, SubmissionRules};
pub use text::{Address, CODE_MAX_CHARS, Code, ReportContent, ReportTitle, ReporterName, is_forbidden_in_text};
pub use time::{EventTime, EventTimeSource};
pub use violation::{Lang, Violation, ViolationCode, Violations};

use location::non_blank;
use violation::Collector;

/// A report as a channel delivers it: plain data, nothing checked yet.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportDraft {
    /// What happened, in the reporter's words.
    pub content: String,
    /// An optional headline.
    pub title: Option<String>,
    /// The field (lĩnh vực) the reporter chose, if the channel asks for one.
    pub category_code: Option<String>,
    /// When it happened, with the offset the device reported.
    pub event_time: Option<DateTime<FixedOffset>>,
    /// Where it happened.
    pub location: LocationDraft,
    /// Who reports it.
    pub reporter: ReporterDraft,
    /// Declared attachments.
    pub attachments: Vec<AttachmentDraft>,
}

/// The reporter's identity as the channel delivers it (R6.1c).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReporterDraft {
    /// Person's or organisation's name.
    pub name: String,
    /// Postal address.
    pub address: String,
    /// Phone number in any common writing.
    pub phone: String,
    /// Optional e-mail address.
    pub email: Option<String>,
    /// Whether the reporter asked that their identity be kept confidential (R6.2).
    pub confidential: bool,
}

/// The reporter's validated identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reporter {
    /// Person's or organisation's name.
    pub name: ReporterName,
    /// Postal address.
    pub address: Address,
    /// Callable Vietnamese number.
    pub phone: PhoneNumber,
    /// E-mail address, if given.
    pub email: Option<Email>,
    /// Identity to be kept confidential (R6.2, R10.3b).
    pub confidential: bool,
}

/// A report that satisfies article 6: every part is a validated type.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidReport {
    /// What happened, in Vietnamese.
    pub content: ReportContent,
    /// Optional headline.
    pub title: Option<ReportTitle>,
    /// The chosen field's code, checked for shape only.
    pub category_code: Option<Code>,
    /// When it happened.
    pub event_time: EventTime,
    /// Where it happened.
    pub place: Place,
    /// Who reports it.
    pub reporter: Reporter,
    /// Images, videos and documents.
    pub attachments: Vec<AttachmentMeta>,
}

/// Validates a draft against the rules at the moment `now` it was received.
///
/// Every field is checked even after a failure, and all violations come back together, in
/// the order of the draft's fields, with paths such as `reporter.phone` or
/// `attachments[2].size_bytes`, so the reporter can fix everything in one go (R7.3a).
/// Optional text fields given as blank strings count as absent.
pub fn validate_report(
    draft: &ReportDraft,
    rules: &SubmissionRules,
    now: DateTime<Utc>,
) -> Result<ValidReport, Violations> {
    let mut found = Collector::default();
    let content = found.take("content", ReportContent::parse(&draft.content, rules));
    let title = non_blank(&draft.title).map(|t| found.take("title", ReportTitle::parse(t, rules)));
    let category_code = non_blank(&draft.category_code).map(|c| found.take("category_code", Code::parse(c)));
    let event_time = found.take("event_time", EventTime::parse(draft.event_time, rules, now));
    let place = found.take("location", Place::parse(&draft.location, rules));
    let reporter = &draft.reporter;
    let name = found.take("reporter.name", ReporterName::parse(&reporter.name, rules));
    let address = found.take("reporter.address", Address::parse(&reporter.address, rules));
    let phone = found.take("reporter.phone", PhoneNumber::parse(&reporter.phone));
    let email = non_blank(&reporter.email).map(|e| found.take("reporter.email", Email::parse(e)));
    let attachments = found.take("attachments", parse_attachments(&draft.attachments, rules));
    found.finish()?;
    let (
        Some(content),
        Some(title),
        Some(category_code),
        Some(event_time),
        Some(place),
        Some(name),
        Some(address),
        Some(phone),
        Some(email),
        Some(attachments),
    ) = (
        content,
        given(title),
        given(category_code),
        event_time,
        place,
        name,
        address,
        phone,
        given(email),
        attachments,
    )
    else {
        unreachable!("every part that failed recorded a violation, so finish() returned early")
    };
    Ok(ValidReport {
        content,
        title,
        category_code,
        event_time,
        place,
        reporter: Reporter { name, address, phone, email, confidential: reporter.confidential },
        attachments,
    })
}

/// For an optional field: `None` (not given) becomes `Some(None)`, a parsed value
/// `Some(Some(v))` stays, a failed parse `Some(None)` becomes `None` like a failed required part.
fn given<T>(parsed: Option<Option<T>>) -> Option<Option<T>> {
    match parsed {
        None => Some(None),
        Some(outcome) => outcome.map(Some),
    }
}
