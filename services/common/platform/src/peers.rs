//! How one service reaches another's API: the in-process client when the process hosts that
//! service, a gRPC client to the address `[peers]` gives for it otherwise (suite mode, each
//! service in its own process).
//!
//! A service takes a [`Peer`] when it starts ([`Peers::peer`]) and resolves it on each call
//! ([`Peer::get`]): the process offers the clients of the services it hosts once all of them
//! are mounted ([`Peers::offer`]), so the order services start in does not matter. A peer
//! neither hosted nor configured is `Unavailable` with a message naming the setting — the
//! call that needed it changes nothing and may be retried.
//!
//! Calls carry the caller's own token (see [`crate::api`]): a peer sees the same actor, roles
//! and instance as the service that forwards the call, never a stronger identity.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use tonic::transport::{Channel, Endpoint};

use crate::error::ApiError;
use crate::service::Clients;

/// The `[peers]` table: service name → gRPC address (`http://paht-routing:50051`).
pub type PeerEndpoints = BTreeMap<String, String>;

/// Why `[peers]` cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("[peers] {name} = {url:?}: {reason}")]
pub struct PeerConfigError {
    /// The service named.
    pub name: String,
    /// The address given.
    pub url: String,
    /// What is wrong with it.
    pub reason: String,
}

/// The peers of one process: the clients it hosts, and the configured addresses of the rest.
#[derive(Clone, Default)]
pub struct Peers {
    local: Arc<RwLock<Clients>>,
    endpoints: Arc<BTreeMap<String, Endpoint>>,
}

impl std::fmt::Debug for Peers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peers").field("configured", &self.endpoints.keys().collect::<Vec<_>>()).finish()
    }
}

impl Peers {
    /// Peers at the configured addresses; each must be an `http://` or `https://` URL.
    pub fn new(endpoints: &PeerEndpoints) -> Result<Peers, PeerConfigError> {
        let mut parsed = BTreeMap::new();
        for (name, url) in endpoints {
            let error = |reason: &str| PeerConfigError { name: name.clone(), url: url.clone(), reason: reason.into() };
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(error("not an http:// or https:// address"));
            }
            let endpoint = Endpoint::from_shared(url.clone()).map_err(|e| error(&e.to_string()))?;
            parsed.insert(name.clone(), endpoint.connect_timeout(std::time::Duration::from_secs(5)));
        }
        Ok(Peers { local: Arc::default(), endpoints: Arc::new(parsed) })
    }

    /// Offers the in-process clients of the services this process hosts; they are preferred
    /// over any configured address.
    pub fn offer(&self, clients: &Clients) {
        self.local.write().unwrap_or_else(|e| e.into_inner()).extend(clients.clone());
    }

    /// The peer `name` (the service's registration name) as a client of type `C`, made by
    /// `remote` over a channel to the configured address when the process does not host it.
    /// The channel connects on first use and reconnects after failures.
    pub fn peer<C>(&self, name: &'static str, remote: fn(Channel) -> C) -> Peer<C>
    where
        C: Any + Send + Sync + Clone,
    {
        let remote = self.endpoints.get(name).map(|endpoint| remote(endpoint.connect_lazy()));
        Peer { name, local: self.local.clone(), remote }
    }
}

/// Another service's API as one service holds it; see [`Peers`].
#[derive(Clone)]
pub struct Peer<C> {
    name: &'static str,
    local: Arc<RwLock<Clients>>,
    remote: Option<C>,
}

impl<C> std::fmt::Debug for Peer<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer").field("name", &self.name).field("remote", &self.remote.is_some()).finish()
    }
}

impl<C: Any + Send + Sync + Clone> Peer<C> {
    /// A peer that is always `client` (tests, and processes wiring services by hand).
    pub fn fixed(name: &'static str, client: C) -> Peer<C> {
        Peer { name, local: Arc::default(), remote: Some(client) }
    }

    /// The client to call now: in-process if hosted, else remote, else `Unavailable`.
    pub fn get(&self) -> Result<C, ApiError> {
        if let Some(local) = self.local.read().unwrap_or_else(|e| e.into_inner()).get::<C>() {
            return Ok(local);
        }
        self.remote.clone().ok_or_else(|| {
            ApiError::Unavailable(format!(
                "{name} is not hosted in this process and [peers] {name} gives no address for it",
                name = self.name
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct Client(&'static str);

    #[tokio::test]
    async fn a_hosted_service_is_preferred_and_an_unknown_one_is_unavailable() {
        let endpoints = PeerEndpoints::from([("routing".to_owned(), "http://127.0.0.1:1".to_owned())]);
        let peers = Peers::new(&endpoints).unwrap();
        let routing = peers.peer("routing", |_| Client("remote"));
        let processing = peers.peer("processing", |_| Client("remote"));
        assert_eq!(routing.get().unwrap(), Client("remote"));
        let err = processing.get().unwrap_err();
        assert!(matches!(err, ApiError::Unavailable(ref m) if m.contains("[peers] processing")), "{err:?}");

        // Offered after the peer was taken: the next call sees it.
        let mut hosted = Clients::default();
        hosted.insert(Client("local"));
        peers.offer(&hosted);
        assert_eq!(routing.get().unwrap(), Client("local"));
        assert_eq!(processing.get().unwrap(), Client("local"));
    }

    #[test]
    fn a_bad_address_names_the_peer() {
        for url in ["paht-routing:50051", "ftp://x", "http://bad host"] {
            let endpoints = PeerEndpoints::from([("routing".to_owned(), url.to_owned())]);
            let err = Peers::new(&endpoints).unwrap_err();
            assert!(err.to_string().starts_with("[peers] routing"), "{err}");
        }
    }
}
