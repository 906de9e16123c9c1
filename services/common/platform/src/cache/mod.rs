//! The shared cache: idempotency keys, rate limits and leases.
//!
//! One trait, [`Cache`], two implementations chosen from configuration:
//!
//! - [`RedisCache`]: suite mode. Every replica of every service talks to the same Redis,
//!   so a retry that lands on another replica still finds its idempotency key, a rate
//!   limit counts requests across replicas, and only one replica holds a lease.
//! - [`MemoryCache`]: embedded mode (one process). The same semantics in process memory.
//!
//! Every operation that reads and then writes is one atomic step (a Lua script in
//! Redis, one critical section in memory), because the callers race by design: channel
//! retries, several replicas, concurrent requests from one abuser.
//!
//! # Rate limiting: a sliding-window log
//! A key may be granted at most `limit` requests in any interval of length `window`.
//! The log keeps the time of each *granted* request; a call first forgets the entries
//! at least `window` old, then grants if fewer than `limit` remain (recording its own
//! time) or refuses with `retry_after = oldest + window - now`, the exact moment the
//! oldest entry leaves the window. Refused requests are not recorded, so hammering a
//! limit does not push the recovery further away. The log holds at most `limit`
//! entries per key and expires with the window when the key goes quiet.
//!
//! The log was chosen over GCRA or fixed windows because it is exact — "5 reports an
//! hour" never lets 10 through across a window boundary — and the limits here are
//! small (tens to a few thousand per window), so `limit` entries per key is cheap.
//! In Redis the clock is the server's (`TIME` inside the script), so replicas with
//! skewed clocks still agree.
//!
//! # Leases
//! A lease is a named key holding its holder's id with a time to live. `acquire`
//! succeeds when the lease is free or already held by the same holder (then it is
//! extended); `renew` and `release` act only when the caller still holds it. The
//! holder renews well before the TTL (a third of it is usual) and stops the guarded
//! work as soon as a renewal fails: a paused process may lose its lease to another
//! replica, and the work it guards (the deadline sweeper) must tolerate a brief
//! overlap by being idempotent.

mod memory;
mod redis;

#[cfg(test)]
mod conformance;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use self::memory::MemoryCache;
pub use self::redis::{RedisCache, RedisConfig};

/// The longest key accepted, in bytes: keys come partly from outside (channel message
/// ids, phone numbers), and an unbounded key is an easy way to eat cache memory.
pub const MAX_KEY_LEN: usize = 512;

/// The outcome of one [`Cache::rate_limit`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    /// Whether this request is granted (and counted).
    pub allowed: bool,
    /// How many more requests the key may make in the current window after this one.
    pub remaining: u32,
    /// When refused, how long until the next request would be granted.
    pub retry_after: Option<Duration>,
}

/// What went wrong talking to the cache.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The caller passed something the cache cannot store (a bug in the caller).
    #[error("invalid cache request: {0}")]
    InvalidArgument(String),
    /// Redis could not be reached or refused the command.
    #[error("redis: {0}")]
    Redis(#[from] ::redis::RedisError),
    /// Redis answered something the script never returns (version mismatch?).
    #[error("unexpected reply from redis: {0}")]
    UnexpectedReply(String),
}

impl From<CacheError> for tonic::Status {
    fn from(error: CacheError) -> Self {
        match error {
            // A bad argument is our bug, not the caller's: do not blame the client.
            CacheError::InvalidArgument(_) | CacheError::UnexpectedReply(_) => {
                tonic::Status::internal(error.to_string())
            }
            // The cache is a shared dependency that comes back by itself: the caller may retry.
            CacheError::Redis(_) => tonic::Status::unavailable("the cache is unavailable; retry shortly"),
        }
    }
}

