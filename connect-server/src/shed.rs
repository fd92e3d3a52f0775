//! Load shedding: the errors tower's `LoadShedLayer` and `TimeoutLayer`
//! return, as the `ConnectError`s a client can act on.
//!
//! Wrap a generated server (or any service of `RpcRequest`s) and register
//! it with [`Router::add_methods`](crate::Router::add_methods):
//!
//! ```
//! use std::time::Duration;
//! use connect_server::shed::overload_error;
//! use tower::ServiceBuilder;
//!
//! # fn wrap<S>(server: S) -> impl tower::Service<connect_layers::rpc::RpcRequest, Response = connect_layers::rpc::RpcResponse, Error = connect_core::ConnectError>
//! # where S: tower::Service<connect_layers::rpc::RpcRequest, Response = connect_layers::rpc::RpcResponse, Error = connect_core::ConnectError> {
//! ServiceBuilder::new()
//!     .map_err(overload_error)              // Overloaded → resource_exhausted, Elapsed → unavailable
//!     .load_shed()                          // refuse at once when at the limit...
//!     .concurrency_limit(64)                // ...of 64 calls in flight
//!     .timeout(Duration::from_secs(10))     // and give up on calls that take longer
//!     .service(server)
//! # }
//! // router.add_methods(FooServiceServer::<Foo>::METHODS, wrapped)
//! ```
//!
//! A shed call ends in the protocol's own shape: HTTP 429 with a JSON
//! error for Connect unary, `grpc-status: 8` for gRPC and gRPC-Web.

use connect_core::ConnectError;

/// A boxed error, as tower's middleware returns.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Maps the errors of tower's load-shedding middleware to `ConnectError`s:
/// a refused call (`load_shed::error::Overloaded`) is `resource_exhausted`,
/// a call cut by a `timeout` layer (`timeout::error::Elapsed`) is
/// `unavailable` (worth retrying elsewhere); a `ConnectError` from the
/// service passes through, anything else is `internal`.
pub fn overload_error(err: BoxError) -> ConnectError {
    if let Some(e) = ConnectError::find_in(&*err) {
        return e.clone();
    }
    if err.is::<tower::load_shed::error::Overloaded>() {
        ConnectError::resource_exhausted("the server is overloaded; try again later")
    } else if err.is::<tower::timeout::error::Elapsed>() {
        ConnectError::unavailable("the server gave up on the call: it took too long")
    } else {
        ConnectError::internal(connect_core::error::chain_text(&*err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use connect_core::Code;

    #[test]
    fn tower_errors_map_to_codes() {
        let shed = overload_error(Box::new(tower::load_shed::error::Overloaded::new()));
        assert_eq!(shed.code(), Code::ResourceExhausted);
        let late = overload_error(Box::new(tower::timeout::error::Elapsed::new()));
        assert_eq!(late.code(), Code::Unavailable);
        let own = overload_error(Box::new(ConnectError::not_found("x")));
        assert_eq!(own.code(), Code::NotFound);
        assert_eq!(overload_error("other".into()).code(), Code::Internal);
    }
}
