//! Errors at the HTTP level, both ways.
//!
//! - [`server`]: a [`ConnectError`](connect_core::ConnectError) from the
//!   layers or the handler becomes the protocol's error shape (Connect's
//!   JSON body and HTTP status or end-stream message, gRPC's trailers-only
//!   answer, gRPC-Web's trailer frame);
//! - [`client`]: answers that are not RPC answers (a proxy's 502, an HTML
//!   page, a wrong content type), Connect unary errors and the channel's
//!   own failures become `ConnectError`s.
//!
//! Both read and write metadata with framing's rule
//! ([`framing::copy_metadata`](crate::framing::copy_metadata)): protocol
//! headers are not metadata.

pub mod client;
pub mod server;
