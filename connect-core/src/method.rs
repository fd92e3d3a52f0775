//! Static descriptions of RPC methods.

/// The four kinds of RPC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StreamType {
    /// One request, one response.
    Unary,
    /// Many requests, one response.
    ClientStream,
    /// One request, many responses.
    ServerStream,
    /// Many requests, many responses.
    BidiStream,
}

impl StreamType {
    /// Whether the client sends a stream of messages.
    pub const fn client_streams(self) -> bool {
        matches!(self, StreamType::ClientStream | StreamType::BidiStream)
    }

    /// Whether the server sends a stream of messages.
    pub const fn server_streams(self) -> bool {
        matches!(self, StreamType::ServerStream | StreamType::BidiStream)
    }
}

/// A method's `idempotency_level` option.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Idempotency {
    /// No guarantee (the default).
    #[default]
    Unknown,
    /// The method has no side effects: Connect allows it over `GET`.
    NoSideEffects,
    /// Calling the method twice has the same effect as calling it once.
    Idempotent,
}

/// Everything the protocol layers need to know about one method.
///
/// Generated code declares one `const` per method:
///
/// ```
/// use connect_core::{Idempotency, MethodDescriptor, StreamType};
///
/// const GREET: MethodDescriptor = MethodDescriptor::new(
///     "greet.v1.GreetService",
///     "Greet",
///     "/greet.v1.GreetService/Greet",
///     StreamType::Unary,
///     Idempotency::NoSideEffects,
/// );
/// assert!(GREET.allows_get());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MethodDescriptor {
    service: &'static str,
    method: &'static str,
    path: &'static str,
    stream_type: StreamType,
    idempotency: Idempotency,
}

impl MethodDescriptor {
    /// Describes `service`/`method` (fully-qualified service name, method
    /// name) served at `path` (`/<service>/<method>`).
    pub const fn new(
        service: &'static str,
        method: &'static str,
        path: &'static str,
        stream_type: StreamType,
        idempotency: Idempotency,
    ) -> Self {
        MethodDescriptor {
            service,
            method,
            path,
            stream_type,
            idempotency,
        }
    }

    /// The fully-qualified service name (`greet.v1.GreetService`).
    pub const fn service(&self) -> &'static str {
        self.service
    }

    /// The method name (`Greet`).
    pub const fn method(&self) -> &'static str {
        self.method
    }

    /// The HTTP path (`/greet.v1.GreetService/Greet`).
    pub const fn path(&self) -> &'static str {
        self.path
    }

    /// The method's stream type.
    pub const fn stream_type(&self) -> StreamType {
        self.stream_type
    }

    /// The method's idempotency level.
    pub const fn idempotency(&self) -> Idempotency {
        self.idempotency
    }

    /// Whether Connect may call this method with `GET`.
    pub const fn allows_get(&self) -> bool {
        matches!(self.idempotency, Idempotency::NoSideEffects)
            && matches!(self.stream_type, StreamType::Unary)
    }
}
