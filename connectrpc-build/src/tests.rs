use std::path::PathBuf;

use super::*;

/// A fresh scratch directory holding `protos` (name, content) under
/// `proto/`, and an `out/` directory.
fn scratch(test: &str, protos: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("connectrpc-build-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (name, content) in protos {
        let path = dir.join("proto").join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    dir
}

const GREET: &str = r#"
syntax = "proto3";
package greet.v1;
import "google/protobuf/empty.proto";
import "common/v1/common.proto";

message GreetRequest { string name = 1; }
message GreetResponse { string greeting = 1; }

// The greeter.
service GreetService {
  // Greet says hello.
  rpc Greet(GreetRequest) returns (GreetResponse) { option idempotency_level = NO_SIDE_EFFECTS; }
  rpc Chat(stream GreetRequest) returns (stream GreetResponse);
  rpc Ping(google.protobuf.Empty) returns (google.protobuf.Empty);
  rpc Shared(common.v1.Shared) returns (common.v1.Shared.Nested);
}
"#;

const COMMON: &str = r#"
syntax = "proto3";
package common.v1;
message Shared { message Nested { int32 n = 1; } string s = 1; }
"#;

fn compile(test: &str) -> PathBuf {
    let dir = scratch(
        test,
        &[
            ("greet/v1/greet.proto", GREET),
            ("common/v1/common.proto", COMMON),
        ],
    );
    Config::new()
        .files(&["greet/v1/greet.proto", "common/v1/common.proto"])
        .includes(&[dir.join("proto")])
        .include_file("_connectrpc.rs")
        .out_dir(dir.join("out"))
        .emit_rerun_if_changed(false)
        .compile()
        .unwrap();
    dir.join("out")
}

#[test]
fn writes_messages_services_and_include_file() {
    let out = compile("layout");
    let services = std::fs::read_to_string(out.join("greet.v1.greet.__connect.rs")).unwrap();
    assert!(services.contains("pub trait GreetService"));
    assert!(services.contains("/// The greeter."));
    assert!(services.contains("/// Greet says hello."));
    assert!(services.contains("::connectrpc::__codegen::Idempotency::NoSideEffects"));
    assert!(services.contains("\"/greet.v1.GreetService/Chat\""));
    assert!(services.contains("pub struct GreetServiceServer<T>"));
    assert!(services.contains("pub struct GreetServiceClient<T>"));

    let stitcher = std::fs::read_to_string(out.join("greet.v1.mod.rs")).unwrap();
    assert!(stitcher.contains("include!(\"greet.v1.greet.__connect.rs\");"));
    // No service in common.proto, so no companion.
    assert!(!out.join("common.v1.common.__connect.rs").exists());

    let include = std::fs::read_to_string(out.join("_connectrpc.rs")).unwrap();
    assert!(include.contains("pub mod greet {"));
    assert!(include.contains("include!(\"greet.v1.mod.rs\");"));
}

#[test]
fn resolves_types_across_packages() {
    let out = compile("types");
    let code = std::fs::read_to_string(out.join("greet.v1.greet.__connect.rs")).unwrap();
    let flat: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let flat = flat.replace(",>", ">");
    // Same package.
    assert!(flat.contains("OwnedView<__buffa::view::GreetRequestView<'static>>"));
    // Well-known types come from buffa-types.
    assert!(
        flat.contains(
            "OwnedView<::buffa_types::google::protobuf::__buffa::view::EmptyView<'static>>"
        )
    );
    assert!(flat.contains("(::buffa_types::google::protobuf::Empty,"));
    // Another package of the same build, including a nested message.
    assert!(
        flat.contains("OwnedView<super::super::common::v1::__buffa::view::SharedView<'static>>")
    );
    assert!(flat.contains("(super::super::common::v1::shared::Nested,"));
}

#[test]
fn client_types_resolve_like_server_types() {
    let out = compile("client-types");
    let code = std::fs::read_to_string(out.join("greet.v1.greet.__connect.rs")).unwrap();
    let flat: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let flat = flat.replace(",>", ">").replace(",)", ")");
    assert!(flat.contains(
        "pubfngreet(&self,request:impl::core::borrow::Borrow<GreetRequest>)->impl::connectrpc::__codegen::Future<Output=::core::result::Result<::connectrpc::__codegen::Response<GreetResponse>"
    ));
    assert!(
        flat.contains(".bidi_stream::<GreetRequest,GreetResponse>(&greet_service::CHAT,options)")
    );
    assert!(flat.contains(
        ".unary::<::buffa_types::google::protobuf::Empty,::buffa_types::google::protobuf::Empty>("
    ));
    assert!(flat.contains(
        "request:impl::core::borrow::Borrow<super::super::common::v1::Shared>,options:::connectrpc::__codegen::CallOptions"
    ));
    assert!(
        flat.contains(
            "::connectrpc::__codegen::Response<super::super::common::v1::shared::Nested>"
        )
    );
}

/// Compiles `GREET` with `configure` applied and returns the service code.
fn compile_with(test: &str, configure: impl FnOnce(Config) -> Config) -> String {
    let dir = scratch(
        test,
        &[
            ("greet/v1/greet.proto", GREET),
            ("common/v1/common.proto", COMMON),
        ],
    );
    let config = Config::new()
        .files(&["greet/v1/greet.proto", "common/v1/common.proto"])
        .includes(&[dir.join("proto")])
        .out_dir(dir.join("out"))
        .emit_rerun_if_changed(false);
    configure(config).compile().unwrap();
    std::fs::read_to_string(dir.join("out/greet.v1.greet.__connect.rs")).unwrap()
}

#[test]
fn client_and_server_switches() {
    let client_only = compile_with("client-only", |c| c.server(false));
    assert!(client_only.contains("pub struct GreetServiceClient<T>"));
    assert!(client_only.contains("pub mod greet_service {"));
    assert!(!client_only.contains("pub trait GreetService"));
    assert!(!client_only.contains("GreetServiceServer"));

    let server_only = compile_with("server-only", |c| c.client(false));
    assert!(server_only.contains("pub trait GreetService"));
    assert!(server_only.contains("pub struct GreetServiceServer<T>"));
    assert!(!server_only.contains("GreetServiceClient"));
}

#[test]
fn runtime_crate_option_reaches_the_code() {
    let dir = scratch(
        "runtime",
        &[
            ("common/v1/common.proto", COMMON),
            (
                "svc.proto",
                "syntax = \"proto3\";\nimport \"common/v1/common.proto\";\nservice S { rpc M(common.v1.Shared) returns (common.v1.Shared); }\n",
            ),
        ],
    );
    Config::new()
        .files(&["svc.proto", "common/v1/common.proto"])
        .includes(&[dir.join("proto")])
        .out_dir(dir.join("out"))
        .runtime_crate("my_rt")
        .emit_rerun_if_changed(false)
        .compile()
        .unwrap();
    let code = std::fs::read_to_string(dir.join("out/svc.__connect.rs")).unwrap();
    assert!(code.contains("::my_rt::__codegen::Context"));
    assert!(code.contains("::my_rt::__codegen::Client<T>"));
    assert!(code.contains("\"/S/M\""));
}

#[test]
fn unknown_file_is_an_error() {
    let dir = scratch("missing", &[("common/v1/common.proto", COMMON)]);
    let err = Config::new()
        .files(&["nope.proto"])
        .includes(&[dir.join("proto")])
        .out_dir(dir.join("out"))
        .emit_rerun_if_changed(false)
        .compile()
        .unwrap_err();
    assert!(matches!(err, Error::Compile(_)), "{err}");
}

#[test]
fn proto_names_strip_include_dirs() {
    let includes = vec![PathBuf::from("proto")];
    assert_eq!(
        proto_name(Path::new("proto/greet/v1/greet.proto"), &includes),
        "greet/v1/greet.proto"
    );
    assert_eq!(
        proto_name(Path::new("greet/v1/greet.proto"), &includes),
        "greet/v1/greet.proto"
    );
}

#[test]
fn extern_path_errors_name_the_entry() {
    let dir = scratch("extern-errors", &[("common/v1/common.proto", COMMON)]);
    let run = |proto: &str, rust: &str| {
        Config::new()
            .files(&["common/v1/common.proto"])
            .includes(&[dir.join("proto")])
            .out_dir(dir.join("out"))
            .extern_path(proto, rust)
            .emit_rerun_if_changed(false)
            .compile()
            .unwrap_err()
    };
    let unknown = run(".nope", "::nope");
    assert!(matches!(unknown, Error::Generate(_)), "{unknown}");
    assert!(
        unknown.to_string().contains("extern_path `.nope=::nope`"),
        "{unknown}"
    );
    let relative = run(".common.v1", "common");
    assert!(
        relative.to_string().contains("must be absolute"),
        "{relative}"
    );
}

#[test]
fn imports_left_out_are_errors_naming_the_file() {
    let dir = scratch(
        "left-out",
        &[
            ("greet/v1/greet.proto", GREET),
            ("common/v1/common.proto", COMMON),
        ],
    );
    let err = Config::new()
        .files(&["greet/v1/greet.proto"])
        .includes(&[dir.join("proto")])
        .out_dir(dir.join("out"))
        .emit_rerun_if_changed(false)
        .compile()
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(
            "connectrpc-build: greet/v1/greet.proto: rpc GreetService.Shared: message \
             `.common.v1.Shared` is defined in common/v1/common.proto, which is neither generated"
        ),
        "{text}"
    );
}

