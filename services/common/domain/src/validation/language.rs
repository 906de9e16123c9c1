//! Is a report written in Vietnamese? (R6.1a)
//!
//! Three signals, because none is enough alone:
//!
//! 1. **Script.** Letters outside the Latin script (Hán, Thai, Khmer, Hangul, Cyrillic …)
//!    cannot be Vietnamese; more than [`FOREIGN_SCRIPT_MAX`] of them refuses the text.
//! 2. **Syllables.** Vietnamese is written one syllable per word, and a syllable is an
//!    onset from a closed list (b, c, ch, d, đ, g, gh, gi, … tr, v, x) followed by a rhyme
//!    from a closed list (a, ac, ach, ai, … uyêt, uynh). The check runs on letters with
//!    their marks removed, so "duong bi ngap nuoc" scores like "đường bị ngập nước".
//!    English, French, Spanish, Indonesian and Malay words are mostly polysyllabic or
//!    use clusters Vietnamese lacks (str, br, -ck, -s), so only a minority of their words
//!    pass. Numbers, acronyms (UBND, TP, EVN), one-letter words, capitalised names in the
//!    middle of a sentence (Grab, Nguyễn Huệ) and a few common loanwords (karaoke,
//!    camera) are left out of the count: they say nothing about the language of the text.
//! 3. **Marks and whatlang.** Marks only Vietnamese uses (ă ơ ư đ, hỏi and nặng tones,
//!    stacked tones) and the `whatlang` detector confirm a borderline text; a reliable
//!    whatlang verdict for another language vetoes a borderline one. Whatlang is never the
//!    sole reason to refuse: it guesses Tagalog or Indonesian for Vietnamese written
//!    without marks, with low confidence.
//!
//! See [`assess_language`] for the thresholds.

use serde::Serialize;

use super::vietnamese::{compose, fold_word, letter};

/// Above this share of non-Latin letters the text is foreign, whatever else it contains.
pub const FOREIGN_SCRIPT_MAX: f64 = 0.3;
/// At or above this share of valid syllables the text is Vietnamese without further evidence.
pub const SYLLABLES_SURE: f64 = 0.9;
/// At or above this share the text is Vietnamese unless whatlang reliably says otherwise and
/// no distinctive Vietnamese mark is present.
pub const SYLLABLES_LIKELY: f64 = 0.75;
/// At or above this share the text is Vietnamese only with positive evidence: distinctive
/// marks on at least [`MARKED_EVIDENCE`] of the words, or whatlang saying Vietnamese.
pub const SYLLABLES_WITH_EVIDENCE: f64 = 0.6;
/// Share of words with distinctive Vietnamese marks that counts as evidence.
pub const MARKED_EVIDENCE: f64 = 0.2;
/// Texts with fewer counted words than this are short: whatlang is not consulted for them
/// (it is unreliable on a handful of words) and two thirds of valid syllables suffice.
pub const SHORT_TEXT_WORDS: usize = 6;
/// Share of valid syllables a short text needs.
pub const SYLLABLES_SHORT: f64 = 0.66;
/// Whatlang must be at least this confident for its "Vietnamese" to count as evidence.
pub const WHATLANG_VIE_EVIDENCE: f64 = 0.5;
/// Only the first characters are analysed: enough to decide, and bounded work on hostile input.
const ANALYSED_CHARS: usize = 4000;

/// The outcome of the language check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LanguageDecision {
    /// Written in Vietnamese, with or without diacritics.
    Vietnamese,
    /// Written in another language or script.
    Foreign,
    /// No words to judge (only numbers, symbols, acronyms).
    Undetermined,
}

/// What whatlang said about the text.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DetectedLanguage {
    /// ISO 639-3 code, e.g. `vie`, `eng`, `ind`.
    pub code: &'static str,
    /// Whatlang's confidence, 0..=1.
    pub confidence: f64,
    /// Whatlang's own reliability flag (confidence above 0.9).
    pub reliable: bool,
}

/// The decision and the evidence it rests on, so tests and operators can see why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LanguageVerdict {
    /// Vietnamese, foreign or undetermined.
    pub decision: LanguageDecision,
    /// Words that were judged (after leaving out numbers, acronyms, names, loanwords).
    pub counted_words: usize,
    /// Of those, how many are valid Vietnamese syllables (diacritics ignored).
    pub valid_syllables: usize,
    /// Of those, how many carry a mark only Vietnamese uses.
    pub marked_words: usize,
    /// Share of letters that are not Latin.
    pub foreign_script_share: f64,
    /// Whatlang's guess, if it made one (not consulted for short texts).
    pub detected: Option<DetectedLanguage>,
}

