//! The cache in Redis, shared by every replica in suite mode.
//!
//! Every read-then-write is a Lua script, which Redis runs atomically: no other command
//! from any replica runs between its steps. Each script touches exactly one key, so the
//! scripts also work unchanged on a Redis Cluster. Keys are
//! `{prefix}{kind}:{key}` with `kind` one of `idem`, `rate`, `lease`.

use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script};
use serde::{Deserialize, Serialize};

use super::{Cache, CacheError, RateDecision, check_key, check_rate, ttl_millis};

/// Returns the live value if there is one, else stores ARGV[1] for ARGV[2] ms.
/// (`SET NX GET` does the same but needs Redis 7; this runs on any Redis with Lua.)
static PUT_IF_ABSENT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local existing = redis.call('GET', KEYS[1])
if existing then return existing end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
",
    )
});

/// The sliding-window log (see the module docs of `cache`). ARGV: limit, window in
/// microseconds, a unique member for this request. Returns {allowed, remaining,
/// retry_after in microseconds}.
static RATE_LIMIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- Before Redis 5 a script that reads TIME must replicate its effects, not itself.
if redis.replicate_commands then redis.replicate_commands() end
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
if used < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
  return {1, limit - used - 1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local retry = tonumber(oldest[2]) + window - now
if retry < 1 then retry = 1 end
return {0, 0, retry}
",
    )
});

/// Takes a free lease or extends one already held by the same holder.
static ACQUIRE_LEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local holder = redis.call('GET', KEYS[1])
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
",
    )
});

/// Extends the lease only while ARGV[1] holds it (compare-and-renew).
static RENEW_LEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
",
    )
});

/// Deletes the lease only while ARGV[1] holds it (compare-and-delete).
static RELEASE_LEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
",
    )
});

/// How to reach Redis (`[cache.redis]`, `PAHT_CACHE__REDIS__…`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RedisConfig {
    /// Connection URL, e.g. `redis://127.0.0.1:6379` or `rediss://user:pass@host:6380/0`.
    pub url: String,
    /// Prepended to every key, so deployments (and tests) sharing one Redis stay apart.
    pub prefix: String,
    /// How long one command or one connection attempt may take before it fails, in
    /// milliseconds. Bounded so a stuck Redis fails requests instead of hanging them.
    pub timeout_ms: u64,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig { url: "redis://127.0.0.1:6379".into(), prefix: "paht:".into(), timeout_ms: 2_000 }
    }
}

// The URL may carry a password: never print it.
impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &redact_url(&self.url))
            .field("prefix", &self.prefix)
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

/// The URL with any credentials replaced, fit for logs and error messages.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://***{}", &url[..scheme_end], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// The cache in a shared Redis. Cheap to clone: clones share one multiplexed
/// connection, which reconnects by itself after Redis restarts or the network drops.
#[derive(Clone)]
pub struct RedisCache {
    connection: ConnectionManager,
    prefix: String,
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCache").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

impl RedisCache {
    /// Connects to Redis and checks it answers. Fails fast when it does not, so a
    /// misconfigured service refuses to start rather than failing every request.
    pub async fn connect(config: RedisConfig) -> Result<Self, CacheError> {
        let client = Client::open(config.url.as_str())?;
        let timeout = Duration::from_millis(config.timeout_ms.max(1));
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            // Reconnect attempts back off up to a few seconds, not minutes: the cache
            // is on the request path and should come back as soon as Redis does.
            .set_max_delay(Duration::from_secs(5));
        let mut connection = ConnectionManager::new_with_config(client, manager_config).await?;
        let pong: String = redis::cmd("PING").query_async(&mut connection).await?;
        if pong != "PONG" {
            return Err(CacheError::UnexpectedReply(format!("PING answered {pong:?}")));
        }
        tracing::info!(url = %redact_url(&config.url), prefix = %config.prefix, "connected to redis");
        Ok(RedisCache { connection, prefix: config.prefix })
    }

    /// The key prefix of this cache.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The full Redis key for a key of the given kind.
    fn key(&self, kind: &str, key: &str) -> String {
        format!("{}{kind}:{key}", self.prefix)
    }

