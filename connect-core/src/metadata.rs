//! Metadata helpers: binary (`-bin`) values and the headers that are not
//! user metadata.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::{Code, ConnectError};

/// Protocol header names, built once: looking a header up by a prebuilt
/// [`HeaderName`] skips parsing the name on every call.
pub mod names {
    use http::HeaderName;

    /// `connect-protocol-version`.
    pub const CONNECT_PROTOCOL_VERSION: HeaderName =
        HeaderName::from_static("connect-protocol-version");
    /// `connect-timeout-ms`.
    pub const CONNECT_TIMEOUT_MS: HeaderName = HeaderName::from_static("connect-timeout-ms");
    /// `connect-content-encoding`.
    pub const CONNECT_CONTENT_ENCODING: HeaderName =
        HeaderName::from_static("connect-content-encoding");
    /// `connect-accept-encoding`.
    pub const CONNECT_ACCEPT_ENCODING: HeaderName =
        HeaderName::from_static("connect-accept-encoding");
    /// `grpc-timeout`.
    pub const GRPC_TIMEOUT: HeaderName = HeaderName::from_static("grpc-timeout");
    /// `grpc-encoding`.
    pub const GRPC_ENCODING: HeaderName = HeaderName::from_static("grpc-encoding");
    /// `grpc-accept-encoding`.
    pub const GRPC_ACCEPT_ENCODING: HeaderName = HeaderName::from_static("grpc-accept-encoding");
}

/// Whether `name` carries binary, base64-encoded values (ends in `-bin`).
pub fn is_binary_header(name: &str) -> bool {
    name.ends_with("-bin")
}

/// Encodes a binary metadata value as padded standard base64.
///
/// ```
/// use connect_core::metadata::{decode_binary_value, encode_binary_value};
///
/// let v = encode_binary_value(&[0xff, 0x00, 0x01]);
/// assert_eq!(v, "/wAB");
/// assert_eq!(decode_binary_value(v.as_bytes()).unwrap(), vec![0xff, 0, 1]);
/// ```
pub fn encode_binary_value(bytes: &[u8]) -> HeaderValue {
    HeaderValue::try_from(STANDARD.encode(bytes)).expect("base64 is a valid header value")
}

/// Decodes a binary metadata value; padded and unpadded base64 (standard or
/// URL-safe alphabet) are accepted.
pub fn decode_binary_value(value: &[u8]) -> Result<Vec<u8>, ConnectError> {
    let trimmed: &[u8] = {
        let mut v = value;
        while let [rest @ .., b'='] = v {
            v = rest;
        }
        v
    };
    if trimmed.contains(&b'-') || trimmed.contains(&b'_') {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(trimmed)
    } else {
        STANDARD_NO_PAD.decode(trimmed)
    }
    .map_err(|e| {
        ConnectError::new(
            Code::InvalidArgument,
            format!("invalid binary metadata: {e}"),
        )
    })
}

/// Appends a binary value under `name` (which should end in `-bin`).
pub fn append_binary(headers: &mut HeaderMap, name: HeaderName, bytes: &[u8]) {
    headers.append(name, encode_binary_value(bytes));
}

/// Maps with at most this many distinct names are searched linearly by
/// [`find`].
const FIND_SCAN_MAX: usize = 12;

/// The first value of header `name`, like [`HeaderMap::get`], but a small
/// map (a request's handful of headers) is scanned instead of hashed:
/// comparing a few names costs less than hashing a custom name such as
/// `connect-timeout-ms`, and the protocol layers look up several per call.
///
/// ```
/// use connect_core::metadata::{find, names};
/// let mut h = http::HeaderMap::new();
/// h.insert("connect-timeout-ms", http::HeaderValue::from_static("250"));
/// assert_eq!(find(&h, &names::CONNECT_TIMEOUT_MS).unwrap(), "250");
/// assert!(find(&h, &http::header::CONTENT_TYPE).is_none());
/// ```
#[inline]
pub fn find<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a HeaderValue> {
    // Not `find_all(..).next()`: that measured 160+ instructions more.
    if headers.keys_len() <= FIND_SCAN_MAX {
        headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
    } else {
        headers.get(name)
    }
}

/// Every value of header `name`, like [`HeaderMap::get_all`], with the same
/// small-map scan as [`find`].
///
/// ```
/// use connect_core::metadata::find_all;
/// let mut h = http::HeaderMap::new();
/// h.append("accept-encoding", http::HeaderValue::from_static("gzip"));
/// h.append("accept-encoding", http::HeaderValue::from_static("zstd"));
/// let all: Vec<_> = find_all(&h, &http::header::ACCEPT_ENCODING).collect();
/// assert_eq!(all, ["gzip", "zstd"]);
/// ```
pub fn find_all<'a, 'n>(headers: &'a HeaderMap, name: &'n HeaderName) -> FindAll<'a, 'n> {
    if headers.keys_len() <= FIND_SCAN_MAX {
        FindAll::Scan(headers.iter(), name)
    } else {
        FindAll::Hashed(headers.get_all(name).iter())
    }
}

/// The values [`find_all`] yields.
#[derive(Debug)]
pub enum FindAll<'a, 'n> {
    /// Scanning a small map for `name`.
    Scan(http::header::Iter<'a, HeaderValue>, &'n HeaderName),
    /// Following a larger map's hashed entry.
    Hashed(http::header::ValueIter<'a, HeaderValue>),
}

impl<'a> Iterator for FindAll<'a, '_> {
    type Item = &'a HeaderValue;

    #[inline]
    fn next(&mut self) -> Option<&'a HeaderValue> {
        match self {
            FindAll::Scan(iter, name) => iter.find(|(k, _)| *k == *name).map(|(_, v)| v),
            FindAll::Hashed(iter) => iter.next(),
        }
    }
}

/// Whether a header belongs to the protocol rather than to the user: such
/// headers are never copied from error or context metadata onto the wire as
/// user metadata. `grpc-retry-pushback-ms` is the application's to send
/// (gRFC A6 server pushback), so it is not one.
///
/// ```
/// use connect_core::metadata::is_protocol_header;
///
/// assert!(is_protocol_header("grpc-status"));
/// assert!(!is_protocol_header("grpc-retry-pushback-ms"));
/// ```
pub fn is_protocol_header(name: &str) -> bool {
    if name == "grpc-retry-pushback-ms" {
        return false;
    }
    matches!(
        name,
        "content-type"
            | "content-length"
            | "content-encoding"
            | "accept-encoding"
            | "host"
            | "user-agent"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "connection"
            | "keep-alive"
            | "upgrade"
            | "date"
    ) || name.starts_with("connect-")
        || name.starts_with("grpc-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_padded_unpadded_and_url_safe() {
        for input in ["/wAB", "/wAB", "_wAB"] {
            assert_eq!(
                decode_binary_value(input.as_bytes()).unwrap(),
                vec![0xff, 0, 1]
            );
        }
        assert_eq!(decode_binary_value(b"YQ==").unwrap(), b"a");
        assert_eq!(decode_binary_value(b"YQ").unwrap(), b"a");
        assert!(decode_binary_value(b"!!!").is_err());
    }

    #[test]
    fn protocol_headers_are_not_user_metadata() {
        assert!(is_protocol_header("grpc-status"));
        assert!(is_protocol_header("connect-timeout-ms"));
        assert!(is_protocol_header("content-type"));
        assert!(!is_protocol_header("x-custom"));
        assert!(is_binary_header("x-trace-bin"));
    }
}
