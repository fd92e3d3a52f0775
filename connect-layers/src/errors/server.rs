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
//! use connect_layers::body::server::ResponseBody;
//! use connect_layers::errors::server::ErrorMapLayer;
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
use connect_core::{Codec, ConnectError, Protocol, StreamType};
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::body::server::{ResponseBody, StreamEnd};
use crate::framing::copy_metadata;
use crate::protocol::content_type::{self, Family};
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
    match n.filter(|n| n.enveloped) {
        Some(n) => enveloped_error(n.protocol, n.response_content_type_value(), err),
        None => connect_unary_error(&err),
    }
}

/// The answer for a request that reached no method (an unknown path), in
/// the shape of the protocol its content type names: Connect's JSON error
/// with HTTP 404; for gRPC and gRPC-Web the same end-of-call shape
/// [`error_response`] writes (trailers-only; the trailer frame, in base64
/// for text mode), in the request's codec, so a `+json` client reads the
/// status rather than a codec mismatch.
///
/// ```
/// use connect_core::ConnectError;
/// use connect_layers::errors::server::unrouted_response;
///
/// let ct = http::HeaderValue::from_static("application/grpc+json");
/// let resp = unrouted_response(Some(&ct), ConnectError::unimplemented("no such method"));
/// assert_eq!(resp.status(), 200);
/// assert_eq!(resp.headers()["content-type"], "application/grpc+json");
/// assert_eq!(resp.headers()["grpc-status"], "12");
/// let resp = unrouted_response(None, ConnectError::unimplemented("no such method"));
/// assert_eq!(resp.status(), 404);
/// ```
pub fn unrouted_response(
    content_type: Option<&HeaderValue>,
    err: ConnectError,
) -> Response<ResponseBody> {
    let bytes = content_type.map(HeaderValue::as_bytes);
    let protocol = content_type::detect(bytes);
    if protocol == Protocol::Connect {
        let mut resp = connect_unary_error(&err);
        *resp.status_mut() = StatusCode::NOT_FOUND;
        return resp;
    }
    let parsed = bytes.and_then(content_type::parse);
    let codec = parsed.and_then(|ct| ct.codec()).unwrap_or(Codec::Proto);
    let implicit = parsed.is_none_or(|ct| ct.implicit_codec);
    let text = parsed.is_some_and(|ct| ct.family == Family::GrpcWebText);
    let written = if text {
        content_type::request(protocol, codec, StreamType::Unary, true)
    } else {
        content_type::RESPONSE[content_type::response_index(protocol, true, codec, implicit)]
    };
    let resp = enveloped_error(protocol, HeaderValue::from_static(written), err);
    if text {
        resp.map(ResponseBody::into_base64)
    } else {
        resp
    }
}

/// The 200 answer of an enveloped protocol carrying `err` in its own
/// end-of-call shape.
fn enveloped_error(
    protocol: Protocol,
    content_type: HeaderValue,
    err: ConnectError,
) -> Response<ResponseBody> {
    let mut resp = Response::new(ResponseBody::empty());
    let headers = resp.headers_mut();
    copy_metadata(headers, err.headers(), false);
    copy_accept_headers(headers, err.headers());
    headers.insert(header::CONTENT_TYPE, content_type);
    match protocol {
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
