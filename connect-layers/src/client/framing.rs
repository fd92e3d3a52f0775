//! Client framing: request frames → HTTP body, HTTP response body →
//! frames and trailers.
//!
//! Connect unary calls send the message as the bare body and read trailers
//! from `trailer-` headers; every other call sends 5-byte envelopes. The
//! response body is decoded envelope by envelope, each length checked
//! against the read limit before its payload is buffered, and ends the way
//! the protocol ends a call: the Connect end-stream message, gRPC HTTP
//! trailers (or trailers-only headers), or the gRPC-Web trailer frame.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use connect_codec::compression::{CompressionRegistry, IDENTITY};
use connect_codec::envelope::{EnvelopeDecoder, encode_envelope};
use connect_codec::{error_json, grpc_status};
use connect_core::{Code, ConnectError, MethodDescriptor, Protocol, StreamType, flags, metadata};
use futures_util::StreamExt as _;
use http::{HeaderMap, Method, Uri};
use http_body::Body;
use http_body_util::BodyExt as _;
use tower_layer::Layer;
use tower_service::Service;

use super::body::ClientBody;
use super::errors::take_trailer_headers;
use super::rpc::{ClientRequest, ClientResponse, ResponseFrames, StreamItem};
use crate::protocol::{MethodRoute, encoding_headers};
use crate::rpc::{Frame, RequestMessages};

/// The error type of boxed errors from channels and bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Layer applying [`Framing`].
#[derive(Clone, Debug)]
#[must_use]
pub struct FramingLayer {
    config: Arc<FramingConfig>,
}

#[derive(Debug)]
struct FramingConfig {
    protocol: Protocol,
    base: String,
    registry: CompressionRegistry,
}

impl FramingLayer {
    /// Framing for `protocol`, sending to `base_uri` (scheme, authority
    /// and an optional path prefix; the method's path is appended).
    /// `registry` decompresses compressed end-of-stream messages.
    pub fn new(protocol: Protocol, base_uri: &Uri, registry: CompressionRegistry) -> Self {
        let base = base_uri.to_string().trim_end_matches('/').to_owned();
        FramingLayer {
            config: Arc::new(FramingConfig {
                protocol,
                base,
                registry,
            }),
        }
    }
}

impl<S> Layer<S> for FramingLayer {
    type Service = Framing<S>;

