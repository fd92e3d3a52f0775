//! Examples for `connectrpc`: the greet service, served standalone
//! (`cargo run --example greet-server`) and under axum
//! (`cargo run --example greet-axum --features axum`).

/// Code generated from `proto/greet/v1/greet.proto` by `connectrpc-build`:
/// messages (`proto::greet::v1::GreetRequest`, ...), the `GreetService`
/// trait and its `GreetServiceServer`.
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/_connectrpc.rs"));
}

pub mod greeter;

pub use greeter::Greeter;

/// `docs/health.md`, whose examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/health.md")]
pub struct HealthGuide;

/// `docs/reflection.md`, whose examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/reflection.md")]
pub struct ReflectionGuide;
