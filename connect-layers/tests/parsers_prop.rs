//! Property tests for the request parsers in this crate (the `fuzz/`
//! targets' properties, run on stable in CI): the Connect content type and
//! the Connect GET query never panic, and well-formed values are read back.

use connect_core::{Code, Codec};
use connect_layers::get::server::parse_get_query;
use connect_layers::negotiate::server::parse_connect_content_type;
use proptest::prelude::*;

/// Mixes the ASCII case of `s` as `mask` says.
fn mix_case(s: &str, mask: u64) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| {
            if mask >> (i % 64) & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

fn percent_encode(data: &[u8]) -> String {
    data.iter().map(|b| format!("%{b:02x}")).collect()
}

fn base64_url(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..=c.len() {
            out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// Text made of content-type pieces, multi-byte chars and junk.
fn content_type_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("application/".to_owned()),
        Just("connect+".to_owned()),
        Just("json".to_owned()),
        Just("proto".to_owned()),
        Just(";".to_owned()),
        Just("charset=utf-8".to_owned()),
        Just(" ".to_owned()),
        ".{0,3}",
    ];
    prop::collection::vec(piece, 0..6).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn content_type_parsing_never_panics(
        text in content_type_text(),
        bytes in prop::collection::vec(any::<u8>(), 0..40),
    ) {
        for value in [text.as_bytes(), &bytes[..]] {
            if let Some((codec, _)) = parse_connect_content_type(value) {
                let s = std::str::from_utf8(value).unwrap().trim().to_ascii_lowercase();
                prop_assert!(s.starts_with("application/"), "{:?}", s);
                prop_assert!(matches!(codec, Codec::Proto | Codec::Json));
            }
        }
    }

    #[test]
    fn well_formed_content_types_are_recognized(
        json in any::<bool>(),
        streaming in any::<bool>(),
        charset in any::<bool>(),
        mask in any::<u64>(),
    ) {
        let codec = if json { "json" } else { "proto" };
        let mut value = format!(
            "application/{}{codec}",
            if streaming { "connect+" } else { "" }
        );
        let charset = charset && json;
        if charset {
            value.push_str("; charset=utf-8");
        }
        let value = mix_case(&value, mask);
        let expected = (if json { Codec::Json } else { Codec::Proto }, streaming);
        prop_assert_eq!(parse_connect_content_type(value.as_bytes()), Some(expected), "{}", value);
    }

    #[test]
    fn get_query_parsing_never_panics(query in "[a-z=&%+0-9A-F_-]{0,40}|.{0,40}") {
        match parse_get_query(&query) {
            Ok(q) => {
                prop_assert!(q.message.len() <= query.len());
                prop_assert!(query.contains("message"));
                prop_assert!(q.compression.as_deref() != Some("identity"));
            }
            Err(e) => prop_assert_eq!(e.code(), Code::InvalidArgument),
        }
    }

    #[test]
    fn get_query_round_trips(
        message in prop::collection::vec(any::<u8>(), 0..60),
        base64 in any::<bool>(),
        compression in prop::option::of(prop::sample::select(vec!["gzip", "zstd", "identity"])),
        encoding in prop::sample::select(vec!["proto", "json"]),
    ) {
        let text = if base64 { base64_url(&message) } else { percent_encode(&message) };
        let mut query = format!("connect=v1&encoding={encoding}&message={text}");
        if base64 {
            query.push_str("&base64=1");
        }
        if let Some(c) = compression {
            query.push_str(&format!("&compression={c}"));
        }
        let q = parse_get_query(&query).unwrap();
        prop_assert_eq!(&q.message[..], &message[..]);
        prop_assert_eq!(q.compression.as_deref(), compression.filter(|c| *c != "identity"));
    }
}
