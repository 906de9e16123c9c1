//! The lifecycle commands of routing: dispatch (R7.3b), re-dispatch (R8.2b, R11.3), escalation
//! (R8.2c, R4.4) and the provincial office's directive (R8.2c). Each locks the report's
//! replica, checks the request and the directory, and runs the domain command through
//! `replica::execute` (replica, outbox, `cases`, `deadlines`) in one transaction.

use paht_domain::ids::{AssignmentId, ReportId, UnitId};
use paht_domain::lifecycle::{
    self as lc, AssignmentStatus, Command, Directive, EscalationReason, LifecycleError, NewAssignment, ReportStatus,
};
use paht_platform::auth::AuthContext;
use paht_platform::replica::{self, Executed, Replica, ReplicaError};
use paht_proto::v1::event_envelope::Payload;
use paht_proto::{convert, fact, v1};
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use super::{RoutingService, require_instance};
use crate::directory::{Directory, UnitKind};
use crate::error::RoutingError;
use crate::store::{case, cases, redispatches};

/// One agency named in a request, with the request field that names it.
pub(super) struct Target {
    pub field: String,
    pub agency: String,
    pub lead: bool,
}

impl Target {
    fn agency(&self) -> &str {
        self.agency.trim()
    }
}

/// Checks the agencies against the directory — each must exist, be active and be a handling
/// agency, not the province, an IOC or the provincial office — and mints their assignments.
/// A lone target leads even if not flagged, unless a lead agency is still at work on the report;
/// among several, the domain wants exactly one lead at work afterwards.
pub(super) fn assignments(
    directory: &Directory,
    report: &lc::Report,
    targets: &[Target],
    list_field: &str,
) -> Result<Vec<NewAssignment>, RoutingError> {
    let mut violations: Vec<(String, String)> = Vec::new();
    for (i, target) in targets.iter().enumerate() {
        let id = target.agency();
        if id.is_empty() {
            violations.push((target.field.clone(), "required: the id of a handling agency".into()));
            continue;
        }
        match directory.unit(&UnitId::new(id)) {
            None => violations.push((target.field.clone(), format!("unit {id} is not in the directory"))),
            Some(unit) if !unit.kind.is_agency() => violations.push((
                target.field.clone(),
                format!(
                    "{id} ({}) is a {}, not a handling agency; dispatch to a department, a commune or ward \
                     People's Committee, a public utility or another agency",
                    unit.name, unit.kind
                ),
            )),
            Some(unit) if !unit.active => {
                violations.push((target.field.clone(), format!("{id} ({}) is retired", unit.name)))
            }
            Some(_) => {}
        }
        if targets[..i].iter().any(|earlier| earlier.agency() == id) {
            violations.push((target.field.clone(), format!("{id} is named twice")));
        }
    }
    let leads = targets.iter().filter(|t| t.lead).count();
    if leads > 1 {
        violations.push((list_field.to_owned(), format!("at most one agency may lead; {leads} are flagged")));
    }
    if !violations.is_empty() {
        return Err(RoutingError::Invalid(violations));
    }
    let lone = targets.len() == 1 && leads == 0 && !report.active_assignments().any(|a| a.lead);
    Ok(targets
        .iter()
        .map(|t| NewAssignment {
            id: AssignmentId::from_uuid(Uuid::now_v7()),
            agency: UnitId::new(t.agency()),
            lead: t.lead || lone,
            instructions: None,
        })
        .collect())
}

/// A refused dispatch, with the request field it concerns where there is one.
fn dispatch_refusal(err: ReplicaError, targets: &[Target], list_field: &str, lead_field: &str) -> RoutingError {
    let ReplicaError::Lifecycle(lifecycle) = &err else { return err.into() };
    let message = lifecycle.to_string();
    match lifecycle {
        LifecycleError::LeadCount(0) => RoutingError::field(
            lead_field,
            format!("{message}: flag the lead agency (chủ trì) among the agencies, the others co-handle (R7.3b)"),
        ),
        LifecycleError::LeadCount(_) => {
            RoutingError::field(lead_field, format!("{message}: a lead agency is already at work on the report"))
        }
        LifecycleError::AlreadyAssigned(unit) => match targets.iter().find(|t| t.agency() == unit.as_str()) {
            Some(target) => RoutingError::field(target.field.clone(), message),
            None => err.into(),
        },
        LifecycleError::NoAgencies => RoutingError::field(list_field, message),
        _ => err.into(),
    }
}

