//! Compression: the [`CompressionProvider`] trait, the built-in providers
//! (gzip, zstd, and the opt-in br, deflate and snappy), and the
//! [`CompressionRegistry`] that negotiates between them.
//!
//! [`CompressionRegistry::new`], every stack's default, offers gzip and zstd;
//! [`CompressionRegistry::all`] also the opt-in encodings compiled in. The
//! guide is `docs/compression.md`.
//!
//! | encoding  | provider    | cargo feature    | in `new()` | format                         |
//! |-----------|-------------|------------------|-----------|--------------------------------|
//! | `gzip`    | `Gzip`      | `gzip` (default) | yes       | RFC 1952                       |
//! | `zstd`    | `Zstd`      | `zstd` (default) | yes       | RFC 8878, window ≤ 8 MiB       |
//! | `br`      | `Brotli`    | `br`             | no        | RFC 7932, window ≤ 16 MiB      |
//! | `deflate` | `Deflate`   | `deflate`        | no        | zlib (RFC 1950), as HTTP means |
//! | `snappy`  | `Snappy`    | `snappy`         | no        | Snappy framing (stream) format |
//!
//! Decompression is always bounded: a provider hands out a reader, and the
//! registry stops reading one byte past the limit, so a small compressed
//! payload cannot expand into unbounded memory.
//!
//! Register your own algorithm by implementing [`CompressionProvider`]: a
//! name, a whole-buffer compressor and a decompressing reader (the same
//! three methods as the original `connectrpc` crate's trait, so a provider
//! written for it compiles unchanged):
//!
//! ```
//! use std::io::{self, Read};
//! use bytes::Bytes;
//! use connect_codec::compression::{CompressionProvider, CompressionRegistry};
//! use connect_core::ConnectError;
//!
//! /// A (silly) algorithm that stores bytes reversed.
//! struct Reverse;
//!
//! impl CompressionProvider for Reverse {
//!     fn name(&self) -> &'static str { "reverse" }
//!     fn compress(&self, data: &[u8]) -> Result<Bytes, ConnectError> {
//!         Ok(data.iter().rev().copied().collect())
//!     }
//!     fn decompressor<'a>(&self, data: &'a [u8]) -> Result<Box<dyn Read + 'a>, ConnectError> {
//!         Ok(Box::new(io::Cursor::new(data.iter().rev().copied().collect::<Vec<u8>>())))
//!     }
//! }
//!
//! let registry = CompressionRegistry::new().register(Reverse);
//! let packed = registry.compress("reverse", b"abc").unwrap();
//! assert_eq!(&packed[..], b"cba");
//! assert_eq!(&registry.decompress("reverse", &packed, 1024).unwrap()[..], b"abc");
//! // The built-ins compiled in come first, in order of preference.
//! assert!(registry.accept_encoding().ends_with("reverse"));
//! ```

#[cfg(feature = "br")]
mod brotli;
#[cfg(feature = "deflate")]
mod deflate;
#[cfg(feature = "gzip")]
mod gzip;
mod registry;
#[cfg(feature = "snappy")]
mod snappy;
#[cfg(feature = "streaming")]
pub mod streaming;
#[cfg(feature = "zstd")]
mod zstd;

use std::io::Read;

use bytes::{Bytes, BytesMut};
use connect_core::ConnectError;

#[cfg(feature = "br")]
pub use self::brotli::Brotli;
#[cfg(feature = "deflate")]
pub use self::deflate::Deflate;
#[cfg(feature = "gzip")]
pub use self::gzip::Gzip;
pub use self::registry::CompressionRegistry;
#[cfg(feature = "snappy")]
pub use self::snappy::Snappy;
#[cfg(feature = "zstd")]
pub use self::zstd::Zstd;

/// The largest zstd window a decoder accepts: 2^23 bytes (8 MiB), the limit
/// RFC 9659 sets for zstd in HTTP. Larger windows would let a tiny frame
/// make the decoder allocate up to 2 GiB before any output.
#[cfg(any(feature = "zstd", feature = "streaming"))]
pub(crate) const ZSTD_MAX_WINDOW_LOG: u32 = 23;

