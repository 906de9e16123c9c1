//! The process's settings: the layered configuration, and the signing key embedded
//! mode keeps in its data directory so that `paht token` mints tokens the running
//! `paht up` accepts.

use std::path::Path;

use anyhow::Context;
use paht_platform::auth::{AuthConfig, KeyConfig};
use paht_platform::config::{Config, ConfigSource};

/// The file under the data directory holding embedded mode's token key.
const LOCAL_KEY_FILE: &str = "auth-key";

/// Reads the configuration file (if any) and the `PAHT_*` environment.
pub fn load(config_file: Option<&Path>) -> anyhow::Result<(ConfigSource, Config)> {
    let source = ConfigSource::load(config_file)?;
    let config = source.platform()?;
    Ok((source, config))
}

/// The token keys: those configured, or else (embedded mode) a key created once in the
/// data directory and reused by every later process.
pub fn auth(config: &Config) -> anyhow::Result<AuthConfig> {
    if !config.auth.keys.is_empty() {
        return Ok(config.auth.clone());
    }
    let path = config.data_dir.join(LOCAL_KEY_FILE);
    let secret = match std::fs::read_to_string(&path) {
        Ok(secret) => secret.trim().to_string(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(&config.data_dir)
                .with_context(|| format!("creating {}", config.data_dir.display()))?;
            let generated = AuthConfig::ephemeral();
            let secret = generated.keys[0].secret.clone();
            write_private(&path, &secret)?;
            secret
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    Ok(AuthConfig {
        keys: vec![KeyConfig { kid: "local".into(), secret }],
        active_kid: "local".into(),
        ..config.auth.clone()
    })
}

fn write_private(path: &Path, secret: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).with_context(|| format!("creating {}", path.display()))?;
    file.write_all(secret.as_bytes())?;
    Ok(())
}
