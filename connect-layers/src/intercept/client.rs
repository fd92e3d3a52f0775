//! The client half: an [`Intercept`] around a channel sees each
//! `http::Request` a client sends — the method from its
//! [`MethodRoute`](crate::protocol::MethodRoute) extension, the headers,
//! and for unary calls the message ([`unary_message`]) — and each
//! response's headers or the failure.
//!
//! ```
//! use connect_layers::intercept::{self, InterceptLayer};
//! use http::HeaderValue;
//! use tower::ServiceBuilder;
//! # #[derive(Clone)] struct Channel;
//! # impl tower::Service<http::Request<connect_layers::ClientBody>> for Channel {
//! #     type Response = http::Response<http_body_util::Empty<bytes::Bytes>>;
//! #     type Error = std::convert::Infallible;
//! #     type Future = std::future::Ready<Result<Self::Response, Self::Error>>;
//! #     fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> { std::task::Poll::Ready(Ok(())) }
//! #     fn call(&mut self, _: http::Request<connect_layers::ClientBody>) -> Self::Future { std::future::ready(Ok(http::Response::default())) }
//! # }
//!
//! // A token fetched (or refreshed) asynchronously before each call.
//! let channel = ServiceBuilder::new()
//!     .layer(InterceptLayer::new(intercept::from_fn(
//!         |mut req: http::Request<connect_layers::ClientBody>| async move {
//!             let token = HeaderValue::from_static("Bearer fresh"); // e.g. `tokens.get().await?`
//!             req.headers_mut().insert("authorization", token);
//!             Ok::<_, connect_core::ConnectError>(req)
//!         },
//!     )))
//!     .service(Channel);
//! # let _ = channel;
//! ```

use std::sync::Arc;
use std::task::{Context, Poll};

use buffa::Message;
use bytes::Bytes;
use connect_codec::compression::CompressionRegistry;
use connect_core::{Codec, ConnectError, MethodDescriptor};
use http::HeaderMap;
use serde::de::DeserializeOwned;
use tower_service::Service;

use super::{Intercept, InterceptedRequest, Interceptor, ResponseFuture, method_of, report};
use crate::BoxError;
use crate::body::client::ClientBody;
use crate::errors::client::transport_error;
use crate::protocol::content_type::{self, Family};
use crate::rpc::DEFAULT_READ_MAX_BYTES;

impl<B: Send + 'static> InterceptedRequest for http::Request<B> {
    fn method(&self) -> Option<&'static MethodDescriptor> {
        method_of(self)
    }

    fn headers(&self) -> &HeaderMap {
        http::Request::headers(self)
    }

    fn headers_mut(&mut self) -> &mut HeaderMap {
        http::Request::headers_mut(self)
    }

    fn extensions_mut(&mut self) -> &mut http::Extensions {
        http::Request::extensions_mut(self)
    }
}

/// The request message of a unary or server-streaming call as the client
/// sends it, decoded (a copy, for the interceptor). `None` when the
/// message is not in the body: a streaming request, a Connect GET (the
/// message is in the query). A compressed message is decompressed with
/// the built-in encodings; gRPC-Web text is decoded from base64.
///
/// ```
/// use bytes::Bytes;
/// use connect_layers::ClientBody;
/// use connect_layers::intercept::client::unary_message;
/// use buffa_types::google::protobuf::StringValue;
/// use buffa::Message as _;
///
/// let msg = StringValue { value: "hi".into(), ..Default::default() };
/// let req = http::Request::post("http://x/a.S/M")
///     .header("content-type", "application/proto")
///     .body(ClientBody::full(Bytes::from(msg.encode_to_vec())))
///     .unwrap();
/// let seen: StringValue = unary_message(&req).unwrap().unwrap();
/// assert_eq!(seen.value, "hi");
/// ```
pub fn unary_message<M>(req: &http::Request<ClientBody>) -> Option<Result<M, ConnectError>>
where
    M: Message + DeserializeOwned,
{
    if req.method() == http::Method::GET {
        return None;
    }
    if method_of(req).is_some_and(|m| m.stream_type().client_streams()) {
        return None;
    }
    let body = req.body().as_full()?;
    let ct = content_type::parse(req.headers().get(http::header::CONTENT_TYPE)?.as_bytes())?;
    let codec = match ct.codec_name {
        "json" => Codec::Json,
        _ => Codec::Proto,
    };
    Some(
        decode_body(req.headers(), ct.family, body)
            .and_then(|bytes| connect_codec::codec::decode_owned(codec, &bytes)),
    )
}

/// The message bytes of a request body: unwrapped from base64 and the
/// envelope, and decompressed.
fn decode_body(headers: &HeaderMap, family: Family, body: Bytes) -> Result<Bytes, ConnectError> {
    let body = if family == Family::GrpcWebText {
        use base64::Engine as _;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(&body)
            .map_err(|e| ConnectError::invalid_argument(format!("bad base64 body: {e}")))?;
        Bytes::from(decoded)
    } else {
        body
    };
    let (mut payload, compressed, encoding_header) = match family {
        Family::ConnectUnary => {
            let compressed = headers
                .get(http::header::CONTENT_ENCODING)
                .is_some_and(|v| v.as_bytes() != b"identity");
            (body, compressed, http::header::CONTENT_ENCODING.as_str())
        }
        _ => {
            // The one envelope rule, shared with framing.
            let envelope = connect_codec::envelope::decode_single(body, DEFAULT_READ_MAX_BYTES)?
                .ok_or_else(|| {
                    ConnectError::invalid_argument("request body shorter than an envelope")
                })?;
            let header = match family {
                Family::ConnectStream => "connect-content-encoding",
                _ => "grpc-encoding",
            };
            (envelope.data, envelope.flags & 1 != 0, header)
        }
    };
    if compressed {
        let name = headers
            .get(encoding_header)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        payload = CompressionRegistry::new().decompress(name, &payload, DEFAULT_READ_MAX_BYTES)?;
    }
    Ok(payload)
}

impl<S, I, B, RB> Service<http::Request<B>> for Intercept<S, I>
where
    S: Service<http::Request<B>, Response = http::Response<RB>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    I: Interceptor<http::Request<B>>,
    B: Send + 'static,
    RB: Send + 'static,
{
    type Response = http::Response<RB>;
    type Error = BoxError;
    type Future = ResponseFuture<http::Response<RB>, BoxError>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let interceptor = Arc::clone(&self.interceptor);
        let observe = self.observe.clone();
        Box::pin(async move {
            let method = method_of(&req);
            let req = match interceptor.before(req).await {
                Ok(req) => req,
                Err(refused) => {
                    report(&*interceptor, observe.as_ref(), method, Err(&refused));
                    return Err(BoxError::from(refused));
                }
            };
            match inner.call(req).await {
                Ok(resp) => {
                    report(&*interceptor, observe.as_ref(), method, Ok(resp.headers()));
                    Ok(resp)
                }
                Err(e) => {
                    // Classified as the stack's error layer will classify it.
                    let err = transport_error(e);
                    report(&*interceptor, observe.as_ref(), method, Err(&err));
                    Err(BoxError::from(err))
                }
            }
        })
    }
}
