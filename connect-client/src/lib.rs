//! ConnectRPC clients: the Connect, gRPC and gRPC-Web protocols over any
//! `tower::Service<http::Request<_>>`, and the transports to run them on.

pub mod transport;
