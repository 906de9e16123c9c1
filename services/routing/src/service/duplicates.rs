//! SuggestDuplicates and LinkDuplicate (R8.2c "already handled in an earlier report").
//!
//! Linking twice to the same earlier report is an idempotent success (no second event);
//! linking a report already linked to another one is FAILED_PRECONDITION. The earlier report
//! must be known, of the same instance, older, not the report itself, not refused, and not
//! itself a duplicate (the link names the original case, whose answer applies).

use chrono::TimeDelta;
use paht_domain::duplicates::{self, DuplicateQuery, Fingerprint};
use paht_domain::ids::ReportId;
use paht_domain::lifecycle::ReportStatus;
use paht_platform::auth::AuthContext;
use paht_platform::db::outbox;
use paht_platform::replica;
use paht_proto::v1::event_envelope::Payload;
use paht_proto::{convert, v1};
use uuid::Uuid;

use super::commands::report_view;
use super::{RoutingService, record_report, require_instance};
use crate::error::RoutingError;
use crate::store::cases::{self, BoundingBox, Window};

/// Most candidates a request may ask for.
const MAX_CANDIDATES: usize = 50;
/// Most earlier reports one search compares (the most recent of the window).
const MAX_SCANNED: u64 = 5_000;

fn status_named(name: &str) -> v1::ReportStatus {
    ReportStatus::ALL
        .into_iter()
        .find(|s| s.as_str() == name)
        .map(convert::report_status)
        .unwrap_or(v1::ReportStatus::Unspecified)
}

impl RoutingService {
    /// Earlier reports of the instance, received before this one within the look-back window
    /// and (with coordinates) the radius, ranked by the domain's duplicate rules (R8.2c).
    pub(super) async fn suggest_duplicates_for(
        &self,
        auth: &AuthContext,
        req: &v1::SuggestDuplicatesRequest,
    ) -> Result<v1::SuggestDuplicatesResponse, RoutingError> {
        let id = RoutingError::parse_id::<ReportId>("report_id", &req.report_id)?;
        record_report(id);
        let conn = self.db.conn();
        let replica = replica::load(conn, id).await?.ok_or_else(|| RoutingError::NotFound(format!("report {id}")))?;
        require_instance(auth, &replica)?;
        let row = cases::find(conn, id)
            .await?
            .ok_or_else(|| RoutingError::Corrupt(format!("report {id} has a replica but no case row")))?;
        let mut rules = self.config.duplicates.clone();
        rules.max_suggestions = match req.limit as usize {
            0 => rules.max_suggestions,
            n => n,
        }
        .min(MAX_CANDIDATES);
        let fingerprint = serde_json::from_str::<Fingerprint>(&row.fingerprint)
            .unwrap_or_else(|_| Fingerprint::of(&replica.view.content));
        let coordinates = cases::coordinates(&row);
        let query = DuplicateQuery { fingerprint, coordinates, received_at: row.received_at };
        let window = Window {
            instance: row.instance_id.clone(),
            report: id.0,
            from: row.received_at - TimeDelta::days(i64::from(rules.lookback_days)),
            until: row.received_at,
            area: coordinates.map(|c| BoundingBox::around(&c, rules.max_distance_m)),
            limit: MAX_SCANNED,
        };
        let rows = cases::window(conn, &window).await?;
        let candidates: Vec<_> = rows.iter().filter_map(cases::candidate).collect();
        let found = duplicates::suggest(&query, &candidates, &rules);
        let candidates = found
            .into_iter()
            .filter_map(|s| {
                let earlier = rows.iter().find(|r| r.report_id == s.report_id.0)?;
                Some(v1::DuplicateCandidate {
                    report_id: s.report_id.to_string(),
                    tracking_code: earlier.tracking_code.clone(),
                    status: status_named(&earlier.status) as i32,
                    received_at: Some(convert::timestamp(earlier.received_at)),
                    score: s.score,
                    reason: format!("{} / {}", s.reason.vi, s.reason.en),
                })
            })
            .collect();
        Ok(v1::SuggestDuplicatesResponse { candidates })
    }

    /// Links a report to the earlier one it duplicates and emits `report.linked_as_duplicate`
    /// with the earlier report's tracking code, in one transaction (R8.2c).
    pub(super) async fn link(
        &self,
        auth: &AuthContext,
        req: &v1::LinkDuplicateRequest,
    ) -> Result<v1::LinkDuplicateResponse, RoutingError> {
        let newer = RoutingError::parse_id::<ReportId>("report_id", &req.report_id)?;
        let earlier = RoutingError::parse_id::<ReportId>("duplicate_of", &req.duplicate_of)?;
        if newer == earlier {
            return Err(RoutingError::field(
                "duplicate_of",
                "a report cannot duplicate itself; name an earlier report",
            ));
        }
        let (txn, replica) = self.lock("report_id", &req.report_id).await?;
        require_instance(auth, &replica)?;
        if replica.state.status == ReportStatus::Refused {
            return Err(RoutingError::FailedPrecondition(format!(
                "report {newer} was refused as incomplete; it is no case to link"
            )));
        }
        let original = self.earlier_report(&txn, &replica, earlier).await?;
        let own = cases::find(&txn, newer)
            .await?
            .ok_or_else(|| RoutingError::Corrupt(format!("report {newer} has a replica but no case row")))?;
        match own.duplicate_of.map(ReportId::from_uuid) {
            Some(linked) if linked == earlier => {
                // Idempotent: the same link again changes nothing and emits nothing.
                txn.rollback().await?;
                return Ok(v1::LinkDuplicateResponse { report: Some(report_view(&replica, Some(&own))) });
            }
            Some(linked) => {
                return Err(RoutingError::FailedPrecondition(format!(
                    "report {newer} is already linked as a duplicate of {linked}"
                )));
            }
            None => {}
        }
        if let Some(root) = original.duplicate_of {
            return Err(RoutingError::field(
                "duplicate_of",
                format!("report {earlier} is itself a duplicate of {root}; link to {root}, the original case"),
            ));
        }
        let now = self.now();
        cases::link(&txn, newer, earlier, now).await?;
        let envelope = v1::EventEnvelope {
            event_id: Uuid::now_v7().to_string(),
            report_id: newer.to_string(),
            instance_id: replica.state.instance.to_string(),
            occurred_at: Some(convert::timestamp(now)),
            actor: Some(convert::actor(&auth.actor())),
            // Outside the lifecycle: no view folds it, so it has no place in a sequence.
            producer: String::new(),
            sequence: 0,
            after: Vec::new(),
            payload: Some(Payload::ReportLinkedAsDuplicate(v1::ReportLinkedAsDuplicate {
                duplicate_of: earlier.to_string(),
                duplicate_of_tracking_code: original.tracking_code.clone(),
            })),
        };
        outbox::enqueue(&txn, &[paht_platform::events::message(&envelope)]).await?;
        let linked = cases::find(&txn, newer).await?;
        self.commit(txn).await?;
        tracing::info!(duplicate_of = %earlier, "report linked as duplicate");
        Ok(v1::LinkDuplicateResponse { report: Some(report_view(&replica, linked.as_ref())) })
    }
}
