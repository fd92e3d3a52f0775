//! The protocol stacks: the concern layers composed in order. A protocol
//! is a composition, not a copy: the three stacks share every layer and
//! differ only in which they include.
//!
//! ```text
//!                Connect          gRPC            gRPC-Web
//!   http::Request<B>
//!     Negotiate   connect         grpc            grpc-web      → Negotiated; 405/415/505
//!     GrpcWebText                                 ✓             base64 text mode both ways
//!     ErrorMap    ✓               ✓               ✓             ConnectError → wire shape
//!     ConnectGet  ✓                                             GET query → POST
//!     Framing     ✓               ✓               ✓             body ⇄ frames, limits
//!   RpcRequest
//!     Deadline    ✓               ✓               ✓             timeout header → deadline
//!     Compression ✓               ✓               ✓             decompress in, compress out
//!   typed service
//! ```

use std::sync::Arc;
use std::time::Duration;

use connect_codec::compression::CompressionRegistry;
use connect_core::Protocol;
use tower_layer::Layer;

use crate::compression::server::{Compression, CompressionLayer};
use crate::deadline::server::{Deadline, DeadlineLayer};
use crate::errors::server::{ErrorMap, ErrorMapLayer};
use crate::framing::DEFAULT_READ_MAX_BYTES;
use crate::framing::server::{Framing, FramingLayer};
use crate::get::server::{ConnectGet, ConnectGetLayer};
use crate::negotiate::server::{Negotiate, NegotiateLayer};
use crate::protocol::{MethodTable, Table};
use crate::web_text::server::{WebText, WebTextLayer};

/// The Connect protocol stack around a service of
/// [`RpcRequest`](crate::rpc::RpcRequest)s.
pub type ConnectService<S> = Negotiate<ErrorMap<ConnectGet<Framing<Deadline<Compression<S>>>>>>;

/// The gRPC protocol stack.
pub type GrpcService<S> = Negotiate<ErrorMap<Framing<Deadline<Compression<S>>>>>;

/// The gRPC-Web protocol stack (binary and text mode).
pub type GrpcWebService<S> = Negotiate<WebText<ErrorMap<Framing<Deadline<Compression<S>>>>>>;

/// The settings every protocol stack shares: receive limit, compression and
/// deadlines.
#[derive(Clone, Debug)]
#[must_use]
pub struct StackConfig {
    read_max_bytes: usize,
    compression: CompressionLayer,
    deadline: DeadlineLayer,
    table: Option<Table>,
}

impl Default for StackConfig {
    fn default() -> Self {
        StackConfig::new()
    }
}

impl StackConfig {
    /// Defaults: 4 MiB receive limit, gzip and zstd, client timeouts
    /// honoured as sent.
    pub fn new() -> Self {
        StackConfig {
            read_max_bytes: DEFAULT_READ_MAX_BYTES,
            compression: CompressionLayer::new(),
            deadline: DeadlineLayer::new(),
            table: None,
        }
    }

    /// Where negotiation finds each request's method (a router passes its
    /// routing table); without one it reads a
    /// [`MethodRoute`](crate::protocol::MethodRoute) extension.
    pub fn method_table(mut self, table: Arc<dyn MethodTable>) -> Self {
        self.table = Some(Table(table));
        self
    }

    fn negotiate(&self, protocol: Protocol) -> NegotiateLayer {
        let layer = NegotiateLayer::for_protocol(protocol);
        match &self.table {
            Some(Table(t)) => layer.with_table(t.clone()),
            None => layer,
        }
    }

    /// The largest request message accepted, on the wire and after
    /// decompression.
    pub fn read_max_bytes(mut self, limit: usize) -> Self {
        self.read_max_bytes = limit;
        self.compression = self.compression.read_max_bytes(limit);
        self
    }

    /// The compression algorithms on offer.
    pub fn compression(mut self, registry: CompressionRegistry) -> Self {
        self.compression = self.compression.registry(registry);
        self
    }

