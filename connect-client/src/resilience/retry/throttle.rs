//! The retry throttle (gRFC A6): a token bucket per target, in
//! thousandths of a token on one atomic.

use std::sync::atomic::{AtomicU32, Ordering};

/// Tokens in thousandths.
const SCALE: u32 = 1000;

/// A token bucket: a failure costs one token, a success earns
/// `token_ratio`; retries and hedges stop while the bucket holds at most
/// half of its tokens.
#[derive(Debug)]
pub(crate) struct Throttle {
    /// 0: no throttle.
    max: u32,
    ratio: u32,
    tokens: AtomicU32,
}

impl Throttle {
    /// A full bucket of `max_tokens` (0: no throttle) earning
    /// `token_ratio` (at most 3 decimals, as gRPC reads it) per success.
    pub(crate) fn new(max_tokens: u32, token_ratio: f64) -> Self {
        let max = max_tokens.min(1000) * SCALE;
        Throttle {
            max,
            ratio: (token_ratio * SCALE as f64).round().clamp(0.0, max as f64) as u32,
            tokens: AtomicU32::new(max),
        }
    }

    /// A success: earns `token_ratio`, up to the maximum. A full bucket
    /// (the usual case) costs one load.
    pub(crate) fn success(&self) {
        if self.max == 0 || self.ratio == 0 || self.tokens.load(Ordering::Relaxed) >= self.max {
            return;
        }
        let _ = self
            .tokens
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                (t < self.max).then(|| (t + self.ratio).min(self.max))
            });
    }

    /// A retryable failure: costs one token.
    pub(crate) fn failure(&self) {
        if self.max == 0 {
            return;
        }
        let _ = self
            .tokens
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                (t > 0).then(|| t.saturating_sub(SCALE))
            });
    }

    /// Whether retries and hedges are held back now.
    pub(crate) fn throttled(&self) -> bool {
        self.max != 0 && self.tokens.load(Ordering::Relaxed) <= self.max / 2
    }

    /// The tokens now, in thousandths (for tests).
    #[cfg(test)]
    pub(crate) fn tokens_milli(&self) -> u32 {
        self.tokens.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_throttle_and_successes_recover() {
        let t = Throttle::new(10, 0.1);
        for _ in 0..4 {
            t.failure();
        }
        assert!(!t.throttled(), "6 of 10 tokens left");
        t.failure();
        assert!(t.throttled(), "5 of 10: at half, retries stop");
        t.success();
        assert!(!t.throttled(), "5.1 tokens");
        for _ in 0..100 {
            t.failure();
        }
        assert_eq!(t.tokens_milli(), 0);
        for _ in 0..51 {
            t.success();
        }
        assert!(!t.throttled());
        for _ in 0..1000 {
            t.success();
        }
        assert_eq!(t.tokens_milli(), 10_000, "never above the maximum");
        let off = Throttle::new(0, 0.1);
        for _ in 0..10 {
            off.failure();
        }
        assert!(!off.throttled());
    }
}
