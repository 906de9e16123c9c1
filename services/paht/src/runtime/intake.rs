//! Hosting the intake service: its `[intake]` section, its database, its secrets, its
//! outbox relay, and its gRPC service behind the authentication guard.

use std::sync::Arc;

use anyhow::{Context, bail};
use paht_domain::ids::UnitId;
use paht_domain::validation::SubmissionRules;
use paht_intake::blob::{BlobBackend, BlobConfig, BlobStore};
use paht_intake::vault::{Vault, VaultConfig, VaultKey};
use paht_intake::{IntakeConfig, IntakeParts, IntakeService};
use paht_platform::auth::AuthGuard;
use paht_platform::db::OutboxRelay;
use paht_proto::v1::intake_service_server::IntakeServiceServer;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::secrets::local_secret;
use super::{Hosted, ServiceName, Shared, connect_db};
use crate::settings::is_embedded;

/// The intake service as mounted: the public lookup by tracking code is anonymous.
pub(crate) type Served = AuthGuard<IntakeServiceServer<IntakeService>>;

/// Methods callable without a token.
const ANONYMOUS: [&str; 1] = ["/paht.v1.IntakeService/GetReportByTrackingCode"];

/// The started intake service.
pub(crate) struct Started {
    pub service: Served,
    pub tasks: Vec<JoinHandle<()>>,
    pub hosted: Hosted,
}

/// Connects and migrates intake's database, starts its relay, and builds its service.
pub(crate) async fn host(shared: &Shared, background: &CancellationToken) -> anyhow::Result<Started> {
    let config: IntakeConfig = shared.source.section("intake")?;
    let embedded = is_embedded(&shared.config);
    let data_dir = &shared.config.data_dir;

    let vault_config = match config.vault {
        Some(vault) => vault,
        None if embedded => {
            let key = local_secret(data_dir, "vault-key", || VaultKey::generate("local").key_base64)?;
            VaultConfig { keys: vec![VaultKey { id: "local".into(), key_base64: key }], active: "local".into() }
        }
        None => bail!("suite mode needs [intake.vault] keys shared by every intake replica"),
    };
    let pepper = match config.phone_pepper {
        Some(pepper) if pepper.len() >= 16 => pepper,
        Some(_) => bail!("intake.phone_pepper must be at least 16 bytes"),
        None if embedded => local_secret(data_dir, "phone-pepper", || VaultKey::generate("pepper").key_base64)?,
        None => bail!("suite mode needs intake.phone_pepper shared by every intake replica"),
    };
    let blob_config = config.blobs.unwrap_or_else(|| BlobConfig {
        backend: BlobBackend::Local { root: data_dir.join("blobs").display().to_string() },
        ..BlobConfig::default()
    });

    let db = connect_db(&shared.config, ServiceName::Intake).await?;
    let relay = OutboxRelay::new(db.clone(), shared.bus.clone(), shared.relay.clone());
    let service = paht_intake::build(IntakeParts {
        db: db.clone(),
        cache: shared.cache.clone(),
        vault: Arc::new(Vault::new(&vault_config).context("intake.vault")?),
        blobs: Arc::new(BlobStore::new(&blob_config).context("intake.blobs")?),
        calendar: shared.calendar.clone(),
        rules: SubmissionRules::default(),
        instance: UnitId::new(shared.config.instance_id.clone()),
        phone_pepper: pepper.into_bytes(),
        limits: config.limits,
        notifier: Some(relay.notifier()),
    })
    .await
    .context("starting intake")?;
    // Follows the report after the check, for the check queue and the public lookup.
    let follower = shared
        .bus
        .subscribe(
            paht_intake::follow::subscription(),
            paht_intake::follow::consumer(db.clone(), shared.calendar.clone()),
            background.clone(),
        )
        .await
        .context("subscribing intake's follower")?;
    let relay_stats = relay.stats();
    let relay = relay.spawn(background.clone());
    let service =
        AuthGuard::new(IntakeServiceServer::new(service), shared.authenticator.clone()).allow_anonymous(ANONYMOUS);
    Ok(Started { service, tasks: vec![relay, follower], hosted: Hosted { name: ServiceName::Intake, db, relay_stats } })
}
