//! Generates ConnectRPC service code — a service trait, a typed server, a
//! typed client and method descriptors — to sit beside the messages
//! `buffa-codegen` generates.
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
//!   (`GREET`), the slice `METHODS` and the view types of the methods'
//!   requests and responses (`greet_service::GreetRequestView`, the
//!   always-available public path of what a handler receives; see
//!   [`names::view_reexports`]), and, when the front end supplies it
//!   ([`ServiceDef::file_descriptor_set`]; both `connectrpc-build` and the
//!   plugin do), `FILE_DESCRIPTOR_SET`: the serialized descriptors of the
//!   service's file and its imports, for server reflection;
//! - `trait GreetService`, one method per `rpc` (implement with `async fn`);
//! - `struct GreetServiceServer<T>`, a `tower::Service` over the runtime's
//!   protocol-neutral requests that dispatches on the method path;
//! - `trait GreetServiceExt`, so `Arc::new(imp).register(router)` works;
//! - `struct GreetServiceClient<T>`, a typed client over any runtime
//!   `Channel` `T`, with `fn greet(&self, request: impl Borrow<GreetRequest>)`
//!   (the request by value or by reference; call options from the client's
//!   config; returns a `Send + 'static` future) and `greet_with_options`
//!   (call options per call) for each `rpc`, and for unary ones
//!   `greet_view` and `greet_view_with_options` answering with zero-copy
//!   views.
//!
//! [`Options::server`] and [`Options::client`] turn either side off (the
//! descriptors are always generated); [`Options::views`] off (the messages
//! have no view types) leaves out the view re-exports and the clients'
//! `_view` methods, and needs the server side off. buffa's switches for
//! the messages themselves (`generate_views`, `strict_utf8_mapping`,
//! `preserve_unknown_fields`, JSON) are on [`bundle::Config`], the one
//! configuration `connectrpc-build` and `protoc-gen-connect-rust` share.
//! Generated code names only
//! `::connectrpc::__codegen` (configurable with [`Options::runtime_crate`])
//! and `core`/`std`; user code never needs that module, nor buffa's
//! `__buffa`: handlers name `connectrpc::{OwnedView, Streaming,
//! ResponseStream}` and the view types re-exported in the service's module.
//!
//! The proto comments (leading and trailing) of services and methods
//! become the docs of the trait, its methods, the server, the client and
//! its methods, and the descriptors; every generated public item is
//! documented. `option deprecated = true` on a service or method marks its
//! items `#[deprecated]`, and generated code that names them allows it.
//! Names follow [`names::ServiceNames`] and [`names::client_methods`]:
//! keywords are escaped, and a generated name that would clash with a
//! message, a module or another generated item gets a trailing `_`.
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
//!         output_view: quote!(__buffa::view::GreetResponseView),
//!         client_streaming: false,
//!         server_streaming: false,
//!         idempotency: Idempotency::NoSideEffects,
//!         comments: vec!["Greet says hello.".into()],
//!         ..Default::default()
//!     }],
//!     ..Default::default()
//! };
//! let services = [service];
//! let code = generate_file(&services, &Options::default())?;
//! assert!(code.contains("pub trait GreetService"));
//! assert!(code.contains("pub struct GreetServiceClient<T>"));
//! assert!(code.contains("pub fn greet_with_options("));
//! assert!(code.contains("\"/greet.v1.GreetService/Greet\""));
//!
//! // Only the client (and the descriptors it calls with).
//! let client_only = generate_file(&services, &Options::default().server(false))?;
//! assert!(client_only.contains("pub struct GreetServiceClient<T>"));
//! assert!(!client_only.contains("pub trait GreetService"));
//! # Ok::<(), connectrpc_codegen::Error>(())
//! ```

pub mod bundle;
pub mod client;
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
///
/// let client_only = Options::default().server(false);
/// assert!(client_only.generates_client() && !client_only.generates_server());
/// ```
#[derive(Clone, Debug)]
pub struct Options {
    runtime_crate: String,
    client: bool,
    server: bool,
    views: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            runtime_crate: "::connectrpc".to_string(),
            client: true,
            server: true,
            views: true,
        }
    }
}

