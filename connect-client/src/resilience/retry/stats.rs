//! [`RetryStats`]: what the retry layer did, read by programs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one retry layer and every service it made: cheap to clone
/// and to read at any time.
///
/// ```
/// use connect_client::resilience::retry::{RetryConfig, RetryLayer};
///
/// let layer = RetryLayer::new(RetryConfig::new());
/// let stats = layer.stats();
/// assert_eq!((stats.attempts(), stats.retries(), stats.hedges()), (0, 0, 0));
/// ```
#[derive(Clone, Debug, Default)]
pub struct RetryStats {
    pub(crate) inner: Arc<Counters>,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) attempts: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) transparent_retries: AtomicU64,
    pub(crate) hedges: AtomicU64,
    pub(crate) throttled: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

impl RetryStats {
    /// Requests sent, first attempts included.
    pub fn attempts(&self) -> u64 {
        self.inner.attempts.load(Ordering::Relaxed)
    }

    /// Retries sent after a failure (not counting transparent ones).
    pub fn retries(&self) -> u64 {
        self.inner.retries.load(Ordering::Relaxed)
    }

    /// Requests re-sent because the server never processed the previous
    /// one (refused streams, GOAWAY, failed connections).
    pub fn transparent_retries(&self) -> u64 {
        self.inner.transparent_retries.load(Ordering::Relaxed)
    }

    /// Hedges sent (attempts after a call's first, while it was in flight).
    pub fn hedges(&self) -> u64 {
        self.inner.hedges.load(Ordering::Relaxed)
    }

    /// Retries and hedges the throttle held back.
    pub fn throttled(&self) -> u64 {
        self.inner.throttled.load(Ordering::Relaxed)
    }
}
