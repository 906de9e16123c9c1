//! Routing as the runtime mounts it: its `[routing]` section, its migrations, its replica
//! consumer, the deadline sweeper (one active replica, under a lease) and its gRPC service
//! behind the authentication guard.

use std::sync::Arc;

use paht_platform::auth::AuthGuard;
use paht_platform::service::{Host, HostError, Mounted, Registration, Views};
use paht_proto::v1::routing_service_server::RoutingServiceServer;

use crate::directory::Directory;
use crate::rules::RoutingRules;
use crate::{RoutingClient, RoutingConfig, RoutingMigrator, RoutingParts, RoutingService};

/// Routing's entry in the runtime's registry.
pub const REGISTRATION: Registration = Registration {
    name: "routing",
    summary: "dispatches, redispatches, escalates, keeps the directory, sweeps deadlines; decides resolution",
    grpc_service: "paht.v1.RoutingService",
    views: Views::REPLICAS,
    config_section: Some(SECTION),
    check_config: |source| Registration::section::<RoutingConfig>(source, SECTION).map(drop),
    migrate: |db| Box::pin(async move { db.migrate::<RoutingMigrator>().await }),
    host: |host| Box::pin(start(host)),
};

const SECTION: &str = "routing";

async fn start(host: Host) -> Result<Mounted, HostError> {
    let config: RoutingConfig = Registration::section(&host.source, SECTION)?;
    let directory = Directory::shipped();
    let rules = RoutingRules::shipped(&directory)
        .map_err(|e| HostError::Start { service: "routing", message: format!("the shipped routing rules: {e}") })?;
    let service = Arc::new(RoutingService::new(RoutingParts {
        db: host.db.clone(),
        cache: host.cache.clone(),
        calendar: host.calendar.clone(),
        instance: host.instance(),
        notifier: Some(host.notifier.clone()),
        directory,
        rules,
        config,
    }));
    let consumer = host.subscribe(crate::subscription(), service.consumer()).await?;
    let sweeper = service.sweeper().spawn(host.background.clone());
    let served = AuthGuard::new(RoutingServiceServer::from_arc(Arc::clone(&service)), host.authenticator.clone());
    Ok(Mounted::new(served).with_client::<RoutingClient>(service).with_task(consumer).with_task(sweeper))
}
