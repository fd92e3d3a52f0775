//! The 5-byte envelope: one flag byte, a big-endian `u32` length, payload.
//!
//! This module knows only the prefix and the compressed bit; each protocol
//! gives the other flag bits their meaning.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use connect_core::{ConnectError, ENVELOPE_PREFIX_LEN};

/// One decoded envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// The flag byte.
    pub flags: u8,
    /// The payload, exactly as it was on the wire.
    pub data: Bytes,
}

/// Incremental envelope decoder.
///
/// Feed it body chunks with [`push`](Self::push) and take envelopes out with
/// [`next_envelope`](Self::next_envelope). A length over the limit is
/// rejected as soon as the prefix is read, before any payload is buffered.
///
/// ```
/// use bytes::Bytes;
/// use connect_codec::envelope::{EnvelopeDecoder, encode_envelope};
///
/// let wire = encode_envelope(0, b"hello");
/// let mut dec = EnvelopeDecoder::new(1024);
/// dec.push(wire.slice(..3));
/// assert!(dec.next_envelope().unwrap().is_none()); // prefix incomplete
/// dec.push(wire.slice(3..));
/// let env = dec.next_envelope().unwrap().unwrap();
/// assert_eq!(&env.data[..], b"hello");
/// assert!(dec.is_empty());
/// ```
#[derive(Debug)]
pub struct EnvelopeDecoder {
    /// The chunk being read, while every envelope in it is whole: its
    /// envelopes are sliced off it, not copied.
    head: Bytes,
    /// Bytes of an envelope that spans chunks, copied together.
    buf: BytesMut,
    limit: usize,
}

impl EnvelopeDecoder {
    /// A decoder that refuses payloads longer than `limit` bytes.
    pub fn new(limit: usize) -> Self {
        EnvelopeDecoder {
            head: Bytes::new(),
            buf: BytesMut::new(),
            limit,
        }
    }

    /// Appends a body chunk. A chunk arriving with nothing buffered is
    /// kept as it is (no copy, for `Bytes`); bytes of an envelope split
    /// across chunks are copied together.
    pub fn push(&mut self, mut chunk: impl Buf) {
        if self.head.is_empty() && self.buf.is_empty() {
            self.head = chunk.copy_to_bytes(chunk.remaining());
        } else {
            self.spill();
            self.buf.put(chunk);
        }
    }

    /// Moves what is left of the head chunk into the copy buffer.
    fn spill(&mut self) {
        if !self.head.is_empty() {
            let head = std::mem::take(&mut self.head);
            self.buf.put(head);
        }
    }

    /// Whether no bytes are buffered (a clean end of stream).
    pub fn is_empty(&self) -> bool {
        self.head.is_empty() && self.buf.is_empty()
    }

    /// The next envelope, if it lies whole in the chunk being read, within
    /// the limit, and its flags have no bit outside `allowed`: the common
    /// case of a stream of messages, taken without building a `Result`. `None` leaves everything as it was; call
    /// [`next_envelope`](Self::next_envelope) then, which reports what this
    /// does not (a length over the limit, an envelope that spans chunks,
    /// other flags).
    ///
    /// ```
    /// use connect_codec::envelope::{EnvelopeDecoder, encode_envelope};
    ///
    /// let mut dec = EnvelopeDecoder::new(1024);
    /// dec.push(encode_envelope(0x02, b"end"));
    /// assert!(dec.next_ready(0x01).is_none()); // flag 0x02 not allowed
    /// let env = dec.next_ready(0x03).unwrap();
    /// assert_eq!((env.flags, &env.data[..]), (0x02, &b"end"[..]));
    /// ```
    #[inline]
    pub fn next_ready(&mut self, allowed: u8) -> Option<Envelope> {
        let len = peek_len(&self.head)?;
        let flags = self.head[0];
        if flags & !allowed != 0 || len > self.limit || self.head.len() < ENVELOPE_PREFIX_LEN + len
        {
            return None;
        }
        let mut data = self.head.split_to(ENVELOPE_PREFIX_LEN + len);
        data.advance(ENVELOPE_PREFIX_LEN);
        Some(Envelope { flags, data })
    }

