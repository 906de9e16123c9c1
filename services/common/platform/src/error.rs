//! The error core every service shares: what a caller can be told went wrong, mapped once to a
//! gRPC [`Status`] (with `google.rpc` details: field violations, retry info) and once to an HTTP
//! status and JSON body for the gateway, and read back from a [`Status`] by a remote client, so a
//! caller sees the same [`ApiError`] whether the service runs in its process or across the network.
//!
//! Messages name fields and ids, never personal data. Internal details are logged when the error
//! is turned into a response and never sent: a caller reads "internal error".

use std::str::FromStr;
use std::time::Duration;

use paht_domain::ids::IdError;
use paht_domain::lifecycle::LifecycleError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, PreconditionViolation, QuotaViolation, StatusExt};
use uuid::Uuid;

use crate::db::DbError;
use crate::replica::ReplicaError;

/// One refused request field: its path as the request names it (`targets[0].agency_unit_id`) and why.
pub type Violation = (String, String);

/// One unmet condition of a refusal ([`ApiError::Unmet`]), as `google.rpc.PreconditionFailure`
/// names it: the rule (`kind`, e.g. `phone`), where (`subject`, e.g. `text[12..22]`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The rule broken, a stable lower-case name.
    pub kind: String,
    /// What breaks it: a field and, for text, the byte span (`text[12..22]`).
    pub subject: String,
    /// Why, in Vietnamese and English.
    pub description: String,
}

/// The most field violations a refusal carries; the rest are counted in one last entry, so every
/// error stays readable by a standard client (grpcio refuses metadata over 16 KiB).
pub const MAX_VIOLATIONS: usize = 16;
/// The longest field path sent back, in bytes of UTF-8 (cut at a character).
const MAX_FIELD_TEXT: usize = 160;
/// The longest description of one violation (room for a list of valid values).
const MAX_DESCRIPTION_TEXT: usize = 640;
/// The most bytes of field paths and descriptions one refusal carries; the violations past it
/// are counted in the last entry, so the details stay under 3 KiB once encoded.
const MAX_VIOLATIONS_TOTAL: usize = 2048;
/// The longest message sent back, in bytes of UTF-8: it may quote what the caller sent (an id
/// that names nothing), and percent-encoded in `grpc-message` it stays under 3 KiB. With the
/// details, a status stays well under 8 KiB whatever the request held.
const MAX_MESSAGE_TEXT: usize = 1024;

/// What the caller is told (the message of [`ApiError::Unavailable`]); the cause goes to the log.
const UNAVAILABLE: &str = "tạm thời không xử lý được, vui lòng thử lại / temporarily unavailable, retry";
const INTERNAL: &str = "internal error";

