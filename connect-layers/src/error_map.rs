//! Error mapping: a [`ConnectError`] from the layers or the handler becomes
//! the protocol's error shape, so the stack's outer error type is
//! [`Infallible`].
//!
//! - Connect unary: the code's HTTP status, `application/json`, body
//!   `{"code", "message", "details"}`; trailers as `trailer-` headers.
//! - Connect streaming: `200` and an end-of-stream message with the error.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use connect_core::{Code, Codec, ConnectError, Idempotency, MethodDescriptor, Protocol, StreamType};
//! use connect_layers::body::ResponseBody;
//! use connect_layers::error_map::ErrorMapLayer;
//! use connect_layers::protocol::{Call, Negotiated};
//! use http_body_util::BodyExt;
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! static M: MethodDescriptor =
//!     MethodDescriptor::new("a.v1.S", "M", "/a.v1.S/M", StreamType::Unary, Idempotency::Unknown);
//!
//! let svc = ServiceBuilder::new()
//!     .layer(ErrorMapLayer::new())
//!     .service_fn(|_call: Call<()>| async {
//!         Err::<http::Response<ResponseBody>, _>(ConnectError::new(Code::NotFound, "no such user"))
//!     });
//! let unary = Negotiated {
//!     method: &M, protocol: Protocol::Connect, codec: Codec::Proto,
//!     enveloped: false, implicit_codec: false,
//! };
//! let resp = svc.oneshot(Call::new(unary, http::Request::new(()))).await.unwrap();
//! assert_eq!(resp.status(), 404);
//! assert_eq!(resp.headers()["content-type"], "application/json");
//! let body = resp.into_body().collect().await.unwrap().to_bytes();
//! assert_eq!(&body[..], br#"{"code":"not_found","message":"no such user"}"#);
//! # }
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use connect_codec::{error_json, grpc_status};
use connect_core::{ConnectError, Protocol, metadata};
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode, header};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::body::{ResponseBody, StreamEnd};
use crate::protocol::{Call, Negotiated};

/// Layer applying [`ErrorMap`].
#[derive(Clone, Copy, Debug, Default)]
#[must_use]
pub struct ErrorMapLayer {
    _priv: (),
}

impl ErrorMapLayer {
    /// A new error-mapping layer.
    pub const fn new() -> Self {
        ErrorMapLayer { _priv: () }
    }
}

impl<S> Layer<S> for ErrorMapLayer {
    type Service = ErrorMap<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ErrorMap { inner }
    }
}

/// Writes errors from the inner service in the negotiated protocol's shape.
#[derive(Clone, Debug)]
pub struct ErrorMap<S> {
    inner: S,
}

crate::macros::define_inner_service_accessors!(ErrorMap);

/// Copies user metadata (protocol headers filtered out) into `dst`,
/// optionally under a `trailer-` prefix.
pub(crate) fn copy_metadata(dst: &mut HeaderMap, src: &HeaderMap, trailer_prefix: bool) {
    for (name, value) in src {
        if metadata::is_protocol_header(name.as_str()) {
            continue;
        }
        if trailer_prefix {
            let prefixed = format!("trailer-{}", name.as_str());
            if let Ok(n) = HeaderName::try_from(prefixed) {
                dst.append(n, value.clone());
            }
        } else {
            dst.append(name.clone(), value.clone());
        }
    }
}

/// Layers put some protocol headers on an error on purpose: the accepted
/// encodings of an `unimplemented` compression error.
fn copy_accept_headers(dst: &mut HeaderMap, src: &HeaderMap) {
    for name in [
        "accept-encoding",
        "connect-accept-encoding",
        "grpc-accept-encoding",
    ] {
        if let Some(v) = src.get(name) {
            dst.insert(name, v.clone());
        }
    }
}

