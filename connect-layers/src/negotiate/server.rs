//! Content negotiation: the request's method and `content-type` (or, for
//! Connect GET, its `encoding` query parameter) decide the protocol and
//! codec; anything else is refused with plain HTTP (405, 415) before any
//! RPC machinery runs.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use std::convert::Infallible;
//! use connect_core::{Codec, Idempotency, MethodDescriptor, StreamType};
//! use connect_layers::body::server::ResponseBody;
//! use connect_layers::negotiate::server::NegotiateLayer;
//! use connect_layers::protocol::{Call, MethodRoute};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! static SAY: MethodDescriptor =
//!     MethodDescriptor::new("a.v1.S", "Say", "/a.v1.S/Say", StreamType::Unary, Idempotency::Unknown);
//!
//! let svc = ServiceBuilder::new()
//!     .layer(NegotiateLayer::new())
//!     .service_fn(|call: Call<()>| async move {
//!         let n = call.negotiated;
//!         assert_eq!(n.codec, Codec::Json);
//!         Ok::<_, Infallible>(http::Response::new(ResponseBody::empty()))
//!     });
//!
//! let mut req = http::Request::post("/a.v1.S/Say")
//!     .header("content-type", "application/json; charset=utf-8")
//!     .body(())
//!     .unwrap();
//! req.extensions_mut().insert(MethodRoute(&SAY)); // a router does this
//! assert_eq!(svc.clone().oneshot(req).await.unwrap().status(), 200);
//!
//! let mut req = http::Request::post("/a.v1.S/Say")
//!     .header("content-type", "text/xml")
//!     .body(())
//!     .unwrap();
//! req.extensions_mut().insert(MethodRoute(&SAY));
//! assert_eq!(svc.oneshot(req).await.unwrap().status(), 415);
//! # }
//! ```

use std::convert::Infallible;
use std::task::{Context, Poll};

use connect_core::metadata::find;
use connect_core::{Codec, ConnectError, Protocol, StreamType};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use tower_layer::Layer;
use tower_service::Service;

use crate::body::server::ResponseBody;
use crate::errors::server::unrouted_response;
use crate::protocol::content_type::{self, Family};
use crate::protocol::{Call, MethodRoute, MethodTable, Negotiated, Table};

/// Layer applying [`Negotiate`].
#[derive(Clone, Debug)]
#[must_use]
pub struct NegotiateLayer {
    protocol: Protocol,
    table: Option<Table>,
}

impl Default for NegotiateLayer {
    fn default() -> Self {
        NegotiateLayer::new()
    }
}

impl NegotiateLayer {
    /// Negotiation for the Connect protocol.
    pub const fn new() -> Self {
        NegotiateLayer {
            protocol: Protocol::Connect,
            table: None,
        }
    }

    /// Negotiation for `protocol` (its content types, methods and HTTP
    /// versions).
    pub const fn for_protocol(protocol: Protocol) -> Self {
        NegotiateLayer {
            protocol,
            table: None,
        }
    }

    /// Finds each request's method in `table` (by path) instead of in a
    /// [`MethodRoute`] extension.
    pub fn with_table(mut self, table: std::sync::Arc<dyn MethodTable>) -> Self {
        self.table = Some(Table(table));
        self
    }
}

impl<S> Layer<S> for NegotiateLayer {
    type Service = Negotiate<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Negotiate {
            inner,
            protocol: self.protocol,
            table: self.table.clone(),
        }
    }
}

/// Decides protocol and codec, inserting [`Negotiated`] into the request's
/// extensions, or answers 405/415 itself.
///
/// It needs the [`MethodRoute`] a router inserts; without one the request
/// is answered as a router answers an unknown path
/// ([`unrouted_response`]: 404 for Connect, `unimplemented` for gRPC and
/// gRPC-Web).
#[derive(Clone, Debug)]
pub struct Negotiate<S> {
    inner: S,
    protocol: Protocol,
    table: Option<Table>,
}

crate::macros::define_inner_service_accessors!(Negotiate);

