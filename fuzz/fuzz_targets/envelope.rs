//! `EnvelopeDecoder` fed arbitrary chunkings of arbitrary bytes, read with
//! `next_ready` and `next_envelope` in turn, checked against a simple model
//! of the wire format; and `decode_single`.
#![no_main]

use arbitrary::Arbitrary;
use bytes::Bytes;
use connect_codec::envelope::{EnvelopeDecoder, decode_single};
use connect_core::Code;
use libfuzzer_sys::fuzz_target;

const PREFIX: usize = 5;

#[derive(Arbitrary, Debug)]
struct Input {
    limit: u8,
    /// The flags `next_ready` may take (it is tried before each
    /// `next_envelope`).
    allowed: u8,
    chunks: Vec<u8>,
    bytes: Vec<u8>,
}

fn announced(bytes: &[u8], at: usize) -> Option<(u8, usize)> {
    let p = bytes.get(at..at + PREFIX)?;
    Some((p[0], u32::from_be_bytes([p[1], p[2], p[3], p[4]]) as usize))
}

fuzz_target!(|input: Input| {
    let limit = usize::from(input.limit);
    let wire = Bytes::from(input.bytes);

    // decode_single: exactly one envelope or a protocol error.
    match decode_single(wire.clone(), limit) {
        Ok(None) => assert!(wire.is_empty()),
        Ok(Some(env)) => {
            let (flags, len) = announced(&wire, 0).unwrap();
            assert!(len <= limit);
            assert_eq!(wire.len(), PREFIX + len);
            assert_eq!(env.flags, flags);
            assert_eq!(env.data, wire.slice(PREFIX..));
        }
        Err(e) => match announced(&wire, 0) {
            Some((_, len)) if len > limit => assert_eq!(e.code(), Code::ResourceExhausted),
            _ => assert_eq!(e.code(), Code::InvalidArgument, "{e:?}"),
        },
    }

    // The incremental decoder, chunked as the input says.
    let mut dec = EnvelopeDecoder::new(limit);
    let mut pushed = 0usize; // bytes handed to the decoder
    let mut consumed = 0usize; // bytes taken out as envelopes
    let mut sizes = input
        .chunks
        .iter()
        .map(|c| usize::from(*c % 64) + 1)
        .cycle();
    let mut failed = false;
    'outer: while pushed < wire.len() {
        let n = if input.chunks.is_empty() {
            wire.len()
        } else {
            sizes.next().unwrap()
        };
        let end = (pushed + n).min(wire.len());
        let chunk_len = end - pushed;
        dec.push(wire.slice(pushed..end));
        pushed = end;
        // Never more buffered than one maximal envelope plus this chunk.
        assert!(pushed - consumed <= limit + PREFIX + chunk_len);
        loop {
            // The fast path takes only a whole envelope of allowed flags
            // within the limit; whatever it leaves, next_envelope reads.
            if let Some(env) = dec.next_ready(input.allowed) {
                let (flags, len) = announced(&wire, consumed).unwrap();
                assert!(len <= limit);
                assert_eq!(flags & !input.allowed, 0);
                assert_eq!(env.flags, flags);
                assert_eq!(
                    env.data,
                    wire.slice(consumed + PREFIX..consumed + PREFIX + len)
                );
                consumed += PREFIX + len;
                continue;
            }
            match dec.next_envelope() {
                Ok(Some(env)) => {
                    let (flags, len) = announced(&wire, consumed).unwrap();
                    assert!(len <= limit);
                    assert_eq!(env.flags, flags);
                    assert_eq!(
                        env.data,
                        wire.slice(consumed + PREFIX..consumed + PREFIX + len)
                    );
                    consumed += PREFIX + len;
                }
                Ok(None) => {
                    let buffered = pushed - consumed;
                    match announced(&wire, consumed) {
                        Some((_, len)) if consumed + PREFIX <= pushed => {
                            assert!(len <= limit);
                            assert!(buffered < PREFIX + len);
                        }
                        _ => assert!(buffered < PREFIX),
                    }
                    assert!(buffered <= limit + PREFIX);
                    break;
                }
                Err(e) => {
                    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
                    let (_, len) = announced(&wire, consumed).unwrap();
                    assert!(len > limit);
                    failed = true;
                    break 'outer;
                }
            }
        }
        assert_eq!(dec.is_empty(), pushed == consumed);
    }
    if !failed {
        assert_eq!(dec.finish().is_ok(), consumed == wire.len());
        if let Err(e) = dec.finish() {
            assert_eq!(e.code(), Code::InvalidArgument);
        }
    }
});
