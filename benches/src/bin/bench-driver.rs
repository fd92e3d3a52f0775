//! Loopback benchmark driver and report.
//!
//! Starts `bench-server` (next to this binary) once per framework on
//! 127.0.0.1, checks one real call per framework and workload with an
//! HTTP/2 client (h2load counts a gRPC error as a success), then runs
//! `h2load -n N -c 8 -m {2,8,32}` for unary echo and unary log ingest,
//! several rounds with the frameworks in alternation. Prints one table with
//! the in-process criterion results (read from `target/criterion`) and the
//! loopback results, with ratios ours/theirs.
//!
//! With two or more cores (and `taskset`, from util-linux), the servers are
//! pinned to the last core and h2load to the others, so the load generator
//! never takes CPU from the server under test: throughput then measures the
//! server's cost per request, the same one core for every framework (each
//! server's tokio runtime sizes itself to the one core it may run on).
//! `--no-pin` lets them share all cores instead.
//!
//! ```text
//! bench-driver [--rounds 3] [--echo-n 100000] [--ingest-n 30000]
//!              [--criterion-dir target/criterion] [--no-loopback] [--no-pin]
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use benches::loopback::{Pinning, median, pinned_command, start_servers};
use benches::workload::{Proto, Template, Workload, check};
use http_body_util::BodyExt as _;

const FRAMEWORKS: [(&str, u16); 4] = [
    ("ours", 18081),
    ("connectrpc09", 18082),
    ("tonic", 18083),
    ("bare", 18084),
];

/// A loopback variant: framework, protocol (bare: none).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Variant {
    framework: &'static str,
    proto: Option<&'static str>,
}

impl Variant {
    fn name(&self) -> String {
        match self.proto {
            Some(p) => format!("{}-{p}", self.framework),
            None => self.framework.to_owned(),
        }
    }
    fn port(&self) -> u16 {
        FRAMEWORKS.iter().find(|f| f.0 == self.framework).unwrap().1
    }
    fn template(&self, w: Workload) -> Template {
        // bare echoes whatever it is sent: the Connect unary request.
        let proto = match self.proto {
            Some("grpc") => Proto::Grpc,
            _ => Proto::Connect,
        };
        Template::new(w, proto)
    }
}

const VARIANTS: [Variant; 6] = [
    Variant {
        framework: "ours",
        proto: Some("connect"),
    },
    Variant {
        framework: "connectrpc09",
        proto: Some("connect"),
    },
    Variant {
        framework: "ours",
        proto: Some("grpc"),
    },
    Variant {
        framework: "connectrpc09",
        proto: Some("grpc"),
    },
    Variant {
        framework: "tonic",
        proto: Some("grpc"),
    },
    Variant {
        framework: "bare",
        proto: None,
    },
];

/// Which variant an "ours" row is compared against.
fn ours_for(v: &Variant) -> Option<String> {
    match (v.framework, v.proto) {
        ("ours", _) => None,
        (_, Some(p)) => Some(format!("ours-{p}")),
        (_, None) => Some("ours-connect".to_owned()),
    }
}

struct Args {
    rounds: usize,
    echo_n: usize,
    ingest_n: usize,
    criterion_dir: PathBuf,
    loopback: bool,
    pin: bool,
}

