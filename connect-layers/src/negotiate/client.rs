//! Client negotiation: the headers that name the protocol and codec of a
//! call — `content-type`, `connect-protocol-version`, `te: trailers` for
//! gRPC, `user-agent` (and `x-user-agent` for gRPC-Web) — written once per
//! request from the stack's protocol and codec and the method's stream
//! type.

use std::task::{Context, Poll};

use connect_core::metadata::names;
use connect_core::{Codec, Protocol, StreamType};
use http::header::{CONTENT_TYPE, TE, USER_AGENT};
use http::{HeaderName, HeaderValue};
use tower_layer::Layer;
use tower_service::Service;

use crate::intercept::method_of;
use crate::protocol::content_type;

/// The `user-agent` sent unless the caller sets one.
pub const DEFAULT_USER_AGENT: &str = concat!("connectrpc-rust/", env!("CARGO_PKG_VERSION"));

const X_USER_AGENT: HeaderName = HeaderName::from_static("x-user-agent");

/// Layer applying [`Negotiate`].
#[derive(Clone, Debug)]
#[must_use]
pub struct NegotiateLayer {
    protocol: Protocol,
    codec: Codec,
    web_text: bool,
}

impl NegotiateLayer {
    /// Negotiation headers for `protocol` and `codec`; `web_text` selects
    /// gRPC-Web's base64 text mode.
    pub fn new(protocol: Protocol, codec: Codec, web_text: bool) -> Self {
        NegotiateLayer {
            protocol,
            codec,
            web_text,
        }
    }
}

impl<S> Layer<S> for NegotiateLayer {
    type Service = Negotiate<S>;

    fn layer(&self, inner: S) -> Negotiate<S> {
        Negotiate {
            inner,
            protocol: self.protocol,
            codec: self.codec,
            web_text: self.web_text,
        }
    }
}

/// Writes the negotiation headers of each request.
#[derive(Clone, Debug)]
pub struct Negotiate<S> {
    inner: S,
    protocol: Protocol,
    codec: Codec,
    web_text: bool,
}

crate::macros::define_inner_service_accessors!(Negotiate);

impl<S, B: 'static> Service<http::Request<B>> for Negotiate<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> S::Future {
        let stream_type = method_of(&req).map_or(StreamType::Unary, |m| m.stream_type());
        write_headers(
            self.protocol,
            self.codec,
            self.web_text,
            stream_type,
            req.headers_mut(),
        );
        self.inner.call(req)
    }
}

/// Writes the headers that name `protocol` and `codec` for a call of
/// `stream_type`: content type, protocol version or `te`, user agent.
pub(crate) fn write_headers(
    protocol: Protocol,
    codec: Codec,
    web_text: bool,
    stream_type: StreamType,
    headers: &mut http::HeaderMap,
) {
    let ct = content_type::request(protocol, codec, stream_type, web_text);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(ct));
    // One lookup each: a caller's own user agent stays.
    headers
        .entry(USER_AGENT)
        .or_insert(HeaderValue::from_static(DEFAULT_USER_AGENT));
    match protocol {
        Protocol::Connect => {
            headers.insert(
                names::CONNECT_PROTOCOL_VERSION,
                HeaderValue::from_static("1"),
            );
        }
        Protocol::Grpc => {
            headers.insert(TE, HeaderValue::from_static("trailers"));
        }
        _ => {
            headers
                .entry(X_USER_AGENT)
                .or_insert(HeaderValue::from_static(DEFAULT_USER_AGENT));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use connect_core::{Idempotency, MethodDescriptor};

    use crate::protocol::MethodRoute;

    static BIDI: MethodDescriptor = MethodDescriptor::new(
        "a.S",
        "B",
        "/a.S/B",
        StreamType::BidiStream,
        Idempotency::Unknown,
    );

    fn sent(protocol: Protocol, codec: Codec) -> http::HeaderMap {
        let mut seen = None;
        let mut svc = NegotiateLayer::new(protocol, codec, false).layer(tower_service_fn(
            |req: http::Request<()>| req.headers().clone(),
        ));
        let mut req = http::Request::new(());
        req.extensions_mut().insert(MethodRoute(&BIDI));
        if let Ok(h) = svc.call(req).into_inner() {
            seen = Some(h);
        }
        seen.unwrap()
    }

    fn tower_service_fn<F>(f: F) -> Fn_<F> {
        Fn_(f)
    }
    struct Fn_<F>(F);
    impl<F: FnMut(http::Request<()>) -> http::HeaderMap> Service<http::Request<()>> for Fn_<F> {
        type Response = http::HeaderMap;
        type Error = ();
        type Future = std::future::Ready<Result<http::HeaderMap, ()>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), ()>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, req: http::Request<()>) -> Self::Future {
            std::future::ready(Ok((self.0)(req)))
        }
    }

    #[test]
    fn headers_per_protocol() {
        let c = sent(Protocol::Connect, Codec::Json);
        assert_eq!(c["content-type"], "application/connect+json");
        assert_eq!(c["connect-protocol-version"], "1");
        assert!(
            c["user-agent"]
                .to_str()
                .unwrap()
                .starts_with("connectrpc-rust/")
        );
        let g = sent(Protocol::Grpc, Codec::Proto);
        assert_eq!(g["content-type"], "application/grpc");
        assert_eq!(g["te"], "trailers");
        assert!(g.get("connect-protocol-version").is_none());
        let w = sent(Protocol::GrpcWeb, Codec::Proto);
        assert_eq!(w["content-type"], "application/grpc-web+proto");
        assert!(w.get("te").is_none());
        assert!(w.get("x-user-agent").is_some());
    }
}
