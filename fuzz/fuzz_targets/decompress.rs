//! `CompressionRegistry::decompress` for every algorithm (gzip, zstd, br,
//! deflate, snappy) and an unknown name: arbitrary input, and valid streams
//! of arbitrary payloads, against a small limit.
#![no_main]

use connect_codec::compression::CompressionRegistry;
use connect_core::Code;
use libfuzzer_sys::fuzz_target;

const NAMES: [&str; 6] = ["gzip", "zstd", "br", "deflate", "snappy", "lz4"];

fuzz_target!(|data: &[u8]| {
    let [mode, l0, l1, rest @ ..] = data else {
        return;
    };
    let registry = CompressionRegistry::all();
    let name = NAMES[usize::from(mode & 7) % NAMES.len()];
    let known = name != "lz4";
    let limit = usize::from(u16::from_le_bytes([*l0, *l1 & 0x7f]) % 8192);
    // Half the time, a valid stream: the payload is the input repeated
    // (so small inputs can still decompress past the limit).
    let valid = l1 & 0x80 != 0;
    let (input, expected) = if valid && known {
        let reps = usize::from(mode >> 3) * 64 + 1;
        let plain = rest.repeat(reps);
        (
            registry.compress(name, &plain).unwrap().to_vec(),
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
