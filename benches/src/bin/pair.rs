//! The pair over loopback: each framework's generated client calling its
//! own server (`bench-server`), unary echo (or, with `--workload
//! client_stream`, a client stream of ten echo requests), the client
//! itself the load generator.
//!
//! Variants: ours over Connect, gRPC and gRPC-Web; tonic (gRPC); the
//! published `connectrpc` 0.9 over Connect and gRPC. For each, `c`
//! concurrent calls (tasks calling in a loop) spread evenly over `k`
//! HTTP/2 connections (one client per connection: ours and the published
//! crate's `Http2Connection`, a tonic `Channel` per endpoint), after a
//! warm-up, for a fixed time: throughput, and p50 / p99 / max latency of
//! the calls finished in the window. Variants alternate within each
//! round; with several rounds each figure is the median round's.
//!
//! Pinned as the server benches are: servers on the last core, this
//! process (the clients) on the others, so each side has its own CPU.
//!
//! ```text
//! pair [--secs 3] [--warmup-ms 500] [--rounds 1] [--concurrency 16,64,256]
//!      [--connections 1,8] [--only ours-grpc,tonic-grpc] [--json] [--no-pin]
//!      [--workload echo|client_stream] [--message-bytes N]
//! ```
//!
//! `--json` prints one object a line instead of the table:
//! `{"workload":"echo","concurrency":64,"connections":8,"framework":"ours","protocol":"grpc","rps":…,"p50_ms":…,"p99_ms":…,"max_ms":…}`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use benches::STREAM_LEN;
use benches::loopback::{Pinning, start_servers};
use benches::workload::ECHO_MESSAGE;

/// The echo message every call sends: [`ECHO_MESSAGE`], or `--message-bytes`
/// of it repeated.
static MESSAGE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn message_of_stream() -> String {
    message().repeat(STREAM_LEN)
}

fn message() -> &'static str {
    MESSAGE.get().map_or(ECHO_MESSAGE, String::as_str)
}

/// What each call of a run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Workload {
    /// Unary echo.
    Echo,
    /// A client stream of [`STREAM_LEN`] echo requests.
    ClientStream,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::Echo => "echo",
            Workload::ClientStream => "client_stream",
        }
    }
}

const SERVERS: [(&str, u16); 3] = [("ours", 18091), ("connectrpc09", 18092), ("tonic", 18093)];

/// A framework and the protocol its client speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Variant {
    framework: &'static str,
    protocol: &'static str,
}

const VARIANTS: [Variant; 6] = [
    Variant {
        framework: "ours",
        protocol: "connect",
    },
    Variant {
        framework: "ours",
        protocol: "grpc",
    },
    Variant {
        framework: "ours",
        protocol: "grpc-web",
    },
    Variant {
        framework: "tonic",
        protocol: "grpc",
    },
    Variant {
        framework: "connectrpc09",
        protocol: "connect",
    },
    Variant {
        framework: "connectrpc09",
        protocol: "grpc",
    },
];

impl Variant {
    fn name(self) -> String {
        format!("{}-{}", self.framework, self.protocol)
    }

    fn port(self) -> u16 {
        SERVERS
            .iter()
            .find(|s| s.0 == self.framework)
            .map(|s| s.1)
            .unwrap_or_else(|| panic!("no server for {}", self.framework))
    }

    fn uri(self) -> http::Uri {
        format!("http://127.0.0.1:{}", self.port()).parse().unwrap()
    }
}

/// One client on one connection, of any framework.
#[derive(Clone)]
enum Client {
    Ours(
        benches::ours_proto::bench::v1::EchoServiceClient<connectrpc::Http2Connection>,
        benches::ours_proto::bench::v1::EchoRequest,
    ),
    Tonic(
        benches::tonic_proto::echo_service_client::EchoServiceClient<tonic::transport::Channel>,
        benches::tonic_proto::EchoRequest,
    ),
    Published(
        benches::published_proto::bench::v1::EchoServiceClient<
            connectrpc_published::client::SharedHttp2Connection,
        >,
        benches::published_proto::bench::v1::EchoRequest,
    ),
}

