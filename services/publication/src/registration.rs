//! Publication as the runtime mounts it: its `[publication]` section, its rating key (generated
//! once in the data directory in embedded mode, required in suite mode), its migrations, its
//! replica consumer and its gRPC service behind the authentication guard (the reporter's calls
//! are anonymous, proved by the rating secret).

use std::sync::Arc;

use paht_platform::auth::AuthGuard;
use paht_platform::service::{Host, HostError, Mounted, Registration, Views};
use paht_proto::v1::publication_service_server::PublicationServiceServer;

use crate::{
    PublicationClient, PublicationConfig, PublicationMigrator, PublicationParts, PublicationService, RatingKey,
};

/// Publication's entry in the runtime's registry.
pub const REGISTRATION: Registration = Registration {
    name: "publication",
    summary: "the answer: draft, edit, publish (personal-data guard), private or withheld; rating, follow-up, reopen",
    grpc_service: "paht.v1.PublicationService",
    views: Views::REPLICAS,
    config_section: Some(SECTION),
    check_config: |source| {
        let config: PublicationConfig = Registration::section(source, SECTION)?;
        check(&config).map_err(config_error)
    },
    migrate: |db| Box::pin(async move { db.migrate::<PublicationMigrator>().await }),
    host: |host| Box::pin(start(host)),
};

const SECTION: &str = "publication";

/// Methods callable without a token: the reporter's rating and reopening (proved by the rating
/// secret) and the public answer.
pub const ANONYMOUS: [&str; 3] = [
    "/paht.v1.PublicationService/RateReport",
    "/paht.v1.PublicationService/ReopenReport",
    "/paht.v1.PublicationService/GetPublishedAnswer",
];

fn config_error(message: impl Into<String>) -> HostError {
    HostError::Config { section: SECTION, message: message.into() }
}

fn check(config: &PublicationConfig) -> Result<(), String> {
    if let Some(key) = &config.rating_key {
        RatingKey::new(key).map_err(|e| format!("rating_key: {e}"))?;
    }
    if !(1..=30).contains(&config.follow_up_working_days) {
        return Err(format!("follow_up_working_days must be 1 to 30, not {}", config.follow_up_working_days));
    }
    Ok(())
}

async fn start(host: Host) -> Result<Mounted, HostError> {
    let config: PublicationConfig = Registration::section(&host.source, SECTION)?;
    check(&config).map_err(config_error)?;
    let key = match config.rating_key {
        Some(key) => key,
        None if host.embedded => host.local_secret("rating-key", RatingKey::generate)?,
        None => return Err(config_error("suite mode needs rating_key shared by every publication replica")),
    };
    let rating_key = RatingKey::new(&key).map_err(|e| config_error(format!("rating_key: {e}")))?;
    let service = Arc::new(PublicationService::new(PublicationParts {
        db: host.db.clone(),
        calendar: host.calendar.clone(),
        instance: host.instance(),
        notifier: Some(host.notifier.clone()),
        rating_key,
        follow_up_working_days: config.follow_up_working_days,
        intake: host.peers.peer("intake", |channel| -> paht_intake::IntakeClient {
            Arc::new(paht_intake::IntakeGrpcClient::new(channel))
        }),
        routing: host.peers.peer("routing", |channel| -> paht_routing::RoutingClient {
            Arc::new(paht_routing::RoutingGrpcClient::new(channel))
        }),
    }));
    let consumer =
        host.subscribe(crate::subscription(), crate::consumer(host.db.clone(), host.calendar.clone())).await?;
    let served = AuthGuard::new(PublicationServiceServer::from_arc(Arc::clone(&service)), host.authenticator.clone())
        .allow_anonymous(ANONYMOUS);
    Ok(Mounted::new(served).with_client::<PublicationClient>(service).with_task(consumer))
}