/// Parses a Connect content type: `application/<codec>` (unary) or
/// `application/connect+<codec>` (streaming). Returns the codec and whether
/// the body is enveloped.
pub fn parse_connect_content_type(value: &[u8]) -> Option<(Codec, bool)> {
    // The exact spellings clients send, without parsing.
    match value {
        b"application/proto" => return Some((Codec::Proto, false)),
        b"application/json" => return Some((Codec::Json, false)),
        b"application/connect+proto" => return Some((Codec::Proto, true)),
        b"application/connect+json" => return Some((Codec::Json, true)),
        _ => {}
    }
    let ct = content_type::parse(value)?;
    let enveloped = match ct.family {
        Family::ConnectUnary => false,
        Family::ConnectStream => true,
        _ => return None,
    };
    let codec = ct.codec()?;
    for p in ct
        .params
        .split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let (k, v) = p.split_once('=')?;
        let v = v.trim().trim_matches('"');
        let ok = k.trim().eq_ignore_ascii_case("charset")
            && codec == Codec::Json
            && (v.eq_ignore_ascii_case("utf-8") || v.eq_ignore_ascii_case("utf8"));
        if !ok {
            return None;
        }
    }
    Some((codec, enveloped))
}

/// The `encoding` query parameter of a GET request, if present.
fn get_encoding(query: Option<&str>) -> Option<&str> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == crate::get::QUERY_ENCODING)
        .map(|(_, v)| v)
}

fn plain(status: StatusCode) -> Response<ResponseBody> {
    let mut resp = Response::new(ResponseBody::empty());
    *resp.status_mut() = status;
    resp
}

