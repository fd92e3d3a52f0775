//! The compression layer alone, around a recording inner service.

mod support;

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use connect_core::{Code, ConnectError};
use connect_layers::compression::server::CompressionLayer;
use connect_layers::rpc::{Frame, RpcRequest, RpcResponse};
use support::*;
use tower::{Layer, ServiceExt, service_fn};

fn gzip(data: &[u8]) -> Bytes {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap().into()
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = vec![];
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

type Seen = Arc<Mutex<Vec<Result<Frame, ConnectError>>>>;

/// An inner service that records the request frames it saw and answers
/// with `reply` (streamed if the request was).
fn recorder(
    reply: Vec<Frame>,
) -> (
    Seen,
    impl tower::Service<RpcRequest, Response = RpcResponse, Error = ConnectError> + Clone,
) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let svc = service_fn(move |req: RpcRequest| {
        let s = s.clone();
        let reply = reply.clone();
        async move {
            let stream = matches!(
                req.messages,
                connect_layers::rpc::RequestMessages::Stream(_)
            );
            let frames = request_frames(req.messages).await;
            s.lock().unwrap().extend(frames);
            Ok::<_, ConnectError>(echo_response(reply, stream))
        }
    });
    (seen, svc)
}

#[tokio::test]
async fn decompresses_requests_and_compresses_responses() {
    let (seen, inner) = recorder(vec![Frame::new(Bytes::from_static(
        b"answer answer answer",
    ))]);
    let svc = CompressionLayer::new().compress_min_bytes(0).layer(inner);
    let req = unary(
        &UNARY,
        &[("content-encoding", "gzip"), ("accept-encoding", "gzip")],
        Frame {
            data: gzip(b"question"),
            compressed: true,
            prefixed: false,
        },
    );
    let resp = svc.oneshot(req).await.unwrap();
    assert_eq!(resp.headers["content-encoding"], "gzip");
    assert_eq!(resp.headers["accept-encoding"], "gzip,zstd");
    let out = response_frames(resp).await;
    let frame = out[0].as_ref().unwrap();
    assert!(frame.compressed);
    assert_eq!(gunzip(&frame.data), b"answer answer answer");
    let seen = seen.lock().unwrap();
    assert_eq!(&seen[0].as_ref().unwrap().data[..], b"question");
}

#[tokio::test]
async fn unsupported_encoding_is_unimplemented_with_accept_header() {
    let (seen, inner) = recorder(vec![]);
    let svc = CompressionLayer::new().layer(inner);
    let req = unary(&UNARY, &[("content-encoding", "br")], frame(b"x", true));
    let err = svc.oneshot(req).await.unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);
    assert_eq!(err.headers()["accept-encoding"], "gzip,zstd");
    assert!(seen.lock().unwrap().is_empty(), "the handler never ran");
}

#[tokio::test]
async fn compressed_flag_without_encoding_is_internal() {
    let (_, inner) = recorder(vec![]);
    let svc = CompressionLayer::new().layer(inner);
    let req = unary(&UNARY, &[], frame(b"x", true));
    assert_eq!(svc.oneshot(req).await.unwrap_err().code(), Code::Internal);
}

#[tokio::test]
async fn empty_compressed_frames_are_not_decompressed() {
    let (seen, inner) = recorder(vec![Frame::default()]);
    let svc = CompressionLayer::new().layer(inner);
    let req = unary(&UNARY, &[("content-encoding", "gzip")], frame(b"", true));
    svc.oneshot(req).await.unwrap();
    assert!(seen.lock().unwrap()[0].as_ref().unwrap().data.is_empty());
}

#[tokio::test]
async fn decompressed_size_is_bounded_per_stream_message() {
    let (seen, inner) = recorder(vec![]);
    let svc = CompressionLayer::new().read_max_bytes(100).layer(inner);
    let big = gzip(&[0u8; 101]);
    let small = gzip(&[0u8; 100]);
    let req = streaming(
        &CLIENT,
        &[("connect-content-encoding", "gzip")],
        vec![
            Frame {
                data: small,
                compressed: true,
                prefixed: false,
            },
            Frame {
                data: big,
                compressed: true,
                prefixed: false,
            },
        ],
    );
    svc.oneshot(req).await.unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0].as_ref().unwrap().data.len(), 100);
    assert_eq!(
        seen[1].as_ref().unwrap_err().code(),
        Code::ResourceExhausted
    );
}

#[tokio::test]
async fn small_responses_stay_uncompressed_under_the_threshold() {
    let (_, inner) = recorder(vec![Frame::new(Bytes::from_static(b"tiny"))]);
    let svc = CompressionLayer::new()
        .compress_min_bytes(1024)
        .layer(inner);
    let req = unary(&UNARY, &[("accept-encoding", "gzip")], frame(b"", false));
    let resp = svc.oneshot(req).await.unwrap();
    assert!(resp.headers.get("content-encoding").is_none());
    let out = response_frames(resp).await;
    assert!(!out[0].as_ref().unwrap().compressed);
}

#[tokio::test]
async fn by_default_only_responses_of_a_kilobyte_or_more_are_compressed() {
    use connect_layers::compression::server::DEFAULT_COMPRESS_MIN_BYTES;
    assert_eq!(DEFAULT_COMPRESS_MIN_BYTES, 1024);
    let accepts = [("accept-encoding", "gzip")];
    // A small answer goes as it is, and says so.
    let (_, inner) = recorder(vec![Frame::new(Bytes::from_static(b"small"))]);
    let resp = CompressionLayer::new()
        .layer(inner)
        .oneshot(unary(&UNARY, &accepts, Frame::new(Bytes::new())))
        .await
        .unwrap();
    assert!(!resp.headers.contains_key("content-encoding"));
    let out = response_frames(resp).await;
    let frame = out[0].as_ref().unwrap();
    assert!(!frame.compressed);
    assert_eq!(&frame.data[..], b"small");
    // One of 1 KiB is compressed.
    let big = Bytes::from(vec![b'x'; DEFAULT_COMPRESS_MIN_BYTES]);
    let (_, inner) = recorder(vec![Frame::new(big.clone())]);
    let resp = CompressionLayer::new()
        .layer(inner)
        .oneshot(unary(&UNARY, &accepts, Frame::new(Bytes::new())))
        .await
        .unwrap();
    assert_eq!(resp.headers["content-encoding"], "gzip");
    let out = response_frames(resp).await;
    let frame = out[0].as_ref().unwrap();
    assert!(frame.compressed);
    assert_eq!(gunzip(&frame.data), &big[..]);
}

#[tokio::test]
async fn streams_announce_their_encoding_once() {
    let (_, inner) = recorder(vec![
        Frame::new(Bytes::from_static(b"one")),
        Frame::new(Bytes::from_static(b"two")),
    ]);
    let svc = CompressionLayer::new().compress_min_bytes(0).layer(inner);
    let req = streaming(&CLIENT, &[("connect-accept-encoding", "zstd")], vec![]);
    let resp = svc.oneshot(req).await.unwrap();
    assert_eq!(resp.headers["connect-content-encoding"], "zstd");
    let frames = response_frames(resp).await;
    assert_eq!(frames.len(), 2);
    for (f, want) in frames.into_iter().zip([&b"one"[..], b"two"]) {
        let f = f.unwrap();
        assert!(f.compressed);
        assert_eq!(zstd::decode_all(&f.data[..]).unwrap(), want);
    }
}
