//! The ConnectRPC protocol vocabulary, shared by every other crate of the
//! project: status [`Code`]s, the typed [`ConnectError`], [`Protocol`] and
//! [`Codec`] names, [`MethodDescriptor`]s, envelope [`flags`], timeout header
//! parsing ([`timeout`]) and metadata helpers ([`metadata`]).
//!
//! It depends on `http`, `bytes` and `base64` only.

pub mod code;
pub mod error;
pub mod metadata;
pub mod method;
pub mod protocol;
pub mod timeout;
pub mod tls;

pub use code::Code;
pub use error::{ConnectError, ErrorDetail};
pub use method::{Idempotency, MethodDescriptor, StreamType};
pub use protocol::{Codec, ENVELOPE_PREFIX_LEN, Protocol, flags};
pub use tls::TlsError;
