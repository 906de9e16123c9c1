//! The one error type of the processing service and its mapping to gRPC statuses. Messages
//! name fields and ids, never personal data.

use paht_domain::lifecycle::{Action, LifecycleError};
use paht_platform::db::DbError;
use paht_platform::replica::ReplicaError;
use tonic::Status;

/// What can go wrong in processing.
#[derive(Debug, thiserror::Error)]
pub enum ProcessingError {
    /// The request breaks one or more rules; each violation names a request field.
    #[error("the request is invalid: {}", .0.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>().join(", "))]
    Invalid(Vec<(String, String)>),
    /// No such assignment (or report).
    #[error("{0} not found")]
    NotFound(String),
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The replica layer refused or failed (a lifecycle refusal, a database error, …).
    #[error(transparent)]
    Replica(#[from] ReplicaError),
    /// The database layer failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The index and the replica disagree (an assignment indexed without its replica).
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

impl From<sea_orm::DbErr> for ProcessingError {
    fn from(err: sea_orm::DbErr) -> Self {
        ProcessingError::Db(DbError::Query(err))
    }
}

impl ProcessingError {
    /// One invalid field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ProcessingError::Invalid(vec![(field.into(), message.into())])
    }

    /// A lifecycle refusal whose field lives elsewhere in the request than the domain names it:
    /// an explanation's reason is `explanation.reason`.
    fn renamed_field(err: &LifecycleError) -> Option<ProcessingError> {
        match err {
            LifecycleError::MissingField { action: Action::Explain, field } => {
                Some(ProcessingError::field(format!("explanation.{field}"), err.to_string()))
            }
            _ => None,
        }
    }
}

impl From<ProcessingError> for Status {
    fn from(err: ProcessingError) -> Self {
        match err {
            ProcessingError::Invalid(fields) => paht_platform::status::invalid(&fields),
            ProcessingError::NotFound(_) => Status::not_found(err.to_string()),
            ProcessingError::Forbidden(_) => Status::permission_denied(err.to_string()),
            ProcessingError::Replica(ReplicaError::Lifecycle(lifecycle)) => {
                match ProcessingError::renamed_field(&lifecycle) {
                    Some(renamed) => renamed.into(),
                    None => ReplicaError::Lifecycle(lifecycle).into(),
                }
            }
            ProcessingError::Replica(replica) => replica.into(),
            ProcessingError::Db(ref db) => paht_platform::status::internal(&err, db.is_transient()),
            ProcessingError::Corrupt(_) => paht_platform::status::internal(&err, false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;
    use tonic_types::StatusExt;

    fn violations(status: &Status) -> Vec<String> {
        let details = status.get_error_details();
        details.bad_request().map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect()).unwrap_or_default()
    }

    #[test]
    fn invalid_names_every_field() {
        let status = Status::from(ProcessingError::Invalid(vec![
            ("assignment_id".into(), "must be a UUID".into()),
            ("attachment_ids[1]".into(), "must be a UUID".into()),
        ]));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(violations(&status), vec!["assignment_id", "attachment_ids[1]"]);
    }

    // R8.2a: an explanation without a reason names the request's field, not the domain's.
    #[test]
    fn explanation_fields_are_named_as_in_the_request_r8_2a() {
        let err = LifecycleError::MissingField { action: Action::Explain, field: "reason" };
        let status = Status::from(ProcessingError::from(ReplicaError::Lifecycle(err)));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(violations(&status), vec!["explanation.reason"]);
        let today = chrono::NaiveDate::from_ymd_opt(2027, 3, 9).unwrap();
        let err = LifecycleError::ExpectedDateNotInFuture { expected: today, today };
        let status = Status::from(ProcessingError::from(ReplicaError::Lifecycle(err)));
        assert_eq!(violations(&status), vec!["explanation.expected_completion_date"]);
    }

    // R9.3a: a send-back without a reason is INVALID_ARGUMENT naming `reason`.
    #[test]
    fn other_lifecycle_errors_use_the_platform_mapping() {
        let err = LifecycleError::MissingField { action: Action::SendBack, field: "reason" };
        let status = Status::from(ProcessingError::from(ReplicaError::Lifecycle(err)));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(violations(&status), vec!["reason"]);
        let err = LifecycleError::WrongRole {
            action: Action::Approve,
            role: paht_domain::actor::Role::Officer,
            allowed: paht_domain::actor::Role::Leader,
        };
        let status = Status::from(ProcessingError::from(ReplicaError::Lifecycle(err)));
        assert_eq!(status.code(), Code::PermissionDenied);
    }

    #[test]
    fn internal_errors_say_nothing_internal() {
        let status = Status::from(ProcessingError::Corrupt("assignment 1 without replica".into()));
        assert_eq!((status.code(), status.message()), (Code::Internal, "internal error"));
        assert_eq!(Status::from(ProcessingError::NotFound("assignment x".into())).code(), Code::NotFound);
    }
}
