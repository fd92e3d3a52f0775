//! Every built-in compression compiled in: round trips (whole-buffer and
//! streaming), bounded decompression of bombs (`resource_exhausted`),
//! corrupt and truncated input (`invalid_argument`), and fixed vectors
//! produced by the reference implementations' encoders (Go's
//! `compress/zlib`, `github.com/andybalholm/brotli` and
//! `github.com/golang/snappy`, the ones the conformance suite uses).
//!
//! Run with every algorithm: `cargo test -p connect-codec --all-features
//! --test compression_algorithms`.

use bytes::Bytes;
use connect_codec::compression::CompressionRegistry;
use connect_core::Code;

/// The encodings compiled into this build, in registry order.
fn built_in() -> Vec<&'static str> {
    let mut names = Vec::new();
    if cfg!(feature = "gzip") {
        names.push("gzip");
    }
    if cfg!(feature = "zstd") {
        names.push("zstd");
    }
    if cfg!(feature = "br") {
        names.push("br");
    }
    if cfg!(feature = "deflate") {
        names.push("deflate");
    }
    if cfg!(feature = "snappy") {
        names.push("snappy");
    }
    names
}

/// Compressible but not trivial: a counter's decimal digits.
fn sample(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 16);
    let mut i = 0u64;
    while out.len() < len {
        out.extend_from_slice(i.to_string().as_bytes());
        out.push(b' ');
        i += 1;
    }
    out.truncate(len);
    out
}

#[test]
fn all_offers_every_compiled_in_encoding_in_order() {
    let reg = CompressionRegistry::all();
    assert_eq!(reg.accept_encoding(), built_in().join(","));
    for name in built_in() {
        assert!(reg.supports(name), "{name}");
        assert_eq!(reg.get(name).unwrap().name(), name);
    }
}

#[test]
fn the_default_registry_keeps_to_gzip_and_zstd() {
    // Features are unified across a build: turning `br` on somewhere must
    // not change what `new()` (every stack's default) offers.
    let reg = CompressionRegistry::new();
    let defaults: Vec<_> = built_in()
        .into_iter()
        .filter(|n| matches!(*n, "gzip" | "zstd"))
        .collect();
    assert_eq!(reg.accept_encoding(), defaults.join(","));
    for name in ["br", "deflate", "snappy"] {
        assert!(!reg.supports(name), "{name}");
        assert_eq!(reg.unsupported(name).code(), Code::Unimplemented);
    }
}

#[test]
fn round_trips_each_encoding() {
    let reg = CompressionRegistry::all();
    for len in [0, 1, 100, 70_000, 1 << 20] {
        let data = sample(len);
        for name in built_in() {
            let packed = reg.compress(name, &data).unwrap();
            if len >= 70_000 {
                assert!(
                    packed.len() < data.len(),
                    "{name} did not shrink {len} bytes"
                );
            }
            let back = reg.decompress(name, &packed, len).unwrap();
            assert_eq!(back, Bytes::from(data.clone()), "{name}, {len} bytes");
            // Exactly at the limit is fine, one byte under it is not.
            if len > 0 {
                let err = reg.decompress(name, &packed, len - 1).unwrap_err();
                assert_eq!(err.code(), Code::ResourceExhausted, "{name}, {len} bytes");
            }
        }
    }
}

#[test]
fn bombs_stop_at_the_limit_with_resource_exhausted() {
    let reg = CompressionRegistry::all();
    let zeros = vec![0u8; 64 * 1024 * 1024];
    for name in built_in() {
        let bomb = reg.compress(name, &zeros).unwrap();
        // Snappy is the weakest (about 21:1); the others are far denser.
        assert!(
            bomb.len() < 4 * 1024 * 1024,
            "{name} bomb is {} bytes",
            bomb.len()
        );
        let err = reg.decompress(name, &bomb, 1024 * 1024).unwrap_err();
        assert_eq!(err.code(), Code::ResourceExhausted, "{name}");
        assert!(
            err.message().contains("larger than configured max"),
            "{name}"
        );
    }
}

