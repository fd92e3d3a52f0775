//! The plugin end to end: requests built from `.proto` files with protox
//! (as `protoc` or `buf` would send them), answered in-process and by the
//! binary; its output compared with `connectrpc-build`'s for the same
//! files; every failure answered with an error naming its cause.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use buffa::Message;
use buffa_codegen::generated::compiler::{CodeGeneratorRequest, CodeGeneratorResponse};
use buffa_codegen::generated::descriptor::{Edition, FileDescriptorSet};

const GREET: &str = r#"
syntax = "proto3";
package greet.v1;
import "google/protobuf/empty.proto";
import "google/protobuf/timestamp.proto";
import "common/v1/common.proto";

// A request.
message GreetRequest {
  string name = 1;
  optional int32 times = 2;
  map<string, string> tags = 3;
  oneof mood { bool happy = 4; string other = 5; }
  google.protobuf.Timestamp at = 6;
}
message GreetResponse { string greeting = 1; common.v1.Kind kind = 2; }

// The greeter.
service GreetService {
  // Greet says hello.
  rpc Greet(GreetRequest) returns (GreetResponse) { option idempotency_level = NO_SIDE_EFFECTS; }
  rpc GreetStream(GreetRequest) returns (stream GreetResponse);
  rpc GreetMany(stream GreetRequest) returns (GreetResponse);
  rpc Chat(stream GreetRequest) returns (stream GreetResponse);
  rpc Ping(google.protobuf.Empty) returns (google.protobuf.Empty);
  rpc Shared(common.v1.Shared) returns (common.v1.Shared.Nested);
}
"#;

const COMMON: &str = r#"
syntax = "proto3";
package common.v1;
enum Kind { KIND_UNSPECIFIED = 0; KIND_WARM = 1; }
message Shared { message Nested { int32 n = 1; } string s = 1; Kind kind = 2; }
"#;

/// A service in a package of its own whose messages all live elsewhere.
const ADMIN: &str = r#"
syntax = "proto3";
package admin.v1;
import "common/v1/common.proto";
service AdminService { rpc Touch(common.v1.Shared) returns (common.v1.Shared); }
"#;

const ALL: [&str; 3] = [
    "greet/v1/greet.proto",
    "common/v1/common.proto",
    "admin/v1/admin.proto",
];

/// A fresh scratch directory with the protos under `proto/`.
fn scratch(test: &str, protos: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "protoc-gen-connect-rust-{test}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    for (name, content) in protos {
        let path = dir.join("proto").join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    dir
}

fn greet_protos(test: &str) -> PathBuf {
    scratch(
        test,
        &[
            ("greet/v1/greet.proto", GREET),
            ("common/v1/common.proto", COMMON),
            ("admin/v1/admin.proto", ADMIN),
        ],
    )
}

/// The request `protoc -I dir/proto --connect-rust_out=.. files` sends:
/// the files to generate, the parameter, every file with its imports.
fn request(dir: &Path, files: &[&str], parameter: &str) -> CodeGeneratorRequest {
    let mut compiler = protox::Compiler::new([dir.join("proto")]).unwrap();
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(files).unwrap();
    let fds = FileDescriptorSet::decode_from_slice(&compiler.encode_file_descriptor_set()).unwrap();
    CodeGeneratorRequest {
        file_to_generate: files.iter().map(|f| f.to_string()).collect(),
        parameter: (!parameter.is_empty()).then(|| parameter.to_string()),
        proto_file: fds.file,
        ..Default::default()
    }
}

/// Runs the plugin in-process, through its byte interface.
fn run(request: &CodeGeneratorRequest) -> CodeGeneratorResponse {
    let out = protoc_gen_connect_rust::run(&request.encode_to_vec());
    CodeGeneratorResponse::decode_from_slice(&out).unwrap()
}

/// The files of a successful response, by name.
fn files(response: &CodeGeneratorResponse) -> BTreeMap<String, String> {
    assert_eq!(response.error, None);
    response
        .file
        .iter()
        .map(|f| {
            (
                f.name.clone().unwrap(),
                f.content.clone().unwrap_or_default(),
            )
        })
        .collect()
}

/// The error of a failed response, checking it carries no files.
fn error(response: &CodeGeneratorResponse) -> String {
    assert!(response.file.is_empty(), "{:?}", response.file);
    response.error.clone().expect("an error")
}

