//! Vietnamese text reduced to what two reports of the same case share (R8.2c).
//!
//! Normalisation: Vietnamese typed with combining marks is composed (the validation
//! module's `compose`), letters are lowercased and folded to their ASCII base with the
//! validation module's table (`ổ` → `o`, `đ` → `d`), anything that is not a letter or digit
//! separates syllables. A report written without diacritics, in capitals or with other
//! punctuation therefore gives the same syllables as the original.
//!
//! Features: Vietnamese words are mostly compounds of one-syllable morphemes ("ổ gà" is a
//! pothole, "gà" a chicken), so a fingerprint holds the syllables (unigrams) and the pairs
//! of adjacent syllables (bigrams). Function words (và, của, ở …) are dropped as unigrams but
//! kept inside bigrams: folded, "ở" and "ổ" are both `o`, and "ổ gà" must still be told
//! from "gà".
//!
//! Similarity: the cosine of the two binary feature vectors, unigrams and bigrams weighing
//! the same, i.e. `|A ∩ B| / sqrt(|A| · |B|)`. Sets rather than counts, because repeating a
//! word ("rất rất nguy hiểm") does not make a complaint more similar; cosine rather than
//! Jaccard, because a one-line follow-up ("ổ gà trước nhà 45 vẫn chưa sửa") and the
//! paragraph that first reported the pothole differ a lot in length, and cosine (the
//! geometric mean of how much of each text the other one covers) punishes that less than
//! Jaccard does. No corpus statistics (IDF): the score of a pair does not change when other
//! reports arrive, so a stored fingerprint and an operator's decision stay explainable.

use std::collections::HashSet;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::validation::vietnamese::{compose, letter};

/// Version of the normalisation; a stored [`Fingerprint`] of another version should be
/// recomputed from the report's text (comparing it still works, less precisely).
pub const FINGERPRINT_VERSION: u32 = 1;

/// Very common function words, written as people write them; compared after folding.
/// Only words that say nothing about what happened: negation (không) and quantities stay.
pub const STOP_WORDS: &[&str] = &[
    "và", "của", "là", "có", "các", "những", "được", "đã", "bị", "ở", "tại", "trên", "cho", "này", "rất", "với", "thì",
    "mà", "một", "đang", "sẽ", "cũng", "nhưng", "khi", "đó", "đây", "rồi", "nữa", "hay", "hoặc", "lại", "vẫn", "thế",
    "nào", "gì", "ạ", "nhé", "vậy",
];

/// Chat spellings of single syllables, as they arrive from Zalo and Facebook, after folding.
const CHAT_SPELLINGS: &[(&str, &str)] =
    &[("ko", "khong"), ("k0", "khong"), ("dc", "duoc"), ("ng", "nguoi"), ("nc", "nuoc"), ("dg", "duong")];

static FOLDED_STOP_WORDS: LazyLock<HashSet<String>> = LazyLock::new(|| STOP_WORDS.iter().map(|w| fold(w)).collect());

/// True if the folded syllable is one of the [`STOP_WORDS`].
pub fn is_stop_word(folded: &str) -> bool {
    FOLDED_STOP_WORDS.contains(folded)
}

fn is_combining_mark(c: char) -> bool {
    ('\u{0300}'..='\u{036F}').contains(&c)
}

/// The lowercase ASCII base of a Vietnamese letter; other letters and digits lowercased.
fn fold_char(lower: char) -> char {
    match lower {
        // Ð/ð (eth) looks exactly like Đ/đ and some keyboards produce it.
        'ð' => 'd',
        c => letter(c).map_or(c, |l| l.base),
    }
}

