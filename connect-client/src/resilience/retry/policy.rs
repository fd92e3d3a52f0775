//! Policies: how a method is retried ([`RetryPolicy`]) or hedged
//! ([`HedgingPolicy`]), and which policy a call gets ([`RetryConfig`](super::RetryConfig)).

use std::time::Duration;

use connect_core::Code;

/// The most attempts a policy may make, retries or hedges (gRFC A6).
pub const MAX_ATTEMPTS: u32 = 5;

/// A set of status codes, one bit per gRPC code number.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CodeSet(u32);

impl CodeSet {
    pub(crate) fn of(codes: impl IntoIterator<Item = Code>) -> Self {
        CodeSet(
            codes
                .into_iter()
                .fold(0, |bits, c| bits | 1 << c.grpc_number()),
        )
    }

    pub(crate) fn contains(self, code: Code) -> bool {
        self.0 & (1 << code.grpc_number()) != 0
    }
}

impl std::fmt::Debug for CodeSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set()
            .entries(Code::all().iter().filter(|c| self.contains(**c)))
            .finish()
    }
}

/// How a method is retried (gRFC A6 `retryPolicy`): up to `max_attempts`
/// attempts in all (capped at [`MAX_ATTEMPTS`]), after a failure whose
/// code is retryable, waiting an exponential backoff with ±20 % jitter.
///
/// The default is the policy idempotent methods get: 3 attempts, 100 ms
/// initial backoff, 1 s at most, ×2, retrying `unavailable`.
///
/// ```
/// use std::time::Duration;
/// use connect_client::resilience::retry::RetryPolicy;
/// use connect_core::Code;
///
/// let policy = RetryPolicy::default()
///     .max_attempts(9)
///     .initial_backoff(Duration::from_millis(50))
///     .retryable_codes([Code::Unavailable, Code::ResourceExhausted]);
/// assert_eq!(policy.get_max_attempts(), 5); // capped
/// assert!(policy.retries(Code::ResourceExhausted));
/// assert!(!policy.retries(Code::DeadlineExceeded));
/// // Non-idempotent methods get only transparent retries by default.
/// assert_eq!(RetryPolicy::transparent_only().get_max_attempts(), 1);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    pub(crate) max_attempts: u32,
    pub(crate) initial_backoff: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) multiplier: f64,
    pub(crate) codes: CodeSet,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            multiplier: 2.0,
            codes: CodeSet::of([Code::Unavailable]),
        }
    }
}

impl RetryPolicy {
    /// One attempt: only transparent retries (requests the server never
    /// processed), what methods without an idempotency level get.
    pub fn transparent_only() -> Self {
        RetryPolicy {
            max_attempts: 1,
            codes: CodeSet::default(),
            ..RetryPolicy::default()
        }
    }

    /// Attempts in all, the first included: clamped to `1..=5`.
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.clamp(1, MAX_ATTEMPTS);
        self
    }

    /// The backoff before the first retry (before jitter).
    pub fn initial_backoff(mut self, d: Duration) -> Self {
        self.initial_backoff = d;
        self
    }

    /// The largest backoff (before jitter).
    pub fn max_backoff(mut self, d: Duration) -> Self {
        self.max_backoff = d;
        self
    }

    /// What each backoff is multiplied by (at least 1; NaN is 1).
    pub fn backoff_multiplier(mut self, m: f64) -> Self {
        self.multiplier = if m >= 1.0 { m.min(1e6) } else { 1.0 };
        self
    }

    /// The codes a failed attempt is retried for (replacing the set).
    pub fn retryable_codes(mut self, codes: impl IntoIterator<Item = Code>) -> Self {
        self.codes = CodeSet::of(codes);
        self
    }

    /// The attempt limit.
    pub fn get_max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// Whether a failure with `code` is retried.
    pub fn retries(&self, code: Code) -> bool {
        self.codes.contains(code)
    }

    /// The backoff before retry `n` (1 for the first), jitter not applied:
    /// `min(initial × multiplierⁿ⁻¹, max)`.
    pub fn backoff(&self, n: u32) -> Duration {
        let exp = self
            .multiplier
            .powi(n.saturating_sub(1).min(64) as i32)
            .min(1e9);
        let secs = self.initial_backoff.as_secs_f64() * exp;
        Duration::try_from_secs_f64(secs)
            .unwrap_or(self.max_backoff)
            .min(self.max_backoff)
    }
}

