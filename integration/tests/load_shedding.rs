//! The load-shedding recipe of `connect_server::shed`: a generated server
//! behind tower's `load_shed`, `concurrency_limit` and `timeout`, registered
//! with `Router::add_methods`. Shed calls end `resource_exhausted` and slow
//! ones `unavailable`, in each protocol's own shape.

mod support;

use std::time::Duration;

use connectrpc::client::ClientBody;
use connectrpc::layers::rpc::NamedService as _;
use connectrpc::server::shed::overload_error;
use connectrpc::{ClientConfig, Code, HttpClient, Router};
use integration_tests::proto::test::v1::{TestServiceClient, TestServiceServer};
use support::UnaryRequest;
use support::gate::Gate;
use tower::ServiceBuilder;

fn slow(ms: i64) -> UnaryRequest {
    UnaryRequest {
        text: "slow".into(),
        delay_ms: ms,
        ..Default::default()
    }
}

#[tokio::test]
async fn shed_calls_are_resource_exhausted_and_slow_calls_unavailable() {
    // The gate sits inside the concurrency limit and outside the timeout:
    // a call it holds keeps the only permit, for as long as the test wants.
    let gate = Gate::new();
    let wrapped = ServiceBuilder::new()
        .map_err(overload_error)
        .load_shed()
        .concurrency_limit(1)
        .layer(gate.clone())
        .timeout(Duration::from_millis(400))
        .service(TestServiceServer::new(support::Impl));
    let router = Router::new().add_methods(<TestServiceServer<support::Impl>>::METHODS, wrapped);
    let server = support::start_with(router).await;
    let base: http::Uri = format!("http://{}", server.addr).parse().unwrap();
    let http: HttpClient<ClientBody> = HttpClient::builder().http2_only(true).build();
    let mut entered = 0;
    for config in [
        ClientConfig::new(base.clone()),
        ClientConfig::new(base.clone()).grpc(),
        ClientConfig::new(base.clone()).grpc_web(),
    ] {
        let protocol = config.protocol();
        let client = TestServiceClient::new(http.clone(), config);
        // One call holds the only slot; the next is refused at once.
        gate.hold_next();
        let busy = {
            let client = client.clone();
            tokio::spawn(async move { client.unary(&slow(0)).await })
        };
        entered += 1;
        gate.entered(entered).await;
        let shed = client.unary(&slow(0)).await.unwrap_err();
        assert_eq!(shed.code(), Code::ResourceExhausted, "{protocol}: {shed}");
        gate.release();
        assert!(busy.await.unwrap().is_ok(), "{protocol}");
        // A call longer than the server's timeout is cut: unavailable. (The
        // handler sleeps 60 s; the 400 ms timeout ends it.)
        let late = client.unary(&slow(60_000)).await.unwrap_err();
        assert_eq!(late.code(), Code::Unavailable, "{protocol}: {late}");
        // And the next call is served.
        assert!(client.unary(&slow(0)).await.is_ok(), "{protocol}");
        entered += 2;
        // The shed call never reached the gate.
        assert_eq!(gate.events().len(), 2 * entered, "{protocol}");
    }
}
