//! Hosting the routing service: its `[routing]` section, its database, its outbox relay, its
//! replica consumer, the deadline sweeper (one active replica, under a lease) and its gRPC
//! service behind the authentication guard.

use anyhow::Context;
use paht_domain::ids::UnitId;
use paht_platform::auth::AuthGuard;
use paht_platform::db::OutboxRelay;
use paht_proto::v1::routing_service_server::RoutingServiceServer;
use paht_routing::directory::Directory;
use paht_routing::rules::RoutingRules;
use paht_routing::{RoutingConfig, RoutingParts, RoutingService};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{Hosted, ServiceName, Shared, connect_db};

/// The routing service as mounted: every method needs a token.
pub(crate) type Served = AuthGuard<RoutingServiceServer<RoutingService>>;

/// The started routing service.
pub(crate) struct Started {
    pub service: Served,
    pub tasks: Vec<JoinHandle<()>>,
    pub hosted: Hosted,
}

/// Connects and migrates routing's database, starts its relay, its consumer and its
/// deadline sweeper, and builds its service.
pub(crate) async fn host(shared: &Shared, background: &CancellationToken) -> anyhow::Result<Started> {
    let config: RoutingConfig = shared.source.section("routing")?;
    let directory = Directory::shipped();
    let rules = RoutingRules::shipped(&directory).context("the shipped routing rules")?;
    let db = connect_db(&shared.config, ServiceName::Routing).await?;
    let relay = OutboxRelay::new(db.clone(), shared.bus.clone(), shared.relay.clone());
    let service = paht_routing::build(RoutingParts {
        db: db.clone(),
        cache: shared.cache.clone(),
        calendar: shared.calendar.clone(),
        instance: UnitId::new(shared.config.instance_id.clone()),
        notifier: Some(relay.notifier()),
        directory,
        rules,
        config,
    })
    .await
    .context("starting routing")?;
    let consumer = shared
        .bus
        .subscribe(paht_routing::subscription(), service.consumer(), background.clone())
        .await
        .context("subscribing routing's consumer")?;
    let sweeper = service.sweeper().spawn(background.clone());
    let relay_stats = relay.stats();
    let relay = relay.spawn(background.clone());
    let service = AuthGuard::new(RoutingServiceServer::new(service), shared.authenticator.clone());
    Ok(Started {
        service,
        tasks: vec![relay, consumer, sweeper],
        hosted: Hosted { name: ServiceName::Routing, db, relay_stats },
    })
}
