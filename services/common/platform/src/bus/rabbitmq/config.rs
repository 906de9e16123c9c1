//! Settings of the RabbitMQ bus.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// How to reach RabbitMQ and how patient to be with it.
///
/// Durations deserialize from a number of milliseconds (`2500`) or a string with a unit
/// (`"250ms"`, `"5s"`, `"2m"`, `"1h"`).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct RabbitConfig {
    /// AMQP URL, vhost percent-encoded: `amqp://guest:guest@127.0.0.1:5672/%2f`.
    pub url: String,
    /// Prepended to every exchange and queue name, so several suites (or tests) share a broker.
    pub prefix: String,
    /// Longest wait for one `publish` call, connecting and every confirm included.
    #[serde(deserialize_with = "duration")]
    pub publish_timeout: Duration,
    /// Longest wait for a connection to open and the topology to be declared.
    #[serde(deserialize_with = "duration")]
    pub connect_timeout: Duration,
    /// First pause before a consumer reconnects; it doubles up to `reconnect_max_delay`.
    #[serde(deserialize_with = "duration")]
    pub reconnect_min_delay: Duration,
    /// Longest pause between two reconnection attempts of a consumer.
    #[serde(deserialize_with = "duration")]
    pub reconnect_max_delay: Duration,
    /// How long a stopping consumer waits for handlers still running before abandoning them
    /// (their messages are then redelivered, never lost).
    #[serde(deserialize_with = "duration")]
    pub shutdown_grace: Duration,
    /// Name shown for our connections in the broker's management UI.
    pub connection_name: String,
}

impl Default for RabbitConfig {
    fn default() -> Self {
        RabbitConfig {
            url: "amqp://guest:guest@127.0.0.1:5672/%2f".to_string(),
            prefix: "paht.".to_string(),
            publish_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            reconnect_min_delay: Duration::from_millis(200),
            reconnect_max_delay: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(10),
            connection_name: "paht".to_string(),
        }
    }
}

// The URL carries the password: keep it out of logs.
impl fmt::Debug for RabbitConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RabbitConfig")
            .field("url", &redact_password(&self.url))
            .field("prefix", &self.prefix)
            .field("publish_timeout", &self.publish_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("reconnect_min_delay", &self.reconnect_min_delay)
            .field("reconnect_max_delay", &self.reconnect_max_delay)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("connection_name", &self.connection_name)
            .finish()
    }
}

/// The URL with the password, if any, replaced by `***`.
pub(super) fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{path}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Millis(u64),
        Text(String),
    }
    match Raw::deserialize(deserializer)? {
        Raw::Millis(ms) => Ok(Duration::from_millis(ms)),
        Raw::Text(text) => parse_duration(&text).map_err(serde::de::Error::custom),
    }
}

/// Parses `250ms`, `5s`, `2m`, `1h` or a bare number of milliseconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: u64 =
        number.parse().map_err(|_| format!("invalid duration {text:?}: expected e.g. \"250ms\", \"5s\", \"2m\""))?;
    let unit_ms = match unit.trim() {
        "" | "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        other => return Err(format!("invalid duration unit {other:?} in {text:?}: use ms, s, m or h")),
    };
    Ok(Duration::from_millis(value.saturating_mul(unit_ms)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_missing_fields_and_durations_accept_units() {
        let config: RabbitConfig =
            serde_json::from_str(r#"{"prefix": "x.", "publish_timeout": "250ms", "connect_timeout": 1500}"#).unwrap();
        assert_eq!(config.prefix, "x.");
        assert_eq!(config.publish_timeout, Duration::from_millis(250));
        assert_eq!(config.connect_timeout, Duration::from_millis(1500));
        assert_eq!(config.url, RabbitConfig::default().url);
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(serde_json::from_str::<RabbitConfig>(r#"{"publish_timeout": "soon"}"#).is_err());
    }

    #[test]
    fn debug_output_hides_the_password() {
        let config = RabbitConfig { url: "amqp://svc:s3cret@mq:5672/%2f".into(), ..RabbitConfig::default() };
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("amqp://svc:***@mq:5672/%2f"), "{shown}");
        assert_eq!(redact_password("amqp://mq:5672"), "amqp://mq:5672");
    }
}
