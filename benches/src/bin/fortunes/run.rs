//! `fortunes run`: starts every server (pinned to the server cores when
//! asked), checks one call of every framework and protocol, drives each
//! with the load generator of [`crate::load`] at every concurrency, and
//! prints a Markdown table (or JSON lines).

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use benches::loopback::median;

use crate::load::{self, Protocol, Run};

pub(crate) struct Args {
    pub(crate) redis: String,
    pub(crate) go_server: Option<PathBuf>,
    pub(crate) secs: f64,
    pub(crate) rounds: usize,
    pub(crate) concurrency: Vec<usize>,
    pub(crate) connections: usize,
    pub(crate) json: bool,
    /// `taskset -c` list for the servers; `None`: not pinned.
    pub(crate) server_cpus: Option<String>,
    /// The client accepts gzip and zstd answers (its default); otherwise
    /// identity only, so no server compresses.
    pub(crate) accept_compression: bool,
    /// Redis's pid, to report how busy it is (stderr only).
    pub(crate) redis_pid: Option<String>,
    /// Only these cells (`framework-protocol`, e.g. `ours-grpc`); empty: all.
    pub(crate) only: Vec<String>,
    /// What drives the load.
    pub(crate) load: Load,
    /// `taskset -c` list for h2load; `None`: not pinned.
    pub(crate) load_cpus: Option<String>,
}

/// The load generator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Load {
    /// Our generated client, in this process.
    Client,
    /// h2load (see the `h2load` module).
    H2load,
}

impl Args {
    /// The defaults: 3 s per cell, 1 round, c = 16 / 64 / 256 over 8
    /// connections, no connect-go, not pinned, a table.
    pub(crate) fn new(redis: String) -> Args {
        Args {
            redis,
            go_server: None,
            secs: 3.0,
            rounds: 1,
            concurrency: vec![16, 64, 256],
            connections: 8,
            json: false,
            server_cpus: None,
            accept_compression: false,
            redis_pid: None,
            only: Vec::new(),
            load: Load::Client,
            load_cpus: None,
        }
    }
}

/// One server under test and the protocols the load generator speaks to it.
struct Framework {
    name: &'static str,
    protocols: &'static [Protocol],
}

const FRAMEWORKS: [Framework; 4] = [
    Framework {
        name: "ours",
        protocols: &[Protocol::Connect, Protocol::Grpc, Protocol::GrpcWeb],
    },
    Framework {
        name: "tonic",
        protocols: &[Protocol::Grpc],
    },
    Framework {
        name: "connectrpc09",
        protocols: &[Protocol::Connect, Protocol::Grpc],
    },
    Framework {
        name: "connect-go",
        protocols: &[Protocol::Connect, Protocol::Grpc],
    },
];

/// The servers, killed when dropped (also on a panic).
struct Servers(Vec<Child>);

