//! The one error type of the routing service and its mapping to gRPC statuses. Messages name
//! fields and ids, never personal data.

use paht_platform::db::DbError;
use paht_platform::replica::ReplicaError;
use tonic::Status;

/// What can go wrong in routing.
#[derive(Debug, thiserror::Error)]
pub enum RoutingError {
    /// The request breaks one or more rules; each violation names a request field.
    #[error("the request is invalid: {}", .0.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>().join(", "))]
    Invalid(Vec<(String, String)>),
    /// No such report, unit or category.
    #[error("{0} not found")]
    NotFound(String),
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The request is well-formed but the report (or directory entry) is not in a state for it.
    #[error("{0}")]
    FailedPrecondition(String),
    /// The replica layer refused or failed (a lifecycle refusal, a database error, …).
    #[error(transparent)]
    Replica(#[from] ReplicaError),
    /// The database layer failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Stored data cannot be read back, or the stores disagree.
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

impl From<sea_orm::DbErr> for RoutingError {
    fn from(err: sea_orm::DbErr) -> Self {
        RoutingError::Db(DbError::Query(err))
    }
}

impl RoutingError {
    /// One invalid field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        RoutingError::Invalid(vec![(field.into(), message.into())])
    }
}

impl From<RoutingError> for Status {
    fn from(err: RoutingError) -> Self {
        match err {
            RoutingError::Invalid(fields) => paht_platform::status::invalid(&fields),
            RoutingError::NotFound(_) => Status::not_found(err.to_string()),
            RoutingError::Forbidden(_) => Status::permission_denied(err.to_string()),
            RoutingError::FailedPrecondition(_) => Status::failed_precondition(err.to_string()),
            RoutingError::Replica(replica) => replica.into(),
            RoutingError::Db(ref db) => paht_platform::status::internal(&err, db.is_transient()),
            RoutingError::Corrupt(_) => paht_platform::status::internal(&err, false),
        }
    }
}

#[cfg(test)]
mod tests {
    use paht_domain::lifecycle::{Action, LifecycleError, ReportStatus};
    use tonic::Code;
    use tonic_types::StatusExt;

    use super::*;

    fn violations(status: &Status) -> Vec<String> {
        let details = status.get_error_details();
        details.bad_request().map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect()).unwrap_or_default()
    }

    #[test]
    fn invalid_names_every_field() {
        let status = Status::from(RoutingError::Invalid(vec![
            ("targets[0].agency_unit_id".into(), "unknown agency".into()),
            ("note".into(), "blank".into()),
        ]));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(violations(&status), vec!["targets[0].agency_unit_id", "note"]);
    }

    #[test]
    fn each_kind_maps_to_the_status_a_client_acts_on() {
        assert_eq!(Status::from(RoutingError::NotFound("report x".into())).code(), Code::NotFound);
        assert_eq!(Status::from(RoutingError::Forbidden("no".into())).code(), Code::PermissionDenied);
        assert_eq!(Status::from(RoutingError::FailedPrecondition("later".into())).code(), Code::FailedPrecondition);
        let state = LifecycleError::WrongState { action: Action::Dispatch, status: ReportStatus::Received };
        assert_eq!(Status::from(RoutingError::from(ReplicaError::Lifecycle(state))).code(), Code::FailedPrecondition);
        let status = Status::from(RoutingError::Corrupt("case x without replica".into()));
        assert_eq!((status.code(), status.message()), (Code::Internal, "internal error"));
    }
}
