//! The gRPC `ProcessingService`: an agency's inbox ordered by deadline, and the agency's
//! actions on its assignments — return (R8.2b), explain (R8.2a), submit a result (R8.2a, R9),
//! approve (R9.3b) and send back (R9.3a). Each action runs on the service's replica of the
//! report in one transaction (replica, outbox, index); the domain checks role, unit and state.
//! Spans carry report and assignment ids only.
//!
//! The logic is [`Processing`] implemented on [`ProcessingService`] (the in-process client);
//! the generated tonic trait is a thin adapter over it, written by `paht_platform::service_api!`
//! in [`crate::api`].

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use paht_domain::actor::{Actor, Role};
use paht_domain::calendar::WorkingCalendar;
use paht_domain::ids::{AssignmentId, ReportId, UnitId};
use paht_domain::lifecycle::{self as lc, AssignmentStatus, Command};
use paht_platform::auth::{AuthContext, Caller};
use paht_platform::db::{Db, RelayNotifier};
use paht_platform::replica::{self, Replica};
use paht_proto::convert;
use paht_proto::v1;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use crate::api::Processing;
use crate::error::ProcessingError;
use crate::hook::AssignmentIndex;
use crate::store::{self, Cursor, OPEN_STATUSES};

/// Who reads an agency's inbox: its own officers and leaders, and the roles that follow every
/// agency (R13.1, R12.2, R16.2) or run the suite.
const INBOX_READERS: &[Role] =
    &[Role::Officer, Role::Leader, Role::IocOperator, Role::ProvincialOffice, Role::Inspector, Role::System];
/// Who reads one assignment with its report.
const ASSIGNMENT_READERS: &[Role] =
    &[Role::Officer, Role::Leader, Role::IocOperator, Role::ProvincialOffice, Role::Inspector];
/// Roles that read only their own agency's assignments.
const AGENCY_ROLES: &[Role] = &[Role::Officer, Role::Leader];

/// Default and largest page of the inbox.
const DEFAULT_PAGE: u64 = 50;
const MAX_PAGE: u64 = 200;
/// Most files a result may refer to (as many as a report may carry, article 6).
pub const MAX_RESULT_ATTACHMENTS: usize = 10;

/// The clock the service stamps its actions with.
pub use paht_platform::clock::Clock;

/// Everything the processing service needs, built by the process that hosts it.
pub struct ProcessingParts {
    /// The service's database (migrated with [`crate::ProcessingMigrator`]).
    pub db: Db,
    /// The instance's working calendar, for every deadline (R4.3).
    pub calendar: Arc<WorkingCalendar>,
    /// The IOC instance this service runs for.
    pub instance: UnitId,
    /// Wakes the outbox relay after a commit; `None` when the relay only polls.
    pub notifier: Option<RelayNotifier>,
}

/// The processing service: [`Processing`] in-process, and the gRPC service (its tonic adapter).
pub struct ProcessingService {
    parts: ProcessingParts,
    clock: Clock,
    index: AssignmentIndex,
}

impl std::fmt::Debug for ProcessingService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessingService").field("instance", &self.parts.instance).finish_non_exhaustive()
    }
}

fn record_ids(report: Option<Uuid>, assignment: Option<Uuid>) {
    let span = tracing::Span::current();
    if let Some(id) = report {
        span.record("report_id", tracing::field::display(id));
    }
    if let Some(id) = assignment {
        span.record("assignment_id", tracing::field::display(id));
    }
}

/// The protocol's view of an assignment; the result's files are carried as references (the
/// ids of intake's uploads), their metadata lives with intake.
fn assignment_view(a: &lc::Assignment, report_id: ReportId) -> v1::Assignment {
    let mut out = convert::assignment(a, &report_id.to_string(), paht_platform::clock::now());
    if let (Some(result), Some(domain)) = (out.result.as_mut(), a.result.as_ref())
        && result.attachments.is_empty()
    {
        result.attachments =
            domain.attachments.iter().map(|id| v1::Attachment { id: id.clone(), ..Default::default() }).collect();
    }
    out
}

/// The report view of a replica, with the result files referenced like [`assignment_view`].
fn report_view(replica: &Replica) -> v1::Report {
    let mut report = replica.report();
    for (out, a) in report.assignments.iter_mut().zip(&replica.state.assignments) {
        *out = assignment_view(a, replica.id());
    }
    report
}

