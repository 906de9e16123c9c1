//! The Vietnamese alphabet: folding letters to their base, recognising marks that only
//! Vietnamese uses, and composing text typed with combining marks ("Unicode tổ hợp").
//!
//! Only the 134 letters of Vietnamese are handled; other Latin letters with marks
//! (ñ, ü, ç …) are reported as not Vietnamese, which is what the language check wants.

/// The vowel quality mark a letter carries besides its tone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Modifier {
    None,
    /// ă
    Breve,
    /// â ê ô
    Circumflex,
    /// ơ ư
    Horn,
}

/// The six tones; `Level` (ngang) carries no mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tone {
    Level,
    /// huyền
    Grave,
    /// sắc
    Acute,
    /// hỏi
    Hook,
    /// ngã
    Tilde,
    /// nặng
    Dot,
}

const TONES: [Tone; 6] = [Tone::Level, Tone::Grave, Tone::Acute, Tone::Hook, Tone::Tilde, Tone::Dot];

/// Each row: base letter, modifier, then the letter in tone order ngang, huyền, sắc, hỏi, ngã, nặng.
const VOWELS: [(char, Modifier, &str); 12] = [
    ('a', Modifier::None, "aàáảãạ"),
    ('a', Modifier::Breve, "ăằắẳẵặ"),
    ('a', Modifier::Circumflex, "âầấẩẫậ"),
    ('e', Modifier::None, "eèéẻẽẹ"),
    ('e', Modifier::Circumflex, "êềếểễệ"),
    ('i', Modifier::None, "iìíỉĩị"),
    ('o', Modifier::None, "oòóỏõọ"),
    ('o', Modifier::Circumflex, "ôồốổỗộ"),
    ('o', Modifier::Horn, "ơờớởỡợ"),
    ('u', Modifier::None, "uùúủũụ"),
    ('u', Modifier::Horn, "ưừứửữự"),
    ('y', Modifier::None, "yỳýỷỹỵ"),
];

/// A lowercase Vietnamese letter taken apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Letter {
    /// The ASCII letter it is written on (`đ` gives `d`).
    pub base: char,
    pub modifier: Modifier,
    pub tone: Tone,
    /// True for `đ` only.
    pub stroke: bool,
}

impl Letter {
    /// True if the letter carries a mark no other major Latin-script language uses in this
    /// combination: ă ơ ư đ, the hook or dot tones, a tone stacked on â ê ô, or a tilde on
    /// e i u y. `é`, `à`, `ô`, `ã` … alone are shared with French, Portuguese or Spanish.
    pub fn is_distinctively_vietnamese(self) -> bool {
        self.stroke
            || matches!(self.modifier, Modifier::Breve | Modifier::Horn)
            || matches!(self.tone, Tone::Hook | Tone::Dot)
            || (self.modifier != Modifier::None && self.tone != Tone::Level)
            || (self.tone == Tone::Tilde && matches!(self.base, 'e' | 'i' | 'u' | 'y'))
    }
}

/// Takes a lowercase letter apart; `None` for anything that is neither an ASCII letter nor
/// a Vietnamese one (ñ, ü, ç …). f, j, w, z pass here and fail the syllable check later.
pub(crate) fn letter(c: char) -> Option<Letter> {
    if c == 'đ' {
        return Some(Letter { base: 'd', modifier: Modifier::None, tone: Tone::Level, stroke: true });
    }
    if c.is_ascii_lowercase() {
        return Some(Letter { base: c, modifier: Modifier::None, tone: Tone::Level, stroke: false });
    }
    for (base, modifier, row) in VOWELS {
        if let Some(index) = row.chars().position(|r| r == c) {
            return Some(Letter { base, modifier, tone: TONES[index], stroke: false });
        }
    }
    None
}

