//! Authentication of gRPC calls: bearer JWTs, their configuration, and the tonic glue.
//!
//! Every gRPC call carries `authorization: Bearer <jwt>`; the token says who calls
//! (`sub`), in which role (`role`), for which unit (`unit`) and from which IOC instance
//! (`instance`). Tokens are HS256 with shared secrets held in memory, so checking one is
//! a few microseconds of synchronous work — which is why a plain tonic interceptor can
//! do it.
//!
//! - [`token`]: [`TokenIssuer`] mints tokens (services calling services, `paht token`),
//!   [`Authenticator`] verifies them.
//! - [`grpc`]: [`interceptor`] checks every call of a service and puts an
//!   [`AuthContext`] in the request; handlers read it with [`caller`] and authorise with
//!   [`AuthContext::require_role`] / [`AuthContext::require_unit`]. [`AuthGuard`] is for
//!   the rare service that has anonymous methods.
//! - [`Caller`]: the caller of a service's Rust API — the verified context plus the bearer
//!   token it came with, which a remote client of that API forwards.
//!
//! # Key rotation
//! Each key has an id (`kid`) that tokens carry in their header. Tokens are signed with
//! `active_kid`; any configured key verifies. To rotate: add the new key everywhere,
//! then make it active, then — once the longest-lived token signed with the old key
//! has expired — remove the old key, which refuses whatever it signed.
//!
//! Secrets and tokens are never logged, printed by `Debug`, or echoed in errors.

mod caller;
pub mod grpc;
pub mod token;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use paht_domain::actor::Role;
use paht_domain::ids::UnitId;

pub use self::caller::Caller;
pub use self::grpc::{AuthContext, AuthGuard, caller, interceptor};
pub use self::token::{Authenticator, TokenIssuer};

/// The shortest secret accepted, in bytes: HS256 is only as strong as its key, and
/// RFC 7518 §3.2 asks for a key at least as long as the hash output (256 bits).
pub const MIN_SECRET_LEN: usize = 32;

/// Authentication settings (`[auth]` in the config file, `PAHT_AUTH__…` in the environment).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    /// Every key that verifies tokens; one of them signs. Empty by default: a process
    /// must be given keys (or use [`AuthConfig::ephemeral`] in embedded mode and tests).
    pub keys: Vec<KeyConfig>,
    /// The `kid` of the key that signs new tokens.
    pub active_kid: String,
    /// The `iss` claim written into tokens and required of every token (default `paht`).
    pub issuer: String,
    /// Lifetime of a minted token when the caller does not choose one, in seconds
    /// (default 3600).
    pub token_ttl_secs: u64,
    /// Clock skew tolerated between the minting and the verifying machine, in seconds
    /// (default 30).
    pub leeway_secs: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            keys: Vec::new(),
            active_kid: String::new(),
            issuer: "paht".into(),
            token_ttl_secs: 3_600,
            leeway_secs: 30,
        }
    }
}

impl AuthConfig {
    /// A configuration with one random key that lives only in this process: for
    /// embedded mode, where every service is in one process, and for tests. Tokens
    /// minted with it die with the process.
    pub fn ephemeral() -> Self {
        // Two v4 UUIDs give 244 bits from the operating system's random source, in
        // 64 hex characters — above the 256-bit-key advice in practice, with no extra crate.
        let secret = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        AuthConfig {
            keys: vec![KeyConfig { kid: "ephemeral".into(), secret }],
            active_kid: "ephemeral".into(),
            ..AuthConfig::default()
        }
    }

    /// The default lifetime of a minted token.
    pub fn token_ttl(&self) -> Duration {
        Duration::from_secs(self.token_ttl_secs)
    }

