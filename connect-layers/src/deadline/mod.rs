//! Deadlines, both ways: a call's timeout travels in the protocol's header
//! (`connect-timeout-ms` or `grpc-timeout`) and each side enforces it.
//!
//! - [`server`]: the header becomes the call's deadline, which the handler
//!   sees; when it passes, the call (or the rest of its response stream)
//!   ends with `deadline_exceeded`;
//! - [`client`]: the call's timeout goes on the wire **and** is enforced
//!   locally, so a server that never answers cannot hold the call past it.
//!
//! Written once, here: the header's encoding ([`timeout_value`],
//! [`request_timeout`]), the deadline a timeout gives ([`deadline_after`]:
//! a timeout too large for the clock, `Duration::MAX` say, is no deadline,
//! not a panic) and the error ([`expired`]).
//!
//! ```
//! use std::time::Duration;
//! use connect_core::Protocol;
//! use connect_layers::deadline::{request_timeout, timeout_value};
//!
//! let mut headers = http::HeaderMap::new();
//! for protocol in [Protocol::Connect, Protocol::Grpc] {
//!     let (name, value) = timeout_value(protocol, Duration::from_millis(250));
//!     headers.insert(name, value);
//!     assert_eq!(request_timeout(protocol, &headers).unwrap(), Some(Duration::from_millis(250)));
//! }
//! // Huge timeouts are written as the largest the header holds.
//! assert_eq!(timeout_value(Protocol::Connect, Duration::MAX).1, "9999999999");
//! assert_eq!(timeout_value(Protocol::Grpc, Duration::MAX).1, "99999999H");
//! ```

pub mod client;
pub mod server;

use std::time::Duration;

use connect_core::timeout::{
    format_connect_timeout, format_grpc_timeout, parse_connect_timeout, parse_grpc_timeout,
};
use connect_core::{ConnectError, Protocol};
use http::{HeaderMap, HeaderName, HeaderValue};
use tokio::time::Instant;

use crate::protocol::timeout_header;

/// The error of a call whose deadline passed.
pub fn expired() -> ConnectError {
    ConnectError::deadline_exceeded("the call's deadline expired")
}

/// The deadline `timeout` from now; `None` when that is past what the
/// clock can represent (no deadline at all, in effect).
pub fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// The timeout header a request of `protocol` carries for `timeout`:
/// milliseconds (at most 10 digits) for Connect, at most 8 digits and a
/// unit for gRPC, rounded up and clamped to the largest value the header
/// holds.
pub fn timeout_value(protocol: Protocol, timeout: Duration) -> (HeaderName, HeaderValue) {
    let text = match protocol {
        Protocol::Connect => format_connect_timeout(timeout),
        _ => format_grpc_timeout(timeout),
    };
    let value = HeaderValue::try_from(text).unwrap_or_else(|_| HeaderValue::from_static("0"));
    (timeout_header(protocol), value)
}

/// The timeout a request of `protocol` asks for in `headers`.
///
/// # Errors
///
/// `invalid_argument` for a malformed header (too many digits, no unit).
pub fn request_timeout(
    protocol: Protocol,
    headers: &HeaderMap,
) -> Result<Option<Duration>, ConnectError> {
    type Parser = fn(&[u8]) -> Result<Duration, ConnectError>;
    let parse: Parser = match protocol {
        Protocol::Connect => parse_connect_timeout,
        _ => parse_grpc_timeout,
    };
    connect_core::metadata::find(headers, &timeout_header(protocol))
        .map(|v| parse(v.as_bytes()))
        .transpose()
}
