//! Connect GET for side-effect-free unary calls: the message travels in
//! the query string
//! (`?connect=v1&encoding=proto&base64=1&compression=gzip&message=…`).
//!
//! - [`server`]: turns such a GET back into the POST it stands for;
//! - [`client`]: sends a unary call to a `NO_SIDE_EFFECTS` method as GET
//!   when the policy allows and the URL fits.

pub mod client;
pub mod server;

/// The query parameter naming the protocol version (`v1`).
pub const QUERY_CONNECT: &str = "connect";
/// The query parameter naming the codec.
pub const QUERY_ENCODING: &str = "encoding";
/// The query parameter saying the message is base64 (`1`).
pub const QUERY_BASE64: &str = "base64";
/// The query parameter naming the message's compression.
pub const QUERY_COMPRESSION: &str = "compression";
/// The query parameter holding the message.
pub const QUERY_MESSAGE: &str = "message";
