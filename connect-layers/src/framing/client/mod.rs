//! Client framing: request frames → HTTP body, HTTP response body →
//! frames and trailers.
//!
//! Connect unary calls send the message as the bare body and read trailers
//! from `trailer-` headers; every other call sends 5-byte envelopes. The
//! response body is decoded envelope by envelope, each length checked
//! against the read limit before its payload is buffered, and ends the way
//! the protocol ends a call: the Connect end-stream message, gRPC HTTP
//! trailers (or trailers-only headers), or the gRPC-Web trailer frame.
//!
//! A single-response call is read whole inside [`ResponseFuture`] (no
//! allocation beyond the body's own); a streamed response becomes one boxed
//! stream of [`StreamItem`](crate::rpc::StreamItem)s, its compressed
//! messages decompressed as they are read (the compression layer above
//! checks the encoding when the head arrives). Envelopes are sliced off the
//! body's chunks without a copy. A request stream's frames become envelopes
//! inside [`ClientBody`] itself.

mod future;
mod reader;

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use connect_codec::compression::CompressionRegistry;
use connect_core::{ConnectError, Protocol, StreamType};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Method, Uri};
use http_body::Body;
use tower_layer::Layer;
use tower_service::Service;

use crate::rpc::{ClientRequest, ClientResponse};
use crate::rpc::{Frame, RequestMessages};
use crate::{BoxError, ClientBody};

pub use self::future::ResponseFuture;
pub(crate) use self::future::{Head, SingleRead, on_head};
pub use self::reader::{body_error, read_bounded};

/// The id the next [`FramingConfig`] gets.
static NEXT_CONFIG_ID: AtomicU64 = AtomicU64::new(0);

/// Layer applying [`Framing`].
#[derive(Clone, Debug)]
#[must_use]
pub struct FramingLayer {
    config: Arc<FramingConfig>,
}

#[derive(Debug)]
pub(crate) struct FramingConfig {
    /// Unique among the configs of this process (the URI cache's key).
    id: u64,
    protocol: Protocol,
    scheme: Option<Scheme>,
    authority: Option<Authority>,
    /// A path prefix before the method's path (`/api` of
    /// `https://host/api`), without its trailing slash; often empty.
    prefix: String,
    registry: CompressionRegistry,
}

