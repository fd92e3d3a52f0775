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
//! Register your own algorithm by implementing [`CompressionProvider`]:
//!
//! ```
//! use std::io::{self, Read};
//! use bytes::{BufMut, BytesMut};
//! use connect_codec::compression::{CompressionProvider, CompressionRegistry};
//!
//! /// A (silly) algorithm that stores bytes reversed.
//! #[derive(Debug)]
//! struct Reverse;
//!
//! impl CompressionProvider for Reverse {
//!     fn name(&self) -> &'static str { "reverse" }
//!     fn compress(&self, input: &[u8], out: &mut BytesMut) -> io::Result<()> {
//!         out.extend(input.iter().rev());
//!         Ok(())
//!     }
//!     fn decompressor<'a>(&self, input: &'a [u8]) -> Box<dyn Read + Send + 'a> {
//!         Box::new(io::Cursor::new(input.iter().rev().copied().collect::<Vec<u8>>()))
//!     }
//! }
//!
//! let registry = CompressionRegistry::new().with(Reverse);
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

use std::fmt;
use std::io::{self, Read};

use bytes::BytesMut;

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
pub trait CompressionProvider: fmt::Debug + Send + Sync + 'static {
    /// The encoding's name on the wire (`gzip`, `zstd`, `br`...).
    fn name(&self) -> &'static str;

    /// Compresses `input`, appending to `out`.
    fn compress(&self, input: &[u8], out: &mut BytesMut) -> io::Result<()>;

    /// A reader yielding the decompressed form of `input`. The registry
    /// bounds how much of it is read; the reader itself need not.
    fn decompressor<'a>(&self, input: &'a [u8]) -> Box<dyn Read + Send + 'a>;
}
