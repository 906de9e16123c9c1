//! The process's settings: the layered configuration, and the signing key embedded
//! mode keeps in its data directory so that `paht token` mints tokens the running
//! `paht up` accepts.

use std::path::Path;

use paht_platform::auth::{AuthConfig, KeyConfig};
use paht_platform::config::{Config, ConfigSource};

use paht_platform::secrets::local_secret;

/// The file under the data directory holding embedded mode's token key.
const LOCAL_KEY_FILE: &str = "auth-key";

/// Reads the configuration file (if any) and the `PAHT_*` environment.
pub fn load(config_file: Option<&Path>) -> anyhow::Result<(ConfigSource, Config)> {
    let source = ConfigSource::load(config_file)?;
    let config = source.platform()?;
    Ok((source, config))
}

/// Whether this configuration runs embedded mode's storage (SQLite files under the data
/// directory) rather than the suite's shared Postgres.
pub fn is_embedded(config: &Config) -> bool {
    config.database.url.is_none()
}

/// The token keys: those configured, or else (embedded mode) a key created once in the
/// data directory and reused by every later process.
pub fn auth(config: &Config) -> anyhow::Result<AuthConfig> {
    if !config.auth.keys.is_empty() {
        return Ok(config.auth.clone());
    }
    let secret = local_secret(&config.data_dir, LOCAL_KEY_FILE, || AuthConfig::ephemeral().keys[0].secret.clone())?;
    Ok(AuthConfig {
        keys: vec![KeyConfig { kid: "local".into(), secret }],
        active_kid: "local".into(),
        ..config.auth.clone()
    })
}
