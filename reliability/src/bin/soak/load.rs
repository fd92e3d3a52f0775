//! The load: `concurrency` workers, each making one call at a time over
//! its own HTTP/1.1 and h2c clients, which it replaces every few dozen
//! calls (connection churn); one call in twenty goes over a brand-new
//! client of its own.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use connectrpc::client::ClientBody;
use connectrpc::{ClientConfig, HttpClient};
use http::Uri;
use integration_tests::proto::test::v1::TestServiceClient;

use crate::scenarios::{self, Outcome, Rng, Scenario};

/// A call that takes longer than this is counted as `hung`.
const CALL_WATCHDOG: Duration = Duration::from_secs(30);

/// How many unexpected outcomes are kept with their description.
const KEPT_FAILURES: usize = 20;

/// Counts of calls, by scenario and outcome and by transport.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) calls: AtomicU64,
    pub(crate) unexpected: AtomicU64,
    pub(crate) churns: AtomicU64,
    pub(crate) fresh_clients: AtomicU64,
    pub(crate) outcomes: Mutex<BTreeMap<(&'static str, String), u64>>,
    pub(crate) transports: Mutex<BTreeMap<&'static str, u64>>,
    pub(crate) failures: Mutex<Vec<String>>,
}

impl Stats {
    fn record(&self, scenario: Scenario, transport: &'static str, outcome: Outcome) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        *self
            .transports
            .lock()
            .unwrap()
            .entry(transport)
            .or_default() += 1;
        let expected = outcome.label == scenario.expected();
        if !expected {
            self.unexpected.fetch_add(1, Ordering::Relaxed);
            let mut kept = self.failures.lock().unwrap();
            if kept.len() < KEPT_FAILURES {
                kept.push(format!(
                    "{} over {transport}: {} ({})",
                    scenario.name(),
                    outcome.label,
                    outcome.detail
                ));
            }
        }
        *self
            .outcomes
            .lock()
            .unwrap()
            .entry((scenario.name(), outcome.label))
            .or_default() += 1;
    }

    /// Every unexpected outcome so far.
    pub(crate) fn unexpected(&self) -> u64 {
        self.unexpected.load(Ordering::Relaxed)
    }

    /// Every call so far.
    pub(crate) fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
}

fn channel(http2: bool) -> HttpClient<ClientBody> {
    if http2 {
        HttpClient::builder().http2_only(true).build()
    } else {
        HttpClient::builder().http1_only(true).build()
    }
}

/// A protocol and codec for one call, and the transport's name; gRPC is
/// HTTP/2 only.
fn config(rng: &mut Rng, base: &Uri) -> (ClientConfig, bool, &'static str) {
    let c = ClientConfig::new(base.clone());
    let json = rng.one_in(4);
    let c = if json { c.json() } else { c };
    let c = if rng.one_in(8) {
        c.send_compression("gzip").compress_min_bytes(0)
    } else {
        c
    };
    let (c, http2, name) = match rng.range(0, 5) {
        0 => (c, false, "connect/http1"),
        1 => (c, true, "connect/h2c"),
        2 => (c.grpc(), true, "grpc/h2c"),
        3 => (c.grpc_web(), false, "grpc-web/http1"),
        _ => (c.grpc_web(), true, "grpc-web/h2c"),
    };
    (c, http2, name)
}

/// Makes calls until `until`.
async fn worker(id: u64, seed: u64, base: Uri, until: Instant, stats: &Stats) {
    let mut rng = Rng::new(seed ^ (id << 32) ^ id);
    let mut h1 = channel(false);
    let mut h2 = channel(true);
    let mut calls_left = rng.range(20, 200);
    while Instant::now() < until {
        if calls_left == 0 {
            h1 = channel(false);
            h2 = channel(true);
            calls_left = rng.range(20, 200);
            stats.churns.fetch_add(1, Ordering::Relaxed);
        }
        calls_left -= 1;
        let (config, http2, transport) = config(&mut rng, &base);
        let channel = if rng.one_in(20) {
            stats.fresh_clients.fetch_add(1, Ordering::Relaxed);
            channel(http2)
        } else if http2 {
            h2.clone()
        } else {
            h1.clone()
        };
        let client = TestServiceClient::new(channel, config);
        let scenario = Scenario::pick(&mut rng);
        let call = scenarios::run(scenario, &client, http2, &mut rng);
        let outcome = tokio::time::timeout(CALL_WATCHDOG, call)
            .await
            .unwrap_or_else(|_| Outcome {
                label: "hung".into(),
                detail: format!("no end after {CALL_WATCHDOG:?}"),
            });
        stats.record(scenario, transport, outcome);
    }
}

/// Runs `concurrency` workers against `base` until `until`; returns once
/// every worker (and so every client it made) is gone.
pub(crate) async fn run(
    base: Uri,
    concurrency: u64,
    seed: u64,
    until: Instant,
    stats: std::sync::Arc<Stats>,
) {
    let mut workers = tokio::task::JoinSet::new();
    for id in 0..concurrency {
        let (base, stats) = (base.clone(), stats.clone());
        workers.spawn(async move { worker(id, seed, base, until, &stats).await });
    }
    while let Some(done) = workers.join_next().await {
        if let Err(e) = done {
            stats.unexpected.fetch_add(1, Ordering::Relaxed);
            stats
                .failures
                .lock()
                .unwrap()
                .push(format!("a worker died: {e}"));
        }
    }
}