impl Options {
    /// Options with the defaults: the runtime is `::connectrpc`, clients
    /// and servers are both generated.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether to generate the typed client (`GreetServiceClient`) of each
    /// service (default `true`).
    ///
    /// ```
    /// use connectrpc_codegen::Options;
    /// let server_only = Options::default().client(false);
    /// assert!(!server_only.generates_client());
    /// ```
    pub fn client(mut self, enabled: bool) -> Self {
        self.client = enabled;
        self
    }

    /// Whether to generate the service trait, the typed server
    /// (`GreetServiceServer`) and the registration trait
    /// (`GreetServiceExt`) of each service (default `true`).
    ///
    /// ```
    /// use connectrpc_codegen::Options;
    /// let client_only = Options::default().server(false);
    /// assert!(!client_only.generates_server());
    /// ```
    pub fn server(mut self, enabled: bool) -> Self {
        self.server = enabled;
        self
    }

    /// Whether the messages have view types (`GreetRequestView`) for the
    /// service code to name (default `true`).
    ///
    /// With views off the service code names owned messages only: the
    /// service module re-exports no views and clients have no `_view`
    /// methods. The server side decodes every request as a view, so it
    /// needs them: [`generate_file`] fails with [`Error::ViewsRequired`]
    /// when both views are off and [`server`](Self::server) is on. Front
    /// ends set this from [`bundle::Config::generate_views`], which also
    /// tells buffa whether to generate the views.
    ///
    /// ```
    /// use connectrpc_codegen::Options;
    /// let owned_client = Options::default().server(false).views(false);
    /// assert!(!owned_client.generates_views());
    /// ```
    pub fn views(mut self, enabled: bool) -> Self {
        self.views = enabled;
        self
    }

    /// Whether view types may be named (see [`views`](Self::views)).
    pub fn generates_views(&self) -> bool {
        self.views
    }

    /// Whether clients are generated (see [`client`](Self::client)).
    pub fn generates_client(&self) -> bool {
        self.client
    }

    /// Whether service traits and servers are generated (see
    /// [`server`](Self::server)).
    pub fn generates_server(&self) -> bool {
        self.server
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
    /// Views are off ([`Options::views`]) but the server side of the named
    /// service is to be generated, and it decodes requests as views.
    ViewsRequired(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::UnknownType(t) => write!(f, "unknown message type `{t}`"),
            Error::MissingField(field) => write!(f, "descriptor is missing `{field}`"),
            Error::FileNotFound(name) => write!(f, "`{name}` is not in the descriptor set"),
            Error::InvalidSyntax(e) => write!(f, "generated service code does not parse: {e}"),
            Error::ViewsRequired(service) => write!(
                f,
                "service `{service}`: views are off (generate_views(false), plugin option \
                 views=false), but the generated server hands each request to its handler as \
                 a zero-copy view (`OwnedView<..View>`), so it needs them: turn views on, or \
                 generate only the clients of files with services (server(false), plugin \
                 option server=false)"
            ),
        }
    }
}

impl std::error::Error for Error {}

/// The tokens for one service: name constant and descriptors, then (when
/// [`Options::server`] is on) trait, server and registration trait, then
/// (when [`Options::client`] is on) the client. With [`Options::views`]
/// off no view type is named (the server side, which needs them, is left
/// to [`generate_file`] to refuse).
pub fn service_tokens(service: &ServiceDef, options: &Options) -> TokenStream {
    let rt = options.runtime_path();
    let descriptors = server::descriptors(service, &rt, options.views);
    let server_side = options.server.then(|| {
        let service_trait = service::service_trait(service, &rt);
        let server = server::server(service, &rt);
        quote! {
            #service_trait
            #server
        }
    });
    let client_side = options
        .client
        .then(|| client::client(service, &rt, options.views));
    quote! {
        #descriptors
        #server_side
        #client_side
    }
}

/// The formatted source for `services`, to be placed in the module of
/// their package (next to its messages).
///
/// # Errors
///
/// [`Error::ViewsRequired`] when [`Options::views`] is off and
/// [`Options::server`] on; [`Error::InvalidSyntax`] if the tokens do not
/// parse (a bug).
pub fn generate_file(services: &[ServiceDef], options: &Options) -> Result<String, Error> {
    if let (false, true, Some(service)) = (options.views, options.server, services.first()) {
        return Err(Error::ViewsRequired(service.full_name()));
    }
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
