//! What the run measured, and its JSON line.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use connectrpc::Code;

/// Outcomes and latencies, as the workers record them.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    ok: u64,
    codes: BTreeMap<String, u64>,
    latencies: Vec<Duration>,
}

/// Prints the first failure of each code to stderr, for whoever reads the
/// log.
pub(crate) fn note_first(tally: &Tally, err: &connectrpc::ConnectError) {
    if !tally.codes.contains_key(err.code().as_str()) {
        eprintln!("first {} failure: {}", err.code(), err.message());
    }
}

impl Tally {
    /// Records one call: its time and, if it failed, its code.
    pub(crate) fn record(&mut self, took: Duration, failed: Option<Code>) {
        self.latencies.push(took);
        match failed {
            None => self.ok += 1,
            Some(code) => *self.codes.entry(code.to_string()).or_default() += 1,
        }
    }
}

/// `{"key":n,…}` (keys are endpoints and code names: nothing to escape).
pub(crate) fn json_map(m: &BTreeMap<String, u64>) -> String {
    let mut s = String::from("{");
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "\"{k}\":{v}");
    }
    s.push('}');
    s
}

/// `{"addr":"Ready/2",…}`: each endpoint's health and calls in flight, and
/// its last error while it is not ready (for whoever reads a failed run).
pub(crate) fn health_map(
    endpoints: &[connectrpc::client::resilience::balance::EndpointStatus],
) -> String {
    let mut s = String::from("{");
    for (i, e) in endpoints.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "\"{}\":\"{:?}/{}", e.addr, e.health, e.in_flight);
        if e.health != connectrpc::client::resilience::balance::Health::Ready
            && let Some(err) = &e.last_error
        {
            let _ = write!(s, " {}", err.replace(['"', '\\'], "'"));
        }
        s.push('"');
    }
    s.push('}');
    s
}

/// The figures the last line prints.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) ok: u64,
    pub(crate) failed: u64,
    codes: BTreeMap<String, u64>,
    by_endpoint: BTreeMap<String, u64>,
    retries: u64,
    transparent_retries: u64,
    hedges: u64,
    throttled: u64,
    p50: f64,
    p99: f64,
    max: f64,
}

/// The retry layer's counters, as the report reads them.
pub(crate) struct Attempts {
    pub(crate) retries: u64,
    pub(crate) transparent_retries: u64,
    pub(crate) hedges: u64,
    pub(crate) throttled: u64,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

impl Report {
    pub(crate) fn new(
        mut tally: Tally,
        by_endpoint: BTreeMap<String, u64>,
        attempts: &Attempts,
    ) -> Report {
        tally.latencies.sort_unstable();
        let failed = tally.codes.values().sum();
        Report {
            ok: tally.ok,
            failed,
            p50: percentile(&tally.latencies, 0.50),
            p99: percentile(&tally.latencies, 0.99),
            max: tally
                .latencies
                .last()
                .map_or(0.0, |d| d.as_secs_f64() * 1000.0),
            codes: tally.codes,
            by_endpoint,
            retries: attempts.retries,
            transparent_retries: attempts.transparent_retries,
            hedges: attempts.hedges,
            throttled: attempts.throttled,
        }
    }

    /// One JSON object (keys and code names need no escaping).
    pub(crate) fn to_json(&self) -> String {
        let map = json_map;
        format!(
            "{{\"ok\":{},\"failed\":{},\"codes\":{},\"by_endpoint\":{},\"retries\":{},\"transparent_retries\":{},\"hedges\":{},\"throttled\":{},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"max_ms\":{:.3}}}",
            self.ok,
            self.failed,
            map(&self.codes),
            map(&self.by_endpoint),
            self.retries,
            self.transparent_retries,
            self.hedges,
            self.throttled,
            self.p50,
            self.p99,
            self.max
        )
    }
}
