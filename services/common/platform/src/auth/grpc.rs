//! The tonic glue: check the bearer token of each call, hand the caller to handlers,
//! and let handlers authorise by role and unit.
//!
//! # Mounting
//! ```text
//! let auth = Arc::new(Authenticator::new(&config.auth)?);
//! server.add_service(IntakeServer::with_interceptor(intake, auth::interceptor(auth.clone())))
//! ```
//! and in a handler:
//! ```text
//! let caller = auth::caller(&request)?;
//! caller.require_role(&[Role::IocOperator])?;
//! caller.require_unit(&assignment.agency)?;
//! ```
//!
//! # Anonymous methods
//! [`interceptor`] refuses every call without a valid token: it fails closed. That is
//! deliberate. The alternative — letting token-less calls through and trusting each
//! handler to call [`caller`] — turns one forgotten line into a public endpoint, and
//! a tonic interceptor cannot tell methods apart to do better: it receives only the
//! metadata and extensions, not the URI (checked in tonic 0.14's `InterceptedService`,
//! which strips the URI before calling it; `GrpcMethod` is only set on client requests).
//!
//! A service that really has anonymous methods is wrapped in [`AuthGuard`] instead, a
//! tower service that sees the request path. It names its anonymous methods
//! explicitly (`/paht.v1.Publication/GetPublishedAnswer`); every other method still
//! needs a token, and a token that *is* sent is always checked, never ignored. In an
//! anonymous method, `caller(&request).ok()` is `None` for an anonymous caller.
//! Health and reflection are separate services mounted without either.
//!
//! Citizens never call gRPC directly: the gateway is the anonymous, rate-limited HTTP
//! edge, and calls services with its own (`system`) token.

use std::collections::HashSet;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::codegen::{BoxFuture, Service, http};
use tonic::metadata::MetadataMap;
use tonic::server::NamedService;
use tonic::{Request, Status};

use paht_domain::actor::{Actor, Role};
use paht_domain::ids::UnitId;

use super::{AuthError, Authenticator, Claims};

/// The authenticated caller of a request, put in its extensions by [`interceptor`] or
/// [`AuthGuard`] once the token is verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthContext {
    /// The verified claims of the caller's token.
    pub claims: Claims,
}

impl AuthContext {
    /// Wraps verified claims.
    pub fn new(claims: Claims) -> Self {
        AuthContext { claims }
    }

    /// The caller as the domain sees an actor: subject, role, unit.
    pub fn actor(&self) -> Actor {
        Actor::new(self.claims.sub.clone(), self.claims.role, self.claims.unit.clone())
    }

    /// The caller's role.
    pub fn role(&self) -> Role {
        self.claims.role
    }

    /// The unit the caller acts for.
    pub fn unit(&self) -> &UnitId {
        &self.claims.unit
    }

    /// The IOC instance the caller's token was minted for.
    pub fn instance(&self) -> &str {
        &self.claims.instance
    }

    /// Succeeds if the caller acts in one of `roles`; otherwise `permission_denied`
    /// naming the roles needed.
    pub fn require_role(&self, roles: &[Role]) -> Result<(), Status> {
        if roles.contains(&self.claims.role) {
            return Ok(());
        }
        let needed = roles.iter().map(|role| role.as_str()).collect::<Vec<_>>().join(" or ");
        let needed = if needed.is_empty() { "a role this call does not grant to anyone".to_owned() } else { needed };
        Err(Status::permission_denied(format!(
            "this call needs the role {needed}; the caller acts as {}",
            self.claims.role
        )))
    }

    /// Succeeds if the caller acts for `unit`; otherwise `permission_denied`. Roles that
    /// may act across units (the provincial office, the system) are let through by the
    /// handler's own check before this one, not here: the exception stays visible there.
    pub fn require_unit(&self, unit: &UnitId) -> Result<(), Status> {
        if &self.claims.unit == unit {
            return Ok(());
        }
        Err(Status::permission_denied(format!(
            "this call concerns unit {unit}; the caller acts for unit {}",
            self.claims.unit
        )))
    }
}

/// The authenticated caller of `request`, or `unauthenticated` if the request carries
/// none (the service was mounted without [`interceptor`], or the method is anonymous).
pub fn caller<T>(request: &Request<T>) -> Result<&AuthContext, Status> {
    request
        .extensions()
        .get::<AuthContext>()
        .ok_or_else(|| Status::unauthenticated("this call needs credentials: send `authorization: Bearer <token>`"))
}

