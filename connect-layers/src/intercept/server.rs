//! The server half: an [`Intercept`] around a generated service sees each
//! [`RpcRequest`] (method, headers, extensions, messages) before the
//! handler, and the handler's answer after.
//!
//! ```
//! use connect_core::{ConnectError, Idempotency, MethodDescriptor, StreamType};
//! use connect_layers::intercept::{self, InterceptLayer};
//! use connect_layers::rpc::{RpcRequest, RpcResponse};
//! use tower::ServiceBuilder;
//!
//! // Refuse calls without a token, before any handler runs.
//! let svc = ServiceBuilder::new()
//!     .layer(InterceptLayer::new(intercept::headers(|_method, headers| {
//!         match headers.get("authorization") {
//!             Some(_) => Ok(()),
//!             None => Err(ConnectError::unauthenticated("no token")),
//!         }
//!     })))
//!     .service_fn(|_req: RpcRequest| async { Ok::<_, ConnectError>(RpcResponse::default()) });
//! // connect_server::Router::new().add_methods(&METHODS, svc)
//! # let _ = svc;
//! ```

use std::sync::Arc;
use std::task::{Context, Poll};

use buffa::Message;
use connect_core::{ConnectError, MethodDescriptor};
use http::HeaderMap;
use serde::de::DeserializeOwned;
use tower_service::Service;

use super::{Intercept, InterceptedRequest, Interceptor, ResponseFuture, report};
use crate::rpc::{RequestMessages, RpcRequest, RpcResponse};

impl InterceptedRequest for RpcRequest {
    fn method(&self) -> Option<&'static MethodDescriptor> {
        Some(self.head.method)
    }

    fn headers(&self) -> &HeaderMap {
        &self.head.headers
    }

    fn headers_mut(&mut self) -> &mut HeaderMap {
        &mut self.head.headers
    }

    fn extensions_mut(&mut self) -> &mut http::Extensions {
        &mut self.head.extensions
    }
}

/// The request message of a unary or server-streaming call, decoded (a
/// copy for the interceptor; the handler still decodes its own view).
/// `None` for calls whose messages are a stream.
///
/// ```
/// use connect_layers::RpcRequest;
/// use connect_layers::intercept::server::unary_message;
///
/// fn audit(req: &RpcRequest) {
///     if let Some(Ok(msg)) = unary_message::<buffa_types::google::protobuf::StringValue>(req) {
///         println!("{} asked for {:?}", req.head.method.path(), msg.value);
///     }
/// }
/// # let _ = audit;
/// ```
pub fn unary_message<M>(req: &RpcRequest) -> Option<Result<M, ConnectError>>
where
    M: Message + DeserializeOwned,
{
    match &req.messages {
        RequestMessages::Unary(frame) => Some(connect_codec::codec::decode_owned(
            req.head.codec,
            frame.payload(),
        )),
        RequestMessages::Stream(_) => None,
    }
}

impl<S, I> Service<RpcRequest> for Intercept<S, I>
where
    S: Service<RpcRequest, Response = RpcResponse, Error = ConnectError> + Clone + Send + 'static,
    S::Future: Send + 'static,
    I: Interceptor<RpcRequest>,
{
    type Response = RpcResponse;
    type Error = ConnectError;
    type Future = ResponseFuture<RpcResponse, ConnectError>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: RpcRequest) -> Self::Future {
        // The ready clone is the one called (tower's clone-and-swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let interceptor = Arc::clone(&self.interceptor);
        let observe = self.observe.clone();
        Box::pin(async move {
            let method = Some(req.head.method);
            let result = match interceptor.before(req).await {
                Ok(req) => inner.call(req).await,
                Err(refused) => Err(refused),
            };
            report(
                &*interceptor,
                observe.as_ref(),
                method,
                result.as_ref().map(|resp| &resp.headers),
            );
            result
        })
    }
}
