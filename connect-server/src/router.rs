//! Routing by path to generated services.

use std::collections::HashMap;
use std::sync::Arc;

use connect_core::{ConnectError, MethodDescriptor};
use connect_layers::handler::BoxFuture;
use connect_layers::rpc::{NamedService, RpcRequest, RpcResponse};
use tower_service::Service;

/// A type-erased generated service, callable through a shared reference.
pub(crate) trait ErasedService: Send + Sync + 'static {
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

/// One routing table entry.
#[derive(Clone)]
pub(crate) struct Route {
    pub(crate) method: &'static MethodDescriptor,
    pub(crate) service: Arc<dyn ErasedService>,
}

/// Routes requests by path (`/pkg.Service/Method`) to generated services.
#[derive(Clone, Default)]
pub struct Router {
    pub(crate) routes: HashMap<&'static str, Route>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("paths", &self.routes.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Router {
    /// An empty router.
    pub fn new() -> Self {
        Router::default()
    }

    /// Adds every method of a generated service (or of a service wrapped in
    /// your own layers, as long as it still names its methods).
    pub fn add_service<S>(self, service: S) -> Self
    where
        S: NamedService
            + Service<RpcRequest, Response = RpcResponse, Error = ConnectError>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.add_methods(S::METHODS, service)
    }

    /// Adds `methods`, all served by `service`.
    pub fn add_methods<S>(mut self, methods: &'static [MethodDescriptor], service: S) -> Self
    where
        S: Service<RpcRequest, Response = RpcResponse, Error = ConnectError>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        let service: Arc<dyn ErasedService> = Arc::new(Erased(service));
        for method in methods {
            self.routes.insert(
                method.path(),
                Route {
                    method,
                    service: service.clone(),
                },
            );
        }
        self
    }
}
