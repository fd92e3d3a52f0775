//! The client half of compression: compress request frames with the
//! call's send encoding, advertise the encodings the client accepts, check
//! the encoding the server named, and decompress a single response (within
//! the read limit) with it, with the rules of [`super`]. A streamed
//! response's messages are decompressed by framing's reader as it reads
//! them (with [`super::decompress`] and the same rules), so a stream is
//! not wrapped in a second boxed stream here.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use connect_codec::compression::{CompressionRegistry, IDENTITY};
use connect_core::{Code, ConnectError, Protocol, StreamType, metadata};
use futures_util::StreamExt as _;
use http::{HeaderMap, HeaderName, HeaderValue};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::{accept_value, compress};
use crate::protocol::encoding_headers;
use crate::rpc::client::{ClientRequest, ClientResponse, ResponseFrames};
use crate::rpc::{Frame, RequestMessages};

/// Layer applying [`Compression`].
#[derive(Clone, Debug)]
#[must_use]
pub struct CompressionLayer {
    config: Arc<Config>,
}

#[derive(Debug)]
pub(crate) struct Config {
    protocol: Protocol,
    registry: CompressionRegistry,
    accept: Option<HeaderValue>,
}

impl CompressionLayer {
    /// Compression for `protocol` with the encodings of `registry`.
    pub fn new(protocol: Protocol, registry: CompressionRegistry) -> Self {
        let accept = accept_value(&registry);
        CompressionLayer {
            config: Arc::new(Config {
                protocol,
                registry,
                accept,
            }),
        }
    }
}

impl<S> Layer<S> for CompressionLayer {
    type Service = Compression<S>;

    fn layer(&self, inner: S) -> Compression<S> {
        Compression {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

/// Compresses requests and decompresses responses.
#[derive(Clone, Debug)]
pub struct Compression<S> {
    inner: S,
    pub(crate) config: Arc<Config>,
}

crate::macros::define_inner_service_accessors!(Compression);

impl<S> Service<ClientRequest> for Compression<S>
where
    S: Service<ClientRequest, Response = ClientResponse, Error = ConnectError>,
{
    type Response = ClientResponse;
    type Error = ConnectError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ConnectError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: ClientRequest) -> Self::Future {
        let (encoding, _) = encoding_headers(self.config.protocol, req.method.stream_type());
        let read_max = req.settings.read_max_bytes;
        if let Err(e) = prepare(&self.config, &mut req) {
            return ResponseFuture {
                inner: None,
                early: Some(e),
                config: None,
                encoding,
                read_max,
            };
        }
        ResponseFuture {
            inner: Some(self.inner.call(req)),
            early: None,
            config: Some(Arc::clone(&self.config)),
            encoding,
            read_max,
        }
    }
}

/// Advertises the encodings the client accepts and compresses `req`'s
/// messages with its send encoding (failing when the registry lacks it).
pub(crate) fn prepare(config: &Config, req: &mut ClientRequest) -> Result<(), ConnectError> {
    write_accept(config, req.method.stream_type(), &mut req.headers);
    compress_messages(config, req)
}

/// Names the encodings the client accepts in a `stream_type` call's
/// request headers.
pub(crate) fn write_accept(config: &Config, stream_type: StreamType, headers: &mut HeaderMap) {
    if let Some(value) = &config.accept {
        let (_, accept) = encoding_headers(config.protocol, stream_type);
        headers.insert(accept, value.clone());
    }
}

/// Compresses `req`'s messages with its send encoding, if it has one
/// (failing when the registry lacks it): [`prepare`] but for the accept
/// header.
pub(crate) fn compress_messages(
    config: &Config,
    req: &mut ClientRequest,
) -> Result<(), ConnectError> {
    match req.settings.send_compression.filter(|n| *n != IDENTITY) {
        Some(name) => {
            let (encoding, _) = encoding_headers(config.protocol, req.method.stream_type());
            compress_request(config, req, name, encoding)
        }
        None => Ok(()),
    }
}

fn compress_request(
    config: &Config,
    req: &mut ClientRequest,
    name: &'static str,
    encoding: HeaderName,
) -> Result<(), ConnectError> {
    let registry = &config.registry;
    if !registry.supports(name) {
        return Err(ConnectError::internal(format!(
            "send compression {name:?} is not in the client's registry"
        )));
    }
    req.headers.insert(encoding, HeaderValue::from_static(name));
    let min = req.settings.compress_min_bytes;
    let messages = std::mem::replace(&mut req.messages, RequestMessages::Unary(Frame::default()));
    req.messages = match messages {
        RequestMessages::Unary(frame) => {
            RequestMessages::Unary(compress(registry, name, frame, min)?)
        }
        RequestMessages::Stream(s) => {
            let registry = registry.clone();
            RequestMessages::Stream(Box::pin(s.map(move |f| compress(&registry, name, f?, min))))
        }
    };
    Ok(())
}

/// Checks the encoding the answer names (`encoding` is the protocol's
/// header for it) and decompresses a single answer within `read_max`;
/// a streamed answer passes (framing's reader decompresses its messages).
pub(crate) fn finish(
    config: &Config,
    encoding: &HeaderName,
    read_max: usize,
    mut resp: ClientResponse,
) -> Result<ClientResponse, ConnectError> {
    let name = match response_encoding(&config.registry, &resp.headers, encoding) {
        Ok(name) => name,
        Err(mut e) => {
            *e.headers_mut() = resp.headers;
            return Err(e);
        }
    };
    // Framing's reader decompresses streamed messages as it reads them,
    // with the encoding checked above: no wrapper per stream. An answer
    // that is not compressed is left where it is (not moved out and back).
    if let ResponseFrames::Unary { frame, trailers } = &mut resp.messages
        && frame.compressed
    {
        match decompress(&config.registry, name, read_max, std::mem::take(frame)) {
            Ok(plain) => *frame = plain,
            Err(mut e) => {
                *e.trailers_mut() = std::mem::take(trailers);
                *e.headers_mut() = resp.headers;
                return Err(e);
            }
        }
    }
    Ok(resp)
}

pin_project! {
    /// The response future of [`Compression`]: decompresses what the inner
    /// call answers.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: Option<F>,
        early: Option<ConnectError>,
        config: Option<Arc<Config>>,
        encoding: HeaderName,
        read_max: usize,
    }
}

impl<F> Future for ResponseFuture<F>
where
    F: Future<Output = Result<ClientResponse, ConnectError>>,
{
    type Output = Result<ClientResponse, ConnectError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(inner) = this.inner.as_pin_mut() else {
            return Poll::Ready(Err(this
                .early
                .take()
                .unwrap_or_else(|| ConnectError::internal("polled after completion"))));
        };
        let resp = std::task::ready!(inner.poll(cx))?;
        let Some(config) = this.config.take() else {
            return Poll::Ready(Err(ConnectError::internal("polled after completion")));
        };
        Poll::Ready(finish(&config, this.encoding, *this.read_max, resp))
    }
}