/// The dispatcher's note as every new assignment's instructions (R7.3b).
fn with_instructions(mut new: Vec<NewAssignment>, note: &str) -> Vec<NewAssignment> {
    let note = Some(note.trim().to_owned()).filter(|n| !n.is_empty());
    for a in &mut new {
        a.instructions.clone_from(&note);
    }
    new
}

/// The new assignments of a command, as the protocol's.
fn new_assignments(replica: &Replica, ids: &[AssignmentId]) -> Vec<v1::Assignment> {
    let report_id = replica.id().to_string();
    ids.iter()
        .filter_map(|id| replica.state.assignment(*id))
        .map(|a| convert::assignment(a, &report_id, paht_platform::clock::now()))
        .collect()
}

/// The report as staff see it, with the duplicate link routing recorded (R8.2c).
pub(super) fn report_view(replica: &Replica, case: Option<&case::Model>) -> v1::Report {
    let mut report = replica.report();
    if report.duplicate_of.is_empty()
        && let Some(earlier) = case.and_then(|c| c.duplicate_of)
    {
        report.duplicate_of = earlier.to_string();
    }
    report
}

impl RoutingService {
    /// The earlier report a duplicate names (escalation R8.2c, link): known to routing, of the
    /// same instance, received before `replica`'s report, not the report itself, not refused.
    pub(super) async fn earlier_report(
        &self,
        conn: &impl ConnectionTrait,
        replica: &Replica,
        earlier: ReportId,
    ) -> Result<case::Model, RoutingError> {
        const FIELD: &str = "duplicate_of";
        if earlier == replica.id() {
            return Err(RoutingError::field(FIELD, "a report cannot duplicate itself; name an earlier report"));
        }
        let row = cases::find(conn, earlier)
            .await?
            .ok_or_else(|| RoutingError::field(FIELD, format!("report {earlier} is not known to routing")))?;
        if row.instance_id != replica.state.instance.as_str() {
            return Err(RoutingError::field(
                FIELD,
                format!(
                    "report {earlier} belongs to IOC instance {}, not to {}",
                    row.instance_id, replica.state.instance
                ),
            ));
        }
        if row.received_at >= replica.state.received_at {
            return Err(RoutingError::field(
                FIELD,
                format!("report {earlier} arrived after this one; link the newer report to the earlier one"),
            ));
        }
        if row.status == ReportStatus::Refused.as_str() {
            return Err(RoutingError::field(
                FIELD,
                format!("report {earlier} was refused as incomplete: it is no case"),
            ));
        }
        Ok(row)
    }

    /// The replica after a command, as the response shows it.
    async fn view_after(&self, conn: &impl ConnectionTrait, executed: &Executed) -> Result<v1::Report, RoutingError> {
        let case = cases::find(conn, executed.replica.id()).await?;
        Ok(report_view(&executed.replica, case.as_ref()))
    }

    /// Dispatch: an accepted report to one or more agencies, one of them leading (R7.3b).
    pub(super) async fn dispatch_report(
        &self,
        auth: &AuthContext,
        req: &v1::DispatchRequest,
    ) -> Result<v1::DispatchResponse, RoutingError> {
        let snapshot = self.directory.current().await?;
        let (txn, replica) = self.lock("report_id", &req.report_id).await?;
        require_instance(auth, &replica)?;
        let state = &replica.state;
        if state.status == ReportStatus::Accepted && state.awaiting_redispatch {
            return Err(RoutingError::FailedPrecondition(format!(
                "report {} was returned by its agencies; re-dispatch it naming the returned assignment (R8.2b)",
                state.id
            )));
        }
        if state.status != ReportStatus::Accepted {
            return Err(RoutingError::FailedPrecondition(format!(
                "report {} is {}; only an accepted report is dispatched (after a return or a reopen, re-dispatch it)",
                state.id, state.status
            )));
        }
        let targets: Vec<Target> = req
            .targets
            .iter()
            .enumerate()
            .map(|(i, t)| Target {
                field: format!("targets[{i}].agency_unit_id"),
                agency: t.agency_unit_id.clone(),
                lead: t.lead,
            })
            .collect();
        if targets.is_empty() {
            return Err(RoutingError::field("targets", "name at least one handling agency (R7.3b)"));
        }
        let new = with_instructions(assignments(snapshot.directory(), state, &targets, "targets")?, &req.note);
        let ids: Vec<AssignmentId> = new.iter().map(|a| a.id).collect();
        let command = Command::Dispatch { assignments: new };
        let executed = replica::execute(&txn, replica, command, &auth.actor(), self.now(), &self.calendar, &self.index)
            .await
            .map_err(|e| dispatch_refusal(e, &targets, "targets", "targets"))?;
        let report = self.view_after(&txn, &executed).await?;
        self.commit(txn).await?;
        tracing::info!(assignments = ids.len(), "report dispatched");
        Ok(v1::DispatchResponse { report: Some(report), assignments: new_assignments(&executed.replica, &ids) })
    }