/// The text's syllables, lowercased and without diacritics, function words included.
///
/// Combining marks left over after composing (on letters Vietnamese does not have) are
/// dropped; every character that is neither a letter nor a digit separates syllables.
pub fn syllables(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for c in compose(text).chars() {
        for lower in c.to_lowercase() {
            if is_combining_mark(lower) {
                continue;
            }
            if lower.is_alphanumeric() {
                current.push(fold_char(lower));
            } else if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    for syllable in &mut out {
        if let Some((_, full)) = CHAT_SPELLINGS.iter().find(|(chat, _)| chat == syllable) {
            *syllable = (*full).to_owned();
        }
    }
    out
}

/// The text folded as the similarity sees it: syllables joined by single spaces
/// ("Ổ GÀ, đường 3/2!" → "o ga duong 3 2"); useful for search indexes and logs.
pub fn fold(text: &str) -> String {
    syllables(text).join(" ")
}

/// The features of one report's text; computed once and stored with the report, so
/// comparing a new report with `n` earlier ones costs `O(n · k)` for `k` features each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "StoredFingerprint")]
pub struct Fingerprint {
    /// The normalisation that produced it ([`FINGERPRINT_VERSION`]).
    version: u32,
    /// Content syllables, sorted, without repeats.
    unigrams: Vec<String>,
    /// Adjacent syllable pairs ("o ga"), except pairs of two function words; sorted, no repeats.
    bigrams: Vec<String>,
}

/// The serialised shape; deserialising sorts and de-duplicates, so the invariants hold
/// whatever was stored.
#[derive(Deserialize)]
struct StoredFingerprint {
    version: u32,
    unigrams: Vec<String>,
    bigrams: Vec<String>,
}

impl From<StoredFingerprint> for Fingerprint {
    fn from(stored: StoredFingerprint) -> Self {
        Self { version: stored.version, unigrams: sorted_set(stored.unigrams), bigrams: sorted_set(stored.bigrams) }
    }
}

fn sorted_set(mut items: Vec<String>) -> Vec<String> {
    items.sort_unstable();
    items.dedup();
    items
}

impl Fingerprint {
    /// Normalises the text and collects its features.
    pub fn of(text: &str) -> Self {
        let syllables = syllables(text);
        let unigrams = syllables.iter().filter(|s| !is_stop_word(s)).cloned().collect();
        let bigrams = syllables
            .windows(2)
            .filter(|pair| !(is_stop_word(&pair[0]) && is_stop_word(&pair[1])))
            .map(|pair| format!("{} {}", pair[0], pair[1]))
            .collect();
        Self { version: FINGERPRINT_VERSION, unigrams: sorted_set(unigrams), bigrams: sorted_set(bigrams) }
    }

    /// The normalisation version it was computed with.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// True if it was computed by this version of the normalisation.
    pub fn is_current(&self) -> bool {
        self.version == FINGERPRINT_VERSION
    }

    /// Content syllables, sorted.
    pub fn unigrams(&self) -> &[String] {
        &self.unigrams
    }

    /// Adjacent syllable pairs, sorted.
    pub fn bigrams(&self) -> &[String] {
        &self.bigrams
    }

    /// True if the text had nothing but function words, punctuation or nothing at all.
    pub fn is_empty(&self) -> bool {
        self.unigrams.is_empty() && self.bigrams.is_empty()
    }

    /// Cosine similarity of the two feature sets, in `[0, 1]`; symmetric; `1.0` for the same
    /// features. An empty fingerprint is similar to nothing, itself included: two texts with
    /// no content say nothing about being the same case.
    pub fn similarity(&self, other: &Fingerprint) -> f64 {
        let shared = common(&self.unigrams, &other.unigrams) + common(&self.bigrams, &other.bigrams);
        let own = self.unigrams.len() + self.bigrams.len();
        let theirs = other.unigrams.len() + other.bigrams.len();
        if shared == 0 {
            return 0.0;
        }
        // Counts are far below 2^26, so the products and the square root are exact and
        // identical sets give exactly 1.0.
        (shared as f64 / ((own as f64) * (theirs as f64)).sqrt()).min(1.0)
    }
}

/// How many items two sorted, de-duplicated lists share: one merge pass.
fn common(a: &[String], b: &[String]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

/// Similarity of two texts; prefer [`Fingerprint::similarity`] on stored fingerprints.
pub fn text_similarity(a: &str, b: &str) -> f64 {
    Fingerprint::of(a).similarity(&Fingerprint::of(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Proves R8.2c: diacritics, case, punctuation and combining marks do not matter.
    #[test]
    fn text_is_folded_to_ascii_syllables_r8_2c() {
        assert_eq!(fold("Ổ GÀ, đường 3/2!"), "o ga duong 3 2");
        assert_eq!(fold("Đường ngập"), fold("Đu\u{031B}o\u{031B}\u{0300}ng nga\u{0302}\u{0323}p"));
        assert_eq!(fold("ĐƯỜNG  Nguyễn   Huệ"), "duong nguyen hue");
        assert_eq!(fold("Ðường"), "duong", "eth typed for Đ");
        assert_eq!(fold("...  --  "), "");
    }

    // Proves R8.2c: chat spellings are read as the words they stand for.
    #[test]
    fn chat_spellings_are_expanded_r8_2c() {
        assert_eq!(fold("đèn ko sáng, nc ngập đg"), "den khong sang nuoc ngap duong");
    }

    // Proves R8.2c: function words are dropped as syllables but "ổ gà" keeps its pair.
    #[test]
    fn function_words_leave_unigrams_but_not_bigrams_r8_2c() {
        let f = Fingerprint::of("Có ổ gà ở đường làng và của");
        assert_eq!(f.unigrams(), ["duong", "ga", "lang"]);
        // "có ổ" and "và của" are two function words once folded: no pair.
        assert_eq!(f.bigrams(), ["duong lang", "ga o", "lang va", "o duong", "o ga"]);
        assert!(Fingerprint::of("và của là có").is_empty());
        assert_eq!(Fingerprint::of("và của").similarity(&Fingerprint::of("và của")), 0.0);
    }

    // Proves R8.2c: every stop word folds to a distinct ASCII syllable.
    #[test]
    fn stop_words_fold_r8_2c() {
        for word in STOP_WORDS {
            let folded = fold(word);
            assert!(folded.is_ascii() && !folded.contains(' '), "{word} → {folded}");
            assert!(is_stop_word(&folded));
        }
        assert!(is_stop_word("duoc") && is_stop_word("o") && !is_stop_word("khong"));
    }

    // Proves R8.2c: a stored fingerprint round-trips and is repaired if stored unsorted.
    #[test]
    fn fingerprint_round_trips_through_storage_r8_2c() {
        let f = Fingerprint::of("Cống thoát nước bị nghẹt, nước tràn lên đường");
        let stored = toml::to_string(&f).unwrap();
        assert_eq!(toml::from_str::<Fingerprint>(&stored).unwrap(), f);
        let unsorted = "version = 1\nunigrams = [\"b\", \"a\", \"b\"]\nbigrams = []\n";
        let repaired: Fingerprint = toml::from_str(unsorted).unwrap();
        assert_eq!(repaired.unigrams(), ["a", "b"]);
        assert!(repaired.is_current());
    }
}