impl FramingLayer {
    /// Framing for `protocol`, sending to `base_uri` (scheme, authority
    /// and an optional path prefix; the method's path is appended).
    /// `registry` decompresses compressed end-of-stream messages.
    pub fn new(protocol: Protocol, base_uri: &Uri, registry: CompressionRegistry) -> Self {
        FramingLayer {
            config: Arc::new(FramingConfig {
                id: NEXT_CONFIG_ID.fetch_add(1, Ordering::Relaxed),
                protocol,
                scheme: base_uri.scheme().cloned(),
                authority: base_uri.authority().cloned(),
                prefix: base_uri.path().trim_end_matches('/').to_owned(),
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
    pub(crate) config: Arc<FramingConfig>,
}

crate::macros::define_inner_service_accessors!(Framing);

impl<S, R> Service<ClientRequest> for Framing<S>
where
    S: Service<http::Request<ClientBody>, Response = http::Response<R>, Error = ConnectError>,
    R: Body<Data = Bytes> + Send + 'static,
    R::Error: Into<BoxError>,
{
    type Response = ClientResponse;
    type Error = ConnectError;
    type Future = ResponseFuture<S::Future, R>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ConnectError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: ClientRequest) -> Self::Future {
        let method = req.method;
        let read_max = req.settings.read_max_bytes;
        match build_request(&self.config, req) {
            Ok(http) => ResponseFuture::new(
                self.inner.call(http),
                Arc::clone(&self.config),
                method,
                read_max,
            ),
            Err(e) => ResponseFuture::failed(e),
        }
    }
}

/// The URI of `path` on `config`'s server: the last one built on this
/// thread when it is the same (a client calling one method over and over
/// parses its path once), else built anew.
fn request_uri(config: &FramingConfig, path: &'static str) -> Result<Uri, ConnectError> {
    thread_local! {
        static LAST: RefCell<Option<(u64, &'static str, Uri)>> = const { RefCell::new(None) };
    }
    let cached = LAST.with_borrow(|last| match last {
        Some((id, p, uri)) if *id == config.id && std::ptr::eq(*p, path) => Some(uri.clone()),
        _ => None,
    });
    if let Some(uri) = cached {
        return Ok(uri);
    }
    let uri = build_uri(config, path)?;
    LAST.set(Some((config.id, path, uri.clone())));
    Ok(uri)
}

fn build_uri(config: &FramingConfig, path: &'static str) -> Result<Uri, ConnectError> {
    let path_and_query = if config.prefix.is_empty() {
        PathAndQuery::from_static(path)
    } else {
        PathAndQuery::try_from(format!("{}{path}", config.prefix))
            .map_err(|e| ConnectError::internal(format!("invalid request path: {e}")))?
    };
    let mut parts = http::uri::Parts::default();
    parts.scheme = config.scheme.clone();
    parts.authority = config.authority.clone();
    parts.path_and_query = Some(path_and_query);
    Uri::from_parts(parts).map_err(|e| ConnectError::internal(format!("invalid request URI: {e}")))
}

pub(crate) fn build_request(
    config: &FramingConfig,
    req: ClientRequest,
) -> Result<http::Request<ClientBody>, ConnectError> {
    let uri = request_uri(config, req.method.path())?;
    let bare =
        config.protocol == Protocol::Connect && req.method.stream_type() == StreamType::Unary;
    let limit = req.settings.send_max_bytes;
    let body = match req.messages {
        RequestMessages::Unary(frame) => {
            check_send_limit(&frame, limit)?;
            if bare {
                ClientBody::full(frame.into_payload())
            } else {
                ClientBody::full(frame.into_envelope(0))
            }
        }
        RequestMessages::Stream(frames) => ClientBody::frames(frames, limit),
    }
    .with_method(req.method);
    let mut http = http::Request::new(body);
    *http.method_mut() = Method::POST;
    *http.uri_mut() = uri;
    *http.headers_mut() = req.headers;
    *http.extensions_mut() = req.extensions;
    Ok(http)
}

pub(crate) fn check_send_limit(frame: &Frame, limit: usize) -> Result<(), ConnectError> {
    let len = frame.payload().len();
    if len > limit {
        return Err(ConnectError::resource_exhausted(format!(
            "request message size {len} exceeds the send limit {limit}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod uri_tests {
    use super::*;

    #[test]
    fn request_uris_keep_the_base_prefix() {
        let config = |base: &'static str| FramingConfig {
            id: NEXT_CONFIG_ID.fetch_add(1, Ordering::Relaxed),
            protocol: Protocol::Connect,
            scheme: Uri::from_static(base).scheme().cloned(),
            authority: Uri::from_static(base).authority().cloned(),
            prefix: Uri::from_static(base)
                .path()
                .trim_end_matches('/')
                .to_owned(),
            registry: CompressionRegistry::empty(),
        };
        let uri = request_uri(&config("http://h:1"), "/a.S/M").unwrap();
        assert_eq!(uri, "http://h:1/a.S/M");
        let uri = request_uri(&config("https://h/api/"), "/a.S/M").unwrap();
        assert_eq!(uri, "https://h/api/a.S/M");
    }

    #[test]
    fn the_uri_cache_answers_each_config_and_path_with_its_own() {
        const PATH: &str = "/a.S/M";
        const OTHER: &str = "/a.S/N";
        let config = |base: &'static str| FramingConfig {
            id: NEXT_CONFIG_ID.fetch_add(1, Ordering::Relaxed),
            protocol: Protocol::Grpc,
            scheme: Uri::from_static(base).scheme().cloned(),
            authority: Uri::from_static(base).authority().cloned(),
            prefix: String::new(),
            registry: CompressionRegistry::empty(),
        };
        let (a, b) = (config("http://a:1"), config("http://b:2"));
        for _ in 0..2 {
            assert_eq!(request_uri(&a, PATH).unwrap(), "http://a:1/a.S/M");
            assert_eq!(request_uri(&a, PATH).unwrap(), "http://a:1/a.S/M");
            assert_eq!(request_uri(&b, PATH).unwrap(), "http://b:2/a.S/M");
            assert_eq!(request_uri(&b, OTHER).unwrap(), "http://b:2/a.S/N");
            assert_eq!(request_uri(&a, OTHER).unwrap(), "http://a:1/a.S/N");
        }
    }
}