    fn layer(&self, inner: S) -> Framing<S> {
        Framing {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

/// Turns [`ClientRequest`]s into HTTP requests, and HTTP responses into
/// [`ClientResponse`]s.
#[derive(Clone, Debug)]
pub struct Framing<S> {
    inner: S,
    config: Arc<FramingConfig>,
}

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, R> Service<ClientRequest> for Framing<S>
where
    S: Service<http::Request<ClientBody>, Response = http::Response<R>, Error = ConnectError>,
    S::Future: Send + 'static,
    R: Body<Data = Bytes> + Send + 'static,
    R::Error: Into<BoxError>,
{
    type Response = ClientResponse;
    type Error = ConnectError;
    type Future = BoxFuture<Result<ClientResponse, ConnectError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ConnectError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: ClientRequest) -> Self::Future {
        let config = Arc::clone(&self.config);
        let method = req.method;
        let read_max = req.settings.read_max_bytes;
        let http = match build_request(&config, req) {
            Ok(http) => http,
            Err(e) => return Box::pin(async move { Err(e) }),
        };
        let fut = self.inner.call(http);
        Box::pin(async move {
            let resp = fut.await?;
            read_response(config, method, read_max, resp).await
        })
    }
}

fn build_request(
    config: &FramingConfig,
    req: ClientRequest,
) -> Result<http::Request<ClientBody>, ConnectError> {
    let uri = Uri::try_from(format!("{}{}", config.base, req.method.path()))
        .map_err(|e| ConnectError::internal(format!("invalid request URI: {e}")))?;
    let bare =
        config.protocol == Protocol::Connect && req.method.stream_type() == StreamType::Unary;
    let limit = req.settings.send_max_bytes;
    let body = match req.messages {
        RequestMessages::Unary(frame) => {
            check_send_limit(&frame, limit)?;
            if bare {
                ClientBody::full(frame.into_payload())
            } else {
                ClientBody::full(envelope(frame))
            }
        }
        RequestMessages::Stream(frames) => ClientBody::stream(Box::pin(frames.map(move |f| {
            let f = f?;
            check_send_limit(&f, limit)?;
            Ok(envelope(f))
        }))),
    };
    let mut http = http::Request::new(body);
    *http.method_mut() = Method::POST;
    *http.uri_mut() = uri;
    *http.headers_mut() = req.headers;
    *http.extensions_mut() = req.extensions;
    http.extensions_mut().insert(MethodRoute(req.method));
    Ok(http)
}

fn check_send_limit(frame: &Frame, limit: usize) -> Result<(), ConnectError> {
    let len = frame.payload().len();
    if len > limit {
        return Err(ConnectError::resource_exhausted(format!(
            "request message size {len} exceeds the send limit {limit}"
        )));
    }
    Ok(())
}

/// The frame behind its envelope prefix (no copy when it was encoded
/// behind one).
fn envelope(frame: Frame) -> Bytes {
    if frame.prefixed && !frame.compressed {
        return frame.data;
    }
    let flag = if frame.compressed {
        flags::COMPRESSED
    } else {
        0
    };
    encode_envelope(flag, frame.payload())
}

async fn read_response<R>(
    config: Arc<FramingConfig>,
    method: &'static MethodDescriptor,
    read_max: usize,
    resp: http::Response<R>,
) -> Result<ClientResponse, ConnectError>
where
    R: Body<Data = Bytes> + Send + 'static,
    R::Error: Into<BoxError>,
{
    let (parts, body) = resp.into_parts();
    let mut headers = parts.headers;
    if config.protocol == Protocol::Connect && method.stream_type() == StreamType::Unary {
        let trailers = take_trailer_headers(&mut headers);
        let data = read_bounded(body, read_max).await?;
        let encoded = metadata::find(&headers, &http::header::CONTENT_ENCODING)
            .is_some_and(|v| v.as_bytes() != IDENTITY.as_bytes());
        let frame = Frame {
            compressed: encoded && !data.is_empty(),
            data,
            prefixed: false,
        };
        return Ok(ClientResponse {
            headers,
            messages: ResponseFrames::Unary { frame, trailers },
        });
    }
    let mut reader = EnvelopeReader {
        body: Box::pin(body),
        decoder: EnvelopeDecoder::new(read_max),
        read_max,
        config,
        headers: headers.clone(),
        saw_bytes: false,
        done: false,
    };
    if !method.stream_type().server_streams() {
        let mut message = None;
        let mut count = 0usize;
        let trailers = loop {
            match reader.next_item().await {
                Some(Ok(StreamItem::Message(f))) => {
                    count += 1;
                    if message.replace(f).is_some() {
                        // A second message is already a violation: don't
                        // wait for (or read) the rest of the body.
                        break HeaderMap::new();
                    }
                }
                Some(Ok(StreamItem::Trailers(t))) => break t,
                Some(Err(mut e)) => {
                    *e.headers_mut() = headers;
                    return Err(e);
                }
                None => break HeaderMap::new(),
            }
        };
        return match (message, count) {
            (Some(frame), 1) => Ok(ClientResponse {
                headers,
                messages: ResponseFrames::Unary { frame, trailers },
            }),
            (_, n) => {
                let n = if n > 1 {
                    "more than one".into()
                } else {
                    n.to_string()
                };
                let mut e = ConnectError::unimplemented(format!(
                    "response has {n} messages; expected exactly one"
                ));
                *e.headers_mut() = headers;
                *e.trailers_mut() = trailers;
                Err(e)
            }
        };
    }
    let stream = futures_util::stream::unfold(reader, |mut r| async move {
        let item = r.next_item().await?;
        Some((item, r))
    });
    Ok(ClientResponse {
        headers,
        messages: ResponseFrames::Stream(Box::pin(stream)),
    })
}

/// Reads a whole body, failing with `resource_exhausted` past `limit`.
pub async fn read_bounded<R>(body: R, limit: usize) -> Result<Bytes, ConnectError>
where
    R: Body<Data = Bytes>,
    R::Error: Into<BoxError>,
{
    let mut body = std::pin::pin!(body);
    let mut first: Option<Bytes> = None;
    let mut rest: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(body_error)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let total = first.as_ref().map_or(0, Bytes::len) + rest.len() + data.len();
        if total > limit {
            return Err(ConnectError::resource_exhausted(format!(
                "response message larger than the read limit {limit}"
            )));
        }
        match &first {
            None => first = Some(data),
            Some(f) => {
                if rest.is_empty() {
                    rest.extend_from_slice(f);
                }
                rest.extend_from_slice(&data);
            }
        }
    }
    Ok(if rest.is_empty() {
        first.unwrap_or_default()
    } else {
        Bytes::from(rest)
    })
}

/// The error for a response body that failed mid-way.
pub fn body_error(e: impl Into<BoxError>) -> ConnectError {
    let e = e.into();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&*e);
    while let Some(s) = source {
        if let Some(c) = s.downcast_ref::<ConnectError>() {
            // Decoding layers below (gRPC-Web text) report a malformed
            // body as `invalid_argument`, as servers do for requests; in a
            // response it is the server's fault.
            if c.code() == Code::InvalidArgument {
                let mut e = ConnectError::internal(c.message().to_owned());
                *e.headers_mut() = c.headers().clone();
                *e.trailers_mut() = c.trailers().clone();
                return e;
            }
            return c.clone();
        }
        source = s.source();
    }
    // The whole chain: hyper's "error reading a body from connection"
    // alone does not say what broke.
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !next.is_empty() && !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    ConnectError::new(Code::Unavailable, format!("response body failed: {text}"))
}

