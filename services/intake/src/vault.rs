//! Reporter identity encryption: AES-256-GCM with named keys, so the active key can be rotated while
//! rows sealed under older keys stay readable until a re-encryption job reseals them.
//!
//! A sealed identity is bound to its record (the report id is authenticated as associated data), so
//! a ciphertext copied onto another report does not open. Nothing here logs, and neither keys nor
//! identities print through `{:?}`.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use aes_gcm::aead::{Aead, Generate, Payload};
use aes_gcm::{Aes256Gcm, Key, KeyInit, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Version tag of the compact form; a new layout gets a new tag and old rows keep theirs.
const FORMAT_VERSION: &str = "v1";
/// Prefix of every associated data, so a key that ever served another purpose cannot be confused.
const AAD_DOMAIN: &[u8] = b"paht.vault.v1.identity\0";
const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const MAX_KEY_ID_LEN: usize = 32;

/// One named AES-256 key, as it appears in the configuration.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultKey {
    /// Name stored beside each ciphertext: 1–32 characters of `A-Z a-z 0-9 _ -`.
    pub id: String,
    /// The 32 key bytes, standard base64.
    pub key_base64: String,
}

// Hand-written so that key material never reaches a log.
impl fmt::Debug for VaultKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultKey").field("id", &self.id).field("key_base64", &"<redacted>").finish()
    }
}

impl VaultKey {
    /// A new random key from the system RNG, for setup tooling, documentation and tests.
    pub fn generate(id: impl Into<String>) -> Self {
        let key = Key::<Aes256Gcm>::generate();
        Self { id: id.into(), key_base64: STANDARD.encode(key) }
    }
}

/// The vault's keys and which one seals new identities.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultConfig {
    /// Every key that may still be needed to open stored identities.
    pub keys: Vec<VaultKey>,
    /// Id of the key that seals new identities; rotate by adding a key and pointing this at it.
    pub active: String,
}

/// A reporter's identity: the personal data that is only stored sealed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Full name.
    pub name: String,
    /// Phone number in E.164 form, e.g. `+84912345678`.
    pub phone: String,
    /// Postal address.
    pub address: String,
    /// E-mail address, when given.
    pub email: Option<String>,
    /// The channel's address to answer through (Zalo user id, Facebook page-scoped id …, R3.1),
    /// when the channel gave one. Identities sealed before it existed open without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_address: Option<String>,
}

// Hand-written so that an identity in a `{:?}` (a log line, a panic, an error) shows no personal data.
impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const R: &str = "<redacted>";
        f.debug_struct("Identity")
            .field("name", &R)
            .field("phone", &R)
            .field("address", &R)
            .field("email", &self.email.as_ref().map(|_| R))
            .field("channel_address", &self.channel_address.as_ref().map(|_| R))
            .finish()
    }
}

/// An encrypted identity and the name of the key that opens it.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    /// Id of the key it was sealed with.
    pub key_id: String,
    /// The random 96-bit nonce used once with that key.
    pub nonce: [u8; NONCE_LEN],
    /// Ciphertext followed by the 16-byte GCM tag.
    pub ciphertext: Vec<u8>,
}

// The ciphertext is not secret, but its bytes are noise in a log; its length is enough.
impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealed")
            .field("key_id", &self.key_id)
            .field("ciphertext_len", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

impl Sealed {
    /// The single-string storage form, `v1.<key_id>.<nonce>.<ciphertext>` (base64url, no padding).
    pub fn to_compact(&self) -> String {
        format!(
            "{FORMAT_VERSION}.{}.{}.{}",
            self.key_id,
            URL_SAFE_NO_PAD.encode(self.nonce),
            URL_SAFE_NO_PAD.encode(&self.ciphertext)
        )
    }
}

impl fmt::Display for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_compact())
    }
}

impl FromStr for Sealed {
    type Err = VaultError;

