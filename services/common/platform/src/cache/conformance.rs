//! The behaviour every [`Cache`] must have, run against each implementation: Redis on
//! the real server (real time), memory with tokio's clock paused (sleeps advance it).
//! Durations are a second or so, with margins that let the Redis runs stay reliable on
//! a loaded machine (a late wake-up only makes an expiry more certain).

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::sleep;

use super::{Cache, CacheError, MAX_KEY_LEN, RateDecision};

/// Margin added to sleeps meant to outlast a TTL or window.
const MARGIN: Duration = Duration::from_millis(200);

/// put_if_absent: first stores, second returns the first value, expiry frees the key.
pub(crate) async fn idempotency(cache: &dyn Cache) {
    let ttl = Duration::from_secs(1);
    assert_eq!(cache.put_if_absent("submit:zalo:msg-1", "report-A", ttl).await.unwrap(), None);
    assert_eq!(cache.put_if_absent("submit:zalo:msg-1", "report-B", ttl).await.unwrap().as_deref(), Some("report-A"));
    assert_eq!(cache.get("submit:zalo:msg-1").await.unwrap().as_deref(), Some("report-A"));
    // Another key is independent.
    assert_eq!(cache.put_if_absent("submit:zalo:msg-2", "report-C", ttl).await.unwrap(), None);
    assert_eq!(cache.get("never-set").await.unwrap(), None);

    sleep(ttl + MARGIN).await;
    assert_eq!(cache.get("submit:zalo:msg-1").await.unwrap(), None, "the value outlived its TTL");
    assert_eq!(cache.put_if_absent("submit:zalo:msg-1", "report-D", ttl).await.unwrap(), None);
    assert_eq!(cache.get("submit:zalo:msg-1").await.unwrap().as_deref(), Some("report-D"));

    // A failed first attempt removes its key so the retry does the work again.
    assert!(cache.delete("submit:zalo:msg-1").await.unwrap());
    assert!(!cache.delete("submit:zalo:msg-1").await.unwrap());
    assert_eq!(cache.put_if_absent("submit:zalo:msg-1", "report-E", ttl).await.unwrap(), None);
    assert!(cache.delete("submit:zalo:msg-1").await.unwrap());
}

/// Exactly `limit` grants per window, then a refusal that says when to retry, and
/// recovery once the oldest grant leaves the window.
pub(crate) async fn rate_limit_window(cache: &dyn Cache) {
    let window = Duration::from_secs(1);
    for expected_remaining in [2, 1, 0] {
        let decision = cache.rate_limit("ip:203.0.113.7", 3, window).await.unwrap();
        assert_eq!(decision, RateDecision { allowed: true, remaining: expected_remaining, retry_after: None });
    }
    let refused = cache.rate_limit("ip:203.0.113.7", 3, window).await.unwrap();
    assert!(!refused.allowed);
    assert_eq!(refused.remaining, 0);
    let retry_after = refused.retry_after.expect("a refusal says when to retry");
    assert!(retry_after > Duration::ZERO && retry_after <= window, "retry_after {retry_after:?}");
    // Refusals are not counted, and another key is not affected.
    assert!(!cache.rate_limit("ip:203.0.113.7", 3, window).await.unwrap().allowed);
    assert!(cache.rate_limit("ip:198.51.100.1", 3, window).await.unwrap().allowed);

    sleep(window + MARGIN).await;
    for expected_remaining in [2, 1, 0] {
        let decision = cache.rate_limit("ip:203.0.113.7", 3, window).await.unwrap();
        assert_eq!(decision.remaining, expected_remaining, "the full limit is back after the window");
        assert!(decision.allowed);
    }
    assert!(!cache.rate_limit("ip:203.0.113.7", 3, window).await.unwrap().allowed);

    // The window slides: a grant frees its place exactly `window` after it was made,
    // not at a fixed boundary.
    let window = Duration::from_secs(2);
    assert!(cache.rate_limit("phone:0901234567", 2, window).await.unwrap().allowed);
    sleep(Duration::from_secs(1)).await;
    assert!(cache.rate_limit("phone:0901234567", 2, window).await.unwrap().allowed);
    let refused = cache.rate_limit("phone:0901234567", 2, window).await.unwrap();
    let retry_after = refused.retry_after.expect("refused");
    assert!(
        retry_after > Duration::ZERO && retry_after <= Duration::from_secs(1),
        "the first grant leaves the window at most 1 s from now (not a full window), not {retry_after:?}"
    );
    sleep(retry_after + MARGIN).await;
    let decision = cache.rate_limit("phone:0901234567", 2, window).await.unwrap();
    assert_eq!(decision, RateDecision { allowed: true, remaining: 0, retry_after: None }, "only one place freed");
}

