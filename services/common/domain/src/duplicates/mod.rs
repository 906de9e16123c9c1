//! Duplicate suggestions: for a new report, the earlier reports nearby that say the same
//! thing, ranked, so the IOC operator can link it as "already handled in an earlier
//! report" and the reporter receives the earlier report's answer (R8.2c).
//!
//! Pure and deterministic: no I/O, no clock, no corpus statistics. The routing service
//! stores a [`Fingerprint`] per report when it arrives, loads the earlier reports of the
//! time window (and, with coordinates, of the area) as [`Candidate`]s, and calls
//! [`suggest`]: one `O(k)` fingerprint comparison per candidate, so `O(n · k)` for `n`
//! candidates of `k` features, plus sorting the few that qualify. The operator decides;
//! nothing here links reports by itself.
//!
//! - [`fingerprint`]: Vietnamese normalisation (composed, lowercased, diacritics folded
//!   with the validation module's letter table, `đ` → `d`), syllable unigrams without
//!   function words plus syllable bigrams, and their cosine similarity;
//! - [`distance`]: haversine distance between [`Coordinates`](crate::validation::Coordinates);
//! - [`DuplicateRules`]: radius (500 m), thresholds (0.35 with a distance, 0.7 without),
//!   look-back (30 days), number of suggestions (5) and the score's weights (text 0.7,
//!   nearness 0.3).
//!
//! Typical similarities (from the tests): the same complaint without diacritics 1.0;
//! retold with phrases reordered about 0.9; retold shortly or in other words 0.45–0.65;
//! another problem on the same street 0.2–0.35; the same words about a pothole on another
//! street about 0.63, which the distance (or, without one, the 0.7 threshold) refuses.
//!
//! Feed it the report's title and content, not its address: the address is what the
//! distance measures, and in the text it would make different problems at one place alike.

pub mod distance;
pub mod fingerprint;
mod rules;
mod suggest;

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;

pub use distance::distance_m;
pub use fingerprint::{FINGERPRINT_VERSION, Fingerprint, STOP_WORDS, fold, is_stop_word, syllables, text_similarity};
pub use rules::{DuplicateRules, ScoreWeights};
pub use suggest::{Candidate, DuplicateQuery, Reason, Suggestion, suggest};
