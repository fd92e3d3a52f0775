//! Soak: our server in-process on 127.0.0.1 under mixed load for a while,
//! then a check that it is back where it started.
//!
//! ```sh
//! cargo run --release -p reliability --bin soak -- --secs 600
//! ```
//!
//! The server (`connectrpc::Server`, default settings, the integration test
//! service) runs on a runtime of its own. `--concurrency` workers (32) call
//! it with the generated client: unary, server-, client- and bidi-streaming
//! calls over Connect, gRPC and gRPC-Web, HTTP/1.1 and h2c, proto and JSON,
//! some gzip'd; some with deadlines that expire mid-call, some streams
//! canceled or dropped; clients (and so connections) replaced every few
//! dozen calls. Every outcome but the one a call provokes (`ok`,
//! `not_found`, `deadline_exceeded`, `canceled`, or `dropped`) is an error.
//!
//! After a warm-up, with no load and every connection closed, it samples
//! RSS, open fds and the tasks of both runtimes ("start"); then every
//! `--sample-secs` under load (60, or a third of a shorter run); then
//! again once the load stopped and the connections closed ("end", after up
//! to `--settle-secs`). It prints a
//! table and one JSON line, and exits 1 on any unexpected outcome, if fds or
//! tasks at the end are above the start, if RSS grew by more than
//! `--rss-growth-mib` (32) from start to end, or by more than
//! `--rss-drift-mib` (8) between the first and the last sample under load
//! (a leak shows as steady growth under load; the server's unreaped
//! connection tasks grew it by ~0.5 MiB/s).
//!
//! To see what holds memory at the end, run it under heaptrack with
//! `SOAK_EXIT_AT_END=1`: it then exits (code 3) right after the "end"
//! sample, without dropping the runtimes, so heaptrack lists everything
//! still allocated as leaked (that is how the server's unreaped connection
//! tasks were found).

mod load;
mod probe;
mod report;
mod scenarios;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use connectrpc::{Router, Server};
use integration_tests::proto::test::v1::TestServiceExt as _;

use crate::load::Stats;
use crate::probe::{Probe, Sample};

const USAGE: &str = "usage: soak [--secs N] [--concurrency N] [--warmup-secs N] \
[--sample-secs N] [--settle-secs N] [--rss-growth-mib N] [--rss-drift-mib N] [--seed N]";

#[derive(Debug, Clone)]
struct Args {
    secs: u64,
    concurrency: u64,
    warmup_secs: u64,
    sample_secs: u64,
    settle_secs: u64,
    rss_growth_mib: u64,
    rss_drift_mib: u64,
    seed: u64,
}

impl Args {
    fn parse() -> Result<Self, String> {
        let mut args = Args {
            secs: 600,
            concurrency: 32,
            warmup_secs: 5,
            sample_secs: 60,
            settle_secs: 20,
            rss_growth_mib: 32,
            rss_drift_mib: 8,
            seed: 1,
        };
        let mut sample_secs = None;
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let n: u64 = value
                .parse()
                .map_err(|_| format!("{flag}: not a number: {value}"))?;
            match flag.as_str() {
                "--secs" => args.secs = n,
                "--concurrency" => args.concurrency = n.max(1),
                "--warmup-secs" => args.warmup_secs = n,
                "--sample-secs" => sample_secs = Some(n.max(1)),
                "--settle-secs" => args.settle_secs = n,
                "--rss-growth-mib" => args.rss_growth_mib = n,
                "--rss-drift-mib" => args.rss_drift_mib = n,
                "--seed" => args.seed = n,
                _ => return Err(format!("unknown flag {flag}")),
            }
        }
        // Every minute; at least three samples under load in a short run.
        args.sample_secs = sample_secs.unwrap_or((args.secs / 3).clamp(1, 60));
        Ok(args)
    }
}