/// Builds the lowercase letter from its parts, if Vietnamese has it.
fn compose_letter(base: char, modifier: Modifier, tone: Tone) -> Option<char> {
    let column = TONES.iter().position(|t| *t == tone)?;
    VOWELS
        .iter()
        .find(|(b, m, _)| *b == base && *m == modifier)
        .and_then(|(_, _, row)| row.chars().nth(column))
        .or_else(|| (modifier == Modifier::None && tone == Tone::Level).then_some(base))
}

/// Maps a combining mark to what it adds to a letter.
fn combining(c: char) -> Option<Result<Modifier, Tone>> {
    Some(match c {
        '\u{0300}' | '\u{0340}' => Err(Tone::Grave),
        '\u{0301}' | '\u{0341}' => Err(Tone::Acute),
        '\u{0309}' => Err(Tone::Hook),
        '\u{0303}' => Err(Tone::Tilde),
        '\u{0323}' => Err(Tone::Dot),
        '\u{0302}' => Ok(Modifier::Circumflex),
        '\u{0306}' => Ok(Modifier::Breve),
        '\u{031B}' => Ok(Modifier::Horn),
        _ => return None,
    })
}

/// Replaces Vietnamese letters written with combining marks by the precomposed letters,
/// so that lengths are counted in letters and the language check sees real letters.
///
/// Sequences that do not make a Vietnamese letter are left exactly as they were.
pub(crate) fn compose(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let upper = c.is_uppercase();
        let lower = c.to_lowercase().next().unwrap_or(c);
        let marks = chars[i + 1..].iter().take_while(|m| combining(**m).is_some()).count();
        match letter(lower) {
            Some(parts) if marks > 0 && !parts.stroke => {
                let mut modifier = parts.modifier;
                let mut tone = parts.tone;
                for mark in &chars[i + 1..i + 1 + marks] {
                    match combining(*mark) {
                        Some(Ok(m)) => modifier = m,
                        Some(Err(t)) => tone = t,
                        None => {}
                    }
                }
                match compose_letter(parts.base, modifier, tone) {
                    Some(composed) if upper => out.extend(composed.to_uppercase()),
                    Some(composed) => out.push(composed),
                    None => out.extend(&chars[i..=i + marks]),
                }
                i += marks + 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// The word with every Vietnamese letter reduced to its ASCII base, or `None` if some
/// character is not a Vietnamese letter. Expects lowercase input.
pub(crate) fn fold_word(word: &str) -> Option<String> {
    word.chars().map(|c| letter(c).map(|l| l.base)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Proves R6.1a.
    #[test]
    fn every_toned_vowel_folds_to_its_base_r6_1a() {
        assert_eq!(fold_word("nghiêng").as_deref(), Some("nghieng"));
        assert_eq!(fold_word("đường").as_deref(), Some("duong"));
        assert_eq!(fold_word("khuỷu").as_deref(), Some("khuyu"));
        assert_eq!(fold_word("über"), None);
        assert_eq!(fold_word("año"), None);
    }

    // Proves R6.1a.
    #[test]
    fn decomposed_text_is_composed_r6_1a() {
        // "Đường ngập" typed with combining marks (NFD), as some keyboards and macOS send it.
        let nfd = "Đu\u{031B}o\u{031B}\u{0300}ng nga\u{0302}\u{0323}p";
        assert_eq!(compose(nfd), "Đường ngập");
        assert_eq!(compose("HOA\u{0300}"), "HOÀ");
        // A mark that makes no Vietnamese letter is kept as it was.
        assert_eq!(compose("e\u{0306}x"), "e\u{0306}x");
    }

    // Proves R6.1a.
    #[test]
    fn distinctive_marks_are_told_from_shared_ones_r6_1a() {
        let distinct = |c| letter(c).unwrap().is_distinctively_vietnamese();
        for c in ['ă', 'ơ', 'ư', 'đ', 'ả', 'ạ', 'ế', 'ồ', 'ĩ', 'ũ', 'ỹ'] {
            assert!(distinct(c), "{c}");
        }
        for c in ['é', 'à', 'ê', 'ô', 'ã', 'õ', 'í', 'a'] {
            assert!(!distinct(c), "{c}");
        }
    }
}
