//! tower-http's CorsLayer in front of the router: preflights answered with
//! the headers Connect and gRPC-Web clients need, actual responses exposing
//! the gRPC status headers.

use bytes::Bytes;
use connect_core::{ConnectError, Idempotency, MethodDescriptor, StreamType};
use connect_layers::rpc::{Frame, RequestMessages, ResponseMessages, RpcRequest, RpcResponse};
use connect_server::{Router, cors};
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use tower::{ServiceBuilder, ServiceExt};
use tower_http::cors::{AllowOrigin, CorsLayer};

static ECHO: [MethodDescriptor; 1] = [MethodDescriptor::new(
    "t.v1.S",
    "Echo",
    "/t.v1.S/Echo",
    StreamType::Unary,
    Idempotency::NoSideEffects,
)];

fn app() -> impl tower::Service<
    Request<Full<Bytes>>,
    Response = http::Response<connect_layers::body::server::ResponseBody>,
    Error = std::convert::Infallible,
> + Clone {
    let echo = tower::service_fn(|req: RpcRequest| async move {
        let RequestMessages::Unary(frame) = req.messages else {
            unreachable!()
        };
        Ok::<_, ConnectError>(RpcResponse {
            messages: ResponseMessages::Unary(Frame::new(frame.data)),
            ..Default::default()
        })
    });
    let layer = CorsLayer::new()
        .allow_origin(AllowOrigin::exact("https://app.example".parse().unwrap()))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers(cors::allowed_headers())
        .expose_headers(cors::exposed_headers());
    ServiceBuilder::new()
        .layer(layer)
        .service(Router::new().add_methods(&ECHO, echo))
}

#[tokio::test]
async fn preflight_allows_connect_and_grpc_web_headers() {
    let req = Request::builder()
        .method(Method::OPTIONS)
        .uri("/t.v1.S/Echo")
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,connect-protocol-version,x-grpc-web,grpc-timeout",
        )
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = app().oneshot(req).await.unwrap();
    assert!(resp.status().is_success());
    let allowed = resp.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_owned();
    for h in [
        "content-type",
        "connect-protocol-version",
        "x-grpc-web",
        "grpc-timeout",
    ] {
        assert!(allowed.contains(h), "{h} not in {allowed}");
    }
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "https://app.example"
    );
}

#[tokio::test]
async fn actual_responses_expose_grpc_status() {
    let req = Request::post("/t.v1.S/Echo")
        .header("origin", "https://app.example")
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .body(Full::new(Bytes::from_static(b"\0\0\0\0\x02\x0a\x00")))
        .unwrap();
    let resp = app().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let exposed = resp.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(exposed.contains("grpc-status") && exposed.contains("grpc-message"));
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body[7], 0x80, "data envelope, then the trailer frame");

    // A GET from a browser (Connect, no preflight needed).
    let req = Request::get("/t.v1.S/Echo?encoding=proto&base64=1&message=CgA")
        .header("origin", "https://app.example")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = app().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("access-control-allow-origin"));
}
