//! The typed client: one `async` method pair per `rpc` over the runtime's
//! untyped `Client<T>`.

use proc_macro2::{Ident, TokenStream, TokenTree};
use quote::quote;

use crate::docs::{allow_deprecated, allow_self_convention, deprecated_attr, doc_with, link};
use crate::model::{MethodDef, ServiceDef, StreamKind};
use crate::names::{self, ClientMethodNames};

/// The client struct for `service`: `new`, `from_client`, `client`, and for
/// each `rpc` a method using the config's call options and a
/// `_with_options` method taking them per call.
///
/// `rt` is the path to the runtime's codegen support module
/// (`::connectrpc::__codegen`). The method descriptors of
/// [`descriptors`](crate::server::descriptors) must be emitted beside it.
/// With `views` off (the messages have no view types) no method gets a
/// `_view` pair.
pub fn client(service: &ServiceDef, rt: &TokenStream, views: bool) -> TokenStream {
    let service_names = service.names();
    let client_ident = &service_names.client;
    let client_name = client_ident.to_string();
    let full_name = service.full_name();
    let first_line = format!("A typed client for `{full_name}` over any channel `T`.");
    let view_pair: &[&str] = if views {
        &[
            "over the config for that call; a `_view` pair answers with zero-copy",
            "views over the response bytes instead. A request is passed by value or by",
        ]
    } else {
        &["over the config for that call. A request is passed by value or by"]
    };
    let mut lines: Vec<&str> = vec![
        &first_line,
        "",
        "Each `rpc` has two methods: the plain one calls with the call options of",
        "the client's config, the `_with_options` one takes `CallOptions` that win",
    ];
    lines.extend_from_slice(view_pair);
    lines.extend_from_slice(&[
        "reference; either way it is encoded before the call is sent, and the",
        "returned future borrows neither it nor the client.",
    ]);
    let docs = doc_with(&service.comments, &lines);
    let method_names: Vec<&str> = service.methods.iter().map(|m| m.name.as_str()).collect();
    // The `_view` names are reserved even with views off, so turning views
    // off never renames a method.
    let names = names::client_methods(&method_names);
    let methods = service
        .methods
        .iter()
        .zip(&names)
        .map(|(m, n)| client_methods(service, &service_names.module, m, n, rt, views));
    let deprecated = deprecated_attr(service.deprecated);
    let allow_deprecated = allow_deprecated(service.any_deprecated());
    quote! {
        #docs
        #deprecated
        pub struct #client_ident<T> {
            inner: #rt::Client<T>,
        }

        #allow_deprecated
        impl<T: ::core::clone::Clone> ::core::clone::Clone for #client_ident<T> {
            fn clone(&self) -> Self {
                Self { inner: ::core::clone::Clone::clone(&self.inner) }
            }
        }

        #allow_deprecated
        impl<T> ::core::fmt::Debug for #client_ident<T> {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(#client_name).finish_non_exhaustive()
            }
        }

        #allow_deprecated
        impl<T: #rt::Channel> #client_ident<T> {
            /// A client calling the service over `channel`, configured by
            /// `config` (base URI, protocol, codec, ...).
            pub fn new(channel: T, config: #rt::ClientConfig) -> Self {
                Self { inner: #rt::Client::new(channel, config) }
            }

            /// A client sharing an existing untyped client.
            pub fn from_client(inner: #rt::Client<T>) -> Self {
                Self { inner }
            }

            /// The untyped client underneath.
            pub fn client(&self) -> &#rt::Client<T> {
                &self.inner
            }

            #(#methods)*
        }
    }
}

