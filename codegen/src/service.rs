//! The service trait users implement.

use proc_macro2::TokenStream;
use quote::quote;

use crate::docs::{allow_non_camel, allow_self_convention, deprecated_attr, doc_with, link};
use crate::model::{MethodDef, ServiceDef};
use crate::names;

/// The trait for `service`: one method per `rpc`, each returning a `Send`
/// future so implementations can be written as `async fn`.
///
/// `rt` is the path to the runtime's codegen support module
/// (`::connectrpc::__codegen`).
pub fn service_trait(service: &ServiceDef, rt: &TokenStream) -> TokenStream {
    let names = service.names();
    let trait_ident = &names.service_trait;
    let full_name = service.full_name();
    let doc_extra = format!("Implement this trait to serve `{full_name}`.");
    let views = format!(
        "The request view types are re-exported in {} (and, unless a name clashes, next to",
        link(&names.module, "")
    );
    let docs = doc_with(
        &service.comments,
        &[
            &doc_extra,
            "",
            "Methods may be written as `async fn`; the futures they return must be `Send`.",
            &views,
            "their messages).",
        ],
    );
    let deprecated = deprecated_attr(service.deprecated);
    let allow = allow_non_camel(trait_ident);
    let methods = service.methods.iter().map(|m| trait_method(service, m, rt));
    quote! {
        #docs
        #deprecated
        #allow
        pub trait #trait_ident: ::core::marker::Send + ::core::marker::Sync + 'static {
            #(#methods)*
        }
    }
}

/// The trait method signature for one `rpc`.
fn trait_method(service: &ServiceDef, method: &MethodDef, rt: &TokenStream) -> TokenStream {
    let fn_ident = names::method_fn(&method.name);
    let kind = method.stream_kind();
    let view = &method.input_view;
    let output = &method.output_type;
    let (arg, arg_ty) = if kind.client_streams() {
        (quote!(requests), quote!(#rt::Streaming<#view<'static>>))
    } else {
        (quote!(request), quote!(#rt::OwnedView<#view<'static>>))
    };
    let response = if kind.server_streams() {
        quote!(#rt::ResponseStream<#output>)
    } else {
        quote!(#output)
    };
    let kind_doc = kind.summary();
    let docs = doc_with(&method.comments, &[kind_doc]);
    let deprecated = deprecated_attr(method.is_deprecated(service));
    let allow = allow_self_convention(&fn_ident);
    quote! {
        #docs
        #deprecated
        #allow
        fn #fn_ident(
            &self,
            ctx: #rt::Context,
            #arg: #arg_ty,
        ) -> impl #rt::Future<
            Output = ::core::result::Result<(#response, #rt::Context), #rt::ConnectError>,
        > + ::core::marker::Send;
    }
}
