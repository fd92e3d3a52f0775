//! The client halves of the protocol concerns, each a `tower::Layer`, and
//! the client stacks composed from them.
//!
//! A client call travels down the stack as a protocol-neutral
//! [`ClientRequest`] (frames plus the call's settings), becomes an
//! `http::Request<`[`ClientBody`]`>` at [`framing`], and reaches the channel:
//! any `tower::Service<http::Request<ClientBody>>` whose response body is
//! an `http_body::Body`. The answer climbs back as a [`ClientResponse`].
//!
//! ```text
//!   ClientRequest                     (generated client: typed → frames)
//!   deadline      timeout header out; local timer; expiry → deadline_exceeded
//!   compression   compress out; accept list; decompress in within the limit
//!   framing       frames ⇄ body (bare, envelopes, end-stream, trailers)
//!   ── http::Request<ClientBody> ──────────────────────────────────────────
//!   negotiate     content-type, connect-protocol-version, user-agent, te
//!   get           NO_SIDE_EFFECTS unary → GET when the URL fits
//!   web_text      gRPC-Web text: base64 both ways
//!   errors        HTTP status / Connect JSON / trailers-only → ConnectError
//!   channel       HttpClient, Http2Connection, or yours
//! ```

pub mod body;
pub mod compression;
pub mod deadline;
pub mod errors;
pub mod framing;
pub mod get;
pub mod negotiate;
pub mod rpc;
pub mod stack;
pub mod web_text;

pub use body::ClientBody;
pub use rpc::{CallSettings, ClientRequest, ClientResponse, ResponseFrames, StreamItem};
pub use stack::{ClientStack, ClientStackConfig};