/// The plain and `_with_options` methods of one `rpc`, and its `_view`
/// pair when `views` is on.
fn client_methods(
    service: &ServiceDef,
    module: &Ident,
    method: &MethodDef,
    names: &ClientMethodNames,
    rt: &TokenStream,
    views: bool,
) -> TokenStream {
    let deprecated = deprecated_attr(method.is_deprecated(service));
    let allow_plain = allow_self_convention(&names.plain);
    let allow_with = allow_self_convention(&names.with_options);
    let konst = names::method_const(&method.name);
    let descriptor = quote!(&#module::#konst);
    let kind = method.stream_kind();
    // Inside the impl, `T` (and `S` in client-streaming methods) are type
    // parameters; a same-package message with one of those names is
    // reached through `self::`.
    let req = unshadow(&method.input_type);
    let resp = unshadow(&method.output_type);
    let plain = &names.plain;
    let with_options = &names.with_options;

    let with_options_link = format!(
        "{} overrides them for one call.",
        link(with_options, "Self::")
    );
    let plain_docs = doc_with(
        &method.comments,
        &[
            kind.summary(),
            "",
            "Calls with the call options of the client's config;",
            &with_options_link,
        ],
    );
    let plain_link = format!(
        "Like {}, with `options` winning over the client's config.",
        link(plain, "Self::")
    );
    let with_options_docs = doc_with(&method.comments, &[kind.summary(), "", &plain_link]);

    // What each kind's methods take and answer, and the runtime call they
    // make: `(call, answer)` for the owned form and the view form.
    let out_view = &method.output_view;
    let view_msg = quote!(#rt::OwnedView<#out_view<'static>>);
    let (call, call_view, out, out_view_ty) = match kind {
        StreamKind::Unary => (
            quote!(unary),
            quote!(unary_view),
            quote!(#rt::Response<#resp>),
            quote!(#rt::Response<#view_msg>),
        ),
        StreamKind::ServerStream => (
            quote!(server_stream),
            quote!(server_stream_view),
            quote!(#rt::ServerStreaming<#resp>),
            quote!(#rt::ServerStreaming<#view_msg>),
        ),
        StreamKind::ClientStream => (
            quote!(client_stream),
            quote!(client_stream_view),
            quote!(#rt::Response<#resp>),
            quote!(#rt::Response<#view_msg>),
        ),
        StreamKind::BidiStream => (
            quote!(bidi_stream),
            quote!(bidi_stream_view),
            quote!(#rt::BidiStream<#req, #resp>),
            quote!(#rt::BidiStream<#req, #view_msg>),
        ),
    };
    let one = Method {
        kind,
        rt,
        req: &req,
        descriptor: &descriptor,
        deprecated: &deprecated,
    };
    let plain_fn = one.method(&plain_docs, &allow_plain, plain, false, &call, &resp, &out);
    let with_fn = one.method(
        &with_options_docs,
        &allow_with,
        with_options,
        true,
        &call,
        &resp,
        &out,
    );
    let view = views.then(|| {
        let answers = match kind {
            StreamKind::Unary | StreamKind::ClientStream => {
                "answering with a zero-copy view over the response bytes instead of \
                 an owned message."
            }
            StreamKind::ServerStream | StreamKind::BidiStream => {
                "each response message a zero-copy view over its bytes instead of an \
                 owned message."
            }
        };
        let like = |what: &Ident| {
            doc_with(
                &method.comments,
                &[
                    kind.summary(),
                    "",
                    &format!("Like {}, {answers}", link(what, "Self::")),
                ],
            )
        };
        let (view, view_with) = (&names.view, &names.view_with_options);
        let view_ty = quote!(#out_view<'static>);
        let view_fn = one.method(
            &like(plain),
            &allow_self_convention(view),
            view,
            false,
            &call_view,
            &view_ty,
            &out_view_ty,
        );
        let view_with_fn = one.method(
            &like(with_options),
            &allow_self_convention(view_with),
            view_with,
            true,
            &call_view,
            &view_ty,
            &out_view_ty,
        );
        quote!(#view_fn #view_with_fn)
    });
    quote! {
        #plain_fn
        #with_fn
        #view
    }
}

/// What every client method of one `rpc` shares.
struct Method<'a> {
    kind: StreamKind,
    rt: &'a TokenStream,
    req: &'a TokenStream,
    descriptor: &'a TokenStream,
    deprecated: &'a TokenStream,
}

impl Method<'_> {
    /// One client method: `name`, taking call options if `with_options`,
    /// calling the runtime's `call::<Req, answer, ..>` and answering `out`.
    #[allow(clippy::too_many_arguments)] // one method's every part
    fn method(
        &self,
        docs: &TokenStream,
        allow: &TokenStream,
        name: &Ident,
        with_options: bool,
        call: &TokenStream,
        answer: &TokenStream,
        out: &TokenStream,
    ) -> TokenStream {
        let Method {
            kind,
            rt,
            req,
            descriptor,
            deprecated,
        } = self;
        let ret = quote!(::core::result::Result<#out, #rt::ConnectError>);
        let (param, options) = if with_options {
            (quote!(options: #rt::CallOptions,), quote!(options))
        } else {
            (quote!(), quote!(#rt::CallOptions::default()))
        };
        match kind {
            StreamKind::Unary | StreamKind::ServerStream => {
                let borrow = quote!(impl ::core::borrow::Borrow<#req>);
                quote! {
                    #docs
                    #deprecated
                    #allow
                    pub fn #name(
                        &self,
                        request: #borrow,
                        #param
                    ) -> impl #rt::Future<Output = #ret> + ::core::marker::Send + 'static {
                        self.inner.#call::<#req, #answer>(
                            #descriptor,
                            ::core::borrow::Borrow::borrow(&request),
                            #options,
                        )
                    }
                }
            }
            StreamKind::ClientStream => quote! {
                #docs
                #deprecated
                #allow
                pub async fn #name<S>(&self, requests: S, #param) -> #ret
                where
                    S: #rt::Stream<Item = #req> + ::core::marker::Send + 'static,
                {
                    self.inner
                        .#call::<#req, #answer, S>(#descriptor, requests, #options)
                        .await
                }
            },
            StreamKind::BidiStream => quote! {
                #docs
                #deprecated
                #allow
                pub async fn #name(&self, #param) -> #ret {
                    self.inner.#call::<#req, #answer>(#descriptor, #options).await
                }
            },
        }
    }
}

/// `ty`, as `self::T` when it is a bare `T` or `S` that the client's type
/// parameters would shadow.
fn unshadow(ty: &TokenStream) -> TokenStream {
    let mut tokens = ty.clone().into_iter();
    match (tokens.next(), tokens.next()) {
        (Some(TokenTree::Ident(ident)), None) if ident == "T" || ident == "S" => {
            quote!(self::#ident)
        }
        _ => ty.clone(),
    }
}
