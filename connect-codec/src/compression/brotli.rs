//! `br`, via the brotli crate (pure Rust).

use std::io::Read;

use bytes::{BufMut, Bytes, BytesMut};
use connect_core::ConnectError;

use super::CompressionProvider;

/// The window the encoder uses: 2^22 bytes (4 MiB), the brotli default.
const LG_WIN: i32 = 22;

/// The decoder's input buffer.
const READ_BUFFER: usize = 4096;

/// Brotli (RFC 7932) at a configurable quality (default 4, a good speed for
/// per-message work; 11 is the densest and far slower).
///
/// Decoding allocates a ring buffer of at most the stream's window, which
/// the format caps at 16 MiB; the non-standard "large window" extension
/// (up to 1 GiB) is refused. The output itself is bounded by the registry.
///
/// ```
/// use connect_codec::compression::{Brotli, CompressionRegistry};
///
/// let registry = CompressionRegistry::empty().with(Brotli::with_quality(11));
/// let text = b"brotli brotli brotli brotli brotli".repeat(30);
/// let packed = registry.compress("br", &text).unwrap();
/// assert!(packed.len() < 100);
/// assert_eq!(registry.decompress("br", &packed, text.len()).unwrap(), &text[..]);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Brotli {
    quality: u32,
}

impl Brotli {
    /// brotli at the default quality (4).
    pub const fn new() -> Self {
        Brotli { quality: 4 }
    }

    /// brotli at `quality` (0–11; higher values are clamped to 11).
    pub const fn with_quality(quality: u32) -> Self {
        Brotli {
            quality: if quality > 11 { 11 } else { quality },
        }
    }
}

impl Default for Brotli {
    fn default() -> Self {
        Brotli::new()
    }
}

impl CompressionProvider for Brotli {
    fn name(&self) -> &'static str {
        "br"
    }

    fn compress(&self, data: &[u8]) -> Result<Bytes, ConnectError> {
        super::compress_fresh(self, data)
    }

    fn compress_into(&self, data: &[u8], out: &mut BytesMut) -> Result<(), ConnectError> {
        let params = brotli::enc::BrotliEncoderParams {
            quality: self.quality as i32,
            lgwin: LG_WIN,
            size_hint: data.len(),
            ..Default::default()
        };
        let mut reader = data;
        brotli::BrotliCompress(&mut reader, &mut out.writer(), &params)
            .map(drop)
            .map_err(|e| super::compress_failed("br", e))
    }

    fn decompressor<'a>(&self, data: &'a [u8]) -> Result<Box<dyn Read + 'a>, ConnectError> {
        Ok(Box::new(brotli::Decompressor::new(data, READ_BUFFER)))
    }
}