    /// Parses the compact form written by [`Sealed::to_compact`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let malformed = |reason| VaultError::Malformed { reason };
        let mut parts = s.split('.');
        let (Some(version), Some(key_id), Some(nonce), Some(ciphertext), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed("it does not have the four dot-separated parts"));
        };
        if version != FORMAT_VERSION {
            return Err(malformed("its version is not v1"));
        }
        check_key_id(key_id)?;
        let nonce = URL_SAFE_NO_PAD.decode(nonce).map_err(|_| malformed("its nonce is not base64url"))?;
        let nonce = <[u8; NONCE_LEN]>::try_from(nonce).map_err(|_| malformed("its nonce is not 12 bytes"))?;
        let ciphertext =
            URL_SAFE_NO_PAD.decode(ciphertext).map_err(|_| malformed("its ciphertext is not base64url"))?;
        Ok(Self { key_id: key_id.to_owned(), nonce, ciphertext })
    }
}

/// Why the vault could not be built, or an identity sealed or opened. No variant carries personal
/// data or key bytes.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The configuration lists no key.
    #[error("vault.keys is empty; add a 32-byte key (base64) and name it in vault.active")]
    NoKeys,
    /// A key id cannot be stored in the compact form.
    #[error("vault key id {id:?} is invalid: use 1 to 32 characters of A-Z, a-z, 0-9, '_' or '-'")]
    InvalidKeyId {
        /// The refused id.
        id: String,
    },
    /// A key's material is not 32 bytes of base64.
    #[error("vault key {id:?} is not usable: {reason}")]
    InvalidKey {
        /// Id of the refused key.
        id: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Two keys share an id, so a ciphertext would not say which one opens it.
    #[error("vault key id {id:?} appears more than once; give every key its own id")]
    DuplicateKeyId {
        /// The repeated id.
        id: String,
    },
    /// The active key is not in the list.
    #[error("vault.active names key {id:?}, which is not in vault.keys; add it or name an existing key")]
    UnknownActiveKey {
        /// The missing id.
        id: String,
    },
    /// A sealed identity names a key that is not configured.
    #[error("identity was sealed with key {id:?}, which is not configured; restore that key to vault.keys")]
    UnknownKey {
        /// The missing id.
        id: String,
    },
    /// A stored string is not a sealed identity.
    #[error("stored identity is malformed: {reason}")]
    Malformed {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Authentication failed: the ciphertext or nonce was altered, or it belongs to another record.
    #[error("identity could not be opened: it was altered or belongs to another record")]
    Decrypt,
    /// No record id was given, so the ciphertext would not be bound to its record.
    #[error("the record id to bind the identity to is empty; pass the report id")]
    MissingRecordId,
    /// The identity could not be turned into or read back from JSON.
    #[error("identity could not be {0} as JSON")]
    Encoding(&'static str),
    /// The system's random number generator failed.
    #[error("system random number generator failed: {0}")]
    Random(String),
}

fn check_key_id(id: &str) -> Result<(), VaultError> {
    let valid = !id.is_empty()
        && id.len() <= MAX_KEY_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid { Ok(()) } else { Err(VaultError::InvalidKeyId { id: id.to_owned() }) }
}

/// Seals and opens reporter identities with the configured keys.
pub struct Vault {
    ciphers: HashMap<String, Aes256Gcm>,
    active: String,
}

// Only key ids: the ciphers hold key schedules.
impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<&str> = self.ciphers.keys().map(String::as_str).collect();
        ids.sort_unstable();
        f.debug_struct("Vault").field("key_ids", &ids).field("active", &self.active).finish()
    }
}

