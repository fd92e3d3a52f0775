//! The protocol stacks: the concerns' layers composed, in one readable
//! order per side.
//!
//! - [`server`]: `ConnectLayer`, `GrpcLayer` and `GrpcWebLayer`, each
//!   turning a typed service (a `Service<RpcRequest>`) into a
//!   `Service<http::Request<B>>`;
//! - [`client`]: `ClientStack`, the client halves composed over a channel
//!   (any `Service<http::Request<ClientBody>>`).
//!
//! ```text
//!  server (outermost first)          client (outermost first)
//!  Negotiate                         [ClientTrace]  (feature `tracing`)
//!  [WebText]      (gRPC-Web)         Deadline
//!  ErrorMap                          Compression
//!  [ConnectGet]   (Connect)          Framing
//!  Framing                           Negotiate
//!  Deadline                          ConnectGet
//!  Compression                       WebText
//!  typed service                     ErrorMap
//!                                    channel
//! ```

pub mod client;
pub mod server;
