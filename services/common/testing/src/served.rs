//! A gRPC service served on 127.0.0.1:0 for the duration of a test, as the runtime mounts it
//! (behind its authentication guard): what a remote client of a service API talks to.

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

/// A running local gRPC server; [`Served::stop`] shuts it down and checks it ended cleanly.
#[derive(Debug)]
pub struct Served {
    uri: String,
    stop: oneshot::Sender<()>,
    server: JoinHandle<Result<(), tonic::transport::Error>>,
}

impl Served {
    /// Serves `service` (e.g. `AuthGuard::new(XServiceServer::from_arc(svc), authenticator)`).
    pub fn start<S>(service: S) -> Served
    where
        S: tonic::codegen::Service<
                tonic::codegen::http::Request<tonic::body::Body>,
                Response = tonic::codegen::http::Response<tonic::body::Body>,
                Error = std::convert::Infallible,
            > + tonic::server::NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        let incoming = TcpIncoming::bind(([127, 0, 0, 1], 0).into()).expect("a local port");
        let addr = incoming.local_addr().expect("its address");
        let (stop, stopped) = oneshot::channel::<()>();
        let server =
            tokio::spawn(Server::builder().add_service(service).serve_with_incoming_shutdown(incoming, async move {
                let _ = stopped.await;
            }));
        Served { uri: format!("http://{addr}"), stop, server }
    }

    /// Where to connect (`http://127.0.0.1:port`).
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Stops the server (after the clients are dropped) and waits for it.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.server.await.expect("the server task").expect("the server");
    }
}
