//! Bytes ⇄ messages for ConnectRPC: proto and JSON codecs over buffa,
//! envelope framing, compression providers and the error wire formats.

pub mod codec;
pub mod envelope;
pub mod compression;
pub mod error_json;
