//! The ConnectRPC protocol concerns, each a `tower::Layer`, and the protocol
//! stacks composed from them.

pub mod handler;
pub mod rpc;

pub use rpc::{
    Context, Frame, FrameStream, NamedService, RequestHead, RequestMessages, ResponseMessages,
    RpcRequest, RpcResponse,
};