impl Vault {
    /// Checks the configuration and loads its keys.
    pub fn new(config: &VaultConfig) -> Result<Self, VaultError> {
        if config.keys.is_empty() {
            return Err(VaultError::NoKeys);
        }
        let mut ciphers = HashMap::with_capacity(config.keys.len());
        for key in &config.keys {
            check_key_id(&key.id)?;
            let invalid = |reason| VaultError::InvalidKey { id: key.id.clone(), reason };
            let bytes = STANDARD.decode(key.key_base64.trim()).map_err(|_| invalid("it is not standard base64"))?;
            if bytes.len() != KEY_LEN {
                return Err(invalid("it is not 32 bytes long; generate a 32-byte random key"));
            }
            let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|_| invalid("it is not 32 bytes long"))?;
            if ciphers.insert(key.id.clone(), cipher).is_some() {
                return Err(VaultError::DuplicateKeyId { id: key.id.clone() });
            }
        }
        if !ciphers.contains_key(&config.active) {
            return Err(VaultError::UnknownActiveKey { id: config.active.clone() });
        }
        Ok(Self { ciphers, active: config.active.clone() })
    }

    /// Id of the key that seals new identities.
    pub fn active_key_id(&self) -> &str {
        &self.active
    }

    /// Encrypts an identity under the active key, bound to `aad` (the report id).
    pub fn seal(&self, identity: &Identity, aad: &[u8]) -> Result<Sealed, VaultError> {
        let plaintext = serde_json::to_vec(identity).map_err(|_| VaultError::Encoding("written"))?;
        // A fresh random nonce per seal: with 96 bits, a key can seal ~2^32 identities before a
        // repeat becomes a concern, far beyond a province's volume between rotations.
        let nonce = <[u8; NONCE_LEN]>::try_generate().map_err(|e| VaultError::Random(e.to_string()))?;
        let cipher = &self.ciphers[&self.active];
        let aad = full_aad(&self.active, aad)?;
        let ciphertext = cipher
            .encrypt(&Nonce::from(nonce), Payload { msg: &plaintext, aad: &aad })
            .map_err(|_| VaultError::Encoding("encrypted"))?;
        Ok(Sealed { key_id: self.active.clone(), nonce, ciphertext })
    }

    /// Decrypts an identity with the key it names; `aad` must be the one given to [`Vault::seal`].
    pub fn open(&self, sealed: &Sealed, aad: &[u8]) -> Result<Identity, VaultError> {
        let cipher =
            self.ciphers.get(&sealed.key_id).ok_or_else(|| VaultError::UnknownKey { id: sealed.key_id.clone() })?;
        let aad = full_aad(&sealed.key_id, aad)?;
        let plaintext = cipher
            .decrypt(&Nonce::from(sealed.nonce), Payload { msg: &sealed.ciphertext, aad: &aad })
            .map_err(|_| VaultError::Decrypt)?;
        // serde_json's message could quote the plaintext, so it is dropped.
        serde_json::from_slice(&plaintext).map_err(|_| VaultError::Encoding("read"))
    }

    /// Parses the compact form and opens it.
    pub fn open_compact(&self, compact: &str, aad: &[u8]) -> Result<Identity, VaultError> {
        self.open(&compact.parse()?, aad)
    }

    /// Whether a sealed identity uses another key than the active one.
    pub fn needs_rotation(&self, sealed: &Sealed) -> bool {
        sealed.key_id != self.active
    }

    /// Opens a sealed identity and seals it again under the active key, for the re-encryption job.
    pub fn reseal(&self, sealed: &Sealed, aad: &[u8]) -> Result<Sealed, VaultError> {
        self.seal(&self.open(sealed, aad)?, aad)
    }
}

/// The associated data actually authenticated: purpose, key id and the caller's record id.
fn full_aad(key_id: &str, aad: &[u8]) -> Result<Vec<u8>, VaultError> {
    // An empty record id would silently drop the binding to the report.
    if aad.is_empty() {
        return Err(VaultError::MissingRecordId);
    }
    Ok([AAD_DOMAIN, key_id.as_bytes(), b"\0", aad].concat())
}

/// A keyed hash of a phone number (HMAC-SHA256, hex) so reports per phone can be counted (R21.2)
/// without decrypting identities.
///
/// `phone` must be the normalised E.164 form, or one person counts as several. The pepper is a
/// secret of at least 32 random bytes, kept apart from the vault keys and never rotated: changing
/// it changes every hash. Without it, the ~10^9 phone numbers could be hashed by brute force.
pub fn phone_lookup_hash(phone: &str, pepper: &[u8]) -> String {
    hex::encode(hmac_sha256(pepper, phone.as_bytes()))
}

/// A keyed hash (HMAC-SHA256 with the phone pepper, hex) of an identifier that must not appear in
/// clear outside the vault, such as a rate-limit key naming a sender or an address (R19, R21.2).
/// `domain` separates the uses, so such a hash never equals a stored [`phone_lookup_hash`].
pub fn keyed_hash(domain: &str, value: &str, pepper: &[u8]) -> String {
    hex::encode(hmac_sha256(pepper, [domain.as_bytes(), b"\0", value.as_bytes()].concat().as_slice()))
}

