//! Routing by path to generated services, in front of the protocol stack.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use connect_codec::error_json;
use connect_core::{ConnectError, MethodDescriptor};
use connect_layers::body::ResponseBody;
use connect_layers::future::Either;
use connect_layers::handler::BoxFuture;
use connect_layers::protocol::MethodRoute;
use connect_layers::rpc::{NamedService, RpcRequest, RpcResponse};
use connect_layers::stack::{ConnectLayer, ConnectService};
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body::Body;

use crate::drain::DrainOnDrop;
use tower_layer::Layer;
use tower_service::Service;

/// A type-erased generated service, callable through a shared reference.
trait ErasedService: Send + Sync + 'static {
    fn call(&self, req: RpcRequest) -> BoxFuture<Result<RpcResponse, ConnectError>>;
}

struct Erased<S>(S);

impl<S> ErasedService for Erased<S>
where
    S: Service<RpcRequest, Response = RpcResponse, Error = ConnectError>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    fn call(&self, req: RpcRequest) -> BoxFuture<Result<RpcResponse, ConnectError>> {
        let mut svc = self.0.clone();
        Box::pin(async move {
            std::future::poll_fn(|cx| svc.poll_ready(cx)).await?;
            svc.call(req).await
        })
    }
}

type Routes = HashMap<&'static str, (&'static MethodDescriptor, Arc<dyn ErasedService>)>;

/// The innermost service of a [`Router`]'s stack: hands each
/// [`RpcRequest`] to the service registered for its method.
#[derive(Clone)]
pub struct Dispatch {
    routes: Arc<Routes>,
}

impl fmt::Debug for Dispatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatch")
            .field("methods", &self.routes.len())
            .finish()
    }
}

impl Service<RpcRequest> for Dispatch {
    type Response = RpcResponse;
    type Error = ConnectError;
    type Future = BoxFuture<Result<RpcResponse, ConnectError>>;

    #[inline]
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: RpcRequest) -> Self::Future {
        match self.routes.get(req.head.method.path()) {
            Some((_, svc)) => svc.call(req),
            None => {
                let err = connect_layers::handler::unimplemented(&req);
                Box::pin(async move { Err(err) })
            }
        }
    }
}

/// Routes requests by path (`/pkg.Service/Method`) to generated services
/// through the protocol stack.
///
/// `S` is the stack: [`ConnectService<Dispatch>`] unless you wrapped it
/// with [`map_stack`](Router::map_stack).
///
/// ```
/// use connect_server::Router;
/// use connect_layers::stack::ConnectLayer;
///
/// let router = Router::new().with_config(ConnectLayer::new().read_max_bytes(64 * 1024));
/// # let _ = router;
/// ```
///
/// Services are added with [`add_service`](Router::add_service), which
/// generated code calls from `Arc::new(impl).register(router)`.
#[derive(Clone)]
pub struct Router<S = ConnectService<Dispatch>> {
    routes: Arc<Routes>,
    config: ConnectLayer,
    stack: S,
}

impl<S> fmt::Debug for Router<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut paths: Vec<_> = self.routes.keys().collect();
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
    /// An empty router with the default Connect stack.
    pub fn new() -> Self {
        Self::with_routes(Arc::new(Routes::new()), ConnectLayer::new())
    }

    fn with_routes(routes: Arc<Routes>, config: ConnectLayer) -> Self {
        let stack = config.layer(Dispatch {
            routes: routes.clone(),
        });
        Router {
            routes,
            config,
            stack,
        }
    }

    /// Configures the protocol stack (limits, compression, deadlines).
    pub fn with_config(self, config: ConnectLayer) -> Self {
        Self::with_routes(self.routes, config)
    }

    /// Adds every method of a generated service.
    pub fn add_service<T>(self, service: T) -> Self
    where
        T: NamedService
            + Service<RpcRequest, Response = RpcResponse, Error = ConnectError>
            + Clone
            + Send
            + Sync
            + 'static,
        T::Future: Send + 'static,
    {
        self.add_methods(T::METHODS, service)
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
        let Router { routes, config, .. } = self;
        let mut routes = Arc::try_unwrap(routes).unwrap_or_else(|shared| (*shared).clone());
        let service: Arc<dyn ErasedService> = Arc::new(Erased(service));
        for method in methods {
            routes.insert(method.path(), (method, service.clone()));
        }
        Self::with_routes(Arc::new(routes), config)
    }

    /// Wraps the protocol stack in your own layers (they see HTTP requests
    /// already routed, with a [`MethodRoute`] extension). Add services
    /// first: the stack is fixed from here on.
    ///
    /// ```
    /// use connect_server::{DrainOnDrop, Router};
    /// use tower::ServiceBuilder;
    ///
    /// let router = Router::new().map_stack(|stack| {
    ///     ServiceBuilder::new()
    ///         // Runs after routing: the method is known.
    ///         .map_request(|req: http::Request<DrainOnDrop<hyper::body::Incoming>>| {
    ///             let route = req.extensions().get::<connect_layers::protocol::MethodRoute>();
    ///             assert!(route.is_some());
    ///             req
    ///         })
    ///         .service(stack)
    /// });
    /// let server = connect_server::Server::new(router);
    /// # drop(server);
    /// ```
    pub fn map_stack<F, S2>(self, f: F) -> Router<S2>
    where
        F: FnOnce(ConnectService<Dispatch>) -> S2,
    {
        Router {
            routes: self.routes,
            config: self.config,
            stack: f(self.stack),
        }
    }
}

impl<S> Router<S> {
    /// The paths this router serves, sorted.
    pub fn paths(&self) -> Vec<&'static str> {
        let mut paths: Vec<_> = self.routes.keys().copied().collect();
        paths.sort_unstable();
        paths
    }

    /// The router as a service for axum's `Router::fallback_service` (or
    /// `route_service`): Connect routes next to ordinary axum routes.
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

/// The answer for a path no service is registered for: HTTP 404, with a
/// Connect error body naming `unimplemented`.
fn not_found(path: &str) -> Response<ResponseBody> {
    let err = ConnectError::unimplemented(format!("no such method: {path}"));
    let mut resp = Response::new(ResponseBody::full(error_json::encode_error(&err)));
    *resp.status_mut() = StatusCode::NOT_FOUND;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// The stack sees the body wrapped in [`DrainOnDrop`]: on HTTP/1.1 a body
/// left unread by a call that ended early is drained in the background, so
/// the client can finish sending it and read the response.
impl<S, B> Service<Request<B>> for Router<S>
where
    S: Service<Request<DrainOnDrop<B>>, Response = Response<ResponseBody>, Error = Infallible>,
    B: Body + Send + 'static,
{
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = Either<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.stack.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        match self.routes.get(req.uri().path()) {
            Some((method, _)) => {
                let version = req.version();
                let mut req = req.map(|body| DrainOnDrop::new(version, body));
                req.extensions_mut().insert(MethodRoute(method));
                Either::inner(self.stack.call(req))
            }
            None => Either::ready(not_found(req.uri().path())),
        }
    }
}
