//! Property tests for the codec parsers (the `fuzz/` targets' properties,
//! run on stable in CI): envelopes, error JSON and decompression never
//! panic, respect their limits, and round-trip.

use bytes::{Bytes, BytesMut};
use connect_codec::compression::CompressionRegistry;
use connect_codec::envelope::{EnvelopeDecoder, decode_single, encode_envelope};
use connect_codec::error_json::{decode_error, encode_error};
use connect_core::{Code, ConnectError, ErrorDetail};
use proptest::prelude::*;

const PREFIX: usize = 5;

fn announced(wire: &[u8], at: usize) -> Option<usize> {
    let p = wire.get(at..at + PREFIX)?;
    Some(u32::from_be_bytes([p[1], p[2], p[3], p[4]]) as usize)
}

/// Wire bytes that are sometimes well-formed: envelopes with small lengths
/// (correct or not), then junk.
fn wire() -> impl Strategy<Value = Vec<u8>> {
    let env = (
        any::<u8>(),
        0u32..80,
        prop::collection::vec(any::<u8>(), 0..40),
    )
        .prop_map(|(flags, len, payload)| {
            let mut v = vec![flags];
            v.extend_from_slice(&len.to_be_bytes());
            v.extend(payload);
            v
        });
    (
        prop::collection::vec(env, 0..4),
        prop::collection::vec(any::<u8>(), 0..16),
    )
        .prop_map(|(envs, junk)| {
            let mut v = envs.concat();
            v.extend(junk);
            v
        })
}

fn chunk_sizes() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..32, 1..8)
}

