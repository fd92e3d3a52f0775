//! Client error mapping at the HTTP level: responses that are not RPC
//! responses (a proxy's 502, an HTML 404, a wrong content type) and Connect
//! unary errors (a JSON body with a non-200 status) become
//! [`ConnectError`]s, and so do the channel's own failures.
//!
//! Errors inside a successful response (the Connect end-stream message,
//! gRPC trailers and trailers-only headers, the gRPC-Web trailer frame)
//! are framing's, since they arrive with the body.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use connect_codec::compression::{CompressionRegistry, IDENTITY};
use connect_codec::error_json;
use connect_core::error::{chain, chain_text};
use connect_core::{Code, Codec, ConnectError, Protocol, StreamType, metadata};
use http::{HeaderMap, StatusCode};
use http_body::Body;
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::framing::client::read_bounded;
use crate::framing::take_trailer_headers;
use crate::intercept::method_of;
use crate::protocol::content_type::{self, Family};
use crate::{BoxError, BoxFuture};

/// How much of a Connect error body is read.
const ERROR_BODY_MAX: usize = 1024 * 1024;

/// Layer applying [`ErrorMap`].
#[derive(Clone, Debug)]
#[must_use]
pub struct ErrorMapLayer {
    config: Arc<Config>,
}

#[derive(Debug)]
pub(crate) struct Config {
    protocol: Protocol,
    codec: Codec,
    web_text: bool,
    registry: CompressionRegistry,
}

impl ErrorMapLayer {
    /// Error mapping for `protocol` and `codec` (`web_text`: gRPC-Web's
    /// text mode); `registry` decompresses compressed Connect error bodies.
    pub fn new(
        protocol: Protocol,
        codec: Codec,
        web_text: bool,
        registry: CompressionRegistry,
    ) -> Self {
        ErrorMapLayer {
            config: Arc::new(Config {
                protocol,
                codec,
                web_text,
                registry,
            }),
        }
    }
}

impl<S> Layer<S> for ErrorMapLayer {
    type Service = ErrorMap<S>;

