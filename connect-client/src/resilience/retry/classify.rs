//! What an attempt's answer says, read without consuming a committed body:
//! gRPC and gRPC-Web status in trailers-only headers, an HTTP status, or a
//! Connect unary error body (read, bounded, and handed up again).

use std::sync::OnceLock;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use connect_codec::compression::CompressionRegistry;
use connect_codec::error_json;
use connect_core::{Code, ConnectError, metadata};
use connect_layers::protocol::content_type::{self, Family};
use http::{HeaderMap, HeaderName, Method, StatusCode};
use http_body::Body;
use http_body_util::BodyExt as _;

use super::body::RetryBody;
pub(crate) use super::pushback::retry_info;
use crate::BoxError;

/// How much of a Connect unary error body is read to classify it.
pub(crate) const ERROR_BODY_MAX: usize = 64 * 1024;

const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");

/// How a call's answers are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Connect unary (POST or GET): errors are non-200 JSON bodies.
    ConnectUnary,
    /// Connect streaming: a 200 is committed, errors arrive in the body.
    ConnectStream,
    /// gRPC: status in trailers, or in trailers-only headers.
    Grpc,
    /// gRPC-Web: as gRPC, or in a trailer frame first in the body.
    GrpcWeb,
    /// gRPC-Web in base64.
    GrpcWebText,
}

impl Kind {
    /// From the request's method and content type.
    pub(crate) fn of(method: &Method, headers: &HeaderMap) -> Kind {
        if method == Method::GET {
            return Kind::ConnectUnary;
        }
        let ct = headers
            .get(http::header::CONTENT_TYPE)
            .map(|v| v.as_bytes());
        match ct.and_then(content_type::parse).map(|c| c.family) {
            Some(Family::ConnectStream) => Kind::ConnectStream,
            Some(Family::Grpc) => Kind::Grpc,
            Some(Family::GrpcWeb) => Kind::GrpcWeb,
            Some(Family::GrpcWebText) => Kind::GrpcWebText,
            _ => Kind::ConnectUnary,
        }
    }
}

/// What the server said about retrying.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pushback {
    /// Nothing: the policy's backoff applies.
    None,
    /// Retry after this long.
    Delay(Duration),
    /// Do not retry (a negative or unreadable pushback).
    Stop,
}

/// An attempt's answer, classified.
#[derive(Debug)]
pub(crate) enum Outcome<B> {
    /// Success, or a committed answer: handed up as is.
    Commit(http::Response<RetryBody<B>>),
    /// A failed attempt: `answer` is what is handed up if it is not retried.
    Failed {
        code: Code,
        pushback: Pushback,
        answer: Result<http::Response<RetryBody<B>>, BoxError>,
    },
    /// The server never processed the request.
    Unprocessed(BoxError),
}

impl Kind {
    pub(crate) fn grpc(self) -> bool {
        matches!(self, Kind::Grpc | Kind::GrpcWeb | Kind::GrpcWebText)
    }
}

/// A response head, classified without touching its body; `Err` gives the
/// response back when its body must be read ([`read_body`]): a Connect
/// unary error, or, when `peek`, an enveloped 200 without a status in its
/// headers (gRPC-Web and Connect streaming servers may answer a failure
/// with a trailer or end-stream frame alone).
pub(crate) fn head<B>(
    kind: Kind,
    peek: bool,
    resp: http::Response<B>,
) -> Result<Outcome<B>, http::Response<B>> {
    let status = resp.status();
    let commit = |resp: http::Response<B>| {
        if peek
            && matches!(
                kind,
                Kind::ConnectStream | Kind::GrpcWeb | Kind::GrpcWebText
            )
        {
            Err(resp)
        } else {
            Ok(Outcome::Commit(resp.map(RetryBody::passthrough)))
        }
    };
    let failed = |code, pushback, resp: http::Response<B>| Outcome::Failed {
        code,
        pushback,
        answer: Ok(resp.map(RetryBody::passthrough)),
    };
    Ok(match kind {
        Kind::ConnectUnary if status == StatusCode::OK => {
            Outcome::Commit(resp.map(RetryBody::passthrough))
        }
        Kind::ConnectStream if status == StatusCode::OK => return commit(resp),
        Kind::ConnectUnary => return Err(resp),
        Kind::ConnectStream => failed(Code::from_http_status(status), Pushback::None, resp),
        _ if status != StatusCode::OK => failed(
            Code::from_http_status(status),
            grpc_pushback(resp.headers()),
            resp,
        ),
        _ => match metadata::find(resp.headers(), &GRPC_STATUS) {
            None => return commit(resp),
            Some(v) => {
                let code = std::str::from_utf8(v.as_bytes())
                    .ok()
                    .and_then(|s| s.trim().parse::<u32>().ok())
                    .map_or(Code::Unknown, |n| {
                        Code::from_grpc_number(n).unwrap_or(Code::Unknown)
                    });
                if code == Code::Ok {
                    Outcome::Commit(resp.map(RetryBody::passthrough))
                } else {
                    failed(code, grpc_pushback(resp.headers()), resp)
                }
            }
        },
    })
}

