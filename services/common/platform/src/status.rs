//! gRPC statuses shared by the services: refused lifecycle transitions and field violations.

use paht_domain::lifecycle::LifecycleError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// The status of a refused lifecycle transition: the caller may not (PERMISSION_DENIED),
/// the input is wrong (INVALID_ARGUMENT, naming the field where there is one), or the
/// report or assignment is not in a state for it (FAILED_PRECONDITION).
pub fn lifecycle_status(err: &LifecycleError) -> Status {
    use LifecycleError as E;
    let message = err.to_string();
    match err {
        E::WrongRole { .. } | E::NotYourUnit { .. } | E::MayNotSubmit(_) | E::NotTheReporter => {
            Status::permission_denied(message)
        }
        E::MissingField { field, .. } => invalid(&[((*field).to_owned(), message)]),
        E::ExpectedDateNotInFuture { .. } => invalid(&[("explanation.expected_completion_date".to_owned(), message)]),
        E::NoAgencies
        | E::AlreadyAssigned(_)
        | E::DuplicateAssignmentId(_)
        | E::LeadCount(_)
        | E::DuplicateOfRequired
        | E::UnknownAssignment(_) => Status::invalid_argument(message),
        E::Calendar(_) => Status::internal("deadline computation failed"),
        _ => Status::failed_precondition(message),
    }
}

/// A failure of the service itself as the caller sees it: UNAVAILABLE when the database is down or
/// restarting (retrying may succeed; a channel retries with its idempotency key), INTERNAL
/// otherwise. The detail goes to the log only (it carries ids, never personal data).
pub fn internal(err: &(dyn std::error::Error + 'static), transient: bool) -> Status {
    if transient {
        tracing::warn!(error = %err, "database unavailable");
        Status::unavailable("tạm thời không xử lý được, vui lòng thử lại / temporarily unavailable, retry")
    } else {
        tracing::error!(error = %err, "internal error");
        Status::internal("internal error")
    }
}

/// INVALID_ARGUMENT naming every bad field, with a `google.rpc.BadRequest` detail.
pub fn invalid(fields: &[(String, String)]) -> Status {
    let names = fields.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>().join(", ");
    let violations: Vec<FieldViolation> = fields.iter().map(|(f, m)| FieldViolation::new(f, m)).collect();
    Status::with_error_details(
        Code::InvalidArgument,
        format!("invalid fields: {names}"),
        ErrorDetails::with_bad_request(violations),
    )
}

/// INVALID_ARGUMENT for one field.
pub fn invalid_field(field: &str, message: impl Into<String>) -> Status {
    invalid(&[(field.to_owned(), message.into())])
}

#[cfg(test)]
mod tests {
    use paht_domain::lifecycle::{Action, LifecycleError, ReportStatus};

    use super::*;

    #[test]
    fn refusals_map_to_the_status_a_client_acts_on() {
        let missing = LifecycleError::MissingField { action: Action::Refuse, field: "reason" };
        let status = lifecycle_status(&missing);
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        assert_eq!(details.bad_request().unwrap().field_violations[0].field, "reason");
        let state = LifecycleError::WrongState { action: Action::Approve, status: ReportStatus::Received };
        assert_eq!(lifecycle_status(&state).code(), Code::FailedPrecondition);
        assert_eq!(lifecycle_status(&LifecycleError::NotTheReporter).code(), Code::PermissionDenied);
    }
}