/// The cache operations the services share. Keys are namespaced per use inside the
/// implementation, so an idempotency key never collides with a lease of the same name.
#[async_trait]
pub trait Cache: Send + Sync + 'static {
    /// Stores `value` under `key` for `ttl` unless the key already holds a live value.
    /// Returns `None` when stored, or `Some(existing)` when the key was taken — so a
    /// channel's retry of a submission finds the first report instead of making a second.
    async fn put_if_absent(&self, key: &str, value: &str, ttl: Duration) -> Result<Option<String>, CacheError>;

    /// The live value under `key`, if any.
    async fn get(&self, key: &str) -> Result<Option<String>, CacheError>;

    /// Removes `key`; returns whether it held a live value. A caller whose work failed
    /// after [`Cache::put_if_absent`] removes its key so the retry can do the work again.
    async fn delete(&self, key: &str) -> Result<bool, CacheError>;

    /// Counts one request against `key` and says whether it is granted: at most `limit`
    /// requests are granted in any interval of length `window` (see the module docs).
    async fn rate_limit(&self, key: &str, limit: u32, window: Duration) -> Result<RateDecision, CacheError>;

    /// Takes the lease `name` for `holder` for `ttl` if it is free, or extends it if
    /// `holder` already holds it. Returns whether `holder` holds it now.
    async fn acquire_lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool, CacheError>;

    /// Extends the lease to `ttl` from now, only if `holder` still holds it.
    async fn renew_lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool, CacheError>;

    /// Frees the lease, only if `holder` holds it; returns whether it was freed.
    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, CacheError>;
}

/// Which cache backend a process uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheBackend {
    /// In process memory: embedded mode, one process.
    #[default]
    Memory,
    /// A shared Redis: suite mode, several processes.
    Redis,
}

/// Cache settings (`[cache]` in the config file, `PAHT_CACHE__…` in the environment).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CacheConfig {
    /// `memory` (default, embedded mode) or `redis` (suite mode).
    pub backend: CacheBackend,
    /// Used when `backend = "redis"`.
    pub redis: RedisConfig,
}

/// Builds the configured cache. Connecting to Redis fails fast, so a misconfigured
/// deployment does not start and report ready.
pub async fn connect(config: &CacheConfig) -> Result<Arc<dyn Cache>, CacheError> {
    Ok(match config.backend {
        CacheBackend::Memory => Arc::new(MemoryCache::new()),
        CacheBackend::Redis => Arc::new(RedisCache::connect(config.redis.clone()).await?),
    })
}

/// Refuses keys that are empty or longer than [`MAX_KEY_LEN`].
fn check_key(what: &str, key: &str) -> Result<(), CacheError> {
    if key.is_empty() {
        return Err(CacheError::InvalidArgument(format!("{what} must not be empty")));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(CacheError::InvalidArgument(format!(
            "{what} is {} bytes; at most {MAX_KEY_LEN} are allowed",
            key.len()
        )));
    }
    Ok(())
}

/// A TTL in whole milliseconds (rounded up, so a sub-millisecond TTL is not zero).
fn ttl_millis(what: &str, ttl: Duration) -> Result<u64, CacheError> {
    if ttl.is_zero() {
        return Err(CacheError::InvalidArgument(format!("{what} must be longer than zero")));
    }
    let millis = ttl.as_nanos().div_ceil(1_000_000);
    u64::try_from(millis).map_err(|_| CacheError::InvalidArgument(format!("{what} is too long")))
}

/// Checks the limiter's arguments: a zero limit or window has no sensible meaning
/// (use no limiter, or refuse the request outright, instead).
fn check_rate(limit: u32, window: Duration) -> Result<(), CacheError> {
    if limit == 0 {
        return Err(CacheError::InvalidArgument("rate limit must allow at least one request".into()));
    }
    if window < Duration::from_millis(1) {
        return Err(CacheError::InvalidArgument("rate-limit window must be at least 1 ms".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_rounds_up_and_refuses_zero() {
        assert_eq!(ttl_millis("ttl", Duration::from_micros(1)).unwrap(), 1);
        assert_eq!(ttl_millis("ttl", Duration::from_millis(1500)).unwrap(), 1500);
        assert!(matches!(ttl_millis("ttl", Duration::ZERO), Err(CacheError::InvalidArgument(_))));
    }

    #[test]
    fn keys_are_bounded() {
        assert!(check_key("key", "a").is_ok());
        assert!(check_key("key", "").is_err());
        assert!(check_key("key", &"x".repeat(MAX_KEY_LEN + 1)).is_err());
    }

    #[test]
    fn config_defaults_to_memory_and_parses_redis() {
        assert_eq!(CacheConfig::default().backend, CacheBackend::Memory);
        let config: CacheConfig =
            serde_json::from_str(r#"{"backend":"redis","redis":{"url":"redis://cache:6379","prefix":"p1:"}}"#).unwrap();
        assert_eq!(config.backend, CacheBackend::Redis);
        assert_eq!(config.redis.url, "redis://cache:6379");
        assert_eq!(config.redis.prefix, "p1:");
    }
}
