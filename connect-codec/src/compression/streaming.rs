//! Streaming (async) compression for gzip and zstd, and for `deflate` (zlib)
//! and `br` when their features are on, via async-compression. (Snappy has
//! no streaming adapter here: its whole-buffer provider already works in
//! 64 KiB chunks with fixed buffers.)
//!
//! The registry's providers work on whole buffers, which is what per-message
//! compression needs. These adapters are for bodies that should not be
//! buffered whole, such as an upload piped through a proxy: they wrap any
//! `AsyncBufRead` and keep the same bound on decompressed output.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use connect_codec::compression::streaming::{compress, decompress_bounded};
//!
//! let packed = compress("gzip", &b"stream me"[..]).unwrap();
//! let mut out = Vec::new();
//! tokio::io::copy(&mut Box::into_pin(packed), &mut out).await.unwrap();
//! let back = decompress_bounded("gzip", &out[..], 100).await.unwrap();
//! assert_eq!(&back[..], b"stream me");
//! # }
//! ```

use std::pin::Pin;

#[cfg(feature = "br")]
use async_compression::tokio::bufread::{BrotliDecoder, BrotliEncoder};
use async_compression::tokio::bufread::{GzipDecoder, GzipEncoder, ZstdDecoder, ZstdEncoder};
#[cfg(feature = "deflate")]
use async_compression::tokio::bufread::{ZlibDecoder, ZlibEncoder};
use bytes::Bytes;
use connect_core::ConnectError;
use tokio::io::{AsyncBufRead, AsyncRead, AsyncReadExt};

/// A boxed async reader.
pub type BoxAsyncRead<'a> = Box<dyn AsyncRead + Send + 'a>;

/// A reader compressing `input` with `name` (`gzip`, `zstd`, and `deflate`
/// or `br` when their features are on); `None` for other names.
pub fn compress<'a, R>(name: &str, input: R) -> Option<BoxAsyncRead<'a>>
where
    R: AsyncBufRead + Send + 'a,
{
    match name {
        "gzip" => Some(Box::new(GzipEncoder::new(input))),
        "zstd" => Some(Box::new(ZstdEncoder::new(input))),
        #[cfg(feature = "deflate")]
        "deflate" => Some(Box::new(ZlibEncoder::new(input))),
        #[cfg(feature = "br")]
        "br" => Some(Box::new(BrotliEncoder::with_quality(
            input,
            async_compression::Level::Precise(4),
        ))),
        _ => None,
    }
}

/// A reader decompressing `input` with `name`; `None` for other names.
/// The reader is not bounded: use [`decompress_bounded`] or `take`.
pub fn decompress<'a, R>(name: &str, input: R) -> Option<BoxAsyncRead<'a>>
where
    R: AsyncBufRead + Send + 'a,
{
    match name {
        "gzip" => {
            let mut d = GzipDecoder::new(input);
            d.multiple_members(true);
            Some(Box::new(d))
        }
        // The same window cap as the whole-buffer provider: a tiny frame
        // must not make the decoder allocate a huge window.
        "zstd" => Some(Box::new(ZstdDecoder::with_params(
            input,
            &[async_compression::zstd::DParameter::window_log_max(
                super::ZSTD_MAX_WINDOW_LOG,
            )],
        ))),
        #[cfg(feature = "deflate")]
        "deflate" => Some(Box::new(ZlibDecoder::new(input))),
        // Standard brotli only: windows up to 16 MiB, no large-window streams.
        #[cfg(feature = "br")]
        "br" => Some(Box::new(BrotliDecoder::new(input))),
        _ => None,
    }
}

/// Decompresses all of `input`, failing with `resource_exhausted` once the
/// output passes `limit` bytes.
pub async fn decompress_bounded<R>(
    name: &str,
    input: R,
    limit: usize,
) -> Result<Bytes, ConnectError>
where
    R: AsyncBufRead + Send,
{
    let reader = decompress(name, input)
        .ok_or_else(|| ConnectError::unimplemented(format!("unknown compression {name:?}")))?;
    let mut reader = Pin::from(reader).take((limit as u64).saturating_add(1));
    let mut out = Vec::new();
    reader.read_to_end(&mut out).await.map_err(|e| {
        ConnectError::invalid_argument(format!("failed to decompress {name} data: {e}"))
    })?;
    if out.len() > limit {
        return Err(ConnectError::resource_exhausted(format!(
            "decompressed message is larger than configured max {limit}"
        )));
    }
    Ok(out.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use connect_core::Code;

    #[tokio::test]
    async fn zstd_round_trip_and_bomb() {
        let data = vec![0u8; 1 << 20];
        let mut packed = Vec::new();
        Pin::from(compress("zstd", &data[..]).unwrap())
            .read_to_end(&mut packed)
            .await
            .unwrap();
        assert_eq!(
            decompress_bounded("zstd", &packed[..], 1 << 20)
                .await
                .unwrap()
                .len(),
            1 << 20
        );
        let err = decompress_bounded("zstd", &packed[..], 1000)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::ResourceExhausted);
        assert!(compress("lz4", &data[..]).is_none());
    }

    #[tokio::test]
    async fn zstd_huge_windows_are_refused() {
        // A 10-byte frame announcing a 2^27 window: refused, not allocated.
        let frame = [
            0x28,
            0xb5,
            0x2f,
            0xfd,
            0x00,
            17 << 3,
            0x0b,
            0x00,
            0x00,
            b'a',
        ];
        let err = decompress_bounded("zstd", &frame[..], 1024)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        let ok = [
            0x28,
            0xb5,
            0x2f,
            0xfd,
            0x00,
            13 << 3,
            0x0b,
            0x00,
            0x00,
            b'a',
        ];
        assert_eq!(
            &decompress_bounded("zstd", &ok[..], 1024).await.unwrap()[..],
            b"a"
        );
    }
}