/// An assignment status named in a request.
fn requested_status(index: usize, value: i32) -> Result<AssignmentStatus, ProcessingError> {
    let field = || format!("statuses[{index}]");
    let status = v1::AssignmentStatus::try_from(value)
        .map_err(|_| ProcessingError::field(field(), format!("unknown assignment status {value}")))?;
    AssignmentStatus::ALL
        .into_iter()
        .find(|s| convert::assignment_status(*s) == status)
        .ok_or_else(|| ProcessingError::field(field(), "ASSIGNMENT_STATUS_UNSPECIFIED is not a status"))
}

impl ProcessingService {
    /// A service over ready parts (the database already migrated), on the business clock (`paht_platform::clock`).
    pub fn new(parts: ProcessingParts) -> Self {
        ProcessingService { parts, clock: Arc::new(paht_platform::clock::now), index: AssignmentIndex }
    }

    /// The same service stamping its actions with `clock` (tests, replays of a past day).
    pub fn with_clock(mut self, clock: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The service's database.
    pub fn db(&self) -> &Db {
        &self.parts.db
    }

    /// Now, at microsecond precision (what Postgres keeps).
    fn now(&self) -> DateTime<Utc> {
        paht_platform::clock::micros((self.clock)())
    }

    fn notify(&self) {
        if let Some(n) = &self.parts.notifier {
            n.notify();
        }
    }

    /// An agency's action on its assignment: find the report through the index, then lock the
    /// replica, apply the command, save, enqueue the events and update the index, in one
    /// transaction. A refusal rolls everything back.
    async fn act(
        &self,
        actor: Actor,
        assignment_id: &str,
        command: impl FnOnce(AssignmentId) -> Command,
    ) -> Result<v1::Assignment, ProcessingError> {
        let id = ProcessingError::parse_uuid("assignment_id", assignment_id)?;
        record_ids(None, Some(id));
        let now = self.now();
        let txn = self.parts.db.begin_write().await?;
        let row = store::find_assignment(&txn, id)
            .await?
            .ok_or_else(|| ProcessingError::NotFound(format!("assignment {id}")))?;
        record_ids(Some(row.report_id), None);
        let report_id = ReportId::from_uuid(row.report_id);
        let replica = replica::lock(&txn, report_id)
            .await?
            .ok_or_else(|| ProcessingError::Corrupt(format!("assignment {id} indexed without report {report_id}")))?;
        let assignment = AssignmentId::from_uuid(id);
        let executed =
            replica::execute(&txn, replica, command(assignment), &actor, now, &self.parts.calendar, &self.index)
                .await
                .map_err(|e| crate::error::in_request_terms(e.into()))?;
        txn.commit().await?;
        self.notify();
        let after = executed
            .replica
            .state
            .assignment(assignment)
            .ok_or_else(|| ProcessingError::Corrupt(format!("assignment {id} vanished from report {report_id}")))?;
        tracing::info!(status = %after.status, events = executed.events.len(), "assignment changed");
        Ok(assignment_view(after, report_id))
    }

    /// One assignment and its replica, for reading.
    async fn read(
        &self,
        conn: &impl ConnectionTrait,
        auth: &AuthContext,
        assignment_id: &str,
    ) -> Result<(v1::Assignment, v1::Report), ProcessingError> {
        let id = ProcessingError::parse_uuid("assignment_id", assignment_id)?;
        record_ids(None, Some(id));
        let row = store::find_assignment(conn, id)
            .await?
            .ok_or_else(|| ProcessingError::NotFound(format!("assignment {id}")))?;
        record_ids(Some(row.report_id), None);
        if AGENCY_ROLES.contains(&auth.role()) && auth.unit().as_str() != row.agency_unit_id {
            return Err(ProcessingError::Forbidden(format!(
                "assignment {id} belongs to unit {}; the caller acts for unit {}",
                row.agency_unit_id,
                auth.unit()
            )));
        }
        let report_id = ReportId::from_uuid(row.report_id);
        let replica = replica::load(conn, report_id)
            .await?
            .ok_or_else(|| ProcessingError::Corrupt(format!("assignment {id} indexed without report {report_id}")))?;
        let a = replica
            .state
            .assignment(AssignmentId::from_uuid(id))
            .ok_or_else(|| ProcessingError::Corrupt(format!("assignment {id} missing from report {report_id}")))?;
        Ok((assignment_view(a, report_id), report_view(&replica)))
    }

    async fn list_inbox_page(
        &self,
        auth: &AuthContext,
        req: v1::ListInboxRequest,
    ) -> Result<v1::ListInboxResponse, ProcessingError> {
        let agency = match req.agency_unit_id.trim() {
            "" => auth.unit().clone(),
            unit => UnitId::new(unit),
        };
        if AGENCY_ROLES.contains(&auth.role()) && auth.unit() != &agency {
            return Err(ProcessingError::Forbidden(format!(
                "the inbox of unit {agency} is not the caller's; the caller acts for unit {}",
                auth.unit()
            )));
        }
        let mut statuses = Vec::with_capacity(req.statuses.len());
        for (i, value) in req.statuses.iter().enumerate() {
            let status = requested_status(i, *value)?;
            if !statuses.contains(&status) {
                statuses.push(status);
            }
        }
        if statuses.is_empty() {
            statuses.extend(OPEN_STATUSES);
        }
        let page = req.page.unwrap_or_default();
        let limit = match u64::from(page.page_size) {
            0 => DEFAULT_PAGE,
            n => n.min(MAX_PAGE),
        };
        let after = match page.page_token.trim() {
            "" => None,
            token => Some(
                Cursor::parse(token)
                    .ok_or_else(|| ProcessingError::field("page.page_token", "not a token of this list"))?,
            ),
        };
        let conn = self.parts.db.conn();
        let (rows, more) = store::inbox(conn, agency.as_str(), &statuses, after, limit).await?;
        let mut ids: Vec<ReportId> = rows.iter().map(|r| ReportId::from_uuid(r.report_id)).collect();
        ids.sort();
        ids.dedup();
        let replicas: HashMap<ReportId, Replica> =
            replica::load_many(conn, &ids).await?.into_iter().map(|r| (r.id(), r)).collect();
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            let missing =
                || ProcessingError::Corrupt(format!("assignment {} indexed without its report", row.assignment_id));
            let replica = replicas.get(&ReportId::from_uuid(row.report_id)).ok_or_else(missing)?;
            let a = replica.state.assignment(AssignmentId::from_uuid(row.assignment_id)).ok_or_else(missing)?;
            items.push(v1::InboxItem {
                assignment: Some(assignment_view(a, replica.id())),
                report: Some(report_view(replica)),
            });
        }
        let next_page_token = match rows.last() {
            Some(last) if more => Cursor::after(last).token(),
            _ => String::new(),
        };
        Ok(v1::ListInboxResponse { items, next_page_token })
    }
}