    /// The next complete envelope, `None` if more bytes are needed, or
    /// `resource_exhausted` if the announced length is over the limit.
    #[inline]
    pub fn next_envelope(&mut self) -> Result<Option<Envelope>, ConnectError> {
        if !self.head.is_empty() {
            let Some(len) = peek_len(&self.head) else {
                self.spill();
                return Ok(None);
            };
            if len > self.limit {
                return Err(too_large(len, self.limit));
            }
            if self.head.len() < ENVELOPE_PREFIX_LEN + len {
                self.spill();
                return self.next_buffered(len);
            }
            let flags = self.head[0];
            let mut data = self.head.split_to(ENVELOPE_PREFIX_LEN + len);
            data.advance(ENVELOPE_PREFIX_LEN);
            return Ok(Some(Envelope { flags, data }));
        }
        let Some(len) = peek_len(&self.buf) else {
            return Ok(None);
        };
        if len > self.limit {
            return Err(too_large(len, self.limit));
        }
        self.next_buffered(len)
    }

    /// The envelope of `len` bytes at the start of the copy buffer, if it
    /// is all there.
    fn next_buffered(&mut self, len: usize) -> Result<Option<Envelope>, ConnectError> {
        if self.buf.len() < ENVELOPE_PREFIX_LEN + len {
            // Room for what is announced, but never far ahead of what has
            // arrived: a peer must send bytes to make us hold them.
            let missing = ENVELOPE_PREFIX_LEN + len - self.buf.len();
            self.buf.reserve(missing.min(RESERVE_AHEAD));
            return Ok(None);
        }
        let flags = self.buf[0];
        self.buf.advance(ENVELOPE_PREFIX_LEN);
        let data = self.buf.split_to(len).freeze();
        Ok(Some(Envelope { flags, data }))
    }

    /// Called at end of body: an error if a partial envelope is buffered.
    pub fn finish(&self) -> Result<(), ConnectError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(ConnectError::invalid_argument(format!(
                "protocol error: incomplete envelope: {} trailing bytes",
                self.head.len() + self.buf.len()
            )))
        }
    }
}

/// The most an incomplete envelope reserves beyond the bytes buffered.
const RESERVE_AHEAD: usize = 256 * 1024;

#[inline]
fn peek_len(buf: &[u8]) -> Option<usize> {
    if buf.len() < ENVELOPE_PREFIX_LEN {
        return None;
    }
    let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]);
    Some(len as usize)
}

#[cold]
fn too_large(len: usize, limit: usize) -> ConnectError {
    ConnectError::resource_exhausted(format!(
        "message size {len} is larger than configured max {limit}"
    ))
}

/// Decodes a whole buffer holding exactly one envelope (a unary gRPC body).
pub fn decode_single(mut body: Bytes, limit: usize) -> Result<Option<Envelope>, ConnectError> {
    if body.is_empty() {
        return Ok(None);
    }
    let len = peek_len(&body).ok_or_else(|| {
        ConnectError::invalid_argument("protocol error: incomplete envelope prefix")
    })?;
    if len > limit {
        return Err(too_large(len, limit));
    }
    if body.len() != ENVELOPE_PREFIX_LEN + len {
        return Err(ConnectError::invalid_argument(
            "protocol error: envelope length does not match the body",
        ));
    }
    let flags = body[0];
    body.advance(ENVELOPE_PREFIX_LEN);
    Ok(Some(Envelope { flags, data: body }))
}

/// Writes an envelope prefix for a payload of `len` bytes.
pub fn put_prefix(buf: &mut impl BufMut, flags: u8, len: usize) {
    buf.put_u8(flags);
    buf.put_u32(u32::try_from(len).unwrap_or(u32::MAX));
}