    /// Leaves responses smaller than `min` bytes uncompressed (default
    /// [`DEFAULT_COMPRESS_MIN_BYTES`](crate::compression::server::DEFAULT_COMPRESS_MIN_BYTES),
    /// 1 KiB; `0` compresses every response the client accepts compressed).
    pub fn compress_min_bytes(mut self, min: usize) -> Self {
        self.compression = self.compression.compress_min_bytes(min);
        self
    }

    /// Caps every call's deadline at `max` (and applies it to calls without
    /// one).
    pub fn max_timeout(mut self, max: Duration) -> Self {
        self.deadline = self.deadline.max_timeout(max);
        self
    }

    /// The layers below negotiation that every protocol shares.
    fn common<S>(&self, inner: S) -> Framing<Deadline<Compression<S>>> {
        let svc = self.compression.layer(inner);
        let svc = self.deadline.layer(svc);
        FramingLayer::new()
            .read_max_bytes(self.read_max_bytes)
            .layer(svc)
    }
}

macro_rules! stack_layer {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default)]
        #[must_use]
        pub struct $name {
            config: StackConfig,
        }

        impl $name {
            /// The stack with default settings (see [`StackConfig::new`]).
            pub fn new() -> Self {
                $name {
                    config: StackConfig::new(),
                }
            }

            /// The stack with `config`.
            pub fn from_config(config: StackConfig) -> Self {
                $name { config }
            }

            /// The stack's settings.
            pub fn config(&self) -> &StackConfig {
                &self.config
            }

            /// See [`StackConfig::read_max_bytes`].
            pub fn read_max_bytes(mut self, limit: usize) -> Self {
                self.config = self.config.read_max_bytes(limit);
                self
            }

            /// See [`StackConfig::compression`].
            pub fn compression(mut self, registry: CompressionRegistry) -> Self {
                self.config = self.config.compression(registry);
                self
            }

            /// See [`StackConfig::compress_min_bytes`].
            pub fn compress_min_bytes(mut self, min: usize) -> Self {
                self.config = self.config.compress_min_bytes(min);
                self
            }

            /// See [`StackConfig::max_timeout`].
            pub fn max_timeout(mut self, max: Duration) -> Self {
                self.config = self.config.max_timeout(max);
                self
            }
        }
    };
}

stack_layer! {
    /// A layer building the whole Connect protocol stack, configured once.
    ///
    /// ```
    /// use connect_layers::stack::server::ConnectLayer;
    ///
    /// let layer = ConnectLayer::new()
    ///     .read_max_bytes(1 << 20)
    ///     .compress_min_bytes(1024);
    /// # let _ = layer;
    /// ```
    ConnectLayer
}

stack_layer! {
    /// A layer building the gRPC protocol stack.
    GrpcLayer
}

stack_layer! {
    /// A layer building the gRPC-Web protocol stack (binary and text).
    GrpcWebLayer
}

impl<S> Layer<S> for ConnectLayer {
    type Service = ConnectService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        let svc = ConnectGetLayer::new().layer(self.config.common(inner));
        let svc = ErrorMapLayer::new().layer(svc);
        self.config.negotiate(Protocol::Connect).layer(svc)
    }
}

impl<S> Layer<S> for GrpcLayer {
    type Service = GrpcService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        let svc = ErrorMapLayer::new().layer(self.config.common(inner));
        self.config.negotiate(Protocol::Grpc).layer(svc)
    }
}

impl<S> Layer<S> for GrpcWebLayer {
    type Service = GrpcWebService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        let svc = ErrorMapLayer::new().layer(self.config.common(inner));
        let svc = WebTextLayer::new().layer(svc);
        self.config.negotiate(Protocol::GrpcWeb).layer(svc)
    }
}

impl From<ConnectLayer> for StackConfig {
    fn from(layer: ConnectLayer) -> Self {
        layer.config
    }
}

impl From<GrpcLayer> for StackConfig {
    fn from(layer: GrpcLayer) -> Self {
        layer.config
    }
}

impl From<GrpcWebLayer> for StackConfig {
    fn from(layer: GrpcWebLayer) -> Self {
        layer.config
    }
}
