//! Processing as the runtime mounts it: its migrations, its replica consumer and its gRPC
//! service behind the authentication guard.

use std::sync::Arc;

use paht_platform::auth::AuthGuard;
use paht_platform::service::{Host, HostError, Mounted, Registration, Views};
use paht_proto::v1::processing_service_server::ProcessingServiceServer;

use crate::{ProcessingClient, ProcessingMigrator, ProcessingParts, ProcessingService};

/// Processing's entry in the runtime's registry.
pub const REGISTRATION: Registration = Registration {
    name: "processing",
    summary: "the agencies' inbox: return, explain, result, approval of each assignment",
    grpc_service: "paht.v1.ProcessingService",
    views: Views::REPLICAS,
    config_section: None,
    check_config: |_| Ok(()),
    migrate: |db| Box::pin(async move { db.migrate::<ProcessingMigrator>().await }),
    host: |host| Box::pin(start(host)),
};

async fn start(host: Host) -> Result<Mounted, HostError> {
    let service = Arc::new(ProcessingService::new(ProcessingParts {
        db: host.db.clone(),
        calendar: host.calendar.clone(),
        instance: host.instance(),
        notifier: Some(host.notifier.clone()),
    }));
    let consumer =
        host.subscribe(crate::subscription(), crate::consumer(host.db.clone(), host.calendar.clone())).await?;
    let served = AuthGuard::new(ProcessingServiceServer::from_arc(Arc::clone(&service)), host.authenticator.clone());
    Ok(Mounted::new(served).with_client::<ProcessingClient>(service).with_task(consumer))
}
