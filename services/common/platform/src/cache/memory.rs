//! The cache in process memory, for embedded mode: the same semantics as Redis for a
//! single process.
//!
//! One mutex guards all state; each operation is one short critical section with no
//! await inside, which makes every operation atomic, as the Redis scripts are. Time is
//! tokio's clock, so tests can pause and advance it. Expired entries are invisible at
//! once and are dropped lazily: the entry an operation touches, and every entry in a
//! full sweep run by whichever operation comes once `sweep_interval` has passed — so
//! memory stays bounded by what is live plus one interval's worth, with no background task.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::{Cache, CacheError, RateDecision, check_key, check_rate, ttl_millis};

/// How often a full sweep of expired entries runs by default.
const DEFAULT_SWEEP_INTERVAL: Duration = Duration::from_secs(30);

/// The cache in process memory. Clones share the same state.
#[derive(Clone)]
pub struct MemoryCache {
    state: Arc<Mutex<State>>,
    sweep_interval: Duration,
}

impl std::fmt::Debug for MemoryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryCache").field("sweep_interval", &self.sweep_interval).finish_non_exhaustive()
    }
}

impl Default for MemoryCache {
    fn default() -> Self {
        Self::new()
    }
}

/// A value or a lease holder, with its expiry.
#[derive(Debug)]
struct Expiring {
    value: String,
    expires_at: Instant,
}

impl Expiring {
    fn is_live(&self, now: Instant) -> bool {
        self.expires_at > now
    }
}

/// The times of the granted requests of one rate-limit key, oldest first.
#[derive(Debug)]
struct RateLog {
    window: Duration,
    grants: VecDeque<Instant>,
}

impl RateLog {
    /// Forgets the grants that have left the window ending at `now`.
    fn forget_old(&mut self, now: Instant) {
        while self.grants.front().is_some_and(|&granted| granted + self.window <= now) {
            self.grants.pop_front();
        }
    }
}

#[derive(Debug)]
struct State {
    values: HashMap<String, Expiring>,
    rates: HashMap<String, RateLog>,
    leases: HashMap<String, Expiring>,
    last_sweep: Instant,
}

impl State {
    /// Drops everything expired, at most once per `interval`.
    fn sweep_if_due(&mut self, now: Instant, interval: Duration) {
        if now.duration_since(self.last_sweep) < interval {
            return;
        }
        self.last_sweep = now;
        self.values.retain(|_, entry| entry.is_live(now));
        self.leases.retain(|_, entry| entry.is_live(now));
        self.rates.retain(|_, log| {
            log.forget_old(now);
            !log.grants.is_empty()
        });
    }

    /// The live holder of a lease, dropping an expired one.
    fn live_lease(&mut self, name: &str, now: Instant) -> Option<&mut Expiring> {
        if self.leases.get(name).is_some_and(|lease| !lease.is_live(now)) {
            self.leases.remove(name);
        }
        self.leases.get_mut(name)
    }
}

impl MemoryCache {
    /// An empty cache that sweeps expired entries every 30 seconds.
    pub fn new() -> Self {
        Self::with_sweep_interval(DEFAULT_SWEEP_INTERVAL)
    }

    /// An empty cache that sweeps expired entries at most every `sweep_interval`.
    pub fn with_sweep_interval(sweep_interval: Duration) -> Self {
        let state =
            State { values: HashMap::new(), rates: HashMap::new(), leases: HashMap::new(), last_sweep: Instant::now() };
        MemoryCache { state: Arc::new(Mutex::new(state)), sweep_interval }
    }

