//! gzip, via flate2.

use std::io::{Read, Write};

use bytes::{BufMut, Bytes, BytesMut};
use connect_core::ConnectError;
use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use super::CompressionProvider;

/// gzip (RFC 1952) at a configurable level (default 6).
#[derive(Debug, Clone, Copy)]
pub struct Gzip {
    level: u32,
}

impl Gzip {
    /// gzip at the default level.
    pub const fn new() -> Self {
        Gzip { level: 6 }
    }

    /// gzip at `level` (0–9).
    pub const fn with_level(level: u32) -> Self {
        Gzip {
            level: if level > 9 { 9 } else { level },
        }
    }
}

impl Default for Gzip {
    fn default() -> Self {
        Gzip::new()
    }
}

impl CompressionProvider for Gzip {
    fn name(&self) -> &'static str {
        "gzip"
    }

    fn compress(&self, data: &[u8]) -> Result<Bytes, ConnectError> {
        super::compress_fresh(self, data)
    }

    fn compress_into(&self, data: &[u8], out: &mut BytesMut) -> Result<(), ConnectError> {
        let mut write = || -> std::io::Result<()> {
            let mut enc = GzEncoder::new(out.writer(), Compression::new(self.level));
            enc.write_all(data)?;
            enc.finish().map(drop)
        };
        write().map_err(|e| super::compress_failed("gzip", e))
    }

    fn decompressor<'a>(&self, data: &'a [u8]) -> Result<Box<dyn Read + 'a>, ConnectError> {
        Ok(Box::new(MultiGzDecoder::new(data)))
    }
}
