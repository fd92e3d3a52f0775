use quote::quote;

use super::*;

fn method(name: &str, cs: bool, ss: bool, idem: Idempotency, comments: &[&str]) -> MethodDef {
    let (input, view) = if ss && !cs {
        (
            quote!(GreetStreamRequest),
            quote!(__buffa::view::GreetStreamRequestView),
        )
    } else {
        (
            quote!(GreetRequest),
            quote!(__buffa::view::GreetRequestView),
        )
    };
    MethodDef {
        name: name.into(),
        input_type: input,
        input_view: view,
        output_type: quote!(GreetResponse),
        output_view: quote!(__buffa::view::GreetResponseView),
        client_streaming: cs,
        server_streaming: ss,
        idempotency: idem,
        comments: comments.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn greet() -> ServiceDef {
    ServiceDef {
        name: "GreetService".into(),
        package: "greet.v1".into(),
        comments: vec!["The greeting service.".into()],
        methods: vec![
            method(
                "Greet",
                false,
                false,
                Idempotency::NoSideEffects,
                &["Greet says hello."],
            ),
            method("GreetStream", false, true, Idempotency::Unknown, &[]),
            method("GreetMany", true, false, Idempotency::Idempotent, &[]),
            method(
                "Chat",
                true,
                true,
                Idempotency::Unknown,
                &["Chat chats.", "", "```", "not rust", "```"],
            ),
        ],
        ..Default::default()
    }
}

fn code() -> String {
    generate_file(&[greet()], &Options::default()).unwrap()
}

/// The text without whitespace or trailing commas, so assertions do not
/// depend on how prettyplease wraps lines.
fn squash(s: &str) -> String {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    s.replace(",>", ">").replace(",)", ")").replace(",]", "]")
}

/// Whether `code` contains `needle`, ignoring layout.
fn has(code: &str, needle: &str) -> bool {
    squash(code).contains(&squash(needle))
}

#[test]
fn name_const_and_descriptors() {
    let code = code();
    assert!(code.contains(r#"pub const GREET_SERVICE_NAME: &str = "greet.v1.GreetService";"#));
    assert!(code.contains("pub mod greet_service {"));
    assert!(
        has(
            &code,
            r#"pub const GREET: ::connectrpc::__codegen::MethodDescriptor = ::connectrpc::__codegen::MethodDescriptor::new( super::GREET_SERVICE_NAME, "Greet", "/greet.v1.GreetService/Greet", ::connectrpc::__codegen::StreamType::Unary, ::connectrpc::__codegen::Idempotency::NoSideEffects, );"#
        ),
        "{code}"
    );
    assert!(has(
        &code,
        r#""/greet.v1.GreetService/GreetStream", ::connectrpc::__codegen::StreamType::ServerStream, ::connectrpc::__codegen::Idempotency::Unknown"#
    ));
    assert!(has(
        &code,
        r#""/greet.v1.GreetService/GreetMany", ::connectrpc::__codegen::StreamType::ClientStream, ::connectrpc::__codegen::Idempotency::Idempotent"#
    ));
    assert!(has(
        &code,
        r#""/greet.v1.GreetService/Chat", ::connectrpc::__codegen::StreamType::BidiStream"#
    ));
    assert!(has(
        &code,
        "pub const METHODS: &[::connectrpc::__codegen::MethodDescriptor] = &[GREET, GREET_STREAM, GREET_MANY, CHAT];"
    ));
}

#[test]
fn trait_methods_and_docs() {
    let code = code();
    assert!(code.contains("/// The greeting service.\n"));
    assert!(has(
        &code,
        "pub trait GreetService: ::core::marker::Send + ::core::marker::Sync + 'static {"
    ));
    assert!(
        has(
            &code,
            "/// Greet says hello. /// /// Unary: one request, one response. fn greet( &self, ctx: ::connectrpc::__codegen::Context, request: ::connectrpc::__codegen::OwnedView<__buffa::view::GreetRequestView<'static>>, ) -> impl ::connectrpc::__codegen::Future< Output = ::core::result::Result< (GreetResponse, ::connectrpc::__codegen::Context), ::connectrpc::__codegen::ConnectError, >, > + ::core::marker::Send;"
        ),
        "{code}"
    );
    assert!(has(
        &code,
        "fn greet_stream( &self, ctx: ::connectrpc::__codegen::Context, request: ::connectrpc::__codegen::OwnedView<__buffa::view::GreetStreamRequestView<'static>>"
    ));
    assert!(has(
        &code,
        "(::connectrpc::__codegen::ResponseStream<GreetResponse>, ::connectrpc::__codegen::Context)"
    ));
    assert!(has(
        &code,
        "fn greet_many( &self, ctx: ::connectrpc::__codegen::Context, requests: ::connectrpc::__codegen::Streaming<__buffa::view::GreetRequestView<'static>>"
    ));
    assert!(has(&code, "fn chat("));
    // Fences in proto comments never become doctests.
    assert!(code.contains("/// ```text\n"), "{code}");
}

#[test]
fn server_dispatch() {
    let code = code();
    assert!(has(&code, "pub struct GreetServiceServer<T> {"));
    assert!(has(
        &code,
        "impl<T> ::core::clone::Clone for GreetServiceServer<T>"
    ));
    assert!(has(
        &code,
        "impl<T> ::core::fmt::Debug for GreetServiceServer<T>"
    ));
    assert!(has(
        &code,
        "impl<T: GreetService> ::connectrpc::__codegen::NamedService for GreetServiceServer<T> { const SERVICE_NAME: &'static str = GREET_SERVICE_NAME; const METHODS: &'static [::connectrpc::__codegen::MethodDescriptor] = greet_service::METHODS; }"
    ));
    assert!(has(&code, "match req.head.method.path() {"));
    assert!(
        has(
            &code,
            r#""/greet.v1.GreetService/Greet" => { ::connectrpc::__codegen::boxed(move || ::connectrpc::__codegen::unary("#
        ) || has(
            &code,
            r#""/greet.v1.GreetService/Greet" => ::connectrpc::__codegen::boxed(move || ::connectrpc::__codegen::unary("#
        ),
        "{code}"
    );
    assert!(has(&code, "::connectrpc::__codegen::server_stream("));
    assert!(has(&code, "::connectrpc::__codegen::client_stream("));
    assert!(has(&code, "::connectrpc::__codegen::bidi_stream("));
    assert!(has(
        &code,
        "<T as GreetService>::greet_many(&*inner, ctx, request).await"
    ));
    assert!(has(&code, "::connectrpc::__codegen::unimplemented(&req)"));
    assert!(has(&code, "pub trait GreetServiceExt {"));
    assert!(has(
        &code,
        "impl<T: GreetService> GreetServiceExt for ::connectrpc::__codegen::Arc<T>"
    ));
    assert!(has(
        &code,
        "router.add_service(GreetServiceServer::from_arc(self))"
    ));
}

#[test]
fn runtime_crate_is_configurable() {
    let options = Options::default().runtime_crate("crate::rt");
    let code = generate_file(&[greet()], &options).unwrap();
    assert!(code.contains("crate::rt::__codegen::Context"));
    assert!(!code.contains("::connectrpc::"));
    let options = Options::default().runtime_crate("connectrpc");
    assert_eq!(
        options.runtime_path().to_string(),
        ":: connectrpc :: __codegen"
    );
}

#[test]
fn empty_service() {
    let svc = ServiceDef {
        name: "Empty".into(),
        package: String::new(),
        comments: vec![],
        methods: vec![],
        ..Default::default()
    };
    let code = generate_file(&[svc], &Options::default()).unwrap();
    assert!(code.contains(r#"pub const EMPTY_NAME: &str = "Empty";"#));
    assert!(!code.contains("match req"));
}

#[test]
fn client_struct_and_constructors() {
    let code = code();
    assert!(
        code.contains("/// A typed client for `greet.v1.GreetService` over any channel `T`.\n")
    );
    assert!(has(
        &code,
        "pub struct GreetServiceClient<T> { inner: ::connectrpc::__codegen::Client<T>, }"
    ));
    assert!(has(
        &code,
        "impl<T: ::core::clone::Clone> ::core::clone::Clone for GreetServiceClient<T>"
    ));
    assert!(has(
        &code,
        "impl<T> ::core::fmt::Debug for GreetServiceClient<T>"
    ));
    assert!(has(
        &code,
        r#"f.debug_struct("GreetServiceClient").finish_non_exhaustive()"#
    ));
    assert!(has(
        &code,
        "impl<T: ::connectrpc::__codegen::Channel> GreetServiceClient<T> {"
    ));
    assert!(has(
        &code,
        "pub fn new(channel: T, config: ::connectrpc::__codegen::ClientConfig) -> Self { Self { inner: ::connectrpc::__codegen::Client::new(channel, config), } }"
    ));
    assert!(has(
        &code,
        "pub fn from_client(inner: ::connectrpc::__codegen::Client<T>) -> Self { Self { inner } }"
    ));
    assert!(has(
        &code,
        "pub fn client(&self) -> &::connectrpc::__codegen::Client<T> { &self.inner }"
    ));
}

#[test]
fn client_unary_and_server_stream_methods() {
    let code = code();
    assert!(
        has(
            &code,
            "/// Greet says hello. /// /// Unary: one request, one response. /// /// Calls with the call options of the client's config; /// [`greet_with_options`](Self::greet_with_options) overrides them for one call. pub fn greet( &self, request: impl ::core::borrow::Borrow<GreetRequest>, ) -> impl ::connectrpc::__codegen::Future<Output = ::core::result::Result< ::connectrpc::__codegen::Response<GreetResponse>, ::connectrpc::__codegen::ConnectError, >> + ::core::marker::Send + 'static { self.inner .unary::<GreetRequest, GreetResponse>( &greet_service::GREET, ::core::borrow::Borrow::borrow(&request), ::connectrpc::__codegen::CallOptions::default(), ) }"
        ),
        "{code}"
    );
    assert!(
        has(
            &code,
            "/// Like [`greet`](Self::greet), with `options` winning over the client's config. pub fn greet_with_options( &self, request: impl ::core::borrow::Borrow<GreetRequest>, options: ::connectrpc::__codegen::CallOptions, ) -> impl ::connectrpc::__codegen::Future<Output = ::core::result::Result< ::connectrpc::__codegen::Response<GreetResponse>, ::connectrpc::__codegen::ConnectError, >> + ::core::marker::Send + 'static { self.inner.unary::<GreetRequest, GreetResponse>(&greet_service::GREET, ::core::borrow::Borrow::borrow(&request), options) }"
        ),
        "{code}"
    );
    assert!(has(
        &code,
        "pub fn greet_stream( &self, request: impl ::core::borrow::Borrow<GreetStreamRequest>, ) -> impl ::connectrpc::__codegen::Future<Output = ::core::result::Result< ::connectrpc::__codegen::ServerStreaming<GreetResponse>, ::connectrpc::__codegen::ConnectError, >> + ::core::marker::Send + 'static"
    ));
    assert!(has(
        &code,
        ".server_stream::<GreetStreamRequest, GreetResponse>( &greet_service::GREET_STREAM, ::core::borrow::Borrow::borrow(&request), ::connectrpc::__codegen::CallOptions::default(), )"
    ));
    assert!(has(
        &code,
        "pub fn greet_stream_with_options( &self, request: impl ::core::borrow::Borrow<GreetStreamRequest>, options: ::connectrpc::__codegen::CallOptions, ) -> impl ::connectrpc::__codegen::Future<Output = ::core::result::Result< ::connectrpc::__codegen::ServerStreaming<GreetResponse>"
    ));
    assert!(has(
        &code,
        ".server_stream::<GreetStreamRequest, GreetResponse>(&greet_service::GREET_STREAM, ::core::borrow::Borrow::borrow(&request), options)"
    ));
}

#[test]
fn client_streaming_and_bidi_methods() {
    let code = code();
    let bound = "where S: ::connectrpc::__codegen::Stream<Item = GreetRequest> + ::core::marker::Send + 'static,";
    assert!(
        has(
            &code,
            &format!(
                "pub async fn greet_many<S>( &self, requests: S, ) -> ::core::result::Result< ::connectrpc::__codegen::Response<GreetResponse>, ::connectrpc::__codegen::ConnectError, > {bound} {{ self.inner .client_stream::<GreetRequest, GreetResponse, S>( &greet_service::GREET_MANY, requests, ::connectrpc::__codegen::CallOptions::default(), ) .await }}"
            )
        ),
        "{code}"
    );
    assert!(has(
        &code,
        &format!(
            "pub async fn greet_many_with_options<S>( &self, requests: S, options: ::connectrpc::__codegen::CallOptions, ) -> ::core::result::Result< ::connectrpc::__codegen::Response<GreetResponse>, ::connectrpc::__codegen::ConnectError, > {bound}"
        )
    ));
    assert!(has(
        &code,
        ".client_stream::<GreetRequest, GreetResponse, S>(&greet_service::GREET_MANY, requests, options)"
    ));
    assert!(
        has(
            &code,
            "pub async fn chat( &self, ) -> ::core::result::Result< ::connectrpc::__codegen::BidiStream<GreetRequest, GreetResponse>, ::connectrpc::__codegen::ConnectError, > { self.inner .bidi_stream::<GreetRequest, GreetResponse>( &greet_service::CHAT, ::connectrpc::__codegen::CallOptions::default(), ) .await }"
        ),
        "{code}"
    );
    assert!(has(
        &code,
        "pub async fn chat_with_options( &self, options: ::connectrpc::__codegen::CallOptions, ) -> ::core::result::Result< ::connectrpc::__codegen::BidiStream<GreetRequest, GreetResponse>"
    ));
    assert!(has(
        &code,
        ".bidi_stream::<GreetRequest, GreetResponse>(&greet_service::CHAT, options)"
    ));
    // Proto comments and the kind line on both forms.
    assert!(has(
        &code,
        "/// Chat chats. /// /// ```text /// not rust /// ``` /// /// Bidirectional streaming: a stream of requests, a stream of responses. /// /// Like [`chat`](Self::chat)"
    ));
    assert!(has(
        &code,
        "/// Client streaming: a stream of requests, one response. /// /// Calls with the call options of the client's config; /// [`greet_many_with_options`](Self::greet_many_with_options)"
    ));
}

#[test]
fn client_only_and_server_only() {
    let client_only = generate_file(&[greet()], &Options::default().server(false)).unwrap();
    assert!(syn::parse_file(&client_only).is_ok());
    assert!(client_only.contains("pub struct GreetServiceClient<T>"));
    assert!(client_only.contains("pub mod greet_service {"));
    assert!(client_only.contains("pub const GREET_SERVICE_NAME"));
    assert!(!client_only.contains("pub trait GreetService"));
    assert!(!client_only.contains("GreetServiceServer"));
    assert!(!client_only.contains("Router"));

    let server_only = generate_file(&[greet()], &Options::default().client(false)).unwrap();
    assert!(syn::parse_file(&server_only).is_ok());
    assert!(server_only.contains("pub trait GreetService:"));
    assert!(server_only.contains("pub struct GreetServiceServer<T>"));
    assert!(server_only.contains("pub trait GreetServiceExt"));
    assert!(!server_only.contains("GreetServiceClient"));
    assert!(!server_only.contains("__codegen::Client"));
    assert!(!server_only.contains("Channel"));
    assert!(!server_only.contains("pub async fn"));

    let neither = Options::default().client(false).server(false);
    let descriptors_only = generate_file(&[greet()], &neither).unwrap();
    assert!(descriptors_only.contains("pub mod greet_service {"));
    assert!(!descriptors_only.contains("pub trait"));
    assert!(!descriptors_only.contains("pub struct"));

    // Both sides by default, each exactly as when generated alone.
    let both = code();
    assert!(both.contains("pub trait GreetService:"));
    assert!(both.contains("pub struct GreetServiceClient<T>"));
}

#[test]
fn generated_file_parses() {
    let code = code();
    let file = syn::parse_file(&code).unwrap();
    let names: Vec<String> = file
        .items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Struct(s) => Some(s.ident.to_string()),
            syn::Item::Trait(t) => Some(t.ident.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(
        names,
        [
            "GreetService",
            "GreetServiceServer",
            "GreetServiceExt",
            "GreetServiceClient"
        ]
    );
    // Sixteen client methods (four per rpc) plus new, from_client and client.
    let client_impl = file
        .items
        .iter()
        .find_map(|item| match item {
            syn::Item::Impl(i) if i.trait_.is_none() => {
                let ty = &i.self_ty;
                (quote!(#ty).to_string() == "GreetServiceClient < T >").then_some(i)
            }
            _ => None,
        })
        .unwrap();
    let fns: Vec<String> = client_impl
        .items
        .iter()
        .filter_map(|item| match item {
            syn::ImplItem::Fn(f) => Some(f.sig.ident.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(
        fns,
        [
            "new",
            "from_client",
            "client",
            "greet",
            "greet_with_options",
            "greet_view",
            "greet_view_with_options",
            "greet_stream",
            "greet_stream_with_options",
            "greet_stream_view",
            "greet_stream_view_with_options",
            "greet_many",
            "greet_many_with_options",
            "greet_many_view",
            "greet_many_view_with_options",
            "chat",
            "chat_with_options",
            "chat_view",
            "chat_view_with_options"
        ]
    );
}

#[test]
fn keyword_and_clashing_method_names() {
    let svc = ServiceDef {
        name: "Kw".into(),
        package: "kw".into(),
        comments: vec![],
        methods: vec![
            method("Type", false, false, Idempotency::Unknown, &[]),
            method("Self", false, true, Idempotency::Unknown, &[]),
            method("New", true, false, Idempotency::Unknown, &[]),
            method("Clone", true, true, Idempotency::Unknown, &[]),
            method("Fetch", false, false, Idempotency::Unknown, &[]),
            method("FetchWithOptions", false, false, Idempotency::Unknown, &[]),
        ],
        ..Default::default()
    };
    let code = generate_file(&[svc], &Options::default()).unwrap();
    assert!(syn::parse_file(&code).is_ok());
    // The server trait escapes keywords as before.
    assert!(has(
        &code,
        "fn r#type( &self, ctx: ::connectrpc::__codegen::Context,"
    ));
    assert!(has(
        &code,
        "fn self_( &self, ctx: ::connectrpc::__codegen::Context,"
    ));
    assert!(has(&code, "<T as Kw>::r#type(&*inner, ctx, request).await"));
    // The client: raw identifiers, no doc links to them (rustdoc cannot
    // name `r#type`), and no clash
    // with its own methods or between rpcs.
    assert!(has(
        &code,
        "pub fn r#type( &self, request: impl ::core::borrow::Borrow<GreetRequest>, )"
    ));
    assert!(has(&code, "pub fn type_with_options( &self,"));
    assert!(has(&code, "[`type_with_options`](Self::type_with_options)"));
    assert!(has(&code, "Like `type`, with"));
    assert!(has(
        &code,
        "pub fn self_( &self, request: impl ::core::borrow::Borrow<GreetStreamRequest>, )"
    ));
    assert!(has(&code, "pub fn self_with_options( &self,"));
    assert!(has(&code, "pub async fn new_<S>( &self, requests: S, )"));
    assert!(has(&code, "pub async fn new_with_options<S>("));
    assert!(has(&code, "&kw::NEW"));
    assert!(has(&code, "pub async fn clone_( &self, )"));
    assert!(has(&code, "pub async fn clone_with_options( &self,"));
    assert!(has(&code, "pub fn fetch_with_options( &self,"));
    assert!(has(&code, "pub fn fetch_with_options_( &self,"));
    assert!(has(&code, "pub fn fetch_with_options_with_options( &self,"));
    assert!(has(&code, "pub fn fetch_view_with_options( &self,"));
    assert!(has(
        &code,
        "pub fn fetch_with_options_view_with_options( &self,"
    ));
    assert!(has(&code, "&kw::FETCH_WITH_OPTIONS,"));
    assert!(has(
        &code,
        "pub fn new(channel: T, config: ::connectrpc::__codegen::ClientConfig) -> Self"
    ));
}

#[test]
fn type_parameters_do_not_shadow_messages() {
    let mut m = method("Send", true, false, Idempotency::Unknown, &[]);
    m.input_type = quote!(S);
    m.output_type = quote!(T);
    let mut nested = method("Get", false, false, Idempotency::Unknown, &[]);
    nested.input_type = quote!(super::other::T);
    let svc = ServiceDef {
        name: "Letters".into(),
        package: String::new(),
        comments: vec![],
        methods: vec![m, nested],
        ..Default::default()
    };
    let code = generate_file(&[svc], &Options::default().server(false)).unwrap();
    assert!(has(
        &code,
        "S: ::connectrpc::__codegen::Stream<Item = self::S> + ::core::marker::Send + 'static"
    ));
    assert!(has(&code, ".client_stream::<self::S, self::T, S>("));
    assert!(has(&code, "::connectrpc::__codegen::Response<self::T>"));
    assert!(has(
        &code,
        "request: impl ::core::borrow::Borrow<super::other::T>"
    ));
}

#[test]
fn client_runtime_path_is_configurable() {
    let options = Options::default().runtime_crate("crate::rt");
    let code = generate_file(&[greet()], &options).unwrap();
    assert!(code.contains("crate::rt::__codegen::Client<T>"));
    assert!(code.contains("impl<T: crate::rt::__codegen::Channel> GreetServiceClient<T>"));
    assert!(!code.contains("::connectrpc::"));
}

/// Prints the generated code: `cargo test -p connectrpc-codegen -- --ignored --nocapture print_generated`.
#[test]
#[ignore]
fn print_generated() {
    println!("{}", code());
}

#[test]
fn module_reexports_request_and_response_views() {
    let code = code();
    assert!(
        has(
            &code,
            "pub mod greet_service { #[doc(no_inline)] pub use super::__buffa::view::GreetRequestView; #[doc(no_inline)] pub use super::__buffa::view::GreetResponseView; #[doc(no_inline)] pub use super::__buffa::view::GreetStreamRequestView;"
        ),
        "{code}"
    );
    // Absolute paths stay absolute; views sharing a name are renamed.
    let mut svc = greet();
    svc.methods[0].input_view = quote!(::buffa_types::google::protobuf::__buffa::view::EmptyView);
    svc.methods[1].input_view = quote!(super::other::__buffa::view::GreetResponseView);
    let code = generate_file(&[svc], &Options::default()).unwrap();
    assert!(has(
        &code,
        "pub use ::buffa_types::google::protobuf::__buffa::view::EmptyView;"
    ));
    assert!(has(
        &code,
        "pub use super::super::other::__buffa::view::GreetResponseView as OtherGreetResponseView;"
    ));
    assert!(has(
        &code,
        "pub use super::__buffa::view::GreetResponseView;"
    ));
}

#[test]
fn deprecated_service_and_methods() {
    let mut svc = greet();
    svc.methods[0].deprecated = true;
    let code = generate_file(&[svc.clone()], &Options::default()).unwrap();
    // The method's trait method, client methods and descriptor.
    assert!(has(&code, "#[deprecated] fn greet("), "{code}");
    assert!(has(&code, "#[deprecated] pub fn greet("));
    assert!(has(&code, "#[deprecated] pub fn greet_with_options("));
    assert!(has(&code, "#[deprecated] pub fn greet_view("));
    assert!(has(&code, "#[deprecated] pub fn greet_view_with_options("));
    assert!(has(&code, "#[deprecated] pub const GREET:"));
    assert!(!has(&code, "#[deprecated] fn greet_stream("));
    assert!(!has(&code, "#[deprecated] pub struct"));
    // Generated code naming them allows it.
    assert!(has(
        &code,
        "#[allow(deprecated)] impl<T: GreetService> ::connectrpc::__codegen::RpcService"
    ));
    assert!(has(
        &code,
        "#[allow(deprecated)] impl<T: ::connectrpc::__codegen::Channel> GreetServiceClient<T>"
    ));
    assert!(has(&code, "#[allow(deprecated)] pub const METHODS"));

    svc.deprecated = true;
    let code = generate_file(&[svc], &Options::default()).unwrap();
    for item in [
        "pub const GREET_SERVICE_NAME",
        "pub trait GreetService:",
        "pub struct GreetServiceServer<T>",
        "pub trait GreetServiceExt",
        "pub struct GreetServiceClient<T>",
        "#[allow(deprecated)] pub const METHODS",
        "fn greet_stream(",
        "pub async fn chat(",
    ] {
        assert!(
            has(&code, &format!("#[deprecated] {item}")),
            "{item}\n{code}"
        );
    }
}

#[test]
fn keyword_service_names() {
    let mut svc = greet();
    svc.name = "type".into();
    let code = generate_file(&[svc], &Options::default()).unwrap();
    assert!(
        has(&code, "#[allow(non_camel_case_types)] pub trait r#type:"),
        "{code}"
    );
    assert!(has(&code, "pub struct TypeServer<T>"));
    assert!(has(&code, "pub trait TypeExt"));
    assert!(has(&code, "pub struct TypeClient<T>"));
    assert!(has(&code, "pub mod type_ {"));
    assert!(has(&code, "pub const TYPE_NAME: &str = \"greet.v1.type\";"));
    assert!(has(&code, "<T as r#type>::greet(&*inner, ctx, request)"));
}

#[test]
fn taken_names_are_avoided() {
    let mut svc = greet();
    svc.taken_names = vec!["GreetServiceClient".into(), "greet_service".into()];
    let code = generate_file(&[svc], &Options::default()).unwrap();
    assert!(has(&code, "pub struct GreetServiceClient_<T>"), "{code}");
    assert!(has(&code, "pub mod greet_service_ {"));
    assert!(has(&code, "&greet_service_::GREET"));
    assert!(has(
        &code,
        "const METHODS: &'static [::connectrpc::__codegen::MethodDescriptor] = greet_service_::METHODS;"
    ));
}

#[test]
fn no_deprecation_noise_when_nothing_is_deprecated() {
    let code = code();
    assert!(!code.contains("deprecated"), "{code}");
}
