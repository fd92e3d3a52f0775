//! The descriptor-neutral input of the generator.
//!
//! A front end (the `build.rs` support in `connectrpc-build`, or a `protoc`
//! plugin) resolves proto descriptors into these plain values; everything
//! after that is independent of where the descriptors came from.

use proc_macro2::TokenStream;

/// A proto `service`.
///
/// Construct it with a struct literal ending in `..Default::default()`, so
/// fields added later keep the code compiling.
///
/// ```
/// use connectrpc_codegen::{Idempotency, MethodDef, ServiceDef};
/// use quote::quote;
///
/// let service = ServiceDef {
///     name: "GreetService".into(),
///     package: "greet.v1".into(),
///     comments: vec!["Says hello.".into()],
///     methods: vec![MethodDef {
///         name: "Greet".into(),
///         input_type: quote!(GreetRequest),
///         input_view: quote!(__buffa::view::GreetRequestView),
///         output_type: quote!(GreetResponse),
///         output_view: quote!(__buffa::view::GreetResponseView),
///         client_streaming: false,
///         server_streaming: false,
///         idempotency: Idempotency::NoSideEffects,
///         comments: vec![],
///         ..Default::default()
///     }],
///     ..Default::default()
/// };
/// assert_eq!(service.full_name(), "greet.v1.GreetService");
/// ```
#[derive(Clone, Debug, Default)]
pub struct ServiceDef {
    /// The service's proto name (`GreetService`).
    pub name: String,
    /// The proto package (`greet.v1`), empty for none.
    pub package: String,
    /// The service's comments, one entry per line: the leading comment,
    /// then (after an empty line) the trailing one.
    pub comments: Vec<String>,
    /// The methods, in declaration order.
    pub methods: Vec<MethodDef>,
    /// Whether the service has `option deprecated = true`: its trait,
    /// server, client and descriptors are then `#[deprecated]`.
    pub deprecated: bool,
    /// The names already declared in the package's module, which the
    /// generated items must not take: messages, enums, the modules of
    /// messages' nested types, sub-package modules and the traits of every
    /// service in the package (this one's included), in any order. See
    /// [`ServiceNames`](crate::names::ServiceNames) for how clashes are
    /// avoided. Empty when unknown.
    pub taken_names: Vec<String>,
    /// The serialized `google.protobuf.FileDescriptorSet` of the service's
    /// `.proto` file and every file it imports, directly or not (imports
    /// first, the service's file last; `source_code_info` left out). When
    /// present it is generated as
    /// [`FILE_DESCRIPTOR_SET`](crate::names::FILE_DESCRIPTOR_SET_CONST) in
    /// the service's module, for server reflection.
    /// [`descriptor::companion_files`](crate::descriptor::companion_files)
    /// fills it in.
    pub file_descriptor_set: Option<Vec<u8>>,
}

impl ServiceDef {
    /// The fully-qualified service name (`greet.v1.GreetService`).
    pub fn full_name(&self) -> String {
        crate::names::full_service_name(&self.package, &self.name)
    }

    /// Whether the service or any of its methods is deprecated, so that
    /// generated code naming its items must allow `deprecated`.
    pub fn any_deprecated(&self) -> bool {
        self.deprecated || self.methods.iter().any(|m| m.deprecated)
    }

    /// The Rust names of the service's items, clear of
    /// [`taken_names`](Self::taken_names).
    pub fn names(&self) -> crate::names::ServiceNames {
        crate::names::ServiceNames::new(&self.name, &self.taken_names)
    }
}

