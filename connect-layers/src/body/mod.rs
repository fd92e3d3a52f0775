//! HTTP bodies: what each side puts on the wire.
//!
//! - [`server::ResponseBody`]: the response every server stack produces
//!   (one buffer, one envelope and its end, or a stream of envelopes and
//!   the protocol's end-of-stream);
//! - [`client::ClientBody`]: the request every client stack sends (one
//!   buffer, replayable, or a stream of chunks).
//!
//! Both write envelopes through [`Frame::into_envelope`](crate::rpc::Frame::into_envelope).

mod batch;
pub mod client;
pub mod server;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;

/// Encodes one body chunk as padded base64 (gRPC-Web text mode; a
/// server's response chunks and a client's request chunks alike).
pub fn encode_chunk(data: &[u8]) -> Bytes {
    Bytes::from(STANDARD.encode(data))
}
