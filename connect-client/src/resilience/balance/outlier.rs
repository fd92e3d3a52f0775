//! Outlier ejection, as gRFC A50 defines it: every `interval`, endpoints
//! whose calls failed too often are taken out of the picks for a while.

use std::time::{Duration, Instant};

use super::backoff::Rng;

/// Outlier detection settings (gRFC A50). The defaults are A50's, with
/// the failure-percentage algorithm on and success-rate off.
///
/// A failure is a transport error, an HTTP 5xx, or a gRPC status
/// `unavailable`, `internal` or `unknown` in the response headers or
/// trailers.
///
/// ```
/// use std::time::Duration;
///
/// use connect_client::resilience::balance::{FailurePercentage, OutlierDetection};
///
/// let od = OutlierDetection::default();
/// assert_eq!(od.interval, Duration::from_secs(10));
/// assert_eq!(od.max_ejection_percent, 10);
/// // Tests lower the volumes.
/// let quick = OutlierDetection {
///     interval: Duration::from_millis(50),
///     failure_percentage: Some(FailurePercentage { minimum_hosts: 2, request_volume: 5, ..Default::default() }),
///     ..Default::default()
/// };
/// # drop(quick);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct OutlierDetection {
    /// How often the counts are checked (default 10 s).
    pub interval: Duration,
    /// An ejection lasts this times the endpoint's ejection multiplier
    /// (default 30 s).
    pub base_ejection_time: Duration,
    /// The longest ejection, unless `base_ejection_time` is longer
    /// (default 300 s).
    pub max_ejection_time: Duration,
    /// No more ejections once this percentage of endpoints is ejected
    /// (default 10; one ejection is allowed while the share before it is
    /// below this, so 1 of 3 endpoints may be ejected).
    pub max_ejection_percent: u32,
    /// The success-rate algorithm (default off).
    pub success_rate: Option<SuccessRate>,
    /// The failure-percentage algorithm (default on).
    pub failure_percentage: Option<FailurePercentage>,
}

impl Default for OutlierDetection {
    fn default() -> Self {
        OutlierDetection {
            interval: Duration::from_secs(10),
            base_ejection_time: Duration::from_secs(30),
            max_ejection_time: Duration::from_secs(300),
            max_ejection_percent: 10,
            success_rate: None,
            failure_percentage: Some(FailurePercentage::default()),
        }
    }
}

/// A50's success-rate algorithm: eject endpoints whose success rate is
/// below the mean minus `stdev_factor / 1000` standard deviations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SuccessRate {
    /// Standard deviations below the mean, in thousandths (default 1900).
    pub stdev_factor: u32,
    /// The chance, in percent, that an outlier is ejected (default 100).
    pub enforcement_percentage: u32,
    /// Endpoints with enough calls needed to judge (default 5).
    pub minimum_hosts: u32,
    /// Calls in an interval for an endpoint to count (default 100).
    pub request_volume: u32,
}

impl Default for SuccessRate {
    fn default() -> Self {
        SuccessRate {
            stdev_factor: 1900,
            enforcement_percentage: 100,
            minimum_hosts: 5,
            request_volume: 100,
        }
    }
}

/// A50's failure-percentage algorithm: eject endpoints whose calls failed
/// more than `threshold` percent of the time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailurePercentage {
    /// Failure percentage above which an endpoint is ejected (default 85).
    pub threshold: u32,
    /// The chance, in percent, that an outlier is ejected (default 100).
    pub enforcement_percentage: u32,
    /// Endpoints needed to judge any (default 5).
    pub minimum_hosts: u32,
    /// Calls in an interval for an endpoint to be judged (default 50).
    pub request_volume: u32,
}

impl Default for FailurePercentage {
    fn default() -> Self {
        FailurePercentage {
            threshold: 85,
            enforcement_percentage: 100,
            minimum_hosts: 5,
            request_volume: 50,
        }
    }
}

/// One endpoint's calls and ejection.
#[derive(Clone, Debug, Default)]
pub(crate) struct HostOutlier {
    /// Successes and failures since the last sweep.
    active: (u64, u64),
    /// Those of the interval before.
    inactive: (u64, u64),
    ejected_at: Option<Instant>,
    multiplier: u32,
}

impl HostOutlier {
    pub(crate) fn record(&mut self, success: bool) {
        if success {
            self.active.0 += 1;
        } else {
            self.active.1 += 1;
        }
    }