/// What `connectrpc-build` writes for `files` into a fresh directory, with
/// the include file named `mod.rs`.
fn build(
    dir: &Path,
    files: &[&str],
    configure: impl FnOnce(connectrpc_build::Config) -> connectrpc_build::Config,
) -> BTreeMap<String, String> {
    let out = dir.join("build-out");
    let _ = std::fs::remove_dir_all(&out);
    let config = connectrpc_build::Config::new()
        .files(files)
        .includes(&[dir.join("proto")])
        .include_file("mod.rs")
        .out_dir(&out)
        .emit_rerun_if_changed(false);
    configure(config).compile().unwrap();
    std::fs::read_dir(&out)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read_to_string(e.path()).unwrap(),
            )
        })
        .collect()
}

/// Same names, same contents (a failing pair is shown whole).
fn assert_same(plugin: &BTreeMap<String, String>, build: &BTreeMap<String, String>) {
    assert_eq!(
        plugin.keys().collect::<Vec<_>>(),
        build.keys().collect::<Vec<_>>()
    );
    for (name, content) in plugin {
        assert_eq!(
            content, &build[name],
            "{name} differs between the plugin and connectrpc-build"
        );
    }
}

#[test]
fn same_files_as_connectrpc_build() {
    let dir = greet_protos("parity");
    let plugin = files(&run(&request(&dir, &ALL, "")));
    let built = build(&dir, &ALL, |c| c);
    assert_same(&plugin, &built);
    for name in [
        "mod.rs",
        "greet.v1.mod.rs",
        "greet.v1.greet.rs",
        "greet.v1.greet.__view.rs",
        "greet.v1.greet.__connect.rs",
        "common.v1.common.rs",
        "admin.v1.mod.rs",
        "admin.v1.admin.__connect.rs",
    ] {
        assert!(plugin.contains_key(name), "{name}: {:?}", plugin.keys());
    }
    let services = &plugin["greet.v1.greet.__connect.rs"];
    assert!(services.contains("pub trait GreetService"));
    assert!(services.contains("pub struct GreetServiceServer<T>"));
    assert!(services.contains("pub struct GreetServiceClient<T>"));
    assert!(services.contains("/// Greet says hello."));
    let tree = &plugin["mod.rs"];
    assert!(tree.contains("pub mod greet {"));
    assert!(tree.contains("include!(\"greet.v1.mod.rs\");"));
    assert!(tree.contains("include!(\"admin.v1.mod.rs\");"));
}

#[test]
fn same_files_as_connectrpc_build_with_options() {
    let dir = greet_protos("parity-options");
    let files_ = ["greet/v1/greet.proto", "admin/v1/admin.proto"];
    let plugin = files(&run(&request(
        &dir,
        &files_,
        "client=false,runtime_crate=my_rt,json=false,extern_path=.common.v1=::common_protos::v1",
    )));
    let built = build(&dir, &files_, |c| {
        c.client(false)
            .runtime_crate("my_rt")
            .generate_json(false)
            .extern_path(".common.v1", "::common_protos::v1")
    });
    assert_same(&plugin, &built);
    let services = &plugin["greet.v1.greet.__connect.rs"];
    assert!(services.contains("::my_rt::__codegen::Context"));
    assert!(!services.contains("GreetServiceClient"));
    assert!(services.contains("::common_protos::v1::shared::Nested"));
    assert!(!plugin["greet.v1.greet.rs"].contains("serde"));

    let server_off = files(&run(&request(&dir, &ALL, "server=false")));
    let built = build(&dir, &ALL, |c| c.server(false));
    assert_same(&server_off, &built);
    assert!(!server_off["greet.v1.greet.__connect.rs"].contains("GreetServiceServer"));
}

/// buffa's switches as parameters give the files `connectrpc-build` gives
/// with its builder methods.
#[test]
fn same_files_as_connectrpc_build_with_buffa_switches() {
    let dir = greet_protos("parity-switches");
    let plugin = files(&run(&request(
        &dir,
        &ALL,
        "strict_utf8_mapping=true,preserve_unknown_fields=false,views=false,server=false",
    )));
    let built = build(&dir, &ALL, |c| {
        c.strict_utf8_mapping(true)
            .preserve_unknown_fields(false)
            .generate_views(false)
            .server(false)
    });
    assert_same(&plugin, &built);
    for (name, code) in &plugin {
        assert!(!name.contains("view"), "{name}");
        assert!(!code.contains("View"), "{name}");
        assert!(!code.contains("__buffa_unknown_fields"), "{name}");
    }
    assert!(plugin["greet.v1.greet.__connect.rs"].contains("pub struct GreetServiceClient<T>"));
}

