//! Tracking codes: what a citizen reads out on the phone or types into the portal to
//! follow a report, so they must be short, unambiguous and checked.
//!
//! Format: 8 Crockford base-32 symbols (no I, L, O, U) in two groups and a check
//! symbol (mod 37), e.g. `7K3Q-9XM2-H`. Parsing forgives case, missing dashes and the
//! look-alikes O→0 and I/L→1; a mistyped symbol fails the check.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// The check symbols: the alphabet plus five for values 32–36.
const CHECK_ALPHABET: &[u8; 37] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ*~$=U";
const SYMBOLS: usize = 8;

/// A report's public tracking code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrackingCode(u64);

/// Why a text is not a tracking code.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TrackingCodeError {
    /// Not 8 symbols and a check symbol.
    #[error("a tracking code has 8 symbols and a check symbol, like 7K3Q-9XM2-H")]
    Length,
    /// A character outside the alphabet.
    #[error("{0:?} cannot appear in a tracking code")]
    Symbol(char),
    /// The check symbol does not match: a symbol was mistyped.
    #[error("the tracking code does not check out; a symbol is mistyped")]
    Check,
}

fn value_of(c: char) -> Option<u8> {
    let c = match c.to_ascii_uppercase() {
        'O' => '0',
        'I' | 'L' => '1',
        other => other,
    };
    ALPHABET.iter().position(|&a| a as char == c).map(|p| p as u8)
}

impl TrackingCode {
    /// The code for 40 bits of randomness (the caller supplies them; the domain has no RNG).
    pub fn from_random(random: u64) -> Self {
        TrackingCode(random & ((1 << (5 * SYMBOLS)) - 1))
    }

    /// The number the code encodes.
    pub fn value(self) -> u64 {
        self.0
    }

    fn check_symbol(self) -> char {
        CHECK_ALPHABET[(self.0 % 37) as usize] as char
    }
}

impl fmt::Display for TrackingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut symbols = [0u8; SYMBOLS];
        for (i, s) in symbols.iter_mut().enumerate() {
            let shift = 5 * (SYMBOLS - 1 - i);
            *s = ALPHABET[((self.0 >> shift) & 31) as usize];
        }
        let text = std::str::from_utf8(&symbols).expect("ASCII alphabet");
        write!(f, "{}-{}-{}", &text[..4], &text[4..], self.check_symbol())
    }
}

impl FromStr for TrackingCode {
    type Err = TrackingCodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let chars: Vec<char> = s.trim().chars().filter(|c| *c != '-' && *c != ' ').collect();
        if chars.len() != SYMBOLS + 1 {
            return Err(TrackingCodeError::Length);
        }
        let mut value = 0u64;
        for &c in &chars[..SYMBOLS] {
            value = (value << 5) | u64::from(value_of(c).ok_or(TrackingCodeError::Symbol(c))?);
        }
        let code = TrackingCode(value);
        let given = chars[SYMBOLS].to_ascii_uppercase();
        if given == code.check_symbol() { Ok(code) } else { Err(TrackingCodeError::Check) }
    }
}

impl Serialize for TrackingCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TrackingCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn codes_are_grouped_and_checked() {
        let code = TrackingCode::from_random(0x12_3456_789A);
        let text = code.to_string();
        assert_eq!(text.len(), 11);
        assert_eq!(&text[4..5], "-");
        assert_eq!(text.parse::<TrackingCode>(), Ok(code));
    }

    #[test]
    fn parsing_forgives_case_dashes_and_look_alikes() {
        let code = TrackingCode::from_random(0);
        assert_eq!(code.to_string(), "0000-0000-0");
        assert_eq!("oooo oooo 0".parse::<TrackingCode>(), Ok(code));
        let one = TrackingCode::from_random(0b00001_00001_00001_00001_00001_00001_00001_00001);
        let text = one.to_string().replace('1', "l").to_lowercase();
        assert_eq!(text.parse::<TrackingCode>(), Ok(one));
    }

    #[test]
    fn mistakes_are_caught() {
        assert_eq!("7K3Q-9XM2".parse::<TrackingCode>(), Err(TrackingCodeError::Length));
        assert_eq!("7K3Q-9XU2-0".parse::<TrackingCode>(), Err(TrackingCodeError::Symbol('U')));
    }

    proptest! {
        #[test]
        fn round_trip(random in any::<u64>()) {
            let code = TrackingCode::from_random(random);
            prop_assert_eq!(code.to_string().parse::<TrackingCode>(), Ok(code));
        }

        /// Any one mistyped symbol is detected (mod 37 catches single substitutions).
        #[test]
        fn single_substitution_is_detected(random in any::<u64>(), pos in 0usize..8, replacement in 0usize..32) {
            let code = TrackingCode::from_random(random);
            let mut chars: Vec<char> = code.to_string().replace('-', "").chars().collect();
            let new = ALPHABET[replacement] as char;
            prop_assume!(chars[pos] != new);
            chars[pos] = new;
            let typed: String = chars.into_iter().collect();
            prop_assert!(typed.parse::<TrackingCode>().is_err());
        }
    }
}
