//! Client Connect GET: a unary call to a `NO_SIDE_EFFECTS` method goes as
//! `GET /pkg.Service/Method?connect=v1&encoding=…&base64=1&message=…`
//! (plus `compression=` when the message is compressed) when the policy
//! allows it and the URL fits the cap; otherwise it stays a POST. GET
//! responses are cacheable by HTTP caches.

use std::fmt::Write as _;
use std::task::{Context, Poll};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use connect_core::metadata::names;
use http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
use http::{Method, Uri};
use tower_layer::Layer;
use tower_service::Service;

use super::{QUERY_BASE64, QUERY_COMPRESSION, QUERY_CONNECT, QUERY_ENCODING, QUERY_MESSAGE};
use crate::ClientBody;
use crate::intercept::method_of;
use crate::protocol::content_type;

/// The default cap on a GET request's URL, in bytes.
pub const DEFAULT_MAX_URL_BYTES: usize = 8 * 1024;

/// When a client uses GET.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum GetPolicy {
    /// Always POST (the default, as in connect-go).
    #[default]
    Never,
    /// GET for unary calls to `NO_SIDE_EFFECTS` methods over Connect, when
    /// the URL fits the cap.
    IfNoSideEffects,
}

/// Layer applying [`ConnectGet`].
#[derive(Clone, Copy, Debug)]
#[must_use]
pub struct ConnectGetLayer {
    policy: GetPolicy,
    max_url_bytes: usize,
}

impl ConnectGetLayer {
    /// GET under `policy`, for URLs of at most `max_url_bytes`.
    pub fn new(policy: GetPolicy, max_url_bytes: usize) -> Self {
        ConnectGetLayer {
            policy,
            max_url_bytes,
        }
    }
}

impl<S> Layer<S> for ConnectGetLayer {
    type Service = ConnectGet<S>;

    fn layer(&self, inner: S) -> ConnectGet<S> {
        ConnectGet {
            inner,
            policy: self.policy,
            max_url_bytes: self.max_url_bytes,
        }
    }
}

/// Turns eligible Connect unary POSTs into GETs.
#[derive(Clone, Debug)]
pub struct ConnectGet<S> {
    inner: S,
    policy: GetPolicy,
    max_url_bytes: usize,
}

crate::macros::define_inner_service_accessors!(ConnectGet);

impl<S> Service<http::Request<ClientBody>> for ConnectGet<S>
where
    S: Service<http::Request<ClientBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ClientBody>) -> S::Future {
        let req = match self.policy {
            GetPolicy::IfNoSideEffects => to_get(req, self.max_url_bytes),
            GetPolicy::Never => req,
        };
        self.inner.call(req)
    }
}

/// The GET form of `req`, or `req` itself when it is not eligible or the
/// URL would be longer than `max_url_bytes`.
pub fn to_get(
    mut req: http::Request<ClientBody>,
    max_url_bytes: usize,
) -> http::Request<ClientBody> {
    let eligible = method_of(&req).is_some_and(|m| m.allows_get())
        && req.method() == Method::POST
        && req.headers().contains_key(names::CONNECT_PROTOCOL_VERSION);
    let Some(body) = eligible.then(|| req.body().as_full()).flatten() else {
        return req;
    };
    let codec = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| content_type::parse(v.as_bytes()))
        .map_or("proto", |ct| ct.codec_name)
        .to_owned();
    let compression = req
        .headers()
        .get(CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let encoded_len = body.len().div_ceil(3) * 4;
    let base = req.uri().to_string();
    let extra = compression.as_ref().map_or(0, |c| c.len() + 13);
    if base.len() + 40 + codec.len() + encoded_len + extra > max_url_bytes {
        return req;
    }
    let mut url = format!("{base}?{QUERY_CONNECT}=v1&{QUERY_ENCODING}={codec}&{QUERY_BASE64}=1");
    if let Some(c) = &compression {
        let _ = write!(url, "&{QUERY_COMPRESSION}={c}");
    }
    let _ = write!(url, "&{QUERY_MESSAGE}=");
    URL_SAFE_NO_PAD.encode_string(&body, &mut url);
    let Ok(uri) = Uri::try_from(url) else {
        return req;
    };
    *req.method_mut() = Method::GET;
    *req.uri_mut() = uri;
    *req.body_mut() = req.body().emptied();
    let headers = req.headers_mut();
    for name in [CONTENT_TYPE, CONTENT_ENCODING, CONTENT_LENGTH] {
        headers.remove(name);
    }
    headers.remove(names::CONNECT_PROTOCOL_VERSION);
    req
}

#[cfg(test)]
mod tests {
    use super::*;
    use connect_core::{Idempotency, MethodDescriptor, StreamType};

    static GETTABLE: MethodDescriptor = MethodDescriptor::new(
        "a.S",
        "G",
        "/a.S/G",
        StreamType::Unary,
        Idempotency::NoSideEffects,
    );
    static POST_ONLY: MethodDescriptor = MethodDescriptor::new(
        "a.S",
        "P",
        "/a.S/P",
        StreamType::Unary,
        Idempotency::Unknown,
    );

    fn post(m: &'static MethodDescriptor, body: &'static [u8]) -> http::Request<ClientBody> {
        let body = ClientBody::full(bytes::Bytes::from_static(body)).with_method(m);
        let mut req = http::Request::new(body);
        *req.method_mut() = Method::POST;
        *req.uri_mut() = Uri::from_static("http://h/a.S/G");
        req.headers_mut()
            .insert(CONTENT_TYPE, "application/proto".parse().unwrap());
        req.headers_mut()
            .insert(CONTENT_ENCODING, "gzip".parse().unwrap());
        req.headers_mut()
            .insert(names::CONNECT_PROTOCOL_VERSION, "1".parse().unwrap());
        req
    }

    #[test]
    fn eligible_calls_become_gets() {
        let req = to_get(post(&GETTABLE, b"\x0a\x01a"), DEFAULT_MAX_URL_BYTES);
        assert_eq!(req.method(), Method::GET);
        assert_eq!(
            req.uri().to_string(),
            "http://h/a.S/G?connect=v1&encoding=proto&base64=1&compression=gzip&message=CgFh"
        );
        assert!(req.headers().get(CONTENT_TYPE).is_none());
        assert!(req.headers().get(CONTENT_ENCODING).is_none());
        assert_eq!(req.body().as_full().unwrap().len(), 0);
    }

    #[test]
    fn other_calls_and_long_urls_stay_posts() {
        assert_eq!(
            to_get(post(&POST_ONLY, b"x"), DEFAULT_MAX_URL_BYTES).method(),
            Method::POST
        );
        let long = to_get(post(&GETTABLE, &[7u8; 100]), 60);
        assert_eq!(long.method(), Method::POST);
        assert_eq!(long.body().as_full().unwrap().len(), 100);
    }
}