/// The guide (`docs/compression.md`), whose examples run as doc tests when
/// every built-in encoding is compiled in (`--all-features`).
#[cfg(all(
    doctest,
    feature = "gzip",
    feature = "zstd",
    feature = "br",
    feature = "deflate",
    feature = "snappy",
    feature = "streaming"
))]
#[doc = include_str!("../../../docs/compression.md")]
pub struct CompressionGuide;

/// The name of the no-op encoding.
pub const IDENTITY: &str = "identity";

/// One compression algorithm.
///
/// Three methods are required — [`name`](Self::name),
/// [`compress`](Self::compress) and [`decompressor`](Self::decompressor) —
/// in the form the original `connectrpc` crate documents. Two more have
/// defaults: [`compress_into`](Self::compress_into), which the built-in
/// providers override to write straight into the caller's buffer (the
/// registry always compresses through it), and
/// [`decompress_with_limit`](Self::decompress_with_limit).
///
/// The registry never trusts a provider with the read limit: it reads the
/// [`decompressor`](Self::decompressor) itself and stops one byte past the
/// limit, so a provider cannot make it allocate more than the limit (an
/// override of `decompress_with_limit` is for direct callers only).
pub trait CompressionProvider: Send + Sync + 'static {
    /// The encoding's name on the wire (`gzip`, `zstd`, `br`...).
    fn name(&self) -> &'static str;

    /// Compresses `data`.
    fn compress(&self, data: &[u8]) -> Result<Bytes, ConnectError>;

    /// A reader yielding the decompressed form of `data`. The registry
    /// bounds how much of it is read; the reader itself need not (but
    /// should keep its own buffers bounded, as the built-ins' window caps
    /// do).
    fn decompressor<'a>(&self, data: &'a [u8]) -> Result<Box<dyn Read + 'a>, ConnectError>;

    /// Compresses `data`, appending to `out`. The default calls
    /// [`compress`](Self::compress) and copies its output; override it when
    /// the algorithm can write into a caller's buffer.
    fn compress_into(&self, data: &[u8], out: &mut BytesMut) -> Result<(), ConnectError> {
        out.extend_from_slice(&self.compress(data)?);
        Ok(())
    }

    /// Decompresses `data`, failing with `resource_exhausted` once the
    /// output would exceed `max_size` bytes and with `invalid_argument` if
    /// `data` is not valid for the encoding. The default reads
    /// [`decompressor`](Self::decompressor) through the same bound the
    /// registry uses.
    fn decompress_with_limit(&self, data: &[u8], max_size: usize) -> Result<Bytes, ConnectError> {
        read_bounded(self.name(), self.decompressor(data)?, data.len(), max_size)
    }
}

/// Reads `reader` to its end or one byte past `limit`, whichever is first.
pub(crate) fn read_bounded(
    name: &str,
    reader: Box<dyn Read + '_>,
    input_len: usize,
    limit: usize,
) -> Result<Bytes, ConnectError> {
    let mut out = Vec::with_capacity(input_len.saturating_mul(2).min(limit).min(64 * 1024));
    reader
        .take((limit as u64).saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| {
            ConnectError::invalid_argument(format!("failed to decompress {name} data: {e}"))
        })?;
    if out.len() > limit {
        return Err(ConnectError::resource_exhausted(format!(
            "decompressed message is larger than configured max {limit}"
        )));
    }
    Ok(Bytes::from(out))
}

/// [`CompressionProvider::compress`] for providers that implement
/// [`compress_into`](CompressionProvider::compress_into): into a fresh
/// buffer.
#[cfg(any(
    feature = "gzip",
    feature = "zstd",
    feature = "br",
    feature = "deflate",
    feature = "snappy"
))]
fn compress_fresh(p: &impl CompressionProvider, data: &[u8]) -> Result<Bytes, ConnectError> {
    let mut out = BytesMut::with_capacity(data.len() / 2 + 64);
    p.compress_into(data, &mut out)?;
    Ok(out.freeze())
}

/// The error for a built-in compressor's I/O failure.
#[cfg(any(
    feature = "gzip",
    feature = "zstd",
    feature = "br",
    feature = "deflate",
    feature = "snappy"
))]
fn compress_failed(name: &str, e: std::io::Error) -> ConnectError {
    ConnectError::internal(format!("{name} compression failed: {e}"))
}