fn parse_args() -> Args {
    let mut a = Args {
        rounds: 3,
        echo_n: 100_000,
        ingest_n: 30_000,
        criterion_dir: PathBuf::from(
            std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()),
        )
        .join("criterion"),
        loopback: true,
        pin: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = || it.next().expect("flag value");
        match arg.as_str() {
            "--rounds" => a.rounds = val().parse().unwrap(),
            "--echo-n" => a.echo_n = val().parse().unwrap(),
            "--ingest-n" => a.ingest_n = val().parse().unwrap(),
            "--criterion-dir" => a.criterion_dir = val().into(),
            "--no-loopback" => a.loopback = false,
            "--no-pin" => a.pin = false,
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

/// One real HTTP/2 call per variant and workload; panics unless it is a
/// success (HTTP 200, grpc-status 0, ...).
async fn verify(v: &Variant, w: Workload) {
    let t = v.template(w);
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", v.port()))
        .await
        .unwrap();
    let (mut send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let mut req = t.request();
    *req.uri_mut() = format!("http://127.0.0.1:{}{}", v.port(), t.path)
        .parse()
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let collected = body.collect().await.unwrap();
    let trailers = collected.trailers().cloned();
    let body = collected.to_bytes();
    let result = if v.proto.is_none() {
        if parts.status == 200 && body == t.body {
            Ok(1)
        } else {
            Err(format!("bare: {}", parts.status))
        }
    } else {
        check(&t, &parts, trailers.as_ref(), &body)
    };
    if let Err(e) = result {
        panic!("{} {}: not a success: {e}", v.name(), w.name());
    }
}

#[derive(Clone, Debug, Default)]
struct Run {
    rps: f64,
    mean_ms: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

fn h2load(v: &Variant, w: Workload, m: usize, n: usize, dir: &Path, pin: Option<&Pinning>) -> Run {
    let t = v.template(w);
    let body = dir.join(format!("{}-{}.bin", w.name(), v.proto.unwrap_or("connect")));
    std::fs::write(&body, &t.body).unwrap();
    let log = dir.join("h2load.log");
    let _ = std::fs::remove_file(&log);
    let mut cmd = pinned_command(Path::new("h2load"), pin.map(|p| p.load.as_str()));
    cmd.args(["-n", &n.to_string(), "-c", "8", "-m", &m.to_string(), "-d"])
        .arg(&body)
        .arg("--log-file")
        .arg(&log);
    for h in t.h2load_headers() {
        cmd.args(["-H", &h]);
    }
    cmd.arg(format!("http://127.0.0.1:{}{}", v.port(), t.path));
    let out = cmd
        .output()
        .expect("run h2load (apt-get install nghttp2-client)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let rps =
        benches::loopback::h2load_rps(&stdout).unwrap_or_else(|| panic!("h2load output: {stdout}"));
    let requests = stdout
        .lines()
        .find(|l| l.starts_with("requests:"))
        .unwrap_or("");
    let succeeded = requests
        .split(", ")
        .find_map(|p| p.strip_suffix(" succeeded")?.parse::<usize>().ok())
        .unwrap_or(0);
    assert_eq!(succeeded, n, "{} {} m={m}: {requests}", v.name(), w.name());
    let lat = benches::loopback::h2load_latencies_ms(&std::fs::read_to_string(&log).unwrap());
    assert_eq!(lat.len(), n, "h2load log rows");
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    Run {
        rps,
        mean_ms: lat.iter().sum::<f64>() / lat.len() as f64,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        max_ms: *lat.last().unwrap(),
    }
}

fn criterion_median_ns(dir: &Path, group: &str, id: &str) -> Option<f64> {
    let text = std::fs::read_to_string(dir.join(group).join(id).join("new/estimates.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["median"]["point_estimate"].as_f64()
}

/// Prints one markdown table of criterion medians, one row per framework
/// and protocol of each group, with ours ÷ theirs in throughput.
fn criterion_table(dir: &Path, groups: &[&str], bench: &str) {
    println!("| workload | framework-protocol | µs/call | calls/s | ours ÷ theirs (throughput) |");
    println!("| --- | --- | ---: | ---: | ---: |");
    let ids = [
        "ours-connect",
        "ours-view-connect",
        "connectrpc09-connect",
        "ours-grpc",
        "ours-view-grpc",
        "connectrpc09-grpc",
        "tonic-grpc",
        "bare-grpc",
    ];
    let mut any = false;
    for group in groups {
        let times: BTreeMap<&str, f64> = ids
            .iter()
            .filter_map(|id| Some((*id, criterion_median_ns(dir, group, id)?)))
            .collect();
        for id in ids {
            let Some(ns) = times.get(id) else { continue };
            any = true;
            let (ours, views) = if id.starts_with("ours") {
                (None, None)
            } else if id.starts_with("bare") || id.ends_with("connect") {
                // The floor is compared with ours over Connect, as over
                // loopback.
                (times.get("ours-connect"), times.get("ours-view-connect"))
            } else {
                (times.get("ours-grpc"), times.get("ours-view-grpc"))
            };
            let mut ratio = ours.map(|o| format!("{:.2}×", ns / o)).unwrap_or_default();
            if let Some(v) = views.filter(|_| !id.starts_with("bare")) {
                // Ours answering with views, as connectrpc 0.9 does.
                ratio.push_str(&format!(" (views {:.2}×)", ns / v));
            }
            println!(
                "| {group} | {id} | {:.2} | {:.0} | {ratio} |",
                ns / 1000.0,
                1e9 / ns
            );
        }
    }
    if !any {
        println!(
            "(no criterion results under {}; run `cargo bench -p benches --bench {bench}` first)",
            dir.display()
        );
    }
}

fn main() {
    let args = parse_args();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);

    // In-process (criterion).
    println!(
        "## In-process (criterion median per call; tower service called directly, body read to the end)\n"
    );
    println!(
        "`bare-grpc` is the floor: the same harness around a service that answers with the request body and does no RPC work (its ratio is against ours-connect).\n"
    );
    let groups: Vec<&str> = Workload::ALL.iter().map(|w| w.name()).collect();
    criterion_table(&args.criterion_dir, &groups, "inprocess");
    println!(
        "\n## Client, in process (criterion median per call; each generated client over the same in-memory channel)\n"
    );
    println!(
        "`bare-grpc` is the floor: the channel called with a prebuilt request, its answer read (its ratio is against ours-connect).\n"
    );
    let client_groups: Vec<String> = Workload::ALL
        .iter()
        .map(|w| format!("client_{}", w.name()))
        .collect();
    let client_groups: Vec<&str> = client_groups.iter().map(String::as_str).collect();
    criterion_table(&args.criterion_dir, &client_groups, "client");

    if !args.loopback {
        return;
    }

    // Loopback (h2load).
    let dir = std::env::temp_dir().join(format!("connectrpc-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pin = if args.pin {
        Pinning::detect(cores)
    } else {
        None
    };
    let _servers = start_servers(&FRAMEWORKS, pin.as_ref());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let workloads = [Workload::Echo, Workload::Ingest];
    for v in &VARIANTS {
        for w in workloads {
            rt.block_on(verify(v, w));
        }
    }
    eprintln!("all frameworks answered one call of each workload with success");

    let concurrency = [2usize, 8, 32];
    let mut runs: BTreeMap<(usize, usize, usize), Vec<Run>> = BTreeMap::new();
    for round in 0..args.rounds {
        for (wi, w) in workloads.iter().enumerate() {
            let n = if *w == Workload::Echo {
                args.echo_n
            } else {
                args.ingest_n
            };
            for (mi, m) in concurrency.iter().enumerate() {
                // Rotate the order each round so no framework always goes first.
                for k in 0..VARIANTS.len() {
                    let vi = (k + round) % VARIANTS.len();
                    let r = h2load(&VARIANTS[vi], *w, *m, n, &dir, pin.as_ref());
                    eprintln!(
                        "round {} {} m={m} {}: {:.0} req/s p50 {:.2} ms p99 {:.2} ms",
                        round + 1,
                        w.name(),
                        VARIANTS[vi].name(),
                        r.rps,
                        r.p50_ms,
                        r.p99_ms
                    );
                    runs.entry((wi, mi, vi)).or_default().push(r);
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);

    let placement = match &pin {
        Some(p) => format!(
            "{cores} cores: each server pinned to core {}, h2load to core(s) {}",
            p.server, p.load
        ),
        None => format!("{cores} cores shared by h2load and the server"),
    };
    println!(
        "\n## Loopback h2c (h2load -c 8 -m M, {} rounds, median; {placement})\n",
        args.rounds
    );
    println!(
        "| workload | streams (8×M) | framework-protocol | req/s | mean ms | p50 ms | p99 ms | max ms | ours ÷ theirs (req/s) |"
    );
    println!("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (wi, w) in workloads.iter().enumerate() {
        for (mi, m) in concurrency.iter().enumerate() {
            let med: Vec<Run> = (0..VARIANTS.len())
                .map(|vi| {
                    let rs = &runs[&(wi, mi, vi)];
                    let f = |g: fn(&Run) -> f64| median(rs.iter().map(g).collect());
                    Run {
                        rps: f(|r| r.rps),
                        mean_ms: f(|r| r.mean_ms),
                        p50_ms: f(|r| r.p50_ms),
                        p99_ms: f(|r| r.p99_ms),
                        max_ms: f(|r| r.max_ms),
                    }
                })
                .collect();
            for (vi, v) in VARIANTS.iter().enumerate() {
                let r = &med[vi];
                let ratio = ours_for(v)
                    .and_then(|o| VARIANTS.iter().position(|x| x.name() == o))
                    .map(|oi| format!("{:.2}×", med[oi].rps / r.rps))
                    .unwrap_or_default();
                println!(
                    "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {ratio} |",
                    w.name(),
                    8 * m,
                    v.name(),
                    r.rps,
                    r.mean_ms,
                    r.p50_ms,
                    r.p99_ms,
                    r.max_ms
                );
            }
        }
    }
}
