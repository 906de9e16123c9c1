//! Tokens per role, minted with the platform's [`TokenIssuer`] and checked by its interceptor.

use std::sync::Arc;

use paht_domain::actor::Role;
use paht_domain::ids::UnitId;
use paht_platform::auth::{AuthConfig, Authenticator, Caller, TokenIssuer, interceptor};
use tonic::{Request, Status};

/// The platform's authentication interceptor, as a shareable function.
pub type Intercept = Arc<dyn Fn(Request<()>) -> Result<Request<()>, Status> + Send + Sync>;

/// Mints tokens for one IOC instance and passes requests through the real interceptor.
#[derive(Clone)]
pub struct Tokens {
    issuer: Arc<TokenIssuer>,
    authenticator: Arc<Authenticator>,
    intercept: Intercept,
    instance: String,
}

impl Tokens {
    /// Tokens signed with a fresh ephemeral key.
    pub fn ephemeral(instance: &str) -> Tokens {
        Tokens::new(&AuthConfig::ephemeral(), instance)
    }

    /// Tokens signed with the keys of `auth` (e.g. those a server under test was given).
    pub fn new(auth: &AuthConfig, instance: &str) -> Tokens {
        let authenticator = Arc::new(Authenticator::new(auth, instance).expect("an authenticator"));
        Tokens {
            issuer: Arc::new(TokenIssuer::new(auth).expect("a token issuer")),
            intercept: Arc::new(interceptor(Arc::clone(&authenticator))),
            authenticator,
            instance: instance.to_owned(),
        }
    }

    /// The IOC instance the tokens are for.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The interceptor checking these tokens (for serving the service under test).
    pub fn interceptor(&self) -> Intercept {
        Arc::clone(&self.intercept)
    }

    /// The authenticator checking these tokens (for mounting a service under test behind
    /// `paht_platform::auth::AuthGuard`).
    pub fn authenticator(&self) -> Arc<Authenticator> {
        Arc::clone(&self.authenticator)
    }

    /// The API caller of a fresh token for account `subject` in `role` for `unit`, carrying
    /// the token (so a remote client can forward it).
    pub fn caller(&self, subject: &str, role: Role, unit: &str) -> Caller {
        Caller::verify(&self.authenticator, &self.mint(subject, role, unit)).expect("a valid token")
    }

    /// A token for account `subject` in `role` for `unit`.
    pub fn mint(&self, subject: &str, role: Role, unit: &str) -> String {
        self.issuer.mint(subject, role, &UnitId::new(unit), &self.instance, None).expect("a token")
    }

    /// A token signed with the same key but minted for another IOC instance (which the
    /// interceptor of this one refuses).
    pub fn mint_for_instance(&self, instance: &str, subject: &str, role: Role, unit: &str) -> String {
        self.issuer.mint(subject, role, &UnitId::new(unit), instance, None).expect("a token")
    }

    /// A request carrying a bearer token for `subject`, as a client sends it.
    pub fn with_token<T>(&self, subject: &str, role: Role, unit: &str, message: T) -> Request<T> {
        bearer(&self.mint(subject, role, unit), message)
    }

    /// `request` passed through the interceptor, as the server sees it (or its refusal).
    pub fn intercepted<T>(&self, request: Request<T>) -> Result<Request<T>, Status> {
        let (metadata, extensions, message) = request.into_parts();
        let checked = (self.intercept)(Request::from_parts(metadata, extensions, ()))?;
        let (metadata, extensions, ()) = checked.into_parts();
        Ok(Request::from_parts(metadata, extensions, message))
    }

    /// A request as account `subject` in `role` for `unit`, through the interceptor.
    pub fn as_subject<T>(&self, subject: &str, role: Role, unit: &str, message: T) -> Request<T> {
        self.intercepted(self.with_token(subject, role, unit, message)).expect("a valid token passes")
    }
}

/// `message` with `token` as its bearer token.
pub fn bearer<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().expect("an ASCII token"));
    request
}