    /// A connection handle for one call (clones share the multiplexed connection).
    fn connection(&self) -> ConnectionManager {
        self.connection.clone()
    }
}

#[async_trait]
impl Cache for RedisCache {
    async fn put_if_absent(&self, key: &str, value: &str, ttl: Duration) -> Result<Option<String>, CacheError> {
        check_key("idempotency key", key)?;
        let ttl = ttl_millis("idempotency key TTL", ttl)?;
        let existing: Option<String> =
            PUT_IF_ABSENT.key(self.key("idem", key)).arg(value).arg(ttl).invoke_async(&mut self.connection()).await?;
        Ok(existing)
    }

    async fn get(&self, key: &str) -> Result<Option<String>, CacheError> {
        check_key("idempotency key", key)?;
        let value: Option<String> =
            redis::cmd("GET").arg(self.key("idem", key)).query_async(&mut self.connection()).await?;
        Ok(value)
    }

    async fn delete(&self, key: &str) -> Result<bool, CacheError> {
        check_key("idempotency key", key)?;
        let removed: u32 = redis::cmd("DEL").arg(self.key("idem", key)).query_async(&mut self.connection()).await?;
        Ok(removed > 0)
    }

    async fn rate_limit(&self, key: &str, limit: u32, window: Duration) -> Result<RateDecision, CacheError> {
        check_key("rate-limit key", key)?;
        check_rate(limit, window)?;
        let window_micros = u64::try_from(window.as_micros())
            .map_err(|_| CacheError::InvalidArgument("rate-limit window is too long".into()))?;
        // Each grant is its own member of the sorted set: two grants in the same
        // microsecond from two replicas must both count.
        let member = uuid::Uuid::new_v4().simple().to_string();
        let reply: Vec<i64> = RATE_LIMIT
            .key(self.key("rate", key))
            .arg(limit)
            .arg(window_micros)
            .arg(member)
            .invoke_async(&mut self.connection())
            .await?;
        let [allowed, remaining, retry_micros] = reply[..] else {
            return Err(CacheError::UnexpectedReply(format!("rate limit script returned {reply:?}")));
        };
        Ok(RateDecision {
            allowed: allowed == 1,
            remaining: u32::try_from(remaining).unwrap_or(0),
            retry_after: (allowed != 1).then(|| Duration::from_micros(u64::try_from(retry_micros).unwrap_or(1))),
        })
    }

    async fn acquire_lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool, CacheError> {
        check_key("lease name", name)?;
        check_key("lease holder", holder)?;
        let ttl = ttl_millis("lease TTL", ttl)?;
        let held: i64 = ACQUIRE_LEASE
            .key(self.key("lease", name))
            .arg(holder)
            .arg(ttl)
            .invoke_async(&mut self.connection())
            .await?;
        Ok(held == 1)
    }

