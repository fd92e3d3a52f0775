//! `CompressionRegistry::decompress` for every algorithm (gzip, zstd, br,
//! deflate, snappy) and an unknown name: arbitrary input, and valid streams
//! of arbitrary payloads, against a small limit.
#![no_main]

use connect_codec::compression::{Brotli, CompressionRegistry, Deflate, Gzip, Zstd};
use connect_core::Code;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const NAMES: [&str; 6] = ["gzip", "zstd", "br", "deflate", "snappy", "lz4"];
/// Valid streams inflate to at most about this many bytes (limits are below 8 KiB).
const MAX_PLAIN: usize = 10 << 10;

fuzz_target!(|data: &[u8]| {
    let [mode, l0, l1, rest @ ..] = data else {
        return;
    };
    static REGISTRY: OnceLock<CompressionRegistry> = OnceLock::new();
    let registry = REGISTRY.get_or_init(CompressionRegistry::all);
    // Valid streams are made at the fastest levels: the decoder under test
    // reads any level alike, and the default levels (brotli 4 above all)
    // made fixture-building most of the cost of each input.
    static FIXTURES: OnceLock<CompressionRegistry> = OnceLock::new();
    let fixtures = FIXTURES.get_or_init(|| {
        CompressionRegistry::all()
            .with(Gzip::with_level(1))
            .with(Zstd::with_level(1))
            .with(Brotli::with_quality(0))
            .with(Deflate::with_level(1))
    });
    let name = NAMES[usize::from(mode & 7) % NAMES.len()];
    let known = name != "lz4";
    let limit = usize::from(u16::from_le_bytes([*l0, *l1 & 0x7f]) % 8192);
    // Half the time, a valid stream: the payload is the input repeated
    // (so small inputs can still decompress past the limit), up to a little
    // past the largest limit: more only costs compression time, since
    // decompression stops at the limit either way.
    let valid = l1 & 0x80 != 0;
    let (input, expected) = if valid && known {
        let reps = (usize::from(mode >> 3) * 64 + 1).min(MAX_PLAIN / rest.len().max(1) + 1);
        let plain = rest.repeat(reps);
        (
            fixtures.compress(name, &plain).unwrap().to_vec(),
            Some(plain),
        )
    } else {
        (rest.to_vec(), None)
    };
    match registry.decompress(name, &input, limit) {
        Ok(out) => {
            assert!(known, "decompressed with an unknown algorithm");
            assert!(out.len() <= limit, "{} > {limit}", out.len());
            if let Some(plain) = expected {
                assert_eq!(&out[..], &plain[..]);
            }
        }
        Err(e) => {
            if known {
                assert!(
                    matches!(e.code(), Code::InvalidArgument | Code::ResourceExhausted),
                    "{name}: {e:?}"
                );
            } else {
                assert_eq!(e.code(), Code::Unimplemented);
            }
            if let Some(plain) = expected {
                assert!(plain.len() > limit, "{name}: valid stream refused: {e:?}");
                assert_eq!(e.code(), Code::ResourceExhausted, "{name}");
            }
        }
    }
});
