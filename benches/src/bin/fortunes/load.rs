//! The load generator: our own client (the generated
//! `FortuneServiceClient`), one `Http2Connection` per HTTP/2 connection,
//! `concurrency` tasks each calling in a loop, spread evenly over the
//! connections. The same client drives every server; only the protocol
//! changes.

use std::time::{Duration, Instant};

use connectrpc::{ClientConfig, CompressionRegistry, Http2Connection};

use crate::ours::fortunes::v1::{FortuneServiceClient, FortunesRequest};
use crate::store::EXTRA;

/// The protocols the client speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protocol {
    Connect,
    Grpc,
    GrpcWeb,
}

impl Protocol {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Protocol::Connect => "connect",
            Protocol::Grpc => "grpc",
            Protocol::GrpcWeb => "grpc-web",
        }
    }

    /// The client's config: identity only unless `accept_compression`
    /// (then the client's default, accepting gzip and zstd, and each server
    /// answers by its own policy).
    fn config(self, port: u16, accept_compression: bool) -> ClientConfig {
        let mut config = ClientConfig::new(format!("http://127.0.0.1:{port}").parse().unwrap());
        if !accept_compression {
            config = config.compressions(CompressionRegistry::empty());
        }
        match self {
            Protocol::Connect => config.connect(),
            Protocol::Grpc => config.grpc(),
            Protocol::GrpcWeb => config.grpc_web(),
        }
    }
}

type Client = FortuneServiceClient<Http2Connection>;

/// `connections` clients, each on its own HTTP/2 connection to `port`.
async fn clients(
    port: u16,
    protocol: Protocol,
    accept_compression: bool,
    connections: usize,
) -> Result<Vec<Client>, String> {
    let mut clients = Vec::with_capacity(connections);
    for _ in 0..connections {
        let conn = Http2Connection::connect(format!("http://127.0.0.1:{port}").parse().unwrap())
            .await
            .map_err(|e| format!("connect to {port}: {e}"))?;
        clients.push(FortuneServiceClient::new(
            conn,
            protocol.config(port, accept_compression),
        ));
    }
    Ok(clients)
}

/// One call, checked in full: 13 fortunes sorted by message, the 12 stored
/// ones (ids 1 to 12) and the one added at request time (id 0).
pub(crate) async fn check(
    port: u16,
    protocol: Protocol,
    accept_compression: bool,
) -> Result<(), String> {
    let client = clients(port, protocol, accept_compression, 1)
        .await?
        .remove(0);
    let reply = client
        .get_fortunes(&FortunesRequest::default())
        .await
        .map_err(|e| format!("{}: {e}", protocol.name()))?;
    let fortunes = &reply.message().fortunes;
    let mut ids: Vec<i32> = fortunes.iter().map(|f| f.id).collect();
    ids.sort_unstable();
    let sorted = fortunes.windows(2).all(|w| w[0].message <= w[1].message);
    let extra = fortunes.iter().any(|f| f.id == 0 && f.message == EXTRA);
    if ids != (0..=12).collect::<Vec<_>>() || !sorted || !extra {
        return Err(format!(
            "{}: wrong answer (ids {ids:?}, sorted {sorted}, extra {extra})",
            protocol.name()
        ));
    }
    Ok(())
}

/// What one timed run measured.
#[derive(Clone, Debug, Default)]
pub(crate) struct Run {
    pub(crate) rps: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) calls: usize,
    /// Wall-clock seconds of the timed part.
    pub(crate) secs: f64,
    /// The server's CPU time (user + system, all threads) per call, in µs.
    pub(crate) server_cpu_us: f64,
}

/// Runs `concurrency` callers over `connections` connections for `secs`
/// seconds (each caller makes one untimed call first, so connection set-up
/// is not measured). Every answer must be 13 fortunes; any error fails the
/// run.
pub(crate) async fn run(
    port: u16,
    protocol: Protocol,
    accept_compression: bool,
    concurrency: usize,
    connections: usize,
    secs: f64,
) -> Result<Run, String> {
    let clients = clients(port, protocol, accept_compression, connections).await?;
    let req = FortunesRequest::default();
    // One untimed call per caller.
    let mut first = tokio::task::JoinSet::new();
    for i in 0..concurrency {
        let client = clients[i % connections].clone();
        let req = req.clone();
        first.spawn(async move { call(&client, &req).await });
    }
    while let Some(r) = first.join_next().await {
        r.map_err(|e| e.to_string())??;
    }

    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs);
    let mut callers = tokio::task::JoinSet::new();
    for i in 0..concurrency {
        let client = clients[i % connections].clone();
        let req = req.clone();
        callers.spawn(async move {
            let mut micros: Vec<u32> = Vec::with_capacity(1 << 14);
            loop {
                let t = Instant::now();
                if t >= deadline {
                    return Ok::<_, String>(micros);
                }
                call(&client, &req).await?;
                micros.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
            }
        });
    }
    let mut all: Vec<u32> = Vec::new();
    while let Some(r) = callers.join_next().await {
        all.extend(r.map_err(|e| e.to_string())??);
    }
    let elapsed = start.elapsed().as_secs_f64();
    if all.is_empty() {
        return Err("no call completed".into());
    }
    all.sort_unstable();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)] as f64 / 1000.0;
    Ok(Run {
        rps: all.len() as f64 / elapsed,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        calls: all.len(),
        secs: elapsed,
        server_cpu_us: 0.0,
    })
}

/// One call under load: the answer is read as a view (the load generator
/// should cost as little as it can) and must hold 13 fortunes.
async fn call(client: &Client, req: &FortunesRequest) -> Result<(), String> {
    let reply = client
        .get_fortunes_view(req)
        .await
        .map_err(|e| e.to_string())?;
    let n = reply.message().reborrow().fortunes.len();
    if n != 13 {
        return Err(format!("{n} fortunes, not 13"));
    }
    Ok(())
}
