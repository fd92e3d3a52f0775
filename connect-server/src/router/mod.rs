//! Routing by path to generated services, in front of the protocol stack.

mod dispatch;
mod future;
mod table;

use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use connect_core::{ConnectError, MethodDescriptor, Protocol};
use connect_layers::body::server::ResponseBody;
use connect_layers::errors::server::unrouted_response;
use connect_layers::protocol::content_type;
use connect_layers::rpc::{NamedService, RpcRequest, RpcResponse, RpcService};
use connect_layers::stack::server::{
    ConnectLayer, ConnectService, GrpcLayer, GrpcService, GrpcWebLayer, GrpcWebService, StackConfig,
};
use http::{HeaderValue, Request, Response, header};
use http_body::Body;
use tower_layer::Layer;
use tower_service::Service;

pub use self::dispatch::Dispatch;
use self::dispatch::{Erased, ErasedService, Shared};
use self::future::Inner;
pub use self::future::ResponseFuture;
use self::table::{RouteTable, Routes};

use crate::drain::DrainOnDrop;
use crate::stack_call::StackCall;

/// Routes requests by path (`/pkg.Service/Method`) to generated services,
/// through the protocol stack the request's content type asks for:
/// Connect, gRPC or gRPC-Web, all on one port.
///
/// `C`, `G` and `W` are the three stacks: [`ConnectService`],
/// [`GrpcService`] and [`GrpcWebService`] around [`Dispatch`], unless you
/// wrapped them ([`layer_stacks`](Router::layer_stacks),
/// [`map_connect`](Router::map_connect), ...).
///
/// ```
/// use connect_server::Router;
/// use connect_layers::stack::server::ConnectLayer;
///
/// let router = Router::new().with_config(ConnectLayer::new().read_max_bytes(64 * 1024));
/// # let _ = router;
/// ```
///
/// Services are added with [`add_service`](Router::add_service), which
/// generated code calls from `Arc::new(impl).register(router)`.
pub struct Router<
    C = ConnectService<Dispatch>,
    G = GrpcService<Dispatch>,
    W = GrpcWebService<Dispatch>,
> {
    // One `Arc`: a router is cloned for every request (hyper's and axum's
    // adapters do), so cloning it must not clone three stacks' worth of
    // shared state; each call clones only the stack it uses.
    shared: Arc<Stacks<C, G, W>>,
}

#[derive(Clone)]
struct Stacks<C, G, W> {
    routes: Arc<Routes>,
    config: StackConfig,
    body_timeouts: BodyTimeouts,
    connect: C,
    grpc: G,
    grpc_web: W,
}

impl<C, G, W> Clone for Router<C, G, W> {
    fn clone(&self) -> Self {
        Router {
            shared: self.shared.clone(),
        }
    }
}

/// The default limit on how long a unary or server-streaming call's
/// request body may stall ([`Router::request_body_timeout`]).
pub const DEFAULT_REQUEST_BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a request body may deliver nothing while its call waits.
#[derive(Clone, Copy, Debug)]
struct BodyTimeouts {
    /// Bodies of one message: unary and server-streaming calls.
    single: Option<Duration>,
    /// Client- and bidi-streaming calls.
    stream: Option<Duration>,
}

impl Default for BodyTimeouts {
    fn default() -> Self {
        BodyTimeouts {
            single: Some(DEFAULT_REQUEST_BODY_TIMEOUT),
            stream: None,
        }
    }
}

impl<C: Clone, G: Clone, W: Clone> Router<C, G, W> {
    /// How long the request body of a unary or server-streaming call may
    /// go without delivering data while the call waits for it (default
    /// [`DEFAULT_REQUEST_BODY_TIMEOUT`], 30 s; `None`: no limit). A client
    /// that stalls longer gets `deadline_exceeded`, and an HTTP/1.1
    /// connection is closed after the answer instead of kept alive.
    ///
    /// ```
    /// use std::time::Duration;
    /// use connect_server::Router;
    ///
    /// let router = Router::new().request_body_timeout(Some(Duration::from_secs(5)));
    /// # let _ = router;
    /// ```
    pub fn request_body_timeout(self, limit: Option<Duration>) -> Self {
        let mut s = self.into_stacks();
        s.body_timeouts.single = limit;
        Router::from_stacks(s)
    }

