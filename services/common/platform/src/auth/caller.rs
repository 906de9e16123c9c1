//! The caller of a service's Rust API: the verified identity, and the bearer token it was
//! verified from, so that a client of the same API across processes can forward it.
//!
//! # Why the token travels with the identity
//! A service API is called with a [`Caller`] either in-process (the call goes straight to the
//! service) or through a gRPC client (the call crosses to another process, which verifies the
//! credentials again). The remote side must be told who calls, and it only trusts a token it can
//! verify. Two designs were possible: the client holds a [`TokenIssuer`](super::TokenIssuer) and
//! mints a fresh short token for the caller's claims, or the caller's own token is forwarded.
//! Forwarding is chosen: the remote service sees exactly the token the edge verified (same
//! subject, expiry and `jti` for the audit trail), no client process needs the signing key, and
//! no client can assert claims nobody proved. A [`Caller`] built from claims alone
//! ([`Caller::new`], e.g. a job acting in-process) works locally; a remote client refuses it as
//! unauthenticated rather than inventing credentials.
//!
//! The token (and the peer address) is never printed by `Debug` nor logged.
//!
//! A caller may also carry the network address the call came from ([`Caller::peer`]): intake
//! keys its rate limits by it when no relay vouches for the origin. It is the address of the
//! process that called the API, so it is not forwarded to another process (that process sees
//! its direct caller's address).

use std::net::SocketAddr;
use std::ops::Deref;

use tonic::{Request, Status};

use super::grpc::{bearer_from_metadata, caller};
use super::{AuthContext, AuthError, Authenticator};
use crate::error::ApiError;

/// Who calls a service API: the verified [`AuthContext`] (derefs to it) and, when known, the
/// bearer token it was verified from.
#[derive(Clone, PartialEq, Eq)]
pub struct Caller {
    auth: AuthContext,
    token: Option<String>,
    peer: Option<SocketAddr>,
}

impl Caller {
    /// A caller known by its verified identity only: usable in-process, refused by remote
    /// clients (there is no token to forward).
    pub fn new(auth: AuthContext) -> Self {
        Caller { auth, token: None, peer: None }
    }

    /// A caller whose identity was verified from `token` (by the caller of this function).
    pub fn with_token(auth: AuthContext, token: impl Into<String>) -> Self {
        Caller { auth, token: Some(token.into()), peer: None }
    }

    /// Verifies `token` and returns its caller, carrying the token (how the gateway turns an
    /// incoming bearer token into a caller).
    pub fn verify(authenticator: &Authenticator, token: &str) -> Result<Caller, AuthError> {
        Ok(Caller::with_token(AuthContext::new(authenticator.verify(token)?), token))
    }

    /// The caller of a gRPC request that passed [`interceptor`](super::interceptor) or
    /// [`AuthGuard`](super::AuthGuard): the verified context from its extensions and the token
    /// from its `authorization` metadata. `unauthenticated` if the request was not verified.
    pub fn from_request<T>(request: &Request<T>) -> Result<Caller, Status> {
        let auth = caller(request)?.clone();
        // The guard verified this very metadata, so it parses; a request built in-process with
        // a context but no metadata simply has no token to forward.
        let token = bearer_from_metadata(request.metadata()).ok().flatten().map(str::to_owned);
        Ok(Caller { auth, token, peer: request.remote_addr() })
    }

    /// The same caller, calling from `peer` (the gateway sets the HTTP client's address).
    pub fn with_peer(mut self, peer: SocketAddr) -> Self {
        self.peer = Some(peer);
        self
    }

    /// The network address the call came from, when known.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// The verified identity.
    pub fn auth(&self) -> &AuthContext {
        &self.auth
    }

    /// The bearer token the identity was verified from, if known.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// `message` as a gRPC request carrying this caller's credentials
    /// (`authorization: Bearer <token>`), for a remote client; `Unauthenticated` when the caller
    /// has no token to forward.
    pub fn request<T>(&self, message: T) -> Result<Request<T>, ApiError> {
        let token = self.token.as_deref().ok_or_else(|| {
            ApiError::Unauthenticated(format!(
                "caller {} has no bearer token to forward to a remote service",
                self.auth.claims.sub
            ))
        })?;
        let value = format!("Bearer {token}")
            .parse()
            .map_err(|_| ApiError::Unauthenticated(AuthError::MalformedHeader.to_string()))?;
        let mut request = Request::new(message);
        request.metadata_mut().insert("authorization", value);
        Ok(request)
    }
}

impl Deref for Caller {
    type Target = AuthContext;

    fn deref(&self) -> &AuthContext {
        &self.auth
    }
}

// The token must never reach a log through `{:?}`.
impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("auth", &self.auth)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            // A citizen's address is personal data: never in a log either.
            .field("peer", &self.peer.map(|_| "<redacted>"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use paht_domain::actor::Role;
    use paht_domain::ids::UnitId;

    use super::*;
    use crate::auth::{AuthConfig, TokenIssuer, interceptor};

    fn setup() -> (Authenticator, String) {
        let config = AuthConfig::ephemeral();
        let token = TokenIssuer::new(&config)
            .unwrap()
            .mint("officer-1", Role::Officer, &UnitId::new("SO-XD-86"), "IOC-86", None)
            .unwrap();
        (Authenticator::new(&config, "IOC-86").unwrap(), token)
    }

    #[test]
    fn a_verified_request_gives_its_caller_and_token() {
        let (auth, token) = setup();
        let mut request = Request::new(());
        request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
        let request = interceptor(std::sync::Arc::new(auth))(request).unwrap();
        let caller = Caller::from_request(&request).unwrap();
        assert_eq!(caller.role(), Role::Officer);
        assert_eq!(caller.token(), Some(token.as_str()));
        // Forwarded as the same bearer token.
        let forwarded = caller.request(()).unwrap();
        assert_eq!(forwarded.metadata().get("authorization").unwrap(), format!("Bearer {token}").as_str());
        assert!(!format!("{caller:?}").contains(&token), "the token leaked into Debug");
    }

    #[test]
    fn unverified_requests_and_tokenless_callers_are_refused() {
        assert_eq!(Caller::from_request(&Request::new(())).unwrap_err().code(), tonic::Code::Unauthenticated);
        let (auth, token) = setup();
        let caller = Caller::new(Caller::verify(&auth, &token).unwrap().auth().clone());
        assert!(matches!(caller.request(()), Err(ApiError::Unauthenticated(_))));
        assert!(Caller::verify(&auth, "not-a-token").is_err());
    }
}
