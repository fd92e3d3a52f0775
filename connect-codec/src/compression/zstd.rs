//! zstd, via the zstd crate.

use std::io::{self, Read};

use bytes::{BufMut, BytesMut};

use super::CompressionProvider;

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

    fn compress(&self, input: &[u8], out: &mut BytesMut) -> io::Result<()> {
        let mut w = out.writer();
        zstd::stream::copy_encode(input, &mut w, self.level)
    }

    fn decompressor<'a>(&self, input: &'a [u8]) -> Box<dyn Read + Send + 'a> {
        match zstd::stream::read::Decoder::with_buffer(input) {
            Ok(d) => Box::new(d),
            Err(e) => Box::new(FailingReader(Some(e))),
        }
    }
}

/// A reader that fails with the decoder's construction error.
struct FailingReader(Option<io::Error>);

impl Read for FailingReader {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(self
            .0
            .take()
            .unwrap_or_else(|| io::Error::other("zstd decoder unavailable")))
    }
}