impl LanguageVerdict {
    /// True if the text may be accepted as Vietnamese.
    pub fn is_vietnamese(&self) -> bool {
        self.decision == LanguageDecision::Vietnamese
    }

    /// Share of counted words that are valid Vietnamese syllables; 0 when nothing was counted.
    pub fn syllable_share(&self) -> f64 {
        ratio(self.valid_syllables, self.counted_words)
    }

    /// Share of counted words with a distinctive Vietnamese mark.
    pub fn marked_share(&self) -> f64 {
        ratio(self.marked_words, self.counted_words)
    }

    fn whatlang_says_vietnamese(&self) -> bool {
        self.detected.is_some_and(|d| d.code == "vie" && d.confidence >= WHATLANG_VIE_EVIDENCE)
    }

    fn whatlang_reliably_foreign(&self) -> bool {
        self.detected.is_some_and(|d| d.code != "vie" && d.reliable)
    }
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

/// Decides whether `text` is Vietnamese and returns the evidence.
///
/// Rules, in order (shares are over counted words):
/// - non-Latin letters above [`FOREIGN_SCRIPT_MAX`] → foreign;
/// - no counted word → undetermined;
/// - short text (< [`SHORT_TEXT_WORDS`] words): Vietnamese iff syllables ≥ [`SYLLABLES_SHORT`];
/// - syllables ≥ [`SYLLABLES_SURE`] → Vietnamese;
/// - syllables ≥ [`SYLLABLES_LIKELY`] → Vietnamese unless whatlang is reliable about another
///   language and no word carries a distinctive mark;
/// - syllables ≥ [`SYLLABLES_WITH_EVIDENCE`] → Vietnamese if marks ≥ [`MARKED_EVIDENCE`] or
///   whatlang says Vietnamese, and whatlang is not reliable about another language;
/// - otherwise foreign.
pub fn assess_language(text: &str) -> LanguageVerdict {
    let text: String = text.chars().take(ANALYSED_CHARS).collect();
    let text = compose(&text);
    let counts = count_words(&text);
    let mut verdict = LanguageVerdict {
        decision: LanguageDecision::Foreign,
        counted_words: counts.counted,
        valid_syllables: counts.valid,
        marked_words: counts.marked,
        foreign_script_share: ratio(counts.other_script_letters, counts.letters),
        detected: None,
    };
    if verdict.foreign_script_share > FOREIGN_SCRIPT_MAX {
        return verdict;
    }
    if counts.counted == 0 {
        verdict.decision = LanguageDecision::Undetermined;
        return verdict;
    }
    let syllables = verdict.syllable_share();
    if counts.counted < SHORT_TEXT_WORDS {
        if syllables >= SYLLABLES_SHORT {
            verdict.decision = LanguageDecision::Vietnamese;
        }
        return verdict;
    }
    verdict.detected = whatlang::detect(&text).map(|info| DetectedLanguage {
        code: info.lang().code(),
        confidence: info.confidence(),
        reliable: info.is_reliable(),
    });
    let vetoed = verdict.whatlang_reliably_foreign();
    let vietnamese = syllables >= SYLLABLES_SURE
        || (syllables >= SYLLABLES_LIKELY && !(vetoed && counts.marked == 0))
        || (syllables >= SYLLABLES_WITH_EVIDENCE
            && !vetoed
            && (verdict.marked_share() >= MARKED_EVIDENCE || verdict.whatlang_says_vietnamese()));
    if vietnamese {
        verdict.decision = LanguageDecision::Vietnamese;
    }
    verdict
}

#[derive(Debug, Default)]
struct WordCounts {
    letters: usize,
    other_script_letters: usize,
    counted: usize,
    valid: usize,
    marked: usize,
}

/// A word of the text and whether a sentence ended before it.
struct Word<'a> {
    text: &'a str,
    starts_sentence: bool,
}