#[test]
fn garbage_is_invalid_argument() {
    let reg = CompressionRegistry::all();
    let garbage = b"\xff\xfe this is not compressed data in any format \x00\x01\x02";
    for name in built_in() {
        let err = reg.decompress(name, garbage, 1 << 20).unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{name}");
    }
}

#[test]
fn truncated_streams_are_invalid_argument() {
    let reg = CompressionRegistry::all();
    let data = sample(200_000);
    for name in built_in() {
        let packed = reg.compress(name, &data).unwrap();
        for cut in [1, 7, packed.len() / 2] {
            let short = &packed[..packed.len() - cut];
            let result = reg.decompress(name, short, 1 << 20);
            // A snappy stream cut exactly between chunks is a valid shorter
            // stream (the framing has no end marker); mid-chunk it is not.
            match result {
                Err(e) => assert_eq!(e.code(), Code::InvalidArgument, "{name} cut {cut}"),
                Ok(out) => panic!("{name} cut by {cut} decoded {} bytes", out.len()),
            }
        }
    }
}

#[cfg(feature = "deflate")]
mod deflate {
    use super::*;

    /// `zlib.NewWriter` output (Go) for [`MESSAGE`].
    const GO_ZLIB: &str = "789c72cecfcb4b4d2e51c8cc2b492dca2fb05228c94855282ccd4cce56482aca2fcf5348cbaf50c82acd2d2856c82f4b2d024be72456552aa4e4a7eb90a218100000ffff00fd2684";

    #[test]
    fn decodes_the_reference_encoder() {
        let reg = CompressionRegistry::all();
        let out = reg.decompress("deflate", &unhex(GO_ZLIB), 1000).unwrap();
        assert_eq!(&out[..], MESSAGE);
    }

    #[test]
    fn is_zlib_not_raw_deflate() {
        let reg = CompressionRegistry::all();
        let packed = reg.compress("deflate", MESSAGE).unwrap();
        // CMF 0x78 (DEFLATE, 32 KiB window), and the header checksum holds.
        assert_eq!(packed[0], 0x78);
        assert_eq!(u16::from_be_bytes([packed[0], packed[1]]) % 31, 0);
        // Raw DEFLATE (what the name suggests) is refused.
        let raw = &unhex(GO_ZLIB)[2..];
        let err = reg.decompress("deflate", raw, 1000).unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
    }

    #[test]
    fn a_flipped_byte_fails_the_checksum() {
        let reg = CompressionRegistry::all();
        let mut packed = reg.compress("deflate", &sample(10_000)).unwrap().to_vec();
        let last = packed.len() - 1;
        packed[last] ^= 0x55;
        let err = reg.decompress("deflate", &packed, 20_000).unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
    }
}

#[cfg(feature = "br")]
mod br {
    use super::*;

    /// `brotli.NewWriter` output (Go, andybalholm/brotli) for [`MESSAGE`].
    const GO_BROTLI: &str = "1b680000449d436583af50736ee3c138291d1f36e0c0210f79c18d161936c6ce5368aca8dc8e2abac59bea5e2f12e243309e81cc8bbaba4e702743d69aff0f914504";

    #[test]
    fn decodes_the_reference_encoder() {
        let reg = CompressionRegistry::all();
        let out = reg.decompress("br", &unhex(GO_BROTLI), 1000).unwrap();
        assert_eq!(&out[..], MESSAGE);
    }

    #[test]
    fn large_window_streams_are_refused() {
        // The large-window extension's header: 0x11 then a window byte of
        // 30 bits (1 GiB). Standard decoders must refuse it.
        let reg = CompressionRegistry::all();
        let err = reg
            .decompress("br", &[0x11, 0x1e, 0x00, 0x00], 1000)
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
    }

    #[test]
    fn a_tiny_stream_of_a_huge_output_stops_at_the_limit() {
        // 16 MiB of one byte in a few dozen bytes of brotli.
        let reg = CompressionRegistry::all();
        let bomb = reg.compress("br", &vec![b'x'; 16 << 20]).unwrap();
        assert!(bomb.len() < 1024, "{} bytes", bomb.len());
        let err = reg.decompress("br", &bomb, 64 * 1024).unwrap_err();
        assert_eq!(err.code(), Code::ResourceExhausted);
    }
}