/// HMAC-SHA256 (RFC 2104) over `sha2`, checked against RFC 4231 in the tests; the `hmac` crate
/// would give the same bytes.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let inner = Sha256::new().chain_update(block.map(|b| b ^ 0x36)).chain_update(message).finalize();
    Sha256::new().chain_update(block.map(|b| b ^ 0x5c)).chain_update(inner).finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Identity {
        Identity {
            name: "Nguyễn Thị Hoa".to_owned(),
            phone: "+84912345678".to_owned(),
            address: "12 Lê Lợi, phường Bến Thành".to_owned(),
            email: Some("hoa.nguyen@example.vn".to_owned()),
            channel_address: Some("zalo:4420119872351".to_owned()),
        }
    }

    fn vault(keys: &[&VaultKey], active: &str) -> Vault {
        Vault::new(&VaultConfig { keys: keys.iter().map(|k| (*k).clone()).collect(), active: active.to_owned() })
            .unwrap()
    }

    const REPORT: &[u8] = b"0196f3a0-7c1e-7d2a-9b1e-3f4a5b6c7d8e";

    #[test]
    fn round_trips_through_the_struct_and_the_compact_form() {
        let key = VaultKey::generate("k2025");
        let vault = vault(&[&key], "k2025");
        let sealed = vault.seal(&identity(), REPORT).unwrap();
        assert_eq!(vault.open(&sealed, REPORT).unwrap(), identity());
        let compact = sealed.to_compact();
        assert!(compact.starts_with("v1.k2025.") && compact.split('.').count() == 4, "{compact}");
        assert_eq!(compact.parse::<Sealed>().unwrap(), sealed);
        assert_eq!(vault.open_compact(&compact, REPORT).unwrap(), identity());
        let no_email = Identity { email: None, channel_address: None, ..identity() };
        assert_eq!(vault.open(&vault.seal(&no_email, REPORT).unwrap(), REPORT).unwrap(), no_email);
        // Fresh nonce every time: sealing twice never gives the same bytes.
        assert_ne!(vault.seal(&identity(), REPORT).unwrap(), sealed);
    }

    #[test]
    fn refuses_tampering_and_another_record() {
        let key = VaultKey::generate("k1");
        let vault = vault(&[&key], "k1");
        let sealed = vault.seal(&identity(), REPORT).unwrap();
        let mut ciphertext = sealed.clone();
        ciphertext.ciphertext[3] ^= 1;
        let mut tag = sealed.clone();
        *tag.ciphertext.last_mut().unwrap() ^= 0x80;
        let mut nonce = sealed.clone();
        nonce.nonce[0] ^= 1;
        for (bad, aad) in [(&ciphertext, REPORT), (&tag, REPORT), (&nonce, REPORT), (&sealed, b"another-report")] {
            assert!(matches!(vault.open(bad, aad), Err(VaultError::Decrypt)));
        }
    }

    #[test]
    fn refuses_an_unknown_or_swapped_key_id() {
        let (a, b) = (VaultKey::generate("a"), VaultKey::generate("b"));
        let vault_a = vault(&[&a], "a");
        let sealed = vault_a.seal(&identity(), REPORT).unwrap();
        let missing = vault(&[&b], "b").open(&sealed, REPORT);
        assert!(matches!(missing, Err(VaultError::UnknownKey { id }) if id == "a"));
        // Relabelling the ciphertext to another configured key does not open it either.
        let both = vault(&[&a, &b], "a");
        let relabelled = Sealed { key_id: "b".to_owned(), ..sealed };
        assert!(matches!(both.open(&relabelled, REPORT), Err(VaultError::Decrypt)));
    }

    #[test]
    fn old_rows_open_after_rotation_and_reseal_moves_them_to_the_new_key() {
        let (old, new) = (VaultKey::generate("2024"), VaultKey::generate("2025"));
        let before = vault(&[&old], "2024");
        let sealed = before.seal(&identity(), REPORT).unwrap();
        assert!(!before.needs_rotation(&sealed));
        let after = vault(&[&old, &new], "2025");
        assert_eq!(after.active_key_id(), "2025");
        assert_eq!(after.open(&sealed, REPORT).unwrap(), identity());
        assert!(after.needs_rotation(&sealed));
        let resealed = after.reseal(&sealed, REPORT).unwrap();
        assert_eq!(resealed.key_id, "2025");
        assert!(!after.needs_rotation(&resealed));
        // Once every row is resealed the old key can go.
        assert_eq!(vault(&[&new], "2025").open(&resealed, REPORT).unwrap(), identity());
        assert!(matches!(after.reseal(&sealed, b"other"), Err(VaultError::Decrypt)));
        assert!(matches!(after.seal(&identity(), b""), Err(VaultError::MissingRecordId)));
        assert!(matches!(after.open(&sealed, b""), Err(VaultError::MissingRecordId)));
    }

    #[test]
    fn refuses_bad_configurations_with_the_reason() {
        let good = VaultKey::generate("ok");
        let short = VaultKey { id: "short".into(), key_base64: STANDARD.encode([7u8; 16]) };
        let not_b64 = VaultKey { id: "junk".into(), key_base64: "not base64!".into() };
        let dotted = VaultKey { id: "a.b".into(), ..good.clone() };
        let new = |keys: Vec<VaultKey>, active: &str| Vault::new(&VaultConfig { keys, active: active.into() });
        assert!(matches!(new(vec![], "ok"), Err(VaultError::NoKeys)));
        assert!(matches!(new(vec![short], "short"), Err(VaultError::InvalidKey { id, .. }) if id == "short"));
        assert!(matches!(new(vec![not_b64], "junk"), Err(VaultError::InvalidKey { id, .. }) if id == "junk"));
        assert!(matches!(new(vec![dotted], "a.b"), Err(VaultError::InvalidKeyId { .. })));
        let dup = new(vec![good.clone(), VaultKey::generate("ok")], "ok");
        assert!(matches!(dup, Err(VaultError::DuplicateKeyId { id }) if id == "ok"));
        let err = new(vec![good], "missing").unwrap_err();
        assert!(matches!(&err, VaultError::UnknownActiveKey { id } if id == "missing"));
        assert!(err.to_string().contains("vault.active"), "{err}");
    }

    #[test]
    fn refuses_malformed_compact_forms() {
        let vault = vault(&[&VaultKey::generate("k")], "k");
        let good = vault.seal(&identity(), REPORT).unwrap().to_compact();
        let nonce = good.split('.').nth(2).unwrap().to_owned();
        for bad in [
            "",
            "v1.k.AAAA",
            &good.replacen("v1", "v2", 1),
            &good.replacen(&nonce, "AAAA", 1),
            &good.replacen(&nonce, "@@@@", 1),
            &format!("{good}.extra"),
        ] {
            assert!(matches!(vault.open_compact(bad, REPORT), Err(VaultError::Malformed { .. })), "{bad}");
        }
    }

    #[test]
    fn debug_output_never_shows_personal_data_or_keys() {
        let key = VaultKey::generate("k");
        let config = VaultConfig { keys: vec![key.clone()], active: "k".into() };
        let vault = Vault::new(&config).unwrap();
        let sealed = vault.seal(&identity(), REPORT).unwrap();
        let printed = format!("{:?} {:?} {:?} {:?} {:?}", identity(), key, config, vault, sealed);
        for secret in ["Nguyễn", "Hoa", "912345678", "Lê Lợi", "example.vn", key.key_base64.as_str()] {
            assert!(!printed.contains(secret), "{secret} leaked in {printed}");
        }
        assert!(printed.contains("<redacted>"));
        // Errors carry no plaintext either.
        assert!(!vault.open(&sealed, b"x").unwrap_err().to_string().contains("Hoa"));
    }

    #[test]
    fn phone_lookup_hash_is_keyed_hmac_sha256() {
        // RFC 4231 test cases 1 and 6 (a key longer than the block).
        assert_eq!(
            hex::encode(hmac_sha256(&[0x0b; 20], b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            hex::encode(hmac_sha256(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
        let pepper = [42u8; 32];
        let hash = phone_lookup_hash("+84912345678", &pepper);
        assert_eq!(hash, phone_lookup_hash("+84912345678", &pepper));
        assert_eq!(hash.len(), 64);
        assert_ne!(hash, phone_lookup_hash("+84912345679", &pepper));
        assert_ne!(hash, phone_lookup_hash("+84912345678", &[43u8; 32]));
        assert_ne!(hash, hex::encode(Sha256::digest("+84912345678")));
    }
}
