//! Framing: the call's message [`Frame`](crate::rpc::Frame)s to and from
//! the protocol's HTTP body — a bare body (Connect unary) or 5-byte
//! envelopes, and the protocol's end of the call (Connect's end-stream
//! message, gRPC's HTTP trailers, gRPC-Web's trailer frame).
//!
//! - [`server`]: request bodies become frames (read whole for unary and
//!   server-streaming calls, decoded envelope by envelope otherwise);
//!   response frames become the body;
//! - [`client`]: request frames become the body; the response body becomes
//!   frames and trailers.
//!
//! Shared by both: envelopes are written by
//! [`Frame::into_envelope`](crate::rpc::Frame::into_envelope) and read by
//! `connect_codec::envelope`; whole bodies are collected by one bounded
//! accumulator; the receive limit defaults to [`DEFAULT_READ_MAX_BYTES`];
//! a Connect unary answer's trailers travel as `trailer-` headers
//! ([`copy_metadata`] writes them, [`take_trailer_headers`] reads them).

pub mod client;
pub mod server;

use bytes::{Buf, Bytes, BytesMut};
use connect_core::metadata;
use http::{HeaderMap, HeaderName};

pub use crate::rpc::DEFAULT_READ_MAX_BYTES;

/// Accumulates a whole body without copying when it arrives in one chunk.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    first: Option<Bytes>,
    rest: Option<BytesMut>,
    len: usize,
}

impl Collected {
    /// Adds a chunk; `false` if the total passed `limit`.
    pub(crate) fn push(&mut self, mut chunk: impl Buf, limit: usize) -> bool {
        let n = chunk.remaining();
        self.len = self.len.saturating_add(n);
        if self.len > limit {
            return false;
        }
        if n == 0 {
            return true;
        }
        match (&mut self.first, &mut self.rest) {
            (None, _) => self.first = Some(chunk.copy_to_bytes(n)),
            (Some(first), None) => {
                let mut buf = BytesMut::with_capacity(self.len);
                buf.extend_from_slice(first);
                buf.extend_from_slice(&chunk.copy_to_bytes(n));
                self.rest = Some(buf);
            }
            (Some(_), Some(buf)) => buf.extend_from_slice(&chunk.copy_to_bytes(n)),
        }
        true
    }

    /// The whole body, leaving this empty (no copy when it came in one
    /// chunk).
    pub(crate) fn take(&mut self) -> Bytes {
        std::mem::take(self).into_bytes()
    }

    /// The whole body (no copy when it came in one chunk).
    pub(crate) fn into_bytes(self) -> Bytes {
        match (self.first, self.rest) {
            (_, Some(buf)) => buf.freeze(),
            (Some(first), None) => first,
            (None, None) => Bytes::new(),
        }
    }
}

/// The `trailer-` prefix Connect unary answers carry trailers under.
const TRAILER_PREFIX: &str = "trailer-";

/// Copies `src`'s entries into `dst` as metadata: protocol headers are
/// left out; with `trailer_prefix`, each name gains Connect's `trailer-`
/// prefix (a unary answer's trailers travel as headers). The reverse of
/// [`take_trailer_headers`].
pub fn copy_metadata(dst: &mut HeaderMap, src: &HeaderMap, trailer_prefix: bool) {
    for (name, value) in src {
        if metadata::is_protocol_header(name.as_str()) {
            continue;
        }
        if trailer_prefix {
            let prefixed = format!("{TRAILER_PREFIX}{}", name.as_str());
            if let Ok(n) = HeaderName::try_from(prefixed) {
                dst.append(n, value.clone());
            }
        } else {
            dst.append(name.clone(), value.clone());
        }
    }
}

/// Moves `trailer-` headers into their own map, prefix stripped.
pub fn take_trailer_headers(headers: &mut HeaderMap) -> HeaderMap {
    let mut trailers = HeaderMap::new();
    let names: Vec<_> = headers
        .keys()
        .filter(|k| k.as_str().starts_with(TRAILER_PREFIX))
        .cloned()
        .collect();
    for name in names {
        if let Ok(stripped) =
            http::HeaderName::from_bytes(&name.as_str().as_bytes()[TRAILER_PREFIX.len()..])
        {
            for v in headers.get_all(&name) {
                trailers.append(stripped.clone(), v.clone());
            }
        }
        headers.remove(&name);
    }
    trailers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_without_copying_one_chunk_and_stops_at_the_limit() {
        let one = Bytes::from_static(b"hello");
        let mut c = Collected::default();
        assert!(c.push(one.clone(), 5));
        let got = c.take();
        assert_eq!(got.as_ptr(), one.as_ptr(), "one chunk is not copied");
        let mut c = Collected::default();
        assert!(c.push(Bytes::from_static(b"ab"), 4));
        assert!(c.push(Bytes::from_static(b"cd"), 4));
        assert!(!c.push(Bytes::from_static(b"e"), 4));
        let mut c = Collected::default();
        assert!(c.push(Bytes::from_static(b"ab"), 4));
        assert!(c.push(Bytes::from_static(b""), 4));
        assert!(c.push(Bytes::from_static(b"cd"), 4));
        assert_eq!(&c.into_bytes()[..], b"abcd");
    }

    #[test]
    fn trailers_written_by_the_server_are_read_back_by_the_client() {
        let mut trailers = HeaderMap::new();
        trailers.insert("x-count", "3".parse().unwrap());
        trailers.insert("grpc-status", "0".parse().unwrap()); // protocol, not metadata
        let mut headers = HeaderMap::new();
        headers.insert("x-head", "1".parse().unwrap());
        copy_metadata(&mut headers, &trailers, true);
        assert_eq!(headers["trailer-x-count"], "3");
        assert!(!headers.contains_key("trailer-grpc-status"));
        let read = take_trailer_headers(&mut headers);
        assert_eq!(read["x-count"], "3");
        assert_eq!(read.len(), 1);
        assert_eq!(headers.len(), 1, "the prefixed entries leave the headers");
    }
}