/// Counts the grants of `calls` concurrent tasks spread over `caches` on one key.
async fn burst(caches: &[Arc<dyn Cache>], key: &str, calls: usize, limit: u32) -> Vec<u32> {
    let mut tasks = JoinSet::new();
    for i in 0..calls {
        let cache = Arc::clone(&caches[i % caches.len()]);
        let key = key.to_owned();
        tasks.spawn(async move { cache.rate_limit(&key, limit, Duration::from_secs(60)).await.unwrap() });
    }
    let mut remaining_of_grants = Vec::new();
    while let Some(decision) = tasks.join_next().await {
        let decision = decision.unwrap();
        if decision.allowed {
            remaining_of_grants.push(decision.remaining);
        } else {
            assert!(decision.retry_after.is_some());
        }
    }
    remaining_of_grants.sort_unstable();
    remaining_of_grants
}

/// 200 concurrent tasks against a limit of 50: exactly 50 granted, each seeing a
/// distinct `remaining` — no two tasks read the same count.
pub(crate) async fn rate_limit_concurrent(cache: Arc<dyn Cache>) {
    let grants = burst(&[cache], "burst", 200, 50).await;
    assert_eq!(grants, (0..50).collect::<Vec<u32>>());
}

/// The same through several handles (as several replicas hold), on one key.
pub(crate) async fn rate_limit_across_replicas(replicas: Vec<Arc<dyn Cache>>) {
    let grants = burst(&replicas, "burst-replicas", 200, 50).await;
    assert_eq!(grants, (0..50).collect::<Vec<u32>>());
}

/// A lease belongs to one holder until it is released or expires.
pub(crate) async fn leases(cache: &dyn Cache) {
    let long = Duration::from_secs(30);
    assert!(cache.acquire_lease("deadline-sweeper", "replica-a", long).await.unwrap());
    assert!(!cache.acquire_lease("deadline-sweeper", "replica-b", long).await.unwrap(), "B took A's lease");
    assert!(!cache.renew_lease("deadline-sweeper", "replica-b", long).await.unwrap(), "B renewed A's lease");
    assert!(!cache.release_lease("deadline-sweeper", "replica-b").await.unwrap(), "B released A's lease");
    assert!(!cache.acquire_lease("deadline-sweeper", "replica-b", long).await.unwrap(), "A's lease is gone");
    // Acquiring again as the holder extends rather than fails.
    assert!(cache.acquire_lease("deadline-sweeper", "replica-a", long).await.unwrap());
    assert!(cache.renew_lease("deadline-sweeper", "replica-a", long).await.unwrap());
    // Another lease name is independent.
    assert!(cache.acquire_lease("outbox-relay", "replica-b", long).await.unwrap());

    assert!(cache.release_lease("deadline-sweeper", "replica-a").await.unwrap());
    assert!(!cache.release_lease("deadline-sweeper", "replica-a").await.unwrap(), "released twice");
    assert!(!cache.renew_lease("deadline-sweeper", "replica-a", long).await.unwrap(), "renewed after release");
    assert!(cache.acquire_lease("deadline-sweeper", "replica-b", long).await.unwrap(), "release freed it");
    assert!(cache.release_lease("deadline-sweeper", "replica-b").await.unwrap());
    assert!(cache.release_lease("outbox-relay", "replica-b").await.unwrap());

    // Expiry frees a lease whose holder stopped renewing; the old holder cannot renew.
    let short = Duration::from_millis(500);
    assert!(cache.acquire_lease("deadline-sweeper", "replica-a", short).await.unwrap());
    assert!(cache.renew_lease("deadline-sweeper", "replica-a", short).await.unwrap());
    sleep(short + MARGIN).await;
    assert!(cache.acquire_lease("deadline-sweeper", "replica-b", long).await.unwrap(), "expiry freed it");
    assert!(!cache.renew_lease("deadline-sweeper", "replica-a", short).await.unwrap(), "A renewed a lost lease");
    assert!(cache.release_lease("deadline-sweeper", "replica-b").await.unwrap());
}

/// Bad arguments are refused with a clear error and change nothing.
pub(crate) async fn arguments(cache: &dyn Cache) {
    fn invalid<T: std::fmt::Debug>(result: Result<T, CacheError>) -> String {
        match result {
            Err(CacheError::InvalidArgument(message)) => message,
            other => panic!("expected InvalidArgument, got {other:?}"),
        }
    }
    let ttl = Duration::from_secs(1);
    assert!(invalid(cache.put_if_absent("", "v", ttl).await).contains("empty"));
    assert!(invalid(cache.get(&"x".repeat(MAX_KEY_LEN + 1)).await).contains("at most"));
    assert!(invalid(cache.put_if_absent("k", "v", Duration::ZERO).await).contains("longer than zero"));
    assert!(invalid(cache.rate_limit("k", 0, ttl).await).contains("at least one"));
    assert!(invalid(cache.rate_limit("k", 1, Duration::ZERO).await).contains("window"));
    assert!(invalid(cache.acquire_lease("lease", "", ttl).await).contains("holder"));
    assert!(invalid(cache.renew_lease("lease", "a", Duration::ZERO).await).contains("TTL"));
    assert!(invalid(cache.release_lease("", "a").await).contains("lease name"));
}
