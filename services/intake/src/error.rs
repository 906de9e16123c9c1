//! Intake's errors: the platform's shared [`ApiError`], and how intake's own failures become it.
//! Messages name fields and ids, never personal data.

use std::time::Duration;

use paht_domain::validation::Violations;
pub use paht_platform::error::{ApiError, Violation};

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

/// What can go wrong in intake: the platform's [`ApiError`], mapped once to gRPC and HTTP in
/// `paht_platform::error`. Intake's own failures (the vault, attachment storage, abuse limits)
/// convert into it where they happen.
pub type IntakeError = ApiError;

impl LimitScope {
    /// The refusal of a request by this limit (R19, R21.2); nothing was stored.
    pub fn refusal(self, retry_after: Duration) -> ApiError {
        ApiError::RateLimited {
            subject: self.as_str().to_owned(),
            message: format!(
                "too many {} for now; try again in {} s",
                self.what(),
                paht_platform::error::retry_secs(retry_after)
            ),
            retry_after,
        }
    }
}

/// The domain's violations, with their paths renamed to the request's fields.
pub fn request_violations(violations: &Violations) -> Vec<Violation> {
    violations.as_slice().iter().map(|v| (request_field(&v.field), v.message_en.clone())).collect()
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

/// A refused attachment names its field; a missing upload is not found; storage failures are the
/// service's own (logged, never shown).
impl From<BlobError> for ApiError {
    fn from(err: BlobError) -> Self {
        match (&err, err.field()) {
            (BlobError::NotFound { id }, _) => ApiError::NotFound(format!("attachment {id}")),
            (_, Some(field)) => ApiError::field(field, err.to_string()),
            (_, None) => ApiError::Internal(format!("attachment storage: {err}")),
        }
    }
}

/// The vault failing (a missing key, an altered row) is the service's own failure.
impl From<VaultError> for ApiError {
    fn from(err: VaultError) -> Self {
        ApiError::Internal(format!("identity vault: {err}"))
    }
}

#[cfg(test)]
mod tests {
    use tonic::{Code, Status};
    use tonic_types::StatusExt;

    use super::*;

    #[test]
    fn domain_paths_become_request_fields() {
        assert_eq!(request_field("category_code"), "category_id");
        assert_eq!(request_field("attachments[2].size_bytes"), "attachment_ids[2].size_bytes");
        assert_eq!(request_field("reporter.phone"), "reporter.phone");
    }

    // R19, R21.2: a refusal by a limit says when to retry, and which limit, in standard details.
    #[test]
    fn rate_limited_is_resource_exhausted_with_retry_info_r19() {
        let err = LimitScope::Sender.refusal(Duration::from_secs(90));
        assert_eq!(err.http_status(), 429);
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
        let id = uuid::Uuid::from_u128(7);
        assert_eq!(Status::from(IntakeError::from(BlobError::NotFound { id })).code(), Code::NotFound);
    }
}
