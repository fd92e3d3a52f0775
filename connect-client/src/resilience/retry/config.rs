//! [`RetryConfig`]: which policy each call gets, and the limits shared
//! across calls.

use std::collections::HashMap;
use std::sync::Arc;

use connect_core::{Idempotency, MethodDescriptor};

use super::policy::{MethodPolicy, RetryPolicy};

/// Which policy each call gets, and the limits the retry layer shares
/// across calls.
///
/// | setting | default |
/// | --- | --- |
/// | `NO_SIDE_EFFECTS` / `IDEMPOTENT` methods | [`RetryPolicy::default`]: 3 attempts, 100 ms–1 s, ×2, `unavailable` |
/// | other methods | [`RetryPolicy::transparent_only`] |
/// | hedging | off (opt in per method or service) |
/// | transparent retries per call | 3 |
/// | throttle | 100 tokens, 0.1 per success (retries stop at ≤ 50) |
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
            max_tokens: 100,
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
    use crate::resilience::retry::{HedgingDelay, HedgingPolicy};
    use connect_core::StreamType;
    use std::time::Duration;

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
}
