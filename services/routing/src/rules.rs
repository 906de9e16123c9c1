//! Routing rules: which agencies the IOC operator is offered for a report, ranked, each with
//! the reason (R7.3b). The operator decides; the rules only suggest.
//!
//! Two sources, merged per agency (the higher score wins):
//! - the People's Committee of the commune or ward where the event happened, when its kind is
//!   among the category's `default_agency_kinds` (90 for the first kind, 10 less per place
//!   after);
//! - the province's rules (`data/vinh-long/rules.toml`): category → agency with a weight,
//!   optionally only for events in a commune/ward of a former province (before the 2025
//!   merger the water companies served one province each and still do).

use std::collections::BTreeMap;

use serde::Deserialize;
use thiserror::Error;

use crate::directory::{Category, Directory, DirectoryError, UnitId, UnitKind};

/// The shipped rules of Vĩnh Long.
pub const SHIPPED_RULES: &str = include_str!("../data/vinh-long/rules.toml");

/// Score of the local People's Committee when its kind comes first in the category's list.
const LOCAL_FIRST: u8 = 90;
/// How much each later place in the list lowers it.
const LOCAL_STEP: u8 = 10;

/// One rule, as validated against the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The category it applies to.
    pub category: String,
    /// The agency it suggests.
    pub agency: UnitId,
    /// 0–100: how strongly.
    pub weight: u8,
    /// Only for events in a commune/ward of this former province.
    pub former_province: Option<String>,
    /// Shown to the operator.
    pub reason: String,
}

/// A rules file could not be used; `rule` is the 1-based position of the rule in the file.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RulesError {
    /// Not TOML, or unknown or missing fields.
    #[error("rules: {0}")]
    Syntax(String),
    /// The category is not in the directory.
    #[error("rule {rule}: unknown category `{category}`")]
    UnknownCategory { rule: usize, category: String },
    /// The agency is not in the directory, is retired, or is not a handling agency.
    #[error("rule {rule}: `{agency}` is not an active handling agency of the directory")]
    NotAnAgency { rule: usize, agency: String },
    /// No unit of the directory serves that former province.
    #[error("rule {rule}: no commune or ward belonged to former province `{former_province}`")]
    UnknownFormerProvince { rule: usize, former_province: String },
    /// Weight above 100.
    #[error("rule {rule}: weight {weight} is above 100")]
    Weight { rule: usize, weight: u16 },
    /// No reason for the operator.
    #[error("rule {rule}: the reason is empty")]
    NoReason { rule: usize },
    /// The same category, agency and area twice.
    #[error("rule {rule}: repeats an earlier rule for `{category}` → `{agency}`")]
    Duplicate { rule: usize, category: String, agency: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    rule: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    category: String,
    agency: String,
    weight: u16,
    #[serde(default)]
    former_province: Option<String>,
    reason: String,
}

/// The province's rules, checked against a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingRules {
    rules: Vec<Rule>,
}

/// One suggested agency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgencySuggestion {
    /// The agency.
    pub agency: UnitId,
    /// 0–100; higher first.
    pub score: u8,
    /// Why, in Vietnamese, for the operator.
    pub reason: String,
}

/// Why no suggestion could be made.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SuggestError {
    /// The category is unknown or retired (R13.5).
    #[error(transparent)]
    Category(#[from] DirectoryError),
}

