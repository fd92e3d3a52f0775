//! The innermost service of a router's stacks: each [`RpcRequest`] goes
//! to the service registered for its method, through a shared reference.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll};

use connect_core::ConnectError;
use connect_layers::BoxFuture;
use connect_layers::rpc::{RpcRequest, RpcResponse, RpcService};
use tower_service::Service;

use super::table::Routes;

/// A type-erased generated service, callable through a shared reference.
pub(super) trait ErasedService: Send + Sync + 'static {
    fn call(&self, req: RpcRequest) -> BoxFuture<Result<RpcResponse, ConnectError>>;
}

pub(super) struct Erased<S>(pub(super) S);

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
        // Generated servers (and most services) are always ready: check once
        // without a real waker, and only if that says "not yet" fall back to
        // a future that waits for readiness properly.
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match svc.poll_ready(&mut cx) {
            Poll::Ready(Ok(())) => into_box_future(svc.call(req)),
            Poll::Ready(Err(e)) => Box::pin(std::future::ready(Err(e))),
            Poll::Pending => Box::pin(async move {
                std::future::poll_fn(|cx| svc.poll_ready(cx)).await?;
                svc.call(req).await
            }),
        }
    }
}

/// A generated service, called through a shared reference.
pub(super) struct Shared<S>(pub(super) S);

impl<S: RpcService> ErasedService for Shared<S> {
    #[inline]
    fn call(&self, req: RpcRequest) -> BoxFuture<Result<RpcResponse, ConnectError>> {
        self.0.call_rpc(req)
    }
}

/// Boxes `fut`, unless it already is the boxed future we return (as
/// generated servers' futures are): one allocation per call, not two.
fn into_box_future<F>(fut: F) -> BoxFuture<Result<RpcResponse, ConnectError>>
where
    F: Future<Output = Result<RpcResponse, ConnectError>> + Send + 'static,
{
    let mut slot = Some(fut);
    if let Some(boxed) = (&mut slot as &mut dyn std::any::Any)
        .downcast_mut::<Option<BoxFuture<Result<RpcResponse, ConnectError>>>>()
    {
        return boxed.take().expect("just filled");
    }
    Box::pin(slot.expect("not taken"))
}

/// The innermost service of a [`Router`](super::Router)'s stack: hands each
/// [`RpcRequest`] to the service registered for its method.
#[derive(Clone)]
pub struct Dispatch {
    pub(super) routes: Arc<Routes>,
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
        match self.routes.service(req.head.method) {
            Some(svc) => svc.call(req),
            None => {
                let err = connect_layers::handler::unimplemented(&req);
                Box::pin(async move { Err(err) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxed_futures_are_not_boxed_again() {
        let boxed: BoxFuture<Result<RpcResponse, ConnectError>> =
            Box::pin(async { Ok(RpcResponse::default()) });
        let before = &*boxed as *const _ as *const ();
        let after = into_box_future(boxed);
        assert_eq!(before, &*after as *const _ as *const ());
        // Any other future is boxed once, and still runs.
        let mut fut = into_box_future(async { Ok(RpcResponse::default()) });
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(matches!(fut.as_mut().poll(&mut cx), Poll::Ready(Ok(_))));
    }
}
