//! What makes an earlier report a duplicate candidate, with defaults chosen on realistic
//! report pairs (see the module tests). Every value can be changed from configuration; a
//! partial configuration keeps the defaults for what it does not name.

use serde::{Deserialize, Serialize};

/// Limits and weights of a duplicate search (R8.2c). `Default` gives the documented defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DuplicateRules {
    /// Farthest an earlier report may be, in metres, when both have coordinates (default
    /// 500): a phone's position is off by 10–50 m, two people describe the same pothole or
    /// flooded street from different ends of it, and in a town 500 m is still "the same place".
    pub max_distance_m: f64,
    /// Least text similarity when the distance is known (default 0.35). The same complaint
    /// retold in other words scores 0.45–0.65, told again with reordered phrases 0.8–0.95;
    /// a different problem on the same street, which shares the street's name, 0.2–0.35.
    pub min_text_similarity: f64,
    /// Least text similarity when either report has no coordinates (default 0.7): the text
    /// is then the only evidence, and common complaints ("đèn đường không sáng") recur all
    /// over the province. A pothole described in the same words on another street scores
    /// about 0.63, the same report with phrases reordered about 0.9: only a close retelling
    /// qualifies.
    pub min_text_similarity_without_distance: f64,
    /// How far back to look, in days before the new report (default 30): a problem
    /// reported a month ago and handled since is more likely a new occurrence.
    pub lookback_days: u32,
    /// Most suggestions returned (default 5): what an operator reads before deciding.
    pub max_suggestions: usize,
    /// How text and distance combine into the score.
    pub weights: ScoreWeights,
}

impl Default for DuplicateRules {
    fn default() -> Self {
        Self {
            max_distance_m: 500.0,
            min_text_similarity: 0.35,
            min_text_similarity_without_distance: 0.7,
            lookback_days: 30,
            max_suggestions: 5,
            weights: ScoreWeights::default(),
        }
    }
}

/// Weights of the score `(text · similarity + proximity · (1 − distance / max_distance_m))
/// / (text + proximity)`. Without a distance, proximity counts as 0, as if the earlier
/// report were at the edge of the radius: that is the penalty for text-only matches, and
/// it never ranks one above an equally similar report known to be near.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScoreWeights {
    /// Weight of text similarity (default 0.7): what was reported decides.
    pub text: f64,
    /// Weight of nearness (default 0.3): among equally similar reports, the nearer first.
    pub proximity: f64,
}

impl Default for ScoreWeights {
    fn default() -> Self {
        Self { text: 0.7, proximity: 0.3 }
    }
}

impl ScoreWeights {
    /// The score of a text similarity and an optional proximity (both in `[0, 1]`), in
    /// `[0, 1]`. Negative or non-numeric weights count as 0; with both 0 the score is the
    /// text similarity.
    pub fn score(&self, text_similarity: f64, proximity: Option<f64>) -> f64 {
        let text = self.text.max(0.0);
        let near = self.proximity.max(0.0);
        let total = text + near;
        let usable = total > 0.0 && total.is_finite();
        if !usable {
            return text_similarity.clamp(0.0, 1.0);
        }
        let score = (text * text_similarity + near * proximity.unwrap_or(0.0)) / total;
        score.clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Proves R8.2c: a partial configuration keeps the other defaults.
    #[test]
    fn partial_configuration_keeps_defaults_r8_2c() {
        let rules: DuplicateRules = toml::from_str("max_distance_m = 300.0\n[weights]\ntext = 0.5\n").unwrap();
        assert_eq!(rules.max_distance_m, 300.0);
        assert_eq!(rules.weights, ScoreWeights { text: 0.5, proximity: 0.3 });
        assert_eq!(rules.lookback_days, 30);
        assert!(toml::from_str::<DuplicateRules>("max_distance = 300.0").is_err(), "typos are refused");
    }

    // Proves R8.2c: the score weighs text and nearness and penalises a missing distance.
    #[test]
    fn score_combines_text_and_nearness_r8_2c() {
        let w = ScoreWeights::default();
        assert!((w.score(1.0, Some(1.0)) - 1.0).abs() < 1e-12);
        assert!((w.score(0.8, Some(0.5)) - 0.71).abs() < 1e-12);
        assert!((w.score(0.8, None) - 0.56).abs() < 1e-12);
        assert!(w.score(0.8, None) <= w.score(0.8, Some(0.0)));
        let broken = ScoreWeights { text: f64::NAN, proximity: -1.0 };
        assert_eq!(broken.score(0.4, Some(1.0)), 0.4);
    }
}
