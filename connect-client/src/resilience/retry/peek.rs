//! The first frame of an enveloped answer to a call whose response is one
//! message: a gRPC-Web trailer frame or a Connect end-stream message there
//! means the attempt failed before anything was delivered (servers answer
//! a failure that way instead of trailers-only headers). Any other first
//! frame commits the call and is handed up, with the rest of the body.

use bytes::{Bytes, BytesMut};
use connect_codec::error_json;
use connect_codec::grpc_status::parse_web_trailer_block;
use connect_core::metadata::decode_binary_value;
use http::HeaderMap;
use http_body::Body;
use http_body_util::BodyExt as _;

use super::body::RetryBody;
use super::classify::{ERROR_BODY_MAX, Kind, Outcome, Pushback, grpc_pushback, grpc_status};
use super::classify::{registry, retry_info};

/// The envelope flag of a compressed message.
const COMPRESSED: u8 = 0x01;
/// Connect's end-stream flag.
const END_STREAM: u8 = 0x02;
/// gRPC-Web's trailer flag.
const TRAILERS: u8 = 0x80;

/// Reads the first frame of `resp`'s body (all of it if it is the last,
/// at most [`ERROR_BODY_MAX`]) and classifies it.
pub(crate) async fn first_frame<B>(kind: Kind, resp: http::Response<B>) -> Outcome<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    let (parts, mut body) = resp.into_parts();
    let text = kind == Kind::GrpcWebText;
    // Base64 needs 8 characters for the 5-byte prefix.
    let need = if text { 8 } else { 5 };
    let mut read = BytesMut::new();
    let mut ended = false;
    while read.len() < need && !ended {
        ended = next(&mut body, &mut read).await;
    }
    let flags = match prefix(&read, text) {
        Some(p) => p[0],
        None => return commit(parts, read, body, ended),
    };
    let end_flag = if kind == Kind::ConnectStream {
        END_STREAM
    } else {
        TRAILERS
    };
    if flags & end_flag == 0 {
        return commit(parts, read, body, ended);
    }
    while !ended && read.len() <= ERROR_BODY_MAX {
        ended = next(&mut body, &mut read).await;
    }
    let read = read.freeze();
    let classified = ended
        .then(|| classify(kind, &parts.headers, &read))
        .flatten();
    let (code, pushback) = match classified {
        Some(c) => c,
        None => return commit(parts, read.into(), body, ended),
    };
    if code == connect_core::Code::Ok {
        return commit(parts, read.into(), body, ended);
    }
    Outcome::Failed {
        code,
        pushback,
        answer: Ok(http::Response::from_parts(
            parts,
            RetryBody::prefixed(read, body, ended),
        )),
    }
}

/// Reads one more frame into `read`; whether the body ended (or failed).
async fn next<B: Body<Data = Bytes> + Unpin>(body: &mut B, read: &mut BytesMut) -> bool {
    match body.frame().await {
        Some(Ok(frame)) => {
            if let Ok(data) = frame.into_data() {
                read.extend_from_slice(&data);
            }
            false
        }
        _ => true,
    }
}

fn commit<B>(parts: http::response::Parts, read: BytesMut, body: B, ended: bool) -> Outcome<B> {
    Outcome::Commit(http::Response::from_parts(
        parts,
        RetryBody::prefixed(read.freeze(), body, ended),
    ))
}

/// The envelope prefix (5 bytes) at the start of `read`.
fn prefix(read: &[u8], text: bool) -> Option<Vec<u8>> {
    if text {
        let mut p = decode_binary_value(read.get(..8)?).ok()?;
        p.truncate(5);
        Some(p)
    } else {
        Some(read.get(..5)?.to_vec())
    }
}

/// The code and pushback of a whole trailer or end-stream frame.
fn classify(
    kind: Kind,
    headers: &HeaderMap,
    read: &[u8],
) -> Option<(connect_core::Code, Pushback)> {
    let decoded;
    let bytes = if kind == Kind::GrpcWebText {
        decoded = decode_binary_value(read).ok()?;
        &decoded[..]
    } else {
        read
    };
    let (flags, rest) = bytes.split_first()?;
    let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    let payload = rest.get(4..4 + len)?;
    let plain;
    let payload = if flags & COMPRESSED != 0 {
        let header = if kind == Kind::ConnectStream {
            "connect-content-encoding"
        } else {
            "grpc-encoding"
        };
        let name = headers.get(header)?.to_str().ok()?;
        plain = registry().decompress(name, payload, ERROR_BODY_MAX).ok()?;
        &plain[..]
    } else {
        payload
    };
    if kind == Kind::ConnectStream {
        let end = error_json::decode_end_stream(payload)?;
        return Some(match end.error {
            Some(e) => (e.code(), retry_info(&e)),
            None => (connect_core::Code::Ok, Pushback::None),
        });
    }
    let trailers = parse_web_trailer_block(payload);
    let code = grpc_status(&trailers)?;
    Some((code, grpc_pushback(&trailers)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use connect_core::metadata;
    use http_body_util::Full;

    fn frame(flags: u8, payload: &[u8]) -> Bytes {
        let mut b = vec![flags];
        b.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        b.extend_from_slice(payload);
        b.into()
    }

    async fn run(kind: Kind, body: Bytes) -> (Option<connect_core::Code>, Bytes) {
        let resp = http::Response::new(Full::new(body));
        match first_frame(kind, resp).await {
            Outcome::Commit(r) => (None, r.into_body().collect().await.unwrap().to_bytes()),
            Outcome::Failed { code, answer, .. } => (
                Some(code),
                answer
                    .unwrap()
                    .into_body()
                    .collect()
                    .await
                    .unwrap()
                    .to_bytes(),
            ),
            Outcome::Unprocessed(_) => panic!(),
        }
    }

    #[tokio::test]
    async fn trailer_frames_first_are_failures_and_messages_commit() {
        let trailers = frame(TRAILERS, b"grpc-status: 14\r\ngrpc-message: no\r\n");
        assert_eq!(
            run(Kind::GrpcWeb, trailers.clone()).await,
            (Some(connect_core::Code::Unavailable), trailers)
        );
        let ok = frame(TRAILERS, b"grpc-status: 0\r\n");
        assert_eq!(run(Kind::GrpcWeb, ok.clone()).await, (None, ok));
        let msg = frame(0, b"hello");
        assert_eq!(run(Kind::GrpcWeb, msg.clone()).await, (None, msg));
        let text = Bytes::from(
            metadata::encode_binary_value(&frame(TRAILERS, b"grpc-status: 8\r\n"))
                .to_str()
                .unwrap()
                .to_owned(),
        );
        assert_eq!(
            run(Kind::GrpcWebText, text.clone()).await,
            (Some(connect_core::Code::ResourceExhausted), text)
        );
        let end = frame(
            END_STREAM,
            br#"{"error":{"code":"unavailable","message":"x"}}"#,
        );
        assert_eq!(
            run(Kind::ConnectStream, end.clone()).await,
            (Some(connect_core::Code::Unavailable), end)
        );
        assert_eq!(
            run(Kind::ConnectStream, Bytes::new()).await,
            (None, Bytes::new())
        );
    }
}