    /// The same limit for client- and bidi-streaming calls, between
    /// messages (default `None`: a stream may stay quiet as long as its
    /// deadline allows; set one if your streams should never idle).
    ///
    /// ```
    /// use std::time::Duration;
    /// use connect_server::Router;
    ///
    /// let router = Router::new().stream_body_timeout(Some(Duration::from_secs(300)));
    /// # let _ = router;
    /// ```
    pub fn stream_body_timeout(self, limit: Option<Duration>) -> Self {
        let mut s = self.into_stacks();
        s.body_timeouts.stream = limit;
        Router::from_stacks(s)
    }

    /// The stacks, owned: unwrapped if this router is their only owner,
    /// else cloned.
    fn into_stacks(self) -> Stacks<C, G, W> {
        Arc::try_unwrap(self.shared).unwrap_or_else(|shared| (*shared).clone())
    }
}

impl<C, G, W> Router<C, G, W> {
    fn from_stacks(stacks: Stacks<C, G, W>) -> Self {
        Router {
            shared: Arc::new(stacks),
        }
    }
}

impl<C, G, W> fmt::Debug for Router<C, G, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut paths: Vec<_> = self.shared.routes.paths().collect();
        paths.sort();
        f.debug_struct("Router").field("paths", &paths).finish()
    }
}

impl Default for Router {
    fn default() -> Self {
        Router::new()
    }
}

impl Router {
    /// An empty router with the default stacks.
    pub fn new() -> Self {
        Self::with_routes(
            Arc::new(Routes::default()),
            StackConfig::new(),
            BodyTimeouts::default(),
        )
    }

    fn with_routes(routes: Arc<Routes>, config: StackConfig, body_timeouts: BodyTimeouts) -> Self {
        let dispatch = Dispatch {
            routes: routes.clone(),
        };
        // Negotiation looks methods up in our table: no per-request
        // extension to allocate.
        let stacks = config
            .clone()
            .method_table(Arc::new(RouteTable(routes.clone())));
        Router::from_stacks(Stacks {
            connect: ConnectLayer::from_config(stacks.clone()).layer(dispatch.clone()),
            grpc: GrpcLayer::from_config(stacks.clone()).layer(dispatch.clone()),
            grpc_web: GrpcWebLayer::from_config(stacks).layer(dispatch),
            routes,
            config,
            body_timeouts,
        })
    }

    /// Configures every protocol stack (limits, compression, deadlines):
    /// pass a [`StackConfig`] or any of the stack layers.
    pub fn with_config(self, config: impl Into<StackConfig>) -> Self {
        Self::with_routes(
            self.shared.routes.clone(),
            config.into(),
            self.shared.body_timeouts,
        )
    }
    /// Adds every method of a generated service. The one instance serves
    /// every call through a shared reference ([`RpcService`]); to put your
    /// own tower layers around a generated service, use
    /// [`add_methods`](Router::add_methods).
    pub fn add_service<T>(self, service: T) -> Self
    where
        T: NamedService + RpcService,
    {
        self.add_erased(T::METHODS, Arc::new(Shared(service)))
    }