#[cfg(feature = "snappy")]
mod snappy {
    use super::*;

    /// `snappy.NewBufferedWriter` output (Go, golang/snappy) for
    /// [`MESSAGE`]: the framing format.
    const GO_SNAPPY: &str = "ff060000734e615070590046000019ca1cee69b8436f6e6e65637420696e7465726f703a2074686520717569636b2062726f776e20666f78206a756d7073206f766572051f206c617a7920646f672c050e9a2d00";

    #[test]
    fn decodes_the_reference_encoder() {
        let reg = CompressionRegistry::all();
        let out = reg.decompress("snappy", &unhex(GO_SNAPPY), 1000).unwrap();
        assert_eq!(&out[..], MESSAGE);
    }

    #[test]
    fn speaks_the_framing_format_not_the_block_format() {
        let reg = CompressionRegistry::all();
        let packed = reg.compress("snappy", MESSAGE).unwrap();
        assert_eq!(&packed[..10], b"\xff\x06\x00\x00sNaPpY");
        // Go's writer and ours agree on this input chunk by chunk.
        assert_eq!(packed, Bytes::from(unhex(GO_SNAPPY)));
        // A bare block (the other snappy format) has no stream identifier.
        let block = &unhex(GO_SNAPPY)[18..];
        let err = reg.decompress("snappy", block, 1000).unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
    }

    #[test]
    fn checksums_and_chunk_lengths_are_checked() {
        let reg = CompressionRegistry::all();
        let mut bad_crc = unhex(GO_SNAPPY);
        bad_crc[15] ^= 1;
        let err = reg.decompress("snappy", &bad_crc, 1000).unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        // A compressed chunk claiming 16 MiB - 1 bytes: refused before any
        // buffer of that size (chunks hold at most 64 KiB of data).
        let mut huge = b"\xff\x06\x00\x00sNaPpY".to_vec();
        huge.extend_from_slice(&[0x00, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
        let err = reg.decompress("snappy", &huge, 1000).unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
    }

    #[test]
    fn the_empty_message_is_the_empty_stream() {
        // Go's writer emits nothing for no input; both directions agree.
        let reg = CompressionRegistry::all();
        assert!(reg.compress("snappy", b"").unwrap().is_empty());
        assert!(reg.decompress("snappy", b"", 10).unwrap().is_empty());
    }
}

#[cfg(feature = "streaming")]
mod streaming {
    use super::*;
    use connect_codec::compression::streaming::{compress, decompress_bounded};
    use std::pin::Pin;
    use tokio::io::AsyncReadExt;

    fn names() -> Vec<&'static str> {
        built_in().into_iter().filter(|n| *n != "snappy").collect()
    }

    #[tokio::test]
    async fn streaming_and_whole_buffer_interoperate() {
        let reg = CompressionRegistry::all();
        let data = sample(300_000);
        for name in names() {
            let mut packed = Vec::new();
            Pin::from(compress(name, &data[..]).unwrap())
                .read_to_end(&mut packed)
                .await
                .unwrap();
            // Streamed out, decoded whole; and the other way round.
            assert_eq!(
                reg.decompress(name, &packed, data.len()).unwrap(),
                &data[..]
            );
            let whole = reg.compress(name, &data).unwrap();
            let back = decompress_bounded(name, &whole[..], data.len())
                .await
                .unwrap();
            assert_eq!(back, &data[..], "{name}");
            let err = decompress_bounded(name, &whole[..], 1000)
                .await
                .unwrap_err();
            assert_eq!(err.code(), Code::ResourceExhausted, "{name}");
            let err = decompress_bounded(name, &b"\x01garbage"[..], 1000)
                .await
                .unwrap_err();
            assert_eq!(err.code(), Code::InvalidArgument, "{name}");
        }
        assert!(compress("snappy", &data[..]).is_none());
    }
}

/// The message the reference vectors encode.
#[cfg(any(feature = "deflate", feature = "br", feature = "snappy"))]
const MESSAGE: &[u8] = b"Connect interop: the quick brown fox jumps over the lazy dog, the quick brown fox jumps over the lazy dog";

#[cfg(any(feature = "deflate", feature = "br", feature = "snappy"))]
fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