/// A transport failure: unprocessed, or failed with its code.
pub(crate) fn error<B>(err: BoxError) -> Outcome<B> {
    if crate::transport::error::unprocessed(&*err) {
        return Outcome::Unprocessed(err);
    }
    let code = match ConnectError::find_in(&*err) {
        Some(e) => e.code(),
        None => crate::transport::error::transport(&*err).code(),
    };
    Outcome::Failed {
        code,
        pushback: Pushback::None,
        answer: Err(err),
    }
}

/// `grpc-retry-pushback-ms`: milliseconds, or anything else = stop.
pub(crate) fn grpc_pushback(headers: &HeaderMap) -> Pushback {
    match headers.get("grpc-retry-pushback-ms") {
        None => Pushback::None,
        Some(v) => std::str::from_utf8(v.as_bytes())
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map_or(Pushback::Stop, |ms| {
                Pushback::Delay(Duration::from_millis(ms))
            }),
    }
}

/// Reads what [`head`] could not classify: a Connect unary error body, or
/// the first frame of an enveloped answer.
pub(crate) async fn read_body<B>(kind: Kind, resp: http::Response<B>) -> Outcome<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    match kind {
        Kind::ConnectUnary => read_error(resp).await,
        _ => super::peek::first_frame(kind, resp).await,
    }
}

/// Reads a Connect unary error answer (at most [`ERROR_BODY_MAX`]) for its
/// code and `google.rpc.RetryInfo`, and hands it up again unchanged: the
/// bytes read, then whatever was not.
pub(crate) async fn read_error<B>(resp: http::Response<B>) -> Outcome<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    let (parts, mut body) = resp.into_parts();
    let status = parts.status;
    let mut read = BytesMut::new();
    let mut complete = false;
    let mut failed = false;
    while read.len() <= ERROR_BODY_MAX {
        match body.frame().await {
            None => {
                complete = true;
                break;
            }
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    read.extend_from_slice(&data);
                }
            }
            Some(Err(_)) => {
                failed = true;
                break;
            }
        }
    }
    let read = read.freeze();
    let fallback = Code::from_http_status(status);
    let decoded = complete
        .then(|| decode(&parts.headers, &read, fallback))
        .flatten();
    let (code, pushback) = match decoded {
        Some(e) => (e.code(), retry_info(&e)),
        None => (fallback, Pushback::None),
    };
    let body = RetryBody::prefixed(read, body, complete || failed);
    Outcome::Failed {
        code,
        pushback,
        answer: Ok(http::Response::from_parts(parts, body)),
    }
}

pub(crate) fn decode(headers: &HeaderMap, data: &Bytes, fallback: Code) -> Option<ConnectError> {
    let is_json = metadata::find(headers, &http::header::CONTENT_TYPE)
        .and_then(|v| content_type::parse(v.as_bytes()))
        .is_some_and(|ct| ct.family == Family::ConnectUnary && ct.codec_name == "json");
    if !is_json {
        return None;
    }
    let encoding = metadata::find(headers, &http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .filter(|n| *n != "identity" && !data.is_empty());
    match encoding {
        None => error_json::decode_error(data, fallback),
        Some(name) => {
            let registry = registry();
            let plain = registry.decompress(name, data, ERROR_BODY_MAX).ok()?;
            error_json::decode_error(&plain, fallback)
        }
    }
}

/// Every compression built in, to read compressed error answers.
pub(crate) fn registry() -> &'static CompressionRegistry {
    static REGISTRY: OnceLock<CompressionRegistry> = OnceLock::new();
    REGISTRY.get_or_init(CompressionRegistry::all)
}

/// The `grpc-status` of `headers`: `None` if absent, unknown numbers are
/// `unknown`.
pub(crate) fn grpc_status(headers: &HeaderMap) -> Option<Code> {
    let v = metadata::find(headers, &GRPC_STATUS)?;
    Some(
        std::str::from_utf8(v.as_bytes())
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .map_or(Code::Unknown, |n| {
                Code::from_grpc_number(n).unwrap_or(Code::Unknown)
            }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_pushback_header() {
        let mut h = HeaderMap::new();
        assert_eq!(grpc_pushback(&h), Pushback::None);
        h.insert("grpc-retry-pushback-ms", "250".parse().unwrap());
        assert_eq!(
            grpc_pushback(&h),
            Pushback::Delay(Duration::from_millis(250))
        );
        for bad in ["-1", "soon", ""] {
            h.insert("grpc-retry-pushback-ms", bad.parse().unwrap());
            assert_eq!(grpc_pushback(&h), Pushback::Stop, "{bad}");
        }
    }

    #[test]
    fn kinds_from_requests() {
        let ct = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(http::header::CONTENT_TYPE, v.parse().unwrap());
            h
        };
        assert_eq!(
            Kind::of(&Method::GET, &HeaderMap::new()),
            Kind::ConnectUnary
        );
        assert_eq!(
            Kind::of(&Method::POST, &ct("application/json")),
            Kind::ConnectUnary
        );
        assert_eq!(
            Kind::of(&Method::POST, &ct("application/connect+proto")),
            Kind::ConnectStream
        );
        assert_eq!(Kind::of(&Method::POST, &ct("application/grpc")), Kind::Grpc);
        assert_eq!(
            Kind::of(&Method::POST, &ct("application/grpc-web-text")),
            Kind::GrpcWebText
        );
    }
}
