//! The rating secret (R11.1): what proves that a rating or a reopen comes from the reporter.
//!
//! The tracking code is public (the portal shows it beside every published answer), so it proves
//! nothing. Each answer given gets a secret of its own, delivered to the reporter with the answer
//! (through the channel the report came from, or with a private answer): an HMAC-SHA256 of the
//! report id and the answer's round (how many times the report was reopened before) under the
//! instance's rating key, 120 bits written as 24 base32 characters in groups of four. Nothing is
//! stored: the publication service and the notifier derive the same secret from the key, a
//! reopened report's next answer has another one, and a database dump reveals none of them.

use std::fmt;

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, KeyInit, Mac};
use paht_domain::ids::ReportId;
use sha2::Sha256;

/// Bytes of the MAC kept: 120 bits, 24 base32 characters.
const SECRET_BYTES: usize = 15;
/// The shortest key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 32;
/// Separates this use of the key from any other.
const DOMAIN: &[u8] = b"paht/rating-secret/v1\0";

/// The instance's rating key; [`RatingKey::secret`] derives each answer's secret from it.
#[derive(Clone)]
pub struct RatingKey(Vec<u8>);

impl fmt::Debug for RatingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RatingKey(…)")
    }
}

/// Why a rating key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the rating key must be at least {MIN_KEY_BYTES} bytes, it has {0}")]
pub struct ShortKey(pub usize);

impl RatingKey {
    /// The key from its configured text (any string of at least [`MIN_KEY_BYTES`] bytes; a
    /// generated one is 64 hexadecimal digits).
    pub fn new(key: &str) -> Result<RatingKey, ShortKey> {
        let bytes = key.trim().as_bytes().to_vec();
        if bytes.len() < MIN_KEY_BYTES {
            return Err(ShortKey(bytes.len()));
        }
        Ok(RatingKey(bytes))
    }

    /// A fresh random key as text: 64 hexadecimal digits (256 bits).
    pub fn generate() -> String {
        format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
    }

    fn mac(&self, report: ReportId, round: u32) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0).expect("HMAC takes a key of any size");
        mac.update(DOMAIN);
        mac.update(report.0.as_bytes());
        mac.update(&round.to_be_bytes());
        mac
    }

    /// The secret of the answer of round `round` (the report's reopen count when it was given)
    /// of `report`: `ABCD-EFGH-…`, 24 characters in six groups.
    pub fn secret(&self, report: ReportId, round: u32) -> String {
        let code = self.mac(report, round).finalize().into_bytes();
        let text = BASE32_NOPAD.encode(&code[..SECRET_BYTES]);
        let groups: Vec<&str> = (0..text.len()).step_by(4).map(|i| &text[i..(i + 4).min(text.len())]).collect();
        groups.join("-")
    }

    /// Whether `given` is the secret of that answer. Case, spaces and dashes do not matter (a
    /// reporter types it from a message); the comparison takes the same time wherever it differs.
    pub fn verify(&self, report: ReportId, round: u32, given: &str) -> bool {
        let cleaned: String =
            given.chars().filter(|c| !matches!(c, '-' | ' ' | '\t')).map(|c| c.to_ascii_uppercase()).collect();
        let Ok(bytes) = BASE32_NOPAD.decode(cleaned.as_bytes()) else { return false };
        if bytes.len() != SECRET_BYTES {
            return false;
        }
        self.mac(report, round).verify_truncated_left(&bytes).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> RatingKey {
        RatingKey::new("0123456789abcdef0123456789abcdef").unwrap()
    }

    fn report(n: u128) -> ReportId {
        ReportId::from_uuid(uuid::Uuid::from_u128(n))
    }

    // R11.1: the secret is the reporter's proof; it differs per report, per answer round and per
    // key, and reads back however the reporter types it.
    #[test]
    fn each_answer_has_its_own_secret_r11_1() {
        let k = key();
        let s = k.secret(report(1), 0);
        assert_eq!(s.len(), 24 + 5, "{s}");
        assert!(s.split('-').all(|g| g.len() == 4 && g.chars().all(|c| c.is_ascii_alphanumeric())), "{s}");
        assert!(k.verify(report(1), 0, &s));
        assert!(k.verify(report(1), 0, &s.to_lowercase().replace('-', " ")));
        assert!(k.verify(report(1), 0, &s.replace('-', "")));
        assert_ne!(s, k.secret(report(2), 0));
        assert_ne!(s, k.secret(report(1), 1));
        assert!(!k.verify(report(2), 0, &s));
        assert!(!k.verify(report(1), 1, &s));
        let other = RatingKey::new("another key of at least thirty-two bytes").unwrap();
        assert!(!other.verify(report(1), 0, &s));
        // Deterministic: the notifier derives the very secret the service checks.
        assert_eq!(s, key().secret(report(1), 0));
    }

    #[test]
    fn garbage_and_near_misses_are_refused() {
        let k = key();
        let s = k.secret(report(1), 0).replace('-', "");
        for bad in ["", "x", "!!!!", &s[..23], &format!("{s}A"), &format!("{}{}", &s[..23], "Z")] {
            assert!(!k.verify(report(1), 0, bad), "{bad}");
        }
        let flipped: String = s.chars().rev().collect();
        assert!(!k.verify(report(1), 0, &flipped));
    }

    #[test]
    fn short_keys_are_refused_and_generated_ones_are_long() {
        assert_eq!(RatingKey::new("short").unwrap_err(), ShortKey(5));
        let generated = RatingKey::generate();
        assert_eq!(generated.len(), 64);
        assert!(RatingKey::new(&generated).is_ok());
        assert_eq!(format!("{:?}", key()), "RatingKey(…)");
    }
}
