//! zstd, via the zstd crate.

use std::io::Read;

use bytes::{BufMut, Bytes, BytesMut};
use connect_core::ConnectError;

use super::CompressionProvider;

/// The largest window a peer may make us allocate: 8 MiB, the limit RFC 9659
/// sets for the `zstd` content coding. libzstd's own default (2^27) let a
/// 10-byte frame allocate 128 MiB whatever the read limit (found by the
/// `decompress` fuzz target).
use super::ZSTD_MAX_WINDOW_LOG as MAX_WINDOW_LOG;

/// Zstandard (RFC 8878) at a configurable level (default 3).
#[derive(Debug, Clone, Copy)]
pub struct Zstd {
    level: i32,
}

impl Zstd {
    /// zstd at the default level.
    pub const fn new() -> Self {
        Zstd { level: 3 }
    }

    /// zstd at `level` (1–22).
    pub const fn with_level(level: i32) -> Self {
        Zstd { level }
    }
}

impl Default for Zstd {
    fn default() -> Self {
        Zstd::new()
    }
}

impl CompressionProvider for Zstd {
    fn name(&self) -> &'static str {
        "zstd"
    }

    fn compress(&self, data: &[u8]) -> Result<Bytes, ConnectError> {
        super::compress_fresh(self, data)
    }

    fn compress_into(&self, data: &[u8], out: &mut BytesMut) -> Result<(), ConnectError> {
        let mut w = out.writer();
        zstd::stream::copy_encode(data, &mut w, self.level)
            .map_err(|e| super::compress_failed("zstd", e))
    }

    fn decompressor<'a>(&self, data: &'a [u8]) -> Result<Box<dyn Read + 'a>, ConnectError> {
        let mut decoder = zstd::stream::read::Decoder::with_buffer(data)
            .map_err(|e| ConnectError::internal(format!("zstd decoder unavailable: {e}")))?;
        decoder.window_log_max(MAX_WINDOW_LOG).map_err(|e| {
            ConnectError::internal(format!("zstd decoder refused its window limit: {e}"))
        })?;
        Ok(Box::new(decoder))
    }
}

#[cfg(test)]
mod tests {
    use crate::compression::CompressionRegistry;
    use connect_core::Code;

    /// A frame with no content size, the given window descriptor, and one
    /// RLE block of a single `a`.
    fn frame(window_descriptor: u8) -> Vec<u8> {
        vec![
            0x28,
            0xb5,
            0x2f,
            0xfd,
            0x00,
            window_descriptor,
            0x0b,
            0x00,
            0x00,
            b'a',
        ]
    }

    #[test]
    fn huge_windows_are_refused_not_allocated() {
        let registry = CompressionRegistry::new();
        // Window 2^27 (exponent 17): refused instead of a 128 MiB buffer.
        let err = registry
            .decompress("zstd", &frame(17 << 3), 4096)
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        // Window 2^23 (exponent 13), the RFC 9659 maximum, still decodes.
        let out = registry.decompress("zstd", &frame(13 << 3), 4096).unwrap();
        assert_eq!(&out[..], b"a");
    }
}