/// When the next hedge is sent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum HedgingDelay {
    /// A fixed delay after the previous attempt.
    Fixed(Duration),
    /// The method's `percentile` (0–100) latency of successful attempts
    /// so far; `fallback` until 20 have been seen.
    Percentile {
        /// The latency percentile, as 95.0 for p95.
        percentile: f64,
        /// The delay until enough latencies were seen.
        fallback: Duration,
    },
}

/// How a method is hedged (gRFC A6 `hedgingPolicy`): the first attempt
/// now, another after each delay while none has answered, up to
/// `max_attempts` (capped at [`MAX_ATTEMPTS`]); the first attempt that
/// succeeds or fails fatally wins and the others are cancelled. A failure
/// with a non-fatal code (`unavailable` by default) sends the next hedge
/// at once.
///
/// Hedging is off by default: it multiplies the load a slow server sees,
/// and only methods that may run twice (`NO_SIDE_EFFECTS`, `IDEMPOTENT`)
/// should be hedged; opt in per method or service with
/// [`RetryConfig::method`](super::RetryConfig::method) /
/// [`RetryConfig::service`](super::RetryConfig::service). Only calls whose
/// request is one message (unary, server streams) are hedged; a client or
/// bidi stream configured for hedging is sent once, with transparent
/// retries only.
///
/// ```
/// use std::time::Duration;
/// use connect_client::resilience::retry::{HedgingDelay, HedgingPolicy};
///
/// let fixed = HedgingPolicy::new(3, HedgingDelay::Fixed(Duration::from_millis(20)));
/// let p95 = HedgingPolicy::new(2, HedgingDelay::Percentile {
///     percentile: 95.0,
///     fallback: Duration::from_millis(50),
/// });
/// assert_eq!(fixed.get_max_attempts(), 3);
/// # let _ = p95;
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct HedgingPolicy {
    pub(crate) max_attempts: u32,
    pub(crate) delay: HedgingDelay,
    pub(crate) non_fatal: CodeSet,
}

impl HedgingPolicy {
    /// Up to `max_attempts` attempts (clamped to `1..=5`), `delay` apart.
    pub fn new(max_attempts: u32, delay: HedgingDelay) -> Self {
        HedgingPolicy {
            max_attempts: max_attempts.clamp(1, MAX_ATTEMPTS),
            delay,
            non_fatal: CodeSet::of([Code::Unavailable]),
        }
    }

    /// The codes that do not end the call: the other attempts go on
    /// (replacing the set; `unavailable` by default).
    pub fn non_fatal_codes(mut self, codes: impl IntoIterator<Item = Code>) -> Self {
        self.non_fatal = CodeSet::of(codes);
        self
    }

    /// The attempt limit.
    pub fn get_max_attempts(&self) -> u32 {
        self.max_attempts
    }
}

/// What a method gets: retries or hedging (gRFC A6 allows one of them).
#[derive(Clone, Debug, PartialEq)]
pub enum MethodPolicy {
    /// Retry after failures.
    Retry(RetryPolicy),
    /// Send hedges after delays.
    Hedge(HedgingPolicy),
}

impl From<RetryPolicy> for MethodPolicy {
    fn from(p: RetryPolicy) -> Self {
        MethodPolicy::Retry(p)
    }
}

impl From<HedgingPolicy> for MethodPolicy {
    fn from(p: HedgingPolicy) -> Self {
        MethodPolicy::Hedge(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_cap() {
        let p = RetryPolicy::default();
        let ms = |n| p.backoff(n).as_millis();
        assert_eq!(
            [ms(1), ms(2), ms(3), ms(4), ms(5)],
            [100, 200, 400, 800, 1000]
        );
        assert_eq!(ms(1000), 1000);
        assert_eq!(RetryPolicy::default().max_attempts(0).get_max_attempts(), 1);
    }

    #[test]
    fn code_sets() {
        let s = CodeSet::of([Code::Unavailable, Code::Aborted]);
        assert!(s.contains(Code::Aborted) && !s.contains(Code::Internal));
        assert_eq!(format!("{s:?}"), "{Aborted, Unavailable}");
    }
}
