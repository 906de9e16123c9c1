//! Configuration: defaults that run embedded mode, overlaid by a TOML file, overlaid
//! by `PAHT_*` environment variables (`PAHT_GRPC_ADDR`, `PAHT_DATABASE__URL`: a double
//! underscore goes one section down). Every setting is documented in
//! `deploy/config/paht.sample.toml`.
//!
//! The platform's own sections are read into [`Config`]; a service reads its own
//! section (`[intake]`, `[routing]` …) with [`ConfigSource::section`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use paht_domain::calendar::CalendarConfig;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use thiserror::Error;

use crate::auth::AuthConfig;
use crate::bus::rabbitmq::RabbitConfig;
use crate::cache::CacheConfig;
use crate::db::{DbConfig, RelayConfig};
use crate::telemetry::TelemetryConfig;

/// Configuration could not be read.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file, a variable or a value is wrong; the message names the key.
    #[error("configuration: {0}")]
    Invalid(String),
}

impl From<figment::Error> for ConfigError {
    fn from(e: figment::Error) -> Self {
        ConfigError::Invalid(e.to_string())
    }
}

/// Which bus a process uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BusBackend {
    /// In-process (embedded mode: every service in one process).
    #[default]
    Inproc,
    /// RabbitMQ (suite mode).
    Rabbitmq,
}

/// `[bus]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BusConfig {
    /// `inproc` (default) or `rabbitmq`.
    pub backend: BusBackend,
    /// Used when `backend = "rabbitmq"`.
    pub rabbitmq: RabbitConfig,
}

/// `[database]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `postgres://…` for suite mode (each service in its own schema). Unset: embedded
    /// mode, one SQLite file per service under the data directory.
    pub url: Option<String>,
    /// Pool and driver settings.
    pub pool: DbConfig,
}

impl DatabaseConfig {
    /// The URL and schema a service connects to.
    pub fn for_service(&self, data_dir: &Path, service: &str) -> (String, String) {
        match &self.url {
            Some(url) => (url.clone(), service.to_string()),
            None => {
                (format!("sqlite://{}?mode=rwc", data_dir.join(format!("{service}.db")).display()), service.to_string())
            }
        }
    }
}

/// The platform's settings, shared by every service of a process.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Config {
    /// The IOC instance this deployment is (a unit id of the directory).
    pub instance_id: String,
    /// Where embedded mode keeps its SQLite files, blobs and keys (`PAHT_DATA_DIR`).
    pub data_dir: PathBuf,
    /// The gRPC listen address (`PAHT_GRPC_ADDR`).
    pub grpc_addr: SocketAddr,
    /// The HTTP listen address (`PAHT_HTTP_ADDR`).
    pub http_addr: SocketAddr,
    /// Database.
    pub database: DatabaseConfig,
    /// Event bus.
    pub bus: BusConfig,
    /// Cache.
    pub cache: CacheConfig,
    /// Token keys.
    pub auth: AuthConfig,
    /// Time zone and office hours.
    pub calendar: CalendarConfig,
    /// Logs and traces.
    pub telemetry: TelemetryConfig,
    /// How each service's outbox relay paces itself.
    pub relay: RelayConfig,
    /// Where the services this process does not host are reached over gRPC, by name
    /// (`routing = "http://paht-routing:50051"`); see [`crate::peers`].
    pub peers: crate::peers::PeerEndpoints,
}

impl Config {
    /// The top-level keys and tables the platform reads; every other top-level table of a
    /// configuration file must be a hosted service's section.
    pub const KEYS: [&'static str; 12] = [
        "instance_id",
        "data_dir",
        "grpc_addr",
        "http_addr",
        "database",
        "bus",
        "cache",
        "auth",
        "calendar",
        "telemetry",
        "relay",
        "peers",
    ];
}

impl Default for Config {
    fn default() -> Self {
        Config {
            instance_id: "IOC-86".into(),
            data_dir: PathBuf::from("./data"),
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 50051)),
            http_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database: DatabaseConfig::default(),
            bus: BusConfig::default(),
            cache: CacheConfig::default(),
            auth: AuthConfig::default(),
            calendar: CalendarConfig::default(),
            telemetry: TelemetryConfig::default(),
            relay: RelayConfig::default(),
            peers: Default::default(),
        }
    }
}

/// Variables that configure the binary itself rather than a section.
const NOT_SETTINGS: [&str; 2] = ["CONFIG", "CALENDAR_DECISIONS"];

/// The layered sources: defaults, then the file, then the environment.
#[derive(Debug, Clone)]
pub struct ConfigSource {
    figment: Figment,
}