/// Ids of result files: UUIDs (intake's upload ids), each once, at most [`MAX_RESULT_ATTACHMENTS`].
fn attachment_ids(raw: &[String]) -> Result<Vec<String>, ProcessingError> {
    if raw.len() > MAX_RESULT_ATTACHMENTS {
        return Err(ProcessingError::field(
            "attachment_ids",
            format!("at most {MAX_RESULT_ATTACHMENTS} files, {} given", raw.len()),
        ));
    }
    let mut problems = Vec::new();
    let mut ids: Vec<Uuid> = Vec::with_capacity(raw.len());
    for (i, value) in raw.iter().enumerate() {
        match paht_domain::ids::parse_uuid(value) {
            Ok(id) if ids.contains(&id) => problems.push((format!("attachment_ids[{i}]"), "listed twice".to_owned())),
            Ok(id) => ids.push(id),
            Err(e) => problems.push((format!("attachment_ids[{i}]"), e.to_string())),
        }
    }
    if problems.is_empty() {
        Ok(ids.iter().map(Uuid::to_string).collect())
    } else {
        Err(ProcessingError::Invalid(problems))
    }
}

/// The expected completion date of an explanation (R8.2a).
fn expected_date(explanation: Option<&v1::Explanation>) -> Result<chrono::NaiveDate, ProcessingError> {
    let explanation = explanation
        .ok_or_else(|| ProcessingError::field("explanation", "the reason and expected date are required"))?;
    let date = explanation
        .expected_completion_date
        .as_ref()
        .ok_or_else(|| ProcessingError::field("explanation.expected_completion_date", "required (R8.2a)"))?;
    convert::from_date(date)
        .ok_or_else(|| ProcessingError::field("explanation.expected_completion_date", "not a calendar date"))
}

