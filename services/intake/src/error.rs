//! The one error type of the intake service and its mapping to gRPC statuses. Messages
//! name fields and ids, never personal data.

use paht_domain::lifecycle::LifecycleError;
use paht_domain::validation::Violations;
use paht_platform::db::DbError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

use crate::vault::VaultError;

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

fn lifecycle_status(err: &LifecycleError) -> Status {
    use LifecycleError as E;
    let message = err.to_string();
    match err {
        E::WrongRole { .. } | E::NotYourUnit { .. } | E::MayNotSubmit(_) | E::NotTheReporter => {
            Status::permission_denied(message)
        }
        E::MissingField { field, .. } => invalid(&[((*field).to_owned(), message)]),
        E::NoAgencies
        | E::AlreadyAssigned(_)
        | E::DuplicateAssignmentId(_)
        | E::LeadCount(_)
        | E::ExpectedDateNotInFuture { .. }
        | E::DuplicateOfRequired
        | E::UnknownAssignment(_) => Status::invalid_argument(message),
        E::Calendar(_) => Status::internal("deadline computation failed"),
        _ => Status::failed_precondition(message),
    }
}

fn invalid(fields: &[(String, String)]) -> Status {
    let names = fields.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>().join(", ");
    let violations: Vec<FieldViolation> = fields.iter().map(|(f, m)| FieldViolation::new(f, m)).collect();
    Status::with_error_details(
        Code::InvalidArgument,
        format!("invalid fields: {names}"),
        ErrorDetails::with_bad_request(violations),
    )
}

impl From<IntakeError> for Status {
    fn from(err: IntakeError) -> Self {
        match &err {
            IntakeError::Invalid(fields) => invalid(fields),
            IntakeError::NotFound(_) => Status::not_found(err.to_string()),
            IntakeError::Forbidden(_) => Status::permission_denied(err.to_string()),
            IntakeError::Lifecycle(e) => lifecycle_status(e),
            IntakeError::Db(_) | IntakeError::Vault(_) | IntakeError::Corrupt(_) => {
                // The detail goes to the log (ids only); the caller learns nothing internal.
                tracing::error!(error = %err, "intake internal error");
                Status::internal("internal error")
            }
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
}