#[test]
fn views_off_with_servers_is_an_error_naming_the_service() {
    let dir = greet_protos("views-off-server");
    let err = error(&run(&request(&dir, &ALL, "views=false")));
    assert!(
        err.starts_with(
            "protoc-gen-connect-rust: greet/v1/greet.proto: generating services: service \
             `greet.v1.GreetService`: views are off"
        ),
        "{err}"
    );
    assert!(err.contains("server=false"), "{err}");
}

#[test]
fn extern_messages_give_services_only() {
    let dir = greet_protos("extern");
    let out = files(&run(&request(
        &dir,
        &ALL,
        "messages=extern,buffa_module=crate::proto",
    )));
    assert_eq!(
        out.keys().collect::<Vec<_>>(),
        [
            "admin.v1.admin.__connect.rs",
            "admin.v1.mod.rs",
            "greet.v1.greet.__connect.rs",
            "greet.v1.mod.rs",
            "mod.rs"
        ]
    );
    let services = &out["greet.v1.greet.__connect.rs"];
    assert!(
        services.contains(
            "request: impl ::core::borrow::Borrow<crate::proto::greet::v1::GreetRequest>"
        )
    );
    assert!(services.contains("crate::proto::common::v1::shared::Nested"));
    // Well-known types stay in buffa-types.
    assert!(services.contains("::buffa_types::google::protobuf::Empty"));
    assert!(out["greet.v1.mod.rs"].contains("include!(\"greet.v1.greet.__connect.rs\");"));
    assert!(!out["greet.v1.mod.rs"].contains("greet.v1.greet.rs"));
}

#[test]
fn extern_path_exact_types_and_longest_prefixes_win() {
    let dir = greet_protos("extern-longest");
    let out = files(&run(&request(
        &dir,
        &["greet/v1/greet.proto"],
        "messages=extern,buffa_module=crate::proto,extern_path=.common=::all_common,\
         extern_path=.common.v1=::common_v1,extern_path=.greet.v1.GreetResponse=::special::Reply",
    )));
    let services = &out["greet.v1.greet.__connect.rs"];
    assert!(services.contains("::common_v1::Shared"), "{services}");
    assert!(!services.contains("::all_common"), "{services}");
    assert!(services.contains("::special::Reply"), "{services}");
    assert!(services.contains("crate::proto::greet::v1::GreetRequest"));
}

#[test]
fn bad_options_are_errors() {
    let dir = greet_protos("bad-options");
    for (parameter, expected) in [
        (
            "clients=false",
            "protoc-gen-connect-rust: invalid option `clients=false`: unknown option `clients`",
        ),
        (
            "views=off",
            "protoc-gen-connect-rust: invalid option `views=off`: expected `true` or `false`",
        ),
        (
            "server=no",
            "protoc-gen-connect-rust: invalid option `server=no`: expected `true` or `false`",
        ),
        (
            "extern_path=.common.v1",
            "protoc-gen-connect-rust: invalid option `extern_path=.common.v1`: expected `extern_path=",
        ),
        (
            "extern_path=.common.v1=common_protos",
            "protoc-gen-connect-rust: extern_path `.common.v1=common_protos`: the Rust path `common_protos` must be absolute",
        ),
        (
            "buffa_module=crate::proto",
            "protoc-gen-connect-rust: `buffa_module` only applies when messages are generated elsewhere (messages=extern)",
        ),
    ] {
        let err = error(&run(&request(&dir, &ALL, parameter)));
        assert!(err.starts_with(expected), "{parameter}: {err}");
    }
}

#[test]
fn unknown_extern_path_targets_are_errors() {
    let dir = greet_protos("unknown-extern");
    let err = error(&run(&request(
        &dir,
        &ALL,
        "extern_path=.common.v2=::common_protos",
    )));
    assert_eq!(
        err,
        "protoc-gen-connect-rust: extern_path `.common.v2=::common_protos`: `.common.v2` is not a package or type in these files or their imports"
    );
    // A type that does not exist in a package that does.
    let err = error(&run(&request(
        &dir,
        &ALL,
        "extern_path=.common.v1.Missing=::x::Missing",
    )));
    assert!(
        err.contains("`.common.v1.Missing` is not a package or type"),
        "{err}"
    );
}

#[test]
fn extern_messages_without_a_path_name_the_file_and_rpc() {
    let dir = greet_protos("extern-unresolved");
    let err = error(&run(&request(
        &dir,
        &["greet/v1/greet.proto"],
        "messages=extern,extern_path=.common.v1=::common_protos",
    )));
    assert!(
        err.starts_with(
            "protoc-gen-connect-rust: greet/v1/greet.proto: rpc GreetService.Greet: message `.greet.v1.GreetRequest` has no Rust path"
        ),
        "{err}"
    );
}