    /// Checks the configuration as a whole, so a bad one stops the process at start-up
    /// with a message that says what to fix.
    pub fn validate(&self) -> Result<(), AuthError> {
        if self.keys.is_empty() {
            return Err(AuthError::Config(
                "no signing key is configured: add a key (kid and a secret of at least 32 bytes) \
                 under [auth.keys] and name it in auth.active_kid"
                    .into(),
            ));
        }
        for (i, key) in self.keys.iter().enumerate() {
            if key.kid.trim().is_empty() {
                return Err(AuthError::Config(format!("auth key #{} has an empty kid", i + 1)));
            }
            if self.keys[..i].iter().any(|earlier| earlier.kid == key.kid) {
                return Err(AuthError::Config(format!("auth key id `{}` is configured twice", key.kid)));
            }
            if key.secret.len() < MIN_SECRET_LEN {
                return Err(AuthError::SecretTooShort { kid: key.kid.clone(), len: key.secret.len() });
            }
        }
        if !self.keys.iter().any(|key| key.kid == self.active_kid) {
            return Err(AuthError::Config(format!("auth.active_kid `{}` names no configured key", self.active_kid)));
        }
        if self.issuer.trim().is_empty() {
            return Err(AuthError::Config("auth.issuer must not be empty".into()));
        }
        if self.token_ttl_secs == 0 {
            return Err(AuthError::Config("auth.token_ttl_secs must be at least 1".into()));
        }
        Ok(())
    }
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("keys", &self.keys)
            .field("active_kid", &self.active_kid)
            .field("issuer", &self.issuer)
            .field("token_ttl_secs", &self.token_ttl_secs)
            .field("leeway_secs", &self.leeway_secs)
            .finish()
    }
}

/// One HS256 key: its id and its shared secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyConfig {
    /// The key id written into the token header (`kid`), e.g. `2025-06`.
    pub kid: String,
    /// The shared secret, at least [`MIN_SECRET_LEN`] bytes (e.g. `openssl rand -base64 48`;
    /// the text itself is the secret).
    pub secret: String,
}

// The secret must never reach a log through `{:?}` of a config.
impl std::fmt::Debug for KeyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyConfig").field("kid", &self.kid).field("secret", &"<redacted>").finish()
    }
}

/// What a token asserts. `unit` is the unit code as a string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The subject: account id (for a reporter, the reporter reference).
    pub sub: String,
    /// The role the subject acts in.
    pub role: Role,
    /// The unit the subject acts for.
    pub unit: UnitId,
    /// The IOC instance the token was minted for.
    pub instance: String,
    /// Who minted the token (must equal the configured issuer).
    pub iss: String,
    /// When it was minted (seconds since the Unix epoch).
    pub iat: i64,
    /// When it expires (seconds since the Unix epoch).
    pub exp: i64,
    /// A unique token id, for audit trails and any future revocation list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

/// Why a token or the auth configuration was refused. Messages never contain the
/// token or a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The call carries no `authorization` metadata.
    #[error("missing credentials: send the metadata `authorization: Bearer <token>`")]
    MissingToken,
    /// The `authorization` metadata is not `Bearer <token>`.
    #[error("malformed authorization: expected `Bearer <token>` in printable ASCII")]
    MalformedHeader,
    /// The token is not a well-formed JWT.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// The token is signed with an algorithm other than HS256 (or with none).
    #[error("token algorithm not accepted: tokens must be signed with HS256")]
    Algorithm,
    /// The token header names no key id.
    #[error("token has no key id (kid) in its header; get a new token")]
    MissingKeyId,
    /// The token's key id is not configured here.
    #[error("token was signed with a key that is not configured here (rotated out?); get a new token")]
    UnknownKey,
    /// The signature does not match: forged, tampered with, or signed with another secret.
    #[error("token signature is not valid")]
    InvalidSignature,
    /// The token's `exp` has passed.
    #[error("token has expired; get a new token")]
    Expired,
    /// The token's `iss` is not the configured issuer.
    #[error("token issuer is not accepted")]
    InvalidIssuer,
    /// The token was minted for another IOC instance (signed with a key both share, or a mistake).
    #[error("token was minted for instance `{token}`, and this is instance `{here}`: get a token from `{here}`")]
    WrongInstance {
        /// The instance the token names (a unit code, bounded by the token's length).
        token: String,
        /// The instance that refused it.
        here: String,
    },
    /// A claim is missing or not of the expected form.
    #[error("token claims are not valid: {0}")]
    InvalidClaims(String),
    /// A configured secret is shorter than [`MIN_SECRET_LEN`].
    #[error(
        "the secret of auth key `{kid}` is {len} bytes; at least 32 are required \
         (generate one with `openssl rand -base64 48`)"
    )]
    SecretTooShort {
        /// The key whose secret is too short.
        kid: String,
        /// Its length in bytes.
        len: usize,
    },
    /// The auth configuration is inconsistent.
    #[error("auth configuration: {0}")]
    Config(String),
    /// Minting failed (bad arguments or a signing failure).
    #[error("cannot mint a token: {0}")]
    Mint(String),
}