#[async_trait::async_trait]
impl Processing for ProcessingService {
    #[tracing::instrument(name = "list_inbox", skip_all)]
    async fn list_inbox(
        &self,
        caller: &Caller,
        request: v1::ListInboxRequest,
    ) -> Result<v1::ListInboxResponse, ProcessingError> {
        caller.require_role(INBOX_READERS)?;
        self.list_inbox_page(caller, request).await
    }

    #[tracing::instrument(name = "return_assignment", skip_all, fields(report_id, assignment_id))]
    async fn return_assignment(
        &self,
        caller: &Caller,
        request: v1::ReturnAssignmentRequest,
    ) -> Result<v1::ReturnAssignmentResponse, ProcessingError> {
        let reason = request.reason;
        let assignment = self
            .act(caller.actor(), &request.assignment_id, |assignment| Command::Return { assignment, reason })
            .await?;
        Ok(v1::ReturnAssignmentResponse { assignment: Some(assignment) })
    }

    #[tracing::instrument(name = "explain_assignment", skip_all, fields(report_id, assignment_id))]
    async fn explain_assignment(
        &self,
        caller: &Caller,
        request: v1::ExplainAssignmentRequest,
    ) -> Result<v1::ExplainAssignmentResponse, ProcessingError> {
        ProcessingError::parse_uuid("assignment_id", &request.assignment_id)?;
        let expected_completion = expected_date(request.explanation.as_ref())?;
        let reason = request.explanation.map(|e| e.reason).unwrap_or_default();
        let assignment = self
            .act(caller.actor(), &request.assignment_id, |assignment| Command::Explain {
                assignment,
                reason,
                expected_completion,
            })
            .await?;
        Ok(v1::ExplainAssignmentResponse { assignment: Some(assignment) })
    }

    #[tracing::instrument(name = "submit_result", skip_all, fields(report_id, assignment_id))]
    async fn submit_result(
        &self,
        caller: &Caller,
        request: v1::SubmitResultRequest,
    ) -> Result<v1::SubmitResultResponse, ProcessingError> {
        ProcessingError::parse_uuid("assignment_id", &request.assignment_id)?;
        let attachments = attachment_ids(&request.attachment_ids)?;
        let text = request.text;
        let assignment = self
            .act(caller.actor(), &request.assignment_id, |assignment| Command::SubmitResult {
                assignment,
                text,
                attachments,
            })
            .await?;
        Ok(v1::SubmitResultResponse { assignment: Some(assignment) })
    }

    #[tracing::instrument(name = "approve_result", skip_all, fields(report_id, assignment_id))]
    async fn approve_result(
        &self,
        caller: &Caller,
        request: v1::ApproveResultRequest,
    ) -> Result<v1::ApproveResultResponse, ProcessingError> {
        let assignment =
            self.act(caller.actor(), &request.assignment_id, |assignment| Command::Approve { assignment }).await?;
        Ok(v1::ApproveResultResponse { assignment: Some(assignment) })
    }

    #[tracing::instrument(name = "send_back_result", skip_all, fields(report_id, assignment_id))]
    async fn send_back_result(
        &self,
        caller: &Caller,
        request: v1::SendBackResultRequest,
    ) -> Result<v1::SendBackResultResponse, ProcessingError> {
        let reason = request.reason;
        let assignment = self
            .act(caller.actor(), &request.assignment_id, |assignment| Command::SendBack { assignment, reason })
            .await?;
        Ok(v1::SendBackResultResponse { assignment: Some(assignment) })
    }

    #[tracing::instrument(name = "get_assignment", skip_all, fields(report_id, assignment_id))]
    async fn get_assignment(
        &self,
        caller: &Caller,
        request: v1::GetAssignmentRequest,
    ) -> Result<v1::GetAssignmentResponse, ProcessingError> {
        caller.require_role(ASSIGNMENT_READERS)?;
        let (assignment, report) = self.read(self.parts.db.conn(), caller, &request.assignment_id).await?;
        Ok(v1::GetAssignmentResponse { assignment: Some(assignment), report: Some(report) })
    }
}
