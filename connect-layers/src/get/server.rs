//! Connect GET: a side-effect-free unary call with its message in the query
//! string (`?connect=v1&base64=1&compression=gzip&encoding=proto&message=…`)
//! becomes the request a POST would have made, so the layers below never
//! see the difference.
//!
//! ```
//! use connect_layers::get::server::parse_get_query;
//!
//! let q = parse_get_query("connect=v1&base64=1&compression=gzip&encoding=proto&message=CgNhYmM").unwrap();
//! assert_eq!(&q.message[..], b"\n\x03abc");
//! assert_eq!(q.compression.as_deref(), Some("gzip"));
//! assert!(parse_get_query("encoding=proto&base64=1&message=%%").is_err());
//! ```

use std::task::{Context, Poll};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use connect_core::{ConnectError, Protocol};
use futures_util::future::{self, Either, Ready};
use http::{HeaderValue, Method, Request, header};
use http_body_util::{Either as EitherBody, Full};
use tower_layer::Layer;
use tower_service::Service;

use super::{QUERY_BASE64, QUERY_COMPRESSION, QUERY_CONNECT, QUERY_MESSAGE};
use crate::protocol::Call;

/// Layer applying [`ConnectGet`].
#[derive(Clone, Copy, Debug, Default)]
#[must_use]
pub struct ConnectGetLayer {
    _priv: (),
}

impl ConnectGetLayer {
    /// A new GET layer.
    pub const fn new() -> Self {
        ConnectGetLayer { _priv: () }
    }
}

impl<S> Layer<S> for ConnectGetLayer {
    type Service = ConnectGet<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ConnectGet { inner }
    }
}

/// Rewrites Connect GET requests into their POST equivalent.
#[derive(Clone, Debug)]
pub struct ConnectGet<S> {
    inner: S,
}

crate::macros::define_inner_service_accessors!(ConnectGet);

/// The body type below [`ConnectGet`]: the original body, or the message
/// taken from the query string.
pub type GetBody<B> = EitherBody<B, Full<Bytes>>;

pub use crate::rpc::server::ReceivedAsGet;

/// The parts of a Connect GET query.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct GetQuery {
    /// The decoded message.
    pub message: Bytes,
    /// The `compression` parameter, if any.
    pub compression: Option<String>,
}

/// Decodes `application/x-www-form-urlencoded` text (`%XX` and `+`).
fn percent_decode(s: &str) -> Result<Vec<u8>, ConnectError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        ConnectError::invalid_argument("invalid percent-encoding in query")
                    })?;
                out.push(hex);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(out)
}

fn decode_base64(text: &[u8]) -> Result<Vec<u8>, ConnectError> {
    let trimmed = {
        let mut t = text;
        while let [rest @ .., b'='] = t {
            t = rest;
        }
        t
    };
    URL_SAFE_NO_PAD
        .decode(trimmed)
        .or_else(|_| STANDARD_NO_PAD.decode(trimmed))
        .map_err(|e| ConnectError::invalid_argument(format!("invalid base64 in message: {e}")))
}

/// Parses a Connect GET query string.
pub fn parse_get_query(query: &str) -> Result<GetQuery, ConnectError> {
    let mut message = None;
    let mut base64 = false;
    let mut compression = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            QUERY_MESSAGE => message = Some(percent_decode(v)?),
            QUERY_BASE64 => base64 = v == "1",
            QUERY_COMPRESSION => {
                let c = String::from_utf8(percent_decode(v)?)
                    .map_err(|_| ConnectError::invalid_argument("compression must be UTF-8"))?;
                compression = Some(c).filter(|c| !c.is_empty() && c != "identity");
            }
            QUERY_CONNECT if v != "v1" => {
                return Err(ConnectError::invalid_argument(format!(
                    "connect must be \"v1\": got {v:?}"
                )));
            }
            _ => {}
        }
    }
    let message =
        message.ok_or_else(|| ConnectError::invalid_argument("missing message query parameter"))?;
    let message = if base64 {
        decode_base64(&message)?
    } else {
        message
    };
    Ok(GetQuery {
        message: Bytes::from(message),
        compression,
    })
}

impl<S, B> Service<Call<B>> for ConnectGet<S>
where
    S: Service<Call<GetBody<B>>, Error = ConnectError>,
{
    type Response = S::Response;
    type Error = ConnectError;
    type Future = Either<S::Future, Ready<Result<S::Response, ConnectError>>>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, call: Call<B>) -> Self::Future {
        let n = call.negotiated;
        if call.request.method() != Method::GET || n.protocol != Protocol::Connect {
            return Either::Left(self.inner.call(call.map_body(EitherBody::Left)));
        }
        let codec = n.response_content_type();
        let (mut parts, _) = call.request.into_parts();
        let query = match parse_get_query(parts.uri.query().unwrap_or("")) {
            Ok(q) => q,
            Err(e) => return Either::Right(future::ready(Err(e))),
        };
        parts.method = Method::POST;
        parts.extensions.insert(ReceivedAsGet);
        parts
            .headers
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(codec));
        parts.headers.remove(header::CONTENT_ENCODING);
        if let Some(c) = query.compression {
            match HeaderValue::try_from(c) {
                Ok(v) => {
                    parts.headers.insert(header::CONTENT_ENCODING, v);
                }
                Err(_) => {
                    return Either::Right(future::ready(Err(ConnectError::invalid_argument(
                        "invalid compression query parameter",
                    ))));
                }
            }
        }
        let body = EitherBody::Right(Full::new(query.message));
        Either::Left(
            self.inner
                .call(Call::new(n, Request::from_parts(parts, body))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use connect_core::Code;

    #[test]
    fn parses_plain_and_base64_messages() {
        let q = parse_get_query("encoding=json&message=%7B%22name%22%3A%22a+b%22%7D").unwrap();
        assert_eq!(&q.message[..], br#"{"name":"a b"}"#);
        let q =
            parse_get_query("connect=v1&base64=1&compression=gzip&encoding=proto&message=CgNhYmM")
                .unwrap();
        assert_eq!(&q.message[..], b"\n\x03abc");
        assert_eq!(q.compression.as_deref(), Some("gzip"));
        let q = parse_get_query("base64=1&message=CgNhYmM%3D").unwrap();
        assert_eq!(&q.message[..], b"\n\x03abc");
    }

    #[test]
    fn rejects_bad_queries() {
        for bad in [
            "encoding=proto",
            "base64=1&message=***",
            "message=%zz",
            "message=%4",
            "connect=v2&message=",
        ] {
            assert_eq!(
                parse_get_query(bad).unwrap_err().code(),
                Code::InvalidArgument,
                "{bad}"
            );
        }
    }
}
