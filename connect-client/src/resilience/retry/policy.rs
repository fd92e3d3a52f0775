//! Policies: how a method is retried ([`RetryPolicy`]) or hedged
//! ([`HedgingPolicy`]), and which policy a call gets ([`RetryConfig`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use connect_core::{Code, Idempotency, MethodDescriptor};

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
/// [`RetryConfig::method`] / [`RetryConfig::service`]. Only calls whose
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

/// Which policy each call gets, and the limits the retry layer shares
/// across calls.
///
/// | setting | default |
/// | --- | --- |
/// | `NO_SIDE_EFFECTS` / `IDEMPOTENT` methods | [`RetryPolicy::default`]: 3 attempts, 100 ms–1 s, ×2, `unavailable` |
/// | other methods | [`RetryPolicy::transparent_only`] |
/// | hedging | off (opt in per method or service) |
/// | transparent retries per call | 3 |
/// | throttle | 10 tokens, 0.1 per success (retries stop at ≤ 5) |
/// | replay buffer | 256 KiB per call, 16 MiB per channel |
///
/// A method's own entry (by path, `/pkg.Service/Method`) wins over its
/// service's (by full name), which wins over the idempotency default.
///
/// ```
/// use std::time::Duration;
/// use connect_client::resilience::retry::{HedgingDelay, HedgingPolicy, RetryConfig, RetryPolicy};
///
/// let config = RetryConfig::new()
///     .service("greet.v1.GreetService", RetryPolicy::default().max_attempts(4))
///     .method(
///         "/greet.v1.GreetService/Greet",
///         HedgingPolicy::new(3, HedgingDelay::Fixed(Duration::from_millis(30))),
///     )
///     .throttle(100, 0.2)
///     .max_transparent_retries(2);
/// # let _ = config;
/// ```
#[derive(Clone, Debug)]
pub struct RetryConfig {
    pub(crate) idempotent: Arc<MethodPolicy>,
    pub(crate) other: Arc<MethodPolicy>,
    pub(crate) services: HashMap<String, Arc<MethodPolicy>>,
    pub(crate) methods: HashMap<String, Arc<MethodPolicy>>,
    pub(crate) max_tokens: u32,
    pub(crate) token_ratio: f64,
    pub(crate) max_transparent: u32,
    pub(crate) call_buffer: usize,
    pub(crate) channel_buffer: usize,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            idempotent: Arc::new(RetryPolicy::default().into()),
            other: Arc::new(RetryPolicy::transparent_only().into()),
            services: HashMap::new(),
            methods: HashMap::new(),
            max_tokens: 10,
            token_ratio: 0.1,
            max_transparent: 3,
            call_buffer: 256 * 1024,
            channel_buffer: 16 * 1024 * 1024,
        }
    }
}

impl RetryConfig {
    /// The defaults (see the table above).
    pub fn new() -> Self {
        RetryConfig::default()
    }

    /// The policy of `NO_SIDE_EFFECTS` and `IDEMPOTENT` methods without
    /// their own entry.
    pub fn idempotent_policy(mut self, p: impl Into<MethodPolicy>) -> Self {
        self.idempotent = Arc::new(p.into());
        self
    }

    /// The policy of methods with no idempotency level and no entry of
    /// their own: only transparent retries by default, as a retry may run
    /// them twice.
    pub fn non_idempotent_policy(mut self, p: impl Into<MethodPolicy>) -> Self {
        self.other = Arc::new(p.into());
        self
    }

    /// One policy for every method without an entry of its own, whatever
    /// its idempotency.
    pub fn default_policy(self, p: impl Into<MethodPolicy>) -> Self {
        let p = p.into();
        self.idempotent_policy(p.clone()).non_idempotent_policy(p)
    }

    /// The policy of every method of `service` (`greet.v1.GreetService`).
    pub fn service(mut self, service: impl Into<String>, p: impl Into<MethodPolicy>) -> Self {
        self.services.insert(service.into(), Arc::new(p.into()));
        self
    }

    /// The policy of one method, by path (`/greet.v1.GreetService/Greet`).
    pub fn method(mut self, path: impl Into<String>, p: impl Into<MethodPolicy>) -> Self {
        self.methods.insert(path.into(), Arc::new(p.into()));
        self
    }

    /// The retry throttle (per target): `max_tokens` (1–1000) and what a
    /// success earns; a failure costs 1, and retries and hedges stop while
    /// the tokens are at most half of `max_tokens`.
    pub fn throttle(mut self, max_tokens: u32, token_ratio: f64) -> Self {
        self.max_tokens = max_tokens.clamp(1, 1000);
        self.token_ratio = if token_ratio > 0.0 {
            token_ratio.min(max_tokens as f64)
        } else {
            0.0
        };
        self
    }

    /// No throttle: retries are limited by their policies alone.
    pub fn no_throttle(mut self) -> Self {
        self.max_tokens = 0;
        self
    }

    /// Transparent retries per call (3 by default; 0 turns them off).
    pub fn max_transparent_retries(mut self, n: u32) -> Self {
        self.max_transparent = n;
        self
    }

    /// How much of a client or bidi stream a call keeps to replay
    /// (256 KiB by default); past it the call is no longer retried.
    pub fn per_call_buffer(mut self, bytes: usize) -> Self {
        self.call_buffer = bytes;
        self
    }

    /// How much all calls of the channel keep to replay together (16 MiB by
    /// default).
    pub fn per_channel_buffer(mut self, bytes: usize) -> Self {
        self.channel_buffer = bytes;
        self
    }

    /// The policy of `method`.
    pub(crate) fn policy_for(&self, method: Option<&MethodDescriptor>) -> &Arc<MethodPolicy> {
        let Some(m) = method else {
            return &self.other;
        };
        if !self.methods.is_empty()
            && let Some(p) = self.methods.get(m.path())
        {
            return p;
        }
        if !self.services.is_empty()
            && let Some(p) = self.services.get(m.service())
        {
            return p;
        }
        match m.idempotency() {
            Idempotency::Unknown => &self.other,
            Idempotency::NoSideEffects | Idempotency::Idempotent => &self.idempotent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use connect_core::StreamType;

    const GET: MethodDescriptor = MethodDescriptor::new(
        "s.S",
        "Get",
        "/s.S/Get",
        StreamType::Unary,
        Idempotency::NoSideEffects,
    );
    const PUT: MethodDescriptor = MethodDescriptor::new(
        "s.S",
        "Put",
        "/s.S/Put",
        StreamType::Unary,
        Idempotency::Unknown,
    );

    #[test]
    fn policies_follow_idempotency_then_service_then_method() {
        let c = RetryConfig::new();
        assert_eq!(**c.policy_for(Some(&GET)), RetryPolicy::default().into());
        assert_eq!(
            **c.policy_for(Some(&PUT)),
            RetryPolicy::transparent_only().into()
        );
        assert_eq!(**c.policy_for(None), RetryPolicy::transparent_only().into());
        let svc = RetryPolicy::default().max_attempts(5);
        let c = c.service("s.S", svc.clone());
        assert_eq!(**c.policy_for(Some(&PUT)), svc.clone().into());
        let h = HedgingPolicy::new(2, HedgingDelay::Fixed(Duration::from_millis(1)));
        let c = c.method("/s.S/Get", h.clone());
        assert_eq!(**c.policy_for(Some(&GET)), h.into());
        assert_eq!(**c.policy_for(Some(&PUT)), svc.into());
    }

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
