//! The channel's background task: resolves (at start, periodically, when
//! the resolver says so, after connection failures at most once per the
//! minimum interval) and runs outlier detection's timer. It ends when the
//! last clone of the channel is dropped.

use std::sync::Arc;
use std::time::Instant;

use super::backoff::Rng;
use super::state::Shared;

pub(crate) async fn run(shared: Arc<Shared>) {
    let mut stop = shared.stop_signal();
    let settings = shared.settings.clone();
    let mut rng = Rng::new();
    let mut failures = 0u32;
    let outlier_every = settings.outlier.as_ref().map(|od| od.interval);
    let mut outlier_at = outlier_every.map(|every| Instant::now() + every);
    loop {
        // Listen for changes before asking, so none is missed.
        let changed = shared.resolver.changed();
        tokio::pin!(changed);
        let answer = tokio::select! {
            _ = stop.changed() => return,
            r = tokio::time::timeout(settings.resolve_timeout, shared.resolver.resolve()) => r,
        };
        let answer = match answer {
            Ok(Ok(list)) => Ok(list),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!(
                "the resolver did not answer within {:?}",
                settings.resolve_timeout
            )),
        };
        let resolved_at = Instant::now();
        let next = if shared.apply_resolution(answer) {
            failures = 0;
            resolved_at + settings.resolve_interval
        } else if shared.is_resolved() {
            // Keep the last good set; ask again as usual.
            resolved_at + settings.resolve_interval
        } else {
            // Never resolved: ask again soon, backing off.
            failures = failures.saturating_add(1);
            let delay = settings.backoff.delay(failures, &mut rng);
            resolved_at + delay.min(settings.resolve_interval)
        };
        let mut next = next;
        loop {
            let outlier_sleep = async {
                match outlier_at {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = stop.changed() => return,
                _ = &mut changed => break,
                _ = tokio::time::sleep_until(next.into()) => break,
                _ = shared.resolve_now.notified() => {
                    let earliest = resolved_at + settings.min_resolve_interval;
                    next = next.min(earliest);
                }
                _ = outlier_sleep => {
                    shared.sweep_outliers();
                    outlier_at = outlier_every.map(|every| Instant::now() + every);
                }
            }
        }
    }
}