struct EnvelopeReader<R> {
    body: Pin<Box<R>>,
    decoder: EnvelopeDecoder,
    /// The read limit, for decompressed end-of-stream messages too.
    read_max: usize,
    config: Arc<FramingConfig>,
    headers: HeaderMap,
    saw_bytes: bool,
    done: bool,
}

impl<R> EnvelopeReader<R>
where
    R: Body<Data = Bytes>,
    R::Error: Into<BoxError>,
{
    async fn next_item(&mut self) -> Option<Result<StreamItem, ConnectError>> {
        if self.done {
            return None;
        }
        let item = self.next_inner().await;
        if !matches!(item, Ok(StreamItem::Message(_))) {
            self.done = true;
        }
        Some(item)
    }

    async fn next_inner(&mut self) -> Result<StreamItem, ConnectError> {
        loop {
            if let Some(env) = self.decoder.next_envelope().map_err(response_error)? {
                let compressed = env.flags & flags::COMPRESSED != 0;
                let end_flag = match self.config.protocol {
                    Protocol::Connect => flags::CONNECT_END_STREAM,
                    Protocol::GrpcWeb => flags::GRPC_WEB_TRAILERS,
                    _ => 0,
                };
                if env.flags & !(flags::COMPRESSED | end_flag) != 0 {
                    return Err(ConnectError::internal(format!(
                        "invalid envelope flags {:#04x} in a {} response",
                        env.flags, self.config.protocol
                    )));
                }
                if env.flags & end_flag == 0 {
                    return Ok(StreamItem::Message(Frame {
                        data: env.data,
                        compressed,
                        prefixed: false,
                    }));
                }
                if !self.decoder.is_empty() {
                    return Err(ConnectError::internal(
                        "response has extra bytes after the end of the stream",
                    ));
                }
                let data = if compressed {
                    self.decompress_end(&env.data)?
                } else {
                    env.data
                };
                return match self.config.protocol {
                    Protocol::Connect => end_stream(&data),
                    _ => grpc_end(grpc_status::parse_web_trailer_block(&data)),
                };
            }
            match self.body.frame().await {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => {
                        self.saw_bytes |= !data.is_empty();
                        self.decoder.push(data);
                    }
                    Err(frame) => {
                        if let Ok(trailers) = frame.into_trailers() {
                            return self.http_trailers(trailers);
                        }
                    }
                },
                Some(Err(e)) => return Err(body_error(e)),
                None => return self.body_ended(),
            }
        }
    }

    fn decompress_end(&self, data: &[u8]) -> Result<Bytes, ConnectError> {
        let (encoding, _) = encoding_headers(self.config.protocol, StreamType::BidiStream);
        let name = metadata::find(&self.headers, &encoding)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(IDENTITY);
        if name == IDENTITY || !self.config.registry.supports(name) {
            return Err(ConnectError::internal(format!(
                "received a compressed end-of-stream message with encoding {name:?}"
            )));
        }
        self.config
            .registry
            .decompress(name, data, self.read_max)
            .map_err(response_error)
    }

    fn http_trailers(&mut self, trailers: HeaderMap) -> Result<StreamItem, ConnectError> {
        if !self.decoder.is_empty() {
            return Err(ConnectError::internal(
                "response body ended inside an envelope",
            ));
        }
        match self.config.protocol {
            Protocol::Grpc => grpc_end(trailers),
            _ => Err(ConnectError::internal(format!(
                "{} response carried HTTP trailers",
                self.config.protocol
            ))),
        }
    }

    fn body_ended(&mut self) -> Result<StreamItem, ConnectError> {
        if !self.decoder.is_empty() {
            return Err(ConnectError::internal(
                "response body ended inside an envelope",
            ));
        }
        match self.config.protocol {
            Protocol::Connect => Err(ConnectError::internal(
                "response stream ended without an end-of-stream message",
            )),
            _ if !self.saw_bytes => {
                // Trailers-only: the status travels in the headers.
                let mut trailers = std::mem::take(&mut self.headers);
                trailers.remove(http::header::CONTENT_TYPE);
                grpc_end(trailers)
            }
            _ => Err(ConnectError::internal(
                "response stream ended without trailers",
            )),
        }
    }
}

