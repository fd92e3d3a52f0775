//! `deflate`, via flate2.
//!
//! HTTP's `deflate` content coding, which Connect and gRPC reuse, is the
//! **zlib** format (RFC 1950: a two-byte header, DEFLATE data, an Adler-32
//! trailer), not raw DEFLATE (RFC 1951), whatever the name suggests. The
//! reference implementations (the conformance suite's Go `compress/zlib`,
//! Node's `zlib.deflate`) send and expect zlib, and so does this provider.

use std::io::{Read, Write};

use bytes::{BufMut, Bytes, BytesMut};
use connect_core::ConnectError;
use flate2::Compression;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;

use super::CompressionProvider;

/// `deflate`: zlib-wrapped DEFLATE (RFC 1950) at a configurable level
/// (default 6). Decoding needs a fixed 32 KiB window whatever the input.
///
/// ```
/// use connect_codec::compression::{CompressionRegistry, Deflate};
///
/// let registry = CompressionRegistry::empty().with(Deflate::with_level(9));
/// let packed = registry.compress("deflate", &[7u8; 1000]).unwrap();
/// assert_eq!(packed[0] & 0x0f, 8, "a zlib header: method 8 (DEFLATE)");
/// assert_eq!(registry.decompress("deflate", &packed, 1000).unwrap().len(), 1000);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Deflate {
    level: u32,
}

impl Deflate {
    /// deflate at the default level.
    pub const fn new() -> Self {
        Deflate { level: 6 }
    }

    /// deflate at `level` (0–9; higher values are clamped to 9).
    pub const fn with_level(level: u32) -> Self {
        Deflate {
            level: if level > 9 { 9 } else { level },
        }
    }
}

impl Default for Deflate {
    fn default() -> Self {
        Deflate::new()
    }
}

impl CompressionProvider for Deflate {
    fn name(&self) -> &'static str {
        "deflate"
    }

    fn compress(&self, data: &[u8]) -> Result<Bytes, ConnectError> {
        super::compress_fresh(self, data)
    }

    fn compress_into(&self, data: &[u8], out: &mut BytesMut) -> Result<(), ConnectError> {
        let mut write = || -> std::io::Result<()> {
            let mut enc = ZlibEncoder::new(out.writer(), Compression::new(self.level));
            enc.write_all(data)?;
            enc.finish().map(drop)
        };
        write().map_err(|e| super::compress_failed("deflate", e))
    }

    fn decompressor<'a>(&self, data: &'a [u8]) -> Result<Box<dyn Read + 'a>, ConnectError> {
        Ok(Box::new(ZlibDecoder::new(data)))
    }
}
