//! The gRPC server every process runs: the services it mounts, gRPC health
//! (tonic-health) and reflection, graceful shutdown on SIGINT/SIGTERM.
//!
//! Health starts NOT_SERVING and a process marks itself SERVING once its
//! dependencies answer, so an orchestrator never routes to a half-started replica.

use std::net::SocketAddr;

use thiserror::Error;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::body::Body;
use tonic::codegen::http;
use tonic::service::Routes;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// The server could not start or failed.
#[derive(Debug, Error)]
pub enum ServerError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {reason}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        reason: String,
    },
    /// The reflection descriptor set is invalid.
    #[error("gRPC reflection: {0}")]
    Reflection(String),
    /// The transport failed while serving.
    #[error("gRPC server: {0}")]
    Transport(String),
}

/// A cancellation token cancelled by Ctrl-C (SIGINT) or SIGTERM, for clean shutdown.
pub fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    cancel.cancel();
                    return;
                }
            };
            tokio::select! {
                _ = ctrl_c => {},
                _ = term.recv() => {},
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutdown requested");
        cancel.cancel();
    });
    token
}

/// A bound gRPC listener with its health reporter, ready to serve routes.
pub struct GrpcServer {
    listener: TcpListener,
    health: HealthReporter,
    routes: Routes,
}

impl GrpcServer {
    /// Binds `addr` (port 0 picks a free port) and mounts health and reflection over
    /// `descriptor_set` (the encoded `FileDescriptorSet` of the services).
    pub async fn bind(addr: SocketAddr, descriptor_set: &[u8]) -> Result<Self, ServerError> {
        let listener = TcpListener::bind(addr).await.map_err(|e| ServerError::Bind { addr, reason: e.to_string() })?;
        let (health, health_service) = tonic_health::server::health_reporter();
        health.set_service_status("", ServingStatus::NotServing).await;
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(descriptor_set)
            .build_v1()
            .map_err(|e| ServerError::Reflection(e.to_string()))?;
        let routes = Routes::new(health_service).add_service(reflection);
        Ok(GrpcServer { listener, health, routes })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// The health reporter: mark services SERVING when ready, NOT_SERVING when not.
    pub fn health(&self) -> HealthReporter {
        self.health.clone()
    }

    /// Mounts a registered service (see [`crate::service`]); returns the server and the
    /// service's background tasks.
    pub fn mount(mut self, mounted: crate::service::Mounted) -> (Self, Vec<tokio::task::JoinHandle<()>>) {
        let (routes, tasks) = mounted.mount(self.routes);
        self.routes = routes;
        (self, tasks)
    }

    /// Serves until `shutdown` is cancelled, then stops accepting, lets in-flight
    /// calls finish, and returns.
    pub async fn serve(self, shutdown: CancellationToken) -> Result<(), ServerError> {
        let health = self.health.clone();
        let incoming = tokio_stream_listener(self.listener);
        let stop = async move {
            shutdown.cancelled().await;
            health.set_service_status("", ServingStatus::NotServing).await;
        };
        tonic::transport::Server::builder()
            .layer(tower::util::MapResponseLayer::new(oversized_is_resource_exhausted))
            .add_routes(self.routes)
            .serve_with_incoming_shutdown(incoming, stop)
            .await
            .map_err(|e| ServerError::Transport(e.to_string()))
    }
}

/// tonic's codec refuses a request message over its limit (4 MiB) with OUT_OF_RANGE before any
/// handler runs; gRPC's status code guide gives RESOURCE_EXHAUSTED for "request message larger
/// than limit", which is what clients act on. The refusal is a trailers-only response, so its
/// status is in the headers; nothing else here answers OUT_OF_RANGE.
fn oversized_is_resource_exhausted(mut response: http::Response<Body>) -> http::Response<Body> {
    let headers = response.headers_mut();
    let Some(status) = tonic::Status::from_header_map(headers) else { return response };
    if status.code() != tonic::Code::OutOfRange || !status.message().contains("decoded message length too large") {
        return response;
    }
    let message = format!("{}; send a smaller request (attachments go through UploadAttachment)", status.message());
    let replaced = tonic::Status::resource_exhausted(message);
    headers.remove(tonic::Status::GRPC_STATUS);
    headers.remove(tonic::Status::GRPC_MESSAGE);
    headers.remove(tonic::Status::GRPC_STATUS_DETAILS);
    if replaced.add_header(headers).is_err() {
        // Cannot happen for a plain message; keep tonic's own answer rather than none.
        let _ = status.add_header(headers);
    }
    response
}

fn tokio_stream_listener(
    listener: TcpListener,
) -> impl futures::Stream<Item = Result<tokio::net::TcpStream, std::io::Error>> {
    futures::stream::unfold(listener, |listener| async move {
        let next = listener.accept().await.map(|(stream, _)| {
            let _ = stream.set_nodelay(true);
            stream
        });
        Some((next, listener))
    })
}

#[cfg(test)]
mod tests {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;