    /// Re-dispatch: to other agencies after one returned its assignment (R8.2b), or after the
    /// reporter reopened the report (R11.3).
    pub(super) async fn redispatch_report(
        &self,
        auth: &AuthContext,
        req: &v1::RedispatchRequest,
    ) -> Result<v1::RedispatchResponse, RoutingError> {
        const REPLACES: &str = "replaces_assignment_id";
        let snapshot = self.directory.current().await?;
        let (txn, replica) = self.lock("report_id", &req.report_id).await?;
        require_instance(auth, &replica)?;
        let state = &replica.state;
        let replaced = match req.replaces_assignment_id.trim() {
            "" if state.status == ReportStatus::Reopened => None,
            "" => {
                return Err(RoutingError::field(
                    REPLACES,
                    "name the returned assignment this re-dispatch replaces (R8.2b); only a reopened report \
                     (R11.3) is re-dispatched without one",
                ));
            }
            raw => {
                let id = AssignmentId::from_uuid(RoutingError::parse_uuid(REPLACES, raw)?);
                let returned = state.assignment(id).ok_or_else(|| {
                    RoutingError::field(REPLACES, format!("report {} has no assignment {id}", state.id))
                })?;
                if returned.status != AssignmentStatus::Returned {
                    return Err(RoutingError::FailedPrecondition(format!(
                        "assignment {id} is {}, not returned; only a returned assignment is replaced (R8.2b)",
                        returned.status
                    )));
                }
                if let Some(done) = redispatches::find(&txn, id).await? {
                    return Err(RoutingError::FailedPrecondition(format!(
                        "returned assignment {id} was already replaced at {}",
                        done.redispatched_at.to_rfc3339()
                    )));
                }
                Some(id)
            }
        };
        let targets: Vec<Target> = req
            .targets
            .iter()
            .enumerate()
            .map(|(i, t)| Target {
                field: format!("targets[{i}].agency_unit_id"),
                agency: t.agency_unit_id.clone(),
                lead: t.lead,
            })
            .collect();
        if targets.is_empty() {
            return Err(RoutingError::field("targets", "name at least one handling agency (R8.2b)"));
        }
        let new = with_instructions(assignments(snapshot.directory(), state, &targets, "targets")?, &req.note);
        let ids: Vec<AssignmentId> = new.iter().map(|a| a.id).collect();
        let report_id = state.id;
        let now = self.now();
        let command = Command::Dispatch { assignments: new };
        let executed = replica::execute(&txn, replica, command, &auth.actor(), now, &self.calendar, &self.index)
            .await
            .map_err(|e| dispatch_refusal(e, &targets, "targets", "targets"))?;
        if let Some(replaced) = replaced {
            redispatches::record(&txn, replaced, report_id, &ids, &auth.claims.sub, now).await?;
        }
        let report = self.view_after(&txn, &executed).await?;
        self.commit(txn).await?;
        tracing::info!(assignments = ids.len(), "report re-dispatched");
        Ok(v1::RedispatchResponse { report: Some(report), assignments: new_assignments(&executed.replica, &ids) })
    }

    /// Escalation to the provincial office (R8.2c, R4.4).
    pub(super) async fn escalate_report(
        &self,
        auth: &AuthContext,
        req: &v1::EscalateRequest,
    ) -> Result<v1::EscalateResponse, RoutingError> {
        let reason = fact::escalation_reason_from(req.reason)
            .ok_or_else(|| RoutingError::field("reason", "choose why the case is escalated (R8.2c, R4.4)"))?;
        let duplicate_of = match (reason, req.duplicate_of.trim()) {
            (EscalationReason::Duplicate, "") => {
                return Err(RoutingError::field(
                    "duplicate_of",
                    "required when the reason is ESCALATION_REASON_DUPLICATE: name the earlier report (R8.2c)",
                ));
            }
            (EscalationReason::Duplicate, raw) => Some(RoutingError::parse_id::<ReportId>("duplicate_of", raw)?),
            (_, "") => None,
            (_, _) => {
                return Err(RoutingError::field("duplicate_of", "only for ESCALATION_REASON_DUPLICATE"));
            }
        };
        let (txn, replica) = self.lock("report_id", &req.report_id).await?;
        require_instance(auth, &replica)?;
        if let Some(earlier) = duplicate_of {
            self.earlier_report(&txn, &replica, earlier).await?;
        }
        let command = Command::Escalate { reason, note: req.note.clone(), duplicate_of };
        let executed =
            replica::execute(&txn, replica, command, &auth.actor(), self.now(), &self.calendar, &self.index).await?;
        let report = self.view_after(&txn, &executed).await?;
        self.commit(txn).await?;
        tracing::info!(reason = ?reason, "report escalated");
        Ok(v1::EscalateResponse { escalation: report.escalations.last().cloned(), report: Some(report) })
    }

