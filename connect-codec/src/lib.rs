//! Bytes ⇄ messages for ConnectRPC: proto and JSON codecs over buffa,
//! envelope framing, compression providers and the error wire formats.

pub mod codec;
pub mod compression;
pub mod details;
pub mod envelope;
pub mod error_json;
pub mod grpc_status;
