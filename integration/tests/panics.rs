//! A handler or response stream that panics fails that call with
//! `internal`, and nothing else: the same connection (HTTP/1.1 and h2c)
//! keeps serving, in every protocol.

mod support;

use connectrpc::client::ClientBody;
use connectrpc::{ClientConfig, Code, HttpClient};
use futures_util::StreamExt as _;
use integration_tests::proto::test::v1::TestServiceClient;
use support::{ServerStreamRequest, UnaryRequest, Version, connect, encode, full, post};

fn text(t: &str) -> UnaryRequest {
    UnaryRequest {
        text: t.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_panicking_handler_fails_only_its_call_on_the_same_connection() {
    let server = support::start().await;
    for version in [Version::Http1, Version::H2c] {
        let mut conn = connect(server.addr, version).await;
        let path = "/test.v1.TestService/Unary";
        let req = post(path, "application/proto")
            .body(full(encode(&text("panic"))))
            .unwrap();
        let reply = conn.send(req).await;
        assert_eq!(reply.status, 500, "{version:?}");
        assert_eq!(reply.json()["code"], "internal", "{version:?}");
        // The same connection serves the next call.
        let req = post(path, "application/proto")
            .body(full(encode(&text("fine"))))
            .unwrap();
        let reply = conn.send(req).await;
        assert_eq!(reply.status, 200, "{version:?}");
    }
}

#[tokio::test]
async fn panics_are_internal_in_every_protocol_and_the_client_goes_on() {
    let server = support::start().await;
    let base: http::Uri = format!("http://{}", server.addr).parse().unwrap();
    let http: HttpClient<ClientBody> = HttpClient::builder().http2_only(true).build();
    for config in [
        ClientConfig::new(base.clone()),
        ClientConfig::new(base.clone()).grpc(),
        ClientConfig::new(base.clone()).grpc_web(),
    ] {
        let protocol = config.protocol();
        let client = TestServiceClient::new(http.clone(), config);
        let err = client.unary(&text("panic")).await.unwrap_err();
        assert_eq!(err.code(), Code::Internal, "{protocol}");
        // A stream that panics after its first message: the message, then
        // internal.
        let mut stream = client
            .server_stream(&ServerStreamRequest {
                text: "panic".into(),
                count: 3,
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(stream.next().await.unwrap().is_ok(), "{protocol}");
        let err = stream.next().await.unwrap().unwrap_err();
        assert_eq!(err.code(), Code::Internal, "{protocol}");
        assert!(stream.next().await.is_none(), "{protocol}");
        assert_eq!(
            client.unary(&text("after")).await.unwrap().message().text,
            "after"
        );
    }
}

/// A user's layer around the router that panics where the request's
/// `x-panic` header says: in `call`, in its future, or in its response
/// body.
#[derive(Clone)]
struct Buggy<S>(S);

impl<S> tower::Service<http::Request<hyper::body::Incoming>> for Buggy<S>
where
    S: tower::Service<
            http::Request<hyper::body::Incoming>,
            Response = http::Response<connectrpc::layers::body::server::ResponseBody>,
            Error = std::convert::Infallible,
        >,
    S::Future: Send + 'static,
{
    type Response = http::Response<BuggyBody>;
    type Error = std::convert::Infallible;
    type Future = futures_util::future::BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<hyper::body::Incoming>) -> Self::Future {
        let mode = req
            .headers()
            .get("x-panic")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        if mode == "call" {
            panic!("a layer bug in call");
        }
        let fut = self.0.call(req);
        Box::pin(async move {
            if mode == "future" {
                panic!("a layer bug in the future");
            }
            let resp = fut.await?;
            Ok(resp.map(|inner| BuggyBody {
                inner,
                panic: mode == "body",
            }))
        })
    }
}

struct BuggyBody {
    inner: connectrpc::layers::body::server::ResponseBody,
    panic: bool,
}

impl http_body::Body for BuggyBody {
    type Data = bytes::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, Self::Error>>> {
        if self.panic {
            panic!("a layer bug in the body");
        }
        std::pin::Pin::new(&mut self.inner)
            .poll_frame(cx)
            .map_err(Into::into)
    }
}

#[tokio::test]
async fn a_panicking_user_layer_fails_only_its_call() {
    use integration_tests::proto::test::v1::TestServiceExt as _;
    let router = std::sync::Arc::new(support::Impl).register(connectrpc::Router::new());
    let server = support::start_with(Buggy(router)).await;
    let path = "/test.v1.TestService/Unary";
    let request = |content_type: &str, mode: &str| {
        post(path, content_type)
            .header("x-panic", mode)
            .header("te", "trailers")
            .body(full(if content_type.starts_with("application/grpc") {
                support::envelope(0, &encode(&text("hi")))
            } else {
                encode(&text("hi"))
            }))
            .unwrap()
    };
    for version in [Version::Http1, Version::H2c] {
        let mut conn = connect(server.addr, version).await;
        for mode in ["call", "future"] {
            let reply = conn.send(request("application/proto", mode)).await;
            assert_eq!(reply.status, 500, "{version:?} {mode}");
            assert_eq!(reply.json()["code"], "internal", "{version:?} {mode}");
            for ct in ["application/grpc", "application/grpc-web+proto"] {
                let reply = conn.send(request(ct, mode)).await;
                assert_eq!(reply.status, 200, "{version:?} {mode} {ct}");
                assert_eq!(
                    reply.header("grpc-status"),
                    Some("13"),
                    "{version:?} {mode} {ct}"
                );
                assert_eq!(reply.header("content-type"), Some(ct));
            }
            // A Connect stream ends with its end-of-stream error.
            let reply = conn.send(request("application/connect+proto", mode)).await;
            assert_eq!(reply.status, 200, "{version:?} {mode}");
            assert_eq!(reply.end_stream()["error"]["code"], "internal");
            // The same connection serves the next call.
            let reply = conn.send(request("application/proto", "none")).await;
            assert_eq!(reply.status, 200, "{version:?} after {mode}");
        }
    }
    // A panic in the response body resets that HTTP/2 stream only: the
    // client reads internal, and the connection serves on.
    let base: http::Uri = format!("http://{}", server.addr).parse().unwrap();
    let http: HttpClient<ClientBody> = HttpClient::builder().http2_only(true).build();
    let client = TestServiceClient::new(http, ClientConfig::new(base));
    let options = connectrpc::CallOptions::new().header(
        http::HeaderName::from_static("x-panic"),
        http::HeaderValue::from_static("body"),
    );
    let err = client
        .unary_with_options(&text("hi"), options)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Internal, "{err}");
    assert_eq!(
        client.unary(&text("after")).await.unwrap().message().text,
        "after"
    );
}
