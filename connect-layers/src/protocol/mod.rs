//! What negotiation decided about a call, shared by the layers below it
//! through request extensions.

pub mod content_type;

use connect_core::metadata::names;
use connect_core::{Codec, MethodDescriptor, Protocol, StreamType};
use http::{HeaderName, HeaderValue};

/// The method a request was routed to. A router inserts it into the
/// request extensions before the protocol stack runs.
#[derive(Clone, Copy, Debug)]
pub struct MethodRoute(pub &'static MethodDescriptor);

/// The outcome of content negotiation, inserted into the request
/// extensions by [`crate::negotiate::server::Negotiate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// The method being called.
    pub method: &'static MethodDescriptor,
    /// The protocol on the wire.
    pub protocol: Protocol,
    /// The message codec.
    pub codec: Codec,
    /// Whether messages travel in envelopes (Connect streaming, gRPC,
    /// gRPC-Web) rather than as a bare body (Connect unary).
    pub enveloped: bool,
    /// Whether the request's content type left the codec implicit
    /// (`application/grpc`, `application/grpc-web`): the response then
    /// echoes that spelling.
    pub implicit_codec: bool,
}

impl Negotiated {
    /// The response content type for this call.
    pub fn response_content_type(&self) -> &'static str {
        content_type::RESPONSE[self.response_content_type_index()]
    }

    /// [`response_content_type`](Self::response_content_type) as a header
    /// value, built at compile time (no validation per response).
    pub fn response_content_type_value(&self) -> HeaderValue {
        const fn v(i: usize) -> HeaderValue {
            HeaderValue::from_static(content_type::RESPONSE[i])
        }
        // Each `const` is evaluated by the compiler: a response gets a
        // ready-made value, no byte checks.
        match self.response_content_type_index() {
            0 => const { v(0) },
            1 => const { v(1) },
            2 => const { v(2) },
            3 => const { v(3) },
            4 => const { v(4) },
            5 => const { v(5) },
            6 => const { v(6) },
            7 => const { v(7) },
            8 => const { v(8) },
            _ => const { v(9) },
        }
    }

    fn response_content_type_index(&self) -> usize {
        content_type::response_index(
            self.protocol,
            self.enveloped,
            self.codec,
            self.implicit_codec,
        )
    }

    /// The headers naming the request's message encoding and the
    /// encodings the peer accepts.
    pub fn encoding_headers(&self) -> (HeaderName, HeaderName) {
        encoding_headers(self.protocol, self.method.stream_type())
    }

    /// The header carrying the client's timeout.
    pub fn timeout_header(&self) -> HeaderName {
        timeout_header(self.protocol)
    }
}

/// The per-protocol compression headers of a call (sent encoding, accepted
/// encodings): Connect unary uses HTTP's own, Connect streaming its
/// `connect-` pair, gRPC and gRPC-Web the `grpc-` pair.
pub fn encoding_headers(protocol: Protocol, stream_type: StreamType) -> (HeaderName, HeaderName) {
    match protocol {
        Protocol::Connect if stream_type == StreamType::Unary => (
            http::header::CONTENT_ENCODING,
            http::header::ACCEPT_ENCODING,
        ),
        Protocol::Connect => (
            names::CONNECT_CONTENT_ENCODING,
            names::CONNECT_ACCEPT_ENCODING,
        ),
        _ => (names::GRPC_ENCODING, names::GRPC_ACCEPT_ENCODING),
    }
}

/// The per-protocol timeout header.
pub fn timeout_header(protocol: Protocol) -> HeaderName {
    match protocol {
        Protocol::Connect => names::CONNECT_TIMEOUT_MS,
        _ => names::GRPC_TIMEOUT,
    }
}

/// A request after negotiation: the HTTP request and what was decided about
/// it. The layers between negotiation and framing take and pass `Call`s, so
/// the decision travels with the request in its type, with no allocation
/// and no way to reach framing un-negotiated.
#[derive(Debug)]
pub struct Call<B> {
    /// What negotiation decided.
    pub negotiated: Negotiated,
    /// The HTTP request.
    pub request: http::Request<B>,
}

impl<B> Call<B> {
    /// A call negotiated as `negotiated`.
    pub fn new(negotiated: Negotiated, request: http::Request<B>) -> Self {
        Call {
            negotiated,
            request,
        }
    }

    /// The same call with its body mapped.
    pub fn map_body<B2>(self, f: impl FnOnce(B) -> B2) -> Call<B2> {
        Call {
            negotiated: self.negotiated,
            request: self.request.map(f),
        }
    }
}

/// Finds the method served at a path: what a router gives negotiation so
/// it needs no [`MethodRoute`] extension (and its allocations) per request.
pub trait MethodTable: Send + Sync + 'static {
    /// The method at `path`, if any.
    fn lookup(&self, path: &str) -> Option<&'static MethodDescriptor>;
}

/// A shared [`MethodTable`], printable.
#[derive(Clone)]
pub(crate) struct Table(pub(crate) std::sync::Arc<dyn MethodTable>);

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MethodTable")
    }
}
