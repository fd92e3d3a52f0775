//! Interceptors: async code that runs around every call with the method in
//! hand — auth-token refresh, logging, metrics, per-method policies — as
//! ordinary tower layers, on both sides.
//!
//! An [`Interceptor`] sees each request before it goes on (and may change
//! its headers and extensions, or refuse the call with a `ConnectError`),
//! and each outcome after. [`InterceptLayer`] makes it a layer:
//!
//! - on the server, around a generated service, where it sees
//!   [`RpcRequest`](crate::RpcRequest)s — the method descriptor, the
//!   headers, and for unary calls the message (decoded on demand with
//!   [`server::unary_message`]);
//! - on the client, around a channel, where it sees each
//!   `http::Request<ClientBody>`, with the method descriptor named by its
//!   body (read with [`method_of`]) and for unary calls the message
//!   ([`client::unary_message`]). An interceptor that replaces the body
//!   names the method on the new one
//!   ([`ClientBody::with_method`](crate::ClientBody::with_method)).
//!
//! The common cases need no trait impl: [`headers`] (add or check headers,
//! synchronously), [`from_fn`] (any async function of the request) and
//! [`Observe`]/`on_result` (look at each outcome).
//!
//! ```
//! use connect_layers::intercept::{self, InterceptLayer};
//! use http::HeaderValue;
//!
//! // Every call gets the current token; side-effect-free methods a tag.
//! let layer = InterceptLayer::new(intercept::headers(|method, headers| {
//!     headers.insert("authorization", HeaderValue::from_static("Bearer t0k3n"));
//!     if method.idempotency() == connect_core::Idempotency::NoSideEffects {
//!         headers.insert("x-cacheable", HeaderValue::from_static("1"));
//!     }
//!     Ok(())
//! }))
//! .on_result(|method, outcome| {
//!     let code = outcome.err().map(|e| e.code());
//!     println!("{} -> {:?}", method.path(), code);
//! });
//! # let _ = layer;
//! ```

pub mod client;
pub mod server;

use std::future::Future;
use std::sync::Arc;

use connect_core::{ConnectError, MethodDescriptor};
use http::HeaderMap;
use tower_layer::Layer;

use crate::BoxFuture;
pub use crate::protocol::MethodRoute;

/// A request an interceptor can read and change: what both sides'
/// requests have in common.
pub trait InterceptedRequest: Send + 'static {
    /// The method being called (`None` only for a client request that did
    /// not come through a generated client or a router).
    fn method(&self) -> Option<&'static MethodDescriptor>;
    /// The request headers (the caller's metadata and the protocol's).
    fn headers(&self) -> &HeaderMap;
    /// The request headers, to change.
    fn headers_mut(&mut self) -> &mut HeaderMap;
    /// The request extensions (for what later layers or the handler read).
    fn extensions_mut(&mut self) -> &mut http::Extensions;
}

/// The method of a client request: the one its
/// [`ClientBody`](crate::ClientBody) names (every request a generated
/// client or [`ClientStack`](crate::ClientStack) sends names one), or else
/// its [`MethodRoute`] extension (for requests built by hand, of any body
/// type).
///
/// ```
/// use connect_core::{Idempotency, MethodDescriptor, StreamType};
/// use connect_layers::ClientBody;
/// use connect_layers::intercept::{MethodRoute, method_of};
///
/// static M: MethodDescriptor =
///     MethodDescriptor::new("a.v1.S", "M", "/a.v1.S/M", StreamType::Unary, Idempotency::Unknown);
/// let req = http::Request::new(ClientBody::empty().with_method(&M));
/// assert_eq!(method_of(&req).unwrap().path(), "/a.v1.S/M");
///
/// let mut req = http::Request::new(());
/// req.extensions_mut().insert(MethodRoute(&M));
/// assert_eq!(method_of(&req).unwrap().path(), "/a.v1.S/M");
/// assert!(method_of(&http::Request::new(())).is_none());
/// ```
pub fn method_of<B: 'static>(req: &http::Request<B>) -> Option<&'static MethodDescriptor> {
    let body = req.body() as &dyn std::any::Any;
    body.downcast_ref::<crate::ClientBody>()
        .and_then(crate::ClientBody::method)
        .or_else(|| req.extensions().get::<MethodRoute>().map(|route| route.0))
}

/// Async code run before each call goes on, and after it is answered.
///
/// `before` takes the request and gives it back (changed or not), or
/// refuses the call with an error that becomes its answer. `after` sees
/// the outcome: the response headers, or the error.
pub trait Interceptor<R: InterceptedRequest>: Send + Sync + 'static {
    /// Runs before the call; the default lets it through unchanged.
    fn before(&self, req: R) -> impl Future<Output = Result<R, ConnectError>> + Send {
        std::future::ready(Ok(req))
    }

    /// Runs when the call is answered (for a streaming call: when its
    /// response headers arrive); the default does nothing.
    fn after(
        &self,
        method: Option<&'static MethodDescriptor>,
        outcome: Result<&HeaderMap, &ConnectError>,
    ) {
        let _ = (method, outcome);
    }
}

/// An interceptor from a synchronous function of the method and the
/// headers: see [`headers`].
#[derive(Clone, Debug)]
pub struct Headers<F>(F);