impl RoutingRules {
    /// Parses and checks `text` against `directory`: every reference must resolve.
    pub fn parse(text: &str, directory: &Directory) -> Result<RoutingRules, RulesError> {
        let file: File = toml::from_str(text).map_err(|e| RulesError::Syntax(e.to_string()))?;
        let mut rules: Vec<Rule> = Vec::with_capacity(file.rule.len());
        for (index, raw) in file.rule.into_iter().enumerate() {
            let rule = index + 1;
            if directory.category(&raw.category).is_none() {
                return Err(RulesError::UnknownCategory { rule, category: raw.category });
            }
            let agency = UnitId::new(raw.agency.clone());
            match directory.unit(&agency) {
                Some(unit) if unit.active && unit.kind.is_agency() => {}
                _ => return Err(RulesError::NotAnAgency { rule, agency: raw.agency }),
            }
            if let Some(former) = &raw.former_province
                && !directory.units().any(|u| u.former_province.as_deref() == Some(former.as_str()))
            {
                return Err(RulesError::UnknownFormerProvince { rule, former_province: former.clone() });
            }
            let weight = u8::try_from(raw.weight)
                .ok()
                .filter(|w| *w <= 100)
                .ok_or(RulesError::Weight { rule, weight: raw.weight })?;
            if raw.reason.trim().is_empty() {
                return Err(RulesError::NoReason { rule });
            }
            if rules
                .iter()
                .any(|r| r.category == raw.category && r.agency == agency && r.former_province == raw.former_province)
            {
                return Err(RulesError::Duplicate { rule, category: raw.category, agency: raw.agency });
            }
            rules.push(Rule {
                category: raw.category,
                agency,
                weight,
                former_province: raw.former_province,
                reason: raw.reason.trim().to_owned(),
            });
        }
        Ok(RoutingRules { rules })
    }

    /// The shipped rules over the shipped directory.
    pub fn shipped(directory: &Directory) -> Result<RoutingRules, RulesError> {
        RoutingRules::parse(SHIPPED_RULES, directory)
    }

    /// Every rule, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Agencies for a report of `category` whose event happened in `place` (the commune or ward,
    /// when known), best first; ties by agency id. A retired or unknown category is refused.
    pub fn suggest(
        &self,
        directory: &Directory,
        category: &str,
        place: Option<&UnitId>,
    ) -> Result<Vec<AgencySuggestion>, SuggestError> {
        let category = directory.category_for_new_report(category)?;
        Ok(self.suggest_for(directory, category, place))
    }

    /// Agencies for a report filed under `category` (active or retired: a report filed before
    /// its category was retired is still dispatched), whose event happened in `place`; best
    /// first, ties by agency id.
    pub fn suggest_for(
        &self,
        directory: &Directory,
        category: &Category,
        place: Option<&UnitId>,
    ) -> Vec<AgencySuggestion> {
        let place = place.and_then(|id| directory.unit(id)).filter(|u| u.active);
        let mut best: BTreeMap<UnitId, AgencySuggestion> = BTreeMap::new();
        let mut offer = |suggestion: AgencySuggestion| {
            let keep = best.get(&suggestion.agency).is_none_or(|held| held.score < suggestion.score);
            if keep {
                best.insert(suggestion.agency.clone(), suggestion);
            }
        };
        if let Some(unit) = place.filter(|u| matches!(u.kind, UnitKind::Commune | UnitKind::Ward))
            && let Some(rank) = category.default_agency_kinds.iter().position(|k| *k == unit.kind)
        {
            let score = LOCAL_FIRST.saturating_sub(LOCAL_STEP.saturating_mul(u8::try_from(rank).unwrap_or(u8::MAX)));
            offer(AgencySuggestion {
                agency: unit.id.clone(),
                score,
                reason: format!("Chính quyền nơi xảy ra sự việc ({})", unit.name),
            });
        }
        let former = place.and_then(|u| u.former_province.as_deref());
        for rule in self.rules.iter().filter(|r| r.category == category.id.as_str()) {
            if rule.former_province.as_deref().is_some_and(|wanted| Some(wanted) != former) {
                continue;
            }
            offer(AgencySuggestion { agency: rule.agency.clone(), score: rule.weight, reason: rule.reason.clone() });
        }
        let mut out: Vec<AgencySuggestion> = best.into_values().collect();
        out.sort_by(|a, b| b.score.cmp(&a.score).then_with(|| a.agency.cmp(&b.agency)));
        out
    }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