/// Encodes one envelope into a fresh buffer.
pub fn encode_envelope(flags: u8, payload: &[u8]) -> Bytes {
    let mut buf = BytesMut::with_capacity(ENVELOPE_PREFIX_LEN + payload.len());
    put_prefix(&mut buf, flags, payload.len());
    buf.put_slice(payload);
    buf.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_ready_takes_only_whole_allowed_envelopes_and_leaves_the_rest() {
        let mut dec = EnvelopeDecoder::new(4);
        let mut wire = BytesMut::new();
        wire.put(encode_envelope(0, b"ab"));
        wire.put(encode_envelope(0, b"toolong"));
        dec.push(wire.freeze());
        assert_eq!(&dec.next_ready(0).unwrap().data[..], b"ab");
        // Over the limit: left for next_envelope, which reports it.
        assert!(dec.next_ready(0).is_none());
        assert_eq!(
            dec.next_envelope().unwrap_err().code(),
            connect_core::Code::ResourceExhausted
        );

        // An envelope split across chunks is not taken; nor is it lost.
        let mut dec = EnvelopeDecoder::new(1024);
        let wire = encode_envelope(1, b"hello");
        dec.push(wire.slice(..4));
        assert!(dec.next_ready(1).is_none());
        dec.push(wire.slice(4..));
        assert!(dec.next_ready(1).is_none());
        let env = dec.next_envelope().unwrap().unwrap();
        assert_eq!((env.flags, &env.data[..]), (1, &b"hello"[..]));
        assert!(dec.is_empty());
    }

    #[test]
    fn a_huge_announced_length_reserves_little() {
        let mut dec = EnvelopeDecoder::new(usize::MAX);
        dec.push(&[0u8, 0xff, 0xff, 0xff, 0xff][..]);
        assert!(dec.next_envelope().unwrap().is_none());
        assert!(
            dec.buf.capacity() <= RESERVE_AHEAD + 64,
            "{}",
            dec.buf.capacity()
        );
    }
    use connect_core::Code;

    #[test]
    fn decodes_byte_by_byte_and_back_to_back() {
        let mut wire = BytesMut::new();
        wire.put(encode_envelope(1, b"ab"));
        wire.put(encode_envelope(2, b""));
        wire.put(encode_envelope(0, &[7; 300]));
        let mut dec = EnvelopeDecoder::new(1000);
        let mut out = vec![];
        for b in wire.iter() {
            dec.push(&[*b][..]);
            while let Some(e) = dec.next_envelope().unwrap() {
                out.push(e);
            }
        }
        dec.finish().unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!((out[0].flags, &out[0].data[..]), (1, &b"ab"[..]));
        assert_eq!((out[1].flags, out[1].data.len()), (2, 0));
        assert_eq!(out[2].data.len(), 300);
    }

    #[test]
    fn huge_length_is_rejected_before_buffering() {
        let mut dec = EnvelopeDecoder::new(4 * 1024 * 1024);
        dec.push(&[0u8, 0xff, 0xff, 0xff, 0xff][..]);
        let err = dec.next_envelope().unwrap_err();
        assert_eq!(err.code(), Code::ResourceExhausted);
        assert!(dec.buf.capacity() < 1024 * 1024);
    }

    #[test]
    fn truncated_envelopes_are_reported_at_finish() {
        let mut dec = EnvelopeDecoder::new(100);
        dec.push(&[0u8, 0, 0, 0, 9, 1, 2][..]);
        assert!(dec.next_envelope().unwrap().is_none());
        assert_eq!(dec.finish().unwrap_err().code(), Code::InvalidArgument);
    }

    #[test]
    fn single_envelope_checks_the_length() {
        let one = encode_envelope(0, b"xyz");
        assert_eq!(
            &decode_single(one.clone(), 10).unwrap().unwrap().data[..],
            b"xyz"
        );
        assert!(decode_single(one.slice(..6), 10).is_err());
        assert_eq!(
            decode_single(one, 2).unwrap_err().code(),
            Code::ResourceExhausted
        );
        assert!(decode_single(Bytes::new(), 10).unwrap().is_none());
    }
}
