//! Negotiation, GET and error mapping in front of a stub service.

mod support;

use bytes::Bytes;
use connect_core::{Code, ConnectError};
use connect_layers::errors::server::ErrorMapLayer;
use connect_layers::get::server::{ConnectGetLayer, GetBody};
use connect_layers::negotiate::server::NegotiateLayer;
use connect_layers::protocol::{Call, MethodRoute};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use support::*;
use tower::{ServiceBuilder, ServiceExt, service_fn};

type Body = GetBody<Full<Bytes>>;

/// A stack of negotiate + error map + GET around a service that echoes
/// what it was given (content type and body) or fails.
async fn run(req: Request<Full<Bytes>>) -> Response<connect_layers::body::server::ResponseBody> {
    let svc = ServiceBuilder::new()
        .layer(NegotiateLayer::new())
        .layer(ErrorMapLayer::new())
        .layer(ConnectGetLayer::new())
        .service(service_fn(|call: Call<Body>| async move {
            let n = call.negotiated;
            let req = call.request;
            let ct = req.headers()["content-type"].clone();
            let ce = req.headers().get("content-encoding").cloned();
            let body = req.into_body().collect().await.unwrap().to_bytes();
            if &body[..] == b"fail" {
                return Err(ConnectError::new(Code::Aborted, "told to"));
            }
            let mut resp = Response::new(connect_layers::body::server::ResponseBody::full(body));
            resp.headers_mut().insert("x-ct", ct);
            if let Some(ce) = ce {
                resp.headers_mut().insert("x-ce", ce);
            }
            resp.headers_mut()
                .insert("x-codec", n.codec.name().parse().unwrap());
            Ok(resp)
        }));
    svc.oneshot(req).await.unwrap()
}

fn routed(
    mut req: Request<Full<Bytes>>,
    method: &'static connect_core::MethodDescriptor,
) -> Request<Full<Bytes>> {
    req.extensions_mut().insert(MethodRoute(method));
    req
}

fn post(
    method: &'static connect_core::MethodDescriptor,
    ct: &str,
    body: &'static [u8],
) -> Request<Full<Bytes>> {
    routed(
        Request::post(method.path())
            .header("content-type", ct)
            .body(Full::new(Bytes::from_static(body)))
            .unwrap(),
        method,
    )
}

fn get(method: &'static connect_core::MethodDescriptor, query: &str) -> Request<Full<Bytes>> {
    routed(
        Request::get(format!("{}?{query}", method.path()))
            .body(Full::new(Bytes::new()))
            .unwrap(),
        method,
    )
}

#[tokio::test]
async fn get_becomes_the_equivalent_post() {
    let resp = run(get(&UNARY, "encoding=json&message=%7B%7D&compression=gzip")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["x-ct"], "application/json");
    assert_eq!(resp.headers()["x-ce"], "gzip");
    assert_eq!(resp.headers()["x-codec"], "json");
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"{}");
}

#[tokio::test]
async fn get_refusals() {
    assert_eq!(
        run(get(&CLIENT, "encoding=proto&message=")).await.status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        run(get(&UNARY, "message=")).await.status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let resp = run(get(&UNARY, "encoding=proto&base64=1&message=%%%")).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // A GET with a body is refused.
    let mut req = get(&UNARY, "encoding=proto&message=");
    req.headers_mut()
        .insert("content-length", "3".parse().unwrap());
    assert_eq!(run(req).await.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn content_types_pick_codec_and_streaming() {
    let resp = run(post(&UNARY, "application/json; charset=utf-8", b"{}")).await;
    assert_eq!(resp.headers()["x-codec"], "json");
    let resp = run(post(&CLIENT, "application/connect+proto", b"")).await;
    assert_eq!(resp.headers()["x-codec"], "proto");
    let resp = run(post(&CLIENT, "application/proto", b"")).await;
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        resp.headers()["accept-post"],
        "application/connect+json, application/connect+proto"
    );
    // Without a route (no router in front) the request is not found.
    let req = Request::post("/x")
        .header("content-type", "application/proto")
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(run(req).await.status(), StatusCode::NOT_FOUND);
    // gRPC gets the status it can read: unimplemented, in its codec.
    let req = Request::post("/x")
        .header("content-type", "application/grpc+json")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = run(req).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/grpc+json");
    assert_eq!(resp.headers()["grpc-status"], "12");
}

#[tokio::test]
async fn errors_are_mapped_per_protocol_shape() {
    let resp = run(post(&UNARY, "application/proto", b"fail")).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let resp = run(post(&CLIENT, "application/connect+json", b"fail")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/connect+json");
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body[0], 2);
    let end: serde_json::Value = serde_json::from_slice(&body[5..]).unwrap();
    assert_eq!(end["error"]["code"], "aborted");
}

#[tokio::test]
async fn refusals_say_why_in_a_text_body() {
    // A 415 or 405 carries a line of text: HTTP/2 peers see data on the
    // stream (h2spec generic/2/2, 2/3), curl users see the reason.
    let wrong_type = post(&UNARY, "text/html", b"x");
    let wrong_method = routed(
        Request::put(UNARY.path())
            .header("content-type", "application/proto")
            .body(Full::new(Bytes::new()))
            .unwrap(),
        &UNARY,
    );
    for (req, status) in [
        (wrong_type, StatusCode::UNSUPPORTED_MEDIA_TYPE),
        (wrong_method, StatusCode::METHOD_NOT_ALLOWED),
    ] {
        let resp = run(req).await;
        assert_eq!(resp.status(), status);
        assert_eq!(resp.headers()["content-type"], "text/plain; charset=utf-8");
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let text = std::str::from_utf8(&body).unwrap();
        assert!(text.ends_with('\n') && text.contains("header"), "{text:?}");
    }
}
