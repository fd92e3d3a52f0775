//! The header and query parsers: timeouts (and their formatters), binary
//! metadata, the Connect content type, the GET query and the error JSON.
#![no_main]

use std::time::Duration;

use connect_codec::error_json::{decode_error, encode_error};
use connect_core::Code;
use connect_core::metadata::{decode_binary_value, encode_binary_value};
use connect_core::timeout::{
    format_connect_timeout, format_grpc_timeout, parse_connect_timeout, parse_grpc_timeout,
};
use connect_layers::get::server::parse_get_query;
use connect_layers::negotiate::server::parse_connect_content_type;
use libfuzzer_sys::fuzz_target;

fn timeouts(data: &[u8]) {
    match parse_connect_timeout(data) {
        Ok(d) => {
            assert!(!data.is_empty() && data.len() <= 10);
            assert!(data.iter().all(u8::is_ascii_digit));
            let ms = u64::try_from(d.as_millis()).unwrap();
            assert_eq!(Duration::from_millis(ms), d);
            assert_eq!(format_connect_timeout(d), ms.to_string());
        }
        Err(e) => assert_eq!(e.code(), Code::InvalidArgument),
    }
    match parse_grpc_timeout(data) {
        Ok(d) => {
            assert!(data.len() >= 2 && data.len() <= 9);
            let back = parse_grpc_timeout(format_grpc_timeout(d).as_bytes()).unwrap();
            assert!(back >= d);
        }
        Err(e) => assert_eq!(e.code(), Code::InvalidArgument),
    }
    // Formatting any duration parses back to at least that duration (or
    // the cap).
    if data.len() >= 12 {
        let secs = u64::from_le_bytes(data[..8].try_into().unwrap());
        let nanos = u32::from_le_bytes(data[8..12].try_into().unwrap()) % 1_000_000_000;
        let d = Duration::new(secs, nanos);
        let s = format_connect_timeout(d);
        assert!(s.len() <= 10, "{s}");
        let back = parse_connect_timeout(s.as_bytes()).unwrap();
        assert!(back >= d || s == "9999999999", "{d:?} -> {s}");
        assert!(s == "9999999999" || back - d < Duration::from_millis(1));
        let s = format_grpc_timeout(d);
        assert!(s.len() <= 9, "{s}");
        let back = parse_grpc_timeout(s.as_bytes()).unwrap();
        assert!(back >= d || s == "99999999H", "{d:?} -> {s}");
    }
}

fn binary_metadata(data: &[u8]) {
    if let Ok(v) = decode_binary_value(data) {
        assert!(v.len() <= data.len());
        let enc = encode_binary_value(&v);
        assert_eq!(decode_binary_value(enc.as_bytes()).unwrap(), v);
    } else if let Err(e) = decode_binary_value(data) {
        assert_eq!(e.code(), Code::InvalidArgument);
    }
    let enc = encode_binary_value(data);
    assert_eq!(decode_binary_value(enc.as_bytes()).unwrap(), data);
}

fn content_type(data: &[u8]) {
    if parse_connect_content_type(data).is_some() {
        let s = std::str::from_utf8(data).unwrap();
        assert!(
            s.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/")
        );
    }
}

fn get_query(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match parse_get_query(&text) {
        Ok(q) => {
            assert!(q.message.len() <= text.len());
            assert!(text.contains("message"));
        }
        Err(e) => assert_eq!(e.code(), Code::InvalidArgument),
    }
}

fn error_json(data: &[u8]) {
    if let Some(err) = decode_error(data, Code::Unknown) {
        assert_ne!(err.code(), Code::Ok);
        let body = encode_error(&err);
        let back = decode_error(&body, Code::Internal).unwrap();
        assert_eq!(back.code(), err.code());
        assert_eq!(back.message(), err.message());
        assert_eq!(back.details(), err.details());
    }
}

fuzz_target!(|data: &[u8]| {
    timeouts(data);
    binary_metadata(data);
    content_type(data);
    get_query(data);
    error_json(data);
});
