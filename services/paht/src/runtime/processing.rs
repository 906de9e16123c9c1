//! Hosting the processing service: its database, its outbox relay, its replica consumer
//! and its gRPC service behind the authentication guard.

use anyhow::Context;
use paht_domain::ids::UnitId;
use paht_platform::auth::AuthGuard;
use paht_platform::db::OutboxRelay;
use paht_processing::{ProcessingParts, ProcessingService};
use paht_proto::v1::processing_service_server::ProcessingServiceServer;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{Hosted, ServiceName, Shared, connect_db};

/// The processing service as mounted: every method needs a token.
pub(crate) type Served = AuthGuard<ProcessingServiceServer<ProcessingService>>;

/// The started processing service.
pub(crate) struct Started {
    pub service: Served,
    pub tasks: Vec<JoinHandle<()>>,
    pub hosted: Hosted,
}

/// Connects and migrates processing's database, starts its relay and its consumer, and
/// builds its service.
pub(crate) async fn host(shared: &Shared, background: &CancellationToken) -> anyhow::Result<Started> {
    let db = connect_db(&shared.config, ServiceName::Processing).await?;
    let relay = OutboxRelay::new(db.clone(), shared.bus.clone(), shared.relay.clone());
    let service = paht_processing::build(ProcessingParts {
        db: db.clone(),
        calendar: shared.calendar.clone(),
        instance: UnitId::new(shared.config.instance_id.clone()),
        notifier: Some(relay.notifier()),
    })
    .await
    .context("starting processing")?;
    let consumer = shared
        .bus
        .subscribe(
            paht_processing::subscription(),
            paht_processing::consumer(db.clone(), shared.calendar.clone()),
            background.clone(),
        )
        .await
        .context("subscribing processing's consumer")?;
    let relay_stats = relay.stats();
    let relay = relay.spawn(background.clone());
    let service = AuthGuard::new(ProcessingServiceServer::new(service), shared.authenticator.clone());
    Ok(Started {
        service,
        tasks: vec![relay, consumer],
        hosted: Hosted { name: ServiceName::Processing, db, relay_stats },
    })
}