/// The response's encoding: `None` for identity, an error for one the
/// client does not support.
fn response_encoding(
    registry: &CompressionRegistry,
    headers: &HeaderMap,
    encoding: &HeaderName,
) -> Result<Option<&'static str>, ConnectError> {
    let Some(value) = metadata::find(headers, encoding) else {
        return Ok(None);
    };
    let name = value.to_str().unwrap_or("").trim();
    if name.is_empty() || name == IDENTITY {
        return Ok(None);
    }
    match registry.get(name) {
        Some(p) => Ok(Some(p.name())),
        None => Err(ConnectError::internal(format!(
            "response uses unsupported compression {name:?}; the client accepts {}",
            if registry.accept_encoding().is_empty() {
                IDENTITY
            } else {
                registry.accept_encoding()
            }
        ))),
    }
}

/// [`decompress`](super::decompress), with a response that fails to
/// decode blamed on the server (`internal`), not on the caller.
fn decompress(
    registry: &CompressionRegistry,
    name: Option<&'static str>,
    limit: usize,
    frame: Frame,
) -> Result<Frame, ConnectError> {
    super::decompress(registry, name, frame, limit).map_err(|e| match e.code() {
        Code::ResourceExhausted | Code::Internal => e,
        _ => ConnectError::internal(e.message().to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn unknown_response_encoding_is_internal() {
        let registry = CompressionRegistry::new();
        let mut h = HeaderMap::new();
        h.insert("grpc-encoding", "foo".parse().unwrap());
        let name = HeaderName::from_static("grpc-encoding");
        let e = response_encoding(&registry, &h, &name).unwrap_err();
        assert_eq!(e.code(), connect_core::Code::Internal);
        h.insert("grpc-encoding", "identity".parse().unwrap());
        assert_eq!(response_encoding(&registry, &h, &name).unwrap(), None);
    }

    #[test]
    fn compressed_frame_without_encoding_is_internal_and_plain_frames_pass() {
        let registry = CompressionRegistry::new();
        let f = Frame {
            data: Bytes::from_static(b"xx"),
            compressed: true,
            prefixed: false,
        };
        let e = decompress(&registry, None, 10, f).unwrap_err();
        assert_eq!(e.code(), connect_core::Code::Internal);
        // Uncompressed messages were bounded by framing already.
        let big = Frame::new(Bytes::from(vec![0u8; 11]));
        assert_eq!(decompress(&registry, None, 10, big.clone()).unwrap(), big);
    }

    #[cfg(feature = "gzip")]
    #[test]
    fn round_trip_and_bomb_is_resource_exhausted() {
        let registry = CompressionRegistry::new();
        let f = compress(
            &registry,
            "gzip",
            Frame::new(Bytes::from(vec![7u8; 100_000])),
            0,
        )
        .unwrap();
        assert!(f.compressed && f.data.len() < 1000);
        let e = decompress(&registry, Some("gzip"), 1000, f.clone()).unwrap_err();
        assert_eq!(e.code(), connect_core::Code::ResourceExhausted);
        let back = decompress(&registry, Some("gzip"), 100_000, f).unwrap();
        assert_eq!(back.data.len(), 100_000);
    }
}