impl From<AuthError> for tonic::Status {
    fn from(error: AuthError) -> Self {
        match error {
            // The server's own fault: say so without describing its configuration.
            AuthError::SecretTooShort { .. } | AuthError::Config(_) | AuthError::Mint(_) => {
                tonic::Status::internal("authentication is misconfigured on the server")
            }
            refused => tonic::Status::unauthenticated(refused.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kid: &str, secret: &str) -> KeyConfig {
        KeyConfig { kid: kid.into(), secret: secret.into() }
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn validate_explains_what_to_fix() {
        assert!(matches!(AuthConfig::default().validate(), Err(AuthError::Config(m)) if m.contains("no signing key")));
        let short = AuthConfig { keys: vec![key("k1", "too-short")], active_kid: "k1".into(), ..Default::default() };
        let error = short.validate().unwrap_err();
        assert_eq!(error, AuthError::SecretTooShort { kid: "k1".into(), len: 9 });
        assert!(error.to_string().contains("at least 32"));
        assert!(!error.to_string().contains("too-short"), "the secret leaked into the message");

        let twice = AuthConfig {
            keys: vec![key("k1", SECRET), key("k1", SECRET)],
            active_kid: "k1".into(),
            ..Default::default()
        };
        assert!(matches!(twice.validate(), Err(AuthError::Config(m)) if m.contains("twice")));
        let no_active = AuthConfig { keys: vec![key("k1", SECRET)], active_kid: "k2".into(), ..Default::default() };
        assert!(matches!(no_active.validate(), Err(AuthError::Config(m)) if m.contains("names no configured key")));
        let ok = AuthConfig { keys: vec![key("k1", SECRET)], active_kid: "k1".into(), ..Default::default() };
        assert_eq!(ok.validate(), Ok(()));
        assert_eq!(AuthConfig::ephemeral().validate(), Ok(()));
    }

    #[test]
    fn debug_never_shows_secrets() {
        let config = AuthConfig { keys: vec![key("k1", SECRET)], active_kid: "k1".into(), ..Default::default() };
        let printed = format!("{config:?}");
        assert!(printed.contains("k1") && !printed.contains(SECRET), "{printed}");
    }

    #[test]
    fn config_parses_with_defaults() {
        let config: AuthConfig =
            serde_json::from_str(&format!(r#"{{"keys":[{{"kid":"k1","secret":"{SECRET}"}}],"active_kid":"k1"}}"#))
                .unwrap();
        assert_eq!(config.issuer, "paht");
        assert_eq!(config.token_ttl(), Duration::from_secs(3_600));
        assert_eq!(config.leeway_secs, 30);
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn status_mapping_hides_server_configuration() {
        let status = tonic::Status::from(AuthError::Expired);
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
        assert!(status.message().contains("expired"));
        let status = tonic::Status::from(AuthError::Config("auth.active_kid `k9` names no configured key".into()));
        assert_eq!(status.code(), tonic::Code::Internal);
        assert!(!status.message().contains("k9"));
    }

    #[test]
    fn unit_is_a_string_in_claims() {
        let claims = Claims {
            sub: "officer-7".into(),
            role: Role::IocOperator,
            unit: UnitId::new("79"),
            instance: "province".into(),
            iss: "paht".into(),
            iat: 1,
            exp: 2,
            jti: None,
        };
        let json = serde_json::to_value(&claims).unwrap();
        assert_eq!(json["unit"], "79");
        assert_eq!(json["role"], "ioc_operator");
        assert!(json.get("jti").is_none());
    }
}