    /// Adds `methods`, all served by `service`: use it to register a
    /// generated service wrapped in your own layers.
    ///
    /// ```
    /// # use connect_server::Router;
    /// # use connect_core::{ConnectError, Idempotency, MethodDescriptor, StreamType};
    /// # use connect_layers::rpc::{RpcRequest, RpcResponse};
    /// use tower::ServiceBuilder;
    ///
    /// static METHODS: [MethodDescriptor; 1] = [MethodDescriptor::new(
    ///     "a.v1.S", "M", "/a.v1.S/M", StreamType::Unary, Idempotency::Unknown,
    /// )];
    /// let svc = ServiceBuilder::new()
    ///     .map_request(|req: RpcRequest| req) // your layer here
    ///     .service_fn(|_req: RpcRequest| async { Ok::<_, ConnectError>(RpcResponse::default()) });
    /// let router = Router::new().add_methods(&METHODS, svc);
    /// # let _ = router;
    /// ```
    pub fn add_methods<T>(self, methods: &'static [MethodDescriptor], service: T) -> Self
    where
        T: Service<RpcRequest, Response = RpcResponse, Error = ConnectError>
            + Clone
            + Send
            + Sync
            + 'static,
        T::Future: Send + 'static,
    {
        self.add_erased(methods, Arc::new(Erased(service)))
    }

    fn add_erased(
        self,
        methods: &'static [MethodDescriptor],
        service: Arc<dyn ErasedService>,
    ) -> Self {
        let Stacks {
            routes,
            config,
            body_timeouts,
            ..
        } = self.into_stacks();
        let mut routes = Arc::try_unwrap(routes).unwrap_or_else(|shared| (*shared).clone());
        for method in methods {
            routes.insert(method, service.clone());
        }
        Self::with_routes(Arc::new(routes), config, body_timeouts)
    }

    /// Wraps all three protocol stacks in `layer` (which must apply to
    /// each). Its services see HTTP requests for known paths, before
    /// negotiation. Add services first: the stacks are fixed from here on.
    ///
    /// Each call runs on a fresh clone of the stack it needs, and waits for
    /// that clone's readiness ([`StackCall`]); the router's own
    /// `poll_ready` is always ready. So a back-pressure layer here (a
    /// concurrency or rate limit) queues calls; to reject instead of
    /// queueing, put a load-shedding layer here too, around the limit.
    ///
    /// ```
    /// use connect_server::{DrainOnDrop, Router};
    /// use tower::util::MapRequestLayer;
    ///
    /// // Runs for known paths only, before the protocol stack.
    /// fn check(req: http::Request<DrainOnDrop<hyper::body::Incoming>>)
    ///     -> http::Request<DrainOnDrop<hyper::body::Incoming>>
    /// {
    ///     assert!(req.uri().path().starts_with('/'));
    ///     req
    /// }
    /// let router = Router::new().layer_stacks(MapRequestLayer::new(check));
    /// let server = connect_server::Server::new(router);
    /// # drop(server);
    /// ```
    #[allow(clippy::type_complexity)] // the three wrapped stack types
    pub fn layer_stacks<L>(
        self,
        layer: L,
    ) -> Router<
        <L as Layer<ConnectService<Dispatch>>>::Service,
        <L as Layer<GrpcService<Dispatch>>>::Service,
        <L as Layer<GrpcWebService<Dispatch>>>::Service,
    >
    where
        L: Layer<ConnectService<Dispatch>>
            + Layer<GrpcService<Dispatch>>
            + Layer<GrpcWebService<Dispatch>>,
    {
        let s = self.into_stacks();
        Router::from_stacks(Stacks {
            connect: Layer::<ConnectService<Dispatch>>::layer(&layer, s.connect),
            grpc: Layer::<GrpcService<Dispatch>>::layer(&layer, s.grpc),
            grpc_web: Layer::<GrpcWebService<Dispatch>>::layer(&layer, s.grpc_web),
            routes: s.routes,
            config: s.config,
            body_timeouts: s.body_timeouts,
        })
    }
}

impl<C: Clone, G: Clone, W: Clone> Router<C, G, W> {
    /// Wraps the Connect stack only (see [`layer_stacks`](Router::layer_stacks)).
    pub fn map_connect<F, C2>(self, f: F) -> Router<C2, G, W>
    where
        F: FnOnce(C) -> C2,
    {
        let s = self.into_stacks();
        Router::from_stacks(Stacks {
            connect: f(s.connect),
            grpc: s.grpc,
            grpc_web: s.grpc_web,
            routes: s.routes,
            config: s.config,
            body_timeouts: s.body_timeouts,
        })
    }

    /// Wraps the gRPC stack only.
    pub fn map_grpc<F, G2>(self, f: F) -> Router<C, G2, W>
    where
        F: FnOnce(G) -> G2,
    {
        let s = self.into_stacks();
        Router::from_stacks(Stacks {
            connect: s.connect,
            grpc: f(s.grpc),
            grpc_web: s.grpc_web,
            routes: s.routes,
            config: s.config,
            body_timeouts: s.body_timeouts,
        })
    }

    /// Wraps the gRPC-Web stack only.
    pub fn map_grpc_web<F, W2>(self, f: F) -> Router<C, G, W2>
    where
        F: FnOnce(W) -> W2,
    {
        let s = self.into_stacks();
        Router::from_stacks(Stacks {
            connect: s.connect,
            grpc: s.grpc,
            grpc_web: f(s.grpc_web),
            routes: s.routes,
            config: s.config,
            body_timeouts: s.body_timeouts,
        })
    }
}

impl<C, G, W> Router<C, G, W> {
    /// The settings the stacks were built with.
    pub fn config(&self) -> &StackConfig {
        &self.shared.config
    }

