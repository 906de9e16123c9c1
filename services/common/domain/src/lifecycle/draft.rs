//! The first draft of the answer (R10.1, R10.3a): one part per agency whose result was
//! approved, named by the agency, the lead agency first, then in dispatch order. The IOC
//! operator edits it before publishing; publication runs it through the personal-data guard
//! ([`crate::privacy`]) like any other text.

use super::{AssignmentStatus, Report};
use crate::ids::UnitId;

impl Report {
    /// The draft answer from the approved results, naming each agency with `name_of` (its
    /// unit id when the directory does not know it); `None` while no result is approved.
    pub fn draft_answer(&self, name_of: impl Fn(&UnitId) -> Option<String>) -> Option<String> {
        let mut approved: Vec<_> = self
            .assignments
            .iter()
            .filter(|a| a.status == AssignmentStatus::Approved)
            .filter_map(|a| a.result.as_ref().map(|r| (a, r)))
            .collect();
        if approved.is_empty() {
            return None;
        }
        // Stable: the lead first, the others in dispatch order.
        approved.sort_by_key(|(a, _)| !a.lead);
        let parts: Vec<String> = approved
            .iter()
            .enumerate()
            .map(|(i, (a, r))| {
                let name = name_of(&a.agency).unwrap_or_else(|| a.agency.to_string());
                let role = if a.lead && approved.len() > 1 { " (đơn vị chủ trì)" } else { "" };
                format!("{}. {name}{role}:\n{}", i + 1, r.text.trim())
            })
            .collect();
        Some(format!("Kết quả xử lý phản ánh:\n\n{}", parts.join("\n\n")))
    }
}
