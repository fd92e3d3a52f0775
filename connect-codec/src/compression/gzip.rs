//! gzip, via flate2.

use std::io::{self, Read, Write};

use bytes::{BufMut, BytesMut};
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

    fn compress(&self, input: &[u8], out: &mut BytesMut) -> io::Result<()> {
        let mut enc = GzEncoder::new(out.writer(), Compression::new(self.level));
        enc.write_all(input)?;
        enc.finish()?;
        Ok(())
    }

    fn decompressor<'a>(&self, input: &'a [u8]) -> Box<dyn Read + Send + 'a> {
        Box::new(MultiGzDecoder::new(input))
    }
}