    pub(crate) fn is_ejected(&self) -> bool {
        self.ejected_at.is_some()
    }

    fn volume(&self) -> u64 {
        self.inactive.0 + self.inactive.1
    }

    fn eject(&mut self, now: Instant) {
        self.ejected_at = Some(now);
        self.multiplier += 1;
    }
}

impl OutlierDetection {
    fn enabled(&self) -> bool {
        self.success_rate.is_some() || self.failure_percentage.is_some()
    }

    /// One sweep over every endpoint (A50's timer): swap the counters, run
    /// the algorithms, then age and end ejections. Returns whether any
    /// endpoint was ejected or un-ejected.
    pub(crate) fn sweep(
        &self,
        hosts: &mut [&mut HostOutlier],
        now: Instant,
        rng: &mut Rng,
    ) -> bool {
        if !self.enabled() {
            return false;
        }
        for h in hosts.iter_mut() {
            h.inactive = std::mem::take(&mut h.active);
        }
        let before: Vec<bool> = hosts.iter().map(|h| h.is_ejected()).collect();
        if let Some(sr) = self.success_rate {
            self.success_rate_pass(&sr, hosts, now, rng);
        }
        if let Some(fp) = self.failure_percentage {
            self.failure_percentage_pass(&fp, hosts, now, rng);
        }
        let cap = self.base_ejection_time.max(self.max_ejection_time);
        for h in hosts.iter_mut() {
            match h.ejected_at {
                None => h.multiplier = h.multiplier.saturating_sub(1),
                Some(at) => {
                    let lasts = self
                        .base_ejection_time
                        .saturating_mul(h.multiplier)
                        .min(cap);
                    if now >= at + lasts {
                        h.ejected_at = None;
                    }
                }
            }
        }
        hosts.iter().zip(before).any(|(h, b)| h.is_ejected() != b)
    }

    /// Whether one more endpoint may be ejected: the share ejected now is
    /// below `max_ejection_percent`.
    fn may_eject(&self, hosts: &[&mut HostOutlier]) -> bool {
        let ejected = hosts.iter().filter(|h| h.is_ejected()).count();
        (ejected * 100) < self.max_ejection_percent as usize * hosts.len()
    }

    fn failure_percentage_pass(
        &self,
        fp: &FailurePercentage,
        hosts: &mut [&mut HostOutlier],
        now: Instant,
        rng: &mut Rng,
    ) {
        if hosts.len() < fp.minimum_hosts as usize {
            return;
        }
        for i in 0..hosts.len() {
            if !self.may_eject(hosts) {
                return;
            }
            let h = &hosts[i];
            if h.is_ejected() || h.volume() < u64::from(fp.request_volume) || h.volume() == 0 {
                continue;
            }
            let failure_pct = h.inactive.1 as f64 * 100.0 / h.volume() as f64;
            if failure_pct > f64::from(fp.threshold)
                && rng.below(100) < fp.enforcement_percentage as usize
            {
                hosts[i].eject(now);
            }
        }
    }

