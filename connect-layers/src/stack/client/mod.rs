//! The client stack: the client halves of the concerns composed over a
//! channel, for one protocol (Connect, gRPC, or gRPC-Web in binary or text
//! mode) and codec.

use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use connect_codec::compression::CompressionRegistry;
use connect_core::{Codec, ConnectError, Protocol};
use http::Uri;
use http_body::Body;
use tower_layer::Layer;
use tower_service::Service;

use crate::rpc::client::{ClientRequest, ClientResponse};

use crate::compression::client::{Compression, CompressionLayer};
use crate::deadline::client::{Deadline, DeadlineLayer};
use crate::errors::client::{ErrorMap, ErrorMapLayer};
use crate::framing::client::{Framing, FramingLayer};
use crate::get::client::{ConnectGet, ConnectGetLayer, DEFAULT_MAX_URL_BYTES, GetPolicy};
use crate::negotiate::client::{Negotiate, NegotiateLayer};
use crate::web_text::client::{WebText, WebTextLayer};
use crate::{BoxError, ClientBody};

mod direct;

pub use self::direct::DirectFuture;
use self::direct::{Direct, answer_encodings, header_templates};

/// What a client stack is built for: a builder, as the server's
/// [`StackConfig`](crate::stack::server::StackConfig) is.
///
/// ```
/// use connect_core::{Codec, Protocol};
/// use connect_layers::stack::client::ClientStackConfig;
///
/// let config = ClientStackConfig::new("http://127.0.0.1:8080".parse().unwrap())
///     .protocol(Protocol::GrpcWeb)
///     .codec(Codec::Json)
///     .web_text(true);
/// assert_eq!(config.get_protocol(), Protocol::GrpcWeb);
/// assert!(config.is_web_text());
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct ClientStackConfig {
    base_uri: Uri,
    protocol: Protocol,
    codec: Codec,
    web_text: bool,
    registry: CompressionRegistry,
    get_policy: GetPolicy,
    max_get_url_bytes: usize,
}

impl ClientStackConfig {
    /// A Connect + proto stack for `base_uri` (scheme, authority and
    /// optional path prefix of the server) with the built-in encodings.
    pub fn new(base_uri: Uri) -> Self {
        ClientStackConfig {
            base_uri,
            protocol: Protocol::Connect,
            codec: Codec::Proto,
            web_text: false,
            registry: CompressionRegistry::new(),
            get_policy: GetPolicy::Never,
            max_get_url_bytes: DEFAULT_MAX_URL_BYTES,
        }
    }

    /// The protocol on the wire.
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// The message codec.
    pub fn codec(mut self, codec: Codec) -> Self {
        self.codec = codec;
        self
    }

    /// gRPC-Web text mode (base64 bodies); ignored for other protocols.
    pub fn web_text(mut self, web_text: bool) -> Self {
        self.web_text = web_text;
        self
    }

    /// The encodings the client can send and accepts.
    pub fn registry(mut self, registry: CompressionRegistry) -> Self {
        self.registry = registry;
        self
    }

    /// When unary calls use Connect GET.
    pub fn get_policy(mut self, policy: GetPolicy) -> Self {
        self.get_policy = policy;
        self
    }

    /// The longest GET URL before falling back to POST.
    pub fn max_get_url_bytes(mut self, bytes: usize) -> Self {
        self.max_get_url_bytes = bytes;
        self
    }

    /// The server's base URI.
    pub fn base_uri(&self) -> &Uri {
        &self.base_uri
    }

    /// The protocol on the wire.
    pub fn get_protocol(&self) -> Protocol {
        self.protocol
    }

    /// The message codec.
    pub fn get_codec(&self) -> Codec {
        self.codec
    }

    /// Whether gRPC-Web text mode is on.
    pub fn is_web_text(&self) -> bool {
        self.web_text
    }

    /// The compression registry.
    pub fn get_registry(&self) -> &CompressionRegistry {
        &self.registry
    }
}

/// The client layers composed over channel `T`, outermost first:
/// deadline, compression, framing, negotiate, GET, gRPC-Web text, errors.
/// [`ClientCore`] runs the same concerns a shorter way; the layers serve
/// those who compose them themselves.
pub type Layered<T> = Deadline<Compression<Framing<Negotiate<ConnectGet<WebText<ErrorMap<T>>>>>>>;

/// The composed client stack over channel `T`: [`ClientCore`].
#[cfg(not(feature = "tracing"))]
pub type ClientStack<T> = ClientCore<T>;

