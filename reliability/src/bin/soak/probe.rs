//! What the soak measures about its own process: resident memory, open
//! file descriptors, and the live tasks of the server's and the clients'
//! tokio runtimes.

use std::time::Instant;

use tokio::runtime::Handle;

/// One measurement.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    pub(crate) label: String,
    pub(crate) at_secs: f64,
    pub(crate) rss_kib: u64,
    pub(crate) fds: usize,
    pub(crate) server_tasks: usize,
    pub(crate) client_tasks: usize,
    pub(crate) calls: u64,
    pub(crate) unexpected: u64,
}

/// `VmRSS` from `/proc/self/status`, in KiB (0 if unreadable).
pub(crate) fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The number of entries in `/proc/self/fd`.
pub(crate) fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Takes the server's and the clients' runtimes to count their tasks.
#[derive(Debug, Clone)]
pub(crate) struct Probe {
    pub(crate) server: Handle,
    pub(crate) client: Handle,
    pub(crate) started: Instant,
}

impl Probe {
    pub(crate) fn sample(&self, label: &str, calls: u64, unexpected: u64) -> Sample {
        Sample {
            label: label.to_owned(),
            at_secs: self.started.elapsed().as_secs_f64(),
            rss_kib: rss_kib(),
            fds: open_fds(),
            server_tasks: self.server.metrics().num_alive_tasks(),
            client_tasks: self.client.metrics().num_alive_tasks(),
            calls,
            unexpected,
        }
    }
}

/// The samples as a table.
pub(crate) fn table(samples: &[Sample]) -> String {
    let mut out = format!(
        "{:<10} {:>8} {:>10} {:>6} {:>12} {:>12} {:>10} {:>10}\n",
        "sample",
        "t (s)",
        "rss (KiB)",
        "fds",
        "server tasks",
        "client tasks",
        "calls",
        "unexpected"
    );
    for s in samples {
        out.push_str(&format!(
            "{:<10} {:>8.1} {:>10} {:>6} {:>12} {:>12} {:>10} {:>10}\n",
            s.label,
            s.at_secs,
            s.rss_kib,
            s.fds,
            s.server_tasks,
            s.client_tasks,
            s.calls,
            s.unexpected
        ));
    }
    out
}
