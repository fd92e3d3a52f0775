//! Helpers shared by the layer tests.
#![allow(dead_code, unreachable_pub)]

use bytes::Bytes;
use connect_core::{Codec, ConnectError, Idempotency, MethodDescriptor, Protocol, StreamType};
use connect_layers::rpc::{
    Frame, RequestHead, RequestMessages, ResponseMessages, RpcRequest, RpcResponse,
};
use futures_util::StreamExt as _;
use http::{Extensions, HeaderMap};

pub static UNARY: MethodDescriptor = MethodDescriptor::new(
    "t.v1.S",
    "U",
    "/t.v1.S/U",
    StreamType::Unary,
    Idempotency::NoSideEffects,
);
pub static CLIENT: MethodDescriptor = MethodDescriptor::new(
    "t.v1.S",
    "C",
    "/t.v1.S/C",
    StreamType::ClientStream,
    Idempotency::Unknown,
);
pub static SERVER: MethodDescriptor = MethodDescriptor::new(
    "t.v1.S",
    "S",
    "/t.v1.S/S",
    StreamType::ServerStream,
    Idempotency::Unknown,
);

pub fn head(method: &'static MethodDescriptor, headers: &[(&str, &str)]) -> RequestHead {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    RequestHead {
        method,
        protocol: Protocol::Connect,
        codec: Codec::Proto,
        headers: map,
        extensions: Extensions::new(),
        deadline: None,
    }
}

pub fn unary(
    method: &'static MethodDescriptor,
    headers: &[(&str, &str)],
    frame: Frame,
) -> RpcRequest {
    RpcRequest {
        head: head(method, headers),
        messages: RequestMessages::Unary(frame),
    }
}

pub fn streaming(
    method: &'static MethodDescriptor,
    headers: &[(&str, &str)],
    frames: Vec<Frame>,
) -> RpcRequest {
    RpcRequest {
        head: head(method, headers),
        messages: RequestMessages::Stream(Box::pin(futures_util::stream::iter(
            frames.into_iter().map(Ok),
        ))),
    }
}

pub fn frame(data: &'static [u8], compressed: bool) -> Frame {
    Frame {
        data: Bytes::from_static(data),
        compressed,
        prefixed: false,
    }
}

/// Collects every frame of a request, in order.
pub async fn request_frames(messages: RequestMessages) -> Vec<Result<Frame, ConnectError>> {
    match messages {
        RequestMessages::Unary(f) => vec![Ok(f)],
        RequestMessages::Stream(s) => s.collect().await,
    }
}

/// Collects every frame of a response, in order.
pub async fn response_frames(resp: RpcResponse) -> Vec<Result<Frame, ConnectError>> {
    match resp.messages {
        ResponseMessages::Unary(f) => vec![Ok(f)],
        ResponseMessages::Stream(s) => s.collect().await,
    }
}

pub fn echo_response(frames: Vec<Frame>, stream: bool) -> RpcResponse {
    let messages = if stream {
        ResponseMessages::Stream(Box::pin(futures_util::stream::iter(
            frames.into_iter().map(Ok),
        )))
    } else {
        ResponseMessages::Unary(frames.into_iter().next().unwrap_or_default())
    };
    RpcResponse {
        messages,
        ..Default::default()
    }
}