    /// The provincial office's directive on the current escalation: dispatch (with fresh
    /// assignments) or close with a notice to the reporter (R8.2c, R4.4).
    pub(super) async fn direct_report(
        &self,
        auth: &AuthContext,
        req: &v1::IssueDirectiveRequest,
    ) -> Result<v1::IssueDirectiveResponse, RoutingError> {
        let snapshot = self.directory.current().await?;
        let directory = snapshot.directory();
        if directory.unit(auth.unit()).is_none_or(|u| u.kind != UnitKind::ProvincialOffice) {
            return Err(RoutingError::Forbidden(format!(
                "directives are issued for the provincial office; the caller acts for unit {}",
                auth.unit()
            )));
        }
        let directive = req.directive.as_ref().ok_or_else(|| RoutingError::field("directive", "required"))?;
        let escalation_id = req.escalation_id.trim();
        if escalation_id.is_empty() {
            return Err(RoutingError::field(
                "escalation_id",
                "required: the id of the escalation this directive answers",
            ));
        }
        let (txn, replica) = self.lock("report_id", &req.report_id).await?;
        let state = &replica.state;
        let report_id = state.id.to_string();
        let well_formed = escalation_id
            .strip_prefix(&format!("{report_id}@"))
            .is_some_and(|micros| !micros.is_empty() && micros.bytes().all(|b| b.is_ascii_digit() || b == b'-'));
        if !well_formed {
            return Err(RoutingError::field("escalation_id", format!("not an escalation of report {report_id}")));
        }
        if state.status != ReportStatus::Escalated {
            return Err(RoutingError::FailedPrecondition(format!(
                "report {report_id} is {}, not escalated: there is nothing to direct",
                state.status
            )));
        }
        let current = state.escalation.as_ref().map(|e| convert::escalation_id(&report_id, e.at)).unwrap_or_default();
        if current != escalation_id {
            return Err(RoutingError::FailedPrecondition(format!(
                "escalation {escalation_id} is not the report's current escalation ({current})"
            )));
        }
        let mut targets: Vec<Target> = Vec::new();
        let command = match &directive.action {
            None => return Err(RoutingError::field("directive.action", "choose dispatch or close")),
            Some(v1::directive::Action::Dispatch(d)) => {
                let lead = d.lead_agency_unit_id.trim();
                if !lead.is_empty() && !d.agency_unit_ids.iter().any(|a| a.trim() == lead) {
                    return Err(RoutingError::field(
                        "directive.dispatch.lead_agency_unit_id",
                        "must be one of directive.dispatch.agency_unit_ids",
                    ));
                }
                targets = d
                    .agency_unit_ids
                    .iter()
                    .enumerate()
                    .map(|(i, a)| Target {
                        field: format!("directive.dispatch.agency_unit_ids[{i}]"),
                        agency: a.clone(),
                        lead: !lead.is_empty() && a.trim() == lead,
                    })
                    .collect();
                // The domain gives each new assignment the directive's instructions.
                let assignments = assignments(directory, state, &targets, "directive.dispatch.agency_unit_ids")?;
                Command::Direct(Directive::Dispatch { assignments, note: directive.instructions.clone() })
            }
            Some(v1::directive::Action::Close(c)) => Command::Direct(Directive::Close { notice: c.notice.clone() }),
        };
        let executed = replica::execute(&txn, replica, command, &auth.actor(), self.now(), &self.calendar, &self.index)
            .await
            .map_err(|err| match &err {
                ReplicaError::Lifecycle(
                    LifecycleError::MissingField { field: "note", .. } | LifecycleError::BadText { field: "note", .. },
                ) => RoutingError::field("directive.instructions", err.to_string()),
                ReplicaError::Lifecycle(
                    LifecycleError::MissingField { field: "notice", .. }
                    | LifecycleError::BadText { field: "notice", .. },
                ) => RoutingError::field("directive.close.notice", err.to_string()),
                _ => dispatch_refusal(
                    err,
                    &targets,
                    "directive.dispatch.agency_unit_ids",
                    "directive.dispatch.lead_agency_unit_id",
                ),
            })?;
        let issued = executed
            .events
            .iter()
            .find(|e| matches!(e.kind, lc::EventKind::DirectiveIssued { .. }))
            .map(|e| convert::payload(e, &executed.replica.state, None));
        let Some(Payload::DirectiveIssued(issued)) = issued else {
            return Err(RoutingError::Corrupt(format!("directive on report {report_id} issued no directive event")));
        };
        let report = self.view_after(&txn, &executed).await?;
        self.commit(txn).await?;
        tracing::info!(status = %executed.replica.state.status, "directive issued");
        Ok(v1::IssueDirectiveResponse { directive: issued.directive, report: Some(report) })
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use paht_domain::actor::{Actor, Role};
    use paht_domain::calendar::WorkingCalendar;
    use paht_domain::lifecycle::NewReport;

    use super::*;

    fn target(i: usize, agency: &str, lead: bool) -> Target {
        Target { field: format!("targets[{i}].agency_unit_id"), agency: agency.into(), lead }
    }

    fn accepted() -> lc::Report {
        let cal = WorkingCalendar::vietnam();
        let at = Utc.with_ymd_and_hms(2027, 3, 5, 2, 0, 0).unwrap();
        let new = NewReport {
            id: ReportId::from_uuid(Uuid::now_v7()),
            instance: UnitId::new("IOC-86"),
            reporter_ref: None,
            confidential: false,
        };
        let report =
            lc::Report::receive(new, &Actor::new("web", Role::System, UnitId::new("IOC-86")), at, &cal).unwrap().report;
        report
            .apply(Command::Accept, &Actor::new("op", Role::IocOperator, UnitId::new("IOC-86")), at, &cal)
            .unwrap()
            .report
    }

    // R7.3b: a lone agency leads unless a lead is at work; flags are kept otherwise.
    #[test]
    fn a_lone_target_leads_unless_a_lead_is_at_work_r7_3b() {
        let directory = Directory::shipped();
        let mut report = accepted();
        let lone = assignments(&directory, &report, &[target(0, " SO-XD-86 ", false)], "targets").unwrap();
        assert_eq!((lone[0].agency.as_str(), lone[0].lead), ("SO-XD-86", true));
        let two =
            assignments(&directory, &report, &[target(0, "SO-XD-86", false), target(1, "CA-86", true)], "targets")
                .unwrap();
        assert_eq!(two.iter().map(|a| a.lead).collect::<Vec<_>>(), vec![false, true]);
        assert_ne!(two[0].id, two[1].id, "fresh ids");
        let cal = WorkingCalendar::vietnam();
        let op = Actor::new("op", Role::IocOperator, UnitId::new("IOC-86"));
        let at = Utc.with_ymd_and_hms(2027, 3, 5, 3, 0, 0).unwrap();
        report = report.apply(Command::Dispatch { assignments: lone }, &op, at, &cal).unwrap().report;
        let co = assignments(&directory, &report, &[target(0, "CA-86", false)], "targets").unwrap();
        assert!(!co[0].lead, "the lead at work keeps leading");
    }

    // R7.3b: every bad target is named at once.
    #[test]
    fn bad_targets_are_named_together_r7_3b() {
        let directory = Directory::shipped();
        let targets = [
            target(0, "IOC-86", true),
            target(1, "VP-UBND-86", false),
            target(2, "UBND-86", false),
            target(3, "X", true),
            target(4, "X", false),
        ];
        let Err(RoutingError::Invalid(violations)) = assignments(&directory, &accepted(), &targets, "targets") else {
            panic!("refused")
        };
        let fields: Vec<&str> = violations.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "targets[0].agency_unit_id",
                "targets[1].agency_unit_id",
                "targets[2].agency_unit_id",
                "targets[3].agency_unit_id",
                "targets[4].agency_unit_id",
                "targets[4].agency_unit_id",
                "targets",
            ]
        );
        assert!(violations[0].1.contains("not a handling agency"), "{}", violations[0].1);
    }
}
