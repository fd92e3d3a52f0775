//! Compression, both ways: each side compresses what it sends with the
//! call's encoding, advertises what it accepts, and decompresses what it
//! receives within the receive limit.
//!
//! - [`server`]: request encoding checked (`unimplemented` with the
//!   accepted list), request frames decompressed, the response encoding
//!   negotiated from the client's accept list, response frames compressed;
//! - [`client`]: request frames compressed with the call's send encoding,
//!   the accept list sent, response frames decompressed with the encoding
//!   the server named.
//!
//! The rules are written once, here: [`compress`], [`decompress`] and the
//! accept value ([`accept_value`]). Where each protocol names its
//! encodings is [`protocol::encoding_headers`](crate::protocol::encoding_headers);
//! Connect unary compresses the whole body (one frame), the others each
//! envelope.
//!
//! ```
//! use bytes::Bytes;
//! use connect_codec::compression::CompressionRegistry;
//! use connect_core::Code;
//! use connect_layers::compression::{compress, decompress};
//! use connect_layers::rpc::Frame;
//!
//! let registry = CompressionRegistry::new();
//! let frame = Frame::new(Bytes::from(vec![b'a'; 100]));
//! let sent = compress(&registry, "gzip", frame.clone(), 0).unwrap();
//! assert!(sent.compressed);
//! assert_eq!(decompress(&registry, Some("gzip"), sent.clone(), 100).unwrap(), frame);
//! // Inflating past the receive limit: resource_exhausted.
//! let err = decompress(&registry, Some("gzip"), sent, 99).unwrap_err();
//! assert_eq!(err.code(), Code::ResourceExhausted);
//! ```

pub mod client;
pub mod server;

use connect_codec::compression::CompressionRegistry;
use connect_core::ConnectError;
use http::HeaderValue;

use crate::rpc::Frame;

/// The registry's encodings as an accept header value (`gzip, zstd`),
/// `None` when it offers none. Built once per layer; the value holds
/// `'static` bytes, so cloning it onto every call touches no reference
/// count.
pub fn accept_value(registry: &CompressionRegistry) -> Option<HeaderValue> {
    let names = registry.accept_encoding();
    (!names.is_empty() && HeaderValue::from_str(names).is_ok())
        .then(|| HeaderValue::from_static(intern(names)))
}

/// A `'static` copy of `s`, made once per distinct string. Registries are
/// configured a handful of times per process, so the set stays tiny.
fn intern(s: &str) -> &'static str {
    static INTERNED: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let mut set = INTERNED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(found) = set.iter().find(|x| **x == s) {
        return found;
    }
    let leaked: &'static str = Box::leak(s.to_owned().into_boxed_str());
    set.push(leaked);
    leaked
}

/// Compresses a frame to send with `encoding`, unless it is already
/// compressed or smaller than `min_bytes`.
///
/// # Errors
///
/// `internal` if the encoder fails, or `encoding` is not in `registry`.
pub fn compress(
    registry: &CompressionRegistry,
    encoding: &str,
    frame: Frame,
    min_bytes: usize,
) -> Result<Frame, ConnectError> {
    let payload = frame.payload();
    if frame.compressed || payload.len() < min_bytes {
        return Ok(frame);
    }
    Ok(Frame {
        data: registry.compress(encoding, payload)?,
        compressed: true,
        prefixed: false,
    })
}

/// Decompresses a received frame sent with `encoding` (`None`: the peer
/// named none, or identity), bounded by `limit` bytes.
///
/// The same rules on both sides: a frame inflating past `limit` is
/// `resource_exhausted` (an uncompressed one passes as it is: framing
/// checked its length against the same limit before buffering it, on
/// both sides); a compressed flag
/// with no encoding is a protocol error (`internal`), even on an empty
/// message; an empty compressed frame is the empty message (a zero-length
/// payload has no compressed form to decode).
///
/// # Errors
///
/// As above; a stream that fails to decode is the registry's error
/// (`invalid_argument`), which a client reports as `internal`.
pub fn decompress(
    registry: &CompressionRegistry,
    encoding: Option<&'static str>,
    frame: Frame,
    limit: usize,
) -> Result<Frame, ConnectError> {
    if !frame.compressed {
        // Framing bounded it already, on both sides, before buffering.
        return Ok(frame);
    }
    let Some(name) = encoding else {
        return Err(ConnectError::internal(
            "protocol error: received a compressed message without an encoding",
        ));
    };
    if frame.payload().is_empty() {
        return Ok(Frame::new(bytes::Bytes::new()));
    }
    registry
        .decompress(name, frame.payload(), limit)
        .map(Frame::new)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use connect_core::Code;

    use super::*;

    #[test]
    fn accept_values_are_interned_once() {
        let a = accept_value(&CompressionRegistry::new()).unwrap();
        let b = accept_value(&CompressionRegistry::new()).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_bytes().as_ptr(), b.as_bytes().as_ptr());
        assert_eq!(accept_value(&CompressionRegistry::empty()), None);
    }

    #[test]
    fn edge_frames() {
        let r = CompressionRegistry::new();
        let empty = Frame {
            compressed: true,
            ..Frame::default()
        };
        assert_eq!(
            decompress(&r, Some("gzip"), empty.clone(), 10).unwrap(),
            Frame::default()
        );
        let err = decompress(&r, None, empty, 10).unwrap_err();
        assert_eq!(err.code(), Code::Internal);
        // Uncompressed frames pass: framing bounds them.
        let big = Frame::new(Bytes::from_static(b"12345"));
        assert_eq!(decompress(&r, None, big.clone(), 4).unwrap(), big);
        let small = Frame::new(Bytes::from_static(b"1"));
        assert_eq!(compress(&r, "gzip", small.clone(), 2).unwrap(), small);
    }

    fn compressed(data: &'static [u8]) -> Frame {
        Frame {
            data: Bytes::from_static(data),
            compressed: true,
            prefixed: false,
        }
    }

    #[test]
    fn compressed_flag_without_encoding_is_internal_even_when_empty() {
        let registry = CompressionRegistry::new();
        for data in [&b""[..], &b"\x0a\x01a"[..]] {
            let err = decompress(&registry, None, compressed(data), 1024).unwrap_err();
            assert_eq!(err.code(), Code::Internal, "{data:?}");
        }
    }

    #[test]
    fn empty_compressed_frame_with_an_encoding_is_the_empty_message() {
        let registry = CompressionRegistry::new();
        let frame = decompress(&registry, Some("gzip"), compressed(b""), 1024).unwrap();
        assert!(frame.data.is_empty());
        assert!(!frame.compressed);
        let frame = decompress(&registry, None, Frame::new(Bytes::new()), 1024).unwrap();
        assert!(frame.data.is_empty());
    }
}
