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
        client_streaming: cs,
        server_streaming: ss,
        idempotency: idem,
        comments: comments.iter().map(|s| s.to_string()).collect(),
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
            r#""/greet.v1.GreetService/Greet" => { ::std::boxed::Box::pin( ::connectrpc::__codegen::unary("#
        ) || has(
            &code,
            r#""/greet.v1.GreetService/Greet" => ::std::boxed::Box::pin( ::connectrpc::__codegen::unary("#
        ),
        "{code}"
    );
    assert!(has(&code, "::connectrpc::__codegen::server_stream("));
    assert!(has(&code, "::connectrpc::__codegen::client_stream("));
    assert!(has(&code, "::connectrpc::__codegen::bidi_stream("));
    assert!(has(&code, "inner.greet_many(ctx, request).await"));
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
    };
    let code = generate_file(&[svc], &Options::default()).unwrap();
    assert!(code.contains(r#"pub const EMPTY_NAME: &str = "Empty";"#));
    assert!(!code.contains("match req"));
}
