//! The protocol-neutral client request and response: what the generated
//! client hands the stack, and what comes back.

use std::fmt;
use std::pin::Pin;
use std::time::Duration;

use connect_core::{ConnectError, MethodDescriptor};
use futures_core::Stream;
use http::{Extensions, HeaderMap};

use crate::rpc::{Frame, RequestMessages};

/// The settings of one call: the client's defaults with the call's own
/// options applied over them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallSettings {
    /// How long the call may take, header included on the wire.
    pub timeout: Option<Duration>,
    /// The encoding to compress request messages with (`None`: identity).
    pub send_compression: Option<&'static str>,
    /// Request messages smaller than this are sent uncompressed.
    pub compress_min_bytes: usize,
    /// The largest response message accepted, after decompression.
    pub read_max_bytes: usize,
    /// The largest request message sent, after compression.
    pub send_max_bytes: usize,
}

impl Default for CallSettings {
    fn default() -> Self {
        CallSettings {
            timeout: None,
            send_compression: None,
            compress_min_bytes: 0,
            read_max_bytes: super::DEFAULT_READ_MAX_BYTES,
            send_max_bytes: usize::MAX,
        }
    }
}

/// A protocol-neutral client call on its way down the stack.
pub struct ClientRequest {
    /// The method being called.
    pub method: &'static MethodDescriptor,
    /// Request headers: the caller's metadata, and what the layers add.
    pub headers: HeaderMap,
    /// Extensions, copied onto the HTTP request for the channel's layers.
    pub extensions: Extensions,
    /// The call's settings.
    pub settings: CallSettings,
    /// The request messages.
    pub messages: RequestMessages,
}

impl fmt::Debug for ClientRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientRequest")
            .field("method", &self.method.path())
            .field("headers", &self.headers)
            .field("settings", &self.settings)
            .field("messages", &self.messages)
            .finish_non_exhaustive()
    }
}

/// One item of a streamed response: a message, or (last) the trailers of
/// a call that ended well. A call that failed ends with an `Err` carrying
/// the trailers in [`ConnectError::trailers`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamItem {
    /// One response message, possibly still compressed.
    Message(Frame),
    /// The trailers of a successful call; nothing follows.
    Trailers(Trailers),
}

/// The trailers that end a streamed response well: a header map, held
/// boxed and only when it has entries, so that a [`StreamItem`] stays the
/// size of a message frame (every message of a stream is moved through
/// the reader's layers as an item; a header map inline would triple it).
/// The common end, no trailers, allocates nothing.
///
/// ```
/// use connect_layers::rpc::client::Trailers;
/// use http::HeaderMap;
///
/// assert!(Trailers::default().is_empty());
/// let mut map = HeaderMap::new();
/// map.insert("x-served-by", "a".parse().unwrap());
/// let trailers = Trailers::from(map);
/// assert_eq!(trailers.get("x-served-by").unwrap(), "a");
/// assert_eq!(trailers.into_map().len(), 1);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trailers(Option<Box<HeaderMap>>);

impl Trailers {
    /// Whether there are no trailers.
    pub fn is_empty(&self) -> bool {
        self.0.as_ref().is_none_or(|m| m.is_empty())
    }

    /// The value of trailer `name`, if present (the first, if repeated).
    pub fn get(&self, name: impl http::header::AsHeaderName) -> Option<&http::HeaderValue> {
        self.0.as_ref()?.get(name)
    }

    /// The trailers as a header map (empty if there are none).
    pub fn into_map(self) -> HeaderMap {
        self.0.map(|m| *m).unwrap_or_default()
    }
}

impl From<HeaderMap> for Trailers {
    fn from(map: HeaderMap) -> Self {
        if map.is_empty() {
            Trailers(None)
        } else {
            Trailers(Some(Box::new(map)))
        }
    }
}

/// A boxed stream of response items.
pub type ItemStream = Pin<Box<dyn Stream<Item = Result<StreamItem, ConnectError>> + Send>>;

/// The messages of a response.
pub enum ResponseFrames {
    /// Exactly one message and the trailers: unary and client-stream calls,
    /// read whole.
    Unary {
        /// The message.
        frame: Frame,
        /// The trailers.
        trailers: HeaderMap,
    },
    /// Server-stream and bidi calls: messages as they arrive, then
    /// trailers (or an error).
    Stream(ItemStream),
}

impl fmt::Debug for ResponseFrames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseFrames::Unary { frame, trailers } => f
                .debug_struct("Unary")
                .field("frame", frame)
                .field("trailers", trailers)
                .finish(),
            ResponseFrames::Stream(_) => f.write_str("Stream(..)"),
        }
    }
}

/// A protocol-neutral client response.
#[derive(Debug)]
pub struct ClientResponse {
    /// The response headers (protocol headers included).
    pub headers: HeaderMap,
    /// The response messages and trailers.
    pub messages: ResponseFrames,
}
