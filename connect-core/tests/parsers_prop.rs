//! Property tests for the header parsers (the `fuzz/` targets' properties,
//! run on stable in CI): timeouts and binary metadata never panic, and
//! formatting round-trips through parsing.

use std::time::Duration;

use connect_core::Code;
use connect_core::metadata::{decode_binary_value, encode_binary_value};
use connect_core::timeout::{
    format_connect_timeout, format_grpc_timeout, parse_connect_timeout, parse_grpc_timeout,
};
use proptest::prelude::*;

const CONNECT_CAP: &str = "9999999999";
const GRPC_CAP: &str = "99999999H";

fn any_duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
        (0u64..100_000_000_000).prop_map(Duration::from_nanos),
        (0u64..10_000_000_000).prop_map(Duration::from_millis),
    ]
}

/// Bytes biased towards what timeout headers are made of.
fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        4 => prop::sample::select(b"0123456789HMSmun".to_vec()),
        1 => any::<u8>(),
    ];
    prop::collection::vec(byte, 0..14)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn connect_timeout_parses_only_short_digit_strings(value in header_bytes()) {
        match parse_connect_timeout(&value) {
            Ok(d) => {
                prop_assert!(!value.is_empty() && value.len() <= 10);
                prop_assert!(value.iter().all(u8::is_ascii_digit));
                let digits: u64 = std::str::from_utf8(&value).unwrap().parse().unwrap();
                prop_assert_eq!(d, Duration::from_millis(digits));
                prop_assert_eq!(format_connect_timeout(d), digits.to_string());
            }
            Err(e) => prop_assert_eq!(e.code(), Code::InvalidArgument),
        }
    }

    #[test]
    fn grpc_timeout_parses_only_digits_and_a_unit(value in header_bytes()) {
        match parse_grpc_timeout(&value) {
            Ok(d) => {
                prop_assert!(value.len() >= 2 && value.len() <= 9);
                prop_assert!(b"HMSmun".contains(value.last().unwrap()));
                let back = parse_grpc_timeout(format_grpc_timeout(d).as_bytes()).unwrap();
                prop_assert!(back >= d);
            }
            Err(e) => prop_assert_eq!(e.code(), Code::InvalidArgument),
        }
    }

    #[test]
    fn connect_timeout_round_trips(d in any_duration()) {
        let s = format_connect_timeout(d);
        prop_assert!(s.len() <= 10, "{}", s);
        let back = parse_connect_timeout(s.as_bytes()).unwrap();
        if s != CONNECT_CAP {
            // Rounded up to the next whole millisecond, never down.
            prop_assert!(back >= d && back - d < Duration::from_millis(1), "{:?} -> {}", d, s);
        }
    }

    #[test]
    fn grpc_timeout_round_trips(d in any_duration()) {
        let s = format_grpc_timeout(d);
        prop_assert!(s.len() <= 9, "{}", s);
        let back = parse_grpc_timeout(s.as_bytes()).unwrap();
        prop_assert!(back >= d || s == GRPC_CAP, "{:?} -> {} -> {:?}", d, s, back);
    }

    #[test]
    fn binary_metadata_round_trips(data in prop::collection::vec(any::<u8>(), 0..64)) {
        let enc = encode_binary_value(&data);
        prop_assert_eq!(decode_binary_value(enc.as_bytes()).unwrap(), data.clone());
        // Unpadded, and URL-safe, are accepted too.
        let unpadded = enc.to_str().unwrap().trim_end_matches('=');
        prop_assert_eq!(decode_binary_value(unpadded.as_bytes()).unwrap(), data.clone());
        let url: String = unpadded.chars().map(|c| match c { '+' => '-', '/' => '_', c => c }).collect();
        prop_assert_eq!(decode_binary_value(url.as_bytes()).unwrap(), data);
    }

    #[test]
    fn binary_metadata_decoding_never_panics(value in prop::collection::vec(any::<u8>(), 0..64)) {
        match decode_binary_value(&value) {
            Ok(v) => {
                prop_assert!(v.len() <= value.len());
                let again = encode_binary_value(&v);
                prop_assert_eq!(decode_binary_value(again.as_bytes()).unwrap(), v);
            }
            Err(e) => prop_assert_eq!(e.code(), Code::InvalidArgument),
        }
    }
}