fn response_error(e: ConnectError) -> ConnectError {
    match e.code() {
        Code::ResourceExhausted => e,
        _ => ConnectError::internal(e.message().to_owned()),
    }
}

fn end_stream(data: &[u8]) -> Result<StreamItem, ConnectError> {
    let end = error_json::decode_end_stream(data).ok_or_else(|| {
        ConnectError::internal("received an end-of-stream message that is not valid JSON")
    })?;
    match end.error {
        Some(mut e) => {
            *e.trailers_mut() = end.trailers;
            Err(e)
        }
        None => Ok(StreamItem::Trailers(end.trailers)),
    }
}

fn grpc_end(mut trailers: HeaderMap) -> Result<StreamItem, ConnectError> {
    let status = grpc_status::parse_status(&trailers);
    for name in [
        grpc_status::GRPC_STATUS,
        grpc_status::GRPC_MESSAGE,
        grpc_status::GRPC_STATUS_DETAILS,
    ] {
        trailers.remove(name);
    }
    match status {
        Ok(()) => Ok(StreamItem::Trailers(trailers)),
        Err(mut e) => {
            *e.trailers_mut() = trailers;
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailer_headers_are_split_off() {
        let mut h = HeaderMap::new();
        h.insert("content-type", "application/proto".parse().unwrap());
        h.append("trailer-x-a", "1".parse().unwrap());
        h.append("trailer-x-a", "2".parse().unwrap());
        let t = take_trailer_headers(&mut h);
        assert_eq!(t.get_all("x-a").iter().count(), 2);
        assert!(h.get("trailer-x-a").is_none());
        assert!(h.get("content-type").is_some());
    }

    #[test]
    fn grpc_end_reads_status_and_keeps_metadata() {
        let mut t = HeaderMap::new();
        t.insert("grpc-status", "5".parse().unwrap());
        t.insert("grpc-message", "gone".parse().unwrap());
        t.insert("x-m", "1".parse().unwrap());
        let e = grpc_end(t).unwrap_err();
        assert_eq!(e.code(), Code::NotFound);
        assert_eq!(e.message(), "gone");
        assert_eq!(e.trailers()["x-m"], "1");
        assert!(e.trailers().get("grpc-status").is_none());
        let mut ok = HeaderMap::new();
        ok.insert("grpc-status", "0".parse().unwrap());
        assert_eq!(
            grpc_end(ok).unwrap(),
            StreamItem::Trailers(HeaderMap::new())
        );
        assert_eq!(
            grpc_end(HeaderMap::new()).unwrap_err().code(),
            Code::Unknown
        );
    }

    #[test]
    fn end_stream_parsing_is_lenient_and_bogus_json_is_internal() {
        assert!(matches!(
            end_stream(br#"{"error":null}"#),
            Ok(StreamItem::Trailers(_))
        ));
        let e = end_stream(br#"{"error":{"code":"foobar","message":"m"}}"#).unwrap_err();
        assert_eq!((e.code(), e.message()), (Code::Unknown, "m"));
        assert_eq!(end_stream(b"not json").unwrap_err().code(), Code::Internal);
    }
}
