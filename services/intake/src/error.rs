//! The one error type of the intake service and its mapping to gRPC statuses. Messages
//! name fields and ids, never personal data.

use std::time::Duration;

use paht_domain::lifecycle::LifecycleError;
use paht_domain::validation::Violations;
use paht_platform::db::DbError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, QuotaViolation, StatusExt};

use crate::blob::BlobError;
use crate::vault::VaultError;

/// Which abuse limit refused a request (R19, R21.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitScope {
    /// Submissions per channel sender.
    Sender,
    /// Submissions per client address.
    Address,
    /// Uploads per client address.
    Upload,
}

impl LimitScope {
    /// The scope's name in cache keys, logs and the `QuotaFailure` detail.
    pub fn as_str(self) -> &'static str {
        match self {
            LimitScope::Sender => "per_sender",
            LimitScope::Address => "per_address",
            LimitScope::Upload => "uploads_per_address",
        }
    }

    fn what(self) -> &'static str {
        match self {
            LimitScope::Sender => "reports from this sender",
            LimitScope::Address => "reports from this address",
            LimitScope::Upload => "uploads from this address",
        }
    }
}

/// What can go wrong in intake.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The request breaks one or more rules; each violation names a request field.
    #[error("the request is invalid: {}", .0.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>().join(", "))]
    Invalid(Vec<(String, String)>),
    /// No such report (or reporter).
    #[error("{0} not found")]
    NotFound(String),
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The lifecycle refused the command.
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    /// The database layer failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The identity vault failed (missing key, altered row).
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// A stored row cannot be read back.
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    /// An attachment was refused (its field is named by [`BlobError::field`]) or could not be stored.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// Too many requests in the window of an abuse limit (R19, R21.2); nothing was stored.
    #[error("too many {} for now; try again in {} s", .scope.what(), .retry_after.as_millis().div_ceil(1000).max(1))]
    RateLimited {
        /// The limit that refused it.
        scope: LimitScope,
        /// When the next request would be granted.
        retry_after: Duration,
    },
}

impl From<sea_orm::DbErr> for IntakeError {
    fn from(err: sea_orm::DbErr) -> Self {
        IntakeError::Db(DbError::Query(err))
    }
}

impl IntakeError {
    /// One invalid field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        IntakeError::Invalid(vec![(field.into(), message.into())])
    }

    /// The domain's violations, with their paths renamed to the request's fields.
    pub fn from_violations(violations: &Violations) -> Self {
        IntakeError::Invalid(
            violations.as_slice().iter().map(|v| (request_field(&v.field), v.message_en.clone())).collect(),
        )
    }
}

/// The request field a domain violation path refers to (`category_code` is sent as
/// `category_id`, `attachments[i]` as `attachment_ids[i]`).
fn request_field(path: &str) -> String {
    if let Some(rest) = path.strip_prefix("category_code") {
        format!("category_id{rest}")
    } else if let Some(rest) = path.strip_prefix("attachments") {
        format!("attachment_ids{rest}")
    } else {
        path.to_owned()
    }
}

fn rate_limited(scope: LimitScope, retry_after: Duration, message: String) -> Status {
    let mut details = ErrorDetails::with_retry_info(Some(retry_after));
    details.set_quota_failure(vec![QuotaViolation::new(scope.as_str(), message.clone())]);
    Status::with_error_details(Code::ResourceExhausted, message, details)
}

impl From<IntakeError> for Status {
    fn from(err: IntakeError) -> Self {
        match &err {
            IntakeError::Invalid(fields) => paht_platform::status::invalid(fields),
            IntakeError::RateLimited { scope, retry_after } => rate_limited(*scope, *retry_after, err.to_string()),
            IntakeError::Blob(blob) => match (blob, blob.field()) {
                (BlobError::NotFound { .. }, _) => Status::not_found(err.to_string()),
                (_, Some(field)) => paht_platform::status::invalid(&[(field.to_owned(), err.to_string())]),
                (_, None) => {
                    tracing::error!(error = %err, "attachment storage failed");
                    Status::internal("internal error")
                }
            },
            IntakeError::NotFound(_) => Status::not_found(err.to_string()),
            IntakeError::Forbidden(_) => Status::permission_denied(err.to_string()),
            IntakeError::Lifecycle(e) => paht_platform::status::lifecycle_status(e),
            IntakeError::Db(db) => paht_platform::status::internal(&err, db.is_transient()),
            IntakeError::Vault(_) | IntakeError::Corrupt(_) => paht_platform::status::internal(&err, false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_paths_become_request_fields() {
        assert_eq!(request_field("category_code"), "category_id");
        assert_eq!(request_field("attachments[2].size_bytes"), "attachment_ids[2].size_bytes");
        assert_eq!(request_field("reporter.phone"), "reporter.phone");
    }

    #[test]
    fn refusal_without_reason_is_invalid_argument_r7_3a() {
        let err = LifecycleError::MissingField { action: paht_domain::lifecycle::Action::Refuse, field: "reason" };
        let status = Status::from(IntakeError::from(err));
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        assert_eq!(details.bad_request().unwrap().field_violations[0].field, "reason");
    }

    // R19, R21.2: a refusal by a limit says when to retry, and which limit, in standard details.
    #[test]
    fn rate_limited_is_resource_exhausted_with_retry_info() {
        let err = IntakeError::RateLimited { scope: LimitScope::Sender, retry_after: Duration::from_secs(90) };
        let status = Status::from(err);
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(status.message(), "too many reports from this sender for now; try again in 90 s");
        let details = status.get_error_details();
        assert_eq!(details.retry_info().unwrap().retry_delay, Some(Duration::from_secs(90)));
        assert_eq!(details.quota_failure().unwrap().violations[0].subject, "per_sender");
    }

    #[test]
    fn refused_attachments_name_their_field_and_storage_failures_stay_internal() {
        let status = Status::from(IntakeError::from(BlobError::Empty));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.get_error_details().bad_request().unwrap().field_violations[0].field, "chunk");
        let status = Status::from(IntakeError::from(BlobError::Storage("disk on fire at /srv".into())));
        assert_eq!((status.code(), status.message()), (Code::Internal, "internal error"));
    }
}
