//! Processing's error is the platform's [`ApiError`] (mapped once to gRPC and HTTP in
//! `paht_platform::error`); what is processing's own is how a lifecycle refusal names the
//! request's field.

use paht_domain::lifecycle::{Action, LifecycleError};
pub use paht_platform::error::ApiError;

/// What can go wrong in processing.
pub type ProcessingError = ApiError;

/// A lifecycle refusal whose field lives elsewhere in the request than the domain names it: an
/// explanation's reason is `explanation.reason`. Every other error passes unchanged.
pub(crate) fn in_request_terms(err: ApiError) -> ApiError {
    match err {
        ApiError::Lifecycle(
            ref lifecycle @ (LifecycleError::MissingField { action: Action::Explain, field }
            | LifecycleError::BadText { action: Action::Explain, field, .. }),
        ) => ApiError::field(format!("explanation.{field}"), lifecycle.to_string()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use paht_platform::replica::ReplicaError;
    use tonic::{Code, Status};
    use tonic_types::StatusExt;

    use super::*;

    fn violations(status: &Status) -> Vec<String> {
        let details = status.get_error_details();
        details.bad_request().map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect()).unwrap_or_default()
    }

    // R8.2a: an explanation without a reason names the request's field, not the domain's.
    #[test]
    fn explanation_fields_are_named_as_in_the_request_r8_2a() {
        let err = LifecycleError::MissingField { action: Action::Explain, field: "reason" };
        let status = Status::from(in_request_terms(ApiError::from(ReplicaError::Lifecycle(err))));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(violations(&status), vec!["explanation.reason"]);
        let today = chrono::NaiveDate::from_ymd_opt(2027, 3, 9).unwrap();
        let err = LifecycleError::ExpectedDateNotInFuture { expected: today, today };
        let status = Status::from(in_request_terms(ApiError::Lifecycle(err)));
        assert_eq!(violations(&status), vec!["explanation.expected_completion_date"]);
    }

    // R9.3a: a send-back without a reason is INVALID_ARGUMENT naming `reason`.
    #[test]
    fn other_lifecycle_errors_use_the_platform_mapping_r9_3a() {
        let err = LifecycleError::MissingField { action: Action::SendBack, field: "reason" };
        let status = Status::from(in_request_terms(ApiError::Lifecycle(err)));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(violations(&status), vec!["reason"]);
        let err = LifecycleError::WrongRole {
            action: Action::Approve,
            role: paht_domain::actor::Role::Officer,
            allowed: paht_domain::actor::Role::Leader,
        };
        assert_eq!(Status::from(in_request_terms(ApiError::Lifecycle(err))).code(), Code::PermissionDenied);
    }
}
