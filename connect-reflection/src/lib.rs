//! gRPC server reflection, `grpc.reflection.v1.ServerReflection` and the
//! older `grpc.reflection.v1alpha.ServerReflection`, so that `grpcurl`,
//! `buf curl --reflect`, Postman and other tools can list, describe and
//! call your services with no `.proto` files.
//!
//! The descriptors come from generated code: `connectrpc-build` and
//! `protoc-gen-connect-rust` put a `FILE_DESCRIPTOR_SET` constant in each
//! service's module (`greet_service::FILE_DESCRIPTOR_SET`), the serialized
//! `FileDescriptorSet` of the service's `.proto` file and every file it
//! imports. Register one per service:
//!
//! ```
//! use connect_reflection::Reflection;
//! use connect_server::Router;
//!
//! # fn main() -> Result<(), connect_reflection::RegisterError> {
//! # let greet_fds = connect_health::FILE_DESCRIPTOR_SET;
//! let reflection = Reflection::new()
//!     .register_file_descriptor_set(greet_fds)?; // greet_service::FILE_DESCRIPTOR_SET
//! let router = reflection.register(Router::new()); // v1 and v1alpha
//! # let _ = router;
//! # Ok(())
//! # }
//! ```
//!
//! What it answers, on one bidirectional stream (one response per request,
//! in order), as grpc-go does:
//!
//! | request | response |
//! | --- | --- |
//! | `list_services` | every service declared in the registered files, the reflection services included |
//! | `file_by_filename` | the file, then the files it imports (transitively) not yet sent on this stream |
//! | `file_containing_symbol` | the same, for the file declaring a service, method, message, field, oneof, enum, enum value or extension |
//! | `file_containing_extension` | the same, for the file declaring that extension |
//! | `all_extension_numbers_of_type` | the extension numbers of that message |
//!
//! An unknown file, symbol, type or extension gets an `error_response`
//! with code 5 (`NOT_FOUND`) and the stream goes on; a request with no
//! question set gets code 3 (`INVALID_ARGUMENT`). Nothing a client sends
//! makes the service panic or grow: the per-stream memory is the set of
//! files already sent, at most the registered files.

mod index;
mod service;

use std::sync::Arc;

use connect_server::Router;

pub use index::RegisterError;

/// Answers reflection requests from the descriptors registered with it.
///
/// [`new`](Self::new) knows the reflection services themselves; add your
/// services' descriptor sets with
/// [`register_file_descriptor_set`](Self::register_file_descriptor_set),
/// then [`register`](Self::register) both protocol versions on a router.
///
/// ```
/// use connect_reflection::Reflection;
///
/// let reflection = Reflection::new();
/// let services: Vec<&str> = reflection.services().collect();
/// assert_eq!(
///     services,
///     ["grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"]
/// );
/// ```
#[derive(Clone, Debug)]
pub struct Reflection {
    index: index::Index,
}

impl Default for Reflection {
    fn default() -> Self {
        Self::new()
    }
}

impl Reflection {
    /// A reflection service that knows its own two services.
    pub fn new() -> Self {
        let mut index = index::Index::default();
        for own in [V1_FILE_DESCRIPTOR_SET, V1ALPHA_FILE_DESCRIPTOR_SET] {
            index
                .add(own)
                .expect("the reflection protos' own descriptors are valid");
        }
        Reflection { index }
    }

    /// Adds the files of a serialized `google.protobuf.FileDescriptorSet`
    /// (a generated `FILE_DESCRIPTOR_SET`, or the output of `buf build -o
    /// x.binpb` / `protoc --include_imports -o`). A file already registered
    /// under the same name is kept; sets sharing imports are fine.
    ///
    /// ```
    /// use connect_reflection::Reflection;
    ///
    /// # fn main() -> Result<(), connect_reflection::RegisterError> {
    /// let reflection =
    ///     Reflection::new().register_file_descriptor_set(connect_health::FILE_DESCRIPTOR_SET)?;
    /// assert!(reflection.services().any(|s| s == "grpc.health.v1.Health"));
    ///
    /// // Not a descriptor set: an error, not a panic.
    /// assert!(Reflection::new().register_file_descriptor_set(b"\xff\xff").is_err());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`RegisterError`] when the bytes do not decode, or the files do not
    /// link (a type, import or name clash the descriptor pool rejects).
    pub fn register_file_descriptor_set(mut self, bytes: &[u8]) -> Result<Self, RegisterError> {
        self.index.add(bytes)?;
        Ok(self)
    }

    /// The fully-qualified names of the services `list_services` answers
    /// with, sorted.
    pub fn services(&self) -> impl Iterator<Item = &str> {
        self.index.services()
    }

    /// Adds `grpc.reflection.v1.ServerReflection` and
    /// `grpc.reflection.v1alpha.ServerReflection` to `router`, both served
    /// from these descriptors.
    ///
    /// ```
    /// use connect_reflection::Reflection;
    /// use connect_server::Router;
    ///
    /// let router = Reflection::new().register(Router::new());
    /// # let _ = router;
    /// ```
    pub fn register(self, router: Router) -> Router {
        use proto::grpc::reflection::{v1, v1alpha};
        let server = Arc::new(service::ReflectionServer {
            index: Arc::new(self.index),
        });
        let router = v1::ServerReflectionExt::register(Arc::clone(&server), router);
        v1alpha::ServerReflectionExt::register(server, router)
    }
}

/// The serialized `FileDescriptorSet` of `grpc/reflection/v1/reflection.proto`.
pub const V1_FILE_DESCRIPTOR_SET: &[u8] =
    proto::grpc::reflection::v1::server_reflection::FILE_DESCRIPTOR_SET;

/// The serialized `FileDescriptorSet` of
/// `grpc/reflection/v1alpha/reflection.proto`.
pub const V1ALPHA_FILE_DESCRIPTOR_SET: &[u8] =
    proto::grpc::reflection::v1alpha::server_reflection::FILE_DESCRIPTOR_SET;

/// Code generated from the reflection `.proto` files by
/// `connectrpc-build`: `proto::grpc::reflection::v1::{ServerReflectionRequest,
/// ServerReflectionClient, ...}` and the same under `v1alpha`.
pub mod proto {
    #![allow(unreachable_pub)]
    include!(concat!(env!("OUT_DIR"), "/_connectrpc.rs"));
}

/// What the generated code names (it is generated with
/// `runtime_crate("crate")`, so this crate does not depend on the
/// `connectrpc` facade that re-exports it).
#[allow(unused_imports)]
mod __codegen {
    pub(crate) use buffa::view::OwnedView;
    pub(crate) use connect_client::{
        BidiStream, CallOptions, Channel, Client, ClientConfig, Response, ServerStreaming,
    };
    pub(crate) use connect_core::{ConnectError, Idempotency, MethodDescriptor, StreamType};
    pub(crate) use connect_layers::handler::{
        BoxFuture, ResponseStream, Streaming, bidi_stream, boxed, client_stream, server_stream,
        unary, unimplemented,
    };
    pub(crate) use connect_layers::rpc::{
        Context, NamedService, RpcRequest, RpcResponse, RpcService,
    };
    pub(crate) use connect_server::Router;
    pub(crate) use futures_core::Stream;
    pub(crate) use std::future::Future;
    pub(crate) use std::sync::Arc;
    pub(crate) use std::task::{Context as TaskContext, Poll};
    pub(crate) use tower_service::Service;
}