/// Adds or checks headers on every call: `f` gets the method and the
/// request headers, and an `Err` refuses the call.
pub fn headers<F>(f: F) -> Headers<F>
where
    F: Fn(&'static MethodDescriptor, &mut HeaderMap) -> Result<(), ConnectError>
        + Send
        + Sync
        + 'static,
{
    Headers(f)
}

impl<R, F> Interceptor<R> for Headers<F>
where
    R: InterceptedRequest,
    F: Fn(&'static MethodDescriptor, &mut HeaderMap) -> Result<(), ConnectError>
        + Send
        + Sync
        + 'static,
{
    fn before(&self, mut req: R) -> impl Future<Output = Result<R, ConnectError>> + Send {
        let outcome = match req.method() {
            Some(method) => (self.0)(method, req.headers_mut()).map(|()| req),
            None => Ok(req),
        };
        std::future::ready(outcome)
    }
}

/// An interceptor from an async function of the request: see [`from_fn`].
#[derive(Clone, Debug)]
pub struct FromFn<F>(F);

/// Runs `f` before every call: it gets the request, may await (a token
/// refresh, a policy lookup), and returns the request to send on or the
/// error to answer with.
///
/// ```
/// use connect_layers::RpcRequest;
/// use connect_layers::intercept::{self, InterceptLayer};
///
/// let layer = InterceptLayer::new(intercept::from_fn(|mut req: RpcRequest| async move {
///     let token = "fresh"; // e.g. `refresher.token().await`
///     req.head.extensions.insert(token);
///     Ok::<_, connect_core::ConnectError>(req)
/// }));
/// # let _ = layer;
/// ```
pub fn from_fn<F>(f: F) -> FromFn<F> {
    FromFn(f)
}

impl<R, F, Fut> Interceptor<R> for FromFn<F>
where
    R: InterceptedRequest,
    F: Fn(R) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, ConnectError>> + Send,
{
    fn before(&self, req: R) -> impl Future<Output = Result<R, ConnectError>> + Send {
        (self.0)(req)
    }
}

/// A function of each call's outcome, as [`InterceptLayer::on_result`]
/// installs it.
pub type Observe = Arc<
    dyn Fn(&'static MethodDescriptor, Result<&HeaderMap, &ConnectError>) + Send + Sync + 'static,
>;

/// Makes an [`Interceptor`] a tower layer, on either side (see the module
/// docs).
pub struct InterceptLayer<I> {
    interceptor: Arc<I>,
    observe: Option<Observe>,
}

impl<I> Clone for InterceptLayer<I> {
    fn clone(&self) -> Self {
        InterceptLayer {
            interceptor: Arc::clone(&self.interceptor),
            observe: self.observe.clone(),
        }
    }
}

impl<I> std::fmt::Debug for InterceptLayer<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InterceptLayer")
            .field("on_result", &self.observe.is_some())
            .finish_non_exhaustive()
    }
}

/// No interceptor: for a layer that only observes results.
#[derive(Clone, Copy, Debug, Default)]
pub struct Nothing;

impl<R: InterceptedRequest> Interceptor<R> for Nothing {}

impl InterceptLayer<Nothing> {
    /// A layer that only looks at each outcome.
    ///
    /// ```
    /// use connect_layers::intercept::InterceptLayer;
    ///
    /// let metrics = InterceptLayer::observe(|method, outcome| {
    ///     let ok = outcome.is_ok();
    ///     let _ = (method.path(), ok); // count it
    /// });
    /// # let _ = metrics;
    /// ```
    pub fn observe<F>(f: F) -> Self
    where
        F: Fn(&'static MethodDescriptor, Result<&HeaderMap, &ConnectError>) + Send + Sync + 'static,
    {
        InterceptLayer::new(Nothing).on_result(f)
    }
}

impl<I> InterceptLayer<I> {
    /// A layer running `interceptor` around every call.
    pub fn new(interceptor: I) -> Self {
        InterceptLayer {
            interceptor: Arc::new(interceptor),
            observe: None,
        }
    }

    /// Also runs `f` on each call's outcome (after the interceptor's own
    /// `after`).
    pub fn on_result<F>(mut self, f: F) -> Self
    where
        F: Fn(&'static MethodDescriptor, Result<&HeaderMap, &ConnectError>) + Send + Sync + 'static,
    {
        self.observe = Some(Arc::new(f));
        self
    }
}

impl<S, I> Layer<S> for InterceptLayer<I> {
    type Service = Intercept<S, I>;

    fn layer(&self, inner: S) -> Self::Service {
        Intercept {
            inner,
            interceptor: Arc::clone(&self.interceptor),
            observe: self.observe.clone(),
        }
    }
}

/// The service of an [`InterceptLayer`]: a generated service (server) or a
/// channel (client) with an interceptor around it.
pub struct Intercept<S, I> {
    inner: S,
    interceptor: Arc<I>,
    observe: Option<Observe>,
}

impl<S: Clone, I> Clone for Intercept<S, I> {
    fn clone(&self) -> Self {
        Intercept {
            inner: self.inner.clone(),
            interceptor: Arc::clone(&self.interceptor),
            observe: self.observe.clone(),
        }
    }
}

impl<S: std::fmt::Debug, I> std::fmt::Debug for Intercept<S, I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Intercept")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

/// Reports `outcome` to the interceptor and the observer.
fn report<R: InterceptedRequest, I: Interceptor<R>>(
    interceptor: &I,
    observe: Option<&Observe>,
    method: Option<&'static MethodDescriptor>,
    outcome: Result<&HeaderMap, &ConnectError>,
) {
    interceptor.after(method, outcome);
    if let (Some(observe), Some(method)) = (observe, method) {
        observe(method, outcome);
    }
}

/// The future of an intercepted call: boxed, because the interceptor's
/// own future cannot be named (an interceptor is opt-in; a call without one
/// pays nothing).
pub type ResponseFuture<T, E> = BoxFuture<Result<T, E>>;

#[cfg(test)]
mod tests;