/// What can go wrong in a service, as its caller needs to tell it apart.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request breaks one or more rules; each violation names a request field.
    #[error("the request is invalid: {}", field_list(.0))]
    Invalid(Vec<Violation>),
    /// No such report, assignment, unit, upload …; the text names what (by id).
    #[error("{0} not found")]
    NotFound(String),
    /// The caller is known but may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The caller did not prove who it is (no, expired or forged token).
    #[error("{0}")]
    Unauthenticated(String),
    /// The request is well-formed but the report (or directory entry) is not in a state for it.
    #[error("{0}")]
    FailedPrecondition(String),
    /// The report is in a state for the request, but what it would do breaks a rule on the
    /// content (the personal-data guard of a public answer, R10.3a): FAILED_PRECONDITION with
    /// each [`Condition`] in `google.rpc.PreconditionFailure`, at most [`MAX_VIOLATIONS`], then
    /// one of kind `more` counting the rest.
    #[error("{message}")]
    Unmet {
        /// Said to the caller.
        message: String,
        /// What is wrong, and where.
        conditions: Vec<Condition>,
    },
    /// The lifecycle refused the command; mapped by the kind of refusal.
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    /// Too many requests in the window of an abuse limit (R19, R21.2); nothing was stored.
    #[error("{message}")]
    RateLimited {
        /// The limit that refused it (`per_sender`, `per_address` …).
        subject: String,
        /// Said to the caller.
        message: String,
        /// When the next request would be granted.
        retry_after: Duration,
    },
    /// A request message larger than the server accepts (gRPC's status guide: RESOURCE_EXHAUSTED);
    /// nothing was read past the limit. The text says the size and the limit.
    #[error("{0}")]
    TooLarge(String),
    /// A dependency (the database, the bus) is down or restarting: retrying may succeed. The text
    /// is the cause, for the log.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Stored data cannot be read back, or the stores disagree. The text is for the log.
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// Any other failure of the service itself. The text is for the log.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// One invalid field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Invalid(vec![(field.into(), message.into())])
    }

    /// The gRPC code a client acts on.
    pub fn code(&self) -> Code {
        use LifecycleError as E;
        match self {
            ApiError::Invalid(_) => Code::InvalidArgument,
            ApiError::NotFound(_) => Code::NotFound,
            ApiError::Forbidden(_) => Code::PermissionDenied,
            ApiError::Unauthenticated(_) => Code::Unauthenticated,
            ApiError::FailedPrecondition(_) | ApiError::Unmet { .. } => Code::FailedPrecondition,
            ApiError::RateLimited { .. } | ApiError::TooLarge(_) => Code::ResourceExhausted,
            ApiError::Unavailable(_) => Code::Unavailable,
            ApiError::Corrupt(_) | ApiError::Internal(_) => Code::Internal,
            ApiError::Lifecycle(e) => match e {
                E::WrongRole { .. } | E::NotYourUnit { .. } | E::MayNotSubmit(_) | E::NotTheReporter => {
                    Code::PermissionDenied
                }
                E::MissingField { .. }
                | E::BadText { .. }
                | E::ExpectedDateNotInFuture { .. }
                | E::ExpectedDateBeyondCalendar { .. }
                | E::NoAgencies
                | E::AlreadyAssigned(_)
                | E::DuplicateAssignmentId(_)
                | E::LeadCount(_)
                | E::DuplicateOfRequired
                | E::UnknownAssignment(_) => Code::InvalidArgument,
                E::Calendar(_) => Code::Internal,
                _ => Code::FailedPrecondition,
            },
        }
    }

    /// The request fields a refusal names (empty when it names none): at most
    /// [`MAX_VIOLATIONS`], each cut to a bounded length, and when there were more, one last entry
    /// (field `""`) saying how many more.
    pub fn violations(&self) -> Vec<Violation> {
        let all = self.all_violations();
        let mut shown = shown(&all);
        let more = all.len() - shown.len();
        if more > 0 {
            shown.push((String::new(), format!("và {more} lỗi khác / and {more} more")));
        }
        shown
    }

    /// The unmet conditions of an [`ApiError::Unmet`] as sent: at most [`MAX_VIOLATIONS`], each
    /// text cut like a field violation's.
    pub fn conditions(&self) -> Vec<Condition> {
        match self {
            ApiError::Unmet { conditions, .. } => {
                let mut shown: Vec<Condition> = conditions
                    .iter()
                    .take(MAX_VIOLATIONS)
                    .map(|c| Condition {
                        kind: bounded(&c.kind, MAX_FIELD_TEXT),
                        subject: bounded(&c.subject, MAX_FIELD_TEXT),
                        description: bounded(&c.description, MAX_DESCRIPTION_TEXT),
                    })
                    .collect();
                let more = conditions.len() - shown.len();
                if more > 0 {
                    shown.push(Condition {
                        kind: "more".into(),
                        subject: String::new(),
                        description: format!("và {more} chỗ khác / and {more} more"),
                    });
                }
                shown
            }
            _ => Vec::new(),
        }
    }

    fn all_violations(&self) -> Vec<Violation> {
        match self {
            ApiError::Invalid(fields) => fields.clone(),
            ApiError::Lifecycle(
                e @ (LifecycleError::MissingField { field, .. } | LifecycleError::BadText { field, .. }),
            ) => {
                vec![((*field).to_owned(), e.to_string())]
            }
            ApiError::Lifecycle(
                e
                @ (LifecycleError::ExpectedDateNotInFuture { .. } | LifecycleError::ExpectedDateBeyondCalendar { .. }),
            ) => {
                vec![("explanation.expected_completion_date".to_owned(), e.to_string())]
            }
            _ => Vec::new(),
        }
    }

    /// What the caller may read: the message for refusals, a fixed text for failures of the service
    /// (whose cause is logged by [`ApiError::log`]).
    /// Bounded ([`MAX_MESSAGE_TEXT`]): a refusal may quote what the caller sent.
    pub fn public_message(&self) -> String {
        let message = match self {
            ApiError::Invalid(fields) => format!("invalid fields: {}", field_list(fields)),
            ApiError::Unavailable(_) => UNAVAILABLE.to_owned(),
            ApiError::Corrupt(_) | ApiError::Internal(_) => INTERNAL.to_owned(),
            ApiError::Lifecycle(LifecycleError::Calendar(_)) => "deadline computation failed".to_owned(),
            other => other.to_string(),
        };
        bounded(&message, MAX_MESSAGE_TEXT)
    }

    /// Logs a failure of the service (refusals of the caller are not logged here).
    fn log(&self) {
        match self {
            ApiError::Unavailable(_) => tracing::warn!(error = %self, "dependency unavailable"),
            ApiError::Corrupt(_) | ApiError::Internal(_) | ApiError::Lifecycle(LifecycleError::Calendar(_)) => {
                tracing::error!(error = %self, "internal error")
            }
            _ => {}
        }
    }

    /// The HTTP status the gateway answers with: 400 invalid, 401, 403, 404, 409 for a report not in
    /// a state for the request, 413 too large, 429 rate limited, 503 unavailable, 500 otherwise.
    pub fn http_status(&self) -> u16 {
        if let ApiError::TooLarge(_) = self {
            return 413;
        }
        match self.code() {
            Code::InvalidArgument => 400,
            Code::Unauthenticated => 401,
            Code::PermissionDenied => 403,
            Code::NotFound => 404,
            Code::FailedPrecondition => 409,
            Code::ResourceExhausted => 429,
            Code::Unavailable => 503,
            _ => 500,
        }
    }

    /// The HTTP body: `{"error": {"code", "message", "fields": [{"field", "message"}], "retry_after_secs"}}`
    /// (`fields` and `retry_after_secs` only where they apply). Logs failures of the service.
    pub fn http_body(&self) -> serde_json::Value {
        self.log();
        let mut error = serde_json::json!({
            "code": code_name(self.code()),
            "message": self.public_message(),
        });
        let fields = self.violations();
        if !fields.is_empty() {
            error["fields"] = fields.iter().map(|(f, m)| serde_json::json!({"field": f, "message": m})).collect();
        }
        if let ApiError::RateLimited { retry_after, .. } = self {
            error["retry_after_secs"] = retry_secs(*retry_after).into();
        }
        let conditions = self.conditions();
        if !conditions.is_empty() {
            error["conditions"] = conditions
                .iter()
                .map(|c| serde_json::json!({"kind": c.kind, "subject": c.subject, "message": c.description}))
                .collect();
        }
        serde_json::json!({ "error": error })
    }

    /// A request value parsed as an id (`ReportId`, `AssignmentId`, `UnitId` …): blank is
    /// "required", anything else unparsable is named with why.
    pub fn parse_id<T: FromStr<Err = IdError>>(field: &str, value: &str) -> Result<T, ApiError> {
        value.parse().map_err(|e: IdError| ApiError::field(field, e.to_string()))
    }

    /// A request value parsed as a bare UUID (uploads, idempotency keys), by the same rule as ids.
    pub fn parse_uuid(field: &str, value: &str) -> Result<Uuid, ApiError> {
        paht_domain::ids::parse_uuid(value).map_err(|e| ApiError::field(field, e.to_string()))
    }

    /// Like [`ApiError::parse_uuid`] for an optional value: blank is `None`.
    pub fn parse_optional_uuid(field: &str, value: &str) -> Result<Option<Uuid>, ApiError> {
        if value.trim().is_empty() { Ok(None) } else { ApiError::parse_uuid(field, value).map(Some) }
    }
}

