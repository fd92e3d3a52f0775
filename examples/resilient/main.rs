//! The resilient client: calls the example server's unary `Greet` through
//! a channel balanced over several servers, with retries (and hedging for
//! `--hedge-ms`), under load, and prints what happened.
//!
//! ```sh
//! cargo run --release --example greet-server -- 127.0.0.1:8081 &
//! cargo run --release --example greet-server -- 127.0.0.1:8082 &
//! cargo run --release --example greet-server -- 127.0.0.1:8083 &
//! cargo run --release --example resilient-client -- \
//!     --endpoints http://127.0.0.1:8081,http://127.0.0.1:8082,http://127.0.0.1:8083 \
//!     --protocol grpc --duration-s 10 --concurrency 16 --deadline-ms 1000
//! ```
//!
//! The last line of output is one JSON object:
//! `{"ok":N,"failed":N,"codes":{"unavailable":N,…},"by_endpoint":{"127.0.0.1:8081":N,…},
//! "retries":N,"transparent_retries":N,"hedges":N,"throttled":N,"p50_ms":x,"p99_ms":x,"max_ms":x}`.
//! `codes` counts failed calls by code; `by_endpoint` counts answered
//! calls by the server that answered.
//!
//! Options: `--endpoints` (comma-separated URLs), `--protocol
//! connect|grpc|grpc-web`, `--calls N` or `--duration-s S`, `--concurrency
//! C`, `--deadline-ms D` (default 5000), `--method greet|greet-many`
//! (`greet-many` is a client stream: a method that is not idempotent),
//! `--hedge-ms H` (hedge `Greet` after H ms; off by default), `--no-retry`,
//! `--progress-ms P` (print `progress {"t_s":…,"by_endpoint":{…}}` lines to
//! stderr every P ms: where the calls went, over time).

mod args;
mod report;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use connectrpc::client::resilience::ServedBy;
use connectrpc::{ClientConfig, ConnectError};
use examples::proto::greet::v1::{GreetRequest, GreetServiceClient};

use crate::args::{Args, Method, Until};
use crate::report::{Report, Tally};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse(std::env::args().skip(1))?;
    let served: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let (channel, stats, balanced) = channel::build(&args, served.clone())?;
    let config = args
        .protocol
        .config(ClientConfig::new(args.target.clone()))
        .default_timeout(args.deadline);
    let client = GreetServiceClient::new(channel, config);

    let started = Instant::now();
    let progress = args.progress.map(|every| {
        let served = served.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let by_endpoint = report::json_map(&served.lock().unwrap());
                let health = report::health_map(&balanced.endpoints());
                eprintln!(
                    "progress {{\"t_s\":{:.3},\"by_endpoint\":{by_endpoint},\"health\":{health}}}",
                    started.elapsed().as_secs_f64()
                );
            }
        })
    });
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let client = client.clone();
        let next = next.clone();
        let tally = tally.clone();
        let until = args.until;
        let method = args.method;
        workers.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let more = match until {
                    Until::Calls(total) => n < total,
                    Until::Duration(d) => started.elapsed() < d,
                };
                if !more {
                    break;
                }
                let begun = Instant::now();
                let outcome = call(&client, method, n).await;
                let mut tally = tally.lock().unwrap();
                if let Err(e) = &outcome {
                    report::note_first(&tally, e);
                }
                tally.record(begun.elapsed(), outcome.err().map(|e| e.code()));
            }
        }));
    }
    for worker in workers {
        worker.await?;
    }
    // No progress line after this: it would show the counts taken below
    // as zeros.
    if let Some(progress) = progress {
        progress.abort();
        let _ = progress.await;
    }
    let tally = std::mem::take(&mut *tally.lock().unwrap());
    let by_endpoint = std::mem::take(&mut *served.lock().unwrap());
    let report = Report::new(tally, by_endpoint, &channel::attempts(&stats));
    eprintln!(
        "{} calls in {:.1} s over {} endpoint(s)",
        report.ok + report.failed,
        started.elapsed().as_secs_f64(),
        args.endpoints.len()
    );
    println!("{}", report.to_json());
    Ok(())
}

/// One call of `method`.
async fn call<T: connectrpc::Channel>(
    client: &GreetServiceClient<T>,
    method: Method,
    n: u64,
) -> Result<(), ConnectError> {
    let request = |name: String| GreetRequest {
        name,
        ..Default::default()
    };
    match method {
        Method::Greet => client.greet(request(format!("call {n}"))).await.map(drop),
        Method::GreetMany => {
            let names =
                futures_util::stream::iter((0..3).map(move |i| request(format!("call {n}.{i}"))));
            client.greet_many(names).await.map(drop)
        }
    }
}

mod channel {
    //! The balanced, retrying channel: `RetryLayer` over `BalancedChannel`,
    //! and a counter of who answered on top.

    use connectrpc::client::resilience::balance::{BalancedChannel, HttpVersion, StaticResolver};
    use connectrpc::client::resilience::retry::{
        HedgingDelay, HedgingPolicy, RetryConfig, RetryLayer, RetryPolicy, RetryStats,
    };
    use tower::ServiceBuilder;

    use super::*;
    use crate::report::Attempts;

    /// What the retry layer did, read at the end.
    pub(crate) fn attempts(stats: &RetryStats) -> Attempts {
        Attempts {
            retries: stats.retries(),
            transparent_retries: stats.transparent_retries(),
            hedges: stats.hedges(),
            throttled: stats.throttled(),
        }
    }

    pub(crate) fn build(
        args: &Args,
        served: Arc<Mutex<BTreeMap<String, u64>>>,
    ) -> Result<(impl connectrpc::Channel, RetryStats, BalancedChannel), Box<dyn std::error::Error>>
    {
        let endpoints: Vec<String> = args.endpoints.iter().map(|e| e.to_string()).collect();
        let resolver = StaticResolver::parse(endpoints.iter().map(String::as_str))?;
        // HTTP/2 (h2c) to every endpoint: gRPC needs it, and Connect and
        // gRPC-Web share its connections.
        let balanced = BalancedChannel::builder(resolver)
            .http_version(HttpVersion::Http2)
            .build();
        // The defaults: `Greet` (NO_SIDE_EFFECTS) retries `unavailable` up
        // to 3 attempts; `GreetMany` (a client stream, not idempotent)
        // retries only what the server never processed.
        let mut config = RetryConfig::new();
        if let Some(delay) = args.hedge {
            config = config.method(
                "/greet.v1.GreetService/Greet",
                HedgingPolicy::new(3, HedgingDelay::Fixed(delay)),
            );
        }
        if !args.retry {
            config = config
                .default_policy(RetryPolicy::default().max_attempts(1))
                .max_transparent_retries(0);
        }
        let retry = RetryLayer::new(config);
        let stats = retry.stats();
        // Who answered each call: `ServedBy` on the answer handed up.
        let count = move |resp: http::Response<_>| {
            if let Some(by) = resp.extensions().get::<ServedBy>() {
                *served.lock().unwrap().entry(by.0.to_string()).or_default() += 1;
            }
            resp
        };
        let channel = ServiceBuilder::new()
            .map_response(count)
            .layer(retry)
            .service(balanced.clone());
        Ok((channel, stats, balanced))
    }
}