/// One `rpc` of a service.
///
/// The type paths are relative to the module the generated code is placed
/// in (the package's module, next to the package's messages) or absolute.
#[derive(Clone, Debug, Default)]
pub struct MethodDef {
    /// The method's proto name (`Greet`).
    pub name: String,
    /// The owned request message type (`GreetRequest`).
    pub input_type: TokenStream,
    /// The request's view type, without its lifetime
    /// (`__buffa::view::GreetRequestView`).
    pub input_view: TokenStream,
    /// The owned response message type (`GreetResponse`).
    pub output_type: TokenStream,
    /// The response's view type, without its lifetime
    /// (`__buffa::view::GreetResponseView`).
    pub output_view: TokenStream,
    /// Whether the client sends a stream of messages.
    pub client_streaming: bool,
    /// Whether the server sends a stream of messages.
    pub server_streaming: bool,
    /// The method's `idempotency_level` option.
    pub idempotency: Idempotency,
    /// The method's comments, one entry per line: the leading comment,
    /// then (after an empty line) the trailing one.
    pub comments: Vec<String>,
    /// Whether the method has `option deprecated = true`: its trait method,
    /// client methods and descriptor are then `#[deprecated]`.
    pub deprecated: bool,
}

impl MethodDef {
    /// Whether the method's items are `#[deprecated]`: the method or its
    /// service is.
    pub fn is_deprecated(&self, service: &ServiceDef) -> bool {
        self.deprecated || service.deprecated
    }

    /// The method's stream type.
    pub fn stream_kind(&self) -> StreamKind {
        match (self.client_streaming, self.server_streaming) {
            (false, false) => StreamKind::Unary,
            (false, true) => StreamKind::ServerStream,
            (true, false) => StreamKind::ClientStream,
            (true, true) => StreamKind::BidiStream,
        }
    }
}

/// A method's stream type, named as the runtime's `StreamType` variants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamKind {
    /// One request, one response.
    Unary,
    /// One request, many responses.
    ServerStream,
    /// Many requests, one response.
    ClientStream,
    /// Many requests, many responses.
    BidiStream,
}

impl StreamKind {
    /// The runtime's `StreamType` variant name.
    pub fn variant(self) -> &'static str {
        match self {
            StreamKind::Unary => "Unary",
            StreamKind::ServerStream => "ServerStream",
            StreamKind::ClientStream => "ClientStream",
            StreamKind::BidiStream => "BidiStream",
        }
    }

    /// A one-line description for docs (`Unary: one request, one
    /// response.`).
    pub fn summary(self) -> &'static str {
        match self {
            StreamKind::Unary => "Unary: one request, one response.",
            StreamKind::ServerStream => "Server streaming: one request, a stream of responses.",
            StreamKind::ClientStream => "Client streaming: a stream of requests, one response.",
            StreamKind::BidiStream => {
                "Bidirectional streaming: a stream of requests, a stream of responses."
            }
        }
    }

    /// The runtime's handler function for this stream type.
    pub fn handler_fn(self) -> &'static str {
        match self {
            StreamKind::Unary => "unary",
            StreamKind::ServerStream => "server_stream",
            StreamKind::ClientStream => "client_stream",
            StreamKind::BidiStream => "bidi_stream",
        }
    }

    /// Whether the client sends a stream.
    pub fn client_streams(self) -> bool {
        matches!(self, StreamKind::ClientStream | StreamKind::BidiStream)
    }

    /// Whether the server sends a stream.
    pub fn server_streams(self) -> bool {
        matches!(self, StreamKind::ServerStream | StreamKind::BidiStream)
    }
}

/// A method's `idempotency_level`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Idempotency {
    /// `IDEMPOTENCY_UNKNOWN` or no option.
    #[default]
    Unknown,
    /// `NO_SIDE_EFFECTS`: Connect allows the method over `GET`.
    NoSideEffects,
    /// `IDEMPOTENT`.
    Idempotent,
}

impl Idempotency {
    /// The runtime's `Idempotency` variant name.
    pub fn variant(self) -> &'static str {
        match self {
            Idempotency::Unknown => "Unknown",
            Idempotency::NoSideEffects => "NoSideEffects",
            Idempotency::Idempotent => "Idempotent",
        }
    }
}
