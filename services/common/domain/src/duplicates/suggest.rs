//! Ranking earlier reports as possible duplicates of a new one (R8.2c).

use std::cmp::Ordering;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::distance::distance_m;
use super::fingerprint::Fingerprint;
use super::rules::DuplicateRules;
use crate::ids::ReportId;
use crate::validation::{Coordinates, Lang};

/// An earlier report as the routing service stores it for duplicate searches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// The earlier report.
    pub report_id: ReportId,
    /// Its text's features, computed once when it arrived.
    pub fingerprint: Fingerprint,
    /// Where it happened, if the reporter gave coordinates.
    pub coordinates: Option<Coordinates>,
    /// When it was received.
    pub received_at: DateTime<Utc>,
}

impl Candidate {
    /// A candidate from the report's text (title and content, as the caller joins them).
    pub fn new(report_id: ReportId, text: &str, coordinates: Option<Coordinates>, received_at: DateTime<Utc>) -> Self {
        Self { report_id, fingerprint: Fingerprint::of(text), coordinates, received_at }
    }
}

/// The new report whose duplicates are sought.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DuplicateQuery {
    /// Its text's features.
    pub fingerprint: Fingerprint,
    /// Where it happened, if known.
    pub coordinates: Option<Coordinates>,
    /// When it was received; only reports received before it are candidates.
    pub received_at: DateTime<Utc>,
}

impl DuplicateQuery {
    /// A query from the new report's text.
    pub fn new(text: &str, coordinates: Option<Coordinates>, received_at: DateTime<Utc>) -> Self {
        Self { fingerprint: Fingerprint::of(text), coordinates, received_at }
    }
}

/// Why a report is suggested, for the operator, in both languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// E.g. "cách 120 m, nội dung giống 78%".
    pub vi: String,
    /// E.g. "120 m away, text 78% similar".
    pub en: String,
}

impl Reason {
    /// The explanation in the given language.
    pub fn text(&self, lang: Lang) -> &str {
        match lang {
            Lang::Vi => &self.vi,
            Lang::En => &self.en,
        }
    }

    fn new(text_similarity: f64, distance_m: Option<f64>) -> Self {
        let percent = (text_similarity * 100.0).round();
        let (where_vi, where_en) = match distance_m {
            Some(d) if d >= 1000.0 => {
                let km = format!("{:.1}", d / 1000.0);
                (format!("cách {} km", km.replace('.', ",")), format!("{km} km away"))
            }
            Some(d) => (format!("cách {d:.0} m"), format!("{d:.0} m away")),
            None => ("chưa rõ khoảng cách (thiếu tọa độ)".to_owned(), "distance unknown (no coordinates)".to_owned()),
        };
        Self {
            vi: format!("{where_vi}, nội dung giống {percent}%"),
            en: format!("{where_en}, text {percent}% similar"),
        }
    }
}

/// An earlier report that may be the same case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    /// The earlier report.
    pub report_id: ReportId,
    /// When it was received.
    pub received_at: DateTime<Utc>,
    /// Overall score in `[0, 1]`, higher is likelier (see [`super::ScoreWeights`]).
    pub score: f64,
    /// Text similarity in `[0, 1]`.
    pub text_similarity: f64,
    /// Distance in metres, when both reports have coordinates.
    pub distance_m: Option<f64>,
    /// A short explanation for the operator.
    pub reason: Reason,
}

/// The best order: higher score first; on a tie the earlier report (the original case,
/// whose answer the newer reporter should receive), then the smaller id, so the result
/// never depends on the order candidates were listed in.
fn rank(a: &Suggestion, b: &Suggestion) -> Ordering {
    b.score
        .total_cmp(&a.score)
        .then_with(|| a.received_at.cmp(&b.received_at))
        .then_with(|| a.report_id.cmp(&b.report_id))
}

/// Earlier reports that may be duplicates of the query, best first, at most
/// `rules.max_suggestions` of them.
///
/// A candidate qualifies if it was received before the query and at most
/// `rules.lookback_days` earlier; if both have coordinates, it lies within
/// `rules.max_distance_m` and its text similarity reaches `rules.min_text_similarity`;
/// otherwise the text alone must reach `rules.min_text_similarity_without_distance`, and
/// the score counts no nearness. Cost: one fingerprint comparison (`O(k)` for `k`
/// features) per candidate, then sorting the qualified ones; nothing is re-tokenised.
pub fn suggest<'a, I>(query: &DuplicateQuery, candidates: I, rules: &DuplicateRules) -> Vec<Suggestion>
where
    I: IntoIterator<Item = &'a Candidate>,
{
    if rules.max_suggestions == 0 {
        return Vec::new();
    }
    let oldest = TimeDelta::try_days(i64::from(rules.lookback_days))
        .and_then(|lookback| query.received_at.checked_sub_signed(lookback))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let mut found: Vec<Suggestion> = candidates
        .into_iter()
        .filter(|c| c.received_at < query.received_at && c.received_at >= oldest)
        .filter_map(|c| assess(query, c, rules))
        .collect();
    if found.len() > rules.max_suggestions {
        found.select_nth_unstable_by(rules.max_suggestions - 1, rank);
        found.truncate(rules.max_suggestions);
    }
    found.sort_by(rank);
    found
}

/// The suggestion for one candidate in the time window, or `None` if it is too far or too different.
fn assess(query: &DuplicateQuery, candidate: &Candidate, rules: &DuplicateRules) -> Option<Suggestion> {
    let distance = match (&query.coordinates, &candidate.coordinates) {
        (Some(a), Some(b)) => Some(distance_m(a, b)),
        _ => None,
    };
    let (proximity, threshold) = match distance {
        Some(d) if d <= rules.max_distance_m => {
            let proximity = if rules.max_distance_m > 0.0 { 1.0 - d / rules.max_distance_m } else { 1.0 };
            (Some(proximity.clamp(0.0, 1.0)), rules.min_text_similarity)
        }
        // Farther than the radius (or a radius that is not a number): not the same place.
        Some(_) => return None,
        None => (None, rules.min_text_similarity_without_distance),
    };
    let text_similarity = query.fingerprint.similarity(&candidate.fingerprint);
    // `>=` is false for a NaN threshold: a broken configuration suggests nothing.
    let similar_enough = text_similarity > 0.0 && text_similarity >= threshold;
    if !similar_enough {
        return None;
    }
    Some(Suggestion {
        report_id: candidate.report_id,
        received_at: candidate.received_at,
        score: rules.weights.score(text_similarity, proximity),
        text_similarity,
        distance_m: distance,
        reason: Reason::new(text_similarity, distance),
    })
}