    async fn renew_lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool, CacheError> {
        check_key("lease name", name)?;
        check_key("lease holder", holder)?;
        let ttl = ttl_millis("lease TTL", ttl)?;
        let renewed: i64 =
            RENEW_LEASE.key(self.key("lease", name)).arg(holder).arg(ttl).invoke_async(&mut self.connection()).await?;
        Ok(renewed == 1)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, CacheError> {
        check_key("lease name", name)?;
        check_key("lease holder", holder)?;
        let released: i64 =
            RELEASE_LEASE.key(self.key("lease", name)).arg(holder).invoke_async(&mut self.connection()).await?;
        Ok(released == 1)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::cache::conformance;

    /// The test Redis (`PAHT_TEST_REDIS_URL`, default 127.0.0.1:6379) under a fresh
    /// prefix. Tests run against a real Redis and fail if there is none; set
    /// `PAHT_TEST_SKIP_REDIS=1` to skip them deliberately.
    fn test_config() -> Option<RedisConfig> {
        if std::env::var_os("PAHT_TEST_SKIP_REDIS").is_some() {
            eprintln!("PAHT_TEST_SKIP_REDIS is set: skipping a Redis test");
            return None;
        }
        let url = std::env::var("PAHT_TEST_REDIS_URL").unwrap_or_else(|_| RedisConfig::default().url);
        let prefix = format!("paht-test:{}:", uuid::Uuid::new_v4().simple());
        Some(RedisConfig { url, prefix, timeout_ms: 5_000 })
    }

    /// Connects with `config`, failing the test with a hint when Redis is not there.
    async fn connect(config: &RedisConfig) -> RedisCache {
        match RedisCache::connect(config.clone()).await {
            Ok(cache) => cache,
            Err(error) => {
                panic!("no Redis at {}: {error}; start one or set PAHT_TEST_SKIP_REDIS=1", redact_url(&config.url))
            }
        }
    }

    /// A cache on the test Redis under a fresh prefix, or `None` when skipped.
    async fn test_cache() -> Option<RedisCache> {
        match test_config() {
            Some(config) => Some(connect(&config).await),
            None => None,
        }
    }

    /// Deletes every key under the test's prefix and returns how many there were. Keys
    /// left behind by a failed test expire anyway: every key this cache writes has a TTL.
    async fn purge(cache: &RedisCache) -> usize {
        let mut connection = cache.connection();
        let pattern = format!("{}*", cache.prefix());
        let mut cursor: u64 = 0;
        let mut removed = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut connection)
                .await
                .unwrap();
            if !keys.is_empty() {
                let deleted: usize = redis::cmd("DEL").arg(&keys).query_async(&mut connection).await.unwrap();
                removed += deleted;
            }
            if next == 0 {
                return removed;
            }
            cursor = next;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn idempotency_keys() {
        let Some(cache) = test_cache().await else { return };
        conformance::idempotency(&cache).await;
        purge(&cache).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn rate_limit_window() {
        let Some(cache) = test_cache().await else { return };
        conformance::rate_limit_window(&cache).await;
        purge(&cache).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn rate_limit_under_concurrency() {
        let Some(config) = test_config() else { return };
        let cache = connect(&config).await;
        conformance::rate_limit_concurrent(Arc::new(cache.clone())).await;
        // Separate connections too, as several replicas have.
        let mut replicas: Vec<Arc<dyn Cache>> = Vec::new();
        for _ in 0..4 {
            replicas.push(Arc::new(connect(&config).await));
        }
        conformance::rate_limit_across_replicas(replicas).await;
        purge(&cache).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn leases() {
        let Some(cache) = test_cache().await else { return };
        conformance::leases(&cache).await;
        purge(&cache).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn arguments_are_checked() {
        let Some(cache) = test_cache().await else { return };
        conformance::arguments(&cache).await;
        assert_eq!(purge(&cache).await, 0, "refused calls must write nothing");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn keys_carry_the_prefix_and_a_ttl() {
        let Some(cache) = test_cache().await else { return };
        cache.put_if_absent("k", "v", Duration::from_secs(30)).await.unwrap();
        cache.rate_limit("k", 5, Duration::from_secs(30)).await.unwrap();
        cache.acquire_lease("k", "me", Duration::from_secs(30)).await.unwrap();
        let mut connection = cache.connection();
        for kind in ["idem", "rate", "lease"] {
            let key = format!("{}{kind}:k", cache.prefix());
            let ttl: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut connection).await.unwrap();
            assert!(ttl > 0 && ttl <= 30_000, "{key} has TTL {ttl}");
        }
        assert_eq!(purge(&cache).await, 3);
    }

    #[tokio::test]
    async fn connect_fails_on_a_dead_address() {
        // Port 1 on loopback refuses connections at once; the manager retries a few
        // times with back-off (seconds), then gives up.
        let config = RedisConfig { url: "redis://127.0.0.1:1".into(), timeout_ms: 500, ..RedisConfig::default() };
        let error = RedisCache::connect(config).await.unwrap_err();
        assert!(matches!(error, CacheError::Redis(_)), "{error:?}");
    }

    #[test]
    fn credentials_never_show() {
        assert_eq!(redact_url("redis://user:s3cret@host:6379/0"), "redis://***@host:6379/0");
        assert_eq!(redact_url("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        let config = RedisConfig { url: "rediss://:s3cret@host".into(), ..RedisConfig::default() };
        assert!(!format!("{config:?}").contains("s3cret"));
    }
}
