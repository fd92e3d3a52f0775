//! What the resilient stack costs a client on the happy path: unary echo
//! calls, one at a time, over gRPC to one healthy server on 127.0.0.1,
//! through each kind of channel.
//!
//! `resilience-cost <plain|resilient|tonic|tonic-balance> <port> <calls>`
//!
//! - `plain`: our generated client over one h2c `Http2Connection`;
//! - `resilient`: the same client over `RetryLayer` (default policies)
//!   and a `BalancedChannel` with the one endpoint;
//! - `tonic`: tonic's generated client over `Endpoint::connect`;
//! - `tonic-balance`: over `Channel::balance_list` with the one endpoint
//!   (tonic's balanced channel).
//!
//! Prints the mean wall time per call; `benches/resilience.sh` runs it under
//! callgrind against `bench-server ours` for instructions per call (client
//! process only).

use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: resilience-cost <plain|resilient|tonic|tonic-balance> <port> <calls>";
    let kind = args.next().ok_or(usage)?;
    let port: u16 = args.next().ok_or(usage)?.parse()?;
    let calls: u32 = args.next().ok_or(usage)?.parse()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let took = rt.block_on(run(&kind, port, calls))?;
    println!(
        "{kind}: {calls} calls, {:.1} µs per call",
        took.as_secs_f64() * 1e6 / f64::from(calls.max(1))
    );
    Ok(())
}

async fn run(kind: &str, port: u16, calls: u32) -> Result<Duration, Box<dyn std::error::Error>> {
    let uri = format!("http://127.0.0.1:{port}");
    match kind {
        "plain" | "resilient" => {
            use benches::ours_proto::bench::v1::{EchoRequest, EchoServiceClient};
            use connectrpc::ClientConfig;
            use connectrpc::client::Http2Connection;
            use connectrpc::client::resilience::balance::{BalancedChannel, StaticResolver};
            use connectrpc::client::resilience::retry::{RetryConfig, RetryLayer};

            let config = ClientConfig::new(uri.parse()?).grpc();
            let request = EchoRequest {
                message: "hello".into(),
                ..Default::default()
            };
            if kind == "plain" {
                let conn = Http2Connection::connect(uri.parse()?).await?;
                let client = EchoServiceClient::new(conn, config);
                time(calls, || async {
                    client.echo(&request).await.map(drop).map_err(Into::into)
                })
                .await
            } else {
                let channel = tower::ServiceBuilder::new()
                    .layer(RetryLayer::new(RetryConfig::new()))
                    .service(
                        BalancedChannel::builder(StaticResolver::parse([uri.as_str()])?).build(),
                    );
                let client = EchoServiceClient::new(channel, config);
                time(calls, || async {
                    client.echo(&request).await.map(drop).map_err(Into::into)
                })
                .await
            }
        }
        "tonic" | "tonic-balance" => {
            use benches::tonic_proto::EchoRequest;
            use benches::tonic_proto::echo_service_client::EchoServiceClient;
            use tonic::transport::{Channel, Endpoint};

            let endpoint = Endpoint::from_shared(uri)?;
            let channel = if kind == "tonic" {
                endpoint.connect().await?
            } else {
                Channel::balance_list(std::iter::once(endpoint))
            };
            let client = EchoServiceClient::new(channel);
            time(calls, || {
                let mut client = client.clone();
                async move {
                    client
                        .echo(EchoRequest {
                            message: "hello".into(),
                        })
                        .await
                        .map(drop)
                        .map_err(Into::into)
                }
            })
            .await
        }
        other => Err(format!("unknown channel {other}").into()),
    }
}

/// Runs `calls` calls one after another; the time they took.
async fn time<F, Fut>(calls: u32, mut call: F) -> Result<Duration, Box<dyn std::error::Error>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), Box<dyn std::error::Error>>>,
{
    // One call first: connections open, nothing lazy left in the timing.
    call().await?;
    let started = Instant::now();
    for _ in 0..calls {
        call().await?;
    }
    Ok(started.elapsed())
}