/// A refusal with a one-line explanation for whoever reads it (curl, a
/// log): HTTP/2 clients then see the stream carry data to its end rather
/// than a lone HEADERS frame, as from any web server's error page.
fn explained(status: StatusCode, text: &'static str) -> Response<ResponseBody> {
    let mut resp = Response::new(ResponseBody::full(bytes::Bytes::from_static(
        text.as_bytes(),
    )));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

fn unsupported_media_type(accept: &'static str) -> Response<ResponseBody> {
    let mut resp = explained(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported content type for this method: see the accept-post header\n",
    );
    resp.headers_mut()
        .insert("accept-post", HeaderValue::from_static(accept));
    resp
}

fn http2_required() -> Response<ResponseBody> {
    let mut resp = plain(StatusCode::HTTP_VERSION_NOT_SUPPORTED);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    h.insert(
        "grpc-status",
        HeaderValue::from(connect_core::Code::Unimplemented.grpc_number()),
    );
    h.insert(
        "grpc-message",
        HeaderValue::from_static("gRPC requires HTTP/2: use gRPC-Web or Connect over HTTP/1.1"),
    );
    h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

fn method_not_allowed(allow_get: bool) -> Response<ResponseBody> {
    let mut resp = explained(
        StatusCode::METHOD_NOT_ALLOWED,
        "HTTP method not allowed for this RPC method: see the allow header\n",
    );
    let allow = if allow_get { "GET, POST" } else { "POST" };
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    resp
}

/// Why a request was refused before any RPC machinery ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// 415: no protocol accepts the content type (or a GET has a body).
    UnsupportedMediaType {
        /// The content types that would have been accepted (`Accept-Post`).
        accept: &'static str,
    },
    /// 505: gRPC over HTTP/1.x. gRPC is defined on HTTP/2 only; the answer
    /// also carries `grpc-status: 12` for gRPC-aware clients.
    Http2Required,
    /// 405: the HTTP method is not allowed for this RPC method.
    MethodNotAllowed {
        /// Whether GET is allowed (decides the `Allow` list).
        allow_get: bool,
    },
}

impl Rejection {
    /// The plain HTTP response for this rejection.
    pub fn into_response(self) -> Response<ResponseBody> {
        match self {
            Rejection::UnsupportedMediaType { accept } => unsupported_media_type(accept),
            Rejection::Http2Required => http2_required(),
            Rejection::MethodNotAllowed { allow_get } => method_not_allowed(allow_get),
        }
    }
}

/// Decides how a request for `route` is to be served by the Connect
/// protocol, or why it is refused.
pub fn negotiate_connect<B>(req: &Request<B>, route: MethodRoute) -> Result<Negotiated, Rejection> {
    let method = route.0;
    let streaming = method.stream_type() != StreamType::Unary;
    let accept = content_type::accepted(Protocol::Connect, method.stream_type());
    let (codec, enveloped) = match *req.method() {
        Method::POST => {
            let ct = find(req.headers(), &header::CONTENT_TYPE)
                .ok_or(Rejection::UnsupportedMediaType { accept })?;
            parse_connect_content_type(ct.as_bytes())
                .filter(|(_, enveloped)| *enveloped == streaming)
                .ok_or(Rejection::UnsupportedMediaType { accept })?
        }
        Method::GET if method.allows_get() => {
            let has_body = req
                .headers()
                .get(header::CONTENT_LENGTH)
                .is_some_and(|v| v.as_bytes() != b"0");
            let codec = get_encoding(req.uri().query()).and_then(Codec::from_name);
            match codec {
                Some(codec) if !has_body => (codec, false),
                _ => {
                    return Err(Rejection::UnsupportedMediaType { accept });
                }
            }
        }
        _ => {
            return Err(Rejection::MethodNotAllowed {
                allow_get: method.allows_get(),
            });
        }
    };
    Ok(Negotiated {
        method,
        protocol: Protocol::Connect,
        codec,
        enveloped,
        implicit_codec: false,
    })
}

/// Parses a gRPC (`web == false`) or gRPC-Web content type:
/// `application/grpc[-web[-text]][+proto|+json][; params]`. Bare
/// `application/grpc` and `application/grpc-web` mean proto.
///
/// ```
/// use connect_core::Codec;
/// use connect_layers::negotiate::server::parse_grpc_content_type;
///
/// assert_eq!(parse_grpc_content_type(b"application/grpc", false), Some(Codec::Proto));
/// assert_eq!(parse_grpc_content_type(b"application/grpc+json", false), Some(Codec::Json));
/// assert_eq!(parse_grpc_content_type(b"application/grpc-web-text", true), Some(Codec::Proto));
/// assert_eq!(parse_grpc_content_type(b"application/grpc-web", false), None);
/// assert_eq!(parse_grpc_content_type(b"application/grpc+xml", false), None);
/// ```
pub fn parse_grpc_content_type(value: &[u8], web: bool) -> Option<Codec> {
    // The exact spellings clients send, without parsing.
    match (value, web) {
        (b"application/grpc" | b"application/grpc+proto", false) => return Some(Codec::Proto),
        (b"application/grpc+json", false) => return Some(Codec::Json),
        (b"application/grpc-web" | b"application/grpc-web+proto", true) => {
            return Some(Codec::Proto);
        }
        _ => {}
    }
    let ct = content_type::parse(value)?;
    let family_ok = match ct.family {
        Family::Grpc => !web,
        Family::GrpcWeb | Family::GrpcWebText => web,
        Family::ConnectUnary | Family::ConnectStream => false,
    };
    if !family_ok {
        return None;
    }
    ct.codec()
}

/// Decides how a request for `route` is to be served by gRPC or gRPC-Web,
/// or why it is refused.
pub fn negotiate_grpc<B>(
    req: &Request<B>,
    route: MethodRoute,
    protocol: Protocol,
) -> Result<Negotiated, Rejection> {
    let web = protocol == Protocol::GrpcWeb;
    if req.method() != Method::POST {
        return Err(Rejection::MethodNotAllowed { allow_get: false });
    }
    let accept = content_type::accepted(protocol, StreamType::Unary);
    let content_type = find(req.headers(), &header::CONTENT_TYPE);
    let codec = content_type
        .and_then(|ct| parse_grpc_content_type(ct.as_bytes(), web))
        .ok_or(Rejection::UnsupportedMediaType { accept })?;
    let implicit_codec = content_type.is_some_and(|ct| {
        let media = ct
            .as_bytes()
            .split(|b| *b == b';')
            .next()
            .unwrap_or_default();
        !media.contains(&b'+')
    });
    // gRPC needs HTTP/2 (trailers); `te: trailers` is not required, as in
    // connect-go: its absence proves nothing about the path back.
    if !web && req.version() < http::Version::HTTP_2 {
        return Err(Rejection::Http2Required);
    }
    Ok(Negotiated {
        method: route.0,
        protocol,
        codec,
        enveloped: true,
        implicit_codec,
    })
}

/// Clients may omit `connect-protocol-version`; if present it must be `1`.
fn check_protocol_version<B>(req: &Request<B>) -> Result<(), connect_core::ConnectError> {
    match find(
        req.headers(),
        &connect_core::metadata::names::CONNECT_PROTOCOL_VERSION,
    ) {
        Some(v) if v.as_bytes() != b"1" => Err(connect_core::ConnectError::invalid_argument(
            format!("connect-protocol-version must be \"1\": got {v:?}"),
        )),
        _ => Ok(()),
    }
}

impl<S, B> Service<Request<B>> for Negotiate<S>
where
    S: Service<Call<B>, Response = Response<ResponseBody>, Error = Infallible>,
{
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = crate::future::Either<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let route = match &self.table {
            Some(Table(table)) => table.lookup(req.uri().path()).map(MethodRoute),
            None => req.extensions().get::<MethodRoute>().copied(),
        };
        let Some(route) = route else {
            let err = ConnectError::unimplemented(format!("no such method: {}", req.uri().path()));
            let ct = req.headers().get(header::CONTENT_TYPE);
            return crate::future::Either::ready(unrouted_response(ct, err));
        };
        let negotiated = match self.protocol {
            Protocol::Connect => negotiate_connect(&req, route),
            p => negotiate_grpc(&req, route, p),
        };
        match negotiated {
            Ok(n) => {
                if n.protocol == Protocol::Connect
                    && let Err(err) = check_protocol_version(&req)
                {
                    return crate::future::Either::ready(crate::errors::server::error_response(
                        Some(&n),
                        err,
                    ));
                }
                crate::future::Either::inner(self.inner.call(Call::new(n, req)))
            }
            Err(rejection) => crate::future::Either::ready(rejection.into_response()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        let ok = [
            ("application/proto", Codec::Proto, false),
            ("application/json", Codec::Json, false),
            ("application/json; charset=utf-8", Codec::Json, false),
            ("application/json;Charset=UTF-8", Codec::Json, false),
            ("Application/JSON", Codec::Json, false),
            ("application/connect+proto", Codec::Proto, true),
            ("application/connect+json", Codec::Json, true),
        ];
        for (ct, codec, env) in ok {
            assert_eq!(
                parse_connect_content_type(ct.as_bytes()),
                Some((codec, env)),
                "{ct}"
            );
        }
        for ct in [
            "application/xml",
            "text/json",
            "application/json; charset=latin1",
            "application/proto; charset=utf-8",
            "application/grpc",
            "application/connect+xml",
            "application/",
            "\u{ff}",
        ] {
            assert_eq!(parse_connect_content_type(ct.as_bytes()), None, "{ct}");
        }
    }

    #[test]
    fn multi_byte_chars_at_the_prefix_boundary_are_not_a_panic() {
        // Found by the `headers` fuzz target: byte 12 ("application/".len())
        // fell inside the two-byte "\u{a5}" and slicing panicked.
        assert_eq!(
            parse_connect_content_type("YYYYYYYYY\n\n\u{a5}".as_bytes()),
            None
        );
        assert_eq!(
            parse_connect_content_type("applicatio\u{e9}/json".as_bytes()),
            None
        );
        assert_eq!(
            parse_connect_content_type("application/connect\u{e9}json".as_bytes()),
            None
        );
        // And through the layer: a header value may carry obs-text bytes.
        let value = http::HeaderValue::from_bytes("applicati\u{a5}\u{a5}json".as_bytes()).unwrap();
        assert_eq!(parse_connect_content_type(value.as_bytes()), None);
    }

    #[test]
    fn get_encoding_is_read_from_the_query() {
        assert_eq!(get_encoding(Some("message=x&encoding=json")), Some("json"));
        assert_eq!(get_encoding(Some("message=x")), None);
        assert_eq!(get_encoding(None), None);
    }
}