/// Waits (up to `limit`) for the process to be as quiet as `target` (fds
/// and tasks no higher), or, without a target, for fds and tasks to stop
/// changing for a second.
async fn settle(probe: &Probe, target: Option<&Sample>, limit: Duration) {
    let deadline = Instant::now() + limit;
    let mut last = probe.sample("", 0, 0);
    let mut stable_since = Instant::now();
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = probe.sample("", 0, 0);
        let quiet = match target {
            Some(t) => {
                now.fds <= t.fds
                    && now.server_tasks <= t.server_tasks
                    && now.client_tasks <= t.client_tasks
            }
            None => {
                let same = (now.fds, now.server_tasks, now.client_tasks)
                    == (last.fds, last.server_tasks, last.client_tasks);
                if !same {
                    stable_since = Instant::now();
                }
                stable_since.elapsed() >= Duration::from_secs(1)
            }
        };
        if quiet {
            return;
        }
        last = now;
    }
}

/// The load phase, sampled every `sample_secs`.
async fn soak(args: &Args, base: http::Uri, probe: &Probe, stats: Arc<Stats>) -> Vec<Sample> {
    let started = Instant::now();
    let until = started + Duration::from_secs(args.secs);
    let mut load = tokio::spawn(load::run(
        base,
        args.concurrency,
        args.seed,
        until,
        stats.clone(),
    ));
    let mut samples = Vec::new();
    let every = Duration::from_secs(args.sample_secs);
    let mut next = started + every;
    loop {
        tokio::select! {
            done = &mut load => {
                if let Err(e) = done {
                    eprintln!("the load task failed: {e}");
                    stats.unexpected.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                return samples;
            }
            _ = tokio::time::sleep_until(next.into()) => {
                let label = format!("{}s", (next - started).as_secs());
                let s = probe.sample(&label, stats.calls(), stats.unexpected());
                eprintln!("{}", probe::table(std::slice::from_ref(&s)).lines().nth(1).unwrap_or(""));
                samples.push(s);
                next += every;
            }
        }
    }
}

fn main() -> ExitCode {
    let args = match Args::parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let build = |name: &str| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(name)
            .enable_all()
            .build()
            .expect("a tokio runtime")
    };
    let server_rt = build("soak-server");
    let client_rt = build("soak-client");

    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let listener = server_rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind 127.0.0.1");
    let addr = listener.local_addr().expect("local addr");
    let router = Arc::new(integration_tests::service::TestImpl).register(Router::new());
    let server = server_rt.spawn(
        Server::new(router)
            .with_graceful_shutdown(async move {
                let _ = stop_rx.await;
            })
            .serve_with_listener(listener),
    );
    let base: http::Uri = format!("http://{addr}").parse().expect("a URI");
    let probe = Probe {
        server: server_rt.handle().clone(),
        client: client_rt.handle().clone(),
        started: Instant::now(),
    };
    let settle_limit = Duration::from_secs(args.settle_secs);
    eprintln!(
        "soak: server on {addr}, {} s, {} in flight",
        args.secs, args.concurrency
    );

    let report = client_rt.block_on(async {
        let warm = Arc::new(Stats::default());
        let warm_until = Instant::now() + Duration::from_secs(args.warmup_secs);
        load::run(
            base.clone(),
            args.concurrency,
            args.seed,
            warm_until,
            warm.clone(),
        )
        .await;
        settle(&probe, None, settle_limit).await;
        let start = probe.sample("start", 0, 0);
        eprintln!("{}", probe::table(std::slice::from_ref(&start)));
        let stats = Arc::new(Stats::default());
        let began = Instant::now();
        let during = soak(&args, base, &probe, stats.clone()).await;
        let load_secs = began.elapsed().as_secs_f64();
        settle(&probe, Some(&start), settle_limit).await;
        let end = probe.sample("end", stats.calls(), stats.unexpected());
        if std::env::var_os("SOAK_EXIT_AT_END").is_some() {
            std::process::exit(3);
        }
        report::Report {
            warm,
            stats,
            start,
            during,
            end,
            load_secs,
        }
    });

    let _ = stop.send(());
    let stopped =
        server_rt.block_on(async { tokio::time::timeout(Duration::from_secs(40), server).await });
    let server_ok = matches!(stopped, Ok(Ok(Ok(()))));
    if !server_ok {
        eprintln!("the server did not stop cleanly: {stopped:?}");
    }
    let pass = report.print(&args) && server_ok;
    if pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
