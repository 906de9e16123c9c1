//! Tests of the interceptor, the guard and the handler helpers on real tonic requests.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::time::Duration;

use tonic::Code;
use tonic::body::Body;

use super::*;
use crate::auth::{AuthConfig, TokenIssuer};

fn setup() -> (TokenIssuer, Arc<Authenticator>) {
    let config = AuthConfig::ephemeral();
    (TokenIssuer::new(&config).unwrap(), Arc::new(Authenticator::new(&config, "province").unwrap()))
}

fn officer_token(issuer: &TokenIssuer) -> String {
    issuer.mint("officer-7", Role::Officer, &UnitId::new("so-gtvt"), "province", None).unwrap()
}

fn request_with(authorization: Option<&str>) -> Request<()> {
    let mut request = Request::new(());
    if let Some(value) = authorization {
        request.metadata_mut().insert("authorization", value.parse().unwrap());
    }
    request
}

#[test]
fn a_valid_token_yields_the_caller() {
    let (issuer, auth) = setup();
    let check = interceptor(auth);
    let request = check(request_with(Some(&format!("Bearer {}", officer_token(&issuer))))).unwrap();
    let caller = caller(&request).unwrap();
    assert_eq!(caller.actor(), Actor::new("officer-7", Role::Officer, UnitId::new("so-gtvt")));
    assert_eq!(caller.role(), Role::Officer);
    assert_eq!(caller.unit(), &UnitId::new("so-gtvt"));
    assert_eq!(caller.instance(), "province");
    // The scheme is case-insensitive.
    let request = check(request_with(Some(&format!("bearer {}", officer_token(&issuer))))).unwrap();
    assert!(caller_is_officer(&request));
}

fn caller_is_officer<T>(request: &Request<T>) -> bool {
    caller(request).is_ok_and(|caller| caller.role() == Role::Officer)
}

#[test]
fn a_call_without_token_is_unauthenticated() {
    let (_, auth) = setup();
    let status = interceptor(auth)(request_with(None)).unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(status.message().contains("authorization: Bearer"), "{}", status.message());
}

#[test]
fn a_bad_header_or_token_is_unauthenticated_without_echo() {
    let (issuer, auth) = setup();
    let check = interceptor(auth);
    let (_, other_auth) = setup();
    let foreign = officer_token(&issuer);
    let cases = [
        ("Basic dXNlcjpwYXNz", "malformed authorization"),
        ("Bearer", "malformed authorization"),
        ("Bearer ", "malformed authorization"),
        ("Token abc.def.ghi", "malformed authorization"),
        ("Bearer abc.def ghi", "malformed authorization"),
        ("Bearer not-a-jwt-SECRETVALUE", "malformed token"),
    ];
    for (header, expected) in cases {
        let status = check(request_with(Some(header))).unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{header}");
        assert!(status.message().contains(expected), "{header}: {}", status.message());
        assert!(!status.message().contains("SECRETVALUE"));
    }
    // Signed by another deployment's key (same kid "ephemeral", other secret).
    let status = interceptor(other_auth)(request_with(Some(&format!("Bearer {foreign}")))).unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(status.message().contains("signature"));
    assert!(!status.message().contains(foreign.rsplit('.').next().unwrap()));
    // Expired.
    let expired = issuer.sign(&Claims { iat: 1, exp: 2, ..claims_of(&officer_token(&issuer)) }).unwrap();
    let status = check(request_with(Some(&format!("Bearer {expired}")))).unwrap_err();
    assert!(status.message().contains("expired"), "{}", status.message());
    // Not ASCII.
    let mut request = Request::new(());
    request
        .metadata_mut()
        .insert("authorization", tonic::metadata::AsciiMetadataValue::try_from(&b"Bearer \xff"[..]).unwrap());
    assert_eq!(check(request).unwrap_err().code(), Code::Unauthenticated);
}

/// The claims of a token we minted (read without checking: the test made it).
fn claims_of(token: &str) -> Claims {
    jsonwebtoken::dangerous::insecure_decode_claims(token).unwrap()
}

#[test]
fn a_handler_without_interceptor_fails_closed() {
    let status = caller(&Request::new(())).unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
}

#[test]
fn require_role_and_unit() {
    let (issuer, auth) = setup();
    let request = interceptor(auth)(request_with(Some(&format!("Bearer {}", officer_token(&issuer))))).unwrap();
    let caller = caller(&request).unwrap();
    assert!(caller.require_role(&[Role::Officer, Role::Leader]).is_ok());
    let denied = caller.require_role(&[Role::Leader, Role::ProvincialOffice]).unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert!(denied.message().contains("leader or provincial_office"), "{}", denied.message());
    assert!(denied.message().contains("officer"));
    assert_eq!(caller.require_role(&[]).unwrap_err().code(), Code::PermissionDenied);

    assert!(caller.require_unit(&UnitId::new("so-gtvt")).is_ok());
    let denied = caller.require_unit(&UnitId::new("so-yte")).unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert!(denied.message().contains("so-yte") && denied.message().contains("so-gtvt"), "{}", denied.message());
}

/// A stand-in for a generated tonic server: answers with who called, in a header.
#[derive(Clone)]
struct Echo;

impl<B> Service<http::Request<B>> for Echo {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let who = request.extensions().get::<AuthContext>().map_or("anonymous".to_owned(), |c| c.claims.sub.clone());
        ready(Ok(http::Response::builder().header("x-caller", who).body(Body::default()).unwrap()))
    }
}

impl NamedService for Echo {
    const NAME: &'static str = "paht.v1.Echo";
}

