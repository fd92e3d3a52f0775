//! What a user plugs in: a [`Propagator`] for trace context, an
//! [`Observer`] for metrics. Each is registered once for the process, as
//! OpenTelemetry's own global propagator and meter provider are, so every
//! server layer and every client stack finds it without configuration.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use connect_core::{Code, MethodDescriptor, Protocol};
use http::HeaderMap;
use tracing::Span;

/// Moves trace context between headers and spans: how an OpenTelemetry
/// layer (`tracing-opentelemetry`) learns a server call's remote parent
/// and how a client call's context reaches the server, without this
/// library depending on OpenTelemetry.
///
/// Once registered, it is called for every call, whether or not its span
/// is enabled. Without one, server spans still record the caller's W3C
/// `traceparent` as fields (`trace_id`, `parent_span_id`, `trace_flags`,
/// `tracestate`); clients add no header.
///
/// With `tracing-opentelemetry` and `opentelemetry-http`:
///
/// ```ignore
/// use opentelemetry::global;
/// use opentelemetry_http::{HeaderExtractor, HeaderInjector};
/// use tracing_opentelemetry::OpenTelemetrySpanExt as _;
///
/// struct Otel;
///
/// impl connect_layers::observe::Propagator for Otel {
///     fn extract(&self, headers: &http::HeaderMap, span: &tracing::Span) {
///         let cx = global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(headers)));
///         let _ = span.set_parent(cx);
///     }
///     fn inject(&self, span: &tracing::Span, headers: &mut http::HeaderMap) {
///         let cx = span.context();
///         global::get_text_map_propagator(|p| p.inject_context(&cx, &mut HeaderInjector(headers)));
///     }
/// }
///
/// connect_layers::observe::set_propagator(Otel).unwrap();
/// ```
pub trait Propagator: Send + Sync + 'static {
    /// Server side: `span` was just created for a call arriving with
    /// `headers`; set its remote parent. Called before the handler runs.
    fn extract(&self, headers: &HeaderMap, span: &Span) {
        let _ = (headers, span);
    }

    /// Client side: `span` was just created for an outgoing call; add its
    /// context (`traceparent`, `tracestate`, baggage) to `headers`.
    fn inject(&self, span: &Span, headers: &mut HeaderMap) {
        let _ = (span, headers);
    }
}

/// Which end of a call is observed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// A call this process serves.
    Server,
    /// A call this process makes.
    Client,
}

impl Side {
    /// `"server"` or `"client"`, as in `otel.kind`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Side::Server => "server",
            Side::Client => "client",
        }
    }
}

/// What is known about a call when it starts.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct CallInfo {
    /// The method called.
    pub method: &'static MethodDescriptor,
    /// The protocol on the wire.
    pub protocol: Protocol,
    /// Server or client.
    pub side: Side,
}

/// How a call ended: the numbers a metrics backend wants.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct CallSummary {
    /// `Code::Ok`, or the error the call ended with. A call dropped before
    /// it finished ends `canceled` (a server call past its deadline,
    /// `deadline_exceeded`).
    pub code: Code,
    /// From the start of the call to its last response message (or its
    /// error).
    pub duration: Duration,
    /// Request messages sent or received.
    pub request_messages: u64,
    /// Their total size, uncompressed, in bytes.
    pub request_bytes: u64,
    /// Response messages sent or received.
    pub response_messages: u64,
    /// Their total size, uncompressed, in bytes.
    pub response_bytes: u64,
}

/// Receives every call's start and end, for metrics: call counts, a
/// latency histogram, an in-flight gauge and message sizes, labelled by
/// method and code. All the arguments are borrowed or `&'static`
/// (`method.path()`, `code.as_str()`): nothing is allocated to call it.
///
/// See the [module docs](super) for a recipe with the `metrics` crate.
pub trait Observer: Send + Sync + 'static {
    /// A call started (the in-flight gauge goes up).
    fn call_started(&self, call: &CallInfo) {
        let _ = call;
    }

    /// The call ended; called exactly once per started call.
    fn call_finished(&self, call: &CallInfo, summary: &CallSummary);
}

/// The remote address of a connection, when the server puts it in the
/// request extensions; server spans record it as `client.address` and
/// `client.port`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// The authority an HTTP/2 request was sent to (its `:authority`), when the
/// server puts it in the request extensions; server spans record it as
/// `server.address` and `server.port` when there is no `host` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerAuthority(pub http::uri::Authority);

/// The error of setting a hook twice.
#[derive(Debug)]
pub struct AlreadySet(());

impl std::fmt::Display for AlreadySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad("the hook was already set")
    }
}

impl std::error::Error for AlreadySet {}

static PROPAGATOR: OnceLock<Box<dyn Propagator>> = OnceLock::new();
static OBSERVER: OnceLock<Box<dyn Observer>> = OnceLock::new();

/// Registers the process's [`Propagator`]; only the first call succeeds.
pub fn set_propagator(propagator: impl Propagator) -> Result<(), AlreadySet> {
    PROPAGATOR
        .set(Box::new(propagator))
        .map_err(|_| AlreadySet(()))
}

/// Registers the process's [`Observer`]; only the first call succeeds.
pub fn set_observer(observer: impl Observer) -> Result<(), AlreadySet> {
    OBSERVER.set(Box::new(observer)).map_err(|_| AlreadySet(()))
}

pub(crate) fn propagator() -> Option<&'static dyn Propagator> {
    PROPAGATOR.get().map(|p| &**p)
}

pub(crate) fn observer() -> Option<&'static dyn Observer> {
    OBSERVER.get().map(|o| &**o)
}