impl Client {
    /// A client of `v` on a new HTTP/2 connection to its server.
    async fn connect(v: Variant) -> Result<Client, String> {
        let uri = v.uri();
        match v.framework {
            "ours" => {
                use benches::ours_proto::bench::v1::{EchoRequest, EchoServiceClient};
                let conn = connectrpc::Http2Connection::connect(uri.clone())
                    .await
                    .map_err(|e| e.to_string())?;
                let config = connectrpc::ClientConfig::new(uri);
                let config = match v.protocol {
                    "grpc" => config.grpc(),
                    "grpc-web" => config.grpc_web(),
                    _ => config.connect(),
                };
                let req = EchoRequest {
                    message: message().into(),
                    ..Default::default()
                };
                Ok(Client::Ours(EchoServiceClient::new(conn, config), req))
            }
            "tonic" => {
                use benches::tonic_proto::EchoRequest;
                use benches::tonic_proto::echo_service_client::EchoServiceClient;
                let channel = tonic::transport::Endpoint::from(uri)
                    .connect()
                    .await
                    .map_err(|e| e.to_string())?;
                let req = EchoRequest {
                    message: message().into(),
                };
                Ok(Client::Tonic(EchoServiceClient::new(channel), req))
            }
            _ => {
                use benches::published_proto::bench::v1::{EchoRequest, EchoServiceClient};
                use connectrpc_published::Protocol;
                use connectrpc_published::client::{ClientConfig, Http2Connection};
                let conn = Http2Connection::connect_plaintext(uri.clone())
                    .await
                    .map_err(|e| e.to_string())?
                    .shared(1024);
                let protocol = match v.protocol {
                    "grpc" => Protocol::Grpc,
                    _ => Protocol::Connect,
                };
                let config = ClientConfig::new(uri).with_protocol(protocol);
                let req = EchoRequest {
                    message: message().into(),
                    ..Default::default()
                };
                Ok(Client::Published(EchoServiceClient::new(conn, config), req))
            }
        }
    }

    /// One call of `workload`, its answer checked.
    async fn call(&mut self, workload: Workload) -> Result<(), String> {
        match workload {
            Workload::Echo => self.echo().await,
            Workload::ClientStream => self.client_stream().await,
        }
    }

    /// One client-streaming call of [`STREAM_LEN`] echo requests, all
    /// ready at once, its answer (the messages joined) checked.
    async fn client_stream(&mut self) -> Result<(), String> {
        use futures_util::stream::iter;
        let message = match self {
            Client::Ours(client, req) => client
                .echo_client_stream(iter(vec![req.clone(); STREAM_LEN]))
                .await
                .map(|r| r.into_inner().message)
                .map_err(|e| e.to_string())?,
            Client::Tonic(client, req) => client
                .echo_client_stream(iter(vec![req.clone(); STREAM_LEN]))
                .await
                .map(|r| r.into_inner().message)
                .map_err(|e| e.to_string())?,
            Client::Published(client, req) => client
                .echo_client_stream(connectrpc_published::stream_iter(vec![
                    req.clone();
                    STREAM_LEN
                ]))
                .await
                .map(|r| r.into_view().reborrow().message.to_owned())
                .map_err(|e| e.to_string())?,
        };
        if message == message_of_stream() {
            Ok(())
        } else {
            Err("the client stream's answer came back different".to_owned())
        }
    }

    /// One echo call, its answer checked.
    async fn echo(&mut self) -> Result<(), String> {
        let message = match self {
            Client::Ours(client, req) => client
                .echo(&*req)
                .await
                .map(|r| r.message == message())
                .map_err(|e| e.to_string())?,
            Client::Tonic(client, req) => client
                .echo(req.clone())
                .await
                .map(|r| r.into_inner().message == message())
                .map_err(|e| e.to_string())?,
            Client::Published(client, req) => client
                .echo(req.clone())
                .await
                .map(|r| r.into_view().reborrow().message == message())
                .map_err(|e| e.to_string())?,
        };
        if message {
            Ok(())
        } else {
            Err("the echo came back different".to_owned())
        }
    }
}

/// What one run measured.
#[derive(Clone, Debug, Default)]
struct Run {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    /// The first failed call's error: the run stopped there.
    error: Option<String>,
}

