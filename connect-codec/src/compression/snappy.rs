//! `snappy`, via the snap crate, in Snappy's **framing format**.
//!
//! Snappy has two formats: the raw block format (one block, its length up
//! front) and the framing (stream) format: a stream identifier chunk, then
//! chunks of at most 64 KiB of input, each with a CRC-32C of its
//! uncompressed bytes. The reference implementations' `snappy` (Go's
//! `github.com/golang/snappy` `NewBufferedWriter`/`NewReader`, used by
//! connect-go's conformance suite and grpc-go's snappy examples) is the
//! framing format, and so is this provider.

use std::io::{Read, Write};

use bytes::{BufMut, Bytes, BytesMut};
use connect_core::ConnectError;

use super::CompressionProvider;

/// Snappy, framing format. Fast and light, with a modest ratio (a long run
/// of one byte shrinks about twenty-fold). Decoding uses fixed buffers of
/// about 140 KiB whatever the input, and checks every chunk's CRC-32C.
///
/// ```
/// use connect_codec::compression::{CompressionRegistry, Snappy};
///
/// let registry = CompressionRegistry::empty().with(Snappy::new());
/// let packed = registry.compress("snappy", b"snappy snappy snappy snappy").unwrap();
/// // The stream identifier chunk: type 0xff, length 6, "sNaPpY".
/// assert_eq!(&packed[..10], b"\xff\x06\x00\x00sNaPpY");
/// assert_eq!(&registry.decompress("snappy", &packed, 100).unwrap()[..], b"snappy snappy snappy snappy");
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Snappy {
    _private: (),
}

impl Snappy {
    /// The snappy provider (the format has no levels).
    pub const fn new() -> Self {
        Snappy { _private: () }
    }
}

impl CompressionProvider for Snappy {
    fn name(&self) -> &'static str {
        "snappy"
    }

    fn compress(&self, data: &[u8]) -> Result<Bytes, ConnectError> {
        super::compress_fresh(self, data)
    }

    fn compress_into(&self, data: &[u8], out: &mut BytesMut) -> Result<(), ConnectError> {
        let mut write = || -> std::io::Result<()> {
            let mut enc = snap::write::FrameEncoder::new(out.writer());
            enc.write_all(data)?;
            enc.flush()?;
            enc.into_inner().map(drop).map_err(|e| e.into_error())
        };
        write().map_err(|e| super::compress_failed("snappy", e))
    }

    fn decompressor<'a>(&self, data: &'a [u8]) -> Result<Box<dyn Read + 'a>, ConnectError> {
        Ok(Box::new(snap::read::FrameDecoder::new(data)))
    }
}
