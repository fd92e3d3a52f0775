//! The ConnectRPC [`Router`], a standalone hyper server and axum integration.

mod router;

pub use router::Router;
