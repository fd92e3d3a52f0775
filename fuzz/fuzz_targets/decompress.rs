//! `CompressionRegistry::decompress` for gzip and zstd: arbitrary input,
//! and valid streams of arbitrary payloads, against a small limit.
#![no_main]

use connect_codec::compression::CompressionRegistry;
use connect_core::Code;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [mode, l0, l1, rest @ ..] = data else {
        return;
    };
    let registry = CompressionRegistry::new();
    let name = match mode & 3 {
        0 | 2 => "gzip",
        1 => "zstd",
        _ => "br",
    };
    let limit = usize::from(u16::from_le_bytes([*l0, *l1]) % 8192);
    // Half the time, a valid stream: the payload is the input repeated
    // (so small inputs can still decompress past the limit).
    let valid = mode & 4 != 0;
    let (input, expected) = if valid && name != "br" {
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
            assert!(out.len() <= limit, "{} > {limit}", out.len());
            if let Some(plain) = expected {
                assert_eq!(&out[..], &plain[..]);
            }
        }
        Err(e) => {
            match name {
                "br" => assert_eq!(e.code(), Code::Unimplemented),
                _ => assert!(
                    matches!(e.code(), Code::InvalidArgument | Code::ResourceExhausted),
                    "{e:?}"
                ),
            }
            if let Some(plain) = expected {
                assert!(plain.len() > limit, "valid stream refused: {e:?}");
                assert_eq!(e.code(), Code::ResourceExhausted);
            }
        }
    }
});