/// The fields of a refusal as a message names them: at most [`MAX_VIOLATIONS`], then "and N more".
fn field_list(fields: &[Violation]) -> String {
    let named: Vec<String> = shown(fields).into_iter().map(|(f, _)| f).collect();
    let more = fields.len() - named.len();
    let more = if more > 0 { format!(" and {more} more") } else { String::new() };
    format!("{}{more}", named.join(", "))
}

/// The violations a refusal shows, bounded: at most [`MAX_VIOLATIONS`], each text cut, and no
/// more than [`MAX_VIOLATIONS_TOTAL`] bytes of paths and descriptions (the first one always).
fn shown(all: &[Violation]) -> Vec<Violation> {
    let mut budget = MAX_VIOLATIONS_TOTAL;
    let mut shown = Vec::new();
    for (field, message) in all.iter().take(MAX_VIOLATIONS) {
        let (field, message) = (bounded(field, MAX_FIELD_TEXT), bounded(message, MAX_DESCRIPTION_TEXT));
        let size = field.len() + message.len();
        if size > budget && !shown.is_empty() {
            break;
        }
        budget = budget.saturating_sub(size);
        shown.push((field, message));
    }
    shown
}

/// `text` cut to `max` bytes at a character boundary (with "…" when cut).
fn bounded(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max - '…'.len_utf8();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// A retry delay in whole seconds, rounded up, at least 1 (what a `Retry-After` header carries).
pub fn retry_secs(delay: Duration) -> u64 {
    (delay.as_secs() + u64::from(delay.subsec_nanos() > 0)).max(1)
}

/// The canonical name of a gRPC code (`INVALID_ARGUMENT` …), as the HTTP body carries it and
/// grpcurl writes it.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

impl From<ApiError> for Status {
    fn from(err: ApiError) -> Self {
        err.log();
        let code = err.code();
        let message = err.public_message();
        let violations = err.violations();
        if !violations.is_empty() {
            let details = violations.iter().map(|(f, m)| FieldViolation::new(f, m)).collect::<Vec<_>>();
            return Status::with_error_details(code, message, ErrorDetails::with_bad_request(details));
        }
        let conditions = err.conditions();
        if !conditions.is_empty() {
            let details = conditions
                .iter()
                .map(|c| PreconditionViolation::new(&c.kind, &c.subject, &c.description))
                .collect::<Vec<_>>();
            return Status::with_error_details(code, message, ErrorDetails::with_precondition_failure(details));
        }
        match err {
            ApiError::RateLimited { subject, message, retry_after } => {
                let mut details = ErrorDetails::with_retry_info(Some(retry_after));
                details.set_quota_failure(vec![QuotaViolation::new(subject, message.clone())]);
                Status::with_error_details(code, message, details)
            }
            _ => Status::new(code, message),
        }
    }
}

/// What a remote client reads back from a service's status: the same variants the service
/// raised, with their field violations and retry delay. The internal cause stays on the server.
impl From<Status> for ApiError {
    fn from(status: Status) -> Self {
        let details = status.get_error_details();
        let message = status.message().to_owned();
        match status.code() {
            Code::InvalidArgument => {
                let fields: Vec<Violation> = details
                    .bad_request()
                    .map(|b| b.field_violations.iter().map(|v| (v.field.clone(), v.description.clone())).collect())
                    .unwrap_or_default();
                if fields.is_empty() {
                    ApiError::Invalid(vec![(String::new(), message)])
                } else {
                    ApiError::Invalid(fields)
                }
            }
            Code::NotFound => ApiError::NotFound(message.strip_suffix(" not found").unwrap_or(&message).to_owned()),
            Code::PermissionDenied => ApiError::Forbidden(message),
            Code::Unauthenticated => ApiError::Unauthenticated(message),
            Code::FailedPrecondition if details.precondition_failure().is_some_and(|p| !p.violations.is_empty()) => {
                let conditions = details
                    .precondition_failure()
                    .map(|p| {
                        p.violations
                            .iter()
                            .map(|v| Condition {
                                kind: v.r#type.clone(),
                                subject: v.subject.clone(),
                                description: v.description.clone(),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                ApiError::Unmet { message, conditions }
            }
            Code::FailedPrecondition | Code::Aborted | Code::AlreadyExists => ApiError::FailedPrecondition(message),
            Code::ResourceExhausted if details.quota_failure().is_none() && details.retry_info().is_none() => {
                ApiError::TooLarge(message)
            }
            // tonic's own codec, when a message passes its limit (a server answers RESOURCE_EXHAUSTED
            // for it; a client's decoder still says OUT_OF_RANGE).
            Code::OutOfRange if message.contains("message length too large") => ApiError::TooLarge(message),
            Code::ResourceExhausted => ApiError::RateLimited {
                subject: details
                    .quota_failure()
                    .and_then(|q| q.violations.first())
                    .map(|v| v.subject.clone())
                    .unwrap_or_default(),
                retry_after: details.retry_info().and_then(|r| r.retry_delay).unwrap_or(Duration::from_secs(1)),
                message,
            },
            Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => ApiError::Unavailable(message),
            _ => ApiError::Internal(message),
        }
    }
}

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        if err.is_transient() { ApiError::Unavailable(err.to_string()) } else { ApiError::Internal(err.to_string()) }
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(err: sea_orm::DbErr) -> Self {
        DbError::Query(err).into()
    }
}

impl From<ReplicaError> for ApiError {
    fn from(err: ReplicaError) -> Self {
        match err {
            ReplicaError::Lifecycle(e) => ApiError::Lifecycle(e),
            ReplicaError::NotFound(_) => ApiError::NotFound(err.to_string().trim_end_matches(" not found").to_owned()),
            ReplicaError::Db(e) => e.into(),
            ReplicaError::Decode(_) => ApiError::Corrupt(err.to_string()),
        }
    }
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
