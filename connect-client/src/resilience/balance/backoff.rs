//! Reconnect backoff (gRPC's connection backoff) and the small random
//! source the balancer uses for jitter and for its two choices.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// How long an endpoint waits before dialling again after failures:
/// gRPC's connection backoff. The `n`th consecutive failure waits
/// `min(initial × multiplier^(n-1), max)`, then ± `jitter` of that at
/// random.
///
/// ```
/// use std::time::Duration;
///
/// use connect_client::resilience::balance::Backoff;
///
/// let backoff = Backoff::default();
/// assert_eq!(backoff.initial, Duration::from_secs(1));
/// assert_eq!(backoff.max, Duration::from_secs(120));
/// // Tests use small values.
/// let fast = Backoff::new(Duration::from_millis(10), Duration::from_millis(100));
/// assert_eq!(fast.multiplier, 1.6);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    /// The first wait (default 1 s).
    pub initial: Duration,
    /// Each further failure multiplies the wait by this (default 1.6).
    pub multiplier: f64,
    /// The wait is randomised by ± this fraction (default 0.2).
    pub jitter: f64,
    /// The longest wait, before jitter (default 120 s).
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            multiplier: 1.6,
            jitter: 0.2,
            max: Duration::from_secs(120),
        }
    }
}

impl Backoff {
    /// gRPC's multiplier and jitter with these initial and maximum waits.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max,
            ..Backoff::default()
        }
    }

    /// The wait before the attempt after `failures` consecutive failures
    /// (1 for the first), before jitter.
    pub fn base_delay(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(64) as i32;
        let secs = self.initial.as_secs_f64() * self.multiplier.max(1.0).powi(exp);
        Duration::from_secs_f64(secs.min(self.max.as_secs_f64()))
    }

    /// The wait after `failures` consecutive failures, jittered with `rng`.
    pub(crate) fn delay(&self, failures: u32, rng: &mut Rng) -> Duration {
        let base = self.base_delay(failures).as_secs_f64();
        let jitter = self.jitter.clamp(0.0, 1.0);
        let factor = 1.0 + jitter * (2.0 * rng.unit() - 1.0);
        Duration::from_secs_f64((base * factor).max(0.0))
    }
}

/// A small, fast, non-cryptographic random source (xorshift64*), seeded
/// from the standard library's per-process random keys.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new() -> Self {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
        );
        Rng(hasher.finish() | 1)
    }

    #[cfg(test)]
    pub(crate) fn seeded(seed: u64) -> Self {
        Rng(seed | 1)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A number in `[0, n)` (`n > 0`).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_by_the_multiplier_up_to_the_max() {
        let b = Backoff::default();
        assert_eq!(b.base_delay(1), Duration::from_secs(1));
        assert_eq!(b.base_delay(2), Duration::from_secs_f64(1.6));
        assert!((b.base_delay(3).as_secs_f64() - 2.56).abs() < 1e-9);
        assert_eq!(b.base_delay(30), Duration::from_secs(120));
        assert_eq!(b.base_delay(u32::MAX), Duration::from_secs(120));
    }

    #[test]
    fn jitter_stays_within_twenty_percent_and_varies() {
        let b = Backoff::default();
        let mut rng = Rng::seeded(7);
        for failures in 1..12 {
            let base = b.base_delay(failures).as_secs_f64();
            let delays: Vec<f64> = (0..200)
                .map(|_| b.delay(failures, &mut rng).as_secs_f64())
                .collect();
            for d in &delays {
                assert!(
                    *d >= base * 0.8 - 1e-9 && *d <= base * 1.2 + 1e-9,
                    "{d} vs {base}"
                );
            }
            let (lo, hi) = delays
                .iter()
                .fold((f64::MAX, 0f64), |(lo, hi), d| (lo.min(*d), hi.max(*d)));
            // Spread over most of the ±20 % band, not one value.
            assert!(hi - lo > base * 0.3, "{lo}..{hi} for {base}");
        }
    }

    #[test]
    fn rng_below_covers_the_range() {
        let mut rng = Rng::seeded(1);
        let mut seen = [0u32; 5];
        for _ in 0..1000 {
            seen[rng.below(5)] += 1;
        }
        assert!(seen.iter().all(|n| *n > 100), "{seen:?}");
    }
}
