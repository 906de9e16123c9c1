//! SuggestAgencies: the routing rules over the report's category and place (R4.3, R7.3b).

use paht_domain::ids::UnitId;
use paht_platform::auth::AuthContext;
use paht_platform::replica;
use paht_proto::v1;

use super::{RoutingService, mapping, record_report, require_instance};
use crate::directory::Directory;
use crate::error::RoutingError;

/// Most suggestions a request may ask for.
const MAX_SUGGESTIONS: usize = 50;

/// The unit of the place a report names: its administrative code (a commune's 5 digits), or a
/// unit id.
pub(super) fn place_of(directory: &Directory, report: &v1::Report) -> Option<UnitId> {
    let code = report.location.as_ref().map(|l| l.unit_code.trim()).filter(|c| !c.is_empty())?;
    directory.by_code(code).map(|u| u.id.clone()).or_else(|| directory.unit(&UnitId::new(code)).map(|u| u.id.clone()))
}

impl RoutingService {
    /// The agencies the rules suggest for the report's category and place, best first, without
    /// those already at work on it or that returned it as outside their competence (R8.2b).
    pub(super) async fn suggest_agencies_for(
        &self,
        auth: &AuthContext,
        req: &v1::SuggestAgenciesRequest,
    ) -> Result<v1::SuggestAgenciesResponse, RoutingError> {
        let id = RoutingError::parse_id::<paht_domain::ids::ReportId>("report_id", &req.report_id)?;
        record_report(id);
        let snapshot = self.directory.current().await?;
        let directory = snapshot.directory();
        let replica =
            replica::load(self.db.conn(), id).await?.ok_or_else(|| RoutingError::NotFound(format!("report {id}")))?;
        require_instance(auth, &replica)?;
        let category_id = replica.category_id().ok_or_else(|| {
            RoutingError::FailedPrecondition(format!(
                "report {id} has no category; confirm its category at the check (R7.3a) to get suggestions"
            ))
        })?;
        let category = directory.category(category_id).ok_or_else(|| {
            RoutingError::FailedPrecondition(format!(
                "report {id} is filed under category {category_id}, which the directory does not know"
            ))
        })?;
        let place = place_of(directory, &replica.view);
        let limit = match req.limit as usize {
            0 => self.config.agency_suggestions as usize,
            n => n,
        }
        .min(MAX_SUGGESTIONS);
        let state = &replica.state;
        let suggestions = self
            .rules
            .suggest_for(directory, category, place.as_ref())
            .into_iter()
            .filter(|s| !state.assignments.iter().any(|a| a.agency == s.agency))
            .filter_map(|s| {
                directory.unit(&s.agency).map(|unit| v1::AgencySuggestion {
                    unit: Some(mapping::unit(unit)),
                    score: f64::from(s.score) / 100.0,
                    reason: s.reason,
                })
            })
            .take(limit)
            .collect();
        Ok(v1::SuggestAgenciesResponse { suggestions })
    }
}