fn words(text: &str) -> Vec<Word<'_>> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut sentence_start = true;
    let mut pending_start = true;
    for (i, c) in text.char_indices() {
        let in_word = c.is_alphanumeric() || is_combining_mark(c);
        match (in_word, start) {
            (true, None) => {
                start = Some(i);
                pending_start = sentence_start;
                sentence_start = false;
            }
            (false, Some(s)) => {
                out.push(Word { text: &text[s..i], starts_sentence: pending_start });
                start = None;
            }
            _ => {}
        }
        if matches!(c, '.' | '!' | '?' | '\n' | ':' | ';' | '-' | '"' | '(' | '…') {
            sentence_start = true;
        }
    }
    if let Some(s) = start {
        out.push(Word { text: &text[s..], starts_sentence: pending_start });
    }
    out
}

fn is_combining_mark(c: char) -> bool {
    ('\u{0300}'..='\u{036F}').contains(&c)
}

/// Latin letters: Basic Latin, Latin-1, Latin Extended A/B, IPA, Latin Extended Additional
/// (where the precomposed Vietnamese letters live) and Latin Extended C/D.
fn is_latin(c: char) -> bool {
    c.is_ascii_alphabetic()
        || ('\u{00C0}'..='\u{02AF}').contains(&c)
        || ('\u{1E00}'..='\u{1EFF}').contains(&c)
        || ('\u{2C60}'..='\u{2C7F}').contains(&c)
        || ('\u{A720}'..='\u{A7FF}').contains(&c)
}

fn count_words(text: &str) -> WordCounts {
    let mut counts = WordCounts::default();
    for c in text.chars().filter(|c| c.is_alphabetic()) {
        counts.letters += 1;
        if !is_latin(c) {
            counts.other_script_letters += 1;
        }
    }
    let words = words(text);
    let has_lowercase = text.chars().any(char::is_lowercase);
    // Names are recognised by their capital only when most words are not capitalised:
    // some people Title-Case Every Word, and then capitals say nothing.
    let capitalised =
        words.iter().filter(|w| !w.starts_sentence && w.text.chars().next().is_some_and(char::is_uppercase)).count();
    let names_by_capital = capitalised * 2 < words.len();
    for word in &words {
        let lower = word.text.to_lowercase();
        let skip = word.text.chars().count() < 2
            || word.text.chars().any(|c| c.is_numeric())
            || !word.text.chars().all(is_latin_or_mark)
            || (has_lowercase && word.text.chars().all(|c| !c.is_lowercase()))
            || (names_by_capital && !word.starts_sentence && word.text.chars().next().is_some_and(char::is_uppercase))
            || LOANWORDS.contains(&lower.as_str());
        if skip {
            continue;
        }
        counts.counted += 1;
        if lower.chars().filter_map(letter).any(|l| l.is_distinctively_vietnamese()) {
            counts.marked += 1;
        }
        let valid = match fold_word(&lower) {
            Some(folded) => is_syllable(&folded) || ABBREVIATIONS.contains(&folded.as_str()),
            None => false,
        };
        if valid {
            counts.valid += 1;
        }
    }
    counts
}

fn is_latin_or_mark(c: char) -> bool {
    is_latin(c) || is_combining_mark(c)
}

/// Onsets, longest first so that `ngh` is tried before `ng` and `n`; `đ` is folded to `d`.
const ONSETS: &[&str] = &[
    "ngh", "ch", "gh", "gi", "kh", "ng", "nh", "ph", "qu", "th", "tr", "b", "c", "d", "g", "h", "k", "l", "m", "n",
    "r", "s", "t", "v", "x", "",
];

/// Every rhyme (vần) of Vietnamese with its marks removed, e.g. `ương` → `uong`.
const RHYMES: &[&str] = &[
    // a ă â
    "a", "ac", "ach", "ai", "am", "an", "ang", "anh", "ao", "ap", "at", "au", "ay", // e ê
    "e", "ec", "ech", "em", "en", "eng", "enh", "eo", "ep", "et", "eu", // i, iê/ia/yê
    "i", "ia", "ich", "iec", "iem", "ien", "ieng", "iep", "iet", "ieu", "im", "in", "inh", "ip", "it", "iu",
    // o ô ơ, oo
    "o", "oc", "oi", "om", "on", "ong", "ooc", "oong", "op", "ot", // u ư, uô/ua, ươ/ưa
    "u", "ua", "uc", "ui", "um", "un", "ung", "uo", "uoc", "uoi", "uom", "uon", "uong", "uop", "uot", "uou", "up",
    "ut", "uu", // y, yê
    "y", "yem", "yen", "yet", "yeu", // medial o: oa oă oe
    "oa", "oac", "oach", "oai", "oam", "oan", "oang", "oanh", "oao", "oap", "oat", "oay", "oe", "oem", "oen", "oeo",
    "oet", // medial u: uâ uê uy uyê
    "uan", "uang", "uat", "uay", "ue", "uech", "uenh", "uy", "uya", "uych", "uyen", "uyet", "uynh", "uyt", "uyu",
];