#[test]
fn buffa_switches_reach_the_messages() {
    let dir = scratch("switches", &[("common/v1/common.proto", COMMON)]);
    let messages = |test: &str, configure: fn(Config) -> Config| {
        let out = dir.join(test);
        configure(
            Config::new()
                .files(&["common/v1/common.proto"])
                .includes(&[dir.join("proto")])
                .out_dir(&out)
                .emit_rerun_if_changed(false),
        )
        .compile()
        .unwrap();
        let mut names: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let code = std::fs::read_to_string(out.join("common.v1.common.rs")).unwrap();
        (names, code)
    };
    let (names, code) = messages("defaults", |c| c);
    assert!(names.contains(&"common.v1.common.__view.rs".to_string()));
    assert!(code.contains("__buffa_unknown_fields"));
    let (names, code) = messages("off", |c| {
        c.generate_views(false).preserve_unknown_fields(false)
    });
    assert!(names.iter().all(|n| !n.contains("view")), "{names:?}");
    assert!(!code.contains("__buffa_unknown_fields"), "{code}");
}

#[test]
fn views_off_with_a_server_is_an_error_naming_the_service() {
    let dir = scratch(
        "views-off",
        &[
            ("greet/v1/greet.proto", GREET),
            ("common/v1/common.proto", COMMON),
        ],
    );
    let err = Config::new()
        .files(&["greet/v1/greet.proto", "common/v1/common.proto"])
        .includes(&[dir.join("proto")])
        .out_dir(dir.join("out"))
        .emit_rerun_if_changed(false)
        .generate_views(false)
        .compile()
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(
            "connectrpc-build: greet/v1/greet.proto: generating services: service \
             `greet.v1.GreetService`: views are off"
        ),
        "{text}"
    );
    assert!(text.contains("server(false)"), "{text}");

    let client = compile_with("views-off-client", |c| {
        c.generate_views(false).server(false)
    });
    assert!(client.contains("pub fn greet_with_options("), "{client}");
    assert!(!client.contains("View"), "{client}");
}