/// The response for `err` on a call negotiated as `n`.
pub fn error_response(n: Option<&Negotiated>, err: ConnectError) -> Response<ResponseBody> {
    let Some(n) = n.filter(|n| n.enveloped) else {
        return connect_unary_error(&err);
    };
    // Every enveloped protocol answers 200 with the error in its own
    // end-of-call shape.
    let mut resp = Response::new(ResponseBody::empty());
    let headers = resp.headers_mut();
    copy_metadata(headers, err.headers(), false);
    copy_accept_headers(headers, err.headers());
    headers.insert(header::CONTENT_TYPE, n.response_content_type_value());
    match n.protocol {
        // Trailers-only: one HEADERS frame carrying the status.
        Protocol::Grpc => {
            let status = grpc_status::status_trailers(Some(&err), &HeaderMap::new());
            headers.extend(status);
        }
        Protocol::GrpcWeb => {
            *resp.body_mut() =
                ResponseBody::stream_error(err, HeaderMap::new(), StreamEnd::GrpcWebTrailers);
        }
        _ => {
            *resp.body_mut() =
                ResponseBody::stream_error(err, HeaderMap::new(), StreamEnd::ConnectEndStream);
        }
    }
    resp
}

fn connect_unary_error(err: &ConnectError) -> Response<ResponseBody> {
    let mut resp = Response::new(ResponseBody::full(error_json::encode_error(err)));
    *resp.status_mut() = match err.code() {
        connect_core::Code::Ok => StatusCode::INTERNAL_SERVER_ERROR,
        c => c.http_status(),
    };
    let headers = resp.headers_mut();
    copy_metadata(headers, err.headers(), false);
    copy_metadata(headers, err.trailers(), true);
    copy_accept_headers(headers, err.headers());
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

pin_project! {
    /// Response future of [`ErrorMap`].
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        fut: F,
        negotiated: Option<Negotiated>,
    }
}

impl<F> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResponseBody>, ConnectError>>,
{
    type Output = Result<Response<ResponseBody>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match std::task::ready!(this.fut.poll(cx)) {
            Ok(resp) => Poll::Ready(Ok(resp)),
            Err(err) => Poll::Ready(Ok(error_response(this.negotiated.as_ref(), err))),
        }
    }
}

impl<S, B> Service<Call<B>> for ErrorMap<S>
where
    S: Service<Call<B>, Response = Response<ResponseBody>, Error = ConnectError>,
{
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = ResponseFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // The layers of a protocol stack are always ready; an inner service
        // that fails readiness has its error reported on the next call.
        match self.inner.poll_ready(cx) {
            Poll::Ready(_) => Poll::Ready(Ok(())),
            Poll::Pending => Poll::Pending,
        }
    }

    fn call(&mut self, req: Call<B>) -> Self::Future {
        let negotiated = Some(req.negotiated);
        ResponseFuture {
            fut: self.inner.call(req),
            negotiated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use connect_core::{Code, Codec, Idempotency, MethodDescriptor, StreamType};

    static M: MethodDescriptor = MethodDescriptor::new(
        "a.S",
        "M",
        "/a.S/M",
        StreamType::Unary,
        Idempotency::Unknown,
    );

    #[test]
    fn unary_errors_use_the_http_status_and_trailer_prefix() {
        let mut err = ConnectError::new(Code::PermissionDenied, "no");
        err.headers_mut().insert("x-h", "1".parse().unwrap());
        err.headers_mut()
            .insert("content-type", "text/evil".parse().unwrap());
        err.trailers_mut().insert("x-t", "2".parse().unwrap());
        let resp = error_response(None, err);
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        assert_eq!(resp.headers()["content-type"], "application/json");
        assert_eq!(resp.headers()["x-h"], "1");
        assert_eq!(resp.headers()["trailer-x-t"], "2");
    }

    #[test]
    fn streaming_errors_are_200_with_end_stream() {
        let n = Negotiated {
            method: &M,
            protocol: Protocol::Connect,
            codec: Codec::Json,
            enveloped: true,
            implicit_codec: false,
        };
        let resp = error_response(Some(&n), ConnectError::internal("boom"));
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["content-type"], "application/connect+json");
    }
}