/// `concurrency` tasks over `connections` new connections: warm-up, then
/// `secs` of calls counted.
async fn run(
    workload: Workload,
    v: Variant,
    concurrency: usize,
    connections: usize,
    warmup: Duration,
    secs: f64,
) -> Run {
    let mut clients = Vec::with_capacity(connections);
    for _ in 0..connections {
        clients.push(
            Client::connect(v)
                .await
                .unwrap_or_else(|e| panic!("{}: connect: {e}", v.name())),
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now() + warmup;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..concurrency {
        let mut client = clients[i % connections].clone();
        let stop = stop.clone();
        let name = v.name();
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(4096);
            while !stop.load(Ordering::Relaxed) {
                let began = Instant::now();
                if let Err(e) = client.call(workload).await {
                    stop.store(true, Ordering::Relaxed);
                    return Err(format!("{name}: {e}"));
                }
                if began >= start {
                    latencies.push(began.elapsed());
                }
            }
            Ok(latencies)
        });
    }
    tokio::time::sleep_until((start + Duration::from_secs_f64(secs)).into()).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let mut error = None;
    while let Some(done) = tasks.join_next().await {
        match done.expect("a load task panicked") {
            Ok(latencies) => all.extend(latencies),
            Err(e) => error = error.or(Some(e)),
        }
    }
    if error.is_some() {
        return Run {
            error,
            ..Run::default()
        };
    }
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    Run {
        // Calls that began in the window (the last ones finish just after).
        rps: all.len() as f64 / secs,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        max_ms: all.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        error: None,
    }
}

struct Args {
    secs: f64,
    warmup: Duration,
    rounds: usize,
    concurrency: Vec<usize>,
    connections: Vec<usize>,
    only: Option<Vec<String>>,
    json: bool,
    pin: bool,
    workload: Workload,
}

fn list(s: &str) -> Vec<usize> {
    s.split(',')
        .map(|x| x.trim().parse().expect("a number"))
        .collect()
}

