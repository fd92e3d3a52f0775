//! Protocols, codecs and envelope flags.

use std::fmt;

/// The wire protocol of one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Protocol {
    /// The Connect protocol.
    Connect,
    /// gRPC over HTTP/2.
    Grpc,
    /// gRPC-Web.
    GrpcWeb,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Protocol::Connect => "connect",
            Protocol::Grpc => "grpc",
            Protocol::GrpcWeb => "grpc-web",
        })
    }
}

/// The message encoding of one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Codec {
    /// Binary protobuf.
    Proto,
    /// The proto3 JSON mapping.
    Json,
}

impl Codec {
    /// The codec's name as it appears in content types (`proto`, `json`).
    pub const fn name(self) -> &'static str {
        match self {
            Codec::Proto => "proto",
            Codec::Json => "json",
        }
    }

    /// The codec with this name, if it is one we speak.
    pub fn from_name(name: &str) -> Option<Codec> {
        match name {
            "proto" => Some(Codec::Proto),
            "json" => Some(Codec::Json),
            _ => None,
        }
    }

    /// Like [`from_name`](Self::from_name), ignoring ASCII case (content
    /// types are case-insensitive).
    pub fn from_name_ignore_case(name: &str) -> Option<Codec> {
        if name.eq_ignore_ascii_case("proto") {
            Some(Codec::Proto)
        } else if name.eq_ignore_ascii_case("json") {
            Some(Codec::Json)
        } else {
            None
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// Envelope flag bits (the first byte of a 5-byte envelope prefix).
pub mod flags {
    /// The payload is compressed with the negotiated encoding.
    pub const COMPRESSED: u8 = 0x01;
    /// Connect: this envelope is the end-of-stream message.
    pub const CONNECT_END_STREAM: u8 = 0x02;
    /// gRPC-Web: this envelope carries the trailers.
    pub const GRPC_WEB_TRAILERS: u8 = 0x80;
}

/// The length of an envelope prefix: one flag byte and a big-endian `u32`.
pub const ENVELOPE_PREFIX_LEN: usize = 5;