/// A tonic interceptor that refuses any call without a valid bearer token, and puts
/// the caller's [`AuthContext`] into the request extensions of every call it lets through.
pub fn interceptor(
    auth: Arc<Authenticator>,
) -> impl Fn(Request<()>) -> Result<Request<()>, Status> + Clone + Send + Sync + 'static {
    move |mut request: Request<()>| {
        let token = bearer_from_metadata(request.metadata()).and_then(|token| token.ok_or(AuthError::MissingToken));
        let claims = token.and_then(|token| auth.verify(token)).map_err(refuse)?;
        request.extensions_mut().insert(AuthContext::new(claims));
        Ok(request)
    }
}

/// The refusal of a call, logged without the token.
fn refuse(error: AuthError) -> Status {
    tracing::debug!(reason = %error, "refused a gRPC call");
    Status::from(error)
}

/// The token of `authorization: Bearer <token>`, `None` if there is no such metadata.
pub(super) fn bearer_from_metadata(metadata: &MetadataMap) -> Result<Option<&str>, AuthError> {
    match metadata.get("authorization") {
        None => Ok(None),
        Some(value) => parse_bearer(value.to_str().map_err(|_| AuthError::MalformedHeader)?).map(Some),
    }
}

/// The same from raw HTTP headers (for [`AuthGuard`]).
fn bearer_from_headers(headers: &http::HeaderMap) -> Result<Option<&str>, AuthError> {
    match headers.get(http::header::AUTHORIZATION) {
        None => Ok(None),
        Some(value) => parse_bearer(value.to_str().map_err(|_| AuthError::MalformedHeader)?).map(Some),
    }
}

/// Splits `Bearer <token>`; the scheme is case-insensitive (RFC 9110 §11.1).
fn parse_bearer(value: &str) -> Result<&str, AuthError> {
    let (scheme, token) = value.trim().split_once(' ').ok_or(AuthError::MalformedHeader)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.contains(char::is_whitespace) {
        return Err(AuthError::MalformedHeader);
    }
    Ok(token)
}

/// A service wrapper that authenticates like [`interceptor`] but lets calls to the
/// named anonymous methods through without a token. See the module docs for when to
/// use it rather than the interceptor.
#[derive(Debug, Clone)]
pub struct AuthGuard<S> {
    inner: S,
    auth: Arc<Authenticator>,
    anonymous: Arc<HashSet<String>>,
}

impl<S> AuthGuard<S> {
    /// Guards `inner`: every method needs a token until some are named anonymous.
    pub fn new(inner: S, auth: Arc<Authenticator>) -> Self {
        AuthGuard { inner, auth, anonymous: Arc::new(HashSet::new()) }
    }

    /// Names methods, by full path (`/package.Service/Method`), that may be called
    /// without a token.
    pub fn allow_anonymous<I, P>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        let mut anonymous = (*self.anonymous).clone();
        anonymous.extend(paths.into_iter().map(Into::into));
        self.anonymous = Arc::new(anonymous);
        self
    }

    /// The caller of a request to `path`: `Ok(None)` for an anonymous call to an
    /// anonymous method, an error for anything unverifiable.
    fn authenticate(&self, path: &str, headers: &http::HeaderMap) -> Result<Option<AuthContext>, Status> {
        match bearer_from_headers(headers).map_err(refuse)? {
            Some(token) => Ok(Some(AuthContext::new(self.auth.verify(token).map_err(refuse)?))),
            None if self.anonymous.contains(path) => Ok(None),
            None => Err(refuse(AuthError::MissingToken)),
        }
    }
}

impl<S, B, R> Service<http::Request<B>> for AuthGuard<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    R: Default + Send + 'static,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        match self.authenticate(request.uri().path(), request.headers()) {
            Ok(context) => {
                if let Some(context) = context {
                    request.extensions_mut().insert(context);
                }
                Box::pin(self.inner.call(request))
            }
            // A gRPC error is an HTTP 200 whose headers carry the status.
            Err(status) => Box::pin(std::future::ready(Ok(status.into_http()))),
        }
    }
}

impl<S: NamedService> NamedService for AuthGuard<S> {
    const NAME: &'static str = S::NAME;
}

#[cfg(test)]
#[path = "grpc_tests.rs"]
mod tests;
