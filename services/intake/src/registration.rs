//! Intake as the runtime mounts it: its `[intake]` section, its secrets (generated once in the
//! data directory in embedded mode, required in suite mode), its migrations, its follower of
//! the report after the check, and its gRPC service behind the authentication guard (the public
//! lookup by tracking code is anonymous).

use std::sync::Arc;

use paht_domain::validation::SubmissionRules;
use paht_platform::auth::AuthGuard;
use paht_platform::service::{Host, HostError, Mounted, Registration, Views};
use paht_proto::v1::intake_service_server::IntakeServiceServer;

use crate::blob::{BlobBackend, BlobConfig, BlobStore};
use crate::vault::{Vault, VaultConfig, VaultKey};
use crate::{IntakeClient, IntakeConfig, IntakeMigrator, IntakeParts, IntakeService};

/// Intake's entry in the runtime's registry.
pub const REGISTRATION: Registration = Registration {
    name: "intake",
    summary: "receives reports from every channel, attachments, the IOC's check (accept / refuse)",
    grpc_service: "paht.v1.IntakeService",
    views: Views { table: "reports", id_column: "id" },
    config_section: Some(SECTION),
    check_config: |source| Registration::section::<IntakeConfig>(source, SECTION).map(drop),
    migrate: |db| Box::pin(async move { db.migrate::<IntakeMigrator>().await }),
    host: |host| Box::pin(start(host)),
};

const SECTION: &str = "intake";

/// Methods callable without a token: the public lookup by tracking code (R3.2).
pub const ANONYMOUS: [&str; 1] = ["/paht.v1.IntakeService/GetReportByTrackingCode"];

fn config_error(message: impl Into<String>) -> HostError {
    HostError::Config { section: SECTION, message: message.into() }
}

async fn start(host: Host) -> Result<Mounted, HostError> {
    let config: IntakeConfig = Registration::section(&host.source, SECTION)?;
    let vault_config = match config.vault {
        Some(vault) => vault,
        None if host.embedded => {
            let key = host.local_secret("vault-key", || VaultKey::generate("local").key_base64)?;
            VaultConfig { keys: vec![VaultKey { id: "local".into(), key_base64: key }], active: "local".into() }
        }
        None => return Err(config_error("suite mode needs [intake.vault] keys shared by every intake replica")),
    };
    let pepper = match config.phone_pepper {
        Some(pepper) if pepper.len() >= 16 => pepper,
        Some(_) => return Err(config_error("phone_pepper must be at least 16 bytes")),
        None if host.embedded => host.local_secret("phone-pepper", || VaultKey::generate("pepper").key_base64)?,
        None => return Err(config_error("suite mode needs phone_pepper shared by every intake replica")),
    };
    let blob_config = config.blobs.unwrap_or_else(|| BlobConfig {
        backend: BlobBackend::Local { root: host.data_dir().join("blobs").display().to_string() },
        ..BlobConfig::default()
    });
    let vault = Vault::new(&vault_config).map_err(|e| config_error(format!("vault: {e}")))?;
    let blobs = BlobStore::new(&blob_config).map_err(|e| config_error(format!("blobs: {e}")))?;
    let service = Arc::new(IntakeService::new(IntakeParts {
        db: host.db.clone(),
        cache: host.cache.clone(),
        vault: Arc::new(vault),
        blobs: Arc::new(blobs),
        calendar: host.calendar.clone(),
        rules: SubmissionRules::default(),
        instance: host.instance(),
        phone_pepper: pepper.into_bytes(),
        limits: config.limits,
        uploads: config.uploads,
        notifier: Some(host.notifier.clone()),
        routing: host.peers.peer("routing", |channel| -> paht_routing::RoutingClient {
            Arc::new(paht_routing::RoutingGrpcClient::new(channel))
        }),
    }));
    // Follows the report after the check, for the check queue and the public lookup.
    let follower = host
        .subscribe(crate::follow::subscription(), crate::follow::consumer(host.db.clone(), host.calendar.clone()))
        .await?;
    let served = AuthGuard::new(IntakeServiceServer::from_arc(Arc::clone(&service)), host.authenticator.clone())
        .allow_anonymous(ANONYMOUS);
    let sweeper = service.spawn_upload_sweeper(host.background.clone());
    Ok(Mounted::new(served).with_client::<IntakeClient>(service).with_task(follower).with_task(sweeper))
}
