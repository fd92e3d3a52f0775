//! The client stack: the client halves of the concerns composed over a
//! channel, for one protocol (Connect, gRPC, or gRPC-Web in binary or text
//! mode) and codec.

use connect_codec::compression::CompressionRegistry;
use connect_core::{Codec, Protocol};
use http::Uri;
use tower_layer::Layer;

use crate::compression::client::{Compression, CompressionLayer};
use crate::deadline::client::{Deadline, DeadlineLayer};
use crate::errors::client::{ErrorMap, ErrorMapLayer};
use crate::framing::client::{Framing, FramingLayer};
use crate::get::client::{ConnectGet, ConnectGetLayer, DEFAULT_MAX_URL_BYTES, GetPolicy};
use crate::negotiate::client::{Negotiate, NegotiateLayer};
use crate::web_text::client::{WebText, WebTextLayer};

/// What a client stack is built for.
#[derive(Clone, Debug)]
pub struct ClientStackConfig {
    /// Scheme, authority and optional path prefix of the server.
    pub base_uri: Uri,
    /// The protocol on the wire.
    pub protocol: Protocol,
    /// The message codec.
    pub codec: Codec,
    /// gRPC-Web text mode (base64 bodies); ignored for other protocols.
    pub web_text: bool,
    /// The encodings the client can send and accepts.
    pub registry: CompressionRegistry,
    /// When unary calls use Connect GET.
    pub get_policy: GetPolicy,
    /// The longest GET URL before falling back to POST.
    pub max_get_url_bytes: usize,
}

impl ClientStackConfig {
    /// A Connect + proto stack for `base_uri` with the built-in encodings.
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
}

/// The composed client stack over channel `T`, outermost first:
/// deadline, compression, framing, negotiate, GET, gRPC-Web text, errors.
#[cfg(not(feature = "tracing"))]
pub type ClientStack<T> =
    Deadline<Compression<Framing<Negotiate<ConnectGet<WebText<ErrorMap<T>>>>>>>;

/// The composed client stack over channel `T`, outermost first: trace
/// (feature `tracing`), deadline, compression, framing, negotiate, GET,
/// gRPC-Web text, errors.
#[cfg(feature = "tracing")]
pub type ClientStack<T> = crate::observe::ClientTrace<
    Deadline<Compression<Framing<Negotiate<ConnectGet<WebText<ErrorMap<T>>>>>>>,
>;

/// Builds the client stack for `config` over `channel`.
///
/// ```
/// use connect_core::Protocol;
/// use connect_layers::stack::client::{ClientStackConfig, client_stack};
///
/// let mut config = ClientStackConfig::new("http://127.0.0.1:8080".parse().unwrap());
/// config.protocol = Protocol::Grpc;
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
    let stack = DeadlineLayer::new(protocol).layer(compression);
    #[cfg(feature = "tracing")]
    let stack = crate::observe::ClientTraceLayer::new(protocol, &config.base_uri).layer(stack);
    stack
}