/// The composed client stack over channel `T`: trace (feature `tracing`)
/// around [`ClientCore`].
#[cfg(feature = "tracing")]
pub type ClientStack<T> = crate::observe::ClientTrace<ClientCore<T>>;

/// The client halves of every concern over channel `T`.
///
/// A call runs each concern's own request and answer functions (the ones
/// the layers of [`Layered`] call) in the layers' order, in one future,
/// [`DirectFuture`], calling the channel directly: its answer is not built
/// and moved layer by layer. The two ways answer alike
/// (`stack::client::tests` holds them to it); [`client_stack`] builds this.
#[derive(Clone, Debug)]
pub struct ClientCore<T> {
    layered: Layered<T>,
    direct: Arc<Direct>,
}

impl<T> ClientCore<T> {
    /// The same concerns as layers, over the same channel.
    pub fn layered(&self) -> &Layered<T> {
        &self.layered
    }
}

/// The channel under the layers.
fn channel_mut<T>(layered: &mut Layered<T>) -> &mut T {
    layered
        .get_mut() // compression
        .get_mut() // framing
        .get_mut() // negotiate
        .get_mut() // GET
        .get_mut() // web text
        .get_mut() // errors
        .get_mut()
}

impl<T, R> Service<ClientRequest> for ClientCore<T>
where
    T: Service<http::Request<ClientBody>, Response = http::Response<R>>,
    T::Error: Into<BoxError>,
    T::Future: Send + 'static,
    R: Body<Data = Bytes> + Send + 'static,
    R::Error: Into<BoxError>,
{
    type Response = ClientResponse;
    type Error = ConnectError;
    type Future = DirectFuture<T::Future, R>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ConnectError>> {
        self.layered.poll_ready(cx)
    }

    fn call(&mut self, req: ClientRequest) -> Self::Future {
        self.direct.send(req, channel_mut(&mut self.layered))
    }
}

/// Builds the client stack for `config` over `channel`.
///
/// ```
/// use connect_core::Protocol;
/// use connect_layers::stack::client::{ClientStackConfig, client_stack};
///
/// let config = ClientStackConfig::new("http://127.0.0.1:8080".parse().unwrap())
///     .protocol(Protocol::Grpc);
/// // Any tower service of http::Request<ClientBody> works as the channel.
/// let channel = tower::service_fn(|_req: http::Request<connect_layers::ClientBody>| async {
///     Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Empty::<bytes::Bytes>::new()))
/// });
/// let _stack = client_stack(channel, &config);
/// ```
pub fn client_stack<T>(channel: T, config: &ClientStackConfig) -> ClientStack<T> {
    let protocol = config.protocol;
    let web_text = config.web_text && protocol == Protocol::GrpcWeb;
    let errors = ErrorMapLayer::new(protocol, config.codec, web_text, config.registry.clone())
        .layer(channel);
    let text = WebTextLayer::new(web_text).layer(errors);
    let get_policy = if protocol == Protocol::Connect {
        config.get_policy
    } else {
        GetPolicy::Never
    };
    let get = ConnectGetLayer::new(get_policy, config.max_get_url_bytes).layer(text);
    let negotiate = NegotiateLayer::new(protocol, config.codec, web_text).layer(get);
    let framing =
        FramingLayer::new(protocol, &config.base_uri, config.registry.clone()).layer(negotiate);
    let compression = CompressionLayer::new(protocol, config.registry.clone()).layer(framing);
    let layered = DeadlineLayer::new(protocol).layer(compression);
    let compression = Arc::clone(&layered.get_ref().config);
    let direct = Arc::new(Direct {
        protocol,
        templates: header_templates(protocol, config.codec, web_text, &compression),
        compression,
        encodings: answer_encodings(protocol),
        framing: Arc::clone(&layered.get_ref().get_ref().config),
        codec: config.codec,
        get_policy,
        max_get_url_bytes: config.max_get_url_bytes,
        web_text,
        errors: Arc::clone(
            &layered
                .get_ref()
                .get_ref()
                .get_ref()
                .get_ref()
                .get_ref()
                .get_ref()
                .config,
        ),
    });
    let stack = ClientCore { layered, direct };
    #[cfg(feature = "tracing")]
    let stack = crate::observe::ClientTraceLayer::new(protocol, &config.base_uri).layer(stack);
    stack
}

#[cfg(test)]
mod tests;