#[test]
fn files_that_cannot_be_generated_are_named() {
    let dir = scratch(
        "bad-proto",
        &[
            ("common/v1/common.proto", COMMON),
            (
                "bad/v1/bad.proto",
                "syntax = \"proto3\";\npackage bad.v1;\nmessage Bad { string __buffa_cache = 1; }\n\
                 service BadService { rpc Go(Bad) returns (Bad); }\n",
            ),
        ],
    );
    let err = error(&run(&request(
        &dir,
        &["common/v1/common.proto", "bad/v1/bad.proto"],
        "",
    )));
    assert!(
        err.starts_with("protoc-gen-connect-rust: bad/v1/bad.proto: generating messages: "),
        "{err}"
    );
    assert!(err.contains("__buffa_cache"), "{err}");

    // A request naming a file it does not carry.
    let mut req = request(&dir, &["common/v1/common.proto"], "");
    req.file_to_generate.push("gone.proto".into());
    assert_eq!(
        error(&run(&req)),
        "protoc-gen-connect-rust: gone.proto: not in the descriptor set"
    );
}

#[test]
fn imports_left_out_of_the_run_are_errors() {
    // What buf's default `strategy: directory` sends for greet/v1: its
    // imports come along but are not generated, so the code would name
    // types nobody generates.
    let dir = greet_protos("left-out");
    let err = error(&run(&request(&dir, &["greet/v1/greet.proto"], "")));
    assert!(
        err.starts_with(
            "protoc-gen-connect-rust: greet/v1/greet.proto: rpc GreetService.Shared: message \
             `.common.v1.Shared` is defined in common/v1/common.proto, which is neither generated \
             nor mapped by an extern_path: generate it too (buf: `strategy: all`"
        ),
        "{err}"
    );
}

#[test]
fn declares_proto3_optional_and_editions() {
    let dir = greet_protos("features");
    let ok = run(&request(&dir, &ALL, ""));
    let failed = run(&request(&dir, &ALL, "nope=1"));
    for response in [ok, failed] {
        assert_eq!(response.supported_features, Some(3));
        assert_eq!(
            response.minimum_edition,
            Some(Edition::EDITION_PROTO2 as i32)
        );
        assert_eq!(response.maximum_edition, Some(Edition::EDITION_2024 as i32));
    }
}

#[test]
fn editions_files_generate() {
    // protox does not parse editions; mark a compiled proto3 file as
    // edition 2023 the way protoc and buf describe one.
    let dir = greet_protos("editions");
    let mut req = request(
        &dir,
        &["common/v1/common.proto", "admin/v1/admin.proto"],
        "",
    );
    for file in &mut req.proto_file {
        if file.name.as_deref() == Some("admin/v1/admin.proto") {
            file.syntax = Some("editions".into());
            file.edition = Some(Edition::EDITION_2023);
        }
    }
    let out = files(&run(&req));
    assert!(out["admin.v1.admin.__connect.rs"].contains("pub trait AdminService"));
}

/// The installed binary.
fn plugin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_protoc-gen-connect-rust"))
}

#[test]
fn binary_speaks_the_protocol_on_stdio() {
    let dir = greet_protos("binary");
    let input = request(&dir, &ALL, "client=false").encode_to_vec();
    let mut child = plugin()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let response = CodeGeneratorResponse::decode_from_slice(&output.stdout).unwrap();
    let out = files(&response);
    assert!(out.contains_key("mod.rs"));
    assert!(!out["greet.v1.greet.__connect.rs"].contains("GreetServiceClient"));

    // Garbage in: an error response, exit status 0 (the protocol's way).
    let mut child = plugin()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"\xff\xff").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let response = CodeGeneratorResponse::decode_from_slice(&output.stdout).unwrap();
    assert!(error(&response).contains("reading the CodeGeneratorRequest on stdin"));
}

#[test]
fn binary_version_and_help() {
    let version = plugin().arg("--version").output().unwrap();
    assert!(version.status.success());
    assert_eq!(
        String::from_utf8(version.stdout).unwrap(),
        format!("protoc-gen-connect-rust {}\n", env!("CARGO_PKG_VERSION"))
    );
    let help = plugin().arg("--help").output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    for option in [
        "messages",
        "buffa_module",
        "extern_path",
        "client",
        "server",
    ] {
        assert!(help.contains(option), "{help}");
    }
    let wrong = plugin().arg("--frobnicate").output().unwrap();
    assert_eq!(wrong.status.code(), Some(2));
}
