//! Many client streams of small messages on one HTTP/2 connection, to a
//! server slow to read them.
//!
//! h2 (0.4.20 on) closes a connection whose peer keeps it buffering too
//! many small DATA frames (`ENHANCE_YOUR_CALM`, "too_many_data_frames"):
//! each unread frame under 256 bytes costs a connection-wide budget of
//! half the connection window. A client that sent each message of a
//! stream as its own DATA frame had its connection closed this way, by our
//! server and by tonic's alike, as soon as a few hundred streams waited
//! to be read. The client now gathers the messages that are ready
//! together into one frame.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use connectrpc::{
    ClientConfig, ConnectError, Context, Http2Connection, OwnedView, ResponseStream, Router,
    Server, Streaming,
};
use examples::proto::greet::v1::greet_service::{GreetRequestView, GreetStreamRequestView};
use examples::proto::greet::v1::{
    GreetRequest, GreetResponse, GreetService, GreetServiceClient, GreetServiceExt as _,
};

/// Streams open at once on the one connection (under the server's
/// default limit of 256).
const STREAMS: usize = 200;

/// Messages per stream, each a few bytes.
const MESSAGES: usize = 30;

/// Waits before reading each request stream, so every stream's messages
/// are buffered by the server's HTTP/2 layer at once; then answers with
/// the number of messages read.
#[derive(Clone, Copy)]
struct SlowReader;

impl GreetService for SlowReader {
    async fn greet(
        &self,
        _: Context,
        _: OwnedView<GreetRequestView<'static>>,
    ) -> Result<(GreetResponse, Context), ConnectError> {
        Err(ConnectError::unimplemented("not in this test"))
    }

    async fn greet_stream(
        &self,
        _: Context,
        _: OwnedView<GreetStreamRequestView<'static>>,
    ) -> Result<(ResponseStream<GreetResponse>, Context), ConnectError> {
        Err(ConnectError::unimplemented("not in this test"))
    }

    async fn greet_many(
        &self,
        ctx: Context,
        mut requests: Streaming<GreetRequestView<'static>>,
    ) -> Result<(GreetResponse, Context), ConnectError> {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut read = 0;
        while requests.message().await?.is_some() {
            read += 1;
        }
        let answer = GreetResponse {
            greeting: read.to_string(),
            ..Default::default()
        };
        Ok((answer, ctx))
    }

    async fn chat(
        &self,
        _: Context,
        _: Streaming<GreetRequestView<'static>>,
    ) -> Result<(ResponseStream<GreetResponse>, Context), ConnectError> {
        Err(ConnectError::unimplemented("not in this test"))
    }
}

async fn serve() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Arc::new(SlowReader).register(Router::new());
    tokio::spawn(Server::new(router).serve_with_listener(listener));
    addr
}

async fn many_streams_on_one_connection(config: fn(ClientConfig) -> ClientConfig) {
    let addr = serve().await;
    let uri: http::Uri = format!("http://{addr}").parse().unwrap();
    let conn = Http2Connection::connect(uri.clone()).await.unwrap();
    let client = GreetServiceClient::new(conn, config(ClientConfig::new(uri)));
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..STREAMS {
        let client = client.clone();
        calls.spawn(async move {
            let requests = (0..MESSAGES).map(|_| GreetRequest {
                name: "a".into(),
                ..Default::default()
            });
            client
                .greet_many(futures_util::stream::iter(requests))
                .await
                .map(|r| r.into_inner().greeting)
        });
    }
    let finished = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(call) = calls.join_next().await {
            assert_eq!(call.unwrap().unwrap(), MESSAGES.to_string());
        }
    })
    .await;
    assert!(finished.is_ok(), "calls still running after 20 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_streams_of_small_messages_keep_their_connection() {
    many_streams_on_one_connection(|c| c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_streams_of_small_messages_keep_their_connection() {
    many_streams_on_one_connection(ClientConfig::grpc).await;
}
