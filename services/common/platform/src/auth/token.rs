//! Minting and verifying tokens.

use std::collections::HashMap;
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};

use paht_domain::actor::Role;
use paht_domain::ids::UnitId;

use super::{AuthConfig, AuthError, Claims};

/// The only algorithm signed or accepted. Pinning it (rather than trusting the token's
/// header) is what defeats `alg: none` and algorithm-confusion forgeries.
const ALGORITHM: Algorithm = Algorithm::HS256;

/// The longest token accepted, in bytes. Ours are a few hundred; the bound keeps a
/// hostile caller from making us decode megabytes.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Mints tokens signed with the active key.
#[derive(Clone)]
pub struct TokenIssuer {
    kid: String,
    key: EncodingKey,
    issuer: String,
    default_ttl: Duration,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuer").field("kid", &self.kid).field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

impl TokenIssuer {
    /// Builds the issuer from a configuration, refusing an invalid one.
    pub fn new(config: &AuthConfig) -> Result<Self, AuthError> {
        config.validate()?;
        let active = config.keys.iter().find(|key| key.kid == config.active_kid).expect("validated: active key exists");
        Ok(TokenIssuer {
            kid: active.kid.clone(),
            key: EncodingKey::from_secret(active.secret.as_bytes()),
            issuer: config.issuer.clone(),
            default_ttl: config.token_ttl(),
        })
    }

    /// Mints a token for `subject` acting as `role` for `unit` on `instance`, valid for
    /// `ttl` (the configured `token_ttl_secs` when `None`).
    pub fn mint(
        &self,
        subject: &str,
        role: Role,
        unit: &UnitId,
        instance: &str,
        ttl: Option<Duration>,
    ) -> Result<String, AuthError> {
        let ttl = ttl.unwrap_or(self.default_ttl);
        if ttl < Duration::from_secs(1) {
            return Err(AuthError::Mint("the token lifetime must be at least one second".into()));
        }
        for (what, value) in [("subject", subject), ("unit", unit.as_str()), ("instance", instance)] {
            if value.trim().is_empty() {
                return Err(AuthError::Mint(format!("the {what} must not be empty")));
            }
        }
        let ttl = i64::try_from(ttl.as_secs()).map_err(|_| AuthError::Mint("the token lifetime is too long".into()))?;
        let iat = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: subject.to_owned(),
            role,
            unit: unit.clone(),
            instance: instance.to_owned(),
            iss: self.issuer.clone(),
            iat,
            exp: iat.checked_add(ttl).ok_or_else(|| AuthError::Mint("the token lifetime is too long".into()))?,
            jti: Some(uuid::Uuid::new_v4().to_string()),
        };
        self.sign(&claims)
    }

    /// Signs `claims` as they are, unchecked: the building block of [`TokenIssuer::mint`],
    /// open to the crate's tests so they can make expired or odd tokens.
    pub(crate) fn sign(&self, claims: &Claims) -> Result<String, AuthError> {
        let mut header = Header::new(ALGORITHM);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key).map_err(|error| AuthError::Mint(error.to_string()))
    }
}

/// Verifies tokens against every configured key.
pub struct Authenticator {
    keys: HashMap<String, DecodingKey>,
    validation: Validation,
    instance: String,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut kids: Vec<&String> = self.keys.keys().collect();
        kids.sort();
        f.debug_struct("Authenticator").field("kids", &kids).field("instance", &self.instance).finish_non_exhaustive()
    }
}