    fn layer(&self, inner: S) -> ErrorMap<S> {
        ErrorMap {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

/// Maps non-RPC responses and channel failures to [`ConnectError`]s.
#[derive(Clone, Debug)]
pub struct ErrorMap<S> {
    inner: S,
    pub(crate) config: Arc<Config>,
}

crate::macros::define_inner_service_accessors!(ErrorMap);

impl<S, B: 'static, R> Service<http::Request<B>> for ErrorMap<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    S::Error: Into<BoxError>,
    R: Body<Data = Bytes> + Send + 'static,
    R::Error: Into<BoxError>,
{
    type Response = http::Response<R>;
    type Error = ConnectError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ConnectError>> {
        self.inner.poll_ready(cx).map_err(transport_error)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let stream_type = method_of(&req).map_or(StreamType::Unary, |m| m.stream_type());
        ResponseFuture {
            inner: self.inner.call(req),
            config: Arc::clone(&self.config),
            stream_type,
            reading: None,
        }
    }
}

pin_project! {
    /// The response future of [`ErrorMap`]: the channel's answer, checked.
    /// Only a Connect unary error body is read (boxed: the error path).
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        config: Arc<Config>,
        stream_type: StreamType,
        reading: Option<BoxFuture<ConnectError>>,
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("stream_type", &self.stream_type)
            .finish_non_exhaustive()
    }
}

impl<F, R, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<http::Response<R>, E>>,
    E: Into<BoxError>,
    R: Body<Data = Bytes> + Send + 'static,
    R::Error: Into<BoxError>,
{
    type Output = Result<http::Response<R>, ConnectError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(reading) = this.reading {
            return reading.as_mut().poll(cx).map(Err);
        }
        let resp = std::task::ready!(this.inner.poll(cx));
        Poll::Ready(match check(this.config, *this.stream_type, resp) {
            Checked::Answer(resp) => Ok(resp),
            Checked::Failed(e) => Err(e),
            Checked::ReadError(mut reading) => {
                let polled = reading.as_mut().poll(cx);
                *this.reading = Some(reading);
                return polled.map(Err);
            }
        })
    }
}

/// What error mapping makes of the channel's answer to a call of
/// `stream_type`.
pub(crate) enum Checked<R> {
    /// An RPC answer, for framing to read.
    Answer(http::Response<R>),
    /// Not one: the call fails with this.
    Failed(ConnectError),
    /// A Connect unary error, whose JSON body is being read.
    ReadError(BoxFuture<ConnectError>),
}

/// Whether `resp` is the call's answer (200, and the content type the call
/// expects): what [`check`] decides, by reference, so that the common
/// case moves nothing.
pub(crate) fn is_answer<R>(
    config: &Config,
    stream_type: StreamType,
    resp: &http::Response<R>,
) -> bool {
    let unary_connect = config.protocol == Protocol::Connect && stream_type == StreamType::Unary;
    resp.status() == StatusCode::OK
        && check_content_type(config, unary_connect, resp.headers()).is_ok()
}

/// Maps a channel failure, a non-200 status or a wrong content type to
/// the call's error; a Connect unary error's body is read (bounded) for
/// the error it carries.
pub(crate) fn check<R, E>(
    config: &Arc<Config>,
    stream_type: StreamType,
    resp: Result<http::Response<R>, E>,
) -> Checked<R>
where
    E: Into<BoxError>,
    R: Body<Data = Bytes> + Send + 'static,
    R::Error: Into<BoxError>,
{
    let resp = match resp {
        Ok(resp) => resp,
        Err(e) => return Checked::Failed(transport_error(e)),
    };
    let unary_connect = config.protocol == Protocol::Connect && stream_type == StreamType::Unary;
    if resp.status() != StatusCode::OK {
        let (parts, body) = resp.into_parts();
        if !unary_connect {
            let mut err = status_error(config.protocol, parts.status, parts.version);
            *err.headers_mut() = parts.headers;
            return Checked::Failed(err);
        }
        let config = Arc::clone(config);
        return Checked::ReadError(Box::pin(async move {
            let mut err = connect_unary_error(&config, parts.status, &parts.headers, body).await;
            let mut headers = parts.headers;
            *err.trailers_mut() = take_trailer_headers(&mut headers);
            *err.headers_mut() = headers;
            err
        }));
    }
    if let Err(mut err) = check_content_type(config, unary_connect, resp.headers()) {
        *err.headers_mut() = resp.headers().clone();
        return Checked::Failed(err);
    }
    Checked::Answer(resp)
}

/// The error for a channel failure: a [`ConnectError`] found in the error
/// chain as it is, a timeout as `deadline_exceeded`, anything else
/// `unavailable` (which retry policies treat as safe to retry, so a
/// timeout must never be reported as it).
///
/// A timeout is any link of the chain that is an I/O error of kind
/// `TimedOut`, tokio's `Elapsed`, or an error that says it timed out:
/// `tower::timeout`'s `Elapsed` ("request timed out"), hyper's ("operation
/// timed out") and the connectors' are recognised that way, whichever
/// version of those crates the channel was built with. An unanswered
/// keep-alive PING ([`is_keep_alive_failure`]) is a dead connection:
/// `unavailable`.
pub fn transport_error(e: impl Into<BoxError>) -> ConnectError {
    let e = e.into();
    if let Some(found) = ConnectError::find_in(&*e) {
        return found.clone();
    }
    let timed_out = !is_keep_alive_failure(&*e)
        && chain(&*e).any(|s| {
            s.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
                || s.is::<tokio::time::error::Elapsed>()
                || s.to_string().to_ascii_lowercase().contains("timed out")
        });
    let code = if timed_out {
        Code::DeadlineExceeded
    } else {
        Code::Unavailable
    };
    ConnectError::new(code, chain_text(&*e))
}

/// Whether `err` is an HTTP/2 keep-alive PING that went unanswered (hyper
/// says "keep-alive timed out"): the connection is dead, so calls on it
/// are `unavailable`, not `deadline_exceeded`, though the error says it
/// timed out.
pub fn is_keep_alive_failure(err: &(dyn std::error::Error + 'static)) -> bool {
    chain(err).any(|s| s.to_string().to_ascii_lowercase().contains("keep-alive"))
}

/// The error a client infers from an HTTP status alone.
pub fn http_status_error(status: StatusCode) -> ConnectError {
    ConnectError::new(
        Code::from_http_status(status),
        format!("HTTP status {status}"),
    )
}

/// The error for a non-200 answer to a `protocol` call outside Connect
/// unary: [`http_status_error`] (the code always follows the status), except
/// that a gRPC call answered `505 HTTP Version Not Supported` over HTTP/1.x
/// (a server refusing gRPC over HTTP/1.1) says what is wrong and how to fix
/// it.
fn status_error(protocol: Protocol, status: StatusCode, version: http::Version) -> ConnectError {
    let over_http1 = matches!(
        version,
        http::Version::HTTP_09 | http::Version::HTTP_10 | http::Version::HTTP_11
    );
    if protocol == Protocol::Grpc && status == StatusCode::HTTP_VERSION_NOT_SUPPORTED && over_http1
    {
        return ConnectError::new(
            Code::from_http_status(status),
            "HTTP status 505: gRPC needs HTTP/2, but the channel sent the call over \
             HTTP/1.1. Use an HTTP/2 channel: HttpClient::plaintext_http2_only() (h2c) or \
             Http2Connection::connect for http:// URIs, TLS with ALPN h2 \
             (HttpClient::with_tls) for https://; or use the Connect or gRPC-Web protocol, \
             which work over HTTP/1.1",
        );
    }
    http_status_error(status)
}

async fn connect_unary_error<R>(
    config: &Config,
    status: StatusCode,
    headers: &HeaderMap,
    body: R,
) -> ConnectError
where
    R: Body<Data = Bytes>,
    R::Error: Into<BoxError>,
{
    let fallback = Code::from_http_status(status);
    let is_json = metadata::find(headers, &http::header::CONTENT_TYPE)
        .and_then(|v| content_type::parse(v.as_bytes()))
        .is_some_and(|ct| ct.family == Family::ConnectUnary && ct.codec_name == "json");
    if !is_json {
        return http_status_error(status);
    }
    let Ok(mut data) = read_bounded(body, ERROR_BODY_MAX).await else {
        return http_status_error(status);
    };
    if let Some(name) = metadata::find(headers, &http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .filter(|n| *n != IDENTITY && !data.is_empty())
    {
        match config.registry.decompress(name, &data, ERROR_BODY_MAX) {
            Ok(d) => data = d,
            Err(_) => return http_status_error(status),
        }
    }
    error_json::decode_error(&data, fallback).unwrap_or_else(|| http_status_error(status))
}

/// Checks the answer's content type against the call's: the same family
/// and codec, read with the one table
/// ([`content_type::parse`](crate::protocol::content_type::parse)). A
/// codec mismatch within the family is `internal`; anything else — no RPC
/// answer at all, a proxy's HTML page — is `unknown`.
fn check_content_type(
    config: &Config,
    unary_connect: bool,
    headers: &HeaderMap,
) -> Result<(), ConnectError> {
    let ct = metadata::find(headers, &http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let want = config.codec.name();
    let stream_type = if unary_connect {
        StreamType::Unary
    } else {
        StreamType::BidiStream
    };
    // The common answer names exactly what was sent: no parse.
    if ct == content_type::request(config.protocol, config.codec, stream_type, config.web_text) {
        return Ok(());
    }
    let family = Family::of(config.protocol, stream_type, config.web_text);
    let mismatch = || {
        ConnectError::internal(format!(
            "response content type {ct:?} does not match the request's codec {want:?}"
        ))
    };
    match content_type::parse(ct.as_bytes()) {
        Some(got) if got.family == family && got.well_formed => {
            let codec = if got.implicit_codec {
                "proto"
            } else {
                got.codec_name
            };
            if codec.eq_ignore_ascii_case(want) {
                Ok(())
            } else if unary_connect || !codec.contains('/') {
                Err(mismatch())
            } else {
                Err(unexpected(ct))
            }
        }
        // Connect unary: any other `application/…` answer names a codec.
        Some(_) if unary_connect => Err(mismatch()),
        // gRPC trailers-only responses may carry no content type.
        None if family.enveloped()
            && config.protocol != Protocol::Connect
            && ct.is_empty()
            && headers.contains_key("grpc-status") =>
        {
            Ok(())
        }
        _ => Err(unexpected(ct)),
    }
}

fn unexpected(ct: &str) -> ConnectError {
    ConnectError::new(
        Code::Unknown,
        format!("response has unexpected content type {ct:?}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(protocol: Protocol) -> Config {
        Config {
            protocol,
            codec: Codec::Proto,
            web_text: false,
            registry: CompressionRegistry::new(),
        }
    }

    fn headers(ct: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("content-type", ct.parse().unwrap());
        h
    }

    #[test]
    fn content_type_validation() {
        let c = config(Protocol::Connect);
        assert!(check_content_type(&c, true, &headers("application/proto")).is_ok());
        let wrong_codec = check_content_type(&c, true, &headers("application/json")).unwrap_err();
        assert_eq!(wrong_codec.code(), Code::Internal);
        let not_rpc = check_content_type(&c, true, &headers("image/jpeg")).unwrap_err();
        assert_eq!(not_rpc.code(), Code::Unknown);
        assert!(check_content_type(&c, false, &headers("application/connect+proto")).is_ok());
        let g = config(Protocol::Grpc);
        assert!(check_content_type(&g, false, &headers("application/grpc")).is_ok());
        assert!(check_content_type(&g, false, &headers("application/grpc+proto")).is_ok());
        assert_eq!(
            check_content_type(&g, false, &headers("application/grpc+json"))
                .unwrap_err()
                .code(),
            Code::Internal
        );
        assert_eq!(
            check_content_type(&g, false, &headers("text/html"))
                .unwrap_err()
                .code(),
            Code::Unknown
        );
        let w = config(Protocol::GrpcWeb);
        assert!(check_content_type(&w, false, &headers("application/grpc-web+proto")).is_ok());
    }

    #[test]
    fn channel_failures_are_unavailable_unless_typed() {
        let e = transport_error("connection refused");
        assert_eq!(e.code(), Code::Unavailable);
        let e = transport_error(ConnectError::new(Code::Aborted, "x"));
        assert_eq!(e.code(), Code::Aborted);
    }

    #[tokio::test]
    async fn every_kind_of_timeout_is_deadline_exceeded() {
        /// An error like tower's `Elapsed`, wrapped as a layer would.
        #[derive(Debug)]
        struct Wrapped(&'static str, Option<std::io::Error>);
        impl std::fmt::Display for Wrapped {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.0)
            }
        }
        impl std::error::Error for Wrapped {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                self.1.as_ref().map(|e| e as _)
            }
        }
        let elapsed = tokio::time::timeout(std::time::Duration::ZERO, std::future::pending::<()>())
            .await
            .unwrap_err();
        let io = std::io::Error::new(std::io::ErrorKind::TimedOut, "slow");
        let cases: Vec<BoxError> = vec![
            Box::new(elapsed),
            Box::new(Wrapped("request timed out", None)),
            Box::new(Wrapped("operation timed out", None)),
            Box::new(Wrapped("client error (Connect)", Some(io))),
        ];
        for case in cases {
            let text = case.to_string();
            let e = transport_error(case);
            assert_eq!(e.code(), Code::DeadlineExceeded, "{text}");
        }
        let other = Wrapped("connection reset", Some(std::io::Error::other("reset")));
        assert_eq!(transport_error(other).code(), Code::Unavailable);
    }

    #[test]
    fn grpc_over_http1_says_how_to_get_http2() {
        let h1 = http::Version::HTTP_11;
        let e = status_error(Protocol::Grpc, StatusCode::HTTP_VERSION_NOT_SUPPORTED, h1);
        // The code still follows the status; the message explains.
        assert_eq!(e.code(), Code::Unknown);
        assert!(e.message().contains("gRPC needs HTTP/2"), "{}", e.message());
        assert!(e.message().contains("HttpClient::plaintext_http2_only()"));
        let plain = "HTTP status 505 HTTP Version Not Supported";
        let e = status_error(
            Protocol::GrpcWeb,
            StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            h1,
        );
        assert_eq!(e.message(), plain);
        let h2 = http::Version::HTTP_2;
        let e = status_error(Protocol::Grpc, StatusCode::HTTP_VERSION_NOT_SUPPORTED, h2);
        assert_eq!(e.message(), plain);
        let e = status_error(Protocol::Grpc, StatusCode::BAD_GATEWAY, h1);
        assert_eq!(e.code(), Code::Unavailable);
    }
}
