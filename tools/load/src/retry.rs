//! When a workflow step retries. Routing, processing and publication learn of another service's
//! step from its events (docs/contract: replicas fed by the bus), so right after AcceptReport
//! routing may not know the report yet (NOT_FOUND) or still see it RECEIVED
//! (FAILED_PRECONDITION), the same for processing right after Dispatch, and for publication
//! until routing's `report.resolved` has reached it after ApproveResult. Those two codes are
//! retried with a doubling back-off until the step goes through or the patience runs out; every
//! other code fails the flow at once, and so does a refusal with error details (the flow driver
//! checks those: the personal-data guard's findings, which no event will change).

use std::time::Duration;

use tonic::Code;

/// The back-off of one retried step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    /// The wait before the first retry; doubled before each next one.
    pub first_delay: Duration,
    /// The longest wait between two attempts.
    pub max_delay: Duration,
    /// The longest time a step may spend waiting, from its first attempt; a retry that would
    /// start later is not made and the step fails with the last code.
    pub patience: Duration,
}

impl RetryPolicy {
    /// A policy that never retries (steps within one service: nothing to wait for).
    pub const NEVER: RetryPolicy =
        RetryPolicy { first_delay: Duration::ZERO, max_delay: Duration::ZERO, patience: Duration::ZERO };

    /// Whether a code means "the other service has not caught up yet".
    pub fn is_propagation(code: Code) -> bool {
        matches!(code, Code::FailedPrecondition | Code::NotFound)
    }

    /// The wait before retry number `retry` (1 for the first): `first_delay × 2^(retry−1)`,
    /// at most `max_delay`.
    pub fn delay(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.saturating_sub(1)).unwrap_or(u32::MAX);
        self.first_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// After an attempt failed with `code`, having made `retries` retries so far and spent
    /// `elapsed` since the first attempt: the wait before the next attempt, or `None` to fail.
    pub fn next(&self, code: Code, retries: u32, elapsed: Duration) -> Option<Duration> {
        if !Self::is_propagation(code) || self.patience.is_zero() {
            return None;
        }
        let delay = self.delay(retries + 1);
        (elapsed + delay <= self.patience).then_some(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn policy() -> RetryPolicy {
        RetryPolicy { first_delay: ms(2), max_delay: ms(50), patience: ms(1_000) }
    }

    #[test]
    fn delays_double_up_to_the_cap() {
        let p = policy();
        let delays: Vec<u64> = (1..=8).map(|r| p.delay(r).as_millis() as u64).collect();
        assert_eq!(delays, [2, 4, 8, 16, 32, 50, 50, 50]);
        // No overflow however long it goes on.
        assert_eq!(p.delay(40), ms(50));
        assert_eq!(p.delay(u32::MAX), ms(50));
    }

    #[test]
    fn only_not_caught_up_codes_are_retried() {
        let p = policy();
        assert_eq!(p.next(Code::FailedPrecondition, 0, Duration::ZERO), Some(ms(2)));
        assert_eq!(p.next(Code::NotFound, 3, ms(30)), Some(ms(16)));
        for code in [
            Code::PermissionDenied,
            Code::Unauthenticated,
            Code::InvalidArgument,
            Code::Unavailable,
            Code::DeadlineExceeded,
            Code::Internal,
            Code::ResourceExhausted,
        ] {
            assert_eq!(p.next(code, 0, Duration::ZERO), None, "{code:?}");
        }
    }

    #[test]
    fn patience_bounds_the_wait() {
        let p = policy();
        // 950 ms spent, the next wait is 50 ms: exactly on the limit is still allowed.
        assert_eq!(p.next(Code::NotFound, 10, ms(950)), Some(ms(50)));
        assert_eq!(p.next(Code::NotFound, 10, ms(951)), None);
        // The sum of every wait the policy grants stays within the patience.
        let (mut elapsed, mut retries) = (Duration::ZERO, 0);
        while let Some(d) = p.next(Code::FailedPrecondition, retries, elapsed) {
            elapsed += d;
            retries += 1;
        }
        assert!(elapsed <= ms(1_000) && elapsed > ms(950), "{elapsed:?}");
        assert_eq!(retries, 5 + (1_000 - 62) / 50, "2+4+8+16+32 = 62 ms, then 50 ms steps");
    }

    #[test]
    fn never_retries_nothing() {
        assert_eq!(RetryPolicy::NEVER.next(Code::FailedPrecondition, 0, Duration::ZERO), None);
        assert_eq!(RetryPolicy::NEVER.next(Code::NotFound, 0, Duration::ZERO), None);
    }
}