async fn call_guard(guard: &mut AuthGuard<Echo>, path: &str, authorization: Option<&str>) -> Result<String, Status> {
    let mut request = http::Request::builder().uri(format!("http://localhost{path}"));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = guard.call(request.body(()).unwrap()).await.unwrap();
    if let Some(status) = Status::from_header_map(response.headers()).filter(|s| s.code() != Code::Ok) {
        return Err(status);
    }
    Ok(response.headers()["x-caller"].to_str().unwrap().to_owned())
}

#[tokio::test]
async fn the_guard_lets_only_named_methods_through_anonymously() {
    let (issuer, auth) = setup();
    let mut guard = AuthGuard::new(Echo, auth).allow_anonymous(["/paht.v1.Echo/Public"]);
    let bearer = format!("Bearer {}", officer_token(&issuer));

    assert_eq!(call_guard(&mut guard, "/paht.v1.Echo/Public", None).await.unwrap(), "anonymous");
    assert_eq!(call_guard(&mut guard, "/paht.v1.Echo/Public", Some(&bearer)).await.unwrap(), "officer-7");
    assert_eq!(call_guard(&mut guard, "/paht.v1.Echo/Private", Some(&bearer)).await.unwrap(), "officer-7");

    let refused = call_guard(&mut guard, "/paht.v1.Echo/Private", None).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    // A bad token on an anonymous method is refused, not downgraded to anonymous.
    let refused = call_guard(&mut guard, "/paht.v1.Echo/Public", Some("Bearer forged.token.here")).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    // Path matching is exact: a prefix or a look-alike is not anonymous.
    for path in ["/paht.v1.Echo/PublicX", "/paht.v1.Echo/public", "/paht.v1.Echo/Public/"] {
        assert_eq!(call_guard(&mut guard, path, None).await.unwrap_err().code(), Code::Unauthenticated, "{path}");
    }
}

#[test]
fn the_guard_mounts_on_a_tonic_server() {
    let (_, auth) = setup();
    // Type-checks the guard against what tonic's router requires of a service.
    let _router = tonic::transport::Server::builder().add_service(AuthGuard::new(Echo, auth));
    assert_eq!(<AuthGuard<Echo> as NamedService>::NAME, "paht.v1.Echo");
}

#[test]
fn tokens_minted_for_a_short_time_work_through_the_interceptor() {
    let (issuer, auth) = setup();
    let token = issuer.mint("sys", Role::System, &UnitId::new("79"), "province", Some(Duration::from_secs(5))).unwrap();
    let request = interceptor(auth)(request_with(Some(&format!("Bearer {token}")))).unwrap();
    assert_eq!(caller(&request).unwrap().role(), Role::System);
}

/// Over a real HTTP/2 connection, with tonic's own health service standing in for
/// ours: the interceptor and the guard refuse and admit as they do in-process, and
/// their refusals reach the client as gRPC statuses.
mod over_the_wire {
    use tonic::transport::server::TcpIncoming;
    use tonic::transport::{Channel, Endpoint, Server};
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::health_server::HealthServer;
    use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};
    use tonic_health::server::{HealthReporter, HealthService};

    use super::*;

    fn health() -> HealthService {
        HealthService::from_health_reporter(HealthReporter::new())
    }

    /// Serves `router` on a free loopback port until the returned sender is dropped.
    async fn serve(router: tonic::transport::server::Router) -> (Channel, tokio::sync::oneshot::Sender<()>) {
        let incoming = TcpIncoming::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let address = incoming.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(router.serve_with_incoming_shutdown(incoming, async {
            let _ = stopped.await;
        }));
        let channel = Endpoint::from_shared(format!("http://{address}")).unwrap().connect().await.unwrap();
        (channel, stop)
    }

    fn check_request(authorization: Option<&str>) -> Request<HealthCheckRequest> {
        let mut request = Request::new(HealthCheckRequest::default());
        if let Some(value) = authorization {
            request.metadata_mut().insert("authorization", value.parse().unwrap());
        }
        request
    }

    #[tokio::test]
    async fn the_interceptor_guards_a_served_service() {
        let (issuer, auth) = setup();
        let service = HealthServer::with_interceptor(health(), interceptor(auth));
        let (channel, _stop) = serve(Server::builder().add_service(service)).await;
        let mut client = HealthClient::new(channel);

        let refused = client.check(check_request(None)).await.unwrap_err();
        assert_eq!(refused.code(), Code::Unauthenticated);
        assert!(refused.message().contains("missing credentials"), "{}", refused.message());
        let refused = client.check(check_request(Some("Bearer a.b.c"))).await.unwrap_err();
        assert_eq!(refused.code(), Code::Unauthenticated);

        let bearer = format!("Bearer {}", officer_token(&issuer));
        let answer = client.check(check_request(Some(&bearer))).await.unwrap().into_inner();
        assert_eq!(answer.status(), ServingStatus::Serving);
    }

    #[tokio::test]
    async fn the_guard_serves_named_methods_anonymously() {
        let (issuer, auth) = setup();
        let guarded =
            AuthGuard::new(HealthServer::new(health()), auth).allow_anonymous(["/grpc.health.v1.Health/Check"]);
        let (channel, _stop) = serve(Server::builder().add_service(guarded)).await;
        let mut client = HealthClient::new(channel);

        let answer = client.check(check_request(None)).await.unwrap().into_inner();
        assert_eq!(answer.status(), ServingStatus::Serving);
        let refused = client.check(check_request(Some("Bearer forged"))).await.unwrap_err();
        assert_eq!(refused.code(), Code::Unauthenticated);
        // Watch is not named: it needs a token.
        let refused = client.watch(check_request(None)).await.unwrap_err();
        assert_eq!(refused.code(), Code::Unauthenticated);
        let bearer = format!("Bearer {}", officer_token(&issuer));
        assert!(client.watch(check_request(Some(&bearer))).await.is_ok());
    }
}