    use super::*;

    async fn connect(addr: SocketAddr) -> Result<tonic::transport::Channel, tonic::transport::Error> {
        tonic::transport::Endpoint::from_shared(format!("http://{addr}")).expect("valid uri").connect().await
    }

    #[tokio::test]
    async fn health_goes_serving_then_not_serving_and_shutdown_stops_the_server() {
        let server = GrpcServer::bind(SocketAddr::from(([127, 0, 0, 1], 0)), tonic_health::pb::FILE_DESCRIPTOR_SET)
            .await
            .unwrap();
        let addr = server.local_addr();
        let health = server.health();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(server.serve(shutdown.clone()));

        let mut client = loop {
            match connect(addr).await {
                Ok(c) => break HealthClient::new(c),
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        };
        let status = |c: &mut HealthClient<_>| {
            let mut c = c.clone();
            async move { c.check(HealthCheckRequest { service: String::new() }).await.unwrap().into_inner().status }
        };
        assert_eq!(status(&mut client).await, ServingStatus::NotServing as i32);
        health.set_service_status("", ServingStatus::Serving).await;
        assert_eq!(status(&mut client).await, ServingStatus::Serving as i32);

        shutdown.cancel();
        tokio::time::timeout(std::time::Duration::from_secs(10), task).await.unwrap().unwrap().unwrap();
        assert!(connect(addr).await.is_err(), "the port is closed after shutdown");
    }

    // Issue 10: a request over the 4 MiB limit is RESOURCE_EXHAUSTED (gRPC's status guide), not
    // tonic's OUT_OF_RANGE, and the server goes on serving.
    #[tokio::test]
    async fn an_oversized_request_is_resource_exhausted() {
        let server = GrpcServer::bind(SocketAddr::from(([127, 0, 0, 1], 0)), tonic_health::pb::FILE_DESCRIPTOR_SET)
            .await
            .unwrap();
        let addr = server.local_addr();
        let health = server.health();
        health.set_service_status("", ServingStatus::Serving).await;
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(server.serve(shutdown.clone()));
        let mut client = loop {
            match connect(addr).await {
                Ok(c) => break HealthClient::new(c),
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        };
        let huge = HealthCheckRequest { service: "x".repeat(5 * 1024 * 1024) };
        let status = client.check(huge).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
        assert!(status.message().contains("the limit is"), "{}", status.message());
        assert!(matches!(crate::error::ApiError::from(status), crate::error::ApiError::TooLarge(_)));
        // A request under the limit is answered as before.
        let small = client.check(HealthCheckRequest { service: String::new() }).await.unwrap();
        assert_eq!(small.into_inner().status, ServingStatus::Serving as i32);
        shutdown.cancel();
        tokio::time::timeout(std::time::Duration::from_secs(10), task).await.unwrap().unwrap().unwrap();
    }

    #[tokio::test]
    async fn a_taken_port_is_a_clear_error() {
        let first = GrpcServer::bind(SocketAddr::from(([127, 0, 0, 1], 0)), tonic_health::pb::FILE_DESCRIPTOR_SET)
            .await
            .unwrap();
        let taken = first.local_addr();
        let err = GrpcServer::bind(taken, tonic_health::pb::FILE_DESCRIPTOR_SET).await.err().unwrap();
        assert!(err.to_string().contains(&taken.to_string()), "{err}");
    }
}