impl ConfigSource {
    /// Reads `file` (if given; it must exist) and the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_with_env(file, Env::prefixed("PAHT_"))
    }

    fn load_with_env(file: Option<&Path>, env: Env) -> Result<Self, ConfigError> {
        let mut figment = Figment::new();
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::Invalid(format!("config file {} does not exist", path.display())));
            }
            figment = figment.merge(Toml::file(path));
        }
        figment = figment.merge(env.ignore(&NOT_SETTINGS).split("__"));
        Ok(ConfigSource { figment })
    }

    /// The file alone, no environment: what `paht config check FILE` reads.
    pub fn file_only(path: &Path) -> Result<Self, ConfigError> {
        if !path.is_file() {
            return Err(ConfigError::Invalid(format!("config file {} does not exist", path.display())));
        }
        Ok(ConfigSource { figment: Figment::new().merge(Toml::file_exact(path)) })
    }

    /// The top-level keys the sources set (file and environment), sorted.
    pub fn top_level_keys(&self) -> Result<Vec<String>, ConfigError> {
        let keys: std::collections::BTreeMap<String, figment::value::Value> = self.figment.extract()?;
        Ok(keys.into_keys().collect())
    }

    /// Sources from TOML text and no environment (tests).
    pub fn from_toml(text: &str) -> Self {
        ConfigSource { figment: Figment::new().merge(Toml::string(text)) }
    }

    /// The platform's settings.
    pub fn platform(&self) -> Result<Config, ConfigError> {
        Ok(self.figment.extract()?)
    }

    /// A service's own section (`[intake]` …), its defaults where absent.
    pub fn section<T: DeserializeOwned + Default>(&self, name: &str) -> Result<T, ConfigError> {
        if self.figment.find_value(name).is_err() {
            return Ok(T::default());
        }
        Ok(self.figment.extract_inner(name)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_top_level_key_is_read() {
        for key in Config::KEYS {
            let bogus = if matches!(key, "instance_id" | "data_dir" | "grpc_addr" | "http_addr") {
                format!("[{key}]\nx = 1")
            } else {
                format!("{key} = 1")
            };
            assert!(ConfigSource::from_toml(&bogus).platform().is_err(), "{key} is not read by Config");
        }
        let source = ConfigSource::from_toml("instance_id = \"X\"\n[intake]\nlimits = {}");
        assert_eq!(source.top_level_keys().unwrap(), ["instance_id", "intake"]);
    }

    #[test]
    fn defaults_run_embedded_mode() {
        let cfg = ConfigSource::from_toml("").platform().unwrap();
        assert_eq!(cfg.grpc_addr.to_string(), "127.0.0.1:50051");
        assert_eq!(cfg.http_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(cfg.data_dir, PathBuf::from("./data"));
        assert_eq!(cfg.bus.backend, BusBackend::Inproc);
        let (url, _) = cfg.database.for_service(&cfg.data_dir, "intake");
        assert!(url.starts_with("sqlite://") && url.contains("intake.db"), "{url}");
    }

    #[test]
    fn file_sets_suite_mode() {
        let src = ConfigSource::from_toml(
            r#"
            instance_id = "IOC-86"
            grpc_addr = "0.0.0.0:50051"
            [database]
            url = "postgres://postgres@127.0.0.1/paht"
            [bus]
            backend = "rabbitmq"
            [cache]
            backend = "redis"
            [calendar]
            time_zone = "Asia/Ho_Chi_Minh"
            [intake]
            max_per_hour = 3
            "#,
        );
        let cfg = src.platform().unwrap();
        assert_eq!(cfg.bus.backend, BusBackend::Rabbitmq);
        assert_eq!(cfg.database.for_service(&cfg.data_dir, "intake").1, "intake");
        #[derive(Debug, Default, Deserialize)]
        struct Intake {
            max_per_hour: u32,
        }
        assert_eq!(src.section::<Intake>("intake").unwrap().max_per_hour, 3);
        assert_eq!(src.section::<Intake>("routing").unwrap().max_per_hour, 0);
    }

    #[test]
    // figment's Jail API fixes the closure's error type.
    #[allow(clippy::result_large_err)]
    fn environment_overrides_the_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("paht.toml", "grpc_addr = \"127.0.0.1:1\"\n[bus]\nbackend = \"inproc\"\n")?;
            jail.set_env("PAHT_GRPC_ADDR", "127.0.0.1:2");
            jail.set_env("PAHT_BUS__BACKEND", "rabbitmq");
            jail.set_env("PAHT_DATA_DIR", "/var/lib/paht");
            jail.set_env("PAHT_CONFIG", "paht.toml");
            let cfg = ConfigSource::load(Some(Path::new("paht.toml"))).unwrap().platform().unwrap();
            assert_eq!(cfg.grpc_addr.to_string(), "127.0.0.1:2");
            assert_eq!(cfg.bus.backend, BusBackend::Rabbitmq);
            assert_eq!(cfg.data_dir, PathBuf::from("/var/lib/paht"));
            Ok(())
        });
    }

    #[test]
    fn mistakes_name_the_key() {
        let err = ConfigSource::from_toml("grpc_addr = \"not an address\"").platform().unwrap_err();
        assert!(err.to_string().contains("grpc_addr"), "{err}");
        let err = ConfigSource::from_toml("[bus]\nbackend = \"kafka\"").platform().unwrap_err();
        assert!(err.to_string().contains("kafka"), "{err}");
        assert!(ConfigSource::load(Some(Path::new("/nonexistent/paht.toml"))).is_err());
    }
}

#[cfg(test)]
mod sample {
    use super::*;

    /// The sample file documents every setting; it must stay a valid configuration.
    #[test]
    fn the_sample_config_parses() {
        let text = include_str!("../../../../deploy/config/paht.sample.toml");
        let cfg = ConfigSource::from_toml(text).platform().unwrap();
        assert_eq!(cfg, Config::default());
    }
}