    /// The paths this router serves, sorted.
    pub fn paths(&self) -> Vec<&'static str> {
        let mut paths: Vec<_> = self.shared.routes.paths().collect();
        paths.sort_unstable();
        paths
    }

    /// The router as a service for axum's `Router::fallback_service` (or
    /// `route_service`): RPC routes next to ordinary axum routes.
    ///
    /// ```
    /// let connect = connect_server::Router::new();
    /// let app: axum::Router = axum::Router::new()
    ///     .route("/health", axum::routing::get(|| async { "ok" }))
    ///     .fallback_service(connect.into_axum_service());
    /// # let _ = app;
    /// ```
    #[cfg(feature = "axum")]
    pub fn into_axum_service(self) -> Self {
        self
    }
}

/// Which protocol a request speaks, from its content type alone (the one
/// table: [`content_type::detect`]).
pub fn detect_protocol(content_type: Option<&HeaderValue>) -> Protocol {
    content_type::detect(content_type.map(HeaderValue::as_bytes))
}

/// The stack sees the body wrapped in [`DrainOnDrop`]: a body left unread
/// by a call that ended early is drained in the background (bounded), so
/// the client can finish sending it and read the response, and an HTTP/2
/// stream ends as the client ends it rather than reset under it.
impl<C, G, W, B> Service<Request<B>> for Router<C, G, W>
where
    C: Service<Request<DrainOnDrop<B>>, Response = Response<ResponseBody>, Error = Infallible>
        + Clone,
    G: Service<Request<DrainOnDrop<B>>, Response = Response<ResponseBody>, Error = Infallible>
        + Clone,
    W: Service<Request<DrainOnDrop<B>>, Response = Response<ResponseBody>, Error = Infallible>
        + Clone,
    B: Body + Send + Unpin + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = ResponseFuture<
        StackCall<C, Request<DrainOnDrop<B>>>,
        StackCall<G, Request<DrainOnDrop<B>>>,
        StackCall<W, Request<DrainOnDrop<B>>>,
    >;

    /// Always ready: each call clones the stack it needs and waits for that
    /// clone's readiness itself ([`StackCall`]).
    #[inline]
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let shared = &*self.shared;
        let protocol = detect_protocol(connect_core::metadata::find(
            req.headers(),
            &header::CONTENT_TYPE,
        ));
        let version = req.version();
        // The one lookup of this request's path (see `table`).
        let route = shared.routes.get(req.uri().path());
        let stall_limit = route.and_then(|&(method, _)| {
            table::handoff(&shared.routes, method);
            if method.stream_type().client_streams() {
                shared.body_timeouts.stream
            } else {
                shared.body_timeouts.single
            }
        });
        let (parts, body) = req.into_parts();
        let (body, drain) = DrainOnDrop::tracked(version, body, stall_limit);
        if route.is_none() {
            drop(body); // drained in the background on HTTP/1.x
            let err = ConnectError::unimplemented(format!("no such method: {}", parts.uri.path()));
            let resp = unrouted_response(parts.headers.get(header::CONTENT_TYPE), err);
            return ResponseFuture::ready(resp, drain);
        }
        let req = Request::from_parts(parts, body);
        let inner = match protocol {
            Protocol::Grpc => Inner::Grpc {
                fut: StackCall::new(&shared.grpc, req),
            },
            Protocol::GrpcWeb => Inner::GrpcWeb {
                fut: StackCall::new(&shared.grpc_web, req),
            },
            _ => Inner::Connect {
                fut: StackCall::new(&shared.connect, req),
            },
        };
        ResponseFuture { inner, drain }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_detection_by_content_type() {
        let d = |ct: &'static str| detect_protocol(Some(&HeaderValue::from_static(ct)));
        assert_eq!(d("application/grpc"), Protocol::Grpc);
        assert_eq!(d("application/grpc+json"), Protocol::Grpc);
        assert_eq!(d("application/grpc; charset=x"), Protocol::Grpc);
        assert_eq!(d("Application/GRPC-Web"), Protocol::GrpcWeb);
        assert_eq!(d("application/grpc-web-text+proto"), Protocol::GrpcWeb);
        assert_eq!(d("application/grpcx"), Protocol::Connect);
        assert_eq!(d("application/proto"), Protocol::Connect);
        assert_eq!(detect_protocol(None), Protocol::Connect);
    }
}
