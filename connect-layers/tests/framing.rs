//! The framing layer alone: HTTP bodies in, frames to the service, frames
//! back out as the protocol's body.

mod support;

use bytes::{BufMut, Bytes, BytesMut};
use connect_core::{Code, Codec, ConnectError, MethodDescriptor, Protocol};
use connect_layers::framing::server::FramingLayer;
use connect_layers::protocol::{Call, Negotiated};
use connect_layers::rpc::{Frame, RequestMessages, ResponseMessages, RpcRequest, RpcResponse};
use futures_util::StreamExt as _;
use http_body_util::{BodyExt, Full, StreamBody};
use support::*;
use tower::{Layer, ServiceExt, service_fn};

fn negotiated(method: &'static MethodDescriptor, enveloped: bool) -> Negotiated {
    Negotiated {
        method,
        protocol: Protocol::Connect,
        codec: Codec::Proto,
        enveloped,
        implicit_codec: false,
    }
}

fn request<B>(n: Negotiated, body: B) -> Call<B> {
    Call::new(n, http::Request::post(n.method.path()).body(body).unwrap())
}

fn env(flags: u8, data: &[u8]) -> Bytes {
    let mut b = BytesMut::new();
    b.put_u8(flags);
    b.put_u32(data.len() as u32);
    b.put_slice(data);
    b.freeze()
}

/// Echoes every request frame back, streamed for streaming methods.
fn echo() -> impl tower::Service<RpcRequest, Response = RpcResponse, Error = ConnectError> + Clone {
    service_fn(|req: RpcRequest| async move {
        let streaming = req.head.method.stream_type() != connect_core::StreamType::Unary;
        let frames: Vec<Frame> = match req.messages {
            RequestMessages::Unary(f) => vec![f],
            RequestMessages::Stream(s) => s
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect::<Result<_, _>>()?,
        };
        let mut resp = echo_response(frames, streaming);
        resp.trailers.insert("x-t", "v".parse().unwrap());
        Ok::<_, ConnectError>(resp)
    })
}

#[tokio::test]
async fn unary_is_one_buffer_in_and_out() {
    let svc = FramingLayer::new().layer(echo());
    let req = request(
        negotiated(&UNARY, false),
        Full::new(Bytes::from_static(b"abc")),
    );
    let resp = svc.oneshot(req).await.unwrap();
    assert_eq!(resp.headers()["content-type"], "application/proto");
    assert_eq!(resp.headers()["trailer-x-t"], "v");
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"abc");
}

#[tokio::test]
async fn unary_body_over_the_limit_is_resource_exhausted() {
    let svc = FramingLayer::new().read_max_bytes(3).layer(echo());
    let req = request(
        negotiated(&UNARY, false),
        Full::new(Bytes::from_static(b"abcd")),
    );
    let err = svc.oneshot(req).await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
}

#[tokio::test]
async fn client_streams_decode_envelopes_across_chunks() {
    let svc = FramingLayer::new().layer(echo());
    let wire = [env(0, b"one"), env(0, b""), env(1, b"zz")].concat();
    let chunks: Vec<Result<http_body::Frame<Bytes>, std::convert::Infallible>> = wire
        .chunks(2)
        .map(|c| Ok(http_body::Frame::data(Bytes::copy_from_slice(c))))
        .collect();
    let body = StreamBody::new(futures_util::stream::iter(chunks));
    let req = request(negotiated(&CLIENT, true), body);
    let resp = svc.oneshot(req).await.unwrap();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    // Echoed as one message per frame, then the end-stream with trailers.
    assert_eq!(&body[..8], &env(0, b"one")[..]);
    assert_eq!(&body[8..13], &env(0, b"")[..]);
    assert_eq!(&body[13..20], &env(1, b"zz")[..], "compressed flag kept");
    assert_eq!(body[20], 2);
    let end: serde_json::Value = serde_json::from_slice(&body[25..]).unwrap();
    assert_eq!(end["metadata"]["x-t"], serde_json::json!(["v"]));
}

#[tokio::test]
async fn server_stream_requests_need_exactly_one_envelope() {
    let cases = [
        (Bytes::new(), Code::Unimplemented),
        (
            [env(0, b"a"), env(0, b"b")].concat().into(),
            Code::Unimplemented,
        ),
        (env(0, b"abc").slice(..6), Code::InvalidArgument),
        (env(0x80, b"a"), Code::Internal),
        (
            Bytes::from_static(&[0, 0xff, 0xff, 0xff, 0xff]),
            Code::ResourceExhausted,
        ),
    ];
    for (body, code) in cases {
        let svc = FramingLayer::new().layer(echo());
        let req = request(negotiated(&SERVER, true), Full::new(body.clone()));
        let err = svc.oneshot(req).await.unwrap_err();
        assert_eq!(err.code(), code, "{body:?}");
    }
}

#[tokio::test]
async fn stream_errors_become_the_end_stream_message() {
    let svc = FramingLayer::new().layer(service_fn(|_req: RpcRequest| async move {
        let items = futures_util::stream::iter([
            Ok(Frame::new(Bytes::from_static(b"m"))),
            Err(ConnectError::new(Code::Aborted, "stop")),
        ]);
        Ok::<_, ConnectError>(RpcResponse {
            messages: ResponseMessages::Stream(Box::pin(items)),
            ..Default::default()
        })
    }));
    let req = request(negotiated(&SERVER, true), Full::new(env(0, b"")));
    let resp = svc.oneshot(req).await.unwrap();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..6], &env(0, b"m")[..]);
    let end: serde_json::Value = serde_json::from_slice(&body[11..]).unwrap();
    assert_eq!(end["error"]["code"], "aborted");
    assert_eq!(end["error"]["message"], "stop");
}
