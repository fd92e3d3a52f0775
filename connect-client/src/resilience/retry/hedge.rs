//! Hedging (gRFC A6): further attempts after a delay while earlier ones
//! are in flight; the first that succeeds or fails fatally wins, and the
//! others are dropped (h2 resets their streams with `CANCEL`).

use std::future::poll_fn;
use std::pin::pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::Poll;
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt as _};
use tokio::time::Instant;

use super::body::RetryBody;
use super::call::{Call, attempt};
use super::classify::{Outcome, Pushback};
use super::policy::{HedgingDelay, HedgingPolicy};
use super::stats::Counters;
use crate::{BoxError, Channel};

type Answer<B> = Result<http::Response<RetryBody<B>>, BoxError>;

/// Successful attempt latencies of one method: buckets growing by √2 from
/// 250 µs (the last one holds everything above ~70 minutes).
#[derive(Debug)]
pub(crate) struct Latencies {
    buckets: [AtomicU32; 48],
}

/// Latencies needed before a percentile delay is used.
const MIN_SAMPLES: u64 = 20;

impl Latencies {
    pub(crate) fn new() -> Self {
        Latencies {
            buckets: std::array::from_fn(|_| AtomicU32::new(0)),
        }
    }

    fn bound(i: usize) -> Duration {
        Duration::from_micros(250).mul_f64(2f64.powf(i as f64 / 2.0))
    }

    pub(crate) fn record(&self, latency: Duration) {
        let i = (0..self.buckets.len() - 1)
            .find(|&i| latency <= Self::bound(i))
            .unwrap_or(self.buckets.len() - 1);
        if self.buckets[i].fetch_add(1, Ordering::Relaxed) >= 1 << 20 {
            // Forget slowly: halve every bucket, so old latencies fade.
            for b in &self.buckets {
                let _ = b.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| Some(n / 2));
            }
        }
    }

    /// The `p`th percentile (0–100), as its bucket's upper bound; `None`
    /// until [`MIN_SAMPLES`] latencies were seen.
    pub(crate) fn percentile(&self, p: f64) -> Option<Duration> {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| u64::from(b.load(Ordering::Relaxed)))
            .collect();
        let total: u64 = counts.iter().sum();
        if total < MIN_SAMPLES {
            return None;
        }
        let want = ((p.clamp(0.0, 100.0) / 100.0) * total as f64)
            .ceil()
            .max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in counts.iter().enumerate() {
            seen += n;
            if seen >= want {
                return Some(Self::bound(i));
            }
        }
        Some(Self::bound(counts.len() - 1))
    }
}

/// Hedges `call` by `policy`; the deadline bounds it all.
pub(crate) async fn hedge<S>(
    mut call: Call<S>,
    policy: HedgingPolicy,
    first: http::Request<connect_layers::ClientBody>,
) -> Answer<S::ResponseBody>
where
    S: Channel,
    S::ResponseBody: Unpin,
{
    let deadline = call.deadline();
    let latencies = match policy.delay {
        HedgingDelay::Percentile { .. } => Some(call.shared.latencies(call.path)),
        HedgingDelay::Fixed(_) => None,
    };
    let delay = || match policy.delay {
        HedgingDelay::Fixed(d) => d,
        HedgingDelay::Percentile {
            percentile,
            fallback,
        } => latencies
            .as_ref()
            .and_then(|l| l.percentile(percentile))
            .unwrap_or(fallback),
    };
    let run = async {
        let mut inflight = FuturesUnordered::new();
        let send = |call: &mut Call<S>, req| {
            let svc = call.svc.clone();
            let kind = call.kind;
            let peek = call.peek;
            async move {
                let started = Instant::now();
                let (outcome, by) = attempt(svc, kind, peek, req).await;
                (outcome, by, started.elapsed())
            }
        };
        inflight.push(send(&mut call, first));
        let mut counted = 1;
        let mut transparent = 0;
        let mut stopped = false;
        let mut last: Option<Answer<S::ResponseBody>> = None;
        let mut timer = pin!(tokio::time::sleep(delay()));
        loop {
            let can_hedge = !stopped && counted < policy.max_attempts;
            let done = poll_fn(|cx| {
                if let Poll::Ready(Some(done)) = inflight.poll_next_unpin(cx) {
                    return Poll::Ready(Some(done));
                }
                if can_hedge && timer.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
                Poll::Pending
            })
            .await;
            match done {
                // The timer: another hedge, unless throttled.
                None => {
                    if call.shared.throttle.throttled() {
                        Counters::bump(&call.stats().throttled);
                        stopped = true;
                    } else if let Some(req) = call.next_request() {
                        Counters::bump(&call.stats().hedges);
                        inflight.push(send(&mut call, req));
                        counted += 1;
                        timer.as_mut().reset(Instant::now() + delay());
                    } else {
                        stopped = true;
                    }
                }
                Some((outcome, by, elapsed)) => {
                    call.served_by(by);
                    match outcome {
                        Outcome::Commit(resp) => {
                            call.shared.throttle.success();
                            if let Some(l) = &latencies {
                                l.record(elapsed);
                            }
                            return Ok(resp);
                        }
                        Outcome::Unprocessed(err) => {
                            if transparent < call.shared.config.max_transparent
                                && let Some(req) = call.next_request()
                            {
                                transparent += 1;
                                Counters::bump(&call.stats().transparent_retries);
                                inflight.push(send(&mut call, req));
                            } else {
                                last = Some(Err(err));
                            }
                        }
                        Outcome::Failed {
                            code,
                            pushback,
                            answer,
                        } => {
                            if !policy.non_fatal.contains(code) {
                                return answer;
                            }
                            call.shared.throttle.failure();
                            last = Some(answer);
                            match pushback {
                                Pushback::Stop => stopped = true,
                                Pushback::Delay(d) if call.too_late(d) => stopped = true,
                                Pushback::Delay(d) => timer.as_mut().reset(Instant::now() + d),
                                // A non-fatal failure sends the next hedge now.
                                Pushback::None => timer.as_mut().reset(Instant::now()),
                            }
                        }
                    }
                }
            }
            if inflight.is_empty() && (stopped || counted >= policy.max_attempts) {
                return last.unwrap_or_else(|| Err(connect_layers::deadline::expired().into()));
            }
        }
    };
    match deadline {
        Some(d) => tokio::time::timeout_at(d, run)
            .await
            .unwrap_or_else(|_| Err(connect_layers::deadline::expired().into())),
        None => run.await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_need_samples_then_follow_latencies() {
        let l = Latencies::new();
        for _ in 0..19 {
            l.record(Duration::from_millis(10));
        }
        assert_eq!(l.percentile(50.0), None);
        l.record(Duration::from_millis(10));
        let p50 = l.percentile(50.0).unwrap();
        assert!(
            p50 >= Duration::from_millis(10) && p50 < Duration::from_millis(15),
            "{p50:?}"
        );
        for _ in 0..80 {
            l.record(Duration::from_millis(100));
        }
        let p95 = l.percentile(95.0).unwrap();
        assert!(
            p95 >= Duration::from_millis(100) && p95 < Duration::from_millis(142),
            "{p95:?}"
        );
        assert!(l.percentile(10.0).unwrap() < Duration::from_millis(15));
    }
}
