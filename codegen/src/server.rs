//! The typed server: method descriptors, the `tower::Service` that
//! dispatches on the method path, and router registration.

use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use quote::quote;

use crate::docs::{allow_deprecated, deprecated_attr, doc_attrs, doc_with, link};
use crate::model::ServiceDef;
use crate::names;

/// The service-name constant and the service's module: one method
/// descriptor constant per method, the slice of them all, and (when
/// `views` is on: the messages have view types) the request and response
/// view types re-exported (see [`names::view_reexports`]).
pub fn descriptors(service: &ServiceDef, rt: &TokenStream, views: bool) -> TokenStream {
    let names = service.names();
    let name_const = &names.name_const;
    let module = &names.module;
    let full_name = service.full_name();
    let name_doc = doc_attrs(&[format!("Full name of the `{full_name}` service.")]);
    let descriptors_line =
        format!("Method descriptors of the `{full_name}` service, and the view types");
    let module_doc = if views {
        doc_with(
            &service.comments,
            &[
                &descriptors_line,
                "of its requests and responses (what its handlers receive and its clients'",
                "`_view` methods answer with).",
            ],
        )
    } else {
        doc_with(
            &service.comments,
            &[&format!("Method descriptors of the `{full_name}` service.")],
        )
    };
    let service_deprecated = deprecated_attr(service.deprecated);
    let allow_deprecated = allow_deprecated(service.any_deprecated());
    let allow_in_consts = crate::docs::allow_deprecated(service.deprecated);
    let methods_ident = Ident::new(names::METHODS_CONST, Span::call_site());
    let consts = service.methods.iter().map(|m| {
        let ident = names::method_const(&m.name);
        let method = &m.name;
        let path = names::method_path(&service.package, &service.name, &m.name);
        let stream = Ident::new(m.stream_kind().variant(), Span::call_site());
        let idem = Ident::new(m.idempotency.variant(), Span::call_site());
        let doc = doc_with(&m.comments, &[&format!("`{path}`.")]);
        let deprecated = deprecated_attr(m.is_deprecated(service));
        quote! {
            #doc
            #deprecated
            #allow_in_consts
            pub const #ident: #rt::MethodDescriptor = #rt::MethodDescriptor::new(
                super::#name_const,
                #method,
                #path,
                #rt::StreamType::#stream,
                #rt::Idempotency::#idem,
            );
        }
    });
    let all = service.methods.iter().map(|m| names::method_const(&m.name));
    let views: Vec<TokenStream> = service
        .methods
        .iter()
        .filter(|_| views)
        .flat_map(|m| [m.input_view.clone(), m.output_view.clone()])
        .collect();
    let reexports = names::view_reexports(&views)
        .into_iter()
        .map(|(path, alias)| {
            let absolute = match path.clone().into_iter().next() {
                Some(TokenTree::Punct(_)) => true,
                Some(TokenTree::Ident(first)) => first == "crate",
                _ => false,
            };
            let renamed = path
                .clone()
                .into_iter()
                .last()
                .is_none_or(|leaf| alias != leaf.to_string());
            let path = if absolute { path } else { quote!(super::#path) };
            let rename = renamed.then(|| quote!(as #alias));
            quote! {
                #[doc(no_inline)]
                pub use #path #rename;
            }
        });
    let file_descriptor_set = service.file_descriptor_set.as_ref().map(|bytes| {
        let ident = Ident::new(names::FILE_DESCRIPTOR_SET_CONST, Span::call_site());
        let literal = proc_macro2::Literal::byte_string(bytes);
        let doc = doc_attrs(&[
            format!("The `google.protobuf.FileDescriptorSet` of the `.proto` file declaring `{full_name}`"),
            "and of every file it imports (imports first), serialized: what server".to_string(),
            "reflection serves (`Reflection::register_file_descriptor_set`).".to_string(),
        ]);
        quote! {
            #doc
            pub const #ident: &[u8] = #literal;
        }
    });
    quote! {
        #name_doc
        #service_deprecated
        pub const #name_const: &str = #full_name;

        #module_doc
        pub mod #module {
            #(#reexports)*

            #(#consts)*

            /// Every method of the service, in declaration order.
            #service_deprecated
            #allow_deprecated
            pub const #methods_ident: &[#rt::MethodDescriptor] = &[#(#all),*];

            #file_descriptor_set
        }
    }
}

/// The server struct, its `NamedService` and `Service` impls, and the
/// registration extension trait.
pub fn server(service: &ServiceDef, rt: &TokenStream) -> TokenStream {
    let names = service.names();
    let trait_ident = &names.service_trait;
    let server_ident = &names.server;
    let ext_ident = &names.ext;
    let name_const = &names.name_const;
    let module = &names.module;
    let methods_ident = Ident::new(names::METHODS_CONST, Span::call_site());
    let server_name = server_ident.to_string();
    let full_name = service.full_name();
    let deprecated = deprecated_attr(service.deprecated);
    let allow_deprecated = allow_deprecated(service.any_deprecated());

    let server_doc_line = format!(
        "Serves a {} implementation as the `{full_name}` service.",
        link(trait_ident, "")
    );
    let server_docs = doc_with(
        &service.comments,
        &[
            &server_doc_line,
            "",
            "A `tower::Service` over protocol-neutral RPC requests: it dispatches on",
            "the method path with a `match` and decodes requests as zero-copy views.",
            "Put it behind a router with `Router::add_service` or the",
            &format!("[`{ext_ident}::register`] shortcut."),
        ],
    );

    let arms = service.methods.iter().map(|m| {
        let path = names::method_path(&service.package, &service.name, &m.name);
        let handler = Ident::new(m.stream_kind().handler_fn(), Span::call_site());
        let fn_ident = names::method_fn(&m.name);
        quote! {
            #path => #rt::boxed(move || #rt::#handler(req, move |ctx, request| async move {
                <T as #trait_ident>::#fn_ident(&*inner, ctx, request).await
            })),
        }
    });
    let dispatch = if service.methods.is_empty() {
        quote! {
            let err = #rt::unimplemented(&req);
            ::std::boxed::Box::pin(async move { ::core::result::Result::Err(err) })
        }
    } else {
        quote! {
            let inner = #rt::Arc::clone(&self.inner);
            match req.head.method.path() {
                #(#arms)*
                _ => {
                    let err = #rt::unimplemented(&req);
                    ::std::boxed::Box::pin(async move { ::core::result::Result::Err(err) })
                }
            }
        }
    };
    let ext_docs = doc_with(
        &service.comments,
        &[&format!(
            "Registers a {} implementation with a router.",
            link(trait_ident, "")
        )],
    );
    let register_doc =
        format!(" Adds every method of `{full_name}`, served by this implementation, to `router`.");

    quote! {
        #server_docs
        #deprecated
        pub struct #server_ident<T> {
            inner: #rt::Arc<T>,
        }

        #allow_deprecated
        impl<T> #server_ident<T> {
            /// Serves `inner`.
            pub fn new(inner: T) -> Self {
                Self { inner: #rt::Arc::new(inner) }
            }

            /// Serves an implementation that is already shared.
            pub fn from_arc(inner: #rt::Arc<T>) -> Self {
                Self { inner }
            }

            /// The implementation being served.
            pub fn get_ref(&self) -> &T {
                &self.inner
            }
        }

        #allow_deprecated
        impl<T> ::core::clone::Clone for #server_ident<T> {
            fn clone(&self) -> Self {
                Self { inner: #rt::Arc::clone(&self.inner) }
            }
        }

        #allow_deprecated
        impl<T> ::core::fmt::Debug for #server_ident<T> {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(#server_name).finish_non_exhaustive()
            }
        }

        #allow_deprecated
        impl<T: #trait_ident> #rt::NamedService for #server_ident<T> {
            const SERVICE_NAME: &'static str = #name_const;
            const METHODS: &'static [#rt::MethodDescriptor] = #module::#methods_ident;
        }

        #allow_deprecated
        impl<T: #trait_ident> #rt::RpcService for #server_ident<T> {
            fn call_rpc(
                &self,
                req: #rt::RpcRequest,
            ) -> #rt::BoxFuture<::core::result::Result<#rt::RpcResponse, #rt::ConnectError>> {
                #dispatch
            }
        }

        #allow_deprecated
        impl<T: #trait_ident> #rt::Service<#rt::RpcRequest> for #server_ident<T> {
            type Response = #rt::RpcResponse;
            type Error = #rt::ConnectError;
            type Future = #rt::BoxFuture<::core::result::Result<#rt::RpcResponse, #rt::ConnectError>>;

            fn poll_ready(
                &mut self,
                _cx: &mut #rt::TaskContext<'_>,
            ) -> #rt::Poll<::core::result::Result<(), Self::Error>> {
                #rt::Poll::Ready(::core::result::Result::Ok(()))
            }

            fn call(&mut self, req: #rt::RpcRequest) -> Self::Future {
                #rt::RpcService::call_rpc(self, req)
            }
        }

        #ext_docs
        #deprecated
        pub trait #ext_ident {
            #[doc = #register_doc]
            fn register(self, router: #rt::Router) -> #rt::Router;
        }

        #allow_deprecated
        impl<T: #trait_ident> #ext_ident for #rt::Arc<T> {
            fn register(self, router: #rt::Router) -> #rt::Router {
                router.add_service(#server_ident::from_arc(self))
            }
        }
    }
}
