//! Generates ConnectRPC service code — a service trait, a typed server and
//! method descriptors — to sit beside the messages `buffa-codegen`
//! generates.
//!
//! The generator works on small descriptor-neutral values ([`ServiceDef`],
//! [`MethodDef`]), so any front end can drive it:
//! [`descriptor::companion_files`] builds them from buffa's descriptor
//! types (what `connectrpc-build` uses), and a `protoc` plugin can do the
//! same from a `CodeGeneratorRequest`.
//!
//! For `service GreetService { rpc Greet(GreetRequest) returns (GreetResponse); }`
//! in package `greet.v1` the generated code has:
//!
//! - `GREET_SERVICE_NAME`, the full service name, and a module
//!   `greet_service` with one `MethodDescriptor` constant per method
//!   (`GREET`) and the slice `METHODS`;
//! - `trait GreetService`, one method per `rpc` (implement with `async fn`);
//! - `struct GreetServiceServer<T>`, a `tower::Service` over the runtime's
//!   protocol-neutral requests that dispatches on the method path;
//! - `trait GreetServiceExt`, so `Arc::new(imp).register(router)` works.
//!
//! Generated code names only `::connectrpc::__codegen` (configurable with
//! [`Options::runtime_crate`]) and `core`/`std`.
//!
//! ```
//! use connectrpc_codegen::{generate_file, Idempotency, MethodDef, Options, ServiceDef};
//! use quote::quote;
//!
//! let service = ServiceDef {
//!     name: "GreetService".into(),
//!     package: "greet.v1".into(),
//!     comments: vec![],
//!     methods: vec![MethodDef {
//!         name: "Greet".into(),
//!         input_type: quote!(GreetRequest),
//!         input_view: quote!(__buffa::view::GreetRequestView),
//!         output_type: quote!(GreetResponse),
//!         client_streaming: false,
//!         server_streaming: false,
//!         idempotency: Idempotency::NoSideEffects,
//!         comments: vec!["Greet says hello.".into()],
//!     }],
//! };
//! let code = generate_file(&[service], &Options::default())?;
//! assert!(code.contains("pub trait GreetService"));
//! assert!(code.contains("\"/greet.v1.GreetService/Greet\""));
//! # Ok::<(), connectrpc_codegen::Error>(())
//! ```

pub mod descriptor;
pub mod docs;
mod model;
pub mod names;
pub mod server;
pub mod service;

use std::fmt;

use proc_macro2::TokenStream;
use quote::quote;

pub use model::{Idempotency, MethodDef, ServiceDef, StreamKind};

/// Generator options.
///
/// ```
/// use connectrpc_codegen::Options;
/// let options = Options::default().runtime_crate("my_connect");
/// assert_eq!(options.runtime_path().to_string(), ":: my_connect :: __codegen");
/// ```
#[derive(Clone, Debug)]
pub struct Options {
    runtime_crate: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            runtime_crate: "::connectrpc".to_string(),
        }
    }
}

impl Options {
    /// Options with the defaults: the runtime is `::connectrpc`.
    pub fn new() -> Self {
        Self::default()
    }

    /// The path of the `connectrpc` runtime crate as generated code names
    /// it (default `::connectrpc`). A bare crate name (`connectrpc`) is
    /// made absolute; paths starting with `::`, `crate`, `self` or `super`
    /// are kept as they are.
    pub fn runtime_crate(mut self, path: impl Into<String>) -> Self {
        let path = path.into();
        let keep = path.starts_with("::")
            || ["crate", "self", "super"]
                .iter()
                .any(|k| path == *k || path.starts_with(&format!("{k}::")));
        self.runtime_crate = if keep { path } else { format!("::{path}") };
        self
    }

    /// The tokens of the runtime's codegen support module
    /// (`::connectrpc::__codegen`).
    pub fn runtime_path(&self) -> TokenStream {
        let krate = buffa_codegen::idents::rust_path_to_tokens(&self.runtime_crate);
        quote!(#krate::__codegen)
    }
}

/// Generation errors.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A method's request or response type is not in the descriptor set.
    UnknownType(String),
    /// A descriptor lacks a required field.
    MissingField(&'static str),
    /// A file to generate is not in the descriptor set.
    FileNotFound(String),
    /// The generated code does not parse as Rust (a generator bug).
    InvalidSyntax(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::UnknownType(t) => write!(f, "unknown message type `{t}`"),
            Error::MissingField(field) => write!(f, "descriptor is missing `{field}`"),
            Error::FileNotFound(name) => write!(f, "`{name}` is not in the descriptor set"),
            Error::InvalidSyntax(e) => write!(f, "generated service code does not parse: {e}"),
        }
    }
}

impl std::error::Error for Error {}

/// The tokens for one service: name constant, descriptors, trait, server
/// and registration trait.
pub fn service_tokens(service: &ServiceDef, options: &Options) -> TokenStream {
    let rt = options.runtime_path();
    let descriptors = server::descriptors(service, &rt);
    let service_trait = service::service_trait(service, &rt);
    let server = server::server(service, &rt);
    quote! {
        #descriptors
        #service_trait
        #server
    }
}

/// The formatted source for `services`, to be placed in the module of
/// their package (next to its messages).
///
/// # Errors
///
/// [`Error::InvalidSyntax`] if the tokens do not parse (a bug).
pub fn generate_file(services: &[ServiceDef], options: &Options) -> Result<String, Error> {
    let items = services.iter().map(|s| service_tokens(s, options));
    let tokens = quote!(#(#items)*);
    let file: syn::File = syn::parse2(tokens).map_err(|e| Error::InvalidSyntax(e.to_string()))?;
    Ok(format!(
        "// @generated by connectrpc-codegen. DO NOT EDIT.\n{}",
        prettyplease::unparse(&file)
    ))
}

#[cfg(test)]
mod tests;
