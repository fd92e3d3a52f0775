//! The protocol-neutral middle of a call: what flows between the
//! protocol layers and the typed code on each side.
//!
//! - shared: one message on the wire ([`Frame`]) and a request's messages
//!   ([`RequestMessages`]: one buffer for unary calls, a stream of frames
//!   otherwise), which both halves read and write;
//! - [`server`]: what framing hands the typed service ([`RpcRequest`]) and
//!   what it answers ([`RpcResponse`]), and the handler's [`Context`];
//! - [`client`]: what a generated client hands the client stack
//!   ([`ClientRequest`]) and what comes back ([`ClientResponse`]).
//!
//! Nothing here knows which protocol is on the wire.

pub mod client;
pub mod server;

use std::fmt;
use std::pin::Pin;

use bytes::Bytes;
use connect_core::{ConnectError, flags};
use futures_core::Stream;

/// The default receive limit, on both sides: 4 MiB, the gRPC convention.
pub const DEFAULT_READ_MAX_BYTES: usize = 4 * 1024 * 1024;

pub use self::client::{
    CallSettings, ClientRequest, ClientResponse, ItemStream, ResponseFrames, StreamItem, Trailers,
};
pub use self::server::{
    Context, NamedService, RequestHead, ResponseMessages, RpcRequest, RpcResponse, RpcService,
};

/// One message on the wire, possibly still compressed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frame {
    /// The encoded (and, if `compressed`, compressed) message.
    pub data: Bytes,
    /// Whether `data` is compressed with the call's negotiated encoding.
    pub compressed: bool,
    /// Whether `data` already starts with the 5-byte envelope prefix for
    /// itself (flags `0`), written when the message was encoded, so the
    /// body sends it as is instead of copying it behind a new prefix.
    pub prefixed: bool,
}

impl Frame {
    /// The message, without any envelope prefix written at encode time.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        if self.prefixed {
            &self.data[connect_core::ENVELOPE_PREFIX_LEN..]
        } else {
            &self.data
        }
    }

    /// The message as an owned buffer, without any prefix (no copy).
    #[inline]
    pub fn into_payload(self) -> Bytes {
        if self.prefixed {
            self.data.slice(connect_core::ENVELOPE_PREFIX_LEN..)
        } else {
            self.data
        }
    }

    /// An uncompressed frame.
    pub fn new(data: Bytes) -> Self {
        Frame {
            data,
            compressed: false,
            prefixed: false,
        }
    }
}

/// A boxed, sendable stream of message frames.
pub type FrameStream = Pin<Box<dyn Stream<Item = Result<Frame, ConnectError>> + Send>>;

/// The messages of a request.
pub enum RequestMessages {
    /// Exactly one message, fully buffered: the unary fast path.
    Unary(Frame),
    /// A stream of messages, ending at the end of the request body.
    Stream(FrameStream),
}

impl fmt::Debug for RequestMessages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestMessages::Unary(frame) => f.debug_tuple("Unary").field(frame).finish(),
            RequestMessages::Stream(_) => f.write_str("Stream(..)"),
        }
    }
}

impl Frame {
    /// The frame behind its envelope prefix, with `end_flags` (such as an
    /// end-of-stream bit) added to the compressed bit: the bytes as encoded
    /// when the prefix was written at encode time, else the payload copied
    /// behind a new prefix. Both sides write envelopes through this.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use connect_layers::rpc::Frame;
    ///
    /// let wire = Frame::new(Bytes::from_static(b"hi")).into_envelope(0);
    /// assert_eq!(&wire[..], b"\0\0\0\0\x02hi");
    /// ```
    pub fn into_envelope(self, end_flags: u8) -> Bytes {
        let compressed = if self.compressed {
            flags::COMPRESSED
        } else {
            0
        };
        if self.prefixed && compressed == 0 && end_flags == 0 {
            return self.data;
        }
        connect_codec::envelope::encode_envelope(compressed | end_flags, self.payload())
    }
}
