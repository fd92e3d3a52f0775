//! The ConnectRPC protocol concerns, each a `tower::Layer`, and the protocol
//! stacks composed from them.

mod macros;

pub mod body;
pub mod client;
pub mod compression;
pub mod deadline;
pub mod error_map;
pub mod framing;
pub mod future;
pub mod get;
pub mod handler;
pub mod negotiate;
#[cfg(feature = "tracing")]
pub mod observe;
pub mod protocol;
pub mod rpc;
pub mod stack;
pub mod web_text;

pub use rpc::{
    Context, Frame, FrameStream, NamedService, RequestHead, RequestMessages, ResponseMessages,
    RpcRequest, RpcResponse,
};
