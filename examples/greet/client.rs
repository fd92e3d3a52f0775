//! The greet client: calls the example server over Connect, gRPC and
//! gRPC-Web, unary and streaming, through a pooled HTTP client wrapped in a
//! tower layer of our own.
//!
//! ```sh
//! cargo run --example greet-server -- 127.0.0.1:8080   # in one terminal
//! cargo run --example greet-client -- http://127.0.0.1:8080
//! ```

use std::time::Duration;

use connectrpc::client::ClientBody;
use connectrpc::{CallOptions, ClientConfig, ConnectError, HttpClient};
use examples::proto::greet::v1::{GreetRequest, GreetServiceClient, GreetStreamRequest};
use futures_util::StreamExt as _;
use http::HeaderValue;
use tower::ServiceBuilder;

fn request(name: &str) -> GreetRequest {
    GreetRequest {
        name: name.to_owned(),
        ..Default::default()
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:8080".to_owned());
    // gRPC needs HTTP/2: h2c with prior knowledge (the example server
    // speaks HTTP/1.1 and h2c on one port). Connect and gRPC-Web run on it
    // too.
    let http: HttpClient<ClientBody> = HttpClient::builder().http2_only(true).build();
    // The channel is any tower service: add your own layers (auth,
    // tracing, timeouts, concurrency limits) before handing it over.
    let channel = ServiceBuilder::new()
        .map_request(|mut req: http::Request<ClientBody>| {
            req.headers_mut()
                .insert("x-client", HeaderValue::from_static("greet-client"));
            req
        })
        .service(http);

    for (name, config) in [
        ("Connect", ClientConfig::new(base.parse()?)),
        ("gRPC", ClientConfig::new(base.parse()?).grpc()),
        ("gRPC-Web", ClientConfig::new(base.parse()?).grpc_web()),
    ] {
        let config = config.default_timeout(Duration::from_secs(5));
        let client = GreetServiceClient::new(channel.clone(), config);
        run(name, &client).await?;
    }
    Ok(())
}

async fn run<T: connectrpc::Channel>(
    protocol: &str,
    client: &GreetServiceClient<T>,
) -> Result<(), ConnectError> {
    // Unary, with per-call options winning over the config's.
    let options = CallOptions::new()
        .timeout(Duration::from_secs(1))
        .compression("gzip");
    let reply = client
        .greet_with_options(&request(protocol), options)
        .await?;
    println!("{protocol:>8} unary:  {}", reply.message().greeting);

    // Server stream: messages as they arrive, trailers after the end.
    let mut stream = client
        .greet_stream(&GreetStreamRequest {
            name: protocol.to_owned(),
            count: 3,
            ..Default::default()
        })
        .await?;
    while let Some(reply) = stream.next().await {
        println!("{protocol:>8} stream: {}", reply?.greeting);
    }

    // Client stream: any Stream of requests.
    let names = futures_util::stream::iter(["Ada", "Grace", "Edsger"].map(request));
    let reply = client.greet_many(names).await?;
    println!("{protocol:>8} many:   {}", reply.message().greeting);

    // Bidi: full duplex over HTTP/2.
    let mut chat = client.chat().await?;
    for name in ["Alan", "Barbara"] {
        chat.send(&request(name)).await?;
        if let Some(reply) = chat.message().await {
            println!("{protocol:>8} chat:   {}", reply?.greeting);
        }
    }
    chat.close_send();
    while let Some(reply) = chat.message().await {
        println!("{protocol:>8} chat:   {}", reply?.greeting);
    }

    // Errors carry the code the server chose.
    let err = client
        .greet_stream(&GreetStreamRequest {
            count: -1,
            ..Default::default()
        })
        .await;
    let err = match err {
        Ok(mut s) => s.next().await.and_then(Result::err),
        Err(e) => Some(e),
    };
    if let Some(e) = err {
        println!("{protocol:>8} error:  {} ({})", e.code(), e.message());
    }
    Ok(())
}