impl Drop for Servers {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// CPU seconds (user + system, every thread) process `pid` has used, from
/// `/proc/<pid>/stat` (clock ticks of 1/100 s, Linux's `USER_HZ`); `None`
/// where there is no `/proc`.
fn cpu_secs(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state is the
    // first, utime the 12th and stime the 13th.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// CPU seconds (user + system) of this process's children that have
/// ended and been waited for (h2load's runs).
fn children_cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // cutime and cstime follow utime and stime.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(13);
    let cutime: f64 = fields.next()?.parse().ok()?;
    let cstime: f64 = fields.next()?.parse().ok()?;
    Some((cutime + cstime) / 100.0)
}

/// A port nobody listens on now (the kernel's pick on 127.0.0.1).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

fn command(program: PathBuf, cpus: Option<&str>) -> Command {
    match cpus {
        Some(cpus) => {
            let mut c = Command::new("taskset");
            c.args(["-c", cpus]).arg(program);
            c
        }
        None => Command::new(program),
    }
}

/// Starts the servers of `frameworks`; their ports in the same order.
fn start(args: &Args, frameworks: &[&Framework]) -> (Servers, Vec<u16>) {
    let exe = std::env::current_exe().expect("current_exe");
    let mut servers = Servers(Vec::new());
    let mut ports = Vec::new();
    for fw in frameworks {
        let port = free_port();
        let mut cmd = if fw.name == "connect-go" {
            let go = args
                .go_server
                .clone()
                .expect("connect-go needs --go-server");
            let mut c = command(go, args.server_cpus.as_deref());
            c.arg(port.to_string()).arg(&args.redis);
            c
        } else {
            let mut c = command(exe.clone(), args.server_cpus.as_deref());
            c.args(["serve", fw.name, &port.to_string(), &args.redis]);
            c
        };
        // The server exits when its stdin closes: when this process ends,
        // however it ends, no server outlives it.
        let child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start the {} server: {e}", fw.name));
        servers.0.push(child);
        ports.push(port);
    }
    for (fw, port) in frameworks.iter().zip(&ports) {
        let addr = SocketAddr::from(([127, 0, 0, 1], *port));
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "{} server did not start on {addr}",
                fw.name
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    (servers, ports)
}

pub(crate) fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let wanted = |fw: &str, p: Option<Protocol>| {
        args.only.is_empty()
            || args.only.iter().any(|o| match p {
                Some(p) => *o == format!("{fw}-{}", p.name()),
                None => o.starts_with(&format!("{fw}-")),
            })
    };
    let frameworks: Vec<&Framework> = FRAMEWORKS
        .iter()
        .filter(|f| f.name != "connect-go" || args.go_server.is_some())
        .filter(|f| wanted(f.name, None))
        .collect();
    if args.go_server.is_none() {
        eprintln!("no --go-server: connect-go is left out");
    }
    if args.load == Load::H2load && args.accept_compression {
        return Err(
            "--accept-compression needs --load client (h2load asks for no compression)".into(),
        );
    }
    let (servers, ports) = start(&args, &frameworks);
    // (framework index, protocol): every cell of the table.
    let cells: Vec<(usize, Protocol)> = frameworks
        .iter()
        .enumerate()
        .flat_map(|(i, f)| f.protocols.iter().map(move |p| (i, *p)))
        .filter(|&(i, p)| wanted(frameworks[i].name, Some(p)))
        .collect();
    for (i, (fw, port)) in frameworks.iter().zip(&ports).enumerate() {
        eprintln!("{} server: pid {}, port {port}", fw.name, servers.0[i].id());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    for &(i, p) in &cells {
        rt.block_on(load::check(ports[i], p, args.accept_compression))
            .map_err(|e| format!("{}: {e}", frameworks[i].name))?;
    }
    eprintln!("every server answered 13 sorted fortunes over each protocol");

    let dir = std::env::temp_dir().join(format!("fortunes-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut runs: BTreeMap<(usize, usize), Vec<Run>> = BTreeMap::new();
    for round in 0..args.rounds {
        for (ci, &c) in args.concurrency.iter().enumerate() {
            // Rotate the order each round (and concurrency) so no server
            // always goes first.
            for k in 0..cells.len() {
                let cell = (k + round + ci) % cells.len();
                let (i, p) = cells[cell];
                let server = servers.0[i].id().to_string();
                let redis = args.redis_pid.as_deref().unwrap_or("none");
                let load_secs = || match args.load {
                    Load::Client => cpu_secs("self"),
                    Load::H2load => children_cpu_secs(),
                };
                let before = (cpu_secs(&server), load_secs(), cpu_secs(redis));
                let r = match args.load {
                    Load::Client => rt.block_on(load::run(
                        ports[i],
                        p,
                        args.accept_compression,
                        c,
                        args.connections,
                        args.secs,
                    )),
                    Load::H2load => crate::h2load::run(
                        &dir,
                        ports[i],
                        p,
                        c,
                        args.connections,
                        args.secs,
                        args.load_cpus.as_deref(),
                    ),
                };
                let mut r =
                    r.map_err(|e| format!("{} {} c={c}: {e}", frameworks[i].name, p.name()))?;
                let after = (cpu_secs(&server), load_secs(), cpu_secs(redis));
                // Includes the untimed first calls and connection set-up:
                // a little high, alike for every server.
                let server_cpu = after.0.zip(before.0).map(|(a, b)| a - b);
                let load_cpu = after.1.zip(before.1).map(|(a, b)| a - b);
                let redis_cpu = after.2.zip(before.2).map(|(a, b)| a - b);
                r.server_cpu_us = server_cpu.map_or(f64::NAN, |s| s * 1e6 / r.calls as f64);
                eprintln!(
                    "round {} c={c} {}-{}: {:.0} req/s p50 {:.2} ms p99 {:.2} ms ({} calls); \
                     server CPU {:.1} µs/call, busy {:.0} %; load generator busy {:.0} %{}",
                    round + 1,
                    frameworks[i].name,
                    p.name(),
                    r.rps,
                    r.p50_ms,
                    r.p99_ms,
                    r.calls,
                    r.server_cpu_us,
                    server_cpu.unwrap_or(f64::NAN) * 100.0 / r.secs,
                    load_cpu.unwrap_or(f64::NAN) * 100.0 / r.secs,
                    redis_cpu
                        .map(|s| format!(", redis {:.0} %", s * 100.0 / r.secs))
                        .unwrap_or_default(),
                );
                runs.entry((ci, cell)).or_default().push(r);
            }
        }
    }
    let med = |ci: usize, cell: usize| {
        let rs = &runs[&(ci, cell)];
        let f = |g: fn(&Run) -> f64| median(rs.iter().map(g).collect());
        Run {
            rps: f(|r| r.rps),
            p50_ms: f(|r| r.p50_ms),
            p99_ms: f(|r| r.p99_ms),
            calls: 0,
            secs: 0.0,
            server_cpu_us: f(|r| r.server_cpu_us),
        }
    };
    let find = |fw: &str, p: Protocol| {
        cells
            .iter()
            .position(|&(i, q)| frameworks[i].name == fw && q == p)
    };

    if args.json {
        for (ci, &c) in args.concurrency.iter().enumerate() {
            for (cell, &(i, p)) in cells.iter().enumerate() {
                let r = med(ci, cell);
                // Written by hand to keep the keys in the documented order.
                println!(
                    "{{\"workload\":\"fortunes\",\"concurrency\":{c},\"connections\":{},\"framework\":{},\"protocol\":{},\"rps\":{:.1},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"server_cpu_us\":{}}}",
                    args.connections,
                    serde_json::Value::from(frameworks[i].name),
                    serde_json::Value::from(p.name()),
                    r.rps,
                    r.p50_ms,
                    r.p99_ms,
                    serde_json::Value::from((r.server_cpu_us * 10.0).round() / 10.0),
                );
            }
        }
        return Ok(());
    }

    println!(
        "## Fortunes (Redis HGETALL of 12, add one, sort, answer 13; {} connections, {} s per cell, {} round(s), median; load: {}; {})\n",
        args.connections,
        args.secs,
        args.rounds,
        match args.load {
            Load::H2load => "h2load",
            Load::Client => "our generated client",
        },
        if args.accept_compression {
            "the client accepts gzip and zstd: each server compresses by its own default"
        } else {
            "the client accepts identity only: no server compresses"
        }
    );
    println!(
        "Server CPU: the server process's user + system time per call (from /proc; with the server's core busy, what decides throughput). Ratios: ours ÷ this in req/s, this ÷ ours in server CPU per call; above 1, ours is ahead.\n"
    );
    println!(
        "| concurrency | framework | protocol | req/s | p50 ms | p99 ms | server CPU µs/call | ours ÷ this (req/s) | this ÷ ours (CPU/call) |"
    );
    println!("| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (ci, &c) in args.concurrency.iter().enumerate() {
        for (cell, &(i, p)) in cells.iter().enumerate() {
            let r = med(ci, cell);
            let ours = find("ours", p)
                .filter(|_| frameworks[i].name != "ours")
                .map(|o| med(ci, o));
            let ratio = ours
                .as_ref()
                .map(|o| format!("{:.2}×", o.rps / r.rps))
                .unwrap_or_default();
            let cpu_ratio = ours
                .as_ref()
                .map(|o| format!("{:.2}×", r.server_cpu_us / o.server_cpu_us))
                .unwrap_or_default();
            println!(
                "| {c} | {} | {} | {:.0} | {:.2} | {:.2} | {:.1} | {ratio} | {cpu_ratio} |",
                frameworks[i].name,
                p.name(),
                r.rps,
                r.p50_ms,
                r.p99_ms,
                r.server_cpu_us
            );
        }
    }
    if let Some(grpc) = find("ours", Protocol::Grpc) {
        println!("\n### Our server by protocol (the same client; ÷ ours over gRPC, req/s)\n");
        println!(
            "| concurrency | connect ÷ grpc (req/s) | grpc-web ÷ grpc (req/s) | connect ÷ grpc (server CPU/call) | grpc-web ÷ grpc (server CPU/call) |"
        );
        println!("| ---: | ---: | ---: | ---: | ---: |");
        for (ci, &c) in args.concurrency.iter().enumerate() {
            let g = med(ci, grpc);
            let ratio = |p, cpu: bool| {
                find("ours", p)
                    .map(|o| {
                        let o = med(ci, o);
                        if cpu {
                            format!("{:.2}×", o.server_cpu_us / g.server_cpu_us)
                        } else {
                            format!("{:.2}×", o.rps / g.rps)
                        }
                    })
                    .unwrap_or_default()
            };
            println!(
                "| {c} | {} | {} | {} | {} |",
                ratio(Protocol::Connect, false),
                ratio(Protocol::GrpcWeb, false),
                ratio(Protocol::Connect, true),
                ratio(Protocol::GrpcWeb, true)
            );
        }
    }
    Ok(())
}
