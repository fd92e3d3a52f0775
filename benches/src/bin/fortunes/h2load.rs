//! h2load as the load generator (`--load h2load`, the default of
//! `fortunes.sh`): the tool the server benches drive every server with,
//! written in C, so it leaves the servers' core the bottleneck. Our own
//! client (`--load client`) costs more per call; on two cores, sharing one
//! with Redis, it saturated first and squeezed every server toward the
//! same rate.
//!
//! h2load counts any HTTP 200 as a success, a gRPC error included:
//! `load::check` has already read 13 sorted fortunes from every server over
//! every protocol before any load runs.

use std::path::Path;

use benches::loopback::{h2load_latencies_ms, h2load_rps, pinned_command};

use crate::load::{Protocol, Run};

/// The request each protocol sends: an empty `FortunesRequest`.
fn request(protocol: Protocol) -> (&'static [u8], &'static [&'static str]) {
    match protocol {
        // A Connect unary body is the bare message; h2load cannot send an
        // empty body, so the message carries one unknown varint field
        // (field 1 = 0), which every server skips.
        Protocol::Connect => (
            b"\x08\x00",
            &[
                "content-type: application/proto",
                "connect-protocol-version: 1",
            ],
        ),
        Protocol::Grpc => (
            b"\x00\x00\x00\x00\x00",
            &["content-type: application/grpc", "te: trailers"],
        ),
        Protocol::GrpcWeb => (
            b"\x00\x00\x00\x00\x00",
            &["content-type: application/grpc-web+proto", "x-grpc-web: 1"],
        ),
    }
}

/// Runs h2load against `port` for `secs` seconds with `concurrency`
/// streams over `connections` connections, pinned to `cpus`. No warm-up:
/// the server's CPU is read around the whole run, so the run is the whole
/// window (the connections' set-up is a few frames of it).
pub(crate) fn run(
    dir: &Path,
    port: u16,
    protocol: Protocol,
    concurrency: usize,
    connections: usize,
    secs: f64,
    cpus: Option<&str>,
) -> Result<Run, String> {
    let (body, headers) = request(protocol);
    let body_file = dir.join(format!("{}.bin", protocol.name()));
    std::fs::write(&body_file, body).map_err(|e| e.to_string())?;
    let log = dir.join("h2load.log");
    let _ = std::fs::remove_file(&log);
    let mut cmd = pinned_command(Path::new("h2load"), cpus);
    let streams = concurrency.div_ceil(connections).max(1);
    cmd.args(["-c", &connections.to_string()])
        .args(["-m", &streams.to_string()])
        .args(["-D", &format!("{secs}")])
        .arg("-d")
        .arg(&body_file)
        .arg("--log-file")
        .arg(&log);
    for h in headers {
        cmd.args(["-H", h]);
    }
    cmd.arg(format!(
        "http://127.0.0.1:{port}/fortunes.v1.FortuneService/GetFortunes"
    ));
    let out = cmd
        .output()
        .map_err(|e| format!("h2load (apt-get install nghttp2-client): {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = |prefix: &str| stdout.lines().find(|l| l.trim_start().starts_with(prefix));
    let failed = line("requests:")
        .and_then(|l| l.split(", ").find_map(|p| p.strip_suffix(" failed")))
        .and_then(|n| n.trim().parse::<u64>().ok())
        .ok_or_else(|| format!("h2load output: {stdout}"))?;
    if failed > 0 {
        return Err(format!("h2load: {failed} requests failed"));
    }
    // h2load's own count and rate are of the measured duration only.
    let rps = h2load_rps(&stdout).ok_or_else(|| format!("h2load output: {stdout}"))?;
    let log = std::fs::read_to_string(&log).map_err(|e| format!("h2load log: {e}"))?;
    let ms = h2load_latencies_ms(&log);
    if ms.is_empty() {
        return Err(format!("h2load: no call completed: {stdout}"));
    }
    let pct = |p: f64| ms[((ms.len() as f64 * p) as usize).min(ms.len() - 1)];
    Ok(Run {
        rps,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        calls: ((rps * secs) as usize).max(1),
        secs,
        server_cpu_us: 0.0,
    })
}
