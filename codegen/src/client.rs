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
/// With `views` off (the messages have no view types) unary methods get
/// no `_view` pair.
pub fn client(service: &ServiceDef, rt: &TokenStream, views: bool) -> TokenStream {
    let service_names = service.names();
    let client_ident = &service_names.client;
    let client_name = client_ident.to_string();
    let full_name = service.full_name();
    let first_line = format!("A typed client for `{full_name}` over any channel `T`.");
    let view_pair: &[&str] = if views {
        &[
            "over the config for that call (unary ones also have a `_view` pair that",
            "answers with a zero-copy view). A request is passed by value or by",
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
    let method_names: Vec<(&str, bool)> = service
        .methods
        .iter()
        .map(|m| (m.name.as_str(), m.stream_kind() == StreamKind::Unary))
        .collect();
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

/// The plain and `_with_options` methods of one `rpc`, and the `_view`
/// pair of a unary one when `views` is on.
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

    let default_options = quote!(#rt::CallOptions::default());
    let ok = |ty: TokenStream| quote!(::core::result::Result<#ty, #rt::ConnectError>);
    match kind {
        StreamKind::Unary | StreamKind::ServerStream => {
            let (call, out) = if kind == StreamKind::Unary {
                (quote!(unary), quote!(#rt::Response<#resp>))
            } else {
                (quote!(server_stream), quote!(#rt::ServerStreaming<#resp>))
            };
            let ret = ok(out);
            let borrow = quote!(impl ::core::borrow::Borrow<#req>);
            let fut = |out: TokenStream| quote!(impl #rt::Future<Output = #out> + ::core::marker::Send + 'static);
            let view = names
                .view
                .as_ref()
                .zip(names.view_with_options.as_ref())
                .filter(|_| views)
                .map(|(view, view_with)| {
                    let out_view = &method.output_view;
                    let view_ty = quote!(#rt::OwnedView<#out_view<'static>>);
                    let ret = fut(ok(quote!(#rt::Response<#view_ty>)));
                    let like = |what: &Ident| {
                        doc_with(
                            &method.comments,
                            &[
                                kind.summary(),
                                "",
                                &format!(
                                    "Like {}, answering with a zero-copy view over the \
                                     response bytes instead of an owned message.",
                                    link(what, "Self::")
                                ),
                            ],
                        )
                    };
                    let docs = like(plain);
                    let with_docs = like(with_options);
                    let allow = allow_self_convention(view);
                    let allow_with = allow_self_convention(view_with);
                    quote! {
                        #docs
                        #deprecated
                        #allow
                        pub fn #view(&self, request: #borrow) -> #ret {
                            self.inner.unary_view::<#req, #out_view<'static>>(
                                #descriptor,
                                ::core::borrow::Borrow::borrow(&request),
                                #default_options,
                            )
                        }

                        #with_docs
                        #deprecated
                        #allow_with
                        pub fn #view_with(
                            &self,
                            request: #borrow,
                            options: #rt::CallOptions,
                        ) -> #ret {
                            self.inner.unary_view::<#req, #out_view<'static>>(
                                #descriptor,
                                ::core::borrow::Borrow::borrow(&request),
                                options,
                            )
                        }
                    }
                });
            let ret = fut(ret);
            quote! {
                #plain_docs
                #deprecated
                #allow_plain
                pub fn #plain(&self, request: #borrow) -> #ret {
                    self.inner.#call::<#req, #resp>(
                        #descriptor,
                        ::core::borrow::Borrow::borrow(&request),
                        #default_options,
                    )
                }

                #with_options_docs
                #deprecated
                #allow_with
                pub fn #with_options(
                    &self,
                    request: #borrow,
                    options: #rt::CallOptions,
                ) -> #ret {
                    self.inner.#call::<#req, #resp>(
                        #descriptor,
                        ::core::borrow::Borrow::borrow(&request),
                        options,
                    )
                }

                #view
            }
        }
        StreamKind::ClientStream => {
            let ret = ok(quote!(#rt::Response<#resp>));
            let bound = quote! {
                S: #rt::Stream<Item = #req> + ::core::marker::Send + 'static
            };
            quote! {
                #plain_docs
                #deprecated
                #allow_plain
                pub async fn #plain<S>(&self, requests: S) -> #ret
                where
                    #bound,
                {
                    self.inner
                        .client_stream::<#req, #resp, S>(#descriptor, requests, #default_options)
                        .await
                }

                #with_options_docs
                #deprecated
                #allow_with
                pub async fn #with_options<S>(
                    &self,
                    requests: S,
                    options: #rt::CallOptions,
                ) -> #ret
                where
                    #bound,
                {
                    self.inner
                        .client_stream::<#req, #resp, S>(#descriptor, requests, options)
                        .await
                }
            }
        }
        StreamKind::BidiStream => {
            let ret = ok(quote!(#rt::BidiStream<#req, #resp>));
            quote! {
                #plain_docs
                #deprecated
                #allow_plain
                pub async fn #plain(&self) -> #ret {
                    self.inner
                        .bidi_stream::<#req, #resp>(#descriptor, #default_options)
                        .await
                }

                #with_options_docs
                #deprecated
                #allow_with
                pub async fn #with_options(&self, options: #rt::CallOptions) -> #ret {
                    self.inner.bidi_stream::<#req, #resp>(#descriptor, options).await
                }
            }
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