fn code() -> impl Strategy<Value = Code> {
    (1u32..=16).prop_map(|n| Code::from_grpc_number(n).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Arbitrary bytes in arbitrary chunks: envelopes come out exactly as a
    /// model of the format says, nothing past one envelope plus a chunk is
    /// ever buffered, and an over-limit length is `resource_exhausted`.
    #[test]
    fn decoder_follows_the_model(wire in wire(), sizes in chunk_sizes(), limit in 0usize..64) {
        let wire = Bytes::from(wire);
        let mut dec = EnvelopeDecoder::new(limit);
        let (mut pushed, mut consumed) = (0, 0);
        let mut sizes = sizes.iter().cycle();
        let mut failed = None;
        'outer: while pushed < wire.len() {
            let end = (pushed + sizes.next().unwrap()).min(wire.len());
            let chunk = end - pushed;
            dec.push(wire.slice(pushed..end));
            pushed = end;
            prop_assert!(pushed - consumed <= limit + PREFIX + chunk);
            loop {
                match dec.next_envelope() {
                    Ok(Some(env)) => {
                        let len = announced(&wire, consumed).unwrap();
                        prop_assert!(len <= limit);
                        prop_assert_eq!(env.flags, wire[consumed]);
                        prop_assert_eq!(&env.data[..], &wire[consumed + PREFIX..consumed + PREFIX + len]);
                        consumed += PREFIX + len;
                    }
                    Ok(None) => {
                        prop_assert!(pushed - consumed <= limit + PREFIX);
                        break;
                    }
                    Err(e) => {
                        prop_assert_eq!(e.code(), Code::ResourceExhausted);
                        prop_assert!(announced(&wire, consumed).unwrap() > limit);
                        failed = Some(e);
                        break 'outer;
                    }
                }
            }
        }
        if failed.is_none() {
            prop_assert_eq!(dec.finish().is_ok(), consumed == wire.len());
        }
    }

    #[test]
    fn envelopes_round_trip(
        msgs in prop::collection::vec((any::<u8>(), prop::collection::vec(any::<u8>(), 0..50)), 0..5),
        sizes in chunk_sizes(),
    ) {
        let mut wire = BytesMut::new();
        for (flags, payload) in &msgs {
            wire.extend_from_slice(&encode_envelope(*flags, payload));
        }
        let wire = wire.freeze();
        let mut dec = EnvelopeDecoder::new(50);
        let mut out = vec![];
        let mut at = 0;
        for size in sizes.iter().cycle() {
            if at >= wire.len() {
                break;
            }
            let end = (at + size).min(wire.len());
            dec.push(wire.slice(at..end));
            at = end;
            while let Some(env) = dec.next_envelope().unwrap() {
                out.push((env.flags, env.data.to_vec()));
            }
        }
        dec.finish().unwrap();
        prop_assert_eq!(out, msgs.clone());
        if let [(flags, payload)] = &msgs[..] {
            let one = decode_single(encode_envelope(*flags, payload), 50).unwrap().unwrap();
            prop_assert_eq!((one.flags, &one.data[..]), (*flags, &payload[..]));
        }
    }

    #[test]
    fn decode_single_never_panics(wire in wire(), limit in 0usize..64) {
        let wire = Bytes::from(wire);
        match decode_single(wire.clone(), limit) {
            Ok(None) => prop_assert!(wire.is_empty()),
            Ok(Some(env)) => {
                prop_assert!(env.data.len() <= limit);
                prop_assert_eq!(env.data.len() + PREFIX, wire.len());
            }
            Err(e) => match announced(&wire, 0) {
                Some(len) if len > limit => prop_assert_eq!(e.code(), Code::ResourceExhausted),
                _ => prop_assert_eq!(e.code(), Code::InvalidArgument),
            },
        }
    }

    #[test]
    fn error_json_round_trips(
        code in code(),
        message in ".{0,20}",
        details in prop::collection::vec((".{0,12}", prop::collection::vec(any::<u8>(), 0..20)), 0..3),
    ) {
        let mut err = ConnectError::new(code, message.clone());
        for (type_name, value) in &details {
            err.add_detail(ErrorDetail::new(type_name.clone(), value.clone()));
        }
        let back = decode_error(&encode_error(&err), Code::Unknown).unwrap();
        prop_assert_eq!(back.code(), code);
        prop_assert_eq!(back.message(), message.as_str());
        prop_assert_eq!(back.details(), err.details());
    }

    #[test]
    fn error_json_decoding_never_panics(body in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        (".{0,12}", ".{0,12}", ".{0,12}").prop_map(|(c, m, v)| format!(
            r#"{{"code":{c:?},"message":{m:?},"details":[{{"type":"t","value":{v:?}}}]}}"#
        ).into_bytes()),
    ]) {
        if let Some(err) = decode_error(&body, Code::Unknown) {
            prop_assert_ne!(err.code(), Code::Ok);
        }
    }

    #[test]
    fn decompression_respects_the_limit(
        name in prop::sample::select(vec!["gzip", "zstd"]),
        plain in prop::collection::vec(any::<u8>(), 0..64),
        reps in 1usize..200,
        limit in 0usize..4096,
        corrupt in prop::option::of((any::<prop::sample::Index>(), any::<u8>())),
    ) {
        let registry = CompressionRegistry::new();
        let plain = plain.repeat(reps);
        let mut wire = registry.compress(name, &plain).unwrap().to_vec();
        if let Some((at, byte)) = corrupt {
            let at = at.index(wire.len());
            wire[at] ^= byte | 1;
        }
        match registry.decompress(name, &wire, limit) {
            Ok(out) => {
                prop_assert!(out.len() <= limit);
                if corrupt.is_none() {
                    prop_assert_eq!(&out[..], &plain[..]);
                }
            }
            Err(e) => {
                prop_assert!(matches!(e.code(), Code::InvalidArgument | Code::ResourceExhausted), "{:?}", e);
                if corrupt.is_none() {
                    prop_assert!(plain.len() > limit);
                    prop_assert_eq!(e.code(), Code::ResourceExhausted);
                }
            }
        }
    }

    #[test]
    fn decompressing_junk_is_an_error_code(
        name in prop::sample::select(vec!["gzip", "zstd", "br", ""]),
        junk in prop::collection::vec(any::<u8>(), 0..64),
        limit in 0usize..1024,
    ) {
        match CompressionRegistry::new().decompress(name, &junk, limit) {
            Ok(out) => prop_assert!(out.len() <= limit),
            Err(e) => prop_assert!(matches!(
                e.code(),
                Code::InvalidArgument | Code::ResourceExhausted | Code::Unimplemented
            )),
        }
    }
}
