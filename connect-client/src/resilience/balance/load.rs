//! An endpoint's load: calls in flight times a peak-EWMA of its latency
//! (the shape of `tower::load::PeakEwma`, written for this balancer).

use std::time::{Duration, Instant};

/// Calls in flight and a latency estimate that jumps to a slower sample
/// at once and decays towards faster ones (and towards zero while idle)
/// with time constant `decay`.
///
/// An endpoint that has had no answer for a tenth of `decay` and has no
/// call in flight costs nothing, so the balancer sends it the next call:
/// one slow answer (a restarted server's first, a pause) would otherwise
/// keep it from being picked, and so from proving itself fast again, for
/// many times `decay` (its estimate against the others' shrinks by only
/// `e` each `decay`).
#[derive(Clone, Debug)]
pub(crate) struct Load {
    in_flight: u32,
    /// The estimate, in nanoseconds.
    rtt_ns: f64,
    updated_at: Instant,
    decay_ns: f64,
}

/// The share of `decay` after which an idle endpoint is probed.
const PROBE_AFTER_DECAYS: f64 = 0.1;

impl Load {
    /// No calls, `default_rtt` as the first estimate.
    pub(crate) fn new(default_rtt: Duration, decay: Duration, now: Instant) -> Self {
        Load {
            in_flight: 0,
            rtt_ns: default_rtt.as_nanos() as f64,
            updated_at: now,
            decay_ns: decay.as_nanos().max(1) as f64,
        }
    }

    pub(crate) fn in_flight(&self) -> u32 {
        self.in_flight
    }

    pub(crate) fn start(&mut self) {
        self.in_flight += 1;
    }

    pub(crate) fn end(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    /// The estimate decayed to `now`.
    fn decayed(&self, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.updated_at).as_nanos() as f64;
        self.rtt_ns * (-elapsed / self.decay_ns).exp()
    }

    /// The latency estimate decayed to `now`.
    pub(crate) fn estimate(&self, now: Instant) -> Duration {
        Duration::from_nanos(self.decayed(now) as u64)
    }

    /// Records one call's latency.
    pub(crate) fn observe(&mut self, rtt: Duration, now: Instant) {
        let sample = rtt.as_nanos() as f64;
        let current = self.decayed(now);
        self.rtt_ns = if sample > current {
            // Peak: a slower answer counts at once.
            sample
        } else {
            let elapsed = now.saturating_duration_since(self.updated_at).as_nanos() as f64;
            let w = (-elapsed / self.decay_ns).exp();
            current * w + sample * (1.0 - w)
        };
        self.updated_at = now;
    }

    /// The cost of sending one more call here: the latency estimate times
    /// (calls in flight + 1). Lower is better.
    pub(crate) fn cost(&self, now: Instant) -> f64 {
        if self.in_flight == 0 {
            let idle = now.saturating_duration_since(self.updated_at).as_nanos() as f64;
            if idle > self.decay_ns * PROBE_AFTER_DECAYS {
                // Unheard of for a while: worth a call to find out.
                return 0.0;
            }
        }
        // A floor of 1 ns keeps in-flight calls counting when the
        // estimate has decayed to nothing.
        self.decayed(now).max(1.0) * f64::from(self.in_flight + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn in_flight_calls_raise_the_cost() {
        let now = Instant::now();
        let mut a = Load::new(30 * MS, Duration::from_secs(10), now);
        let b = Load::new(30 * MS, Duration::from_secs(10), now);
        a.start();
        assert!(a.cost(now) > b.cost(now));
        a.end();
        assert_eq!(a.cost(now), b.cost(now));
        a.end(); // never below zero
        assert_eq!(a.in_flight(), 0);
    }

    #[test]
    fn slow_samples_count_at_once_fast_ones_slowly() {
        let now = Instant::now();
        let mut l = Load::new(30 * MS, Duration::from_secs(10), now);
        l.observe(500 * MS, now);
        assert!((l.cost(now) - 500e6).abs() < 1.0);
        // A fast answer 1 s later pulls the estimate down only partly.
        let later = now + Duration::from_secs(1);
        l.observe(MS, later);
        let cost = l.cost(later);
        assert!(cost > 400e6 && cost < 500e6, "{cost}");
    }

    #[test]
    fn an_endpoint_unheard_of_for_a_tenth_of_the_decay_is_probed() {
        let now = Instant::now();
        let mut slow = Load::new(30 * MS, Duration::from_secs(10), now);
        slow.observe(50 * MS, now);
        let mut fast = Load::new(30 * MS, Duration::from_secs(10), now);
        let soon = now + Duration::from_millis(900);
        fast.observe(MS / 3, soon);
        assert!(slow.cost(soon) > fast.cost(soon), "not stale yet");
        // 1 s without an answer: the slow one is worth a call again, but
        // not while a call to it is still out.
        let later = now + Duration::from_millis(1001);
        assert_eq!(slow.cost(later), 0.0);
        slow.start();
        assert!(slow.cost(later) > fast.cost(later));
        slow.end();
        // Its answer makes it an ordinary endpoint again.
        slow.observe(MS / 3, later);
        assert!(slow.cost(later) > 0.0);
    }

    #[test]
    fn an_idle_estimate_decays() {
        let now = Instant::now();
        let mut l = Load::new(30 * MS, Duration::from_secs(10), now);
        l.observe(300 * MS, now);
        let estimate = l.estimate(now + Duration::from_secs(10)).as_nanos() as f64;
        assert!(
            (estimate - 300e6 / std::f64::consts::E).abs() < 1e3,
            "{estimate}"
        );
    }
}
