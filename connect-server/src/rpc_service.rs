//! [`ConnectRpcService`] and [`Limits`]: a router as a tower service under
//! the names the original `connectrpc` crate gives them.
//!
//! A [`Router`] is already a `tower::Service<http::Request<B>>`, so this is
//! a thin wrapper: it exists so that code written against the original
//! crate (`ConnectRpcService::new(router).with_limits(…)`) compiles
//! unchanged, and it costs nothing per request (each call is the router's).

use std::convert::Infallible;
use std::task::{Context, Poll};

use connect_codec::compression::CompressionRegistry;
use connect_layers::body::server::ResponseBody;
use http::{Request, Response};
use tower_service::Service;

use crate::router::Router;

/// The default of [`Limits::max_request_body_size`] and
/// [`Limits::max_message_size`]: 4 MiB, as tonic and grpc-go.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 4 * 1024 * 1024;

/// Bounds on what one request may make the server hold, in the original
/// `connectrpc` crate's shape, for [`ConnectRpcService::with_limits`].
///
/// This crate's stacks have one receive limit
/// ([`StackConfig::read_max_bytes`](connect_layers::stack::server::StackConfig::read_max_bytes)):
/// it bounds each request message both as read off the wire and after
/// decompression. `with_limits` sets it to the smaller of
/// [`max_message_size`](Self::max_message_size) and
/// [`max_request_body_size`](Self::max_request_body_size), so neither bound
/// is ever exceeded; with the usual setting (body limit at least the
/// message limit) that is exactly `max_message_size`.
///
/// ```
/// use connect_server::Limits;
///
/// let limits = Limits::default().max_message_size(64 * 1024);
/// assert_eq!(limits.read_max_bytes(), 64 * 1024);
/// let limits = limits.max_request_body_size(1024);
/// assert_eq!(limits.read_max_bytes(), 1024);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The largest request body read for a unary or server-streaming call,
    /// before decompression (default 4 MiB).
    pub max_request_body_size: usize,
    /// The largest request message, after decompression (default 4 MiB).
    pub max_message_size: usize,
    /// Accepted for source compatibility only: message decoding here
    /// always applies buffa's own element-memory budget (its default), and
    /// this value does not change it.
    pub element_memory_limit: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request_body_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            element_memory_limit: 32 * 1024 * 1024,
        }
    }
}

impl Limits {
    /// No size limits at all. Only for peers you trust: any client can
    /// then make the server buffer as much as it sends.
    pub fn unlimited() -> Self {
        Limits {
            max_request_body_size: usize::MAX,
            max_message_size: usize::MAX,
            element_memory_limit: usize::MAX,
        }
    }

    /// Sets [`max_request_body_size`](Self::max_request_body_size).
    #[must_use]
    pub fn max_request_body_size(mut self, bytes: usize) -> Self {
        self.max_request_body_size = bytes;
        self
    }

    /// Sets [`max_message_size`](Self::max_message_size).
    #[must_use]
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Sets [`element_memory_limit`](Self::element_memory_limit) (kept,
    /// not applied: see the field).
    #[must_use]
    pub fn element_memory_limit(mut self, bytes: usize) -> Self {
        self.element_memory_limit = bytes;
        self
    }

    /// The stacks' receive limit these limits map to: the smaller of the
    /// body and message limits.
    pub fn read_max_bytes(&self) -> usize {
        self.max_message_size.min(self.max_request_body_size)
    }
}

/// A [`Router`] as a `tower::Service<http::Request<B>>`, under the original
/// `connectrpc` crate's name: serve it with hyper, axum, [`Server`](crate::Server)
/// or any tower HTTP stack.
///
/// ```
/// use connect_server::{ConnectRpcService, Limits, Router};
///
/// let router = Router::new(); // .add_service(...) for each service
/// let service = ConnectRpcService::new(router)
///     .with_limits(Limits::default().max_message_size(1 << 20));
/// assert!(service.router().paths().is_empty());
/// ```
#[derive(Clone, Debug)]
pub struct ConnectRpcService<R = Router> {
    router: R,
}

impl<R> ConnectRpcService<R> {
    /// The service answering with `router`.
    pub fn new(router: R) -> Self {
        ConnectRpcService { router }
    }

    /// The router inside.
    pub fn router(&self) -> &R {
        &self.router
    }

    /// The router inside, taken.
    pub fn into_router(self) -> R {
        self.router
    }
}

impl ConnectRpcService {
    /// Applies `limits` to every protocol stack (see [`Limits`] for how
    /// they map onto the receive limit); the rest of the router's
    /// configuration stays.
    pub fn with_limits(self, limits: Limits) -> Self {
        let config = self
            .router
            .config()
            .clone()
            .read_max_bytes(limits.read_max_bytes());
        ConnectRpcService::new(self.router.with_config(config))
    }

    /// Offers the encodings of `registry` (gzip and zstd by default).
    pub fn with_compression(self, registry: CompressionRegistry) -> Self {
        let config = self.router.config().clone().compression(registry);
        ConnectRpcService::new(self.router.with_config(config))
    }
}

impl<R, B> Service<Request<B>> for ConnectRpcService<R>
where
    R: Service<Request<B>, Response = Response<ResponseBody>, Error = Infallible>,
{
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = R::Future;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.router.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, req: Request<B>) -> R::Future {
        self.router.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_map_to_the_smaller_bound() {
        assert_eq!(Limits::default().read_max_bytes(), DEFAULT_MAX_MESSAGE_SIZE);
        assert_eq!(Limits::unlimited().read_max_bytes(), usize::MAX);
        let l = Limits::default()
            .max_message_size(10)
            .max_request_body_size(20)
            .element_memory_limit(5);
        assert_eq!(l.read_max_bytes(), 10);
        assert_eq!(l.element_memory_limit, 5);
        assert_eq!(l.max_request_body_size(3).read_max_bytes(), 3);
    }

    #[tokio::test]
    async fn unknown_paths_are_answered_by_the_router() {
        let mut svc = ConnectRpcService::new(Router::new())
            .with_limits(Limits::default())
            .with_compression(CompressionRegistry::empty());
        let req = Request::post("/nope.v1.Nope/Nope")
            .header("content-type", "application/proto")
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap();
        std::future::poll_fn(|cx| {
            Service::<Request<http_body_util::Empty<bytes::Bytes>>>::poll_ready(&mut svc, cx)
        })
        .await
        .unwrap();
        let resp = svc.call(req).await.unwrap();
        assert_eq!(resp.status(), http::StatusCode::NOT_FOUND);
        assert!(svc.into_router().paths().is_empty());
    }
}
