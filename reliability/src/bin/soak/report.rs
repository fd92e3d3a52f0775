//! The soak's verdict: the tables, the checks, and one JSON line.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::json;

use crate::Args;
use crate::load::Stats;
use crate::probe::{self, Sample};

/// Everything measured.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) warm: Arc<Stats>,
    pub(crate) stats: Arc<Stats>,
    pub(crate) start: Sample,
    pub(crate) during: Vec<Sample>,
    pub(crate) end: Sample,
    pub(crate) load_secs: f64,
}

impl Report {
    /// Prints the report; true when every check passed.
    pub(crate) fn print(&self, args: &Args) -> bool {
        let mut samples = vec![self.start.clone()];
        samples.extend(self.during.iter().cloned());
        samples.push(self.end.clone());
        println!("{}", probe::table(&samples));

        let outcomes = self.stats.outcomes.lock().unwrap().clone();
        println!("{:<24} {:<20} {:>10}", "scenario", "outcome", "calls");
        for ((scenario, outcome), n) in &outcomes {
            println!("{scenario:<24} {outcome:<20} {n:>10}");
        }
        println!();
        for (transport, n) in self.stats.transports.lock().unwrap().iter() {
            println!("{transport:<24} {n:>10}");
        }
        let calls = self.stats.calls();
        let unexpected = self.stats.unexpected() + self.warm.unexpected();
        let rate = calls as f64 / self.load_secs.max(1e-9);
        println!(
            "\n{calls} calls in {:.1} s ({rate:.0}/s), {unexpected} unexpected \
             (warm-up: {} calls); {} client replacements, {} one-off clients",
            self.load_secs,
            self.warm.calls(),
            self.stats.churns.load(Ordering::Relaxed),
            self.stats.fresh_clients.load(Ordering::Relaxed),
        );
        for failure in self
            .warm
            .failures
            .lock()
            .unwrap()
            .iter()
            .chain(self.stats.failures.lock().unwrap().iter())
        {
            println!("unexpected: {failure}");
        }

        let (start, end) = (&self.start, &self.end);
        let rss_growth_kib = end.rss_kib as i64 - start.rss_kib as i64;
        // Between the first and the last sample under load: steady growth
        // there is a leak, whatever the warm-up left behind.
        let rss_drift_kib = match (self.during.first(), self.during.last()) {
            (Some(first), Some(last)) => last.rss_kib as i64 - first.rss_kib as i64,
            _ => 0,
        };
        let checks = [
            ("no unexpected outcomes", unexpected == 0),
            ("fds back to the start", end.fds <= start.fds),
            (
                "server tasks back to the start",
                end.server_tasks <= start.server_tasks,
            ),
            (
                "client tasks back to the start",
                end.client_tasks <= start.client_tasks,
            ),
            (
                "rss growth under the limit",
                rss_growth_kib <= (args.rss_growth_mib * 1024) as i64,
            ),
            (
                "rss drift under load under the limit",
                rss_drift_kib <= (args.rss_drift_mib * 1024) as i64,
            ),
        ];
        println!(
            "rss {} -> {} KiB ({rss_growth_kib:+}, {rss_drift_kib:+} under load), \
             fds {} -> {}, server tasks {} -> {}, client tasks {} -> {}",
            start.rss_kib,
            end.rss_kib,
            start.fds,
            end.fds,
            start.server_tasks,
            end.server_tasks,
            start.client_tasks,
            end.client_tasks,
        );
        for (name, ok) in checks {
            println!("{} {name}", if ok { "PASS" } else { "FAIL" });
        }
        let pass = checks.iter().all(|(_, ok)| *ok);

        let sample = |s: &Sample| {
            json!({
                "label": s.label, "t_secs": (s.at_secs * 10.0).round() / 10.0,
                "rss_kib": s.rss_kib, "fds": s.fds, "server_tasks": s.server_tasks,
                "client_tasks": s.client_tasks, "calls": s.calls, "unexpected": s.unexpected,
            })
        };
        let by_outcome: serde_json::Map<String, serde_json::Value> = outcomes
            .iter()
            .map(|((scenario, outcome), n)| (format!("{scenario}/{outcome}"), json!(n)))
            .collect();
        let line = json!({
            "soak": {
                "secs": args.secs, "concurrency": args.concurrency, "seed": args.seed,
                "calls": calls, "calls_per_sec": rate.round(), "unexpected": unexpected,
                "rss_growth_kib": rss_growth_kib, "rss_drift_kib": rss_drift_kib,
                "start": sample(start), "end": sample(end),
                "samples": samples.iter().map(sample).collect::<Vec<_>>(),
                "outcomes": by_outcome, "pass": pass,
            }
        });
        println!("{line}");
        pass
    }
}