/// Abbreviations of informal and administrative Vietnamese (folded); they count as Vietnamese.
const ABBREVIATIONS: &[&str] = &[
    "ko", "kg", "khg", "hok", "hk", "dc", "dk", "ng", "ngta", "vs", "bt", "ntn", "mn", "mng", "cx", "ck", "vk", "nhg",
    "nt", "tp", "tx", "kp", "ql", "dt", "sdt", "ubnd", "hdnd", "ct", "bv", "thcs",
];

/// Loanwords common in reports; they say nothing about the language and are not counted.
const LOANWORDS: &[&str] = &[
    "karaoke",
    "camera",
    "container",
    "wifi",
    "internet",
    "taxi",
    "bus",
    "grab",
    "clip",
    "video",
    "ok",
    "okay",
    "app",
    "zalo",
    "facebook",
    "online",
    "email",
    "hotline",
    "livestream",
    "pin",
    "shop",
    "spa",
    "bar",
    "massage",
    "gas",
    "toilet",
    "test",
    "check",
];

/// True if the (folded, lowercase ASCII) word is a possible Vietnamese syllable.
pub(crate) fn is_syllable(folded: &str) -> bool {
    if folded.is_empty() || folded.len() > 7 {
        return false;
    }
    ONSETS.iter().any(|onset| {
        folded.strip_prefix(onset).is_some_and(|rhyme| RHYMES.contains(&rhyme) && spelling_allows(onset, rhyme))
    })
}

/// Vietnamese spelling rules that tie an onset to the vowel after it:
/// k/gh/ngh only before e, ê, i, y; c/g/ng never before them; qu never before u.
fn spelling_allows(onset: &str, rhyme: &str) -> bool {
    let front = rhyme.starts_with(['e', 'i', 'y']);
    match onset {
        "k" | "gh" | "ngh" => front,
        "c" | "ng" => !front,
        "g" => !rhyme.starts_with('e'),
        "qu" => !rhyme.starts_with('u'),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Proves R6.1a.
    #[test]
    fn syllables_follow_onset_and_rhyme_r6_1a() {
        for ok in [
            "nghieng", "duong", "nguoi", "khuyu", "quyet", "gi", "gia", "giay", "ruou", "xoong", "hoang", "thuo", "ke",
            "ky", "ghe", "nghe", "ca", "co", "uy", "yen", "oanh",
        ] {
            assert!(is_syllable(ok), "{ok} should be a syllable");
        }
        for bad in [
            "street", "road", "jalan", "rusak", "ka", "ci", "nge", "ngi", "ge", "quu", "", "banjir", "is", "calle",
            "bruit", "xyz", "ngheeee",
        ] {
            assert!(!is_syllable(bad), "{bad} should not be a syllable");
        }
    }

    // Proves R6.1a.
    #[test]
    fn foreign_script_is_refused_without_counting_words_r6_1a() {
        let v = assess_language("前面的路有一个大坑，请尽快修理");
        assert_eq!(v.decision, LanguageDecision::Foreign);
        assert!(v.foreign_script_share > 0.9);
    }

    // Proves R6.1a.
    #[test]
    fn only_numbers_and_acronyms_is_undetermined_r6_1a() {
        let v = assess_language("QL1A KM 123, UBND 45/7 - 0912");
        assert_eq!(v.decision, LanguageDecision::Undetermined);
        assert_eq!(v.counted_words, 0);
    }

    // Proves R6.1a.
    #[test]
    fn names_in_mid_sentence_are_not_counted_r6_1a() {
        let v = assess_language("xe Grab đậu trên vỉa hè đường Nguyễn Huệ");
        assert!(v.is_vietnamese(), "{v:?}");
        assert_eq!(v.counted_words, 6);
        assert_eq!(v.valid_syllables, 6);
    }

    // Proves R6.1a.
    #[test]
    fn vietnamese_names_do_not_make_english_vietnamese_r6_1a() {
        let v = assess_language("Pothole on Lê Văn Sỹ street near Trần Quốc Thảo, please fix it");
        assert_eq!(v.decision, LanguageDecision::Foreign, "{v:?}");
    }
}