    fn success_rate_pass(
        &self,
        sr: &SuccessRate,
        hosts: &mut [&mut HostOutlier],
        now: Instant,
        rng: &mut Rng,
    ) {
        let volume = u64::from(sr.request_volume).max(1);
        let rates: Vec<f64> = hosts
            .iter()
            .filter(|h| h.volume() >= volume)
            .map(|h| h.inactive.0 as f64 / h.volume() as f64)
            .collect();
        if rates.len() < sr.minimum_hosts.max(1) as usize {
            return;
        }
        let mean = rates.iter().sum::<f64>() / rates.len() as f64;
        let var = rates.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / rates.len() as f64;
        let threshold = mean - var.sqrt() * (f64::from(sr.stdev_factor) / 1000.0);
        for i in 0..hosts.len() {
            if !self.may_eject(hosts) {
                return;
            }
            let h = &hosts[i];
            if h.is_ejected() || h.volume() < volume {
                continue;
            }
            let rate = h.inactive.0 as f64 / h.volume() as f64;
            if rate < threshold && rng.below(100) < sr.enforcement_percentage as usize {
                hosts[i].eject(now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn od(min_hosts: u32, volume: u32) -> OutlierDetection {
        OutlierDetection {
            failure_percentage: Some(FailurePercentage {
                minimum_hosts: min_hosts,
                request_volume: volume,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn calls(h: &mut HostOutlier, ok: u32, failed: u32) {
        (0..ok).for_each(|_| h.record(true));
        (0..failed).for_each(|_| h.record(false));
    }

    fn sweep(od: &OutlierDetection, hosts: &mut [HostOutlier], now: Instant) -> bool {
        let mut refs: Vec<&mut HostOutlier> = hosts.iter_mut().collect();
        od.sweep(&mut refs, now, &mut Rng::seeded(1))
    }

    #[test]
    fn a_failing_endpoint_is_ejected_then_returns_after_the_base_time() {
        let od = od(3, 10);
        let mut hosts = vec![HostOutlier::default(); 3];
        calls(&mut hosts[0], 20, 0);
        calls(&mut hosts[1], 20, 0);
        calls(&mut hosts[2], 1, 19);
        let t0 = Instant::now();
        assert!(sweep(&od, &mut hosts, t0));
        assert_eq!(
            hosts.iter().map(|h| h.is_ejected()).collect::<Vec<_>>(),
            [false, false, true]
        );
        // Still ejected before 30 s, back after.
        assert!(!sweep(&od, &mut hosts, t0 + Duration::from_secs(29)));
        assert!(hosts[2].is_ejected());
        assert!(sweep(&od, &mut hosts, t0 + Duration::from_secs(30)));
        assert!(!hosts[2].is_ejected());
    }

    #[test]
    fn repeated_ejections_last_longer_up_to_the_max() {
        let od = OutlierDetection {
            max_ejection_time: Duration::from_secs(50),
            ..od(1, 10)
        };
        let mut hosts = vec![HostOutlier::default(); 1];
        let mut now = Instant::now();
        // Ejections back to back: 30 s, then 60 s and 90 s capped to 50 s.
        for expected in [30, 50, 50] {
            calls(&mut hosts[0], 0, 10);
            assert!(sweep(&od, &mut hosts, now));
            assert!(hosts[0].is_ejected());
            let out = now + Duration::from_secs(expected);
            sweep(&od, &mut hosts, out - Duration::from_secs(1));
            assert!(hosts[0].is_ejected(), "{expected}");
            sweep(&od, &mut hosts, out);
            assert!(!hosts[0].is_ejected(), "{expected}");
            now = out;
        }
    }

    #[test]
    fn at_most_the_max_percent_is_ejected_but_one_of_three_may_be() {
        let od = od(3, 10);
        let mut hosts = vec![HostOutlier::default(); 3];
        hosts.iter_mut().for_each(|h| calls(h, 0, 20));
        sweep(&od, &mut hosts, Instant::now());
        assert_eq!(hosts.iter().filter(|h| h.is_ejected()).count(), 1);
        // 20 hosts at 10 %: two.
        let mut hosts = vec![HostOutlier::default(); 20];
        hosts.iter_mut().for_each(|h| calls(h, 0, 20));
        sweep(&od, &mut hosts, Instant::now());
        assert_eq!(hosts.iter().filter(|h| h.is_ejected()).count(), 2);
    }

    #[test]
    fn too_few_hosts_or_calls_eject_nothing() {
        let mut hosts = vec![HostOutlier::default(); 3];
        hosts.iter_mut().for_each(|h| calls(h, 0, 20));
        // A50's default minimum of 5 hosts.
        assert!(!sweep(
            &OutlierDetection::default(),
            &mut hosts,
            Instant::now()
        ));
        let mut hosts = vec![HostOutlier::default(); 3];
        calls(&mut hosts[0], 0, 9);
        assert!(!sweep(&od(3, 10), &mut hosts, Instant::now()));
        // Exactly the threshold (85 %) is not above it.
        let mut hosts = vec![HostOutlier::default(); 3];
        calls(&mut hosts[0], 3, 17);
        assert!(!sweep(&od(3, 10), &mut hosts, Instant::now()));
    }

    #[test]
    fn success_rate_ejects_the_low_outlier() {
        let od = OutlierDetection {
            max_ejection_percent: 50,
            failure_percentage: None,
            success_rate: Some(SuccessRate {
                minimum_hosts: 5,
                request_volume: 10,
                stdev_factor: 1000,
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut hosts = vec![HostOutlier::default(); 6];
        hosts.iter_mut().take(5).for_each(|h| calls(h, 100, 0));
        calls(&mut hosts[5], 40, 60);
        assert!(sweep(&od, &mut hosts, Instant::now()));
        assert!(hosts[5].is_ejected());
        assert!(hosts[..5].iter().all(|h| !h.is_ejected()));
    }
}
