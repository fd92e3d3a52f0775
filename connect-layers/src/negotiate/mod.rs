//! Content negotiation: which protocol and codec a call speaks.
//!
//! Both halves read and write content types through one table,
//! [`protocol::content_type`](crate::protocol::content_type):
//!
//! - [`server`]: decides a request's protocol and codec (or refuses it
//!   with 405 / 415 / 505) and passes the decision down as a
//!   [`Call`](crate::protocol::Call);
//! - [`client`]: writes `content-type`, `connect-protocol-version`,
//!   `te: trailers` and `user-agent` on each request.

pub mod client;
pub mod server;
