//! The protocol stacks: the concern layers composed in order.
//!
//! ```text
//!   http::Request<B>
//!     Negotiate      content-type / GET → Negotiated; 405 / 415 otherwise
//!     ErrorMap       ConnectError → the protocol's error shape
//!     ConnectGet     GET query → the equivalent POST
//!     Framing        body ⇄ frames (receive limit)
//!   RpcRequest
//!     Deadline       timeout header → deadline; expiry → deadline_exceeded
//!     Compression    decompress in (bounded), compress out
//!   typed service
//! ```

use std::time::Duration;

use connect_codec::compression::CompressionRegistry;
use tower_layer::Layer;

use crate::compression::{Compression, CompressionLayer};
use crate::deadline::{Deadline, DeadlineLayer};
use crate::error_map::{ErrorMap, ErrorMapLayer};
use crate::framing::{DEFAULT_READ_MAX_BYTES, Framing, FramingLayer};
use crate::get::{ConnectGet, ConnectGetLayer};
use crate::negotiate::{Negotiate, NegotiateLayer};

/// The Connect protocol stack around a service of
/// [`RpcRequest`](crate::rpc::RpcRequest)s.
pub type ConnectService<S> = Negotiate<ErrorMap<ConnectGet<Framing<Deadline<Compression<S>>>>>>;

/// A layer building the whole Connect protocol stack, configured once.
///
/// ```
/// use connect_layers::stack::ConnectLayer;
///
/// let layer = ConnectLayer::new()
///     .read_max_bytes(1 << 20)
///     .compress_min_bytes(1024);
/// # let _ = layer;
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct ConnectLayer {
    read_max_bytes: usize,
    compression: CompressionLayer,
    deadline: DeadlineLayer,
}

impl Default for ConnectLayer {
    fn default() -> Self {
        ConnectLayer::new()
    }
}

impl ConnectLayer {
    /// The stack with default settings: 4 MiB receive limit, gzip and zstd,
    /// client timeouts honoured as sent.
    pub fn new() -> Self {
        ConnectLayer {
            read_max_bytes: DEFAULT_READ_MAX_BYTES,
            compression: CompressionLayer::new(),
            deadline: DeadlineLayer::new(),
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

    /// Leaves responses smaller than `min` bytes uncompressed.
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
}

impl<S> Layer<S> for ConnectLayer {
    type Service = ConnectService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        let svc = self.compression.layer(inner);
        let svc = self.deadline.layer(svc);
        let svc = FramingLayer::new()
            .read_max_bytes(self.read_max_bytes)
            .layer(svc);
        let svc = ConnectGetLayer::new().layer(svc);
        let svc = ErrorMapLayer::new().layer(svc);
        NegotiateLayer::new().layer(svc)
    }
}