fn parse_args() -> Args {
    let mut a = Args {
        secs: 3.0,
        warmup: Duration::from_millis(500),
        rounds: 1,
        concurrency: vec![16, 64, 256],
        connections: vec![1, 8],
        only: None,
        json: false,
        pin: true,
        workload: Workload::Echo,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = || it.next().expect("flag value");
        match arg.as_str() {
            "--secs" => a.secs = val().parse().expect("--secs"),
            "--warmup-ms" => a.warmup = Duration::from_millis(val().parse().expect("--warmup-ms")),
            "--rounds" => a.rounds = val().parse::<usize>().expect("--rounds").max(1),
            "--concurrency" => a.concurrency = list(&val()),
            "--connections" => a.connections = list(&val()),
            "--only" => a.only = Some(val().split(',').map(str::to_owned).collect()),
            "--json" => a.json = true,
            "--no-pin" => a.pin = false,
            "--message-bytes" => {
                let n: usize = val().parse().expect("--message-bytes");
                let text: String = ECHO_MESSAGE.chars().cycle().take(n).collect();
                MESSAGE.set(text).expect("--message-bytes given once");
            }
            "--workload" => {
                a.workload = match val().as_str() {
                    "echo" => Workload::Echo,
                    "client_stream" => Workload::ClientStream,
                    other => panic!("unknown workload {other} (echo, client_stream)"),
                }
            }
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

fn median_run(mut runs: Vec<Run>) -> Run {
    runs.sort_by(|a, b| a.rps.total_cmp(&b.rps));
    // A run that failed is the result: the variant does not work here.
    if let Some(failed) = runs.iter().find(|r| r.error.is_some()) {
        return failed.clone();
    }
    runs[runs.len() / 2].clone()
}

fn main() {
    let args = parse_args();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pin = if args.pin {
        Pinning::detect(cores)
    } else {
        None
    };
    let _servers = start_servers(&SERVERS, pin.as_ref());
    let load_cores = match &pin {
        Some(p) => {
            p.pin_self_to_load().expect("pin the clients");
            cores - 1
        }
        None => cores,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(load_cores)
        .enable_all()
        .build()
        .unwrap();
    let variants: Vec<Variant> = VARIANTS
        .into_iter()
        .filter(|v| args.only.as_ref().is_none_or(|o| o.contains(&v.name())))
        .collect();
    // (concurrency, connections, variant) -> runs
    let mut results: Vec<((usize, usize, Variant), Vec<Run>)> = Vec::new();
    rt.block_on(async {
        for v in &variants {
            // One checked call each before anything is timed.
            Client::connect(*v)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", v.name()))
                .call(args.workload)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", v.name()));
        }
        for _ in 0..args.rounds {
            for &k in &args.connections {
                for &c in &args.concurrency {
                    for v in &variants {
                        let r = run(args.workload, *v, c, k, args.warmup, args.secs).await;
                        match results.iter_mut().find(|(key, _)| *key == (c, k, *v)) {
                            Some((_, runs)) => runs.push(r),
                            None => results.push(((c, k, *v), vec![r])),
                        }
                    }
                }
            }
        }
    });
    let results: Vec<((usize, usize, Variant), Run)> = results
        .into_iter()
        .map(|(key, runs)| (key, median_run(runs)))
        .collect();
    if args.json {
        for ((c, k, v), r) in &results {
            if let Some(e) = &r.error {
                println!(
                    "{{\"workload\":\"{}\",\"concurrency\":{c},\"connections\":{k},\"framework\":\"{}\",\"protocol\":\"{}\",\"error\":{e:?}}}",
                    args.workload.name(),
                    v.framework,
                    v.protocol,
                );
                continue;
            }
            println!(
                "{{\"workload\":\"{}\",\"concurrency\":{c},\"connections\":{k},\"framework\":\"{}\",\"protocol\":\"{}\",\"rps\":{:.0},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"max_ms\":{:.3}}}",
                args.workload.name(),
                v.framework,
                v.protocol,
                r.rps,
                r.p50_ms,
                r.p99_ms,
                r.max_ms
            );
        }
        return;
    }
    print_table(&args, &variants, &results, pin.is_some());
}

fn print_table(
    args: &Args,
    variants: &[Variant],
    results: &[((usize, usize, Variant), Run)],
    pinned: bool,
) {
    let get = |c, k, v: Variant| {
        results
            .iter()
            .find(|(key, _)| *key == (c, k, v))
            .map(|(_, r)| r.clone())
    };
    println!(
        "# The pair over loopback: {}, each client against its own server ({} s per run, {} round(s), {})",
        match args.workload {
            Workload::Echo => format!("unary echo of {} bytes", message().len()),
            Workload::ClientStream => {
                format!("client stream of {STREAM_LEN} × {} bytes", message().len())
            }
        },
        args.secs,
        args.rounds,
        if pinned {
            "servers pinned to the last core, clients to the others"
        } else {
            "not pinned"
        }
    );
    println!();
    println!(
        "| conns | c | variant | req/s | p50 ms | p99 ms | max ms | vs tonic | vs connectrpc09 (same protocol) |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for &k in &args.connections {
        for &c in &args.concurrency {
            let tonic = get(c, k, VARIANTS[3]);
            for v in variants {
                let Some(r) = get(c, k, *v) else { continue };
                if let Some(e) = &r.error {
                    println!("| {k} | {c} | {} | failed: {e} | | | | | |", v.name());
                    continue;
                }
                let ratio = |other: Option<Run>| match other {
                    Some(o) if v.framework == "ours" && o.rps > 0.0 => {
                        format!("{:.2}×", r.rps / o.rps)
                    }
                    _ => String::new(),
                };
                let published = VARIANTS
                    .iter()
                    .find(|p| p.framework == "connectrpc09" && p.protocol == v.protocol)
                    .and_then(|p| get(c, k, *p));
                println!(
                    "| {k} | {c} | {} | {:.0} | {:.3} | {:.3} | {:.3} | {} | {} |",
                    v.name(),
                    r.rps,
                    r.p50_ms,
                    r.p99_ms,
                    r.max_ms,
                    ratio(tonic.clone()),
                    ratio(published),
                );
            }
        }
    }
}
