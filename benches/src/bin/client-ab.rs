//! The client benchmarks interleaved: every framework's generated client
//! over the same in-memory channel as `cargo bench --bench client`, timed
//! in short bursts taken in turn (ours, then tonic, then the published
//! crate, …, round after round), so a host that speeds up or slows down
//! moves every framework alike. Criterion times each framework in its own
//! few seconds, one after the other; on a shared VM whose speed drifts by
//! ±20 % within a minute its ratios drift with it. Here the ratio of two
//! frameworks is taken within each round (bursts a few milliseconds
//! apart) and its median over the rounds is reported.
//!
//! A burst's requests are built before its clock starts, in the order they
//! are used (as criterion's `iter_batched` does); the burst times the calls
//! alone.
//!
//! `cargo run --release -p benches --bin client-ab -- [--rounds R] [--burst-ms M] [--workload echo|ingest|client_stream|server_stream]...`

use std::time::{Duration, Instant};

use benches::clients::{Bare, ClientBench, Ours, Published, Tonic, expected_messages};
use benches::workload::{Proto, Workload};

type Rt = tokio::runtime::Runtime;

/// A framework's client behind one type, timed a burst at a time.
trait Burst {
    /// Makes `n` calls (requests built first) and returns their time.
    fn burst(&mut self, rt: &Rt, n: usize) -> Duration;
}

struct Timed<B>(B, Workload);

impl<B: ClientBench> Burst for Timed<B> {
    fn burst(&mut self, rt: &Rt, n: usize) -> Duration {
        let mut pool: Vec<B::Request> = (0..n).map(|_| self.0.request()).collect();
        pool.reverse();
        let start = Instant::now();
        for _ in 0..n {
            let req = pool.pop().expect("pool");
            let got = rt.block_on(self.0.call(req));
            assert_eq!(got, expected_messages(self.1), "response messages");
            std::hint::black_box(got);
        }
        start.elapsed()
    }
}

struct Variant {
    name: String,
    bench: Box<dyn Burst>,
    calls: usize,
    per_call_ns: Vec<f64>,
}

fn variants(w: Workload) -> Vec<Variant> {
    let mut v: Vec<(String, Box<dyn Burst>)> = Vec::new();
    for proto in [Proto::Connect, Proto::Grpc] {
        let p = proto.name();
        v.push((format!("ours-{p}"), Box::new(Timed(Ours::new(proto, w), w))));
        v.push((
            format!("ours-view-{p}"),
            Box::new(Timed(Ours::with_views(proto, w), w)),
        ));
        v.push((
            format!("connectrpc09-{p}"),
            Box::new(Timed(Published::new(proto, w), w)),
        ));
    }
    v.push(("tonic-grpc".into(), Box::new(Timed(Tonic::new(w), w))));
    v.push((
        "bare-grpc".into(),
        Box::new(Timed(Bare::new(Proto::Grpc, w), w)),
    ));
    v.into_iter()
        .map(|(name, bench)| Variant {
            name,
            bench,
            calls: 0,
            per_call_ns: Vec::new(),
        })
        .collect()
}

fn median(xs: &[f64]) -> f64 {
    let mut s = xs.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// The median over rounds of `a`'s throughput ÷ `b`'s, each round's
/// bursts taken side by side.
fn ratio(a: &Variant, b: &Variant) -> f64 {
    let r: Vec<f64> = a
        .per_call_ns
        .iter()
        .zip(&b.per_call_ns)
        .map(|(x, y)| y / x)
        .collect();
    median(&r)
}

fn run(rt: &Rt, w: Workload, rounds: usize, burst: Duration) {
    let mut vs = variants(w);
    // Calibrate each burst to about `burst` long (and warm up).
    for v in &mut vs {
        let mut n = 16;
        loop {
            let t = v.bench.burst(rt, n);
            if t >= burst / 4 || n >= 1 << 20 {
                let per = t.as_secs_f64() / n as f64;
                v.calls = ((burst.as_secs_f64() / per) as usize).max(16);
                break;
            }
            n *= 2;
        }
    }
    for round in 0..rounds {
        // Each round starts one variant further on, so none is always first.
        let k = vs.len();
        for i in 0..k {
            let v = &mut vs[(round + i) % k];
            let t = v.bench.burst(rt, v.calls);
            v.per_call_ns.push(t.as_secs_f64() * 1e9 / v.calls as f64);
        }
    }
    let find = |name: &str| vs.iter().find(|v| v.name == name).expect("variant");
    println!(
        "\n`{}`: {rounds} rounds of ~{} ms bursts per variant; ns per call, median over the rounds; ratios, the median over the rounds of ours ÷ theirs in throughput.\n",
        w.name(),
        burst.as_millis()
    );
    println!(
        "| variant | ns/call (median) | min | max | vs tonic-grpc | vs connectrpc09 (same protocol) |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for v in &vs {
        let (vs_tonic, vs_pub) = if v.name.starts_with("ours") {
            let proto = if v.name.ends_with("grpc") {
                "grpc"
            } else {
                "connect"
            };
            let pub_ = find(&format!("connectrpc09-{proto}"));
            (
                format!("{:.2}×", ratio(v, find("tonic-grpc"))),
                format!("{:.2}×", ratio(v, pub_)),
            )
        } else {
            (String::new(), String::new())
        };
        let min = v.per_call_ns.iter().copied().fold(f64::INFINITY, f64::min);
        let max = v.per_call_ns.iter().copied().fold(0.0, f64::max);
        println!(
            "| {} | {:.0} | {:.0} | {:.0} | {} | {} |",
            v.name,
            median(&v.per_call_ns),
            min,
            max,
            vs_tonic,
            vs_pub
        );
    }
}

fn main() {
    let usage = "client-ab [--rounds R] [--burst-ms M] [--workload echo|ingest|client_stream|server_stream]...";
    let mut rounds = 41;
    let mut burst_ms = 20u64;
    let mut workloads = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{usage}"));
        match a.as_str() {
            "--rounds" => rounds = value().parse().expect(usage),
            "--burst-ms" => burst_ms = value().parse().expect(usage),
            "--workload" => workloads.push(match value().as_str() {
                "echo" => Workload::Echo,
                "ingest" => Workload::Ingest,
                "client_stream" => Workload::ClientStream,
                "server_stream" => Workload::ServerStream,
                _ => panic!("{usage}"),
            }),
            _ => panic!("{usage}"),
        }
    }
    if workloads.is_empty() {
        workloads = Workload::ALL.to_vec();
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for w in workloads {
        run(&rt, w, rounds, Duration::from_millis(burst_ms));
    }
}