impl Authenticator {
    /// Builds the authenticator of the IOC instance `instance` from a configuration, refusing an
    /// invalid one. It accepts only tokens minted for `instance`: the keys of two instances may be
    /// the same by mistake, and a token of one instance must still not act on another.
    pub fn new(config: &AuthConfig, instance: &str) -> Result<Self, AuthError> {
        config.validate()?;
        if instance.trim().is_empty() {
            return Err(AuthError::Config("the instance of the authenticator must not be empty".into()));
        }
        let keys =
            config.keys.iter().map(|key| (key.kid.clone(), DecodingKey::from_secret(key.secret.as_bytes()))).collect();
        let mut validation = Validation::new(ALGORITHM);
        validation.set_issuer(&[config.issuer.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = config.leeway_secs;
        // We never issue `aud`; a token that carries one was not minted by us for us.
        validation.validate_aud = true;
        validation.validate_nbf = true;
        Ok(Authenticator { keys, validation, instance: instance.to_owned() })
    }

    /// Checks the token's shape, algorithm, key, signature, expiry, issuer and instance, and
    /// returns its claims.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(AuthError::Malformed("the token is too long"));
        }
        let header = jsonwebtoken::decode_header(token).map_err(|error| match error.kind() {
            // An algorithm name we do not know at all ("none", "XS999") fails to parse.
            ErrorKind::Json(_) if header_names_unknown_alg(token) => AuthError::Algorithm,
            _ => AuthError::Malformed("the token is not a signed JWT (header.payload.signature)"),
        })?;
        if header.alg != ALGORITHM {
            return Err(AuthError::Algorithm);
        }
        let kid = header.kid.ok_or(AuthError::MissingKeyId)?;
        let key = self.keys.get(&kid).ok_or(AuthError::UnknownKey)?;
        let data = jsonwebtoken::decode::<Claims>(token, key, &self.validation).map_err(map_error)?;
        let claims = data.claims;
        for (what, value) in
            [("sub", claims.sub.as_str()), ("unit", claims.unit.as_str()), ("instance", &claims.instance)]
        {
            if value.trim().is_empty() {
                return Err(AuthError::InvalidClaims(format!("`{what}` is empty")));
            }
        }
        if claims.instance != self.instance {
            // The claim is the caller's text: bounded before it is echoed.
            let token: String = claims.instance.chars().take(64).collect();
            return Err(AuthError::WrongInstance { token, here: self.instance.clone() });
        }
        Ok(claims)
    }
}

/// Whether the header part is JSON whose `alg` is a string we have no variant for
/// (as `none` is). Only called on a header that already failed to parse, to tell
/// "unknown algorithm" from "garbage" in the error.
fn header_names_unknown_alg(token: &str) -> bool {
    // The library decodes a payload without parsing the header: put our header in the
    // payload's place of a probe token and read it as plain JSON. Nothing is trusted here.
    let Some(header_part) = token.split('.').next() else { return false };
    let probe = format!("e30.{header_part}.");
    jsonwebtoken::dangerous::insecure_decode_claims::<serde_json::Value>(probe)
        .is_ok_and(|header| header.get("alg").is_some_and(serde_json::Value::is_string))
}

/// Maps the library's refusal to ours, with messages that say what to do.
fn map_error(error: jsonwebtoken::errors::Error) -> AuthError {
    match error.kind() {
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::InvalidSignature => AuthError::InvalidSignature,
        ErrorKind::InvalidIssuer => AuthError::InvalidIssuer,
        ErrorKind::InvalidAlgorithm | ErrorKind::UnsupportedAlgorithm | ErrorKind::MissingAlgorithm => {
            AuthError::Algorithm
        }
        ErrorKind::ImmatureSignature => AuthError::InvalidClaims("the token is not valid yet (nbf)".into()),
        ErrorKind::InvalidAudience => AuthError::InvalidClaims("the token is meant for another audience".into()),
        // The claim name comes from the library's fixed list, never from the token.
        ErrorKind::MissingRequiredClaim(claim) => AuthError::InvalidClaims(format!("`{claim}` is missing")),
        ErrorKind::InvalidClaimFormat(claim) => AuthError::InvalidClaims(format!("`{claim}` has the wrong type")),
        // serde's message could quote claim values: keep it out.
        ErrorKind::Json(_) => {
            AuthError::InvalidClaims("need sub, role, unit, instance, iss, iat and exp of the right types".into())
        }
        _ => AuthError::Malformed("the token could not be decoded"),
    }
}

#[cfg(test)]
#[path = "token_tests.rs"]
mod tests;