    /// Locks the state and sweeps it if due. A panic while the lock was held cannot
    /// leave the maps half-updated (each operation changes one entry), so a poisoned
    /// lock is still safe to use.
    fn lock(&self, now: Instant) -> MutexGuard<'_, State> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.sweep_if_due(now, self.sweep_interval);
        state
    }

    /// How many entries (values, rate logs, leases) the cache holds, live or not yet
    /// swept; for tests and diagnostics.
    pub fn len(&self) -> usize {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.values.len() + state.rates.len() + state.leases.len()
    }

    /// Whether the cache holds no entry at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl Cache for MemoryCache {
    async fn put_if_absent(&self, key: &str, value: &str, ttl: Duration) -> Result<Option<String>, CacheError> {
        check_key("idempotency key", key)?;
        ttl_millis("idempotency key TTL", ttl)?;
        let now = Instant::now();
        let mut state = self.lock(now);
        match state.values.get(key) {
            Some(existing) if existing.is_live(now) => Ok(Some(existing.value.clone())),
            _ => {
                state.values.insert(key.to_owned(), Expiring { value: value.to_owned(), expires_at: now + ttl });
                Ok(None)
            }
        }
    }

    async fn get(&self, key: &str) -> Result<Option<String>, CacheError> {
        check_key("idempotency key", key)?;
        let now = Instant::now();
        let state = self.lock(now);
        Ok(state.values.get(key).filter(|entry| entry.is_live(now)).map(|entry| entry.value.clone()))
    }

    async fn delete(&self, key: &str) -> Result<bool, CacheError> {
        check_key("idempotency key", key)?;
        let now = Instant::now();
        let mut state = self.lock(now);
        Ok(state.values.remove(key).is_some_and(|entry| entry.is_live(now)))
    }

    async fn rate_limit(&self, key: &str, limit: u32, window: Duration) -> Result<RateDecision, CacheError> {
        check_key("rate-limit key", key)?;
        check_rate(limit, window)?;
        let now = Instant::now();
        let mut state = self.lock(now);
        let log = state.rates.entry(key.to_owned()).or_insert_with(|| RateLog { window, grants: VecDeque::new() });
        // The window is the caller's: if it changed since the last call, the new one counts.
        log.window = window;
        log.forget_old(now);
        let used = u32::try_from(log.grants.len()).unwrap_or(u32::MAX);
        if used < limit {
            log.grants.push_back(now);
            return Ok(RateDecision { allowed: true, remaining: limit - used - 1, retry_after: None });
        }
        let retry_after = log
            .grants
            .front()
            .map(|&oldest| (oldest + window).saturating_duration_since(now))
            .unwrap_or(window)
            .max(Duration::from_micros(1));
        Ok(RateDecision { allowed: false, remaining: 0, retry_after: Some(retry_after) })
    }

    async fn acquire_lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool, CacheError> {
        check_key("lease name", name)?;
        check_key("lease holder", holder)?;
        ttl_millis("lease TTL", ttl)?;
        let now = Instant::now();
        let mut state = self.lock(now);
        match state.live_lease(name, now) {
            Some(lease) if lease.value == holder => {
                lease.expires_at = now + ttl;
                Ok(true)
            }
            Some(_) => Ok(false),
            None => {
                state.leases.insert(name.to_owned(), Expiring { value: holder.to_owned(), expires_at: now + ttl });
                Ok(true)
            }
        }
    }

    async fn renew_lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool, CacheError> {
        check_key("lease name", name)?;
        check_key("lease holder", holder)?;
        ttl_millis("lease TTL", ttl)?;
        let now = Instant::now();
        let mut state = self.lock(now);
        match state.live_lease(name, now) {
            Some(lease) if lease.value == holder => {
                lease.expires_at = now + ttl;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, CacheError> {
        check_key("lease name", name)?;
        check_key("lease holder", holder)?;
        let now = Instant::now();
        let mut state = self.lock(now);
        if state.live_lease(name, now).is_some_and(|lease| lease.value == holder) {
            state.leases.remove(name);
            return Ok(true);
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::conformance;

    // The clock is paused: sleeps in the shared suite advance it instantly and exactly.

    #[tokio::test(start_paused = true)]
    async fn idempotency_keys() {
        conformance::idempotency(&MemoryCache::new()).await;
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limit_window() {
        conformance::rate_limit_window(&MemoryCache::new()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn rate_limit_under_concurrency() {
        let cache = MemoryCache::new();
        conformance::rate_limit_concurrent(Arc::new(cache.clone())).await;
        let replicas: Vec<Arc<dyn Cache>> = (0..4).map(|_| Arc::new(cache.clone()) as Arc<dyn Cache>).collect();
        conformance::rate_limit_across_replicas(replicas).await;
    }

    #[tokio::test(start_paused = true)]
    async fn leases() {
        conformance::leases(&MemoryCache::new()).await;
    }

    #[tokio::test(start_paused = true)]
    async fn arguments_are_checked() {
        let cache = MemoryCache::new();
        conformance::arguments(&cache).await;
        assert!(cache.is_empty(), "refused calls must store nothing");
    }

    #[tokio::test(start_paused = true)]
    async fn expired_entries_are_swept_so_memory_stays_bounded() {
        let cache = MemoryCache::with_sweep_interval(Duration::from_secs(10));
        for i in 0..1_000 {
            let key = format!("k{i}");
            cache.put_if_absent(&key, "v", Duration::from_secs(5)).await.unwrap();
            cache.rate_limit(&key, 3, Duration::from_secs(5)).await.unwrap();
            cache.acquire_lease(&key, "holder", Duration::from_secs(5)).await.unwrap();
        }
        assert_eq!(cache.len(), 3_000);
        tokio::time::advance(Duration::from_secs(11)).await;
        // Any operation after the interval sweeps everything expired.
        cache.put_if_absent("live", "v", Duration::from_secs(60)).await.unwrap();
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.get("live").await.unwrap().as_deref(), Some("v"));
    }

    #[tokio::test(start_paused = true)]
    async fn sweep_keeps_live_entries() {
        let cache = MemoryCache::with_sweep_interval(Duration::from_secs(1));
        cache.put_if_absent("long", "v", Duration::from_secs(60)).await.unwrap();
        cache.rate_limit("long", 2, Duration::from_secs(60)).await.unwrap();
        cache.acquire_lease("long", "a", Duration::from_secs(60)).await.unwrap();
        tokio::time::advance(Duration::from_secs(2)).await;
        cache.get("other").await.unwrap();
        assert_eq!(cache.len(), 3);
        let decision = cache.rate_limit("long", 2, Duration::from_secs(60)).await.unwrap();
        assert_eq!(decision, RateDecision { allowed: true, remaining: 0, retry_after: None });
        assert!(!cache.acquire_lease("long", "b", Duration::from_secs(1)).await.unwrap());
    }
}
