//! The parked-events endpoints, served beside `/healthz`, `/readyz` and `/metrics`:
//!
//! - `GET /ops/parked[?queue=Q][&limit=N]`: parked events, oldest first, as JSON
//!   ([`ParkedEvent`]: ids, event kind, attempts, time and reason; never the payload);
//! - `POST /ops/parked/{id}/replay[?queue=Q]`: sends that event back to its consumer (every
//!   queue where it is parked, or only `Q`);
//! - `POST /ops/parked/replay?queue=Q`: sends back every event parked for `Q`.
//!
//! Every one of them needs `Authorization: Bearer <token>`, a token of the process's own keys
//! for the role `system_operator` of this instance. The HTTP address is often opened to a
//! metrics scraper (in Kubernetes, to the whole cluster network), so "local only" would not
//! protect a replay; a token does, with the keys the gRPC services already trust. In embedded
//! mode the key lives in the data directory, so whoever can run `paht events` there (and could
//! read the databases anyway) mints one, as `paht token` does.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use paht_domain::actor::Role;
use paht_platform::auth::Authenticator;
use paht_platform::bus::Bus;
use uuid::Uuid;

use super::events::{self, Problem, Replayed};

/// What the endpoints need.
#[derive(Clone)]
struct Ops {
    bus: Arc<dyn Bus>,
    auth: Arc<Authenticator>,
    instance: String,
}

/// The `/ops/*` routes over `bus`, for tokens `auth` accepts, minted for `instance`.
pub fn router(bus: Arc<dyn Bus>, auth: Arc<Authenticator>, instance: String) -> Router {
    Router::new()
        .route("/ops/parked", get(list))
        .route("/ops/parked/replay", post(replay_queue))
        .route("/ops/parked/{id}/replay", post(replay_one))
        .with_state(Ops { bus, auth, instance })
}

/// `(name, value)` pairs of the query string. Queue names and ids need no percent-decoding.
fn query(uri: &Uri) -> Vec<(String, String)> {
    uri.query()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (name.to_string(), value.to_string())
        })
        .collect()
}

fn param(uri: &Uri, name: &str) -> Option<String> {
    query(uri).into_iter().find(|(n, _)| n == name).map(|(_, v)| v).filter(|v| !v.is_empty())
}

fn json(status: StatusCode, body: &impl serde::Serialize) -> Response {
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".to_string());
    (status, [(header::CONTENT_TYPE, "application/json")], text).into_response()
}

fn problem(status: StatusCode, error: impl Into<String>) -> Response {
    json(status, &Problem { error: error.into() })
}

/// Checks the bearer token: the refusal (401 without a valid one, 403 for another role or
/// instance), or `None` to go on.
fn refusal(ops: &Ops, headers: &HeaderMap) -> Option<Response> {
    let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
    else {
        return Some(problem(StatusCode::UNAUTHORIZED, "a bearer token is required (paht events mints one)"));
    };
    let claims = match ops.auth.verify(token.trim()) {
        Ok(claims) => claims,
        Err(e) => return Some(problem(StatusCode::UNAUTHORIZED, e.to_string())),
    };
    if claims.role != Role::SystemOperator || claims.instance != ops.instance {
        return Some(problem(
            StatusCode::FORBIDDEN,
            "only a system_operator of this instance may handle parked events",
        ));
    }
    tracing::debug!(subject = %claims.sub, "operator request on parked events");
    None
}

async fn list(State(ops): State<Ops>, headers: HeaderMap, uri: Uri) -> Response {
    if let Some(refused) = refusal(&ops, &headers) {
        return refused;
    }
    let limit = match param(&uri, "limit").map(|l| l.parse::<usize>()) {
        None => events::DEFAULT_LIMIT,
        Some(Ok(limit)) => limit.min(events::MAX_LIMIT),
        Some(Err(_)) => return problem(StatusCode::BAD_REQUEST, "limit must be a number"),
    };
    match events::list(ops.bus.as_ref(), param(&uri, "queue").as_deref(), limit).await {
        Ok(parked) => json(StatusCode::OK, &parked),
        Err(e) => problem(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

async fn replay_one(State(ops): State<Ops>, headers: HeaderMap, uri: Uri, Path(id): Path<String>) -> Response {
    if let Some(refused) = refusal(&ops, &headers) {
        return refused;
    }
    let Ok(id) = Uuid::parse_str(&id) else {
        return problem(StatusCode::BAD_REQUEST, format!("{id:?} is not an event id"));
    };
    replayed(events::replay(ops.bus.as_ref(), param(&uri, "queue").as_deref(), Some(id)).await)
}

async fn replay_queue(State(ops): State<Ops>, headers: HeaderMap, uri: Uri) -> Response {
    if let Some(refused) = refusal(&ops, &headers) {
        return refused;
    }
    let Some(queue) = param(&uri, "queue") else {
        return problem(StatusCode::BAD_REQUEST, "replaying everything needs ?queue=");
    };
    replayed(events::replay(ops.bus.as_ref(), Some(&queue), None).await)
}

fn replayed(result: Result<usize, paht_platform::bus::BusError>) -> Response {
    match result {
        Ok(replayed) => json(StatusCode::OK, &Replayed { replayed }),
        Err(e @ paht_platform::bus::BusError::Config(_)) => problem(StatusCode::BAD_REQUEST, e.to_string()),
        Err(e) => problem(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}
